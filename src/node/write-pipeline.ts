// The embedded write path: every command is appended to the log, and applied to
// the store in log order once it is durable. Appends made in the same turn of the
// event loop share one fdatasync (group commit, in log/), so many concurrent
// writers cost one disk flush per batch.
//
// A command is applied only after it is durable, so a reader never sees a write
// that a crash could take back.
import type { LogStorage } from '../log/types.ts';
import type { Entry } from '../raft/types.ts';
import type { Command, CommandResult } from '../store/commands.ts';
import type { Store } from '../store/store.ts';
import { StoreError } from '../store/errors.ts';
import { decodeCommand, encodeCommand } from './command-codec.ts';

/** The embedded database is a Raft group of one that never changes term. */
export const EMBEDDED_TERM = 1;
export const EMBEDDED_NODE_ID = 1;

interface Waiter {
  readonly entry: Entry;
  readonly resolve: (result: CommandResult) => void;
  readonly reject: (error: Error) => void;
}

export interface WritePipelineOptions {
  /** Writes appended but not yet applied before new writes wait. Bounds memory under overload. */
  readonly maxInFlight: number;
  /** Called after each batch is applied, with the store's last applied index. */
  readonly afterApply: (appliedIndex: number) => void;
  /** Called with each command as it is applied (change streams). */
  readonly onApplied: (command: Command, result: CommandResult, index: number) => void;
}

export class WritePipeline {
  // FIFO of appended, not yet applied writes, in index order. `head` avoids
  // Array.shift's O(n) under deep queues.
  private waiting: Waiter[] = [];
  private head = 0;
  private durableIndex: number;
  private failure: Error | null = null;
  private readonly slotWaiters: Array<() => void> = [];

  constructor(
    private readonly log: LogStorage,
    private readonly store: Store,
    private readonly options: WritePipelineOptions,
  ) {
    this.durableIndex = log.lastIndex();
  }

  get inFlight(): number {
    return this.waiting.length - this.head;
  }

  /** Appends the command, waits until it is durable, applies it, and returns its result. */
  async submit(command: Command): Promise<CommandResult> {
    while (this.inFlight >= this.options.maxInFlight && this.failure === null) {
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    }
    if (this.failure !== null) throw this.failure;
    const entry: Entry = {
      index: this.log.lastIndex() + 1,
      term: EMBEDDED_TERM,
      type: 'normal',
      data: encodeCommand(command),
    };
    const result = new Promise<CommandResult>((resolve, reject) => {
      this.waiting.push({ entry, resolve, reject });
    });
    this.log.append([entry]).then(
      () => this.onDurable(entry.index),
      (error: unknown) => this.fail(error),
    );
    return result;
  }

  /** Rejects every pending and future write: after a failed fsync nothing about
   * the file's state can be trusted, so the database stops taking writes. */
  fail(error: unknown): void {
    if (this.failure === null) {
      const cause = error instanceof Error ? error.message : String(error);
      this.failure = new StoreError('TIMEOUT', `the log could not be written, database is read-only: ${cause}`);
    }
    for (let i = this.head; i < this.waiting.length; i++) this.waiting[i]!.reject(this.failure);
    this.waiting = [];
    this.head = 0;
    for (const wake of this.slotWaiters.splice(0)) wake();
  }

  private onDurable(index: number): void {
    if (index <= this.durableIndex) return;
    this.durableIndex = index;
    let applied = false;
    while (this.head < this.waiting.length && this.waiting[this.head]!.entry.index <= index) {
      const waiter = this.waiting[this.head]!;
      this.head++;
      // Apply what replay would apply: the decoded bytes, not the caller's object.
      const command = decodeCommand(waiter.entry.data);
      const result = this.store.apply(command, waiter.entry.index);
      this.options.onApplied(command, result, waiter.entry.index);
      waiter.resolve(result);
      applied = true;
    }
    if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    for (const wake of this.slotWaiters.splice(0, this.options.maxInFlight - this.inFlight)) wake();
    if (applied) this.options.afterApply(this.store.lastApplied);
  }
}
