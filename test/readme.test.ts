// The README's embedded example must run as written (only the import path and the
// data directory are changed), so that a newcomer's first copy-paste works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve(import.meta.dirname, '..');

test('the README embedded example runs', async () => {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Embedded'));
  const match = /```js\n([\s\S]*?)```/.exec(section);
  assert.ok(match !== null, 'README has a js block under "## Embedded"');
  const dir = await mkdtemp(join(tmpdir(), 'cs-readme-'));
  try {
    const code =
      match[1]!
        // the compiled package, as an application gets it (npm test builds dist/ first)
        .replace("from 'collection-store'", `from ${JSON.stringify(pathToFileURL(join(root, 'dist', 'index.js')).href)}`)
        .replace("'./data/app'", JSON.stringify(join(dir, 'data'))) +
      // What the comments in the example promise:
      `
const again = await open({ dir: ${JSON.stringify(join(dir, 'data'))} });
const a = again.collection('accounts');
if (a.get('alice')?.balance !== 90 || a.get('bob')?.balance !== 10) throw new Error('transfer not applied');
if (again.collection('products').find({ price: 5 }).length !== 1) throw new Error('replace not applied');
await again.close();
console.log('example ok');
`;
    // as the README says: saved as app.mjs and run with plain node (no TypeScript loader)
    const file = join(dir, 'app.mjs');
    await writeFile(file, code);
    const run = spawnSync(process.execPath, [file], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /example ok/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
