// better-sqlite3: documents as JSON text keyed by id (WITHOUT ROWID), the index on `category`
// an expression index on json_extract, so that the query reads the same field of the same
// documents. Durable inserts: WAL with synchronous=FULL (the WAL is fsynced at each commit)
// and the hand-written group commit (one transaction per batch of waiting writers).
import { orderedKey, readDoc, type DurableWriter, type InsertDoc, type Reader, type Subject } from './subject.ts';
import { GroupCommit } from './group-commit.ts';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';

type BetterSqlite3 = typeof import('better-sqlite3');

/**
 * The peer's constructor, or why it cannot run: better-sqlite3 is an optionalDependency,
 * built by node-gyp when no prebuilt binary can be downloaded, so an install may lack it.
 */
export async function loadSqlite(): Promise<BetterSqlite3 | string> {
  try {
    const loaded = (await import('better-sqlite3')).default;
    new loaded(':memory:').close(); // the native binding loads only here
    return loaded;
  } catch (error) {
    return `better-sqlite3 is not usable (an optionalDependency: its native build may have failed at npm ci; run \`npm rebuild better-sqlite3\` to see why): ${String(error).split('\n')[0]}`;
  }
}

const LOAD_BATCH = 10_000;

export function sqliteSubject(Sqlite: BetterSqlite3): Subject {
  const openDb = async (dir: string): Promise<import('better-sqlite3').Database> => {
    await mkdir(dir, { recursive: true });
    const db = new Sqlite(join(dir, 'bench.sqlite'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE IF NOT EXISTS docs (id TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID');
    return db;
  };
  return {
    name: 'sqlite',
    setup:
      'better-sqlite3, journal_mode=WAL, synchronous=FULL, one transaction per batch of waiting writers (group commit by hand); JSON text, expression index on category',
    async openWriter(dir: string): Promise<DurableWriter> {
      const db = await openDb(dir);
      const insert = db.prepare<[string, string]>('INSERT INTO docs (id, body) VALUES (?, ?)');
      let n = 0;
      const writeAll = db.transaction((docs: readonly InsertDoc[]) => {
        for (const doc of docs) insert.run(orderedKey(n++), JSON.stringify(doc));
      });
      const group = new GroupCommit<InsertDoc>((docs) => writeAll(docs));
      return {
        insert: (doc) => group.submit(doc),
        stats: () => ({ commits: group.commits, items: group.items }),
        close: async () => {
          db.close();
        },
      };
    },
    async loadReader(dir: string, count: number): Promise<Reader> {
      const db = await openDb(dir);
      db.exec("CREATE INDEX IF NOT EXISTS docs_category ON docs (json_extract(body, '$.category'))");
      const insert = db.prepare<[string, string]>('INSERT INTO docs (id, body) VALUES (?, ?)');
      const load = db.transaction((from: number, to: number) => {
        for (let j = from; j < to; j++) {
          const doc = readDoc(j, count);
          insert.run(doc._id, JSON.stringify(doc));
        }
      });
      for (let i = 0; i < count; i += LOAD_BATCH) load(i, Math.min(count, i + LOAD_BATCH));
      const byId = db.prepare<[string], { body: string }>('SELECT body FROM docs WHERE id = ?');
      const byCategory = db.prepare<[string], { body: string }>("SELECT body FROM docs WHERE json_extract(body, '$.category') = ?");
      return {
        get: (id) => {
          const row = byId.get(id);
          return row === undefined ? null : (JSON.parse(row.body) as unknown);
        },
        findByCategory: (category) => byCategory.all(category).map((row) => JSON.parse(row.body) as unknown),
        close: async () => {
          db.close();
        },
      };
    },
  };
}
