// Where a write's time goes: for a sample of log indexes (every `everyNth`, so every node
// samples the same ones), each node records when the entry passes each stage of the write
// path, as JSON lines `{"node":1,"index":64,"stage":"synced","ms":52345678.901234}`.
// The time is the monotonic clock (process.hrtime, CLOCK_MONOTONIC), in ms with a fraction:
// one clock for every process on the machine, so the nodes' files line up
// (bench/fixtures/write-trace-report.ts); performance.now() would not, each process's
// timeOrigin being its own. Off by default; `npm run bench -- cluster --trace` turns it on.
//
// Stages, in the order a write meets them (thesis §10.2.1: the leader's own write runs in
// parallel with replication; the entry commits once a majority, counting the leader only
// once its write is durable, holds it):
//   leader:   proposed → syncStart → sent (per follower) → synced
//   follower: received → syncStart → synced → ackSent
//   leader:   ackReceived (per follower) → committed → applied

/** A stage of the write path (see the file's comment for the order). */
export type WriteStage = 'proposed' | 'sent' | 'received' | 'syncStart' | 'synced' | 'ackSent' | 'ackReceived' | 'committed' | 'applied';

/** Sampled indexes a leader watches for acks and commit, at most; the oldest go first. */
export const TRACE_AWAITED_MAX = 1024;

export interface WriteTraceRecord {
  readonly node: number;
  readonly index: number;
  readonly stage: WriteStage;
  readonly ms: number;
  /** The follower an entry was sent to, or whose ack arrived. */
  readonly peer?: number;
}

export class WriteTrace {
  /** Sampled indexes this node proposed whose commit is not yet seen, oldest first. */
  private readonly awaitingCommit: number[] = [];
  /** For each sampled index awaiting acks: the followers whose ack was already recorded. */
  private readonly acked = new Map<number, Set<number>>();

  constructor(
    private readonly node: number,
    private readonly everyNth: number,
    private readonly sink: (line: string) => void,
  ) {
    if (!(Number.isSafeInteger(everyNth) && everyNth >= 1)) throw new Error(`everyNth must be a positive integer, got ${everyNth}`);
  }

  sampled(index: number): boolean {
    return index % this.everyNth === 0;
  }

  mark(stage: WriteStage, index: number, peer?: number): void {
    if (!this.sampled(index)) return;
    const record: WriteTraceRecord = {
      node: this.node,
      index,
      stage,
      ms: Number(process.hrtime.bigint()) / 1e6,
      ...(peer !== undefined ? { peer } : {}),
    };
    this.sink(JSON.stringify(record));
  }

  /** Marks `stage` for every sampled index in [from, to]. */
  markRange(stage: WriteStage, from: number, to: number, peer?: number): void {
    const first = Math.ceil(from / this.everyNth) * this.everyNth;
    for (let index = first; index <= to; index += this.everyNth) this.mark(stage, index, peer);
  }

  /** A leader proposed `index`: watch it for acks and its commit. */
  proposed(index: number): void {
    if (!this.sampled(index)) return;
    this.mark('proposed', index);
    this.awaitingCommit.push(index);
    this.acked.set(index, new Set());
    while (this.awaitingCommit.length > TRACE_AWAITED_MAX) this.acked.delete(this.awaitingCommit.shift()!);
  }

  /** A follower acknowledged everything up to `matchIndex`. */
  ackReceived(peer: number, matchIndex: number): void {
    for (const index of this.awaitingCommit) {
      if (index > matchIndex) break;
      const peers = this.acked.get(index)!;
      if (peers.has(peer)) continue;
      peers.add(peer);
      this.mark('ackReceived', index, peer);
    }
  }

  /** The commit index reached `commitIndex`. */
  committed(commitIndex: number): void {
    while (this.awaitingCommit.length > 0 && this.awaitingCommit[0]! <= commitIndex) {
      const index = this.awaitingCommit.shift()!;
      this.acked.delete(index);
      this.mark('committed', index);
    }
  }
}
