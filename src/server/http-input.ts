// Parsing of what arrives outside the JSON body: query-string parameters,
// JSON inside query strings, If-Match, and the shape of body objects. Every
// failure is a 400 naming the parameter at fault.
import { REQUEST_VALUES_MAX } from '../store/commands.ts';
import { BadRequestError, StoreError, ValidationError } from '../store/errors.ts';
import { isPlainObject } from '../store/validate.ts';
import type { ReadConsistency } from '../node/backend.ts';

/** Largest `limit` a query accepts: bounds a single response. */
export const MAX_QUERY_LIMIT = 100_000;
/** Bound on the length of one query-string JSON value. */
const MAX_QUERY_JSON_CHARS = 64 * 1024;
const FORBIDDEN_JSON_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const CONSISTENCY_LEVELS: ReadonlySet<string> = new Set(['linearizable', 'lease', 'local']);

/** The query string as single string values, refusing unknown and repeated parameters. */
export function queryParams<K extends string>(query: unknown, allowed: readonly K[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  if (query === undefined || query === null) return out;
  if (typeof query !== 'object') throw new BadRequestError('query string could not be parsed');
  for (const key of Object.keys(query)) {
    if (!(allowed as readonly string[]).includes(key)) {
      throw new BadRequestError(`unknown query parameter "${key}" (allowed: ${allowed.join(', ') || 'none'})`);
    }
    const value: unknown = (query as Record<string, unknown>)[key];
    if (typeof value !== 'string') throw new BadRequestError(`query parameter "${key}" must be given once`);
    out[key as K] = value;
  }
  return out;
}

/** JSON from a query-string parameter; prototype-polluting keys are refused outright. */
export function parseJsonParam(raw: string, name: string): unknown {
  if (raw.length > MAX_QUERY_JSON_CHARS) throw new BadRequestError(`${name}: longer than ${MAX_QUERY_JSON_CHARS} characters`);
  return parseJson(raw, name);
}

/** A request body sent as application/json (the server's body limit applies before this). */
export function parseJsonBody(raw: string): unknown {
  if (raw.length === 0) throw new BadRequestError('body: empty, but the Content-Type is application/json');
  return parseJson(raw, 'body', REQUEST_VALUES_MAX);
}

/**
 * JSON.parse, after one pass over the text that counts its values (at most `valuesMax`,
 * else 413 naming REQUEST_VALUES_MAX) and refuses "__proto__", "constructor" and
 * "prototype" keys with a ValidationError naming them (JSON.parse makes them own keys, not
 * prototypes, but code that copies objects with assignment would not). The pass is what
 * bounds the parse: JSON.parse cannot be cut into slices, and its time grows with the
 * number of values (16 MiB of small keys took 1.3 s with a reviver doing the key check).
 */
function parseJson(raw: string, name: string, valuesMax: number = Number.MAX_SAFE_INTEGER): unknown {
  scanJson(raw, name, valuesMax);
  try {
    return JSON.parse(raw) as unknown;
  } catch (e) {
    throw new BadRequestError(`${name}: not valid JSON (${(e as Error).message})`);
  }
}

/** Counts values (an upper bound: commas and opening brackets outside strings, plus one)
 * and checks every object key against FORBIDDEN_JSON_KEYS. Malformed text is left to
 * JSON.parse, which reports it. */
function scanJson(raw: string, name: string, valuesMax: number): void {
  let values = 1;
  const n = raw.length;
  for (let i = 0; i < n; i++) {
    const c = raw.charCodeAt(i);
    if (c === 34) {
      const start = i;
      let end = raw.indexOf('"', i + 1);
      while (end !== -1 && escapedAt(raw, end)) end = raw.indexOf('"', end + 1);
      if (end === -1) return; // unterminated: JSON.parse says so
      i = end;
      checkKey(raw, start, end, name);
    } else if (c === 44 || c === 91 || c === 123) {
      if (++values > valuesMax) {
        throw new StoreError(
          'PAYLOAD_TOO_LARGE',
          `${name}: more than ${valuesMax} JSON values (REQUEST_VALUES_MAX); send fewer or smaller documents per request`,
        );
      }
    }
  }
}

/** Whether the quote at `at` is escaped (an odd number of backslashes before it). */
function escapedAt(raw: string, at: number): boolean {
  let k = at - 1;
  while (k >= 0 && raw.charCodeAt(k) === 92) k--;
  return (at - 1 - k) % 2 === 1;
}

/** The string from quote `start` to quote `end`: when it is a key (a colon follows), it
 * must not be one of FORBIDDEN_JSON_KEYS, escaped or not. */
function checkKey(raw: string, start: number, end: number, name: string): void {
  const length = end - start - 1;
  // "__proto__" and "prototype" have 9 characters, "constructor" 11; escaped, at most 6 each.
  if (length < 9 || length > 66) return;
  const escaped = raw.slice(start + 1, end).includes('\\');
  if (!escaped && length !== 9 && length !== 11) return;
  let j = end + 1;
  while (j < raw.length && isJsonSpace(raw.charCodeAt(j))) j++;
  if (raw.charCodeAt(j) !== 58) return;
  let key: string;
  if (escaped) {
    try {
      key = JSON.parse(raw.slice(start, end + 1)) as string;
    } catch {
      return; // a bad escape: JSON.parse reports it
    }
  } else {
    key = raw.slice(start + 1, end);
  }
  if (FORBIDDEN_JSON_KEYS.has(key)) throw new ValidationError(`${name}: key "${key}" is not allowed`);
}

function isJsonSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

/** A non-negative decimal integer no larger than max. */
export function parseNonNegativeInt(raw: string, name: string, max: number = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d{1,16}$/.test(raw)) throw new BadRequestError(`${name} must be a non-negative integer`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n > max) throw new BadRequestError(`${name} must be at most ${max}`);
  return n;
}

