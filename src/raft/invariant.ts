// Invariants stated in the code (TigerBeetle style): a violated invariant is a bug in the
// core or corrupted input, and continuing would risk safety, so we throw at once.

export class RaftInvariantError extends Error {
  override readonly name = 'RaftInvariantError';
}

export function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new RaftInvariantError(message);
}
