// Builds the fastify HTTP server of a node over a DatabaseBackend. The caller
// listens (and may register more routes or plugins first, e.g. the peer transport).
import Fastify, { type FastifyInstance } from 'fastify';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import type { Logger } from 'pino';
import type { DatabaseBackend } from '../node/backend.ts';
import { ID_BYTES_MAX } from '../store/id-limit.ts';
import { DEFAULT_CHANGE_STREAM_OPTIONS, type ChangeStreamOptions } from './change-stream.ts';
import { registerAuth, type AuthOptions } from './auth/auth-plugin.ts';
import { registerCatchUpGuard } from './catch-up-guard.ts';
import { clientErrorHandler, errorBody, makeErrorHandler } from './errors.ts';
import { parseJsonBody } from './http-input.ts';
import { turns } from './loop-turns.ts';
import { registerMetrics, ServerMetrics } from './metrics.ts';
import { registerDocsRoutes, registerOpenApi } from './openapi.ts';
import { registerAggregateRoutes } from './routes-aggregate.ts';
import { registerApiRoutes } from './routes-api.ts';
import { ChangeStreamRegistry, registerChangeRoutes } from './routes-changes.ts';
import { registerBackupRoutes } from './routes-backup.ts';
import { registerClusterRoutes } from './routes-cluster.ts';
import { registerEventRoutes } from './routes-events.ts';
import { registerMetricsRoutes } from './routes-metrics.ts';
import { registerDocumentRoutes } from './routes-documents.ts';
import { registerDashboardRoute } from './routes-dashboard.ts';
import { registerFaultInjectionRoutes, registerPlantedBug, type FaultInjectionTarget, type PlantedBug } from './routes-fault-injection.ts';
import { registerHealthRoutes } from './routes-health.ts';
import { registerIndexRoutes } from './routes-indexes.ts';
import { registerHistoryRoutes } from './routes-history.ts';
import { registerSchemaRoutes } from './routes-schema.ts';
import { registerQueryRoutes } from './routes-query.ts';
import { registerTxRoutes } from './routes-tx.ts';

export interface ServerOptions {
  readonly backend: DatabaseBackend;
  /** A pino logger, or true for fastify's default logger; default: no logging. */
  readonly logger?: Logger | boolean;
  /** Largest request body in bytes (default 1 MiB + 64 KiB). */
  readonly bodyLimit?: number;
  /** Time allowed to receive a whole request, headers and body (default 30 s). */
  readonly requestTimeoutMs?: number;
  /** HTML served at GET /dashboard (404 without it). */
  readonly dashboardHtml?: string;
  /** How long close() waits for in-flight requests before cutting the remaining connections (default 10 s). */
  readonly closeGraceMs?: number;
  /** Users, roles and tokens (docs/security.md): a root password turns authentication on. */
  readonly auth?: AuthOptions;
  /** Change-stream tuning (heartbeat interval, slow-client queue bound). */
  readonly changeStream?: Partial<ChangeStreamOptions>;
  /** Serve HTTPS with these TLS options (cert, key, ca, requestCert...); default: plain HTTP. */
  readonly https?: HttpsServerOptions;
  /** Serve POST /cluster/fault-injection on this target (`start --enable-fault-injection`); default: the route does not exist. */
  readonly faultInjection?: FaultInjectionTarget;
  /** Test-only planted bug (chaos tests prove the checker catches it); never set in production. */
  readonly plantedBug?: PlantedBug;
}

/** One largest document (1 MiB) and its envelope: with REQUEST_VALUES_MAX, what one request may
 * cost every node; a 4 MiB entry (written, fsynced and sent to every follower before the
 * leader sends its next heartbeat) left followers 140 ms without one (issue #11). */
export const DEFAULT_BODY_LIMIT = 1024 * 1024 + 64 * 1024;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Bodies up to this size are parsed at once (well under a millisecond); larger ones wait
 * for their turn. */
const PARSE_INLINE_CHARS = 16 * 1024;
export const DEFAULT_CLOSE_GRACE_MS = 10_000;
/** Node's default interval between checks of request timeouts. */
const NODE_CONNECTIONS_CHECK_MS = 30_000;
/** Idle socket timeout: well above the change-stream heartbeat, which keeps streams alive. */
const CONNECTION_TIMEOUT_MS = 120_000;
/** A path parameter holds an id percent-encoded (up to 3 characters per byte of UTF-8), with
 * room to spare so that a too-long id reaches validation (400 naming the limit) rather than
 * missing the route (404). */
const MAX_PARAM_LENGTH = 8 * ID_BYTES_MAX;

