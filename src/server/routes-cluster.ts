// Cluster administration: status, membership (and members' addresses), leadership transfer,
// snapshots. Each works on any node: membership changes and transfers are forwarded to the leader.
import type { FastifyInstance } from 'fastify';
import type { NodeStatus } from '../node/backend.ts';
import { ValidationError } from '../store/errors.ts';
import { bodyObject, optionalBoolean, parseNonNegativeInt, queryParams } from './http-input.ts';
import type { RouteContext } from './route-context.ts';

/** Node ids are positive integers (0 means "none" in Raft). */
function nodeIdOf(value: unknown, name: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1) throw new ValidationError(`${name}: must be a positive integer`);
  return value as number;
}

function peerUrlOf(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length > 2048) throw new ValidationError(`${name}: must be an http(s) URL`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ValidationError(`${name}: must be an http(s) URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ValidationError(`${name}: must be an http(s) URL`);
  return value;
}

export function registerClusterRoutes(app: FastifyInstance, { backend }: RouteContext): void {
  app.get('/cluster/status', async (request): Promise<NodeStatus> => {
    queryParams(request.query, []);
    return backend.status();
  });

  app.post('/cluster/members', async (request): Promise<NodeStatus> => {
    queryParams(request.query, []);
    const body = bodyObject(request.body, ['id', 'url', 'learner'], true);
    const id = nodeIdOf(body['id'], 'id');
    const url = peerUrlOf(body['url'], 'url');
    await backend.addMember(id, url, optionalBoolean(body['learner'], 'learner') === true);
    return backend.status();
  });

  app.delete<{ Params: { id: string } }>('/cluster/members/:id', async (request): Promise<NodeStatus> => {
    queryParams(request.query, []);
    const id = nodeIdOf(parseNonNegativeInt(request.params.id, 'id'), 'id');
    await backend.removeMember(id);
    return backend.status();
  });

  app.patch<{ Params: { id: string } }>('/cluster/members/:id', async (request): Promise<NodeStatus> => {
    queryParams(request.query, []);
    const id = nodeIdOf(parseNonNegativeInt(request.params.id, 'id'), 'id');
    const body = bodyObject(request.body, ['address'], true);
    const address = body['address'];
    if (typeof address !== 'string' || address.length > 2048) throw new ValidationError('address: must be host:port or an http(s) URL');
    await backend.setMemberAddress(id, address);
    return backend.status();
  });

  // `/cluster/transfer` is the short name (issue 13); `/cluster/transfer-leadership` stays.
  for (const path of ['/cluster/transfer', '/cluster/transfer-leadership']) {
    app.post(path, async (request): Promise<NodeStatus> => {
      queryParams(request.query, []);
      const body = bodyObject(request.body, ['to']);
      const to = body['to'] === undefined ? undefined : nodeIdOf(body['to'], 'to');
      await backend.transferLeadership(to);
      return backend.status();
    });
  }

  app.post('/cluster/snapshot', async (request) => {
    queryParams(request.query, []);
    bodyObject(request.body, []);
    return backend.snapshot();
  });
}
