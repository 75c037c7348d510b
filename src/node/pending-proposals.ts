// The writes this node appended as leader and has not applied yet: each waits for the
// entry at its index. Bounded: past the limit, new writes wait for room.
import type { Entry } from '../raft/types.ts';
import type { Command, CommandResult } from '../store/commands.ts';
import { StoreError } from '../store/errors.ts';

interface Proposal {
  readonly term: number;
  /** The proposed command itself, when it may be applied as it is (see ExecuteOptions.validated). */
  readonly command: Command | undefined;
  /** Date.now() after which the caller gets TIMEOUT (swept, not a timer each). */
  readonly deadline: number;
  readonly resolve: (result: CommandResult) => void;
  readonly reject: (error: Error) => void;
}

const lostLeadership = (): StoreError => new StoreError('NO_LEADER', 'leadership changed before the write committed; retry');

export class PendingProposals {
  private readonly byIndex = new Map<number, Proposal>();
  /** Callers waiting for room under the limit. */
  private readonly waitingForRoom: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.byIndex.size;
  }

  hasRoom(): boolean {
    return this.byIndex.size < this.limit;
  }

  /** Resolves when there is room for one more (at once, usually). */
  async room(): Promise<void> {
    while (this.byIndex.size >= this.limit) {
      await new Promise<void>((resolve) => this.waitingForRoom.push(resolve));
    }
  }

  /** The result of the entry proposed at `index` in `term`, once it is applied here. */
  track(index: number, term: number, deadline: number, command?: Command): Promise<CommandResult> {
    // An older proposal at this index was overwritten by a leader of a higher term, so by
    // Leader Completeness it was never committed: safe to retry.
    this.byIndex.get(index)?.reject(lostLeadership());
    return new Promise<CommandResult>((resolve, reject) => {
      this.byIndex.set(index, {
        term,
        command,
        deadline,
        resolve: (result) => {
          this.waitingForRoom.shift()?.();
          resolve(result);
        },
        reject: (error) => {
          this.waitingForRoom.shift()?.();
          reject(error);
        },
      });
    });
  }

  /** The command this node proposed as `entry`, when it may be applied without decoding. */
  commandAt(entry: Entry): Command | undefined {
    const proposal = this.byIndex.get(entry.index);
    return proposal !== undefined && proposal.term === entry.term ? proposal.command : undefined;
  }

  /** The entry at `entry.index` was applied with `result`: settles the proposal there, if any. */
  settle(entry: Entry, result: CommandResult): void {
    const proposal = this.byIndex.get(entry.index);
    if (proposal === undefined) return;
    this.byIndex.delete(entry.index);
    if (proposal.term === entry.term) proposal.resolve(result);
    // Another leader's entry took this index: ours was never committed, safe to retry.
    else proposal.reject(lostLeadership());
  }

  /** Fails the proposals whose deadline passed: their outcome is unknown to the caller. */
  expire(now: number): void {
    for (const [index, proposal] of this.byIndex) {
      if (proposal.deadline > now) continue;
      this.byIndex.delete(index);
      proposal.reject(new StoreError('TIMEOUT', 'the write was not committed in time; its outcome is unknown'));
    }
  }

  /** Fails the proposals at or below `index` (decided elsewhere, e.g. inside a snapshot). */
  failUpTo(index: number, error: Error): void {
    for (const [at, proposal] of this.byIndex) {
      if (at > index) continue;
      this.byIndex.delete(at);
      proposal.reject(error);
    }
  }

  /** Fails every proposal and wakes every waiter (shutdown, fatal error). */
  failAll(error: Error): void {
    const all = [...this.byIndex.values()];
    this.byIndex.clear();
    for (const proposal of all) proposal.reject(error);
    for (const wake of this.waitingForRoom.splice(0)) wake();
  }
}
