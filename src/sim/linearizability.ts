// Linearizability checking: Wing & Gong's search with Lowe's improvements (the
// just-in-time linearisation over a linked list of call/return events, and a cache of
// (set of linearized ops, model state) pairs already explored), applied to each key on
// its own: a key-value store is linearizable iff each key's sub-history is
// (P-compositionality, Herlihy & Wing's locality).
//
// Indeterminate writes have their return at +Infinity, so the search may place them
// anywhere after their call, including after every other op (= "never took effect").
// Indeterminate reads and failed ops say nothing and are left out.

import { describeOp, type HistoryOp } from './history.ts';

/** A sequential specification: `step` returns the next state, or undefined when the op's
 * observed result is impossible from `state`. States must be comparable through `hash`. */
export interface Model<S, O> {
  init(): S;
  step(state: S, op: O): S | undefined;
  hash(state: S): string;
}

export interface TimedOp {
  readonly invoke: number;
  readonly complete: number; // +Infinity when the outcome is unknown
}

export type CheckResult =
  | { readonly ok: true; readonly explored: number }
  | { readonly ok: false; readonly unknown: false; readonly explored: number; readonly description: string }
  | { readonly ok: false; readonly unknown: true; readonly explored: number; readonly description: string };

interface Event {
  readonly kind: 'call' | 'return';
  readonly op: number; // index into the ops array
  readonly time: number;
  prev: Event | null;
  next: Event | null;
  match: Event | null; // call -> its return
}

/**
 * Checks one sub-history against a model. Returns the largest linearizable prefix set on
 * failure. `budget` bounds the number of search steps (result `unknown` when exceeded).
 */
export function checkLinearizable<S, O extends TimedOp>(
  ops: readonly O[],
  model: Model<S, O>,
  budget = 2_000_000,
  describe: (op: O) => string = (op) => JSON.stringify(op),
): CheckResult {
  const n = ops.length;
  if (n === 0) return { ok: true, explored: 0 };
  for (const op of ops) {
    if (!(op.complete >= op.invoke)) throw new Error(`checkLinearizable: op completes before it is invoked: ${describe(op)}`);
  }

  // Events in time order; at equal times calls come first, so ops that touch at an
  // instant count as concurrent (never reject a history on a timing tie).
  const events: Event[] = [];
  for (let i = 0; i < n; i++) {
    const op = ops[i]!;
    const call: Event = { kind: 'call', op: i, time: op.invoke, prev: null, next: null, match: null };
    const ret: Event = { kind: 'return', op: i, time: op.complete, prev: null, next: null, match: null };
    call.match = ret;
    events.push(call, ret);
  }
  events.sort((x, y) => {
    if (x.time !== y.time) return x.time < y.time ? -1 : 1;
    if (x.kind !== y.kind) return x.kind === 'call' ? -1 : 1;
    return x.op - y.op;
  });
  const head: Event = { kind: 'call', op: -1, time: -Infinity, prev: null, next: null, match: null };
  let tail = head;
  for (const e of events) {
    tail.next = e;
    e.prev = tail;
    tail = e;
  }

  const lift = (call: Event): void => {
    call.prev!.next = call.next;
    if (call.next) call.next.prev = call.prev;
    const ret = call.match!;
    ret.prev!.next = ret.next;
    if (ret.next) ret.next.prev = ret.prev;
  };
  const unlift = (call: Event): void => {
    const ret = call.match!;
    ret.prev!.next = ret;
    if (ret.next) ret.next.prev = ret;
    call.prev!.next = call;
    if (call.next) call.next.prev = call;
  };

  const words = Math.ceil(n / 32);
  const linearized = new Uint32Array(words);
  const cache = new Map<string, Set<string>>();
  const stack: { call: Event; state: S }[] = [];
  let state = model.init();
  let entry: Event | null = head.next;
  let explored = 0;
  let best: number[] = [];

  while (head.next !== null) {
    if (++explored > budget) {
      return {
        ok: false,
        unknown: true,
        explored,
        description: `search budget of ${budget} steps exhausted on ${n} ops (no verdict)`,
      };
    }
    if (entry === null) throw new Error('checkLinearizable: ran off the event list');
    if (entry.kind === 'call') {
      const op = ops[entry.op]!;
      const next = model.step(state, op);
      if (next !== undefined) {
        const w = entry.op >>> 5;
        const bit = 1 << (entry.op & 31);
        linearized[w]! |= bit;
        const setKey = linearized.join(',');
        const stateKey = model.hash(next);
        let seen = cache.get(setKey);
        if (seen === undefined) {
          seen = new Set();
          cache.set(setKey, seen);
        }
        if (!seen.has(stateKey)) {
          seen.add(stateKey);
          stack.push({ call: entry, state });
          state = next;
          lift(entry);
          if (stack.length > best.length) best = stack.map((s) => s.call.op);
          entry = head.next;
          continue;
        }
        linearized[w]! &= ~bit;
      }
      entry = entry.next;
    } else {
      // A return reached before its op was linearized: backtrack.
      const top = stack.pop();
      if (top === undefined) {
        return { ok: false, unknown: false, explored, description: describeFailure(ops, best, describe) };
      }
      state = top.state;
      linearized[top.call.op >>> 5]! &= ~(1 << (top.call.op & 31));
      unlift(top.call);
      entry = top.call.next;
    }
  }
  return { ok: true, explored };
}

