// lmdb-js (`lmdb` on npm): documents as msgpack values keyed by id; the index on `category`
// is a second database of the same environment (dupSort: category -> ids), written in the
// same transaction, which is how lmdb-js applications index a field.
import type { Database, RootDatabase } from 'lmdb';
import { orderedKey, readDoc, type DurableWriter, type InsertDoc, type Reader, type Subject } from './subject.ts';

type Lmdb = typeof import('lmdb');

/** The peer's module, or why it cannot run (it is a devDependency; a production install lacks it). */
export async function loadLmdb(): Promise<Lmdb | string> {
  try {
    return await import('lmdb');
  } catch (error) {
    return `lmdb-js is not installed (npm ci installs it as a devDependency): ${String(error).split('\n')[0]}`;
  }
}

const LOAD_BATCH = 10_000;

export function lmdbSubject(lmdb: Lmdb): Subject {
  return {
    name: 'lmdb',
    // overlappingSync (lmdb-js's default on Linux) commits without waiting for the disk and
    // flushes in parallel with the next transactions; an insert resolves only when its commit
    // is flushed (db.flushed), so it is as durable as ours. Concurrent puts share a transaction
    // (lmdb-js batches the writes of one event turn).
    setup: 'lmdb-js, overlappingSync, each put awaited and then db.flushed (fsynced); index on category: a dupSort database',
    async openWriter(dir: string): Promise<DurableWriter> {
      const root: RootDatabase<InsertDoc, string> = lmdb.open({ path: dir, overlappingSync: true });
      let n = 0;
      return {
        insert: async (doc) => {
          await root.put(orderedKey(n++), doc);
          await root.flushed;
        },
        close: () => root.close(),
      };
    },
    async loadReader(dir: string, count: number): Promise<Reader> {
      const root = lmdb.open({ path: dir, noSync: true });
      const docs: Database<unknown, string> = root.openDB({ name: 'docs' });
      const byCategory: Database<string, string> = root.openDB({ name: 'byCategory', dupSort: true, encoding: 'string' });
      for (let i = 0; i < count; i += LOAD_BATCH) {
        await root.transaction(() => {
          for (let j = i; j < Math.min(count, i + LOAD_BATCH); j++) {
            const doc = readDoc(j, count);
            void docs.put(doc._id, doc);
            void byCategory.put(doc.category, doc._id);
          }
        });
      }
      await root.flushed;
      return {
        get: (id) => docs.get(id),
        findByCategory: (category) => {
          const found: unknown[] = [];
          for (const id of byCategory.getValues(category)) found.push(docs.get(id));
          return found;
        },
        close: () => root.close(),
      };
    },
  };
}
