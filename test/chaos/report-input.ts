// What buildReport needs for a history made by a test: a quiet run of one client and no fault,
// every field overridable.
import { checkChaosHistory } from '../../src/chaos/checker.ts';
import type { ChaosHistory } from '../../src/chaos/history.ts';
import type { ReportInput } from '../../src/chaos/report.ts';

export function reportInput(history: ChaosHistory, overrides: Partial<ReportInput> = {}): ReportInput {
  return {
    scenario: 'leader_crash',
    seed: 1,
    runId: 'r1',
    nodes: 3,
    clients: 1,
    retriedAttempts: 0,
    generatorLoopDelayMs: { p99: 1, max: 2 },
    loadStartMs: 0,
    loadEndMs: history.nowMs(),
    history,
    schedule: [],
    faults: [],
    skippedFaults: 0,
    leaders: [],
    nodeStalls: [],
    nodeStallsNotKept: 0,
    consistency: overrides.consistency ?? checkChaosHistory(history),
    ...overrides,
  };
}
