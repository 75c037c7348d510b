// Runs one fault of the schedule against the cluster: injects it, holds it, heals it, and
// records when each happened (the report marks them and measures recovery from them).
import type { ChaosCluster } from './chaos-cluster.ts';
import { sleep } from './load.ts';
import type { LeaderMonitor } from './monitor.ts';
import { pickMajority, splitMinority, type FaultKind, type FaultStep } from './scenarios.ts';

/**
 * Waits until `ms` have passed on the monotonic clock the report uses. A timer alone can end up
 * to 1 ms short of it (libuv counts timers in whole milliseconds of its loop time: about one in
 * 200 5 ms timers ended after 4.4 to 5 ms here), and CI saw a pause of 4 election timeouts
 * reported as less than that.
 */
export async function holdFor(ms: number): Promise<void> {
  const until = performance.now() + ms;
  for (let left = ms; left > 0; left = until - performance.now()) await sleep(Math.ceil(left));
}

export interface FaultRecord {
  readonly kind: FaultKind;
  /** What was done, e.g. "node 2 (leader) killed". */
  readonly description: string;
  readonly startMs: number;
  /** When the fault was fully in place (the node dead, every rule set); recovery is measured
   * with writes invoked from then on, so that one that raced the injection does not count. */
  inPlaceMs: number;
  /** When the fault was healed (the node restarted, the partition lifted); NaN: never. */
  endMs: number;
  /** Why the fault could not be carried out or healed (a crashed node that did not come back):
   * the run injects no further fault and fails (runner.ts). */
  error?: string;
}

/** A pause lasts this many election timeouts, so that the others elect a new leader meanwhile. */
const PAUSE_ELECTION_TIMEOUTS = 4;

/** How long a step holds its fault at the least, in ms (restarts come on top): a pause lasts
 * at least PAUSE_ELECTION_TIMEOUTS election timeouts, a rolling restart holds each node down. */
export function faultSpanMs(step: FaultStep, nodes: number, electionTimeoutMs: number): number {
  if (step.kind === 'pause') return pauseMs(step, electionTimeoutMs);
  if (step.kind === 'rolling_restart') return step.holdMs * nodes;
  return step.holdMs;
}

function pauseMs(step: FaultStep, electionTimeoutMs: number): number {
  return Math.max(step.holdMs, PAUSE_ELECTION_TIMEOUTS * electionTimeoutMs);
}

function others(ids: readonly number[], id: number): number[] {
  return ids.filter((other) => other !== id);
}

export async function runFault(
  step: FaultStep,
  cluster: ChaosCluster,
  monitor: LeaderMonitor,
  nowMs: () => number,
  electionTimeoutMs: number,
  onStart: (record: FaultRecord) => void,
): Promise<FaultRecord> {
  const ids = cluster.ids;
  const seen = await monitor.current();
  // With no leader known (an election under way), the fault still runs, against node ids[0],
  // and its description says so instead of calling that node the leader.
  const known = seen !== null && ids.includes(seen);
  const leader = known ? seen : ids[0]!;
  const role = (id: number): string => (id !== leader ? 'follower' : known ? 'leader' : 'no leader known');
  const followers = others(ids, leader);
  const follower = followers[Math.floor(step.pick * followers.length)] ?? leader;
  const begin = (description: string): FaultRecord => {
    const record: FaultRecord = { kind: step.kind, description, startMs: nowMs(), inPlaceMs: Number.NaN, endMs: Number.NaN };
    onStart(record);
    return record;
  };
  const placed = (record: FaultRecord): void => {
    record.inPlaceMs = nowMs();
  };
  const end = (record: FaultRecord): FaultRecord => {
    record.endMs = nowMs();
    return record;
  };
  switch (step.kind) {
    case 'leader_crash':
    case 'follower_crash': {
      const victim = step.kind === 'leader_crash' ? leader : follower;
      const record = begin(`node ${victim} (${role(victim)}) killed`);
      await cluster.crash(victim);
      placed(record);
      await holdFor(step.holdMs);
      await cluster.restart(victim);
      return end(record);
    }
    case 'pause': {
      const ms = pauseMs(step, electionTimeoutMs);
      const record = begin(`node ${leader} (${role(leader)}) paused ${ms} ms`);
      await cluster.pause(leader, ms);
      placed(record);
      await holdFor(ms);
      return end(record);
    }
    case 'leader_isolation': {
      const record = begin(`node ${leader} (${role(leader)}) cut off from ${followers.join(', ')}`);
      await cluster.partition([[leader], followers]);
      placed(record);
      await holdFor(step.holdMs);
      await cluster.heal();
      return end(record);
    }
    case 'partition': {
      const { minority, majority } = splitMinority(ids, step.pick);
      const record = begin(`partition ${minority.join(',')} | ${majority.join(',')}`);
      await cluster.partition([minority, majority]);
      placed(record);
      await holdFor(step.holdMs);
      await cluster.heal();
      return end(record);
    }
    case 'majority_loss': {
      const victims = pickMajority(ids, step.pick);
      const record = begin(`nodes ${victims.join(', ')} killed (majority)`);
      await Promise.all(victims.map((id) => cluster.crash(id)));
      placed(record);
      await holdFor(step.holdMs);
      await Promise.all(victims.map((id) => cluster.restart(id)));
      return end(record);
    }
    case 'rolling_restart': {
      // Followers first, the leader last: each node is down for holdMs, one at a time.
      const record = begin(`rolling restart of ${[...followers, leader].join(', ')}`);
      for (const id of [...followers, leader]) {
        await cluster.stop(id);
        if (Number.isNaN(record.inPlaceMs)) placed(record);
        await holdFor(step.holdMs);
        await cluster.restart(id);
      }
      return end(record);
    }
  }
}
