// Typed errors of the log layer.

/**
 * What recovery found on disk cannot be opened safely (damage other than a torn tail, a
 * file it does not know, entries missing): it refuses to open rather than drop records
 * that may have been acknowledged. `file` is the segment or snapshot file (or the stray
 * file) at fault, `offset` the byte offset in it (0 when the whole file is at fault).
 */
export class LogCorruptionError extends Error {
  readonly code = 'LOG_CORRUPTION';
  readonly file: string;
  readonly offset: number;

  constructor(file: string, offset: number, reason: string, options?: ErrorOptions) {
    super(`log corruption in ${file} at byte offset ${offset}: ${reason}`, options);
    this.name = 'LogCorruptionError';
    this.file = file;
    this.offset = offset;
  }
}

/**
 * A file of the log could not be read at all (permissions, a directory in its place, an I/O
 * error of the disk): not evidence that its bytes are damaged, so never a LogCorruptionError,
 * whose remedy may be to empty the directory. Fix the cause and open again.
 */
export class LogReadError extends Error {
  readonly code = 'LOG_READ';
  readonly file: string;

  constructor(file: string, cause: unknown) {
    super(`cannot read ${file}: ${cause instanceof Error ? cause.message : String(cause)} (the log was not judged; fix this and open again)`, {
      cause,
    });
    this.name = 'LogReadError';
    this.file = file;
  }
}

/** An operation on a log that was closed (or failed and stopped accepting writes). */
export class LogClosedError extends Error {
  readonly code = 'LOG_CLOSED';

  constructor(message: string) {
    super(message);
    this.name = 'LogClosedError';
  }
}
