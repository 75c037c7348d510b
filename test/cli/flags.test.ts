// Flag validation in-process: every bad value throws a UsageError naming its flag.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureUsableDataDir } from '../../src/cli/data-dir.ts';
import {
  parseAdvertiseFlag,
  parseHostFlag,
  parseIntegerFlag,
  parseNodeUrlFlag,
  parsePeersFlag,
  parseTuning,
  tuningArgs,
  TUNING_DEFAULTS,
} from '../../src/cli/flags.ts';
import { parseClusterOptions } from '../../src/cli/cluster.ts';
import { parseStartOptions } from '../../src/cli/start.ts';
import { UsageError } from '../../src/cli/usage-error.ts';
import { tempDir } from './cli-process.ts';

let dir: { path: string; remove: () => Promise<void> };
before(async () => {
  dir = await tempDir();
});
after(async () => {
  await dir.remove();
});

function usageError(pattern: RegExp): (error: unknown) => boolean {
  return (error) => error instanceof UsageError && pattern.test(error.message);
}

describe('parseIntegerFlag', () => {
  test('accepts integers in range, numbers or strings', () => {
    assert.equal(parseIntegerFlag('--port', '8080', 1, 65535), 8080);
    assert.equal(parseIntegerFlag('--port', 1, 1, 65535), 1);
    assert.equal(parseIntegerFlag('--port', '65535', 1, 65535), 65535);
  });
  for (const bad of ['0', '65536', '-1', '1.5', '1e3', '80a', '', ' ', '0x10', '99999999999999999999']) {
    test(`rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseIntegerFlag('--port', bad, 1, 65535), usageError(/^--port must be an integer from 1 to 65535/));
    });
  }
});

describe('host, address, peers and URL flags', () => {
  test('hosts: names, IPv4, IPv6 with or without brackets', () => {
    assert.equal(parseHostFlag('--host', 'localhost'), 'localhost');
    assert.equal(parseHostFlag('--host', '0.0.0.0'), '0.0.0.0');
    assert.equal(parseHostFlag('--host', '[::1]'), '::1');
    assert.equal(parseHostFlag('--host', '::'), '::');
    assert.throws(() => parseHostFlag('--host', 'a b'), usageError(/^--host "a b"/));
    assert.throws(() => parseHostFlag('--host', ''), usageError(/^--host must not be empty/));
  });
  test('advertise must be host:port', () => {
    assert.equal(parseAdvertiseFlag('--advertise', 'node1.local:9000'), 'node1.local:9000');
    assert.throws(() => parseAdvertiseFlag('--advertise', 'node1.local'), usageError(/^--advertise: /));
    assert.throws(() => parseAdvertiseFlag('--advertise', 'h:0'), usageError(/^--advertise: .*port/));
  });
  test('peers: both forms, and errors naming --peers', () => {
    assert.deepEqual(parsePeersFlag('--peers', undefined), []);
    assert.deepEqual(
      parsePeersFlag('--peers', '127.0.0.1:8081,127.0.0.1:8082').map((p) => p.address),
      ['127.0.0.1:8081', '127.0.0.1:8082'],
    );
    assert.deepEqual(
      parsePeersFlag('--peers', '2=h:1,3=h:2').map((p) => p.id),
      [2, 3],
    );
    assert.throws(() => parsePeersFlag('--peers', 'h:1,h:1'), usageError(/^--peers: .*duplicate/));
    assert.throws(() => parsePeersFlag('--peers', 'x=h:1'), usageError(/^--peers: .*node id/));
    assert.throws(() => parsePeersFlag('--peers', 'h:99999'), usageError(/^--peers: .*port/));
  });
  test('node URL: scheme optional, http(s) only, origin kept', () => {
    assert.equal(parseNodeUrlFlag('--node', '127.0.0.1:8080'), 'http://127.0.0.1:8080');
    assert.equal(parseNodeUrlFlag('--node', 'http://h:1/'), 'http://h:1');
    assert.throws(() => parseNodeUrlFlag('--node', 'ftp://h'), usageError(/^--node /));
    assert.throws(() => parseNodeUrlFlag('--node', 'http://'), usageError(/^--node /));
  });
});

describe('parseTuning', () => {
  test('defaults, and the same values back as arguments', () => {
    const tuning = parseTuning({});
    assert.deepEqual(tuning, { ...TUNING_DEFAULTS });
    const again = parseTuning({
      clusterId: tuningArgs(tuning)[1],
      snapshotThreshold: tuningArgs(tuning)[3],
      electionTimeout: tuningArgs(tuning)[5],
      heartbeatInterval: tuningArgs(tuning)[7],
      logLevel: tuningArgs(tuning)[9],
    });
    assert.deepEqual(again, tuning);
  });
  test('heartbeat must be below the election timeout', () => {
    assert.throws(
      () => parseTuning({ heartbeatInterval: '150' }),
      usageError(/^--heartbeat-interval \(150 ms\) must be less than --election-timeout \(150 ms\)/),
    );
    assert.equal(parseTuning({ heartbeatInterval: '149' }).heartbeatIntervalMs, 149);
  });
  test('log level, cluster id and snapshot threshold are checked', () => {
    assert.throws(() => parseTuning({ logLevel: 'loud' }), usageError(/^--log-level /));
    assert.throws(() => parseTuning({ clusterId: 'has space' }), usageError(/^--cluster-id /));
    assert.throws(() => parseTuning({ snapshotThreshold: '0' }), usageError(/^--snapshot-threshold /));
  });
});

describe('data directory', () => {
  test('created when missing, and returned absolute', async () => {
    const path = await ensureUsableDataDir('--data-dir', join(dir.path, 'a', 'b'));
    assert.equal(path, join(dir.path, 'a', 'b'));
    assert.equal(await ensureUsableDataDir('--data-dir', path), path, 'an existing directory is fine');
  });
  test('a regular file, or a path under one, is refused', async () => {
    const file = join(dir.path, 'file');
    await writeFile(file, 'x');
    await assert.rejects(ensureUsableDataDir('--data-dir', file), usageError(/^--data-dir ".*file" is a regular file/));
    await assert.rejects(ensureUsableDataDir('--data-dir', join(file, 'sub')), usageError(/^--data-dir .*cannot be created/));
  });
});

describe('cluster options', () => {
  test('defaults and range checks', async () => {
    const options = await parseClusterOptions({ dataDir: join(dir.path, 'cluster') });
    assert.equal(options.nodes, 3);
    assert.equal(options.basePort, 8080);
    assert.equal(options.contactHost, '127.0.0.1');
    await assert.rejects(parseClusterOptions({ nodes: '0' }), usageError(/^--nodes /));
    await assert.rejects(parseClusterOptions({ nodes: '3', basePort: '65534' }), usageError(/^--base-port /));
    const wildcard = await parseClusterOptions({ host: '0.0.0.0', dataDir: join(dir.path, 'cluster') });
    assert.equal(wildcard.contactHost, '127.0.0.1', 'nodes bound to a wildcard are reached on loopback');
  });
});

describe('start options', () => {
  test('a full set of flags becomes StartNodeOptions', async () => {
    const options = await parseStartOptions({
      nodeId: '2',
      port: '9001',
      host: '127.0.0.1',
      peers: '1=127.0.0.1:9000,127.0.0.1:9002',
      dataDir: join(dir.path, 'n2'),
      join: true,
      electionTimeout: '300',
      heartbeatInterval: '100',
      logLevel: 'warn',
    });
    assert.equal(options.nodeId, 2);
    assert.equal(options.port, 9001);
    assert.deepEqual(options.peers, [{ id: 1, address: '127.0.0.1:9000' }, { address: '127.0.0.1:9002' }]);
    assert.equal(options.dataDir, join(dir.path, 'n2'));
    assert.equal(options.join, true);
    assert.equal(options.electionTimeoutMs, 300);
    assert.equal(options.heartbeatIntervalMs, 100);
    assert.equal(options.logLevel, 'warn');
    assert.equal(options.advertise, undefined);
  });
  test('peers must not name this node, by id or by address', async () => {
    const base = { nodeId: '1', port: '9000', dataDir: join(dir.path, 'n1') };
    await assert.rejects(parseStartOptions({ ...base, peers: '1=127.0.0.1:9005' }), usageError(/^--peers .*own id 1/));
    await assert.rejects(parseStartOptions({ ...base, peers: '127.0.0.1:9000' }), usageError(/^--peers .*own address/));
    await assert.rejects(parseStartOptions({ ...base, advertise: 'n1:7000', peers: 'n1:7000' }), usageError(/^--peers .*own address n1:7000/));
  });
  test('required flags', async () => {
    await assert.rejects(parseStartOptions({ port: '9000', dataDir: dir.path }), usageError(/^--node-id is required/));
    await assert.rejects(parseStartOptions({ nodeId: '1', dataDir: dir.path }), usageError(/^--port is required/));
    await assert.rejects(parseStartOptions({ nodeId: '1', port: '9000' }), usageError(/^--data-dir is required/));
  });
});
