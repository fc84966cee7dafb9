import { fold, type CommandMetadata, type Decider, type EventMetadata, type PublishedEvent } from '../contracts/index.js';
import { UNIQUE_VIOLATION, sqlState, type Tx } from '../database/postgres.js';
import { VersionConflictError, type EventStore, type SqlStatement, type StoredEvent } from './event-store.js';

/** A command as every decider takes it: the time of the request travels with it. */
export interface CommandEnvelope {
  readonly metadata: CommandMetadata;
}

export interface HandleCommandOptions<Command extends CommandEnvelope, Event extends PublishedEvent, State> {
  readonly store: EventStore;
  readonly decider: Decider<Command, Event, State>;
  readonly streamId: string;
  /** Builds the command once the transaction is open, e.g. after reading other aggregates' facts. */
  readonly command: Command | ((tx: Tx) => Promise<Command>);
  /** Runs in the same transaction after the append: inline projections, uniqueness reservations. */
  readonly afterAppend?: (tx: Tx, events: StoredEvent<Event>[], state: State) => Promise<void>;
  /**
   * Instead of a transaction: the inline projection as one write of the state after the new events (`version` is
   * the stream's version then), run in the append's own statement. The command then costs a read of its stream
   * and one statement (a new stream: the statement alone), not a transaction. Not with `afterAppend` or a
   * command built in the transaction.
   */
  readonly project?: (state: State, version: number) => SqlStatement | null;
  readonly maxAttempts?: number;
  /**
   * The stream id was made for this command (a fresh random id): the first attempt decides on the empty stream
   * without reading it, a statement less. Should the stream exist after all, the append conflicts (it expects
   * version 0) and the retry reads it as usual.
   */
  readonly newStream?: boolean;
}

export interface CommandResult<Event extends PublishedEvent, State> {
  readonly events: StoredEvent<Event>[];
  /** The aggregate's state after the new events. */
  readonly state: State;
}

/**
 * The one command handler: load the stream, fold it with `evolve`, `decide`, append at the version that
 * was read, and retry from the start when another writer won the race (a version conflict, or a unique
 * reservation taken meanwhile). A RuleViolation from `decide` rolls back and reaches the caller as is.
 */
export async function handleCommand<Command extends CommandEnvelope, Event extends PublishedEvent, State>(
  options: HandleCommandOptions<Command, Event, State>,
): Promise<CommandResult<Event, State>> {
  const { store, decider, streamId } = options;
  const maxAttempts = options.maxAttempts ?? 5;
  if (options.project) return handleInOneStatement({ ...options, project: options.project }, maxAttempts);
  return retryingRaces(maxAttempts, (attempt) =>
    store.transaction(async (tx) => {
      const history = options.newStream && attempt === 1 ? [] : await store.readStream<Event>(streamId, tx);
      const state = stateOf(decider, history);
      const command = typeof options.command === 'function' ? await options.command(tx) : options.command;
      const newEvents = decider.decide(command, state);
      const metadata = eventMetadataOf(command.metadata);
      const stored = await store.append(tx, streamId, history.length, newEvents, {
        occurredAt: command.metadata.now,
        metadata,
      });
      const after = newEvents.reduce((s, e) => decider.evolve(s, e), state);
      if (options.afterAppend) await options.afterAppend(tx, stored, after);
      return { events: stored, state: after };
    }),
  );
}

/**
 * Runs `attempt` (numbered from 1) again when another writer won the race (a version conflict, or a unique
 * reservation taken meanwhile), up to `maxAttempts`; any other error, or the last race, reaches the caller.
 */
async function retryingRaces<T>(maxAttempts: number, attempt: (n: number) => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      const raced = error instanceof VersionConflictError || sqlState(error) === UNIQUE_VIOLATION;
      if (!raced || n >= maxAttempts) throw error;
    }
  }
}

/** A stream's events folded with the decider's `evolve`. */
function stateOf<Event extends PublishedEvent, State>(
  decider: Pick<Decider<unknown, Event, State>, 'initialState' | 'evolve'>,
  history: readonly StoredEvent<Event>[],
): State {
  return fold(
    decider,
    history.map((e) => ({ type: e.type, data: e.data }) as Event),
  );
}

/**
 * handleCommand with an inline projection written in the append's statement: read the stream (not for a new
 * stream's first attempt), decide, then append and project in one statement. The unique stream version is the
 * only guard a transaction gave: a writer that appended since the read makes the statement fail as a whole, and
 * the command is decided again on the longer stream.
 */
async function handleInOneStatement<Command extends CommandEnvelope, Event extends PublishedEvent, State>(
  options: HandleCommandOptions<Command, Event, State> & {
    readonly project: (state: State, version: number) => SqlStatement | null;
  },
  maxAttempts: number,
): Promise<CommandResult<Event, State>> {
  const { store, decider, streamId, command } = options;
  if (typeof command === 'function' || options.afterAppend)
    throw new Error('handleCommand: `project` writes in the append statement; it cannot run a transaction as well');
  return retryingRaces(maxAttempts, async (attempt) => {
    const history = options.newStream && attempt === 1 ? [] : await store.readStream<Event>(streamId);
    const state = stateOf(decider, history);
    const newEvents = decider.decide(command, state);
    const after = newEvents.reduce((s, e) => decider.evolve(s, e), state);
    const stored = await store.appendAlone(
      {
        streamId,
        expectedVersion: history.length,
        events: newEvents,
        context: { occurredAt: command.metadata.now, metadata: eventMetadataOf(command.metadata) },
      },
      newEvents.length > 0 ? options.project(after, history.length + newEvents.length) : null,
    );
    return { events: stored, state: after };
  });
}

/** What a command's metadata records on its events: correlation, causation and, when known, the actor. */
export function eventMetadataOf(metadata: Omit<CommandMetadata, 'now'>): EventMetadata {
  return {
    correlationId: metadata.correlationId ?? null,
    causationId: metadata.causationId ?? null,
    ...(metadata.actor ? { actor: metadata.actor } : {}),
  };
}

/** Reads an aggregate's current state without deciding anything. */
export async function loadState<Event extends PublishedEvent, State>(
  store: EventStore,
  decider: Pick<Decider<unknown, Event, State>, 'initialState' | 'evolve'>,
  streamId: string,
  tx?: Tx,
): Promise<{ state: State; version: number }> {
  const history = await store.readStream<Event>(streamId, tx);
  return { state: stateOf(decider, history), version: history.length };
}
