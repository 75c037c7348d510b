// Optimistic transactions for the embedded database. Reads inside a transaction
// see its own writes (an overlay of the documents it wrote over the store);
// every read records a precondition (the `_rev` it saw, or how many documents a
// query matched), and commit sends one `tx` command carrying the writes and
// those preconditions: the store applies all of it, or nothing if anything the
// transaction read has changed since (then the caller retries).
import { Query } from 'mingo';
import { update as applyUpdateOperators } from 'mingo/updater';
import type { Precondition, TxCommand, TxOp } from '../store/commands.ts';
import { ConflictError, NotFoundError, PreconditionFailedError, ValidationError } from '../store/errors.ts';
import { equalityFields } from '../store/filter-analysis.ts';
import { compileFilter, QUERY_OPTIONS } from '../store/query-cache.ts';
import { mingoUpdateSpec } from '../store/query-regex.ts';
import { normalizeSort, sortDocuments } from '../store/sort.ts';
import type { Store } from '../store/store.ts';
import type { Document, Filter, FindOptions, JsonObject, UpdateSpec } from '../store/types.ts';
import { isPlainObject, validateDocument, validateUpdate } from '../store/validate.ts';
import type { UpdateOptions, UpdateResult } from './embedded-collection.ts';

export interface TransactionOptions {
  /** How many times to run the function again after a conflict (default 10). */
  readonly retries?: number;
}

/** A transaction may not record more preconditions than a tx command can hold. */
const MAX_READS = 1_000;

export class Transaction {
  private readonly ops: TxOp[] = [];
  // What this transaction read from the store, keyed so a re-read adds nothing.
  private readonly reads = new Map<string, Precondition>();
  // Documents this transaction wrote: the new document, or null when removed.
  private readonly overlay = new Map<string, Map<string, Document | null>>();

  constructor(
    private readonly store: Store,
    private readonly generateId: () => string,
  ) {}

  collection(name: string): TransactionCollection {
    return new TransactionCollection(this, name);
  }

  /** @internal */
  get(collection: string, id: string): Document | null {
    const written = this.overlay.get(collection)?.get(id);
    if (written !== undefined) return written;
    const doc = this.store.get(collection, id) ?? null;
    this.recordRev(collection, id, doc?._rev ?? 0);
    return doc;
  }

  /** @internal */
  find(collection: string, filter: Filter, options: FindOptions): Document[] {
    const compiled = compileFilter(filter);
    const fromStore = this.store.find(collection, filter, {});
    this.record(`q:${collection}:${JSON.stringify(filter)}`, { collection, filter, count: fromStore.length });
    for (const doc of fromStore) this.recordRev(collection, doc._id, doc._rev);
    const written = this.overlay.get(collection);
    let docs = fromStore;
    if (written !== undefined && written.size > 0) {
      docs = fromStore.filter((doc) => !written.has(doc._id));
      for (const doc of written.values()) if (doc !== null && compiled.test(doc)) docs.push(doc);
    }
    docs = options.sort !== undefined ? sortDocuments(docs, normalizeSort(options.sort)) : docs.sort(byId);
    const skip = options.skip ?? 0;
    docs = docs.slice(skip, options.limit !== undefined ? skip + options.limit : undefined);
    if (options.projection !== undefined) {
      return new Query({}).find<Document>(docs, options.projection).all();
    }
    return docs;
  }

  /** @internal */
  insert(collection: string, doc: JsonObject): Document {
    if (!isPlainObject(doc)) throw new ValidationError('(document): a document must be a plain object');
    const full = { ...doc, _id: doc['_id'] ?? this.generateId() } as JsonObject;
    validateDocument(full);
    const id = full['_id'] as string;
    if (this.get(collection, id) !== null) {
      throw new ConflictError(`duplicate key: ${collection} already has _id ${JSON.stringify(id)}`);
    }
    this.ops.push({ type: 'insert', collection, docs: [full] });
    return this.write(collection, id, full);
  }

  /** @internal */
  replace(collection: string, id: string, doc: JsonObject): Document {
    const full = { ...doc, _id: id };
    validateDocument(full);
    this.get(collection, id); // the outcome depends on whether it existed: record it
    this.ops.push({ type: 'replace', collection, id, doc: full, upsert: true });
    return this.write(collection, id, full);
  }

