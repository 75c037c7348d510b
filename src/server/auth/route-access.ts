// Who may call each route: one table, audited in one place. A route missing from it is
// refused at registration (createServer throws), so a new route cannot be open by mistake.
//
// - open: anyone (probes, the login form and the login itself);
// - authenticated: any user (who am I, metrics);
// - root: role `root` only (cluster administration, users and roles);
// - read / write: the user's roles must allow that action on the `:collection` of the path;
// - tx: any user here; the transaction route checks every collection its body names.
import type { AuthAction } from '../../store/auth-state.ts';

export type RouteAccess =
  | { readonly kind: 'open' }
  | { readonly kind: 'authenticated' }
  | { readonly kind: 'root' }
  | { readonly kind: 'collection'; readonly action: AuthAction }
  | { readonly kind: 'tx' };

const OPEN: RouteAccess = { kind: 'open' };
const AUTHENTICATED: RouteAccess = { kind: 'authenticated' };
const ROOT: RouteAccess = { kind: 'root' };
const READ: RouteAccess = { kind: 'collection', action: 'read' };
const WRITE: RouteAccess = { kind: 'collection', action: 'write' };

/** `METHOD url` (fastify's route pattern) → who may call it. HEAD routes follow their GET. */
export const ROUTE_ACCESS: Readonly<Record<string, RouteAccess>> = {
  'GET /healthz': OPEN,
  'GET /readyz': OPEN,
  // The page holds no data: it shows a login form, then calls the API with a token.
  'GET /dashboard': OPEN,
  'POST /auth/login': OPEN,
  // The API's description: the routes only, the same on every node; no collection is named
  // while authentication is on (server/openapi.ts). /docs is swagger-ui's page and files.
  'GET /openapi.json': OPEN,
  'GET /docs': OPEN,
  'GET /docs/': OPEN,
  'GET /docs/json': OPEN,
  'GET /docs/yaml': OPEN,
  'GET /docs/static/index.html': OPEN,
  'GET /docs/static/swagger-initializer.js': OPEN,
  'GET /docs/static/*': OPEN,

  'GET /auth/whoami': AUTHENTICATED,
  'GET /metrics': AUTHENTICATED,
  // Lists only the collections the user may read (routes-api.ts).
  'GET /api': AUTHENTICATED,
  // Every collection's changes: the stream itself sends only those of collections the user may read.
  'GET /api/_changes': AUTHENTICATED,

  'GET /cluster/status': ROOT,
  // Raft metrics and the cluster's events (issue #13): the same right as the status.
  'GET /cluster/metrics': ROOT,
  'GET /cluster/events': ROOT,
  'POST /cluster/members': ROOT,
  'DELETE /cluster/members/:id': ROOT,
  'PATCH /cluster/members/:id': ROOT,
  'POST /cluster/transfer': ROOT,
  'POST /cluster/transfer-leadership': ROOT,
  'POST /cluster/snapshot': ROOT,
  // Dropping a collection is administration: no per-collection right covers it.
  'DELETE /api/:collection': ROOT,
  // The whole state, users' password hashes and the token key included (routes-backup.ts).
  'GET /cluster/backup': ROOT,
  // Only with start --enable-fault-injection (routes-fault-injection.ts).
  'POST /cluster/fault-injection': ROOT,
  'GET /auth/users': ROOT,
  'PUT /auth/users/:name': ROOT,
  'DELETE /auth/users/:name': ROOT,
  'GET /auth/roles': ROOT,
  'PUT /auth/roles/:name': ROOT,
  'DELETE /auth/roles/:name': ROOT,

  'GET /api/:collection': READ,
  'GET /api/:collection/:id': READ,
  'POST /api/:collection/_query': READ,
  'POST /api/:collection/_count': READ,
  'POST /api/:collection/_explain': READ,
  'POST /api/:collection/_aggregate': READ,
  'GET /api/:collection/_indexes': READ,
  'GET /api/:collection/_schema': READ,
  'GET /api/:collection/:id/_history': READ,
  'GET /api/:collection/_audit': READ,
  'GET /api/:collection/_changes': READ,
  'POST /api/:collection': WRITE,
  'PUT /api/:collection/:id': WRITE,
  'PATCH /api/:collection/:id': WRITE,
  'DELETE /api/:collection/:id': WRITE,
  'POST /api/:collection/_update': WRITE,
  'POST /api/:collection/_delete': WRITE,
  'POST /api/:collection/_indexes': WRITE,
  'DELETE /api/:collection/_indexes/:name': WRITE,
  // A model changes what every later write may store: the collection's write right.
  'PUT /api/:collection/_schema': WRITE,
  'DELETE /api/:collection/_schema': WRITE,
  'POST /api/_tx': { kind: 'tx' },
};

/** The access rule of a route; throws for a route the table does not name. */
export function accessOf(method: string, url: string): RouteAccess {
  const key = `${method === 'HEAD' ? 'GET' : method} ${url}`;
  const access = ROUTE_ACCESS[key];
  if (access === undefined) throw new Error(`route ${key} has no entry in ROUTE_ACCESS (src/server/auth/route-access.ts): say who may call it`);
  return access;
}
