// The simulated application: a key-value store whose commands travel through the Raft log.
// put replaces a key's value, append concatenates to it; every written value is unique
// (client id and request id in brackets), which is what lets the linearizability checker
// tell writes apart. The store also tracks the membership as of its applied index (from
// the conf entries it applies), which a snapshot must carry, and the clients' sessions
// (exactly-once writes, see below).

import { applyConfChange, decodeConfChange, normalizeConf } from '../raft/configuration.ts';
import type { ConfState, Entry, Snapshot } from '../raft/types.ts';
import { SessionTable, type IdempotencyTag, type SessionBounds, type SessionsSnapshot } from '../store/sessions.ts';

/** What a client asks for. */
export interface KvRequest {
  readonly client: number;
  readonly request: number;
  readonly op: 'put' | 'append';
  readonly key: string;
  readonly value: string;
}

/** What the log carries: the request, stamped with the proposing leader's clock (as the
 * node stamps each entry: the session table's log clock). */
export interface KvCommand extends KvRequest {
  readonly timeMs: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(cmd: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify([cmd.client, cmd.request, cmd.op, cmd.key, cmd.value, cmd.timeMs]));
}

export function decodeCommand(data: Uint8Array): KvCommand {
  const raw: unknown = JSON.parse(decoder.decode(data));
  if (
    !Array.isArray(raw) ||
    raw.length !== 6 ||
    typeof raw[0] !== 'number' ||
    typeof raw[1] !== 'number' ||
    (raw[2] !== 'put' && raw[2] !== 'append') ||
    typeof raw[3] !== 'string' ||
    typeof raw[4] !== 'string' ||
    typeof raw[5] !== 'number'
  ) {
    throw new Error(`kv: malformed command ${decoder.decode(data)}`);
  }
  return { client: raw[0], request: raw[1], op: raw[2], key: raw[3], value: raw[4], timeMs: raw[5] };
}