function describeFailure<O extends TimedOp>(ops: readonly O[], best: number[], describe: (op: O) => string): string {
  const inBest = new Set(best);
  const lines = [
    `no linearization of ${ops.length} ops; longest linearizable prefix has ${best.length}:`,
    ...best.map((i, k) => `  ${k + 1}. ${describe(ops[i]!)}`),
    'ops that could not be placed after it:',
  ];
  const rest = ops
    .map((op, i) => ({ op, i }))
    .filter(({ i }) => !inBest.has(i))
    .sort((x, y) => x.op.invoke - y.op.invoke)
    .slice(0, 40);
  for (const { op } of rest) lines.push(`  - ${describe(op)}`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------
// The key-value register used by the simulator: put replaces, append concatenates,
// read returns the current value (null when never written).

type KvState = string | null;

export const kvRegisterModel: Model<KvState, HistoryOp> = {
  init: () => null,
  step(state, op) {
    switch (op.kind) {
      case 'put':
        return op.value!;
      case 'append':
        return (state ?? '') + op.value!;
      case 'read':
        return op.result === state ? state : undefined;
    }
  },
  hash: (state) => (state === null ? '\u0000null' : state),
};

export interface HistoryCheck {
  readonly ok: boolean;
  /** True when some key's search ran out of budget (neither pass nor fail). */
  readonly unknown: boolean;
  readonly keys: number;
  readonly opsChecked: number;
  readonly explored: number;
  /** Distinct writes that reads saw applied twice (each one a failure). */
  readonly duplicateApplies: number;
  /** On failure: the key and the counterexample. */
  readonly failure?: { readonly key: string; readonly description: string };
}

/** Which ops the checker looks at: completed ops and indeterminate writes. */
export function relevantOps(ops: readonly HistoryOp[]): HistoryOp[] {
  return ops.filter((op) => op.status === 'ok' || (op.status === 'indeterminate' && op.kind !== 'read'));
}

/**
 * Drops indeterminate writes whose value no completed read ever saw. Sound and complete for
 * the register model: such a write can always be linearized last (after every other op, where
 * nothing observes it), and if a linearization with it exists, removing it keeps every read's
 * result (a read after it, before the next put, would have seen its value). Without this, each
 * timed-out append would stay concurrent with the rest of the history and blow up the search.
 * Values must be self-delimiting (no value is a substring of another), as the simulator's are.
 */
export function withoutUnobservedIndeterminateWrites(ops: readonly HistoryOp[]): HistoryOp[] {
  const seen = new Map<string, string[]>();
  for (const op of ops) {
    if (op.kind === 'read' && op.status === 'ok' && op.result !== null) {
      let list = seen.get(op.key);
      if (list === undefined) seen.set(op.key, (list = []));
      list.push(op.result);
    }
  }
  return ops.filter((op) => {
    if (op.kind === 'read' || op.status !== 'indeterminate') return true;
    const reads = seen.get(op.key);
    return reads !== undefined && reads.some((r) => r.includes(op.value!));
  });
}

export interface DuplicateApply {
  /** The write's id, "client.request". */
  readonly id: string;
  readonly detail: string;
}

const UNIQUE_VALUE = /\[(\d+\.\d+)\]/g;

/**
 * Writes that a completed read saw applied twice: a unique value ("[client.request]", see
 * kv.ts) appearing twice in one key's value, which only a second apply of the same append
 * can produce. Independent of the linearization search (which would reject such a read too,
 * without saying why).
 */
export function duplicatesSeenByReads(ops: readonly HistoryOp[]): DuplicateApply[] {
  const found = new Map<string, DuplicateApply>();
  for (const op of ops) {
    if (op.kind !== 'read' || op.status !== 'ok' || op.result === null) continue;
    const seen = new Set<string>();
    for (const m of op.result.matchAll(UNIQUE_VALUE)) {
      const id = m[1]!;
      if (!seen.has(id)) {
        seen.add(id);
        continue;
      }
      if (!found.has(id)) {
        found.set(id, { id, detail: `write ${id} applied twice: read ${describeOp(op)} saw [${id}] twice` });
      }
    }
  }
  return [...found.values()];
}

/** Checks a whole key-value history, key by key. Pending ops must have been closed. */
export function checkKvHistory(ops: readonly HistoryOp[], budgetPerKey = 2_000_000): HistoryCheck {
  const byKey = new Map<string, HistoryOp[]>();
  for (const op of ops) {
    if (op.status === 'pending') throw new Error(`checkKvHistory: op ${op.id} is still pending`);
  }
  const duplicates = duplicatesSeenByReads(ops);
  if (duplicates.length > 0) {
    const first = duplicates[0]!;
    return {
      ok: false,
      unknown: false,
      keys: 0,
      opsChecked: 0,
      explored: 0,
      duplicateApplies: duplicates.length,
      failure: {
        key: ops.find((op) => op.kind !== 'read' && op.value === `[${first.id}]`)?.key ?? '?',
        description: `duplicate apply: ${duplicates.length} write(s) applied twice, e.g. ${first.detail}`,
      },
    };
  }
  for (const op of withoutUnobservedIndeterminateWrites(relevantOps(ops))) {
    let list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, (list = []));
    list.push(op);
  }
  let explored = 0;
  let opsChecked = 0;
  let unknown = false;
  for (const key of [...byKey.keys()].sort()) {
    const list = byKey.get(key)!;
    opsChecked += list.length;
    const result = checkLinearizable(list, kvRegisterModel, budgetPerKey, describeOp);
    explored += result.explored;
    if (!result.ok) {
      if (result.unknown) {
        unknown = true;
        continue;
      }
      return {
        ok: false,
        unknown: false,
        keys: byKey.size,
        opsChecked,
        explored,
        duplicateApplies: 0,
        failure: { key, description: `key ${JSON.stringify(key)}: ${result.description}` },
      };
    }
  }
  return { ok: true, unknown, keys: byKey.size, opsChecked, explored, duplicateApplies: 0 };
}