export async function createServer(options: ServerOptions): Promise<FastifyInstance> {
  const { backend } = options;
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  if (!Number.isSafeInteger(bodyLimit) || bodyLimit < 1) throw new RangeError(`invalid bodyLimit ${bodyLimit}`);
  const streamOptions: ChangeStreamOptions = { ...DEFAULT_CHANGE_STREAM_OPTIONS, ...options.changeStream };
  const errorHandler = makeErrorHandler(backend);

  const logging = typeof options.logger === 'object' ? { loggerInstance: options.logger } : { logger: options.logger ?? false };
  const requestTimeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  // Node's own timers: headers are bounded by the same timeout (Node's default, 60 s, also
  // bounds a request whose body stalls), and timeouts are checked at least as often as
  // they expire (Node's default: every 30 s).
  const httpOptions =
    requestTimeout > 0 ? { headersTimeout: requestTimeout, connectionsCheckingInterval: Math.min(NODE_CONNECTIONS_CHECK_MS, requestTimeout) } : {};
  const app = Fastify({
    ...logging,
    bodyLimit,
    requestTimeout,
    http: httpOptions,
    // fastify hands `http` to http.createServer only; an HTTPS server takes the same timers with its TLS options.
    ...(options.https !== undefined ? { https: { ...httpOptions, ...options.https } } : {}),
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // We answer during close ourselves, in the API's error shape.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    frameworkErrors: (error, request, reply) => errorHandler(error, request, reply),
    // 431, 408 and malformed requests that Node rejects before routing: in the API's shape too.
    clientErrorHandler,
  }) as unknown as FastifyInstance;

  // JSON only: fastify's default text/plain parser would let strings through.
  app.removeContentTypeParser('text/plain');
  // Our own JSON parser: fastify's refuses a "__proto__" key as "not valid JSON"; this one
  // names the key, as for JSON in query parameters (400 VALIDATION).
  app.removeContentTypeParser('application/json');
  // A large body is parsed at its own turn of the event loop (loop-turns.ts): bodies that
  // arrive together are not parsed back to back (a 1 MiB body of 10,000 values takes ms).
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const parse = (): void => {
      try {
        done(null, parseJsonBody(body as string));
      } catch (error) {
        done(error as Error, undefined);
      }
    };
    if ((body as string).length <= PARSE_INLINE_CHARS) parse();
    else turns.next().then(parse, (error: unknown) => done(error as Error, undefined));
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorBody('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`));
  });

  const changeStreams = new ChangeStreamRegistry();
  let closing = false;
  app.addHook('onRequest', async (_request, reply) => {
    if (closing) {
      return reply.code(503).header('connection', 'close').send(errorBody('NO_LEADER', 'the server is shutting down; retry on another node'));
    }
  });
  // Responses finished while closing also close their connection, so close() is not held
  // open by idle keep-alive sockets until their timeout.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) void reply.header('connection', 'close');
    return payload;
  });
  // In-flight requests finish; change streams are endless, so they are ended here. A
  // connection still open after the grace period (a stuck client) is cut.
  let graceTimer: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    closing = true;
    changeStreams.closeAll();
    graceTimer = setTimeout(() => app.server.closeAllConnections(), options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS);
    graceTimer.unref();
  });
  app.addHook('onClose', async () => {
    clearTimeout(graceTimer);
  });

  // Before any route, auth's own included: it describes every route registered after it.
  await registerOpenApi(app);
  // Before any route: its onRoute hook gives every route its access rule.
  registerAuth(app, backend, options.auth ?? {}, app.log);
  registerCatchUpGuard(app, backend);
  await registerDocsRoutes(app, backend);

  const metrics = new ServerMetrics(backend);
  registerMetrics(app, metrics, () => changeStreams.size);
  const context = { backend };
  registerDocumentRoutes(app, context);
  registerQueryRoutes(app, context);
  registerAggregateRoutes(app, context);
  registerApiRoutes(app, context);
  registerTxRoutes(app, context);
  registerIndexRoutes(app, context);
  registerSchemaRoutes(app, context);
  registerHistoryRoutes(app, context);
  registerChangeRoutes(app, context, changeStreams, streamOptions);
  registerClusterRoutes(app, context);
  registerMetricsRoutes(app, context);
  registerEventRoutes(app, context);
  registerBackupRoutes(app, context);
  registerHealthRoutes(app, context);
  registerDashboardRoute(app, options.dashboardHtml);
  if (options.faultInjection !== undefined) registerFaultInjectionRoutes(app, options.faultInjection);
  if (options.plantedBug !== undefined) registerPlantedBug(app, options.plantedBug);
  return app;
}
