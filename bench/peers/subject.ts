// What the side-by-side embedded benchmark asks of each store (ours, lmdb-js, better-sqlite3):
// the same documents, the same operations, each store used the way its documentation advises.

/** A small document for the durable-insert runs (the same for every store). */
export interface InsertDoc {
  readonly writer: number;
  readonly n: number;
  readonly name: string;
  readonly tags: readonly string[];
  readonly price: number;
}

/** A document of the read runs: `_id` for gets, `category` for the indexed equality query. */
export interface ReadDoc {
  readonly _id: string;
  readonly category: string;
  readonly price: number;
  readonly name: string;
}

/** Opened on an empty directory; `insert` resolves only once the document is on disk (fsynced). */
export interface DurableWriter {
  insert(doc: InsertDoc): Promise<void>;
  close(): Promise<void>;
  /** Transactions committed and inserts they carried, where the bench does the grouping. */
  stats?(): { readonly commits: number; readonly items: number };
}

/** Holds the read documents, with an index on `category`; reads return decoded documents. */
export interface Reader {
  get(id: string): unknown;
  findByCategory(category: string): readonly unknown[];
  close(): Promise<void>;
}

export interface Subject {
  readonly name: SubjectName;
  /** How the store is set up, for the report (durability settings, index). */
  readonly setup: string;
  openWriter(dir: string): Promise<DurableWriter>;
  /** Loads `count` documents made by `readDoc(i, count)` into a store in `dir`, with the index. */
  loadReader(dir: string, count: number): Promise<Reader>;
}

export type SubjectName = 'ours' | 'lmdb' | 'sqlite';

/** Documents per category, at every size: each indexed equality query finds this many. */
export const MATCHES_PER_CATEGORY = 10;

/** The category of the i-th of `documents` read documents. */
export function categoryOf(i: number, documents: number): string {
  return `c${i % Math.max(1, Math.floor(documents / MATCHES_PER_CATEGORY))}`;
}

/** The i-th of `documents` read documents. */
export function readDoc(i: number, documents: number): ReadDoc {
  return { _id: `doc${i}`, category: categoryOf(i, documents), price: i % 10_000, name: `item ${i}` };
}

/** Peers key their documents like ours: strings that sort in insertion order. */
export function orderedKey(n: number): string {
  return n.toString(36).padStart(10, '0');
}
