// Keyset pagination: a cursor is the position of the last document of a page in the query's
// total order (its sort values, then `_id`: sort.ts), as base64url JSON. The next page is
// the documents after that position, so a document inserted or removed meanwhile shifts
// nothing: no page repeats or skips a document that stayed (unlike `skip`).
//
// Opaque to callers, but not a secret: a cursor someone wrote by hand is only a position,
// checked like any input (its shape, and that it was made for the same sort), 400 otherwise.
import { BadRequestError } from './errors.ts';
import { ID_BYTES_MAX } from './id-limit.ts';
import { compareValues } from './key-order.ts';
import { sortValue, type SortKey } from './sort.ts';
import type { Document, JsonValue } from './types.ts';

/** A cursor's length, at most (characters of base64url): a sort value may be a long string. */
export const CURSOR_CHARS_MAX = 16 * 1024;
const CURSOR_VERSION = 1;

export interface CursorPosition {
  /** The last document's sort values, one per sort key. */
  readonly values: readonly JsonValue[];
  readonly id: string;
}

interface CursorJson {
  v: number;
  s: Array<[string, 1 | -1]>;
  k: JsonValue[];
  i: string;
}

function sortShape(keys: readonly SortKey[]): Array<[string, 1 | -1]> {
  return keys.map((k) => [k.path, k.dir]);
}

/** The cursor of the page that ends with `doc`. */
export function cursorAfter(doc: Document, keys: readonly SortKey[]): string {
  const json: CursorJson = { v: CURSOR_VERSION, s: sortShape(keys), k: keys.map((k) => sortValue(doc, k)), i: doc._id };
  return Buffer.from(JSON.stringify(json), 'utf8').toString('base64url');
}

function refuse(name: string, why: string): BadRequestError {
  return new BadRequestError(`${name}: not a cursor of this query (${why}); start again without it`);
}

/** The position a cursor holds; BAD_REQUEST for anything this server would not have issued
 * for a query with these sort keys. */
export function parseCursor(raw: unknown, keys: readonly SortKey[], name = 'cursor'): CursorPosition {
  if (typeof raw !== 'string' || raw.length === 0) throw refuse(name, 'must be a non-empty string');
  if (raw.length > CURSOR_CHARS_MAX) throw refuse(name, `longer than CURSOR_CHARS_MAX (${CURSOR_CHARS_MAX} characters)`);
  if (!/^[A-Za-z0-9_-]+$/.test(raw)) throw refuse(name, 'not base64url');
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw refuse(name, 'undecodable');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw refuse(name, 'undecodable');
  const { v, s, k, i } = json as Partial<CursorJson>;
  if (v !== CURSOR_VERSION) throw refuse(name, 'unknown version');
  if (JSON.stringify(s) !== JSON.stringify(sortShape(keys))) throw refuse(name, 'made for another sort');
  if (!Array.isArray(k) || k.length !== keys.length) throw refuse(name, 'wrong number of sort values');
  if (typeof i !== 'string' || i.length === 0 || Buffer.byteLength(i, 'utf8') > ID_BYTES_MAX) throw refuse(name, 'bad _id');
  return { values: k, id: i };
}

/** True when `doc` comes after `position` in the order of `keys` (then `_id` ascending). */
export function isAfter(doc: Document, position: CursorPosition, keys: readonly SortKey[]): boolean {
  for (let n = 0; n < keys.length; n++) {
    const key = keys[n]!;
    const c = compareValues(sortValue(doc, key), position.values[n]);
    if (c !== 0) return key.dir === 1 ? c > 0 : c < 0;
  }
  return doc._id > position.id;
}
