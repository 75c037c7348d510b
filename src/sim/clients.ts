// Simulated clients: each runs one operation at a time against a random node (closed loop;
// with stickyRate, mostly the node that last served it, as the client library does),
// records it in the history, retries definite rejections elsewhere (preferring the leader
// the node named), and gives up after a timeout, recording the op as indeterminate.
// Writes whose outcome is unknown (no answer within an attempt's timeout, a node that crashed
// or lost the entry after accepting it) are retried too, with the SAME client and request id,
// on other nodes, until an answer or the op's deadline: the state machine's sessions (kv.ts)
// apply a request at most once, so a retry is safe, and more writes end ok instead of
// indeterminate. An op is 'failed' (certainly no effect) only when no attempt may have applied.
// Callbacks from nodes only record the outcome; the client acts on it at its next turn,
// so a node's step never re-enters the cluster.

import type { Cluster } from './cluster.ts';
import { History, type HistoryOp } from './history.ts';
import { duplicatesSeenByReads } from './linearizability.ts';
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
  /** Attempts per op before giving up (the op then certainly had no effect, unless an
   * attempt's outcome was unknown). */
  readonly maxAttempts: number;
  /** Retry writes whose outcome is unknown, with the same ids (false: they end indeterminate). */
  readonly retryUnknownWrites: boolean;
  /** Virtual ms a write attempt waits for an answer before it is retried elsewhere. */
  readonly writeAttemptTimeoutMs: number;
  /** Virtual ms a read attempt waits for an answer before it is retried elsewhere (a read has
   * no effect: retrying it is always safe); Infinity: it waits until the op's deadline. */
  readonly readAttemptTimeoutMs: number;
  /** Chance that a new op goes to the client's current node (the last that answered ok, or the
   * leader a rejection named) instead of a random one, as src/client/node-selector.ts does;
   * 0: every op picks a random node. A read at the node a client reached the leader through
   * is where a stale lease would show. */
  readonly stickyRate: number;
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
  retryUnknownWrites: true,
  writeAttemptTimeoutMs: 200,
  readAttemptTimeoutMs: Infinity,
  stickyRate: 0,
});

type Outcome = WriteOutcome | ReadOutcome;

/** How many more attempts a write whose outcome became unknown may make (see attemptsMax). */
const UNKNOWN_ATTEMPTS_FACTOR = 4;

interface Attempt {
  readonly token: number;
  readonly node: number;
  readonly sentAt: number;
  outcome: Outcome | null;
  outcomeAt: number;
}

interface Current {
  readonly op: HistoryOp;
  readonly mode: ReadMode | null;
  /** For writes: the request id every attempt carries. */
  readonly request: number;
  readonly deadline: number;
  attempts: number;
  attempt: Attempt | null;
  /** Some attempt's outcome was unknown: it may have applied (the op can no longer fail). */
  mayHaveApplied: boolean;
  /** An 'ok' from an earlier attempt that arrived while the client was retrying. */
  lateOk: { readonly outcome: WriteOutcome; readonly at: number; readonly node: number } | null;
  /** A definite rejection is being retried at this time. */
  retryAt: number;
  retryTo: number;
}

interface Client {
  readonly id: number;
  nextAt: number;
  requests: number;
  current: Current | null;
  /** The node the next op prefers (stickyRate): the last that answered ok, or the leader a
   * rejection named; 0 after a timeout or an unknown outcome (move on). */
  preferred: number;
}

