// /openapi.json is generated from the routes the server really has: it is a valid OpenAPI
// 3.1 document (checked by @apidevtools/swagger-parser), it names every route fastify knows
// (but the documentation's own), each with the error responses of the one error table, and
// /docs serves the interactive page from the package's own files.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { FastifyInstance } from 'fastify';
import { open } from '../../src/index.ts';
import { EmbeddedBackend } from '../../src/node/embedded-backend.ts';
import { createServer } from '../../src/server/index.ts';
import { ALL_ERROR_CODES, ERROR_CODES } from '../../src/store/error-codes.ts';
import { send, startTestServer } from './helpers.ts';

interface Operation {
  summary?: string;
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}
type OpenApi = { openapi: string; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };

/** fastify's `/api/:collection/:id` is OpenAPI's `/api/{collection}/{id}`. */
function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

describe('OpenAPI document', () => {
  let app: FastifyInstance;
  let close: () => Promise<void>;
  const routes: Array<{ method: string; url: string; hidden: boolean }> = [];

  before(async () => {
    const db = await open({ memory: true });
    const backend = new EmbeddedBackend(db, 'http://127.0.0.1:0');
    // Every route fastify registers, as fastify sees it (an onRoute hook of our own: the
    // document must not be the only witness of what it should contain).
    app = await createServer({ backend, dashboardHtml: '<html></html>' });
    close = async () => {
      await app.close();
      await db.close();
    };
    await app.ready();
    for (const r of collectRoutes(app)) routes.push(r);
  });
  after(() => close());

  test('is a valid OpenAPI 3.1 document', async () => {
    const res = await send(app, 'GET', '/openapi.json');
    assert.equal(res.statusCode, 200);
    const doc = res.json() as OpenApi;
    assert.equal(doc.openapi, '3.1.0');
    // validate() dereferences in place: give it a copy.
    await SwaggerParser.validate(structuredClone(doc) as never);
  });

  test('names every route fastify knows, with a summary and the error responses', async () => {
    const doc = (await send(app, 'GET', '/openapi.json')).json() as OpenApi;
    const visible = routes.filter((r) => !r.hidden && r.method !== 'HEAD');
    assert.ok(visible.length >= 30, `only ${visible.length} routes seen`);
    const errorStatuses = [...new Set(ALL_ERROR_CODES.map((c) => String(ERROR_CODES[c].status)))];
    for (const { method, url } of visible) {
      const op = doc.paths[openApiPath(url)]?.[method.toLowerCase()];
      assert.ok(op !== undefined, `${method} ${url} is missing from /openapi.json`);
      assert.ok(typeof op.summary === 'string' && op.summary.length > 0, `${method} ${url} has no summary`);
      for (const status of errorStatuses) assert.ok(op.responses[status] !== undefined, `${method} ${url} lacks the ${status} response`);
    }
    // And nothing else: every operation of the document is a route.
    const known = new Set(visible.map((r) => `${r.method.toLowerCase()} ${openApiPath(r.url)}`));
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) assert.ok(known.has(`${method} ${path}`), `${method} ${path} is not a route`);
    }
  });

  test('the error shape is the table of codes', async () => {
    const doc = (await send(app, 'GET', '/openapi.json')).json() as OpenApi;
    const error = doc.components.schemas['Error'] as { properties: { error: { properties: { code: { enum: string[] } } } } };
    assert.deepEqual(error.properties.error.properties.code.enum, [...ALL_ERROR_CODES]);
    const op = doc.paths['/api/{collection}/{id}']!['get']!;
    assert.deepEqual(op.responses['404']!.content!['application/json']!.schema, { $ref: '#/components/schemas/Error' });
  });

  test('describes the query parameters and bodies of the document routes', async () => {
    const doc = (await send(app, 'GET', '/openapi.json')).json() as OpenApi & {
      paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }>; requestBody?: unknown }>>;
    };
    const list = doc.paths['/api/{collection}']!['get']!;
    const names = (list.parameters ?? []).map((p) => `${p.in}:${p.name}`).sort();
    for (const name of ['path:collection', 'query:cursor', 'query:filter', 'query:limit', 'query:sort']) assert.ok(names.includes(name), name);
    assert.ok(doc.paths['/api/{collection}/_aggregate']!['post']!.requestBody !== undefined);
  });

  test('/docs serves the page and its files locally', async () => {
    const page = await send(app, 'GET', '/docs/');
    assert.equal(page.statusCode, 200);
    assert.match(page.headers['content-type'] as string, /text\/html/);
    assert.doesNotMatch(page.body, /https?:\/\/(?!127\.0\.0\.1)/, 'the page loads nothing from another host');
    const init = await send(app, 'GET', '/docs/static/swagger-initializer.js');
    assert.equal(init.statusCode, 200);
    assert.match(init.body, /validatorUrl/);
    const bundle = await send(app, 'GET', '/docs/static/swagger-ui-bundle.js');
    assert.equal(bundle.statusCode, 200);
    assert.ok(bundle.body.length > 100_000);
  });
});

