// What RaftNode needs from its peers. In a cluster that is the WebSocket
// PeerTransport; an embedded database is a group of one and has no peers.
import type { Logger } from 'pino';
import type { Message } from '../raft/types.ts';
import { LogLimiter, type PeerStats, type UpgradeServer } from '../transport/index.ts';

export interface PeerNetwork {
  /** Serves peers' connections on the node's HTTP server. */
  attach(server: UpgradeServer): void;
  start(): void;
  send(message: Message): void;
  request(to: number, body: unknown, timeoutMs: number): Promise<unknown>;
  addPeer(id: number, address: string): void;
  removePeer(id: number): void;
  peerIds(): number[];
  addressOf(id: number): string | undefined;
  stats(): PeerStats[];
  close(): Promise<void>;
}

/** The network of a group of one: nobody to talk to. */
export class NoPeers implements PeerNetwork {
  attach(): void {}
  start(): void {}
  send(): void {}
  async request(to: number): Promise<unknown> {
    throw new Error(`no peer ${to}: this node runs alone`);
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

// -- Sanity of authenticated messages ---------------------------------------------------------
//
// The cluster secret (or mutual TLS) proves a message comes from a member, not that the member
// is sane: a bug, a corrupted node or a stolen secret could send a term of 2^53−1 (the cluster
// would never again elect a leader: every term after it is unsafe), entries that break the
// log's invariants (the core asserts them and the node stops), or an acknowledgement past the
// leader's log (the same). Such messages are dropped here, before the core, and logged
// (rate-limited); the Raft core (src/raft) stays free of I/O and is not changed.

/**
 * How far ahead of ours a message's term may be. A healthy cluster's term moves by one per
 * election, elections take at least an election timeout (150 ms by default), and with
 * pre-vote a partitioned node does not raise its term at all: a million terms is days of
 * back-to-back elections. A term beyond it is a bug or an attack, and taking it would leave
 * the cluster no room to ever elect again when it is near 2^53.
 */
export const TERM_JUMP_MAX = 1_000_000;

/** Entries in one AppendEntries: 4× what a node sends (maxEntriesPerMessage, 4096). */
export const APPEND_ENTRIES_COUNT_MAX = 16_384;

/** Data bytes of the entries of one AppendEntries: the transport's largest frame. */
export const APPEND_ENTRIES_BYTES_MAX = 32 * 1024 * 1024;

/** Bytes of one snapshot a follower assembles in memory: the largest typed array V8 makes
 * (2^32 − 1 bytes on 64-bit); a member announcing more is refused before any byte is kept. */
export const SNAPSHOT_BYTES_MAX = 2 ** 32 - 1;

/** What the check needs of this node's state; read only for the messages that need it. */
export interface LocalRaftView {
  term(): number;
  lastIndex(): number;
}

/** Null when `m` is plausible from an honest member, else why it is not. */
export function insaneMessage(m: Message, local: LocalRaftView): string | null {
  const ours = local.term();
  if (m.term > ours + TERM_JUMP_MAX) return `term ${m.term} is more than ${TERM_JUMP_MAX} terms ahead of ours (${ours})`;
  switch (m.type) {
    case 'PreVote':
    case 'RequestVote':
      if (m.lastLogTerm > m.term) return `a candidate for term ${m.term} cannot hold an entry of term ${m.lastLogTerm}`;
      return null;
    case 'AppendEntries': {
      if (m.prevLogTerm > m.term) return `a leader of term ${m.term} cannot hold an entry of term ${m.prevLogTerm}`;
      if (m.entries.length > APPEND_ENTRIES_COUNT_MAX) return `${m.entries.length} entries (at most ${APPEND_ENTRIES_COUNT_MAX})`;
      if (m.prevLogIndex + m.entries.length > Number.MAX_SAFE_INTEGER) return `entries past index 2^53−1 (prevLogIndex ${m.prevLogIndex})`;
      let bytes = 0;
      let previousTerm = m.prevLogTerm;
      for (const [i, e] of m.entries.entries()) {
        if (e.index !== m.prevLogIndex + 1 + i)
          return `entry ${i} has index ${e.index}, not ${m.prevLogIndex + 1 + i}: entries must follow prevLogIndex without gaps`;
        if (e.term < previousTerm || e.term > m.term) return `entry ${e.index} has term ${e.term}, outside ${previousTerm}..${m.term}`;
        previousTerm = e.term;
        bytes += e.data.byteLength;
      }
      if (bytes > APPEND_ENTRIES_BYTES_MAX) return `entries of ${bytes} bytes (at most ${APPEND_ENTRIES_BYTES_MAX})`;
      return null;
    }
    case 'AppendEntriesResponse':
      // Only a leader of this term reads matchIndex; a follower cannot match what was never sent.
      if (m.success && m.term === ours && m.matchIndex > local.lastIndex()) {
        return `matchIndex ${m.matchIndex} is past this node's last index ${local.lastIndex()}`;
      }
      return null;
    case 'InstallSnapshot':
      if (m.meta.term > m.term) return `a leader of term ${m.term} cannot hold a snapshot of term ${m.meta.term}`;
      if (m.offset + m.chunk.byteLength > Number.MAX_SAFE_INTEGER) return `snapshot bytes past 2^53−1 (offset ${m.offset})`;
      // The core drops a transfer that outgrows its announced size; here it is also logged, and
      // a size no node can hold in memory is refused before the first byte is kept.
      if (m.size > SNAPSHOT_BYTES_MAX) return `a snapshot of ${m.size} bytes (at most ${SNAPSHOT_BYTES_MAX})`;
      if (m.offset + m.chunk.byteLength > m.size) return `snapshot bytes up to ${m.offset + m.chunk.byteLength}, past the ${m.size} announced`;
      return null;
    default:
      return null;
  }
}

/** Drops insane messages (see insaneMessage) with a rate-limited warning naming the drop. */
export class MessageSanity {
  private readonly log: LogLimiter;
  dropped = 0;

  constructor(logger: Logger) {
    this.log = new LogLimiter(logger);
  }

  /** True to step `m` into the core. */
  admits(m: Message, local: LocalRaftView): boolean {
    const problem = insaneMessage(m, local);
    if (problem === null) return true;
    this.dropped += 1;
    this.log.warn({ peer: m.from, type: m.type, term: m.term }, `dropped ${m.type} from node ${m.from}: ${problem}`);
    return false;
  }
}
