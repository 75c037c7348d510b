// Who belongs to the cluster, as this node sees and changes it: admitting peers'
// handshakes, adding, removing and promoting members and changing their addresses (on the
// leader, or forwarded to it), transferring leadership (the same), registering this node's
// own address, and keeping the transport dialling every member where the replicated
// configuration says it is.
import type { Logger } from 'pino';
import { decodeConfEntry, memberAddress, MEMBER_ADDRESS_CHARS_MAX, isMemberAddress, rejectConfChange, type RaftCore } from '../raft/index.ts';
import type { ConfChange, Entry, RaftStatus } from '../raft/types.ts';
import type { CommandResult } from '../store/commands.ts';
import { StoreError, ValidationError } from '../store/errors.ts';
import type { PeerAddress } from '../transport/index.ts';
import type { ForwardedReply, ForwardedRequest } from './node-forwarding.ts';
import { sleep } from './node-waiting.ts';
import type { PeerIncarnations } from './peer-incarnations.ts';
import type { PeerNetwork } from './peer-network.ts';
import { TICK_MS } from './raft-node-options.ts';

/** Longest pause between two attempts to register this node's address (a cluster without a
 * leader, or a majority that cannot be reached yet). */
export const ADDRESS_REGISTRATION_RETRY_MS_MAX = 2_000;

/** What membership changes need from the node that drives the core. */
export interface MembershipHost {
  readonly nodeId: number;
  readonly url: string;
  /** Peers from the command line. */
  readonly peers: readonly PeerAddress[];
  readonly requestTimeoutMs: number;
  readonly electionTimeoutMs: number;
  readonly transport: Pick<PeerNetwork, 'addPeer' | 'removePeer' | 'peerIds' | 'addressOf' | 'stats'>;
  readonly incarnations: Pick<PeerIncarnations, 'check' | 'forget'>;
  readonly proposals: { track(index: number, term: number, deadline: number): Promise<CommandResult> };
  readonly logger: Logger;
  /** The core (made with the node: never missing). */
  core(): Pick<RaftCore, 'status' | 'proposeConfChange' | 'transferLeadership'>;
  coreStatus(): RaftStatus;
  isClosed(): boolean;
  assertUsable(): void;
  scheduleReady(): void;
  forward(leader: number, request: ForwardedRequest, deadline: number): Promise<ForwardedReply>;
  waitForLeaderChange(deadline: number): Promise<void>;
}

export class ClusterMembership {
  /** Addresses of nodes being added, known before the membership knows them. */
  private readonly pendingAddresses = new Map<number, string>();
  private registering = false;

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

  /** A member's URL: where the configuration says it is, else where the transport dials it. */
  urlOf(id: number): string | null {
    if (id === this.host.nodeId) return this.host.url;
    const address = memberAddress(this.host.core().status().conf, id) ?? this.host.transport.addressOf(id) ?? this.pendingAddresses.get(id);
    // Every node of a cluster serves the same scheme as this one (TLS is on for all or none).
    return address === undefined ? null : `${this.scheme()}//${address}`;
  }

