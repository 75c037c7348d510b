// A real three-node cluster whose node 3 finds a segment in the middle of its log cut in
// half: node 3 refuses to start (exit status 1) with one message naming the segment, the
// byte offset and what to do, instead of taking the cut for a torn write; nodes 1 and 2 go
// on serving. Then the same log with its LAST segment cut instead: at an odd offset inside
// a record, node 3 refuses to start the same way; at a page boundary (which a crash can leave,
// so it opens) it starts, and stops at its leader's first heartbeat with one line saying its
// log lost entries it had acknowledged, instead of the core's "commit N beyond last index M"
// in a crash loop (issue #11). Nodes write 64 MiB segments and `start` has no flag for a smaller size, so the
// test rewrites node 3's log (stopped) into 64 KiB segments of the same records, and checks
// that node 3 starts and catches up from that log before it cuts one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readdir, readFile, rename, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { openFileLog } from '../../src/log/index.ts';
import { decodeRecords } from '../../src/log/record-scanner.ts';
import { cleanupsAfterAll, CliProcess, eventually, freeConsecutivePorts, tempDir } from './cli-process.ts';

const cleanups = cleanupsAfterAll();

interface Status {
  readonly leader: { id: number } | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function status(port: number): Promise<Status> {
  return (await (await fetch(`http://127.0.0.1:${port}/cluster/status`)).json()) as Status;
}

async function insert(port: number, id: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/api/cut_test`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ _id: id, pad: 'x'.repeat(3000) }),
  });
}

/** Rewrites the log of a stopped node into segments of `segmentBytes`: the same entries and hard state. */
async function resegment(dataDir: string, segmentBytes: number): Promise<string[]> {
  const old = await openFileLog({ dir: dataDir });
  const entries = old.recovered.entries;
  const hardState = old.recovered.hardState;
  assert.equal(old.recovered.snapshot, null, 'no snapshot (the threshold is high): the log holds every entry');
  await old.close();
  const fresh = join(dataDir, 'resegmented');
  const log = await openFileLog({ dir: fresh, segmentBytes });
  for (let i = 0; i < entries.length; i += 4) await log.append(entries.slice(i, i + 4));
  await log.setHardState(hardState);
  await log.close();
  await rm(join(dataDir, 'log'), { recursive: true });
  await rename(join(fresh, 'log'), join(dataDir, 'log'));
  await rm(fresh, { recursive: true });
  return (await readdir(join(dataDir, 'log'))).sort().map((name) => join(dataDir, 'log', name));
}

test('a segment in the middle of a node log cut in half: the node exits 1 naming the file, offset and fix; the others serve on', async () => {
  const dir = await tempDir();
  cleanups.push(dir.remove);
  const base = await freeConsecutivePorts(3);
  const portOf = (id: number): number => base + id - 1;
  const dataDirOf = (id: number): string => join(dir.path, `node${id}`);
  const startNode = (id: number): CliProcess => {
    const peers = [1, 2, 3].filter((other) => other !== id).map((other) => `${other}=127.0.0.1:${portOf(other)}`);
    const cli = new CliProcess([
      'start',
      '--node-id',
      String(id),
      '--port',
      String(portOf(id)),
      '--data-dir',
      dataDirOf(id),
      '--peers',
      peers.join(','),
      '--snapshot-threshold',
      '1000000',
      '--log-level',
      'warn',
    ]);
    cleanups.push(() => cli.kill());
    return cli;
  };
  const nodes = new Map([1, 2, 3].map((id) => [id, startNode(id)]));
  for (const cli of nodes.values()) await cli.waitFor(/listening at http:\/\/127\.0\.0\.1:\d+/, 20_000);
  let leader = 0;
  await eventually(
    async () => {
      leader = (await status(portOf(1))).leader?.id ?? 0;
      return leader !== 0;
    },
    20_000,
    'a leader',
  );
  const writer = leader === 3 ? 1 : leader; // writes go to a node that stays up
  for (let i = 0; i < 120; i++) assert.equal((await insert(portOf(writer), `d${i}`)).status, 201);
  const committed = (await status(portOf(writer))).commitIndex;
  await eventually(async () => (await status(portOf(3))).appliedIndex >= committed, 20_000, 'node 3 applied every write');

  // Node 3 stops; its log becomes several small segments of the same records.
  nodes.get(3)!.signal('SIGTERM');
  assert.equal((await nodes.get(3)!.exited).code, 0);
  const before = await resegment(dataDirOf(3), 64 * 1024);
  assert.ok(before.length >= 4, `${before.length} segments`);

  // That log is one a node starts from: node 3 comes back and serves.
  const again = startNode(3);
  await again.waitFor(/listening at/, 20_000);
  await eventually(async () => (await status(portOf(3))).appliedIndex >= committed, 20_000, 'node 3 restarted from the rewritten log');
  // Serving waits until it has caught up with the cluster once (it then knows who may read).
  await eventually(async () => (await fetch(`http://127.0.0.1:${portOf(3)}/readyz`)).status === 200, 20_000, 'node 3 ready');
  assert.equal((await fetch(`http://127.0.0.1:${portOf(3)}/api/cut_test/d0?consistency=local`)).status, 200);
  again.signal('SIGTERM');
  assert.equal((await again.exited).code, 0);
  // Node 3's log as it is now, for the cuts of its last segment below.
  const logDir = join(dataDirOf(3), 'log');
  const saved = join(dir.path, 'node3-log');
  await cp(logDir, saved, { recursive: true });
  const restoreLog = async (): Promise<string> => {
    await rm(logDir, { recursive: true });
    await cp(saved, logDir, { recursive: true });
    return join(logDir, (await readdir(logDir)).sort().at(-1)!);
  };
  /** Node 3 started on the cut log, until it exits (killed after 30 s). */
  const runUntilExit = async (): Promise<{ code: number | null; stdout: string; stderr: string }> => {
    const cli = startNode(3);
    const timer = setTimeout(() => cli.signal('SIGKILL'), 30_000);
    const result = await cli.exited;
    clearTimeout(timer);
    return result;
  };

  // The second segment loses its second half.
  const segments = (await readdir(join(dataDirOf(3), 'log'))).sort().map((name) => join(dataDirOf(3), 'log', name));
  assert.ok(segments.length >= 4, `${segments.length} segments`);
  const cut = segments[1]!;
  await truncate(cut, Math.floor((await stat(cut)).size / 2));

  const result = await runUntilExit();
  assert.equal(result.code, 1, `exit status\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
  assert.doesNotMatch(result.stdout, /listening at/);
  const message = result.stderr;
  assert.match(message, new RegExp(`node 3 failed to start: .*log corruption in ${escape(cut)} at byte offset \\d+: `));
  assert.match(message, /cut short/);
  assert.match(message, /What to do: .*DELETE \/cluster\/members\/<id>.*empty its data directory.*--join/);
  assert.match(message, /docs\/durability\.md/);
  assert.doesNotMatch(message, /torn/, 'not taken for a torn write');
  assert.equal((await stat(cut)).size > 0, true, 'the segment was left as it was');

  // The other two go on serving: a write through one, read through the other.
  const other = writer === 1 ? 2 : 1;
  assert.equal((await insert(portOf(writer), 'after')).status, 201);
  assert.equal((await fetch(`http://127.0.0.1:${portOf(other)}/api/cut_test/after`)).status, 200);

  // The last segment cut at an odd offset inside an entry record: no crash leaves a file that
  // ends there, so node 3 refuses to start, naming it.
  const last = await restoreLog();
  const entryOffsets: number[] = [];
  decodeRecords(await readFile(last), (record, offset) => {
    if (record.kind === 'entry') entryOffsets.push(offset);
  });
  assert.ok(entryOffsets.length > 0, 'the last segment holds entries');
  const oddCut = entryOffsets.at(-1)! + 13;
  assert.notEqual(oddCut % 4096, 0);
  await truncate(last, oddCut);
  const cutLast = await runUntilExit();
  assert.equal(cutLast.code, 1, `exit status\nstdout:\n${cutLast.stdout}\nstderr:\n${cutLast.stderr}`);
  assert.doesNotMatch(cutLast.stdout, /listening at/);
  assert.match(
    cutLast.stderr,
    new RegExp(
      `node 3 failed to start: .*log corruption in ${escape(last)} at byte offset ${entryOffsets.at(-1)!}: the file ends inside the record .* at a length of ${oddCut} bytes`,
    ),
  );
  assert.match(cutLast.stderr, /cut short.*What to do: .*DELETE \/cluster\/members\/<id>.*empty its data directory.*--join.*docs\/durability\.md/);
  assert.equal(cutLast.stderr.trim().split('\n').length, 1, `one line:\n${cutLast.stderr}`);

  // The last segment cut at a page boundary before its last entry: a kill can leave that, so
  // node 3 opens it (a torn tail) and starts; the leader's heartbeat then commits past its log.
  await restoreLog();
  const pageCut = Math.floor(entryOffsets.at(-1)! / 4096) * 4096;
  await truncate(last, pageCut);
  const lost = await runUntilExit();
  assert.equal(lost.code, 1, `exit status\nstdout:\n${lost.stdout}\nstderr:\n${lost.stderr}`);
  assert.match(lost.stdout, /listening at/);
  assert.match(
    lost.stderr,
    /node 3 stopped on a fatal error: this node's log lost entries it had acknowledged: leader \d \(term \d+\) says index (\d+) is committed and held here, but this node's log ends at index (\d+)/,
  );
  assert.match(
    lost.stderr,
    /What to do: .*DELETE \/cluster\/members\/<id>.*empty its data directory.*POST \/cluster\/members.*--join.*docs\/durability\.md/,
  );
  assert.doesNotMatch(lost.stderr, /beyond last index/, "not the core's assert");
  assert.equal(lost.stderr.trim().split('\n').length, 1, `one line:\n${lost.stderr}`);

  // Nodes 1 and 2 still serve.
  assert.equal((await insert(portOf(writer), 'after-last-cut')).status, 201);
  assert.equal((await fetch(`http://127.0.0.1:${portOf(other)}/api/cut_test/after-last-cut`)).status, 200);
});
