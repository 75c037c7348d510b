// `asOf`: a document as it was at a log index or a log time (docs/models.md, History). One
// reading serves `GET /api/:collection/:id?asOf=` and its alias `GET .../:id/_history?asOf=`,
// so both answer alike, errors included.
import { BadRequestError, NotFoundError } from '../store/errors.ts';
import type { AsOf } from '../store/history.ts';
import type { Store } from '../store/store.ts';
import type { Document } from '../store/types.ts';

/** An ISO-8601 date (midnight UTC), or a date and time with its zone (`Z` or `±HH:MM`): a
 * time without a zone would be read in each node's own zone. */
const ISO_TIME =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:T(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,9})?)?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9]))?$/;

const AS_OF_FORMS =
  'a log index (sequence: up to 15 digits) or an ISO-8601 time with its zone (2026-01-01T12:00:00Z, 2026-01-01T14:00:00+02:00; a date alone is midnight UTC)';

/** `asOf`: a log index (digits) or an ISO-8601 time; anything else is 400 BAD_REQUEST. */
export function parseAsOf(raw: string): AsOf {
  if (/^[0-9]{1,15}$/.test(raw)) return { sequence: Number(raw) };
  const m = ISO_TIME.exec(raw);
  // Date.parse alone takes far more (`-1`, `1.5`, `Tue 1` are dates in 2001) and rolls
  // 2026-02-30 over into March.
  const [year, month, day] = m === null ? [0, 0, 0] : [Number(m[1]), Number(m[2]), Number(m[3])];
  const timeMs = m === null || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ? NaN : Date.parse(raw);
  if (Number.isNaN(timeMs)) throw new BadRequestError(`asOf: must be ${AS_OF_FORMS}`);
  return { timeMs };
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function describeAsOf(at: AsOf): string {
  return 'sequence' in at ? `asOf=${at.sequence}` : `asOf=${new Date(at.timeMs).toISOString()}`;
}

/**
 * The document as it was at `at`, read from its history (the records `_history` lists, under
 * the same retention). 400 BAD_REQUEST when the collection does not track history (asOf means
 * nothing there; a 404 would read as "no such document"); 404 NOT_FOUND when the document did
 * not exist then, was deleted by then, or its version then is no longer kept.
 */
export function documentAsOf(store: Store, collection: string, id: string, at: AsOf): Document {
  if (store.model(collection)?.options.trackHistory !== true) {
    throw new BadRequestError(`asOf: collection "${collection}" does not track history (its model's trackHistory)`);
  }
  const event = store.historyAsOf(collection, id, at);
  if (event === undefined) {
    throw new NotFoundError(
      `document "${id}" did not exist in "${collection}" at ${describeAsOf(at)}, or its version then is no longer kept (history retention)`,
    );
  }
  if (event.data === undefined) {
    throw new NotFoundError(`document "${id}" was deleted from "${collection}" at sequence ${event.sequence} (${describeAsOf(at)})`);
  }
  return event.data as Document;
}
