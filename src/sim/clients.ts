// Simulated clients: each runs one operation at a time against a random node (closed loop),
// records it in the history, retries definite rejections elsewhere (preferring the leader
// the node named), and gives up after a timeout, recording the op as indeterminate.
// Callbacks from nodes only record the outcome; the client acts on it at its next turn,
// so a node's step never re-enters the cluster.

import type { Cluster } from './cluster.ts';
import { History, type HistoryOp } from './history.ts';
import { uniqueValue } from './kv.ts';
import type { Prng } from './prng.ts';
import type { ReadMode, ReadOutcome, WriteOutcome } from './sim-node.ts';

export interface ClientOptions {
  readonly count: number;
  readonly keys: readonly string[];
  /** Fraction of ops that are reads. */
  readonly readRatio: number;
  /** Fraction of reads that use the leader lease rather than ReadIndex. */
  readonly leaseReadRatio: number;
  /** Fraction of writes that are appends (the rest are puts). */
  readonly appendRatio: number;
  /** Virtual ms before a client gives up on an op (it becomes indeterminate). */
  readonly timeoutMs: number;
  /** Pause between ops, and before a retry, in virtual ms. */
  readonly thinkMs: readonly [number, number];
  readonly retryMs: readonly [number, number];
  /** Attempts per op before giving up (the op then certainly had no effect). */
  readonly maxAttempts: number;
}

export const DEFAULT_CLIENTS: ClientOptions = Object.freeze({
  count: 4,
  keys: ['a', 'b', 'c'],
  readRatio: 0.45,
  leaseReadRatio: 0.4,
  appendRatio: 0.6,
  timeoutMs: 600,
  thinkMs: [0, 20] as const,
  retryMs: [5, 30] as const,
  maxAttempts: 8,
});

type Outcome = WriteOutcome | ReadOutcome;

interface Attempt {
  readonly token: number;
  readonly node: number;
  outcome: Outcome | null;
  outcomeAt: number;
}

interface Current {
  readonly op: HistoryOp;
  readonly mode: ReadMode | null;
  readonly deadline: number;
  attempts: number;
  attempt: Attempt | null;
  /** A definite rejection is being retried at this time. */
  retryAt: number;
  retryTo: number;
}

interface Client {
  readonly id: number;
  nextAt: number;
  requests: number;
  current: Current | null;
}

export interface ClientStats {
  invoked: number;
  ok: number;
  failed: number;
  indeterminate: number;
  retries: number;
  timeouts: number;
  readsOk: number;
  leaseReadsOk: number;
  writesOk: number;
}

export class Clients {
  readonly history = new History();
  private readonly clients: Client[] = [];
  private tokens = 0;
  /** When false, idle clients start no new ops (ops in progress continue). */
  issuing = true;
  /** Nodes clients may contact; null: every node not shut down. */
  eligible: readonly number[] | null = null;
  readonly stats: ClientStats = {
    invoked: 0,
    ok: 0,
    failed: 0,
    indeterminate: 0,
    retries: 0,
    timeouts: 0,
    readsOk: 0,
    leaseReadsOk: 0,
    writesOk: 0,
  };

  constructor(
    private readonly cluster: Cluster,
    private readonly rng: Prng,
    private readonly options: ClientOptions,
  ) {
    if (options.count < 1 || options.keys.length === 0) throw new Error('Clients: need clients and keys');
    for (let i = 1; i <= options.count; i++) {
      this.clients.push({ id: i, nextAt: rng.int(0, 20), requests: 0, current: null });
    }
  }

  /** Next virtual time at which some client has something to do. */
  nextActionTime(): number {
    let t = Infinity;
    for (const c of this.clients) t = Math.min(t, this.dueAt(c));
    return t;
  }

  /** Lets every client act whose turn has come. */
  runDue(now: number): void {
    for (const c of this.clients) {
      if (this.dueAt(c) <= now) this.act(c, now);
    }
  }

  /** Ops in progress (for liveness checks). */
  inProgress(): number {
    return this.clients.filter((c) => c.current !== null).length;
  }

  /** End of run: whatever is still in progress is indeterminate. */
  closeAll(): void {
    for (const c of this.clients) {
      if (c.current === null) continue;
      this.finishUnknown(c, 'run ended');
    }
    this.history.closePending('run ended');
  }

