// Who belongs to the cluster, as this node sees and changes it: admitting peers'
// handshakes, adding, removing and promoting members (on the leader, or forwarded
// to it), transferring leadership, and keeping the transport dialling every member
// as committed membership changes are applied.
import type { Logger } from 'pino';
import { decodeConfEntry, type RaftCore } from '../raft/index.ts';
import type { ConfChange, Entry, RaftStatus } from '../raft/types.ts';
import type { CommandResult } from '../store/commands.ts';
import { StoreError, ValidationError } from '../store/errors.ts';
import type { PeerAddress } from '../transport/index.ts';
import type { ForwardedReply, ForwardedRequest } from './node-forwarding.ts';
import { sleep } from './node-waiting.ts';
import type { PeerIncarnations } from './peer-incarnations.ts';
import type { PeerNetwork } from './peer-network.ts';
import { TICK_MS } from './raft-node-options.ts';

/** What membership changes need from the node that drives the core. */
export interface MembershipHost {
  readonly nodeId: number;
  readonly url: string;
  /** Peers from the command line. */
  readonly peers: readonly PeerAddress[];
  readonly requestTimeoutMs: number;
  readonly electionTimeoutMs: number;
  readonly transport: Pick<PeerNetwork, 'addPeer' | 'removePeer' | 'peerIds' | 'addressOf'>;
  readonly incarnations: Pick<PeerIncarnations, 'check' | 'forget'>;
  readonly proposals: { track(index: number, term: number, deadline: number): Promise<CommandResult> };
  readonly logger: Logger;
  /** The core (made with the node: never missing). */
  core(): Pick<RaftCore, 'status' | 'proposeConfChange' | 'transferLeadership'>;
  coreStatus(): RaftStatus;
  assertUsable(): void;
  scheduleReady(): void;
  forward(leader: number, request: ForwardedRequest, deadline: number): Promise<ForwardedReply>;
  waitForLeaderChange(deadline: number): Promise<void>;
}

export class ClusterMembership {
  /** Addresses of nodes being added, known before the transport or the membership knows them. */
  private readonly pendingAddresses = new Map<number, string>();

  constructor(private readonly host: MembershipHost) {}

  /** Decides whether a peer's handshake is accepted: members, peers from the command line
   * and nodes being added may connect, and only with the data directory they had before. */
  admitPeer(id: number, address: string, incarnation: string): true | string {
    const conf = this.host.core().status().conf;
    const configured = this.host.peers.some((p) => p.id === id || (p.id === undefined && p.address === address));
    const member = conf.voters.includes(id) || conf.learners.includes(id);
    if (!member && !configured && !this.pendingAddresses.has(id)) {
      return `node ${id} is not a member of this cluster: add it first (POST /cluster/members on the leader)`;
    }
    return this.host.incarnations.check(id, incarnation);
  }

  urlOf(id: number): string | null {
    if (id === this.host.nodeId) return this.host.url;
    const address = this.host.transport.addressOf(id) ?? this.pendingAddresses.get(id);
    // Every node of a cluster serves the same scheme as this one (TLS is on for all or none).
    return address === undefined ? null : `${new URL(this.host.url).protocol}//${address}`;
  }

  async addMember(id: number, url: string, learner: boolean): Promise<void> {
    const address = addressOfUrl(url);
    if (!Number.isSafeInteger(id) || id <= 0) throw new ValidationError('id: a member id must be a positive integer');
    await this.onLeader({ type: 'addMember', id, url: address, learner }, async () => {
      this.pendingAddresses.set(id, address);
      this.host.transport.addPeer(id, address);
      const conf = this.host.core().status().conf;
      const deadline = Date.now() + this.host.requestTimeoutMs * 6;
      if (!conf.voters.includes(id) && !conf.learners.includes(id)) {
        await this.changeMembership({ type: 'addLearner', node: id }, deadline);
      }
      if (learner) return;
      // Promote only once the learner has caught up, so the new quorum can commit at once.
      await this.waitCaughtUp(id, deadline);
      await this.changeMembership({ type: 'addVoter', node: id }, deadline);
    });
  }

  async removeMember(id: number): Promise<void> {
    await this.onLeader({ type: 'removeMember', id }, async () => {
      const conf = this.host.core().status().conf;
      if (!conf.voters.includes(id) && !conf.learners.includes(id)) throw new StoreError('NOT_FOUND', `node ${id} is not a member`);
      await this.changeMembership({ type: 'remove', node: id }, Date.now() + this.host.requestTimeoutMs);
    });
  }

