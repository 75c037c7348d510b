// Collection models: a JSON Schema (2020-12) per collection plus options (history, audit, TTL,
// indexes). A model is replicated state: set by a `setSchema` command through the log, kept in
// snapshots, and every replica validates documents against it at apply, the same way (ajv is
// deterministic). Here: the model's shape and bounds, and compiling it once.

import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import formatsPlugin from 'ajv-formats';
import { RE2JS } from 're2js';
import { StoreError, ValidationError } from './errors.ts';
import { validateIndexFields } from './index-fields.ts';
import { validateExpireAfter } from './ttl.ts';
import { fail, isPlainObject, joinPath, validateFieldPath } from './validate-common.ts';
import type { IndexField, JsonObject } from './types.ts';

/** A model's schema as JSON text, at most (UTF-8 bytes): compiling is work every replica does. */
export const SCHEMA_BYTES_MAX = 64 * 1024;
/** Keys in a model's schema (every object key at any depth), at most: bounds compile time. */
export const SCHEMA_KEYS_MAX = 2_000;
/** Nesting of a model's schema, at most. */
export const SCHEMA_DEPTH_LEVELS_MAX = 32;
/** Existing documents a schema change checks, at most: past it the change needs `force`
 * (the check runs in one piece on every replica, like a write's scan: WRITE_SCAN_DOCS_MAX). */
export const SCHEMA_CHECK_DOCS_MAX = 100_000;
/** Failing document ids a refused schema change names, at most. */
export const SCHEMA_FAILING_IDS_MAX = 20;
/** Validation errors one VALIDATION_FAILED message lists, at most (the count says how many). */
export const SCHEMA_ERRORS_LISTED_MAX = 50;
/** Versions of one document kept by default with `trackHistory`, and the largest allowed. */
export const HISTORY_VERSIONS_DEFAULT = 100;
export const HISTORY_VERSIONS_MAX = 10_000;
/** Indexes one model may declare, at most (a collection's own limit applies too). */
export const MODEL_INDEXES_MAX = 64;

export interface HistoryRetention {
  /** Versions kept per document, newest kept (default HISTORY_VERSIONS_DEFAULT). */
  readonly maxVersions?: number;
  /** Versions older than this by the log clock are dropped (none by default). */
  readonly maxAgeMs?: number;
}

export interface ModelIndex {
  readonly fields: IndexField[];
  readonly unique?: boolean;
  readonly name?: string;
  /** A TTL index (one date field): documents expire this many seconds after its time. */
  readonly expireAfterSeconds?: number;
}

export interface ModelOptions {
  /** Keep every change of each document (`GET /api/:collection/:id/_history`). */
  readonly trackHistory?: boolean;
  /** Chain each change of the collection into a SHA-256 hash chain (`GET /api/:collection/_audit`). */
  readonly audited?: boolean;
  /** A field holding the document's expiry (ms since the epoch, or an ISO-8601 date-time string). */
  readonly ttlField?: string;
  /** Secondary indexes created with the model. */
  readonly indexes?: ModelIndex[];
  readonly history?: HistoryRetention;
}

/** What a caller declares. */
export interface ModelDefinition {
  readonly schema: JsonObject;
  readonly options: ModelOptions;
}

/** A model as the store keeps it: `version` is the log index of the entry that set it. */
export interface StoredModel extends ModelDefinition {
  readonly collection: string;
  readonly version: number;
}

const UTF8 = new TextEncoder();
const MODEL_OPTION_KEYS = ['trackHistory', 'audited', 'ttlField', 'indexes', 'history'];

