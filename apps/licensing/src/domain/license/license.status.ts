/**
 * A license's status at an instant is a rule licensing shares with the sync agent, so it lives in
 * libs/shared/src/domain/license-status.ts. This re-export keeps list-licenses' import working until it imports
 * the type from `#shared` itself; then this file goes.
 */
export type { LicenseStatus } from '#shared/contracts';
