// The write path of a RaftNode: a leader with room proposes a command at once;
// validated inserts queue in the InsertCoalescer and share the next entry;
// anything else waits for room or a leader, or is forwarded to the leader.
// Each write resolves with its command's result once applied here.
import type { Logger } from 'pino';
import type { RaftCore } from '../raft/index.ts';
import type { RaftStatus } from '../raft/types.ts';
import { APPLY_RULES_VERSION, type Command, type CommandResult } from '../store/commands.ts';
import { sessionKey, type IdempotencyTag, type SessionLookup } from '../store/sessions.ts';
import { StoreError } from '../store/errors.ts';
import type { ExecuteOptions } from './backend.ts';
import type { ApplyPacing } from './apply-pacing.ts';
import { encodeCommand } from './command-codec.ts';
import type { ForwardedReply, ForwardedRequest } from './node-forwarding.ts';
import type { InsertCoalescer } from './insert-coalescer.ts';
import type { PendingProposals } from './pending-proposals.ts';
import { LOG_CLOCK_STEP_MS_MAX } from '../store/sessions.ts';
import { LogLimiter } from '../transport/log-limiter.ts';
import type { WriteTrace } from './write-trace.ts';

/** Writes appended and not yet applied, at most; more wait (bounded memory under overload). */
export const MAX_PENDING_PROPOSALS = 65_536;

/** A leader whose clock (Date.now()) is this far behind or ahead of the applied log clock
 * when it stamps an entry logs a warning: behind, its stamps are the log clock's (time stands
 * still while it leads); ahead, each entry moves the log clock by LOG_CLOCK_STEP_MS_MAX at
 * most (expected for the first writes after an idle period of the cluster). */
export const LOG_CLOCK_SKEW_WARN_MS = 5 * 60_000;
/** The clock warning is logged at most once per this period (the rest are counted). */
export const LOG_CLOCK_WARN_PERIOD_MS = 60_000;

export interface Proposed {
  readonly index: number;
  readonly result: Promise<CommandResult>;
}

/** What the write path needs from the node that drives the core. */
export interface WriteHost {
  readonly requestTimeoutMs: number;
  readonly logger: Logger;
  /** Where sampled writes spend their time; null: off. */
  readonly trace?: WriteTrace | null;
  /** The applied state's log clock (Store.logTimeMs): stamps never go behind it. */
  logTimeMs(): number;
  /** The applied state's session table (Store.sessions.lookup): whether a key's result is recorded. */
  sessionLookup(tag: IdempotencyTag): SessionLookup;
  /** The core (made with the node: never missing). */
  core(): Pick<RaftCore, 'acceptsProposals' | 'propose' | 'currentTerm'>;
  coreStatus(): RaftStatus;
  isClosed(): boolean;
  hasFailed(): boolean;
  assertUsable(): void;
  guarded<T>(call: () => T): T;
  scheduleReady(): void;
  forward(leader: number, request: ForwardedRequest, deadline: number): Promise<ForwardedReply>;
  waitApplied(index: number, deadline: number): Promise<void>;
  waitForLeaderChange(deadline: number): Promise<void>;
}

/** A keyed write under way on this node: a retry with its key waits for it (keyed-writes). */
interface KeyedWrite {
  readonly digest: string;
  readonly result: Promise<CommandResult>;
}

export class WritePath {
  /** The last time stamped on an entry proposed here (ms): stamps never go back. */
  private lastStampMs = 0;
  /** Keyed writes executing here, by session key: at most one per key, each removed when it
   * settles, so bounded by the writes in flight. */
  private readonly keyedInFlight = new Map<string, KeyedWrite>();
  /** Rate-limits the clock warning (stamp): one line per LOG_CLOCK_WARN_PERIOD_MS. */
  private readonly clockWarnings: LogLimiter;

  constructor(
    private readonly host: WriteHost,
    private readonly proposals: PendingProposals,
    private readonly inserts: InsertCoalescer,
    private readonly pacing: ApplyPacing,
  ) {
    this.clockWarnings = new LogLimiter(host.logger, 1, LOG_CLOCK_WARN_PERIOD_MS);
  }

  /**
   * Executes a write; a keyed one (an idempotency tag) whose key is already executing here
   * waits for that write instead of proposing a second entry: the state machine would apply
   * nothing for it anyway, and answer the first result (or IDEMPOTENCY_KEY_REUSED). When the
   * first one fails without a result (not made, or its outcome unknown), this one proposes.
   */
  execute(command: Command, options: ExecuteOptions = {}): Promise<CommandResult> {
    return this.executeBy(command, options, Date.now() + this.host.requestTimeoutMs);
  }

