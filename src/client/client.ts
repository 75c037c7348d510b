// The client of a Collection Store cluster (or single server): collections with the
// embedded API, transactions, cluster status. One keep-alive pool per node; every
// request goes through the executor's retry loop, every write with its Idempotency-Key.
import { validateBackoff, type BackoffPolicy } from '../backoff.ts';
import { createRequestAuth, type LoginAnswer } from './auth-session.ts';
import { errorFromResponse, ValidationError } from './errors.ts';
import { HttpTransport } from './http-transport.ts';
import { createIdempotencyKeys } from './idempotency-keys.ts';
import { createIdGenerator, type IdGenerator } from './ids.ts';
import { NodeSelector, normalizeUrl } from './node-selector.ts';
import { RemoteCollection, type ClientCore } from './remote-collection.ts';
import { RequestExecutor, type ExecutionResult, type RetryPolicy } from './request-executor.ts';
import type { HttpRequest } from './http-transport.ts';
import type { ClusterStatus, ConnectOptions, Consistency, TxRequest, TxResponse } from './types.ts';
import { validateCollectionName, validateConsistency, validateDocument, validateObject } from './validate.ts';
import { watchChanges, type ChangeEvent, type WatchOptions, type WatchSource } from './watch.ts';

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_RETRIES = 5;
const DEFAULT_BACKOFF: BackoffPolicy = { delayMsInitial: 50, delayMsMax: 1000 };
const DEFAULT_CONNECTIONS_PER_NODE = 16;
const TX_OPS: ReadonlySet<string> = new Set(['insert', 'update', 'replace', 'remove']);

export class Client implements ClientCore {
  readonly defaultConsistency: Consistency | undefined;
  private readonly selector: NodeSelector;
  private readonly transport: HttpTransport;
  private readonly executor: RequestExecutor;
  private readonly ids: IdGenerator = createIdGenerator();
  private closing: Promise<void> | null = null;
  private readonly watching: WatchSource;

  constructor(urls: string | readonly string[], options: ConnectOptions = {}) {
    const list = typeof urls === 'string' ? [urls] : urls;
    if (!Array.isArray(list) || list.length === 0) throw new TypeError('connect: give at least one node URL');
    this.selector = new NodeSelector(list.map((url: string) => normalizeUrl(url, true)));
    if (options.consistency !== undefined) validateConsistency(options.consistency);
    this.defaultConsistency = options.consistency;
    const backoff = options.backoff ?? DEFAULT_BACKOFF;
    validateBackoff(backoff);
    this.transport = new HttpTransport({
      timeoutMs: options.timeout ?? DEFAULT_TIMEOUT_MS,
      connectionsPerNode: options.connectionsPerNode ?? DEFAULT_CONNECTIONS_PER_NODE,
      ...(options.tls !== undefined ? { tls: options.tls } : {}),
    });
    const auth = options.auth !== undefined ? createRequestAuth(options.auth, (user, password) => this.login(user, password)) : undefined;
    this.executor = new RequestExecutor(this.transport, this.selector, {
      retries: options.retries ?? DEFAULT_RETRIES,
      backoff,
      // Every write carries its own key: retried through failures, it applies once.
      idempotencyKeys: createIdempotencyKeys(),
      ...(auth !== undefined ? { auth } : {}),
    });
    this.watching = {
      selector: this.selector,
      backoff,
      retries: options.retries ?? DEFAULT_RETRIES,
      timeoutMs: options.timeout ?? DEFAULT_TIMEOUT_MS,
      tls: options.tls,
      authorization: () => (auth !== undefined ? auth.authorization() : Promise.resolve(undefined)),
      rejected: (authorization) => void auth?.rejected(authorization),
      isClosed: () => this.closing !== null,
    };
  }

  /** The changes of every collection (`GET /api/_changes`), like RemoteCollection.watch() (reconnects, idle timeout, 410s). */
  watch(options: WatchOptions = {}): AsyncGenerator<ChangeEvent, void, undefined> {
    return watchChanges(this.watching, '/api/_changes', options);
  }

