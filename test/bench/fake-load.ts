// A LoadResult for tests of the reports and guards: `opsPerSecond` over one second, fixed latencies.
import type { LoadResult } from '../../bench/fixtures/load.ts';

export const fakeLoad = (clients: number, opsPerSecond: number): LoadResult => ({
  clients,
  ops: opsPerSecond,
  errors: 0,
  seconds: 1,
  opsPerSecond,
  p50Ms: 1,
  p99Ms: 2,
  load1: 1,
});
