// Liveness and readiness probes, and the dashboard page.
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
        errorBody(
          'TIMEOUT',
          `not ready: applied index ${status.appliedIndex} is behind commit index ${status.commitIndex}`,
          status.leader.url,
        ),
      );
  });
}

export function registerDashboardRoute(app: FastifyInstance, dashboardHtml: string | undefined): void {
  app.get('/dashboard', async (_request, reply) => {
    if (dashboardHtml === undefined) {
      return reply.code(404).send(errorBody('NOT_FOUND', 'the dashboard is not available on this server (no dashboard HTML was given)'));
    }
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(dashboardHtml);
  });
}
