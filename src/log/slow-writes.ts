// Log writes that took long enough to matter: a write batch of the leader that takes
// LOG_WRITE_SLOW_MS holds every write of the cluster for as long (a majority's durability is
// what commits), and a slow disk is the first thing an operator must be able to rule out when
// writes stall (etcd warns of a "slow fdatasync" for the same reason). The writer keeps the
// newest ones for GET /cluster/status and tells a listener (the node's warning log).

import { NewestRecords } from '../newest-records.ts';

/** A write batch that took at least this long to become durable is slow (ms). */
export const LOG_WRITE_SLOW_MS = 100;
/** Slow writes kept for the status (the newest). */
export const SLOW_LOG_WRITES_KEPT_MAX = 64;

export interface SlowLogWrite {
  /** Date.now() when the write became durable. */
  readonly endedAt: number;
  /** From the start of the batch's write to its durability, the wait for the thread pool and
   * the loop included (ms, rounded to 0.1). */
  readonly durationMs: number;
  /** Bytes of the batch's records, its write-end record included (not the padding to the
   * next sector, nor a zero fill ahead, whose time is in durationMs). */
  readonly bytes: number;
}

export class SlowWrites {
  private readonly recent = new NewestRecords<SlowLogWrite>(SLOW_LOG_WRITES_KEPT_MAX);

  constructor(private readonly listener: ((write: SlowLogWrite) => void) | undefined) {}

  /** One batch became durable after `durationMs`. */
  observe(durationMs: number, bytes: number): void {
    if (durationMs < LOG_WRITE_SLOW_MS) return;
    const write: SlowLogWrite = { endedAt: Date.now(), durationMs: Math.round(durationMs * 10) / 10, bytes };
    this.recent.add(write);
    this.listener?.(write);
  }

  /** The newest slow writes, oldest first. */
  list(): readonly SlowLogWrite[] {
    return this.recent.list();
  }
}
