// The measures of the embedded suite that the regression guard compares (bench/compare.ts):
// ours / peer where a peer ran in the same run, else our absolute number.
import type { Guard, GuardMeasure } from './compare.ts';
import type { PeerMeasure } from './side-by-side.ts';

interface GuardedResults {
  readonly recovery: { readonly reopenSeconds: number };
  readonly snapshotInstall: {
    readonly restoreSeconds: number;
    readonly reopenSeconds: number;
    /** Absent in runs saved before it was measured. */
    readonly heapBytesPerDocument?: number;
  };
  readonly memoryPerDocument: { readonly heapPerJsonByte: number };
  readonly reads: { readonly indexedRangeQueryLimit100: { readonly p50Us: number } };
}

export function embeddedGuard(
  sideBySide: {
    readonly durableInserts1Writer: PeerMeasure;
    readonly durableInserts64Writers: PeerMeasure;
    readonly reads: {
      readonly getsById: PeerMeasure;
      readonly indexedEqualityQuery: PeerMeasure;
      readonly indexedEqualityQueryUncached: PeerMeasure;
    };
  },
  results: GuardedResults,
): Guard {
  const guard: Record<string, GuardMeasure> = {};
  const peerMeasures: Record<string, PeerMeasure> = {
    durableInserts1Writer: sideBySide.durableInserts1Writer,
    durableInserts64Writers: sideBySide.durableInserts64Writers,
    getsById: sideBySide.reads.getsById,
    indexedEqualityQuery: sideBySide.reads.indexedEqualityQuery,
    // Runs saved before it existed lack it: compare.ts reports it as only in this run.
    indexedEqualityQueryUncached: sideBySide.reads.indexedEqualityQueryUncached,
  };
  for (const [name, measure] of Object.entries(peerMeasures)) {
    let ratios = 0;
    for (const peer of ['vsLmdb', 'vsSqlite'] as const) {
      const value = measure.ratios[peer];
      if (typeof value === 'number') {
        guard[`${name}.${peer}`] = { value, better: 'higher', kind: 'ratio-to-peer', rounds: measure.ratioRounds[peer] ?? [] };
        ratios++;
      }
    }
    if (ratios === 0)
      guard[`${name}.ours`] = { value: measure.subjects.ours!.median, better: 'higher', kind: 'absolute', rounds: measure.subjects.ours!.rounds };
  }
  // No peer for these: absolute, so a busy box can flag them.
  guard['recovery.reopenSeconds'] = { value: results.recovery.reopenSeconds, better: 'lower', kind: 'absolute' };
  guard['snapshotInstall.restoreSeconds'] = { value: results.snapshotInstall.restoreSeconds, better: 'lower', kind: 'absolute' };
  guard['snapshotInstall.reopenSeconds'] = { value: results.snapshotInstall.reopenSeconds, better: 'lower', kind: 'absolute' };
  // Memory barely moves with the box's load: a growth here is the code's.
  const heap = results.snapshotInstall.heapBytesPerDocument;
  if (heap !== undefined) guard['snapshotInstall.heapBytesPerDocument'] = { value: heap, better: 'lower', kind: 'absolute' };
  guard['memoryPerDocument.heapPerJsonByte'] = { value: results.memoryPerDocument.heapPerJsonByte, better: 'lower', kind: 'absolute' };
  guard['indexedRangeQueryLimit100.p50Us'] = { value: results.reads.indexedRangeQueryLimit100.p50Us, better: 'lower', kind: 'absolute' };
  return guard;
}