  async addMember(id: number, url: string, learner: boolean): Promise<void> {
    const address = addressOfUrl(url, 'url');
    if (!Number.isSafeInteger(id) || id <= 0) throw new ValidationError('id: a member id must be a positive integer');
    await this.onLeader({ type: 'addMember', id, url: address, learner }, async () => {
      const conf = this.host.core().status().conf;
      const isVoter = conf.voters.includes(id);
      if (isVoter && learner) throw new StoreError('CONFLICT', `node ${id} is a voter: remove it first to add it back as a learner`);
      this.pendingAddresses.set(id, address);
      this.host.transport.addPeer(id, address);
      const deadline = Date.now() + this.host.requestTimeoutMs * 6;
      if (!isVoter && !conf.learners.includes(id)) {
        await this.changeMembership({ type: 'addLearner', node: id, address }, deadline);
      } else if (memberAddress(conf, id) !== address) {
        // Adding a member again under a new URL moves it (it used to wait for a promotion that
        // could never happen, then answer CONFLICT).
        await this.changeMembership({ type: 'setAddress', node: id, address }, deadline);
      }
      if (learner || isVoter) return;
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

  /** Records where member `id` is reached (`host:port`, or a URL whose host and port are
   * taken), through the leader. Setting the address it already has does nothing. */
  async setMemberAddress(id: number, addressOrUrl: string): Promise<void> {
    const address = addressOfUrl(addressOrUrl, 'address');
    await this.onLeader({ type: 'setAddress', id, address }, () => this.setAddressHere(id, address));
  }

  async transferLeadership(to?: number): Promise<void> {
    await this.onLeader({ type: 'transferLeadership', to: to ?? null }, () => this.transferHere(to));
  }

  /**
   * Registers this node's advertised address in the configuration, in the background, once
   * this node is a member whose recorded address differs: a bootstrap member (the bootstrap
   * configuration has ids only), a data directory from before addresses were replicated, or a
   * restart with a new --advertise. Done once per start: an address an operator sets later
   * (PATCH /cluster/members/:id) is not fought over. Retries until done or the node closes.
   */
  registerOwnAddress(): void {
    if (this.registering) return;
    this.registering = true;
    const own = addressOfUrl(this.host.url, 'advertise');
    void (async () => {
      let pauseMs = TICK_MS * 10;
      while (!this.host.isClosed()) {
        const conf = this.host.coreStatus().conf;
        const member = conf.voters.includes(this.host.nodeId) || conf.learners.includes(this.host.nodeId);
        if (member && memberAddress(conf, this.host.nodeId) === own) return;
        if (member) {
          try {
            await this.requestOwnAddress(own);
            this.host.logger.info({ address: own }, "registered this node's address in the cluster configuration");
          } catch (error) {
            this.host.logger.debug({ err: error }, "could not register this node's address yet; retrying");
            pauseMs = Math.min(pauseMs * 2, ADDRESS_REGISTRATION_RETRY_MS_MAX);
          }
        }
        // Not a member yet (a node joining waits to be added), or the change is on its way here.
        await sleep(pauseMs);
      }
    })().finally(() => (this.registering = false));
  }

  /** Applies a committed membership change to the peers this node talks to. */
  applyConf(entry: Entry): void {
    const { change, conf } = decodeConfEntry(entry.data);
    if (change.type === 'remove') {
      this.host.incarnations.forget(change.node);
      this.pendingAddresses.delete(change.node);
      if (change.node !== this.host.nodeId) this.host.transport.removePeer(change.node);
      else this.host.logger.warn('this node was removed from the cluster');
    }
    this.syncPeers();
    this.host.logger.info({ change, conf }, 'membership changed');
  }

  /**
   * Makes the transport dial every member where the configuration (the latest this node
   * holds) says it is, moving a link whose address changed; a member without an address in
   * it keeps the link it has, or one to the address it is being added with.
   */
  syncPeers(): void {
    const conf = this.host.core().status().conf;
    const known = new Set(this.host.transport.peerIds());
    for (const id of [...conf.voters, ...conf.learners]) {
      if (id === this.host.nodeId) continue;
      const address = memberAddress(conf, id) ?? (known.has(id) ? undefined : this.pendingAddresses.get(id));
      if (address !== undefined && this.host.transport.addressOf(id) !== address) this.host.transport.addPeer(id, address);
    }
  }

  /** Asks for this node's address: through the leader it knows, or, knowing none (its peers
   * still send to its old address, so it hears from no leader), through any peer it reaches,
   * which passes the request on to its leader. */
  private async requestOwnAddress(own: string): Promise<void> {
    const status = this.host.coreStatus();
    if (status.role === 'leader' || status.leader !== 0) return this.setMemberAddress(this.host.nodeId, own);
    const deadline = Date.now() + this.host.requestTimeoutMs;
    const relays = this.host.transport.stats().filter((s) => s.connected && s.id > 0 && s.id !== this.host.nodeId);
    for (const peer of relays) {
      const reply = await this.host
        .forward(peer.id, { type: 'setAddress', id: this.host.nodeId, address: own, relay: true }, deadline)
        .catch(() => ({ notLeader: true }) as const);
      if (!('notLeader' in reply)) return;
    }
    throw new StoreError('NO_LEADER', 'no peer could pass the address on to a leader');
  }

  private async setAddressHere(id: number, address: string): Promise<void> {
    const conf = this.host.core().status().conf;
    if (!conf.voters.includes(id) && !conf.learners.includes(id)) throw new StoreError('NOT_FOUND', `node ${id} is not a member`);
    if (memberAddress(conf, id) === address) return;
    await this.changeMembership({ type: 'setAddress', node: id, address }, Date.now() + this.host.requestTimeoutMs);
  }

  private async transferHere(to: number | undefined): Promise<void> {
    const raft = this.host.coreStatus();
    if (raft.role !== 'leader') throw new StoreError('NO_LEADER', 'this node lost leadership; retry');
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
      // A change the configuration refuses is refused now, not after the deadline.
      const refused = rejectConfChange(this.host.core().status().conf, change);
      if (refused !== null) throw new StoreError('CONFLICT', `${change.type} of node ${change.node}: ${refused}`);
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

  private scheme(): string {
    return new URL(this.host.url).protocol;
  }
}

/** `host:port` (host lowercased) of an http(s) URL without a path, or of a bare `host:port`;
 * VALIDATION otherwise. */
export function addressOfUrl(url: string, field: string): string {
  const match = /^(?:https?:\/\/)?([^/?#]+)\/?$/i.exec(url);
  const address = match?.[1]?.toLowerCase();
  if (address === undefined || !isMemberAddress(address)) {
    throw new ValidationError(
      `${field}: ${JSON.stringify(url.slice(0, 100))} is not a node address such as 127.0.0.1:8083 or http://127.0.0.1:8083 (at most ${MEMBER_ADDRESS_CHARS_MAX} characters)`,
    );
  }
  return address;
}
