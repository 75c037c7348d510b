// The two ways the command fails: a usage error (a bad flag; exit 2, like most Unix
// tools) and everything else (exit 1). Both print one line: `collection-store: <reason>`.

export const PROGRAM_NAME = 'collection-store';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A flag or argument is unusable; the message names the flag. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Prints `collection-store: <reason>` as one line on stderr (newlines folded). */
export function printError(reason: string): void {
  const oneLine = reason.replace(/\s*\n\s*/g, '; ').trim();
  process.stderr.write(`${PROGRAM_NAME}: ${oneLine}\n`);
}

/** The message of whatever was thrown, for the one-line report. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
