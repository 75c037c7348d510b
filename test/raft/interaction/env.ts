// A deterministic environment that runs scripted scenarios (test/raft/testdata/*.txt) against
// the real RaftCore, after etcd-io/raft's rafttest.InteractionEnv. Nothing happens unless a
// command says so: ticks are explicit, each node's randomness is a seeded source, messages
// wait in one network queue (in the order they were sent) until `deliver` or `stabilize`
// hands them over, and each node's "disk" is written when its Ready is processed, so a
// crash loses exactly what the core had not yet handed to the driver.
//
// Every command returns text that the runner compares with the script; commands without
// anything to say return "ok". The output never contains a blank line (a blank line ends a
// block in the script format).
import { RaftCore, decodeConfEntry } from '../../../src/raft/index.ts';
import type { ConfChange, ConfState, Entry, HardState, Message, RaftBugs, RaftConfig, Ready, Snapshot, SoftState } from '../../../src/raft/index.ts';
import type { Command } from './script.ts';
import { seededRandom } from '../harness.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bound on stabilize rounds (a round: every node processes its Ready, then receives its messages). */
const STABILIZE_ROUNDS_MAX = 200;
/** Bounds on what one command may ask for, so a typo cannot hang the test. */
const TICKS_PER_COMMAND_MAX = 1000;
const NODES_MAX = 64;

interface Disk {
  hardState: HardState;
  /** Entries after the snapshot, in index order. */
  entries: Entry[];
  snapshot: Snapshot | null;
}

interface EnvNode {
  readonly id: number;
  core: RaftCore;
  config: RaftConfig;
  readonly initialConf: ConfState;
  up: boolean;
  disk: Disk;
  /** The state machine: normal commands applied, in order. */
  applied: string[];
  appliedIndex: number;
  /** Soft state as last printed, so a Ready shows it only when it changed. */
  shownSoft: SoftState;
}

/** What describeChange compares before and after an event on a node. */
interface Snap {
  role: string;
  term: number;
  leader: number;
}

export class InteractionEnv {
  private readonly nodes = new Map<number, EnvNode>();
  /** The network: messages sent and not yet delivered or dropped, in send order. */
  private messages: Message[] = [];
  /** Copies of messages the network keeps to deliver late (duplicate / deliver-duplicates). */
  private duplicates: Message[] = [];
  /** Cut directed links "from->to" (partition / heal). */
  private readonly cut = new Set<string>();
  private out: string[] = [];
  private indent = '';

  /** Runs one command and returns its output. */
  handle(c: Command): string {
    this.out = [];
    this.indent = '';
    try {
      this.dispatch(c);
    } catch (err) {
      // Assertions inside the core (a planted bug, an impossible state) show up in the
      // script's output instead of ending it, so a script can demonstrate them.
      this.indent = '';
      this.print(`error: ${err instanceof Error ? err.message : String(err)}`);
    }
    return this.out.length === 0 ? 'ok' : this.out.join('\n');
  }

  private dispatch(c: Command): void {
    switch (c.name) {
      case 'add-nodes':
        return this.addNodes(c);
      case 'set-log':
        return this.setLog(c);
      case 'campaign':
        return this.onNodes(c, (n) => n.core.campaign());
      case 'propose':
        return this.propose(c);
      case 'propose-conf-change':
        return this.proposeConfChange(c);
      case 'tick':
        return this.tick(c);
      case 'process-ready':
        for (const id of this.ids(c)) this.processReady(this.node(id), true);
        return;
      case 'deliver':
        return this.deliver(c);
      case 'drop':
        return this.drop(c);
      case 'duplicate':
        return this.duplicate(c);
      case 'deliver-duplicates':
        return this.deliverDuplicates(c);
      case 'partition':
        return this.partition(c);
      case 'heal':
        this.cut.clear();
        return;
      case 'crash':
        return this.crash(c);
      case 'restart':
        for (const id of this.ids(c)) this.restart(this.node(id));
        return;
      case 'transfer':
        return this.transfer(c);
      case 'read-index':
        return this.readIndex(c);
      case 'lease-read':
        return this.leaseRead(c);
      case 'status':
        for (const id of this.ids(c)) this.status(this.node(id));
        return;
      case 'log':
        for (const id of this.ids(c)) this.log(this.node(id));
        return;
      case 'applied':
        for (const id of this.ids(c)) {
          const n = this.node(id);
          this.print(`${id}: index ${n.appliedIndex} [${n.applied.join(' ')}]`);
        }
        return;
      case 'snapshot':
        return this.snapshot(c);
      case 'stabilize':
        return this.stabilize(c);
      default:
        throw new Error(`unknown command ${c.name}`);
    }
  }

