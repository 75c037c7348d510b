// `--help` of each command documents every flag, with its default.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './cli-process.ts';

async function help(command: string): Promise<string> {
  const result = await runCli([command, '--help']);
  assert.equal(result.code, 0, result.stderr);
  // Commander wraps long descriptions: join them back so each flag reads as one entry.
  return result.stdout.replace(/\n {6,}/g, ' ');
}

function assertFlag(text: string, flag: string, defaultText?: string): void {
  const line = text.split('\n').find((l) => l.trimStart().startsWith(flag));
  assert.ok(line !== undefined, `${flag} is documented in:\n${text}`);
  if (defaultText !== undefined) assert.ok(line.includes(`(default: ${defaultText}`), `${flag} shows default ${defaultText}: ${line}`);
}

describe('--help', { concurrency: 3 }, () => {
  test('start', async () => {
    const text = await help('start');
    for (const flag of ['--node-id <id>', '--port <port>', '--data-dir <dir>']) assertFlag(text, flag);
    assertFlag(text, '--peers <list>', 'none');
    assertFlag(text, '--host <address>', '"127.0.0.1"');
    assertFlag(text, '--advertise <host:port>', '<host>:<port>');
    assertFlag(text, '--join', 'false');
    assertFlag(text, '--cluster-secret-file <path>', 'none');
    assertFlag(text, '--insecure', 'false');
    assertFlag(text, '--tls-cert-file <path>', 'none');
    assertFlag(text, '--tls-key-file <path>', 'none');
    assertFlag(text, '--tls-ca-file <path>', 'none');
    assertFlag(text, '--cluster-id <id>', '"collection-store"');
    assertFlag(text, '--snapshot-threshold <entries>', '10000');
    assertFlag(text, '--election-timeout <ms>', '150');
    assertFlag(text, '--heartbeat-interval <ms>', '50');
    assertFlag(text, '--log-level <level>', '"info"');
    assert.ok(!text.includes('--stop-on-stdin-close'), 'the internal flag stays hidden');
  });
  test('cluster', async () => {
    const text = await help('cluster');
    assertFlag(text, '--nodes <n>', '3');
    assertFlag(text, '--base-port <port>', '8080');
    assertFlag(text, '--data-dir <dir>', '"./data"');
    assertFlag(text, '--host <address>', '"127.0.0.1"');
    assertFlag(text, '--cluster-secret-file <path>', '<dir>/cluster.secret');
    assertFlag(text, '--tls', 'false');
    assertFlag(text, '--election-timeout <ms>', '150');
    assertFlag(text, '--heartbeat-interval <ms>', '50');
    assertFlag(text, '--snapshot-threshold <entries>', '10000');
  });
  test('status', async () => {
    const text = await help('status');
    assertFlag(text, '--node <url>', '"http://127.0.0.1:8080"');
    assertFlag(text, '--json', 'false');
    assertFlag(text, '--timeout <ms>', '3000');
    assertFlag(text, '--ca-file <path>', "the system's root CAs");
  });
});
