import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { z } from 'zod';

/** The other service did not answer: it is down, or not subscribed yet. */
export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: string,
    cause: unknown,
  ) {
    super(`${dependency} did not answer: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'DependencyUnavailableError';
  }
}

type Reply<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * Answers core-NATS requests on `subject` in a queue group (instances share the load). Requests and
 * replies are JSON checked against their schemas.
 */
export function serveRequests<Req, Res>(
  nc: NatsConnection,
  subject: string,
  queue: string,
  requestSchema: z.ZodType<Req>,
  handler: (request: Req) => Promise<Res>,
): Subscription {
  return nc.subscribe(subject, {
    queue,
    callback: (error, msg) => {
      if (error) return;
      void (async () => {
        let reply: Reply<Res>;
        try {
          const request = requestSchema.parse(msg.json());
          reply = { ok: true, value: await handler(request) };
        } catch (e) {
          reply = { ok: false, error: (e as Error).message };
        }
        msg.respond(JSON.stringify(reply));
      })();
    },
  });
}

/** Sends a request and returns the checked reply; DependencyUnavailableError if nobody answers in time. */
export async function requestReply<Req, Res>(
  nc: NatsConnection,
  subject: string,
  request: Req,
  replySchema: z.ZodType<Res>,
  dependency: string,
  timeoutMs = 2000,
): Promise<Res> {
  let raw: unknown;
  try {
    raw = (await nc.request(subject, JSON.stringify(request), { timeout: timeoutMs })).json();
  } catch (error) {
    throw new DependencyUnavailableError(dependency, error);
  }
  const reply = raw as Reply<unknown>;
  if (!reply.ok) throw new Error(`${dependency} failed the request: ${reply.error}`);
  return replySchema.parse(reply.value);
}