  // -- Arguments ---------------------------------------------------------------------------

  private node(id: number): EnvNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** The node ids a command names: positional ids, or every node for "all" or none. */
  private ids(c: Command, from = 0): number[] {
    const given = c.positional.slice(from);
    if (given.length === 0 || given[0] === 'all') return [...this.nodes.keys()].sort((a, b) => a - b);
    return given.map((s) => parseId(s));
  }

  private onNodes(c: Command, f: (n: EnvNode) => void): void {
    for (const id of this.ids(c)) {
      const n = this.upNode(id);
      this.watch(n, () => f(n));
    }
  }

  private upNode(id: number): EnvNode {
    const n = this.node(id);
    if (!n.up) throw new Error(`node ${id} is down`);
    return n;
  }

  // -- Output ------------------------------------------------------------------------------

  private print(line: string): void {
    this.out.push(this.indent + line);
  }

  private nested(f: () => void): void {
    const before = this.indent;
    this.indent += '  ';
    try {
      f();
    } finally {
      this.indent = before;
    }
  }

  /** Runs an event on a node and prints the role, term and leader changes it caused. */
  private watch(n: EnvNode, f: () => void): void {
    const before = snap(n.core);
    f();
    const after = snap(n.core);
    if (after.role !== before.role || after.term !== before.term) {
      this.print(
        `${n.id} became ${after.role} at term ${after.term}${after.leader !== 0 && after.role !== 'leader' ? ` (leader ${after.leader})` : ''}`,
      );
    } else if (after.leader !== before.leader) {
      this.print(after.leader === 0 ? `${n.id} lost its leader (${before.leader})` : `${n.id} follows leader ${after.leader}`);
    }
  }

  // -- Setup -------------------------------------------------------------------------------

  private addNodes(c: Command): void {
    const count = parseCount(c.positional[0], 'add-nodes N');
    const first = Math.max(0, ...this.nodes.keys()) + 1;
    if (first + count - 1 > NODES_MAX) throw new Error(`at most ${NODES_MAX} nodes`);
    const newIds = Array.from({ length: count }, (_, i) => first + i);
    const voters = c.keyed.has('voters') ? parseList(c.keyed.get('voters')!) : null;
    const learners = c.keyed.has('learners') ? parseList(c.keyed.get('learners')!) : null;
    // The first nodes bootstrap as voters of themselves; later ones join with no configuration
    // of their own and learn it from the leader (a conf entry or a snapshot).
    const initialConf: ConfState =
      voters === null && learners === null && this.nodes.size === 0
        ? { voters: newIds, learners: [] }
        : { voters: voters ?? [], learners: learners ?? [] };
    const seed = parseCount(c.keyed.get('seed') ?? '1', 'seed');
    const bug = c.keyed.get('bug');
    const bugs: RaftBugs | undefined = bug === undefined ? undefined : { [bug]: true };
    const base = {
      heartbeatTicks: parseCount(c.keyed.get('heartbeat') ?? '1', 'heartbeat'),
      electionTicks: parseCount(c.keyed.get('election') ?? '10', 'election'),
      preVote: parseBool(c.keyed.get('prevote') ?? 'true'),
      checkQuorum: parseBool(c.keyed.get('checkquorum') ?? 'true'),
      maxEntriesPerMessage: parseCount(c.keyed.get('max-entries') ?? '64', 'max-entries'),
      maxBytesPerMessage: 1 << 20,
      maxInflight: parseCount(c.keyed.get('inflight') ?? '8', 'inflight'),
      snapshotChunkBytes: parseCount(c.keyed.get('chunk') ?? '1024', 'chunk'),
      // The scripts compact the whole log at a snapshot, so a follower behind it needs the snapshot.
      snapshotCatchUpEntries: Number(c.keyed.get('catch-up') ?? '0'),
      ...(bugs ? { bugs } : {}),
    };
    for (const id of newIds) {
      // One seeded source per node: the randomized election timeouts are the same on every run.
      const config: RaftConfig = { ...base, id, random: seededRandom(seed * 1000 + id) };
      const disk: Disk = { hardState: { term: 0, vote: 0, commit: 0 }, entries: [], snapshot: null };
      const node: EnvNode = {
        id,
        config,
        initialConf,
        core: new RaftCore(config, { hardState: disk.hardState, snapshot: null, entries: [], initialConf }),
        up: true,
        disk,
        applied: [],
        appliedIndex: 0,
        shownSoft: { leader: 0, role: 'follower' },
      };
      this.nodes.set(id, node);
    }
  }

