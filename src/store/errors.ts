// Typed errors with stable codes. The codes, their HTTP statuses and whether a client may
// retry them are in one table, ./error-codes.ts.
import type { ErrorCode } from './error-codes.ts';

export { ERROR_CODES, isErrorCode, type ErrorCode, type ErrorCodeInfo, type Retry } from './error-codes.ts';

export class StoreError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A document, query or update that is malformed: names the field at fault. */
export class ValidationError extends StoreError {
  constructor(message: string) {
    super('VALIDATION', message);
  }
}

/** A duplicate key, or a transaction whose reads changed before it committed. */
export class ConflictError extends StoreError {
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

export class NotFoundError extends StoreError {
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

/** An `ifRev` / If-Match or transaction precondition that did not hold. */
export class PreconditionFailedError extends StoreError {
  constructor(message: string) {
    super('PRECONDITION_FAILED', message);
  }
}

export class BadRequestError extends StoreError {
  constructor(message: string) {
    super('BAD_REQUEST', message);
  }
}

/** Serialisable form of an error, carried in command results and HTTP bodies. */
export interface ErrorInfo {
  readonly code: ErrorCode;
  readonly message: string;
}

/** The store's class for each code that has one; the others are plain StoreErrors. */
const CLASS_OF_CODE: { readonly [C in ErrorCode]?: new (message: string) => StoreError } = {
  BAD_REQUEST: BadRequestError,
  VALIDATION: ValidationError,
  NOT_FOUND: NotFoundError,
  CONFLICT: ConflictError,
  PRECONDITION_FAILED: PreconditionFailedError,
};

export function errorFromInfo(info: ErrorInfo): StoreError {
  const type = CLASS_OF_CODE[info.code];
  return type !== undefined ? new type(info.message) : new StoreError(info.code, info.message);
}
