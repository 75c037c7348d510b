// The one table of error codes (issue #10). Every layer derives what it needs from it:
// the store's error classes and errorFromInfo (./errors.ts), the server's HTTP statuses,
// the forwarding codec between nodes, and the client's typed errors and retry decisions.
// docs/http-api.md has the same table, with what a caller should do for each code; a
// test (test/store/error-codes-doc.test.ts) fails when the two differ.
//
// It lives in store/ because that is the lowest layer, pure, and already imported by
// every other one (node, server and client share the store's errors), so the table adds
// no layer and no import edge.

/**
 * Whether a client may send the same request again:
 * - `yes`: nothing was done; any request may be retried (later, or on another node);
 * - `if idempotent`: the request may or may not have taken effect; only a request that is
 *   safe to repeat may be retried (a retry of `$inc` could apply it twice);
 * - `no`: the request was refused; the same request gets the same answer.
 */
export type Retry = 'yes' | 'if idempotent' | 'no';

export interface ErrorCodeInfo {
  /** The HTTP status the server answers with (docs/http-api.md names the few route exceptions). */
  readonly status: number;
  readonly retry: Retry;
  /** What happened, in one line. */
  readonly meaning: string;
}

// Order matters once: for a status shared by several codes, the first one is the code of
// an error known only by its status (a framework error, a body without our JSON).
export const ERROR_CODES = {
  BAD_REQUEST: { status: 400, retry: 'no', meaning: 'the request is malformed: not JSON, an unknown parameter or field, a bad path' },
  VALIDATION: { status: 400, retry: 'no', meaning: 'a document, query, update or index is invalid; the message names the field' },
  VALIDATION_FAILED: {
    status: 400,
    retry: 'no',
    meaning:
      "a document does not match its collection's schema (or a schema change, existing documents); the message names every failing path and rule",
  },
  UNAUTHORIZED: {
    status: 401,
    retry: 'no',
    meaning: 'the request is not authenticated: no credentials, a wrong password, or an expired or revoked token',
  },
  FORBIDDEN: { status: 403, retry: 'no', meaning: 'the user is authenticated but its roles do not allow this request' },
  NOT_FOUND: { status: 404, retry: 'no', meaning: 'no such document, index or route' },
  REQUEST_TIMEOUT: {
    status: 408,
    retry: 'if idempotent',
    meaning: 'the request took too long: not received whole within the server request timeout, or no answer within the client timeout',
  },
  CONFLICT: { status: 409, retry: 'no', meaning: 'a duplicate key, or a change that conflicts with the current state' },
  PRECONDITION_FAILED: { status: 412, retry: 'no', meaning: 'an If-Match / ifRev or transaction precondition did not hold' },
  PAYLOAD_TOO_LARGE: { status: 413, retry: 'no', meaning: 'the request body or a document is over its limit' },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    retry: 'no',
    meaning: 'the Idempotency-Key was used before for a different request (another body, route or user)',
  },
  IDEMPOTENCY_KEY_EXPIRED: {
    status: 410,
    retry: 'no',
    meaning:
      "the Idempotency-Key's record left the table (window, bounds, or its client said it was answered): the first attempt's outcome can no longer be known; nothing was done",
  },
  CHANGES_EXPIRED: {
    status: 410,
    retry: 'no',
    meaning: 'a change stream resume token is older than the changes this node retains: read the data again and watch from now',
  },
  TOO_MANY_REQUESTS: {
    status: 429,
    retry: 'yes',
    meaning:
      'too many password checks, requests waiting for a turn, aggregations waiting for the worker, or backups being streamed, on this node: nothing was done',
  },
  INTERNAL: { status: 500, retry: 'no', meaning: 'a bug in the server; its log has the details' },
  NO_LEADER: {
    status: 503,
    retry: 'yes',
    meaning: 'no leader is known, this node did not become leader in time, too many requests wait, or it is shutting down: nothing was done',
  },
  COMMIT_UNKNOWN: {
    status: 503,
    retry: 'if idempotent',
    meaning: 'a write was proposed but whether it committed is unknown (deadline passed, node stopped, leader unreachable)',
  },
  READ_TIMEOUT: {
    status: 503,
    retry: 'yes',
    meaning: 'a read was not confirmed by a quorum, or this node did not apply up to its index, in time: nothing was read',
  },
  NOT_CAUGHT_UP: {
    status: 503,
    retry: 'yes',
    meaning:
      "a node is behind the leader's log: this node trails the leader's commit index by more than FOLLOWER_LAG_ENTRIES_MAX entries (catching up: retry on another node), has not caught up once since it started (authentication off), or has not applied its own (/readyz), or a learner to promote did not catch up: nothing was done",
  },
  NODE_FAILED: {
    status: 503,
    retry: 'yes',
    meaning: 'this node stopped after a fatal error (a failed or stalled log write, a broken invariant) and serves nothing until restarted',
  },
  STORAGE_FAILED: {
    status: 507,
    retry: 'yes',
    meaning: 'this node could not write a file (a read-only or full disk): nothing was done, and the node goes on serving',
  },
} as const satisfies Readonly<Record<string, ErrorCodeInfo>>;

/** A stable error code: a key of the table. */
export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

export function errorCodeInfo(code: ErrorCode): ErrorCodeInfo {
  return ERROR_CODES[code];
}

/** Every code, in table order. */
export const ALL_ERROR_CODES: readonly ErrorCode[] = Object.keys(ERROR_CODES) as ErrorCode[];

/** The code of an error known only by its HTTP status: the first code with that status. */
export function codeOfStatus(status: number): ErrorCode | undefined {
  return ALL_ERROR_CODES.find((code) => ERROR_CODES[code].status === status);
}
