// In-process checks of the TLS files (start's --tls-* flags) and of the local CA that
// `cluster --tls` makes with openssl: spawning a process per case would be slow.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureLocalTls, OpensslError, type LocalTls } from '../../src/cli/local-ca.ts';
import { readTlsFlags } from '../../src/cli/tls-files.ts';
import { UsageError } from '../../src/cli/usage-error.ts';
import { tempDir } from './cli-process.ts';

let dir: { path: string; remove: () => Promise<void> };
let a: LocalTls;
let b: LocalTls;
before(async () => {
  dir = await tempDir();
  a = await ensureLocalTls(join(dir.path, 'a'), [1, 2], []);
  b = await ensureLocalTls(join(dir.path, 'b'), [1], []);
});
after(async () => {
  await dir.remove();
});

function files(pki: LocalTls, id: number): { cert: string; key: string } {
  const node = pki.nodes.get(id);
  assert.ok(node !== undefined);
  return node;
}

async function refused(raw: Parameters<typeof readTlsFlags>[0], mention: RegExp, host: string | null = '127.0.0.1', now?: Date): Promise<void> {
  await assert.rejects(readTlsFlags(raw, host, now), (error: unknown) => {
    assert.ok(error instanceof UsageError, `a UsageError, got ${String(error)}`);
    assert.doesNotMatch(error.message, /\n/, 'one line');
    assert.match(error.message, mention);
    return true;
  });
}

describe('start --tls-* files', { concurrency: 4 }, () => {
  test('a certificate, its key and the CA that signed it are read', async () => {
    const { cert, key } = files(a, 1);
    const tls = await readTlsFlags({ tlsCertFile: cert, tlsKeyFile: key, tlsCaFile: a.caCert }, '127.0.0.1');
    assert.ok(tls !== undefined);
    assert.deepEqual(tls.cert, await readFile(cert));
    assert.deepEqual(tls.key, await readFile(key));
    assert.deepEqual(tls.ca, await readFile(a.caCert));
    assert.ok((await readTlsFlags({ tlsCertFile: cert, tlsKeyFile: key }, 'localhost'))?.ca === undefined, 'no CA: HTTPS only');
    assert.equal(await readTlsFlags({}, '127.0.0.1'), undefined, 'no flag: no TLS');
  });
  test('both or neither of cert and key; a CA alone is refused', async () => {
    const { cert, key } = files(a, 1);
    await refused({ tlsCertFile: cert }, /--tls-cert-file needs --tls-key-file/);
    await refused({ tlsKeyFile: key }, /--tls-key-file needs --tls-cert-file/);
    await refused({ tlsCaFile: a.caCert }, /--tls-ca-file needs --tls-cert-file and --tls-key-file/);
  });
  test('a key that is not the certificate’s', async () => {
    await refused({ tlsCertFile: files(a, 1).cert, tlsKeyFile: files(a, 2).key }, /--tls-key-file ".*node2\.key" is not the key of the certificate/);
  });
  test('a certificate another CA signed', async () => {
    const { cert, key } = files(b, 1);
    await refused({ tlsCertFile: cert, tlsKeyFile: key, tlsCaFile: a.caCert }, /is not signed by the CA in --tls-ca-file.*every peer would refuse/);
  });
  test('a certificate that does not name the advertised host', async () => {
    const { cert, key } = files(a, 1);
    await refused({ tlsCertFile: cert, tlsKeyFile: key }, /does not name 10\.1\.2\.3.*IP Address:127\.0\.0\.1/, '10.1.2.3');
    await refused({ tlsCertFile: cert, tlsKeyFile: key }, /does not name db\.example/, 'db.example');
    assert.ok(await readTlsFlags({ tlsCertFile: cert, tlsKeyFile: key }, null), 'a wildcard bind without --advertise is not checked');
  });
  test('an expired certificate', async () => {
    const { cert, key } = files(a, 1);
    await refused({ tlsCertFile: cert, tlsKeyFile: key }, /expired on/, '127.0.0.1', new Date('2200-01-01T00:00:00Z'));
  });
  test('a key readable by group or others, missing files, files that are not PEM', async () => {
    const { cert, key } = files(a, 1);
    const loose = join(dir.path, 'loose.key');
    await copyFile(key, loose);
    await chmod(loose, 0o644);
    await refused(
      { tlsCertFile: cert, tlsKeyFile: loose },
      /--tls-key-file ".*loose\.key" is readable by group or others \(mode 0644\); run: chmod 600/,
    );
    await refused({ tlsCertFile: join(dir.path, 'nope.crt'), tlsKeyFile: key }, /--tls-cert-file ".*nope\.crt" cannot be read \(no such file\)/);
    const text = join(dir.path, 'text.pem');
    await writeFile(text, 'hello\n', { mode: 0o600 });
    await refused({ tlsCertFile: text, tlsKeyFile: key }, /--tls-cert-file ".*text\.pem" holds no PEM certificate/);
    await refused({ tlsCertFile: cert, tlsKeyFile: text }, /--tls-key-file ".*text\.pem" holds no usable PEM private key/);
    await refused({ tlsCertFile: cert, tlsKeyFile: key, tlsCaFile: text }, /--tls-ca-file ".*text\.pem" holds no PEM certificate/);
  });
  test('an encrypted key', async () => {
    const { cert, key } = files(a, 1);
    const encrypted = join(dir.path, 'encrypted.key');
    execFileSync('openssl', ['pkey', '-in', key, '-aes256', '-passout', 'pass:secret', '-out', encrypted]);
    await chmod(encrypted, 0o600);
    await refused({ tlsCertFile: cert, tlsKeyFile: encrypted }, /is encrypted/);
  });
});

