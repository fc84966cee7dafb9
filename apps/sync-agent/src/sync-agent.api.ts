import { z } from 'zod';
import {
  ApiKeyRole,
  COMMON_OPERATIONS,
  DEAD_LETTER_OPERATIONS,
  EffectiveLicenseSetV1,
  EffectiveLicenseV1,
  EventCauseV1,
  LicenseSourceV1,
  STATEFUL_SYNC_REASONS,
  Serial,
  UtcInstant,
  StatefulSyncStatusV1,
  lookup,
  sameShape,
  type LicenseSigningKeySetV1,
  type Principal,
  type SameShape,
  type ServiceApiDoc,
  type SignedLicenseDocumentV1,
} from '#shared';
import { AsOfInstant } from './read-models/effective-licenses/effective-licenses.controller.js';
import { HistoryQuery } from './read-models/effective-licenses-history/effective-licenses-history.controller.js';
import type { EffectiveLicensesHistoryPage } from './read-models/effective-licenses-history/effective-licenses-history.query.js';
import { GAP_SEVERITY, type FailoverReadinessReport } from './read-models/failover-readiness/failover-readiness.js';
import { ReadinessListQuery } from './read-models/failover-readiness/failover-readiness.controller.js';
import { MAX_SCANNED_PER_PAGE, type AccountReadinessReport } from './read-models/failover-readiness/failover-readiness.query.js';

/** What the sync agent answers, and what its routes read: the source of docs/openapi/sync-agent.yaml (npm run docs:contracts). */

export const HistoryItemSchema = z.object({
  version: z
    .number()
    .int()
    .positive()
    .meta({ description: 'The version of stream `effective-licenses-<serial>` (1 = the first set).' }),
  at: UtcInstant.meta({ description: 'When the sync agent computed the change.' }),
  cause: EventCauseV1,
  actor: z.string().nullable().meta({
    description: 'Who made the change the set follows from: the API key id of its cause’s request, never the key; else null.',
  }),
  added: z.array(z.string()),
  removed: z.array(z.string()),
  changed: z.array(z.string()),
});
export const HistoryPageSchema = z.object({
  serial: Serial,
  items: z.array(HistoryItemSchema),
  nextAfter: z.number().int().nullable().meta({ description: 'The `after` of the next page; null on the last page.' }),
});
sameShape<SameShape<z.output<typeof HistoryPageSchema>, EffectiveLicensesHistoryPage>>();

const GAP_CODES = Object.keys(GAP_SEVERITY) as [keyof typeof GAP_SEVERITY, ...(keyof typeof GAP_SEVERITY)[]];
const gapCodesOf = (severity: 'blocking' | 'warning') =>
  GAP_CODES.filter((code) => GAP_SEVERITY[code] === severity)
    .map((code) => `\`${code}\``)
    .join(', ');
export const ReadinessGapSchema = z
  .object({
    code: z.enum(GAP_CODES),
    severity: z.enum(['blocking', 'warning']),
    sku: z.string().optional(),
    detail: z.string(),
  })
  .meta({
    // Listed from GAP_SEVERITY, so that a new gap is documented the moment it exists.
    description:
      'One reason why a pair is not (or will soon not be) ready for a failover. Blocking: ' +
      `${gapCodesOf('blocking')}; warning: ${gapCodesOf('warning')}. \`NO_BASE_LICENSE\`: the Secondary holds no ` +
      'usable base OS license (`SONICOS_ENHANCED`), neither from the Primary nor its own, so it is not licensed to take over.',
  });
export const FailoverReadinessSchema = z.object({
  pairId: z.uuid(),
  primarySerial: Serial,
  secondarySerial: Serial,
  ready: z.boolean().meta({ description: 'True when no gap blocks.' }),
  checkedAt: UtcInstant,
  statefulSync: StatefulSyncStatusV1,
  gaps: z.array(ReadinessGapSchema),
});
sameShape<SameShape<z.output<typeof FailoverReadinessSchema>, FailoverReadinessReport>>();
export const ListedPairReadinessSchema = FailoverReadinessSchema.extend({
  accountId: z.string().nullable().meta({ description: "The pair's account (null while the agent knows neither unit)." }),
});
export const AccountReadinessSchema = z.object({
  accountId: z.string().nullable().meta({ description: 'The account read; null: every account (an operator or auditor).' }),
  checkedAt: UtcInstant,
  pairs: z.array(ListedPairReadinessSchema),
  nextCursor: z
    .string()
    .nullable()
    .meta({ description: 'Pass as `cursor` for the next page (same filters); null once every pair has been looked at.' }),
});
sameShape<SameShape<z.output<typeof AccountReadinessSchema>, AccountReadinessReport>>();

