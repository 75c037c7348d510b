// The audit chain of an `audited` collection: each change (a RaftEvent record) is kept with the
// SHA-256 of the previous record's hash and its own canonical JSON, so that editing, removing
// or reordering any kept record breaks every link after it. Built at apply, kept in snapshots;
// `verify` walks a chain and names the first broken link.

import { sha256Hex } from './audit-hash.ts';
import type { RaftEvent } from './raft-event.ts';

/** Records kept per audited collection, at most; past it the oldest goes and its hash becomes
 * the chain's anchor (the chain stays verifiable from there). */
export const AUDIT_RECORDS_MAX = 100_000;

/** The hash a chain starts from. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64);

export interface AuditRecord {
  readonly event: RaftEvent;
  /** The hash of the record before (the anchor for the first one kept). */
  readonly prevHash: string;
  /** SHA-256 (hex) of `prevHash` followed by the event's canonical JSON. */
  readonly hash: string;
}

export interface AuditChainSnapshot {
  readonly collection: string;
  readonly anchor: string;
  readonly records: AuditRecord[];
}

export interface AuditVerification {
  readonly ok: boolean;
  /** Records checked (all kept when ok). */
  readonly checked: number;
  /** The first record whose link is broken. */
  readonly brokenAt?: { readonly position: number; readonly eventId: string; readonly reason: string };
  /** The chain's head as stored: the newest record's hash and eventId (the anchor's hash, no
   * eventId, when no record is kept). Every node derives the same chain from the log, so two
   * nodes whose heads name the same eventId must report the same hash: comparing heads across
   * nodes, or with a copy kept elsewhere, catches a rewrite that `ok` alone cannot. */
  readonly head: { readonly hash: string; readonly eventId?: string };
}

/** JSON with object keys sorted at every depth: the same bytes for the same value on every replica. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const obj = v as Record<string, unknown>;
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function linkHash(prevHash: string, event: RaftEvent): string {
  return sha256Hex(prevHash + canonicalJson(event));
}

export class AuditChain {
  records: AuditRecord[] = [];
  private head = 0;

  constructor(
    readonly collection: string,
    public anchor: string = AUDIT_GENESIS_HASH,
    private readonly recordsMax: number = AUDIT_RECORDS_MAX,
  ) {}

  get size(): number {
    return this.records.length - this.head;
  }

  get lastHash(): string {
    return this.size === 0 ? this.anchor : this.records[this.records.length - 1]!.hash;
  }

  append(event: RaftEvent): AuditRecord {
    const prevHash = this.lastHash;
    const record: AuditRecord = Object.freeze({ event, prevHash, hash: linkHash(prevHash, event) });
    this.records.push(record);
    if (this.size > this.recordsMax) this.anchor = this.records[this.head++]!.hash;
    if (this.head > 1024 && this.head > this.records.length / 2) {
      this.records = this.records.slice(this.head);
      this.head = 0;
    }
    return record;
  }

  /** The kept records, oldest first. */
  kept(): AuditRecord[] {
    return this.records.slice(this.head);
  }

  /** The chain's head as stored (AuditVerification.head). */
  chainHead(): AuditVerification['head'] {
    const last = this.size === 0 ? undefined : this.records[this.records.length - 1]!;
    return last === undefined ? { hash: this.anchor } : { hash: last.hash, eventId: last.event.eventId };
  }

  /** Recomputes every kept record's hash from its content and the hash before it: an edited,
   * removed or reordered record is named unless every later hash was rewritten to match
   * (docs/models.md, Audit). */
  verify(): AuditVerification {
    let prev = this.anchor;
    const kept = this.kept();
    const head = this.chainHead();
    for (let i = 0; i < kept.length; i++) {
      const r = kept[i]!;
      const broken = (reason: string): AuditVerification => ({
        ok: false,
        checked: i,
        brokenAt: { position: i, eventId: r.event.eventId, reason },
        head,
      });
      if (r.prevHash !== prev) return broken(`prevHash ${r.prevHash} is not the hash of the record before (${prev})`);
      const expected = linkHash(prev, r.event);
      if (r.hash !== expected) return broken(`hash ${r.hash} does not match the record's content (expected ${expected})`);
      prev = r.hash;
    }
    return { ok: true, checked: kept.length, head };
  }

  toSnapshot(): AuditChainSnapshot {
    return { collection: this.collection, anchor: this.anchor, records: this.kept() };
  }

  /** Loads records as they were kept: not checked here (that is what verify is for). */
  static fromSnapshot(s: AuditChainSnapshot, recordsMax?: number): AuditChain {
    const chain = new AuditChain(s.collection, s.anchor, recordsMax);
    chain.records = s.records.slice();
    return chain;
  }
}