describe('cluster --tls: the local CA', () => {
  test('a CA and node certificates with 0600 keys in a 0700 directory; node certificates name 127.0.0.1 and localhost and are for server and client', async () => {
    assert.equal(a.createdCa, true);
    assert.deepEqual(a.createdNodes, [1, 2]);
    assert.equal((await stat(a.dir)).mode & 0o777, 0o700);
    const ca = new X509Certificate(await readFile(a.caCert));
    assert.equal(ca.ca, true);
    for (const id of [1, 2]) {
      const { cert, key } = files(a, id);
      assert.equal((await stat(key)).mode & 0o777, 0o600, `node${id}.key is 0600`);
      const x509 = new X509Certificate(await readFile(cert));
      assert.ok(x509.checkIssued(ca) && x509.verify(ca.publicKey), 'signed by the CA');
      assert.equal(x509.subjectAltName, 'IP Address:127.0.0.1, DNS:localhost');
      assert.equal(x509.ca, false);
      const text = execFileSync('openssl', ['x509', '-in', cert, '-noout', '-ext', 'extendedKeyUsage'], { encoding: 'utf8' });
      assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
    }
    assert.equal((await stat(join(a.dir, 'ca.key'))).mode & 0o777, 0o600);
  });
  test('a later run reuses what is good and remakes only what is missing or names too little', async () => {
    const dataDir = join(dir.path, 'reuse');
    const first = await ensureLocalTls(dataDir, [1, 2, 3], []);
    const before = await Promise.all([first.caCert, ...[1, 2, 3].map((id) => files(first, id).cert)].map((p) => readFile(p)));
    const again = await ensureLocalTls(dataDir, [1, 2, 3], []);
    assert.equal(again.createdCa, false);
    assert.deepEqual(again.createdNodes, []);
    const after = await Promise.all([again.caCert, ...[1, 2, 3].map((id) => files(again, id).cert)].map((p) => readFile(p)));
    assert.deepEqual(after, before, 'the same files');

    await rm(files(first, 2).key);
    const third = await ensureLocalTls(dataDir, [1, 2, 3], []);
    assert.equal(third.createdCa, false);
    assert.deepEqual(third.createdNodes, [2], 'only the node whose key is gone');

    const wider = await ensureLocalTls(dataDir, [1, 2, 3], ['10.9.8.7']);
    assert.equal(wider.createdCa, false);
    assert.deepEqual(wider.createdNodes, [1, 2, 3], 'a new contact host: every node certificate is remade');
    const x509 = new X509Certificate(await readFile(files(wider, 1).cert));
    assert.equal(x509.subjectAltName, 'IP Address:127.0.0.1, DNS:localhost, IP Address:10.9.8.7');
    assert.equal(new X509Certificate(await readFile(wider.caCert)).fingerprint256, new X509Certificate(before[0]!).fingerprint256, 'the CA stays');
  });
  test('without the openssl command: one line saying so', async () => {
    const empty = join(dir.path, 'empty-path');
    await mkdir(empty);
    const path = process.env['PATH'];
    process.env['PATH'] = empty;
    try {
      await assert.rejects(ensureLocalTls(join(dir.path, 'no-openssl'), [1], []), (error: unknown) => {
        assert.ok(error instanceof OpensslError);
        assert.match(error.message, /^cluster --tls needs the openssl command, which is not on PATH/);
        assert.doesNotMatch(error.message, /\n/);
        return true;
      });
    } finally {
      process.env['PATH'] = path;
    }
  });
});
