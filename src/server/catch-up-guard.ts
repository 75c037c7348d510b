// The data API refuses at once on a node far behind the leader (src/node/catch-up.ts), and
// waits a bounded time for a node that has not caught up once since it started:
// 503 NOT_CAUGHT_UP with the leader's URL, nothing done, instead of holding the request
// until the node has applied what it misses. Runs after authentication (a stranger learns
// only what the open /readyz says anyway). A read that accepts a stale state
// (`consistency=local`) is still served: that is what it asked for.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FOLLOWER_LAG_ENTRIES_MAX, notCaughtUp, notCaughtUpSinceStart } from '../node/catch-up.ts';
import type { DatabaseBackend } from '../node/backend.ts';

/** A request of the data API (`/api...`), which a client may as well send to another node. */
export function isDataApiRequest(request: FastifyRequest): boolean {
  return request.url.startsWith('/api');
}

export function registerCatchUpGuard(app: FastifyInstance, backend: DatabaseBackend): void {
  // A callback hook, not an async one: it runs for every request and almost always passes,
  // so it should not cost a promise.
  app.addHook('onRequest', (request, _reply, done) => {
    if (!isDataApiRequest(request) || request.routeOptions.config.access?.kind === 'open') return done();
    const behind = backend.entriesBehindLeader();
    if (behind <= FOLLOWER_LAG_ENTRIES_MAX) return done();
    if (request.method === 'GET' && (request.query as Record<string, unknown> | undefined)?.['consistency'] === 'local') return done();
    done(notCaughtUp(behind));
  });
}

/** How long a request waits for a node that has not caught up since it started (a restarted
 * node replaying what it missed, on a cold JIT) before 503 NOT_CAUGHT_UP, in ms. */
export const CAUGHT_UP_ONCE_WAIT_MS_MAX = 200;

/** `barrier`, or NOT_CAUGHT_UP after `waitMs` (the barrier itself goes on). */
export async function caughtUpWithin(barrier: Promise<void>, waitMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(notCaughtUpSinceStart(waitMs)), waitMs);
  });
  barrier.catch(() => {});
  try {
    await Promise.race([barrier, late]);
  } finally {
    clearTimeout(timer);
  }
}
