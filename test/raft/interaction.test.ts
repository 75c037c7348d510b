// Scripted Raft scenarios (test/raft/testdata/*.txt, after etcd-io/raft's interaction tests):
// each script runs against the real core in a deterministic environment
// (test/raft/interaction/env.ts) and every command's output must match what the script
// says under its '----'. The format and the commands are described in
// test/raft/testdata/README.md.
//
// When the core changes on purpose, rewrite the expectations and read the diff before
// committing it:
//   CS_REWRITE=1 node --import tsx --test test/raft/interaction.test.ts
//   node --import tsx test/raft/interaction.test.ts --rewrite
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InteractionEnv } from './interaction/env.ts';
import { parseScript, render } from './interaction/script.ts';

const TESTDATA = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
const REWRITE = process.env.CS_REWRITE === '1' || process.argv.includes('--rewrite');

const scripts = readdirSync(TESTDATA)
  .filter((f) => f.endsWith('.txt'))
  .sort();

test('there are scripts to run', () => {
  assert.ok(scripts.length >= 9, `found only ${scripts.length} scripts in ${TESTDATA}`);
});

for (const name of scripts) {
  test(`script ${name}`, () => {
    const path = join(TESTDATA, name);
    const pieces = parseScript(readFileSync(path, 'utf8'), name);
    const env = new InteractionEnv();
    const outputs: string[] = [];
    for (const p of pieces) {
      if (p.kind !== 'command') continue;
      const actual = env.handle(p.command);
      outputs.push(actual);
      if (!REWRITE) assert.equal(actual, p.command.expected, `${name}:${p.command.line}: output of '${p.command.text}' differs`);
    }
    if (REWRITE) writeFileSync(path, render(pieces, outputs));
  });
}
