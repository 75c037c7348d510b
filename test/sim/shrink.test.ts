import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trySimulation, type SimOptions } from '../../src/sim/run.ts';
import { formatScript, parseScript } from '../../src/sim/script.ts';
import { shrinkFailure } from '../../src/sim/shrink.ts';

// A planted bug (votes twice in a term) found by the default search, then shrunk.
const BUG = { voteTwiceInTerm: true } as const;

function firstFailure(): { options: SimOptions; failure: NonNullable<Extract<ReturnType<typeof trySimulation>, { ok: false }>['failure']> } {
  for (let seed = 1; seed <= 60; seed++) {
    const options: SimOptions = { seed, nodes: seed % 2 === 0 ? 3 : 5, profile: 'swarm', durationMs: 3000, bugs: BUG, topology: 'voters' };
    const r = trySimulation(options);
    if (!r.ok && r.failure.faultEvents.length >= 4) return { options, failure: r.failure };
  }
  throw new Error('no failing seed with a few fault events in 1..60');
}

test('a failing seed shrinks to fewer fault events, still fails the same way, and its script replays', () => {
  const { options, failure } = firstFailure();
  const r = shrinkFailure(options, failure, { replays: 120, ms: 20_000 });
  assert.equal(r.reproduced, true, 'replaying the recorded fault events fails again');
  assert.ok(r.eventsAfter < r.eventsBefore, `${r.eventsBefore} -> ${r.eventsAfter} events`);
  assert.ok(r.replays <= 120);
  assert.equal(r.failure.kind, failure.kind);

  const script = formatScript(r.options, [`shrunk from seed ${options.seed}`], `${r.failure.kind} failure`);
  assert.match(script, /^sim seed=\d+ nodes=\d /m);
  assert.match(script, /^run\n----\n/m);
  const parsed = parseScript(script);
  assert.deepEqual(parsed.faultSchedule, r.options.faultSchedule);
  const replay = trySimulation(parsed);
  assert.equal(replay.ok, false, 'the shrunk script fails when replayed');
  if (!replay.ok) {
    assert.equal(replay.failure.kind, failure.kind);
    assert.equal(replay.failure.detail, r.failure.detail);
  }
  // The correct core passes the same script.
  const { bugs: _bugs, ...withoutBug } = parsed;
  assert.equal(trySimulation(withoutBug).ok, true);
});

test('replaying the recorded fault events reproduces the failing run exactly', () => {
  const { options, failure } = firstFailure();
  const again = trySimulation({ ...options, faultSchedule: failure.faultEvents });
  assert.equal(again.ok, false);
  if (!again.ok) {
    assert.equal(again.failure.at, failure.at);
    assert.equal(again.failure.detail, failure.detail);
    assert.deepEqual(again.failure.traceTail, failure.traceTail);
  }
});

test('a script with an unknown command or events out of order is refused', () => {
  assert.throws(() => parseScript('sim seed=1 nodes=3 profile=mixed duration-ms=100\nexplode 1 at=5\n'), /unknown command/);
  assert.throws(() => parseScript('sim seed=1 nodes=3 profile=mixed duration-ms=100\nheal at=9\nheal at=5\n'), /time order/);
  assert.throws(() => parseScript('crash 1 at=5 point=now\n'), /no "sim" line/);
});

test('a replayed schedule that promotes a node this cluster does not have promotes nothing (a shrink to fewer nodes must not fail for that)', () => {
  // Seed 6815's first shrink: 5 nodes (one voter, four learners) became 3, and the learner 4
  // its schedule promoted was no server any more; made a voter, it left the one real voter
  // without a quorum, a liveness failure of the harness, not of the core.
  const script = [
    'sim seed=6815 nodes=3 profile=swarm topology=oneVoter duration-ms=2298 clients=1 keys=a',
    'conf addVoter 4 at=1998',
    'run',
    '',
  ].join('\n');
  const r = trySimulation(parseScript(script));
  assert.ok(r.ok, r.ok ? '' : r.failure.message.split('\n')[0]);
});
