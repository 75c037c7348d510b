// The retry loop. Every request names its policy:
// - 'read': a read, retried like 'safe'; nothing it does can be applied twice;
// - 'safe': writes that may be repeated (PUT and DELETE by id, inserts that
//   carry their own `_id`): retried after connection errors, timeouts and 503
//   with a code the error table lets a client retry (NO_LEADER, COMMIT_UNKNOWN, ...),
//   moving to the next node each time;
// - 'unsafe': writes whose repetition could apply twice (`$inc`, `_update`, `_tx`):
//   retried only when the attempt provably never reached a server, or the server answered
//   a 503 whose code says nothing was done (retry `yes` in the table: NO_LEADER, ...);
//   any other failure ends in OutcomeUnknownError.
// With idempotency keys (the Client always has them, issue #12), every write ('safe' and
// 'unsafe') carries `Idempotency-Key: <clientId>.<seq>`, the same on each of its attempts:
// the server applies it at most once and answers a retry with the first result, so every
// write is retried like a 'safe' one, through leader changes; OutcomeUnknownError remains
// only when every attempt failed. A 422 IDEMPOTENCY_KEY_REUSED is a bug, never retried.
// Retries wait an exponential backoff with jitter, except the first pass over the
// nodes after a refused connection or a leader hint, which goes on at once.
// A 429 (too many password checks on the node: nothing was done) is retried after the
// backoff under every policy. With credentials (auth-session.ts), each attempt carries
// the Authorization header; a 401 to it is sent once more after a new login, at once and
// outside the retry count: the server answers 401 before doing anything.
import { backoffDelay, type BackoffPolicy } from '../backoff.ts';
import {
  ClientClosedError,
  IdempotencyKeyReusedError,
  OutcomeUnknownError,
  RequestTimeoutError,
  StoreError,
  UnavailableError,
  errorFromResponse,
  type HttpErrorDetails,
  isRetryable503,
  nothingWasDone,
  parseWireError,
} from './errors.ts';
import type { RequestAuth } from './auth-session.ts';
import type { IdempotencyKeys } from './idempotency-keys.ts';
import { AttemptError, type HttpRequest, type HttpResponse, type HttpTransport } from './http-transport.ts';
import type { NodeSelector } from './node-selector.ts';

export type RetryPolicy = 'read' | 'safe' | 'unsafe';

export interface ExecutionResult {
  /** The answer that ended the loop: a success or an error the caller interprets. */
  readonly response: HttpResponse;
  readonly url: string;
  /**
   * An earlier attempt of this request may have been applied (it reached, or may have
   * reached, a server and got no definite answer). A 409 on an insert or a 404 on a
   * delete may then be the trace of our own earlier attempt. Always false for a write
   * sent with an Idempotency-Key: the answer is then the first result of the write, never
   * the trace of an earlier attempt.
   */
  readonly earlierAttemptMayHaveApplied: boolean;
  /** The Idempotency-Key sent with every attempt of this write (undefined for reads). */
  readonly idempotencyKey?: string;
  /** The server answered from the record of an earlier attempt (`Idempotent-Replayed: true`). */
  readonly replayed: boolean;
}

export interface ExecutorOptions {
  readonly retries: number;
  readonly backoff: BackoffPolicy;
  /** In [0, 1); injectable for tests. */
  readonly random?: () => number;
  /** Credentials sent with every request but those executed `anonymous`. */
  readonly auth?: RequestAuth;
  /** Gives each write its Idempotency-Key; without it writes go without one (old rules above). */
  readonly idempotencyKeys?: IdempotencyKeys;
}

export interface ExecuteOptions {
  /** Send without credentials: the login itself. */
  readonly anonymous?: boolean;
  /** One attempt at this node only (plus the one after a 401), leaving the node choice alone. */
  readonly url?: string;
}

export class RequestExecutor {
  private readonly sleeping = new Set<{ timer: NodeJS.Timeout; reject: (error: Error) => void }>();
  private readonly random: () => number;

  constructor(
    private readonly transport: HttpTransport,
    private readonly selector: NodeSelector,
    private readonly options: ExecutorOptions,
  ) {
    if (!Number.isSafeInteger(options.retries) || options.retries < 0) {
      throw new RangeError(`retries must be a non-negative integer, got ${options.retries}`);
    }
    this.random = options.random ?? Math.random;
  }

