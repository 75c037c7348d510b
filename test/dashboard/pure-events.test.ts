// The dashboard's pure helpers behind the timeline (browser/events.js), run in node:vm
// exactly as the page inlines them: the server-sent events parser over the node's own
// formatting (routes-events.ts formatClusterEvent, node/cluster-events.ts), the events'
// text, and the timeline (deduplicated, ordered, bounded) and its strip.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import pino from 'pino';
import { ClusterEvents, type ClusterEventDetails } from '../../src/node/cluster-events.ts';
import { formatClusterEvent } from '../../src/server/routes-events.ts';
import { loadPureScripts, plain, type EventView } from './browser-scripts.ts';

const ns = loadPureScripts();

/** Events as the node makes them: one of each type, at a fixed clock. */
function nodeEvents(startMs = Date.UTC(2026, 0, 2, 3, 4, 5)): string[] {
  let now = startMs;
  const events = new ClusterEvents(2, pino({ level: 'silent' }), () => (now += 1000));
  const details: ClusterEventDetails[] = [
    { type: 'leader_elected', leader: 2, election_duration_ms: 312 },
    { type: 'leader_lost', leader: 2 },
    { type: 'member_added', member: 4, url: 'http://127.0.0.1:8083', voter: false },
    { type: 'member_promoted', member: 4 },
    { type: 'member_address_changed', member: 4, url: 'http://10.0.0.4:8080', previous_url: 'http://127.0.0.1:8083' },
    { type: 'member_removed', member: 4 },
    { type: 'snapshot_taken', index: 1200, bytes: 1536 },
    { type: 'snapshot_installed', index: 2400 },
    { type: 'node_left', member: 3 },
    { type: 'node_joined', member: 3 },
  ];
  return details.map((d) => formatClusterEvent(events.emit(d, 5)));
}

function parseAll(chunks: string[]): ReturnType<ReturnType<typeof ns.createSseParser>['push']> {
  const parser = ns.createSseParser();
  return chunks.flatMap((chunk) => plain(parser.push(chunk)));
}

function events(): EventView[] {
  return parseAll([': connected\n\n', ...nodeEvents()]).map((m) => {
    const e = ns.normalizeClusterEvent(m.data);
    assert.ok(e !== null, m.data);
    return e;
  });
}

describe('server-sent events parser', () => {
  test('reads the node stream: id, event and data of each, comments skipped', () => {
    const stream = nodeEvents();
    const messages = parseAll([': connected\n\n', ...stream, ': heartbeat\n\n']);
    assert.equal(messages.length, 10);
    assert.deepEqual(
      messages.map((m) => [m.id, m.event]),
      stream.map((_, i) => [String(i + 1), messages[i]!.event]),
    );
    assert.equal(messages[0]!.event, 'leader_elected');
    assert.equal((JSON.parse(messages[2]!.data) as { url: string }).url, 'http://127.0.0.1:8083');
  });

  test('the same messages however the bytes are cut, with \\n, \\r\\n or \\r line ends', () => {
    const whole = ': connected\n\n' + nodeEvents().join('') + 'data: a\ndata: b\n\n';
    const expected = parseAll([whole]);
    assert.equal(expected.length, 11);
    assert.equal(expected[10]!.data, 'a\nb', 'data lines join with \\n');
    fc.assert(
      fc.property(fc.array(fc.nat(whole.length), { maxLength: 20, size: 'max' }), fc.constantFrom('\n', '\r\n', '\r'), (cuts, eol) => {
        const text = whole.replace(/\n/g, eol);
        const points = [...new Set(cuts.map((c) => Math.min(c, text.length)))].sort((a, b) => a - b);
        const chunks: string[] = [];
        let from = 0;
        for (const p of points) {
          chunks.push(text.slice(from, p));
          from = p;
        }
        chunks.push(text.slice(from));
        assert.deepEqual(parseAll(chunks), expected);
      }),
      { numRuns: 300 },
    );
  });

  test('a message without data is not dispatched; an over-long line is dropped, the next ones read', () => {
    assert.deepEqual(parseAll(['id: 3\nevent: x\n\n']), []);
    const long = 'data: ' + 'x'.repeat(70_000);
    const messages = parseAll([long.slice(0, 40_000), long.slice(40_000), '\n\ndata: ok\n\n']);
    assert.deepEqual(
      messages.map((m) => m.data),
      ['ok'],
    );
    assert.deepEqual(parseAll([undefined as unknown as string]), []);
  });
});

