/**
 * The license SKUs the system knows. This is data: add a SKU by adding a row.
 * `shareable`: a Secondary in a pair receives the Primary's active license of this SKU.
 * Consulting services are bound to one unit; STATEFUL_SYNC is licensed on the Primary and enables a
 * pair-wide feature instead of being copied.
 */
export type LicenseCategory = 'os' | 'support' | 'security-service' | 'consulting' | 'upgrade';

export interface LicenseSku {
  readonly sku: string;
  readonly name: string;
  readonly category: LicenseCategory;
  readonly shareable: boolean;
}

export const STATEFUL_SYNC_SKU = 'STATEFUL_SYNC';

export const LICENSE_CATALOG: readonly LicenseSku[] = [
  { sku: 'SONICOS_ENHANCED', name: 'SonicOS Enhanced', category: 'os', shareable: true },
  { sku: 'SUPPORT_24X7', name: '24x7 Support', category: 'support', shareable: true },
  { sku: 'SUPPORT_8X5', name: '8x5 Support', category: 'support', shareable: true },
  { sku: 'GATEWAY_AV', name: 'Gateway Anti-Virus', category: 'security-service', shareable: true },
  { sku: 'IPS', name: 'Intrusion Prevention', category: 'security-service', shareable: true },
  { sku: 'ANTI_SPYWARE', name: 'Anti-Spyware', category: 'security-service', shareable: true },
  { sku: 'CONTENT_FILTERING', name: 'Content Filtering Service', category: 'security-service', shareable: true },
  { sku: 'CAPTURE_ATP', name: 'Capture Advanced Threat Protection', category: 'security-service', shareable: true },
  { sku: 'APP_CONTROL', name: 'Application Control', category: 'security-service', shareable: true },
  { sku: 'GMS_PREVENTIVE_MAINTENANCE', name: 'GMS Preventive Maintenance', category: 'consulting', shareable: false },
  { sku: STATEFUL_SYNC_SKU, name: 'Stateful Synchronization', category: 'upgrade', shareable: false },
];

export function findSku(sku: string): LicenseSku | undefined {
  return LICENSE_CATALOG.find((s) => s.sku === sku);
}

/**
 * Whether a SKU is a base OS (firmware) license: a unit is licensed to run, and so to take over from its Primary, only
 * while it holds one of these (shared from its Primary or its own).
 */
export function isBaseOsSku(sku: string): boolean {
  return findSku(sku)?.category === 'os';
}

/** The base OS SKUs of the catalog, in catalog order. */
export const BASE_OS_SKUS: readonly string[] = LICENSE_CATALOG.filter((s) => s.category === 'os').map((s) => s.sku);
