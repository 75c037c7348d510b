// The HTTP client: `connect(urls, options)` gives a Client with the embedded
// database's collection API over a cluster's HTTP API (docs/http-api.md).
import { Client } from './client.ts';
import type { ConnectOptions } from './types.ts';

export function connect(urls: string | readonly string[], options: ConnectOptions = {}): Client {
  return new Client(urls, options);
}

export { Client } from './client.ts';
export { RemoteCollection } from './remote-collection.ts';
export {
  BadRequestError,
  ClientClosedError,
  ClientError,
  CommitUnknownError,
  ConflictError,
  HttpError,
  IdempotencyKeyReusedError,
  IdempotencyKeyExpiredError,
  ChangesExpiredError,
  SchemaValidationError,
  NoLeaderError,
  NodeFailedError,
  StorageFailedError,
  NotCaughtUpError,
  NotFoundError,
  OutcomeUnknownError,
  PayloadTooLargeError,
  PreconditionFailedError,
  ReadTimeoutError,
  RequestTimeoutError,
  StoreError,
  TimeoutError,
  UnauthorizedError,
  ForbiddenError,
  TooManyRequestsError,
  UnavailableError,
  ValidationError,
  type ClientErrorCode,
  type ErrorCode,
  type HttpErrorDetails,
  type RemoteStoreError,
  type TimeoutCode,
} from './errors.ts';
export type * from './types.ts';
export type { ChangeEvent, WatchOptions } from './watch.ts';
export type { BackoffPolicy } from '../backoff.ts';