  /** set-log ID terms=1,1,4 [term=T]: replaces the node's disk with a log of entries of those
   * terms (and a current term) and restarts it from that disk: a way to set up the logs of the
   * paper's figures without replaying how they came to be. */
  private setLog(c: Command): void {
    const n = this.node(parseId(c.positional[0]));
    const terms = parseList(c.keyed.get('terms') ?? '');
    const entries: Entry[] = terms.map((term, i) => ({ index: i + 1, term, type: 'normal', data: new Uint8Array(0) }));
    const term = Math.max(Number(c.keyed.get('term') ?? '0'), ...terms, 0);
    n.disk = { hardState: { term, vote: 0, commit: 0 }, entries, snapshot: null };
    this.restart(n);
    this.print(`${n.id}: term ${term}, log ${entries.length === 0 ? 'empty' : entries.map((e) => `${e.term}/${e.index}`).join(' ')}`);
  }

  // -- Client requests ---------------------------------------------------------------------

  private propose(c: Command): void {
    const n = this.upNode(parseId(c.positional[0]));
    const data = c.positional.slice(1).join(' ');
    const index = n.core.propose(encoder.encode(data));
    this.print(index === null ? 'refused: not leader (or transferring leadership)' : `index ${index}`);
  }

  private proposeConfChange(c: Command): void {
    const n = this.upNode(parseId(c.positional[0]));
    const type = c.positional[1];
    if (type !== 'addVoter' && type !== 'addLearner' && type !== 'remove')
      throw new Error('usage: propose-conf-change ID addVoter|addLearner|remove NODE');
    const change: ConfChange = { type, node: parseId(c.positional[2]) };
    const index = n.core.proposeConfChange(change);
    this.print(index === null ? 'refused: not leader, or a change is pending, or the change is invalid' : `index ${index}`);
  }

  private transfer(c: Command): void {
    const n = this.upNode(parseId(c.positional[0]));
    const to = parseId(c.positional[1]);
    let ok = false;
    this.watch(n, () => (ok = n.core.transferLeadership(to)));
    if (!ok) this.print('refused');
  }

  private readIndex(c: Command): void {
    const n = this.upNode(parseId(c.positional[0]));
    const context = parseCount(c.positional[1], 'read-index ID CTX');
    if (!n.core.readIndex(context)) this.print('refused: no leader known');
  }

