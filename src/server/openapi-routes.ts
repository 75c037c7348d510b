// What each route takes and answers, for /openapi.json: one table keyed like
// auth/route-access.ts (`METHOD url`), given to each route as its fastify `schema` when it is
// registered (openapi.ts). A route missing here is still in the document (its path
// parameters and the error responses); these entries add what a caller needs to call it.
import {
  ANY_OBJECT,
  COLLECTION_PARAMS,
  CONSISTENCY,
  DOCUMENT_PARAMS,
  IDEMPOTENCY_HEADERS,
  JSON_TEXT,
  ref,
  SCHEMA_IDS,
  type JsonSchema,
} from './openapi-schemas.ts';
import { AGGREGATE_STAGES, AGGREGATE_STAGES_MAX } from '../store/aggregate-validate.ts';
import { MAX_QUERY_LIMIT } from './http-input.ts';

export interface RouteDescription {
  readonly summary: string;
  readonly tags: readonly string[];
  readonly params?: JsonSchema;
  readonly querystring?: JsonSchema;
  readonly headers?: JsonSchema;
  readonly body?: JsonSchema;
  /** Success responses by status; the error responses are added to every route. */
  readonly response?: Readonly<Record<string, JsonSchema>>;
}

const DOC = ref(SCHEMA_IDS.document);
const DOCS: JsonSchema = { type: 'array', items: DOC };
const ok = (description: string, schema: JsonSchema = ANY_OBJECT): JsonSchema => ({ description, ...schema });
const NO_CONTENT: JsonSchema = { description: 'done', type: 'null' };
const PAGE_HEADERS = {
  link: { type: 'string', description: '`<url>; rel="next"`: the next page (GET), when the page is full' },
  'next-cursor': { type: 'string', description: 'the cursor of the next page, when the page is full' },
};
const LIMIT: JsonSchema = { type: 'integer', minimum: 0, maximum: MAX_QUERY_LIMIT, description: `at most ${MAX_QUERY_LIMIT} documents` };
const CURSOR: JsonSchema = { type: 'string', description: 'opaque: the `Next-Cursor` of the previous page (with `limit`, without `skip`)' };
const FIND_BODY: JsonSchema = {
  type: 'object',
  properties: {
    filter: ANY_OBJECT,
    sort: { type: 'object', additionalProperties: { enum: [1, -1] } },
    limit: LIMIT,
    skip: { type: 'integer', minimum: 0 },
    projection: ANY_OBJECT,
    cursor: CURSOR,
    consistency: CONSISTENCY,
  },
  additionalProperties: false,
};
const EXPLAIN_BODY: JsonSchema = {
  ...FIND_BODY,
  properties: Object.fromEntries(Object.entries(FIND_BODY['properties'] as object).filter(([k]) => k !== 'cursor' && k !== 'projection')),
};
const WRITE = { headers: IDEMPOTENCY_HEADERS };
const AS_OF: JsonSchema = {
  type: 'string',
  description:
    "The version in force at a log index (digits) or an ISO-8601 time with its zone (`2026-01-01T12:00:00Z`; a date alone is midnight UTC), from the collection's history: 400 without `trackHistory`, 404 when the document did not exist then, was deleted, or that version is no longer kept. A point past the last entry reads the latest version.",
};
const COLLECTION_SUMMARY: JsonSchema = {
  type: 'object',
  required: ['name', 'count'],
  properties: {
    name: { type: 'string' },
    count: { type: 'integer' },
    schema: { type: 'object', description: "the collection's model, when it has one" },
  },
};

