// The data API refuses at once on a node far behind the leader (src/node/catch-up.ts):
// 503 NOT_CAUGHT_UP with the leader's URL, nothing done, instead of holding the request
// until the node has applied what it misses. Runs after authentication (a stranger learns
// only what the open /readyz says anyway). A read that accepts a stale state
// (`consistency=local`) is still served: that is what it asked for.
import type { FastifyInstance } from 'fastify';
import { FOLLOWER_LAG_ENTRIES_MAX, notCaughtUp } from '../node/catch-up.ts';
import type { DatabaseBackend } from '../node/backend.ts';

export function registerCatchUpGuard(app: FastifyInstance, backend: DatabaseBackend): void {
  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/api')) return;
    if (request.routeOptions.config.access?.kind === 'open') return;
    const behind = backend.entriesBehindLeader();
    if (behind <= FOLLOWER_LAG_ENTRIES_MAX) return;
    if (request.method === 'GET' && (request.query as Record<string, unknown> | undefined)?.['consistency'] === 'local') return;
    throw notCaughtUp(behind);
  });
}
