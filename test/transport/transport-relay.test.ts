// A relay in the middle of a real handshake (F1 of issue #11's review): it forwards a real
// member's frames to a real node but rewrites the unauthenticated fields of the hello. The
// proofs cover the whole hello, so the handshake fails and nothing of the forged hello is
// recorded (incarnation in peers.json, address to dial back).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import { PeerIncarnations } from '../../src/node/peer-incarnations.ts';
import { decodeFrame, encodeFrame, type HelloFrame } from '../../src/transport/frame-codec.ts';
import { closeServer, listen, sleep, startNode, waitFor, type TestNode } from './harness.ts';

const SECRET = randomBytes(32);

interface Relay {
  readonly address: string;
  close(): Promise<void>;
}

/** Forwards every frame between a dialer and `target`, passing the dialer's hello through `rewrite`. */
async function startRelay(target: string, rewrite: (hello: HelloFrame) => HelloFrame): Promise<Relay> {
  const { server, address } = await listen();
  const wss = new WebSocketServer({ server, path: '/raft' });
  const sockets = new Set<WebSocket>();
  wss.on('connection', (client) => {
    const upstream = new WebSocket(`ws://${target}/raft`);
    sockets.add(client).add(upstream);
    const early: Buffer[] = [];
    let first = true;
    client.on('message', (data: Buffer) => {
      let bytes = data;
      if (first) {
        first = false;
        const hello = decodeFrame(data);
        if (typeof hello !== 'string' && hello.k === 'hello') bytes = encodeFrame(rewrite(hello));
      }
      if (upstream.readyState === WebSocket.OPEN) upstream.send(bytes);
      else early.push(bytes);
    });
    upstream.on('open', () => {
      for (const bytes of early.splice(0)) upstream.send(bytes);
    });
    upstream.on('message', (data: Buffer) => {
      if (client.readyState === WebSocket.OPEN) client.send(data);
    });
    const end = (): void => {
      client.terminate();
      upstream.terminate();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  return {
    address,
    close: async () => {
      for (const ws of sockets) ws.terminate();
      wss.close();
      await closeServer(server);
    },
  };
}

let dataDir: string;
before(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'cs-relay-'));
});
after(() => rmSync(dataDir, { recursive: true, force: true }));

/** Node 2 as a cluster node runs it: membership by the incarnations it records in peers.json. */
async function member(dir: string): Promise<{ node: TestNode; incarnations: PeerIncarnations; checks: string[] }> {
  const incarnations = await PeerIncarnations.load(dir);
  const checks: string[] = [];
  const node = await startNode(2, {
    clusterSecret: SECRET,
    isKnownPeer: (id, address, incarnation) => {
      checks.push(`${id} ${address} ${incarnation}`);
      return incarnations.check(id, incarnation);
    },
  });
  return { node, incarnations, checks };
}

function peersJson(dir: string): unknown {
  const path = join(dir, 'peers.json');
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : null;
}

describe('a relay that rewrites the hello of a real handshake', () => {
  const forgeries: Array<[string, (hello: HelloFrame) => HelloFrame]> = [
    ['incarnation', (hello) => ({ ...hello, incarnation: 'attacker-incarnation' })],
    ['address', (hello) => ({ ...hello, address: '127.0.0.1:9' })],
  ];
  for (const [field, rewrite] of forgeries) {
    test(`a rewritten ${field} fails the handshake, records nothing, and the real member still gets in`, async () => {
      const dir = mkdtempSync(join(dataDir, `${field}-`));
      const { node: b, incarnations, checks } = await member(dir);
      const relay = await startRelay(b.address, rewrite);
      // The real node 1 dials node 2 at the relay's address.
      const a = await startNode(1, { clusterSecret: SECRET, peers: [{ id: 2, address: relay.address }] });
      try {
        await waitFor(() => a.log.warnings('a relay altered our hello').length > 0, 'the dialer sees the server proved another transcript');
        await sleep(100);
        assert.equal(a.transport.stats()[0]!.connected, false);
        assert.deepEqual(checks, [], 'the forged hello never reached the membership check');
        await incarnations.flush();
        assert.equal(peersJson(dir), null, 'peers.json is not written');
        assert.equal(b.transport.addressOf(1), undefined, 'node 2 does not dial back the forged address');
        assert.deepEqual(b.transport.inboundPeerIds(), []);
      } finally {
        await a.close();
        await relay.close();
      }
      // The real member, dialing directly, is not locked out.
      const real = await startNode(1, { clusterSecret: SECRET, peers: [{ id: 2, address: b.address }] });
      try {
        await waitFor(() => real.transport.stats()[0]!.connected, 'the real member connects');
        await incarnations.flush();
        assert.deepEqual(peersJson(dir), { 1: 'incarnation-1' });
        assert.equal(b.transport.addressOf(1), real.address);
      } finally {
        await Promise.all([real.close(), b.close()]);
      }
    });
  }

  test('a relay that forwards frames unmodified records only the real hello', async () => {
    const dir = mkdtempSync(join(dataDir, 'plain-'));
    const { node: b, incarnations } = await member(dir);
    const relay = await startRelay(b.address, (hello) => hello);
    const a = await startNode(1, { clusterSecret: SECRET, peers: [{ id: 2, address: relay.address }] });
    try {
      await waitFor(() => b.transport.inboundPeerIds().includes(1), 'node 2 admits node 1');
      await incarnations.flush();
      assert.deepEqual(peersJson(dir), { 1: 'incarnation-1' });
      await waitFor(() => b.transport.addressOf(1) !== undefined, 'node 2 dials back');
      assert.equal(b.transport.addressOf(1), a.address, 'it dials back the address node 1 advertised');
    } finally {
      await Promise.all([a.close(), relay.close(), b.close()]);
    }
  });

  test('a dialer that reaches another member than the one it dials proves nothing to it', async () => {
    const calls: number[] = [];
    const c = await startNode(3, { clusterSecret: SECRET, isKnownPeer: (id) => calls.push(id) > 0 });
    // Node 1 believes node 2 is at this address; the relay leads to node 3.
    const relay = await startRelay(c.address, (hello) => hello);
    const a = await startNode(1, { clusterSecret: SECRET, peers: [{ id: 2, address: relay.address }] });
    try {
      await waitFor(() => a.log.warnings('answered as node 3: refusing before proving anything').length > 0, 'the dialer hangs up');
      await sleep(100);
      assert.deepEqual(calls, [], 'node 3 never saw a proof, so never ran its membership check');
      assert.deepEqual(c.transport.inboundPeerIds(), []);
      assert.equal(a.transport.stats()[0]!.connected, false);
    } finally {
      await Promise.all([a.close(), relay.close(), c.close()]);
    }
  });
});
