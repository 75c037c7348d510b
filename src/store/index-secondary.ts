// A secondary index: a B+tree of [field values..., _id] keys, unique or not,
// single-field or compound, over nested paths, multikey over arrays. The tree
// holds each key as its head (the field values) and its _id (index-keys.ts).
//
// Writes are two-phase so a failed write changes nothing: prepare() computes
// the key changes and checks uniqueness without touching the tree; commit()
// applies them. The collection prepares every index before committing any.

import { assert } from '../assert.ts';
import { BTree } from './btree.ts';
import { ConflictError } from './errors.ts';
import {
  ARRAY_ON_PATH,
  compareIdSlot,
  headsForDocument,
  makeHeadComparator,
  makeKeyComparator,
  scalarValueAt,
  TREE_HIGH,
  TREE_LOW,
  type DocHeads,
  type IdSlot,
  type IndexHead,
  type IndexKey,
} from './index-keys.ts';
import { numberOrder, stringOrder } from './index-order.ts';
import type { Document, IndexSpec } from './types.ts';

export interface IndexChange {
  readonly index: SecondaryIndex;
  /** The document's _id: every key removed and added ends with it. */
  readonly id: string;
  readonly remove: IndexHead[];
  readonly add: IndexHead[];
  readonly multikeyDelta: number;
}

export class SecondaryIndex {
  readonly spec: IndexSpec;
  readonly paths: ReadonlyArray<readonly string[]>;
  readonly dirs: ReadonlyArray<1 | -1>;
  /** The order of whole keys (the planner's intervals, the seeks' positions). */
  readonly compare: (a: IndexKey, b: IndexKey) => number;
  /** The order of heads: the tree's, before its _ids. */
  private readonly compareHeads: (a: IndexHead, b: IndexHead) => number;
  /** Each key as (head, _id): ordered by head, then _id. Bounds may hold sentinels. */
  readonly tree: BTree<IndexHead, IdSlot>;
  /** Number of documents with an array on an indexed path. */
  multikeyDocs = 0;

  constructor(spec: IndexSpec) {
    this.spec = spec;
    this.paths = spec.fields.map(([path]) => path.split('.'));
    this.dirs = spec.fields.map(([, dir]) => dir);
    this.compare = makeKeyComparator(this.dirs);
    this.compareHeads = makeHeadComparator(this.dirs);
    this.tree = new BTree<IndexHead, IdSlot>(this.compareHeads, compareIdSlot);
  }

  get name(): string {
    return this.spec.name;
  }

  get isMultikey(): boolean {
    return this.multikeyDocs > 0;
  }

  /** The heads of a document's keys (its _id completes each). */
  headsOf(doc: Document): DocHeads {
    return headsForDocument(doc, this.paths, this.spec.name);
  }

  /** The head of a whole key (or bound): its value, or its n values. */
  headOf(key: IndexKey): IndexHead {
    const n = this.paths.length;
    assert(key.length === n + 1, `index ${this.spec.name}: a key of ${key.length} parts, not ${n + 1}`);
    return n === 1 ? key[0] : key.slice(0, n);
  }

  /** The whole key [values..., _id] of a head and an _id. */
  keyOf(head: IndexHead, id: IdSlot): IndexKey {
    return this.paths.length === 1 ? [head, id] : [...(head as readonly unknown[]), id];
  }

  /**
   * Visits the entries from key `lo` to key `hi` (whole keys: bounds, sentinels allowed), in
   * the tree's order or reversed, as (head, _id); the visitor returns false to stop.
   */
  scan(lo: IndexKey, hi: IndexKey, reverse: boolean, visit: (head: IndexHead, id: string) => boolean | void): void {
    const n = this.paths.length;
    this.tree.scan(
      this.headOf(lo),
      this.headOf(hi),
      reverse,
      visit as (head: IndexHead, id: IdSlot) => boolean | void,
      lo[n] as IdSlot,
      hi[n] as IdSlot,
    );
  }