export const CallerSchema = z.object({
  keyId: z.string().meta({ description: 'The key’s id (`bootstrap-operator` for OPERATOR_API_KEY), never the key.' }),
  role: ApiKeyRole,
  accountId: z.string().nullable(),
});
sameShape<SameShape<z.output<typeof CallerSchema>, Principal>>();

export const LicenseDocumentSchema = z
  .object({
    version: z.literal(1),
    kid: z.string().meta({ description: "The signing key's id." }),
    issuedAt: UtcInstant,
    expiresAt: UtcInstant.meta({
      description: '`issuedAt` plus the time-to-live; the document is not valid from this instant on.',
    }),
    serial: Serial,
    role: z.enum(['primary', 'secondary', 'standalone']),
    peerSerial: Serial.nullable(),
    pairId: z.uuid().nullable(),
    licenses: z.array(EffectiveLicenseV1),
    statefulSync: z.object({ enabled: z.boolean(), reason: z.enum(STATEFUL_SYNC_REASONS).nullable() }),
  })
  .meta({ description: 'What the signature covers.' });
export const SignedLicenseDocumentSchema = z.object({
  document: LicenseDocumentSchema,
  signature: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .meta({ description: 'Ed25519 over the canonical JSON (RFC 8785) of `document` (UTF-8), base64url without padding.' }),
});
sameShape<SameShape<z.output<typeof SignedLicenseDocumentSchema>, SignedLicenseDocumentV1>>();

export const LicenseSigningKeySetSchema = z.object({
  keys: z.array(
    z
      .object({
        kid: z.string(),
        kty: z.literal('OKP'),
        crv: z.literal('Ed25519'),
        alg: z.literal('EdDSA'),
        use: z.literal('sig'),
        x: z.string().meta({ description: 'The raw 32-byte public key, base64url without padding.' }),
        publicKeyPem: z.string(),
      })
      .meta({ description: 'A JSON Web Key (RFC 8037, OKP/Ed25519) that also carries its SPKI PEM.' }),
  ),
  activeKid: z.string().meta({ description: 'The key new documents are signed with.' }),
});
sameShape<SameShape<z.output<typeof LicenseSigningKeySetSchema>, LicenseSigningKeySetV1>>();

const serialParam = { serial: Serial };

