// A leader's lease (thesis 6.4.1) rests on a promise of its followers: having heard the
// leader, a follower helps elect no one else for an election timeout of its own clock. The
// node ticks its core from real time (raft-node.ts, catchUpTicks): after an event-loop stall
// (GC, a paused VM, SIGSTOP) it owes the core many ticks at once. Those ticks are time that
// passed *before* the messages that waited in the socket during the stall; if a follower
// stepped the leader's heartbeat first and ticked afterwards, the stall's ticks would count
// as time since the heartbeat: the follower would acknowledge the round (the leader's lease
// runs an election timeout from when it sent it) and at once grant its vote to another
// candidate. This test drives one follower (node 2 of voters 1, 2, 3) with a fake transport:
// the leader's heartbeat is stepped right after a stall, then a RequestVote of a higher term
// arrives well within an election timeout: the follower must not grant it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { createMemoryLog } from '../../src/log/memory-log.ts';
import { ChangeFeed } from '../../src/node/change-log.ts';
import { PeerIncarnations } from '../../src/node/peer-incarnations.ts';
import { NoPeers, type PeerNetwork } from '../../src/node/peer-network.ts';
import type { PeerStats } from '../../src/transport/index.ts';
import type { PeerHandlers } from '../../src/node/node-startup.ts';
import { RaftNode } from '../../src/node/raft-node.ts';
import { TICK_MS, type RaftNodeOptions } from '../../src/node/raft-node-options.ts';
import { pooledRandomBytes } from '../../src/node/random-pool.ts';
import { createIdGenerator } from '../../src/store/ids.ts';
import { Store } from '../../src/store/store.ts';
import type { Message } from '../../src/raft/types.ts';

const ELECTION_TIMEOUT_MS = 150;
const HEARTBEAT_MS = 50;
/** Longer than twice the election timeout: every randomized timeout (E..2E−1 ticks) passes. */
const STALL_MS = 4 * ELECTION_TIMEOUT_MS;
/** The follower promises E − 1 full ticks after hearing the leader (the tick grid eats one). */
const PROMISE_MS = ELECTION_TIMEOUT_MS - TICK_MS;

/** The transport of a node whose peers are this test: records what it sends. */
class RecordingPeers implements PeerNetwork {
  readonly sent: Message[] = [];
  private readonly none = new NoPeers();
  attach(): void {}
  start(): void {}
  send(message: Message): void {
    this.sent.push(message);
  }
  request(to: number): Promise<unknown> {
    return this.none.request(to);
  }
  addPeer(): void {}
  removePeer(): void {}
  peerIds(): number[] {
    return [];
  }
  addressOf(): string | undefined {
    return undefined;
  }
  stats(): PeerStats[] {
    return [];
  }
  async close(): Promise<void> {}
}

function startFollower(): { node: RaftNode; peers: RecordingPeers; deliver: (m: Message) => void } {
  const log = createMemoryLog();
  const peers = new RecordingPeers();
  let handlers: PeerHandlers | null = null;
  const options: RaftNodeOptions = {
    nodeId: 2,
    clusterId: 'stall-test',
    dataDir: '',
    advertise: '127.0.0.1:1',
    peers: [],
    join: false,
    heartbeatIntervalMs: HEARTBEAT_MS,
    electionTimeoutMs: ELECTION_TIMEOUT_MS,
    snapshotThreshold: 0,
    requestTimeoutMs: 5000,
    sync: 'none',
    logger: pino({ level: 'silent' }),
  };
  const node = RaftNode.start({
    options,
    log,
    transport: peers,
    bindPeers: (h) => (handlers = h),
    incarnations: PeerIncarnations.inMemory(),
    logger: options.logger,
    voters: [1, 2, 3],
    store: new Store(),
    changes: new ChangeFeed(),
    nextId: createIdGenerator(Date.now, pooledRandomBytes()),
  });
  return { node, peers, deliver: (m) => handlers!.onMessage(m) };
}

const heartbeat = (term: number, context: number, from = 1): Message => ({ type: 'Heartbeat', from, to: 2, term, commit: 0, context });

function stallEventLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Resolves after the timers and check phases that follow now have run (the node's ticker
 * fires in the first timers phase after a stall and ticks in the check phase after it). */
async function afterTickerRan(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 2));
  await new Promise((resolve) => setImmediate(resolve));
}

