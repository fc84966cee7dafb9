import { connect, type NatsConnection } from '@nats-io/transport-node';

/**
 * Connects to NATS, retrying until it answers, and keeps reconnecting forever afterwards: a NATS outage
 * makes the service unready (503) instead of killing it.
 */
export async function connectNats(servers: string[], name: string, signal?: AbortSignal): Promise<NatsConnection> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect({
        servers,
        name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      if (attempt === 1 || attempt % 10 === 0) {
        console.warn(`[${name}] waiting for NATS at ${servers.join(',')}: ${(error as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(250 * attempt, 2000)));
    }
  }
}

/** True while the connection is open and not between a disconnect and a reconnect. */
export function natsIsUp(nc: NatsConnection | undefined, disconnected: boolean): boolean {
  return !!nc && !nc.isClosed() && !disconnected;
}