  /** A lease read as node/raft-node.ts's readBarrier serves it: from the leader's commit
   * index at once while core.leaseValid(), otherwise confirmed through ReadIndex. */
  private leaseRead(c: Command): void {
    const n = this.upNode(parseId(c.positional[0]));
    const context = parseCount(c.positional[1], 'lease-read ID CTX');
    if (n.core.leaseValid()) {
      this.print(`served from the lease at index ${n.core.status().commitIndex}`);
      return;
    }
    this.print('no valid lease: ReadIndex');
    if (!n.core.readIndex(context)) this.print('refused: no leader known');
  }

  // -- Time --------------------------------------------------------------------------------

  private tick(c: Command): void {
    const who = c.positional[0] ?? 'all';
    const ids = who === 'all' ? this.ids(c) : [parseId(who)];
    const times = parseCount(c.positional[1] ?? '1', 'tick ID N');
    if (times > TICKS_PER_COMMAND_MAX) throw new Error(`at most ${TICKS_PER_COMMAND_MAX} ticks per command`);
    for (let i = 0; i < times; i++) {
      for (const id of ids) {
        const n = this.node(id);
        if (n.up) this.watch(n, () => n.core.tick());
      }
    }
  }

  // -- Ready -------------------------------------------------------------------------------

  /** Drains one Ready: persist, send (to the network queue), apply, advance. Prints it. */
  private processReady(n: EnvNode, force: boolean): boolean {
    if (!n.up) {
      if (force) this.print(`${n.id} is down`);
      return false;
    }
    if (!n.core.hasReady()) {
      if (force) this.print(`${n.id}: no Ready`);
      return false;
    }
    const rd = n.core.ready();
    this.describeReady(n, rd);
    if (rd.hardState) n.disk.hardState = rd.hardState;
    if (rd.snapshot) {
      n.disk.snapshot = rd.snapshot;
      // The core replaced its whole log with the snapshot (it installs one only when its log
      // does not already hold that prefix).
      n.disk.entries = [];
      n.applied = JSON.parse(decoder.decode(rd.snapshot.data)) as string[];
      n.appliedIndex = rd.snapshot.meta.index;
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      n.disk.entries = n.disk.entries.filter((e) => e.index < first).concat(rd.entries);
    }
    this.messages.push(...rd.messages);
    for (const e of rd.committedEntries) {
      if (e.index !== n.appliedIndex + 1) throw new Error(`node ${n.id} applies ${e.index} after ${n.appliedIndex}`);
      n.appliedIndex = e.index;
      if (e.type === 'normal') n.applied.push(decoder.decode(e.data));
    }
    n.core.advance();
    return true;
  }

  private describeReady(n: EnvNode, rd: Ready): void {
    if (rd.softState.role !== n.shownSoft.role || rd.softState.leader !== n.shownSoft.leader) {
      this.print(`State:${rd.softState.role} Lead:${rd.softState.leader}`);
      n.shownSoft = rd.softState;
    }
    if (rd.hardState) this.print(`HardState Term:${rd.hardState.term} Vote:${rd.hardState.vote} Commit:${rd.hardState.commit}`);
    if (rd.snapshot) this.print(`Snapshot ${formatSnapshotMeta(rd.snapshot)}`);
    if (rd.entries.length > 0) {
      this.print('Entries:');
      for (const e of rd.entries) this.print(formatEntry(e));
    }
    if (rd.committedEntries.length > 0) {
      this.print('Committed:');
      for (const e of rd.committedEntries) this.print(formatEntry(e));
    }
    if (rd.messages.length > 0) {
      this.print('Messages:');
      for (const m of rd.messages) this.print(formatMessage(m));
    }
    if (rd.readStates.length > 0) {
      this.print('ReadStates:');
      for (const r of rd.readStates) this.print(`Index:${r.index} Ctx:${r.context}`);
    }
  }

  // -- Network -----------------------------------------------------------------------------

  private matcher(c: Command): (m: Message) => boolean {
    const from = c.keyed.has('from') ? parseId(c.keyed.get('from')) : 0;
    const to = c.keyed.has('to') ? parseId(c.keyed.get('to')) : 0;
    const type = c.keyed.get('type');
    return (m) => (from === 0 || m.from === from) && (to === 0 || m.to === to) && (type === undefined || m.type === type);
  }

