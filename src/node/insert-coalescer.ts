// Concurrent inserts share log entries. Each insert on its own costs a Raft entry,
// a framed and checksummed log record, a proposal to track and an apply call;
// inserts that reach the leader together are proposed as one `batch` command
// instead, whose ops still succeed or fail one by one (store/commands.ts).
//
// Group size: everything queued when the next Ready is cut goes in, but a group
// is closed early at `groupLimit` ops. The node sets that limit to half of the
// inserts in flight when splitting pays (see ApplyPacing): two entries then
// alternate, one being written while the other's writers are woken and insert
// again, instead of one entry whose writers all wait for the disk together.
import type { BatchCommand, CommandResult, InsertCommand } from '../store/commands.ts';
import { MAX_BATCH_DOCS, MAX_BATCH_OPS } from '../store/commands.ts';

interface Waiter {
  readonly resolve: (result: CommandResult) => void;
  readonly reject: (error: Error) => void;
}

/** A group taken for proposing: its command, and how to settle each caller from the entry's result. */
export interface InsertGroup {
  /** The lone insert itself, or a batch of them. */
  readonly command: InsertCommand | BatchCommand;
  readonly ops: readonly InsertCommand[];
  /** Settles every caller from the result of the entry holding `command`. */
  settle(result: Promise<CommandResult>): void;
}

export class InsertCoalescer {
  private ops: InsertCommand[] = [];
  private waiters: Waiter[] = [];
  private docs = 0;
  /** Ops queued or proposed and not settled yet. */
  private pending = 0;
  /** Groups closed early (at the limit), waiting for the next Ready. */
  private readonly closed: InsertGroup[] = [];

  /** Ops queued or proposed and not yet settled. */
  get inFlight(): number {
    return this.pending;
  }

  /** Whether anything waits to be proposed. */
  hasWork(): boolean {
    return this.ops.length > 0 || this.closed.length > 0;
  }

  /** Queues an insert (its documents validated and owned by it); settles with its own result. */
  add(command: InsertCommand, groupLimit: number): Promise<CommandResult> {
    if (this.ops.length > 0 && (this.ops.length >= Math.min(groupLimit, MAX_BATCH_OPS) || this.docs + command.docs.length > MAX_BATCH_DOCS)) {
      this.closed.push(this.cut());
    }
    this.pending++;
    return new Promise<CommandResult>((resolve, reject) => {
      this.ops.push(command);
      this.waiters.push({ resolve, reject });
      this.docs += command.docs.length;
    });
  }

  /** Every group waiting to be proposed, oldest first. */
  take(): InsertGroup[] {
    const groups = this.closed.splice(0);
    if (this.ops.length > 0) groups.push(this.cut());
    return groups;
  }

  private cut(): InsertGroup {
    const ops = this.ops;
    const waiters = this.waiters;
    this.ops = [];
    this.waiters = [];
    this.docs = 0;
    const command: InsertCommand | BatchCommand = ops.length === 1 ? ops[0]! : { type: 'batch', ops };
    return {
      command,
      ops,
      settle: (result) => {
        result.then(
          (r) => {
            this.pending -= ops.length;
            if (ops.length === 1 || !r.ok) {
              // A lone insert's result is its own; a batch that failed as a whole (it never
              // does unless its entry could not be applied) fails every op in it.
              for (const w of waiters) w.resolve(r);
              return;
            }
            const each = r.value as CommandResult<'insert'>[];
            for (let i = 0; i < waiters.length; i++) waiters[i]!.resolve(each[i]!);
          },
          (error: unknown) => {
            this.pending -= ops.length;
            const e = error instanceof Error ? error : new Error(String(error));
            for (const w of waiters) w.reject(e);
          },
        );
      },
    };
  }
}
