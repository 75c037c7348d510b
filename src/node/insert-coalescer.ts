// Concurrent inserts share log entries. Each insert on its own costs a Raft entry,
// a framed and checksummed log record, a proposal to track and an apply call;
// inserts that reach the leader together are proposed as one `batch` command
// instead, whose ops still succeed or fail one by one (store/commands.ts).
//
// Inserts wait here until the next Ready is cut (or until the node proposes any
// other command, which must not overtake them). Then they are taken in groups of
// at most `groupLimit` ops: the node sets that to half of the inserts in flight
// when splitting pays (see ApplyPacing), so that two entries alternate, one being
// written while the other's writers are woken and insert again.
import { assert } from '../assert.ts';
import type { BatchCommand, CommandResult, InsertCommand } from '../store/commands.ts';
import { MAX_BATCH_DOCS, MAX_BATCH_OPS } from '../store/commands.ts';

interface Queued {
  readonly op: InsertCommand;
  /** Date.now() after which the insert is refused, if still queued (never made). */
  readonly deadline: number;
  readonly resolve: (result: CommandResult) => void;
  readonly reject: (error: Error) => void;
}

/** A group taken for proposing: its command, and how to settle each caller from the entry's result. */
export interface InsertGroup {
  /** The lone insert itself, or a batch of them. */
  readonly command: InsertCommand | BatchCommand;
  /** Settles every caller from the result of the entry holding `command` (or its failure). */
  settle(result: Promise<CommandResult>): void;
}

export class InsertCoalescer {
  private queue: Queued[] = [];
  /** Ops queued or proposed and not settled yet. */
  private pending = 0;

  /** `insertsInFlightMax`: ops queued or proposed and not settled, at most; the caller
   * checks `inFlight` before add() and takes the slow path when it is reached. */
  constructor(private readonly insertsInFlightMax: number) {}

  /** Ops queued or proposed and not yet settled. */
  get inFlight(): number {
    return this.pending;
  }

  /** Whether anything waits to be proposed. */
  hasWork(): boolean {
    return this.queue.length > 0;
  }

  /** Queues an insert (its documents validated and owned by it); settles with its own result. */
  add(op: InsertCommand, deadline: number): Promise<CommandResult> {
    assert(this.pending < this.insertsInFlightMax, `${this.pending} inserts in flight: the bound is ${this.insertsInFlightMax}`);
    this.pending++;
    return new Promise<CommandResult>((resolve, reject) => {
      this.queue.push({ op, deadline, resolve, reject });
    });
  }

  /** Everything queued, in order, cut into groups of at most `groupLimit` ops (and the
   * command bounds on ops and documents). */
  take(groupLimit: number): InsertGroup[] {
    const queue = this.queue;
    this.queue = [];
    const limit = Math.max(1, Math.min(groupLimit, MAX_BATCH_OPS));
    const groups: InsertGroup[] = [];
    let start = 0;
    let docs = 0;
    for (let i = 0; i < queue.length; i++) {
      const n = queue[i]!.op.docs.length;
      if (i > start && (i - start >= limit || docs + n > MAX_BATCH_DOCS)) {
        groups.push(this.group(queue.slice(start, i)));
        start = i;
        docs = 0;
      }
      docs += n;
    }
    if (queue.length > start) groups.push(this.group(queue.slice(start)));
    return groups;
  }

  /** Refuses the queued inserts whose deadline passed (the node could not propose them in
   * time, e.g. while the disk stalls); they were never made. */
  expire(now: number, error: () => Error): void {
    if (this.queue.length === 0 || this.queue[0]!.deadline > now) return;
    const kept: Queued[] = [];
    for (const q of this.queue) {
      if (q.deadline > now) {
        kept.push(q);
      } else {
        this.pending--;
        q.reject(error());
      }
    }
    this.queue = kept;
  }

  private group(members: Queued[]): InsertGroup {
    assert(members.length > 0, 'an insert group holds one insert at least');
    const command: InsertCommand | BatchCommand = members.length === 1 ? members[0]!.op : { type: 'batch', ops: members.map((m) => m.op) };
    return {
      command,
      settle: (result) => {
        result.then(
          (r) => {
            this.pending -= members.length;
            if (members.length === 1 || !r.ok) {
              // A lone insert's result is its own; a batch failed as a whole (its envelope
              // refused, which the node never builds) fails every op in it.
              for (const m of members) m.resolve(r);
              return;
            }
            const each = r.value as CommandResult<'insert'>[];
            assert(each.length === members.length, `a batch of ${members.length} inserts answered ${each.length} results`);
            for (let i = 0; i < members.length; i++) members[i]!.resolve(each[i]!);
          },
          (error: unknown) => {
            this.pending -= members.length;
            assert(this.pending >= 0, `inserts in flight fell to ${this.pending}`);
            const e = error instanceof Error ? error : new Error(String(error));
            for (const m of members) m.reject(e);
          },
        );
      },
    };
  }
}
