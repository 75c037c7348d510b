// startNode with TLS, in-process: the port serves HTTPS with https URLs, and a connection
// that never completes its TLS handshake is closed at the handshake deadline (the request
// timeouts do not bound it: it is not a request yet).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { connect as connectTcp } from 'node:net';
import { join } from 'node:path';
import { connect } from '../../src/client/index.ts';
import { ensureLocalTls } from '../../src/cli/local-ca.ts';
import { startNode, type RunningNode } from '../../src/server/start-node.ts';
import { tempDir } from '../cli/cli-process.ts';

let dir: { path: string; remove: () => Promise<void> };
let node: RunningNode;
let ca: Buffer;
const HANDSHAKE_TIMEOUT_MS = 300;

before(async () => {
  dir = await tempDir();
  const pki = await ensureLocalTls(join(dir.path, 'pki'), [1], []);
  const files = pki.nodes.get(1)!;
  ca = await readFile(pki.caCert);
  node = await startNode({
    nodeId: 1,
    port: 0,
    peers: [],
    dataDir: join(dir.path, 'node1'),
    logLevel: 'silent',
    sync: 'none',
    tls: { cert: await readFile(files.cert), key: await readFile(files.key), ca },
    tlsHandshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
  });
});
after(async () => {
  await node.close();
  await dir.remove();
});

test('HTTPS on the port; the node, its leader and its members have https URLs', async () => {
  assert.match(node.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const client = connect([node.url], { tls: { ca } });
  try {
    const status = await client.status();
    assert.equal(status.url, node.url);
    assert.equal(status.leader?.url, node.url);
    assert.deepEqual(
      status.members.map((m) => m.url),
      [node.url],
    );
  } finally {
    await client.close();
  }
});

test('a connection that never sends its TLS hello is closed at the handshake deadline', async () => {
  const { port } = new URL(node.url);
  const socket = connectTcp(Number(port), '127.0.0.1');
  const started = performance.now();
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now() - started)));
  socket.on('error', () => {});
  const elapsedMs = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(Infinity), 5000))]);
  socket.destroy();
  assert.ok(elapsedMs >= HANDSHAKE_TIMEOUT_MS * 0.8 && elapsedMs < 3000, `closed after ${elapsedMs} ms`);
});
