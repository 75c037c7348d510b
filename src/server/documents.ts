// Turning request bodies into documents ready for a command: plain objects,
// an `_id` (generated when absent), validated against the store's limits.
import type { DatabaseBackend } from '../node/backend.ts';
import { MAX_BATCH_DOCS } from '../store/commands.ts';
import { ValidationError } from '../store/errors.ts';
import type { JsonObject } from '../store/types.ts';
import { copyNewDocument, isPlainObject, validateDocument } from '../store/validate.ts';

/** A document to insert: a validated, frozen copy with `_id` set. `path` names it in errors. */
export function documentToInsert(backend: DatabaseBackend, doc: unknown, path: string): JsonObject {
  if (!isPlainObject(doc)) throw new ValidationError(`${path === '' ? '(body)' : path}: a document must be a JSON object`);
  try {
    return copyNewDocument(doc, backend.store.limits, doc['_id'] === undefined ? backend.generateId() : undefined);
  } catch (e) {
    if (e instanceof ValidationError && path !== '') throw new ValidationError(`${path}.${e.message}`);
    throw e;
  }
}

/** The documents of an insert body (one object, or a non-empty array of them). */
export function documentsToInsert(backend: DatabaseBackend, body: unknown): { docs: JsonObject[]; many: boolean } {
  if (Array.isArray(body)) {
    if (body.length === 0) throw new ValidationError('(body): an array of documents must not be empty');
    if (body.length > MAX_BATCH_DOCS) throw new ValidationError(`(body): at most ${MAX_BATCH_DOCS} documents per insert`);
    return { docs: body.map((doc: unknown, i) => documentToInsert(backend, doc, `[${i}]`)), many: true };
  }
  return { docs: [documentToInsert(backend, body, '')], many: false };
}

/** The full replacement document for `id`: its `_id`, if given, must be `id`. */
export function replacementDocument(backend: DatabaseBackend, id: string, doc: unknown, path = ''): JsonObject {
  const where = path === '' ? '(document)' : path;
  if (!isPlainObject(doc)) throw new ValidationError(`${where}: a document must be a JSON object`);
  if (doc['_id'] !== undefined && doc['_id'] !== id) {
    throw new ValidationError(`${where}: _id ${JSON.stringify(doc['_id'])} differs from ${JSON.stringify(id)}`);
  }
  const full = { ...doc, _id: id } as JsonObject;
  validateDocument(full, backend.store.limits);
  return full;
}
