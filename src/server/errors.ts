// The one error shape of the HTTP API: {"error":{"code","message","leader"?}}.
// Store errors keep their stable code; fastify's own errors (bad JSON, body too
// large, unsupported media type, unknown route) are mapped onto the same codes
// by their HTTP status, so every client sees one format.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { codeOfStatus, ERROR_CODES } from '../store/error-codes.ts';
import { StoreError, type ErrorCode } from '../store/errors.ts';
import type { DatabaseBackend } from '../node/backend.ts';

/** Codes the server sends: every code of the table (INTERNAL for a bug, 500). */
export type HttpErrorCode = ErrorCode;

export interface ErrorBody {
  readonly error: { readonly code: HttpErrorCode; readonly message: string; readonly leader?: string };
}

/** Routes where a failed precondition is a 409 rather than a 412 (docs/http-api.md): the
 * one route exception to the table's statuses. */
const PRECONDITION_AS_CONFLICT_ROUTES: ReadonlySet<string> = new Set(['/api/_tx']);

export function statusOfCode(code: ErrorCode, routeUrl: string | undefined): number {
  if (code === 'PRECONDITION_FAILED' && routeUrl !== undefined && PRECONDITION_AS_CONFLICT_ROUTES.has(routeUrl)) return 409;
  return ERROR_CODES[code].status;
}

/** Code for an error fastify raised itself (it keeps its status): the table's code for that status. */
function codeOfFrameworkStatus(status: number): ErrorCode {
  return codeOfStatus(status) ?? (status < 500 ? 'BAD_REQUEST' : 'INTERNAL');
}

interface Mapped {
  readonly status: number;
  readonly code: HttpErrorCode;
  readonly message: string;
}

function mapError(error: unknown, request: FastifyRequest): Mapped {
  const routeUrl = request.routeOptions.url;
  if ((error as Partial<FastifyError> | null)?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    const type = String(request.headers['content-type'] ?? '').slice(0, 100);
    return { status: 415, code: 'BAD_REQUEST', message: `unsupported Content-Type ${JSON.stringify(type)}: bodies are application/json` };
  }
  if (error instanceof StoreError) return { status: statusOfCode(error.code, routeUrl), code: error.code, message: error.message };
  const status = (error as Partial<FastifyError> | null)?.statusCode;
  if (typeof status === 'number' && ((status >= 400 && status < 500) || status === 503)) {
    return { status, code: codeOfFrameworkStatus(status), message: (error as Error).message };
  }
  return { status: 500, code: 'INTERNAL', message: 'internal server error' };
}

export function errorBody(code: HttpErrorCode, message: string, leader?: string): ErrorBody {
  return { error: { code, message, ...(leader !== undefined ? { leader } : {}) } };
}

/** The leader's URL for errors a client may answer by retrying (elsewhere). */
function leaderHint(backend: DatabaseBackend, code: HttpErrorCode): string | undefined {
  // TOO_MANY_REQUESTS: answered to strangers (before authentication) and under a flood,
  // where the hint would cost a status per answer and tell them where the leader is.
  if (ERROR_CODES[code].retry === 'no' || code === 'TOO_MANY_REQUESTS') return undefined;
  try {
    return backend.status().leader?.url;
  } catch {
    return undefined;
  }
}

/** Fastify error handler: every error leaves in the API's shape. */
export function makeErrorHandler(backend: DatabaseBackend): (error: unknown, request: FastifyRequest, reply: FastifyReply) => void {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply): void => {
    const mapped = mapError(error, request);
    if (mapped.status >= 500 && mapped.code === 'INTERNAL') request.log.error({ err: error }, 'request failed');
    void reply.code(mapped.status).send(errorBody(mapped.code, mapped.message, leaderHint(backend, mapped.code)));
  };
}

/** Statuses of errors Node's HTTP parser and timers raise before fastify has a request. */
const CLIENT_ERROR_STATUS: Readonly<Record<string, number>> = { ERR_HTTP_REQUEST_TIMEOUT: 408, HPE_HEADER_OVERFLOW: 431 };

/**
 * Node's 'clientError' (headers too large, a request not received in time, bytes that are
 * not HTTP): answered in the API's error shape, then the connection is closed. Nothing is
 * written once a response has begun on the socket (Node's own rule).
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const response = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && response?.headersSent !== true) {
    const status = CLIENT_ERROR_STATUS[error.code ?? ''] ?? 400;
    const message =
      status === 408
        ? 'the request was not received whole within the server request timeout'
        : status === 431
          ? 'request headers too large'
          : 'malformed HTTP request';
    const body = JSON.stringify(errorBody(codeOfFrameworkStatus(status), message));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
