import { LOCAL_OPERATOR_KEY_FILE, type OperatorKey } from '../auth/operator-key.js';

/** The one line a service prints at start once it is ready: where it answers, and its probes. */
export function readyBanner(service: string, url: string): string {
  return `${service} ready on ${url} (liveness ${url}/livez, readiness ${url}/readyz, metrics ${url}/metrics)`;
}

/**
 * Where the development operator key is, said once per start: by the service that keeps the keys (pairing; the
 * three share the file), only when OPERATOR_API_KEY is unset. Never the key itself: logs are not for secrets.
 */
export function operatorKeyNotice(source: OperatorKey['source'], ownsApiKeys: boolean): string | null {
  if (source === 'environment' || !ownsApiKeys) return null;
  return `no OPERATOR_API_KEY: the development operator key is in ${LOCAL_OPERATOR_KEY_FILE} (\`cat ${LOCAL_OPERATOR_KEY_FILE}\` shows it)`;
}
