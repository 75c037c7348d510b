// Issue 12, exactly-once writes: a write whose leader dies between proposing it and
// answering applies once, after the client's retry lands on the new leader. The
// choreography: SIGSTOP both followers, send the write to the leader, wait until the leader
// has appended it and sent AppendEntries (it cannot commit: no follower answers), kill -9
// the leader, SIGCONT the followers (the entry reaches them from the socket buffers); the
// new leader commits it, and the retry, with the same Idempotency-Key, gets its first
// result instead of applying again. Without the key the same retry applies a second time:
// the control case shows that this file can see a duplicate.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Client } from '../../src/client/index.ts';
import { acquireClusterLock, http, sleep, TestCluster } from './harness.ts';

/** After the leader's log holds the write: time to send it to the (stopped) followers. */
const SEND_MS = 300;
/** Bound on the wait for the leader to append the write (a cold process is slow at first). */
const APPEND_WITHIN_MS = 15_000;
/** Bound on a raw retry loop: elections on a loaded box take a while. */
const RETRY_FOR_MS = 30_000;

interface Answer {
  /** 0 when no answer arrived. */
  readonly status: number;
  readonly body: unknown;
  /** The `Idempotent-Replayed: true` header: the answer is the first result of the key. */
  readonly replayed: boolean;
  readonly error?: string;
}

/** One HTTP request, with the replay header of its answer (the harness's http() drops headers). */
async function send(url: string, method: string, path: string, body: unknown, headers: Record<string, string>, timeoutMs: number): Promise<Answer> {
  try {
    const response = await fetch(url + path, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text === '' ? null : (JSON.parse(text) as unknown),
      replayed: response.headers.get('idempotent-replayed') === 'true',
    };
  } catch (error) {
    return { status: 0, body: null, replayed: false, error: String(error) };
  }
}

