import { z } from 'zod';
import {
  EVENT_CATALOG,
  EVENT_KEY_ID_HEADER,
  EVENT_SIGNATURE_HEADER,
  EffectiveLicenseSetV1,
  EffectiveLicenseV1,
  EventCauseV1,
  EventEnvelopeSchema,
  EventMetadata,
  LicenseSourceV1,
  LicenseStateV1,
  PairReplacementV1,
  Serial,
  StatefulSyncStatusV1,
  busNames,
  type EventType,
  type NamedSchemas,
  type PublishedEvent,
} from '#shared';
import { SchemaBook, type JsonSchema } from './json-schemas.js';

/** Placeholders for every field an event's subject key reads, so a subject reads `<source>.v1.<token>.{serial}`. */
const PROBE = {
  serial: '{serial}',
  primarySerial: '{primarySerial}',
  secondarySerial: '{secondarySerial}',
  license: { serial: '{serial}' },
};

const SUBJECT_PARAMETERS: Record<string, string> = {
  serial: 'The serial the event is about (12 characters 0-9A-F).',
  secondarySerial: "The pair's Secondary's serial.",
};

const INTRODUCTION = `Events the HA License Sync services publish on NATS JetStream, for subscribing services of other teams.

**Reading them.** Each producing service has one stream: PAIRING (\`pairing.>\`), LICENSING (\`licensing.>\`), SYNC_AGENT
(\`sync-agent.>\`); file storage, limits retention (one year), a 2-minute duplicate window. Read them with a durable
pull consumer of your own, which an operator grants (\`npm run bus -- grant-consumer --team <team> --stream <STREAM>\`):
it creates \`team-<team>\` on the stream and a bus user \`team-<team>\` that may pull and acknowledge only that consumer,
with the inbox prefix \`_INBOX_team-<team>\`. Acknowledge explicitly after you have applied a message; deliveries are at
least once, so keep each entity's newest \`streamVersion\` and ignore anything older or already seen (\`eventId\`).
With \`BUS_NAMESPACE\` set, every subject is prefixed \`<namespace>.\` and every stream \`<NAMESPACE>_\`.

**Envelope.** Every message body is an \`EventEnvelope\`: \`eventId\` (also the \`Nats-Msg-Id\` header), \`type\`,
\`schemaVersion\`, \`streamId\` (the aggregate, see each channel), \`streamVersion\` (orders one aggregate's events, from 1),
\`occurredAt\`, \`data\` (the event's payload), \`metadata\` {\`correlationId\`, \`causationId\`} and \`subject\` (the subject
it was published on). Each event carries the full current state of its aggregate. A new schema version is a new
subject version (\`v2\`) beside the old one; within a version, fields are only ever added, optional: ignore fields you
do not know.

**Signatures.** The producer signs the exact body bytes with Ed25519: header \`${EVENT_KEY_ID_HEADER}\` names the key
(\`<source>/<name>~<RFC 7638 thumbprint>\`) and \`${EVENT_SIGNATURE_HEADER}\` holds the signature (base64). The public keys
are a JWK Set at \`GET /.well-known/event-signing-keys\` on the producing service (pairing :3001, licensing :3002, sync
agent :3003; no API key). Accept an event only if its key id is in its producer's set (the id starts with the service
that owns the event type), the signature verifies over the bytes you received, and \`subject\` is the subject it arrived
on. Key ids are unique by construction; a key id without \`~<thumbprint>\` (events signed before key ids carried one)
names the key whose id starts with it followed by \`~\`.`;

/** Schemas with a component name of their own in the AsyncAPI document. */
function namedSchemas(): NamedSchemas {
  const payloads = (Object.keys(EVENT_CATALOG) as EventType[]).map(
    (type) => [EVENT_CATALOG[type].schema as z.ZodType, `${type}V${EVENT_CATALOG[type].schemaVersion}`] as const,
  );
  return [
    ...payloads,
    [Serial, 'Serial'],
    [EventMetadata, 'EventMetadata'],
    [LicenseStateV1, 'LicenseStateV1'],
    [PairReplacementV1, 'PairReplacementV1'],
    [EffectiveLicenseSetV1, 'EffectiveLicenseSetV1'],
    [EffectiveLicenseV1, 'EffectiveLicenseV1'],
    [LicenseSourceV1, 'LicenseSourceV1'],
    [StatefulSyncStatusV1, 'StatefulSyncStatusV1'],
    [EventCauseV1, 'EventCause'],
  ];
}

