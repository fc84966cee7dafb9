import 'reflect-metadata';
import { describe, it, expect } from '@jest/globals';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

@Injectable()
class A { v = 1; }
@Injectable()
class B { constructor(readonly a: A) {} }
@Module({ providers: [A, B] })
class M {}

describe('toolchain', () => {
  it('runs nest DI, typeorm and nats', async () => {
    const app = await NestFactory.createApplicationContext(M, { logger: false });
    expect(app.get(B).a.v).toBe(1);
    await app.close();
    const ds = new DataSource({ type: 'postgres', host: '127.0.0.1', username: 'postgres', database: 'postgres' });
    await ds.initialize();
    expect(await ds.query('select 1 as x')).toEqual([{ x: 1 }]);
    await ds.destroy();
    const nc = await connect({ servers: '127.0.0.1:4222' });
    const jsm = await jetstreamManager(nc);
    expect(await jsm.getAccountInfo()).toBeDefined();
    await nc.close();
  });
});
