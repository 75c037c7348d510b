import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { WebSocket } from 'ws';
import { PeerTransport, type PeerTls } from '../../src/transport/index.ts';
import { listen, sleep, startNode, waitFor, type TestNode } from './harness.ts';
import { listenTls, makePki, type Pem, type TestPki } from './tls-fixtures.ts';

let pki: TestPki;
let node1: Pem;
let node2: Pem;
let foreign: Pem;

before(() => {
  pki = makePki();
  node1 = pki.node('node1');
  node2 = pki.node('node2');
  foreign = pki.foreign('intruder');
});
after(() => pki.dispose());

function tlsOf(pem: Pem, ca: Buffer = pki.ca): PeerTls {
  return { ca, cert: pem.cert, key: pem.key };
}

/** A TLS node: its HTTPS server (asking for, not requiring, a client certificate) and transport. */
async function tlsNode(id: number, pem: Pem, options: Parameters<typeof startNode>[1] = {}, serverCa: Buffer | Buffer[] = pki.ca): Promise<TestNode> {
  const listening = await listenTls(pem, serverCa);
  return startNode(id, { tls: tlsOf(pem), ...options }, listening);
}

/** The HTTP status a wss:// upgrade to `address` gets with `options`, or 101 when it opens. */
function upgradeStatus(address: string, options: { cert?: Buffer; key?: Buffer; ca?: Buffer; scheme?: 'ws' | 'wss' }): Promise<number> {
  return new Promise<number>((resolve) => {
    const { scheme = 'wss', ...tls } = options;
    const ws = new WebSocket(`${scheme}://${address}/raft`, { ...tls, handshakeTimeout: 3000 });
    ws.on('unexpected-response', (_req, res: http.IncomingMessage) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(101);
      ws.terminate();
    });
    ws.on('error', () => resolve(-1));
  });
}

describe('peer links over mutual TLS', () => {
  test('two nodes with the TLS option connect over wss:// and exchange messages and requests, with and without a secret', async () => {
    for (const clusterSecret of [undefined, randomBytes(32)]) {
      const secretOption = clusterSecret === undefined ? {} : { clusterSecret };
      const b = await tlsNode(2, node2, { ...secretOption, onRequest: async (from, body) => ({ from, body }) });
      const a = await tlsNode(1, node1, { ...secretOption, peers: [{ id: 2, address: b.address }] });
      b.transport.addPeer(1, a.address);
      try {
        await waitFor(() => a.transport.stats()[0]!.connected && b.transport.stats()[0]!.connected, 'both links connected');
        a.transport.send({ type: 'TimeoutNow', from: 1, to: 2, term: 3 });
        b.transport.send({ type: 'TimeoutNow', from: 2, to: 1, term: 4 });
        await waitFor(() => a.inbox.length === 1 && b.inbox.length === 1, 'messages both ways');
        assert.deepEqual(await a.transport.request(2, { x: 1 }, 2000), { from: 1, body: { x: 1 } });
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    }
  });

  test('an upgrade without a certificate, or with one from another CA, is refused with 403', async () => {
    const b = await tlsNode(2, node2);
    try {
      assert.equal(await upgradeStatus(b.address, { ca: pki.ca }), 403, 'no client certificate');
      assert.equal(await upgradeStatus(b.address, { ca: pki.ca, cert: foreign.cert, key: foreign.key }), 403, 'another CA');
      assert.equal(await upgradeStatus(b.address, { ca: pki.ca, cert: node1.cert, key: node1.key }), 101, 'a member certificate opens');
      assert.ok(b.log.warnings('refused a /raft upgrade: its certificate was not verified').length >= 1);
    } finally {
      await b.close();
    }
  });

  test('a transport holding a foreign certificate cannot reach a member, and a member does not dial into a foreign server', async () => {
    const b = await tlsNode(2, node2);
    // The intruder trusts the cluster CA (so it would accept b's certificate) but has none of its own.
    const intruderServer = await listenTls(foreign, pki.ca);
    const intruder = await startNode(
      3,
      { tls: { ca: pki.ca, cert: foreign.cert, key: foreign.key }, peers: [{ id: 2, address: b.address }] },
      intruderServer,
    );
    const a = await tlsNode(1, node1, { peers: [{ id: 3, address: intruder.address }] });
    try {
      await waitFor(() => b.log.warnings('refused a /raft upgrade').length > 0, 'b refuses the intruder');
      await waitFor(() => (a.transport.stats()[0]!.lastError ?? '').length > 0, 'a fails to dial the intruder');
      intruder.transport.send({ type: 'TimeoutNow', from: 3, to: 2, term: 99 });
      await sleep(200);
      assert.equal(intruder.transport.stats()[0]!.connected, false);
      assert.equal(a.transport.stats()[0]!.connected, false);
      assert.match(a.transport.stats()[0]!.lastError!, /certificate/i);
      assert.equal(b.inbox.length, 0);
      assert.deepEqual(b.transport.inboundPeerIds(), []);
      assert.deepEqual(intruder.transport.inboundPeerIds(), []);
    } finally {
      await Promise.all([a.close(), b.close(), intruder.close()]);
    }
  });

  test('the chain must lead to the transport’s CA even when the HTTPS server trusts more', async () => {
    // The server's CA list also holds the other CA (say, the HTTP side was configured for
    // client certificates of another PKI): Node verifies the intruder, the transport does not.
    const b = await tlsNode(2, node2, {}, [pki.ca, pki.otherCa]);
    try {
      assert.equal(await upgradeStatus(b.address, { ca: pki.ca, cert: foreign.cert, key: foreign.key }), 403);
      assert.equal(b.log.warnings('not signed by the cluster CA').length, 1);
      assert.equal(await upgradeStatus(b.address, { ca: pki.ca, cert: node1.cert, key: node1.key }), 101);
    } finally {
      await b.close();
    }
  });

  test('hostname verification stays on: a certificate that does not name the dialed host is refused', async () => {
    const elsewhere = pki.node('elsewhere', 'DNS:elsewhere.example');
    const b = await tlsNode(2, elsewhere);
    const a = await tlsNode(1, node1, { peers: [{ id: 2, address: b.address }] });
    try {
      await waitFor(() => /altnames|Hostname|IP/i.test(a.transport.stats()[0]!.lastError ?? ''), 'a refuses the name');
      assert.equal(a.transport.stats()[0]!.connected, false);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('over plain HTTP, a node with the TLS option refuses every /raft upgrade', async () => {
    const b = await startNode(2, { tls: tlsOf(node2) }, await listen());
    try {
      assert.equal(await upgradeStatus(b.address, { scheme: 'ws' }), 403);
      assert.equal(b.log.warnings('the connection is not TLS').length, 1);
    } finally {
      await b.close();
    }
  });

  test('the option is checked when the transport is made', () => {
    const options = { nodeId: 1, clusterId: 'c', advertiseAddress: '127.0.0.1:1', peers: [], onMessage: () => {}, incarnation: 'i' };
    assert.throws(() => new PeerTransport({ ...options, tls: { ca: '', cert: node1.cert, key: node1.key } }), /tls\.ca must be PEM/);
    assert.throws(() => new PeerTransport({ ...options, tls: { ca: 'not a pem', cert: node1.cert, key: node1.key } }), /no PEM certificate/);
    void new PeerTransport({ ...options, tls: tlsOf(node1) }).close();
  });
});
