import { fold, type CommandMetadata, type Decider, type EventMetadata, type PublishedEvent } from '../contracts/index.js';
import { UNIQUE_VIOLATION, sqlState, type Tx } from '../database/postgres.js';
import { VersionConflictError, type EventStore, type StoredEvent } from './event-store.js';

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
  for (let attempt = 1; ; attempt++) {
    try {
      return await store.transaction(async (tx) => {
        const history = options.newStream && attempt === 1 ? [] : await store.readStream<Event>(streamId, tx);
        const state = fold(
          decider,
          history.map((e) => ({ type: e.type, data: e.data }) as Event),
        );
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
      });
    } catch (error) {
      const raced = error instanceof VersionConflictError || sqlState(error) === UNIQUE_VIOLATION;
      if (!raced || attempt >= maxAttempts) throw error;
    }
  }
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
  return {
    state: fold(
      decider,
      history.map((e) => ({ type: e.type, data: e.data }) as Event),
    ),
    version: history.length,
  };
}
