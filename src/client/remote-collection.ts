// A collection of a remote database: the embedded collection's methods, each mapped to
// its request of docs/http-api.md, with the retry policy that is safe for it without an
// Idempotency-Key. The Client sends every write with one, and the executor then retries
// every write alike (the policy and the read-backs after a 409/412/404 matter only to an
// executor without keys: with a key the answer is the write's first result).
import { jsonEqual, isSameDocument } from './deep-equal.ts';
import { ConflictError, NotFoundError, StoreError, ValidationError, errorFromResponse, type HttpError, type RemoteStoreError } from './errors.ts';
import { normalizeIndexFields } from '../store/index-fields.ts';
import type { HttpRequest } from './http-transport.ts';
import type { ExecutionResult, RetryPolicy } from './request-executor.ts';
import type {
  AggregatePipeline,
  AggregateResult,
  Consistency,
  Document,
  ExplainOptions,
  ExplainPlan,
  Filter,
  FindOptions,
  FindPageOptions,
  IfRevOptions,
  IndexFields,
  IndexInfo,
  IndexOptions,
  NewDocument,
  Page,
  PagesOptions,
  ReadOptions,
  RemoveOptions,
  ReplaceOptions,
  UpdateOptions,
  UpdateResult,
  UpdateSpec,
} from './types.ts';
import { watchChanges, type ChangeEvent, type WatchOptions, type WatchSource } from './watch.ts';
import { validateCollectionName, validateConsistency, validateCount, validateDocument, validateId, validateObject, validateRev } from './validate.ts';

/** What a collection needs from its client. */
export interface ClientCore {
  execute(request: HttpRequest, policy: RetryPolicy): Promise<ExecutionResult>;
  newId(): string;
  readonly defaultConsistency: Consistency | undefined;
  /** Where and how change streams are opened (watch()). */
  watchSource(): WatchSource;
}

/** Update operators whose repetition leaves the document as one application does. */
const IDEMPOTENT_OPERATORS: ReadonlySet<string> = new Set(['$set', '$unset']);
/** The header of a page's reply that holds the next page's cursor (docs/http-api.md, Pages). */
const NEXT_CURSOR_HEADER = 'next-cursor';
/** Bound of the read-then-compare-and-set loop of replace() without upsert. */
const MAX_REPLACE_ROUNDS = 8;

export class RemoteCollection {
  private readonly base: string;

  constructor(
    private readonly core: ClientCore,
    readonly name: string,
  ) {
    validateCollectionName(name);
    this.base = `/api/${encodeURIComponent(name)}`;
  }

  /**
   * The changes of this collection, oldest first: `for await (const ev of col.watch({ resumeAfter }))`.
   * Reconnects (to the next node, after a backoff) when a stream fails, ends, or brings no bytes
   * for `idleTimeoutMs` (default 37.5 s, 2.5 server heartbeats), and resumes after the last change
   * seen, so none is lost or repeated; ChangesExpiredError when no node retains the changes after
   * the token (each is asked once), UnavailableError after `retries` attempts in a row without
   * progress. Stop with `break` or `signal`.
   */
  watch(options: WatchOptions = {}): AsyncGenerator<ChangeEvent, void, undefined> {
    return watchChanges(this.core.watchSource(), `${this.base}/_changes`, options);
  }

  async insert(doc: NewDocument): Promise<Document> {
    const sent = this.withId(doc, 'document');
    const result = await this.core.execute(this.post('', sent), 'safe');
    if (isSuccess(result)) return expectDocument(result.response.body);
    if (result.response.status === 409 && result.earlierAttemptMayHaveApplied) {
      // Our earlier attempt may be the duplicate: it is ours if it holds what we sent.
      const stored = await this.get(sent._id, { consistency: 'linearizable' });
      if (stored !== null && isSameDocument(sent, stored)) return stored;
    }
    throw responseError(result);
  }

