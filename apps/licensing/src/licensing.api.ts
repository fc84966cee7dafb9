import { z } from 'zod';
import {
  COMMON_OPERATIONS,
  DEAD_LETTER_OPERATIONS,
  change,
  lookup,
  pagedList,
  LicenseStateV1,
  Serial,
  UtcInstant,
  pageSchema,
  sameShape,
  type Page,
  type LicenseSku,
  type SameShape,
  type ServiceApiDoc,
} from '#shared';
import { GrantLicenseBody } from './application/grant-license/grant-license.controller.js';
import type { LicenseHistoryEntry } from './application/license-history/license-history.controller.js';
import type { LicenseView } from './application/licenses.js';
import { ListLicensesQuery } from './application/list-licenses/list-licenses.controller.js';
import { RenewLicenseBody } from './application/renew-license/renew-license.controller.js';

/** What licensing answers, and what its routes read: the source of docs/openapi/licensing.yaml (npm run docs:contracts). */

export const LicenseSchema = z
  .object({
    licenseId: z.uuid(),
    serial: Serial,
    sku: z.string(),
    trial: z.boolean(),
    expiresAt: UtcInstant.nullable().meta({ description: 'UTC; null = perpetual.' }),
    status: z.enum(['active', 'expired', 'revoked']).meta({ description: '`expired` is computed against the clock when read.' }),
    grantedAt: UtcInstant,
    revokedAt: UtcInstant.nullable(),
  })
  .meta({ description: 'A license as the HTTP API returns it; `status` is computed against the clock at read time.' });
sameShape<SameShape<z.output<typeof LicenseSchema>, LicenseView>>();

export const LicensePageSchema = pageSchema(LicenseSchema);
sameShape<SameShape<z.output<typeof LicensePageSchema>, Page<LicenseView>>>();
export const ProductLicensesSchema = z.object({ serial: Serial, licenses: z.array(LicenseSchema) });

export const LicenseSkuSchema = z.object({
  sku: z.string(),
  name: z.string(),
  category: z.enum(['os', 'support', 'security-service', 'consulting', 'upgrade']),
  shareable: z.boolean().meta({ description: "Whether a Secondary receives the Primary's active license of this SKU." }),
});
sameShape<SameShape<z.output<typeof LicenseSkuSchema>, LicenseSku>>();

export const LicenseHistoryEntrySchema = z.object({
  eventId: z.uuid(),
  streamVersion: z.number().int().positive(),
  type: z.enum(['EntitlementChanged', 'EntitlementExpiringSoon']),
  change: z
    .enum(['granted', 'renewed', 'revoked', 'expired', 'transferred'])
    .nullable()
    .meta({ description: 'The change of an `EntitlementChanged`; null for an `EntitlementExpiringSoon`.' }),
  at: UtcInstant.meta({ description: 'When the event was recorded.' }),
  effectiveAt: UtcInstant.meta({
    description: 'When the change took effect (an expiry’s own instant) or the warning was issued.',
  }),
  actor: z
    .string()
    .nullable()
    .meta({
      description:
        'Who made the change: the id of the API key whose request made it (a transfer: the replacement’s), never the key; ' +
        'null for an expiry or a warning the scheduler recorded, and for changes recorded before actors were.',
    }),
  license: LicenseStateV1,
  transferredFrom: Serial.optional().meta({ description: 'Only for a `transferred` change: the unit the license left.' }),
  windowDays: z.number().int().positive().optional().meta({ description: 'Only for an `EntitlementExpiringSoon`.' }),
});
sameShape<SameShape<z.output<typeof LicenseHistoryEntrySchema>, LicenseHistoryEntry>>();

export const LicenseHistorySchema = z.object({ licenseId: z.uuid(), events: z.array(LicenseHistoryEntrySchema) });

const licenseParam = { licenseId: z.uuid() };

