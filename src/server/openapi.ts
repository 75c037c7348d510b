// /openapi.json (OpenAPI 3.1) generated from the routes a node really serves, by
// @fastify/swagger, and /docs, the interactive page of @fastify/swagger-ui (its files come
// from the package: no CDN).
//
// The route schemas describe; they do not validate. The store's validators (validate-*.ts)
// and http-input.ts stay the one authority on input: they name the key and the limit in the
// API's error shape, and the embedded database and the client share them. Running fastify's
// ajv on the same input too would be a second check that could disagree with the first (and
// answer in another shape), and a response schema would make fastify drop every document
// field the schema does not name. So every route here gets a validator that accepts and a
// serializer that is JSON.stringify.
//
// Access (docs/http-api.md): /openapi.json and /docs are open, as a probe is: they describe
// the routes, which are the same on every node, and name no collection. Each collection's
// model (its components and its document routes as concrete paths: openapi-collections.ts)
// is added only while authentication is off; with it on, a caller learns collections and
// their models from GET /api, which lists only what they may read.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { DatabaseBackend } from '../node/backend.ts';
import type { Store } from '../store/store.ts';
import { withCollectionModels, type OpenApiDocument } from './openapi-collections.ts';
import { ROUTE_DESCRIPTIONS } from './openapi-routes.ts';
import { errorResponses, SHARED_SCHEMAS, type JsonSchema } from './openapi-schemas.ts';

export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PREFIX = '/docs';
export { COLLECTION_DOCUMENT_PREFIX, COLLECTION_SCHEMA_PREFIX } from './openapi-collections.ts';

/** Each collection's model (its JSON Schema), by collection name: GET /api lists them. */
export function collectionSchemas(store: Store): ReadonlyMap<string, JsonSchema> {
  return new Map(store.models().map((m) => [m.collection, m.schema]));
}

/** The generated document plus, while authentication is off, each collection's model
 * (openapi-collections.ts), read from this node's store as it is now. */
function documentFor(app: FastifyInstance, backend: DatabaseBackend): OpenApiDocument {
  const spec = structuredClone(app.swagger()) as unknown as OpenApiDocument;
  if (app.authRequired()) return spec;
  return withCollectionModels(spec, backend.store.models());
}

/** Gives each route its description (openapi-routes.ts) and the error responses. */
function describeRoute(route: RouteOptions): void {
  const own = (route.schema ?? {}) as Record<string, unknown>;
  if (own['hide'] === true) return;
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  const description = ROUTE_DESCRIPTIONS[`${methods.find((m) => m !== 'HEAD') ?? methods[0]} ${route.url}`];
  const successes = description?.response ?? {};
  route.schema = {
    ...(description !== undefined ? { ...description, tags: [...description.tags] } : { summary: `${methods.join(', ')} ${route.url}` }),
    ...own,
    response: { ...successes, ...errorResponses() },
  };
}

/** Before any route (auth's own included): collects and describes every route registered after it. */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  app.addHook('onRoute', describeRoute);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Collection Store',
        version: '0.1.0',
        description: 'A replicated document database. Errors: docs/http-api.md. Authentication: Bearer token (POST /auth/login) or HTTP Basic.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, basic: { type: 'http', scheme: 'basic' } },
      },
    },
    // Shared schemas become #/components/schemas/<$id>, not def-0, def-1...
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json['$id'] === 'string' ? json['$id'] : `def-${i}`) },
  });
}

/** After registerAuth (its onRoute hook gives these routes their access rule): /openapi.json and /docs. */
export async function registerDocsRoutes(app: FastifyInstance, backend: DatabaseBackend): Promise<void> {
  await app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    // The default sends the document to an online validator from the browser.
    uiConfig: { validatorUrl: null },
    transformSpecification: () => documentFor(app, backend),
    transformSpecificationClone: false,
  });
  app.get(OPENAPI_PATH, { schema: { hide: true } }, async () => documentFor(app, backend));
}
