// TTL: a model's `ttlField` holds a document's expiry, as milliseconds since the epoch or an
// ISO-8601 date-time string. Pure rules shared by reads (an expired document is never
// returned, by the reading node's clock) and the leader's sweep (src/node/ttl-sweeper.ts),
// which removes expired documents through ordinary log entries.

import type { CompiledFilter } from './query-cache.ts';
import type { Document, JsonObject } from './types.ts';

/** Documents one sweep of one collection looks at, at most (in `_id` order from the start):
 * a collection larger than this has its later expired documents removed only once earlier
 * ones are gone (reads hide them meanwhile). */
export const TTL_SCAN_DOCS_MAX = 100_000;

/** The document's expiry (ms since the epoch), or undefined when the field is absent or not a time. */
export function expiryMs(doc: JsonObject | Document, ttlField: string): number | undefined {
  let cur: unknown = doc;
  for (const seg of ttlField.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = Object.hasOwn(cur, seg) ? (cur as Record<string, unknown>)[seg] : undefined;
  }
  if (typeof cur === 'number') return Number.isFinite(cur) ? cur : undefined;
  if (typeof cur === 'string') {
    const t = Date.parse(cur);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

/** Expired at `nowMs`: its expiry is at or before that instant. */
export function isExpired(doc: JsonObject | Document, ttlField: string, nowMs: number): boolean {
  const at = expiryMs(doc, ttlField);
  return at !== undefined && at <= nowMs;
}

/**
 * `compiled` that also drops documents expired at `nowMs`: what every read of a collection
 * with a `ttlField` runs, so that no read returns an expired document before the leader's
 * sweep has removed it. Reads only: applying a command never reads a clock.
 */
export function withoutExpired(compiled: CompiledFilter, ttlField: string, nowMs: number): CompiledFilter {
  return {
    filter: compiled.filter,
    matchAll: false,
    constraints: compiled.constraints,
    test: (doc) => !isExpired(doc, ttlField, nowMs) && compiled.test(doc),
  };
}

/** The reading node's clock (ms since the epoch): reads of TTL collections compare against it.
 * Never used at apply (applied state reads only the log clock). */
export function readClockMs(): number {
  return Date.now();
}
