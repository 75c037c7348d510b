// Typed errors of the log layer.

/** The log on disk is damaged somewhere other than a torn tail: refusing to open
 * rather than silently dropping records that may have been acknowledged. */
export class LogCorruptionError extends Error {
  readonly code = 'LOG_CORRUPTION';
  readonly file: string;
  readonly offset: number;

  constructor(file: string, offset: number, reason: string) {
    super(`log corruption in ${file} at byte offset ${offset}: ${reason}`);
    this.name = 'LogCorruptionError';
    this.file = file;
    this.offset = offset;
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
