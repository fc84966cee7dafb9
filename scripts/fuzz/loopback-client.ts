import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';

/** An HTTP/1.1 client with keep-alive connections from one loopback source address. */
export class LoopbackClient {
  private readonly agent: Agent;

  constructor(
    private readonly localAddress: string,
    maxSockets = 32,
  ) {
    if (!/^127\.\d+\.\d+\.\d+$/.test(localAddress)) throw new Error(`${localAddress} is not a loopback address`);
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  request(
    url: string,
    options: {
      method?: string;
      key?: string | null;
      /** A JSON value, sent as application/json. */
      body?: unknown;
      headers?: Record<string, string>;
      timeoutMs?: number;
    } = {},
  ): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        url,
        {
          method: options.method ?? 'GET',
          agent: this.agent,
          localAddress: this.localAddress,
          headers: {
            ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
            ...(payload === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
            ...options.headers,
          },
          timeout: options.timeoutMs ?? 15_000,
        },
        (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
          response.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
