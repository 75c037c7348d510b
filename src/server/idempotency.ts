// The Idempotency-Key header (issue #12, exactly-once writes): a write that carries one is
// applied at most once by the state machine (store/sessions.ts), and every retry with the
// same key and the same request gets the first result, marked `Idempotent-Replayed: true`.
// This module turns the header into the tag the log entry carries: the key, a SHA-256 of
// the request (so that the same key on another request is told apart: 422), and the user
// (keys are scoped per user when authentication is on).
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CommandResult } from '../store/commands.ts';
import { ValidationError } from '../store/errors.ts';
import { clientKeySeq, IDEMPOTENCY_KEY, type IdempotencyTag } from '../store/sessions.ts';

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
/** With a client-library key `<clientId>.<seq>`: that client has every answer it will wait
 * for through this sequence number (below `seq`), so the server may forget its records. */
export const ANSWERED_THROUGH_HEADER = 'idempotency-answered-through';
export const REPLAYED_HEADER = 'idempotent-replayed';

/** The header's key, or undefined without one; 400 VALIDATION for anything but one key of
 * 1 to 128 characters of `[A-Za-z0-9._:-]`. */
export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) throw new ValidationError('Idempotency-Key: must be given once');
  if (!IDEMPOTENCY_KEY.test(header)) {
    throw new ValidationError(
      `Idempotency-Key: must be 1 to 128 characters of A-Z a-z 0-9 . _ : - (got ${JSON.stringify(header.slice(0, 64))}${header.length > 64 ? '...' : ''})`,
    );
  }
  return header;
}

/** The Idempotency-Answered-Through header of a request keyed `key`, or undefined without
 * one; 400 VALIDATION without a client-library key, or unless it is below the key's seq. */
export function parseAnsweredThrough(header: string | string[] | undefined, key: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) throw new ValidationError('Idempotency-Answered-Through: must be given once');
  const seq = key === undefined ? undefined : clientKeySeq(key);
  if (seq === undefined) {
    throw new ValidationError("Idempotency-Answered-Through: needs an Idempotency-Key of the client library's form <clientId>.<seq>");
  }
  const through = /^[1-9][0-9]{0,15}$/.test(header) ? Number(header) : NaN;
  if (!Number.isSafeInteger(through) || through >= seq) {
    throw new ValidationError(
      `Idempotency-Answered-Through: must be an integer from 1 to ${seq - 1} (below the key's sequence number; got ${JSON.stringify(header.slice(0, 32))})`,
    );
  }
  return through;
}

/**
 * The tag of a keyed write request, or undefined when it has no Idempotency-Key. Call it
 * before anything is proposed: a bad header is refused first. The digest covers what makes
 * the request this request: method, route, path parameters (collection, id), If-Match, the
 * body as parsed and the query string, if any (generated ids are not in it: a retry generates new ones, and gets the
 * first result instead).
 */
export function idempotencyOf(request: FastifyRequest): IdempotencyTag | undefined {
  const key = parseIdempotencyKey(request.headers[IDEMPOTENCY_KEY_HEADER]);
  const answeredThrough = parseAnsweredThrough(request.headers[ANSWERED_THROUGH_HEADER], key);
  if (key === undefined) return undefined;
  // The query string too when there is one (PUT _schema?force=true is another request than
  // without it); without one the digest is what it was before queries counted.
  const query = (request.query ?? {}) as Record<string, unknown>;
  const described = JSON.stringify([
    request.method,
    request.routeOptions.url ?? '',
    request.params ?? {},
    request.headers['if-match'] ?? null,
    request.body ?? null,
    ...(Object.keys(query).length > 0 ? [query] : []),
  ]);
  const digest = createHash('sha256').update(described).digest('hex');
  const user = request.principal?.user.name;
  return { key, digest, ...(user !== undefined ? { user } : {}), ...(answeredThrough !== undefined ? { answeredThrough } : {}) };
}

/** Marks the reply of a keyed write before it runs: `Idempotent-Replayed: false`, so that a
 * client can tell a server that understood the key (an answer without the header came from
 * a server that ignored it). An answer of an error thrown on the way keeps it too. */
export function markKeyed(reply: FastifyReply): void {
  void reply.header(REPLAYED_HEADER, 'false');
}

/** Marks the reply of a keyed write with its result: `true` when the result was recorded by
 * an earlier request with the same key, `false` otherwise. */
export function markReplayed(reply: FastifyReply, result: CommandResult): void {
  void reply.header(REPLAYED_HEADER, result.replayed === true ? 'true' : 'false');
}