export interface ClientStats {
  invoked: number;
  ok: number;
  failed: number;
  indeterminate: number;
  retries: number;
  /** Write retries after an unknown outcome (same client and request id). */
  unknownRetries: number;
  timeouts: number;
  readsOk: number;
  leaseReadsOk: number;
  writesOk: number;
  /** Writes whose effect was applied more than once (target 0); set by closeAll(). */
  duplicateApplies: number;
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
    unknownRetries: 0,
    timeouts: 0,
    readsOk: 0,
    leaseReadsOk: 0,
    writesOk: 0,
    duplicateApplies: 0,
  };
  /** After closeAll(): the write ids applied more than once, with where they were seen. */
  duplicates: readonly string[] = [];

  constructor(
    private readonly cluster: Cluster,
    private readonly rng: Prng,
    private readonly options: ClientOptions,
  ) {
    if (options.count < 1 || options.keys.length === 0) throw new Error('Clients: need clients and keys');
    for (let i = 1; i <= options.count; i++) {
      this.clients.push({ id: i, nextAt: rng.int(0, 20), requests: 0, current: null, preferred: 0 });
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

  /** End of run: whatever is still in progress is indeterminate; counts duplicate applies. */
  closeAll(): void {
    for (const c of this.clients) {
      if (c.current === null) continue;
      this.finishUnknown(c, 'run ended');
    }
    this.history.closePending('run ended');
    this.duplicates = this.findDuplicates();
    this.stats.duplicateApplies = this.duplicates.length;
  }

  /**
   * Writes applied twice, by two independent witnesses: each node's state machine audit (a
   * write id applied again; nodes apply the same log, so ids are merged, not added), and the
   * reads (a unique value twice in one appended value, whatever the state machine believed).
   */
  private findDuplicates(): string[] {
    const found = new Map<string, string>();
    for (const n of this.cluster.nodes) {
      for (const id of n.kv.duplicates) if (!found.has(id)) found.set(id, `write ${id} applied twice (node ${n.id}'s state machine)`);
    }
    for (const d of duplicatesSeenByReads(this.history.ops())) {
      if (!found.has(d.id)) found.set(d.id, d.detail);
    }
    return [...found.values()];
  }

  private dueAt(c: Client): number {
    const cur = c.current;
    if (cur === null) return this.issuing ? c.nextAt : Infinity;
    if (cur.lateOk !== null) return cur.lateOk.at;
    if (cur.attempt === null) return cur.retryAt;
    if (cur.attempt.outcome !== null) return cur.attempt.outcomeAt;
    if (this.retriesUnknown(cur)) return Math.min(cur.deadline, cur.attempt.sentAt + this.options.writeAttemptTimeoutMs);
    if (cur.op.kind === 'read') return Math.min(cur.deadline, cur.attempt.sentAt + this.readAttemptMs());
    return cur.deadline;
  }

  /** A write that may have applied keeps trying (through an election) until its deadline:
   * giving up leaves it indeterminate, while an answer settles it. Still bounded. */
  private attemptsMax(cur: Current): number {
    return cur.mayHaveApplied ? this.options.maxAttempts * UNKNOWN_ATTEMPTS_FACTOR : this.options.maxAttempts;
  }

  /** How long a read attempt waits before the read is asked elsewhere. After healing (once
   * `eligible` is set) a read waits for its deadline: no leader is cut off any more, and a
   * follower's ReadIndex read waits for the follower to apply the leader's commit index,
   * which under a tight flow-control draw (one entry per message, two in flight, slow disks)
   * can lag the leader by 100-200 ms. Hopping between lagging followers every 50 ms never
   * lets any of them serve it (seed 635, docs/simulation.md), though each would in time; the
   * client library too waits a whole request timeout. */
  private readAttemptMs(): number {
    return this.eligible === null ? this.options.readAttemptTimeoutMs : Infinity;
  }

  private retriesUnknown(cur: Current): boolean {
    return this.options.retryUnknownWrites && cur.op.kind !== 'read';
  }

  private act(c: Client, now: number): void {
    const cur = c.current;
    if (cur === null) {
      this.begin(c, now);
      return;
    }
    if (cur.lateOk !== null) {
      const { outcome, at, node } = cur.lateOk;
      if (outcome.kind !== 'ok') throw new Error('Clients: a late answer must be ok');
      this.history.ok(cur.op, at, null, `node ${node} index ${outcome.index} (earlier attempt)`);
      c.preferred = node;
      this.stats.ok++;
      this.stats.writesOk++;
      c.current = null;
      c.nextAt = at + this.rng.int(this.options.thinkMs[0], this.options.thinkMs[1]);
      return;
    }
    if (cur.attempt === null) {
      this.send(c, cur, cur.retryTo, now);
      return;
    }
    const outcome = cur.attempt.outcome;
    if (outcome === null) {
      if (now < cur.deadline && this.retriesUnknown(cur)) {
        // No answer yet: the entry may be in some log. Retry elsewhere with the same ids.
        this.retryUnknown(cur, now, cur.attempt.node);
        return;
      }
      if (now < cur.deadline && cur.op.kind === 'read' && cur.attempts < this.attemptsMax(cur)) {
        // A read attempt that went unanswered (a follower's ReadIndex forwarded to a leader
        // that was cut off): ask another node.
        this.stats.retries++;
        c.preferred = 0;
        cur.retryTo = this.randomNode(cur.attempt.node);
        cur.retryAt = now + this.rng.int(this.options.retryMs[0], this.options.retryMs[1]);
        cur.attempt = null;
        return;
      }
      // Deadline passed with no answer.
      this.stats.timeouts++;
      c.preferred = 0;
      this.finishUnknown(c, `timeout at node ${cur.attempt.node}`);
      c.nextAt = now + this.rng.int(this.options.thinkMs[0], this.options.thinkMs[1]);
      return;
    }
    const at = cur.attempt.outcomeAt;
    switch (outcome.kind) {
      case 'ok': {
        const value = 'value' in outcome ? outcome.value : null;
        const retried = cur.attempts > 1 ? ` (attempt ${cur.attempts})` : '';
        this.history.ok(cur.op, at, cur.op.kind === 'read' ? value : null, `node ${cur.attempt.node} index ${outcome.index}${retried}`);
        c.preferred = cur.attempt.node;
        this.stats.ok++;
        if (cur.op.kind === 'read') {
          this.stats.readsOk++;
          if (cur.mode === 'lease') this.stats.leaseReadsOk++;
        } else this.stats.writesOk++;
        c.current = null;
        break;
      }
      case 'rejected': {
        const named = outcome.leader;
        c.preferred = named !== 0 && this.cluster.has(named) ? named : 0;
        if (cur.attempts < this.attemptsMax(cur) && at < cur.deadline) {
          this.stats.retries++;
          const hint = outcome.leader;
          cur.retryTo = hint !== 0 && hint !== cur.attempt.node && this.cluster.has(hint) ? hint : this.randomNode();
          cur.retryAt = at + this.rng.int(this.options.retryMs[0], this.options.retryMs[1]);
          cur.attempt = null;
          return;
        }
        if (cur.mayHaveApplied) {
          this.finishUnknown(c, `${outcome.reason}, after an attempt with an unknown outcome`);
          break;
        }
        this.history.failed(cur.op, outcome.reason);
        this.stats.failed++;
        c.current = null;
        break;
      }
      case 'unknown':
        c.preferred = 0;
        if (cur.attempts < this.attemptsMax(cur) && at < cur.deadline && this.retriesUnknown(cur)) {
          this.retryUnknown(cur, at, cur.attempt.node);
          return;
        }
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
    const cur: Current = {
      op,
      mode,
      request: c.requests,
      deadline: now + this.timeoutMs,
      attempts: 0,
      attempt: null,
      mayHaveApplied: false,
      lateOk: null,
      retryAt: now,
      retryTo: 0,
    };
    c.current = cur;
    this.send(c, cur, this.nodeFor(c), now);
  }

  /** Schedules another attempt of a write whose last attempt's outcome is unknown. */
  private retryUnknown(cur: Current, at: number, lastNode: number): void {
    this.stats.retries++;
    this.stats.unknownRetries++;
    cur.mayHaveApplied = true;
    cur.retryTo = this.randomNode(lastNode);
    cur.retryAt = at + this.rng.int(this.options.retryMs[0], this.options.retryMs[1]);
    cur.attempt = null;
  }

  private send(c: Client, cur: Current, nodeId: number, now: number): void {
    cur.attempts++;
    const attempt: Attempt = { token: ++this.tokens, node: nodeId, sentAt: now, outcome: null, outcomeAt: now };
    cur.attempt = attempt;
    const record = (outcome: Outcome): void => {
      if (c.current !== cur || attempt.outcome !== null) return;
      if (cur.attempt !== attempt) {
        // An attempt the client moved past: only an 'ok' still tells something (the write
        // took effect, within the op's interval); take the first one.
        if (outcome.kind === 'ok' && !('value' in outcome) && cur.lateOk === null) {
          cur.lateOk = { outcome, at: this.cluster.now, node: nodeId };
        }
        attempt.outcome = outcome;
        return;
      }
      attempt.outcome = outcome;
      attempt.outcomeAt = this.cluster.now;
    };
    const node = this.cluster.node(nodeId);
    const op = cur.op;
    if (op.kind === 'read') node.read(cur.mode!, op.key, record);
    else node.write({ client: c.id, request: cur.request, op: op.kind, key: op.key, value: op.value! }, record);
  }

  private finishUnknown(c: Client, why: string): void {
    const cur = c.current!;
    this.history.indeterminate(cur.op, why);
    this.stats.indeterminate++;
    c.current = null;
  }

  /** An op's time to succeed, from its invocation. After healing (once `eligible` is set) at
   * least the default: the read themes' shorter timeout (300 ms) serves the fault phase (leave
   * a cut-off leader sooner), while after healing a follower that lags the leader under one
   * entry per message may take longer than that to serve a read (seed 3625: 304 ms). Measured
   * over seeds 1-1500 with a 5 s bound: the slowest op after healing took 544 ms, 6 seeds had
   * one above 300 ms, none above 600 ms (docs/simulation.md). */
  get timeoutMs(): number {
    return this.eligible !== null ? Math.max(this.options.timeoutMs, DEFAULT_CLIENTS.timeoutMs) : this.options.timeoutMs;
  }

  /** Where a new op goes: the client's preferred node (stickyRate), else a random one. The
   * chance is drawn only when there is a preferred node, so stickyRate 0 draws nothing. */
  private nodeFor(c: Client): number {
    const p = c.preferred;
    if (this.options.stickyRate > 0 && p !== 0 && this.mayContact(p) && this.rng.chance(this.options.stickyRate)) return p;
    return this.randomNode();
  }

  private mayContact(id: number): boolean {
    if (this.eligible !== null) return this.eligible.includes(id);
    return this.cluster.has(id) && !this.cluster.node(id).stopped;
  }

  /** A random node to contact, other than `avoid` when there is another. */
  private randomNode(avoid = 0): number {
    const all = this.eligible ?? this.cluster.nodes.filter((n) => !n.stopped).map((n) => n.id);
    const others = all.filter((id) => id !== avoid);
    return this.rng.pick(others.length > 0 ? others : all);
  }
}
