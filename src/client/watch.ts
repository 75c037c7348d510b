// watch(): the changes of a collection (or of every collection) as an async iterable, over
// the server's change streams (GET /api/:collection/_changes, GET /api/_changes: server-sent
// events, docs/http-api.md). It remembers the token of the last change it handed out; when
// the connection fails or ends (a node killed, restarted, or dropping a slow reader), it
// connects again, to the next node after a failure, and resumes after that token: every
// node derives the same events with the same ids from the same log entries, so nothing is
// lost and nothing is seen twice. A token the nodes no longer retain ends the iteration
// with ChangesExpiredError (read the data again, then watch from now).
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
}

/** What watch() needs of its client. */
export interface WatchSource {
  readonly selector: NodeSelector;
  readonly backoff: BackoffPolicy;
  /** Attempts in a row that may fail before the watch gives up (UnavailableError). */
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
 * throws ChangesExpiredError, UnavailableError after `retries` failed attempts in a row, or the
 * typed error of a refusal (403, 400...).
 */
export async function* watchChanges(source: WatchSource, path: string, options: WatchOptions = {}): AsyncGenerator<ChangeEvent, void, undefined> {
  let token = options.resumeAfter;
  if (token !== undefined && (typeof token !== 'string' || !TOKEN_PATTERN.test(token))) {
    throw new TypeError(`watch: resumeAfter must be an event id (<sequence>.<position>) or a log index, got ${JSON.stringify(token)}`);
  }
  if (options.consistency !== undefined) validateConsistency(options.consistency);
  const signal = options.signal;
  const pools = new Map<string, Pool>();
  const attempts: string[] = [];
  let failures = 0;
  let resentAfter401 = false;
  // The attempt in progress; aborted by `signal`, by a headers timeout, or when the caller stops.
  let attempt = new AbortController();
  const onAbort = (): void => attempt.abort();
  signal?.addEventListener('abort', onAbort);
  try {
    while (signal?.aborted !== true) {
      if (source.isClosed()) throw new ClientClosedError();
      const url = source.selector.pick();
      const query = new URLSearchParams();
      if (token !== undefined) query.set('resumeAfter', token);
      if (options.consistency !== undefined) query.set('consistency', options.consistency);
      const search = query.size > 0 ? `?${query.toString()}` : '';
      let opened = false;
      let lastError: unknown;
      attempt = new AbortController();
      const abort = attempt;
      try {
        const authorization = await source.authorization();
        const pool = poolFor(pools, url, source);
        const headersTimer = setTimeout(() => abort.abort(), source.timeoutMs);
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
        if (response.statusCode !== 200) {
          const text = await response.body.text();
          const body = parseJson(text);
          if (response.statusCode === 410) {
            const wire = parseWireError(body);
            throw new ChangesExpiredError(wire?.message ?? `HTTP 410 from ${url}`);
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
          opened = true;
          failures = 0;
          resentAfter401 = false;
          source.selector.succeeded(url);
          let buffer = '';
          const decoder = new TextDecoder();
          for await (const chunk of response.body) {
            buffer += decoder.decode(chunk as Buffer, { stream: true });
            for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const message = parseSseBlock(block);
              if (message === null || message.event !== 'change' || message.data === undefined) continue;
              const event = JSON.parse(message.data) as ChangeEvent;
              token = event.eventId;
              yield event;
            }
            if (buffer.length > SSE_BLOCK_CHARS_MAX) throw new Error(`a change stream message from ${url} is over ${SSE_BLOCK_CHARS_MAX} characters`);
          }
          // The server ended the stream (shutting down, or this reader was too slow): resume.
          continue;
        }
      } catch (error) {
        if (error instanceof ChangesExpiredError || isRefusal(error)) throw error;
        if (isAborted(signal)) return;
        if (source.isClosed()) throw new ClientClosedError();
        lastError = error;
      }
      // A failed attempt: the next node, after a backoff.
      attempts.push(url);
      if (!opened) failures++;
      source.selector.failed(url);
      if (failures > source.retries) {
        throw new UnavailableError(`watch: no node served the change stream in ${failures} attempts`, attempts.slice(-failures), lastError);
      }
      await sleep(backoffDelay(Math.max(0, failures - 1), source.backoff, Math.random()), signal);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    attempt.abort();
    await Promise.allSettled([...pools.values()].map((pool) => pool.destroy()));
  }
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
