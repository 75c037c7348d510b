// Our embedded database as an application uses it: the package's compiled build.
import { open, type CollectionModel, type Database, type EmbeddedCollection } from 'collection-store';
import { readDoc, type DurableWriter, type Reader, type Subject } from './subject.ts';

const LOAD_BATCH = 1000;

export interface OurReads {
  readonly db: Database;
  readonly col: EmbeddedCollection;
  readonly reader: Reader;
}

/**
 * The read documents in a database in memory (reads are served from memory either way; a
 * directory would only add the log's fsyncs to the load), with indexes on `category` (the
 * side-by-side equality query) and `price` (our own range query).
 */
export async function loadOurReads(count: number, onProgress: (loaded: number) => void = () => {}): Promise<OurReads> {
  const db = await open({ memory: true, snapshotThreshold: 0 });
  const col = db.collection('bench');
  await col.createIndex('category');
  await col.createIndex('price');
  for (let i = 0; i < count; i += LOAD_BATCH) {
    const docs = [];
    for (let j = i; j < Math.min(count, i + LOAD_BATCH); j++) docs.push({ ...readDoc(j, count) });
    await col.insertMany(docs);
    if (i % 100_000 === 0) onProgress(i);
  }
  const reader: Reader = {
    get: (id) => col.get(id),
    findByCategory: (category) => col.find({ category }),
    close: () => db.close(),
  };
  return { db, col, reader };
}

/** Durable inserts into `bench` (with `model`, if any): each resolves once fsynced (group commit). */
export async function openOurWriter(dir: string, model?: CollectionModel): Promise<DurableWriter> {
  const db = await open({ dir, sync: 'batch', snapshotThreshold: 0 });
  const col = db.collection('bench', model);
  return {
    insert: async (doc) => {
      await col.insert({ ...doc, tags: [...doc.tags] });
    },
    close: () => db.close(),
  };
}

export const ours: Subject = {
  name: 'ours',
  setup: "open({ dir, sync: 'batch' }): every insert fsynced (group commit) before it resolves; reads from memory, indexes on category and price",
  openWriter: (dir: string) => openOurWriter(dir),
  async loadReader(_dir: string, count: number): Promise<Reader> {
    return (await loadOurReads(count)).reader;
  },
};