  /** Why a message cannot arrive now, or null when it can. */
  private blocked(m: Message): string | null {
    const to = this.nodes.get(m.to);
    if (!to) return `no node ${m.to}`;
    if (!to.up) return `${m.to} is down`;
    if (this.cut.has(`${m.from}->${m.to}`)) return 'partition';
    return null;
  }

  private deliverOne(m: Message): void {
    const why = this.blocked(m);
    if (why !== null) {
      this.print(`${formatMessage(m)} (dropped: ${why})`);
      return;
    }
    this.print(formatMessage(m));
    const n = this.node(m.to);
    this.nested(() => this.watch(n, () => n.core.step(m)));
  }

  /** deliver [from=ID] [to=ID] [type=T]: hands over the matching messages sent so far, in order. */
  private deliver(c: Command): void {
    const match = this.matcher(c);
    const now = this.messages.filter(match);
    this.messages = this.messages.filter((m) => !match(m));
    if (now.length === 0) this.print('no messages');
    for (const m of now) this.deliverOne(m);
  }

  /** duplicate [from=ID] [to=ID] [type=T]: the network keeps a copy of each matching queued
   * message (the originals stay queued), for deliver-duplicates to hand over late. */
  private duplicate(c: Command): void {
    const copies = this.messages.filter(this.matcher(c));
    if (copies.length === 0) this.print('no messages');
    for (const m of copies) this.print(`copy: ${formatMessage(m)}`);
    this.duplicates.push(...copies);
  }

  /** deliver-duplicates [from=ID] [to=ID] [type=T]: hands over the matching copies, in order. */
  private deliverDuplicates(c: Command): void {
    const match = this.matcher(c);
    const now = this.duplicates.filter(match);
    this.duplicates = this.duplicates.filter((m) => !match(m));
    if (now.length === 0) this.print('no messages');
    for (const m of now) this.deliverOne(m);
  }

  /** drop [from=ID] [to=ID] [type=T] | drop all: the network loses the matching messages. */
  private drop(c: Command): void {
    const all = c.positional[0] === 'all';
    const match = all ? () => true : this.matcher(c);
    if (!all && c.keyed.size === 0) throw new Error('usage: drop all | drop [from=ID] [to=ID] [type=T]');
    const lost = this.messages.filter(match);
    this.messages = this.messages.filter((m) => !match(m));
    if (lost.length === 0) this.print('no messages');
    for (const m of lost) this.print(`dropped: ${formatMessage(m)}`);
  }

  /** partition 1,2 3: cuts every link between the groups (both ways); heal restores them. */
  private partition(c: Command): void {
    const groups = c.positional.map(parseList);
    if (groups.length < 2) throw new Error('usage: partition 1,2 3 [4,5]');
    for (const [i, a] of groups.entries()) {
      for (const [j, b] of groups.entries()) {
        if (i === j) continue;
        for (const x of a) for (const y of b) this.cut.add(`${x}->${y}`);
      }
    }
  }

  private crash(c: Command): void {
    for (const id of this.ids(c)) {
      const n = this.node(id);
      n.up = false;
      // Its inbox is gone; what it already sent is on the wire and may still arrive.
      const lost = this.messages.filter((m) => m.to === id);
      this.messages = this.messages.filter((m) => m.to !== id);
      for (const m of lost) this.print(`dropped: ${formatMessage(m)}`);
    }
  }

  /** Restarts a node from its disk, as log/ recovers it: what was not persisted is gone. */
  private restart(n: EnvNode): void {
    const snapshot = n.disk.snapshot;
    n.core = new RaftCore(n.config, {
      hardState: n.disk.hardState,
      snapshot: snapshot?.meta ?? null,
      entries: n.disk.entries,
      initialConf: n.initialConf,
    });
    if (snapshot) n.core.snapshotTaken(snapshot);
    n.applied = snapshot ? (JSON.parse(decoder.decode(snapshot.data)) as string[]) : [];
    n.appliedIndex = snapshot?.meta.index ?? 0;
    n.shownSoft = { leader: 0, role: 'follower' };
    n.up = true;
  }

