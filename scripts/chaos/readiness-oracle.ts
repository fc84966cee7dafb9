/**
 * The readiness oracle: a pair must never be reported ready while a write on one of its units, acknowledged
 * (2xx received) before the readiness request was sent, is not yet applied by the sync agent.
 *
 * How each ready answer is judged, from facts gathered independently of the sync agent's readiness code:
 * - the writes: every 2xx write of the run with the serials of the units it concerns, stamped with the harness's
 *   own order (`ackTick`: when the harness saw the answer; `sentTick` of the readiness request: when it was sent);
 * - their events: the producers' event stores (pairing, licensing), where each event carries the correlation id of
 *   the request that appended it; events appended by a consumer (a causation id) are not a write's;
 * - "applied": the sync agent's inbox, one row per event it consumed, with the commit time of the transaction that
 *   applied it (PostgreSQL's commit timestamp; the row's `received_at`, that transaction's start, when commit
 *   timestamps are off). Events carry their aggregate's whole state and the projection keeps the newest version, so
 *   an event counts as applied from the first commit of its stream at that version or a later one. Inbox rows of
 *   events no producer stored (copies the harness injected under new ids) are ignored.
 * A ready answer is a violation when one of those events was applied only after the answer arrived, or never: the
 * answer cannot have seen it. An event applied while the request was in flight is counted as raced (whether the
 * answer saw it cannot be told) and is not a violation.
 */

/** One 200 answer of GET /pairs/:pairId/failover-readiness. */
export interface ReadinessAnswer {
  readonly pairId: string;
  readonly primarySerial: string;
  readonly secondarySerial: string;
  readonly ready: boolean;
  /** Blocking gap codes of the answer. */
  readonly gaps: readonly string[];
  readonly sentTick: number;
  /** Epoch milliseconds: before the request was sent, and after its answer was read. */
  readonly sentAt: number;
  readonly arrivedAt: number;
}

/** A write the harness saw acknowledged (2xx). */
export interface AckedWrite {
  readonly op: string;
  readonly units: readonly string[];
  readonly correlationId: string;
  readonly ackTick: number;
  readonly ackAt: number;
}

/** An event in a producer's store. */
export interface ProducedEvent {
  readonly eventId: string;
  readonly streamId: string;
  readonly streamVersion: number;
  /** The correlation id of the request that appended it; null for an event a consumer appended. */
  readonly correlationId: string | null;
}

/** A row of the sync agent's inbox. */
export interface InboxEntry {
  readonly eventId: string;
  readonly streamId: string;
  readonly streamVersion: number;
  /** Epoch microseconds of the commit that applied it. */
  readonly appliedAtUs: number;
}

/** An event a ready answer should have seen applied. */
export interface UnappliedEvent {
  readonly op: string;
  readonly correlationId: string;
  readonly streamId: string;
  readonly streamVersion: number;
  readonly ackAt: number;
  /** Epoch microseconds it was applied at, after the answer; null: never. */
  readonly appliedAtUs: number | null;
}

/** A ready answer given while acknowledged writes on its units were not applied. */
export interface ReadinessViolation {
  readonly answer: ReadinessAnswer;
  readonly unapplied: readonly UnappliedEvent[];
}

export interface ReadinessVerdict {
  readonly answers: number;
  readonly ready: number;
  readonly pairs: number;
  /** Ready answers with at least one write acknowledged before they were asked for. */
  readonly readyChecked: number;
  /** (ready answer, event of an earlier acknowledged write) pairs checked. */
  readonly eventsChecked: number;
  readonly violations: readonly ReadinessViolation[];
  /** Checked events applied while the readiness request was in flight. */
  readonly raced: number;
  /** Acknowledged writes with units but no event in any producer's store (their correlation ids). */
  readonly writesWithoutEvents: readonly string[];
}

/** A stream's applied versions, ascending, with the earliest commit that applied that version or a later one. */
interface AppliedVersions {
  readonly versions: number[];
  readonly earliestFrom: number[];
}

function indexApplied(inbox: readonly InboxEntry[], genuine: ReadonlySet<string>): Map<string, AppliedVersions> {
  const byStream = new Map<string, Map<number, number>>();
  for (const entry of inbox) {
    if (!genuine.has(entry.eventId)) continue;
    const versions = byStream.get(entry.streamId) ?? new Map<number, number>();
    const earlier = versions.get(entry.streamVersion);
    versions.set(entry.streamVersion, earlier === undefined ? entry.appliedAtUs : Math.min(earlier, entry.appliedAtUs));
    byStream.set(entry.streamId, versions);
  }
  const index = new Map<string, AppliedVersions>();
  for (const [stream, versions] of byStream) {
    const sorted = [...versions].sort(([a], [b]) => a - b);
    const earliestFrom = sorted.map(([, at]) => at);
    for (let i = earliestFrom.length - 2; i >= 0; i--) earliestFrom[i] = Math.min(earliestFrom[i]!, earliestFrom[i + 1]!);
    index.set(stream, { versions: sorted.map(([v]) => v), earliestFrom });
  }
  return index;
}