  async transferLeadership(to?: number): Promise<void> {
    const raft = this.host.coreStatus();
    if (raft.role !== 'leader') throw new StoreError('CONFLICT', 'only the leader can transfer leadership; send this to the leader');
    const target = to ?? raft.progress.filter((p) => !p.learner).sort((a, b) => b.matchIndex - a.matchIndex)[0]?.id;
    if (target === undefined || target === this.host.nodeId) throw new StoreError('CONFLICT', 'no other voter to transfer leadership to');
    if (!raft.conf.voters.includes(target)) throw new StoreError('CONFLICT', `node ${target} is not a voter`);
    if (!this.host.core().transferLeadership(target)) throw new StoreError('CONFLICT', `cannot transfer leadership to node ${target} now`);
    this.host.scheduleReady();
    const deadline = Date.now() + this.host.electionTimeoutMs * 4;
    while (this.host.coreStatus().leader !== target) {
      if (Date.now() >= deadline) throw new StoreError('CONFLICT', `node ${target} did not take over leadership in time`);
      await sleep(TICK_MS);
    }
  }

  /** Applies a committed membership change to the peers this node talks to. */
  applyConf(entry: Entry): void {
    const { change, conf } = decodeConfEntry(entry.data);
    if (change.type === 'remove') {
      this.host.incarnations.forget(change.node);
      if (change.node !== this.host.nodeId) this.host.transport.removePeer(change.node);
      else this.host.logger.warn('this node was removed from the cluster');
    }
    this.syncPeers(conf.voters.concat(conf.learners));
    this.host.logger.info({ change, conf }, 'membership changed');
  }

  /** Makes sure the transport dials every member whose address we know. */
  syncPeers(members: readonly number[]): void {
    const known = new Set(this.host.transport.peerIds());
    for (const id of members) {
      if (id === this.host.nodeId || known.has(id)) continue;
      const address = this.pendingAddresses.get(id);
      if (address !== undefined) this.host.transport.addPeer(id, address);
    }
  }

  /** Runs `work` here if we lead; otherwise forwards `request` to the leader. */
  private async onLeader(request: ForwardedRequest, work: () => Promise<void>): Promise<void> {
    const deadline = Date.now() + this.host.requestTimeoutMs;
    for (;;) {
      this.host.assertUsable();
      const status = this.host.coreStatus();
      if (status.role === 'leader') return work();
      if (status.leader !== 0) {
        const reply = await this.host.forward(status.leader, request, deadline + this.host.requestTimeoutMs * 6);
        if (!('notLeader' in reply)) return;
      }
      await this.host.waitForLeaderChange(deadline);
    }
  }

  private async changeMembership(change: ConfChange, deadline: number): Promise<void> {
    for (;;) {
      const term = this.host.core().status().term;
      const index = this.host.core().proposeConfChange(change);
      if (index !== null) {
        this.host.scheduleReady();
        await this.host.proposals.track(index, term, deadline);
        return;
      }
      if (this.host.coreStatus().role !== 'leader') throw new StoreError('NO_LEADER', 'lost leadership during a membership change; retry');
      if (Date.now() >= deadline) throw new StoreError('CONFLICT', 'another membership change is still in progress');
      await sleep(TICK_MS * 5);
    }
  }

  private async waitCaughtUp(id: number, deadline: number): Promise<void> {
    for (;;) {
      const raft = this.host.coreStatus();
      // Only a leader tracks the learner's progress: after losing leadership, "did not catch
      // up" would blame the learner for what the election did.
      if (raft.role !== 'leader') {
        throw new StoreError(
          'NO_LEADER',
          `this node lost leadership while node ${id} was catching up; it stays a learner: add it again to promote it`,
        );
      }
      const match = raft.progress.find((p) => p.id === id)?.matchIndex ?? 0;
      if (match >= raft.commitIndex) return;
      if (Date.now() >= deadline) throw new StoreError('NOT_CAUGHT_UP', `node ${id} did not catch up in time; it stays a learner`);
      await sleep(TICK_MS * 5);
    }
  }
}

function addressOfUrl(url: string): string {
  try {
    const parsed = new URL(url.includes('://') ? url : `http://${url}`);
    if (parsed.port === '') throw new Error('no port');
    return `${parsed.hostname}:${parsed.port}`;
  } catch {
    throw new ValidationError(`url: ${JSON.stringify(url)} is not a node address such as http://127.0.0.1:8083`);
  }
}
