// The LogStorage contract, run against both implementations.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LogStorage } from '../../src/log/types.ts';
import { createMemoryLog, openFileLog, LogClosedError } from '../../src/log/index.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entry, meta, plain, range } from './helpers.ts';

interface Impl {
  readonly name: string;
  make(): Promise<{ log: LogStorage; cleanup(): Promise<void> }>;
}

const impls: Impl[] = [
  { name: 'MemoryLog', make: async () => ({ log: createMemoryLog(), cleanup: async () => {} }) },
  {
    name: 'FileLog',
    make: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'cs-log-contract-'));
      const log = await openFileLog({ dir, segmentBytes: 4096 });
      return {
        log,
        cleanup: async () => {
          await log.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  },
];

for (const impl of impls) {
  describe(`LogStorage contract: ${impl.name}`, () => {
    const run = (name: string, fn: (log: LogStorage) => Promise<void>): void => {
      test(name, async () => {
        const { log, cleanup } = await impl.make();
        try {
          await fn(log);
        } finally {
          await cleanup();
        }
      });
    };

    run('starts empty', async (log) => {
      assert.equal(log.firstIndex(), 1);
      assert.equal(log.lastIndex(), 0);
      assert.equal(log.term(0), 0);
      assert.equal(log.term(1), undefined);
      assert.deepEqual(log.entries(1, 1), []);
      assert.deepEqual(log.hardState(), { term: 0, vote: 0, commit: 0 });
      assert.equal(log.snapshot(), null);
      assert.deepEqual(log.recovered.entries, []);
    });

    run('append, read and term', async (log) => {
      await log.append(range(1, 5, 1));
      await log.append([entry(6, 2, 'x', 'noop'), entry(7, 2, 'y', 'conf')]);
      assert.equal(log.lastIndex(), 7);
      assert.equal(log.term(5), 1);
      assert.equal(log.term(7), 2);
      assert.equal(log.term(8), undefined);
      assert.deepEqual(plain(log.entries(5, 8)), plain([entry(5, 1), entry(6, 2, 'x', 'noop'), entry(7, 2, 'y', 'conf')]));
      assert.throws(() => log.entries(0, 3), RangeError);
      assert.throws(() => log.entries(3, 9), RangeError);
      assert.throws(() => log.entries(4, 3), RangeError);
    });

    run('state updates at the call, before the promise resolves', async (log) => {
      const first = log.append([entry(1, 1)]);
      assert.equal(log.lastIndex(), 1);
      const second = log.append([entry(2, 1)]);
      const hs = log.setHardState({ term: 1, vote: 2, commit: 1 });
      assert.deepEqual(log.hardState(), { term: 1, vote: 2, commit: 1 });
      assert.equal(log.lastIndex(), 2);
      await Promise.all([first, second, hs]);
    });

    run('append at or below lastIndex drops the suffix', async (log) => {
      await log.append(range(1, 10, 1));
      await log.append([entry(6, 2), entry(7, 2)]);
      assert.equal(log.lastIndex(), 7);
      assert.equal(log.term(5), 1);
      assert.equal(log.term(6), 2);
      assert.equal(log.term(8), undefined);
    });

    run('rejects gaps and non-consecutive batches', async (log) => {
      await log.append(range(1, 3, 1));
      await assert.rejects(log.append([entry(5, 1)]), RangeError);
      await assert.rejects(log.append([entry(4, 1), entry(6, 1)]), RangeError);
      await assert.rejects(log.append([{ index: 4, term: 1, type: 'normal', data: 'x' as unknown as Uint8Array }]), TypeError);
      assert.equal(log.lastIndex(), 3);
    });

    run('hard state', async (log) => {
      await log.setHardState({ term: 3, vote: 1, commit: 0 });
      await log.setHardState({ term: 4, vote: 0, commit: 2 });
      assert.deepEqual(log.hardState(), { term: 4, vote: 0, commit: 2 });
      await assert.rejects(log.setHardState({ term: -1, vote: 0, commit: 0 }), RangeError);
    });

    run('snapshot that matches the log keeps the later entries', async (log) => {
      await log.append(range(1, 10, 1));
      await log.installSnapshot(meta(6, 1), new Uint8Array([1, 2, 3]));
      assert.equal(log.firstIndex(), 7);
      assert.equal(log.lastIndex(), 10);
      assert.equal(log.term(6), 1);
      assert.equal(log.term(5), undefined);
      assert.throws(() => log.entries(6, 8), RangeError);
      assert.deepEqual(plain(log.entries(7, 11)), plain(range(7, 10, 1)));
      assert.deepEqual([...log.snapshot()!.data], [1, 2, 3]);
      assert.deepEqual(log.snapshot()!.meta, meta(6, 1));
      // appending below the snapshot skips the compacted part
      await log.append([entry(6, 1), entry(7, 3)]);
      assert.equal(log.lastIndex(), 7);
      assert.equal(log.term(7), 3);
    });

    run('snapshot that conflicts with the log discards it', async (log) => {
      await log.append(range(1, 10, 1));
      await log.installSnapshot(meta(8, 2), new Uint8Array([9]));
      assert.equal(log.firstIndex(), 9);
      assert.equal(log.lastIndex(), 8);
      assert.equal(log.term(8), 2);
      await log.append([entry(9, 2)]);
      assert.equal(log.lastIndex(), 9);
    });

    run('snapshot past the end of the log', async (log) => {
      await log.append(range(1, 3, 1));
      await log.installSnapshot(meta(50, 4), new Uint8Array());
      assert.equal(log.firstIndex(), 51);
      assert.equal(log.lastIndex(), 50);
      await assert.rejects(log.installSnapshot(meta(40, 4), new Uint8Array()), RangeError);
    });

    run('operations after close reject', async (log) => {
      await log.append(range(1, 2, 1));
      await log.close();
      await assert.rejects(log.append([entry(3, 1)]), LogClosedError);
      await assert.rejects(log.setHardState({ term: 1, vote: 0, commit: 0 }), LogClosedError);
      await assert.rejects(log.installSnapshot(meta(1, 1), new Uint8Array()), LogClosedError);
    });
  });
}
