// The incarnation each peer had when this node first heard from it. A peer that
// reappears under the same id with another incarnation has lost its data
// directory (its term, vote and log): letting it vote could elect two leaders in
// one term, so it is refused until it is removed from the cluster and added again
// (removal forgets its incarnation).
import { join } from 'node:path';
import { readJsonFile, writeJsonFileDurably } from './durable-json.ts';

const FILE = 'peers.json';

export class PeerIncarnations {
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    /** null: kept in memory only (a node without a data directory). */
    private readonly path: string | null,
    private readonly known: Map<number, string>,
  ) {}

  static inMemory(): PeerIncarnations {
    return new PeerIncarnations(null, new Map());
  }

  static async load(dataDir: string): Promise<PeerIncarnations> {
    const path = join(dataDir, FILE);
    const value = (await readJsonFile(path)) ?? {};
    const known = new Map<number, string>();
    for (const [id, incarnation] of Object.entries(value as Record<string, unknown>)) {
      if (typeof incarnation === 'string' && Number.isSafeInteger(Number(id))) known.set(Number(id), incarnation);
    }
    return new PeerIncarnations(path, known);
  }

  /** true to accept; otherwise the reason to refuse. Records a first-seen incarnation. */
  check(id: number, incarnation: string): true | string {
    // The transport refuses a hello without one (protocol 2 and later); never accept one here either.
    if (incarnation === '') return 'its hello carries no data-directory incarnation';
    const known = this.known.get(id);
    if (known === undefined) {
      this.known.set(id, incarnation);
      this.persist();
      return true;
    }
    if (known === incarnation) return true;
    return (
      `node ${id} came back with a new data directory (it lost its term, vote and log) and may not rejoin under ` +
      `the same id: remove it (DELETE /cluster/members/${id}) and add it again (POST /cluster/members)`
    );
  }

  forget(id: number): void {
    if (this.known.delete(id)) this.persist();
  }

  async flush(): Promise<void> {
    await this.writing;
  }

  private persist(): void {
    const path = this.path;
    if (path === null) return;
    const snapshot = Object.fromEntries(this.known);
    this.writing = this.writing.then(() => writeJsonFileDurably(path, snapshot)).catch(() => {});
  }
}
