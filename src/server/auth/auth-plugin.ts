// Authentication and authorisation for the HTTP API (issue #11, etcd's model): the hooks
// that check every request against ROUTE_ACCESS, the /auth routes, and the bootstrap that
// turns authentication on when this node was given a root password.
//
// Authentication is required when the replicated state says it is on (any node, once the
// bootstrap has applied) or this node was started with a root password (before the
// bootstrap applies, nobody can log in yet: every checked request gets 401).
import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import type { DatabaseBackend } from '../../node/backend.ts';
import type { AuthAction, AuthCommand, AuthOp, Permission, RoleRecord, UserRecord } from '../../store/auth-state.ts';
import { ValidationError } from '../../store/errors.ts';
import { validatePermissions, validateRoleName, validateUserName } from '../../store/validate-auth-command.ts';
import { runCommand } from '../backend-access.ts';
import { CAUGHT_UP_ONCE_WAIT_MS_MAX, caughtUpWithin, isDataApiRequest } from '../catch-up-guard.ts';
import { bodyObject, queryParams } from '../http-input.ts';
import {
  Authenticator,
  DEFAULT_TOKEN_TTL_MS,
  ForbiddenError,
  UnauthorizedError,
  WWW_AUTHENTICATE,
  WWW_AUTHENTICATE_SCRIPT,
  type Principal,
} from './authenticator.ts';
import { PASSWORD_CHARS_MAX, validatePassword } from './password.ts';
import { accessOf, type RouteAccess } from './route-access.ts';

export interface AuthOptions {
  /** This node turns authentication on (proposes the bootstrap that creates user `root` with
   * this password) and requires it from the start. */
  readonly rootPassword?: string;
  /** Lifetime of the tokens this node issues (default 1 h). */
  readonly tokenTtlMs?: number;
  /** Remembers, across restarts, that this node has seen authentication on (start-node keeps
   * it in the data directory): a restarted node then requires it before it has replayed the
   * log that says so, instead of answering strangers meanwhile. */
  readonly enabledMarker?: AuthEnabledMarker;
}

export interface AuthEnabledMarker {
  /** Whether the marker was there when the node started. */
  readonly present: boolean;
  /** Records the marker (durably); called once, when this node first sees authentication on. */
  write(): void;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyInstance {
    /** Whether requests must be authenticated now (see registerAuth). */
    authRequired(): boolean;
  }
  interface FastifyRequest {
    /** The authenticated user; undefined when authentication is off or the route is open. */
    principal?: Principal;
  }
}

/** Delay between attempts of the bootstrap while the cluster has no leader (bounded backoff). */
const BOOTSTRAP_RETRY_MS_MIN = 100;
const BOOTSTRAP_RETRY_MS_MAX = 2_000;

/** Throws FORBIDDEN unless the request's user may do `action` on `collection` (no-op with authentication off). */
export function requireCollectionAccess(request: FastifyRequest, backend: DatabaseBackend, collection: string, action: AuthAction): void {
  const principal = request.principal;
  if (principal === undefined) return;
  if (!backend.store.auth.allows(principal.user, collection, action)) {
    throw new ForbiddenError(`user "${principal.user.name}" may not ${action} collection "${collection}"`);
  }
}

/**
 * Whether a request authenticated earlier may still read `collection` now: a long-lived
 * change stream asks before each event, and ends once its token expired, its user changed
 * password or was removed, or its roles no longer allow the read.
 */
export function stillAllowed(request: FastifyRequest, backend: DatabaseBackend, collection: string): boolean {
  const principal = request.principal;
  // Opened while authentication was off: ends once it is on.
  if (principal === undefined) return !request.server.authRequired();
  if (principal.expiresAtMs !== undefined && principal.expiresAtMs <= Date.now()) return false;
  const auth = backend.store.auth;
  const user = auth.user(principal.user.name);
  return user !== undefined && user.generation === principal.user.generation && auth.allows(user, collection, 'read');
}

function userView(user: UserRecord): { name: string; roles: readonly string[] } {
  return { name: user.name, roles: user.roles };
}

function roleView(role: RoleRecord): { name: string; permissions: readonly Permission[] } {
  return { name: role.name, permissions: role.permissions };
}

