// The one assertion of every layer (TigerBeetle's TIGER_STYLE: assertions document what the
// code believes). A failed assertion is a bug, or input that should have been refused
// earlier: continuing could break safety, so it throws at once, and the node that hits it
// stops instead of carrying on with state it can no longer trust.
//
// Pure: no I/O, so the Raft core and the store import it too.

/** A broken invariant: the message names it and the values that broke it. */
export class InvariantError extends Error {
  override readonly name = 'InvariantError';
}

/**
 * Throws InvariantError(message) when `condition` is false. On a hot path, build a costly
 * message only when it fails: `if (!ok) assert(false, \`...${x}\`)`.
 */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}
