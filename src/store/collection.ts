// One collection: documents by _id (Maps for O(1) gets, a B+tree for _id
// order), plus its secondary indexes and, when its documents expire, their
// order of expiry. write() is atomic: it checks every index before changing
// anything.

import { assert } from '../assert.ts';
import { BTree } from './btree.ts';
import { ConflictError } from './errors.ts';
import { compareStrings } from './key-order.ts';
import type { IndexChange, SecondaryIndex } from './index-secondary.ts';
import type { TtlRule } from './ttl.ts';
import { ExpiryOrder, sameTtlRules } from './ttl-order.ts';
import type { Document } from './types.ts';

/** Maps a document map is split into (a power of two). */
const DOC_SHARDS = 64;

/**
 * Documents by _id: DOC_SHARDS Maps chosen by the id's last two characters (where generated
 * ids vary, in their random part, and ids a user numbers vary too). One JS Map
 * grows by rehashing every entry in one piece: at 524,288 and 1,048,576 documents one insert
 * held the loop 46 and 53 ms (about 90 ms on a loaded box, on every node at once, as they
 * apply the same entry), and a Map holds at most 2^24 entries. A shard's rehash is 1/64 of that.
 */
export class DocumentMap {
  private readonly shards: Array<Map<string, Document>> = Array.from({ length: DOC_SHARDS }, () => new Map<string, Document>());
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(id: string): Document | undefined {
    return this.shard(id).get(id);
  }

  has(id: string): boolean {
    return this.shard(id).has(id);
  }

  set(id: string, doc: Document): void {
    const shard = this.shard(id);
    const before = shard.size;
    shard.set(id, doc);
    this.count += shard.size - before;
  }

  delete(id: string): boolean {
    const found = this.shard(id).delete(id);
    if (found) this.count--;
    return found;
  }

  /**
   * Fills the empty map with documents of distinct ids (Collection.load). Shard by shard:
   * grouping first and then filling one Map at a time keeps each Map's table in cache while
   * it grows, where interleaved sets into 64 Maps cost about twice as much (1,000,000 ids).
   */
  load(docs: readonly Document[]): void {
    assert(this.count === 0, 'DocumentMap.load into a non-empty map');
    const shardOf = new Uint8Array(docs.length);
    const sizes = new Uint32Array(DOC_SHARDS);
    for (let i = 0; i < docs.length; i++) {
      const s = this.shardIndex(docs[i]!._id);
      shardOf[i] = s;
      sizes[s]!++;
    }
    // Positions grouped by shard (a counting sort), then each shard filled in one go.
    const starts = new Uint32Array(DOC_SHARDS + 1);
    for (let s = 0; s < DOC_SHARDS; s++) starts[s + 1] = starts[s]! + sizes[s]!;
    const next = starts.slice(0, DOC_SHARDS);
    const order = new Uint32Array(docs.length);
    for (let i = 0; i < docs.length; i++) order[next[shardOf[i]!]!++] = i;
    for (let s = 0; s < DOC_SHARDS; s++) {
      const shard = this.shards[s]!;
      for (let k = starts[s]!; k < starts[s + 1]!; k++) {
        const doc = docs[order[k]!]!;
        shard.set(doc._id, doc);
      }
    }
    this.count = docs.length;
    let held = 0;
    for (const shard of this.shards) held += shard.size;
    assert(held === docs.length, 'DocumentMap.load: ids were not distinct');
  }

  /** Every document, shard by shard (no particular order). */
  *values(): IterableIterator<Document> {
    for (const shard of this.shards) yield* shard.values();
  }

  /** Every document in an array (no particular order): a copy of each shard's values. */
  toArray(): Document[] {
    const out: Document[] = [];
    for (const shard of this.shards) for (const doc of shard.values()) out.push(doc);
    return out;
  }

  private shard(id: string): Map<string, Document> {
    return this.shards[this.shardIndex(id)]!;
  }

  private shardIndex(id: string): number {
    // The last two characters, mixed: a hash of more costs more than the Map lookup itself.
    const n = id.length;
    const h = n === 0 ? 0 : Math.imul(id.charCodeAt(n - 1) ^ Math.imul(n > 1 ? id.charCodeAt(n - 2) : 0, 0x9e3779b1), 0x85ebca6b);
    return (h >>> 7) & (DOC_SHARDS - 1);
  }
}

/** Writes a view keeps the previous documents of, at most: beyond, it is spent (the reader
 * takes the collection in one piece instead). 100,000 references: a few MB, and more than a
 * collection takes in the second or so that a read over 1,000,000 documents runs in turns. */
export const VIEW_PRE_IMAGES_MAX = 100_000;

