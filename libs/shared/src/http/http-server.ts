import { createServer } from 'node:http';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { HttpSettings } from '../config/service-config.js';

/**
 * How often Node checks incomplete requests against the two timeouts below. Node's default (30 s) would let a
 * slow client run up to 30 s past its limit; twice a second costs two passes a second over the open connections.
 */
export const CONNECTIONS_CHECKING_INTERVAL_MS = 500;

/**
 * Nest's Express adapter with an HTTP server whose clients must send the request head within
 * HTTP_HEADERS_TIMEOUT_SECONDS and the whole request within HTTP_REQUEST_TIMEOUT_SECONDS (Node answers 408 and
 * closes the connection, at most CONNECTIONS_CHECKING_INTERVAL_MS late), instead of Node's 60 s and 300 s: a body trickled a byte at a time held a connection
 * and its parser for five minutes, before any key was checked. Nest creates its server without options, hence
 * the override; the answer's own time (a slow database) is not limited here.
 */
export class TimedExpressAdapter extends ExpressAdapter {
  constructor(private readonly settings: Pick<HttpSettings, 'headersTimeoutSeconds' | 'requestTimeoutSeconds'>) {
    super();
  }

  override initHttpServer(): void {
    this.setHttpServer(
      createServer(
        {
          headersTimeout: this.settings.headersTimeoutSeconds * 1000,
          requestTimeout: this.settings.requestTimeoutSeconds * 1000,
          connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
        },
        this.getInstance(),
      ),
    );
  }
}

/** TRUST_PROXY as Express's `trust proxy` setting (which decides `request.ip`). */
export function trustProxySetting(trustProxy: HttpSettings['trustProxy']): boolean | number | string[] {
  return typeof trustProxy === 'object' ? [...trustProxy] : trustProxy;
}
