// An in-memory fake of the HTTP API of docs/http-api.md, for the client's tests. Several
// fake nodes may share one FakeState (a "cluster" where every node sees every write).
// Each node records the requests it got and consumes scripted faults: drop the
// connection before or after applying, answer 503 NO_LEADER / COMMIT_UNKNOWN, hang, or answer
// anything. Filters, updates and sorts cover only what the tests use (top-level
// fields; $in, $gt, $gte, $lt, $lte, $ne; $set, $unset, $inc).
// Writes with an Idempotency-Key are applied at most once, as the server does (issue #12):
// the first decided answer is recorded per key (in the shared state, like the replicated
// record) and replayed to a retry with `Idempotent-Replayed: true`; the same key with
// another request is 422 IDEMPOTENCY_KEY_REUSED.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

type Doc = { _id: string; _rev: number; [key: string]: unknown };
type Json = Record<string, unknown>;

export interface FakeIndex {
  name: string;
  fields: Array<[string, 1 | -1]>;
  unique: boolean;
}

interface KeyRecord {
  readonly digest: string;
  readonly reply: Reply;
}

export class FakeState {
  readonly collections = new Map<string, Map<string, Doc>>();
  /** Idempotency-Key -> the request's digest and its first decided answer. */
  readonly idempotency = new Map<string, KeyRecord>();
  /** Set false to play a server that ignores the header. */
  honoursIdempotencyKeys = true;
  readonly indexes = new Map<string, FakeIndex[]>();
  rev = 0;
  private nextId = 0;

  docs(name: string): Map<string, Doc> {
    let docs = this.collections.get(name);
    if (docs === undefined) {
      docs = new Map();
      this.collections.set(name, docs);
    }
    return docs;
  }

  generateId(): string {
    this.nextId += 1;
    return `srv${String(this.nextId).padStart(6, '0')}`;
  }
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: unknown;
}

export type FaultAction =
  /** Close the connection once the request is read; nothing is applied. */
  | { kind: 'drop' }
  /** Apply the request, then close the connection without answering. */
  | { kind: 'apply-then-drop' }
  /** 503 NO_LEADER, after `delayMs` when given. */
  | { kind: 'no-leader'; leader?: string; delayMs?: number }
  /** 503 with `code` (default COMMIT_UNKNOWN: a write's outcome unknown), after applying the request when `apply`. */
  | { kind: 'server-timeout'; apply?: boolean; code?: string }
  /** Never answer (until the server closes); apply first when `apply`. */
  | { kind: 'hang'; apply?: boolean }
  | { kind: 'reply'; status: number; body?: unknown; raw?: string };

export interface Fault {
  readonly method?: string;
  /** Exact path, or a pattern, of the requests the fault applies to. */
  readonly path?: string | RegExp;
  readonly action: FaultAction;
  /** How many matching requests it hits (default 1). */
  times?: number;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface FakeNodeOptions {
  readonly state?: FakeState;
  readonly nodeId?: number;
  /** The leader this node reports in /cluster/status (default: itself). */
  leaderUrl?: string | null;
}

export class FakeNode {
  readonly state: FakeState;
  readonly requests: RecordedRequest[] = [];
  readonly faults: Fault[] = [];
  url = '';
  private readonly server: http.Server;
  private readonly hanging = new Set<http.ServerResponse>();

  private constructor(readonly options: FakeNodeOptions) {
    this.state = options.state ?? new FakeState();
    this.server = http.createServer((req, res) => this.onRequest(req, res));
  }

  static async start(options: FakeNodeOptions = {}): Promise<FakeNode> {
    const node = new FakeNode(options);
    await new Promise<void>((resolve) => node.server.listen(0, '127.0.0.1', resolve));
    node.url = `http://127.0.0.1:${(node.server.address() as AddressInfo).port}`;
    return node;
  }

  /** Adds a fault, hit by the next matching request(s). */
  inject(fault: Fault): void {
    this.faults.push({ ...fault, times: fault.times ?? 1 });
  }

