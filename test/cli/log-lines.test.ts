// Child output shown by `cluster`: prefixed lines, pino JSON made readable.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatLogLine, LinePrefixer } from '../../src/cli/log-lines.ts';

describe('formatLogLine', () => {
  test('a pino line becomes level, message and fields', () => {
    const time = new Date(2024, 0, 1, 12, 34, 56, 789).getTime();
    const line = JSON.stringify({ level: 40, time, pid: 1, hostname: 'h', msg: 'slow fsync', ms: 120, file: 'a b' });
    assert.equal(formatLogLine(line), '12:34:56.789 WARN  slow fsync ms=120 file=a b');
  });
  test('anything else is unchanged', () => {
    for (const line of ['plain text', '{not json', '{"no":"level"}', '[1,2]', '']) assert.equal(formatLogLine(line), line);
  });
});

describe('LinePrefixer', () => {
  test('splits chunks into prefixed lines, keeping partial lines until complete', () => {
    const out: string[] = [];
    const prefixer = new LinePrefixer('[node 2]', (l) => out.push(l));
    prefixer.push('one\ntw');
    assert.deepEqual(out, ['[node 2] one']);
    prefixer.push('o\r\nthree');
    assert.deepEqual(out, ['[node 2] one', '[node 2] two']);
    prefixer.end();
    assert.deepEqual(out, ['[node 2] one', '[node 2] two', '[node 2] three']);
  });
  test('an endless line is cut rather than buffered forever', () => {
    const out: string[] = [];
    const prefixer = new LinePrefixer('[n]', (l) => out.push(l));
    prefixer.push('x'.repeat(70 * 1024));
    assert.equal(out.length, 1);
  });
});
