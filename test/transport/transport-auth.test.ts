import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import { PeerTransport } from '../../src/transport/index.ts';
import { decodeFrame, encodeFrame, MAX_HANDSHAKE_FRAME_BYTES, PROTOCOL_VERSION, type Frame } from '../../src/transport/frame-codec.ts';
import {
  FrameAuthenticator,
  handshakeProof,
  newNonce,
  sessionKeys,
  transcriptOf,
  type HelloFields,
  type Transcript,
} from '../../src/transport/peer-auth.ts';
import { closeServer, listen, sleep, startNode, waitFor } from './harness.ts';

const SECRET = randomBytes(32);
const CLUSTER = 'test-cluster';

interface RawClient {
  readonly ws: WebSocket;
  /** Every binary message received, as bytes. */
  readonly received: Buffer[];
  readonly closed: Promise<number>;
}

async function connectRaw(address: string, headers: Record<string, string> = {}): Promise<RawClient> {
  const ws = new WebSocket(`ws://${address}/raft`, { headers });
  const received: Buffer[] = [];
  ws.on('message', (data: Buffer) => void received.push(data));
  ws.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, received, closed };
}

/** The close code, or -1 when the connection is still open after a while (the check under test is missing). */
async function closeCode(client: RawClient): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<number>((resolve) => {
    timer = setTimeout(() => {
      client.ws.terminate();
      resolve(-1);
    }, 2000);
  });
  const code = await Promise.race([client.closed, late]);
  clearTimeout(timer);
  return code;
}

function frameAt(client: RawClient, i: number): Frame {
  const frame = decodeFrame(client.received[i]!);
  assert.ok(typeof frame !== 'string', String(frame));
  return frame;
}

function helloFields(nodeId: number): HelloFields {
  return { clusterId: CLUSTER, nodeId, address: '127.0.0.1:1', version: PROTOCOL_VERSION, incarnation: `incarnation-${nodeId}` };
}

function hello(nodeId: number, nonce?: Buffer): Buffer {
  return encodeFrame({ k: 'hello', ...helloFields(nodeId), ...(nonce === undefined ? {} : { nonce }) });
}

function heartbeat(from: number, to: number, term = 1): Buffer {
  return encodeFrame({ k: 'raft', m: { type: 'Heartbeat', from, to, term, commit: 0, context: 7 } });
}

/** A dialer holding the secret, done by hand: the frames it sent, and its session's tagger. */
async function authenticatedClient(address: string, nodeId: number): Promise<{ client: RawClient; sent: Buffer[]; tagger: FrameAuthenticator }> {
  const client = await connectRaw(address);
  const nonce = newNonce();
  const sent = [hello(nodeId, nonce)];
  client.ws.send(sent[0]!);
  await waitFor(() => client.received.length >= 1, 'challenge');
  const challenge = frameAt(client, 0);
  assert.equal(challenge.k, 'challenge');
  assert.ok(challenge.k === 'challenge');
  const t = transcriptOf(helloFields(nodeId), nonce, challenge.nodeId, challenge.nonce);
  assert.deepEqual(challenge.proof, handshakeProof(SECRET, 'server', t), 'the server proves it holds the secret');
  sent.push(encodeFrame({ k: 'proof', proof: handshakeProof(SECRET, 'dialer', t) }));
  client.ws.send(sent[1]!);
  await waitFor(() => client.received.length >= 2, 'welcome');
  assert.equal(frameAt(client, 1).k, 'welcome');
  return { client, sent, tagger: new FrameAuthenticator(sessionKeys(SECRET, t).dialerToServer) };
}

