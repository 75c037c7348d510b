// watch(): the changes of a collection (or of every collection) as an async iterable, over
// the server's change streams (GET /api/:collection/_changes, GET /api/_changes: server-sent
// events, docs/http-api.md). It remembers the token of the last change it handed out; when
// the connection fails or ends (a node killed, restarted, or dropping a slow reader), it
// connects again, to the next node, after a backoff, and resumes after that token: every
// node derives the same events with the same ids from the same log entries, so nothing is
// lost and nothing is seen twice. A stream that brings no bytes for idleTimeoutMs (no event,
// no `: heartbeat` comment: a half-open connection, a node stopped or cut off) counts as
// failed. A node answering 410 does not retain the changes after the token, but another may:
// the others are asked; when every node answered 410 (or the rest cannot be reached), the
// iteration ends with ChangesExpiredError (read the data again, then watch from now).
import { Pool } from 'undici';
import { backoffDelay, type BackoffPolicy } from '../backoff.ts';
import { ChangesExpiredError, ClientClosedError, UnavailableError, errorFromResponse, isRetryable503, parseWireError } from './errors.ts';
import type { NodeSelector } from './node-selector.ts';
import { parseSseBlock, SSE_BLOCK_CHARS_MAX } from './watch-sse.ts';
import type { RaftEvent } from '../store/raft-event.ts';
import type { ClientTls, Consistency } from './types.ts';
import { validateConsistency } from './validate.ts';

/** One change of one document, or a collection's drop (`Dropped`): the server's RaftEvent record (docs/http-api.md, Change streams). */
export type ChangeEvent = RaftEvent;

export interface WatchOptions {
  /** Start after this change (an event's `eventId`, or a log index: after that whole entry).
   * Without it, the changes from the moment the stream opens. */
  readonly resumeAfter?: string;
  /** Ends the iteration (without an error) when aborted. */
  readonly signal?: AbortSignal;
  /** The read barrier a node passes before it starts the stream (default: linearizable). */
  readonly consistency?: Consistency;
  /** A stream that brings no bytes (neither an event nor the server's `: heartbeat` comment)
   * for this long is dropped, and the watch resumes on the next node. Default 37,500 ms:
   * 2.5 times the server's default heartbeat interval (15 s, `changeStream.heartbeatMs` of
   * createServer); keep it above the servers' interval. Time the caller spends between two
   * next() calls does not count. */
  readonly idleTimeoutMs?: number;
}

/** The default idle timeout of a stream: 2.5 heartbeat intervals of the server (15 s by default). */
export const WATCH_IDLE_TIMEOUT_MS_DEFAULT = 37_500;

/** setTimeout's largest delay. */
const TIMER_MS_MAX = 2_147_483_647;

/** What watch() needs of its client. */
export interface WatchSource {
  readonly selector: NodeSelector;
  readonly backoff: BackoffPolicy;
  /** Attempts in a row that may fail (open no stream, or a stream that ends before its first event
   * or heartbeat) before the watch gives up (UnavailableError). */
  readonly retries: number;
  /** Bound on waiting for a stream's first answer (its headers). */
  readonly timeoutMs: number;
  readonly tls: ClientTls | undefined;
  /** The Authorization header to send (undefined: none); `rejected` after a 401 with it. */
  authorization(): Promise<string | undefined>;
  rejected(authorization: string): void;
  isClosed(): boolean;
}

const TOKEN_PATTERN = /^(0|[1-9][0-9]{0,15})(\.(0|[1-9][0-9]{0,8}))?$/;

/** Statuses after which another node (or the same one, later) may serve the stream. */
function retryableStatus(status: number, body: unknown): boolean {
  if (status === 503) return isRetryable503(parseWireError(body));
  return status === 429 || status === 502 || status === 504;
}

/**
 * The change events after `resumeAfter` (or from now), one by one, reconnecting as needed.
 * Ends when `signal` aborts (without an error) or the client closes (ClientClosedError);
 * throws ChangesExpiredError (every node answered 410, or those that did not could not be
 * reached), UnavailableError after `retries` failed attempts in a row, or the typed error of a
 * refusal (403, 400...).
 */
