// The chaos load: N clients, each doing one operation at a time (write, read, or
// compare-and-set after a read) on a small key set, so that clients conflict; every
// operation goes to a node picked at random (followers forward writes and confirm reads
// through the leader) and is recorded in the history, whatever its outcome.
import { createHash } from 'node:crypto';
import { Prng } from '../sim/prng.ts';
import type { ChaosHistory, RegisterValue } from './history.ts';
import { mayRetry, type NodeClient, type Outcome } from './node-client.ts';

export const CHAOS_COLLECTION = 'chaos';

export interface LoadTarget {
  readonly ids: readonly number[];
  url(id: number): string;
  /** False while the runner has the node crashed or stopped (requests to it would only be refused). */
  reachable(id: number): boolean;
}

export interface LoadOptions {
  readonly clients: number;
  readonly keys: number;
  readonly seed: number;
  /** This run's own prefix of document ids (`<runId>-k0`): a second run against the same
   * cluster must start from never-written registers, or its first reads would see the last
   * run's values (and the same `<process>.<seq>` values again) and fail the check. */
  readonly runId: string;
  /** Attempts of one operation after the first, as the client library makes (0: none): after
   * an outcome that mayRetry allows, at another live node, writes under one Idempotency-Key.
   * The history records the operation once, from its first attempt to its last answer. */
  readonly retries: number;
  /** One operation's attempts together take at most this long (the client's deadline). */
  readonly opTimeoutMs: number;
}

interface StoredDoc {
  readonly v?: unknown;
  readonly _rev?: unknown;
}

function docValue(body: unknown): { value: RegisterValue; rev: number | undefined } {
  const doc = body as StoredDoc | null;
  return { value: typeof doc?.v === 'string' ? doc.v : null, rev: typeof doc?._rev === 'number' ? doc._rev : undefined };
}

export function keyName(i: number): string {
  return `k${i}`;
}

/** Pause after a failed op so a dead node is not hammered in a loop, in ms. */
const BACKOFF_AFTER_FAIL_MS = 20;
/** Pause before a retry: BACKOFF_AFTER_FAIL_MS doubled per attempt, at most this, in ms. */
const RETRY_BACKOFF_MS_MAX = 320;

export class ChaosLoad {
  private running = false;
  private readonly workers: Promise<void>[] = [];
  /** Each process's client id (keyed), made once. */
  private readonly clientIds: string[] = [];

  constructor(
    private readonly history: ChaosHistory,
    private readonly client: NodeClient,
    private readonly target: LoadTarget,
    private readonly options: LoadOptions,
  ) {}

