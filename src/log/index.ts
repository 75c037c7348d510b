// Public API of the log layer.
export type { FileLogOptions, LogStats, LogStorage, RecoveredLog, SyncMode } from './types.ts';
export { LatencyBuckets, LATENCY_BUCKET_BOUNDS_MS } from './latency-buckets.ts';
export { LOG_WRITE_SLOW_MS, type SlowLogWrite } from './slow-writes.ts';
export { openFileLog, FileLog, DEFAULT_SEGMENT_BYTES } from './file-log.ts';
export { createMemoryLog, MemoryLog } from './memory-log.ts';
export { LogCorruptionError, LogClosedError, LogReadError } from './errors.ts';
