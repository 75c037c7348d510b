// The embedded database: one process, a Raft group of one. `open()` recovers the
// store from the newest snapshot plus the log after it, then serves reads from
// memory; writes go through the same path as in a cluster (the Raft log, group
// commit, one apply function) and resolve once durable and applied.
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { openFileLog } from '../log/file-log.ts';
import { createMemoryLog } from '../log/memory-log.ts';
import type { LogStorage, SyncMode } from '../log/types.ts';
import type { Command, CommandResult } from '../store/commands.ts';
import { ConflictError, errorFromInfo, PreconditionFailedError, StoreError, ValidationError } from '../store/errors.ts';
import type { Store } from '../store/store.ts';
import type { JsonObject, Limits } from '../store/types.ts';
import type { ModelOptions } from '../store/schema.ts';
import { validateCollectionName } from '../store/validate.ts';
import type { ChangeEvent, ExecuteOptions } from './backend.ts';
import { EmbeddedCollection } from './embedded-collection.ts';
import type { ChangeFeed } from './change-log.ts';
import { watchFeed, type EmbeddedWatchOptions } from './change-watch.ts';
import { Transaction, type TransactionOptions } from './embedded-transaction.ts';
import { RaftNode } from './raft-node.ts';
import { TtlSweeper, TTL_SWEEP_INTERVAL_MS } from './ttl-sweeper.ts';

/** A collection's model given to Database.collection: its schema and options (docs/models.md). */
export interface CollectionModel extends ModelOptions {
  readonly schema: JsonObject;
  /** Accept the model even if existing documents do not match it. */
  readonly force?: boolean;
}

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
  /** How often expired documents of TTL collections are removed (ms; default TTL_SWEEP_INTERVAL_MS, 1 s). */
  readonly ttlSweepIntervalMs?: number;
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

/** A write waits at most this long (only under extreme overload or a failing disk). */
const WRITE_TIMEOUT_MS = 60_000;

export class Database {
  private readonly collections = new Map<string, EmbeddedCollection>();
  private closed = false;

  /** Removes expired documents of TTL collections through the log (src/node/ttl-sweeper.ts). */
  private readonly sweeper: TtlSweeper;

  /** @internal use open() */
  constructor(
    private readonly node: RaftNode,
    ttlSweepIntervalMs: number = TTL_SWEEP_INTERVAL_MS,
  ) {
    this.sweeper = new TtlSweeper(
      { store: () => node.store, isLeader: () => !this.closed, execute: (command) => node.execute(command) },
      ttlSweepIntervalMs,
    );
    this.sweeper.start();
  }

  /** @internal the Raft group of one behind this database. */
  get raftNode(): RaftNode {
    return this.node;
  }

  /** @internal the applied state, read by collections and transactions. */
  get store(): Store {
    return this.node.store;
  }

  /**
   * The collection `name`. With a model (`{ schema, trackHistory, audited, ... }`,
   * docs/models.md) the model is set through the log (force: documents already there are not
   * checked against it) and the collection's writes wait for it; a model that fails is the
   * error of those writes.
   */
  collection(name: string, model?: CollectionModel): EmbeddedCollection {
    validateCollectionName(name);
    let collection = this.collections.get(name);
    if (collection === undefined) {
      collection = new EmbeddedCollection(this, name);
      this.collections.set(name, collection);
    }
    if (model !== undefined) {
      const { schema, force, ...options } = model;
      const ready = collection.setSchema(schema, options, force ?? false);
      ready.catch(() => {}); // reported to the writes that wait for it
      collection.modelReady = ready;
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
      const tx = new Transaction(this.store, () => this.node.generateId());
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
      // A document that fails its model costs no log entry, as with a collection's writes
      // (embedded-collection.ts); apply checks again, and decides.
      const failure = this.store.modelFailure(command);
      if (failure !== undefined) throw failure;
      const result = await this.node.execute(command);
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
    return this.node.snapshot();
  }

  /** @internal the retained changes (change-log.ts), read by watch(). */
  get changes(): ChangeFeed {
    return this.node.changes;
  }

  /** The changes of every collection, as a collection's watch(). */
  watch(options: EmbeddedWatchOptions = {}): AsyncGenerator<ChangeEvent, void, undefined> {
    return watchFeed(this.node.changes, null, options);
  }

  /** Calls `listener` for every document change from now on; returns an unsubscribe function. */
  subscribe(listener: (change: ChangeEvent) => void): () => void {
    return this.node.subscribe(listener);
  }

  info(): DatabaseInfo {
    const log = this.node.logInfo();
    return {
      appliedIndex: this.store.lastApplied,
      firstLogIndex: log.firstIndex,
      lastLogIndex: log.lastIndex,
      snapshotIndex: log.snapshotIndex,
      recoveryWarnings: log.warnings,
    };
  }

  /** Stops taking writes and closes the log. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sweeper.stop();
    await this.node.close();
  }

  /** @internal the single door of every write. */
  execute(command: Command, options?: ExecuteOptions): Promise<CommandResult> {
    if (this.closed) return Promise.reject(new StoreError('BAD_REQUEST', 'the database is closed'));
    return this.node.execute(command, options);
  }

  /** @internal */
  generateId(): string {
    return this.node.generateId();
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('BAD_REQUEST', 'the database is closed');
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
  let node: RaftNode;
  try {
    node = RaftNode.standalone(log, {
      snapshotThreshold: options.snapshotThreshold ?? 100_000,
      requestTimeoutMs: WRITE_TIMEOUT_MS,
      logger: warningLogger(onWarning),
      ...(options.limits !== undefined ? { limits: options.limits } : {}),
    });
  } catch (error) {
    // A snapshot that does not restore, or a log the core refuses: nothing was started.
    await log.close();
    throw error;
  }
  try {
    // Replays the recovered log: a group of one commits everything it has on disk.
    await node.leadingAndCaughtUp(WRITE_TIMEOUT_MS);
  } catch (error) {
    await node.close();
    throw error;
  }
  return new Database(node, options.ttlSweepIntervalMs);
}

/** The node logs through pino; an embedded database passes its warnings to `onWarning`. */
function warningLogger(onWarning: (message: string) => void): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      try {
        const line = JSON.parse(chunk.toString()) as { msg?: string };
        onWarning(line.msg ?? chunk.toString());
      } catch {
        onWarning(chunk.toString());
      }
      done();
    },
  });
  return pino({ level: 'warn', base: null }, sink);
}