// Each modeled collection gets its components and its own document paths, generated from the
// live models: a model set after the server started shows up, and one dropped goes away.
describe('OpenAPI document: collection models', () => {
  // `$defs` and an internal `$ref` (which must still resolve inside the OpenAPI document),
  // `additionalProperties: false` (which must still accept `_rev` in the stored form).
  const PRODUCT = {
    type: 'object',
    $defs: { price: { type: 'number', minimum: 0.01 } },
    properties: { _id: { type: 'string' }, name: { type: 'string', minLength: 1 }, price: { $ref: '#/$defs/price' } },
    required: ['_id', 'name', 'price'],
    additionalProperties: false,
  };
  type Schema = Record<string, unknown>;
  type Doc = OpenApi & {
    paths: Record<
      string,
      Record<string, { parameters?: Array<{ name: string; in: string }>; requestBody?: { content: Record<string, { schema: Schema }> } }>
    >;
  };
  const bodyOf = (doc: Doc, path: string, method: string): Schema => doc.paths[path]![method]!.requestBody!.content['application/json']!.schema;
  const okOf = (doc: Doc, path: string, method: string, status: string): unknown =>
    doc.paths[path]![method]!.responses[status]!.content!['application/json']!.schema;

  test('a collection with a schema: its components, used by its document routes; a valid document', async () => {
    const s = await startTestServer();
    try {
      const set = await send(s.app, 'PUT', '/api/products/_schema', { schema: PRODUCT });
      assert.equal(set.statusCode, 200, set.body);
      await send(s.app, 'POST', '/api/plain', { a: 1 }); // no model: no paths of its own
      const doc = (await send(s.app, 'GET', '/openapi.json')).json() as Doc;
      await SwaggerParser.validate(structuredClone(doc) as never);

      const model = doc.components.schemas['collection.products'] as Schema;
      assert.deepEqual(model['properties'], { ...PRODUCT.properties, price: { $ref: '#/components/schemas/collection.products/$defs/price' } });
      assert.deepEqual(model['required'], PRODUCT.required);
      assert.equal(doc.components.schemas['collection.plain'], undefined);
      assert.equal(doc.paths['/api/plain/{id}'], undefined);

      const stored = { $ref: '#/components/schemas/collectionDocument.products' };
      const input = { $ref: '#/components/schemas/collection.products' };
      assert.deepEqual(bodyOf(doc, '/api/products/{id}', 'put'), input);
      assert.deepEqual(bodyOf(doc, '/api/products', 'post'), { oneOf: [input, { type: 'array', items: input }] });
      assert.deepEqual(okOf(doc, '/api/products/{id}', 'get', '200'), stored);
      assert.deepEqual(okOf(doc, '/api/products/{id}', 'put', '201'), stored);
      assert.deepEqual((okOf(doc, '/api/products', 'get', '200') as Schema)['items'], stored);
      assert.deepEqual((okOf(doc, '/api/products/_query', 'post', '200') as Schema)['items'], stored);
      // The query routes too: each its own path for the collection, the same operations as the
      // templated route (nothing that is not a route), answers of the stored form, and a filter
      // that names the model's fields.
      for (const route of ['_count', '_explain', '_update', '_delete', '_aggregate']) {
        const concrete = doc.paths[`/api/products/${route}`];
        assert.ok(concrete !== undefined, `/api/products/${route} is missing`);
        assert.deepEqual(Object.keys(concrete), Object.keys(doc.paths[`/api/{collection}/${route}`]!), route);
        assert.match(concrete['post']!.summary ?? '', /\(products\)$/, route);
        const params = (concrete['post']!.parameters ?? []).map((p) => `${p.in}:${p.name}`);
        assert.ok(!params.includes('path:collection'), `${route}: the collection is in the path`);
        const filter = (bodyOf(doc, `/api/products/${route}`, 'post')['properties'] as Record<string, Schema> | undefined)?.['filter'];
        if (route !== '_aggregate') assert.match(String(filter?.['description']), /"products".*_id, name, price/, route);
        assert.equal(doc.paths[`/api/plain/${route}`], undefined);
      }
      const listFilter = doc.paths['/api/products']!['get']!.parameters!.find((p) => p.in === 'query' && p.name === 'filter') as Schema | undefined;
      assert.match(String(listFilter?.['description']), /_id, name, price/);
      for (const [path, ops] of Object.entries(doc.paths)) {
        if (!path.startsWith('/api/products')) continue;
        const template = doc.paths[path.replace('/api/products', '/api/{collection}')];
        assert.ok(template !== undefined, `${path} has no templated route`);
        for (const method of Object.keys(ops)) assert.ok(template[method] !== undefined, `${method} ${path} is not a route`);
      }

      // PATCH takes operators, not a document.
      assert.notDeepEqual(bodyOf(doc, '/api/products/{id}', 'patch'), input);
      // The collection is in the path, not a parameter; the id still is one.
      const params = doc.paths['/api/products/{id}']!['get']!.parameters!.map((p) => `${p.in}:${p.name}`);
      assert.ok(params.includes('path:id') && !params.includes('path:collection'), params.join());

      // What the server stores and answers matches the stored form, and an invalid document
      // (refused by the server) does not match the model: the schema is the one in force.
      const created = await send(s.app, 'POST', '/api/products', { _id: 'p1', name: 'Pen', price: 1.5 });
      assert.equal(created.statusCode, 201, created.body);
      const resolved = (await SwaggerParser.dereference(structuredClone(doc) as never)) as unknown as Doc;
      const ajv = new Ajv2020({ strict: false });
      const storedCheck = ajv.compile(resolved.components.schemas['collectionDocument.products'] as Schema);
      const inputCheck = ajv.compile(resolved.components.schemas['collection.products'] as Schema);
      assert.ok(storedCheck(created.json()), JSON.stringify(storedCheck.errors));
      assert.equal(inputCheck(created.json()), false, 'the model itself has no _rev');
      const refused = await send(s.app, 'POST', '/api/products', { _id: 'p2', name: 'Pen', price: 0 });
      assert.equal(refused.statusCode, 400);
      assert.equal(inputCheck({ _id: 'p2', name: 'Pen', price: 0 }), false);

      // GET /api lists the model with the collection.
      assert.deepEqual((await send(s.app, 'GET', '/api')).json(), [
        { name: 'plain', count: 1 },
        { name: 'products', count: 1, schema: PRODUCT },
      ]);

      // Live: dropping the model takes it out again.
      assert.equal((await send(s.app, 'DELETE', '/api/products/_schema')).statusCode, 204);
      const after = (await send(s.app, 'GET', '/openapi.json')).json() as Doc;
      assert.equal(after.components.schemas['collection.products'], undefined);
      assert.equal(after.paths['/api/products/{id}'], undefined);
    } finally {
      await s.close();
    }
  });

  test('with authentication on, no collection or model is named, however the caller asks', async () => {
    const s = await startTestServer({ auth: { rootPassword: 'correct horse battery' } });
    try {
      const until = Date.now() + 5000;
      while (!s.db.store.auth.enabled && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
      const root = { authorization: `Basic ${Buffer.from('root:correct horse battery').toString('base64')}` };
      assert.equal((await send(s.app, 'PUT', '/api/products/_schema', { schema: PRODUCT }, root)).statusCode, 200);
      assert.ok(s.db.store.model('products') !== undefined);
      for (const headers of [{}, root]) {
        const res = await send(s.app, 'GET', '/openapi.json', undefined, headers);
        assert.equal(res.statusCode, 200);
        assert.doesNotMatch(res.body, /products/);
      }
    } finally {
      await s.close();
    }
  });
});

/**
 * Every route fastify knows, read from its own router (printRoutes: a radix tree, each line
 * a segment appended to its parent's path, with the methods of a route in parentheses).
 * The documentation's own routes are the hidden ones.
 */
function collectRoutes(app: FastifyInstance): Array<{ method: string; url: string; hidden: boolean }> {
  const out: Array<{ method: string; url: string; hidden: boolean }> = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│ ]*)[├└]── (\S+)(?: \(([^)]*)\))?$/.exec(line);
    if (m === null) continue;
    const depth = m[1]!.length / 4;
    const url = (depth === 0 ? '' : stack[depth - 1]!) + m[2]!;
    stack[depth] = url;
    for (const method of (m[3] ?? '').split(', ').filter((x) => x !== '')) {
      out.push({ method, url, hidden: url === '/openapi.json' || url === '/docs' || url.startsWith('/docs/') });
    }
  }
  return out;
}
