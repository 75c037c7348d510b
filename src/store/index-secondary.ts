// A secondary index: a B+tree of [field values..., _id] keys, unique or not,
// single-field or compound, over nested paths, multikey over arrays.
//
// Writes are two-phase so a failed write changes nothing: prepare() computes
// the key changes and checks uniqueness without touching the tree; commit()
// applies them. The collection prepares every index before committing any.

import { assert } from '../assert.ts';
import { BTree } from './btree.ts';
import { ConflictError } from './errors.ts';
import {
  ARRAY_ON_PATH,
  keysForDocument,
  makeKeyComparator,
  makeValueComparator,
  scalarValueAt,
  TREE_HIGH,
  TREE_LOW,
  type IndexKey,
} from './index-keys.ts';
import { numberOrder, stringOrder } from './index-order.ts';
import { compareValues } from './key-order.ts';
import type { Document, IndexSpec } from './types.ts';

export interface IndexChange {
  readonly index: SecondaryIndex;
  readonly remove: IndexKey[];
  readonly add: IndexKey[];
  readonly multikeyDelta: number;
}

export class SecondaryIndex {
  readonly spec: IndexSpec;
  readonly paths: ReadonlyArray<readonly string[]>;
  readonly dirs: ReadonlyArray<1 | -1>;
  readonly compare: (a: IndexKey, b: IndexKey) => number;
  readonly tree: BTree<IndexKey, true>;
  /** Number of documents with an array on an indexed path. */
  multikeyDocs = 0;

  constructor(spec: IndexSpec) {
    this.spec = spec;
    this.paths = spec.fields.map(([path]) => path.split('.'));
    this.dirs = spec.fields.map(([, dir]) => dir);
    this.compare = makeKeyComparator(this.dirs);
    this.tree = new BTree<IndexKey, true>(this.compare);
  }

  get name(): string {
    return this.spec.name;
  }

  get isMultikey(): boolean {
    return this.multikeyDocs > 0;
  }

  keysOf(doc: Document): { keys: IndexKey[]; multikey: boolean } {
    return keysForDocument(doc, this.paths, this.spec.name);
  }

  /** The _id of another document holding the same field values, if any. */
  private holderOf(key: IndexKey, selfId: string): string | undefined {
    const n = this.paths.length;
    const lo: unknown[] = key.slice(0, n);
    const hi: unknown[] = key.slice(0, n);
    lo.push(TREE_LOW);
    hi.push(TREE_HIGH);
    let holder: string | undefined;
    this.tree.scan(lo, hi, false, (k) => {
      const id = k[n] as string;
      if (id !== selfId) {
        holder = id;
        return false;
      }
      return true;
    });
    return holder;
  }

  /**
   * Computes the change for replacing oldDoc by newDoc (either may be absent)
   * and checks uniqueness. Throws ConflictError or ValidationError (parallel
   * arrays); never modifies the index.
   */
  prepare(oldDoc: Document | undefined, newDoc: Document | undefined): IndexChange {
    const before = oldDoc === undefined ? NO_KEYS : this.keysOf(oldDoc);
    const after = newDoc === undefined ? NO_KEYS : this.keysOf(newDoc);
    let remove: IndexKey[];
    let add: IndexKey[];
    if (before.keys.length === 0 || after.keys.length === 0) {
      remove = before.keys;
      add = after.keys;
    } else {
      remove = before.keys.filter((k) => !after.keys.some((a) => this.compare(a, k) === 0));
      add = after.keys.filter((k) => !before.keys.some((b) => this.compare(b, k) === 0));
    }
    if (this.spec.unique && newDoc !== undefined) {
      for (const key of add) {
        const holder = this.holderOf(key, newDoc._id);
        if (holder !== undefined) {
          throw new ConflictError(
            `duplicate key in unique index "${this.spec.name}": ${describeKey(this, key)} (already used by document "${holder}")`,
          );
        }
      }
    }
    return { index: this, remove, add, multikeyDelta: (after.multikey ? 1 : 0) - (before.multikey ? 1 : 0) };
  }

  commit(change: IndexChange): void {
    for (const k of change.remove) {
      const removed = this.tree.delete(k);
      if (!removed) assert(false, `index ${this.spec.name}: missing entry on remove`);
    }
    for (const k of change.add) {
      const added = this.tree.set(k, true);
      if (!added) assert(false, `index ${this.spec.name}: entry added twice`);
    }
    this.multikeyDocs += change.multikeyDelta;
    if (this.multikeyDocs < 0) assert(false, `index ${this.spec.name}: negative multikey count`);
  }

  /**
   * The keys of a single-field index in the tree's order, when no document has an array on
   * its path and the values are all numbers or all strings: sorted by index-order.ts on the
   * bare values, without a key comparison per pair. Undefined otherwise: the caller sorts.
   */
  private singleFieldKeysInOrder(docs: readonly Document[]): IndexKey[] | undefined {
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
    const keys = new Array<IndexKey>(n);
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      keys[k] = [values[i], docs[i]!._id];
    }
    return keys;
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
    let keys = this.paths.length === 1 ? this.singleFieldKeysInOrder(docs) : undefined;
    let multikeyDocs = 0;
    if (keys === undefined) {
      const made: IndexKey[] = [];
      for (const doc of docs) {
        let k: { keys: IndexKey[]; multikey: boolean };
        try {
          k = this.keysOf(doc);
        } catch (error) {
          // A document the index refuses (parallel arrays): one document at a time, as
          // createIndex means, a duplicate among the documents before it would come first.
          if (this.spec.unique) this.refuseDuplicates(made.sort(makeValueComparator(this.dirs)));
          throw error;
        }
        if (k.multikey) multikeyDocs++;
        for (const key of k.keys) made.push(key);
      }
      keys = made.sort(makeValueComparator(this.dirs));
    }
    if (this.spec.unique) this.refuseDuplicates(keys);
    // In the tree's order by construction (values sorted, then _ids by stability): unchecked.
    this.tree.load(
      keys,
      keys.map(() => true as const),
      'sorted-by-caller',
    );
    this.multikeyDocs = multikeyDocs;
  }

  /** Throws ConflictError naming the first two of `sorted` keys (in value order) with equal values. */
  private refuseDuplicates(sorted: readonly IndexKey[]): void {
    const n = this.paths.length;
    for (let i = 1; i < sorted.length; i++) {
      const a = sorted[i - 1]!;
      const b = sorted[i]!;
      let same = true;
      for (let f = 0; f < n && same; f++) same = compareValues(a[f], b[f]) === 0;
      if (same) {
        throw new ConflictError(
          `cannot build unique index "${this.spec.name}": duplicate key ${describeKey(this, b)} in documents "${String(a[n])}" and "${String(b[n])}"`,
        );
      }
    }
  }
}

const NO_KEYS: { keys: IndexKey[]; multikey: boolean } = { keys: [], multikey: false };

export function describeKey(index: SecondaryIndex, key: IndexKey): string {
  const parts = index.spec.fields.map(([path], i) => `${JSON.stringify(path)}: ${JSON.stringify(key[i])}`);
  return `{ ${parts.join(', ')} }`;
}

export function defaultIndexName(fields: IndexSpec['fields']): string {
  return fields.map(([path, dir]) => `${path}_${dir}`).join('_');
}
