import { z } from 'zod';
import {
  API_KEY_PATTERN,
  ApiKeyRole,
  COMMON_OPERATIONS,
  change,
  lookup,
  pagedList,
  PairReplacementV1,
  ProductFirmwareChangedV1,
  ProductRegisteredV1,
  ProductsAssociatedV1,
  ProductsDissociatedV1,
  Serial,
  UtcInstant,
  pageSchema,
  sameShape,
  type Page,
  type ApiKeyView,
  type SameShape,
  type ServiceApiDoc,
} from '#shared';
import { AssociateProductsBody } from './application/associate-products/associate-products.controller.js';
import { ChangeFirmwareBody } from './application/change-firmware/change-firmware.controller.js';
import { CreateApiKeyBody, ListApiKeysQuery } from './application/manage-api-keys/api-keys.controller.js';
import { RegisterProductBody } from './application/register-product/register-product.controller.js';
import { ReplaceUnitBody } from './application/replace-unit/replace-unit.controller.js';
import type { PairView, ProductView } from './application/views.js';
import type { HistoryEntry } from './application/view-history/history.controller.js';
import type { PairEvent } from './domain/pair/pair.events.js';
import type { ProductEvent } from './domain/product/product.events.js';
import { ListPairsQuery, ListProductsQuery } from './read-models/listings/listings.controller.js';

/** What pairing answers, and what its routes read: the source of docs/openapi/pairing.yaml (npm run docs:contracts). */

export const ApplianceModelSchema = z.object({
  model: z.string().meta({ description: 'As written when registering, e.g. "NSA 2700" (with the space).' }),
  statefulSync: z.boolean().meta({ description: 'Whether the model can run the Stateful Synchronization upgrade.' }),
});
const PairId = z.uuid();

export const ProductSchema = z.object({
  serial: Serial,
  model: z.string(),
  firmwareVersion: z.string(),
  accountId: z.string(),
  registeredAt: UtcInstant,
  statefulSyncCapable: z.boolean().meta({ description: 'Whether the model supports Stateful Synchronization.' }),
  pairId: z.uuid().nullable().meta({ description: 'The pair the product is in (either role), or null.' }),
});
sameShape<SameShape<z.output<typeof ProductSchema>, ProductView>>();

export const PairSchema = z.object({
  pairId: PairId,
  primarySerial: Serial,
  secondarySerial: Serial,
  model: z.string(),
  accountId: z.string(),
  status: z.enum(['associated', 'dissociated']),
  associatedAt: UtcInstant,
  dissociatedAt: UtcInstant.nullable(),
  replaces: PairReplacementV1.optional().meta({
    description: 'Only on a pair formed by replacing a failed unit of another pair.',
  }),
  replacedBy: z
    .uuid()
    .optional()
    .meta({ description: 'Only on a pair that ended because a unit was replaced: the pair that replaced it.' }),
});
sameShape<SameShape<z.output<typeof PairSchema>, PairView>>();

export const ProductPageSchema = pageSchema(ProductSchema);
sameShape<SameShape<z.output<typeof ProductPageSchema>, Page<ProductView>>>();
export const PairPageSchema = pageSchema(PairSchema);
sameShape<SameShape<z.output<typeof PairPageSchema>, Page<PairView>>>();

/** The fields every history entry has, whatever its event. */
const historyEntry = <T extends string, D extends z.ZodType>(type: T, data: D) =>
  z.object({
    eventId: z.uuid(),
    streamVersion: z.number().int().positive(),
    type: z.literal(type),
    at: UtcInstant.meta({ description: 'When the event was recorded.' }),
    actor: z
      .string()
      .nullable()
      .meta({
        description:
          'Who made the change: the id of the API key whose request made it, never the key; null for events recorded ' +
          'before actors were.',
      }),
    data,
  });

export const ProductHistorySchema = z.object({
  serial: Serial,
  events: z.array(
    z.discriminatedUnion('type', [
      historyEntry('ProductRegistered', ProductRegisteredV1),
      historyEntry('ProductFirmwareChanged', ProductFirmwareChangedV1),
    ]),
  ),
});
sameShape<SameShape<z.output<typeof ProductHistorySchema>['events'][number], HistoryEntry<ProductEvent>>>();

export const PairHistorySchema = z.object({
  pairId: PairId,
  events: z.array(
    z.discriminatedUnion('type', [
      historyEntry('ProductsAssociated', ProductsAssociatedV1),
      historyEntry('ProductsDissociated', ProductsDissociatedV1),
    ]),
  ),
});
sameShape<SameShape<z.output<typeof PairHistorySchema>['events'][number], HistoryEntry<PairEvent>>>();

export const ApiKeySchema = z.object({
  keyId: z.uuid(),
  name: z.string(),
  role: ApiKeyRole,
  accountId: z.string().nullable(),
  keyPrefix: z.string().meta({ description: "The key's first 9 characters (`hlsk_` and 4 more), to tell keys apart." }),
  createdAt: UtcInstant,
  createdBy: z.string().meta({ description: 'The key id that created it (`bootstrap-operator` for OPERATOR_API_KEY).' }),
  revokedAt: UtcInstant.nullable(),
});
sameShape<SameShape<z.output<typeof ApiKeySchema>, ApiKeyView>>();

