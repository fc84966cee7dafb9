import { z } from 'zod';
import { ConfigurationError } from '#shared';

/** Where the console's proxy finds the services it forwards to (the console itself is served by the sync agent). */
export interface ConsoleUpstreams {
  readonly pairing: string;
  readonly licensing: string;
}

const upstream = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://127.0.0.1:3001' })
  .transform((url) => new URL(url).origin);

/** PAIRING_URL and LICENSING_URL (defaults: the services' default ports on this host), validated. */
export function consoleUpstreams(env: NodeJS.ProcessEnv): ConsoleUpstreams {
  const problems: string[] = [];
  const read = (variable: string, fallback: string): string => {
    const parsed = upstream.safeParse(env[variable] || fallback);
    if (parsed.success) return parsed.data;
    problems.push(`${variable}: ${parsed.error.issues[0]?.message ?? 'is invalid'}`);
    return fallback;
  };
  const result = {
    pairing: read('PAIRING_URL', 'http://127.0.0.1:3001'),
    licensing: read('LICENSING_URL', 'http://127.0.0.1:3002'),
  };
  if (problems.length > 0) throw new ConfigurationError(problems);
  return result;
}
