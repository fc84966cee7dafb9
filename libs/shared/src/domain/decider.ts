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

/**
 * For each type of a command union, the function that decides a command of that type. A type without its function,
 * or a function for a type that is not in the union, is a compile error: the table is as exhaustive as a switch.
 */
export type DecideByType<Command extends { readonly type: string }, Event, State> = {
  readonly [Type in Command['type']]: (command: Extract<Command, { readonly type: Type }>, state: State) => Event[];
};

/**
 * An aggregate's `decide`: hands each command to the function of its type in `byType`. A command of a type the table
 * has not (only untyped input can bring one) fails like the exhaustiveness check of a switch, naming `what` it is.
 */
export function decideByType<Command extends { readonly type: string }, Event, State>(
  what: string,
  byType: DecideByType<Command, Event, State>,
): (command: Command, state: State) => Event[] {
  return (command, state) => {
    if (!Object.hasOwn(byType, command.type)) return assertNever(command as never, what);
    const decideOne = byType[command.type as Command['type']] as (command: Command, state: State) => Event[];
    return decideOne(command, state);
  };
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
