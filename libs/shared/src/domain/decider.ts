/**
 * A decider is an aggregate's rules as pure functions: `decide` turns a command into events (or throws a
 * RuleViolation), `evolve` folds one event into the state. No I/O, no clock, no framework.
 */
export interface Decider<Command, Event, State> {
  readonly initialState: State;
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
}

/** An event as a domain sees it: a type and plain data. The event store adds ids, versions and metadata. */
export interface DomainEvent<Type extends string = string, Data = unknown> {
  readonly type: Type;
  readonly data: Data;
}

/** Folds events over a decider's initial state. */
export function fold<Event, State>(
  decider: Pick<Decider<unknown, Event, State>, 'initialState' | 'evolve'>,
  events: readonly Event[],
): State {
  return events.reduce(decider.evolve, decider.initialState);
}

/** Compile-time proof that a switch covered every member of a union. */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`Unhandled ${what}: ${JSON.stringify(value)}`);
}

/** What every command carries besides its data: the time of the request and what it belongs to. */
export interface CommandMetadata {
  readonly now: Date;
  readonly correlationId?: string | null | undefined;
  /** The event that caused this command, when a consumer issues it (recorded as the events' causationId). */
  readonly causationId?: string | null | undefined;
  /** The API key id of the request (never the key), recorded as the events' `metadata.actor`. */
  readonly actor?: string | null | undefined;
}