/** The unique value a client writes: brackets make values self-delimiting inside appends. */
export function uniqueValue(client: number, request: number): string {
  return `[${client}.${request}]`;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Thesis §6.3 sessions, with the production table (src/store/sessions.ts, as the store keeps
 * it): a write carries a client key (client id and request number, the client library's
 * CLIENT_KEY form) and a digest of what it asks; the state machine records each key's first
 * result, so a retry (the same key, in a new log entry) applies nothing and answers with it.
 * Records expire by LOG time (the leaders' stamps in the entries, never a node's clock at
 * apply) and beyond a count; a key whose record left the table is answered 'expired' through
 * its client's watermark and applies nothing. The bounds here are small, so that runs of a few
 * seconds exercise expiry and eviction; the watermarks' are large, as production's are: a
 * retry after its client's watermark left may apply again, which is the window's promise.
 */
export const SIM_SESSION_BOUNDS: SessionBounds = Object.freeze({
  windowMs: 1000,
  recordsMax: 16,
  resultBytesMax: 1 << 30,
  watermarksMax: 1024,
  watermarkWindowMs: 1e12,
});

/** The session tag of a request: the client-library key form (22 id characters, a dot, the
 * request number from 1) and a digest of the request. */
export function sessionTag(cmd: KvRequest): IdempotencyTag {
  return { key: `sim${String(cmd.client).padStart(19, '0')}.${cmd.request}`, digest: `${cmd.op}:${cmd.key}:${cmd.value}` };
}

/** What apply() did with a normal entry. 'replayed': a retry answered from the session. */
export type ApplyEffect =
  | { readonly kind: 'applied'; readonly index: number }
  | { readonly kind: 'replayed'; readonly index: number }
  | { readonly kind: 'expired' }
  | { readonly kind: 'none' };

export interface KvOptions {
  /** Test-only: false turns the session table off, so that retries apply again (the
   * duplicate check must then see them). Not a RaftBugs switch: it breaks the application,
   * not the core. */
  readonly sessions: boolean;
}

let defaultOptions: KvOptions = { sessions: true };

/** Test-only: runs `fn` with every KvStateMachine created meanwhile using `options`. */
export function withKvOptionsForTest<T>(options: KvOptions, fn: () => T): T {
  const saved = defaultOptions;
  defaultOptions = options;
  try {
    return fn();
  } finally {
    defaultOptions = saved;
  }
}

interface SnapshotBody {
  readonly kv: [string, string][];
  /** The session table: its log clock, records [key, digest, timeMs, bytes, result] oldest
   * first, watermarks [client, seq, timeMs] (SessionsSnapshot, in arrays: a snapshot travels
   * in 256-byte chunks in the sim, and a bigger one costs a lagging follower more round trips). */
  readonly sessions: [number, [string, string, number, number, number][], [string, number, number][]];
  /** Audit (simulation only, not part of the session mechanism): per client, the request ids
   * applied, as [from, to] ranges (a client's ids are mostly consecutive: a snapshot stays
   * small, and so do the chunks that carry it to a follower). */
  readonly appliedWrites: [number, [number, number][]][];
  readonly duplicates: string[];
}

export class KvStateMachine {
  private readonly data = new Map<string, string>();
  private sessions = new SessionTable<number>(SIM_SESSION_BOUNDS);
  /** Audit, independent of the sessions: the write ids ("client.request") whose effect was
   * applied, and those applied a second time. Grows with the run (a simulation is short). */
  private readonly appliedWrites = new Map<number, Set<number>>();
  private readonly duplicateList: string[] = [];
  private appliedIndex = 0;
  private appliedTerm = 0;
  private conf: ConfState;
  private readonly options: KvOptions;

  constructor(initialConf: ConfState, options: KvOptions = defaultOptions) {
    this.conf = normalizeConf(initialConf);
    this.options = options;
  }

  get applied(): number {
    return this.appliedIndex;
  }

  get membership(): ConfState {
    return this.conf;
  }

  get(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  /** Write ids whose effect this state applied more than once (target: none). */
  get duplicates(): readonly string[] {
    return this.duplicateList;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Applies one committed entry; entries must come in index order without gaps. */
  apply(entry: Entry): ApplyEffect {
    if (entry.index !== this.appliedIndex + 1) {
      throw new Error(`kv: apply of index ${entry.index} after ${this.appliedIndex} (gap or repeat)`);
    }
    let effect: ApplyEffect = { kind: 'none' };
    if (entry.type === 'normal') {
      effect = this.applyCommand(decodeCommand(entry.data), entry.index);
    } else if (entry.type === 'conf') {
      this.conf = applyConfChange(this.conf, decodeConfChange(entry.data));
    }
    this.appliedIndex = entry.index;
    this.appliedTerm = entry.term;
    return effect;
  }

  private applyCommand(cmd: KvCommand, index: number): ApplyEffect {
    if (this.options.sessions) {
      this.sessions.advance(cmd.timeMs);
      const tag = sessionTag(cmd);
      const found = this.sessions.lookup(tag);
      if (found.kind === 'replay') return { kind: 'replayed', index: found.result };
      if (found.kind === 'expired') return { kind: 'expired' };
      // The sim's clients never send another request under a used key.
      if (found.kind === 'reused') throw new Error(`kv: key ${tag.key} reused for another request at index ${index}`);
      this.sessions.record(tag, index);
    }
    let applied = this.appliedWrites.get(cmd.client);
    if (applied === undefined) this.appliedWrites.set(cmd.client, (applied = new Set()));
    if (applied.has(cmd.request)) this.duplicateList.push(`${cmd.client}.${cmd.request}`);
    else applied.add(cmd.request);
    this.data.set(cmd.key, cmd.op === 'put' ? cmd.value : (this.data.get(cmd.key) ?? '') + cmd.value);
    return { kind: 'applied', index };
  }

  /** A snapshot of the state as of the applied index. */
  snapshot(): Snapshot {
    const kv = [...this.data.entries()].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    const body: SnapshotBody = {
      kv,
      sessions: encodeSessions(this.sessions.toSnapshot()),
      appliedWrites: [...this.appliedWrites].map(([c, ids]) => [c, toRanges(ids)]),
      duplicates: this.duplicateList,
    };
    return {
      meta: { index: this.appliedIndex, term: this.appliedTerm, conf: this.conf },
      data: encoder.encode(JSON.stringify(body)),
    };
  }

  /** Replaces the whole state with a snapshot's. */
  restore(snapshot: Snapshot): void {
    const body = JSON.parse(decoder.decode(snapshot.data)) as SnapshotBody;
    if (!Array.isArray(body.kv) || !Array.isArray(body.sessions) || !Array.isArray(body.appliedWrites) || !Array.isArray(body.duplicates)) {
      throw new Error('kv: malformed snapshot');
    }
    this.data.clear();
    for (const [k, v] of body.kv) this.data.set(k, v);
    this.sessions = new SessionTable<number>(SIM_SESSION_BOUNDS);
    this.sessions.load(decodeSessions(body.sessions));
    this.appliedWrites.clear();
    for (const [client, ranges] of body.appliedWrites) {
      const ids = new Set<number>();
      for (const [from, to] of ranges) for (let r = from; r <= to; r++) ids.add(r);
      this.appliedWrites.set(client, ids);
    }
    this.duplicateList.length = 0;
    this.duplicateList.push(...body.duplicates);
    this.appliedIndex = snapshot.meta.index;
    this.appliedTerm = snapshot.meta.term;
    this.conf = normalizeConf(snapshot.meta.conf);
  }
}

/** Sorted [from, to] ranges covering exactly `ids`. */
function toRanges(ids: ReadonlySet<number>): [number, number][] {
  const sorted = [...ids].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const id of sorted) {
    const last = ranges[ranges.length - 1];
    if (last !== undefined && last[1] === id - 1) last[1] = id;
    else ranges.push([id, id]);
  }
  return ranges;
}

function encodeSessions(t: SessionsSnapshot<number>): SnapshotBody['sessions'] {
  return [t.logTimeMs, t.records.map((r) => [r.key, r.digest, r.timeMs, r.bytes, r.result]), t.watermarks.map((w) => [w.client, w.seq, w.timeMs])];
}

function decodeSessions([logTimeMs, records, watermarks]: SnapshotBody['sessions']): SessionsSnapshot<number> {
  return {
    logTimeMs,
    records: records.map(([key, digest, timeMs, bytes, result]) => ({ key, digest, timeMs, bytes, result })),
    watermarks: watermarks.map(([client, seq, timeMs]) => ({ client, seq, timeMs })),
  };
}
