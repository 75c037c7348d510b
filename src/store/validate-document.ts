// Validation of documents and JSON values. Documents are validated while they are copied
// (copyDocument), so an insert walks the input once: check, copy, normalise (-0 becomes
// 0), deep-freeze.

import { assert } from '../assert.ts';
import { ID_BYTES_MAX, idBytesOverMax } from './id-limit.ts';
import { DEFAULT_LIMITS, type Document, type JsonObject, type JsonValue, type Limits } from './types.ts';
import { NOT_WELL_FORMED, badKeyReason, fail, isPlainObject, isWellFormed, joinPath } from './validate-common.ts';

/**
 * Keys in one document, at most, counting every level and an array's items as keys. Every
 * update of a document copies it whole (on every replica, in one piece): 75,000 keys, which
 * fit in 1 MiB, cost over 100 ms per update; 10,000 keep it near 15 ms (issue #11).
 */
export const DOCUMENT_KEYS_MAX = 10_000;

/**
 * Validates a JSON value and returns a deep-frozen copy. The current path is
 * kept on a stack and only joined into a string when reporting an error.
 */
class JsonCopier {
  private readonly stack: Array<string | number> = [];
  /** An upper bound of the copied value's JSON size in UTF-8 bytes (a string unit is at
   * most 6 bytes, as a \u escape of four hex digits), so that small documents need no JSON.stringify to be measured. */
  bytesBound = 0;
  /** Keys and array items copied so far (DOCUMENT_KEYS_MAX). */
  keys = 0;
  constructor(
    private maxDepth: number,
    private readonly basePath: string,
    /** false: only validate, returning the input as it is (no allocation). */
    private readonly copying = true,
  ) {}

  /** Ready for a new document (the copier of documents is reused: one per call would be
   * an allocation per write). A throw may have left the stack half full. */
  reset(maxDepth: number): this {
    this.maxDepth = maxDepth;
    this.stack.length = 0;
    this.bytesBound = 0;
    this.keys = 0;
    return this;
  }

  /** Counts `n` more keys (or array items) of the document being copied. */
  countKeys(n: number, path: () => string): void {
    this.keys += n;
    if (this.keys > DOCUMENT_KEYS_MAX) fail(path(), `more than ${DOCUMENT_KEYS_MAX} keys and array items in one document (DOCUMENT_KEYS_MAX)`);
  }

  private path(extra?: string): string {
    let p = this.basePath;
    for (const s of this.stack) p = joinPath(p, s);
    return extra === undefined ? p : joinPath(p, extra);
  }

  /** Copies the value of a top-level document field (depth 2). */
  copyField(v: unknown, key: string): JsonValue {
    this.stack.push(key);
    const out = this.copy(v, 2);
    this.stack.pop();
    return out;
  }

  copy(v: unknown, depth: number): JsonValue {
    switch (typeof v) {
      case 'string':
        if (!isWellFormed(v)) fail(this.path(), NOT_WELL_FORMED);
        this.bytesBound += 6 * v.length + 3;
        return v;
      case 'boolean':
        this.bytesBound += 6;
        return v;
      case 'number':
        if (!Number.isFinite(v)) fail(this.path(), `number ${v} is not a JSON value`);
        this.bytesBound += 25;
        return v === 0 ? 0 : v; // normalises -0
      case 'object': {
        this.bytesBound += 5;
        if (v === null) return null;
        if (depth > this.maxDepth) fail(this.path(), `nesting deeper than ${this.maxDepth} levels`);
        if (Array.isArray(v)) {
          const n = v.length;
          this.countKeys(n, () => this.path());
          const out: JsonValue[] | null = this.copying ? new Array<JsonValue>(n) : null;
          for (let i = 0; i < n; i++) {
            if (!(i in v)) fail(this.path(String(i)), 'sparse arrays are not JSON');
            this.stack.push(i);
            const item = this.copy(v[i], depth + 1);
            if (out !== null) out[i] = item;
            this.stack.pop();
          }
          return out === null ? (v as JsonValue[]) : (Object.freeze(out) as JsonValue[]);
        }
        if (!isPlainObject(v)) {
          const what = (v as object).constructor?.name ?? 'object';
          fail(this.path(), `${what} is not a JSON value (only plain objects, arrays, strings, finite numbers, booleans and null)`);
        }
        const out: JsonObject | null = this.copying ? {} : null;
        const keys = Object.keys(v);
        this.countKeys(keys.length, () => this.path());
        for (const key of keys) {
          const reason = badKeyReason(key);
          if (reason !== undefined) fail(this.path(key), reason);
          this.bytesBound += 6 * key.length + 4;
          this.stack.push(key);
          const value = this.copy(v[key], depth + 1);
          if (out !== null) out[key] = value;
          this.stack.pop();
        }
        return out === null ? (v as JsonObject) : Object.freeze(out);
      }
      default:
        return fail(this.path(), `${typeof v} is not a JSON value`);
    }
  }
}

/** Reused by copyValidDocument (one per document would be an allocation per write). */
const DOCUMENT_COPIER = new JsonCopier(DEFAULT_LIMITS.maxDepth, '');
let documentCopierBusy = false;

/** Validates a JSON value (any depth up to maxDepth) and returns a frozen copy. */
export function copyJsonValue(v: unknown, path: string, maxDepth: number = DEFAULT_LIMITS.maxDepth): JsonValue {
  return new JsonCopier(maxDepth, path).copy(v, 1);
}

