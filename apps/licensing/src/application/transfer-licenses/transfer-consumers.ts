import type { BusNames, DurableConsumerSpec } from '#shared';

/** The durable consumer licensing reads pairing's associations with (license transfers on replacement). */
export function licensingConsumers(names: BusNames): DurableConsumerSpec[] {
  return [{ stream: names.stream('pairing'), durable: 'licensing', filterSubject: names.subjectsOfType('ProductsAssociated') }];
}