export const LICENSING_API: ServiceApiDoc = {
  service: 'licensing',
  title: 'HA License Sync: licensing',
  description:
    'Licenses per product and the license catalog. Appends `EntitlementChanged` and `EntitlementExpiringSoon` to the ' +
    'LICENSING stream (docs/asyncapi.yaml). Grants ask the pairing service whether the product exists: while it does ' +
    'not answer, grants are refused with 503 `DEPENDENCY_UNAVAILABLE` and nothing is written.',
  defaultPort: 3002,
  operations: {
    ...COMMON_OPERATIONS,
    ...DEAD_LETTER_OPERATIONS,
    'GET /catalog': {
      operationId: 'getLicenseCatalog',
      summary: 'The SKUs that can be granted, and whether a Secondary shares each',
      success: { description: 'The catalog.', schema: z.array(LicenseSkuSchema) },
    },
    'POST /products/{serial}/licenses': {
      operationId: 'grantLicense',
      summary: 'Grant a license to a product',
      description:
        'Appends `EntitlementChanged` (`granted`). `expiresAt` omitted or null = perpetual (not allowed for a trial). ' +
        '`STATEFUL_SYNC` is licensed on the Primary and refused for a model that cannot run it.',
      ...change({ serial: Serial }, 'PRODUCT_NOT_FOUND', GrantLicenseBody, {
        invalid: '`UNKNOWN_SKU`, `TRIAL_REQUIRES_EXPIRY`, `EXPIRY_IN_PAST`',
        conflicts: '`STATEFUL_SYNC_UNSUPPORTED`',
        otherwise: {
          503:
            '`SERVICE_UNAVAILABLE` (the service is starting, or PostgreSQL or NATS is unavailable), `DEPENDENCY_UNAVAILABLE` ' +
            '(the pairing service did not answer the product lookup; nothing was written).',
        },
      }),
      success: { description: 'The license.', schema: LicenseSchema },
    },
    'GET /products/{serial}/licenses': {
      operationId: 'listProductLicenses',
      summary: "A product's licenses",
      ...lookup({ serial: Serial }, 'PRODUCT_NOT_FOUND'),
      success: { description: "The product's licenses.", schema: ProductLicensesSchema },
    },
    'GET /licenses': {
      operationId: 'listLicenses',
      summary: 'List licenses, a page at a time, soonest expiry first',
      description:
        "The caller's licenses: an account-scoped key's account, or every account for an operator or auditor (narrowed " +
        'with `accountId`). Sorted by expiry (perpetual last), then id. Filters combine; keep them the same while ' +
        'following `nextCursor`. Upcoming expiries: `status=active&expiresBefore=<now + 90 days>`.',
      ...pagedList(ListLicensesQuery, { of: 'licenses', schema: LicensePageSchema }, 'a bad `limit` or instant'),
    },
    'GET /licenses/{licenseId}': {
      operationId: 'getLicense',
      summary: 'A license',
      ...lookup(licenseParam, 'LICENSE_NOT_FOUND'),
      success: { description: 'The license.', schema: LicenseSchema },
    },
    'DELETE /licenses/{licenseId}': {
      operationId: 'revokeLicense',
      summary: 'Revoke a license',
      description: 'Appends `EntitlementChanged` (`revoked`). Final.',
      ...change(licenseParam, 'LICENSE_NOT_FOUND', undefined, { conflicts: '`LICENSE_REVOKED`' }),
      success: { description: 'The license (`status` revoked).', schema: LicenseSchema },
    },
    'POST /licenses/{licenseId}/renewals': {
      operationId: 'renewLicense',
      summary: 'Move a license’s expiry later',
      description: 'Appends `EntitlementChanged` (`renewed`).',
      ...change(licenseParam, 'LICENSE_NOT_FOUND', RenewLicenseBody, {
        invalid: '`EXPIRY_IN_PAST`',
        conflicts: '`LICENSE_REVOKED`, `LICENSE_PERPETUAL`, `RENEWAL_NOT_LATER`',
      }),
      success: { description: 'The license after the renewal.', schema: LicenseSchema },
    },
    'GET /licenses/{licenseId}/history': {
      operationId: 'getLicenseHistory',
      summary: 'Every change of a license, oldest first',
      ...lookup(licenseParam, 'LICENSE_NOT_FOUND'),
      success: { description: 'The events of the license’s stream.', schema: LicenseHistorySchema },
    },
  },
};

/** Schemas with a component name of their own in licensing's document. */
export const LICENSING_SCHEMAS = [
  [LicenseSchema, 'License'],
  [LicenseStateV1, 'LicenseStateV1'],
  [LicenseSkuSchema, 'LicenseSku'],
  [ProductLicensesSchema, 'ProductLicenses'],
  [LicensePageSchema, 'LicensePage'],
  [LicenseHistorySchema, 'LicenseHistory'],
  [LicenseHistoryEntrySchema, 'LicenseHistoryEntry'],
  [GrantLicenseBody, 'GrantLicenseRequest'],
  [RenewLicenseBody, 'RenewLicenseRequest'],
] as const;
