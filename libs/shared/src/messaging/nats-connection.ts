import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import type { NatsSettings } from '../config/service-config.js';

/**
 * The connection options of a service's bus user: credentials, TLS and the inbox prefix (its user may read
 * only `<inboxPrefix>.>`, so no service can read another's replies). Used by the service's own connection
 * and by Nest's NATS transport (request/reply).
 */
export function natsAuthOptions(settings: NatsSettings): Partial<ConnectionOptions> {
  return {
    ...(settings.user !== undefined ? { user: settings.user, pass: settings.password } : {}),
    ...(settings.tls ? { tls: { ...settings.tls } } : {}),
    inboxPrefix: settings.inboxPrefix,
  };
}

/**
 * Connects to NATS, retrying until it answers, and keeps reconnecting forever afterwards: a NATS outage
 * makes the service unready (503) instead of killing it. Each failed attempt goes to `onWaiting` (by default the
 * first and every tenth are printed).
 */
export async function connectNats(
  settings: string[] | NatsSettings,
  name: string,
  signal?: AbortSignal,
  onWaiting?: (attempt: number, error: Error) => void,
): Promise<NatsConnection> {
  const servers = Array.isArray(settings) ? settings : settings.servers;
  const auth = Array.isArray(settings) ? {} : natsAuthOptions(settings);
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect({
        ...auth,
        servers,
        name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      if (onWaiting) onWaiting(attempt, error as Error);
      else if (attempt === 1 || attempt % 10 === 0) {
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