  private dueAt(c: Client): number {
    const cur = c.current;
    if (cur === null) return this.issuing ? c.nextAt : Infinity;
    if (cur.attempt === null) return cur.retryAt;
    if (cur.attempt.outcome !== null) return cur.attempt.outcomeAt;
    return cur.deadline;
  }

  private act(c: Client, now: number): void {
    const cur = c.current;
    if (cur === null) {
      this.begin(c, now);
      return;
    }
    if (cur.attempt === null) {
      this.send(c, cur, cur.retryTo, now);
      return;
    }
    const outcome = cur.attempt.outcome;
    if (outcome === null) {
      // Deadline passed with no answer.
      this.stats.timeouts++;
      this.finishUnknown(c, `timeout at node ${cur.attempt.node}`);
      c.nextAt = now + this.rng.int(this.options.thinkMs[0], this.options.thinkMs[1]);
      return;
    }
    const at = cur.attempt.outcomeAt;
    switch (outcome.kind) {
      case 'ok': {
        const value = 'value' in outcome ? outcome.value : null;
        this.history.ok(cur.op, at, cur.op.kind === 'read' ? value : null, `node ${cur.attempt.node} index ${outcome.index}`);
        this.stats.ok++;
        if (cur.op.kind === 'read') {
          this.stats.readsOk++;
          if (cur.mode === 'lease') this.stats.leaseReadsOk++;
        } else this.stats.writesOk++;
        c.current = null;
        break;
      }
      case 'rejected': {
        if (cur.attempts < this.options.maxAttempts && at < cur.deadline) {
          this.stats.retries++;
          const hint = outcome.leader;
          cur.retryTo = hint !== 0 && hint !== cur.attempt.node && this.cluster.has(hint) ? hint : this.randomNode();
          cur.retryAt = at + this.rng.int(this.options.retryMs[0], this.options.retryMs[1]);
          cur.attempt = null;
          return;
        }
        this.history.failed(cur.op, outcome.reason);
        this.stats.failed++;
        c.current = null;
        break;
      }
      case 'unknown':
        this.finishUnknown(c, outcome.reason);
        break;
    }
    c.nextAt = at + this.rng.int(this.options.thinkMs[0], this.options.thinkMs[1]);
  }

  private begin(c: Client, now: number): void {
    const o = this.options;
    const key = this.rng.pick(o.keys);
    const isRead = this.rng.chance(o.readRatio);
    let op: HistoryOp;
    let mode: ReadMode | null = null;
    if (isRead) {
      mode = this.rng.chance(o.leaseReadRatio) ? 'lease' : 'readIndex';
      op = this.history.invoke(c.id, 'read', key, null, now);
    } else {
      c.requests++;
      const kind = this.rng.chance(o.appendRatio) ? 'append' : 'put';
      op = this.history.invoke(c.id, kind, key, uniqueValue(c.id, c.requests), now);
    }
    this.stats.invoked++;
    const cur: Current = { op, mode, deadline: now + o.timeoutMs, attempts: 0, attempt: null, retryAt: now, retryTo: 0 };
    c.current = cur;
    this.send(c, cur, this.randomNode(), now);
  }

  private send(c: Client, cur: Current, nodeId: number, now: number): void {
    cur.attempts++;
    const attempt: Attempt = { token: ++this.tokens, node: nodeId, outcome: null, outcomeAt: now };
    cur.attempt = attempt;
    const record = (outcome: Outcome): void => {
      // Ignore answers to attempts the client has moved past (timed out or retried).
      if (c.current !== cur || cur.attempt !== attempt || attempt.outcome !== null) return;
      attempt.outcome = outcome;
      attempt.outcomeAt = this.cluster.now;
    };
    const node = this.cluster.node(nodeId);
    const op = cur.op;
    if (op.kind === 'read') node.read(cur.mode!, op.key, record);
    else node.write({ client: c.id, request: c.requests, op: op.kind, key: op.key, value: op.value! }, record);
  }

  private finishUnknown(c: Client, why: string): void {
    const cur = c.current!;
    this.history.indeterminate(cur.op, why);
    this.stats.indeterminate++;
    c.current = null;
  }

  get timeoutMs(): number {
    return this.options.timeoutMs;
  }

  private randomNode(): number {
    const ids = this.eligible ?? this.cluster.nodes.filter((n) => !n.stopped).map((n) => n.id);
    return this.rng.pick(ids);
  }
}