export const CreatedApiKeySchema = ApiKeySchema.extend({
  apiKey: z.string().regex(API_KEY_PATTERN).meta({ description: 'The secret; shown in this response only.' }),
});

export const ApiKeyListSchema = z.object({ keys: z.array(ApiKeySchema) });

const serialParam = { serial: Serial };
const pairParam = { pairId: PairId };

export const PAIRING_API: ServiceApiDoc = {
  service: 'pairing',
  title: 'HA License Sync: pairing',
  description:
    'Products and pairs, and the API keys of all three services. Appends `ProductRegistered`, ' +
    '`ProductFirmwareChanged`, `ProductsAssociated` and `ProductsDissociated` to the PAIRING stream (docs/asyncapi.yaml).',
  defaultPort: 3001,
  operations: {
    ...COMMON_OPERATIONS,
    'GET /models': {
      operationId: 'listModels',
      summary: 'The appliance models a product can be registered as',
      description: 'Registering any other model answers 400 `UNKNOWN_MODEL`, naming these.',
      success: { description: 'The model catalog.', schema: z.array(ApplianceModelSchema) },
    },
    'POST /products': {
      operationId: 'registerProduct',
      summary: 'Register an appliance',
      description:
        'Appends `ProductRegistered`. `accountId` is required from an operator key (400 `VALIDATION_FAILED` without it). ' +
        "An account-admin's products always go to its key's account: it may leave `accountId` out; naming another " +
        'account is 403 `FORBIDDEN`. Models: NSA 2700, 3700, 4700, 5700, 6700 (stateful sync capable), TZ 270, 370, 470, 570, 670.',
      body: RegisterProductBody,
      correlationId: true,
      success: { description: 'The registered product (`pairId` null).', schema: ProductSchema },
      errors: {
        400: '`VALIDATION_FAILED` (body), `UNKNOWN_MODEL` (the model is not in the model catalog).',
        409: '`PRODUCT_ALREADY_REGISTERED`.',
      },
    },
    'GET /products': {
      operationId: 'listProducts',
      summary: 'List products, a page at a time',
      description:
        "The caller's products in serial order: an account-scoped key's account, or every account for an operator or " +
        'auditor (narrowed with `accountId`). Filters combine; keep them the same while following `nextCursor`. A ' +
        'product appears as soon as its registration has answered.',
      ...pagedList(ListProductsQuery, { of: 'products', schema: ProductPageSchema }, 'a bad `limit`'),
    },
    'GET /products/{serial}': {
      operationId: 'getProduct',
      summary: 'A registered product',
      description: "Read from the product's stream, so a product registered a moment ago is always found.",
      ...lookup(serialParam, 'PRODUCT_NOT_FOUND'),
      success: { description: 'The product.', schema: ProductSchema },
    },
    'GET /products/{serial}/history': {
      operationId: 'getProductHistory',
      summary: 'Every change of a product, oldest first, with who made it',
      description: "The product's `ProductRegistered` and `ProductFirmwareChanged` events, read from its stream.",
      ...lookup(serialParam, 'PRODUCT_NOT_FOUND'),
      success: { description: 'The events of the product’s stream.', schema: ProductHistorySchema },
    },
    'PATCH /products/{serial}': {
      operationId: 'changeFirmware',
      summary: 'Record a firmware upgrade or downgrade',
      description: 'Appends `ProductFirmwareChanged` (it decides stateful sync eligibility).',
      ...change(serialParam, 'PRODUCT_NOT_FOUND', ChangeFirmwareBody),
      success: { description: 'The product after the change.', schema: ProductSchema },
    },
    'POST /pairs': {
      operationId: 'associateProducts',
      summary: 'Make two registered products a pair',
      description:
        'Appends `ProductsAssociated`. Both products must be registered, distinct, of the same model and account, and ' +
        'in no other pair (in either role). The rules are checked in this order.',
      body: AssociateProductsBody,
      correlationId: true,
      success: { description: 'The new pair (`status` associated).', schema: PairSchema },
      errors: {
        400: '`VALIDATION_FAILED` (body).',
        404: '`PRODUCT_NOT_FOUND` (the Primary or the Secondary).',
        409: '`SAME_PRODUCT`, `MODEL_MISMATCH`, `ACCOUNT_MISMATCH`, `ALREADY_PAIRED`.',
      },
    },
    'GET /pairs': {
      operationId: 'listPairs',
      summary: 'List pairs, a page at a time',
      description:
        "The caller's pairs, newest association first: an account-scoped key's account, or every account for an " +
        'operator or auditor (narrowed with `accountId`). Dissociated pairs are listed too unless `status` says otherwise.',
      ...pagedList(ListPairsQuery, { of: 'pairs', schema: PairPageSchema }, 'a bad `limit`'),
    },
    'GET /pairs/{pairId}': {
      operationId: 'getPair',
      summary: 'A pair',
      ...lookup(pairParam, 'PAIR_NOT_FOUND'),
      success: { description: 'The pair, associated or dissociated.', schema: PairSchema },
    },
    'GET /pairs/{pairId}/history': {
      operationId: 'getPairHistory',
      summary: 'Every change of a pair, oldest first, with who made it',
      description:
        "The pair's `ProductsAssociated` and `ProductsDissociated` events (with `replaces` and `replacedBy` when a " +
        'replacement made or ended it), read from its stream.',
      ...lookup(pairParam, 'PAIR_NOT_FOUND'),
      success: { description: 'The events of the pair’s stream.', schema: PairHistorySchema },
    },
    'DELETE /pairs/{pairId}': {
      operationId: 'dissociateProducts',
      summary: 'Dissociate a pair',
      description: 'Appends `ProductsDissociated`; the two products stop sharing licenses and may be paired again. Final.',
      ...change(pairParam, 'PAIR_NOT_FOUND', undefined, { conflicts: '`PAIR_DISSOCIATED` (already dissociated)' }),
      success: { description: 'The pair (`status` dissociated).', schema: PairSchema },
    },
    'POST /pairs/{pairId}/replacements': {
      operationId: 'replaceUnit',
      summary: 'Replace a failed unit of a pair (RMA)',
      description:
        'In one transaction: appends `ProductsAssociated` (with `replaces`) to a new pair and `ProductsDissociated` (with ' +
        '`replacedBy`) to the old one. If the Primary failed, the old Secondary becomes the Primary and the successor (it ' +
        "takes over the failed unit's licenses) and the replacement becomes the Secondary; if the Secondary failed, the " +
        'replacement becomes the Secondary and the successor.',
      ...change(pairParam, 'PAIR_NOT_FOUND', ReplaceUnitBody, {
        conflicts:
          '`PAIR_DISSOCIATED`, `UNIT_NOT_IN_PAIR` (the failed serial is not a unit of the pair), `SAME_PRODUCT` (the ' +
          'replacement is already a unit of the pair), `MODEL_MISMATCH`, `ACCOUNT_MISMATCH`, `ALREADY_PAIRED` (the ' +
          'replacement is in another pair)',
        otherwise: { 404: '`PAIR_NOT_FOUND`, `PRODUCT_NOT_FOUND` (the replacement).' },
      }),
      success: {
        description: 'The new pair; its `replaces` names the old pair, the failed unit, the replacement and the successor.',
        schema: PairSchema,
      },
    },
    'POST /api-keys': {
      operationId: 'createApiKey',
      summary: 'Create an API key',
      description:
        'The secret `apiKey` is in this response only; pairing keeps its SHA-256. account-admin and reader keys need an ' +
        '`accountId`; operator, auditor and metrics keys must not have one.',
      body: CreateApiKeyBody,
      success: { description: 'The key, with its secret (shown once).', schema: CreatedApiKeySchema },
      errors: { 400: '`VALIDATION_FAILED` (body; `accountId` missing for an account-scoped role or set for another).' },
    },
    'GET /api-keys': {
      operationId: 'listApiKeys',
      summary: 'List API keys, never their secrets',
      description: 'Newest first, revoked keys included; the bootstrap operator key (configuration) is not listed.',
      query: ListApiKeysQuery,
      success: { description: 'The keys.', schema: ApiKeyListSchema },
      errors: { 400: '`VALIDATION_FAILED` (query).' },
    },
    'DELETE /api-keys/{keyId}': {
      operationId: 'revokeApiKey',
      summary: 'Revoke an API key',
      description:
        'Refused at once by pairing, and by licensing and the sync agent within `API_KEY_CACHE_SECONDS` (default 5). ' +
        'Revoking twice keeps the first instant.',
      ...lookup({ keyId: z.uuid() }, 'API_KEY_NOT_FOUND'),
      success: { description: 'The revoked key.', schema: ApiKeySchema },
    },
  },
};