/** The AsyncAPI 3.0 document of every published event, from EVENT_CATALOG and its zod contracts. */
export function asyncApiDocument(version: string): JsonSchema {
  const names = busNames('');
  const book = new SchemaBook(namedSchemas(), 'draft-07', '#/components/schemas/');
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  for (const type of Object.keys(EVENT_CATALOG) as EventType[]) {
    const contract = EVENT_CATALOG[type];
    const address = names.subjectOf({ type, data: PROBE } as unknown as PublishedEvent);
    const envelope = EventEnvelopeSchema.extend({
      type: z.literal(type),
      schemaVersion: z.literal(contract.schemaVersion),
      data: contract.schema as z.ZodType,
      subject: z.string().min(1).meta({ description: 'The subject it was published on; covered by the signature.' }),
    }).meta({ description: `The envelope of ${type} v${contract.schemaVersion}.` });
    messages[type] = {
      name: type,
      title: `${type} v${contract.schemaVersion}`,
      summary: contract.description.split('. ')[0]!.replace(/\.$/, '') + '.',
      description: `${contract.description}\n\nStream \`${names.stream(contract.source)}\`, published by ${contract.source}; \`streamId\` is \`${contract.streamIdFormat}\`.`,
      contentType: 'application/json',
      headers: {
        type: 'object',
        required: ['Nats-Msg-Id', EVENT_KEY_ID_HEADER, EVENT_SIGNATURE_HEADER],
        properties: {
          'Nats-Msg-Id': { type: 'string', format: 'uuid', description: 'The `eventId` (JetStream de-duplication).' },
          [EVENT_KEY_ID_HEADER]: {
            type: 'string',
            description: `The signing key's \`kid\` in ${contract.source}'s /.well-known/event-signing-keys.`,
          },
          [EVENT_SIGNATURE_HEADER]: { type: 'string', description: 'Ed25519 signature of the exact body bytes, base64.' },
        },
      },
      payload: book.schemaOf(envelope, 'output'),
    };
    const parameters = [...address.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => m[1]!);
    channels[type] = {
      address,
      title: `${type} (${names.stream(contract.source)})`,
      description: contract.description,
      ...(parameters.length
        ? { parameters: Object.fromEntries(parameters.map((p) => [p, { description: SUBJECT_PARAMETERS[p] ?? p }])) }
        : {}),
      messages: { [type]: { $ref: `#/components/messages/${type}` } },
    };
    operations[`receive${type}`] = {
      action: 'receive',
      title: `Receive ${type}`,
      summary: `A subscriber receives ${type} from a durable consumer on ${names.stream(contract.source)}.`,
      channel: { $ref: `#/channels/${type}` },
      messages: [{ $ref: `#/channels/${type}/messages/${type}` }],
    };
  }
  return {
    asyncapi: '3.0.0',
    info: { title: 'HA License Sync events', version, description: INTRODUCTION },
    defaultContentType: 'application/json',
    servers: {
      production: {
        host: 'nats:4222',
        protocol: 'nats',
        description: "The deployment's NATS server with JetStream (docker-compose's `nats`); NATS_URL of the services.",
        security: [{ $ref: '#/components/securitySchemes/teamUser' }],
      },
    },
    channels,
    operations,
    components: {
      messages,
      schemas: Object.fromEntries(Object.entries(book.components).sort(([a], [b]) => a.localeCompare(b))),
      securitySchemes: {
        teamUser: {
          type: 'userPassword',
          description:
            'The bus user `team-<team>` an operator made with `npm run bus -- grant-consumer`; its password is ' +
            "TEAM_<TEAM>_NATS_PASSWORD in the nats-server's environment.",
        },
      },
    },
  };
}
