// Test helper: three `start` processes sharing a fresh --cluster-secret-file, run until a
// leader is known; the real-process attacks in this folder are made against it.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CliProcess, eventually, freeConsecutivePorts, tempDir } from '../cli/cli-process.ts';

export interface ClusterStatusView {
  readonly term: number;
  readonly leader: { id: number } | null;
}

export async function statusOf(port: number): Promise<ClusterStatusView> {
  return (await (await fetch(`http://127.0.0.1:${port}/cluster/status`)).json()) as ClusterStatusView;
}

export interface SecretCluster {
  readonly dir: string;
  readonly secret: Buffer;
  readonly secretFile: string;
  readonly nodes: readonly CliProcess[];
  readonly leader: number;
  portOf(id: number): number;
  /** node.json of node `id`: its cluster id and data-directory incarnation. */
  identityOf(id: number): Promise<{ clusterId: string; incarnation: string }>;
}

/** Starts the cluster; every process and the directory are handed to `cleanups`. */
export async function startSecretCluster(cleanups: Array<() => Promise<void>>): Promise<SecretCluster> {
  const dir = await tempDir();
  cleanups.push(dir.remove);
  const secret = randomBytes(32);
  const secretFile = join(dir.path, 'cluster.secret');
  await writeFile(secretFile, `${secret.toString('hex')}\n`, { mode: 0o600 });
  const base = await freeConsecutivePorts(3);
  const portOf = (id: number): number => base + id - 1;
  const nodes = [1, 2, 3].map((id) => {
    const peers = [1, 2, 3].filter((other) => other !== id).map((other) => `${other}=127.0.0.1:${portOf(other)}`);
    const args = ['start', '--node-id', String(id), '--port', String(portOf(id)), '--data-dir', join(dir.path, `node${id}`)];
    const cli = new CliProcess([...args, '--peers', peers.join(','), '--cluster-secret-file', secretFile, '--log-level', 'warn']);
    cleanups.push(() => cli.kill());
    return cli;
  });
  for (const cli of nodes) await cli.waitFor(/listening at http:\/\/127\.0\.0\.1:\d+/, 20_000);
  let leader = 0;
  await eventually(
    async () => {
      leader = (await statusOf(portOf(1))).leader?.id ?? 0;
      return leader !== 0;
    },
    20_000,
    'a leader',
  );
  return {
    dir: dir.path,
    secret,
    secretFile,
    nodes,
    leader,
    portOf,
    identityOf: async (id) =>
      JSON.parse(await readFile(join(dir.path, `node${id}`, 'node.json'), 'utf8')) as { clusterId: string; incarnation: string },
  };
}
