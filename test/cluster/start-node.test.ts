// startNode in this process: port 0 picks a free port, which the node advertises and
// serves on (the transport's handshake needs the real address before listen()).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode } from '../../src/server/start-node.ts';
import { http } from './harness.ts';

test('startNode with port 0 serves on the free port it picked and advertises it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cs-port0-'));
  const running = await startNode({ nodeId: 1, port: 0, peers: [], dataDir: join(dir, 'n1'), logLevel: 'warn', requestTimeoutMs: 3000 });
  try {
    const port = Number(new URL(running.url).port);
    assert.ok(port > 0, running.url);
    const status = await http(running.url, 'GET', '/cluster/status');
    assert.equal(status.status, 200);
    assert.equal((status.body as { url: string }).url, running.url);
    // A single-node cluster elects itself and takes writes.
    let created = await http(running.url, 'POST', '/api/c', { _id: 'a' });
    for (let i = 0; created.status === 503 && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 50));
      created = await http(running.url, 'POST', '/api/c', { _id: 'a' });
    }
    assert.equal(created.status, 201, JSON.stringify(created.body));
  } finally {
    await running.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