  /** scan, visiting whole keys (made for the visit: for the seeks, which compare them). */
  scanKeys(lo: IndexKey, hi: IndexKey, reverse: boolean, visit: (key: IndexKey) => boolean | void): void {
    this.scan(lo, hi, reverse, (head, id) => visit(this.keyOf(head, id)));
  }

  /** The _id of another document holding the same field values, if any. */
  private holderOf(head: IndexHead, selfId: string): string | undefined {
    let holder: string | undefined;
    this.tree.scan(
      head,
      head,
      false,
      (_, id) => {
        if (id !== selfId) {
          holder = id as string;
          return false;
        }
        return true;
      },
      TREE_LOW,
      TREE_HIGH,
    );
    return holder;
  }

  /**
   * Computes the change for replacing oldDoc by newDoc (either may be absent)
   * and checks uniqueness. Throws ConflictError or ValidationError (parallel
   * arrays); never modifies the index.
   */
  prepare(oldDoc: Document | undefined, newDoc: Document | undefined): IndexChange {
    const id = (newDoc ?? oldDoc)?._id;
    assert(id !== undefined, `index ${this.spec.name}: prepare without a document`);
    assert(oldDoc === undefined || newDoc === undefined || oldDoc._id === newDoc._id, `index ${this.spec.name}: prepare of two _ids`);
    const before = oldDoc === undefined ? NO_HEADS : this.headsOf(oldDoc);
    const after = newDoc === undefined ? NO_HEADS : this.headsOf(newDoc);
    let remove: IndexHead[];
    let add: IndexHead[];
    // One _id on both sides: keys are equal exactly when their heads are.
    if (before.heads.length === 0 || after.heads.length === 0) {
      remove = before.heads;
      add = after.heads;
    } else {
      remove = before.heads.filter((h) => !after.heads.some((a) => this.compareHeads(a, h) === 0));
      add = after.heads.filter((h) => !before.heads.some((b) => this.compareHeads(b, h) === 0));
    }
    if (this.spec.unique && newDoc !== undefined) {
      for (const head of add) {
        const holder = this.holderOf(head, id);
        if (holder !== undefined) {
          throw new ConflictError(
            `duplicate key in unique index "${this.spec.name}": ${describeHead(this, head)} (already used by document "${holder}")`,
          );
        }
      }
    }
    return { index: this, id, remove, add, multikeyDelta: (after.multikey ? 1 : 0) - (before.multikey ? 1 : 0) };
  }

  commit(change: IndexChange): void {
    for (const h of change.remove) {
      const removed = this.tree.delete(h, change.id);
      if (!removed) assert(false, `index ${this.spec.name}: missing entry on remove`);
    }
    for (const h of change.add) {
      const added = this.tree.set(h, change.id);
      if (!added) assert(false, `index ${this.spec.name}: entry added twice`);
    }
    this.multikeyDocs += change.multikeyDelta;
    if (this.multikeyDocs < 0) assert(false, `index ${this.spec.name}: negative multikey count`);
  }

