// `node --import tsx bench/backup.ts [--documents 1000000]`: backup and restore of a node
// holding N small documents. A node (a cluster of one, fsync on, in this process) is loaded
// through its HTTP API; then timed: the backup (GET /cluster/backup streamed into a file by
// the backup command's code, verified, fsynced, renamed), the restore (the file verified,
// every document decoded, the data directory written), and the restored node's start until
// it leads with every document. Prints one JSON object on stdout; progress on stderr.
// The backup's client and server share this process's event loop and one core: in real use
// they are two processes, so the backup time here is an upper bound.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { runBackup } from '../src/cli/backup.ts';
import { restoreDataDir } from '../src/node/backup-restore.ts';
import { startNode } from '../src/server/start-node.ts';
import { progress } from './util.ts';

const args = process.argv.slice(2);
const at = args.indexOf('--documents');
const documents = at >= 0 ? Number(args[at + 1]) : 1_000_000;
const BATCH_DOCS = 1000;
const WRITERS = 8;

const root = mkdtempSync(join(tmpdir(), 'cs-bench-backup-'));
const loadAtStart = loadavg()[0]!;
try {
  const source = await startNode({ nodeId: 1, port: 0, peers: [], dataDir: join(root, 'source'), logLevel: 'warn' });
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      while (next < documents) {
        const first = next;
        next += BATCH_DOCS;
        const docs = Array.from({ length: Math.min(BATCH_DOCS, documents - first) }, (_, i) => ({
          _id: `d${String(first + i).padStart(8, '0')}`,
          n: first + i,
          name: `document ${first + i}`,
        }));
        const response = await request(`${source.url}/api/bench`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(docs),
        });
        await response.body.dump();
        if (response.statusCode !== 201) throw new Error(`insert answered ${response.statusCode}`);
        if (first % 100_000 === 0) progress(`loaded ${first} documents`);
      }
    }),
  );
  const loadSeconds = (performance.now() - t0) / 1000;
  progress(`loaded ${documents} documents in ${loadSeconds.toFixed(1)} s`);

  const out = join(root, 'bench.backup');
  const b0 = performance.now();
  const header = await runBackup({ url: source.url, out, timeoutMs: 120_000 });
  const backupSeconds = (performance.now() - b0) / 1000;
  const backupBytes = statSync(out).size;
  progress(`backup at index ${header.index}: ${(backupBytes / 2 ** 20).toFixed(1)} MiB in ${backupSeconds.toFixed(2)} s`);
  await source.close();

  const r0 = performance.now();
  const summary = await restoreDataDir({ from: out, dataDir: join(root, 'restored'), nodeId: 1, clusterId: 'collection-store' });
  const restoreSeconds = (performance.now() - r0) / 1000;
  progress(`restored ${summary.documents} documents in ${restoreSeconds.toFixed(2)} s`);
  if (summary.documents !== documents) throw new Error(`restored ${summary.documents} documents, not ${documents}`);

  const s0 = performance.now();
  const restored = await startNode({ nodeId: 1, port: 0, peers: [], dataDir: join(root, 'restored'), logLevel: 'warn' });
  await restored.node.leadingAndCaughtUp(60_000);
  const startSeconds = (performance.now() - s0) / 1000;
  const count = restored.node.store.count('bench');
  await restored.close();
  if (count !== documents) throw new Error(`the restored node holds ${count} documents, not ${documents}`);
  progress(`restored node leads with ${count} documents after ${startSeconds.toFixed(2)} s`);

  console.log(
    JSON.stringify(
      {
        documents,
        backupBytes,
        loadSeconds: round(loadSeconds),
        backupSeconds: round(backupSeconds),
        restoreSeconds: round(restoreSeconds),
        restoredStartSeconds: round(startSeconds),
        loadAverageAtStart: round(loadAtStart),
        loadAverageAtEnd: round(loadavg()[0]!),
      },
      null,
      2,
    ),
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
