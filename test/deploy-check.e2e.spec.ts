/**
 * `npm run deploy:check` as part of the tests: docker-compose.yml run without Docker (scripts/deploy/check.ts):
 * the init step, a private NATS and PostgreSQL configured as compose configures them, bus-setup, the three services
 * in production mode with their own secrets, and a grant that must reach a Secondary. Needs `npm run build`.
 */
import { expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT, entryPointOf } from './support/system.js';

it('runs the compose configuration as compose would and a grant reaches the Secondary', async () => {
  entryPointOf('pairing'); // fails early with a clear message when dist/ is missing
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'dist', 'scripts', 'deploy', 'check.js')], {
      cwd: REPO_ROOT,
      // The check builds the services' environments from the compose file alone; jest's VM flags stay out.
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.on('data', (c: Buffer) => (text += c.toString()));
    child.stderr.on('data', (c: Buffer) => (text += c.toString()));
    child.once('exit', (exitCode) => resolve({ code: exitCode, output: text }));
  });
  if (code !== 0) throw new Error(`deploy:check exited ${code}:\n${output}`);
  expect(output).toMatch(/an anonymous client is refused/);
  expect(output).toMatch(/PASS: every service became healthy/);
}, 240_000);
