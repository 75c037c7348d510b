// `start --force-new-cluster` (etcd's flag of the same name): the way back after a majority
// of the members is lost for good. The survivor's data directory is turned into that of a
// cluster of one: conf entries removing every other member are appended to its log, after
// everything it holds, and it then starts as the only voter, elects itself and commits its
// whole log with its own vote. Other nodes join it afterwards (POST /cluster/members, then
// start --join with an empty data directory).
//
// What happens to the entries past the survivor's commit index. The survivor cannot tell
// which of them the lost majority committed: an entry the old leader committed (and
// acknowledged to its client) reaches a follower's commit index only with a later message,
// so any entry in the survivor's log may have been acknowledged. etcd discards the entries
// past the commit index (restartAsStandaloneNode); we keep them all and commit them, so that
// no write the survivor holds and a client was told succeeded is lost. The price: a write
// whose outcome was unknown to its client (COMMIT_UNKNOWN, or no answer) may apply, which
// that answer allowed. An entry the old cluster overwrote (its writer was told NO_LEADER)
// can be in the survivor's log only if the survivor also lacks the committed entry that
// replaced it: then the acknowledged write is lost with the majority, and no choice here
// could bring it back. Both are in docs/operations.md.
//
// The change is made once: a marker file records it, and a later start with the flag on a
// directory whose configuration has grown again is refused (it would throw out the members
// that joined since, and with them entries only they and not this node may hold).
import { readJsonFile, writeJsonFileDurably } from './durable-json.ts';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { openFileLog } from '../log/file-log.ts';
import type { LogStorage } from '../log/types.ts';
import { applyConfChange, Configuration, encodeConfChange } from '../raft/configuration.ts';
import type { ConfState, Entry } from '../raft/types.ts';
import { checkIdentity, loadIdentity } from './node-identity.ts';

/** The marker a forced start leaves in the data directory. */
export const FORCED_MARKER_FILE = 'force-new-cluster.json';

/** Entries read at a time while looking for conf entries. */
const SCAN_ENTRIES_PER_READ = 10_000;

export interface ForceNewClusterOptions {
  readonly dataDir: string;
  readonly nodeId: number;
  readonly clusterId: string;
  readonly logger: Logger;
}

/** What the forced start found and did. */
export interface ForcedCluster {
  /** The configuration the log held before. */
  readonly previous: ConfState;
  /** The survivor's commit index and last index when it was forced. */
  readonly commitIndex: number;
  readonly lastIndex: number;
  /** Indexes of the conf entries appended (empty: it was a cluster of one already). */
  readonly appended: readonly number[];
}

/** Refusals: the message says why and what to do. */
export class ForceNewClusterError extends Error {
  override readonly name = 'ForceNewClusterError';
}

/** The configuration as of the end of the log: the snapshot's (or the bootstrap one), then every conf entry after it. */
function lastConfiguration(log: LogStorage, bootstrapVoters: readonly number[]): ConfState {
  const snapshot = log.snapshot();
  const conf = new Configuration(snapshot?.meta.conf ?? { voters: [...bootstrapVoters], learners: [] }, snapshot?.meta.index ?? 0);
  for (let lo = log.firstIndex(); lo <= log.lastIndex(); lo += SCAN_ENTRIES_PER_READ) {
    const hi = Math.min(log.lastIndex() + 1, lo + SCAN_ENTRIES_PER_READ);
    conf.onAppend(log.entries(lo, hi).filter((e) => e.type === 'conf'));
  }
  return conf.current();
}

/** Turns the data directory into that of a cluster of one; see the file comment. */
export async function forceNewCluster(options: ForceNewClusterOptions): Promise<ForcedCluster> {
  const { dataDir, nodeId, logger } = options;
  const identity = await loadIdentity(dataDir);
  if (identity === undefined) {
    throw new ForceNewClusterError(`--force-new-cluster: ${dataDir} holds no node.json: there is no data to start a new cluster from`);
  }
  checkIdentity(identity, nodeId, options.clusterId, dataDir);
  const marker = await readJsonFile(join(dataDir, FORCED_MARKER_FILE));
  const log = await openFileLog({ dir: dataDir, sync: 'batch', onWarning: (message) => logger.warn(message) });
  try {
    const hardState = log.hardState();
    const lastIndex = log.lastIndex();
    if (lastIndex === 0) throw new ForceNewClusterError(`--force-new-cluster: the log in ${dataDir} is empty: there is nothing to keep`);
    const previous = lastConfiguration(log, identity.bootstrapVoters);
    const summary = { previous, commitIndex: hardState.commit, lastIndex };
    // Members only: the addresses the configuration may carry do not matter here.
    if (previous.voters.length === 1 && previous.voters[0] === nodeId && previous.learners.length === 0) {
      logger.warn(summary, '--force-new-cluster: this node is already the only member; nothing to change (remove the flag)');
      return { ...summary, appended: [] };
    }
    if (marker !== undefined) {
      throw new ForceNewClusterError(
        `--force-new-cluster was applied to ${dataDir} before (${FORCED_MARKER_FILE}) and members were added since (voters ${previous.voters.join(',')}): ` +
          'forcing again would throw them out and could lose what only they hold; start without the flag',
      );
    }
    if (!previous.voters.includes(nodeId)) {
      throw new ForceNewClusterError(
        `--force-new-cluster: node ${nodeId} is not a voter in its last configuration (voters ${previous.voters.join(',')}): only a voter's log holds every entry it acknowledged`,
      );
    }
    // The entries go after everything the log holds, in the current term (at least the last
    // entry's: terms in a log never decrease).
    const term = hardState.term;
    const lastTerm = log.term(lastIndex) ?? 0;
    if (term < lastTerm) throw new ForceNewClusterError(`the hard state's term ${term} is below the last entry's ${lastTerm}: the log is damaged`);
    const entries: Entry[] = [];
    let conf = previous;
    for (const node of [...previous.voters, ...previous.learners]) {
      if (node === nodeId) continue;
      const change = { type: 'remove' as const, node };
      entries.push({ index: lastIndex + entries.length + 1, term, type: 'conf', data: encodeConfChange(change, conf) });
      conf = applyConfChange(conf, change);
    }
    await log.append(entries);
    const forced: ForcedCluster = { ...summary, appended: entries.map((e) => e.index) };
    await writeJsonFileDurably(join(dataDir, FORCED_MARKER_FILE), { ...forced, at: new Date().toISOString() });
    logger.warn(
      forced,
      `--force-new-cluster: node ${nodeId} now forms a new cluster on its own: members ${previous.voters.concat(previous.learners).join(',')} were removed; ` +
        `every entry it holds (up to ${lastIndex}, of which ${hardState.commit} were known committed) is kept and will be committed. ` +
        'Never start the removed members again with their old data: wipe them and add them back with --join',
    );
    return forced;
  } finally {
    await log.close();
  }
}
