// Real processes: three `start` nodes sharing --cluster-secret-file. The test holds the
// secret and the data directories, so it can speak as a real member (its id and its
// incarnation) to the leader. What it sends is authenticated and well formed, but no honest
// member sends it: a term of 2^53−1, entries with a gap, an acknowledgement past the
// leader's log. Each is dropped and logged; the leader keeps office and its term. Then
// sockets streaming large frames before any hello are cut, and the leader keeps office again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import type { Message } from '../../src/raft/types.ts';
import { decodeFrame, encodeFrame, PROTOCOL_VERSION, type Frame } from '../../src/transport/frame-codec.ts';
import { FrameAuthenticator, handshakeProof, newNonce, sessionKeys, transcriptOf, type HelloFields } from '../../src/transport/peer-auth.ts';
import { cleanupsAfterAll, eventually } from '../cli/cli-process.ts';
import { startSecretCluster, statusOf } from './secret-cluster.ts';
import { rawUpgrade, streamFrame } from './raw-upgrade.ts';

const cleanups = cleanupsAfterAll();

/** A member's connection done by hand with the secret: send(m) tags and sends a Raft message. */
async function connectAsMember(port: number, secret: Buffer, hello: HelloFields): Promise<{ send(m: Message): void; close(): void }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/raft`);
  const received: Frame[] = [];
  ws.on('message', (data: Buffer) => {
    const frame = decodeFrame(data);
    if (typeof frame !== 'string') received.push(frame);
  });
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const nonce = newNonce();
  ws.send(encodeFrame({ k: 'hello', ...hello, nonce }));
  await eventually(async () => received.length >= 1, 5000, 'challenge');
  const challenge = received[0]!;
  assert.ok(challenge.k === 'challenge', JSON.stringify(challenge));
  const t = transcriptOf(hello, nonce, challenge.nodeId, challenge.nonce);
  ws.send(encodeFrame({ k: 'proof', proof: handshakeProof(secret, 'dialer', t) }));
  await eventually(async () => received.length >= 2, 5000, 'welcome');
  assert.equal(received[1]!.k, 'welcome', JSON.stringify(received[1]));
  const tagger = new FrameAuthenticator(sessionKeys(secret, t).dialerToServer);
  return { send: (m) => ws.send(tagger.seal(encodeFrame({ k: 'raft', m }))), close: () => ws.terminate() };
}

test('an authenticated member’s impossible messages are dropped and logged; pre-handshake floods are cut; the leader keeps office', async () => {
  const cluster = await startSecretCluster(cleanups);
  const { secret, nodes, leader, portOf } = cluster;
  const before = await statusOf(portOf(leader));
  const member = leader === 1 ? 2 : 1;
  const identity = await cluster.identityOf(member);
  const hello: HelloFields = {
    clusterId: identity.clusterId,
    nodeId: member,
    address: `127.0.0.1:${portOf(member)}`,
    version: PROTOCOL_VERSION,
    incarnation: identity.incarnation,
  };
  // The real member steps aside (the other two keep a quorum), so that its reconnects do not
  // replace the test's connection under its id.
  nodes[member - 1]!.signal('SIGTERM');
  assert.equal((await nodes[member - 1]!.exited).code, 0);
  const peer = await connectAsMember(portOf(leader), secret, hello);
  const top = Number.MAX_SAFE_INTEGER;
  const header = { from: member, to: leader };
  peer.send({ type: 'RequestVote', ...header, term: top, lastLogIndex: top, lastLogTerm: top, transfer: true });
  peer.send({ type: 'Heartbeat', ...header, term: top, commit: top, context: 1 });
  peer.send({ type: 'AppendEntriesResponse', ...header, term: before.term, success: true, matchIndex: top, conflictIndex: 0, conflictTerm: 0 });
  const gap = { index: 5, term: before.term, type: 'normal' as const, data: new Uint8Array(1) };
  peer.send({ type: 'AppendEntries', ...header, term: before.term + 1, prevLogIndex: 1, prevLogTerm: 1, entries: [gap], leaderCommit: 0 });
  const leaderProcess = nodes[leader - 1]!;
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.ok(!/raft node stopped/.test(leaderProcess.stdout), 'the leader did not stop');
  const afterwards = await statusOf(portOf(leader));
  assert.equal(afterwards.term, before.term, 'no term was taken from the member');
  assert.equal(afterwards.leader?.id, leader, 'the leader was not deposed');
  await leaderProcess.waitFor(/dropped RequestVote from node \d: term 9007199254740991 is more than 1000000 terms ahead/, 5000);
  await leaderProcess.waitFor(/dropped Heartbeat from node \d: term 9007199254740991/, 5000);
  await leaderProcess.waitFor(/dropped AppendEntriesResponse from node \d: matchIndex 9007199254740991 is past/, 5000);
  await leaderProcess.waitFor(/dropped AppendEntries from node \d: entry 0 has index 5, not 2/, 5000);
  peer.close();

  // Sockets streaming 8 MiB frames before any hello: each is cut after a few KiB.
  const upgrades = await Promise.all(Array.from({ length: 12 }, () => rawUpgrade(`127.0.0.1:${portOf(leader)}`)));
  assert.deepEqual(
    upgrades.map((u) => u.status),
    upgrades.map(() => 101),
  );
  const frameBytes = 8 * 1024 * 1024;
  const sent = await Promise.all(upgrades.map((u) => streamFrame(u.socket, frameBytes)));
  await Promise.all(upgrades.map((u) => u.closed));
  for (const bytes of sent) assert.ok(bytes < frameBytes, `cut after ${bytes} bytes`);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const last = await statusOf(portOf(leader));
  assert.equal(last.leader?.id, leader);
  assert.equal(last.term, before.term);

  const created = await fetch(`http://127.0.0.1:${portOf(leader)}/api/sane/x`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ n: 1 }),
  });
  assert.ok(created.status === 201 || created.status === 200, await created.text());
  for (const cli of nodes) if (cli.running) cli.signal('SIGTERM');
  for (const cli of nodes) assert.equal((await cli.exited).code, 0);
});
