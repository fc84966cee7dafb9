import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import type { NatsSettings } from '../config/service-config.js';
import { growingDelay, retry, worthReporting } from '../runtime/retry.js';

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
 * first and every tenth are printed); an aborted `signal` ends the waiting with the last failure.
 */
export async function connectNats(
  settings: string[] | NatsSettings,
  name: string,
  signal?: AbortSignal,
  onWaiting?: (attempt: number, error: Error) => void,
): Promise<NatsConnection> {
  const servers = Array.isArray(settings) ? settings : settings.servers;
  const auth = Array.isArray(settings) ? {} : natsAuthOptions(settings);
  return retry(() => connect({ ...auth, servers, name, maxReconnectAttempts: -1, reconnectTimeWait: 500 }), {
    delayMs: growingDelay(250, 2000),
    stopped: () => signal?.aborted === true,
    onFailure: (error, attempt) => {
      if (onWaiting) onWaiting(attempt, error as Error);
      else if (worthReporting(attempt))
        console.warn(`[${name}] waiting for NATS at ${servers.join(',')}: ${(error as Error).message}`);
    },
  });
}

/** True while the connection is open and not between a disconnect and a reconnect. */
export function natsIsUp(nc: NatsConnection | undefined, disconnected: boolean): boolean {
  return !!nc && !nc.isClosed() && !disconnected;
}
