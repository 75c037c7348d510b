// `status`: the table format (pure), and an unreachable node (the real command).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClusterStatus } from '../../src/client/index.ts';
import { formatStatus } from '../../src/cli/status-table.ts';
import { freeConsecutivePorts, runCli } from './cli-process.ts';

const STATUS: ClusterStatus = {
  nodeId: 2,
  url: 'http://127.0.0.1:8081',
  role: 'follower',
  term: 7,
  leader: { id: 1, url: 'http://127.0.0.1:8080' },
  commitIndex: 1234,
  appliedIndex: 1230,
  snapshotIndex: 1000,
  members: [
    { id: 3, url: 'http://127.0.0.1:8082', voter: false, matchIndex: 17, lag: 1217, connected: false },
    { id: 1, url: 'http://127.0.0.1:8080', voter: true, matchIndex: 1234, lag: 0, connected: true },
    { id: 2, url: 'http://127.0.0.1:8081', voter: true, matchIndex: 1230, lag: 4, connected: true },
  ],
};

describe('status table', () => {
  test('header line with leader, term, commit and applied index', () => {
    const header = formatStatus(STATUS).split('\n')[0]!;
    assert.match(header, /leader: node 1 \(http:\/\/127\.0\.0\.1:8080\)/);
    assert.match(header, /term: 7/);
    assert.match(header, /commit: 1234/);
    assert.match(header, /applied: 1230/);
  });
  test('one aligned row per member, sorted by id, with role, match, lag, connected', () => {
    const lines = formatStatus(STATUS).split('\n');
    const headerRow = lines.findIndex((l) => l.startsWith('ID'));
    assert.ok(headerRow > 0);
    const rows = lines.slice(headerRow + 1, headerRow + 4);
    assert.deepEqual(
      rows.map((r) => r.split(/\s+/)),
      [
        ['1', 'http://127.0.0.1:8080', 'leader', '1234', '0', 'yes'],
        ['2*', 'http://127.0.0.1:8081', 'follower', '1230', '4', '-'],
        ['3', 'http://127.0.0.1:8082', 'learner', '17', '1217', 'no'],
      ],
    );
    // Aligned: each column starts at the same offset on every line.
    const urlColumn = lines[headerRow]!.indexOf('URL');
    for (const row of rows) assert.equal(row.indexOf('http://'), urlColumn);
    const connectedColumn = lines[headerRow]!.indexOf('CONNECTED');
    assert.deepEqual(
      rows.map((r) => r.length - r.trimEnd().split(/\s+/).pop()!.length),
      [connectedColumn, connectedColumn, connectedColumn],
    );
  });
  test('no leader', () => {
    assert.match(formatStatus({ ...STATUS, leader: null, role: 'candidate' }), /^leader: none /);
  });
});

describe('status command', { concurrency: 2 }, () => {
  let server: Server | null = null;
  after(() => {
    server?.close();
  });

  test('a closed port: one line, exit 1', async () => {
    const port = await freeConsecutivePorts(1);
    const result = await runCli(['status', '--node', `http://127.0.0.1:${port}`]);
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`^collection-store: cannot get the status of http://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    assert.equal(result.stdout, '');
  });

  test("table and --json from a node that answers; a follower shows the leader's replication view", async () => {
    // One fake answers as the follower (node 2), a second one as the leader it names,
    // with other match indexes.
    let leaderAsked = 0;
    const json = (res: import('node:http').ServerResponse, body: unknown): void => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    let leader: typeof STATUS = STATUS;
    const leaderServer = createServer((_req, res) => {
      leaderAsked++;
      json(res, leader);
    });
    await new Promise<void>((resolve) => leaderServer.listen(0, '127.0.0.1', resolve));
    after(() => leaderServer.close());
    const leaderUrl = `http://127.0.0.1:${(leaderServer.address() as AddressInfo).port}`;
    const follower: typeof STATUS = { ...STATUS, leader: { id: STATUS.leader!.id, url: leaderUrl } };
    leader = { ...follower, role: 'leader', members: STATUS.members.map((m) => ({ ...m, matchIndex: m.matchIndex + 1000 })) };
    server = createServer((req, res) => {
      if (req.url?.startsWith('/cluster/status') === true) json(res, follower);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const [table, asJson] = await Promise.all([runCli(['status', '--node', url]), runCli(['status', '--node', url, '--json'])]);
    assert.equal(table.code, 0, table.stderr);
    assert.equal(
      table.stdout,
      formatStatus({ ...follower, members: leader.members }) + `(match and lag as the leader, node ${STATUS.leader!.id}, sees them)\n`,
    );
    assert.equal(leaderAsked, 1);
    assert.equal(asJson.code, 0, asJson.stderr);
    assert.deepEqual(JSON.parse(asJson.stdout), follower);
  });
});
