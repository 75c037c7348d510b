// Followers forward writes, membership changes and leadership transfers to the leader
// over the peer connection: the request and reply shapes, the follower's side
// (forwardToLeader) and the leader's (serveForwarded).
import type { Command, CommandResult } from '../store/commands.ts';
import { ERROR_CODES, isErrorCode, StoreError, ValidationError } from '../store/errors.ts';
import { validateCommand } from '../store/validate.ts';
import type { PeerNetwork } from './peer-network.ts';

/** A request a follower forwards to the leader over the peer connection. */
export type ForwardedRequest =
  | { readonly type: 'execute'; readonly command: unknown }
  | { readonly type: 'addMember'; readonly id: number; readonly url: string; readonly learner: boolean }
  | { readonly type: 'removeMember'; readonly id: number }
  /** `relay`: sent by a node that knows no leader (it moved: its peers still send to its old
   * address) to any peer, which passes it on to its own leader. */
  | { readonly type: 'setAddress'; readonly id: number; readonly address: string; readonly relay?: boolean }
  | { readonly type: 'transferLeadership'; readonly to: number | null };

export type ForwardedReply = { readonly notLeader: true } | { readonly result: CommandResult; readonly index: number } | { readonly done: true };

/** What the leader's side needs from the node to serve a forwarded request. */
export interface ForwardedServer {
  readonly requestTimeoutMs: number;
  /** Whether this node is started and leads now. */
  isLeader(): boolean;
  /** Appends the command if this node leads (null otherwise); `result` settles once applied here. */
  propose(
    command: Command,
    deadline: number,
    validated: boolean,
  ): Promise<{ readonly index: number; readonly result: Promise<CommandResult> } | null>;
  addMember(id: number, url: string, learner: boolean): Promise<void>;
  removeMember(id: number): Promise<void>;
  /** Through this node's leader when it does not lead (a relayed request). */
  setMemberAddress(id: number, address: string): Promise<void>;
  transferLeadership(to?: number): Promise<void>;
}

export async function forwardToLeader(
  transport: Pick<PeerNetwork, 'request'>,
  leader: number,
  request: ForwardedRequest,
  deadline: number,
): Promise<ForwardedReply> {
  try {
    return (await transport.request(leader, request, Math.max(1, deadline - Date.now()))) as ForwardedReply;
  } catch (error) {
    throw forwardingError(error, leader);
  }
}

/**
 * The error a follower reports for a forwarded request that failed. The leader's definite
 * refusals (codes of the table a client may not retry: VALIDATION, CONFLICT, ...) keep
 * their code; any other failure (the link dropped or timed out, the leader answered with a
 * code that may be retried, or with one this node does not know, e.g. from another
 * version) leaves the outcome unknown from here: COMMIT_UNKNOWN.
 */
export function forwardingError(error: unknown, leader: number): StoreError {
  const code = (error as { remoteCode?: string } | null)?.remoteCode;
  const message = error instanceof Error ? error.message : String(error);
  if (code !== undefined && isErrorCode(code) && ERROR_CODES[code].retry === 'no') return new StoreError(code, message);
  return new StoreError('COMMIT_UNKNOWN', `forwarding to the leader (node ${leader}) failed, the outcome is unknown: ${message}`);
}

/** Handles a request a follower forwarded to us (we are, or were, the leader). */
export async function serveForwarded(node: ForwardedServer, body: unknown): Promise<ForwardedReply> {
  const request = body as ForwardedRequest;
  const relayed = request.type === 'setAddress' && request.relay === true;
  if (!node.isLeader() && !relayed) return { notLeader: true };
  switch (request.type) {
    case 'execute': {
      validateCommand(request.command);
      // Validated above; decoded from the peer's bytes, so nobody else holds it.
      const proposed = await node.propose(request.command, Date.now() + node.requestTimeoutMs, true);
      if (proposed === null) return { notLeader: true };
      return { result: await proposed.result, index: proposed.index };
    }
    case 'addMember':
      await node.addMember(request.id, `http://${request.url}`, request.learner);
      return { done: true };
    case 'removeMember':
      await node.removeMember(request.id);
      return { done: true };
    case 'setAddress':
      if (!Number.isSafeInteger(request.id) || typeof request.address !== 'string') throw new ValidationError('malformed setAddress request');
      await node.setMemberAddress(request.id, request.address);
      return { done: true };
    case 'transferLeadership':
      if (request.to !== null && !Number.isSafeInteger(request.to)) throw new ValidationError('malformed transferLeadership request');
      await node.transferLeadership(request.to ?? undefined);
      return { done: true };
    default:
      throw new ValidationError('unknown forwarded request');
  }
}
