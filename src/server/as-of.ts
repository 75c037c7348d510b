// `asOf`: a document as it was at a log index or a log time (docs/models.md, History). One
// reading serves `GET /api/:collection/:id?asOf=` and its alias `GET .../:id/_history?asOf=`,
// so both answer alike, errors included.
import { BadRequestError, NotFoundError } from '../store/errors.ts';
import type { AsOf } from '../store/history.ts';
import type { Store } from '../store/store.ts';
import { ISO_TIME_FORMS, parseIsoTimeMs } from '../store/iso-time.ts';
import type { Document } from '../store/types.ts';

const AS_OF_FORMS = `a log index (sequence: up to 15 digits) or ${ISO_TIME_FORMS}`;

/** `asOf`: a log index (digits) or an ISO-8601 time; anything else is 400 BAD_REQUEST. */
export function parseAsOf(raw: string): AsOf {
  if (/^[0-9]{1,15}$/.test(raw)) return { sequence: Number(raw) };
  const timeMs = parseIsoTimeMs(raw);
  if (Number.isNaN(timeMs)) throw new BadRequestError(`asOf: must be ${AS_OF_FORMS}`);
  return { timeMs };
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
