import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** The uid (and gid) a test drops to when it runs as root: `nobody`, which owns nothing the test makes. */
export const UNPRIVILEGED_UID = 65534;

/** What a call made in another process did: returned (as JSON), or threw (its message and its `problems`, if any). */
export type UnprivilegedOutcome =
  | { readonly returned: unknown }
  | { readonly threw: { readonly name: string; readonly message: string; readonly problems?: readonly string[] } };

/**
 * Calls `exportName(...args)` of the compiled module `modulePath` in a separate node process that does not have
 * root's right to read every file: as `nobody` when the test runs as root (as CI does), else as the test's own
 * user. So a test of "this file cannot be read" is real on every machine: make the file mode 0000 (or its
 * directory 0700 and root's), then call. Compiled modules only: run `npm run build` first.
 */
export function callUnprivileged(modulePath: string, exportName: string, args: readonly unknown[]): UnprivilegedOutcome {
  if (!existsSync(modulePath)) throw new Error(`${modulePath} is missing: run \`npm run build\` before the tests`);
  const script = `
    const [url, name, json] = process.argv.slice(1);
    const module = await import(url);
    try {
      console.log(JSON.stringify({ returned: module[name](...JSON.parse(json)) ?? null }));
    } catch (error) {
      console.log(JSON.stringify({ threw: { name: error.name, message: error.message, problems: error.problems } }));
    }`;
  const asRoot = process.getuid?.() === 0;
  const result = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', script, pathToFileURL(modulePath).href, exportName, JSON.stringify(args)],
    { encoding: 'utf8', timeout: 30_000, ...(asRoot ? { uid: UNPRIVILEGED_UID, gid: UNPRIVILEGED_UID } : {}) },
  );
  if (result.status !== 0) throw new Error(`the unprivileged call failed (${result.status}): ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as UnprivilegedOutcome;
}
