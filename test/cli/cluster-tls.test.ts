// `cluster --tls --nodes 3`: a private CA and node certificates in <data-dir>/tls, nodes
// that serve only HTTPS and link to each other over mutual TLS. A write through the client
// (trusting the CA) on one node is read on another; plain HTTP and a client that does not
// trust the CA get nothing; `status --ca-file` asks a follower, then the leader, over https.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from '../../src/client/index.ts';
import { alive, cleanupsAfterAll, CliProcess, freeConsecutivePorts, runCli, tempDir } from './cli-process.ts';

const cleanups = cleanupsAfterAll();

test('cluster --tls: https nodes over mutual TLS; the client with the CA writes on one node and reads on another; plain HTTP fails', async () => {
  const dir = await tempDir();
  cleanups.push(dir.remove);
  const base = await freeConsecutivePorts(3);
  const tlsDir = join(dir.path, 'tls');
  const cli = new CliProcess(['cluster', '--tls', '--nodes', '3', '--base-port', String(base), '--data-dir', dir.path, '--log-level', 'warn']);
  const pids: number[] = [];
  cleanups.push(async () => {
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  cleanups.push(() => cli.kill());
  const [, leaderText] = await cli.waitFor(/\[cluster\] ready: 3 nodes, leader is node (\d)/, 40_000);
  const leader = Number(leaderText);
  for (let id = 1; id <= 3; id++) {
    const [, pid] = await cli.waitFor(new RegExp(`node ${id}  pid (\\d+) +API https://127\\.0\\.0\\.1:${base + id - 1} `), 1000);
    pids.push(Number(pid));
  }
  assert.match(cli.stdout, new RegExp(`made a private CA and certificates for nodes 1, 2, 3 in ${tlsDir} \\(keys mode 0600\\)`));
  await cli.waitFor(new RegExp(`clients trust the CA in ${join(tlsDir, 'ca.crt')}`), 1000);
  for (const name of ['ca.key', 'node1.key', 'node2.key', 'node3.key']) assert.equal((await stat(join(tlsDir, name))).mode & 0o777, 0o600, name);
  for (const [i, pid] of pids.entries()) {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const flag = (name: string): string | undefined => args[args.indexOf(name) + 1];
    assert.equal(flag('--tls-cert-file'), join(tlsDir, `node${i + 1}.crt`));
    assert.equal(flag('--tls-key-file'), join(tlsDir, `node${i + 1}.key`));
    assert.equal(flag('--tls-ca-file'), join(tlsDir, 'ca.crt'));
  }

  const ca = await readFile(join(tlsDir, 'ca.crt'));
  const url = (id: number): string => `https://127.0.0.1:${base + id - 1}`;
  // Write on a follower (forwarded to the leader over the peers' TLS link), read on the third node.
  const follower = leader === 1 ? 2 : 1;
  const other = [1, 2, 3].find((id) => id !== leader && id !== follower)!;
  const writer = connect([url(follower)], { tls: { ca } });
  const reader = connect([url(other)], { tls: { ca } });
  try {
    const inserted = await writer.collection('tls_test').insert({ _id: 'x', n: 7 });
    assert.equal(inserted._id, 'x');
    assert.deepEqual(await reader.collection('tls_test').get('x'), { _id: 'x', _rev: inserted._rev, n: 7 });
    const status = await reader.status();
    assert.equal(status.leader?.url, url(leader), 'status names the leader by its https URL');
    assert.ok(
      status.members.every((m) => m.url.startsWith('https://')),
      JSON.stringify(status.members),
    );
  } finally {
    await writer.close();
    await reader.close();
  }

  await assert.rejects(fetch(`http://127.0.0.1:${base}/healthz`, { signal: AbortSignal.timeout(5000) }), 'plain HTTP gets no answer');
  const untrusting = connect([url(1)], { retries: 0 });
  try {
    await assert.rejects(untrusting.status(), /self-signed certificate in certificate chain/, 'a client that does not trust the CA is refused');
  } finally {
    await untrusting.close();
  }

  const status = await runCli(['status', '--node', url(follower), '--ca-file', join(tlsDir, 'ca.crt')]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, new RegExp(`leader: node ${leader} \\(https://127\\.0\\.0\\.1:${base + leader - 1}\\)`));
  assert.match(status.stdout, new RegExp(`\\(match and lag as the leader, node ${leader}, sees them\\)`), 'status reached the leader over https too');
  const noCa = await runCli(['status', '--node', url(follower)]);
  assert.equal(noCa.code, 1);
  assert.match(
    noCa.stderr,
    /^collection-store: cannot get the status of https:\/\/127\.0\.0\.1:\d+: self-signed certificate in certificate chain\n$/,
  );

  cli.signal('SIGINT');
  assert.equal((await cli.exited).code, 0);
});