/**
 * The documents of a collection as they were when the view was opened, walked in _id order
 * over several turns of the event loop while writes go on between them (issue #11: taking
 * 1,000,000 references in one piece held a node's loop 6 to 40 ms). No copy is made: the
 * walk reads the _id tree as it is at each step, and the collection gives the view, on each
 * write of an id the walk has not reached yet, the document that id had before (its
 * pre-image, the first one only; undefined when the id did not exist). So an id ahead of the
 * walk is seen as it was when the view opened, an id behind it is never looked at again, and
 * an id removed before the walk reached it is still visited, from its pre-image, in order.
 */
export class CollectionView {
  /** The previous document of each id ahead of the walk that was written since the view opened. */
  private readonly preImages = new Map<string, Document | undefined>();
  /** The last id visited: the walk goes on after (before, reversed) it. */
  private cursor: string | undefined;
  /** Ids removed from the tree whose pre-image is a document, in walk order from `removedAt`
   * on (an id written again since is skipped when reached: the tree walk reads it). */
  private removed: string[] = [];
  private removedAt = 0;
  /** Removed since the last step, in no order: merged into `removed` at the next step. */
  private fresh: string[] = [];
  private readonly listed = new Set<string>();
  private isSpent = false;
  private isDone = false;

  constructor(
    private readonly coll: Collection,
    readonly reverse: boolean,
    private readonly preImagesMax: number,
  ) {}

  /** True when more than VIEW_PRE_IMAGES_MAX (preImagesMax) writes landed ahead of the walk: the view no
   * longer knows the collection's state when it opened (it was closed). */
  get spent(): boolean {
    return this.isSpent;
  }

  /** True when the walk reached the end (or the visitor stopped it). */
  get done(): boolean {
    return this.isDone;
  }

  /** Called by the collection before it writes `id`: `previous` is its document until now,
   * `next` the one it gets (undefined: removed). */
  noteWrite(id: string, previous: Document | undefined, next: Document | undefined): void {
    if (this.isSpent || !this.ahead(id)) return;
    let pre = previous;
    if (this.preImages.has(id)) pre = this.preImages.get(id);
    else if (this.preImages.size >= this.preImagesMax) {
      this.isSpent = true;
      this.close();
      return;
    } else this.preImages.set(id, previous);
    if (next === undefined && pre !== undefined && !this.listed.has(id)) {
      this.listed.add(id);
      this.fresh.push(id);
    }
  }

  /**
   * Visits the next documents in _id order (descending when reversed) until `due()` says the
   * slice is spent, `visit` returns false, or the walk ends. Synchronous: no write lands
   * during one step. Returns true while there is more to walk.
   */
  step(visit: (doc: Document) => boolean, due: () => boolean): boolean {
    if (this.isSpent) throw new Error('CollectionView.step: the view is spent');
    if (this.isDone) return false;
    if (this.fresh.length > 0) this.mergeFresh();
    let stopped = false;
    let sliceOver = false;
    const walker = (id: string, current: Document): boolean => {
      if (id === this.cursor) return true; // the scan's bound is inclusive: visited already
      // Removed ids that come before this one in the walk.
      while (this.removedAt < this.removed.length && this.precedes(this.removed[this.removedAt]!, id)) {
        if (!this.visitRemoved(visit)) {
          stopped = true;
          return false;
        }
      }
      let doc: Document | undefined = current;
      if (this.preImages.size !== 0 && this.preImages.has(id)) {
        doc = this.preImages.get(id);
        this.preImages.delete(id);
      }
      this.cursor = id;
      if (doc !== undefined && !visit(doc)) {
        stopped = true;
        return false;
      }
      if (due()) {
        sliceOver = true;
        return false;
      }
      return true;
    };
    if (this.reverse) this.coll.byId.scan(undefined, this.cursor, true, walker);
    else this.coll.byId.scan(this.cursor, undefined, false, walker);
    if (sliceOver) return true;
    // The tree is walked (or the visitor stopped): the ids removed after every id still held.
    while (!stopped && this.removedAt < this.removed.length) stopped = !this.visitRemoved(visit);
    this.isDone = true;
    this.close();
    return false;
  }

  /** Stops the collection telling this view about its writes. */
  close(): void {
    this.coll.closeView(this);
  }

  private ahead(id: string): boolean {
    return this.cursor === undefined || (this.reverse ? id < this.cursor : id > this.cursor);
  }

  private precedes(a: string, b: string): boolean {
    return this.reverse ? a > b : a < b;
  }

  /** Visits the next removed id, unless the tree walk read it already: an id written again
   * since it was removed is in the tree, which reaches it first (removed ids are only visited
   * before a greater id of the tree, or after the tree's last). */
  private visitRemoved(visit: (doc: Document) => boolean): boolean {
    const id = this.removed[this.removedAt++]!;
    this.listed.delete(id);
    if (!this.preImages.has(id)) return true;
    const doc = this.preImages.get(id)!;
    this.preImages.delete(id);
    this.cursor = id;
    return visit(doc);
  }