export function registerAuth(app: FastifyInstance, backend: DatabaseBackend, options: AuthOptions, log: FastifyBaseLogger): void {
  const tokenTtlMs = options.tokenTtlMs ?? DEFAULT_TOKEN_TTL_MS;
  if (!Number.isSafeInteger(tokenTtlMs) || tokenTtlMs < 1000) throw new RangeError(`invalid tokenTtlMs ${tokenTtlMs} (at least 1000 ms)`);
  if (options.rootPassword !== undefined) validatePassword(options.rootPassword, 'root password');
  const authenticator = new Authenticator(() => backend.store.auth, tokenTtlMs, log);
  let seenOn = options.enabledMarker?.present === true;
  const required = (): boolean => {
    if (!seenOn && backend.store.auth.enabled) {
      seenOn = true;
      options.enabledMarker?.write();
    }
    return seenOn || options.rootPassword !== undefined;
  };
  app.decorate('authRequired', required);
  // Until this node has caught up with the cluster once (a linearizable read barrier: it has
  // applied what the leader had committed), its state may not yet say that authentication is
  // on (a node joining, or one whose data predates it): it waits for that barrier, or answers
  // 503, rather than serve or forward a request it cannot judge. isReady() is not enough: a
  // fresh follower is "ready" at index 0 as soon as it hears a heartbeat.
  let caughtUpOnce = false;

  // Every route says who may call it; one that does not is a bug caught at startup.
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      const access = accessOf(method, route.url);
      route.config = { ...(route.config as object), access };
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    // No route (404): checked as any API path, so that unknown paths tell nothing.
    const access: RouteAccess = request.routeOptions.config.access ?? { kind: 'authenticated' };
    if (access.kind === 'open') return;
    // The status stays readable: it is how an operator sees why a node does not catch up.
    if (!required() && !caughtUpOnce && !(request.method === 'GET' && request.routeOptions.url === '/cluster/status')) {
      // Throws NO_LEADER / READ_TIMEOUT (503, nothing done) when it cannot catch up in time;
      // the data API also NOT_CAUGHT_UP past CAUGHT_UP_ONCE_WAIT_MS_MAX: its clients, picking
      // nodes at random, would otherwise all end up waiting on a node that has just restarted
      // (the barrier goes on, and a later request finds it passed). The cluster routes and
      // the dashboard's polls wait as before: they are about this node.
      const barrier = backend.readBarrier('linearizable');
      await (isDataApiRequest(request) ? caughtUpWithin(barrier, CAUGHT_UP_ONCE_WAIT_MS_MAX) : barrier);
      caughtUpOnce = true;
    }
    if (!required()) return;
    try {
      request.principal = await authenticator.authenticate(request.headers.authorization);
    } catch (error) {
      void reply.header('www-authenticate', request.headers['x-requested-with'] === undefined ? WWW_AUTHENTICATE : WWW_AUTHENTICATE_SCRIPT);
      throw error;
    }
    checkAccess(request, access);
  });

  // Checked again once the body has arrived (it may take up to the request timeout), against
  // the user as it is now: a role withdrawn or a password changed meanwhile counts.
  // A callback hook, not an async one: with authentication off it runs for every request and
  // does nothing, so it should not cost a promise.
  app.addHook('preHandler', (request, _reply, done) => {
    const principal = request.principal;
    if (principal === undefined) return done();
    const current = backend.store.auth.user(principal.user.name);
    if (current?.generation !== principal.user.generation) return done(new UnauthorizedError('token revoked: log in again'));
    if (principal.expiresAtMs !== undefined && principal.expiresAtMs <= Date.now()) return done(new UnauthorizedError('token expired: log in again'));
    request.principal = { ...principal, user: current, root: backend.store.auth.isRoot(current) };
    try {
      checkAccess(request, request.routeOptions.config.access ?? { kind: 'authenticated' });
    } catch (error) {
      return done(error as Error);
    }
    done();
  });

  function checkAccess(request: FastifyRequest, access: RouteAccess): void {
    const principal = request.principal;
    if (principal === undefined) return;
    if (access.kind === 'root' && !principal.root) throw new ForbiddenError(`user "${principal.user.name}" lacks role "root"`);
    if (access.kind === 'collection') {
      const collection = (request.params as { collection?: string }).collection ?? '';
      requireCollectionAccess(request, backend, collection, access.action);
    }
  }

  registerAuthRoutes(app, backend, authenticator);
  if (options.rootPassword !== undefined) startBootstrap(app, backend, authenticator, options.rootPassword, log);
}

