// A collection of the embedded database: reads go straight to the in-memory
// store, writes become commands that go through the log.
import type { Command, CommandResult, ResultValues, UpdateResultValue } from '../store/commands.ts';
import { MAX_BATCH_DOCS } from '../store/commands.ts';
import type { ExecuteOptions } from './backend.ts';
import { errorFromInfo, ValidationError } from '../store/errors.ts';
import type { Document, Explain, Filter, FindOptions, IndexSpec, JsonObject, UpdateSpec } from '../store/types.ts';
import { copyNewDocument, isPlainObject, validateDocument, validateFilter, validateUpdate } from '../store/validate.ts';
import { normalizeIndexFields, type IndexFieldsInput } from '../store/index-fields.ts';
import type { Store } from '../store/store.ts';
import type { AuditVerification } from '../store/audit.ts';
import type { AsOf } from '../store/history.ts';
import type { RaftEvent } from '../store/raft-event.ts';
import type { ModelOptions, StoredModel } from '../store/schema.ts';
import { aggregate } from '../store/aggregate.ts';
import type { AggregatePipeline, AggregateResult } from '../store/aggregate-types.ts';
import { pageStart } from '../store/page.ts';
import type { ChangeFeed } from './change-log.ts';
import { watchFeed, type EmbeddedWatchOptions } from './change-watch.ts';

/** What a collection needs from its database: the store to read, a door for writes, ids. */
export interface CollectionHost {
  readonly store: Store;
  execute(command: Command, options?: ExecuteOptions): Promise<CommandResult>;
  generateId(): string;
  /** The retained changes and their listeners (watch()). */
  readonly changes: ChangeFeed;
}

export interface UpdateOptions {
  /** Update every matching document (default: only the first in `_id` order). */
  readonly multi?: boolean;
  /** Create the document from the filter's equality fields and the update when nothing matches. */
  readonly upsert?: boolean;
}

export interface ReplaceOptions {
  /** Compare-and-set: the current `_rev` must equal this (0: the document must not exist). */
  readonly ifRev?: number;
  /** Create the document when absent (default true). */
  readonly upsert?: boolean;
}

export interface RemoveOptions {
  /** Remove every match (default true for a filter; a string id removes one). */
  readonly multi?: boolean;
  /** With an id: the current `_rev` must equal this. */
  readonly ifRev?: number;
}

export interface UpdateResult {
  readonly matched: number;
  readonly modified: number;
  readonly upsertedId?: string;
}

/** findPage's options: the page size, where it starts, its order and projection. */
export interface FindPageOptions {
  /** Documents per page (a page holds fewer only when it is the last). Required with a cursor. */
  readonly limit: number;
  /** The `next` of the previous page (or an HTTP `Next-Cursor`); the first page without it. */
  readonly cursor?: string;
  /** The order (then `_id` ascending); a cursor is valid only for the sort it was made with. */
  readonly sort?: FindOptions['sort'];
  readonly projection?: FindOptions['projection'];
}

/** A page: its documents and the cursor of the next one, absent on the last page. */
export interface Page<T = Document> {
  readonly docs: T[];
  readonly next?: string;
}

/** Inserts carry documents copied by copyNewDocument: validated, frozen, owned by the write. */
const VALIDATED: ExecuteOptions = { validated: true };

export class EmbeddedCollection {
  /** Set by Database.collection(name, model): writes wait until the model is applied. */
  modelReady: Promise<unknown> | undefined;

  constructor(
    private readonly host: CollectionHost,
    readonly name: string,
  ) {}

  /** Inserts one document (an `_id` is generated when absent) and returns it as stored. */
  async insert(doc: JsonObject): Promise<Document> {
    if (this.modelReady !== undefined) await this.modelReady.catch(() => {}); // ids and defaults follow the model
    const command: Command = { type: 'insert', collection: this.name, docs: [this.withId(doc, 'document')] };
    const result = await this.host.execute(command, VALIDATED);
    if (!result.ok) throw errorFromInfo(result.error);
    return (result.value as Document[])[0]!;
  }

  /** Inserts documents atomically: all of them, or none when one is invalid or a duplicate. */
  async insertMany(docs: readonly JsonObject[]): Promise<Document[]> {
    if (this.modelReady !== undefined) await this.modelReady.catch(() => {});
    if (!Array.isArray(docs) || docs.length === 0) throw new ValidationError('insertMany takes a non-empty array of documents');
    if (docs.length > MAX_BATCH_DOCS) throw new ValidationError(`insertMany takes at most ${MAX_BATCH_DOCS} documents`);
    const prepared = docs.map((doc, i) => this.withId(doc, `documents[${i}]`));
    return this.run<'insert'>({ type: 'insert', collection: this.name, docs: prepared }, VALIDATED);
  }

  /** This collection's changes, as the client's watch(): `for await (const ev of col.watch({ resumeAfter }))` (change-watch.ts). */
  watch(options: EmbeddedWatchOptions = {}): AsyncGenerator<RaftEvent, void, undefined> {
    return watchFeed(this.host.changes, this.name, options);
  }

