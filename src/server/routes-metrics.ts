// GET /cluster/metrics: this node's Raft metrics as JSON (the seed's RaftMetrics and
// more; node/node-metrics.ts says what each field means). GET /metrics has the same
// numbers in Prometheus form.
import type { FastifyInstance } from 'fastify';
import type { RaftMetrics } from '../node/node-metrics.ts';
import { StoreError } from '../store/errors.ts';
import { queryParams } from './http-input.ts';
import type { RouteContext } from './route-context.ts';

export function registerMetricsRoutes(app: FastifyInstance, { backend }: RouteContext): void {
  app.get('/cluster/metrics', async (request): Promise<RaftMetrics> => {
    queryParams(request.query, []);
    if (backend.raftMetrics === undefined) throw new StoreError('NOT_FOUND', 'this server has no Raft metrics');
    return backend.raftMetrics().metrics;
  });
}
