// The README's embedded example must run as written (only the import path and the
// data directory are changed), so that a newcomer's first copy-paste works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

test('the README embedded example runs', async () => {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Embedded'));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  assert.ok(match !== null, 'README has a ts block under "## Embedded"');
  const dir = await mkdtemp(join(tmpdir(), 'cs-readme-'));
  try {
    const code =
      match[1]!
        .replace("from 'collection-store'", `from ${JSON.stringify(join(root, 'src', 'index.ts'))}`)
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
    const file = join(dir, 'example.mts'); // .mts: an ES module wherever it lives (top-level await)
    await writeFile(file, code);
    const run = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /example ok/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
