// Scripted scenarios: the simulator's random faults rarely line up into the paper's Figure 8,
// so this script builds it on purpose (with a lossy network, random timing from the seed),
// and checks that nothing committed is lost. With the commitPreviousTermEntries bug the
// invariants must catch it; with a correct core every seed passes.

import type { RaftBugs } from '../raft/types.ts';
import { Simulation, type SimStats } from './run.ts';

export interface ScenarioOptions {
  readonly seed: number;
  readonly bugs?: RaftBugs;
  readonly fullTrace?: boolean;
}

/**
 * Figure 8 (Raft paper, section 5.4.2), 5 nodes:
 *  1. leader A (term a) appends entry e at index i, replicated only to B (partition {A,B}).
 *  2. A crashes; B is cut off; {C,D,E} elect F (term b), which is cut off at once, so its
 *     own entry at index i (its no-op, term b) stays on F alone; F crashes.
 *  3. A restarts; {A,B,C,D,E}\\F elect G (A or B, term c), which re-replicates e (term a).
 *     A correct G does not commit e by counting replicas; a buggy one does. The moment G's
 *     commit index reaches i, G crashes and F returns: F (last term b) can win votes from
 *     nodes that hold e but not G's no-op, and overwrite index i.
 * Returns run statistics; throws SimulationFailure when a check fails.
 */
export function figure8Scenario(options: ScenarioOptions): SimStats {
  const sim = new Simulation({
    seed: options.seed,
    nodes: 5,
    profile: 'figure8',
    bugs: options.bugs,
    // One entry per AppendEntries: a follower can hold e without G's no-op after it.
    timing: { maxEntriesPerMessage: 1 },
    clients: { count: 1, readRatio: 0.5 },
    snapshotEvery: 0,
    fullTrace: options.fullTrace ?? false,
  });
  try {
    script(sim);
    sim.healAll();
    sim.awaitLiveness(4000);
    return sim.finish();
  } catch (error) {
    throw sim.wrap(error);
  }
}

function script(sim: Simulation): void {
  const { cluster, trace } = sim;
  const net = cluster.network;
  sim.clients.issuing = false; // only scripted writes: keeps the indexes predictable
  net.setFaults({ dropRate: 0.05, duplicateRate: 0.05, minDelay: 1, maxDelay: 6, reorderRate: 0.1, longDelay: 20 });
  const ids = [1, 2, 3, 4, 5];
  if (!sim.waitFor(() => cluster.leader() !== null, 2000, 5)) return;
  const a = cluster.leader()!.id;
  sim.submitWrite(a, 'x');
  sim.waitFor(() => cluster.nodes.every((n) => n.kv.get('x') !== null), 500, 5);

  // 1. e on {A, B} only.
  const others = ids.filter((id) => id !== a);
  const b = others[sim.now % others.length]!;
  const rest = others.filter((id) => id !== b);
  net.partition([[a, b], rest]);
  trace.add(sim.now, `FIG8 step 1: A=${a} B=${b}`);
  const i = cluster.node(a).core!.status().lastIndex + 1;
  sim.submitWrite(a, 'x');
  if (!sim.waitFor(() => cluster.node(b).disk.lastIndex >= i, 300)) return;

  // 2. A crashes, B is cut off, {C,D,E} elect F, which is isolated at once and crashes.
  cluster.crash(a, 'now');
  net.heal();
  net.isolate(b, ids);
  const electedF = sim.waitFor(() => {
    const l = cluster.leader();
    return l !== null && rest.includes(l.id);
  }, 3000);
  if (!electedF) return;
  const f = cluster.leader()!.id;
  net.isolate(f, ids);
  trace.add(sim.now, `FIG8 step 2: F=${f} isolated`);
  sim.submitWrite(f, 'x');
  sim.runFor(5);
  cluster.crash(f, 'now');

  // 3. A restarts; everyone but F elects G; the moment G commits index i, G crashes and F returns.
  net.heal();
  cluster.restart(a);
  const electedG = sim.waitFor(() => {
    const l = cluster.leader();
    return l !== null && l.id !== f && l.term > cluster.node(f).disk.hardState.term;
  }, 3000);
  if (!electedG) return;
  const g = cluster.leader()!;
  trace.add(sim.now, `FIG8 step 3: G=${g.id} term ${g.term}`);
  if (!sim.waitFor(() => !g.alive || g.core!.status().commitIndex >= i, 1000)) return;
  if (!g.alive) return;
  // G's messages still in flight die with it (cut its links, then crash it). B, which holds
  // G's no-op, is cut off too: F then needs exactly the two nodes other than A, B and F.
  net.isolate(g.id, ids);
  cluster.crash(g.id, 'now');
  const partner = g.id === a ? b : a;
  net.isolate(partner, ids);
  cluster.restart(f);
  trace.add(sim.now, `FIG8 step 4: G crashed at commit ${i}, ${partner} cut off, F back`);
  sim.waitFor(() => {
    const l = cluster.leader();
    return l !== null && l.id !== g.id && l.kv.applied >= i;
  }, 2000);
  net.heal();
  cluster.restart(g.id);
  sim.runFor(300);
}