export const ROUTE_DESCRIPTIONS: Readonly<Record<string, RouteDescription>> = {
  'GET /healthz': { summary: 'Liveness', tags: ['operations'], response: { 200: ok('alive') } },
  'GET /readyz': { summary: 'Readiness: knows a leader and has applied its commit index', tags: ['operations'], response: { 200: ok('ready') } },
  'GET /metrics': { summary: 'Prometheus metrics', tags: ['operations'], response: { 200: ok('Prometheus text', { type: 'string' }) } },
  'GET /dashboard': { summary: 'The web dashboard', tags: ['operations'], response: { 200: ok('HTML', { type: 'string' }) } },
  'GET /cluster/status': { summary: 'Node and cluster status', tags: ['cluster'], response: { 200: ok('status', ref(SCHEMA_IDS.nodeStatus)) } },
  'POST /cluster/members': {
    summary: 'Add a voter or learner, or promote a learner',
    tags: ['cluster'],
    body: { type: 'object', required: ['id', 'url'], properties: { id: { type: 'string' }, url: { type: 'string' }, learner: { type: 'boolean' } } },
    response: { 200: ok('status', ref(SCHEMA_IDS.nodeStatus)) },
  },
  'DELETE /cluster/members/:id': {
    summary: 'Remove a member',
    tags: ['cluster'],
    params: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
    response: { 200: ok('status', ref(SCHEMA_IDS.nodeStatus)) },
  },
  'POST /cluster/transfer-leadership': {
    summary: 'Hand leadership to a member',
    tags: ['cluster'],
    body: { type: 'object', properties: { to: { type: 'string' } } },
    response: { 200: ok('status', ref(SCHEMA_IDS.nodeStatus)) },
  },
  'POST /cluster/snapshot': { summary: 'Take a snapshot now', tags: ['cluster'], response: { 200: ok('the snapshot taken') } },

  'POST /auth/login': {
    summary: 'Log in: a bearer token',
    tags: ['auth'],
    body: { type: 'object', required: ['user', 'password'], properties: { user: { type: 'string' }, password: { type: 'string' } } },
    response: { 200: ok('token', { type: 'object', properties: { token: { type: 'string' }, expiresAt: { type: 'string' } } }) },
  },
  'GET /auth/whoami': { summary: 'The authenticated user', tags: ['auth'], response: { 200: ok('user') } },
  'GET /auth/users': { summary: 'List users', tags: ['auth'], response: { 200: ok('users', { type: 'array', items: ANY_OBJECT }) } },
  'PUT /auth/users/:name': { summary: 'Create or change a user', tags: ['auth'], body: ANY_OBJECT, response: { 200: ok('user') } },
  'DELETE /auth/users/:name': { summary: 'Remove a user', tags: ['auth'], response: { 204: NO_CONTENT } },
  'GET /auth/roles': { summary: 'List roles', tags: ['auth'], response: { 200: ok('roles', { type: 'array', items: ANY_OBJECT }) } },
  'PUT /auth/roles/:name': { summary: 'Create or change a role', tags: ['auth'], body: ANY_OBJECT, response: { 200: ok('role') } },
  'DELETE /auth/roles/:name': { summary: 'Remove a role', tags: ['auth'], response: { 204: NO_CONTENT } },

  'GET /api': {
    summary: 'List collections (those the user may read) with document counts',
    tags: ['collections'],
    querystring: { type: 'object', properties: { consistency: CONSISTENCY } },
    response: { 200: ok('collections', { type: 'array', items: COLLECTION_SUMMARY }) },
  },
  'DELETE /api/:collection': {
    summary: 'Drop a collection, its documents and indexes (role root)',
    tags: ['collections'],
    params: COLLECTION_PARAMS,
    ...WRITE,
    response: { 204: NO_CONTENT },
  },
  'POST /api/:collection': {
    summary: 'Insert a document or an array of documents',
    tags: ['documents'],
    params: COLLECTION_PARAMS,
    ...WRITE,
    body: { oneOf: [ANY_OBJECT, { type: 'array', items: ANY_OBJECT }] },
    response: { 201: ok('the stored document(s)', { oneOf: [DOC, DOCS] }) },
  },
  'GET /api/:collection': {
    summary: 'Query: filter, sort, limit, skip, fields; pages with cursor',
    tags: ['documents'],
    params: COLLECTION_PARAMS,
    querystring: {
      type: 'object',
      properties: {
        filter: JSON_TEXT('a filter'),
        sort: JSON_TEXT('a sort spec'),
        limit: LIMIT,
        skip: { type: 'integer', minimum: 0 },
        fields: { type: 'string', description: 'included paths, comma-separated' },
        cursor: CURSOR,
        consistency: CONSISTENCY,
      },
    },
    response: { 200: { description: 'matching documents', headers: PAGE_HEADERS, ...DOCS } },
  },
  'POST /api/:collection/_query': {
    summary: 'Query with a JSON body; pages with cursor',
    tags: ['documents'],
    params: COLLECTION_PARAMS,
    body: FIND_BODY,
    response: { 200: { description: 'matching documents', headers: PAGE_HEADERS, ...DOCS } },
  },
  'POST /api/:collection/_count': {
    summary: 'Count matching documents',
    tags: ['documents'],
    params: COLLECTION_PARAMS,
    body: { type: 'object', properties: { filter: ANY_OBJECT, consistency: CONSISTENCY } },
    response: { 200: ok('count', { type: 'object', properties: { count: { type: 'integer' } } }) },
  },
  'POST /api/:collection/_explain': {
    summary: 'The plan a query would use',
    tags: ['documents'],
    params: COLLECTION_PARAMS,
    body: EXPLAIN_BODY,
    response: { 200: ok('plan') },
  },
  'POST /api/:collection/_aggregate': {
    summary: `Run an aggregation pipeline (stages: ${AGGREGATE_STAGES.join(', ')}; at most ${AGGREGATE_STAGES_MAX})`,
    tags: ['documents'],
    params: COLLECTION_PARAMS,
    body: {
      type: 'object',
      required: ['pipeline'],
      properties: {
        pipeline: { type: 'array', maxItems: AGGREGATE_STAGES_MAX, items: ANY_OBJECT },
        consistency: CONSISTENCY,
        explain: { type: 'boolean', description: "true: answer the leading $match's plan instead of running the pipeline" },
      },
    },
    response: {
      200: ok("the pipeline output, or with explain the leading $match's plan and the names of the stages after it", {
        anyOf: [
          { type: 'array', items: ANY_OBJECT },
          { type: 'object', required: ['match', 'stages'], properties: { match: ANY_OBJECT, stages: { type: 'array', items: { type: 'string' } } } },
        ],
      }),
    },
  },
  'POST /api/:collection/_update': {
    summary: 'Update matching documents with operators',
    tags: ['documents'],
    params: COLLECTION_PARAMS,
    ...WRITE,
    body: {
      type: 'object',
      required: ['filter', 'update'],
      properties: { filter: ANY_OBJECT, update: ANY_OBJECT, multi: { type: 'boolean' }, upsert: { type: 'boolean' } },
    },
    response: {
      200: ok('counts', {
        type: 'object',
        properties: { matched: { type: 'integer' }, modified: { type: 'integer' }, upsertedId: { type: 'string' } },
      }),
    },
  },
  'POST /api/:collection/_delete': {
    summary: 'Remove matching documents',
    tags: ['documents'],
    params: COLLECTION_PARAMS,
    ...WRITE,
    body: { type: 'object', required: ['filter'], properties: { filter: ANY_OBJECT, multi: { type: 'boolean' } } },
    response: { 200: ok('count', { type: 'object', properties: { removed: { type: 'integer' } } }) },
  },
  'GET /api/:collection/:id': {
    summary: 'One document (ETag: its _rev), or with asOf the version in force at a log index or time',
    tags: ['documents'],
    params: DOCUMENT_PARAMS,
    querystring: { type: 'object', properties: { consistency: CONSISTENCY, asOf: AS_OF } },
    response: { 200: ok('the document', DOC) },
  },
  'GET /api/:collection/:id/_history': {
    summary: "A document's versions, oldest first (trackHistory); with asOf, as GET /api/:collection/:id?asOf",
    tags: ['documents'],
    params: DOCUMENT_PARAMS,
    querystring: { type: 'object', properties: { consistency: CONSISTENCY, asOf: AS_OF } },
    response: { 200: ok('the history records (RaftEvent), or with asOf the document', { oneOf: [{ type: 'array', items: ANY_OBJECT }, DOC] }) },
  },
  'PUT /api/:collection/:id': {
    summary: 'Replace or create (If-Match: <_rev> for compare-and-set)',
    tags: ['documents'],
    params: DOCUMENT_PARAMS,
    headers: { type: 'object', properties: { ...(IDEMPOTENCY_HEADERS['properties'] as object), 'if-match': { type: 'string' } } },
    body: ANY_OBJECT,
    response: { 200: ok('replaced', DOC), 201: ok('created', DOC) },
  },
  'PATCH /api/:collection/:id': {
    summary: 'Update one document with operators ($set, $inc, ...)',
    tags: ['documents'],
    params: DOCUMENT_PARAMS,
    headers: { type: 'object', properties: { ...(IDEMPOTENCY_HEADERS['properties'] as object), 'if-match': { type: 'string' } } },
    body: ANY_OBJECT,
    response: { 200: ok('the updated document', DOC) },
  },
  'DELETE /api/:collection/:id': {
    summary: 'Remove one document',
    tags: ['documents'],
    params: DOCUMENT_PARAMS,
    headers: { type: 'object', properties: { ...(IDEMPOTENCY_HEADERS['properties'] as object), 'if-match': { type: 'string' } } },
    response: { 204: NO_CONTENT },
  },
  'POST /api/_tx': {
    summary: 'Atomic batch over collections with preconditions',
    tags: ['documents'],
    ...WRITE,
    body: { type: 'object', required: ['ops'], properties: { ops: { type: 'array', items: ANY_OBJECT }, if: { type: 'array', items: ANY_OBJECT } } },
    response: { 200: ok('results') },
  },
  'GET /api/:collection/_indexes': {
    summary: 'List indexes',
    tags: ['indexes'],
    params: COLLECTION_PARAMS,
    querystring: { type: 'object', properties: { consistency: CONSISTENCY } },
    response: { 200: ok('indexes', { type: 'array', items: ref(SCHEMA_IDS.indexSpec) }) },
  },
  'POST /api/:collection/_indexes': {
    summary: 'Create an index (built over existing documents)',
    tags: ['indexes'],
    params: COLLECTION_PARAMS,
    ...WRITE,
    body: {
      type: 'object',
      required: ['fields'],
      properties: { fields: {}, unique: { type: 'boolean' }, name: { type: 'string' }, expireAfterSeconds: { type: 'integer', minimum: 0 } },
    },
    response: { 201: ok('the index', ref(SCHEMA_IDS.indexSpec)) },
  },
  'DELETE /api/:collection/_indexes/:name': {
    summary: 'Drop an index',
    tags: ['indexes'],
    params: { type: 'object', required: ['collection', 'name'], properties: { collection: { type: 'string' }, name: { type: 'string' } } },
    ...WRITE,
    response: { 204: NO_CONTENT },
  },
  'GET /api/:collection/_changes': {
    summary: "A collection's change stream (server-sent events; Last-Event-ID resumes)",
    tags: ['changes'],
    params: COLLECTION_PARAMS,
    response: { 200: ok('text/event-stream', { type: 'string' }) },
  },
  'GET /api/_changes': {
    summary: 'Every readable collection’s change stream (server-sent events)',
    tags: ['changes'],
    response: { 200: ok('text/event-stream', { type: 'string' }) },
  },
};
