// Public API of the log layer.
export type { FileLogOptions, LogStorage, RecoveredLog, SyncMode } from './types.ts';
export { openFileLog, FileLog, DEFAULT_SEGMENT_BYTES } from './file-log.ts';
export { createMemoryLog, MemoryLog } from './memory-log.ts';
export { LogCorruptionError, LogClosedError, LogReadError } from './errors.ts';