  /**
   * The entries of a single-field index in the tree's order, when no document has an array on
   * its path and the values are all numbers or all strings: sorted by index-order.ts on the
   * bare values, without a key comparison per pair. Undefined otherwise: the caller sorts.
   */
  private singleFieldEntriesInOrder(docs: readonly Document[]): Entries | undefined {
    const segs = this.paths[0]!;
    const n = docs.length;
    const values = new Array<unknown>(n);
    let numbers = 0;
    let strings = 0;
    for (let i = 0; i < n; i++) {
      const value = scalarValueAt(docs[i], segs);
      if (value === ARRAY_ON_PATH) return undefined;
      values[i] = value;
      if (typeof value === 'number') numbers++;
      else if (typeof value === 'string') strings++;
    }
    const dir = this.dirs[0]!;
    let order: Uint32Array | undefined;
    if (n > 0 && numbers === n) {
      const sortable = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const x = dir * (values[i] as number);
        sortable[i] = x === 0 ? 0 : x; // -0 equals 0 in the index: one place for both
      }
      order = numberOrder(sortable);
    } else if (n > 0 && strings === n) {
      order = stringOrder(values as string[], dir);
    }
    if (order === undefined) return undefined;
    const heads = new Array<IndexHead>(n);
    const ids = new Array<string>(n);
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      heads[k] = values[i];
      ids[k] = docs[i]!._id;
    }
    return { heads, ids };
  }

  /**
   * Builds the index over existing documents, given in ascending _id order (checked). Throws
   * ConflictError naming the key when a unique index meets a duplicate; the caller then
   * discards it.
   *
   * Bulk: every key is made, sorted once and loaded bottom-up (BTree.load), instead of n
   * inserts. The documents' _id order lets the sort compare values only: a stable sort
   * (Array.prototype.sort is) keeps equal values in the order they came, by _id.
   */
  build(docs: readonly Document[]): void {
    assert(this.tree.size === 0, 'build on a non-empty index');
    for (let d = 1; d < docs.length; d++) {
      if (!(docs[d - 1]!._id < docs[d]!._id)) assert(false, `index ${this.spec.name}: build given documents out of _id order`);
    }
    let entries = this.paths.length === 1 ? this.singleFieldEntriesInOrder(docs) : undefined;
    let multikeyDocs = 0;
    if (entries === undefined) {
      // Each document's heads with its position (its _id's rank: docs are in _id order).
      const made: Array<readonly [IndexHead, number]> = [];
      // A stable sort by head leaves equal heads in _id order, as the tree wants.
      const byHead = (a: readonly [IndexHead, number], b: readonly [IndexHead, number]): number => this.compareHeads(a[0], b[0]);
      const split = (sorted: ReadonlyArray<readonly [IndexHead, number]>): Entries => ({
        heads: sorted.map(([h]) => h),
        ids: sorted.map(([, d]) => docs[d]!._id),
      });
      for (let d = 0; d < docs.length; d++) {
        let k: DocHeads;
        try {
          k = this.headsOf(docs[d]!);
        } catch (error) {
          // A document the index refuses (parallel arrays): one document at a time, as
          // createIndex means, a duplicate among the documents before it would come first.
          if (this.spec.unique) this.refuseDuplicates(split(made.sort(byHead)));
          throw error;
        }
        if (k.multikey) multikeyDocs++;
        for (const head of k.heads) made.push([head, d]);
      }
      entries = split(made.sort(byHead));
    }
    if (this.spec.unique) this.refuseDuplicates(entries);
    // In the tree's order by construction (values sorted, then _ids by stability): unchecked.
    this.tree.load(entries.heads, entries.ids, 'sorted-by-caller');
    this.multikeyDocs = multikeyDocs;
  }

  /** Throws ConflictError naming the first two of the entries (sorted by head) with equal heads. */
  private refuseDuplicates(sorted: Entries): void {
    const { heads, ids } = sorted;
    for (let i = 1; i < heads.length; i++) {
      if (this.compareHeads(heads[i - 1], heads[i]) === 0) {
        throw new ConflictError(
          `cannot build unique index "${this.spec.name}": duplicate key ${describeHead(this, heads[i])} in documents "${ids[i - 1]!}" and "${ids[i]!}"`,
        );
      }
    }
  }
}

/** Entries in the tree's order, in two parallel arrays (as BTree.load takes them). */
interface Entries {
  readonly heads: IndexHead[];
  readonly ids: string[];
}

const NO_HEADS: DocHeads = { heads: [], multikey: false };

export function describeHead(index: SecondaryIndex, head: IndexHead): string {
  const values = index.paths.length === 1 ? [head] : (head as readonly unknown[]);
  const parts = index.spec.fields.map(([path], i) => `${JSON.stringify(path)}: ${JSON.stringify(values[i])}`);
  return `{ ${parts.join(', ')} }`;
}

export function defaultIndexName(fields: IndexSpec['fields']): string {
  return fields.map(([path, dir]) => `${path}_${dir}`).join('_');
}
