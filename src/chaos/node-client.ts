// One HTTP request of the chaos load or of its fault control, classified the way the
// history needs: ok, fail (certainly not done) or info (may have been done). Which error is
// which comes from the one error table (src/store/error-codes.ts): `retry: yes` means nothing
// was done; `if idempotent` means the outcome is unknown.
import { Agent, request } from 'undici';
import { ERROR_CODES, isErrorCode } from '../store/error-codes.ts';

export type Outcome =
  | { readonly kind: 'ok'; readonly status: number; readonly body: unknown }
  | { readonly kind: 'fail' | 'info'; readonly status: number; readonly code: string; readonly message: string };

/** Connection errors that prove the request never reached a server. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

export class NodeClient {
  private readonly agent: Agent;

  constructor(
    private readonly timeoutMs: number,
    private readonly authorization?: string,
  ) {
    // Short keep-alive: a node that was killed must not leave dead sockets in the pool for long.
    this.agent = new Agent({ keepAliveTimeout: 2000, connections: 256, connect: { timeout: timeoutMs } });
  }

  /** `timeoutMs`: this request's own bound, at most the client's (a retry gets what is left of its operation's). */
  async call(
    url: string,
    method: 'GET' | 'PUT' | 'POST',
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    timeoutMs: number = this.timeoutMs,
  ): Promise<Outcome> {
    // A timer of our own, cleared as soon as the answer is in: AbortSignal.timeout's lives to its
    // deadline whatever the answer, so at 1,500 requests a second with a 2 s bound thousands of
    // signals and timers outlived their requests, were promoted to the old generation and made
    // the generator's full collections (its stalls stamp answers late). A fraction of a ms is
    // rounded up (a retry gets what is left of its operation's time).
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new DOMException('the request timed out', 'TimeoutError')),
      Math.max(1, Math.ceil(Math.min(timeoutMs, this.timeoutMs))),
    );
    try {
      const response = await request(url + path, {
        method,
        dispatcher: this.agent,
        signal: controller.signal,
        headers: {
          ...headers,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(this.authorization !== undefined ? { authorization: this.authorization } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await response.body.text();
      let parsed: unknown = null;
      try {
        parsed = text === '' ? null : JSON.parse(text);
      } catch {
        parsed = text;
      }
      const status = response.statusCode;
      if (status < 300) return { kind: 'ok', status, body: parsed };
      const error = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error;
      const code = typeof error?.code === 'string' ? error.code : `HTTP_${status}`;
      const message = typeof error?.message === 'string' ? error.message : `HTTP ${status}`;
      // An error we cannot name (a proxy, a crash mid-answer): the request may have been done.
      const retry = isErrorCode(code) ? ERROR_CODES[code].retry : 'if idempotent';
      return { kind: retry === 'if idempotent' ? 'info' : 'fail', status, code, message };
    } catch (error) {
      const code = errorCode(error);
      return { kind: NOT_SENT_CODES.has(code) ? 'fail' : 'info', status: 0, code, message: error instanceof Error ? error.message : String(error) };
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/**
 * Whether an operation may be sent again after this outcome, as the client library does: a
 * definite refusal that says nothing was done and may succeed later (NO_LEADER, a node that
 * refused the connection), or an unknown outcome, which a write repeats under its
 * Idempotency-Key (applied at most once) and a read repeats freely.
 */
export function mayRetry(outcome: Outcome): boolean {
  if (outcome.kind === 'ok') return false;
  if (outcome.kind === 'info') return true;
  if (NOT_SENT_CODES.has(outcome.code)) return true;
  return isErrorCode(outcome.code) && ERROR_CODES[outcome.code].retry === 'yes';
}

function errorCode(error: unknown): string {
  let e: unknown = error;
  for (let depth = 0; depth < 4 && e !== null && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code;
    const name = (e as { name?: unknown }).name;
    if (name === 'TimeoutError' || name === 'AbortError') return 'TIMEOUT';
    e = (e as { cause?: unknown }).cause;
  }
  return 'NETWORK';
}