  async execute(request: HttpRequest, policyAsked: RetryPolicy, executeOptions: ExecuteOptions = {}): Promise<ExecutionResult> {
    const keys = this.options.idempotencyKeys;
    if (policyAsked === 'read' || keys === undefined) return this.attempts(request, policyAsked, executeOptions);
    // One key for every attempt of this write (and the resend after a 401), finished however
    // the attempts end: it is never sent again after that.
    const ticket = keys();
    const headers: Record<string, string> = { ...request.headers, [IDEMPOTENCY_KEY_HEADER]: ticket.key };
    if (ticket.answeredThrough !== undefined) headers[ANSWERED_THROUGH_HEADER] = String(ticket.answeredThrough);
    try {
      return await this.attempts({ ...request, headers }, 'safe', executeOptions, ticket.key);
    } finally {
      ticket.done();
    }
  }

  /** Every attempt of one request; `idempotencyKey`: the key it carries (execute's ticket). */
  private async attempts(
    request: HttpRequest,
    policy: RetryPolicy,
    executeOptions: ExecuteOptions,
    idempotencyKey?: string,
  ): Promise<ExecutionResult> {
    const auth = executeOptions.anonymous === true ? undefined : this.options.auth;
    const pinned = executeOptions.url;
    const retries = pinned === undefined ? this.options.retries : 0;
    const attempts: string[] = [];
    let lastError: Error | null = null;
    let mayHaveApplied = false;
    let skipDelay = false;
    let fastFailovers = 0;
    let backoffs = 0;
    let resentAfter401 = false;
    let resendNow = false;
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (resendNow) {
        resendNow = false;
      } else if (attempt > 0) {
        // close() may have come while the last attempt was in flight: it woke nobody
        // then, so do not start a backoff it would have to wait out.
        if (this.transport.isClosed) throw new ClientClosedError();
        if (skipDelay && fastFailovers < this.selector.size) {
          fastFailovers += 1;
        } else {
          fastFailovers = 0;
          await this.sleep(backoffDelay(backoffs++, this.options.backoff, this.random()));
        }
      }
      if (this.transport.isClosed) throw new ClientClosedError();
      let authorization: string | undefined;
      if (auth !== undefined) {
        try {
          authorization = await auth.authorization();
        } catch (error) {
          // The login failed (wrong password, no node reachable): this attempt was not sent,
          // but an earlier one of this request may have been applied.
          if (mayHaveApplied && !(error instanceof ClientClosedError)) {
            throw outcomeUnknown(request, error as Error, (error as Partial<HttpErrorDetails>).status ?? 0);
          }
          throw error;
        }
      }
      const url = pinned ?? this.selector.pick();
      attempts.push(url);
      let response: HttpResponse;
      try {
        const sent = authorization === undefined ? request : { ...request, headers: { ...request.headers, authorization } };
        response = await this.transport.send(url, sent);
      } catch (error) {
        if (!(error instanceof AttemptError)) throw error;
        if (pinned === undefined) this.selector.failed(url);
        if (error.kind !== 'not-sent') {
          if (policy === 'unsafe') throw outcomeUnknown(request, error, 0);
          if (policy === 'safe') mayHaveApplied = true;
        }
        lastError = error;
        skipDelay = error.kind === 'not-sent';
        continue;
      }
      if (response.status === 401 && authorization !== undefined && !resentAfter401 && auth?.rejected(authorization) === true) {
        resentAfter401 = true;
        resendNow = true;
        attempt -= 1; // not a retry: bounded by resentAfter401
        lastError = errorFromResponse(response.status, response.body, url);
        continue;
      }
      if (response.status === 429 && isTooManyRequests(response.body)) {
        // This node is busy checking passwords; nothing was done. Back off, same node.
        lastError = errorFromResponse(response.status, response.body, url);
        skipDelay = false;
        continue;
      }
      const wire = response.status === 503 ? parseWireError(response.body) : null;
      if (response.status === 503 && isRetryable503(wire)) {
        const error = errorFromResponse(response.status, response.body, url);
        const moved = pinned === undefined && wire?.leader !== undefined && this.selector.leaderHint(wire.leader);
        if (!moved && pinned === undefined) this.selector.failed(url);
        if (!nothingWasDone(wire)) {
          // COMMIT_UNKNOWN, or a 503 this client cannot read: the write may have been applied.
          if (policy === 'unsafe') throw outcomeUnknown(request, error, 503);
          if (policy === 'safe') mayHaveApplied = true;
        }
        lastError = error;
        skipDelay = moved;
        continue;
      }
      if (response.status === 422 && idempotencyKey !== undefined && parseWireError(response.body)?.code === 'IDEMPOTENCY_KEY_REUSED') {
        const wire = parseWireError(response.body);
        throw Object.assign(
          new IdempotencyKeyReusedError(
            `${describe(request)}: the server says Idempotency-Key ${idempotencyKey} was used for a different request ` +
              `(${wire?.message ?? ''}); this client gives each write its own key, so this is a bug: not retried`,
          ),
          { url },
        );
      }
      if (response.status === 410 && idempotencyKey !== undefined && parseWireError(response.body)?.code === 'IDEMPOTENCY_KEY_EXPIRED') {
        // The record of an earlier attempt is gone: whether that attempt applied cannot be known.
        const error = Object.assign(errorFromResponse(response.status, response.body, url), { url });
        if (attempts.length > 1) throw outcomeUnknown(request, error, 410);
        throw error;
      }
      if (pinned === undefined) this.selector.succeeded(url);
      return {
        response,
        url,
        // With a key, the answer is the write's first result, not the trace of an earlier attempt.
        earlierAttemptMayHaveApplied: mayHaveApplied && idempotencyKey === undefined,
        ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
        replayed: response.headers[REPLAYED_HEADER] === 'true',
      };
    }
    throw exhausted(request, attempts, lastError, mayHaveApplied);
  }

  /** Wakes every request waiting out a backoff with ClientClosedError. */
  cancelWaits(): void {
    for (const sleeper of this.sleeping) {
      clearTimeout(sleeper.timer);
      sleeper.reject(new ClientClosedError());
    }
    this.sleeping.clear();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const sleeper = {
        timer: setTimeout(() => {
          this.sleeping.delete(sleeper);
          resolve();
        }, ms),
        reject,
      };
      this.sleeping.add(sleeper);
    });
  }
}