  /**
   * stabilize [ID...]: until nothing happens, every node (in id order) processes its Ready,
   * then every node receives the messages addressed to it. Messages to other nodes wait.
   */
  private stabilize(c: Command): void {
    const ids = this.ids(c);
    if (c.keyed.get('quiet') === 'true') {
      // Setup steps that other scripts show in full: run them, print nothing.
      const saved = this.out;
      this.out = [];
      try {
        this.stabilizeIds(ids);
      } finally {
        this.out = saved;
      }
      return;
    }
    this.stabilizeIds(ids);
  }

  private stabilizeIds(ids: number[]): void {
    for (let round = 0; ; round++) {
      if (round >= STABILIZE_ROUNDS_MAX) throw new Error(`not stable after ${STABILIZE_ROUNDS_MAX} rounds`);
      let busy = false;
      for (const id of ids) {
        const n = this.node(id);
        if (!n.up || !n.core.hasReady()) continue;
        this.print(`> ${id} handling Ready`);
        this.nested(() => this.processReady(n, false));
        busy = true;
      }
      for (const id of ids) {
        const inbox = this.messages.filter((m) => m.to === id);
        if (inbox.length === 0) continue;
        this.messages = this.messages.filter((m) => m.to !== id);
        this.print(`> ${id} receiving messages`);
        this.nested(() => {
          for (const m of inbox) this.deliverOne(m);
        });
        busy = true;
      }
      if (!busy) return;
    }
  }

  // -- Inspection --------------------------------------------------------------------------

  private status(n: EnvNode): void {
    if (!n.up) {
      this.print(`${n.id}: down`);
      return;
    }
    const st = n.core.status();
    const lease = st.role === 'leader' ? ` Lease:${n.core.leaseValid() ? 'valid' : 'invalid'}` : '';
    this.print(
      `${n.id}: ${st.role} Term:${st.term} Vote:${st.vote} Lead:${st.leader} Commit:${st.commitIndex} Applied:${st.appliedIndex} ` +
        `Log:${st.firstIndex}..${st.lastIndex} ${formatConf(st.conf)}${lease}`,
    );
    for (const pr of st.progress) {
      this.print(
        `  ${pr.id}: ${pr.state} match=${pr.matchIndex} next=${pr.nextIndex}${pr.learner ? ' learner' : ''}${pr.recentActive ? ' active' : ''}`,
      );
    }
  }

  /** The node's durable log (its disk), as a restart would find it. */
  private log(n: EnvNode): void {
    const snap = n.disk.snapshot;
    if (snap) this.print(`${n.id}: snapshot ${formatSnapshotMeta(snap)}`);
    if (n.disk.entries.length === 0 && !snap) this.print(`${n.id}: empty`);
    for (const e of n.disk.entries) this.print(`${n.id}: ${formatEntry(e)}`);
  }

  /** snapshot ID: the application snapshots its state at its applied index; the core keeps
   * it to send to followers and compacts its log (everything, unless catch-up= was given). */
  private snapshot(c: Command): void {
    const n = this.upNode(parseId(c.positional[0]));
    const meta = n.core.snapshotMeta(n.appliedIndex);
    const snapshot: Snapshot = { meta, data: encoder.encode(JSON.stringify(n.applied)) };
    n.core.snapshotTaken(snapshot);
    n.disk.snapshot = snapshot;
    n.disk.entries = n.disk.entries.filter((e) => e.index > meta.index);
    const st = n.core.status();
    const log = st.firstIndex > st.lastIndex ? `empty (next index ${st.firstIndex})` : `${st.firstIndex}..${st.lastIndex}`;
    this.print(`${n.id}: snapshot ${formatSnapshotMeta(snapshot)}; log now ${log}`);
  }
}

