// Shared setup of the server tests: a server over an in-memory embedded database.
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { open } from '../../src/index.ts';
import { EmbeddedBackend } from '../../src/node/embedded-backend.ts';
import type { Database } from '../../src/node/embedded-database.ts';
import type { ChangeEvent, DatabaseBackend, NodeStatus, ReadConsistency } from '../../src/node/backend.ts';
import type { ChangeFeed } from '../../src/node/change-log.ts';
import type { Command, CommandResult } from '../../src/store/commands.ts';
import { StoreError } from '../../src/store/errors.ts';
import type { Store } from '../../src/store/store.ts';
import { createServer, type ServerOptions } from '../../src/server/index.ts';

export interface TestServer {
  readonly app: FastifyInstance;
  readonly db: Database;
  readonly backend: EmbeddedBackend;
  close(): Promise<void>;
}

export async function startTestServer(options: Partial<Omit<ServerOptions, 'backend'>> = {}): Promise<TestServer> {
  const db = await open({ memory: true });
  const backend = new EmbeddedBackend(db, 'http://127.0.0.1:0');
  const app = await createServer({ backend, ...options });
  return {
    app,
    db,
    backend,
    async close() {
      await app.close();
      await db.close();
    },
  };
}

/** inject with a JSON body (any value, stringified) unless `payload` is a string. */
export function send(
  app: FastifyInstance,
  method: InjectOptions['method'],
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  const options: InjectOptions = { method, url, headers: { ...headers } };
  if (body !== undefined) {
    options.payload = typeof body === 'string' ? body : JSON.stringify(body);
    options.headers = { 'content-type': 'application/json', ...headers };
  }
  return app.inject(options);
}

export interface ErrorShape {
  error: { code: string; message: string; leader?: string };
}

export function errorOf(res: LightMyRequestResponse): ErrorShape['error'] {
  const body = res.json() as ErrorShape;
  if (typeof body?.error?.code !== 'string' || typeof body.error.message !== 'string') {
    throw new Error(`not an error body: ${res.body}`);
  }
  return body.error;
}

/**
 * A backend that delegates to a real one but lets a test script its cluster view:
 * no leader, not ready, a failing read barrier or execute.
 */
export class ScriptedBackend implements DatabaseBackend {
  leader: { id: number; url: string } | null = { id: 2, url: 'http://10.0.0.2:8080' };
  ready = true;
  barrierError: Error | null = null;
  /** Holds read barriers until the test releases them (a node still catching up). */
  barrierGate: Promise<void> | null = null;
  executeError: Error | null = null;
  /** Resolves writes only when the test releases them (graceful-close tests). */
  executeGate: Promise<void> | null = null;
  readonly members: { id: number; url: string; learner: boolean }[] = [];
  transferredTo: number | undefined | null = null;
  /** How many writes reached execute(). */
  executeCalls = 0;

  constructor(private readonly inner: DatabaseBackend) {}

  get store(): Store {
    return this.inner.store;
  }
  async execute(command: Command): Promise<CommandResult> {
    this.executeCalls++;
    if (this.executeGate !== null) await this.executeGate;
    if (this.executeError !== null) throw this.executeError;
    return this.inner.execute(command);
  }
  async readBarrier(consistency: ReadConsistency): Promise<void> {
    if (this.barrierGate !== null) await this.barrierGate;
    if (this.barrierError !== null) throw this.barrierError;
    return this.inner.readBarrier(consistency);
  }
  generateId(): string {
    return this.inner.generateId();
  }
  status(): NodeStatus {
    const base = this.inner.status();
    return {
      ...base,
      role: this.leader?.id === base.nodeId ? 'leader' : 'follower',
      leader: this.leader,
      commitIndex: base.commitIndex + (this.ready ? 0 : 5),
      members: [...base.members, ...this.members.map((m) => ({ id: m.id, url: m.url, voter: !m.learner, matchIndex: 3, lag: 7, connected: true }))],
    };
  }
  isReady(): boolean {
    return this.ready && this.leader !== null;
  }
  /** Set by a test: a follower this far behind the leader refuses client requests. */
  behind = 0;
  entriesBehindLeader(): number {
    return this.behind;
  }
  subscribe(listener: (change: ChangeEvent) => void): () => void {
    return this.inner.subscribe(listener);
  }
  get changes(): ChangeFeed {
    return this.inner.changes;
  }
  async addMember(id: number, url: string, learner: boolean): Promise<void> {
    if (this.members.some((m) => m.id === id && m.learner === learner)) throw new StoreError('CONFLICT', `member ${id} exists`);
    this.members.push({ id, url, learner });
  }
  async removeMember(id: number): Promise<void> {
    const i = this.members.findIndex((m) => m.id === id);
    if (i === -1) throw new StoreError('NOT_FOUND', `no member ${id}`);
    this.members.splice(i, 1);
  }
  async setMemberAddress(id: number, address: string): Promise<void> {
    const member = this.members.find((m) => m.id === id);
    if (member === undefined) throw new StoreError('NOT_FOUND', `no member ${id}`);
    member.url = `http://${address}`;
  }
  async transferLeadership(to?: number): Promise<void> {
    this.transferredTo = to;
  }
  snapshot(): Promise<{ index: number; bytes: number }> {
    return this.inner.snapshot();
  }
}

export async function startScriptedServer(
  options: Partial<Omit<ServerOptions, 'backend'>> = {},
): Promise<TestServer & { scripted: ScriptedBackend }> {
  const db = await open({ memory: true });
  const backend = new EmbeddedBackend(db, 'http://127.0.0.1:0');
  const scripted = new ScriptedBackend(backend);
  const app = await createServer({ backend: scripted, ...options });
  return {
    app,
    db,
    backend,
    scripted,
    async close() {
      await app.close();
      await db.close();
    },
  };
}