function registerAuthRoutes(app: FastifyInstance, backend: DatabaseBackend, authenticator: Authenticator): void {
  // The asking user goes into the entry: the leader applies it only if that user holds root
  // then (AuthState.requireRoot), whatever this node believed about authentication.
  const propose = async (request: FastifyRequest, op: AuthOp): Promise<void> => {
    const by = request.principal?.user.name;
    await runCommand(backend, { type: 'auth', ...op, ...(by !== undefined ? { by } : {}) } as AuthCommand);
  };

  app.post('/auth/login', async (request) => {
    queryParams(request.query, []);
    const body = bodyObject(request.body, ['user', 'password'], true);
    validateUserName(body['user'], 'user');
    if (typeof body['password'] !== 'string' || body['password'].length > PASSWORD_CHARS_MAX) {
      throw new ValidationError(`password: must be a string of at most ${PASSWORD_CHARS_MAX} characters`);
    }
    // The newest users: a user created a moment ago on another node can log in here.
    await backend.readBarrier('linearizable');
    const user = await authenticator.checkPassword(body['user'], body['password']);
    const { token, expiresAtMs } = authenticator.issueToken(user);
    return { token, expiresAt: new Date(expiresAtMs).toISOString() };
  });

  app.get('/auth/whoami', async (request) => {
    queryParams(request.query, []);
    const principal = request.principal;
    if (principal === undefined) return { user: null, authentication: false };
    const permissions = principal.user.roles.flatMap((r) => backend.store.auth.role(r)?.permissions ?? []);
    return { user: principal.user.name, roles: principal.user.roles, root: principal.root, permissions, authentication: true };
  });

  app.get('/auth/users', async (request) => {
    queryParams(request.query, []);
    await backend.readBarrier('linearizable');
    return { users: backend.store.auth.users().map(userView) };
  });

  app.put<{ Params: { name: string } }>('/auth/users/:name', async (request, reply) => {
    queryParams(request.query, []);
    const name = request.params.name;
    validateUserName(name, 'name');
    const body = bodyObject(request.body, ['password', 'roles'], true);
    const roles = body['roles'] ?? [];
    if (!Array.isArray(roles)) throw new ValidationError('roles: must be an array of role names');
    roles.forEach((r, i) => validateRoleName(r, `roles.${i}`));
    let passwordHash: string | undefined;
    if (body['password'] !== undefined) {
      validatePassword(body['password']);
      // Hashed here, before proposing: the log and snapshots never hold a password.
      passwordHash = await authenticator.hasher.hash(body['password']);
    }
    const existed = backend.store.auth.user(name) !== undefined;
    await propose(request, { op: 'putUser', name, roles: roles as string[], ...(passwordHash !== undefined ? { passwordHash } : {}) });
    const user = backend.store.auth.user(name);
    void reply.code(existed ? 200 : 201);
    return { user: user === undefined ? null : userView(user) };
  });

  app.delete<{ Params: { name: string } }>('/auth/users/:name', async (request) => {
    queryParams(request.query, []);
    validateUserName(request.params.name, 'name');
    await propose(request, { op: 'deleteUser', name: request.params.name });
    return { removed: true };
  });

  app.get('/auth/roles', async (request) => {
    queryParams(request.query, []);
    await backend.readBarrier('linearizable');
    return { roles: backend.store.auth.roles().map(roleView) };
  });

  app.put<{ Params: { name: string } }>('/auth/roles/:name', async (request, reply) => {
    queryParams(request.query, []);
    const name = request.params.name;
    validateRoleName(name, 'name');
    const body = bodyObject(request.body, ['permissions'], true);
    validatePermissions(body['permissions'], 'permissions');
    const existed = backend.store.auth.role(name) !== undefined;
    await propose(request, { op: 'putRole', name, permissions: body['permissions'] as Permission[] });
    const role = backend.store.auth.role(name);
    void reply.code(existed ? 200 : 201);
    return { role: role === undefined ? null : roleView(role) };
  });

  app.delete<{ Params: { name: string } }>('/auth/roles/:name', async (request) => {
    queryParams(request.query, []);
    validateRoleName(request.params.name, 'name');
    await propose(request, { op: 'deleteRole', name: request.params.name });
    return { removed: true };
  });
}

/**
 * Proposes the bootstrap (user and role `root`, a random token key) until the replicated
 * state has authentication on: this node's, or another node's bootstrap, whichever applies
 * first (the others change nothing). Stops when the server closes.
 */
function startBootstrap(
  app: FastifyInstance,
  backend: DatabaseBackend,
  authenticator: Authenticator,
  rootPassword: string,
  log: FastifyBaseLogger,
): void {
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let delayMs = BOOTSTRAP_RETRY_MS_MIN;
  let hash: string | undefined;
  const attempt = async (): Promise<void> => {
    if (closed) return;
    if (backend.store.auth.enabled) {
      log.info('authentication is on');
      return;
    }
    try {
      if (backend.isReady()) {
        hash ??= await authenticator.hasher.hash(rootPassword);
        await runCommand(backend, { type: 'auth', op: 'bootstrap', rootPasswordHash: hash, tokenKey: randomBytes(32).toString('hex') });
        log.info('authentication turned on: user "root" created');
        return;
      }
    } catch (error) {
      log.warn({ err: error }, 'authentication bootstrap not done yet; retrying');
    }
    delayMs = Math.min(delayMs * 2, BOOTSTRAP_RETRY_MS_MAX);
    if (!closed) timer = setTimeout(() => void attempt(), delayMs);
  };
  timer = setTimeout(() => void attempt(), 0);
  app.addHook('onClose', async () => {
    closed = true;
    clearTimeout(timer);
  });
}
