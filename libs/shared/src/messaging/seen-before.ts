import type { StreamPosition } from './durable-consumer.js';

/**
 * What a message whose event a consumer has already handled is: a `redelivery` when it arrives from the position
 * the event was first handled from (the ack was lost; it is done already, acknowledge it), else a `replay` (the
 * same event published again, by a republish or by hand: refused and dead-lettered, never applied twice). An event
 * handled without a known position (applied from a dead letter), or arriving without one, is a replay.
 */
export function repeatKind(handledFrom: StreamPosition | null, arrivedFrom: StreamPosition | undefined): 'redelivery' | 'replay' {
  return handledFrom !== null &&
    arrivedFrom !== undefined &&
    handledFrom.stream === arrivedFrom.stream &&
    handledFrom.seq === arrivedFrom.seq
    ? 'redelivery'
    : 'replay';
}

/** The dead letter's detail for a replay: which event, and where it was first handled from when that is known. */
export function replayDetail(
  event: { readonly type: string; readonly eventId: string },
  handledFrom: StreamPosition | null,
): string {
  const where = handledFrom ? ` from ${handledFrom.stream} sequence ${handledFrom.seq}` : '';
  return `${event.type} ${event.eventId} was already applied${where}`;
}
