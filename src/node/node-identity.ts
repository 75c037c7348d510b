// Who this data directory belongs to. Written once, when the node first starts:
// the cluster id, the node id, a random incarnation (peers refuse a node that
// comes back under a known id with a new incarnation: it lost its votes and log)
// and the membership the node bootstrapped with.
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readJsonFile, writeJsonFileDurably } from './durable-json.ts';

export interface NodeIdentity {
  readonly clusterId: string;
  readonly nodeId: number;
  readonly incarnation: string;
  /** Voters at bootstrap; empty for a node that joined an existing cluster. */
  readonly bootstrapVoters: readonly number[];
}

const FILE = 'node.json';

export async function loadIdentity(dataDir: string): Promise<NodeIdentity | undefined> {
  const value = await readJsonFile(join(dataDir, FILE));
  if (value === undefined) return undefined;
  const v = value as Partial<NodeIdentity>;
  if (
    typeof v.clusterId !== 'string' ||
    !Number.isSafeInteger(v.nodeId) ||
    typeof v.incarnation !== 'string' ||
    !Array.isArray(v.bootstrapVoters) ||
    !v.bootstrapVoters.every((id) => Number.isSafeInteger(id) && id > 0)
  ) {
    throw new Error(`${join(dataDir, FILE)} is malformed: it must hold clusterId, nodeId, incarnation and bootstrapVoters`);
  }
  return v as NodeIdentity;
}

/** Checks that a stored identity matches the flags the node was started with. */
export function checkIdentity(stored: NodeIdentity, nodeId: number, clusterId: string, dataDir: string): void {
  if (stored.nodeId !== nodeId) {
    throw new Error(`data directory ${dataDir} belongs to node ${stored.nodeId}, not node ${nodeId}`);
  }
  if (stored.clusterId !== clusterId) {
    throw new Error(`data directory ${dataDir} belongs to cluster "${stored.clusterId}", not "${clusterId}"`);
  }
}

export async function createIdentity(dataDir: string, identity: Omit<NodeIdentity, 'incarnation'>): Promise<NodeIdentity> {
  await mkdir(dataDir, { recursive: true });
  const full: NodeIdentity = { ...identity, incarnation: randomUUID() };
  await writeJsonFileDurably(join(dataDir, FILE), full);
  return full;
}
