// POST /api/_tx: an atomic batch over collections with preconditions. The body
// is translated op by op into one `tx` command; the store checks every
// precondition and applies every op, or nothing.
import type { FastifyInstance } from 'fastify';
import type { DatabaseBackend } from '../node/backend.ts';
import { MAX_TX_OPS, MAX_TX_PRECONDITIONS, type Precondition, type TxOp, type TxOpResult } from '../store/commands.ts';
import { ValidationError } from '../store/errors.ts';
import type { Document, Filter, JsonObject, JsonValue, UpdateSpec } from '../store/types.ts';
import { isPlainObject, validateCollectionName, validateFilter, validateId, validateUpdate } from '../store/validate.ts';
import { requireCollectionAccess } from './auth/auth-plugin.ts';
import { runCheckedCommand } from './model-precheck.ts';
import { documentToInsert, replacementDocument } from './documents.ts';
import { bodyObject, optionalBoolean, queryParams } from './http-input.ts';
import { idempotencyOf } from './idempotency.ts';
import type { RouteContext } from './route-context.ts';

const OP_KEYS: Readonly<Record<TxOp['type'], readonly string[]>> = {
  insert: ['op', 'collection', 'doc'],
  update: ['op', 'collection', 'filter', 'update', 'multi', 'upsert'],
  replace: ['op', 'collection', 'id', 'doc'],
  remove: ['op', 'collection', 'filter', 'multi'],
};

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw new ValidationError(`${path}.${key}: unknown field (allowed: ${allowed.join(', ')})`);
  }
}

function txOpOf(backend: DatabaseBackend, raw: unknown, path: string): TxOp {
  if (!isPlainObject(raw)) throw new ValidationError(`${path}: an op must be an object`);
  const kind = raw['op'];
  if (kind !== 'insert' && kind !== 'update' && kind !== 'replace' && kind !== 'remove') {
    throw new ValidationError(`${path}.op: must be insert, update, replace or remove`);
  }
  checkKeys(raw, OP_KEYS[kind], path);
  const collection = raw['collection'];
  validateCollectionName(collection, `${path}.collection`);
  switch (kind) {
    case 'insert':
      return { type: 'insert', collection, docs: [documentToInsert(backend, raw['doc'], `${path}.doc`)] };
    case 'update': {
      validateFilter(raw['filter'], `${path}.filter`);
      validateUpdate(raw['update'], `${path}.update`);
      const upsert = optionalBoolean(raw['upsert'], `${path}.upsert`) === true;
      return {
        type: 'update',
        collection,
        filter: raw['filter'] as Filter,
        update: raw['update'] as UpdateSpec,
        multi: optionalBoolean(raw['multi'], `${path}.multi`) === true,
        upsert,
        ...(upsert ? { upsertId: backend.generateId() } : {}),
      };
    }
    case 'replace': {
      const id = raw['id'];
      validateId(id, `${path}.id`);
      return { type: 'replace', collection, id, doc: replacementDocument(backend, id, raw['doc'], `${path}.doc`), upsert: true };
    }
    case 'remove':
      validateFilter(raw['filter'], `${path}.filter`);
      // Like POST /_delete, a remove by filter takes every match unless multi is false.
      return { type: 'remove', collection, filter: raw['filter'] as Filter, multi: optionalBoolean(raw['multi'], `${path}.multi`) !== false };
  }
}

/** Each op's result as its standalone endpoint reports it. */
function resultOf(op: TxOp, value: TxOpResult): JsonValue {
  switch (op.type) {
    case 'insert':
      return (value as Document[])[0]!;
    case 'update': {
      const v = value as { matched: number; modified: number; upsertedId?: string };
      const out: JsonObject = { matched: v.matched, modified: v.modified };
      if (v.upsertedId !== undefined) out['upsertedId'] = v.upsertedId;
      return out;
    }
    case 'replace':
      return (value as { doc: Document }).doc;
    case 'remove':
      return { removed: (value as { removed: number }).removed };
  }
}

export function registerTxRoutes(app: FastifyInstance, { backend }: RouteContext): void {
  app.post('/api/_tx', async (request, reply) => {
    queryParams(request.query, []);
    const tag = idempotencyOf(request);
    const body = bodyObject(request.body, ['ops', 'if'], true);
    const rawOps = body['ops'];
    const rawIf = body['if'] ?? [];
    if (!Array.isArray(rawOps)) throw new ValidationError('ops: must be an array of operations');
    if (rawOps.length > MAX_TX_OPS) throw new ValidationError(`ops: at most ${MAX_TX_OPS} operations`);
    if (!Array.isArray(rawIf)) throw new ValidationError('if: must be an array of preconditions');
    if (rawIf.length > MAX_TX_PRECONDITIONS) throw new ValidationError(`if: at most ${MAX_TX_PRECONDITIONS} preconditions`);
    const ops = rawOps.map((op: unknown, i) => txOpOf(backend, op, `ops.${i}`));
    // A transaction needs every collection it touches: write for its ops, read for its
    // preconditions (a malformed one is refused by validation below, before anything runs).
    for (const op of ops) requireCollectionAccess(request, backend, op.collection, 'write');
    for (const p of rawIf as unknown[]) {
      if (isPlainObject(p) && typeof p['collection'] === 'string') requireCollectionAccess(request, backend, p['collection'], 'read');
    }
    // Preconditions are checked in full by validateCommand inside runCommand.
    const values = await runCheckedCommand(backend, { type: 'tx', ops, if: rawIf as Precondition[] }, { tag, reply });
    return { results: ops.map((op, i) => resultOf(op, values[i]!)) };
  });
}
