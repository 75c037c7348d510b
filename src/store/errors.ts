// Typed errors with stable codes. The HTTP layer maps each code to a status;
// the codes match ARCHITECTURE.md.

export type ErrorCode =
  'BAD_REQUEST' | 'VALIDATION' | 'NOT_FOUND' | 'CONFLICT' | 'PRECONDITION_FAILED' | 'NO_LEADER' | 'TIMEOUT' | 'PAYLOAD_TOO_LARGE' | 'UNAUTHORIZED';

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

export function errorFromInfo(info: ErrorInfo): StoreError {
  switch (info.code) {
    case 'VALIDATION':
      return new ValidationError(info.message);
    case 'CONFLICT':
      return new ConflictError(info.message);
    case 'NOT_FOUND':
      return new NotFoundError(info.message);
    case 'PRECONDITION_FAILED':
      return new PreconditionFailedError(info.message);
    case 'BAD_REQUEST':
      return new BadRequestError(info.message);
    default:
      return new StoreError(info.code, info.message);
  }
}
