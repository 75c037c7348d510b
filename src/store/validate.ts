// Validation of everything that enters the store: documents, filters, update
// specs, find options and whole commands (which may arrive from the network or
// the log). Every failure is a ValidationError whose message starts with the
// path of the field at fault.
//
// Documents are validated while they are copied (copyDocument), so an insert
// walks the input once: check, copy, normalise (-0 becomes 0), deep-freeze.

import { ValidationError } from './errors.ts';
import {
  MAX_BATCH_DOCS,
  MAX_INDEX_FIELDS,
  MAX_TX_OPS,
  MAX_BATCH_OPS,
  MAX_TX_PRECONDITIONS,
  type Command,
  type Precondition,
  type TxOp,
} from './commands.ts';
import { DEFAULT_LIMITS, type Document, type FindOptions, type JsonObject, type JsonValue, type Limits } from './types.ts';

export const MAX_ID_BYTES = 512;
export const MAX_COLLECTION_NAME_LENGTH = 128;
export const MAX_SORT_FIELDS = 32;
export const MAX_IN_VALUES = 100_000;

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const COLLECTION_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function fail(path: string, message: string): never {
  throw new ValidationError(`${path === '' ? '(root)' : path}: ${message}`);
}

function joinPath(base: string, key: string | number): string {
  return base === '' ? String(key) : `${base}.${key}`;
}

// ES2024 (Node 20 has it; the project's lib is ES2022).
interface WellFormed {
  isWellFormed(): boolean;
}

/** False for a string with a lone surrogate: not valid Unicode, and not stored as it
 * is (the log's UTF-8 turns it into U+FFFD), so the node that proposed a write would
 * hold a different string than every replica that decodes it. */
function isWellFormed(s: string): boolean {
  return (s as unknown as WellFormed).isWellFormed();
}

const NOT_WELL_FORMED = 'string is not valid Unicode (it holds a lone surrogate)';

/** Strings already found fine, remembered because they repeat (document keys, collection
 * names) and one lookup costs less than the checks. Bounded: cleared when full, it only
 * ever saves time. */
