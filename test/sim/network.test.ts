import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { SimNetwork, RELIABLE_LINKS } from '../../src/sim/network.ts';
import { Prng } from '../../src/sim/prng.ts';

interface Msg {
  from: number;
  to: number;
  n: number;
}

function drain(net: SimNetwork<Msg>, until: number): { at: number; m: Msg }[] {
  const out: { at: number; m: Msg }[] = [];
  for (;;) {
    const t = net.nextDeliveryTime();
    if (t === null || t > until) return out;
    const m = net.takeDue(t);
    if (m !== null) out.push({ at: t, m });
  }
}

describe('SimNetwork', () => {
  test('reliable links deliver everything, in order of delivery time, within the delay range', () => {
    const net = new SimNetwork<Msg>(new Prng(1), { ...RELIABLE_LINKS, minDelay: 2, maxDelay: 5 });
    for (let i = 0; i < 100; i++) net.send({ from: 1, to: 2, n: i }, 10);
    const got = drain(net, 1000);
    assert.equal(got.length, 100);
    for (const g of got) assert.ok(g.at >= 12 && g.at <= 15, `delivered at ${g.at}`);
    for (let i = 1; i < got.length; i++) assert.ok(got[i]!.at >= got[i - 1]!.at);
    assert.equal(net.takeDue(10_000), null);
  });

  test('nothing is delivered before its time', () => {
    const net = new SimNetwork<Msg>(new Prng(2), { ...RELIABLE_LINKS, minDelay: 5, maxDelay: 5 });
    net.send({ from: 1, to: 2, n: 0 }, 0);
    assert.equal(net.takeDue(4), null);
    assert.equal(net.takeDue(5)?.n, 0);
  });

  test('drop, duplicate and reorder rates show up in the statistics and the deliveries', () => {
    const net = new SimNetwork<Msg>(new Prng(3), {
      dropRate: 0.2,
      duplicateRate: 0.1,
      minDelay: 1,
      maxDelay: 2,
      reorderRate: 0.2,
      longDelay: 100,
    });
    const N = 5000;
    for (let i = 0; i < N; i++) net.send({ from: 1, to: 2, n: i }, i);
    const got = drain(net, Infinity);
    assert.ok(net.stats.dropped > N * 0.17 && net.stats.dropped < N * 0.23, `dropped ${net.stats.dropped}`);
    assert.ok(net.stats.duplicated > N * 0.06, `duplicated ${net.stats.duplicated}`);
    assert.equal(got.length, N - net.stats.dropped + net.stats.duplicated);
    const ids = got.map((g) => g.m.n);
    let inversions = 0;
    for (let i = 1; i < ids.length; i++) if (ids[i]! < ids[i - 1]!) inversions++;
    assert.ok(inversions > 100, `reordered ${inversions}`);
    assert.ok(new Set(ids).size < ids.length, 'some message delivered twice');
  });

  test('asymmetric partition: A hears B, B does not hear A; heal restores', () => {
    const net = new SimNetwork<Msg>(new Prng(4));
    net.blockOneWay(1, 2);
    assert.equal(net.canReach(1, 2), false);
    assert.equal(net.canReach(2, 1), true);
    assert.equal(net.send({ from: 1, to: 2, n: 1 }, 0).kind, 'blocked');
    assert.equal(net.send({ from: 2, to: 1, n: 2 }, 0).kind, 'queued');
    assert.deepEqual(
      drain(net, 100).map((g) => g.m.n),
      [2],
    );
    net.heal();
    assert.equal(net.send({ from: 1, to: 2, n: 3 }, 200).kind, 'queued');
    assert.deepEqual(
      drain(net, 300).map((g) => g.m.n),
      [3],
    );
  });

  test('partition into groups cuts only links between groups; nodes outside groups keep theirs', () => {
    const net = new SimNetwork<Msg>(new Prng(5));
    net.partition([
      [1, 2],
      [3, 4, 5],
    ]);
    assert.equal(net.canReach(1, 2), true);
    assert.equal(net.canReach(3, 5), true);
    assert.equal(net.canReach(1, 3), false);
    assert.equal(net.canReach(5, 2), false);
    assert.equal(net.canReach(6, 1), true);
    assert.equal(net.canReach(3, 6), true);
  });

  test('a message in flight when its link is cut is lost at delivery', () => {
    const net = new SimNetwork<Msg>(new Prng(6), { ...RELIABLE_LINKS, minDelay: 10, maxDelay: 10 });
    net.send({ from: 1, to: 2, n: 1 }, 0);
    net.isolate(2, [1, 2, 3]);
    assert.equal(net.takeDue(10), null);
    assert.equal(net.stats.blocked, 1);
  });

  test('the in-flight queue is bounded', () => {
    const net = new SimNetwork<Msg>(new Prng(7), RELIABLE_LINKS, 10);
    for (let i = 0; i < 15; i++) net.send({ from: 1, to: 2, n: i }, 0);
    assert.equal(net.inFlight, 10);
    assert.equal(net.stats.overflow, 5);
  });

  test('same seed, same deliveries', () => {
    const run = (): string => {
      const net = new SimNetwork<Msg>(new Prng(8), { dropRate: 0.1, duplicateRate: 0.1, minDelay: 1, maxDelay: 9, reorderRate: 0.1, longDelay: 50 });
      for (let i = 0; i < 300; i++) net.send({ from: i % 3, to: (i + 1) % 3, n: i }, i);
      return drain(net, Infinity)
        .map((g) => `${g.at}:${g.m.n}`)
        .join(',');
    };
    assert.equal(run(), run());
  });

  test('bad fault settings are refused', () => {
    assert.throws(() => new SimNetwork<Msg>(new Prng(1), { ...RELIABLE_LINKS, dropRate: 2 }));
    assert.throws(() => new SimNetwork<Msg>(new Prng(1), { ...RELIABLE_LINKS, minDelay: 5, maxDelay: 1 }));
  });
});
