// docs/http-api.md's error table and the code's (src/store/error-codes.ts) say the same:
// the same codes, in the same order, with the same status and retry advice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ALL_ERROR_CODES, ERROR_CODES } from '../../src/store/error-codes.ts';

const root = resolve(import.meta.dirname, '../..');

interface Row {
  readonly code: string;
  readonly status: number;
  readonly retry: string;
}

/** The rows of the first table under "## Errors": `| \`CODE\` | status | retry | text |`. */
function errorTableOf(markdown: string): Row[] {
  const start = markdown.indexOf('\n## Errors\n');
  assert.ok(start >= 0, 'docs/http-api.md has a "## Errors" section');
  const end = markdown.indexOf('\n## ', start + 1);
  const section = markdown.slice(start, end < 0 ? undefined : end);
  const rows: Row[] = [];
  for (const line of section.split('\n')) {
    const cells = /^\|\s*`([A-Z_]+)`\s*\|\s*(\d+)\s*\|\s*([^|]+?)\s*\|/.exec(line);
    if (cells !== null) rows.push({ code: cells[1]!, status: Number(cells[2]), retry: cells[3]! });
  }
  return rows;
}

test("docs/http-api.md's error table is the code's table", async () => {
  const documented = errorTableOf(await readFile(join(root, 'docs', 'http-api.md'), 'utf8'));
  const code = ALL_ERROR_CODES.map((c) => ({ code: c, status: ERROR_CODES[c].status, retry: ERROR_CODES[c].retry }));
  assert.deepEqual(documented, code);
});

test('the parser reads a row and would see a difference', () => {
  const doc =
    '# x\n\n## Errors\n| code | status | retry | meaning |\n| --- | --- | --- | --- |\n| `NO_LEADER` | 503 | yes | no leader |\n\n## Next\n| `X` | 1 | no | outside |\n';
  assert.deepEqual(errorTableOf(doc), [{ code: 'NO_LEADER', status: 503, retry: 'yes' }]);
});
