// The embedded database: one process, one log, one store. `open()` recovers the
// store from the newest snapshot plus the log after it, then serves reads from
// memory and writes through the WritePipeline (durable before they resolve).
import { randomBytes } from 'node:crypto';
import { openFileLog } from '../log/file-log.ts';
import { createMemoryLog } from '../log/memory-log.ts';
import type { LogStorage, SyncMode } from '../log/types.ts';
import type { Command, CommandResult } from '../store/commands.ts';
import { ConflictError, errorFromInfo, PreconditionFailedError, StoreError, ValidationError } from '../store/errors.ts';
import { createIdGenerator } from '../store/ids.ts';
import { Store } from '../store/store.ts';
import type { Limits } from '../store/types.ts';
import type { ChangeEvent } from './backend.ts';
import { changesOf } from './change-events.ts';
import { decodeCommand } from './command-codec.ts';
import { EmbeddedCollection } from './embedded-collection.ts';
import { Transaction, type TransactionOptions } from './embedded-transaction.ts';
import { EMBEDDED_NODE_ID, EMBEDDED_TERM, WritePipeline } from './write-pipeline.ts';

export interface OpenOptions {
  /** Data directory (created if missing). Required unless `memory` is true. */
  readonly dir?: string;
  /** Keep everything in memory: nothing survives close(). */
  readonly memory?: boolean;
  /** 'batch' (default): every write is fsynced (group commit) before it resolves. 'none': no fsync. */
  readonly sync?: SyncMode;
  /** Log segment size in bytes (default 64 MiB). */
  readonly segmentBytes?: number;
  /** Take a snapshot and compact the log after this many entries (default 100,000; 0 = never). */
  readonly snapshotThreshold?: number;
  /** Document limits: bytes (default 1 MiB) and nesting depth (default 64). */
  readonly limits?: Partial<Limits>;
  /** Receives recovery warnings (a torn log tail that was truncated, ...). Default: console.warn. */
  readonly onWarning?: (message: string) => void;
}

export interface DatabaseInfo {
  readonly appliedIndex: number;
  readonly firstLogIndex: number;
  readonly lastLogIndex: number;
  readonly snapshotIndex: number;
  readonly recoveryWarnings: readonly string[];
}

const MAX_WRITES_IN_FLIGHT = 65_536;

export class Database {
  private readonly collections = new Map<string, EmbeddedCollection>();
  private readonly pipeline: WritePipeline;
  private readonly nextId = createIdGenerator(Date.now, (n) => randomBytes(n));
  private snapshotRunning: Promise<void> | null = null;
  private readonly listeners = new Set<(change: ChangeEvent) => void>();
  private closed = false;

  /** @internal use open() */
  constructor(
    private readonly log: LogStorage,
    /** @internal */ readonly store: Store,
    private readonly options: { snapshotThreshold: number; onWarning: (message: string) => void },
  ) {
    this.pipeline = new WritePipeline(log, store, {
      maxInFlight: MAX_WRITES_IN_FLIGHT,
      afterApply: (applied) => this.maybeSnapshot(applied),
      onApplied: (command, result, index) => {
        if (this.listeners.size === 0) return;
        for (const change of changesOf(command, result, index)) for (const listener of this.listeners) listener(change);
      },
    });
  }

  collection(name: string): EmbeddedCollection {
    validateCollectionName(name);
    let collection = this.collections.get(name);
    if (collection === undefined) {
      collection = new EmbeddedCollection(this, name);
      this.collections.set(name, collection);
    }
    return collection;
  }

  /** Names of the collections that hold documents or indexes. */
  listCollections(): string[] {
    return this.store.collections();
  }

  /**
   * Runs `fn` as an optimistic transaction: its reads see its own writes, its writes
   * commit atomically, and commit checks that nothing it read has changed since;
   * on such a conflict `fn` runs again, up to `retries` times, then a ConflictError
   * is thrown. A throw inside `fn` discards its writes.
   */
  async transaction<T>(fn: (tx: Transaction) => Promise<T> | T, options: TransactionOptions = {}): Promise<T> {
    const retries = options.retries ?? 10;
    let lastConflict = '';
    for (let attempt = 0; attempt <= retries; attempt++) {
      this.assertOpen();
      const tx = new Transaction(this.store, this.nextId);
      const value = await fn(tx);
      let command;
      try {
        command = tx.toCommand();
      } catch (error) {
        if (!(error instanceof PreconditionFailedError)) throw error;
        lastConflict = error.message;
        continue;
      }
      if (command === null) return value;
      const result = await this.pipeline.submit(command);
      if (result.ok) return value;
      // The store reports a failed precondition as a conflict; both mean "what you read changed".
      if (result.error.code !== 'PRECONDITION_FAILED' && result.error.code !== 'CONFLICT') throw errorFromInfo(result.error);
      lastConflict = result.error.message;
    }
    throw new ConflictError(`transaction conflicted ${retries + 1} times; last: ${lastConflict}`);
  }

