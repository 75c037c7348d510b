// Real processes: three `start` nodes sharing --cluster-secret-file, and an attacker on
// 127.0.0.1 who reaches the leader's /raft without the secret. Its forged hello (claiming a
// member id), a hello without incarnation, a replayed recording of a genuine handshake and
// its term bomb change nothing: the leader stays, its term stays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { decodeFrame, encodeFrame, PROTOCOL_VERSION, type Frame } from '../../src/transport/frame-codec.ts';
import { handshakeProof, newNonce, transcriptOf, type HelloFields } from '../../src/transport/peer-auth.ts';
import { cleanupsAfterAll } from '../cli/cli-process.ts';
import { startSecretCluster, statusOf } from './secret-cluster.ts';

const cleanups = cleanupsAfterAll();

let pendingProof: (() => Buffer | undefined) | undefined;

/** Opens /raft as an attacker would, sends `frames`, and returns what came back and the close
 * code. `onFirstMessage`: a frame to send once the first answer (a challenge) has arrived. */
async function attack(
  port: number,
  frames: (received: Buffer[]) => Buffer[],
  headers: Record<string, string> = {},
  onFirstMessage?: () => Buffer | undefined,
): Promise<{ received: Buffer[]; code: number }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/raft`, { headers });
  const received: Buffer[] = [];
  ws.on('message', (data: Buffer) => {
    received.push(data);
    if (received.length === 1 && onFirstMessage !== undefined) {
      const frame = onFirstMessage();
      if (frame !== undefined) ws.send(frame);
      // A genuine session: once welcomed, close it ourselves (the server keeps it otherwise).
      setTimeout(() => ws.close(), 300);
    }
  });
  ws.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
  for (const frame of frames(received)) ws.send(frame);
  const timer = setTimeout(() => ws.terminate(), 3000);
  const code = await closed;
  clearTimeout(timer);
  return { received, code };
}

test('a forged hello claiming a member id, without the secret, cannot touch a real cluster', async () => {
  const cluster = await startSecretCluster(cleanups);
  const { nodes, leader, portOf } = cluster;
  const before = await statusOf(portOf(leader));
  const member = leader === 1 ? 2 : 1;
  const hello = (nonce?: Buffer): Buffer =>
    encodeFrame({
      k: 'hello',
      clusterId: 'default',
      nodeId: member,
      address: `127.0.0.1:${portOf(member)}`,
      version: PROTOCOL_VERSION,
      incarnation: 'forged',
      ...(nonce === undefined ? {} : { nonce }),
    });
  const termBomb = encodeFrame({
    k: 'raft',
    m: { type: 'RequestVote', from: member, to: leader, term: before.term + 1000, lastLogIndex: 1e9, lastLogTerm: 1e9, transfer: false },
  });

  // As today's peers would (no nonce), and with a made-up nonce and proof.
  const plain = await attack(portOf(leader), () => [hello(), termBomb]);
  const forged = await attack(portOf(leader), () => [hello(randomBytes(32)), encodeFrame({ k: 'proof', proof: randomBytes(32) }), termBomb]);
  for (const { received, code } of [plain, forged]) {
    assert.equal(code, 1008);
    const frames = received.map((d) => decodeFrame(d));
    assert.deepEqual(frames.at(-1), { k: 'refused', code: 'auth', reason: 'authentication failed' });
    assert.ok(!frames.some((f) => typeof f !== 'string' && f.k === 'welcome'));
  }
  await assert.rejects(
    attack(portOf(leader), () => [hello()], { Origin: 'http://evil.example' }),
    /HTTP 403/,
  );

  // A hello without an incarnation: refused like the others, whatever follows.
  const noIncarnation = await attack(portOf(leader), () => {
    const { incarnation: _dropped, ...fields } = decodeFrame(hello(randomBytes(32))) as Frame & { incarnation: string };
    return [encodeFrame(fields as Frame), termBomb];
  });
  // A hello lacking a required field is a malformed frame (1002); a refusal otherwise (1008).
  assert.ok([1002, 1008].includes(noIncarnation.code), `close code ${noIncarnation.code}`);
  assert.ok(!noIncarnation.received.map((d) => decodeFrame(d)).some((f) => typeof f !== 'string' && f.k === 'welcome'));

  // A handshake recorded from a real member (done here by hand with the secret and the
  // member's real incarnation, read from its data directory), then replayed on a new
  // connection: the server's fresh nonce makes the recorded proof worthless.
  const identity = await cluster.identityOf(member);
  const fields: HelloFields = {
    clusterId: identity.clusterId,
    nodeId: member,
    address: `127.0.0.1:${portOf(member)}`,
    incarnation: identity.incarnation,
    version: PROTOCOL_VERSION,
  };
  const { secret } = cluster;
  const recorded: Buffer[] = [];
  const genuine = await attack(
    portOf(leader),
    (received) => {
      const nonce = newNonce();
      recorded.push(encodeFrame({ k: 'hello', ...fields, nonce }));
      // The proof needs the server's challenge: sent once it has arrived (attack() sends the
      // frames returned here at once, so the proof frame is produced lazily below).
      pendingProof = () => {
        const challenge = decodeFrame(received[0]!) as Frame & { nodeId: number; nonce: Uint8Array };
        const proof = encodeFrame({
          k: 'proof',
          proof: handshakeProof(secret, 'dialer', transcriptOf(fields, nonce, challenge.nodeId, challenge.nonce)),
        });
        recorded.push(proof);
        return proof;
      };
      return [recorded[0]!];
    },
    {},
    () => pendingProof?.(),
  );
  assert.ok(
    genuine.received.map((d) => decodeFrame(d)).some((f) => typeof f !== 'string' && f.k === 'welcome'),
    'the hand-made handshake with the secret is accepted (the recording is genuine)',
  );
  const replayed = await attack(portOf(leader), () => [recorded[0]!, recorded[1]!, termBomb]);
  assert.equal(replayed.code, 1008);
  const replayFrames = replayed.received.map((d) => decodeFrame(d));
  assert.deepEqual(replayFrames.at(-1), { k: 'refused', code: 'auth', reason: 'authentication failed' });
  assert.ok(!replayFrames.some((f) => typeof f !== 'string' && f.k === 'welcome'));

  await new Promise((resolve) => setTimeout(resolve, 1000));
  const afterwards = await statusOf(portOf(leader));
  assert.equal(afterwards.leader?.id, leader, 'the leader was not deposed');
  assert.equal(afterwards.term, before.term, 'no term was taken from the attacker');
  const created = await fetch(`http://127.0.0.1:${portOf(leader)}/api/forged/x`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ n: 1 }),
  });
  assert.ok(created.status === 201 || created.status === 200, await created.text());
  for (const cli of nodes) cli.signal('SIGTERM');
  for (const cli of nodes) assert.equal((await cli.exited).code, 0);
});
