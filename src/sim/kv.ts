// The simulated application: a key-value store whose commands travel through the Raft log.
// put replaces a key's value, append concatenates to it; every written value is unique
// (client id and request id in brackets), which is what lets the linearizability checker
// tell writes apart. The store also tracks the membership as of its applied index (from
// the conf entries it applies), which a snapshot must carry, and the clients' sessions
// (exactly-once writes, see below).

import { applyConfChange, decodeConfChange, normalizeConf } from '../raft/configuration.ts';
import type { ConfState, Entry, Snapshot } from '../raft/types.ts';

export interface KvCommand {
  readonly client: number;
  readonly request: number;
  readonly op: 'put' | 'append';
  readonly key: string;
  readonly value: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(cmd: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify([cmd.client, cmd.request, cmd.op, cmd.key, cmd.value]));
}

export function decodeCommand(data: Uint8Array): KvCommand {
  const raw: unknown = JSON.parse(decoder.decode(data));
  if (
    !Array.isArray(raw) ||
    raw.length !== 5 ||
    typeof raw[0] !== 'number' ||
    typeof raw[1] !== 'number' ||
    (raw[2] !== 'put' && raw[2] !== 'append') ||
    typeof raw[3] !== 'string' ||
    typeof raw[4] !== 'string'
  ) {
    throw new Error(`kv: malformed command ${decoder.decode(data)}`);
  }
  return { client: raw[0], request: raw[1], op: raw[2], key: raw[3], value: raw[4] };
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
 * Thesis §6.3 sessions: the state machine remembers, per client, the last request it applied
 * and that request's result, so that a retried write (same client and request id, in a new log
 * entry) applies nothing and answers with the first result. Sessions expire by LOG index (every
 * node applies the same log, so every node expires the same sessions at the same entry; a
 * node's clock never decides): a client idle for SESSION_IDLE_ENTRIES_MAX entries is forgotten,
 * and at most SESSIONS_MAX clients are remembered (the least recently active goes first). A
 * retry after its session is gone may apply again: the window is the promise.
 */
export const SESSION_IDLE_ENTRIES_MAX = 20_000;
export const SESSIONS_MAX = 64;

interface Session {
  /** The last request applied for this client. */
  readonly request: number;
  /** Its result: the log index at which it took effect. */
  readonly result: number;
  /** Index of the last entry of this client (applied or answered from the session). */
  readonly lastIndex: number;
}

/** What apply() did with a normal entry. 'replayed': a retry answered from the session. */
export type ApplyEffect =
  | { readonly kind: 'applied'; readonly index: number }
  | { readonly kind: 'replayed'; readonly index: number }
  | { readonly kind: 'stale' }
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
  /** [client, request, result, lastIndex], least recently active first. */
  readonly sessions: [number, number, number, number][];
  /** Audit (simulation only, not part of the session mechanism): per client, the request ids
   * applied, as [from, to] ranges (a client's ids are mostly consecutive: a snapshot stays
   * small, and so do the chunks that carry it to a follower). */
  readonly appliedWrites: [number, [number, number][]][];
  readonly duplicates: string[];
}

export class KvStateMachine {
  private readonly data = new Map<string, string>();
  /** In order of last activity (re-inserted on each use): expiry and eviction take the front. */
  private readonly sessions = new Map<number, Session>();
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
    this.expireSessions(entry.index);
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
      const session = this.sessions.get(cmd.client);
      if (session !== undefined && cmd.request <= session.request) {
        this.touch(cmd.client, { ...session, lastIndex: index });
        // The same request again: answer with its first result. An older one: the client
        // moved on, so that request was answered (or given up) and must not apply now.
        return cmd.request === session.request ? { kind: 'replayed', index: session.result } : { kind: 'stale' };
      }
      this.touch(cmd.client, { request: cmd.request, result: index, lastIndex: index });
    }
    let applied = this.appliedWrites.get(cmd.client);
    if (applied === undefined) this.appliedWrites.set(cmd.client, (applied = new Set()));
    if (applied.has(cmd.request)) this.duplicateList.push(`${cmd.client}.${cmd.request}`);
    else applied.add(cmd.request);
    this.data.set(cmd.key, cmd.op === 'put' ? cmd.value : (this.data.get(cmd.key) ?? '') + cmd.value);
    return { kind: 'applied', index };
  }

  private touch(client: number, session: Session): void {
    this.sessions.delete(client);
    this.sessions.set(client, session);
    if (this.sessions.size > SESSIONS_MAX) this.sessions.delete(this.sessions.keys().next().value!);
  }

  /** Forgets the sessions idle for more than SESSION_IDLE_ENTRIES_MAX entries before `index`. */
  private expireSessions(index: number): void {
    for (const [client, session] of this.sessions) {
      if (session.lastIndex + SESSION_IDLE_ENTRIES_MAX >= index) break;
      this.sessions.delete(client);
    }
  }

  /** A snapshot of the state as of the applied index. */
  snapshot(): Snapshot {
    const kv = [...this.data.entries()].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    const sessions = [...this.sessions].map(([c, s]): [number, number, number, number] => [c, s.request, s.result, s.lastIndex]);
    const body: SnapshotBody = {
      kv,
      sessions,
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
    this.sessions.clear();
    for (const [client, request, result, lastIndex] of body.sessions) this.sessions.set(client, { request, result, lastIndex });
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
