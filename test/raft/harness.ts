// A small deterministic network for driving several RaftCores by hand in tests: each node has
// a "disk" (hard state, entries, snapshot) that ready() is persisted to, a state machine (the
// list of applied commands), and messages wait in `inflight` until delivered. Links can be cut,
// nodes isolated, crashed (losing nothing that was persisted) and restarted.
import { RaftCore } from '../../src/raft/index.ts';
import type { ConfState, Entry, HardState, Message, RaftConfig, ReadState, Snapshot } from '../../src/raft/index.ts';

export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const cmd = (text: string): Uint8Array => encoder.encode(text);

interface Disk {
  hardState: HardState;
  entries: Entry[];
  snapshot: Snapshot | null;
}

export interface SimNode {
  readonly id: number;
  core: RaftCore;
  up: boolean;
  disk: Disk;
  /** Applied normal commands, in order (the state machine). */
  applied: string[];
  appliedIndex: number;
  readStates: ReadState[];
}

export type ConfigOverrides = Partial<Omit<RaftConfig, 'id' | 'random'>>;

export const DEFAULT_CONFIG: Omit<RaftConfig, 'id' | 'random'> = {
  heartbeatTicks: 1,
  electionTicks: 10,
  preVote: true,
  checkQuorum: true,
  maxEntriesPerMessage: 64,
  maxBytesPerMessage: 1 << 20,
  maxInflight: 8,
  snapshotChunkBytes: 1024,
};

export class Cluster {
  readonly nodes = new Map<number, SimNode>();
  inflight: Message[] = [];
  /** Directed links that drop everything: "from->to". */
  private readonly cut = new Set<string>();
  /** Extra filter: return true to drop a message. */
  dropIf: ((m: Message) => boolean) | null = null;
  /** Rewrites a message in transit (e.g. to model a leader that sent fewer entries). */
  rewrite: ((m: Message) => Message) | null = null;
  /** Every message delivered, for counting round trips. */
  delivered: Message[] = [];

  constructor(
    readonly ids: number[],
    readonly overrides: ConfigOverrides = {},
    readonly initialConf: ConfState = { voters: ids, learners: [] },
    private readonly perNode: (id: number) => ConfigOverrides = () => ({}),
  ) {
    for (const id of ids) this.addNode(id, initialConf);
  }

  config(id: number): RaftConfig {
    return { ...DEFAULT_CONFIG, ...this.overrides, ...this.perNode(id), id, random: seededRandom(id * 7919) };
  }

  /** Creates a fresh node (empty disk) with the given bootstrap configuration. */
  addNode(id: number, initialConf: ConfState = { voters: [], learners: [] }): SimNode {
    const disk: Disk = { hardState: { term: 0, vote: 0, commit: 0 }, entries: [], snapshot: null };
    const node: SimNode = {
      id,
      core: new RaftCore(this.config(id), { hardState: disk.hardState, snapshot: null, entries: [], initialConf }),
      up: true,
      disk,
      applied: [],
      appliedIndex: 0,
      readStates: [],
    };
    this.nodes.set(id, node);
    this.initialConfs.set(id, initialConf);
    return node;
  }

  private readonly initialConfs = new Map<number, ConfState>();

  node(id: number): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  core(id: number): RaftCore {
    return this.node(id).core;
  }

  /** Drains one node's ready(): persist, send, apply, advance. */
  process(id: number): void {
    const n = this.node(id);
    let guard = 0;
    while (n.up && n.core.hasReady()) {
      if (++guard > 1000) throw new Error(`node ${id} never settles`);
      const rd = n.core.ready();
      if (rd.hardState) n.disk.hardState = rd.hardState;
      if (rd.snapshot) {
        n.disk.snapshot = rd.snapshot;
        n.disk.entries = [];
        n.applied = JSON.parse(decoder.decode(rd.snapshot.data)) as string[];
        n.appliedIndex = rd.snapshot.meta.index;
      }
      if (rd.entries.length > 0) {
        const first = rd.entries[0]!.index;
        n.disk.entries = n.disk.entries.filter((e) => e.index < first).concat(rd.entries);
      }
      for (const m of rd.messages) this.inflight.push(m);
      for (const e of rd.committedEntries) {
        if (e.index !== n.appliedIndex + 1) throw new Error(`node ${id} applies ${e.index} after ${n.appliedIndex}`);
        n.appliedIndex = e.index;
        if (e.type === 'normal') n.applied.push(decoder.decode(e.data));
      }
      n.readStates.push(...rd.readStates);
      n.core.advance();
    }
  }

  processAll(): void {
    for (const id of this.nodes.keys()) this.process(id);
  }

