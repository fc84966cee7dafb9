import type { Response } from 'express';

/** Answers a problem document the way the services do (the proxy and static files run before Nest's filter). */
export function problemOf(response: Response, status: number, code: string, detail: string): void {
  const kebab = code.toLowerCase().replace(/_/g, '-');
  const title = code
    .toLowerCase()
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ');
  response
    .status(status)
    .type('application/problem+json')
    .send(JSON.stringify({ type: `https://ha-license-sync.dev/problems/${kebab}`, title, status, detail, code }));
}
