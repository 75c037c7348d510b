// What every validator of the store shares: the error with the path at fault, path
// joining, plain-object and operator-object tests, the checks of keys and strings, and
// field paths.

import { ValidationError } from './errors.ts';

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** A non-empty plain object whose first key starts with "$": `{ $gt: 1 }`, `{ $each: [...] }`. */
export function isOperatorObject(v: unknown): v is Record<string, unknown> {
  if (!isPlainObject(v)) return false;
  const keys = Object.keys(v);
  return keys.length > 0 && keys[0]!.charCodeAt(0) === 36;
}

/** Throws the ValidationError of every validator: its message starts with the path at fault. */
export function fail(path: string, message: string): never {
  throw new ValidationError(`${path === '' ? '(root)' : path}: ${message}`);
}

export function joinPath(base: string, key: string | number): string {
  return base === '' ? String(key) : `${base}.${key}`;
}

// ES2024 (Node 20 has it; the project's lib is ES2022).
interface WellFormed {
  isWellFormed(): boolean;
}

/** False for a string with a lone surrogate: not valid Unicode, and not stored as it
 * is (the log's UTF-8 turns it into U+FFFD), so the node that proposed a write would
 * hold a different string than every replica that decodes it. */
export function isWellFormed(s: string): boolean {
  return (s as unknown as WellFormed).isWellFormed();
}

export const NOT_WELL_FORMED = 'string is not valid Unicode (it holds a lone surrogate)';

/** Strings already found fine, remembered because they repeat (document keys, collection
 * names) and one lookup costs less than the checks. Bounded: cleared when full, it only
 * ever saves time. */
export class CheckedStrings {
  private readonly seen = new Set<string>();
  has(s: string): boolean {
    return this.seen.has(s);
  }
  add(s: string): void {
    if (this.seen.size >= 4096) this.seen.clear();
    this.seen.add(s);
  }
}

const GOOD_KEYS = new CheckedStrings();

/** Why a document key is refused, or undefined when it is fine. */
export function badKeyReason(key: string): string | undefined {
  if (GOOD_KEYS.has(key)) return undefined;
  if (key.charCodeAt(0) === 36) return `key "${key}" may not start with "$"`;
  if (FORBIDDEN_KEYS.has(key)) return `key "${key}" is not allowed`;
  if (key.indexOf('\0') !== -1) return 'keys may not contain NUL';
  if (!isWellFormed(key)) return `key ${JSON.stringify(key)}: ${NOT_WELL_FORMED}`;
  GOOD_KEYS.add(key);
  return undefined;
}

/** Validates a dotted field path (filters, updates, sort, projection, indexes) and returns its segments. */
export function validateFieldPath(path: unknown, where: string): string[] {
  if (typeof path !== 'string' || path.length === 0) fail(where, 'field path must be a non-empty string');
  const segs = path.split('.');
  for (const seg of segs) {
    if (seg.length === 0) fail(joinPath(where, path), 'empty path segment');
    const reason = badKeyReason(seg);
    if (reason !== undefined) fail(joinPath(where, path), reason);
  }
  return segs;
}

/** Validates a sort spec's entries `{path: 1|-1, ...}` (find options, `$push`'s `$sort`). */
export function validateSortDirections(spec: Record<string, unknown>, path: string): void {
  for (const k of Object.keys(spec)) {
    validateFieldPath(k, path);
    if (spec[k] !== 1 && spec[k] !== -1) fail(joinPath(path, k), 'sort direction must be 1 or -1');
  }
}
