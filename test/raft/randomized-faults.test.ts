// Many short seeded runs with message loss, partitions, crashes, snapshots and a
// membership change: the core's own invariants must hold and state machines must agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, cmd, seededRandom } from './harness.ts';

test('randomized faults: agreement and progress over 30 seeds', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const rnd = seededRandom(seed);
    const c = new Cluster([1, 2, 3, 4, 5], {
      snapshotChunkBytes: 64,
      maxInflight: 4,
      maxEntriesPerMessage: 8,
      snapshotCatchUpEntries: seed % 3 === 0 ? 0 : 4,
    });
    const down = new Set<number>();
    let written = 0;
    for (let step = 0; step < 150; step++) {
      const loss = rnd() < 0.3 ? 0.3 : 0.05;
      c.dropIf = () => rnd() < loss;
      const r = rnd();
      if (r < 0.04 && down.size < 2) {
        const id = 1 + Math.floor(rnd() * 5);
        if (!down.has(id)) {
          c.crash(id);
          down.add(id);
        }
      } else if (r < 0.1 && down.size > 0) {
        const id = [...down][0]!;
        c.restart(id);
        down.delete(id);
      } else if (r < 0.13) {
        const a = 1 + Math.floor(rnd() * 5);
        c.partition(
          [a],
          [1, 2, 3, 4, 5].filter((x) => x !== a),
        );
      } else if (r < 0.16) {
        c.heal();
      }
      for (const id of c.leaders()) {
        if (c.core(id).propose(cmd(`s${seed}-${step}`)) !== null) written++;
        if (rnd() < 0.05) c.core(id).readIndex(step + 1);
      }
      for (const id of c.ids) {
        const n = c.node(id);
        if (n.up && rnd() < 0.03 && n.appliedIndex > c.core(id).status().firstIndex) c.takeSnapshot(id);
      }
      c.tick();
      c.assertAgreement();
      const terms = new Map<number, number>();
      for (const id of c.leaders()) {
        const t = c.core(id).status().term;
        assert.ok(!terms.has(t), `seed ${seed}: two leaders in term ${t}`);
        terms.set(t, id);
      }
    }
    for (const id of down) c.restart(id);
    c.heal();
    const leader = c.electSomeone();
    c.propose(leader, 'end');
    c.tick(20);
    c.assertAgreement();
    const final = c.node(leader).applied;
    for (const id of c.ids) assert.deepEqual(c.node(id).applied, final, `seed ${seed}: node ${id} converged`);
    assert.ok(final.length > 10 && written > 0, `seed ${seed}: only ${final.length} commands applied`);
  }
});