  /** Delivers one message if its link is up; returns whether it arrived. */
  deliverOne(m: Message): boolean {
    const to = this.nodes.get(m.to);
    const from = this.nodes.get(m.from);
    if (!to || !to.up || !from || !from.up) return false;
    if (this.cut.has(`${m.from}->${m.to}`)) return false;
    if (this.dropIf?.(m)) return false;
    if (this.rewrite) m = this.rewrite(m);
    this.delivered.push(m);
    to.core.step(m);
    return true;
  }

  /** Delivers everything in flight, and everything that causes, until quiet. */
  stabilize(maxRounds = 1000): void {
    this.processAll();
    for (let round = 0; this.inflight.length > 0; round++) {
      if (round > maxRounds) throw new Error('network never settles');
      const batch = this.inflight;
      this.inflight = [];
      for (const m of batch) this.deliverOne(m);
      this.processAll();
    }
  }

  /** Ticks every live node `n` times, stabilizing after each tick. */
  tick(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const node of this.nodes.values()) if (node.up) node.core.tick();
      this.stabilize();
    }
  }

  /** Ticks only the given nodes (others keep their clocks still). */
  tickOnly(ids: number[], n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const id of ids) if (this.node(id).up) this.core(id).tick();
      this.stabilize();
    }
  }

  campaign(id: number): void {
    this.core(id).campaign();
    this.stabilize();
  }

  propose(id: number, text: string): number | null {
    const index = this.core(id).propose(cmd(text));
    this.stabilize();
    return index;
  }

  leaders(): number[] {
    return [...this.nodes.values()].filter((n) => n.up && n.core.status().role === 'leader').map((n) => n.id);
  }

  /** The single leader among live nodes (throws if there is not exactly one). */
  leader(): number {
    const ls = this.leaders();
    if (ls.length !== 1) throw new Error(`expected one leader, found [${ls.join(',')}]`);
    return ls[0]!;
  }

  cutLink(a: number, b: number): void {
    this.cut.add(`${a}->${b}`);
    this.cut.add(`${b}->${a}`);
  }

  /** Cuts every link between the two groups. */
  partition(a: number[], b: number[]): void {
    for (const x of a) for (const y of b) this.cutLink(x, y);
  }

  isolate(id: number): void {
    this.partition(
      [id],
      this.ids.concat([...this.nodes.keys()]).filter((x) => x !== id),
    );
  }

  heal(): void {
    this.cut.clear();
    this.dropIf = null;
    this.rewrite = null;
  }

  /** Stops a node: it keeps only what it persisted; its messages in flight are lost. */
  crash(id: number): void {
    this.node(id).up = false;
    this.inflight = this.inflight.filter((m) => m.to !== id && m.from !== id);
  }

  /** Restarts a node from its disk, as log/ would recover it. */
  restart(id: number): void {
    const n = this.node(id);
    const snap = n.disk.snapshot;
    n.core = new RaftCore(this.config(id), {
      hardState: n.disk.hardState,
      snapshot: snap?.meta ?? null,
      entries: n.disk.entries,
      initialConf: this.initialConfs.get(id) ?? { voters: [], learners: [] },
    });
    if (snap) n.core.snapshotTaken(snap);
    n.applied = snap ? (JSON.parse(decoder.decode(snap.data)) as string[]) : [];
    n.appliedIndex = snap?.meta.index ?? 0;
    n.readStates = [];
    n.up = true;
  }

  /** The application on `id` snapshots its state at its applied index and compacts. */
  takeSnapshot(id: number): Snapshot {
    const n = this.node(id);
    const meta = n.core.snapshotMeta(n.appliedIndex);
    const snapshot: Snapshot = { meta, data: encoder.encode(JSON.stringify(n.applied)) };
    n.core.snapshotTaken(snapshot);
    n.disk.snapshot = snapshot;
    n.disk.entries = n.disk.entries.filter((e) => e.index > meta.index);
    return snapshot;
  }

  /** Every pair of state machines agrees on their common prefix. */
  assertAgreement(): void {
    const all = [...this.nodes.values()];
    for (const a of all) {
      for (const b of all) {
        const n = Math.min(a.applied.length, b.applied.length);
        for (let i = 0; i < n; i++) {
          if (a.applied[i] !== b.applied[i]) {
            throw new Error(`nodes ${a.id} and ${b.id} disagree at command ${i}: ${a.applied[i]} vs ${b.applied[i]}`);
          }
        }
      }
    }
  }

  /** Ticks until some node is leader (bounded). */
  electSomeone(maxTicks = 200): number {
    for (let i = 0; i < maxTicks; i++) {
      const ls = this.leaders();
      if (ls.length === 1) return ls[0]!;
      this.tick();
    }
    throw new Error('no leader elected');
  }
}