  async insertMany(docs: readonly NewDocument[]): Promise<Document[]> {
    if (!Array.isArray(docs)) throw new ValidationError('insertMany: docs must be an array');
    if (docs.length === 0) return [];
    const sent = docs.map((doc, i) => this.withId(doc, `docs[${i}]`));
    const result = await this.core.execute(this.post('', sent), 'safe');
    if (isSuccess(result)) return expectArray(result.response.body) as Document[];
    if (result.response.status === 409 && result.earlierAttemptMayHaveApplied) {
      const ids = sent.map((doc) => doc._id);
      const stored = await this.find({ _id: { $in: ids } }, { consistency: 'linearizable' });
      const byId = new Map(stored.map((doc) => [doc._id, doc]));
      const ours = sent.map((doc) => {
        const found = byId.get(doc._id);
        return found !== undefined && isSameDocument(doc, found) ? found : null;
      });
      if (ours.every((doc) => doc !== null)) return ours as Document[];
    }
    throw responseError(result);
  }

  /** The document, or null when there is none with this id. */
  async get(id: string, options: ReadOptions = {}): Promise<Document | null> {
    validateId(id);
    const consistency = this.consistency(options.consistency);
    const query = consistency !== undefined ? `?consistency=${consistency}` : '';
    const result = await this.core.execute({ method: 'GET', path: `${this.docPath(id)}${query}` }, 'read');
    if (result.response.status === 404) return null;
    if (isSuccess(result)) return expectDocument(result.response.body);
    throw responseError(result);
  }

  async find(filter: Filter = {}, options: FindOptions = {}): Promise<Document[]> {
    validateObject(filter, 'filter');
    const body = {
      filter,
      ...this.pageOptions(options),
      ...(options.projection !== undefined ? { projection: options.projection } : {}),
      ...this.consistencyField(options.consistency),
    };
    return expectArray(await this.read('/_query', body)) as Document[];
  }

  async findOne(filter: Filter = {}, options: FindOptions = {}): Promise<Document | null> {
    const [first] = await this.find(filter, { ...options, limit: 1 });
    return first ?? null;
  }

  /**
   * One page of a query in keyset order (`POST /api/:collection/_query` with `limit` and
   * `cursor`; docs/http-api.md, Pages): the first `limit` matches after `cursor` (from the
   * start without it) in the order of `sort` then `_id`, and `next` (the reply's
   * `Next-Cursor`), absent on the last page. Documents inserted or removed between pages shift
   * nothing. A malformed cursor, one made for another sort, or a cursor without a limit:
   * BadRequestError. A read: retried like find().
   */
  async findPage(filter: Filter = {}, options: FindPageOptions): Promise<Page> {
    validateObject(filter, 'filter');
    validateObject(options, 'options');
    if (options.cursor !== undefined && typeof options.cursor !== 'string') throw new ValidationError('cursor: must be a string (a Next-Cursor)');
    const body = {
      filter,
      ...this.pageOptions(options),
      ...(options.cursor !== undefined ? { cursor: options.cursor } : {}),
      ...(options.projection !== undefined ? { projection: options.projection } : {}),
      ...this.consistencyField(options.consistency),
    };
    const result = await this.core.execute(this.post('/_query', body), 'read');
    if (!isSuccess(result)) throw responseError(result);
    const docs = expectArray(result.response.body) as Document[];
    const next = result.response.headers[NEXT_CURSOR_HEADER];
    return typeof next === 'string' && next !== '' ? { docs, next } : { docs };
  }

  /**
   * Every page of a query, following the cursors until the last page (findPage() each):
   * `for await (const page of col.pages(filter, { limit: 100 })) use(page.docs)`. A page's
   * `next` resumes the walk later (`pages(filter, { limit, cursor: page.next })`). Stop with
   * `break`.
   */
  async *pages(filter: Filter = {}, options: PagesOptions): AsyncGenerator<Page, void, undefined> {
    let cursor = options.cursor;
    for (;;) {
      const page = await this.findPage(filter, { ...options, ...(cursor !== undefined ? { cursor } : {}) });
      yield page;
      if (page.next === undefined) return;
      cursor = page.next;
    }
  }

  async count(filter: Filter = {}, options: ReadOptions = {}): Promise<number> {
    validateObject(filter, 'filter');
    const body = await this.read('/_count', { filter, ...this.consistencyField(options.consistency) });
    const count = (body as { count?: unknown } | null)?.count;
    if (typeof count !== 'number') throw new TypeError(`_count: unexpected response ${JSON.stringify(body)}`);
    return count;
  }

