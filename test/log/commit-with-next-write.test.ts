// A new commit index alone costs no disk write of its own (LogStorage.setCommitWithNextWrite):
// it is written with the next entries, or at close, and a term or vote never goes that way.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { MemoryLog, openFileLog } from '../../src/log/index.ts';
import { range, withTempDir } from './helpers.ts';

describe('setCommitWithNextWrite', () => {
  test('writes nothing by itself; the next append carries it, in one write', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir });
      await log.append(range(1, 10, 1));
      await log.setHardState({ term: 1, vote: 2, commit: 0 });
      const writes = (): number => log.stats!().syncLatency.count;
      const before = writes();
      let durable = false;
      const committed = log.setCommitWithNextWrite({ term: 1, vote: 2, commit: 8 }).then(() => {
        durable = true;
      });
      // Long enough for a write of its own to be made and finish (one takes well under a ms here).
      await sleep(100);
      assert.equal(writes(), before, 'the commit index alone must not cost a write');
      assert.equal(durable, false);
      assert.deepEqual(log.hardState(), { term: 1, vote: 2, commit: 8 });
      await log.append(range(11, 12, 1));
      await committed;
      assert.equal(writes(), before + 1, 'the entries and the commit index share one write');
      await log.close();
      const again = await openFileLog({ dir });
      assert.deepEqual(again.recovered.hardState, { term: 1, vote: 2, commit: 8 });
      assert.equal(again.lastIndex(), 12);
      await again.close();
    }));

  test('a commit index recorded last is written at close', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir });
      await log.append(range(1, 5, 3));
      await log.setHardState({ term: 3, vote: 1, commit: 1 });
      const committed = log.setCommitWithNextWrite({ term: 3, vote: 1, commit: 5 });
      await log.close();
      await committed;
      const again = await openFileLog({ dir });
      assert.deepEqual(again.recovered.hardState, { term: 3, vote: 1, commit: 5 });
      await again.close();
    }));

  test('a write under way when it is recorded does not make it flush alone afterwards', () =>
    withTempDir(async (dir) => {
      const log = await openFileLog({ dir });
      await log.setHardState({ term: 1, vote: 1, commit: 0 });
      const writes = (): number => log.stats!().syncLatency.count;
      const before = writes();
      const appended = log.append(range(1, 3, 1));
      await nextTurn(); // the append's write is cut and under way
      void log.setCommitWithNextWrite({ term: 1, vote: 1, commit: 3 });
      await appended;
      await sleep(100);
      assert.equal(writes(), before + 1);
      await log.close();
    }));

  for (const make of ['file', 'memory'] as const) {
    test(`refuses a new term or vote (${make} log): those must be durable before anything depends on them`, () =>
      withTempDir(async (dir) => {
        const log = make === 'file' ? await openFileLog({ dir }) : new MemoryLog();
        await log.setHardState({ term: 2, vote: 1, commit: 0 });
        await assert.rejects(log.setCommitWithNextWrite({ term: 3, vote: 1, commit: 0 }), /commit index only/);
        await assert.rejects(log.setCommitWithNextWrite({ term: 2, vote: 3, commit: 0 }), /commit index only/);
        assert.deepEqual(log.hardState(), { term: 2, vote: 1, commit: 0 });
        await log.close();
      }));
  }
});