  /** Snapshots the whole state now and compacts the log up to it. */
  async snapshot(): Promise<{ index: number; bytes: number }> {
    this.assertOpen();
    while (this.snapshotRunning !== null) await this.snapshotRunning;
    let size = 0;
    const run = (async () => {
      const data = this.store.encodeSnapshot();
      size = data.byteLength;
      await this.log.installSnapshot(
        { index: this.store.lastApplied, term: EMBEDDED_TERM, conf: { voters: [EMBEDDED_NODE_ID], learners: [] } },
        data,
      );
    })();
    this.snapshotRunning = run;
    try {
      await run;
    } finally {
      this.snapshotRunning = null;
    }
    return { index: this.store.lastApplied, bytes: size };
  }

  /** Calls `listener` for every document change from now on; returns an unsubscribe function. */
  subscribe(listener: (change: ChangeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  info(): DatabaseInfo {
    return {
      appliedIndex: this.store.lastApplied,
      firstLogIndex: this.log.firstIndex(),
      lastLogIndex: this.log.lastIndex(),
      snapshotIndex: this.log.snapshot()?.meta.index ?? 0,
      recoveryWarnings: this.log.recovered.warnings,
    };
  }

  /** Waits for every write in flight, then closes the log. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.snapshotRunning !== null) await this.snapshotRunning;
    await this.log.close();
  }

  /** @internal the single door of every write. */
  async execute(command: Command): Promise<CommandResult> {
    this.assertOpen();
    return this.pipeline.submit(command);
  }

  /** @internal */
  generateId(): string {
    return this.nextId();
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('BAD_REQUEST', 'the database is closed');
  }

  private maybeSnapshot(applied: number): void {
    const threshold = this.options.snapshotThreshold;
    if (threshold <= 0 || this.snapshotRunning !== null || this.closed) return;
    const snapshotIndex = this.log.snapshot()?.meta.index ?? 0;
    if (applied - snapshotIndex < threshold) return;
    this.snapshot().catch((error: unknown) => {
      this.options.onWarning(`automatic snapshot failed: ${error instanceof Error ? error.message : String(error)}`);
    });
  }
}

function validateCollectionName(name: string): void {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(name) || name.startsWith('_')) {
    throw new ValidationError(
      `invalid collection name ${JSON.stringify(name)}: use 1 to 128 letters, digits, '_', '-' or '.', not starting with '_'`,
    );
  }
}

/** Opens (or creates) an embedded database. */
export async function open(options: OpenOptions): Promise<Database> {
  const onWarning = options.onWarning ?? ((message: string) => console.warn(`collection-store: ${message}`));
  let log: LogStorage;
  if (options.memory === true) {
    log = createMemoryLog();
  } else {
    if (typeof options.dir !== 'string' || options.dir === '') {
      throw new ValidationError('open() needs a `dir` (data directory) or `memory: true`');
    }
    log = await openFileLog({
      dir: options.dir,
      sync: options.sync ?? 'batch',
      ...(options.segmentBytes !== undefined ? { segmentBytes: options.segmentBytes } : {}),
      onWarning,
    });
  }
  const store = recoverStore(log, options.limits);
  if (log.hardState().term === 0) {
    await log.setHardState({ term: EMBEDDED_TERM, vote: EMBEDDED_NODE_ID, commit: 0 });
  }
  return new Database(log, store, { snapshotThreshold: options.snapshotThreshold ?? 100_000, onWarning });
}

/** Rebuilds the store: newest snapshot, then every entry after it, in order. In a
 * group of one every durable entry is committed. */
function recoverStore(log: LogStorage, limits: Partial<Limits> | undefined): Store {
  const { snapshot, entries } = log.recovered;
  const store = snapshot !== null ? Store.restoreSnapshot(snapshot.data, limits) : new Store(limits);
  for (const entry of entries) {
    if (entry.index <= store.lastApplied || entry.type !== 'normal') continue;
    store.apply(decodeCommand(entry.data), entry.index);
  }
  return store;
}