  /** @internal for collections' watch() */
  watchSource(): WatchSource {
    return this.watching;
  }

  collection(name: string): RemoteCollection {
    return new RemoteCollection(this, name);
  }

  /**
   * An atomic batch (`POST /api/_tx`): all ops apply or none; `if` lists preconditions.
   * Inserted documents without `_id` get one here. Retried like every write (its
   * Idempotency-Key makes it apply once); OutcomeUnknownError when every attempt failed.
   */
  async transaction(request: TxRequest): Promise<TxResponse> {
    validateObject(request, 'transaction');
    if (!Array.isArray(request.ops) || request.ops.length === 0) {
      throw new ValidationError('transaction: ops must be a non-empty array');
    }
    const ops = request.ops.map((op, i) => {
      validateObject(op as unknown, `ops[${i}]`);
      if (!TX_OPS.has(op.op)) throw new ValidationError(`ops[${i}].op must be insert, update, replace or remove`);
      validateCollectionName(op.collection);
      if (op.op !== 'insert') return op;
      validateDocument(op.doc, `ops[${i}].doc`);
      return op.doc._id !== undefined ? op : { ...op, doc: { ...op.doc, _id: this.ids() } };
    });
    if (request.if !== undefined && !Array.isArray(request.if)) throw new ValidationError('transaction: if must be an array');
    const body = { ops, ...(request.if !== undefined ? { if: request.if } : {}) };
    const result = await this.execute({ method: 'POST', path: '/api/_tx', body: JSON.stringify(body) }, 'unsafe');
    const response = result.response;
    if (response.status !== 200) throw errorFromResponse(response.status, response.body, result.url);
    const results = (response.body as { results?: unknown } | null)?.results;
    if (!Array.isArray(results)) throw new TypeError(`_tx: unexpected response ${JSON.stringify(response.body)}`);
    return { results };
  }

  /**
   * `/cluster/status` of the node in use (with failover), or of the node at `url` (one
   * attempt there). Learns the leader from it.
   */
  async status(options: { url?: string } = {}): Promise<ClusterStatus> {
    const request: HttpRequest = { method: 'GET', path: '/cluster/status' };
    const result =
      options.url !== undefined
        ? await this.executor.execute(request, 'read', { url: normalizeUrl(options.url, true) })
        : await this.execute(request, 'read');
    const { status, body } = result.response;
    if (status !== 200) throw errorFromResponse(status, body, result.url);
    validateObject(body, '/cluster/status response');
    const leader = (body as Partial<ClusterStatus>).leader;
    if (leader !== null && typeof leader?.url === 'string') this.selector.leaderHint(leader.url);
    return body as unknown as ClusterStatus;
  }

  /** The nodes known to this client (those given plus leaders learnt), in order. */
  nodes(): readonly string[] {
    return this.selector.list();
  }

  /**
   * Stops retries waiting out a backoff (they fail with ClientClosedError), lets requests
   * in flight finish, and closes every connection.
   */
  close(): Promise<void> {
    if (this.closing === null) {
      this.executor.cancelWaits();
      this.closing = this.transport.close();
    }
    return this.closing;
  }

  /** @internal for collections */
  execute(request: HttpRequest, policy: RetryPolicy): Promise<ExecutionResult> {
    return this.executor.execute(request, policy);
  }

  /** POST /auth/login (retried like a read: it changes nothing), for the credentials of `auth`. */
  private async login(user: string, password: string): Promise<LoginAnswer> {
    const request: HttpRequest = { method: 'POST', path: '/auth/login', body: JSON.stringify({ user, password }) };
    const result = await this.executor.execute(request, 'read', { anonymous: true });
    const { status, body } = result.response;
    if (status !== 200) throw errorFromResponse(status, body, result.url);
    const { token, expiresAt } = (body ?? {}) as Partial<Record<keyof LoginAnswer, unknown>>;
    if (typeof token !== 'string' || typeof expiresAt !== 'string') {
      throw new TypeError(`POST /auth/login: unexpected response from ${result.url}`);
    }
    return { token, expiresAt };
  }

  /** @internal for collections */
  newId(): string {
    return this.ids();
  }
}
