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
import { IDEMPOTENCY_KEY, type IdempotencyTag } from '../store/sessions.ts';

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
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

/**
 * The tag of a keyed write request, or undefined when it has no Idempotency-Key. Call it
 * before anything is proposed: a bad header is refused first. The digest covers what makes
 * the request this request: method, route, path parameters (collection, id), If-Match, the
 * body as parsed and the query string, if any (generated ids are not in it: a retry generates new ones, and gets the
 * first result instead).
 */
export function idempotencyOf(request: FastifyRequest): IdempotencyTag | undefined {
  const key = parseIdempotencyKey(request.headers[IDEMPOTENCY_KEY_HEADER]);
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
  return { key, digest, ...(user !== undefined ? { user } : {}) };
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
