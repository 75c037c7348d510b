// Cluster membership (thesis ch. 4): single-server changes. A configuration takes effect as
// soon as its entry is appended to a log (4.1), so the configuration is a function of the
// log: the snapshot's (or bootstrap) configuration, then each conf entry in log order.
// Truncating the log rolls the configuration back with it.
//
// The configuration also says where each member is (`addresses`, host:port): set by an add
// that names one and by `setAddress`, dropped by a removal. The core never reads them; they
// are replicated with the membership so that every node, one that restarts or becomes leader
// included, knows where to reach every member.
import type { ConfChange, ConfState, Entry, MemberAddress } from './types.ts';
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

/** Characters of a member's address (`host:port`): a DNS name of 253, brackets and a port. */
export const MEMBER_ADDRESS_CHARS_MAX = 300;

/** `host:port`, or `[ipv6]:port`, port 1..65535, at most MEMBER_ADDRESS_CHARS_MAX characters. */
export function isMemberAddress(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > MEMBER_ADDRESS_CHARS_MAX) return false;
  const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]@?#]+):(\d{1,5})$/.exec(value);
  return match !== null && Number(match[2]) >= 1 && Number(match[2]) <= 65535;
}

function isNodeId(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

/** Checks a change decoded from an entry (any field may be missing or of another type). */
function isConfChange(c: Partial<Record<keyof ConfChange | 'address', unknown>> | undefined): c is ConfChange {
  if (c === undefined || c === null || !isNodeId(c.node)) return false;
  switch (c.type) {
    case 'addLearner':
    case 'addVoter':
      return c.address === undefined || isMemberAddress(c.address);
    case 'remove':
      return true;
    case 'setAddress':
      return isMemberAddress(c.address);
    default:
      return false;
  }
}

function isAddressList(value: unknown): value is MemberAddress[] {
  return (
    Array.isArray(value) &&
    value.every((a) => typeof a === 'object' && a !== null && isNodeId((a as MemberAddress).id) && isMemberAddress((a as MemberAddress).address))
  );
}

/** Decodes a conf entry. Entries written before addresses were replicated (no `address` in
 * the change, no `addresses` in the configuration) decode as they always did. */
export function decodeConfEntry(data: Uint8Array): ConfEntry {
  const value = JSON.parse(decoder.decode(data)) as Partial<Record<keyof ConfEntry, unknown>> | null;
  const c = value?.change as Parameters<typeof isConfChange>[0];
  const conf = value?.conf as Partial<Record<keyof ConfState, unknown>> | undefined;
  assert(
    isConfChange(c) &&
      typeof conf === 'object' &&
      conf !== null &&
      Array.isArray(conf.voters) &&
      conf.voters.every(isNodeId) &&
      Array.isArray(conf.learners) &&
      conf.learners.every(isNodeId) &&
      (conf.addresses === undefined || isAddressList(conf.addresses)),
    'malformed conf change entry',
  );
  return { change: c, conf: normalizeConf(conf as unknown as ConfState) };
}

/** Encodes `change` as applied to `current` (the leader's configuration when proposing). */
export function encodeConfChange(change: ConfChange, current: ConfState): Uint8Array {
  return encodeConfEntry({ change, conf: applyConfChange(current, change) });
}

/** The change a conf entry makes (use decodeConfEntry(data).conf for the resulting membership). */
export function decodeConfChange(data: Uint8Array): ConfChange {
  return decodeConfEntry(data).change;
}

/** Voters and learners sorted and apart; addresses of members only, one per id (the last
 * given), by id; `addresses` left out when there are none, so that a configuration without
 * addresses has the shape it always had. */
export function normalizeConf(conf: ConfState): ConfState {
  const voters = [...new Set(conf.voters)].sort((a, b) => a - b);
  const learners = [...new Set(conf.learners)].filter((id) => !voters.includes(id)).sort((a, b) => a - b);
  const byId = new Map<number, string>();
  for (const { id, address } of conf.addresses ?? []) {
    if (voters.includes(id) || learners.includes(id)) byId.set(id, address);
  }
  if (byId.size === 0) return { voters, learners };
  const addresses = [...byId].sort(([a], [b]) => a - b).map(([id, address]) => ({ id, address }));
  return { voters, learners, addresses };
}

/** Where member `id` is reached according to `conf`, if it says. */
export function memberAddress(conf: ConfState, id: number): string | undefined {
  return conf.addresses?.find((a) => a.id === id)?.address;
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
    case 'setAddress':
      if (!isVoter && !isLearner) return 'node is not a member';
      return memberAddress(conf, change.node) === change.address ? 'node already has that address' : null;
  }
}

/** The configuration after `change` (lenient: a change that is already in effect is a no-op). */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  if (change.type === 'setAddress') return withAddress(conf, change.node, change.address);
  const voters = conf.voters.filter((id) => id !== change.node);
  const learners = conf.learners.filter((id) => id !== change.node);
  if (change.type === 'addVoter') voters.push(change.node);
  if (change.type === 'addLearner') learners.push(change.node);
  // A removed member's address goes with it (normalizeConf keeps members' only).
  const next = normalizeConf({ voters, learners, ...(conf.addresses !== undefined ? { addresses: conf.addresses } : {}) });
  return change.type !== 'remove' && change.address !== undefined ? withAddress(next, change.node, change.address) : next;
}

function withAddress(conf: ConfState, id: number, address: string): ConfState {
  return normalizeConf({ ...conf, addresses: [...(conf.addresses ?? []).filter((a) => a.id !== id), { id, address }] });
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