// -- Formatting (after etcd's DescribeMessage, with this core's message names) -------------

function snap(core: RaftCore): Snap {
  const st = core.status();
  return { role: st.role, term: st.term, leader: st.leader };
}

function formatConf(conf: ConfState): string {
  return `Voters:[${conf.voters.join(',')}] Learners:[${conf.learners.join(',')}]`;
}

function formatSnapshotMeta(s: Snapshot): string {
  return `${s.meta.term}/${s.meta.index} ${formatConf(s.meta.conf)} Bytes:${s.data.byteLength}`;
}

/** term/index type [data]: `1/4 normal "x"`, `2/5 conf addVoter 4`, `2/3 noop`. */
export function formatEntry(e: Entry): string {
  const head = `${e.term}/${e.index} ${e.type}`;
  if (e.type === 'normal') return e.data.byteLength === 0 ? head : `${head} ${JSON.stringify(decoder.decode(e.data))}`;
  if (e.type === 'conf') {
    const { change } = decodeConfEntry(e.data);
    return `${head} ${change.type} ${change.node}`;
  }
  return head;
}

/** One line per message: `1->2 AppendEntries Term:1 Log:1/3 Commit:3 Entries:[1/4 normal "x"]`,
 * where Log is the term/index the receiver checks (prevLog for appends, lastLog for votes). */
export function formatMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} Term:${m.term}`;
  switch (m.type) {
    case 'PreVote':
    case 'RequestVote':
      return `${head} Log:${m.lastLogTerm}/${m.lastLogIndex}${m.type === 'RequestVote' && m.transfer ? ' transfer' : ''}`;
    case 'PreVoteResponse':
    case 'RequestVoteResponse':
      return `${head} ${m.granted ? 'granted' : 'rejected'}`;
    case 'AppendEntries': {
      const entries = m.entries.length > 0 ? ` Entries:[${m.entries.map(formatEntry).join(', ')}]` : '';
      return `${head} Log:${m.prevLogTerm}/${m.prevLogIndex} Commit:${m.leaderCommit}${entries}`;
    }
    case 'AppendEntriesResponse':
      if (m.success) return `${head} Match:${m.matchIndex}`;
      return `${head} Rejected Hint:${m.conflictTerm}/${m.conflictIndex}`;
    case 'Heartbeat':
      return `${head} Commit:${m.commit}${m.context !== 0 ? ` Ctx:${m.context}` : ''}`;
    case 'HeartbeatResponse':
      return `${head}${m.context !== 0 ? ` Ctx:${m.context}` : ''}`;
    case 'InstallSnapshot':
      return (
        `${head} Snapshot:${m.meta.term}/${m.meta.index} ${formatConf(m.meta.conf)} ` +
        `Bytes:${m.offset}-${m.offset + m.chunk.byteLength}/${m.size ?? '?'}${m.done ? ' done' : ''}`
      );
    case 'InstallSnapshotResponse':
      return `${head} Snapshot:${m.snapshotIndex} Next:${m.nextOffset}${m.done ? ' done' : ''}`;
    case 'TimeoutNow':
      return head;
    case 'ReadIndex':
      return `${head} Ctx:${m.context}`;
    case 'ReadIndexResponse':
      return `${head} Index:${m.index} Ctx:${m.context}`;
  }
}

// -- Parsing -------------------------------------------------------------------------------

function parseId(s: string | undefined): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > NODES_MAX) throw new Error(`bad node id '${s ?? ''}'`);
  return n;
}

function parseCount(s: string | undefined, what: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`bad number '${s ?? ''}' in ${what}`);
  return n;
}

function parseList(s: string): number[] {
  const trimmed = s.replace(/^\(|\)$/g, '');
  if (trimmed === '') return [];
  return trimmed.split(',').map((x) => parseCount(x, 'list'));
}

function parseBool(s: string): boolean {
  if (s !== 'true' && s !== 'false') throw new Error(`expected true or false, got '${s}'`);
  return s === 'true';
}
