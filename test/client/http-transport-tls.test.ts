// The client over https: a node's certificate is verified against the CA given in
// `tls: { ca }` (hostname included), and a TLS handshake that fails is a request that was
// never sent ('not-sent'), so a retry is safe and a write is not "outcome unknown".
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { AttemptError, HttpTransport } from '../../src/client/http-transport.ts';
import { ensureLocalTls } from '../../src/cli/local-ca.ts';
import { tempDir } from '../cli/cli-process.ts';

let dir: { path: string; remove: () => Promise<void> };
let ca: Buffer;
let otherCa: Buffer;
let https: HttpsServer;
let http: HttpServer;
let requests = 0;

function listen(server: HttpServer | HttpsServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

let httpsPort = 0;
let httpPort = 0;
before(async () => {
  dir = await tempDir();
  const pki = await ensureLocalTls(join(dir.path, 'a'), [1], []);
  const other = await ensureLocalTls(join(dir.path, 'b'), [1], []);
  ca = await readFile(pki.caCert);
  otherCa = await readFile(other.caCert);
  const files = pki.nodes.get(1)!;
  const handler = (_req: unknown, res: { setHeader(k: string, v: string): void; end(body: string): void }): void => {
    requests++;
    res.setHeader('content-type', 'application/json');
    res.end('{"ok":true}');
  };
  https = createHttpsServer({ cert: await readFile(files.cert), key: await readFile(files.key) }, handler);
  http = createHttpServer(handler);
  httpsPort = await listen(https);
  httpPort = await listen(http);
});
after(async () => {
  https.closeAllConnections();
  http.closeAllConnections();
  await new Promise((resolve) => https.close(resolve));
  await new Promise((resolve) => http.close(resolve));
  await dir.remove();
});

async function attempt(url: string, tls?: { ca: Buffer }): Promise<unknown> {
  const transport = new HttpTransport({ timeoutMs: 5000, connectionsPerNode: 1, ...(tls !== undefined ? { tls } : {}) });
  try {
    return await transport.send(url, { method: 'POST', path: '/api/c', body: '{"_id":"x"}' });
  } finally {
    await transport.close();
  }
}

async function notSent(url: string, tls: { ca: Buffer } | undefined, reason: RegExp): Promise<void> {
  const before = requests;
  await assert.rejects(attempt(url, tls), (error: unknown) => {
    assert.ok(error instanceof AttemptError, String(error));
    assert.equal(error.kind, 'not-sent', error.message);
    assert.match(error.message, reason);
    return true;
  });
  assert.equal(requests, before, 'the server saw no request');
}

test('https with the CA that signed the node certificate', async () => {
  const response = (await attempt(`https://127.0.0.1:${httpsPort}`, { ca })) as { status: number; body: unknown };
  assert.equal(response.status, 200);
  assert.deepEqual(response.body, { ok: true });
  const byName = (await attempt(`https://localhost:${httpsPort}`, { ca })) as { status: number };
  assert.equal(byName.status, 200, 'the certificate names localhost too');
});

test('an untrusted certificate, another CA, or a node without TLS: not sent', async () => {
  const untrusted = /unable to verify the first certificate|self-signed certificate in certificate chain/;
  await notSent(`https://127.0.0.1:${httpsPort}`, undefined, untrusted);
  await notSent(`https://127.0.0.1:${httpsPort}`, { ca: otherCa }, untrusted);
  await notSent(`https://127.0.0.1:${httpPort}`, { ca }, /wrong version number|ssl/i);
});
