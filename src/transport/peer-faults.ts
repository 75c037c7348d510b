// Network faults injected on purpose (`start --enable-fault-injection`, used by
// `collection-store chaos`): Raft traffic to and from chosen peers is dropped, or sent late.
// Nothing sets them in normal operation; then every check below is one failed Set/Map lookup.

/** Longest delay that may be injected on a link, in ms (a longer one is a partition: drop). */
export const INJECTED_DELAY_MS_MAX = 10_000;

export interface PeerFaultRules {
  /** Peers whose messages are dropped both ways (to them, and from them before the Raft core). */
  readonly drop: readonly number[];
  /** Extra delay in ms on messages this node sends to each listed peer. */
  readonly delayMs: Readonly<Record<number, number>>;
}

export class PeerFaults {
  private dropped = new Set<number>();
  private delays = new Map<number, number>();
  /** Messages dropped by a rule, for the chaos report and tests. */
  droppedMessages = 0;

  set(rules: PeerFaultRules): void {
    for (const [peer, ms] of Object.entries(rules.delayMs)) {
      if (!(Number.isSafeInteger(ms) && ms >= 0 && ms <= INJECTED_DELAY_MS_MAX))
        throw new RangeError(`delay to ${peer}: 0 to ${INJECTED_DELAY_MS_MAX} ms`);
    }
    this.dropped = new Set(rules.drop);
    this.delays = new Map(Object.entries(rules.delayMs).map(([peer, ms]) => [Number(peer), ms]));
  }

  clear(): void {
    this.set({ drop: [], delayMs: {} });
  }

  rules(): PeerFaultRules {
    return { drop: [...this.dropped].sort((a, b) => a - b), delayMs: Object.fromEntries(this.delays) };
  }

  /** True when traffic with `peer` must be dropped (and counts it). */
  drops(peer: number): boolean {
    if (!this.dropped.has(peer)) return false;
    this.droppedMessages += 1;
    return true;
  }

  /** The injected delay in ms for messages to `peer` (0: none). */
  delayTo(peer: number): number {
    return this.delays.get(peer) ?? 0;
  }
}