  /**
   * Runs an aggregation pipeline (`POST /api/:collection/_aggregate`): `$match` (a leading one
   * uses an index), `$group`, `$sort`, `$project`, `$limit`, `$skip`, `$count`, `$unwind`,
   * bounded as docs/security.md says (400 ValidationError naming the bound). A read: retried
   * like find(). `T` names the shape the pipeline produces; the server's answer is not checked
   * against it.
   */
  async aggregate<T extends AggregateResult = AggregateResult>(pipeline: AggregatePipeline, options: ReadOptions = {}): Promise<T[]> {
    if (!Array.isArray(pipeline)) throw new ValidationError('aggregate: pipeline must be an array of stages');
    const body = await this.read('/_aggregate', { pipeline, ...this.consistencyField(options.consistency) });
    return expectArray(body) as T[];
  }

  async explain(filter: Filter = {}, options: ExplainOptions = {}): Promise<ExplainPlan> {
    validateObject(filter, 'filter');
    const body = await this.read('/_explain', { filter, ...this.pageOptions(options) });
    validateObject(body, '_explain response');
    return body;
  }

  /** An update by filter is not idempotent in general: retried thanks to its Idempotency-Key. */
  async update(filter: Filter, update: UpdateSpec, options: UpdateOptions = {}): Promise<UpdateResult> {
    validateObject(filter, 'filter');
    validateObject(update, 'update');
    const body = {
      filter,
      update,
      ...(options.multi !== undefined ? { multi: options.multi } : {}),
      ...(options.upsert !== undefined ? { upsert: options.upsert } : {}),
    };
    const result = await this.core.execute(this.post('/_update', body), 'unsafe');
    if (!isSuccess(result)) throw responseError(result);
    const response = result.response.body as Partial<UpdateResult> | null;
    if (typeof response?.matched !== 'number' || typeof response.modified !== 'number') {
      throw new TypeError(`_update: unexpected response ${JSON.stringify(response)}`);
    }
    return {
      matched: response.matched,
      modified: response.modified,
      ...(typeof response.upsertedId === 'string' ? { upsertedId: response.upsertedId } : {}),
    };
  }

  /**
   * PATCH with update operators. Without an Idempotency-Key it would be retried like a PUT
   * only when it `$set`s and `$unset`s without `ifRev` (repeating it changes nothing more);
   * with one (always, from a Client) it is retried like any write.
   */
  async updateById(id: string, update: UpdateSpec, options: IfRevOptions = {}): Promise<Document> {
    validateId(id);
    validateObject(update, 'update');
    const idempotent = options.ifRev === undefined && Object.keys(update).every((op) => IDEMPOTENT_OPERATORS.has(op));
    const request: HttpRequest = {
      method: 'PATCH',
      path: this.docPath(id),
      body: JSON.stringify(update),
      headers: this.ifMatch(options.ifRev),
    };
    const result = await this.core.execute(request, idempotent ? 'safe' : 'unsafe');
    if (isSuccess(result)) return expectDocument(result.response.body);
    throw responseError(result);
  }

  /**
   * Replaces the whole document. With `ifRev`: a compare-and-set (If-Match). With
   * `upsert`: creates it when absent (a plain PUT). Otherwise the document must exist:
   * read its `_rev`, then compare-and-set on it, so a concurrent delete is not undone.
   */
  async replace(id: string, doc: NewDocument, options: ReplaceOptions = {}): Promise<Document> {
    validateId(id);
    validateDocument(doc);
    if (doc._id !== undefined && doc._id !== id) {
      throw new ValidationError(`replace: document _id ${JSON.stringify(doc._id)} differs from id ${JSON.stringify(id)}`);
    }
    const sent = { ...doc, _id: id };
    if (options.ifRev !== undefined) {
      validateRev(options.ifRev);
      return this.put(sent, options.ifRev);
    }
    if (options.upsert === true) return this.put(sent, undefined);
    for (let round = 0; round < MAX_REPLACE_ROUNDS; round++) {
      const current = await this.get(id, { consistency: 'linearizable' });
      if (current === null) throw Object.assign(new NotFoundError(`${this.name}/${id}: no such document`), { status: 404 });
      const replaced = await this.tryPut(sent, current._rev);
      if (!(replaced instanceof Error)) return replaced; // else: changed since we read it, go again
    }
    throw new ConflictError(`replace ${this.name}/${id}: the document kept changing (${MAX_REPLACE_ROUNDS} attempts)`);
  }

