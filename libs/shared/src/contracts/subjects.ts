import { contractOf, type EventSource, type EventType, type PublishedEvent } from './event-catalog.js';

/**
 * Every subject and stream name, built in one place. A namespace (empty in production) prefixes all of
 * them so that test runs, or several deployments on one NATS account, never see each other's messages.
 */
export interface BusNames {
  readonly namespace: string;
  /** The JetStream stream that stores a source's events. */
  stream(source: EventSource): string;
  /** All subjects of a source's events (the stream's subject filter). */
  allSubjects(source: EventSource): string;
  /** The subject an event is published on: `<source>.v<schemaVersion>.<token>.<key>`. */
  subjectOf(event: PublishedEvent): string;
  /** The subjects of one event type, for a consumer that wants only those. */
  subjectsOfType(type: EventType): string;
  /** Core-NATS request/reply subject for asking pairing about a product. */
  readonly productLookup: string;
  /** The JetStream stream that keeps the messages every consumer of this namespace dead-lettered. */
  readonly deadLetterStream: string;
  /** The subject a consumer's dead letters go to: `dead-letter.<consumer>` (the durable consumer's name). */
  deadLetterSubject(consumer: string): string;
  /** Every dead-letter subject of the namespace (the dead-letter stream's subject filter). */
  readonly allDeadLetterSubjects: string;
  /** Core-NATS request/reply subject for asking pairing who holds an API key (by its hash). */
  readonly apiKeyLookup: string;
  /** Core-NATS request/reply subject for asking a producer for the last event it committed. */
  newestEvent(source: EventSource): string;
}

const SUBJECT_TOKEN = /^[A-Za-z0-9_-]+$/;

const NAMESPACE_PATTERN = /^[a-z0-9_-]*$/;

export function busNames(namespace = ''): BusNames {
  if (!NAMESPACE_PATTERN.test(namespace)) {
    throw new Error(`bus namespace "${namespace}" may only contain a-z, 0-9, _ and -`);
  }
  const subjectPrefix = namespace ? `${namespace}.` : '';
  const streamPrefix = namespace ? `${namespace.toUpperCase().replaceAll('-', '_')}_` : '';
  return {
    namespace,
    stream: (source) => `${streamPrefix}${source.toUpperCase().replaceAll('-', '_')}`,
    allSubjects: (source) => `${subjectPrefix}${source}.>`,
    subjectOf(event) {
      const contract = contractOf(event.type);
      const key = (contract.subjectKey as (data: unknown) => string)(event.data);
      return `${subjectPrefix}${contract.source}.v${contract.schemaVersion}.${contract.subjectToken}.${key}`;
    },
    subjectsOfType(type) {
      const contract = contractOf(type);
      return `${subjectPrefix}${contract.source}.v${contract.schemaVersion}.${contract.subjectToken}.*`;
    },
    productLookup: `${subjectPrefix}rpc.pairing.v1.get-product`,
    deadLetterStream: `${streamPrefix}DEAD_LETTER`,
    deadLetterSubject(consumer) {
      if (!SUBJECT_TOKEN.test(consumer)) throw new Error(`consumer name "${consumer}" is not a subject token`);
      return `${subjectPrefix}dead-letter.${consumer}`;
    },
    allDeadLetterSubjects: `${subjectPrefix}dead-letter.>`,
    apiKeyLookup: `${subjectPrefix}rpc.pairing.v1.verify-api-key`,
    newestEvent: (source) => `${subjectPrefix}rpc.${source}.v1.newest-event`,
  };
}
