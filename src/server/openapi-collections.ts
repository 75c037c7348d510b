// Each collection's model in /openapi.json: two components per modeled collection, and that
// collection's document and query routes as concrete paths (`/api/products/{id}` next to the
// templated `/api/{collection}/{id}`; OpenAPI matches a concrete path before a templated one)
// whose bodies and answers refer to them, and whose filters name the model's fields. Built from the live models on every request, and from
// the templated operations @fastify/swagger generated from the real routes, so a route's
// parameters, headers and error answers are the same in both places.
import type { StoredModel } from '../store/schema.ts';
import { SCHEMA_IDS, type JsonSchema } from './openapi-schemas.ts';

/** `collection.<name>`: the model as declared, what a write sends (validated with its `_id`, without `_rev`). */
export const COLLECTION_SCHEMA_PREFIX = 'collection.';
/** `collectionDocument.<name>`: a stored document of the collection, the model plus `_rev`. */
export const COLLECTION_DOCUMENT_PREFIX = 'collectionDocument.';

/** The templated paths of document and query routes that get a concrete copy per modeled
 * collection (the list route is `get /api/{collection}`). */
const DOCUMENT_PATHS = [
  '/api/{collection}',
  '/api/{collection}/{id}',
  '/api/{collection}/_query',
  '/api/{collection}/_count',
  '/api/{collection}/_explain',
  '/api/{collection}/_update',
  '/api/{collection}/_delete',
  '/api/{collection}/_aggregate',
] as const;
/** Operations whose request body is one document of the collection (POST also takes an array of them). */
const WRITE_BODIES: Readonly<Record<string, 'one' | 'one or many'>> = {
  'post /api/{collection}': 'one or many',
  'put /api/{collection}/{id}': 'one',
};

const COMPONENTS = '#/components/schemas/';
const DOCUMENT_REF = `${COMPONENTS}${SCHEMA_IDS.document}`;

export interface OpenApiDocument {
  paths?: Record<string, Record<string, unknown>>;
  components?: { schemas?: Record<string, unknown>; [key: string]: unknown };
  [key: string]: unknown;
}

/** `spec` (not changed) plus each model's components and its collection's document paths. */
export function withCollectionModels(spec: OpenApiDocument, models: readonly StoredModel[]): OpenApiDocument {
  if (models.length === 0) return spec;
  const schemas = { ...spec.components?.schemas };
  const paths = { ...spec.paths };
  for (const model of models) {
    const input = `${COLLECTION_SCHEMA_PREFIX}${model.collection}`;
    const stored = `${COLLECTION_DOCUMENT_PREFIX}${model.collection}`;
    schemas[input] = rebaseRefs(model.schema, `${COMPONENTS}${input}`);
    schemas[stored] = storedSchema(rebaseRefs(model.schema, `${COMPONENTS}${stored}`), model.collection);
    for (const template of DOCUMENT_PATHS) {
      const item = spec.paths?.[template];
      if (item === undefined) continue;
      paths[template.replace('{collection}', encodeURIComponent(model.collection))] = collectionPathItem(
        item,
        template,
        model.collection,
        input,
        stored,
        Object.keys((model.schema['properties'] ?? {}) as object),
      );
    }
  }
  return { ...spec, paths, components: { ...spec.components, schemas } };
}

/**
 * A model's internal references (`#`, `#/$defs/...`: the only ones a model may hold,
 * store/schema.ts) point at the model's root; inside the OpenAPI document they must point
 * at its component. Anchors (`#name`) are left as they are.
 */
export function rebaseRefs(schema: unknown, base: string): JsonSchema {
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (typeof value !== 'object' || value === null) return value;
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      const isPointer = (key === '$ref' || key === '$dynamicRef') && typeof v === 'string' && (v === '#' || v.startsWith('#/'));
      out[key] = isPointer ? `${base}${(v as string).slice(1)}` : walk(v);
    }
    return out;
  };
  return walk(schema) as JsonSchema;
}

/** The model with `_rev` beside its own properties: what the collection's routes answer.
 * `_rev` is declared at the model's top level so that its `additionalProperties: false`, if
 * any, accepts it. */
function storedSchema(model: JsonSchema, collection: string): JsonSchema {
  const properties = (model['properties'] ?? {}) as Record<string, unknown>;
  const required = Array.isArray(model['required']) ? (model['required'] as unknown[]) : [];
  return {
    ...model,
    description: `A stored document of "${collection}": its model, with \`_rev\` (the log index of its last change).`,
    properties: { ...properties, _rev: { type: 'integer', minimum: 1 } },
    required: [...required.filter((r) => r !== '_rev'), '_rev'],
  };
}

/** What a filter of the collection tests: its model's top-level fields (dotted paths reach
 * inside them). A description only: a filter is operators over paths, which the server's
 * validators check, not a part of the document. */
function filterDescription(collection: string, fields: readonly string[], input: string): string {
  const names = fields.length === 0 ? 'none declared' : fields.join(', ');
  return `a filter (JSON, MongoDB operators) over the documents of "${collection}": the fields of its model are ${names} (the component ${input})`;
}

/** The operation's JSON body's `filter` property, if it has one, described with `note` (in place: `op` is a copy). */
function withFilterDescribed(op: Record<string, unknown>, note: string): void {
  const schema = (op['requestBody'] as { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> } | undefined)?.content?.[
    'application/json'
  ]?.schema;
  const filter = schema?.properties?.['filter'];
  if (schema?.properties === undefined || typeof filter !== 'object' || filter === null) return;
  schema.properties = { ...schema.properties, filter: { ...filter, description: note } };
}

function collectionPathItem(
  item: Record<string, unknown>,
  template: string,
  collection: string,
  input: string,
  stored: string,
  fields: readonly string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [method, operation] of Object.entries(item)) {
    if (typeof operation !== 'object' || operation === null) continue;
    const op = replaceRefs(operation, DOCUMENT_REF, `${COMPONENTS}${stored}`) as Record<string, unknown>;
    const filterNote = filterDescription(collection, fields, input);
    const parameters = (op['parameters'] as Array<Record<string, unknown>> | undefined)
      ?.filter((p) => !(p['in'] === 'path' && p['name'] === 'collection'))
      .map((p) => (p['in'] === 'query' && p['name'] === 'filter' ? { ...p, description: filterNote } : p));
    withFilterDescribed(op, filterNote);
    const body = WRITE_BODIES[`${method} ${template}`];
    const one = { $ref: `${COMPONENTS}${input}` };
    out[method] = {
      ...op,
      summary: `${String(op['summary'] ?? '')} (${collection})`,
      ...(parameters !== undefined ? { parameters } : {}),
      ...(body !== undefined
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: body === 'one' ? one : { oneOf: [one, { type: 'array', items: one }] } } },
            },
          }
        : {}),
    };
  }
  return out;
}

/** A copy of `value` with every `{"$ref": from}` pointing at `to` instead. */
function replaceRefs(value: unknown, from: string, to: string): unknown {
  if (Array.isArray(value)) return value.map((v) => replaceRefs(v, from, to));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = key === '$ref' && v === from ? to : replaceRefs(v, from, to);
  return out;
}