/** When the sync agent first held `version` (or a later one) of `stream`, in epoch microseconds; null if never. */
function appliedAt(index: ReadonlyMap<string, AppliedVersions>, stream: string, version: number): number | null {
  const applied = index.get(stream);
  if (!applied) return null;
  let lo = 0;
  let hi = applied.versions.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (applied.versions[mid]! < version) lo = mid + 1;
    else hi = mid;
  }
  return lo < applied.versions.length ? applied.earliestFrom[lo]! : null;
}

/** Judges every ready answer against the writes acknowledged before it was asked for (see the file's comment). */
export function checkReadiness(input: {
  readonly answers: readonly ReadinessAnswer[];
  readonly writes: readonly AckedWrite[];
  readonly produced: readonly ProducedEvent[];
  readonly inbox: readonly InboxEntry[];
}): ReadinessVerdict {
  const eventsOf = new Map<string, ProducedEvent[]>();
  for (const event of input.produced) {
    if (event.correlationId === null) continue;
    const list = eventsOf.get(event.correlationId) ?? [];
    list.push(event);
    eventsOf.set(event.correlationId, list);
  }
  const applied = indexApplied(input.inbox, new Set(input.produced.map((e) => e.eventId)));
  const writesOf = new Map<string, AckedWrite[]>();
  const writesWithoutEvents: string[] = [];
  for (const write of input.writes) {
    if (write.units.length === 0) continue;
    if (!eventsOf.has(write.correlationId)) writesWithoutEvents.push(`${write.op} ${write.correlationId}`);
    for (const unit of new Set(write.units)) {
      const list = writesOf.get(unit) ?? [];
      list.push(write);
      writesOf.set(unit, list);
    }
  }

  let ready = 0;
  let readyChecked = 0;
  let eventsChecked = 0;
  let raced = 0;
  const violations: ReadinessViolation[] = [];
  for (const answer of input.answers) {
    if (!answer.ready) continue;
    ready++;
    const earlier = new Set(
      [answer.primarySerial, answer.secondarySerial].flatMap((unit) =>
        (writesOf.get(unit) ?? []).filter((w) => w.ackTick < answer.sentTick),
      ),
    );
    if (earlier.size > 0) readyChecked++;
    const unapplied: UnappliedEvent[] = [];
    for (const write of earlier) {
      for (const event of eventsOf.get(write.correlationId) ?? []) {
        eventsChecked++;
        const at = appliedAt(applied, event.streamId, event.streamVersion);
        // The answer was read before (arrivedAt + 1) ms: a commit at or after that instant cannot be in it.
        if (at === null || at >= (answer.arrivedAt + 1) * 1000) {
          unapplied.push({
            op: write.op,
            correlationId: write.correlationId,
            streamId: event.streamId,
            streamVersion: event.streamVersion,
            ackAt: write.ackAt,
            appliedAtUs: at,
          });
        } else if (at >= answer.sentAt * 1000) raced++;
      }
    }
    if (unapplied.length > 0) violations.push({ answer, unapplied });
  }
  return {
    answers: input.answers.length,
    ready,
    pairs: new Set(input.answers.map((a) => a.pairId)).size,
    readyChecked,
    eventsChecked,
    violations,
    raced,
    writesWithoutEvents,
  };
}

/** One line per violation, for the report. */
export function describeViolation({ answer, unapplied }: ReadinessViolation): string {
  const first = unapplied[0]!;
  const when = (us: number | null) =>
    us === null ? 'never applied' : `applied ${((us / 1000 - answer.arrivedAt) / 1000).toFixed(3)} s after the answer`;
  return (
    `pair ${answer.pairId} ready at ${new Date(answer.sentAt).toISOString()}: ${unapplied.length} event(s) of earlier ` +
    `acknowledged writes not applied, e.g. ${first.op} ${first.streamId} v${first.streamVersion} ` +
    `(acknowledged ${((answer.sentAt - first.ackAt) / 1000).toFixed(3)} s before the request, ${when(first.appliedAtUs)})`
  );
}