/** Schemas with a component name of their own in pairing's document. */
export const PAIRING_SCHEMAS = [
  [ApplianceModelSchema, 'ApplianceModel'],
  [ProductSchema, 'Product'],
  [PairSchema, 'Pair'],
  [PairReplacementV1, 'PairReplacementV1'],
  [ProductRegisteredV1, 'ProductRegisteredV1'],
  [ProductFirmwareChangedV1, 'ProductFirmwareChangedV1'],
  [ProductsAssociatedV1, 'ProductsAssociatedV1'],
  [ProductsDissociatedV1, 'ProductsDissociatedV1'],
  [ProductHistorySchema, 'ProductHistory'],
  [PairHistorySchema, 'PairHistory'],
  [ProductPageSchema, 'ProductPage'],
  [PairPageSchema, 'PairPage'],
  [ApiKeySchema, 'ApiKey'],
  [CreatedApiKeySchema, 'CreatedApiKey'],
  [ApiKeyListSchema, 'ApiKeyList'],
  [RegisterProductBody, 'RegisterProductRequest'],
  [ChangeFirmwareBody, 'ChangeFirmwareRequest'],
  [AssociateProductsBody, 'AssociateProductsRequest'],
  [ReplaceUnitBody, 'ReplaceUnitRequest'],
  [CreateApiKeyBody, 'CreateApiKeyRequest'],
] as const;