/** `fields=a,b.c` → an inclusion projection; a path with a "__proto__", "constructor" or
 * "prototype" segment is refused (400 VALIDATION naming it), never silently dropped. */
export function parseFields(raw: string): Record<string, 1> {
  const projection: Record<string, 1> = {};
  for (const part of raw.split(',')) {
    const path = part.trim();
    if (path === '') throw new BadRequestError('fields: empty field name');
    const forbidden = path.split('.').find((segment) => FORBIDDEN_JSON_KEYS.has(segment));
    if (forbidden !== undefined) throw new ValidationError(`fields: ${JSON.stringify(path)}: key "${forbidden}" is not allowed`);
    projection[path] = 1;
  }
  return projection;
}

export function parseConsistency(raw: unknown, name = 'consistency'): ReadConsistency {
  if (raw === undefined) return 'linearizable';
  if (typeof raw !== 'string' || !CONSISTENCY_LEVELS.has(raw)) {
    throw new BadRequestError(`${name} must be one of linearizable, lease, local`);
  }
  return raw as ReadConsistency;
}

/** `If-Match: "17"`, `17` or `W/"17"` → 17; absent → undefined; anything else → 400. */
export function parseIfMatch(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) throw new BadRequestError('If-Match must be given once');
  const match = /^(?:W\/)?(?:"(\d{1,16})"|(\d{1,16}))$/.exec(header.trim());
  const digits = match?.[1] ?? match?.[2];
  if (digits === undefined) throw new BadRequestError(`If-Match must be a document _rev such as "17", got ${JSON.stringify(header.slice(0, 64))}`);
  const rev = Number(digits);
  if (!Number.isSafeInteger(rev)) throw new BadRequestError('If-Match: _rev out of range');
  return rev;
}

/** The body as a plain object with only the allowed keys (undefined body: {} unless required). */
export function bodyObject(body: unknown, allowed: readonly string[], required = false): Record<string, unknown> {
  if (body === undefined && !required) return {};
  if (!isPlainObject(body)) throw new BadRequestError('the body must be a JSON object');
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) throw new BadRequestError(`unknown body field "${key}" (allowed: ${allowed.join(', ')})`);
  }
  return body;
}

export function optionalBoolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new ValidationError(`${name}: must be a boolean`);
  return value;
}

/** A `limit`/`skip` from a JSON body: a non-negative integer, limit capped. */
export function optionalCount(value: unknown, name: string, max: number = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw new ValidationError(`${name}: must be a non-negative integer`);
  if ((value as number) > max) throw new ValidationError(`${name}: must be at most ${max}`);
  return value as number;
}
