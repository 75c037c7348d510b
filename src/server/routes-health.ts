// Liveness and readiness probes.
import type { FastifyInstance } from 'fastify';
import { errorBody } from './errors.ts';
import type { RouteContext } from './route-context.ts';

export function registerHealthRoutes(app: FastifyInstance, { backend }: RouteContext): void {
  app.get('/healthz', async () => ({ ok: true }));

  // Ready: a leader is known and this node has applied the commit index it knows.
  app.get('/readyz', async (_request, reply) => {
    if (backend.isReady()) return { ok: true };
    const status = backend.status();
    if (status.leader === null) return reply.code(503).send(errorBody('NO_LEADER', 'not ready: no known leader'));
    return reply
      .code(503)
      .send(
        errorBody('NOT_CAUGHT_UP', `not ready: applied index ${status.appliedIndex} is behind commit index ${status.commitIndex}`, status.leader.url),
      );
  });
}
