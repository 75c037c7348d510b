// Shrinking a failing seed: replays it with fewer things and keeps whatever still fails with
// the same kind of failure. First the recorded fault events (delta debugging, Zeller's ddmin,
// over the list the injector recorded), then the setting: lossless links, 3 nodes, fewer
// clients and keys, a shorter fault phase; then the events once more. Bounded by a number of
// replays and a time budget. The result prints as a script (script.ts) that replays it.

import type { FaultEvent } from './fault-injector.ts';
import { RELIABLE_LINKS } from './network.ts';
import { trySimulation, type SimOptions, type SimulationFailure } from './run.ts';

export interface ShrinkBudget {
  readonly replays: number;
  readonly ms: number;
}

export const DEFAULT_SHRINK_BUDGET: ShrinkBudget = Object.freeze({ replays: 200, ms: 30_000 });

export interface ShrinkResult {
  /** The smallest setting found that still fails (faultSchedule set: it replays). */
  readonly options: SimOptions;
  readonly failure: SimulationFailure;
  readonly eventsBefore: number;
  readonly eventsAfter: number;
  readonly replays: number;
  /** False when replaying the recorded events did not fail again (the run is reported as is). */
  readonly reproduced: boolean;
  /** The setting simplifications that were kept, e.g. "lossless links". */
  readonly simplified: readonly string[];
}

/** Shrinks `failure`, a failure of a run with `options` (profile given by name). */
export function shrinkFailure(options: SimOptions, failure: SimulationFailure, budget: ShrinkBudget = DEFAULT_SHRINK_BUDGET): ShrinkResult {
  const started = performance.now();
  let replays = 0;
  const outOfBudget = (): boolean => replays >= budget.replays || performance.now() - started > budget.ms;
  /** The failure when `o` fails the same way, else null. */
  const failsSame = (o: SimOptions): SimulationFailure | null => {
    replays++;
    const r = trySimulation(o);
    return !r.ok && r.failure.kind === failure.kind ? r.failure : null;
  };

  const eventsBefore = failure.faultEvents.length;
  let best: SimOptions = { ...options, faultSchedule: failure.faultEvents };
  let bestFailure = failsSame(best);
  if (bestFailure === null) {
    return { options: best, failure, eventsBefore, eventsAfter: eventsBefore, replays, reproduced: false, simplified: [] };
  }
  const simplified: string[] = [];

  const ddmin = (): void => {
    let events = [...(best.faultSchedule ?? [])];
    let chunks = 2;
    while (events.length > 0 && !outOfBudget()) {
      const size = Math.ceil(events.length / chunks);
      let reduced = false;
      for (let start = 0; start < events.length && !outOfBudget(); start += size) {
        const candidate = [...events.slice(0, start), ...events.slice(start + size)];
        const f = failsSame({ ...best, faultSchedule: candidate });
        if (f !== null) {
          events = candidate;
          best = { ...best, faultSchedule: candidate };
          bestFailure = f;
          chunks = Math.max(chunks - 1, 2);
          reduced = true;
          break;
        }
      }
      if (!reduced) {
        if (size <= 1) break;
        chunks = Math.min(chunks * 2, events.length);
      }
    }
  };

  ddmin();
  const lastEventAt = (o: SimOptions): number => Math.max(0, ...(o.faultSchedule ?? []).map((e) => e.at));
  const tries: [string, (o: SimOptions) => SimOptions][] = [
    ['lossless links', (o) => ({ ...o, links: RELIABLE_LINKS })],
    ['3 nodes', (o) => ({ ...o, nodes: 3, faultSchedule: onlyNodes(o.faultSchedule ?? [], 3) })],
    ['1 client, 1 key', (o) => ({ ...o, clients: { ...o.clients, count: 1, keys: ['a'] } })],
    ['2 clients, 1 key', (o) => ({ ...o, clients: { ...o.clients, count: 2, keys: ['a'] } })],
    ['shorter fault phase', (o) => ({ ...o, durationMs: Math.min(o.durationMs ?? 3000, lastEventAt(o) + 300) })],
  ];
  for (const [name, change] of tries) {
    if (outOfBudget()) break;
    if (name === '2 clients, 1 key' && simplified.includes('1 client, 1 key')) continue;
    const candidate = change(best);
    const f = failsSame(candidate);
    if (f !== null) {
      best = candidate;
      bestFailure = f;
      simplified.push(name);
    }
  }
  ddmin();
  return {
    options: best,
    failure: bestFailure,
    eventsBefore,
    eventsAfter: best.faultSchedule?.length ?? 0,
    replays,
    reproduced: true,
    simplified,
  };
}

/** The events that name only nodes 1..n (partitions keep their links among those nodes). */
function onlyNodes(events: readonly FaultEvent[], n: number): FaultEvent[] {
  const out: FaultEvent[] = [];
  for (const e of events) {
    switch (e.type) {
      case 'partition':
        out.push({ ...e, cuts: e.cuts.filter(([a, b]) => a <= n && b <= n) });
        break;
      case 'conf':
        // Servers above the founders join by membership changes: keep those.
        out.push(e);
        break;
      case 'transfer':
        if (e.to <= n) out.push(e);
        break;
      case 'heal':
        out.push(e);
        break;
      default:
        if (e.node <= n) out.push(e);
    }
  }
  return out;
}