export function validateId(id: unknown, path = '_id'): asserts id is string {
  if (typeof id !== 'string') fail(path, `must be a string, got ${id === null ? 'null' : typeof id}`);
  if (id.length === 0) fail(path, 'must not be empty');
  if (idBytesOverMax(id)) fail(path, `longer than ${ID_BYTES_MAX} bytes`);
  if (id.indexOf('\0') !== -1) fail(path, 'must not contain NUL');
  if (!isWellFormed(id)) fail(path, NOT_WELL_FORMED);
}

/**
 * Validates a user document and returns the frozen stored form
 * `{ _id, _rev: rev, ...fields }`. A user-supplied `_rev` is dropped.
 */
export function copyDocument(doc: unknown, limits: Limits, rev: number): Document {
  return copyValidDocument(doc, limits, rev, undefined) as Document;
}

/**
 * Validates a document about to be written and returns a frozen deep copy
 * `{ _id, ...fields }` (`_id` is `id` when given; a user `_rev` is dropped). The
 * write carries the copy, so the caller changing its object afterwards cannot reach it.
 */
export function copyNewDocument(doc: unknown, limits: Limits, id?: string): JsonObject {
  return copyValidDocument(doc, limits, undefined, id);
}

function copyValidDocument(doc: unknown, limits: Limits, rev: number | undefined, id: string | undefined): JsonObject {
  // A getter on the caller's object could copy another document meanwhile: then this one
  // takes a copier of its own.
  if (documentCopierBusy) return copyValidDocumentWith(new JsonCopier(limits.maxDepth, ''), doc, limits, rev, id);
  documentCopierBusy = true;
  try {
    return copyValidDocumentWith(DOCUMENT_COPIER.reset(limits.maxDepth), doc, limits, rev, id);
  } finally {
    documentCopierBusy = false;
  }
}

function copyValidDocumentWith(copier: JsonCopier, doc: unknown, limits: Limits, rev: number | undefined, id: string | undefined): JsonObject {
  if (!isPlainObject(doc)) fail('(document)', 'a document must be a plain object');
  const _id = id ?? doc['_id'];
  validateId(_id);
  const out: Record<string, JsonValue> = rev === undefined ? { _id } : { _id, _rev: rev };
  const keys = Object.keys(doc);
  copier.countKeys(keys.length, () => '(document)');
  for (const key of keys) {
    if (key === '_id' || key === '_rev') continue;
    const reason = badKeyReason(key);
    if (reason !== undefined) fail(key, reason);
    copier.bytesBound += 6 * key.length + 4;
    out[key] = copier.copyField(doc[key], key);
  }
  // `_id` and braces: a generous constant plus the id's own bound.
  const bound = copier.bytesBound + 6 * _id.length + 64;
  // Only documents that might be over the limit are measured exactly. The size is that of
  // `{_id, ...fields}` without `_rev`: a write checked before it has a log index must get
  // the same answer as when it is applied at whatever index.
  if (bound > limits.maxDocumentBytes) {
    const revText = rev === undefined ? 0 : `"_rev":${rev},`.length;
    const bytes = Buffer.byteLength(JSON.stringify(out), 'utf8') - revText;
    if (bytes > limits.maxDocumentBytes) {
      fail('(document)', `document is ${bytes} bytes, more than the limit of ${limits.maxDocumentBytes}`);
    }
  }
  return Object.freeze(out);
}

/**
 * The stored form `{ _id, _rev: rev, ...fields }` of a document that copyNewDocument
 * returned under the same limits: its fields are validated and frozen already, so they
 * are shared, not copied again. (copyDocument on the same document gives an equal result.)
 */
export function withRevision(doc: JsonObject, rev: number): Document {
  const _id = doc['_id'];
  assert(typeof _id === 'string', 'withRevision: the document was not made by copyNewDocument (no string _id)');
  const out: Record<string, JsonValue> = { _id, _rev: rev };
  for (const key of Object.keys(doc)) {
    if (key !== '_id') out[key] = doc[key]!;
  }
  return Object.freeze(out) as Document;
}

/** Throws ValidationError when doc is not a valid document under limits: the same checks
 * as copyDocument, without building the copy (writes validate before they reach the log,
 * and the store copies once when it applies them). */
export function validateDocument(doc: unknown, limits: Limits = DEFAULT_LIMITS): void {
  if (!isPlainObject(doc)) fail('(document)', 'a document must be a plain object');
  validateId(doc['_id']);
  const checker = new JsonCopier(limits.maxDepth, '', false);
  const keys = Object.keys(doc);
  checker.countKeys(keys.length, () => '(document)');
  for (const key of keys) {
    if (key === '_id' || key === '_rev') continue;
    const reason = badKeyReason(key);
    if (reason !== undefined) fail(key, reason);
    checker.bytesBound += 6 * key.length + 4;
    checker.copyField(doc[key], key);
  }
  // Possibly over the size limit: measure exactly, as the store will.
  if (checker.bytesBound + 6 * (doc['_id'] as string).length + 64 > limits.maxDocumentBytes) copyDocument(doc, limits, 0);
}

/** Narrowing helper for JSON-object-shaped values. */
export function asJsonObject(v: unknown, path: string): JsonObject {
  if (!isPlainObject(v)) fail(path, 'must be a plain object');
  return v as JsonObject;
}