  /**
   * By id: DELETE, 1 if removed, 0 if there was none (the first attempt's answer, replayed
   * to a retry). By filter: retried thanks to its Idempotency-Key.
   */
  async remove(filterOrId: string | Filter, options: RemoveOptions = {}): Promise<number> {
    if (typeof filterOrId === 'string') {
      validateId(filterOrId);
      if (options.ifRev !== undefined) validateRev(options.ifRev);
      const request: HttpRequest = { method: 'DELETE', path: this.docPath(filterOrId), headers: this.ifMatch(options.ifRev) };
      const result = await this.core.execute(request, 'safe');
      if (isSuccess(result)) return 1;
      if (result.response.status === 404) return result.earlierAttemptMayHaveApplied ? 1 : 0;
      throw responseError(result);
    }
    validateObject(filterOrId, 'filter');
    const body = { filter: filterOrId, ...(options.multi !== undefined ? { multi: options.multi } : {}) };
    const result = await this.core.execute(this.post('/_delete', body), 'unsafe');
    if (!isSuccess(result)) throw responseError(result);
    const removed = (result.response.body as { removed?: unknown } | null)?.removed;
    if (typeof removed !== 'number') throw new TypeError(`_delete: unexpected response ${JSON.stringify(result.response.body)}`);
    return removed;
  }

  async createIndex(fields: IndexFields, options: IndexOptions = {}): Promise<IndexInfo> {
    const normalized = normalizeIndexFields(fields);
    if (options.name !== undefined && (typeof options.name !== 'string' || options.name === '')) {
      throw new ValidationError('createIndex: name must be a non-empty string');
    }
    const body = {
      fields: normalized,
      ...(options.unique !== undefined ? { unique: options.unique } : {}),
      ...(options.name !== undefined ? { name: options.name } : {}),
      ...(options.expireAfterSeconds !== undefined ? { expireAfterSeconds: options.expireAfterSeconds } : {}),
    };
    const result = await this.core.execute(this.post('/_indexes', body), 'safe');
    if (isSuccess(result)) return expectIndex(result.response.body);
    if (result.response.status === 409 && result.earlierAttemptMayHaveApplied) {
      // The conflict may be our own earlier attempt: the index is there as we asked.
      const ours = (await this.indexes()).find(
        (index) =>
          (options.name === undefined || index.name === options.name) &&
          index.unique === (options.unique ?? false) &&
          index.expireAfterSeconds === options.expireAfterSeconds &&
          jsonEqual(index.fields, normalized),
      );
      if (ours !== undefined) return ours;
    }
    throw responseError(result);
  }

  async dropIndex(name: string): Promise<void> {
    if (typeof name !== 'string' || name === '') throw new ValidationError('dropIndex: name must be a non-empty string');
    const request: HttpRequest = { method: 'DELETE', path: `${this.base}/_indexes/${encodeURIComponent(name)}` };
    const result = await this.core.execute(request, 'safe');
    if (isSuccess(result)) return;
    if (result.response.status === 404 && result.earlierAttemptMayHaveApplied) return;
    throw responseError(result);
  }

  /**
   * Drops the collection: its documents and indexes (`DELETE /api/:collection`, role `root`
   * when the cluster has authentication; its model stays). Throws NotFoundError when there is
   * no such collection, unless an earlier attempt of this call may have dropped it.
   */
  async drop(): Promise<void> {
    const result = await this.core.execute({ method: 'DELETE', path: this.base }, 'safe');
    if (isSuccess(result)) return;
    if (result.response.status === 404 && result.earlierAttemptMayHaveApplied) return;
    throw responseError(result);
  }

  async indexes(): Promise<IndexInfo[]> {
    const result = await this.core.execute({ method: 'GET', path: `${this.base}/_indexes` }, 'read');
    if (!isSuccess(result)) throw responseError(result);
    return expectArray(result.response.body).map(expectIndex);
  }

