// The cluster benchmark's HTML report (bench/fixtures/report.ts): it draws the CPU per write of
// both systems' servers when the alternating rounds measured it, and leaves the chart out when not.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeReport, type ReportInput } from '../../bench/fixtures/report.ts';
import { fakeLoad as load } from './fake-load.ts';
import type { AlternatedCpu } from '../../bench/fixtures/alternate.ts';

const input: ReportInput = {
  title: 'test report',
  subtitle: 'a machine',
  writes: [load(1, 500), load(64, 5000)],
  reads: { linearizableSpread: load(64, 9000) },
  failover: null,
  etcd: {
    version: '3.4.23',
    electionTimeoutMs: 150,
    heartbeatIntervalMs: 30,
    writes: [load(1, 600), load(64, 3000)],
    reads: { linearizableSpread: load(64, 3500), linearizableLeader: load(64, 3900) },
  },
  json: {},
};

async function render(extra: Partial<ReportInput>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cs-report-'));
  try {
    const path = join(dir, 'report.html');
    await writeReport(path, { ...input, ...extra });
    return await readFile(path, 'utf8');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('cluster report', () => {
  test('draws the CPU per write of both systems when measured: the ratio at every level, µs beyond one client', async () => {
    const cpu = (ours: number, etcd: number): AlternatedCpu => ({
      oursServersUsPerWrite: ours,
      peerServersUsPerWrite: etcd,
      serversPeerOverOursByRound: [etcd / ours],
      serversPeerOverOurs: Math.round((etcd / ours) * 100) / 100,
      oursServersUsByRound: [ours],
      peerServersUsByRound: [etcd],
      oursClientUsPerWrite: 70,
      peerClientUsPerWrite: 90,
    });
    const html = await render({
      writeCpu: [
        { clients: 1, cpu: cpu(2900, 2000) },
        { clients: 64, cpu: cpu(176, 327) },
      ],
    });
    assert.match(html, /etcd's CPU per write over ours/);
    assert.match(html, /etcd 3.4.23 \/ collection-store 1 client: 0.69 ×/);
    assert.match(html, /etcd 3.4.23 \/ collection-store 64 clients: 1.86 ×/);
    assert.match(html, /collection-store 64 clients: 176 µs/);
    assert.match(html, /etcd 3.4.23 64 clients: 327 µs/);
    // The one-client µs are left off the µs chart (its ratio is drawn).
    assert.doesNotMatch(html, /collection-store 1 client: 2900 µs/);
  });

  test('leaves the chart out when nothing was measured', async () => {
    assert.doesNotMatch(await render({}), /CPU per write/);
    assert.doesNotMatch(await render({ writeCpu: [{ clients: 1, cpu: null }] }), /CPU per write/);
  });
});
