import { mkdirSync, linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigurationError } from '../config/service-config.js';
import { generateApiKey } from './api-keys.js';

/** Where development mode keeps the generated bootstrap operator key (git-ignored). */
export const LOCAL_OPERATOR_KEY_FILE = join('.local', 'operator-api-key');

/** The bootstrap operator key and where it came from. */
export interface OperatorKey {
  readonly key: string;
  /** `generated`: made now (print it once); `local-file`: made by an earlier or a sibling start. */
  readonly source: 'environment' | 'generated' | 'local-file';
}

const ACCEPTABLE = /^[\x21-\x7e]{32,512}$/;

/**
 * OPERATOR_API_KEY, or in development a key generated once and kept in `.local/operator-api-key` (the three
 * services of `npm start` start at the same moment: the file is created with a hard link, which fails if it
 * exists, so exactly one of them generates it and the others read it). NODE_ENV=production requires the
 * variable. Errors never repeat the value.
 */
export function resolveOperatorKey(env: NodeJS.ProcessEnv, cwd: string): OperatorKey {
  const fromEnv = env.OPERATOR_API_KEY;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!ACCEPTABLE.test(fromEnv))
      throw new ConfigurationError([
        'OPERATOR_API_KEY: must be 32-512 printable characters without spaces (generate one with `npm run api-keys -- generate`)',
      ]);
    return { key: fromEnv, source: 'environment' };
  }
  if (env.NODE_ENV === 'production')
    throw new ConfigurationError(['OPERATOR_API_KEY: is required when NODE_ENV=production (the bootstrap operator key)']);
  const file = join(cwd, LOCAL_OPERATOR_KEY_FILE);
  const existing = readKey(file);
  if (existing) return { key: existing, source: 'local-file' };
  mkdirSync(join(cwd, '.local'), { recursive: true });
  const key = generateApiKey();
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${key}\n`, { mode: 0o600 });
  try {
    linkSync(temporary, file);
    return { key, source: 'generated' };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const other = readKey(file);
    if (!other) throw new ConfigurationError([`OPERATOR_API_KEY: unset, and ${file} is not a valid key`]);
    return { key: other, source: 'local-file' };
  } finally {
    rmSync(temporary, { force: true });
  }
}

/**
 * For clients on this machine (demo, CLI): OPERATOR_API_KEY, else the development key the services
 * generated in `.local/`; null when neither exists (the services have not started in development yet).
 */
export function clientOperatorKey(env: NodeJS.ProcessEnv, cwd: string): string | null {
  const fromEnv = env.OPERATOR_API_KEY;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return readKey(join(cwd, LOCAL_OPERATOR_KEY_FILE));
}

function readKey(file: string): string | null {
  try {
    const key = readFileSync(file, 'utf8').trim();
    return ACCEPTABLE.test(key) ? key : null;
  } catch {
    return null;
  }
}