/** Shape and bounds of a model definition (from the network or the log); throws VALIDATION. */
export function validateModelDefinition(schema: unknown, options: unknown, path: string): void {
  if (!isPlainObject(schema)) fail(joinPath(path, 'schema'), 'must be a JSON Schema object');
  const bytes = UTF8.encode(JSON.stringify(schema)).byteLength;
  if (bytes > SCHEMA_BYTES_MAX) fail(joinPath(path, 'schema'), `is ${bytes} bytes of JSON, more than SCHEMA_BYTES_MAX (${SCHEMA_BYTES_MAX})`);
  let keys = 0;
  const walk = (v: unknown, at: string, depth: number): void => {
    if (depth > SCHEMA_DEPTH_LEVELS_MAX) fail(at, `nested deeper than SCHEMA_DEPTH_LEVELS_MAX (${SCHEMA_DEPTH_LEVELS_MAX})`);
    if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, joinPath(at, i), depth + 1));
      return;
    }
    if (!isPlainObject(v)) return;
    for (const [k, x] of Object.entries(v)) {
      if (++keys > SCHEMA_KEYS_MAX) fail(joinPath(path, 'schema'), `has more than SCHEMA_KEYS_MAX (${SCHEMA_KEYS_MAX}) keys`);
      // Only references inside the schema itself: a replica never fetches anything, and a
      // `$id` would name a schema other models could then refer to.
      if ((k === '$ref' || k === '$dynamicRef') && (typeof x !== 'string' || !x.startsWith('#'))) {
        fail(joinPath(at, k), 'only references inside the schema ("#...") are allowed, never to another document or URL');
      }
      if (k === '$id' && (typeof x !== 'string' || !x.startsWith('#')))
        fail(joinPath(at, k), '$id is not allowed (a model is one self-contained schema)');
      walk(x, joinPath(at, k), depth + 1);
    }
  };
  walk(schema, joinPath(path, 'schema'), 1);
  validateModelOptions(options, joinPath(path, 'options'));
}

function validateModelOptions(options: unknown, path: string): void {
  if (!isPlainObject(options)) fail(path, 'must be an object');
  for (const k of Object.keys(options)) if (!MODEL_OPTION_KEYS.includes(k)) fail(joinPath(path, k), 'unknown model option');
  for (const k of ['trackHistory', 'audited']) {
    if (options[k] !== undefined && typeof options[k] !== 'boolean') fail(joinPath(path, k), 'must be a boolean');
  }
  if (options['ttlField'] !== undefined) validateFieldPath(options['ttlField'], joinPath(path, 'ttlField'));
  const indexes = options['indexes'];
  if (indexes !== undefined) {
    if (!Array.isArray(indexes)) fail(joinPath(path, 'indexes'), 'must be an array of {fields, unique?, name?}');
    if (indexes.length > MODEL_INDEXES_MAX) fail(joinPath(path, 'indexes'), `at most ${MODEL_INDEXES_MAX} indexes`);
    indexes.forEach((ix: unknown, i) => {
      const at = joinPath(joinPath(path, 'indexes'), i);
      if (!isPlainObject(ix)) fail(at, 'must be an object {fields, unique?, name?}');
      for (const k of Object.keys(ix))
        if (!['fields', 'unique', 'name', 'expireAfterSeconds'].includes(k)) fail(joinPath(at, k), 'unknown index field');
      validateIndexFields(ix['fields'], joinPath(at, 'fields'));
      if (ix['unique'] !== undefined && typeof ix['unique'] !== 'boolean') fail(joinPath(at, 'unique'), 'must be a boolean');
      const name = ix['name'];
      if (name !== undefined && (typeof name !== 'string' || name.length === 0 || name.length > 256 || name.startsWith('$') || name.includes('\0'))) {
        fail(joinPath(at, 'name'), 'index name must be a string of 1 to 256 characters, not starting with "$"');
      }
      if (ix['expireAfterSeconds'] !== undefined) validateExpireAfter(ix['expireAfterSeconds'], ix['fields'] as unknown[], at);
    });
  }
  const history = options['history'];
  if (history !== undefined) {
    const at = joinPath(path, 'history');
    if (!isPlainObject(history)) fail(at, 'must be an object {maxVersions?, maxAgeMs?}');
    for (const k of Object.keys(history)) if (k !== 'maxVersions' && k !== 'maxAgeMs') fail(joinPath(at, k), 'unknown retention field');
    const n = history['maxVersions'];
    if (n !== undefined && (!Number.isSafeInteger(n) || (n as number) < 1 || (n as number) > HISTORY_VERSIONS_MAX)) {
      fail(joinPath(at, 'maxVersions'), `must be an integer from 1 to ${HISTORY_VERSIONS_MAX}`);
    }
    const age = history['maxAgeMs'];
    if (age !== undefined && (!Number.isSafeInteger(age) || (age as number) < 1)) fail(joinPath(at, 'maxAgeMs'), 'must be a positive integer');
  }
}

