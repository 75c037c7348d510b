// TTL: when a document expires. Two sources, as rules of a collection: a model's `ttlField`
// holds the expiry itself, and a TTL index (MongoDB's `expireAfterSeconds`) names a date field
// the document expires that many seconds after. A time is milliseconds since the epoch or an
// ISO-8601 time with its zone (iso-time.ts). Pure rules shared by reads (an expired document is never
// returned, by the reading node's clock) and the leader's sweep (src/node/ttl-sweeper.ts),
// which removes expired documents through ordinary log entries, finding them in each
// collection's order of expiry (store/ttl-order.ts).

import type { CompiledFilter } from './query-cache.ts';
import type { Document, JsonObject } from './types.ts';
import { parseIsoTimeMs } from './iso-time.ts';
import { fail, joinPath } from './validate-common.ts';

/** Expired documents one call of Store.expiredDocuments returns (and looks at), at most,
 * whatever `max` it is given: it reads them off the collection's order of expiry
 * (store/ttl-order.ts), earliest first, and looks at no live document but the first. */
export const TTL_EXPIRED_DOCS_MAX = 100_000;

/** `expireAfterSeconds` of a TTL index, at most (MongoDB's bound: a 32-bit signed integer). */
export const EXPIRE_AFTER_SECONDS_MAX = 2_147_483_647;

/** A TTL index: whole seconds from 0 to EXPIRE_AFTER_SECONDS_MAX, on one field other than `_id`. */
export function validateExpireAfter(seconds: unknown, fields: readonly unknown[], path: string): void {
  if (!Number.isSafeInteger(seconds) || (seconds as number) < 0 || (seconds as number) > EXPIRE_AFTER_SECONDS_MAX) {
    fail(joinPath(path, 'expireAfterSeconds'), `must be an integer number of seconds from 0 to ${EXPIRE_AFTER_SECONDS_MAX}`);
  }
  if (fields.length !== 1) fail(joinPath(path, 'fields'), 'a TTL index (expireAfterSeconds) has exactly one field');
  if ((fields[0] as unknown[])[0] === '_id') fail(joinPath(path, 'fields'), 'a TTL index cannot be on _id');
}

/** One source of expiry: the time in `field`, plus `afterMs` (0 for a model's `ttlField`). */
export interface TtlRule {
  readonly field: string;
  readonly afterMs: number;
}

/** The document's expiry (ms since the epoch), or undefined when the field is absent or not a time. */
export function expiryMs(doc: JsonObject | Document, ttlField: string): number | undefined {
  let cur: unknown = doc;
  for (const seg of ttlField.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = Object.hasOwn(cur, seg) ? (cur as Record<string, unknown>)[seg] : undefined;
  }
  if (typeof cur === 'number') return Number.isFinite(cur) ? cur : undefined;
  if (typeof cur === 'string') {
    // Strictly ISO-8601 with its zone (iso-time.ts): every node reads the same instant.
    const t = parseIsoTimeMs(cur);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

/** Expired at `nowMs`: its expiry is at or before that instant. */
export function isExpired(doc: JsonObject | Document, ttlField: string, nowMs: number): boolean {
  const at = expiryMs(doc, ttlField);
  return at !== undefined && at <= nowMs;
}

/** The earliest expiry the rules give the document (ms since the epoch), or undefined. */
export function expiryByRulesMs(doc: JsonObject | Document, rules: readonly TtlRule[]): number | undefined {
  let at: number | undefined;
  for (const rule of rules) {
    const t = expiryMs(doc, rule.field);
    if (t !== undefined && (at === undefined || t + rule.afterMs < at)) at = t + rule.afterMs;
  }
  return at;
}

/** Expired at `nowMs` by any of the rules. */
export function isExpiredByRules(doc: JsonObject | Document, rules: readonly TtlRule[], nowMs: number): boolean {
  const at = expiryByRulesMs(doc, rules);
  return at !== undefined && at <= nowMs;
}

/**
 * `compiled` that also drops documents expired at `nowMs`: what every read of a collection
 * with TTL rules runs, so that no read returns an expired document before the leader's sweep
 * has removed it. The test is part of the filter, so a `limit` counts live documents only.
 * Reads only: applying a command never reads a clock.
 */
export function withoutExpired(compiled: CompiledFilter, rules: readonly TtlRule[], nowMs: number): CompiledFilter {
  return {
    filter: compiled.filter,
    matchAll: false,
    constraints: compiled.constraints,
    test: (doc) => !isExpiredByRules(doc, rules, nowMs) && compiled.test(doc),
  };
}
