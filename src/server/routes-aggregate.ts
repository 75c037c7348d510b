// POST /api/:collection/_aggregate {"pipeline": [...], "consistency"?, "explain"?}: the leading
// `$match` runs as a sliced query (its index, its turns on the event loop: sliced-query.ts),
// then the other stages run on mingo over its matches (store/aggregate.ts), bounded there, on
// the aggregation worker thread (aggregate-offload.ts), off the event loop. With
// `"explain": true` (MongoDB's aggregate option), the leading `$match` runs and its plan is the
// answer, `{"match": <plan as _explain gives it>, "stages": [the other stages' names]}`: the
// other stages do not run.
import type { FastifyInstance } from 'fastify';
import { DEFAULT_AGGREGATE_BOUNDS, planPipeline, tooManyDocuments } from '../store/aggregate.ts';
import type { Document } from '../store/types.ts';
import { ValidationError } from '../store/errors.ts';
import { validateCollectionName } from '../store/validate.ts';
import { readableStore } from './backend-access.ts';
import { bodyObject, parseConsistency, queryParams } from './http-input.ts';
import { AggregateOffload } from './aggregate-offload.ts';
import { RequestSlicer } from './loop-turns.ts';
import type { CollectionParams, RouteContext } from './route-context.ts';
import { findSliced } from './sliced-query.ts';

export function registerAggregateRoutes(app: FastifyInstance, { backend }: RouteContext): void {
  const offload = new AggregateOffload();
  app.addHook('onClose', async () => offload.close());
  app.post<{ Params: CollectionParams }>('/api/:collection/_aggregate', async (request, reply) => {
    const { collection } = request.params;
    validateCollectionName(collection);
    queryParams(request.query, []);
    const body = bodyObject(request.body, ['pipeline', 'consistency', 'explain'], true);
    const explain = body['explain'] ?? false;
    if (typeof explain !== 'boolean') throw new ValidationError('explain: must be true or false');
    const { match, rest } = planPipeline(body['pipeline']);
    const store = await readableStore(backend, parseConsistency(body['consistency']));
    const slicer = new RequestSlicer();
    await slicer.next();
    const bounds = DEFAULT_AGGREGATE_BOUNDS;
    // One more than the bound: more than that many matches is refused, not cut short.
    const found = await findSliced(store, collection, match, { limit: bounds.docsMax + 1 }, slicer);
    if (explain) return { match: found.explain, stages: rest.map((stage) => Object.keys(stage)[0]!) };
    const { docs } = found;
    if (docs.length > bounds.docsMax) throw tooManyDocuments(bounds);
    await slicer.next();
    const json = await offload.run(docs as Document[], rest, bounds, slicer);
    return reply.type('application/json; charset=utf-8').send(json);
  });
}
