// One HTTP attempt to one node, over a keep-alive undici Pool per node. A failed
// attempt is classified by what it tells about the server's side: `not-sent` (the
// connection was never made, so nothing reached a server: any request may be retried),
// `maybe-sent` (the connection broke after it was made) and `timeout` (no answer in
// time). Deciding what to do about it is the executor's job.
import { Pool } from 'undici';
import { ClientClosedError } from './errors.ts';
import type { ClientTls } from './types.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HttpRequest {
  readonly method: HttpMethod;
  /** Path and query string, already encoded. */
  readonly path: string;
  /** JSON text, serialised once for all attempts. */
  readonly body?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface HttpResponse {
  readonly status: number;
  /** Parsed JSON, or null for an empty body (204); the raw text when it is not JSON. */
  readonly body: unknown;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export type AttemptFailureKind = 'not-sent' | 'maybe-sent' | 'timeout';

export class AttemptError extends Error {
  constructor(
    readonly kind: AttemptFailureKind,
    readonly url: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AttemptError';
  }
}

/**
 * Error codes of a connection that was never established: no byte of the request left
 * this process, so the request provably did not reach a server.
 */
const NOT_CONNECTED_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  // A TLS handshake that failed: undici writes a request only on an established connection.
  // The certificate was not trusted, expired or named another host, or the node does not
  // speak TLS (an https:// URL of a plain-HTTP node). A retry elsewhere is safe, and a write
  // that failed so did not happen.
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);

export interface TransportOptions {
  readonly timeoutMs: number;
  readonly connectionsPerNode: number;
  readonly tls?: ClientTls;
}

export class HttpTransport {
  private readonly pools = new Map<string, Pool>();
  private closed = false;

  constructor(private readonly options: TransportOptions) {
    if (!(options.timeoutMs > 0)) throw new RangeError(`timeout must be > 0 ms, got ${options.timeoutMs}`);
    if (!(options.connectionsPerNode >= 1)) throw new RangeError('connectionsPerNode must be >= 1');
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async send(url: string, request: HttpRequest): Promise<HttpResponse> {
    if (this.closed) throw new ClientClosedError();
    const pool = this.pool(url);
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.options.timeoutMs);
    try {
      const response = await pool.request({
        method: request.method,
        path: request.path,
        headers: {
          accept: 'application/json',
          ...(request.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...request.headers,
        },
        ...(request.body !== undefined ? { body: request.body } : {}),
        signal: controller.signal,
        // Our own timer bounds the whole attempt; undici's coarse timers stay out of it.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      const text = await response.body.text();
      return { status: response.statusCode, body: parseBody(text), headers: response.headers };
    } catch (error) {
      if (timedOut) {
        throw new AttemptError('timeout', url, `no answer from ${url} within ${this.options.timeoutMs} ms`, { cause: error });
      }
      if (this.closed) throw new ClientClosedError();
      const code = (error as { code?: unknown }).code;
      const kind: AttemptFailureKind = typeof code === 'string' && NOT_CONNECTED_CODES.has(code) ? 'not-sent' : 'maybe-sent';
      const reason = error instanceof Error ? error.message : String(error);
      throw new AttemptError(kind, url, `${request.method} ${url}${request.path}: ${reason}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Lets requests in flight finish (each is bounded by the timeout), then closes every connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.close()));
  }

  private pool(url: string): Pool {
    let pool = this.pools.get(url);
    if (pool === undefined) {
      const tls = this.options.tls;
      pool = new Pool(url, {
        connections: this.options.connectionsPerNode,
        connectTimeout: this.options.timeoutMs,
        // Used for https:// URLs only; hostname verification stays on.
        ...(tls !== undefined && url.startsWith('https:')
          ? {
              connect: {
                ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
                ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
                ...(tls.key !== undefined ? { key: tls.key } : {}),
              },
            }
          : {}),
      });
      this.pools.set(url, pool);
    }
    return pool;
  }
}

function parseBody(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