  /** @internal */
  update(collection: string, filter: Filter, update: UpdateSpec, options: UpdateOptions): UpdateResult {
    validateUpdate(update);
    const matches = this.find(collection, filter, options.multi === true ? {} : { limit: 1 });
    for (const doc of matches) {
      this.ops.push({ type: 'update', collection, filter: { _id: doc._id }, update, multi: false, upsert: false });
      this.write(collection, doc._id, applyUpdate(doc, update));
    }
    if (matches.length > 0 || options.upsert !== true) return { matched: matches.length, modified: matches.length };
    const seed = { ...equalityFields(filter) } as JsonObject;
    const id = typeof seed['_id'] === 'string' ? seed['_id'] : this.generateId();
    const created = applyUpdate({ ...seed, _id: id, _rev: 0 } as Document, update);
    this.ops.push({ type: 'update', collection, filter, update, multi: false, upsert: true, upsertId: id });
    this.write(collection, id, created);
    return { matched: 0, modified: 0, upsertedId: id };
  }

  /** @internal */
  remove(collection: string, target: string | Filter): number {
    const matches =
      typeof target === 'string' ? [this.get(collection, target)].filter((d): d is Document => d !== null) : this.find(collection, target, {});
    for (const doc of matches) {
      this.ops.push({ type: 'remove', collection, filter: { _id: doc._id }, multi: false });
      this.overlayOf(collection).set(doc._id, null);
    }
    return matches.length;
  }

  /** The command to commit, or null when the transaction only read: then its reads are
   * checked against the store now, which is as serialisable as a commit would be. */
  toCommand(): TxCommand | null {
    const preconditions = [...this.reads.values()];
    if (this.ops.length > 0) return { type: 'tx', ops: this.ops, if: preconditions };
    for (const p of preconditions) {
      if (!this.holds(p)) throw new PreconditionFailedError(`read of ${p.collection} changed during the transaction`);
    }
    return null;
  }

  private holds(p: Precondition): boolean {
    if ('rev' in p) return (this.store.get(p.collection, p.id)?._rev ?? 0) === p.rev;
    if ('exists' in p) return (this.store.get(p.collection, p.id) !== undefined) === p.exists;
    return this.store.count(p.collection, p.filter) === p.count;
  }

  private write(collection: string, id: string, doc: JsonObject): Document {
    // Revisions are known only at commit; inside the transaction a written document has _rev 0.
    const stored = Object.freeze({ ...doc, _id: id, _rev: 0 }) as Document;
    this.overlayOf(collection).set(id, stored);
    return stored;
  }

  private overlayOf(collection: string): Map<string, Document | null> {
    let map = this.overlay.get(collection);
    if (map === undefined) {
      map = new Map();
      this.overlay.set(collection, map);
    }
    return map;
  }

  private recordRev(collection: string, id: string, rev: number): void {
    this.record(`d:${collection}:${id}`, { collection, id, rev });
  }

  private record(key: string, precondition: Precondition): void {
    if (this.reads.has(key)) return;
    if (this.reads.size >= MAX_READS) {
      throw new ValidationError(`a transaction may read at most ${MAX_READS} documents and queries`);
    }
    this.reads.set(key, precondition);
  }
}

function byId(a: Document, b: Document): number {
  return a._id < b._id ? -1 : a._id > b._id ? 1 : 0;
}

function applyUpdate(doc: Document, update: UpdateSpec): Document {
  const copy = structuredClone(doc) as JsonObject;
  // As the store applies it ($pull's conditions on RE2 and our operators).
  applyUpdateOperators(copy, mingoUpdateSpec(update) as Parameters<typeof applyUpdateOperators>[1], undefined, undefined, {
    queryOptions: QUERY_OPTIONS,
  });
  return copy as Document;
}

/** A collection seen through a transaction. Writes are buffered until commit. */
export class TransactionCollection {
  constructor(
    private readonly tx: Transaction,
    readonly name: string,
  ) {}

  get(id: string): Document | null {
    return this.tx.get(this.name, id);
  }
  find(filter: Filter = {}, options: FindOptions = {}): Document[] {
    return this.tx.find(this.name, filter, options);
  }
  findOne(filter: Filter = {}, options: FindOptions = {}): Document | null {
    return this.tx.find(this.name, filter, { ...options, limit: 1 })[0] ?? null;
  }
  count(filter: Filter = {}): number {
    return this.tx.find(this.name, filter, {}).length;
  }
  insert(doc: JsonObject): Document {
    return this.tx.insert(this.name, doc);
  }
  replace(id: string, doc: JsonObject): Document {
    return this.tx.replace(this.name, id, doc);
  }
  update(filter: Filter, update: UpdateSpec, options: UpdateOptions = {}): UpdateResult {
    return this.tx.update(this.name, filter, update, options);
  }
  /** Updates one document by id; throws NotFoundError when absent. */
  updateById(id: string, update: UpdateSpec): Document {
    const result = this.tx.update(this.name, { _id: id }, update, {});
    if (result.matched === 0) throw new NotFoundError(`${this.name}/${id} not found`);
    return this.tx.get(this.name, id)!;
  }
  remove(target: string | Filter): number {
    return this.tx.remove(this.name, target);
  }
}
