/**
 * `node dist/scripts/deploy/run-with-secrets.js <entry point> [args…]`: the containers' way to hand secrets to a
 * service without putting them in its environment definition. For each `<NAME>_FILE` of SECRET_VARIABLES that is
 * set, reads the file and sets `<NAME>` to its content (trailing newline removed), then runs the entry point in
 * this same process. The service itself reads its ordinary variables and knows nothing of files.
 *
 * A file that cannot be read stops it with exit 78 (like any configuration error) and a message that names the
 * variable and the file: "permission denied" with the file's owner and mode, or "does not exist".
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeKeyFileError } from '#shared/tools';

/** The variables that may come from a file. Others ending in _FILE (NATS_TLS_CA_FILE…) are paths on purpose. */
const SECRET_VARIABLES = ['PGPASSWORD', 'DATABASE_URL', 'NATS_PASSWORD', 'OPERATOR_API_KEY'] as const;

/** Sets each secret variable from its `_FILE`; returns the problems (empty when all went well). */
function loadSecretFiles(env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  for (const name of SECRET_VARIABLES) {
    const file = env[`${name}_FILE`];
    if (file === undefined || file === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      problems.push(`${name}_FILE: ${name} is set too; set one of them`);
      continue;
    }
    try {
      env[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
      delete env[`${name}_FILE`];
    } catch (error) {
      problems.push(`${name}_FILE: ${describeKeyFileError(file, error)}`);
    }
  }
  return problems;
}

const [entryPoint, ...rest] = process.argv.slice(2);
if (!entryPoint) {
  console.error('usage: run-with-secrets.js <entry point> [args…]');
  process.exit(2);
}
const problems = loadSecretFiles(process.env);
if (problems.length > 0) {
  console.error(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exit(78);
}
// The entry point sees the arguments it would have had if started directly.
process.argv = [process.argv[0]!, resolve(entryPoint), ...rest];
await import(pathToFileURL(resolve(entryPoint)).href);