  /** The document with this `_id`, or null. */
  get(id: string): Document | null {
    return this.host.store.get(this.name, id) ?? null;
  }

  /** Matching documents; with a projection, only the projected fields. */
  find(filter?: Filter, options?: FindOptions & { projection?: undefined }): Document[];
  find(filter: Filter | undefined, options: FindOptions): JsonObject[];
  find(filter: Filter = {}, options: FindOptions = {}): Document[] | JsonObject[] {
    return this.host.store.find(this.name, filter, options);
  }

  findOne(filter?: Filter, options?: FindOptions & { projection?: undefined }): Document | null;
  findOne(filter: Filter | undefined, options: FindOptions): JsonObject | null;
  findOne(filter: Filter = {}, options: FindOptions = {}): Document | JsonObject | null {
    return this.host.store.find(this.name, filter, { ...options, limit: 1 })[0] ?? null;
  }

  /**
   * One page of a query in keyset order (docs/http-api.md, Pages): the first `limit` matches
   * after `cursor` (from the start without it) in the order of `sort` then `_id`, and `next`,
   * the cursor of the page after it, absent on the last page (one not full). The cursor is
   * the one the HTTP API sends in `Next-Cursor`: opaque, a position, so documents inserted or
   * removed between pages shift nothing. Synchronous, like find(). A malformed cursor, one made
   * for another sort, or a cursor without a limit: BadRequestError (400 BAD_REQUEST over HTTP).
   */
  findPage(filter: Filter | undefined, options: FindPageOptions & { projection?: undefined }): Page<Document>;
  findPage(filter: Filter | undefined, options: FindPageOptions): Page<JsonObject>;
  findPage(filter: Filter = {}, options: FindPageOptions): Page<Document> | Page<JsonObject> {
    if (!isPlainObject(options)) throw new ValidationError('options: options must be an object');
    const { cursor, ...find } = options;
    const after = pageStart(cursor, find);
    const { docs, next } = this.host.store.findPage(this.name, filter, find, after);
    return next === undefined ? { docs } : { docs, next };
  }

  /**
   * Every page of a query, following the cursors until the last page (findPage() each, when
   * the iteration asks for it: writes between pages shift nothing):
   * `for (const page of col.pages(filter, { limit: 100 })) use(page.docs)`. The client's
   * pages() is the same, asynchronous.
   */
  pages(filter: Filter | undefined, options: FindPageOptions & { projection?: undefined }): Generator<Page<Document>, void, undefined>;
  pages(filter: Filter | undefined, options: FindPageOptions): Generator<Page<JsonObject>, void, undefined>;
  *pages(filter: Filter = {}, options: FindPageOptions): Generator<Page<Document> | Page<JsonObject>, void, undefined> {
    let cursor = options.cursor;
    for (;;) {
      const page = this.findPage(filter, { ...options, ...(cursor !== undefined ? { cursor } : {}) });
      yield page;
      if (page.next === undefined) return;
      cursor = page.next;
    }
  }

  count(filter: Filter = {}): number {
    return this.host.store.count(this.name, filter);
  }

  /**
   * Runs an aggregation pipeline (store/aggregate.ts on mingo): a leading `$match` uses an
   * index, then `$group`, `$sort`, `$project`, `$limit`, `$skip`, `$count`, `$unwind`, bounded
   * as docs/security.md says (ValidationError naming the bound). `T` names the shape the
   * pipeline produces; it is not checked.
   */
  aggregate<T extends AggregateResult = AggregateResult>(pipeline: AggregatePipeline): T[] {
    return aggregate(this.host.store, this.name, pipeline) as T[];
  }

  explain(filter: Filter = {}, options: FindOptions = {}): Explain {
    return this.host.store.explain(this.name, filter, options);
  }

  async update(filter: Filter, update: UpdateSpec, options: UpdateOptions = {}): Promise<UpdateResult> {
    validateFilter(filter);
    validateUpdate(update);
    const upsert = options.upsert === true;
    const value: UpdateResultValue = await this.run<'update'>({
      type: 'update',
      collection: this.name,
      filter,
      update,
      multi: options.multi === true,
      upsert,
      ...(upsert ? { upsertId: this.host.generateId() } : {}),
    });
    return {
      matched: value.matched,
      modified: value.modified,
      ...(value.upsertedId !== undefined ? { upsertedId: value.upsertedId } : {}),
    };
  }

  /** Replaces the whole document `id` (creating it unless `upsert: false`); returns it as stored. */
  async replace(id: string, doc: JsonObject, options: ReplaceOptions = {}): Promise<Document> {
    if (!isPlainObject(doc)) throw new ValidationError('(document): a document must be a plain object');
    if (doc['_id'] !== undefined && doc['_id'] !== id) {
      throw new ValidationError(`_id: the document's _id ${JSON.stringify(doc['_id'])} differs from ${JSON.stringify(id)}`);
    }
    const full = { ...doc, _id: id };
    validateDocument(full, this.host.store.limits);
    const value = await this.run<'replace'>({
      type: 'replace',
      collection: this.name,
      id,
      doc: full,
      upsert: options.upsert !== false,
      ...(options.ifRev !== undefined ? { ifRev: options.ifRev } : {}),
    });
    return value.doc;
  }

