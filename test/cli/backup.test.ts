// Backup and restore with real processes: `collection-store backup` of a live 3-node
// cluster while writers keep inserting, `restore` into a new data directory, `start` on it,
// and every document compared with the source's state at the backup's log index. Damaged
// files and a data directory in use are refused with exit code 1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CLI_COMMAND } from '../product-process.ts';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireClusterLock, freePort, http, sleep, TestCluster, WriteLoad } from '../cluster/harness.ts';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the command from the sources (tsx), to completion. */
function cli(args: readonly string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...CLI_COMMAND, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A node started with `collection-store start`, until the test file ends. */
async function startCli(args: readonly string[], kill: Array<() => void>): Promise<{ stdout: () => string; stderr: () => string }> {
  const child = spawn(process.execPath, [...CLI_COMMAND, 'start', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  kill.push(() => child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const deadline = Date.now() + 30_000;
  while (!/listening at/.test(stdout)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`start ${args.join(' ')} did not serve:\n${stdout}\n${stderr}`);
    await sleep(50);
  }
  return { stdout: () => stdout, stderr: () => stderr };
}

type Doc = { _id: string; _rev: number } & Record<string, unknown>;

async function allDocs(url: string, collection: string, consistency = 'linearizable'): Promise<Doc[]> {
  const result = await http(
    url,
    'GET',
    `/api/${collection}?limit=100000&sort=${encodeURIComponent('{"_id":1}')}&consistency=${consistency}`,
    undefined,
    {
      timeoutMs: 20_000,
    },
  );
  assert.equal(result.status, 200, JSON.stringify(result.body));
  return result.body as Doc[];
}

describe('backup and restore (3 real nodes, the CLI)', () => {
  let cluster: TestCluster;
  let release: (() => void) | undefined;
  const root = mkdtempSync(join(tmpdir(), 'cs-backup-'));
  const kills: Array<() => void> = [];

  before(async () => {
    release = await acquireClusterLock();
    cluster = await TestCluster.start({ size: 3, snapshotThreshold: 500 });
  });
  after(async () => {
    for (const kill of kills) kill();
    await cluster?.close();
    release?.();
    rmSync(root, { recursive: true, force: true });
  });

  test('a backup taken during writes restores, as a new cluster of one, exactly the source at its index', async () => {
    const leader = await cluster.waitForLeader();
    const leaderUrl = cluster.node(leader.nodeId).url;
    // State that the live load below does not touch: an index, updates and removes.
    assert.equal((await http(leaderUrl, 'POST', '/api/people/_indexes', { fields: { age: 1 } })).status, 201);
    const people = Array.from({ length: 300 }, (_, i) => ({ _id: `p${i}`, age: i % 50, name: `person ${i}` }));
    assert.equal((await http(leaderUrl, 'POST', '/api/people', people)).status, 201);
    for (let i = 0; i < 20; i++) assert.equal((await http(leaderUrl, 'PATCH', `/api/people/p${i}`, { $inc: { age: 100 } })).status, 200);
    for (let i = 280; i < 300; i++) assert.equal((await http(leaderUrl, 'DELETE', `/api/people/p${i}`)).status, 204);

    // Inserts only while the backup runs: the source at index I is then its documents with _rev <= I.
    const load = new WriteLoad('events', 'b-', 4, () => cluster.live(), { timeoutMs: 4000 });
    await sleep(800);
    const acknowledgedBefore = new Set(load.acknowledged());
    assert.ok(acknowledgedBefore.size > 0, 'writes succeed before the backup');
    // From a follower: its read barrier goes through the leader.
    const follower = cluster.nodes.find((n) => n.id !== leader.nodeId)!;
    const out = join(root, 'cluster.backup');
    const backup = await cli(['backup', '--node', follower.url, '--out', out]);
    await sleep(300);
    await load.stop();
    assert.equal(backup.code, 0, backup.stderr);
    const index = Number(/at log index (\d+)/.exec(backup.stdout)?.[1]);
    assert.ok(index > 0, backup.stdout);
    assert.ok(load.acknowledged().length > acknowledgedBefore.size, 'writes went on during the backup');

    const dataDir = join(root, 'restored');
    const restore = await cli(['restore', '--from', out, '--data-dir', dataDir, '--node-id', '1']);
    assert.equal(restore.code, 0, restore.stderr);
    assert.match(restore.stdout, /restored \d+ documents in 2 collections/);
    const port = await freePort();
    await startCli(['--node-id', '1', '--port', String(port), '--data-dir', dataDir], kills);
    const restoredUrl = `http://127.0.0.1:${port}`;

    // The source, read after the load stopped, as of the backup's index.
    const sourceEvents = (await allDocs(leaderUrl, 'events')).filter((d) => d._rev <= index);
    const sourcePeople = await allDocs(leaderUrl, 'people');
    assert.ok(
      sourcePeople.every((d) => d._rev <= index),
      'people changed only before the backup',
    );
    assert.deepEqual(await allDocs(restoredUrl, 'events'), sourceEvents);
    assert.deepEqual(await allDocs(restoredUrl, 'people'), sourcePeople);
    // Every write acknowledged before the backup was asked for is in it (a linearizable read point).
    const restoredIds = new Set(sourceEvents.map((d) => d._id));
    assert.deepEqual(
      [...acknowledgedBefore].filter((id) => !restoredIds.has(id)),
      [],
    );
    const indexes = await http(restoredUrl, 'GET', '/api/people/_indexes');
    assert.equal(indexes.status, 200);
    assert.match(JSON.stringify(indexes.body), /age/);
    // A new cluster of one: it leads and takes writes.
    const status = (await http(restoredUrl, 'GET', '/cluster/status')).body as { role: string; members: unknown[] };
    assert.equal(status.role, 'leader');
    assert.equal(status.members.length, 1);
    assert.equal((await http(restoredUrl, 'POST', '/api/events', { _id: 'after-restore' })).status, 201);
  });

  test('a damaged or cut-short file and a data directory in use are refused, exit code 1, nothing written', async () => {
    const out = join(root, 'cluster.backup');
    const file = readFileSync(out);
    const damaged = Buffer.from(file);
    damaged[Math.floor(file.byteLength / 2)]! ^= 0x04;
    writeFileSync(join(root, 'damaged.backup'), damaged);
    writeFileSync(join(root, 'short.backup'), file.subarray(0, file.byteLength - 100));

    mkdirSync(join(root, 'busy'));
    writeFileSync(join(root, 'busy', 'something'), 'x');
    // Side by side: each is a process of its own.
    const [bad, short, busy] = await Promise.all([
      cli(['restore', '--from', join(root, 'damaged.backup'), '--data-dir', join(root, 'd1'), '--node-id', '1']),
      cli(['restore', '--from', join(root, 'short.backup'), '--data-dir', join(root, 'd2'), '--node-id', '1']),
      cli(['restore', '--from', out, '--data-dir', join(root, 'busy'), '--node-id', '1']),
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /checksum mismatch: the file is damaged/);
    assert.throws(() => statSync(join(root, 'd1')), /ENOENT/);
    assert.equal(short.code, 1);
    assert.match(short.stderr, /cut short/);
    assert.throws(() => statSync(join(root, 'd2')), /ENOENT/);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /is not empty/);
    assert.equal(readFileSync(join(root, 'busy', 'something'), 'utf8'), 'x');
  });
});