  /** Requests received, as "METHOD /path". */
  lines(): string[] {
    return this.requests.map((request) => `${request.method} ${request.path}`);
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://fake');
      let body: unknown = null;
      let badJson = false;
      if (text !== '') {
        try {
          body = JSON.parse(text) as unknown;
        } catch {
          badJson = true;
        }
      }
      const request: RecordedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body,
      };
      this.requests.push(request);
      const fault = this.takeFault(request);
      if (fault?.kind === 'drop') {
        req.socket.destroy();
        return;
      }
      if (fault?.kind === 'no-leader') {
        const reply = errorReply(503, 'NO_LEADER', 'no leader', fault.leader);
        if (fault.delayMs === undefined) this.send(res, reply);
        else setTimeout(() => this.send(res, reply), fault.delayMs);
        return;
      }
      if (fault?.kind === 'reply') {
        if (fault.raw !== undefined) {
          res.writeHead(fault.status, { 'content-type': 'text/plain' }).end(fault.raw);
        } else {
          this.send(res, { status: fault.status, body: fault.body });
        }
        return;
      }
      const applies = fault === undefined || fault.kind === 'apply-then-drop' || fault.apply === true;
      const reply = !applies ? null : badJson ? errorReply(400, 'BAD_REQUEST', 'body is not JSON') : this.handleOnce(request);
      if (fault?.kind === 'apply-then-drop') {
        req.socket.destroy();
        return;
      }
      if (fault?.kind === 'server-timeout') {
        this.send(res, errorReply(503, fault.code ?? 'COMMIT_UNKNOWN', 'the proposal timed out'));
        return;
      }
      if (fault?.kind === 'hang') {
        this.hanging.add(res);
        return;
      }
      if (reply !== null) this.send(res, reply);
    });
  }

  private takeFault(request: RecordedRequest): FaultAction | undefined {
    const index = this.faults.findIndex(
      (fault) =>
        (fault.method === undefined || fault.method === request.method) &&
        (fault.path === undefined || (typeof fault.path === 'string' ? fault.path === request.path : fault.path.test(request.path))),
    );
    if (index < 0) return undefined;
    const fault = this.faults[index]!;
    fault.times = (fault.times ?? 1) - 1;
    if (fault.times <= 0) this.faults.splice(index, 1);
    return fault.action;
  }

  private send(res: http.ServerResponse, reply: Reply): void {
    const headers: Record<string, string> = { ...reply.headers };
    if (reply.body === undefined) {
      res.writeHead(reply.status, headers).end();
      return;
    }
    headers['content-type'] = 'application/json';
    res.writeHead(reply.status, headers).end(JSON.stringify(reply.body));
  }

  /** handle(), at most once per Idempotency-Key of a write. */
  private handleOnce(request: RecordedRequest): Reply {
    const key = request.headers['idempotency-key'];
    if (typeof key !== 'string' || !this.state.honoursIdempotencyKeys || isRead(request)) return this.handle(request);
    const digest = JSON.stringify([request.method, request.path, request.headers['if-match'] ?? null, request.body]);
    const recorded = this.state.idempotency.get(key);
    if (recorded !== undefined) {
      if (recorded.digest !== digest) {
        return errorReply(422, 'IDEMPOTENCY_KEY_REUSED', `Idempotency-Key ${key} was used for a different request`);
      }
      return { ...recorded.reply, headers: { ...recorded.reply.headers, 'idempotent-replayed': 'true' } };
    }
    const reply = this.handle(request);
    // Only results decided by the state machine are recorded (not a validation refusal).
    if (reply.status !== 400) this.state.idempotency.set(key, { digest, reply });
    return reply;
  }

  private handle(request: RecordedRequest): Reply {
    try {
      return this.route(request);
    } catch (error) {
      if (error instanceof HttpFailure) return errorReply(error.status, error.code, error.message);
      throw error;
    }
  }

  private route(request: RecordedRequest): Reply {
    const { method, path } = request;
    if (path === '/cluster/status' && method === 'GET') return { status: 200, body: this.status() };
    if (path === '/api/_tx' && method === 'POST') return this.transaction(request.body as Json);
    const parts = path.split('/').slice(1).map(decodeURIComponent);
    if (parts[0] !== 'api' || parts.length < 2 || parts.length > 4) throw new HttpFailure(404, 'NOT_FOUND', `no route ${path}`);
    const collection = parts[1]!;
    const body = (request.body ?? {}) as Json;
    if (parts.length === 2) {
      if (method === 'POST') return this.insert(collection, request.body);
    } else if (parts[2] === '_indexes') {
      if (parts.length === 3 && method === 'GET') return { status: 200, body: this.state.indexes.get(collection) ?? [] };
      if (parts.length === 3 && method === 'POST') return this.createIndex(collection, body);
      if (parts.length === 4 && method === 'DELETE') return this.dropIndex(collection, parts[3]!);
    } else if (parts.length === 3 && parts[2]!.startsWith('_') && method === 'POST') {
      return this.collectionCommand(collection, parts[2]!, body);
    } else if (parts.length === 3) {
      return this.byId(collection, parts[2]!, request);
    }
    throw new HttpFailure(404, 'NOT_FOUND', `no route ${method} ${path}`);
  }

  private status(): Json {
    const leaderUrl = this.options.leaderUrl === undefined ? this.url : this.options.leaderUrl;
    return {
      nodeId: this.options.nodeId ?? 1,
      url: this.url,
      role: leaderUrl === this.url ? 'leader' : 'follower',
      term: 3,
      leader: leaderUrl === null ? null : { id: 1, url: leaderUrl },
      commitIndex: this.state.rev,
      appliedIndex: this.state.rev,
      snapshotIndex: 0,
      members: [{ id: this.options.nodeId ?? 1, url: this.url, voter: true, matchIndex: this.state.rev, lag: 0, connected: true }],
    };
  }

  private insert(collection: string, body: unknown): Reply {
    const list = Array.isArray(body) ? body : [body];
    const docs = this.state.docs(collection);
    const prepared: Doc[] = [];
    const seen = new Set<string>();
    for (const raw of list) {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new HttpFailure(400, 'VALIDATION', 'not a document');
      checkKeys(raw as Json);
      const id = (raw as Json)._id ?? this.state.generateId();
      if (typeof id !== 'string') throw new HttpFailure(400, 'VALIDATION', '_id must be a string');
      if (docs.has(id) || seen.has(id)) throw new HttpFailure(409, 'CONFLICT', `duplicate _id ${id}`);
      seen.add(id);
      prepared.push({ ...(raw as Json), _id: id, _rev: 0 });
    }
    for (const doc of prepared) this.checkUnique(collection, doc);
    this.state.rev += 1;
    for (const doc of prepared) {
      doc._rev = this.state.rev;
      docs.set(doc._id, doc);
    }
    return { status: 201, body: Array.isArray(body) ? prepared : prepared[0] };
  }

  private collectionCommand(collection: string, command: string, body: Json): Reply {
    const filter = (body.filter ?? {}) as Json;
    const docs = [...this.state.docs(collection).values()];
    switch (command) {
      case '_query': {
        let found = docs.filter((doc) => matches(doc, filter));
        if (body.sort !== undefined) found = sortDocs(found, body.sort as Record<string, 1 | -1>);
        const skip = typeof body.skip === 'number' ? body.skip : 0;
        found = found.slice(skip, typeof body.limit === 'number' ? skip + body.limit : undefined);
        if (body.projection !== undefined) found = found.map((doc) => project(doc, body.projection as Json) as Doc);
        return { status: 200, body: found };
      }
      case '_count':
        return { status: 200, body: { count: docs.filter((doc) => matches(doc, filter)).length } };
      case '_explain':
        return { status: 200, body: { plan: 'scan', collection, filter } };
      case '_update': {
        const found = docs.filter((doc) => matches(doc, filter));
        const targets = body.multi === true ? found : found.slice(0, 1);
        if (targets.length === 0 && body.upsert === true) {
          const doc = applyUpdate({ ...filter, _id: this.state.generateId(), _rev: 0 } as Doc, body.update as Json);
          this.state.rev += 1;
          doc._rev = this.state.rev;
          this.state.docs(collection).set(doc._id, doc);
          return { status: 200, body: { matched: 0, modified: 0, upsertedId: doc._id } };
        }
        if (targets.length > 0) this.state.rev += 1;
        for (const doc of targets) {
          const updated = applyUpdate(doc, body.update as Json);
          updated._rev = this.state.rev;
          this.state.docs(collection).set(doc._id, updated);
        }
        return { status: 200, body: { matched: targets.length, modified: targets.length } };
      }
      case '_delete': {
        const found = docs.filter((doc) => matches(doc, filter));
        const targets = body.multi === false ? found.slice(0, 1) : found;
        if (targets.length > 0) this.state.rev += 1;
        for (const doc of targets) this.state.docs(collection).delete(doc._id);
        return { status: 200, body: { removed: targets.length } };
      }
    }
    throw new HttpFailure(404, 'NOT_FOUND', `no command ${command}`);
  }

  private byId(collection: string, id: string, request: RecordedRequest): Reply {
    const docs = this.state.docs(collection);
    const current = docs.get(id);
    const ifMatch = request.headers['if-match'];
    const expectedRev = typeof ifMatch === 'string' ? Number(ifMatch.replaceAll('"', '')) : undefined;
    const checkRev = (): void => {
      if (expectedRev !== undefined && (current?._rev ?? 0) !== expectedRev) {
        throw new HttpFailure(412, 'PRECONDITION_FAILED', `_rev is ${current?._rev ?? 0}, not ${expectedRev}`);
      }
    };
    switch (request.method) {
      case 'GET':
        if (current === undefined) throw new HttpFailure(404, 'NOT_FOUND', `${collection}/${id} not found`);
        return { status: 200, body: current, headers: { etag: `"${current._rev}"` } };
      case 'PUT': {
        checkRev();
        const body = request.body as Json;
        if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpFailure(400, 'VALIDATION', 'not a document');
        if (body._id !== undefined && body._id !== id) throw new HttpFailure(400, 'VALIDATION', '_id differs from the path');
        checkKeys(body);
        this.state.rev += 1;
        const doc: Doc = { ...body, _id: id, _rev: this.state.rev };
        docs.set(id, doc);
        return { status: current === undefined ? 201 : 200, body: doc };
      }
      case 'PATCH': {
        if (current === undefined) throw new HttpFailure(404, 'NOT_FOUND', `${collection}/${id} not found`);
        checkRev();
        const updated = applyUpdate(current, request.body as Json);
        this.state.rev += 1;
        updated._rev = this.state.rev;
        docs.set(id, updated);
        return { status: 200, body: updated };
      }
      case 'DELETE':
        if (current === undefined) throw new HttpFailure(404, 'NOT_FOUND', `${collection}/${id} not found`);
        checkRev();
        this.state.rev += 1;
        docs.delete(id);
        return { status: 204 };
    }
    throw new HttpFailure(404, 'NOT_FOUND', `no route ${request.method}`);
  }

  private createIndex(collection: string, body: Json): Reply {
    const fields = Array.isArray(body.fields)
      ? (body.fields as Array<[string, 1 | -1]>)
      : (Object.entries(body.fields as Json) as Array<[string, 1 | -1]>);
    if (fields.length === 0) throw new HttpFailure(400, 'VALIDATION', 'no fields');
    const name = typeof body.name === 'string' ? body.name : fields.map(([path, dir]) => `${path}_${dir}`).join('_');
    const list = this.state.indexes.get(collection) ?? [];
    if (list.some((index) => index.name === name)) throw new HttpFailure(409, 'CONFLICT', `index ${name} exists`);
    const index: FakeIndex = { name, fields, unique: body.unique === true };
    if (index.unique) {
      const keys = new Set<string>();
      for (const doc of this.state.docs(collection).values()) {
        const key = JSON.stringify(fields.map(([path]) => doc[path]));
        if (keys.has(key)) throw new HttpFailure(409, 'CONFLICT', `duplicates prevent unique index ${name}`);
        keys.add(key);
      }
    }
    this.state.rev += 1;
    this.state.indexes.set(collection, [...list, index]);
    return { status: 201, body: index };
  }

  private dropIndex(collection: string, name: string): Reply {
    const list = this.state.indexes.get(collection) ?? [];
    if (!list.some((index) => index.name === name)) throw new HttpFailure(404, 'NOT_FOUND', `no index ${name}`);
    this.state.rev += 1;
    this.state.indexes.set(
      collection,
      list.filter((index) => index.name !== name),
    );
    return { status: 204 };
  }

  private checkUnique(collection: string, doc: Doc): void {
    for (const index of this.state.indexes.get(collection) ?? []) {
      if (!index.unique) continue;
      const key = JSON.stringify(index.fields.map(([path]) => doc[path]));
      for (const other of this.state.docs(collection).values()) {
        if (other._id !== doc._id && JSON.stringify(index.fields.map(([path]) => other[path])) === key) {
          throw new HttpFailure(409, 'CONFLICT', `duplicate key in unique index ${index.name}`);
        }
      }
    }
  }

  /** Only what the tests use: preconditions on id/rev/exists/count, insert and update ops. */
  private transaction(body: Json): Reply {
    const conditions = (body.if ?? []) as Json[];
    for (const condition of conditions) {
      const docs = this.state.docs(condition.collection as string);
      if (condition.id !== undefined) {
        const doc = docs.get(condition.id as string);
        const holds = condition.rev !== undefined ? (doc?._rev ?? 0) === condition.rev : (doc !== undefined) === condition.exists;
        if (!holds) throw new HttpFailure(409, 'PRECONDITION_FAILED', `condition on ${String(condition.id)} failed`);
      } else {
        const count = [...docs.values()].filter((doc) => matches(doc, condition.filter as Json)).length;
        if (count !== condition.count) throw new HttpFailure(409, 'PRECONDITION_FAILED', 'count condition failed');
      }
    }
    this.state.rev += 1;
    const results = (body.ops as Json[]).map((op) => {
      const docs = this.state.docs(op.collection as string);
      if (op.op === 'insert') {
        const doc = { ...(op.doc as Json), _rev: this.state.rev } as Doc;
        docs.set(doc._id, doc);
        return doc;
      }
      if (op.op === 'update') {
        const targets = [...docs.values()].filter((doc) => matches(doc, op.filter as Json));
        for (const doc of targets) docs.set(doc._id, { ...applyUpdate(doc, op.update as Json), _rev: this.state.rev });
        return { matched: targets.length, modified: targets.length };
      }
      throw new HttpFailure(400, 'BAD_REQUEST', `op ${String(op.op)} not in the fake`);
    });
    return { status: 200, body: { results } };
  }
}