  /** Removes the document with this id, or every document matching a filter. Returns how many. */
  async remove(target: string | Filter, options: RemoveOptions = {}): Promise<number> {
    const byId = typeof target === 'string';
    const filter: Filter = byId ? { _id: target } : target;
    if (!byId) validateFilter(filter);
    if (options.ifRev !== undefined && !byId) throw new ValidationError('ifRev: only with a document id');
    const value = await this.run<'remove'>({
      type: 'remove',
      collection: this.name,
      filter,
      multi: byId ? false : options.multi !== false,
      ...(options.ifRev !== undefined ? { ifRev: options.ifRev } : {}),
    });
    return value.removed;
  }

  /** Creates a secondary index (built over the documents already there); with
   * `expireAfterSeconds`, a TTL index on one date field (docs/models.md, TTL). */
  async createIndex(fields: IndexFieldsInput, options: { unique?: boolean; name?: string; expireAfterSeconds?: number } = {}): Promise<IndexSpec> {
    return this.run<'createIndex'>({
      type: 'createIndex',
      collection: this.name,
      fields: normalizeIndexFields(fields),
      unique: options.unique === true,
      ...(options.name !== undefined ? { name: options.name } : {}),
      ...(options.expireAfterSeconds !== undefined ? { expireAfterSeconds: options.expireAfterSeconds } : {}),
    });
  }

  async dropIndex(name: string): Promise<boolean> {
    const value = await this.run<'dropIndex'>({ type: 'dropIndex', collection: this.name, name });
    return value.dropped;
  }

  indexes(): IndexSpec[] {
    return this.host.store.indexes(this.name);
  }

  /**
   * Drops this collection through the log (`dropCollection`, like `DELETE /api/:collection`):
   * its documents and indexes; its model, if any, stays until dropSchema(). Change streams get
   * one `Dropped` event. False when there was no such collection. This handle stays usable: a
   * later write creates the collection again.
   */
  async drop(): Promise<boolean> {
    return (await this.run<'dropCollection'>({ type: 'dropCollection', collection: this.name })).dropped;
  }

  /** A validated, frozen copy with an `_id`: the write owns it, whatever the caller does next. */
  private withId(doc: JsonObject, path: string): JsonObject {
    if (!isPlainObject(doc)) throw new ValidationError(`${path}: a document must be a plain object`);
    const store = this.host.store;
    if (store.model(this.name) === undefined) {
      // No model: a new id goes straight into the one copy made (copyNewDocument puts it first).
      return copyNewDocument(doc, store.limits, doc['_id'] === undefined ? this.host.generateId() : undefined);
    }
    // A model whose `_id` is a UUID gets a UUID; checked (defaults, coercion) before proposing,
    // and again at apply against the model then in force.
    const id =
      doc['_id'] === undefined ? (store.model(this.name) !== undefined && this.uuidIds() ? crypto.randomUUID() : this.host.generateId()) : undefined;
    const withId = id === undefined ? doc : { ...doc, _id: id };
    return copyNewDocument(store.conformNew(this.name, withId), store.limits);
  }

  private uuidIds(): boolean {
    const id = (this.host.store.model(this.name)?.schema['properties'] as Record<string, { format?: unknown }> | undefined)?.['_id'];
    return id?.format === 'uuid';
  }

  // ---------------------------------------------------------------------------
  // Models, history, audit (docs/models.md)

  /** Sets this collection's model through the log; existing documents must match unless `force`. */
  async setSchema(schema: JsonObject, options: ModelOptions = {}, force = false): Promise<StoredModel> {
    return this.run({ type: 'setSchema', collection: this.name, schema, options, force });
  }

  /** Removes this collection's model (documents, indexes and history stay). */
  async dropSchema(): Promise<boolean> {
    return (await this.run({ type: 'dropSchema', collection: this.name })).dropped;
  }

  getSchema(): StoredModel | undefined {
    return this.host.store.model(this.name);
  }

  /** The document's versions, oldest first (with `trackHistory`). */
  history(id: string): readonly RaftEvent[] {
    return this.host.store.documentHistory(this.name, id);
  }

  /** The document as it was at a log index (`{sequence}`) or a time (`{timeMs}`). */
  findAsOf(id: string, at: AsOf): Document | undefined {
    return this.host.store.getAsOf(this.name, id, at);
  }

  /** Walks the audit chain (with `audited`): the first broken link, if any. */
  verifyAudit(): AuditVerification {
    return this.host.store.verifyAudit(this.name);
  }

  private async run<T extends Command['type']>(command: Command & { type: T }, options?: ExecuteOptions): Promise<ResultValues[T]> {
    if (this.modelReady !== undefined && command.type !== 'setSchema') await this.modelReady;
    // An update or replace whose document fails the model costs no log entry (inserts were
    // conformed in withId); apply checks again, and decides (docs/models.md, Validation).
    const failure = this.host.store.modelFailure(command);
    if (failure !== undefined) throw failure;
    const result = await this.host.execute(command, options);
    if (!result.ok) throw errorFromInfo(result.error);
    return result.value as ResultValues[T];
  }
}
