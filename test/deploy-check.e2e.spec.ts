/**
 * `npm run deploy:check` as part of the tests: docker-compose.yml run without Docker (scripts/deploy/check.ts):
 * the init step, a private NATS and PostgreSQL configured as compose configures them, bus-setup, the three services
 * in production mode with their own secrets, and a grant that must reach a Secondary. Needs `npm run build`.
 */
import { expect, it } from '@jest/globals';
import { join } from 'node:path';
import { ManagedProcess, REPO_ROOT, entryPointOf } from './support/system.js';

it('runs the compose configuration as compose would and a grant reaches the Secondary', async () => {
  entryPointOf('pairing'); // fails early with a clear message when dist/ is missing
  const check = ManagedProcess.start({
    name: 'deploy:check',
    args: [join(REPO_ROOT, 'dist', 'scripts', 'deploy', 'check.js')],
    // The check builds the services' environments from the compose file alone; jest's VM flags stay out.
    inherit: ['PATH'],
  });
  const { code } = await check.exited;
  const output = check.log;
  if (code !== 0) throw new Error(`deploy:check exited ${code}:\n${output}`);
  expect(output).toMatch(/an anonymous client is refused/);
  expect(output).toMatch(/PASS: every service became healthy/);
}, 240_000);