  /** Sorts the ids removed since the last step into `removed` (one merge: O(removed)). */
  private mergeFresh(): void {
    const cmp = this.reverse ? (a: string, b: string) => compareStrings(b, a) : compareStrings;
    const fresh = this.fresh.sort(cmp);
    this.fresh = [];
    const merged: string[] = [];
    let i = this.removedAt;
    let j = 0;
    while (i < this.removed.length || j < fresh.length) {
      if (j >= fresh.length || (i < this.removed.length && cmp(this.removed[i]!, fresh[j]!) <= 0)) merged.push(this.removed[i++]!);
      else merged.push(fresh[j++]!);
    }
    this.removed = merged;
    this.removedAt = 0;
  }
}

export class Collection {
  readonly name: string;
  readonly docs = new DocumentMap();
  readonly byId = new BTree<string, Document>(compareStrings);
  /** In creation order. */
  readonly indexes: SecondaryIndex[] = [];
  /** The documents in order of expiry, when the collection has TTL rules (setExpiryRules). */
  private expiryOrder: ExpiryOrder | undefined;
  /** Open views (reads in turns), told of every write. */
  private readonly views = new Set<CollectionView>();

  constructor(name: string) {
    this.name = name;
  }

  get size(): number {
    return this.docs.size;
  }

  get(id: string): Document | undefined {
    return this.docs.get(id);
  }

  index(name: string): SecondaryIndex | undefined {
    return this.indexes.find((i) => i.name === name);
  }

  /** The documents in order of expiry, or undefined when they never expire. */
  get expiry(): ExpiryOrder | undefined {
    return this.expiryOrder;
  }

  /** The collection's TTL rules from now on (the store's, whenever they may have changed):
   * rebuilds the order of expiry (O(n log n)) when they differ from the ones it was built by. */
  setExpiryRules(rules: readonly TtlRule[] | undefined): void {
    if (rules === undefined || rules.length === 0) this.expiryOrder = undefined;
    else if (this.expiryOrder === undefined || !sameTtlRules(this.expiryOrder.rules, rules)) {
      this.expiryOrder = new ExpiryOrder(rules, this.docs.values());
    }
  }

  /** A view of the documents as they are now, to walk in _id order over several turns
   * (close it when done: an open view costs every write a little). */
  openView(reverse: boolean, preImagesMax = VIEW_PRE_IMAGES_MAX): CollectionView {
    const view = new CollectionView(this, reverse, preImagesMax);
    this.views.add(view);
    return view;
  }

  /** Open views (for tests). */
  get viewCount(): number {
    return this.views.size;
  }

  closeView(view: CollectionView): void {
    this.views.delete(view);
  }

  /** Fills an empty collection with documents in strictly ascending _id order (snapshot restore). */
  load(docs: Document[]): void {
    if (this.docs.size !== 0 || this.indexes.length !== 0) throw new Error('load into a non-empty collection');
    this.byId.load(
      docs.map((d) => d._id),
      docs,
    );
    this.docs.load(docs);
    if (this.expiryOrder !== undefined) this.expiryOrder = new ExpiryOrder(this.expiryOrder.rules, docs);
  }

  /**
   * Replaces the document with id (newDoc undefined: removes it). `expectNew`
   * makes an existing _id a conflict (inserts). Throws before any change.
   */
  write(id: string, newDoc: Document | undefined, expectNew: boolean): Document | undefined {
    if (newDoc !== undefined && newDoc._id !== id) throw new Error(`write: _id mismatch ${newDoc._id} != ${id}`);
    // An id after every id held cannot be here: time-ordered ids make most inserts appends,
    // and a comparison on the tree's right spine costs less than a hash lookup in a big Map
    // (the Map and the tree always hold the same ids).
    const oldDoc = expectNew && this.byId.isAfterLast(id) ? undefined : this.docs.get(id);
    if (expectNew && oldDoc !== undefined) {
      throw new ConflictError(`duplicate key in index "_id_": ${JSON.stringify(id)} in collection "${this.name}"`);
    }
    if (oldDoc === undefined && newDoc === undefined) return undefined;
    let changes: IndexChange[] | undefined;
    if (this.indexes.length > 0) {
      changes = new Array<IndexChange>(this.indexes.length);
      for (let i = 0; i < this.indexes.length; i++) changes[i] = this.indexes[i]!.prepare(oldDoc, newDoc);
    }
    // Nothing below may throw on a valid state.
    if (this.views.size !== 0) for (const view of this.views) view.noteWrite(id, oldDoc, newDoc);
    if (changes !== undefined) for (const c of changes) c.index.commit(c);
    if (this.expiryOrder !== undefined) this.expiryOrder.noteWrite(id, oldDoc, newDoc);
    if (newDoc === undefined) {
      this.docs.delete(id);
      this.byId.delete(id);
    } else {
      this.docs.set(id, newDoc);
      this.byId.set(id, newDoc);
    }
    return oldDoc;
  }
}