const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
const ANSWERED_THROUGH_HEADER = 'idempotency-answered-through';
const REPLAYED_HEADER = 'idempotent-replayed';

/** A 429 with code TOO_MANY_REQUESTS, or without the contract's body (a proxy's rate limit): nothing was done. */
function isTooManyRequests(body: unknown): boolean {
  const wire = parseWireError(body);
  return wire === null || wire.code === 'TOO_MANY_REQUESTS';
}

function describe(request: HttpRequest): string {
  return `${request.method} ${request.path}`;
}

function outcomeUnknown(request: HttpRequest, cause: Error, status: number): OutcomeUnknownError {
  const keyed = request.headers?.[IDEMPOTENCY_KEY_HEADER] !== undefined;
  return new OutcomeUnknownError(
    `${describe(request)}: outcome unknown, the write may or may not have been applied (${cause.message}); ` +
      (keyed ? 'every retry failed: read the data to find out' : 'it is not safe to repeat automatically: read the data to find out'),
    status,
    cause,
  );
}

/**
 * The error for a request whose every attempt failed; `lastError` is the last failure. When an
 * earlier attempt of a write may have been applied, a last answer that says "nothing was done"
 * (NO_LEADER, ...) speaks for that attempt only: the write's outcome is unknown.
 */
export function exhausted(request: HttpRequest, attempts: readonly string[], lastError: Error | null, mayHaveApplied = false): Error {
  if (mayHaveApplied && lastError !== null) {
    const wire = lastError instanceof StoreError ? { code: lastError.code, message: lastError.message } : null;
    if (wire === null || nothingWasDone(wire)) {
      const status = (lastError as Partial<HttpErrorDetails>).status ?? 0;
      return outcomeUnknown(request, lastError, status);
    }
  }
  if (lastError instanceof StoreError) return lastError; // NoLeaderError, CommitUnknownError, ... from a 503
  if (lastError instanceof AttemptError && lastError.kind === 'timeout') {
    const error = new RequestTimeoutError(`${describe(request)}: ${lastError.message} (after ${attempts.length} attempts)`, 0);
    return Object.assign(error, { cause: lastError });
  }
  const tried = [...new Set(attempts)].join(', ');
  return new UnavailableError(
    `${describe(request)}: no node reachable after ${attempts.length} attempts (${tried}): ${lastError?.message ?? 'no attempt'}`,
    attempts,
    lastError,
  );
}
