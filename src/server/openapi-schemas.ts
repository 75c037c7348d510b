// JSON Schemas shared by the route descriptions (openapi-routes.ts): the error body, built
// from the one table of codes (store/error-codes.ts), and the shapes several routes share.
// They describe; they do not validate (see openapi.ts: the store's validators decide).
import { ALL_ERROR_CODES, ERROR_CODES, type ErrorCode } from '../store/error-codes.ts';
import { ANSWERED_THROUGH_HEADER, IDEMPOTENCY_KEY_HEADER } from './idempotency.ts';

/** A JSON Schema object (draft 2020-12, as OpenAPI 3.1 uses it). */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** The `$id`s of the shared schemas; @fastify/swagger turns each into `#/components/schemas/<id>`. */
export const SCHEMA_IDS = { error: 'Error', document: 'Document', indexSpec: 'IndexSpec', nodeStatus: 'NodeStatus' } as const;

/** The body of every error: `{"error": {"code", "message", "leader"?}}` (server/errors.ts). */
export const ERROR_SCHEMA: JsonSchema = {
  $id: SCHEMA_IDS.error,
  type: 'object',
  description: 'Every error. `code` is one of the stable codes of docs/http-api.md (src/store/error-codes.ts).',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', enum: [...ALL_ERROR_CODES] },
        message: { type: 'string' },
        leader: { type: 'string', description: 'URL of the leader, for codes a client may retry elsewhere' },
      },
    },
  },
};

export const DOCUMENT_SCHEMA: JsonSchema = {
  $id: SCHEMA_IDS.document,
  type: 'object',
  description: 'A stored document: any JSON object with `_id` (string) and `_rev` (log index of its last change).',
  required: ['_id', '_rev'],
  properties: { _id: { type: 'string', maxLength: 512 }, _rev: { type: 'integer', minimum: 1 } },
  additionalProperties: true,
};

export const INDEX_SPEC_SCHEMA: JsonSchema = {
  $id: SCHEMA_IDS.indexSpec,
  type: 'object',
  required: ['name', 'fields', 'unique'],
  properties: {
    name: { type: 'string' },
    fields: { type: 'array', items: { type: 'array', prefixItems: [{ type: 'string' }, { enum: [1, -1] }] } },
    unique: { type: 'boolean' },
    expireAfterSeconds: {
      type: 'integer',
      minimum: 0,
      description: 'a TTL index: documents expire this many seconds after the field (docs/models.md)',
    },
  },
};

export const NODE_STATUS_SCHEMA: JsonSchema = {
  $id: SCHEMA_IDS.nodeStatus,
  type: 'object',
  description: 'Node id, role, term, leader, commit and applied index, members (docs/http-api.md).',
  additionalProperties: true,
};

export const SHARED_SCHEMAS: readonly JsonSchema[] = [ERROR_SCHEMA, DOCUMENT_SCHEMA, INDEX_SPEC_SCHEMA, NODE_STATUS_SCHEMA];

export function ref(id: string): JsonSchema {
  return { $ref: `${id}#` };
}

/** The error responses, one per status of the table, each naming its codes: every route may
 * answer any of them (authentication, overload, leader loss, timeouts are route-independent). */
export function errorResponses(): Record<string, JsonSchema> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of ALL_ERROR_CODES) {
    const status = ERROR_CODES[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, JsonSchema> = {};
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] = { description: codes.map((c) => `${c}: ${ERROR_CODES[c].meaning}`).join('; '), ...ref(SCHEMA_IDS.error) };
  }
  return responses;
}

// Query parameters and body fields several routes share.
export const CONSISTENCY: JsonSchema = {
  type: 'string',
  enum: ['linearizable', 'lease', 'local'],
  description: 'Read consistency (default linearizable: a ReadIndex round through the leader).',
};
export const JSON_TEXT = (what: string): JsonSchema => ({ type: 'string', description: `${what}, as JSON text` });
export const ANY_OBJECT: JsonSchema = { type: 'object', additionalProperties: true };
export const COLLECTION_PARAMS: JsonSchema = {
  type: 'object',
  required: ['collection'],
  properties: { collection: { type: 'string', description: 'collection name' } },
};
export const DOCUMENT_PARAMS: JsonSchema = {
  type: 'object',
  required: ['collection', 'id'],
  properties: { collection: { type: 'string', description: 'collection name' }, id: { type: 'string', description: 'document `_id`' } },
};
export const IDEMPOTENCY_HEADERS: JsonSchema = {
  type: 'object',
  properties: {
    [IDEMPOTENCY_KEY_HEADER]: { type: 'string', description: 'applies the write at most once per key (docs/http-api.md)' },
    [ANSWERED_THROUGH_HEADER]: {
      type: 'string',
      description:
        "with a key `<clientId>.<seq>`: the client has every answer through this sequence number, below `seq` (the server forgets those keys' results)",
    },
  },
};