/** Waits until `peers` sent a message that `match` accepts (or fails after `ms`). */
async function sentBy(peers: RecordingPeers, match: (m: Message) => boolean, what: string, ms = 2000): Promise<Message> {
  const until = performance.now() + ms;
  for (;;) {
    const m = peers.sent.find(match);
    if (m !== undefined) return m;
    assert.ok(performance.now() < until, `node 2 never sent ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("a follower's promise to its leader across an event-loop stall", () => {
  test('the heartbeat stepped right after a stall starts a full election timeout: a vote for another candidate is refused', async () => {
    // Real time, on a shared machine: an attempt in which the test itself was held up for most
    // of an election timeout between the heartbeat and the vote proves nothing; retry it.
    for (let attempt = 1; ; attempt++) {
      const { node, peers, deliver } = startFollower();
      try {
        deliver(heartbeat(1, 1));
        await new Promise((resolve) => setTimeout(resolve, 3 * TICK_MS));
        assert.ok(
          peers.sent.some((m) => m.type === 'HeartbeatResponse' && m.context === 1),
          'precondition: node 2 follows leader 1 and answered its heartbeat',
        );

        stallEventLoop(STALL_MS);
        // The leader's next heartbeat waited in the socket during the stall: the poll phase
        // right after it steps it (here: at once, before any timer of the node ran).
        const heardAt = performance.now();
        deliver(heartbeat(1, 2));
        await afterTickerRan();
        // Node 3, cut off from the leader, campaigns in term 2 with a log as good as ours.
        const voteAt = performance.now();
        deliver({ type: 'RequestVote', from: 3, to: 2, term: 2, lastLogIndex: 0, lastLogTerm: 0, transfer: false });
        await new Promise((resolve) => setTimeout(resolve, 2 * TICK_MS));
        if (voteAt - heardAt >= PROMISE_MS / 2) {
          assert.ok(attempt < 5, `the test was held up for ${Math.round(voteAt - heardAt)} ms in 5 attempts`);
          continue;
        }
        assert.ok(
          peers.sent.some((m) => m.type === 'HeartbeatResponse' && m.context === 2),
          'node 2 answered the heartbeat stepped after the stall (the leader counts its lease from it)',
        );
        const granted = peers.sent.filter((m) => m.type === 'RequestVoteResponse' && m.to === 3 && m.granted);
        assert.deepEqual(
          granted,
          [],
          `node 2 granted node 3 a vote ${Math.round(voteAt - heardAt)} ms after answering leader 1's heartbeat (it promised ${PROMISE_MS} ms)`,
        );
        return;
      } finally {
        await node.close();
      }
    }
  });

  test("a stalled leader that steps a newer leader's heartbeat becomes its follower from then on: a vote for a third candidate is refused", async () => {
    for (let attempt = 1; ; attempt++) {
      const { node, peers, deliver } = startFollower();
      try {
        // Node 2 times out, wins node 1's pre-vote and vote, and leads term 1.
        await sentBy(peers, (m) => m.type === 'PreVote' && m.to === 1, 'a pre-vote');
        deliver({ type: 'PreVoteResponse', from: 1, to: 2, term: 1, granted: true });
        await sentBy(peers, (m) => m.type === 'RequestVote' && m.to === 1 && m.term === 1, 'a vote request');
        deliver({ type: 'RequestVoteResponse', from: 1, to: 2, term: 1, granted: true });
        await sentBy(peers, (m) => m.type === 'AppendEntries' && m.term === 1, 'its first AppendEntries as leader');

        stallEventLoop(STALL_MS);
        // Meanwhile nodes 1 and 3 elected node 3 in term 2; its heartbeat waited in the socket.
        const heardAt = performance.now();
        deliver(heartbeat(2, 7, 3));
        await afterTickerRan();
        const voteAt = performance.now();
        deliver({ type: 'RequestVote', from: 1, to: 2, term: 3, lastLogIndex: 1, lastLogTerm: 1, transfer: false });
        await new Promise((resolve) => setTimeout(resolve, 2 * TICK_MS));
        if (voteAt - heardAt >= PROMISE_MS / 2) {
          assert.ok(attempt < 5, `the test was held up for ${Math.round(voteAt - heardAt)} ms in 5 attempts`);
          continue;
        }
        assert.ok(
          peers.sent.some((m) => m.type === 'HeartbeatResponse' && m.to === 3 && m.context === 7),
          'node 2 answered the term-2 heartbeat of node 3 (its lease counts from it)',
        );
        const granted = peers.sent.filter((m) => m.type === 'RequestVoteResponse' && m.to === 1 && m.granted && m.term === 3);
        assert.deepEqual(
          granted,
          [],
          `node 2 granted node 1 a term-3 vote ${Math.round(voteAt - heardAt)} ms after answering leader 3's heartbeat (it promised ${PROMISE_MS} ms)`,
        );
        return;
      } finally {
        await node.close();
      }
    }
  });
});
