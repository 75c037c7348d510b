// The catalogue of deliberate bugs (RaftBugs): each is one switch in the real core, off in
// production, which the simulator must find by random search (`npm run sim -- --list-bugs`,
// `npm run sim -- --bug NAME --seeds 1000`; docs/simulation.md records the seeds each took).
// The Record type makes the catalogue complete: a new RaftBugs field without an entry here
// does not compile.

import type { RaftBugs } from '../raft/types.ts';

export type BugName = keyof RaftBugs;

export interface BugDescription {
  /** One line: what the broken core does. */
  readonly description: string;
  /** Which rule of Raft it breaks (the paper's figure or the thesis section). */
  readonly breaks: string;
}

export const BUG_CATALOGUE: Readonly<Record<BugName, BugDescription>> = Object.freeze({
  commitPreviousTermEntries: {
    description: "commits an earlier term's entry by counting its replicas",
    breaks: 'Figure 8 / §5.4.2: only entries of the current term commit by counting',
  },
  readWithoutQuorumCheck: {
    description: 'answers ReadIndex at once, without the heartbeat round that confirms leadership',
    breaks: 'thesis §6.4: a read must confirm leadership with a quorum',
  },
  sendBeforeDurable: {
    description: 'lets every message of a Ready leave before its hard state and entries are durable',
    breaks: 'Figure 2: persistent state is updated on stable storage before responding to RPCs',
  },
});

export const BUG_NAMES: readonly BugName[] = Object.freeze(Object.keys(BUG_CATALOGUE) as BugName[]);

export function isBugName(name: string): name is BugName {
  return Object.prototype.hasOwnProperty.call(BUG_CATALOGUE, name);
}