describe('exactly-once writes across a leader crash (3 real nodes)', () => {
  let cluster: TestCluster;
  let release: (() => void) | undefined;
  before(async () => {
    release = await acquireClusterLock();
    cluster = await TestCluster.start({ size: 3 });
  });
  after(async () => {
    await cluster?.close();
    release?.();
  });

  /**
   * Runs `write` against a leader whose followers are stopped, kills the leader while the
   * write is in flight, resumes the followers, and returns the write's result; then brings
   * the old leader back so that the next case has three nodes again.
   */
  async function crashLeaderDuring<T>(write: (leaderUrl: string, others: string[]) => Promise<T>): Promise<T> {
    let leader = await cluster.waitForLeader({ timeoutMs: 20_000 });
    // A write served by the leader itself first: a node serves its first request only after a
    // read barrier (its caught-up gate), which would wait for the stopped followers.
    const warm = await http(cluster.node(leader.nodeId).url, 'POST', '/api/warm-up', {}, { timeoutMs: 10_000 });
    assert.equal(warm.status, 201, `warm-up write on the leader: ${warm.status} ${JSON.stringify(warm.body) ?? warm.error}`);
    leader = (await cluster.status(leader.nodeId, 2000)) ?? leader;
    assert.equal(leader.role, 'leader', 'the leader is still leading after the warm-up write');
    const followers = cluster.nodes.filter((n) => n.id !== leader.nodeId);
    for (const f of followers) cluster.pause(f.id);
    let result: Promise<T>;
    try {
      result = write(
        cluster.node(leader.nodeId).url,
        followers.map((f) => f.url),
      );
      // Awaited below; until then, a failure here must not be an unhandled rejection.
      result.catch(() => undefined);
      // The leader appended the write (its log grew past its commit index, which cannot
      // move) and sent AppendEntries: only then does the crash come between propose and answer.
      const deadline = Date.now() + APPEND_WITHIN_MS;
      for (;;) {
        const status = await cluster.status(leader.nodeId, 1000);
        if (status !== null && status.lastLogIndex > leader.lastLogIndex) break;
        if (Date.now() > deadline) throw new Error(`the leader did not append the write within ${APPEND_WITHIN_MS} ms`);
        await sleep(20);
      }
      await sleep(SEND_MS);
      await cluster.kill(leader.nodeId);
    } finally {
      for (const f of followers) if (f.paused) cluster.resume(f.id);
    }
    try {
      return await result;
    } finally {
      // Three nodes again for the next case, whatever this one did.
      if (!cluster.node(leader.nodeId).running) await cluster.startNode(leader.nodeId);
      await cluster.waitForLeader({ timeoutMs: 20_000 });
    }
  }

  /** A client whose first choice is the leader, patient enough for an election on a busy box. */
  function clientOf(leaderUrl: string, others: string[]): Client {
    return connect([leaderUrl, ...others], { retries: 30, timeout: 3000, backoff: { delayMsInitial: 50, delayMsMax: 500 } });
  }

  /** Sends the request to `urls` in turn until a node answers with something other than 503 or no answer. */
  async function untilAnswered(
    urls: readonly string[],
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
  ): Promise<Answer> {
    const deadline = Date.now() + RETRY_FOR_MS;
    let last: Answer = { status: 0, body: null, replayed: false, error: 'not sent' };
    for (let i = 0; Date.now() < deadline; i++) {
      last = await send(urls[i % urls.length]!, method, path, body, headers, 3000);
      if (last.status !== 0 && last.status !== 503) return last;
      await sleep(50);
    }
    throw new Error(`no answer within ${RETRY_FOR_MS} ms: ${last.status} ${JSON.stringify(last.body) ?? last.error}`);
  }

  /** Sends a raw HTTP write to the leader, then (after the crash) retries it on the others. */
  function rawWriteWithRetry(method: string, path: string, body: unknown, headers: Record<string, string>) {
    return (leaderUrl: string, others: string[]): Promise<{ first: Answer; retry: Answer }> =>
      (async () => {
        const first = await send(leaderUrl, method, path, body, headers, 10_000);
        const retry = await untilAnswered(others, method, path, body, headers);
        return { first, retry };
      })();
  }

  async function count(collection: string): Promise<number> {
    const leader = await cluster.waitForLeader({ timeoutMs: 20_000 });
    return (await cluster.ids(leader.nodeId, collection)).size;
  }

  test('an insert through the client library resolves (no OutcomeUnknownError) and leaves exactly one document', async () => {
    const doc = await crashLeaderDuring(async (leaderUrl, others) => {
      const client = clientOf(leaderUrl, others);
      try {
        return await client.collection('once-insert').insert({ v: 'mine' });
      } finally {
        await client.close();
      }
    });
    assert.equal(doc.v, 'mine');
    assert.equal(await count('once-insert'), 1);
  });

  test('an $inc through the client library resolves and adds exactly one', async () => {
    const setup = clientOf(
      cluster.live()[0]!.url,
      cluster.live().map((n) => n.url),
    );
    try {
      await setup.collection('once-inc').insert({ _id: 'counter', n: 0 });
    } finally {
      await setup.close();
    }
    const updated = await crashLeaderDuring(async (leaderUrl, others) => {
      const client = clientOf(leaderUrl, others);
      try {
        return await client.collection('once-inc').updateById('counter', { $inc: { n: 1 } });
      } finally {
        await client.close();
      }
    });
    assert.equal(updated.n, 1);
    const leader = await cluster.waitForLeader({ timeoutMs: 20_000 });
    const stored = await http(cluster.node(leader.nodeId).url, 'GET', '/api/once-inc/counter?consistency=linearizable');
    assert.equal((stored.body as { n?: unknown }).n, 1, 'the counter went up by exactly one');
  });

  test('raw HTTP: with the key the retry is answered from the first result (replayed); without it, a second document', async () => {
    // A server-generated _id: without dedupe, the retry of this insert is a new document.
    const keyed = await crashLeaderDuring(rawWriteWithRetry('POST', '/api/once-raw-keyed', { v: 1 }, { 'idempotency-key': 'exactly-once-test.1' }));
    assert.equal(keyed.retry.status, 201, JSON.stringify(keyed.retry.body));
    assert.equal(keyed.first.status === 201 ? 'answered' : 'lost', 'lost', 'the leader died before answering');
    assert.equal(keyed.retry.replayed, true, 'the retry got the first result (Idempotent-Replayed: true)');
    assert.equal(await count('once-raw-keyed'), 1, 'one document with the key');

    const keyless = await crashLeaderDuring(rawWriteWithRetry('POST', '/api/once-raw-keyless', { v: 1 }, {}));
    assert.equal(keyless.retry.status, 201, JSON.stringify(keyless.retry.body));
    // The control: the same choreography without the key applies the write twice (the first
    // entry survived the leader in the followers' logs), so the counts above can see a duplicate.
    assert.equal(await count('once-raw-keyless'), 2, 'without the key the retry is a second document');
  });
});
