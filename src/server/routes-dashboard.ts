// GET /dashboard: the web dashboard's page, when the node was given one.
import type { FastifyInstance } from 'fastify';
import { errorBody } from './errors.ts';

export function registerDashboardRoute(app: FastifyInstance, dashboardHtml: string | undefined): void {
  app.get('/dashboard', async (_request, reply) => {
    if (dashboardHtml === undefined) {
      return reply.code(404).send(errorBody('NOT_FOUND', 'the dashboard is not available on this server (no dashboard HTML was given)'));
    }
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(dashboardHtml);
  });
}
