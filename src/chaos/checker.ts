// The consistency verdict of a chaos run: the history checked for linearizability key by
// key with the simulator's checker (src/sim/linearizability.ts, Wing & Gong with Lowe's
// improvements) against a compare-and-set register model, plus two counts that say what
// kind of failure it was: acknowledged writes lost, and writes applied twice.
import { checkLinearizable, type Model, type TimedOp } from '../sim/linearizability.ts';
import type { ChaosHistory, ChaosOp, RegisterValue } from './history.ts';

/** Search steps allowed per key before the verdict is "unknown" (the checker's own default). */
export const CHECK_BUDGET_STEPS_PER_KEY = 2_000_000;

interface RegisterOp extends TimedOp {
  readonly f: 'write' | 'read' | 'cas';
  /** write: the value; read: the value seen; cas: the new value. */
  readonly value: RegisterValue;
  /** cas only: the value it expected. */
  readonly expected: RegisterValue;
  readonly text: string;
}

const registerModel: Model<RegisterValue, RegisterOp> = {
  init: () => null,
  step(state, op) {
    switch (op.f) {
      case 'write':
        return op.value;
      case 'read':
        return op.value === state ? state : undefined;
      case 'cas':
        return op.expected === state ? op.value : undefined;
    }
  },
  hash: (state) => (state === null ? '\u0000null' : state),
};

export interface ConsistencyVerdict {
  /** linearizable, not linearizable, or unknown: the run could not be checked (a key's search
   * ran out of budget, a key's final read never succeeded, or no operation succeeded at all). */
  readonly verdict: 'linearizable' | 'not linearizable' | 'unknown';
  readonly keys: number;
  readonly opsChecked: number;
  /** Acknowledged writes that the final state shows were undone (see lostAcknowledgedWrites). */
  readonly lostAcknowledgedWrites: number;
  /** Distinct written values seen at two different revisions: applied twice. */
  readonly duplicateApplies: number;
  /** On failure: the key and the checker's counterexample; when unknown: why there is no verdict. */
  readonly failure: string | null;
}

function casValues(op: ChaosOp): [RegisterValue, RegisterValue] {
  return op.invoke.value as [RegisterValue, RegisterValue];
}

/** The ops the search looks at: completed ones, and indeterminate writes and cas. */
function registerOps(ops: readonly ChaosOp[]): RegisterOp[] {
  const out: RegisterOp[] = [];
  for (const op of ops) {
    const end = op.complete;
    if (end === null || end.type === 'fail') continue;
    const { f } = op.invoke;
    if (end.type === 'info' && f === 'read') continue; // an unknown read says nothing
    const complete = end.type === 'ok' ? end.time : Infinity;
    const text = `process ${op.invoke.process} ${f} ${JSON.stringify(end.type === 'ok' ? end.value : op.invoke.value)} (${end.type}, node ${op.invoke.node ?? '?'}, ${(op.invoke.time / 1e6).toFixed(1)}..${end.type === 'ok' ? (end.time / 1e6).toFixed(1) : '?'} ms)`;
    if (f === 'cas') {
      const [expected, value] = casValues(op);
      out.push({ f, value, expected, invoke: op.invoke.time, complete, text });
    } else {
      out.push({ f, value: (f === 'read' ? end.value : op.invoke.value) as RegisterValue, expected: null, invoke: op.invoke.time, complete, text });
    }
  }
  return out;
}

/**
 * Indeterminate writes whose value nothing observed can always be placed last (nothing
 * sees them), and placing them there keeps every read's result: dropping them changes no
 * verdict (values are unique) and keeps the search from branching on every timeout.
 */
function withoutUnobservedIndeterminate(ops: readonly RegisterOp[]): RegisterOp[] {
  const observed = new Set<RegisterValue>();
  for (const op of ops) {
    if (op.complete === Infinity) continue;
    if (op.f === 'read') observed.add(op.value);
    if (op.f === 'cas') observed.add(op.expected);
  }
  return ops.filter((op) => op.complete !== Infinity || op.f === 'read' || observed.has(op.value));
}

/**
 * Acknowledged writes (and cas) that the last successful read of their key shows undone: it
 * returned a value whose write had completed before this one was invoked (or no value at
 * all), although this one was acknowledged before that read began.
 */
