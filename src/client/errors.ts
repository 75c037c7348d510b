// Typed errors of the HTTP client. Errors the server reports with a code reuse the
// store's classes (so `catch (e) { if (e instanceof NotFoundError) ... }` works the
// same against the embedded database and a cluster), extended with the HTTP status
// and the leader hint. Failures that only exist on the wire have their own classes.
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

/** 503 NO_LEADER: the cluster has no leader right now (election in progress or no quorum). */
export class NoLeaderError extends StoreError {
  constructor(
    message: string,
    readonly status = 503,
  ) {
    super('NO_LEADER', message);
  }
}

/**
 * TIMEOUT: a 503 TIMEOUT from the server, or no answer within the client's per-attempt
 * timeout (then `status` is 0).
 */
export class TimeoutError extends StoreError {
  constructor(
    message: string,
    readonly status = 503,
  ) {
    super('TIMEOUT', message);
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
 * A write that is not safe to repeat may or may not have been applied: the request
 * reached a server (or may have) and no definite answer came back. `cause` holds the
 * failure seen (socket closed, timeout, 503). Read the data to find out.
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

const STATUS_TO_CODE: Readonly<Record<number, ErrorCode>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  412: 'PRECONDITION_FAILED',
  413: 'PAYLOAD_TOO_LARGE',
  503: 'NO_LEADER',
};

const KNOWN_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'BAD_REQUEST',
  'VALIDATION',
  'NOT_FOUND',
  'CONFLICT',
  'PRECONDITION_FAILED',
  'NO_LEADER',
  'TIMEOUT',
  'PAYLOAD_TOO_LARGE',
  'UNAUTHORIZED',
]);

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

/**
 * The typed error for an error response: the server's code decides the class; when the
 * body is not the contract's JSON, the status does.
 */
export function errorFromResponse(status: number, body: unknown, url: string): RemoteStoreError | HttpError {
  const wire = parseWireError(body);
  const code = wire !== null && KNOWN_CODES.has(wire.code) ? (wire.code as ErrorCode) : STATUS_TO_CODE[status];
  const message = wire?.message ?? `HTTP ${status} from ${url}`;
  if (code === undefined) return new HttpError(`${message} (HTTP ${status} from ${url})`, status);
  const error = storeErrorFor(code, message, status);
  return Object.assign(error, { status, url, ...(wire?.leader !== undefined ? { leader: wire.leader } : {}) });
}

function storeErrorFor(code: ErrorCode, message: string, status: number): StoreError {
  switch (code) {
    case 'NO_LEADER':
      return new NoLeaderError(message, status);
    case 'TIMEOUT':
      return new TimeoutError(message, status);
    case 'PAYLOAD_TOO_LARGE':
      return new PayloadTooLargeError(message, status);
    case 'UNAUTHORIZED':
      return new UnauthorizedError(message, status);
    case 'VALIDATION':
      return new ValidationError(message);
    case 'CONFLICT':
      return new ConflictError(message);
    case 'NOT_FOUND':
      return new NotFoundError(message);
    case 'PRECONDITION_FAILED':
      return new PreconditionFailedError(message);
    case 'BAD_REQUEST':
      return new BadRequestError(message);
  }
}