class CheckedStrings {
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
function badKeyReason(key: string): string | undefined {
  if (GOOD_KEYS.has(key)) return undefined;
  if (key.charCodeAt(0) === 36) return `key "${key}" may not start with "$"`;
  if (FORBIDDEN_KEYS.has(key)) return `key "${key}" is not allowed`;
  if (key.indexOf('\0') !== -1) return 'keys may not contain NUL';
  if (!isWellFormed(key)) return `key ${JSON.stringify(key)}: ${NOT_WELL_FORMED}`;
  GOOD_KEYS.add(key);
  return undefined;
}

// ---------------------------------------------------------------------------
// JSON values and documents

/**
 * Validates a JSON value and returns a deep-frozen copy. The current path is
 * kept on a stack and only joined into a string when reporting an error.
 */
class JsonCopier {
  private readonly stack: Array<string | number> = [];
  /** An upper bound of the copied value's JSON size in UTF-8 bytes (a string unit is at
   * most 6 bytes, as a \u escape of four hex digits), so that small documents need no JSON.stringify to be measured. */
  bytesBound = 0;
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
    return this;
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
        for (const key of Object.keys(v)) {
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

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

export function validateId(id: unknown, path = '_id'): asserts id is string {
  if (typeof id !== 'string') fail(path, `must be a string, got ${id === null ? 'null' : typeof id}`);
  if (id.length === 0) fail(path, 'must not be empty');
  if (id.length > MAX_ID_BYTES / 3 && byteLength(id) > MAX_ID_BYTES) fail(path, `longer than ${MAX_ID_BYTES} bytes`);
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
  for (const key of Object.keys(doc)) {
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
    const bytes = byteLength(JSON.stringify(out)) - revText;
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
  const out: Record<string, JsonValue> = { _id: doc['_id']!, _rev: rev };
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
  for (const key of Object.keys(doc)) {
    if (key === '_id' || key === '_rev') continue;
    const reason = badKeyReason(key);
    if (reason !== undefined) fail(key, reason);
    checker.bytesBound += 6 * key.length + 4;
    checker.copyField(doc[key], key);
  }
  // Possibly over the size limit: measure exactly, as the store will.
  if (checker.bytesBound + 6 * (doc['_id'] as string).length + 64 > limits.maxDocumentBytes) copyDocument(doc, limits, 0);
}

// ---------------------------------------------------------------------------
// Paths

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

// ---------------------------------------------------------------------------
// Filters

const COMPARISON_OPS = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte']);
const LOGICAL_OPS = new Set(['$and', '$or', '$nor']);

/** Validates a query filter: known operators only, JSON values, safe keys. */
export function validateFilter(filter: unknown, path = 'filter', depth = 1): void {
  if (depth > DEFAULT_LIMITS.maxDepth) fail(path, 'filter nested too deeply');
  if (!isPlainObject(filter)) fail(path, 'filter must be a plain object');
  for (const key of Object.keys(filter)) {
    const value = filter[key];
    const here = joinPath(path, key);
    if (key.charCodeAt(0) === 36) {
      if (!LOGICAL_OPS.has(key)) fail(here, `unknown or unsupported query operator ${key}`);
      if (!Array.isArray(value) || value.length === 0) fail(here, `${key} takes a non-empty array of filters`);
      value.forEach((sub, i) => validateFilter(sub, joinPath(here, i), depth + 1));
      continue;
    }
    validateFieldPath(key, path);
    validateCondition(value, here, depth + 1);
  }
}

function isOperatorObject(v: unknown): v is Record<string, unknown> {
  if (!isPlainObject(v)) return false;
  const keys = Object.keys(v);
  return keys.length > 0 && keys[0]!.charCodeAt(0) === 36;
}

function validateCondition(value: unknown, path: string, depth: number): void {
  if (depth > DEFAULT_LIMITS.maxDepth) fail(path, 'filter nested too deeply');
  if (!isOperatorObject(value)) {
    copyJsonValue(value, path); // a literal to compare for equality
    return;
  }
  for (const op of Object.keys(value)) {
    const here = joinPath(path, op);
    const arg = value[op];
    if (op.charCodeAt(0) !== 36) fail(here, 'cannot mix query operators and fields in one object');
    if (COMPARISON_OPS.has(op)) {
      copyJsonValue(arg, here);
      continue;
    }
    switch (op) {
      case '$in':
      case '$nin':
      case '$all':
        if (!Array.isArray(arg)) fail(here, `${op} takes an array`);
        if (arg.length > MAX_IN_VALUES) fail(here, `${op} takes at most ${MAX_IN_VALUES} values`);
        copyJsonValue(arg, here);
        break;
      case '$exists':
        if (typeof arg !== 'boolean' && arg !== 0 && arg !== 1) fail(here, '$exists takes a boolean');
        break;
      case '$type': {
        const types = Array.isArray(arg) ? arg : [arg];
        if (types.length === 0) fail(here, '$type takes a type name or number');
        for (const t of types) if (typeof t !== 'string' && typeof t !== 'number') fail(here, '$type takes a type name or number');
        break;
      }
      case '$size':
        if (!Number.isSafeInteger(arg) || (arg as number) < 0) fail(here, '$size takes a non-negative integer');
        break;
      case '$mod':
        if (!Array.isArray(arg) || arg.length !== 2 || !arg.every((n) => typeof n === 'number' && Number.isFinite(n)) || arg[0] === 0) {
          fail(here, '$mod takes [divisor, remainder] with a non-zero divisor');
        }
        break;
      case '$regex': {
        if (typeof arg !== 'string') fail(here, '$regex takes a string pattern');
        const options = value['$options'];
        if (options !== undefined && (typeof options !== 'string' || !/^[imsu]*$/.test(options))) {
          fail(joinPath(path, '$options'), '$options may only contain the flags i, m, s, u');
        }
        try {
          new RegExp(arg, (options as string | undefined) ?? '');
        } catch (e) {
          fail(here, `invalid regular expression: ${(e as Error).message}`);
        }
        break;
      }
      case '$options':
        if (!('$regex' in value)) fail(here, '$options requires $regex');
        break;
      case '$not':
        if (!isOperatorObject(arg)) fail(here, '$not takes an operator object');
        validateCondition(arg, here, depth + 1);
        break;
      case '$elemMatch':
        if (!isPlainObject(arg)) fail(here, '$elemMatch takes an object');
        if (isOperatorObject(arg)) validateCondition(arg, here, depth + 1);
        else validateFilter(arg, here, depth + 1);
        break;
      default:
        fail(here, `unknown or unsupported query operator ${op}`);
    }
  }
}

// ---------------------------------------------------------------------------
// Updates

export const UPDATE_OPERATORS = new Set([
  '$set',
  '$unset',
  '$inc',
  '$mul',
  '$min',
  '$max',
  '$push',
  '$pull',
  '$addToSet',
  '$rename',
  '$pop',
  '$pullAll',
]);

/** Validates an update spec: operators only (a whole-document replacement is a `replace` command). */
export function validateUpdate(update: unknown, path = 'update'): void {
  if (!isPlainObject(update)) fail(path, 'update must be a plain object of update operators');
  const ops = Object.keys(update);
  if (ops.length === 0) fail(path, 'update has no operators');
  for (const op of ops) {
    const here = joinPath(path, op);
    if (op.charCodeAt(0) !== 36) fail(here, `"${op}" is not an update operator (use a replace to overwrite a document)`);
    if (!UPDATE_OPERATORS.has(op)) fail(here, `unknown or unsupported update operator ${op}`);
    const fields = update[op];
    if (!isPlainObject(fields)) fail(here, `${op} takes an object of field paths`);
    for (const field of Object.keys(fields)) {
      const segs = validateFieldPath(field, here);
      const fieldPath = joinPath(here, field);
      if (segs[0] === '_rev') fail(fieldPath, '_rev is maintained by the store');
      validateUpdateArgument(op, fields[field], fieldPath);
    }
  }
}

function validateUpdateArgument(op: string, arg: unknown, path: string): void {
  switch (op) {
    case '$inc':
    case '$mul':
      if (typeof arg !== 'number' || !Number.isFinite(arg)) fail(path, `${op} takes a finite number`);
      return;
    case '$rename':
      validateFieldPath(arg, path);
      if ((arg as string).split('.')[0] === '_rev') fail(path, '_rev is maintained by the store');
      return;
    case '$pop':
      if (arg !== 1 && arg !== -1) fail(path, '$pop takes 1 or -1');
      return;
    case '$pullAll':
      if (!Array.isArray(arg)) fail(path, '$pullAll takes an array');
      copyJsonValue(arg, path);
      return;
    case '$pull':
      if (isOperatorObject(arg)) validateCondition(arg, path, 2);
      else if (isPlainObject(arg)) validateFilter(arg, path, 2);
      else copyJsonValue(arg, path);
      return;
    case '$push':
    case '$addToSet':
      if (isOperatorObject(arg)) {
        validateEachModifiers(op, arg, path);
        return;
      }
      copyJsonValue(arg, path);
      return;
    default:
      copyJsonValue(arg, path);
  }
}

function validateEachModifiers(op: string, arg: Record<string, unknown>, path: string): void {
  const allowed = op === '$push' ? ['$each', '$slice', '$sort', '$position'] : ['$each'];
  if (!('$each' in arg)) fail(path, `${op} modifiers require $each`);
  for (const mod of Object.keys(arg)) {
    const here = joinPath(path, mod);
    if (!allowed.includes(mod)) fail(here, `unknown ${op} modifier ${mod}`);
    const v = arg[mod];
    switch (mod) {
      case '$each':
        if (!Array.isArray(v)) fail(here, '$each takes an array');
        copyJsonValue(v, here);
        break;
      case '$slice':
      case '$position':
        if (!Number.isSafeInteger(v)) fail(here, `${mod} takes an integer`);
        break;
      case '$sort':
        if (v === 1 || v === -1) break;
        if (!isPlainObject(v) || Object.keys(v).length === 0) fail(here, '$sort takes 1, -1 or {path: 1|-1}');
        for (const k of Object.keys(v)) {
          validateFieldPath(k, here);
          if (v[k] !== 1 && v[k] !== -1) fail(joinPath(here, k), 'sort direction must be 1 or -1');
        }
        break;
    }
  }
}

// ---------------------------------------------------------------------------
// Find options

export function validateFindOptions(options: unknown, path = 'options'): asserts options is FindOptions {
  if (options === undefined) return;
  if (!isPlainObject(options)) fail(path, 'options must be an object');
  for (const key of Object.keys(options)) {
    const v = options[key];
    const here = joinPath(path, key);
    switch (key) {
      case 'sort': {
        if (v === undefined) break;
        if (!isPlainObject(v)) fail(here, 'sort must be an object of {path: 1|-1}');
        const keys = Object.keys(v);
        if (keys.length > MAX_SORT_FIELDS) fail(here, `at most ${MAX_SORT_FIELDS} sort fields`);
        for (const k of keys) {
          validateFieldPath(k, here);
          if (v[k] !== 1 && v[k] !== -1) fail(joinPath(here, k), 'sort direction must be 1 or -1');
        }
        break;
      }
      case 'skip':
      case 'limit':
        if (v === undefined) break;
        if (!Number.isSafeInteger(v) || (v as number) < 0) fail(here, `${key} must be a non-negative integer`);
        break;
      case 'projection': {
        if (v === undefined) break;
        if (!isPlainObject(v)) fail(here, 'projection must be an object of {path: 0|1}');
        let include = false;
        let exclude = false;
        for (const k of Object.keys(v)) {
          validateFieldPath(k, here);
          const d = v[k];
          if (d !== 0 && d !== 1) fail(joinPath(here, k), 'projection values must be 0 or 1');
          if (k === '_id') continue;
          if (d === 1) include = true;
          else exclude = true;
        }
        if (include && exclude) fail(here, 'projection cannot mix inclusion and exclusion');
        break;
      }
      default:
        fail(here, `unknown find option "${key}"`);
    }
  }
}

// ---------------------------------------------------------------------------
// Commands

const GOOD_COLLECTION_NAMES = new CheckedStrings();

export function validateCollectionName(name: unknown, path = 'collection'): asserts name is string {
  if (typeof name === 'string' && GOOD_COLLECTION_NAMES.has(name)) return;
  if (typeof name !== 'string' || name.length === 0) fail(path, 'collection name must be a non-empty string');
  if (name.length > MAX_COLLECTION_NAME_LENGTH) fail(path, `collection name longer than ${MAX_COLLECTION_NAME_LENGTH}`);
  if (!COLLECTION_NAME.test(name)) {
    fail(path, `invalid collection name "${name}" (letters, digits, "_", "-", "." and not starting with "_", "-" or ".")`);
  }
  GOOD_COLLECTION_NAMES.add(name);
}

function validateRevNumber(v: unknown, path: string): void {
  if (!Number.isSafeInteger(v) || (v as number) < 0) fail(path, 'must be a non-negative integer');
}

function validateBool(v: unknown, path: string): void {
  if (typeof v !== 'boolean') fail(path, 'must be a boolean');
}

export function validateIndexFields(fields: unknown, path = 'fields'): void {
  if (!Array.isArray(fields) || fields.length === 0) fail(path, 'an index needs at least one [path, 1|-1] field');
  if (fields.length > MAX_INDEX_FIELDS) fail(path, `an index has at most ${MAX_INDEX_FIELDS} fields`);
  const seen = new Set<string>();
  fields.forEach((f, i) => {
    const here = joinPath(path, i);
    if (!Array.isArray(f) || f.length !== 2) fail(here, 'an index field is [path, 1|-1]');
    validateFieldPath(f[0], here);
    if (f[1] !== 1 && f[1] !== -1) fail(joinPath(here, 1), 'index direction must be 1 or -1');
    if (seen.has(f[0] as string)) fail(here, `field "${f[0]}" appears twice`);
    seen.add(f[0] as string);
  });
}

function allowedKeys(obj: Record<string, unknown>, keys: readonly string[], path: string): void {
  for (const k of Object.keys(obj)) if (!keys.includes(k)) fail(joinPath(path, k), 'unknown command field');
}

export interface CommandValidationOptions {
  /** Validate document contents too (apply skips this: it validates while copying). */
  documents?: boolean;
  limits?: Limits;
}

/**
 * Shape check for a command from the network or the log. With
 * `documents: true` (the default) documents are fully validated as well.
 */
export function validateCommand(cmd: unknown, options: CommandValidationOptions = {}): asserts cmd is Command {
  validateCommandAt(cmd, 'command', options.documents ?? true, options.limits ?? DEFAULT_LIMITS, false);
}

function validateCommandAt(cmd: unknown, path: string, documents: boolean, limits: Limits, inTx: boolean): void {
  if (!isPlainObject(cmd)) fail(path, 'a command must be a plain object');
  const type = cmd['type'];
  if (inTx && type !== 'insert' && type !== 'update' && type !== 'replace' && type !== 'remove') {
    fail(joinPath(path, 'type'), `a transaction op must be insert, update, replace or remove, not ${String(type)}`);
  }
  switch (type) {
    case 'insert': {
      allowedKeys(cmd, ['type', 'collection', 'docs'], path);
      validateCollectionName(cmd['collection'], joinPath(path, 'collection'));
      const docs = cmd['docs'];
      if (!Array.isArray(docs) || docs.length === 0) fail(joinPath(path, 'docs'), 'must be a non-empty array of documents');
      if (docs.length > MAX_BATCH_DOCS) fail(joinPath(path, 'docs'), `at most ${MAX_BATCH_DOCS} documents per insert`);
      // Without `documents`, the documents are left to whoever copies them (the store
      // validates each while copying it): checking them here too would do it twice.
      if (!documents) return;
      for (let i = 0; i < docs.length; i++) {
        const d: unknown = docs[i];
        if (!isPlainObject(d)) fail(joinPath(joinPath(path, 'docs'), i), 'a document must be a plain object');
        validateId(d['_id'], joinPath(joinPath(joinPath(path, 'docs'), i), '_id'));
        try {
          validateDocument(d, limits);
        } catch (e) {
          if (e instanceof ValidationError) fail(joinPath(joinPath(path, 'docs'), i), e.message);
          throw e;
        }
      }
      return;
    }
    case 'update':
      allowedKeys(cmd, ['type', 'collection', 'filter', 'update', 'multi', 'upsert', 'upsertId', 'ifRev'], path);
      validateCollectionName(cmd['collection'], joinPath(path, 'collection'));
      validateFilter(cmd['filter'], joinPath(path, 'filter'));
      validateUpdate(cmd['update'], joinPath(path, 'update'));
      validateBool(cmd['multi'], joinPath(path, 'multi'));
      validateBool(cmd['upsert'], joinPath(path, 'upsert'));
      if (cmd['upsertId'] !== undefined) validateId(cmd['upsertId'], joinPath(path, 'upsertId'));
      if (cmd['ifRev'] !== undefined) {
        validateRevNumber(cmd['ifRev'], joinPath(path, 'ifRev'));
        if (cmd['multi'] === true) fail(joinPath(path, 'ifRev'), 'ifRev applies to single-document updates only');
      }
      return;
    case 'replace':
      allowedKeys(cmd, ['type', 'collection', 'id', 'doc', 'ifRev', 'upsert'], path);
      validateCollectionName(cmd['collection'], joinPath(path, 'collection'));
      validateId(cmd['id'], joinPath(path, 'id'));
      if (!isPlainObject(cmd['doc'])) fail(joinPath(path, 'doc'), 'a document must be a plain object');
      if (cmd['doc']['_id'] !== undefined && cmd['doc']['_id'] !== cmd['id']) {
        fail(joinPath(joinPath(path, 'doc'), '_id'), 'must equal the id being replaced');
      }
      if (documents) validateDocument({ ...cmd['doc'], _id: cmd['id'] }, limits);
      if (cmd['ifRev'] !== undefined) validateRevNumber(cmd['ifRev'], joinPath(path, 'ifRev'));
      validateBool(cmd['upsert'], joinPath(path, 'upsert'));
      return;
    case 'remove':
      allowedKeys(cmd, ['type', 'collection', 'filter', 'multi', 'ifRev'], path);
      validateCollectionName(cmd['collection'], joinPath(path, 'collection'));
      validateFilter(cmd['filter'], joinPath(path, 'filter'));
      validateBool(cmd['multi'], joinPath(path, 'multi'));
      if (cmd['ifRev'] !== undefined) {
        validateRevNumber(cmd['ifRev'], joinPath(path, 'ifRev'));
        if (cmd['multi'] === true) fail(joinPath(path, 'ifRev'), 'ifRev applies to single-document removes only');
      }
      return;
    case 'tx': {
      allowedKeys(cmd, ['type', 'ops', 'if'], path);
      const ops = cmd['ops'];
      const pre = cmd['if'];
      if (!Array.isArray(ops)) fail(joinPath(path, 'ops'), 'must be an array of operations');
      if (ops.length > MAX_TX_OPS) fail(joinPath(path, 'ops'), `at most ${MAX_TX_OPS} operations per transaction`);
      if (!Array.isArray(pre)) fail(joinPath(path, 'if'), 'must be an array of preconditions');
      if (pre.length > MAX_TX_PRECONDITIONS) fail(joinPath(path, 'if'), `at most ${MAX_TX_PRECONDITIONS} preconditions`);
      (ops as TxOp[]).forEach((op, i) => validateCommandAt(op, joinPath(joinPath(path, 'ops'), i), documents, limits, true));
      (pre as Precondition[]).forEach((p, i) => validatePrecondition(p, joinPath(joinPath(path, 'if'), i)));
      return;
    }
    case 'batch': {
      allowedKeys(cmd, ['type', 'ops'], path);
      const ops = cmd['ops'];
      if (!Array.isArray(ops) || ops.length === 0) fail(joinPath(path, 'ops'), 'must be a non-empty array of insert commands');
      if (ops.length > MAX_BATCH_OPS) fail(joinPath(path, 'ops'), `at most ${MAX_BATCH_OPS} commands per batch`);
      for (let i = 0; i < ops.length; i++) {
        const op: unknown = ops[i];
        const at = joinPath(joinPath(path, 'ops'), i);
        if (!isPlainObject(op) || op['type'] !== 'insert') fail(at, 'a batch holds insert commands only');
        // Applying a batch checks each op on its own (a bad op fails alone), so the shape
        // check of the envelope stops here; a full check (documents) covers the ops too.
        if (documents) validateCommandAt(op, at, documents, limits, false);
      }
      return;
    }
    case 'createIndex':
      allowedKeys(cmd, ['type', 'collection', 'fields', 'unique', 'name'], path);
      validateCollectionName(cmd['collection'], joinPath(path, 'collection'));
      validateIndexFields(cmd['fields'], joinPath(path, 'fields'));
      validateBool(cmd['unique'], joinPath(path, 'unique'));
      if (cmd['name'] !== undefined) validateIndexName(cmd['name'], joinPath(path, 'name'));
      return;
    case 'dropIndex':
      allowedKeys(cmd, ['type', 'collection', 'name'], path);
      validateCollectionName(cmd['collection'], joinPath(path, 'collection'));
      validateIndexName(cmd['name'], joinPath(path, 'name'));
      return;
    case 'dropCollection':
      allowedKeys(cmd, ['type', 'collection'], path);
      validateCollectionName(cmd['collection'], joinPath(path, 'collection'));
      return;
    case 'noop':
      allowedKeys(cmd, ['type'], path);
      return;
    default:
      fail(joinPath(path, 'type'), `unknown command type ${JSON.stringify(type) ?? String(type)}`);
  }
}

export function validateIndexName(name: unknown, path = 'name'): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 256) fail(path, 'index name must be a string of 1 to 256 characters');
  if (name.indexOf('\0') !== -1 || name.charCodeAt(0) === 36) fail(path, 'index name may not contain NUL or start with "$"');
}

function validatePrecondition(p: unknown, path: string): void {
  if (!isPlainObject(p)) fail(path, 'a precondition must be an object');
  validateCollectionName(p['collection'], joinPath(path, 'collection'));
  if ('rev' in p) {
    allowedKeys(p, ['collection', 'id', 'rev'], path);
    validateId(p['id'], joinPath(path, 'id'));
    validateRevNumber(p['rev'], joinPath(path, 'rev'));
  } else if ('exists' in p) {
    allowedKeys(p, ['collection', 'id', 'exists'], path);
    validateId(p['id'], joinPath(path, 'id'));
    validateBool(p['exists'], joinPath(path, 'exists'));
  } else if ('count' in p) {
    allowedKeys(p, ['collection', 'filter', 'count'], path);
    validateFilter(p['filter'], joinPath(path, 'filter'));
    validateRevNumber(p['count'], joinPath(path, 'count'));
  } else {
    fail(path, 'a precondition has rev, exists or count');
  }
}

/** Narrowing helper for JSON-object-shaped values. */
export function asJsonObject(v: unknown, path: string): JsonObject {
  if (!isPlainObject(v)) fail(path, 'must be a plain object');
  return v as JsonObject;
}