describe('authenticated peer links (cluster secret)', () => {
  test('two transports with the same secret connect and exchange Raft messages and requests', async () => {
    const b = await startNode(2, { clusterSecret: SECRET, onRequest: async (from, body) => ({ from, body }) });
    const a = await startNode(1, { clusterSecret: SECRET, peers: [{ id: 2, address: b.address }] });
    try {
      await waitFor(() => a.transport.stats()[0]!.connected, 'connected');
      for (let term = 1; term <= 50; term++) a.transport.send({ type: 'TimeoutNow', from: 1, to: 2, term });
      await waitFor(() => b.inbox.length === 50, 'messages');
      assert.deepEqual(
        b.inbox.map((m) => m.term),
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      assert.deepEqual(await a.transport.request(2, { x: 1 }, 2000), { from: 1, body: { x: 1 } });
      assert.deepEqual(await a.transport.request(2, 'again', 2000), { from: 1, body: 'again' });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('a wrong secret is refused on both sides, in both directions', async () => {
    const other = randomBytes(32);
    const b = await startNode(2, { clusterSecret: SECRET });
    const a = await startNode(1, { clusterSecret: other, peers: [{ id: 2, address: b.address }] });
    b.transport.addPeer(1, a.address);
    try {
      // a dials b: a finds b's proof wrong and hangs up; b dials a: the same, the other way.
      await waitFor(() => a.log.warnings('failed authentication').length > 0, 'a refuses b as a server');
      await waitFor(() => b.log.warnings('failed authentication').length > 0, 'b refuses a as a server');
      a.transport.send({ type: 'TimeoutNow', from: 1, to: 2, term: 9 });
      b.transport.send({ type: 'TimeoutNow', from: 2, to: 1, term: 9 });
      await sleep(100);
      assert.equal(a.transport.stats()[0]!.connected, false);
      assert.equal(b.transport.stats()[0]!.connected, false);
      assert.deepEqual(a.transport.inboundPeerIds(), []);
      assert.deepEqual(b.transport.inboundPeerIds(), []);
      assert.equal(a.inbox.length + b.inbox.length, 0);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('a node with a secret refuses a dialer without one, and hangs up on a server without one', async () => {
    const b = await startNode(2, { clusterSecret: SECRET });
    const a = await startNode(1, { peers: [{ id: 2, address: b.address }] });
    const c = await startNode(3);
    const d = await startNode(4, { clusterSecret: SECRET, peers: [{ id: 3, address: c.address }] });
    try {
      await waitFor(() => a.log.warnings('refused our handshake (auth): authentication failed').length > 0, 'dialer told');
      await waitFor(() => b.log.warnings('it has no cluster secret').length > 0, 'server logs why');
      await waitFor(() => d.log.warnings('without proving it holds the cluster secret').length > 0, 'dialer with a secret hangs up');
      assert.equal(a.transport.stats()[0]!.connected, false);
      assert.equal(d.transport.stats()[0]!.connected, false);
    } finally {
      await Promise.all([a.close(), b.close(), c.close(), d.close()]);
    }
  });

  test('an attacker without the secret claiming a member id gets a generic refusal and never reaches onMessage', async () => {
    const b = await startNode(2, { clusterSecret: SECRET, clusterId: 'secret-cluster-name', isKnownPeer: (id) => id === 1 });
    try {
      // No nonce (as a peer of today would send), then with a made-up nonce and a made-up proof.
      const plain = await connectRaw(b.address);
      plain.ws.send(hello(1));
      plain.ws.send(heartbeat(1, 2, 1e9));
      assert.equal(await closeCode(plain), 1008);
      const forger = await connectRaw(b.address);
      forger.ws.send(hello(1, newNonce()));
      await waitFor(() => forger.received.length >= 1, 'challenge');
      forger.ws.send(encodeFrame({ k: 'proof', proof: randomBytes(32) }));
      forger.ws.send(heartbeat(1, 2, 1e9));
      assert.equal(await closeCode(forger), 1008);
      for (const client of [plain, forger]) {
        const frames = client.received.map((d) => decodeFrame(d));
        const refused = frames.find((f) => typeof f !== 'string' && f.k === 'refused');
        assert.deepEqual(refused, { k: 'refused', code: 'auth', reason: 'authentication failed' });
        const everything = client.received.map((d) => d.toString('latin1')).join('');
        assert.ok(!everything.includes('secret-cluster-name'), 'the cluster id is not revealed');
      }
      assert.equal(b.inbox.length, 0);
      assert.deepEqual(b.transport.inboundPeerIds(), []);
    } finally {
      await b.close();
    }
  });

  test('a cluster-id mismatch is refused without telling the cluster id', async () => {
    const b = await startNode(2, { clusterId: 'blue-secret-name' });
    try {
      const client = await connectRaw(b.address);
      client.ws.send(hello(1));
      assert.equal(await closeCode(client), 1008);
      assert.deepEqual(frameAt(client, 0), { k: 'refused', code: 'cluster-id', reason: 'cluster id does not match' });
      assert.match(b.log.warnings('refused peer node 1')[0]!.msg, /blue-secret-name/, 'the details are logged locally');
    } finally {
      await b.close();
    }
  });

  test('a replayed handshake fails: the server’s nonce is fresh', async () => {
    const b = await startNode(2, { clusterSecret: SECRET });
    try {
      const real = await authenticatedClient(b.address, 1);
      real.client.ws.send(real.tagger.seal(heartbeat(1, 2)));
      await waitFor(() => b.inbox.length === 1, 'the real session works');
      real.client.ws.close();
      await closeCode(real.client);
      const replay = await connectRaw(b.address);
      replay.ws.send(real.sent[0]!);
      await waitFor(() => replay.received.length >= 1, 'challenge');
      replay.ws.send(real.sent[1]!);
      replay.ws.send(real.tagger.seal(heartbeat(1, 2, 5)));
      assert.equal(await closeCode(replay), 1008);
      assert.deepEqual(frameAt(replay, 1), { k: 'refused', code: 'auth', reason: 'authentication failed' });
      assert.equal(b.inbox.length, 1);
      assert.equal(b.log.warnings('replayed handshake').length, 1);
    } finally {
      await b.close();
    }
  });

  test('after the handshake, a frame replayed, altered, untagged or out of order closes the link', async () => {
    const b = await startNode(2, { clusterSecret: SECRET });
    try {
      const attacks: Array<(tagger: FrameAuthenticator) => Buffer[]> = [
        (t) => {
          const once = t.seal(heartbeat(1, 2, 3));
          return [once, once]; // replayed
        },
        (t) => {
          const sealed = t.seal(heartbeat(1, 2, 3));
          sealed[5] = sealed[5]! ^ 1; // altered frame bytes
          return [sealed];
        },
        (t) => {
          const sealed = t.seal(heartbeat(1, 2, 3));
          sealed[sealed.length - 1] = sealed[sealed.length - 1]! ^ 1; // altered tag
          return [sealed];
        },
        () => [heartbeat(1, 2, 3)], // no tag at all
        (t) => {
          const first = t.seal(heartbeat(1, 2, 3));
          const second = t.seal(heartbeat(1, 2, 4));
          return [second, first]; // reordered
        },
      ];
      for (const attack of attacks) {
        const before = b.inbox.length;
        const { client, tagger } = await authenticatedClient(b.address, 1);
        const frames = attack(tagger);
        for (const frame of frames) client.ws.send(frame);
        assert.equal(await closeCode(client), 1002);
        assert.ok(b.inbox.length - before <= 1, 'at most the genuine first frame is delivered');
      }
      assert.equal(b.log.warnings('failed authentication').length, attacks.length);
    } finally {
      await b.close();
    }
  });

  test('the dialer closes the link on a tampered frame from the server', async () => {
    const { server, address } = await listen();
    const wss = new WebSocketServer({ server, path: '/raft' });
    wss.on('connection', (ws) => {
      let t: Transcript | undefined;
      let welcomed = false;
      ws.on('message', (data: Buffer) => {
        const frame = welcomed ? 'tagged' : decodeFrame(data);
        if (typeof frame !== 'string' && frame.k === 'hello') {
          t = transcriptOf(frame, frame.nonce!, 2, newNonce());
          ws.send(encodeFrame({ k: 'challenge', nodeId: 2, nonce: t.serverNonce, proof: handshakeProof(SECRET, 'server', t) }));
        } else if (typeof frame !== 'string' && frame.k === 'proof') {
          welcomed = true;
          ws.send(encodeFrame({ k: 'welcome', nodeId: 2 }));
        } else {
          // A request arrived (tagged): answer with a response whose tag is wrong.
          const sealed = new FrameAuthenticator(sessionKeys(SECRET, t!).serverToDialer).seal(
            encodeFrame({ k: 'res', id: 1, ok: true, body: 'forged' }),
          );
          sealed[3] = sealed[3]! ^ 1;
          ws.send(sealed);
        }
      });
    });
    const a = await startNode(1, { clusterSecret: SECRET, peers: [{ id: 2, address }] });
    try {
      await waitFor(() => a.transport.stats()[0]!.connected, 'connected to the fake server');
      await assert.rejects(a.transport.request(2, 'hi', 2000), { code: 'DISCONNECTED' });
      assert.equal(a.log.warnings('failed authentication').length, 1);
    } finally {
      await a.close();
      wss.close();
      await closeServer(server);
    }
  });

  test('an upgrade with an Origin header is refused with 403 before the WebSocket opens', async () => {
    const b = await startNode(2);
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`ws://${b.address}/raft`, { headers: { Origin: 'https://evil.example' } });
        ws.on('unexpected-response', (_req, res: http.IncomingMessage) => resolve(res.statusCode ?? 0));
        ws.on('open', () => reject(new Error('opened')));
        ws.on('error', () => undefined);
      });
      assert.equal(status, 403);
      const ok = await connectRaw(b.address);
      ok.ws.close();
    } finally {
      await b.close();
    }
  });

  test('an oversized frame before the handshake closes the connection before it is decoded', async () => {
    for (const clusterSecret of [undefined, SECRET]) {
      const b = await startNode(2, clusterSecret === undefined ? {} : { clusterSecret });
      try {
        const client = await connectRaw(b.address);
        // A valid hello, padded past the limit: decoded, it would be accepted.
        const padded = encodeFrame({
          k: 'hello',
          clusterId: CLUSTER,
          nodeId: 1,
          address: '127.0.0.1:1',
          version: PROTOCOL_VERSION,
          incarnation: 'x'.repeat(1000),
          pad: 'y'.repeat(MAX_HANDSHAKE_FRAME_BYTES),
        } as unknown as Frame);
        client.ws.send(padded);
        assert.equal(await closeCode(client), 1002);
        assert.equal(client.received.length, 0);
        assert.equal(b.log.warnings(`handshake frame of ${padded.length} bytes`).length, 1);
      } finally {
        await b.close();
      }
    }
  });

  test('a hello without an incarnation is refused; a transport needs one', async () => {
    const b = await startNode(2);
    try {
      for (const incarnation of ['', undefined]) {
        const client = await connectRaw(b.address);
        client.ws.send(
          encodeFrame({
            k: 'hello',
            clusterId: CLUSTER,
            nodeId: 1,
            address: '127.0.0.1:1',
            version: PROTOCOL_VERSION,
            incarnation,
          } as unknown as Frame),
        );
        assert.equal(await closeCode(client), 1002);
        assert.ok(!client.received.some((d) => (decodeFrame(d) as Frame).k === 'welcome'));
      }
      assert.equal(b.log.warnings('hello.incarnation is missing').length, 2);
      assert.deepEqual(b.transport.inboundPeerIds(), []);
    } finally {
      await b.close();
    }
    const options = { nodeId: 1, clusterId: CLUSTER, advertiseAddress: '127.0.0.1:1', peers: [], onMessage: () => {} };
    assert.throws(() => new PeerTransport({ ...options, incarnation: '' }), /incarnation must be a non-empty string/);
    assert.throws(() => new PeerTransport({ ...options, incarnation: 'i', clusterSecret: new Uint8Array(31) }), /at least 32 bytes/);
  });
});
