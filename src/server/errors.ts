// The one error shape of the HTTP API: {"error":{"code","message","leader"?}}.
// Store errors keep their stable code; fastify's own errors (bad JSON, body too
// large, unsupported media type, unknown route) are mapped onto the same codes
// by their HTTP status, so every client sees one format.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { StoreError, type ErrorCode } from '../store/errors.ts';
import type { DatabaseBackend } from '../node/backend.ts';

/** Codes the server sends: the store's codes, plus INTERNAL for a bug (500). */
export type HttpErrorCode = ErrorCode | 'INTERNAL';

export interface ErrorBody {
  readonly error: { readonly code: HttpErrorCode; readonly message: string; readonly leader?: string };
}

const STATUS_OF_CODE: Readonly<Record<ErrorCode, number>> = {
  BAD_REQUEST: 400,
  VALIDATION: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  NO_LEADER: 503,
  TIMEOUT: 503,
};

/** Routes where a failed precondition is a 409 rather than a 412 (docs/http-api.md). */
const PRECONDITION_AS_CONFLICT_ROUTES: ReadonlySet<string> = new Set(['/api/_tx']);

export function statusOfCode(code: ErrorCode, routeUrl: string | undefined): number {
  if (code === 'PRECONDITION_FAILED' && routeUrl !== undefined && PRECONDITION_AS_CONFLICT_ROUTES.has(routeUrl)) return 409;
  return STATUS_OF_CODE[code];
}

/** Code for an error fastify raised itself, by its status. */
function codeOfStatus(status: number): ErrorCode | 'INTERNAL' {
  switch (status) {
    case 401:
      return 'UNAUTHORIZED';
    case 404:
      return 'NOT_FOUND';
    case 408:
      return 'TIMEOUT';
    case 413:
      return 'PAYLOAD_TOO_LARGE';
    case 503:
      return 'NO_LEADER';
    default:
      return status >= 400 && status < 500 ? 'BAD_REQUEST' : 'INTERNAL';
  }
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
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { status, code: codeOfStatus(status), message: (error as Error).message };
  }
  if (status === 503) return { status, code: 'NO_LEADER', message: (error as Error).message };
  return { status: 500, code: 'INTERNAL', message: 'internal server error' };
}

export function errorBody(code: HttpErrorCode, message: string, leader?: string): ErrorBody {
  return { error: { code, message, ...(leader !== undefined ? { leader } : {}) } };
}

/** The leader's URL for errors a client answers by retrying elsewhere. */
function leaderHint(backend: DatabaseBackend, code: HttpErrorCode): string | undefined {
  if (code !== 'NO_LEADER' && code !== 'TIMEOUT') return undefined;
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
