import type { KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ed25519Verify, rawPublicKey } from './ed25519.js';

/**
 * Ed25519 verification of a whole batch of signatures on worker threads, so that the consumer's own thread
 * parses the same batch meanwhile (and, under load, works on its transaction) instead of spending a fifth of its
 * time verifying. Verification is pure, so where it runs changes no answer: a batch too small to be
 * worth a round trip to a worker, a verifier with no threads, or a worker that failed, is verified inline.
 */

/** One signature to check: the key id from the message's header, the exact body bytes, the signature (base64). */
export interface SignatureCheck {
  readonly kid: string;
  readonly body: Uint8Array;
  readonly signature: string;
}

/** Batches smaller than this are verified inline: a round trip to a worker costs about what a few checks do. */
const INLINE_BELOW = 16;

/** One thread per core but the consumer's own, at least one and at most four. */
export function defaultVerifierThreads(): number {
  return Math.min(4, Math.max(1, availableParallelism() - 1));
}

/**
 * Runs in each worker (CommonJS, evaluated from this string so that it needs no build step of its own): libsodium
 * and the raw public keys arrive once, then each request is a chunk of signatures with its bodies packed in one
 * buffer. It checks as ed25519Verify does.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const sodium = require(workerData.sodium);
const keys = new Map(workerData.keys.map(([kid, raw]) => [kid, Buffer.from(raw)]));
parentPort.on('message', ({ id, kids, signatures, bodies, ends }) => {
  const all = Buffer.from(bodies);
  const answers = new Uint8Array(kids.length);
  for (let i = 0, start = 0; i < kids.length; start = ends[i], i++) {
    const key = keys.get(kids[i]);
    const signature = Buffer.from(signatures[i], 'base64');
    answers[i] = key !== undefined && signature.length === 64 && sodium.crypto_sign_verify_detached(signature, all.subarray(start, ends[i]), key) ? 1 : 0;
  }
  parentPort.postMessage({ id, answers }, [answers.buffer]);
});
`;

interface WorkerReply {
  readonly id: number;
  readonly answers: Uint8Array;
}

/** Checks batches of Ed25519 signatures on worker threads, inline where that is not worth it (see the file comment). */
export class SignatureVerifier {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (answers: Uint8Array) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  private failed: Error | null = null;

  constructor(
    private readonly keys: ReadonlyMap<string, { readonly publicKey: KeyObject }>,
    threads = defaultVerifierThreads(),
  ) {
    const raw = [...keys].map(([kid, { publicKey }]) => [kid, new Uint8Array(rawPublicKey(publicKey))]);
    const sodium = createRequire(import.meta.url).resolve('sodium-native');
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { keys: raw, sodium } });
      worker.unref();
      worker.on('message', ({ id, answers }: WorkerReply) => {
        this.pending.get(id)?.resolve(answers);
        this.pending.delete(id);
      });
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => this.fail(new Error(`signature verifier thread exited with code ${code}`)));
      this.workers.push(worker);
    }
  }

  /** Whether each signature is a valid Ed25519 signature of its body by the key its kid names (false for an unknown kid). */
  async verifyAll(checks: readonly SignatureCheck[]): Promise<boolean[]> {
    if (checks.length < INLINE_BELOW || this.workers.length === 0 || this.failed) return checks.map((c) => this.verifyInline(c));
    const size = Math.ceil(checks.length / this.workers.length);
    try {
      const chunks = await Promise.all(
        this.workers.map((worker, w) => this.request(worker, checks.slice(w * size, (w + 1) * size))),
      );
      return chunks.flatMap((answers) => [...answers].map((a) => a === 1));
    } catch (error) {
      this.fail(error as Error);
      return checks.map((c) => this.verifyInline(c));
    }
  }

  /** Stops the threads; later batches are verified inline. */
  async close(): Promise<void> {
    this.failed ??= new Error('the signature verifier was closed'); // before the threads exit: no warning
    await Promise.all(this.workers.splice(0).map((worker) => worker.terminate()));
  }

  private verifyInline({ kid, body, signature }: SignatureCheck): boolean {
    const key = this.keys.get(kid)?.publicKey;
    return key !== undefined && ed25519Verify(body, key, Buffer.from(signature, 'base64'));
  }

  private request(worker: Worker, checks: readonly SignatureCheck[]): Promise<Uint8Array> {
    if (checks.length === 0) return Promise.resolve(new Uint8Array(0));
    const ends = new Uint32Array(checks.length);
    let total = 0;
    for (const [i, { body }] of checks.entries()) ends[i] = total += body.byteLength;
    const bodies = new Uint8Array(total);
    for (const [i, { body }] of checks.entries()) bodies.set(body, i === 0 ? 0 : ends[i - 1]);
    const id = this.nextId++;
    return new Promise<Uint8Array>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage(
        { id, kids: checks.map((c) => c.kid), signatures: checks.map((c) => c.signature), bodies: bodies.buffer, ends },
        [bodies.buffer, ends.buffer],
      );
    });
  }

  /** A worker failed: what it was asked is answered inline by the callers, and so is everything after. */
  private fail(error: Error): void {
    if (!this.failed) console.warn(`[signature-verifier] verifying inline from now on: ${error.message}`);
    this.failed ??= error;
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
  }
}