describe('cluster events', () => {
  test('normalised from the node format; unknown types and malformed data refused', () => {
    const [elected] = events();
    assert.deepEqual(plain(elected), {
      seq: 1,
      atMs: Date.UTC(2026, 0, 2, 3, 4, 6),
      type: 'leader_elected',
      node: 2,
      term: 5,
      leader: 2,
      durationMs: 312,
      member: null,
      url: null,
      previousUrl: null,
      voter: null,
      index: null,
      bytes: null,
    });
    for (const data of ['not json', 'null', '[]', '{"seq":1,"at":"2026-01-01T00:00:00Z","type":"made_up"}', '{"seq":1,"type":"node_left"}']) {
      assert.equal(ns.normalizeClusterEvent(data), null, data);
    }
  });

  test('each type has its sentence and category', () => {
    assert.deepEqual(
      events().map((e) => [ns.eventCategory(e.type), ns.describeClusterEvent(e)]),
      [
        ['leader', 'Node 2 elected leader of term 5 (312 ms without a leader)'],
        ['leader', 'Leader 2 lost in term 5'],
        ['member', 'Member 4 added as a learner at http://127.0.0.1:8083'],
        ['member', 'Member 4 promoted to voter'],
        ['member', 'Member 4 moved from http://127.0.0.1:8083 to http://10.0.0.4:8080'],
        ['member', 'Member 4 removed'],
        ['snapshot', 'Snapshot taken at index 1200 (1.5 KiB)'],
        ['snapshot', 'Snapshot installed at index 2400'],
        ['node', 'Node 3 unreachable'],
        ['node', 'Node 3 reachable again'],
      ],
    );
    assert.equal(ns.eventLabel('member_address_changed'), 'member address changed');
  });
});

describe('timeline', () => {
  test('a replay adds nothing twice; events stay in time order; the newest are kept', () => {
    const all = events();
    const t = ns.createTimeline(6);
    for (const e of [...all].reverse()) ns.addTimelineEvent(t, e);
    const version = t.version;
    assert.equal(ns.addTimelineEvent(t, all[9]!), false, 'already there');
    assert.equal(t.version, version, 'nothing to redraw');
    assert.deepEqual(plain(t.events.map((e) => e.seq)), [5, 6, 7, 8, 9, 10]);
    // After a restart the node numbers from 1 again: same seq, later time, not a duplicate.
    const restarted = { ...all[0]!, atMs: all[9]!.atMs + 60_000 };
    assert.equal(ns.addTimelineEvent(t, restarted), true);
    assert.deepEqual(plain(t.events.map((e) => e.seq)), [6, 7, 8, 9, 10, 1]);
    assert.throws(() => ns.createTimeline(0));
  });

  test("the strip places the window's events from 0 (oldest) to 1 (now) in their lanes", () => {
    const all = events();
    const t = ns.createTimeline();
    for (const e of all) ns.addTimelineEvent(t, e);
    const now = all[9]!.atMs; // the events are a second apart
    const marks = plain(ns.timelineMarks(t, now, 4000));
    assert.deepEqual(
      marks.map((m) => [m.seq, m.x, m.category]),
      [
        [6, 0, 'member'],
        [7, 0.25, 'snapshot'],
        [8, 0.5, 'snapshot'],
        [9, 0.75, 'node'],
        [10, 1, 'node'],
      ],
    );
    assert.equal(marks[4]!.label, 'Node 3 reachable again');
    // Stamped ahead of the browser's clock: drawn at now, not past the edge.
    assert.equal(ns.timelineMarks(t, now - 500, 4000).at(-1)!.x, 1);
  });

  test('the elections chart: a bar per timed election, the longest full height, the last ones kept', () => {
    const elected = (seq: number, term: number, durationMs: number | null): EventView =>
      plain({ ...events()[0]!, seq, term, atMs: 1000 * seq, durationMs });
    const t = ns.createTimeline();
    for (const e of [elected(1, 1, 200), elected(2, 2, null), elected(3, 3, 800), ...events().slice(1, 4), elected(9, 4, 400)])
      ns.addTimelineEvent(t, e);
    assert.deepEqual(
      plain(ns.electionBars(t, 20)).map((b) => [b.seq, b.term, b.durationMs, b.height]),
      [
        [1, 1, 200, 0.25],
        [3, 3, 800, 1],
        [9, 4, 400, 0.5],
      ],
    );
    assert.deepEqual(
      plain(ns.electionBars(t, 2)).map((b) => b.seq),
      [3, 9],
    );
    assert.deepEqual(plain(ns.electionBars(ns.createTimeline(), 20)), []);
  });
});
