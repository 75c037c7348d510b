// Typed errors of the HTTP client. Errors the server reports with a code reuse the
// store's classes (so `catch (e) { if (e instanceof NotFoundError) ... }` works the
// same against the embedded database and a cluster), extended with the HTTP status
// and the leader hint. Failures that only exist on the wire have their own classes.
import { codeOfStatus, errorCodeInfo, isErrorCode } from '../store/error-codes.ts';
import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  PreconditionFailedError,
  StoreError,
  ValidationError,
  type ErrorCode,
} from '../store/errors.ts';

export { BadRequestError, ConflictError, NotFoundError, PreconditionFailedError, StoreError, ValidationError, type ErrorCode };

/** What every error built from an HTTP response carries besides code and message. */
export interface HttpErrorDetails {
  /** HTTP status of the response (0 when no response was received). */
  readonly status: number;
  /** The node that answered. */
  readonly url?: string;
  /** The leader's URL, when the server named it. */
  readonly leader?: string;
}

/** A StoreError that came back over HTTP. */
export type RemoteStoreError = StoreError & HttpErrorDetails;

/** 503 NO_LEADER: no leader right now (election in progress, no quorum, node shutting down); nothing was done. */
export class NoLeaderError extends StoreError {
  constructor(
    message: string,
    readonly status = 503,
  ) {
    super('NO_LEADER', message);
  }
}

/** The codes of the errors that say a request did not finish in time, or not knowably. */
export type TimeoutCode = 'REQUEST_TIMEOUT' | 'READ_TIMEOUT' | 'COMMIT_UNKNOWN';

/**
 * Base of the errors that say a request did not finish (what the server's TIMEOUT covered
 * before it was split): RequestTimeoutError, ReadTimeoutError, CommitUnknownError. `code`
 * says which.
 */
export class TimeoutError extends StoreError {
  constructor(
    code: TimeoutCode,
    message: string,
    readonly status: number,
  ) {
    super(code, message);
  }
}

/**
 * REQUEST_TIMEOUT: no answer within the client's per-attempt timeout (`status` 0), or a 408
 * (the server did not receive the request whole in time). A write may have been applied.
 */
export class RequestTimeoutError extends TimeoutError {
  constructor(message: string, status = 408) {
    super('REQUEST_TIMEOUT', message, status);
  }
}

/** 503 READ_TIMEOUT: the read was not confirmed by a quorum, or the node did not apply up to it, in time; nothing was read. */
export class ReadTimeoutError extends TimeoutError {
  constructor(message: string, status = 503) {
    super('READ_TIMEOUT', message, status);
  }
}

/**
 * 503 COMMIT_UNKNOWN: the write was proposed, and whether it committed is unknown (its
 * deadline passed, the node stopped, the leader could not be reached). Read to find out;
 * repeating it is safe only if it is idempotent.
 */
export class CommitUnknownError extends TimeoutError {
  constructor(message: string, status = 503) {
    super('COMMIT_UNKNOWN', message, status);
  }
}

/** 503 NOT_CAUGHT_UP: a node is behind the leader's log (catching up after a restart, a learner to promote, a node not ready); nothing was done. */
export class NotCaughtUpError extends StoreError {
  constructor(
    message: string,
    readonly status = 503,
  ) {
    super('NOT_CAUGHT_UP', message);
  }
}

/** 503 NODE_FAILED: the node that answered stopped after a fatal error; another node may serve the request. */
export class NodeFailedError extends StoreError {
  constructor(
    message: string,
    readonly status = 503,
  ) {
    super('NODE_FAILED', message);
  }
}

/** 507 STORAGE_FAILED: the node could not write a file (POST /cluster/snapshot on a read-only or full disk); it goes on serving. */
export class StorageFailedError extends StoreError {
  constructor(
    message: string,
    readonly status = 507,
  ) {
    super('STORAGE_FAILED', message);
  }
}

/** 413: the request body or a document is too large. */
export class PayloadTooLargeError extends StoreError {
  constructor(
    message: string,
    readonly status = 413,
  ) {
    super('PAYLOAD_TOO_LARGE', message);
  }
}

/** 401. */
export class UnauthorizedError extends StoreError {
  constructor(
    message: string,
    readonly status = 401,
  ) {
    super('UNAUTHORIZED', message);
  }
}

