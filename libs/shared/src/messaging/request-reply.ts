import { ClientProxyFactory, Transport, type ClientProxy, type NatsOptions } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';
import type { z } from 'zod';
import type { ServiceConfig } from '../config/service-config.js';
import { natsAuthOptions } from './nats-connection.js';

/** The other service did not answer: it is down, or not subscribed yet. */
export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: string,
    cause: unknown,
  ) {
    super(`${dependency} did not answer: ${describe(cause)}`);
    this.name = 'DependencyUnavailableError';
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'object' && error !== null && 'message' in error) return String(error.message);
  return String(error);
}

/**
 * Options of Nest's NATS transport (request/reply over core NATS) for a service: same servers, bus user, TLS
 * and inbox prefix as the service's own connection, reconnecting forever.
 */
export function natsTransportOptions(config: ServiceConfig, extra: { queue?: string } = {}): NatsOptions {
  return {
    transport: Transport.NATS,
    options: {
      ...natsAuthOptions(config.nats),
      servers: config.nats.servers,
      name: `${config.service}-rpc`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      ...extra,
    },
  };
}

/**
 * Asks another service over core-NATS request/reply through Nest's NATS client, and checks the reply
 * against its contract. No answer in time (service down, NATS away): DependencyUnavailableError.
 */
export class RpcClient {
  private readonly client: ClientProxy;

  constructor(
    config: ServiceConfig,
    private readonly dependency: string,
    private readonly timeoutMs = 2000,
  ) {
    this.client = ClientProxyFactory.create(natsTransportOptions(config));
  }

  async request<Req, Res>(subject: string, request: Req, replySchema: z.ZodType<Res>): Promise<Res> {
    let reply: unknown;
    try {
      reply = await firstValueFrom(this.client.send<unknown, Req>(subject, request).pipe(timeout(this.timeoutMs)), {
        defaultValue: null,
      });
    } catch (error) {
      // No answer (Nest reports "no responders" as an EmptyResponseException), a timeout, or an error the other
      // service answered with (its database is down: found by the chaos harness, these were 500s): either way
      // the dependency cannot serve us now, and the caller should retry.
      throw new DependencyUnavailableError(this.dependency, error);
    }
    return replySchema.parse(reply);
  }

  close(): Promise<void> {
    return this.client.close() as Promise<void>;
  }
}
