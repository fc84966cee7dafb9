/**
 * The "naive" consumer, run as its own process by bench/naive.ts: the design most Nest users would write.
 * A Nest application context with one TypeORM entity per table; each message is validated, handled on its
 * own (look the row up, `repository.save` it if the event is newer) in its own transaction, then acked.
 * One loop per stream, one message at a time. Benchmark-only code: it computes no effective sets.
 *
 * Environment: BENCH_SCHEMA, BENCH_NAMESPACE, BENCH_DURABLE, PG* and BENCH_NATS_URL.
 */
import 'reflect-metadata';
import { Inject, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import pg from 'pg';
import { Column, DataSource, Entity, PrimaryColumn } from 'typeorm';
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { busNames, parseEnvelope, type EventEnvelope, type LicenseStateV1 } from '#shared/contracts';
import { requiredEnv } from './support/env.js';

@Entity({ name: 'products' })
class Product {
  @PrimaryColumn('text') serial!: string;
  @Column('text') model!: string;
  @Column('text', { name: 'firmware_version' }) firmwareVersion!: string;
  @Column('text', { name: 'account_id' }) accountId!: string;
  @Column('int') version!: number;
}

@Entity({ name: 'pairs' })
class Pair {
  @PrimaryColumn('uuid', { name: 'pair_id' }) pairId!: string;
  @Column('text', { name: 'primary_serial' }) primarySerial!: string;
  @Column('text', { name: 'secondary_serial' }) secondarySerial!: string;
  @Column('text') status!: string;
  @Column('timestamptz', { name: 'associated_at' }) associatedAt!: Date;
  @Column('int') version!: number;
}

@Entity({ name: 'licenses' })
class License {
  @PrimaryColumn('uuid', { name: 'license_id' }) licenseId!: string;
  @Column('text') serial!: string;
  @Column('jsonb') facts!: LicenseStateV1;
  @Column('int') version!: number;
}

const schema = requiredEnv('BENCH_SCHEMA');

/** What a Nest user gets from TypeOrmModule.forRoot: one initialised DataSource to inject. */
const dataSourceProvider = {
  provide: DataSource,
  useFactory: async () => {
    const admin = new pg.Client();
    await admin.connect();
    await admin.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(schema)}`);
    await admin.end();
    return new DataSource({
      type: 'postgres',
      host: process.env.PGHOST,
      port: Number(process.env.PGPORT),
      username: process.env.PGUSER,
      password: process.env.PGPASSWORD,
      database: process.env.PGDATABASE,
      schema,
      entities: [Product, Pair, License],
      synchronize: true,
      extra: { application_name: 'bench-naive' },
    }).initialize();
  },
};

/** One handler per event: load, compare versions, save, each in its own transaction. */
@Injectable()
class EventHandlers {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async handle(event: EventEnvelope): Promise<void> {
    switch (event.type) {
      case 'ProductRegistered':
      case 'ProductFirmwareChanged':
        return this.dataSource.transaction(async (manager) => {
          const products = manager.getRepository(Product);
          const current = await products.findOneBy({ serial: event.data.serial });
          if (current && current.version >= event.streamVersion) return;
          await products.save({
            serial: event.data.serial,
            model: event.data.model,
            firmwareVersion: event.data.firmwareVersion,
            accountId: event.data.accountId,
            version: event.streamVersion,
          });
        });
      case 'ProductsAssociated':
      case 'ProductsDissociated':
        return this.dataSource.transaction(async (manager) => {
          const pairs = manager.getRepository(Pair);
          const current = await pairs.findOneBy({ pairId: event.data.pairId });
          if (current && current.version >= event.streamVersion) return;
          await pairs.save({
            pairId: event.data.pairId,
            primarySerial: event.data.primarySerial,
            secondarySerial: event.data.secondarySerial,
            status: event.type === 'ProductsAssociated' ? 'associated' : 'dissociated',
            associatedAt: new Date(event.data.associatedAt),
            version: event.streamVersion,
          });
        });
      case 'EntitlementChanged':
        return this.dataSource.transaction(async (manager) => {
          const licenses = manager.getRepository(License);
          const license = event.data.license;
          const current = await licenses.findOneBy({ licenseId: license.licenseId });
          if (current && current.version >= event.streamVersion) return;
          await licenses.save({
            licenseId: license.licenseId,
            serial: license.serial,
            facts: license,
            version: event.streamVersion,
          });
        });
      case 'EntitlementExpiringSoon':
      case 'EffectiveLicensesChanged':
      case 'StatefulSyncChanged':
        return; // change no fact (and the backlog holds none)
    }
  }
}

@Module({ providers: [dataSourceProvider, EventHandlers] })
class NaiveModule {}

const app = await NestFactory.createApplicationContext(NaiveModule, { logger: ['error', 'warn'] });
const handlers = app.get(EventHandlers);
const names = busNames(requiredEnv('BENCH_NAMESPACE'));
const nc = await connect({ servers: process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222', name: 'bench-naive' });
const js = jetstream(nc);

let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
  void nc.close().then(() => app.close());
});

await Promise.all(
  (['pairing', 'licensing'] as const).map(async (source) => {
    const consumer = await js.consumers.get(names.stream(source), requiredEnv('BENCH_DURABLE'));
    const messages = await consumer.consume();
    for await (const msg of messages) {
      if (stopping) break;
      await handlers.handle(parseEnvelope(msg.data));
      msg.ack();
    }
  }),
);
