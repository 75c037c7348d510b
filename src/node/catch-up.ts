// A follower far behind the leader (restarted after a crash, back from a partition, on a
// slow disk) would hold every client request until it caught up: a linearizable read until
// it applied the read index, a forwarded write until it applied that write (read-your-writes
// here). Clients that pick nodes at random then pile up on it: in a chaos run of 100 clients,
// each one in turn got stuck for up to 0.7 s on a node just restarted about 2,800 entries
// behind (a cold process on a loaded box), and no write succeeded anywhere meanwhile. Such a node
// refuses at once instead, with 503 NOT_CAUGHT_UP (nothing was done: retry on another node),
// as a MongoDB member in RECOVERING state does; reads that accept a stale state
// (`consistency=local`) are still served.
import { StoreError } from '../store/errors.ts';

/**
 * Entries the leader has committed and this node has not applied, past which it refuses
 * client requests that would wait for them. A healthy follower trails by the entries in
 * flight (0 to 50 under 100 clients, polled); a restarted one caught up 2,800 in about 0.1 s.
 */
export const FOLLOWER_LAG_ENTRIES_MAX = 1000;

/** The refusal of a node `entriesBehind` entries behind (past FOLLOWER_LAG_ENTRIES_MAX). */
export function notCaughtUp(entriesBehind: number): StoreError {
  return new StoreError(
    'NOT_CAUGHT_UP',
    `this node is ${entriesBehind} log entries behind the leader (more than ${FOLLOWER_LAG_ENTRIES_MAX}: catching up after a restart or a partition); nothing was done: retry on another node`,
  );
}

/** The refusal of a node that has not caught up once since it started, after a request waited `waitMs` for it. */
export function notCaughtUpSinceStart(waitMs: number): StoreError {
  return new StoreError(
    'NOT_CAUGHT_UP',
    `this node has not caught up with the cluster since it started (waited ${waitMs} ms); nothing was done: retry on another node`,
  );
}
