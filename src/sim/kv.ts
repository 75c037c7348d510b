// The simulated application: a key-value store whose commands travel through the Raft log.
// put replaces a key's value, append concatenates to it; every written value is unique
// (client id and request id in brackets), which is what lets the linearizability checker
// tell writes apart. The store also tracks the membership as of its applied index (from
// the conf entries it applies), which a snapshot must carry.

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

interface SnapshotBody {
  readonly kv: [string, string][];
}

export class KvStateMachine {
  private readonly data = new Map<string, string>();
  private appliedIndex = 0;
  private appliedTerm = 0;
  private conf: ConfState;

  constructor(initialConf: ConfState) {
    this.conf = normalizeConf(initialConf);
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

  /** Applies one committed entry; entries must come in index order without gaps. */
  apply(entry: Entry): void {
    if (entry.index !== this.appliedIndex + 1) {
      throw new Error(`kv: apply of index ${entry.index} after ${this.appliedIndex} (gap or repeat)`);
    }
    if (entry.type === 'normal') {
      const cmd = decodeCommand(entry.data);
      this.data.set(cmd.key, cmd.op === 'put' ? cmd.value : (this.data.get(cmd.key) ?? '') + cmd.value);
    } else if (entry.type === 'conf') {
      this.conf = applyConfChange(this.conf, decodeConfChange(entry.data));
    }
    this.appliedIndex = entry.index;
    this.appliedTerm = entry.term;
  }

  /** A snapshot of the state as of the applied index. */
  snapshot(): Snapshot {
    const kv = [...this.data.entries()].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    const body: SnapshotBody = { kv };
    return {
      meta: { index: this.appliedIndex, term: this.appliedTerm, conf: this.conf },
      data: encoder.encode(JSON.stringify(body)),
    };
  }

  /** Replaces the whole state with a snapshot's. */
  restore(snapshot: Snapshot): void {
    const body = JSON.parse(decoder.decode(snapshot.data)) as SnapshotBody;
    if (!Array.isArray(body.kv)) throw new Error('kv: malformed snapshot');
    this.data.clear();
    for (const [k, v] of body.kv) this.data.set(k, v);
    this.appliedIndex = snapshot.meta.index;
    this.appliedTerm = snapshot.meta.term;
    this.conf = normalizeConf(snapshot.meta.conf);
  }
}