  start(): void {
    this.running = true;
    for (let process = 0; process < this.options.clients; process++) {
      this.workers.push(this.worker(process, new Prng(this.options.seed * 1000 + process + 1)));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }

  /** One linearizable read of every key, retried until it succeeds or `deadlineMs` passes:
   * the final state the lost-write count compares against. `process` is the reader's id.
   * Returns the keys that could not be read by then. */
  async finalReads(process: number, deadlineMs: number): Promise<string[]> {
    const prng = new Prng(this.options.seed + 7);
    const unread: string[] = [];
    for (let k = 0; k < this.options.keys; k++) {
      let read = false;
      while (!read && this.history.nowMs() < deadlineMs) {
        read = (await this.read(process, keyName(k), prng)) !== undefined;
        if (!read) await sleep(100);
      }
      if (!read) unread.push(keyName(k));
    }
    return unread;
  }

  private async worker(process: number, prng: Prng): Promise<void> {
    let seq = 0;
    while (this.running) {
      const key = keyName(prng.int(0, this.options.keys - 1));
      const roll = prng.next();
      let ok: boolean;
      if (roll < 0.4) {
        ok = await this.write(process, key, ++seq, prng);
      } else if (roll < 0.7) {
        ok = (await this.read(process, key, prng)) !== undefined;
      } else {
        const seen = await this.read(process, key, prng);
        ok = seen !== undefined;
        if (seen !== undefined && seen.rev !== undefined && this.running) {
          ok = await this.cas(process, key, seen.value, seen.rev, ++seq, prng);
        }
      }
      if (!ok) await sleep(BACKOFF_AFTER_FAIL_MS);
    }
  }

  /** The document that holds register `key` in this run. */
  private docId(key: string): string {
    return `${this.options.runId}-${key}`;
  }

  /** A live node at random; not `avoid` (the node a retry's last attempt went to) when another is live. */
  private pickNode(prng: Prng, avoid?: number): number {
    const live = this.target.ids.filter((id) => this.target.reachable(id));
    const pool = live.length > 0 ? live : this.target.ids;
    const others = avoid === undefined ? pool : pool.filter((id) => id !== avoid);
    return prng.pick(others.length > 0 ? others : pool);
  }

  /** Attempts retried so far (each beyond an operation's first). */
  retried = 0;

  /**
   * Sends one operation: the first attempt to `first`, then, while mayRetry allows, the load
   * is running, retries are left and the operation's time is not up, to another live node
   * picked at random after a short backoff.
   */
  private async attempts(first: number, prng: Prng, send: (node: number, timeoutMs: number) => Promise<Outcome>): Promise<Outcome> {
    const deadline = this.history.nowMs() + this.options.opTimeoutMs;
    let node = first;
    let outcome = await send(node, this.options.opTimeoutMs);
    for (let attempt = 0; attempt < this.options.retries && this.running && mayRetry(outcome); attempt++) {
      const backoffMs = Math.min(RETRY_BACKOFF_MS_MAX, BACKOFF_AFTER_FAIL_MS * 2 ** attempt);
      if (this.history.nowMs() + backoffMs >= deadline) break;
      await sleep(backoffMs);
      this.retried++;
      // Another node than the last attempt's, as the docs and the client library do: a node
      // that refused (NOT_CAUGHT_UP while it catches up) would otherwise often be asked again.
      node = this.pickNode(prng, node);
      outcome = await send(node, deadline - this.history.nowMs());
    }
    return outcome;
  }

  /**
   * The headers of a process's write number `seq` (its value is `<process>.<seq>`): the key as
   * the client library makes it, `<clientId>.<seq>`, with a client id per process and run, and
   * Idempotency-Answered-Through, since a process has one operation at a time and never sends
   * an earlier one again. So the cluster keeps about one record per process, not one per write
   * of the run (100,000 of them made every snapshot, and a killed node's restart, 20 MB).
   */
  private keyed(process: number, seq: number): Record<string, string> {
    let clientId = this.clientIds[process];
    if (clientId === undefined) {
      clientId = createHash('sha256').update(`${this.options.runId}:${process}`).digest().subarray(0, 16).toString('base64url');
      this.clientIds[process] = clientId;
    }
    return { 'idempotency-key': `${clientId}.${seq}`, ...(seq > 1 ? { 'idempotency-answered-through': String(seq - 1) } : {}) };
  }

  private async write(process: number, key: string, seq: number, prng: Prng): Promise<boolean> {
    const value = `${process}.${seq}`;
    const node = this.pickNode(prng);
    const op = this.history.invoke(process, 'write', key, value, node);
    const headers = this.keyed(process, seq);
    const outcome = await this.attempts(node, prng, (to, timeoutMs) =>
      this.client.call(this.target.url(to), 'PUT', `/api/${CHAOS_COLLECTION}/${this.docId(key)}`, { v: value }, headers, timeoutMs),
    );
    this.finish(op, outcome, value);
    return outcome.kind === 'ok';
  }

  /** The value and revision read, or undefined when the read did not succeed. */
  private async read(process: number, key: string, prng: Prng): Promise<{ value: RegisterValue; rev: number | undefined } | undefined> {
    const node = this.pickNode(prng);
    const op = this.history.invoke(process, 'read', key, null, node);
    const outcome = await this.attempts(node, prng, (to, timeoutMs) =>
      this.client.call(this.target.url(to), 'GET', `/api/${CHAOS_COLLECTION}/${this.docId(key)}?consistency=linearizable`, undefined, {}, timeoutMs),
    );
    if (outcome.kind === 'ok') {
      const seen = docValue(outcome.body);
      this.history.complete(op, 'ok', seen.value, seen.rev !== undefined ? { rev: seen.rev } : {});
      return seen;
    }
    // A key never written: the register's initial value.
    if (outcome.status === 404 && outcome.code === 'NOT_FOUND') {
      this.history.complete(op, 'ok', null);
      return { value: null, rev: undefined };
    }
    this.history.complete(op, outcome.kind, null, { error: outcome.code });
    return undefined;
  }

  private async cas(process: number, key: string, expected: RegisterValue, rev: number, seq: number, prng: Prng): Promise<boolean> {
    const value = `${process}.${seq}`;
    const node = this.pickNode(prng);
    const op = this.history.invoke(process, 'cas', key, [expected, value], node);
    // A retry of a cas that was applied answers its first result (the key); one that was not
    // is checked against the revision again, so it applies only if nothing changed meanwhile.
    const headers = { 'if-match': `"${rev}"`, ...this.keyed(process, seq) };
    const outcome = await this.attempts(node, prng, (to, timeoutMs) =>
      this.client.call(this.target.url(to), 'PUT', `/api/${CHAOS_COLLECTION}/${this.docId(key)}`, { v: value }, headers, timeoutMs),
    );
    // 412: the register no longer held `expected` (its revision moved on): not done.
    this.finish(op, outcome, [expected, value]);
    return outcome.kind === 'ok';
  }

  private finish(op: Parameters<ChaosHistory['complete']>[0], outcome: Outcome, value: RegisterValue | [RegisterValue, RegisterValue]): void {
    if (outcome.kind === 'ok') {
      const { rev } = docValue(outcome.body);
      this.history.complete(op, 'ok', value, rev !== undefined ? { rev } : {});
    } else {
      this.history.complete(op, outcome.kind, value, { error: outcome.code });
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
