import { afterEach, describe, expect, it } from '@jest/globals';
import 'reflect-metadata';
import { connect, type Socket } from 'node:net';
import { Controller, Get, Module, Req, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Request } from 'express';
import type { HttpSettings } from '../config/service-config.js';
import { TimedExpressAdapter, trustProxySetting } from './http-server.js';

@Controller()
class WhoController {
  @Get('who')
  who(@Req() request: Request): { ip: string | undefined } {
    return { ip: request.ip };
  }
}

@Module({ controllers: [WhoController] })
class WhoModule {}

let app: INestApplication | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** A Nest app on the service's HTTP server settings, listening on a free loopback port; answers its port. */
async function listen(settings: Partial<HttpSettings> = {}): Promise<number> {
  const http = { headersTimeoutSeconds: 10, requestTimeoutSeconds: 10, trustProxy: false as const, ...settings };
  const nest = await NestFactory.create<NestExpressApplication>(WhoModule, new TimedExpressAdapter(http), { logger: false });
  nest.set('trust proxy', trustProxySetting(http.trustProxy));
  await nest.listen(0, '127.0.0.1');
  app = nest;
  const address = nest.getHttpServer().address() as { port: number };
  return address.port;
}

/**
 * A client that sends `head` at once, then one byte of `trickle` every `everyMs`, until the server closes the
 * connection; answers after how many seconds, and what the server said.
 */
function slowClient(port: number, head: string, trickle: string, everyMs: number): Promise<{ seconds: number; answer: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket: Socket = connect(port, '127.0.0.1');
    let answer = '';
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < trickle.length && !socket.destroyed) socket.write(trickle[sent++]!);
    }, everyMs);
    socket.on('connect', () => socket.write(head));
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('error', () => undefined); // a reset is a close too
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ seconds: (performance.now() - started) / 1000, answer });
    });
    setTimeout(() => {
      clearInterval(timer);
      socket.destroy();
      reject(new Error('the server never closed the slow connection'));
    }, 20_000).unref();
  });
}

describe('the HTTP server', () => {
  describe('against a client that trickles its request', () => {
    it('closes a body still arriving after the request time limit, answering 408', async () => {
      const port = await listen({ headersTimeoutSeconds: 1, requestTimeoutSeconds: 2 });
      const body = JSON.stringify({ padding: 'x'.repeat(200) });
      const head = `POST /who HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
      const { seconds, answer } = await slowClient(port, head, body, 100);
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      // The limit, plus at most one check interval and some scheduling slack.
      expect(seconds).toBeGreaterThanOrEqual(1.9);
      expect(seconds).toBeLessThan(2 + 1 + 1.5);
    });

    it('closes a request head still arriving after the header time limit', async () => {
      const port = await listen({ headersTimeoutSeconds: 1, requestTimeoutSeconds: 5 });
      const { seconds, answer } = await slowClient(port, 'GET /who HTTP/1.1\r\n', 'X-Slow: '.padEnd(200, 'y'), 100);
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(seconds).toBeGreaterThanOrEqual(0.9);
      expect(seconds).toBeLessThan(1 + 1 + 1.5);
    });

    it('still answers a client that sends its request in time', async () => {
      const port = await listen({ headersTimeoutSeconds: 1, requestTimeoutSeconds: 2 });
      expect((await fetch(`http://127.0.0.1:${port}/who`)).status).toBe(200);
    });
  });

  describe('the client address (request.ip) a failed-authentication budget belongs to', () => {
    const who = async (port: number, forwardedFor?: string) =>
      (
        (await (
          await fetch(`http://127.0.0.1:${port}/who`, { headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {} })
        ).json()) as {
          ip: string;
        }
      ).ip;

    it.each<[string, HttpSettings['trustProxy'], string | undefined, string]>([
      ['without TRUST_PROXY, is the socket’s peer whatever X-Forwarded-For says', false, '203.0.113.9', '127.0.0.1'],
      ['with TRUST_PROXY=loopback, is what the proxy on loopback forwarded', ['loopback'], '203.0.113.9', '203.0.113.9'],
      ['with TRUST_PROXY=1, is the last hop the proxy added', 1, '198.51.100.1, 203.0.113.9', '203.0.113.9'],
      ['with TRUST_PROXY naming another proxy, is the socket’s peer', ['10.0.0.0/8'], '203.0.113.9', '127.0.0.1'],
      ['with TRUST_PROXY=loopback and no header, is the socket’s peer', ['loopback'], undefined, '127.0.0.1'],
    ])('%s', async (_, trustProxy, forwardedFor, expected) => {
      const port = await listen({ trustProxy });
      expect((await who(port, forwardedFor))?.replace(/^::ffff:/, '')).toBe(expected);
    });
  });
});
