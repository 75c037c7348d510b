// Cheap argument checks done before a request is sent, so that a typo fails at once
// with a message naming the argument instead of as a 400 after a round trip.
import { ValidationError } from '../store/errors.ts';
import { ID_BYTES_MAX, idBytesOverMax } from '../store/id-limit.ts';
import type { Consistency } from './types.ts';

const COLLECTION_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** Path segments the API uses for its own routes under /api/:collection/. */
const RESERVED_IDS: ReadonlySet<string> = new Set(['_query', '_count', '_explain', '_update', '_delete', '_indexes', '_changes']);
const CONSISTENCIES: ReadonlySet<string> = new Set<Consistency>(['linearizable', 'lease', 'local']);

export function validateCollectionName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !COLLECTION_NAME.test(name) || name.startsWith('_')) {
    throw new ValidationError(
      `invalid collection name ${JSON.stringify(name)}: use 1 to 128 letters, digits, '_', '-' or '.', not starting with '_'`,
    );
  }
}

export function validateId(id: unknown, what = 'id'): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || idBytesOverMax(id)) {
    throw new ValidationError(`${what} must be a non-empty string of at most ${ID_BYTES_MAX} bytes of UTF-8, got ${describe(id)}`);
  }
  if (RESERVED_IDS.has(id)) {
    throw new ValidationError(`${what} ${JSON.stringify(id)} is reserved by the HTTP API`);
  }
}

export function validateObject(value: unknown, what: string): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError(`${what} must be an object, got ${describe(value)}`);
  }
}

export function validateDocument(doc: unknown, what = 'document'): asserts doc is Record<string, unknown> {
  validateObject(doc, what);
  if (doc._id !== undefined) validateId(doc._id, `${what}._id`);
}

export function validateRev(rev: unknown, what = 'ifRev'): asserts rev is number {
  if (typeof rev !== 'number' || !Number.isSafeInteger(rev) || rev < 0) {
    throw new ValidationError(`${what} must be a non-negative integer, got ${describe(rev)}`);
  }
}

export function validateCount(value: unknown, what: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ValidationError(`${what} must be a non-negative integer, got ${describe(value)}`);
  }
}

export function validateConsistency(value: unknown): asserts value is Consistency {
  if (typeof value !== 'string' || !CONSISTENCIES.has(value)) {
    throw new ValidationError(`consistency must be 'linearizable', 'lease' or 'local', got ${describe(value)}`);
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}
