import { randomBytes } from 'node:crypto';
import { createInbox, headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { z } from 'zod';
import type { EventSource } from '../contracts/index.js';
import type { EventSigningKey, EventVerificationKey } from '../event-signing/event-signature.js';
import { ed25519Sign, ed25519Verify } from '../event-signing/ed25519.js';

/**
 * Authenticated request/reply over core NATS. Anyone allowed to subscribe to a request subject can answer it, so
 * an answer is believed only when it is signed by a key of the service that owns the subject (the same Ed25519
 * keys that sign its events) over the subject, a fresh random nonce sent with the request, and the reply's exact
 * bytes. A forged answer, or a genuine one replayed from another request, is ignored, counted and logged; the
 * asker keeps waiting for a genuine one until its deadline (then DependencyUnavailableError, 503).
 */

/** The header carrying the request's nonce (128 random bits, base64url), which the reply's signature covers. */
export const REQUEST_NONCE_HEADER = 'Request-Nonce';
/** The header naming the key that signed a reply: an event-signing key id, `<source>/<name>`. */
export const REPLY_KEY_ID_HEADER = 'Reply-Key-Id';
/** The Ed25519 signature of the reply, base64. */
export const REPLY_SIGNATURE_HEADER = 'Reply-Signature';

/** The other service did not answer (down, not subscribed yet, or only forged answers arrived in time). */
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

/** The body of every reply: the handler's result, or why the responder could not answer. */
type ReplyBody = { readonly result: unknown } | { readonly error: string };

/** The bytes a reply's signature covers: the request subject and nonce bind the reply to that one request. */
function signedBytesOf(subject: string, nonce: string, body: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${subject}\n${nonce}\n`), body]);
}

/** Signs `body` as the reply to the request with `nonce` on `subject`. */
export function signReply(
  subject: string,
  nonce: string,
  body: Uint8Array,
  key: EventSigningKey,
): { readonly keyId: string; readonly signature: string } {
  return { keyId: key.kid, signature: ed25519Sign(signedBytesOf(subject, nonce, body), key.privateKey).toString('base64') };
}

/** Why a reply was not believed, or null when `owner` signed exactly it for this request. */
export function replyForgery(
  reply: { readonly body: Uint8Array; readonly keyId: string | undefined; readonly signature: string | undefined },
  request: { readonly subject: string; readonly nonce: string },
  keys: ReadonlyMap<string, EventVerificationKey>,
  owner: EventSource,
): string | null {
  if (!reply.keyId || !reply.signature) return 'unsigned reply';
  const key = keys.get(reply.keyId);
  if (!key) return `reply signed by unknown key ${JSON.stringify(reply.keyId.slice(0, 80))}`;
  if (key.source !== owner) return `reply signed by ${reply.keyId}, a ${key.source} key, not ${owner}'s`;
  if (
    !ed25519Verify(
      signedBytesOf(request.subject, request.nonce, reply.body),
      key.publicKey,
      Buffer.from(reply.signature, 'base64'),
    )
  )
    return `reply signature does not match (forged, altered or replayed from another request), key ${reply.keyId}`;
  return null;
}

/** What a responder needs: its connection, its signing key, and the queue group its instances share. */
export interface ResponderOptions<Req> {
  readonly subject: string;
  readonly queue: string;
  readonly signer: EventSigningKey;
  readonly requestSchema: z.ZodType<Req>;
  readonly handle: (request: Req) => Promise<unknown>;
  /** A request could not be answered (bad request, handler failure): for the service's log. */
  readonly onError?: (detail: string) => void;
}

/**
 * Answers requests on `subject`, each reply signed for its request. A request that fails its schema, or a handler
 * that throws (its database is down, say), is answered with a signed error, which the asker treats as "no answer".
 */
export function serveSignedRequests<Req>(nc: NatsConnection, options: ResponderOptions<Req>): Subscription {
  const { subject, queue, signer, requestSchema, handle, onError } = options;
  return nc.subscribe(subject, {
    queue,
    callback: (_error, msg) => {
      if (!msg.reply) return;
      const nonce = msg.headers?.get(REQUEST_NONCE_HEADER) ?? '';
      const answer = (body: ReplyBody) => {
        const bytes = Buffer.from(JSON.stringify(body));
        const { keyId, signature } = signReply(subject, nonce, bytes, signer);
        const h = natsHeaders();
        h.set(REPLY_KEY_ID_HEADER, keyId);
        h.set(REPLY_SIGNATURE_HEADER, signature);
        msg.respond(bytes, { headers: h });
      };
      let request: Req;
      try {
        request = requestSchema.parse(msg.json());
      } catch (error) {
        onError?.(`refused a request on ${subject}: ${describe(error)}`);
        return answer({ error: 'malformed request' });
      }
      handle(request).then(
        (result) => answer({ result: result ?? null }),
        (error: unknown) => {
          onError?.(`could not answer a request on ${subject}: ${describe(error)}`);
          answer({ error: describe(error) });
        },
      );
    },
  });
}

/** Where a client's requests go and whose signature their answers need. */
export interface SignedRpcClientOptions {
  /** The service's NATS connection, once it has one (a request before that is "unavailable"). */
  readonly connection: () => NatsConnection | undefined;
  /** The inbox prefix the service's bus user may read (`_INBOX_<service>`), if restricted. */
  readonly inboxPrefix?: string | undefined;
  /** Every producer's public keys (the service's key ring). */
  readonly keys: ReadonlyMap<string, EventVerificationKey>;
  /** The service that owns the subjects asked: only its keys may sign the answers. */
  readonly owner: EventSource;
  /** Named in errors: "the pairing service". */
  readonly dependency: string;
  readonly timeoutMs?: number;
  /** A forged or replayed answer arrived (and was ignored): for the service's log and metrics. */
  readonly onForgery?: (subject: string, detail: string) => void;
}

/**
 * Asks the owning service and believes only an answer it signed for this request; checks the result against its
 * contract. No genuine answer in time: DependencyUnavailableError (the caller answers 503 and caches nothing).
 */
export class SignedRpcClient {
  private readonly timeoutMs: number;

  constructor(private readonly options: SignedRpcClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 2000;
  }

  async request<Req, Res>(subject: string, request: Req, replySchema: z.ZodType<Res>): Promise<Res> {
    const { dependency } = this.options;
    const nc = this.options.connection();
    if (!nc || nc.isClosed()) throw new DependencyUnavailableError(dependency, 'not connected to NATS');
    const nonce = randomBytes(16).toString('base64url');
    const body = await this.firstGenuineReply(nc, subject, nonce, JSON.stringify(request));
    if ('error' in body) throw new DependencyUnavailableError(dependency, body.error);
    return replySchema.parse(body.result);
  }

  private firstGenuineReply(nc: NatsConnection, subject: string, nonce: string, data: string): Promise<ReplyBody> {
    const { keys, owner, dependency, onForgery } = this.options;
    const inbox = createInbox(this.options.inboxPrefix);
    return new Promise<ReplyBody>((resolve, reject) => {
      let forgeries = 0;
      const finish = (outcome: () => void) => {
        clearTimeout(timer);
        subscription.unsubscribe();
        outcome();
      };
      const onReply = (msg: Msg) => {
        // No subscriber at all: the server answers at once with a 503 status instead of letting the request time out.
        if (msg.headers?.code === 503) return finish(() => reject(new DependencyUnavailableError(dependency, 'no responders')));
        const forgery = replyForgery(
          {
            body: msg.data,
            keyId: msg.headers?.get(REPLY_KEY_ID_HEADER) || undefined,
            signature: msg.headers?.get(REPLY_SIGNATURE_HEADER) || undefined,
          },
          { subject, nonce },
          keys,
          owner,
        );
        if (forgery !== null) {
          forgeries++;
          onForgery?.(subject, forgery);
          return; // keep waiting: the owner's own answer may still come
        }
        let parsed: ReplyBody;
        try {
          parsed = msg.json<ReplyBody>();
        } catch {
          parsed = { error: 'unreadable reply' };
        }
        finish(() => resolve(parsed));
      };
      const subscription = nc.subscribe(inbox, { callback: (_error, msg) => onReply(msg) });
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(
              new DependencyUnavailableError(
                dependency,
                `no genuine answer within ${this.timeoutMs} ms${forgeries > 0 ? ` (${forgeries} forged answers ignored)` : ''}`,
              ),
            ),
          ),
        this.timeoutMs,
      );
      const h = natsHeaders();
      h.set(REQUEST_NONCE_HEADER, nonce);
      nc.publish(subject, data, { reply: inbox, headers: h });
    });
  }
}
