// Cluster membership (thesis ch. 4): single-server changes. A configuration takes effect as
// soon as its entry is appended to a log (4.1), so the configuration is a function of the
// log: the snapshot's (or bootstrap) configuration, then each conf entry in log order.
// Truncating the log rolls the configuration back with it.
import type { ConfChange, ConfState, Entry } from './types.ts';
import { assert } from '../assert.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A conf entry carries the change and the full configuration it produces, so that a server
 * that joins later (and never saw the bootstrap configuration) learns the whole membership
 * from the entry alone. */
export interface ConfEntry {
  readonly change: ConfChange;
  readonly conf: ConfState;
}

export function encodeConfEntry(entry: ConfEntry): Uint8Array {
  return encoder.encode(JSON.stringify(entry));
}

export function decodeConfEntry(data: Uint8Array): ConfEntry {
  const value = JSON.parse(decoder.decode(data)) as ConfEntry;
  const c = value.change;
  assert(
    c !== undefined &&
      (c.type === 'addLearner' || c.type === 'addVoter' || c.type === 'remove') &&
      Number.isInteger(c.node) &&
      c.node > 0 &&
      Array.isArray(value.conf?.voters) &&
      Array.isArray(value.conf?.learners),
    'malformed conf change entry',
  );
  return { change: c, conf: normalizeConf(value.conf) };
}

/** Encodes `change` as applied to `current` (the leader's configuration when proposing). */
export function encodeConfChange(change: ConfChange, current: ConfState): Uint8Array {
  return encodeConfEntry({ change, conf: applyConfChange(current, change) });
}

/** The change a conf entry makes (use decodeConfEntry(data).conf for the resulting membership). */
export function decodeConfChange(data: Uint8Array): ConfChange {
  return decodeConfEntry(data).change;
}

export function normalizeConf(conf: ConfState): ConfState {
  const voters = [...new Set(conf.voters)].sort((a, b) => a - b);
  const learners = [...new Set(conf.learners)].filter((id) => !voters.includes(id)).sort((a, b) => a - b);
  return { voters, learners };
}

export function sameConf(a: ConfState, b: ConfState): boolean {
  const x = normalizeConf(a);
  const y = normalizeConf(b);
  return JSON.stringify(x) === JSON.stringify(y);
}

/** Why `change` cannot be proposed against `conf`, or null when it can. */
export function rejectConfChange(conf: ConfState, change: ConfChange): string | null {
  const isVoter = conf.voters.includes(change.node);
  const isLearner = conf.learners.includes(change.node);
  switch (change.type) {
    case 'addLearner':
      return isVoter ? 'node is a voter' : isLearner ? 'node is already a learner' : null;
    case 'addVoter':
      return isVoter ? 'node is already a voter' : null;
    case 'remove':
      if (!isVoter && !isLearner) return 'node is not a member';
      if (isVoter && conf.voters.length === 1) return 'cannot remove the last voter';
      return null;
  }
}

/** The configuration after `change` (lenient: a change that is already in effect is a no-op). */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  const voters = conf.voters.filter((id) => id !== change.node);
  const learners = conf.learners.filter((id) => id !== change.node);
  if (change.type === 'addVoter') voters.push(change.node);
  if (change.type === 'addLearner') learners.push(change.node);
  return normalizeConf({ voters, learners });
}

/** Tracks the configuration as a function of the log. */
export class Configuration {
  /** Configuration as of `baseIndex` (snapshot index, or 0 at bootstrap). */
  private base: ConfState;
  private baseIndex: number;
  /** One row per conf entry held in the log after baseIndex, with the configuration it yields. */
  private changes: { index: number; conf: ConfState }[] = [];

  constructor(base: ConfState, baseIndex: number) {
    this.base = normalizeConf(base);
    this.baseIndex = baseIndex;
  }

  current(): ConfState {
    return this.changes.length > 0 ? this.changes[this.changes.length - 1]!.conf : this.base;
  }

  /** Index of the latest conf entry in the log (0 when the configuration comes from the base). */
  latestIndex(): number {
    return this.changes.length > 0 ? this.changes[this.changes.length - 1]!.index : 0;
  }

  /** The configuration in force at `index` (for snapshot metadata). */
  at(index: number): ConfState {
    assert(index >= this.baseIndex, `configuration at ${index} is older than the snapshot ${this.baseIndex}`);
    let conf = this.base;
    for (const c of this.changes) {
      if (c.index > index) break;
      conf = c.conf;
    }
    return conf;
  }

  /** Entries were appended to the log, first dropping everything from entries[0].index on. */
  onAppend(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    this.changes = this.changes.filter((c) => c.index < first);
    for (const e of entries) {
      if (e.type !== 'conf') continue;
      this.changes.push({ index: e.index, conf: decodeConfEntry(e.data).conf });
    }
  }

  /** The log was compacted up to `index`. */
  compact(index: number): void {
    if (index <= this.baseIndex) return;
    this.base = this.at(index);
    this.baseIndex = index;
    this.changes = this.changes.filter((c) => c.index > index);
  }

  /** The log was replaced by a snapshot carrying its own configuration. */
  restore(conf: ConfState, index: number): void {
    this.base = normalizeConf(conf);
    this.baseIndex = index;
    this.changes = [];
  }
}
