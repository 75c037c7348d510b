// The chaos load retries an operation at another live node than its last attempt's (as its
// docs and the client library say): against two real servers on 127.0.0.1, one refusing
// every request with 503 NOT_CAUGHT_UP (a node catching up), no operation is sent to it twice
// in a row, and every operation ends answered by the other.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { ChaosHistory } from '../../src/chaos/history.ts';
import { ChaosLoad } from '../../src/chaos/load.ts';
import { NodeClient } from '../../src/chaos/node-client.ts';

interface Seen {
  readonly node: number;
  readonly op: string;
  readonly through: string | undefined;
}

const seen: Seen[] = [];
const servers: Server[] = [];
const urls: string[] = [];

before(async () => {
  const docs = new Map<string, { v: string; _rev: number }>();
  for (const node of [1, 2]) {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        // Reads carry no key: one op per (process's) request line is enough to tell them apart.
        const through = req.headers['idempotency-answered-through'];
        seen.push({
          node,
          op: String(req.headers['idempotency-key'] ?? `${req.method} ${req.url}`),
          through: typeof through === 'string' ? through : undefined,
        });
        if (node === 1) {
          res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"code":"NOT_CAUGHT_UP","message":"catching up"}}');
          return;
        }
        const id = String(req.url).split('?')[0]!;
        if (req.method === 'PUT') {
          const doc = { v: (JSON.parse(body) as { v: string }).v, _rev: (docs.get(id)?._rev ?? 0) + 1 };
          docs.set(id, doc);
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
        } else {
          const doc = docs.get(id);
          if (doc === undefined) res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"NOT_FOUND","message":"none"}}');
          else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }
});
after(async () => {
  for (const server of servers) await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Load runs at most this long waiting for what a test needs (a loaded CI box is slow). */
const LOAD_MS_MAX = 10_000;

/** Runs the chaos load against the two servers for `ms`, and on until `enough()` holds (at
 * most LOAD_MS_MAX in all); its history. */
async function runLoad(clients: number, seed: number, runId: string, ms: number, enough: () => boolean): Promise<ChaosHistory> {
  const history = new ChaosHistory();
  const client = new NodeClient(1000);
  const load = new ChaosLoad(
    history,
    client,
    { ids: [1, 2], url: (id) => urls[id - 1]!, reachable: () => true },
    { clients, keys: 2, seed, runId, retries: 3, opTimeoutMs: 2000 },
  );
  const started = Date.now();
  load.start();
  await new Promise((resolve) => setTimeout(resolve, ms));
  while (!enough() && Date.now() - started < LOAD_MS_MAX) await new Promise((resolve) => setTimeout(resolve, 50));
  await load.stop();
  await client.close();
  return history;
}

/** Write attempts seen so far, by operation (its key), in the order they came. */
function attemptsByOp(): Map<string, number[]> {
  const byOp = new Map<string, number[]>();
  for (const s of seen) {
    if (s.op.startsWith('GET')) continue;
    const nodes = byOp.get(s.op) ?? [];
    nodes.push(s.node);
    byOp.set(s.op, nodes);
  }
  return byOp;
}

test('a retry goes to another live node than the attempt before it', async () => {
  const history = await runLoad(4, 9, 'r', 600, () => [...attemptsByOp().values()].filter((a) => a.join() === '1,2').length >= 5);
  const writes = seen.filter((s) => !s.op.startsWith('GET'));
  const refusedFirst = new Set(writes.filter((s) => s.node === 1).map((s) => s.op));
  assert.ok(refusedFirst.size >= 5, `writes refused by node 1: ${refusedFirst.size}`);
  // An op refused when the load stopped is not retried (one attempt): only two attempts in a
  // row at the refusing node would be wrong.
  let retriedElsewhere = 0;
  for (const op of refusedFirst) {
    const attempts = writes.filter((s) => s.op === op).map((s) => s.node);
    assert.ok(
      attempts.every((node, i) => i === 0 || !(node === 1 && attempts[i - 1] === 1)),
      `op ${op} went to ${attempts.join(', ')}`,
    );
    if (attempts.join() === '1,2') retriedElsewhere++;
  }
  assert.ok(retriedElsewhere >= 5, `ops retried at node 2 after node 1 refused: ${retriedElsewhere}`);
  const completed = history.ops.filter((o) => o.complete !== null);
  assert.ok(completed.length > 0);
  // Unanswered: only an op refused as the load stopped (no retry after that), one per client.
  const unanswered = completed.filter((o) => o.complete!.type !== 'ok' && o.complete!.error !== 'PRECONDITION_FAILED');
  assert.ok(unanswered.length <= 4, `${unanswered.length} ops unanswered`);
  assert.ok(
    unanswered.every((o) => o.complete!.error === 'NOT_CAUGHT_UP'),
    JSON.stringify(unanswered.map((o) => o.complete)),
  );
});

test("writes carry the client library's keys, one client id per process, each saying the process's earlier writes are answered", async () => {
  seen.length = 0;
  await runLoad(3, 4, 'r2', 400, () => attemptsByOp().size >= 10);
  const writes = seen.filter((s) => !s.op.startsWith('GET'));
  assert.ok(writes.length >= 10, `${writes.length} write attempts`);
  const bySeq = new Map<string, Set<number>>();
  for (const w of writes) {
    const m = /^([A-Za-z0-9_-]{22})\.([1-9][0-9]*)$/.exec(w.op);
    assert.ok(m !== null, `key ${w.op} is not <clientId>.<seq>`);
    const seq = Number(m[2]);
    // One operation at a time per process: every earlier write of the process is finished.
    assert.equal(w.through, seq === 1 ? undefined : String(seq - 1), `key ${w.op}`);
    const seqs = bySeq.get(m[1]!) ?? new Set<number>();
    seqs.add(seq);
    bySeq.set(m[1]!, seqs);
  }
  assert.equal(bySeq.size, 3, 'a client id per process');
  for (const seqs of bySeq.values()) assert.ok(seqs.has(1), 'each process counts its writes from 1');
});