  /** PUT that throws on every error. */
  private async put(sent: NewDocument, ifRev: number | undefined): Promise<Document> {
    const outcome = await this.tryPut(sent, ifRev);
    if (outcome instanceof Error) throw outcome;
    return outcome;
  }

  /** PUT; a 412 that is not the trace of our own earlier attempt is returned, not thrown. */
  private async tryPut(sent: NewDocument, ifRev: number | undefined): Promise<Document | RemoteStoreError> {
    const id = sent._id as string;
    const request: HttpRequest = { method: 'PUT', path: this.docPath(id), body: JSON.stringify(sent), headers: this.ifMatch(ifRev) };
    const result = await this.core.execute(request, 'safe');
    if (isSuccess(result)) return expectDocument(result.response.body);
    const error = responseError(result);
    if (result.response.status !== 412) throw error;
    if (result.earlierAttemptMayHaveApplied) {
      // Our earlier attempt moved `_rev` on: the document holds what we sent.
      const stored = await this.get(id, { consistency: 'linearizable' });
      if (stored !== null && isSameDocument(sent, stored)) return stored;
    }
    if (!(error instanceof StoreError)) throw error;
    return error;
  }

  private async read(suffix: string, body: object): Promise<unknown> {
    const result = await this.core.execute(this.post(suffix, body), 'read');
    if (!isSuccess(result)) throw responseError(result);
    return result.response.body;
  }

  private withId(doc: NewDocument, what: string): NewDocument & { _id: string } {
    validateDocument(doc, what);
    return doc._id !== undefined ? (doc as NewDocument & { _id: string }) : { ...doc, _id: this.core.newId() };
  }

  private post(suffix: string, body: unknown): HttpRequest {
    return { method: 'POST', path: `${this.base}${suffix}`, body: JSON.stringify(body) };
  }

  private docPath(id: string): string {
    return `${this.base}/${encodeURIComponent(id)}`;
  }

  private ifMatch(rev: number | undefined): Record<string, string> {
    if (rev === undefined) return {};
    validateRev(rev);
    return { 'if-match': `"${rev}"` };
  }

  private consistency(requested: Consistency | undefined): Consistency | undefined {
    const consistency = requested ?? this.core.defaultConsistency;
    if (consistency !== undefined) validateConsistency(consistency);
    return consistency;
  }

  private consistencyField(requested: Consistency | undefined): { consistency?: Consistency } {
    const consistency = this.consistency(requested);
    return consistency !== undefined ? { consistency } : {};
  }

  private pageOptions(options: ExplainOptions): Partial<ExplainOptions> {
    if (options.skip !== undefined) validateCount(options.skip, 'skip');
    if (options.limit !== undefined) validateCount(options.limit, 'limit');
    if (options.sort !== undefined) validateObject(options.sort, 'sort');
    return {
      ...(options.sort !== undefined ? { sort: options.sort } : {}),
      ...(options.skip !== undefined ? { skip: options.skip } : {}),
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
    };
  }
}

function isSuccess(result: ExecutionResult): boolean {
  return result.response.status >= 200 && result.response.status < 300;
}

function responseError(result: ExecutionResult): RemoteStoreError | HttpError {
  return errorFromResponse(result.response.status, result.response.body, result.url);
}

function expectDocument(body: unknown): Document {
  if (typeof body !== 'object' || body === null || typeof (body as { _id?: unknown })._id !== 'string') {
    throw new TypeError(`expected a document from the server, got ${JSON.stringify(body)?.slice(0, 200)}`);
  }
  return body as Document;
}

function expectArray(body: unknown): unknown[] {
  if (!Array.isArray(body)) throw new TypeError(`expected an array from the server, got ${JSON.stringify(body)?.slice(0, 200)}`);
  return body;
}

function expectIndex(body: unknown): IndexInfo {
  const index = body as Partial<IndexInfo> | null;
  if (typeof index?.name !== 'string' || !Array.isArray(index.fields)) {
    throw new TypeError(`expected an index from the server, got ${JSON.stringify(body)?.slice(0, 200)}`);
  }
  return {
    name: index.name,
    fields: index.fields,
    unique: index.unique === true,
    ...(typeof index.expireAfterSeconds === 'number' ? { expireAfterSeconds: index.expireAfterSeconds } : {}),
  };
}
