/**
 * The web console's files, built by `npm run build` into dist/console and served at /console/ by the sync agent.
 * They hold no data (every view reads the API with the key the operator signs in with), so they need no key. The
 * Content-Security-Policy allows only this origin's scripts, styles and API: nothing is loaded from elsewhere.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import type { NestExpressApplication } from '@nestjs/platform-express';

/** dist/console, from dist/apps/sync-agent/src/console/ (this file, compiled). */
export const CONSOLE_DIR = join(import.meta.dirname, '..', '..', '..', '..', 'console');

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

/** Serves the console under /console/ (and /console redirects there); false when it was not built. */
export function serveConsole(app: NestExpressApplication, dir = CONSOLE_DIR): boolean {
  if (!existsSync(join(dir, 'index.html'))) return false;
  app.use('/console', (request: Request, response: Response, next: NextFunction) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.setHeader(name, value);
    if (request.originalUrl === '/console') return response.redirect(301, '/console/');
    next();
  });
  app.useStaticAssets(dir, {
    prefix: '/console/',
    index: 'index.html',
    // Hashed asset names change with their content; index.html must always be fetched afresh.
    setHeaders: (response: Response, path: string) =>
      response.setHeader('Cache-Control', path.endsWith('index.html') ? 'no-cache' : 'public, max-age=31536000, immutable'),
  });
  return true;
}