// Patterns (`pattern`, `patternProperties`) run on RE2, as `$regex` does: linear time, so a
// schema cannot hold a replica's event loop with a catastrophic backtracking pattern.
const re2Engine = Object.assign(
  (pattern: string): { test(s: string): boolean; toString(): string } => {
    const re = RE2JS.compile(pattern);
    // ajv shares compiled patterns by toString(): it must name the pattern.
    return { test: (s: string) => re.matcher(s).find(), toString: () => `re2:${pattern}` };
  },
  { code: 're2' },
);

const addFormats = formatsPlugin as unknown as typeof formatsPlugin.default;

function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({
    allErrors: true,
    useDefaults: true,
    coerceTypes: true,
    strict: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    addUsedSchema: false,
    logger: false,
    code: { regExp: re2Engine },
  });
  addFormats(ajv, ['uuid', 'date-time', 'date', 'time', 'email', 'uri', 'ipv4', 'ipv6']);
  return ajv;
}

const ajv = newAjv();

/** Compiled validators by `collection@version` and schema text: every model is compiled once
 * per process, whatever the number of stores restored from snapshots. Cleared when full. */
const COMPILED = new Map<string, ValidateFunction>();
const COMPILED_ENTRIES_MAX = 1_024;

function compile(model: StoredModel): ValidateFunction {
  const key = `${model.collection}@${model.version}:${JSON.stringify(model.schema)}`;
  const hit = COMPILED.get(key);
  if (hit !== undefined) return hit;
  let fn: ValidateFunction;
  try {
    fn = ajv.compile(model.schema);
  } catch (e) {
    throw new ValidationError(`schema: ${(e as Error).message}`);
  } finally {
    // ajv keeps every schema it compiled, by object: this one is ours to keep.
    ajv.removeSchema(model.schema);
  }
  if (COMPILED.size >= COMPILED_ENTRIES_MAX) COMPILED.clear();
  COMPILED.set(key, fn);
  return fn;
}

/** "/price must be >= 0.01 (minimum)"; the count, when more than SCHEMA_ERRORS_LISTED_MAX. */
export function describeErrors(errors: readonly ErrorObject[]): string {
  const listed = errors
    .slice(0, SCHEMA_ERRORS_LISTED_MAX)
    .map((e) => `${e.instancePath === '' ? '/' : e.instancePath} ${e.message ?? 'is invalid'} (${e.keyword})`);
  const more = errors.length > listed.length ? `; and ${errors.length - listed.length} more` : '';
  return listed.join('; ') + more;
}

/** A model ready to validate documents. */
export class CompiledModel {
  private readonly fn: ValidateFunction;

  constructor(readonly stored: StoredModel) {
    this.fn = compile(stored);
  }

  get collection(): string {
    return this.stored.collection;
  }
  get options(): ModelOptions {
    return this.stored.options;
  }

  /**
   * Validates `doc` (a mutable object the caller owns; `_rev` is not part of what is
   * validated), filling defaults and coercing types in place. Throws VALIDATION_FAILED naming
   * every failing path and rule.
   */
  conform(doc: Record<string, unknown>, what: string): void {
    const rev = doc['_rev'];
    if (rev !== undefined) delete doc['_rev'];
    const ok = this.fn(doc);
    if (rev !== undefined) doc['_rev'] = rev;
    if (!ok)
      throw new StoreError('VALIDATION_FAILED', `${what} does not match the schema of "${this.collection}": ${describeErrors(this.fn.errors ?? [])}`);
  }

  /** Why a stored document (frozen) fails, or undefined when it passes. */
  failure(doc: JsonObject): string | undefined {
    const copy = structuredClone(doc) as Record<string, unknown>;
    delete copy['_rev'];
    return this.fn(copy) ? undefined : describeErrors(this.fn.errors ?? []);
  }

  /** Whether `_id` is declared a UUID, so writers generate one when it is absent. */
  get uuidIds(): boolean {
    const props = this.stored.schema['properties'];
    if (!isPlainObject(props)) return false;
    const id = props['_id'];
    return isPlainObject(id) && id['format'] === 'uuid';
  }
}