export function lostAcknowledgedWrites(ops: readonly ChaosOp[]): number {
  const writtenAt = new Map<string, { invoke: number; complete: number }>();
  const lastRead = new Map<string, { value: RegisterValue; invoke: number }>();
  for (const op of ops) {
    const end = op.complete;
    if (end?.type !== 'ok') continue;
    const key = op.invoke.key;
    if (op.invoke.f === 'read') {
      const previous = lastRead.get(key);
      if (previous === undefined || op.invoke.time > previous.invoke)
        lastRead.set(key, { value: end.value as RegisterValue, invoke: op.invoke.time });
    } else {
      const value = op.invoke.f === 'cas' ? casValues(op)[1] : (op.invoke.value as RegisterValue);
      if (value !== null) writtenAt.set(value, { invoke: op.invoke.time, complete: end.time });
    }
  }
  let lost = 0;
  for (const op of ops) {
    if (op.complete?.type !== 'ok' || op.invoke.f === 'read') continue;
    const final = lastRead.get(op.invoke.key);
    if (final === undefined || final.invoke < op.complete.time) continue;
    if (final.value === null) {
      lost += 1;
      continue;
    }
    const survivor = writtenAt.get(final.value);
    if (survivor !== undefined && survivor.complete < op.invoke.time) lost += 1;
  }
  return lost;
}

/** Values seen (by reads or in write results) at more than one _rev: each apply makes a new revision. */
export function duplicateApplies(ops: readonly ChaosOp[]): number {
  const revs = new Map<string, Set<number>>();
  for (const op of ops) {
    const end = op.complete;
    if (end?.type !== 'ok' || end.rev === undefined) continue;
    const value = op.invoke.f === 'read' ? end.value : op.invoke.f === 'cas' ? casValues(op)[1] : op.invoke.value;
    if (typeof value !== 'string') continue;
    let set = revs.get(`${op.invoke.key}\u0000${value}`);
    if (set === undefined) revs.set(`${op.invoke.key}\u0000${value}`, (set = new Set()));
    set.add(end.rev);
  }
  return [...revs.values()].filter((set) => set.size > 1).length;
}

/**
 * `unreadKeys`: keys whose final read never succeeded; without it an acknowledged write that
 * was undone at the end cannot be told from one that survived, so the verdict is at best unknown.
 */
export function checkChaosHistory(
  history: ChaosHistory,
  budgetPerKey = CHECK_BUDGET_STEPS_PER_KEY,
  unreadKeys: readonly string[] = [],
): ConsistencyVerdict {
  const byKey = new Map<string, ChaosOp[]>();
  for (const op of history.ops) {
    let list = byKey.get(op.invoke.key);
    if (list === undefined) byKey.set(op.invoke.key, (list = []));
    list.push(op);
  }
  const lost = lostAcknowledgedWrites(history.ops);
  const duplicates = duplicateApplies(history.ops);
  let opsChecked = 0;
  // Every reason the run could not be checked; any one of them makes the verdict unknown.
  const unchecked: string[] = [];
  if (!history.ops.some((op) => op.complete?.type === 'ok')) unchecked.push('no operation succeeded: nothing to check');
  if (unreadKeys.length > 0) unchecked.push(`the final read of ${unreadKeys.join(', ')} never succeeded: lost acknowledged writes cannot be counted`);
  for (const key of [...byKey.keys()].sort()) {
    const ops = withoutUnobservedIndeterminate(registerOps(byKey.get(key)!));
    opsChecked += ops.length;
    const result = checkLinearizable(ops, registerModel, budgetPerKey, (op) => op.text);
    if (result.ok) continue;
    if (result.unknown) {
      unchecked.push(`key ${key}: ${result.description}`);
      continue;
    }
    return {
      verdict: 'not linearizable',
      keys: byKey.size,
      opsChecked,
      lostAcknowledgedWrites: lost,
      duplicateApplies: duplicates,
      failure: `key ${key}: ${result.description}`,
    };
  }
  // A lost write or a double apply is a failure even where the search found a linearization
  // (it cannot: both contradict the register; counted independently, as a second witness).
  const broken = lost > 0 || duplicates > 0;
  return {
    verdict: broken ? 'not linearizable' : unchecked.length > 0 ? 'unknown' : 'linearizable',
    keys: byKey.size,
    opsChecked,
    lostAcknowledgedWrites: lost,
    duplicateApplies: duplicates,
    failure: broken ? `${lost} acknowledged write(s) lost, ${duplicates} value(s) applied twice` : unchecked.length > 0 ? unchecked.join('; ') : null,
  };
}