export async function* watchChanges(source: WatchSource, path: string, options: WatchOptions = {}): AsyncGenerator<ChangeEvent, void, undefined> {
  let token = options.resumeAfter;
  if (token !== undefined && (typeof token !== 'string' || !TOKEN_PATTERN.test(token))) {
    throw new TypeError(`watch: resumeAfter must be an event id (<sequence>.<position>) or a log index, got ${JSON.stringify(token)}`);
  }
  if (options.consistency !== undefined) validateConsistency(options.consistency);
  const idleTimeoutMs = options.idleTimeoutMs ?? WATCH_IDLE_TIMEOUT_MS_DEFAULT;
  if (typeof idleTimeoutMs !== 'number' || !(idleTimeoutMs > 0 && idleTimeoutMs <= TIMER_MS_MAX)) {
    throw new RangeError(`watch: idleTimeoutMs must be a number of ms in (0, ${TIMER_MS_MAX}], got ${String(idleTimeoutMs)}`);
  }
  const signal = options.signal;
  const pools = new Map<string, Pool>();
  // The nodes of the last failed attempts in a row (at most retries + 1), for UnavailableError.
  const attempts: string[] = [];
  // Attempts in a row without progress: no stream, or one that ended before an event or a heartbeat.
  let failures = 0;
  let resentAfter401 = false;
  // The nodes that answered 410 for `token`, and the last such answer.
  const expired = new Set<string>();
  let expiredError: ChangesExpiredError | undefined;
  // The attempt in progress; aborted by `signal`, by a headers or idle timeout, or when the caller stops.
  let attempt = new AbortController();
  const onAbort = (): void => attempt.abort();
  signal?.addEventListener('abort', onAbort);
  try {
    while (signal?.aborted !== true) {
      if (source.isClosed()) throw new ClientClosedError();
      const url = pickNode(source.selector, expired);
      const query = new URLSearchParams();
      if (token !== undefined) query.set('resumeAfter', token);
      if (options.consistency !== undefined) query.set('consistency', options.consistency);
      const search = query.size > 0 ? `?${query.toString()}` : '';
      let lastError: unknown;
      attempt = new AbortController();
      const abort = attempt;
      // Why this attempt was aborted, when a timer did it.
      let timedOut: string | undefined;
      const abortAfter = (ms: number, reason: string): NodeJS.Timeout =>
        setTimeout(() => {
          timedOut = reason;
          abort.abort();
        }, ms);
      try {
        const authorization = await source.authorization();
        const pool = poolFor(pools, url, source);
        const headersTimer = abortAfter(source.timeoutMs, `no answer from ${url} in ${source.timeoutMs} ms`);
        let response;
        try {
          response = await pool.request({
            method: 'GET',
            path: `${path}${search}`,
            headers: { accept: 'text/event-stream', ...(authorization !== undefined ? { authorization } : {}) },
            signal: abort.signal,
            headersTimeout: 0,
            bodyTimeout: 0,
          });
        } finally {
          clearTimeout(headersTimer);
        }
        const idleReason = `no data from ${url} for ${idleTimeoutMs} ms (idleTimeoutMs)`;
        if (response.statusCode !== 200) {
          const bodyTimer = abortAfter(idleTimeoutMs, idleReason);
          let text;
          try {
            text = await response.body.text();
          } finally {
            clearTimeout(bodyTimer);
          }
          const body = parseJson(text);
          if (response.statusCode === 410) {
            // This node no longer retains the changes after the token; another may (one that
            // was not restarted). Ask each other node once, at once: a 410 is an answer, not a failure.
            const wire = parseWireError(body);
            expired.add(url);
            expiredError = new ChangesExpiredError(wire?.message ?? `HTTP 410 from ${url}`);
            // Not selector.failed(): the node is healthy, and the selector is the client's, shared
            // with its other requests; pickNode skips it for this token.
            if (source.selector.list().every((u) => expired.has(u))) {
              throw new ChangesExpiredError(`${expiredError.message} (every node answered 410: ${[...expired].join(', ')})`);
            }
            continue;
          }
          if (response.statusCode === 401 && authorization !== undefined && !resentAfter401) {
            // An expired or revoked token: log in again, once.
            source.rejected(authorization);
            resentAfter401 = true;
            continue;
          }
          if (!retryableStatus(response.statusCode, body)) throw errorFromResponse(response.statusCode, body, url);
          lastError = errorFromResponse(response.statusCode, body, url);
        } else {
          resentAfter401 = false;
          source.selector.succeeded(url);
          let buffer = '';
          let blocks = 0;
          const decoder = new TextDecoder();
          const chunks = response.body[Symbol.asyncIterator]();
          try {
            for (;;) {
              // The idle timer runs only while waiting for bytes, never while the caller holds an event.
              const idleTimer = abortAfter(idleTimeoutMs, idleReason);
              let step: IteratorResult<unknown>;
              try {
                step = (await chunks.next()) as IteratorResult<unknown>;
              } finally {
                clearTimeout(idleTimer);
              }
              if (step.done === true) break;
              buffer += decoder.decode(step.value as Buffer, { stream: true });
              for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
                const block = buffer.slice(0, end);
                buffer = buffer.slice(end + 2);
                blocks++;
                const message = parseSseBlock(block);
                if (message === null || message.event !== 'change' || message.data === undefined) {
                  // A comment: `: connected` opens every stream; one after it is a heartbeat (the
                  // node served this stream for a heartbeat interval): progress.
                  if (blocks > 1) failures = 0;
                  continue;
                }
                const event = JSON.parse(message.data) as ChangeEvent;
                token = event.eventId;
                failures = 0;
                expired.clear();
                expiredError = undefined;
                yield event;
              }
              if (buffer.length > SSE_BLOCK_CHARS_MAX)
                throw new Error(`a change stream message from ${url} is over ${SSE_BLOCK_CHARS_MAX} characters`);
            }
          } finally {
            // Like for-await: a stream left early (the caller stopped, an error) is destroyed.
            await chunks.return?.();
          }
          // The server ended the stream (shutting down, or its user's rights changed): resume
          // on the next node, after a backoff like any failure (a node that keeps ending streams
          // at once is not asked in a tight loop, nor without end).
          lastError = new Error(`${url} ended the change stream`);
        }
      } catch (error) {
        if (error instanceof ChangesExpiredError || isRefusal(error)) throw error;
        if (isAborted(signal)) return;
        if (source.isClosed()) throw new ClientClosedError();
        lastError = timedOut !== undefined ? new Error(timedOut, { cause: error }) : error;
      }
      // A failed attempt: the next node, after a backoff.
      attempts.push(url);
      if (attempts.length > source.retries + 1) attempts.shift();
      failures++;
      source.selector.failed(url);
      if (failures > source.retries) {
        if (expiredError !== undefined) {
          // Some nodes answered 410 and the others could not serve the stream: resync.
          throw new ChangesExpiredError(
            `${expiredError.message} (410 from ${[...expired].join(', ')}; no other node served the stream in ${failures} attempts)`,
          );
        }
        throw new UnavailableError(`watch: no node served the change stream in ${failures} attempts`, attempts.slice(-failures), lastError);
      }
      await sleep(backoffDelay(failures - 1, source.backoff, Math.random()), signal);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    attempt.abort();
    await Promise.allSettled([...pools.values()].map((pool) => pool.destroy()));
  }
}

/** The node to try now: the selector's pick, or the next one in its list that has not answered
 * 410 for the current token (at least one has not); the shared selector itself is not moved. */
function pickNode(selector: NodeSelector, expired: ReadonlySet<string>): string {
  const first = selector.pick();
  if (!expired.has(first)) return first;
  const urls = selector.list();
  const at = urls.indexOf(first);
  for (let i = 1; i < urls.length; i++) {
    const url = urls[(at + i) % urls.length]!;
    if (!expired.has(url)) return url;
  }
  return first;
}

/** An answer that another attempt would get again: thrown to the caller. */
function isRefusal(error: unknown): boolean {
  if (error instanceof TypeError || error instanceof SyntaxError) return true;
  const status = (error as { status?: unknown }).status;
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 408 && status !== 429;
}

function poolFor(pools: Map<string, Pool>, url: string, source: WatchSource): Pool {
  let pool = pools.get(url);
  if (pool === undefined) {
    const tls = source.tls;
    pool = new Pool(url, {
      connections: 1,
      connectTimeout: source.timeoutMs,
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
    pools.set(url, pool);
  }
  return pool;
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
