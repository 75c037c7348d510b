// Typed errors of the log layer.

/** What is at fault, which decides what to do about it (docs/durability.md). */
export type CorruptionKind =
  /** Records of a segment: keep what precedes the offset, or rejoin empty. */
  | 'segment'
  /** A file that is not ours in log/ or snapshots/: move it out. */
  | 'stray'
  /** A snapshot file that cannot be used: only a backup, or rejoining empty, helps. */
  | 'snapshot';

export const REMEDY_DOC = 'docs/durability.md, "When a node or open() refuses to open"';
/** A cluster node gets every committed entry back from the others once it rejoins empty
 * (also what a node that finds its log lost entries while running says: node/lost-entries.ts). */
export const REJOIN_REMEDY =
  'a cluster node: stop it, remove it on a live node (DELETE /cluster/members/<id>), empty its data directory, add it back (POST /cluster/members) and start it with --join';

/** What to do, in one line: the refusal is read by someone at a terminal, not only by code. */
export function corruptionRemedy(file: string, offset: number, kind: CorruptionKind): string {
  switch (kind) {
    case 'stray':
      return `What to do: move ${file} out of the directory and start again (see ${REMEDY_DOC})`;
    case 'snapshot':
      return `What to do: copy the data directory somewhere safe; ${REJOIN_REMEDY}; embedded: restore a backup (see ${REMEDY_DOC})`;
    case 'segment':
      return (
        `What to do: copy the data directory somewhere safe; ${REJOIN_REMEDY}; ` +
        `embedded: restore a backup, or keep the writes before the damage with \`truncate -s ${offset} ${file}\` and move away the segment files after it (see ${REMEDY_DOC})`
      );
  }
}

/**
 * What recovery found on disk cannot be opened safely (damage other than a torn tail, a
 * file it does not know, entries missing): it refuses to open rather than drop records
 * that may have been acknowledged. `file` is the segment or snapshot file (or the stray
 * file) at fault, `offset` the byte offset in it (0 when the whole file is at fault),
 * `remedy` what to do (also at the end of the message: a node prints only the message).
 */
export class LogCorruptionError extends Error {
  readonly code = 'LOG_CORRUPTION';
  readonly file: string;
  readonly offset: number;
  readonly remedy: string;

  constructor(file: string, offset: number, reason: string, options?: ErrorOptions & { readonly kind?: CorruptionKind }) {
    const remedy = corruptionRemedy(file, offset, options?.kind ?? 'segment');
    super(`log corruption in ${file} at byte offset ${offset}: ${reason}. ${remedy}`, options);
    this.name = 'LogCorruptionError';
    this.file = file;
    this.offset = offset;
    this.remedy = remedy;
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