/** 403: authenticated, but the user's roles do not allow the request. */
export class ForbiddenError extends StoreError {
  constructor(
    message: string,
    readonly status = 403,
  ) {
    super('FORBIDDEN', message);
  }
}

/** 429: too many password checks in progress on the node (retried by the client). */
export class TooManyRequestsError extends StoreError {
  constructor(
    message: string,
    readonly status = 429,
  ) {
    super('TOO_MANY_REQUESTS', message);
  }
}

/**
 * 422 IDEMPOTENCY_KEY_REUSED: the Idempotency-Key of this write was used before for a
 * different request. This client gives each write its own key (`<clientId>.<seq>`) and sends
 * it unchanged on every retry, so this is a bug (in this library, or in code that shares a
 * key between two requests); it is never retried.
 */
export class IdempotencyKeyReusedError extends StoreError {
  constructor(
    message: string,
    readonly status = 422,
  ) {
    super('IDEMPOTENCY_KEY_REUSED', message);
  }
}

/**
 * 410 IDEMPOTENCY_KEY_EXPIRED: the server no longer holds the record of this write's
 * Idempotency-Key (it left the table: window or memory bound), so the outcome of an earlier
 * attempt can no longer be known; nothing was done by this attempt. The request executor turns
 * it into OutcomeUnknownError when an earlier attempt may have been applied.
 */
export class IdempotencyKeyExpiredError extends StoreError {
  constructor(
    message: string,
    readonly status = 410,
  ) {
    super('IDEMPOTENCY_KEY_EXPIRED', message);
  }
}

/** 400 VALIDATION_FAILED: a document does not match its collection's schema (docs/models.md);
 * the message names every failing path and rule. Nothing was written. */
export class SchemaValidationError extends StoreError {
  constructor(message: string) {
    super('VALIDATION_FAILED', message);
  }
}

/**
 * 410 CHANGES_EXPIRED: a change stream's resume token is older than the changes the server
 * retains (docs/http-api.md, Change streams): some changes after it can no longer be replayed.
 * Read the data again and watch from now; `watch()` raises it and does not retry.
 */
export class ChangesExpiredError extends StoreError {
  constructor(
    message: string,
    readonly status = 410,
  ) {
    super('CHANGES_EXPIRED', message);
  }
}

/** Codes of the errors that exist only on the client side. */
export type ClientErrorCode = 'UNAVAILABLE' | 'OUTCOME_UNKNOWN' | 'CLIENT_CLOSED' | 'HTTP_ERROR';

/** Base of the client-only errors (not server codes). */
export class ClientError extends Error {
  readonly code: ClientErrorCode;
  readonly status: number;
  constructor(code: ClientErrorCode, message: string, status: number, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = status;
    this.name = new.target.name;
  }
}

/** No node could be reached (connection refused, reset, DNS...) within the retries. */
export class UnavailableError extends ClientError {
  constructor(
    message: string,
    /** The URLs tried, in order, one per attempt. */
    readonly attempts: readonly string[],
    cause: unknown,
  ) {
    super('UNAVAILABLE', message, 0, { cause });
  }
}

/**
 * A write may or may not have been applied: it reached a server (or may have), and no
 * attempt, through every retry, got a definite answer. Each write carries an Idempotency-Key,
 * so the retries could not apply it twice; it is this error only when all of them failed.
 * `cause` holds the last failure seen (socket closed, timeout, 503). Read the data to find
 * out, or repeat the write: a new call is a new write (a new key).
 */
export class OutcomeUnknownError extends ClientError {
  constructor(message: string, status: number, cause: unknown) {
    super('OUTCOME_UNKNOWN', message, status, { cause });
  }
}

/** The operation was started or still waiting when close() was called. */
export class ClientClosedError extends ClientError {
  constructor(message = 'the client is closed') {
    super('CLIENT_CLOSED', message, 0);
  }
}

/** A response with a status the contract does not define (500, a proxy's 502, ...). */
export class HttpError extends ClientError {
  constructor(message: string, status: number) {
    super('HTTP_ERROR', message, status);
  }
}

/** The `error` object of an error response, when the body has the contract's shape. */
export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly leader?: string;
}

