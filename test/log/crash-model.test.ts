// Random Raft-like sequences on a FileLog (appends, a new term's conflicting suffix, commit
// indexes written with the next write, local snapshots anywhere at or below the commit, a
// leader's snapshot past the log; small segments so that they roll and get deleted often); at
// quiescent points (every awaited write done, commit records possibly pending) the data
// directory is copied (what a process crash leaves) and recovered. Recovery must succeed, keep
// every awaited entry with its term, and its commit index must be <= its last index.
// Written by a reviewer of the lazy commit record; it found two older recovery bugs: a segment
// that begins with a snapshot marker refused to open once the segment before it was deleted,
// and a conflicting suffix removed by a new leader came back after compaction.
// SEEDS=1-100 LAZY=0|1 LOCAL_SNAPSHOTS=last|any TRACE=1 for longer or other runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileLog } from '../../src/log/index.ts';
import type { Entry } from '../../src/raft/types.ts';

import { readdir, readFile } from 'node:fs/promises';
import { walkRecords } from '../../src/log/record-scanner.ts';
async function dump(dir: string): Promise<void> {
  console.log('snapshots', await readdir(join(dir, 'snapshots')));
  for (const name of (await readdir(join(dir, 'log'))).sort()) {
    const buf = await readFile(join(dir, 'log', name));
    const out: string[] = [];
    let run: [number, number] | null = null;
    const flush = () => {
      if (run) out.push(`e${run[0]}..${run[1]}`);
      run = null;
    };
    walkRecords(buf, {
      entry(index, term) {
        if (run && index === run[1] + 1) run[1] = index;
        else {
          flush();
          run = [index, index];
        }
        void term;
      },
      record(rec) {
        if (rec.kind === 'entry') {
          const index = rec.entry.index;
          if (run && index === run[1] + 1) run[1] = index;
          else {
            flush();
            run = [index, index];
          }
          return;
        }
        if (rec.kind === 'writeEnd') return;
        flush();
        out.push(rec.kind === 'hardState' ? `HS(c=${rec.state.commit},t=${rec.state.term})` : `M(${rec.marker.index},keep=${rec.marker.keep})`);
      },
    });
    flush();
    console.log(name, out.join(' '));
  }
}
function mulberry(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function e(index: number, term: number): Entry {
  return { index, term, type: 'normal', data: new TextEncoder().encode(`e${index}t${term}-${'x'.repeat(index % 50)}`) };
}

const SEEDS = (process.env.SEEDS ?? '1-12').split('-').map(Number);
const LAZY = process.env.LAZY !== '0';
const TRACE = process.env.TRACE === '1';
const ANY_LOCAL_SNAPSHOT = process.env.LOCAL_SNAPSHOTS !== 'last';
for (const sync of ['batch', 'none'] as const) {
  test(`random sequences, crash copies recover (sync ${sync}, lazy ${LAZY})`, async () => {
    const root = await mkdtemp(join(tmpdir(), 'review-lazy-'));
    let crashes = 0;
    try {
      for (let seed = SEEDS[0]!; seed <= SEEDS[1]!; seed++) {
        const rnd = mulberry(seed);
        const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
        const dir = join(root, `s${seed}`);
        let log = await openFileLog({ dir, sync, segmentBytes: 1024 + int(0, 4000) });
        let term = 1;
        await log.setHardState({ term, vote: 1, commit: 0 });
        // model
        let entries: Entry[] = []; // after snapIndex
        let snapIndex = 0;
        let snapTerm = 0;
        let commit = 0;
        const last = (): number => snapIndex + entries.length;
        const termAt = (i: number): number => (i === snapIndex ? snapTerm : entries[i - snapIndex - 1]!.term);
        for (let step = 0; step < 150; step++) {
          const r = rnd();
          if (r < 0.4) {
            const k = int(1, 6);
            const add: Entry[] = [];
            for (let i = 1; i <= k; i++) add.push(e(last() + i, term));
            entries.push(...add);
            if (TRACE) console.log(step, 'append', add[0]!.index, add.length);
            await log.append(add);
          } else if (r < 0.5 && last() > commit) {
            // a new leader's term, then a conflicting suffix above the commit index
            term++;
            await log.setHardState({ term, vote: int(1, 3), commit });
            const from = int(commit + 1, last());
            entries = entries.slice(0, from - snapIndex - 1);
            const add: Entry[] = [];
            for (let i = 0; i < int(1, 4); i++) add.push(e(from + i, term));
            entries.push(...add);
            if (TRACE) console.log(step, 'conflict from', from, 'term', term, 'n', add.length);
            await log.append(add);
          } else if (r < 0.75 && last() > commit) {
            commit = int(commit + 1, last());
            const hs = log.hardState();
            if (TRACE) console.log(step, 'commit', commit);
            if (LAZY) void log.setCommitWithNextWrite({ term: hs.term, vote: hs.vote, commit });
            else await log.setHardState({ term: hs.term, vote: hs.vote, commit });
          } else if (r < 0.82 && commit > snapIndex && (ANY_LOCAL_SNAPSHOT || commit === last())) {
            // a local snapshot at or below the commit index
            const at = ANY_LOCAL_SNAPSHOT ? int(snapIndex + 1, commit) : last();
            const t = termAt(at);
            if (TRACE) console.log(step, 'local snapshot', at, t);
            await log.installSnapshot({ index: at, term: t, conf: { voters: [1], learners: [] } }, new Uint8Array([1, 2, 3]));
            entries = entries.slice(at - snapIndex);
            snapIndex = at;
            snapTerm = t;
          } else if (r < 0.86) {
            // a leader's snapshot past the log: the whole log goes, commit = its index
            const at = last() + int(1, 5);
            await log.installSnapshot({ index: at, term, conf: { voters: [1], learners: [] } }, new Uint8Array([4]));
            entries = [];
            snapIndex = at;
            snapTerm = term;
            commit = at;
            const hs = log.hardState();
            if (TRACE) console.log(step, 'leader snapshot', at, 'commit', commit);
            if (LAZY) void log.setCommitWithNextWrite({ term: hs.term, vote: hs.vote, commit });
            else await log.setHardState({ term: hs.term, vote: hs.vote, commit });
          } else {
            // crash here: copy the directory as it is and recover it
            crashes++;
            if (TRACE) console.log(step, 'crash');
            const copy = join(root, `s${seed}-crash${step}`);
            await cp(dir, copy, { recursive: true });
            if (TRACE) await dump(copy);
            const again = await openFileLog({ dir: copy, sync });
            try {
              assert.ok(again.recovered.hardState.commit <= again.lastIndex(), 'commit <= last');
              assert.equal(again.lastIndex(), last(), `seed ${seed} step ${step}: every awaited entry kept`);
              assert.ok(again.recovered.hardState.commit <= commit);
              for (let i = Math.max(again.firstIndex(), 1); i <= last(); i++) assert.equal(again.term(i), termAt(i));
            } finally {
              await again.close();
            }
            await rm(copy, { recursive: true, force: true });
          }
        }
        // a clean close writes the last commit index
        await log.close();
        log = await openFileLog({ dir, sync });
        assert.equal(log.recovered.hardState.commit, commit, `seed ${seed}: close wrote the commit index`);
        assert.equal(log.lastIndex(), last());
        await log.close();
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
    assert.ok(crashes > 50, `crashes ${crashes}`);
  });
}
