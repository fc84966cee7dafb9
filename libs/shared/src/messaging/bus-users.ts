/**
 * The bus users of deploy/nats/permissions.conf, as the deployment, `npm start` and the tests' private servers give
 * them their passwords. Framework-free (`#shared/tools`).
 */
import { randomBytes } from 'node:crypto';

/** Each bus user of permissions.conf and the variable nats-server reads its password from. */
export const BUS_PASSWORD_VARIABLES = {
  pairing: 'PAIRING_NATS_PASSWORD',
  licensing: 'LICENSING_NATS_PASSWORD',
  'sync-agent': 'SYNC_AGENT_NATS_PASSWORD',
  'bus-reader': 'BUS_READER_NATS_PASSWORD',
  'bus-admin': 'BUS_ADMIN_NATS_PASSWORD',
} as const;
/** A bus user of permissions.conf. */
export type BusUser = keyof typeof BUS_PASSWORD_VARIABLES;
export const BUS_USERS = Object.keys(BUS_PASSWORD_VARIABLES) as BusUser[];

/** The environment that hands nats-server each user's password. */
export function busPasswordEnvironment(passwords: Readonly<Record<BusUser, string>>): Record<string, string> {
  return Object.fromEntries(BUS_USERS.map((user) => [BUS_PASSWORD_VARIABLES[user], passwords[user]]));
}

/**
 * A random password of `length` letters (A-Z, a-z; 32 letters are about 182 bits). Letters only because
 * nats-server parses a variable's value as a configuration value: digits could turn it into a number.
 */
export function busPassword(length = 32): string {
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 208 = 4 × 52: no modulo bias.
      if (byte < 208 && out.length < length) out += letters[byte % 52];
    }
  }
  return out;
}