const READ_COMMANDS: ReadonlySet<string> = new Set(['_query', '_count', '_explain']);

function isRead(request: RecordedRequest): boolean {
  if (request.method === 'GET') return true;
  const last = request.path.split('/').pop() ?? '';
  return request.method === 'POST' && READ_COMMANDS.has(last);
}

function errorReply(status: number, code: string, message: string, leader?: string): Reply {
  return { status, body: { error: { code, message, ...(leader !== undefined ? { leader } : {}) } } };
}

function checkKeys(doc: Json): void {
  for (const key of Object.keys(doc)) {
    if (key.startsWith('$')) throw new HttpFailure(400, 'VALIDATION', `key ${key} is not allowed`);
  }
}

function matches(doc: Doc, filter: Json): boolean {
  return Object.entries(filter).every(([key, condition]) => {
    const value = doc[key];
    if (typeof condition !== 'object' || condition === null || Array.isArray(condition)) {
      return JSON.stringify(value) === JSON.stringify(condition);
    }
    return Object.entries(condition as Json).every(([op, operand]) => {
      switch (op) {
        case '$in':
          return (operand as unknown[]).some((item) => JSON.stringify(item) === JSON.stringify(value));
        case '$ne':
          return JSON.stringify(value) !== JSON.stringify(operand);
        case '$gt':
          return (value as number) > (operand as number);
        case '$gte':
          return (value as number) >= (operand as number);
        case '$lt':
          return (value as number) < (operand as number);
        case '$lte':
          return (value as number) <= (operand as number);
        default:
          throw new HttpFailure(400, 'BAD_REQUEST', `operator ${op} not in the fake`);
      }
    });
  });
}

function applyUpdate(doc: Doc, update: Json): Doc {
  const next: Doc = { ...doc };
  for (const [op, fields] of Object.entries(update)) {
    for (const [key, value] of Object.entries(fields as Json)) {
      if (op === '$set') next[key] = value;
      else if (op === '$unset') delete next[key];
      else if (op === '$inc') next[key] = ((next[key] as number | undefined) ?? 0) + (value as number);
      else throw new HttpFailure(400, 'BAD_REQUEST', `update operator ${op} not in the fake`);
    }
  }
  return next;
}

function sortDocs(docs: Doc[], sort: Record<string, 1 | -1>): Doc[] {
  return [...docs].sort((a, b) => {
    for (const [key, direction] of Object.entries(sort)) {
      const x = a[key] as number | string;
      const y = b[key] as number | string;
      if (x < y) return -direction;
      if (x > y) return direction;
    }
    return 0;
  });
}

function project(doc: Doc, projection: Json): Json {
  const out: Json = { _id: doc._id };
  for (const [key, include] of Object.entries(projection)) if (include === 1 || include === true) out[key] = doc[key];
  return out;
}
