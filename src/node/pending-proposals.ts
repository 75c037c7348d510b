// The writes this node appended as leader and has not applied yet: each waits for the
// entry at its index. Bounded: writes wait for room under `pendingProposalsMax` (a conf
// change, or a write proposed right behind queued inserts, may go a few past it); at most
// `roomWaitersMax` writes wait for room, each until its deadline. A write that finds the
// waiting line full, or whose deadline passes while it waits, fails with NO_LEADER: it was
// never proposed, so a retry (after the load has gone down) is safe.
import { assert } from '../assert.ts';
import type { Entry } from '../raft/types.ts';
import type { Command, CommandResult } from '../store/commands.ts';
import { StoreError } from '../store/errors.ts';

interface Proposal {
  readonly term: number;
  /** The proposed command itself, when it may be applied as it is (see ExecuteOptions.validated). */
  readonly command: Command | undefined;
  /** Date.now() after which the caller gets COMMIT_UNKNOWN (swept, not a timer each). */
  readonly deadline: number;
  readonly resolve: (result: CommandResult) => void;
  readonly reject: (error: Error) => void;
}

/** A write waiting for room under `pendingProposalsMax`. */
interface RoomWaiter {
  /** Date.now() after which it gives up (swept by expire(), like the proposals). */
  readonly deadline: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

const lostLeadership = (): StoreError => new StoreError('NO_LEADER', 'leadership changed before the write committed; retry');
const replacedHere = (): StoreError =>
  new StoreError('COMMIT_UNKNOWN', 'this node proposed another write at the same index in a later term; the outcome of this write is unknown');
const noRoom = (why: string): StoreError => new StoreError('NO_LEADER', `${why}: this write was not made; retry later`);

export class PendingProposals {
  private readonly byIndex = new Map<number, Proposal>();
  /** Callers waiting for room under `pendingProposalsMax`, first come first served. */
  private waitingForRoom: RoomWaiter[] = [];

  /** `pendingProposalsMax`: proposals tracked at most; `roomWaitersMax`: callers waiting for room at most. */
  constructor(
    private readonly pendingProposalsMax: number,
    private readonly roomWaitersMax: number = pendingProposalsMax,
  ) {
    assert(pendingProposalsMax > 0 && roomWaitersMax >= 0, `bad bounds ${pendingProposalsMax}/${roomWaitersMax}`);
  }

  get size(): number {
    return this.byIndex.size;
  }

  /** Callers waiting for room now. */
  get waiting(): number {
    return this.waitingForRoom.length;
  }

  hasRoom(): boolean {
    return this.byIndex.size < this.pendingProposalsMax;
  }

  /**
   * Resolves when there is room for one more (at once, usually). Rejects with NO_LEADER
   * (the write was not made) when `roomWaitersMax` callers wait already, or when `deadline`
   * passes before room is made (checked by expire()).
   */
  async room(deadline: number): Promise<void> {
    while (this.byIndex.size >= this.pendingProposalsMax) {
      if (this.waitingForRoom.length >= this.roomWaitersMax) throw noRoom(`${this.roomWaitersMax} writes wait for room already`);
      await new Promise<void>((resolve, reject) => this.waitingForRoom.push({ deadline, resolve, reject }));
    }
  }

  /** The result of the entry proposed at `index` in `term`, once it is applied here. */
  track(index: number, term: number, deadline: number, command?: Command): Promise<CommandResult> {
    // This node leads again and proposes at an index where its own older proposal was: that
    // entry was not committed yet (Leader Completeness), but it may survive in another node's
    // log and be committed by a later leader. Only its application (resolve, below) tells.
    this.byIndex.get(index)?.reject(replacedHere());
    return new Promise<CommandResult>((resolve, reject) => {
      this.byIndex.set(index, {
        term,
        command,
        deadline,
        resolve: (result) => {
          this.waitingForRoom.shift()?.resolve();
          resolve(result);
        },
        reject: (error) => {
          this.waitingForRoom.shift()?.resolve();
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

  /** Fails the proposals whose deadline passed (their outcome is unknown to the caller), and
   * refuses the writes whose deadline passed while they waited for room (never made). */
  expire(now: number): void {
    if (this.waitingForRoom.some((w) => w.deadline <= now)) {
      const late = this.waitingForRoom.filter((w) => w.deadline <= now);
      this.waitingForRoom = this.waitingForRoom.filter((w) => w.deadline > now);
      for (const waiter of late) waiter.reject(noRoom(`no room for this write before its deadline (${this.pendingProposalsMax} in flight)`));
    }
    for (const [index, proposal] of this.byIndex) {
      if (proposal.deadline > now) continue;
      this.byIndex.delete(index);
      proposal.reject(new StoreError('COMMIT_UNKNOWN', 'the write was not committed in time; its outcome is unknown'));
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
    // Woken, not failed: each finds the node stopped (assertUsable) and fails with its reason.
    for (const waiter of this.waitingForRoom.splice(0)) waiter.resolve();
  }
}
