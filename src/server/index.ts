// The HTTP layer: createServer() over a DatabaseBackend.
export { createServer, DEFAULT_BODY_LIMIT, DEFAULT_CLOSE_GRACE_MS, DEFAULT_REQUEST_TIMEOUT_MS } from './create-server.ts';
export type { ServerOptions } from './create-server.ts';
export type { ErrorBody, HttpErrorCode } from './errors.ts';
export type { ChangeStreamOptions } from './change-stream.ts';
