// One collection: documents by _id (a Map for O(1) gets, a B+tree for _id
// order), plus its secondary indexes. write() is atomic: it checks every
// index before changing anything.

import { BTree } from './btree.ts';
import { ConflictError } from './errors.ts';
import type { IndexChange, SecondaryIndex } from './index-secondary.ts';
import type { Document } from './types.ts';

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class Collection {
  readonly name: string;
  readonly docs = new Map<string, Document>();
  readonly byId = new BTree<string, Document>(compareIds);
  /** In creation order. */
  readonly indexes: SecondaryIndex[] = [];

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

  /** Fills an empty collection with documents in strictly ascending _id order (snapshot restore). */
  load(docs: Document[]): void {
    if (this.docs.size !== 0 || this.indexes.length !== 0) throw new Error('load into a non-empty collection');
    this.byId.load(
      docs.map((d) => d._id),
      docs,
    );
    for (const d of docs) this.docs.set(d._id, d);
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
    if (changes !== undefined) for (const c of changes) c.index.commit(c);
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