export function parseWireError(body: unknown): WireError | null {
  if (typeof body !== 'object' || body === null) return null;
  const error = (body as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return null;
  const { code, message, leader } = error as { code?: unknown; message?: unknown; leader?: unknown };
  if (typeof code !== 'string') return null;
  return {
    code,
    message: typeof message === 'string' ? message : code,
    ...(typeof leader === 'string' && leader !== '' ? { leader } : {}),
  };
}

/** Builds the typed error of a code from a response's message and status. */
type RemoteErrorFactory = (message: string, status: number) => StoreError;

/** The client's class for every code of the table (null: no StoreError, an HttpError). */
const CLASS_OF_CODE: Readonly<Record<ErrorCode, RemoteErrorFactory | null>> = {
  BAD_REQUEST: (message) => new BadRequestError(message),
  VALIDATION: (message) => new ValidationError(message),
  VALIDATION_FAILED: (message) => new SchemaValidationError(message),
  UNAUTHORIZED: (message, status) => new UnauthorizedError(message, status),
  FORBIDDEN: (message, status) => new ForbiddenError(message, status),
  TOO_MANY_REQUESTS: (message, status) => new TooManyRequestsError(message, status),
  NOT_FOUND: (message) => new NotFoundError(message),
  REQUEST_TIMEOUT: (message, status) => new RequestTimeoutError(message, status),
  CONFLICT: (message) => new ConflictError(message),
  PRECONDITION_FAILED: (message) => new PreconditionFailedError(message),
  PAYLOAD_TOO_LARGE: (message, status) => new PayloadTooLargeError(message, status),
  IDEMPOTENCY_KEY_REUSED: (message, status) => new IdempotencyKeyReusedError(message, status),
  IDEMPOTENCY_KEY_EXPIRED: (message, status) => new IdempotencyKeyExpiredError(message, status),
  CHANGES_EXPIRED: (message, status) => new ChangesExpiredError(message, status),
  // A bug on the server: an HttpError, like any answer outside the contract.
  INTERNAL: null,
  NO_LEADER: (message, status) => new NoLeaderError(message, status),
  COMMIT_UNKNOWN: (message, status) => new CommitUnknownError(message, status),
  READ_TIMEOUT: (message, status) => new ReadTimeoutError(message, status),
  NOT_CAUGHT_UP: (message, status) => new NotCaughtUpError(message, status),
  NODE_FAILED: (message, status) => new NodeFailedError(message, status),
  STORAGE_FAILED: (message, status) => new StorageFailedError(message, status),
};

/**
 * The typed error for an error response: the server's code decides the class; when the
 * body is not the contract's JSON, or its code is unknown to this client, the status does
 * (the table's first code with that status).
 */
export function errorFromResponse(status: number, body: unknown, url: string): RemoteStoreError | HttpError {
  const wire = parseWireError(body);
  const code = wire !== null && isErrorCode(wire.code) ? wire.code : codeOfStatus(status);
  const message = wire?.message ?? `HTTP ${status} from ${url}`;
  const factory = code === undefined ? null : CLASS_OF_CODE[code];
  if (factory === null) return new HttpError(`${message} (HTTP ${status} from ${url})`, status);
  const error = factory(message, status);
  return Object.assign(error, { status, url, ...(wire?.leader !== undefined ? { leader: wire.leader } : {}) });
}

/**
 * Whether a 503 says "try again, maybe elsewhere": a code of the table a client may retry,
 * or a 503 whose code this client does not know or without the contract's body (a proxy,
 * another version). What was done is then unknown: a write that is not safe to repeat is
 * not retried (the request executor decides).
 */
export function isRetryable503(wire: WireError | null): boolean {
  if (wire === null || !isErrorCode(wire.code)) return true;
  const info = errorCodeInfo(wire.code);
  return info.status === 503 && info.retry !== 'no';
}

/**
 * Whether the server said that nothing was done (the table's retry `yes`: NO_LEADER,
 * READ_TIMEOUT, NOT_CAUGHT_UP, NODE_FAILED): then even a write that is not safe to repeat
 * may be sent again. A code this client does not know says nothing of the kind.
 */
export function nothingWasDone(wire: WireError | null): boolean {
  return wire !== null && isErrorCode(wire.code) && errorCodeInfo(wire.code).retry === 'yes';
}
