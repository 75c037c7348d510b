// An application imports 'collection-store' and 'collection-store/client' with plain Node
// (no TypeScript loader): the package's exports point at the compiled build in dist/
// (`npm run build`, run by `npm test` and on `npm ci`). This runs them the way an
// application would, in a child process without tsx.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Runs an ES module source with plain node in the package's directory; returns its stdout. */
function runPlainNode(source: string): string {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', source], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  assert.equal(result.status, 0, `plain node failed:\n${result.stderr}`);
  return result.stdout;
}

describe('package entry points', () => {
  test('every source file has its compiled module in dist/', () => {
    const missing = sources(join(root, 'src'))
      .map((path) => relative(join(root, 'src'), path).replace(/\.ts$/, '.js'))
      .filter((js) => !existsSync(join(root, 'dist', js)));
    assert.deepEqual(missing, [], 'run `npm run build`');
  });

  test("'collection-store' loads in plain Node and stores a document durably in memory", () => {
    const out = runPlainNode(`
      const { open, ValidationError } = await import('collection-store');
      const db = await open({ memory: true });
      const doc = await db.collection('things').insert({ name: 'pear', n: 2 });
      let refused = '';
      try { await db.collection('things').insert({ $bad: 1 }); } catch (e) { refused = e instanceof ValidationError ? 'ValidationError' : String(e); }
      console.log(JSON.stringify({ resolved: import.meta.resolve('collection-store'), stored: db.collection('things').get(doc._id), refused }));
      await db.close();
    `);
    const result = JSON.parse(out) as { resolved: string; stored: Record<string, unknown>; refused: string };
    assert.match(result.resolved, /\/dist\/index\.js$/);
    assert.equal(result.stored['name'], 'pear');
    assert.equal(result.stored['n'], 2);
    assert.equal(typeof result.stored['_rev'], 'number');
    assert.equal(result.refused, 'ValidationError');
  });

  test("'collection-store/client' loads in plain Node", () => {
    const out = runPlainNode(`
      const { connect } = await import('collection-store/client');
      const client = connect(['http://127.0.0.1:1']);
      console.log(JSON.stringify({ resolved: import.meta.resolve('collection-store/client'), collection: typeof client.collection }));
      await client.close();
    `);
    const result = JSON.parse(out) as { resolved: string; collection: string };
    assert.match(result.resolved, /\/dist\/client\/index\.js$/);
    assert.equal(result.collection, 'function');
  });
});