  /** execute, with the request's deadline (a wait for a keyed write in flight spends it too). */
  private executeBy(command: Command, options: ExecuteOptions, deadline: number): Promise<CommandResult> {
    const tag = command.type === 'batch' ? undefined : (command as { idempotency?: IdempotencyTag }).idempotency;
    if (tag === undefined) return this.executeNow(command, options, deadline);
    const key = sessionKey(tag);
    const earlier = this.keyedInFlight.get(key);
    if (earlier !== undefined) return this.afterEarlier(earlier, tag, command, options, deadline);
    const result = this.executeNow(command, options, deadline);
    const mine: KeyedWrite = { digest: tag.digest, result };
    this.keyedInFlight.set(key, mine);
    const done = (): void => {
      if (this.keyedInFlight.get(key) === mine) this.keyedInFlight.delete(key);
    };
    result.then(done, done);
    return result;
  }

  /**
   * A keyed write whose key is executing here already: waits for that write until its own
   * deadline (then COMMIT_UNKNOWN, as a proposal that timed out: the earlier write may still
   * apply). Its result is this one's, replayed, only when it came from the session table
   * (recorded, so any later entry with the key gets it too); a result the state machine did
   * not record (refused at apply before anything ran) or a failure leaves this write to
   * propose its own entry.
   */
  private async afterEarlier(
    earlier: KeyedWrite,
    tag: IdempotencyTag,
    command: Command,
    options: ExecuteOptions,
    deadline: number,
  ): Promise<CommandResult> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()));
    });
    let result: CommandResult | 'timeout';
    try {
      result = await Promise.race([earlier.result, timedOut]);
    } catch {
      return this.executeBy(command, options, deadline);
    } finally {
      clearTimeout(timer);
    }
    if (result === 'timeout') {
      throw new StoreError(
        'COMMIT_UNKNOWN',
        'a write with this Idempotency-Key in flight on this node did not finish in time; its outcome is unknown',
      );
    }
    if (!result.ok && result.error.code === 'IDEMPOTENCY_KEY_REUSED') return this.executeBy(command, options, deadline);
    if (earlier.digest !== tag.digest) {
      return {
        ok: false,
        error: { code: 'IDEMPOTENCY_KEY_REUSED', message: `Idempotency-Key ${JSON.stringify(tag.key)} was used for a different request` },
      };
    }
    const recorded = result.replayed === true || this.host.sessionLookup(tag).kind === 'replay';
    return recorded ? { ...result, replayed: true } : this.executeBy(command, options, deadline);
  }

  private executeNow(command: Command, options: ExecuteOptions, deadline: number): Promise<CommandResult> {
    const host = this.host;
    // The common case, a leader with room for one more write, proposes at once; inserts
    // join the next shared entry (proposed when the next Ready is cut).
    if (!host.isClosed() && !host.hasFailed() && host.core().acceptsProposals() && this.proposals.hasRoom()) {
      if (options.validated === true && command.type === 'insert' && this.inserts.inFlight < MAX_PENDING_PROPOSALS) {
        const result = this.inserts.add(command, deadline);
        host.scheduleReady();
        return result;
      }
      const proposed = this.proposeNow(command, deadline, options.validated === true);
      if (proposed !== null) return proposed.result;
    }
    return this.executeEventually(command, options, deadline);
  }

  /** Proposes the inserts queued so far, in order, a group per entry. A group that cannot
   * be proposed here now (leadership lost, no room) takes the slow path as one command. */
  proposeQueuedInserts(): void {
    if (!this.inserts.hasWork()) return;
    const deadline = Date.now() + this.host.requestTimeoutMs;
    for (const group of this.inserts.take(this.pacing.groupLimit(this.inserts.inFlight))) {
      try {
        const here = !this.host.hasFailed() && !this.host.isClosed() && this.host.core().acceptsProposals() && this.proposals.hasRoom();
        const proposed = here ? this.proposeNow(group.command, deadline, true) : null;
        group.settle(proposed !== null ? proposed.result : this.executeEventually(group.command, { validated: true }, deadline));
      } catch (error) {
        // A broken invariant in the core (the node stops) or an unencodable command: this
        // group fails, the ones after it are still proposed or failed in turn.
        group.settle(Promise.reject(error instanceof Error ? error : new Error(String(error))));
      }
    }
  }

  /** Inserts queued and never proposed: they were not made. */
  failQueuedInserts(error: Error): void {
    for (const group of this.inserts.take(Infinity)) group.settle(Promise.reject(error));
  }

  /** Waits for room, a leader, or forwards to the leader, until the request times out. */
  private async executeEventually(command: Command, options: ExecuteOptions, deadline: number): Promise<CommandResult> {
    for (;;) {
      this.host.assertUsable();
      const status = this.host.coreStatus();
      if (status.role === 'leader') {
        const proposed = await this.propose(command, deadline, options.validated === true);
        if (proposed !== null) return proposed.result;
      } else if (status.leader !== 0) {
        const reply = await this.host.forward(status.leader, { type: 'execute', command }, deadline);
        if ('result' in reply) {
          // Read-your-writes on this node: wait (bounded) until it has applied the entry too.
          await this.host.waitApplied(reply.index, deadline).catch(() => {});
          return reply.result;
        }
      }
      await this.host.waitForLeaderChange(deadline);
    }
  }

  /** proposeNow, once there is room for one more write in flight. */
  async propose(command: Command, deadline: number, validated: boolean): Promise<Proposed | null> {
    // Bound the writes in flight: beyond, callers wait for a slot instead of growing memory.
    await this.proposals.room(deadline);
    this.host.assertUsable();
    return this.proposeNow(command, deadline, validated);
  }

  /** Appends the command if this node leads (null otherwise); `result` settles once the
   * entry is applied here, or fails. */
  private proposeNow(command: Command, deadline: number, validated: boolean): Proposed | null {
    // Queued inserts were asked for first: they go into the log first.
    if (this.inserts.hasWork()) this.proposeQueuedInserts();
    const stamped = this.stamp(command);
    const data = encodeCommand(stamped);
    const core = this.host.core();
    if (!core.acceptsProposals()) return null;
    const index = this.host.guarded(() => core.propose(data));
    if (index === null) return null;
    this.host.trace?.proposed(index);
    this.host.scheduleReady();
    // An insert whose documents were validated and copied for this write is applied here as
    // the object it is (its bytes decode to an equal one on every replica); anything else
    // is decoded from the log like on every other node.
    const reuse = validated && (stamped.type === 'insert' || stamped.type === 'batch') ? stamped : undefined;
    return { index, result: this.proposals.track(index, core.currentTerm(), deadline, reuse) };
  }

  /**
   * The command as this leader appends it: with the log's time, by this node's clock, never
   * behind an earlier stamp or the applied log clock (a new leader's clock may be behind
   * the old one's). Whatever time a forwarded command carried is replaced.
   */
  private stamp(command: Command): Command {
    const nowMs = Date.now();
    const logTimeMs = this.host.logTimeMs();
    this.warnIfSkewed(nowMs, logTimeMs);
    this.lastStampMs = Math.max(this.lastStampMs, nowMs, logTimeMs);
    // The leader's id too: history records name the node that proposed each change.
    // And the apply rules it is proposed under (APPLY_RULES_VERSION).
    return { ...command, timeMs: this.lastStampMs, nodeId: this.host.coreStatus().id, rules: APPLY_RULES_VERSION };
  }

  /** The log clock decides when idempotency records expire (store/sessions.ts): a leader
   * whose clock is far from it is worth an operator's look (rate-limited). */
  private warnIfSkewed(nowMs: number, logTimeMs: number): void {
    if (logTimeMs === 0) return;
    const aheadMs = nowMs - logTimeMs;
    if (aheadMs < -LOG_CLOCK_SKEW_WARN_MS) {
      this.clockWarnings.warn(
        { behindMs: -aheadMs, logTimeMs },
        "this node's clock is behind the log clock: its entries are stamped with the log clock's time, which stands still while it leads (check the clocks of this node and of earlier leaders)",
      );
    } else if (aheadMs > LOG_CLOCK_SKEW_WARN_MS) {
      this.clockWarnings.warn(
        { aheadMs, logTimeMs, stepMsMax: LOG_CLOCK_STEP_MS_MAX },
        "this node's clock is ahead of the log clock: each entry moves the log clock forward by at most stepMsMax (expected for the first writes after the cluster was idle; otherwise check this node's clock)",
      );
    }
  }
}