export const SYNC_AGENT_API: ServiceApiDoc = {
  service: 'sync-agent',
  title: 'HA License Sync: sync agent',
  description:
    'Each product’s effective license set (now, as of an instant, and its history), failover readiness of pairs, and ' +
    'signed license documents. Consumes the PAIRING and LICENSING streams and publishes `EffectiveLicensesChanged` ' +
    'and `StatefulSyncChanged` on SYNC_AGENT (docs/asyncapi.yaml). A product answers 404 `PRODUCT_NOT_FOUND` until ' +
    'the agent has seen its registration.',
  defaultPort: 3003,
  operations: {
    ...COMMON_OPERATIONS,
    ...DEAD_LETTER_OPERATIONS,
    'GET /products/{serial}/effective-licenses': {
      operationId: 'getEffectiveLicenses',
      summary: 'What the unit may use now, or at an instant',
      description:
        "A Secondary's set is its own licenses plus every shareable, unexpired license of its Primary; a Primary's and " +
        'a standalone unit’s set is its own. Computed from the projected facts against the clock when read, so an ' +
        'expiry needs no event. With `at`, the set as it was at that instant, folded from the consumed events.',
      ...lookup(serialParam, 'PRODUCT_NOT_FOUND', ['or a bad or future `at`']),
      query: z.object({ at: AsOfInstant.optional().meta({ description: 'An instant in the past, with an offset.' }) }),
      success: { description: 'The effective set.', schema: EffectiveLicenseSetV1 },
    },
    'GET /products/{serial}/effective-licenses/history': {
      operationId: 'getEffectiveLicensesHistory',
      summary: "Every change of a product's effective set, oldest first",
      description: 'The EffectiveLicensesChanged events of the product, paginated by stream version.',
      ...lookup(serialParam, 'PRODUCT_NOT_FOUND', ['query']),
      query: HistoryQuery,
      success: { description: 'A page of changes.', schema: HistoryPageSchema },
    },
    'GET /products/{serial}/license-document': {
      operationId: 'getLicenseDocument',
      summary: 'The effective set now, signed for the appliance to verify offline',
      description: 'Verify with the keys of `GET /.well-known/license-signing-keys` (by `document.kid`), and honour `expiresAt`.',
      ...lookup(serialParam, 'PRODUCT_NOT_FOUND'),
      success: { description: 'The signed document.', schema: SignedLicenseDocumentSchema },
    },
    'GET /.well-known/license-signing-keys': {
      operationId: 'getLicenseSigningKeys',
      summary: 'The public keys license documents are verified with',
      description: 'Old keys stay listed after a rotation until the documents they signed have expired.',
      success: { description: 'The key set and the active key.', schema: LicenseSigningKeySetSchema },
    },
    'GET /pairs/{pairId}/failover-readiness': {
      operationId: 'getFailoverReadiness',
      summary: 'Whether a pair is ready for a failover, and every gap',
      ...lookup({ pairId: z.uuid() }, 'PAIR_NOT_FOUND'),
      success: { description: 'The readiness report.', schema: FailoverReadinessSchema },
    },
    'GET /me': {
      operationId: 'getCaller',
      summary: 'Who the presented API key is',
      description:
        'Its id (recorded as the actor of the changes it makes), role and account (null for operator, auditor and metrics keys).',
      success: { description: 'The key’s holder.', schema: CallerSchema },
    },
    'GET /pairs/readiness': {
      operationId: 'getAccountReadiness',
      summary: 'The readiness of associated pairs, a page at a time',
      description:
        'Oldest association first. An operator or auditor reads every account, or the one `accountId` names; an ' +
        'account-scoped key reads its own (naming another is 403 `FORBIDDEN`). Each page assesses at most ' +
        `${MAX_SCANNED_PER_PAGE} pairs: with a \`ready\` filter that few pairs match, a page may hold fewer than \`limit\` ` +
        '(even none) and still have a `nextCursor`; follow it until it is null. Each pair is assessed as ' +
        '`GET /pairs/{pairId}/failover-readiness` does, when the page is read.',
      query: ReadinessListQuery,
      success: { description: 'A page of reports.', schema: AccountReadinessSchema },
      errors: {
        400: '`VALIDATION_FAILED` (query: a malformed `accountId`, `ready` other than true/false, a bad `limit`, or a `cursor` this list did not make).',
        403: '`FORBIDDEN` (an account-scoped key naming another account).',
      },
    },
  },
};

/** Schemas with a component name of their own in the sync agent's document. */
export const SYNC_AGENT_SCHEMAS = [
  [EffectiveLicenseSetV1, 'EffectiveLicenseSetV1'],
  [EffectiveLicenseV1, 'EffectiveLicenseV1'],
  [LicenseSourceV1, 'LicenseSourceV1'],
  [StatefulSyncStatusV1, 'StatefulSyncStatusV1'],
  [EventCauseV1, 'EventCause'],
  [HistoryPageSchema, 'EffectiveLicensesHistoryPage'],
  [ReadinessGapSchema, 'ReadinessGap'],
  [FailoverReadinessSchema, 'FailoverReadinessReport'],
  [ListedPairReadinessSchema, 'ListedPairReadiness'],
  [AccountReadinessSchema, 'AccountReadinessReport'],
  [SignedLicenseDocumentSchema, 'SignedLicenseDocumentV1'],
  [CallerSchema, 'Caller'],
  [LicenseSigningKeySetSchema, 'LicenseSigningKeySetV1'],
] as const;
