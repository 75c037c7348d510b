// The dashboard's pure helpers (Prometheus text, status normalisation, rolling
// history and rates), run in node:vm exactly as the page inlines them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadPureScripts, plain, type History } from './browser-scripts.ts';

const ns = loadPureScripts();

describe('parsePrometheusText', () => {
  test('reads names, labels (with escapes) and values, skipping comments', () => {
    const text = [
      '# HELP http_requests_total Requests.',
      '# TYPE http_requests_total counter',
      'http_requests_total{method="GET",route="/a,b}",msg="say \\"hi\\"\\n"} 12 1700000000000',
      'up 1',
      '',
      'raft_term{node="1"}   7',
      'weird{x="1"} NaN',
      'big +Inf',
      'sci 1.5e+3',
    ].join('\n');
    const samples = ns.parsePrometheusText(text);
    assert.deepEqual(plain(samples.slice(0, 3)), [
      { name: 'http_requests_total', labels: { method: 'GET', route: '/a,b}', msg: 'say "hi"\n' }, value: 12 },
      { name: 'up', labels: {}, value: 1 },
      { name: 'raft_term', labels: { node: '1' }, value: 7 },
    ]);
    assert.ok(Number.isNaN(samples[3]!.value));
    assert.equal(samples[4]!.value, Infinity);
    assert.equal(samples[5]!.value, 1500);
    assert.equal(samples.length, 6);
  });

  test('skips lines it cannot read and accepts non-strings', () => {
    const samples = ns.parsePrometheusText('9bad 1\nno_value\nunclosed{a="1" 3\nbad_value abc\nok 2\n');
    assert.deepEqual(plain(samples), [{ name: 'ok', labels: {}, value: 2 }]);
    assert.deepEqual(plain(ns.parsePrometheusText(undefined)), []);
  });

  test('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const samples = ns.parsePrometheusText(text);
        for (const s of samples) assert.equal(typeof s.value, 'number');
      }),
      { numRuns: 300 },
    );
  });
});

describe('requestCounterTotal', () => {
  test('sums every label set of http_requests_total', () => {
    const samples = ns.parsePrometheusText('http_requests_total{a="1"} 3\nhttp_requests_total{a="2"} 4\nother_total 100\n');
    assert.deepEqual(plain(ns.requestCounterTotal(samples)), { name: 'http_requests_total', total: 7 });
  });

  test('prefers the conventional name, then *_requests_total, then a histogram count', () => {
    const both = ns.parsePrometheusText('cs_requests_total 5\nhttp_requests_total 2\n');
    assert.equal(ns.requestCounterTotal(both)?.total, 2);
    const prefixed = ns.parsePrometheusText('collection_store_http_requests_total{r="x"} 5\n');
    assert.deepEqual(plain(ns.requestCounterTotal(prefixed)), { name: 'collection_store_http_requests_total', total: 5 });
    const histogram = ns.parsePrometheusText(
      'http_request_duration_seconds_bucket{le="+Inf"} 9\nhttp_request_duration_seconds_count{route="/a"} 9\nhttp_request_duration_seconds_count{route="/b"} 1\n',
    );
    assert.deepEqual(plain(ns.requestCounterTotal(histogram)), { name: 'http_request_duration_seconds_count', total: 10 });
  });

  test('is null without a request counter', () => {
    assert.equal(ns.requestCounterTotal(ns.parsePrometheusText('process_cpu_seconds_total 3\n')), null);
  });
});

describe('normalizeStatus', () => {
  test('keeps a well-formed status and fills what is missing', () => {
    const status = ns.normalizeStatus({
      nodeId: 2,
      url: 'http://127.0.0.1:8081',
      role: 'follower',
      term: 4,
      leader: { id: '1', url: 'http://127.0.0.1:8080' },
      commitIndex: 10,
      members: [{ id: '1', url: 'http://127.0.0.1:8080', voter: true, matchIndex: 10, lag: 0, connected: true }, { nope: 1 }],
    });
    assert.deepEqual(plain(status), {
      nodeId: '2',
      url: 'http://127.0.0.1:8081',
      role: 'follower',
      term: 4,
      leader: { id: '1', url: 'http://127.0.0.1:8080' },
      commitIndex: 10,
      appliedIndex: null,
      snapshotIndex: null,
      lastLogIndex: null,
      members: [{ id: '1', url: 'http://127.0.0.1:8080', voter: true, matchIndex: 10, lag: 0, connected: true }],
    });
  });

  test('refuses non-objects, drops non-http URLs and bounds the members', () => {
    assert.equal(ns.normalizeStatus(null), null);
    assert.equal(ns.normalizeStatus([1]), null);
    assert.equal(ns.normalizeStatus('x'), null);
    const status = ns.normalizeStatus({
      url: 'javascript:alert(1)',
      leader: { id: '1', url: 'javascript:alert(1)' },
      members: Array.from({ length: 100 }, (_, i) => ({ id: String(i), url: 'file:///etc/passwd', lag: 'x' })),
    }) as { url: unknown; leader: { url: unknown }; role: string; members: { url: unknown; lag: unknown }[] };
    assert.equal(status.url, null);
    assert.equal(status.leader.url, null);
    assert.equal(status.role, 'unknown');
    assert.equal(status.members.length, 64);
    assert.equal(status.members[0]!.url, null);
    assert.equal(status.members[0]!.lag, null);
  });

  test('dashboardUrl appends /dashboard to http(s) URLs only', () => {
    assert.equal(ns.dashboardUrl('http://h:1/'), 'http://h:1/dashboard');
    assert.equal(ns.dashboardUrl('https://h'), 'https://h/dashboard');
    assert.equal(ns.dashboardUrl('ftp://h'), null);
    assert.equal(ns.dashboardUrl(42), null);
  });
});

describe('history', () => {
  function sample(t: number, commitIndex: number | null, lags: Record<string, number> = {}, requests: number | null = null) {
    return { t, commitIndex, lags, requests };
  }

  test('commit rate is the per-second delta, null across gaps and resets', () => {
    const h = ns.createHistory(300, 100);
    ns.addSample(h, sample(10, 100));
    ns.addSample(h, sample(11, 150));
    ns.addSample(h, sample(13, 170));
    ns.addSample(h, sample(14, null)); // unreachable
    ns.addSample(h, sample(15, 200));
    ns.addSample(h, sample(16, 5)); // another node answered, or a restart
    ns.addSample(h, sample(16.5, 10));
    assert.deepEqual(plain(ns.historyTimes(h)), [10, 11, 13, 14, 15, 16, 16.5]);
    assert.deepEqual(plain(ns.commitRate(h)), [null, 50, 10, null, null, null, 10]);
  });

  test('request rate comes from the request counter', () => {
    const h = ns.createHistory(300, 100);
    ns.addSample(h, sample(1, 1, {}, 1000));
    ns.addSample(h, sample(3, 1, {}, 1400));
    assert.deepEqual(plain(ns.requestRate(h)), [null, 200]);
  });

  test('lag has one series per member, ids in numeric order, null when absent', () => {
    const h = ns.createHistory(300, 100);
    ns.addSample(h, sample(1, 1, { '10': 3, '2': 1 }));
    ns.addSample(h, sample(2, 1, { '2': 4, '1': 0 }));
    assert.deepEqual(plain(ns.lagSeries(h)), {
      ids: ['1', '2', '10'],
      series: [
        [null, 0],
        [1, 4],
        [3, null],
      ],
    });
  });

  test('keeps only the window and at most maxSamples, ignores time going back', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1000, noNaN: true }), { maxLength: 200, size: 'max' }), (ts) => {
        const h: History = ns.createHistory(60, 50);
        let newest = -Infinity;
        for (const t of ts) {
          ns.addSample(h, sample(t, 1));
          newest = Math.max(newest, t);
        }
        const kept = h.samples.map((s) => s.t);
        assert.ok(kept.length <= 50);
        for (let i = 1; i < kept.length; i++) assert.ok(kept[i]! > kept[i - 1]!);
        if (kept.length > 0) {
          assert.equal(kept[kept.length - 1], newest);
          assert.ok(kept[0]! >= newest - 60);
        }
      }),
      { numRuns: 200 },
    );
  });

  test('refuses nonsensical bounds', () => {
    assert.throws(() => ns.createHistory(0, 10));
    assert.throws(() => ns.createHistory(60, 1));
  });
});

describe('session (login state kept in sessionStorage)', () => {
  test('a stored session is used only when it has the expected shape', () => {
    assert.deepEqual(plain(ns.parseSession(JSON.stringify({ user: 'root', token: 'cs1.a.b', extra: 1 }))), { user: 'root', token: 'cs1.a.b' });
    for (const raw of [
      null,
      '',
      'not json',
      'null',
      '[]',
      JSON.stringify({ user: 'root' }),
      JSON.stringify({ user: '', token: 't' }),
      JSON.stringify({ user: 'root', token: '' }),
      JSON.stringify({ user: 'root', token: 'a b' }),
      JSON.stringify({ user: 'root', token: 'a\r\nX-Evil: 1' }),
      JSON.stringify({ user: 'x'.repeat(65), token: 't' }),
      JSON.stringify({ user: 'root', token: 't'.repeat(5000) }),
    ]) {
      assert.equal(ns.parseSession(raw), null, String(raw));
    }
  });

  test('every request says it comes from a script; with a session it carries the token', () => {
    assert.deepEqual(plain(ns.requestHeaders(null)), { 'X-Requested-With': 'XMLHttpRequest' });
    assert.deepEqual(plain(ns.requestHeaders({ user: 'u', token: 'cs1.t' })), {
      'X-Requested-With': 'XMLHttpRequest',
      Authorization: 'Bearer cs1.t',
    });
  });

  test('messages name the failure and the missing role', () => {
    assert.equal(ns.loginFailureText(401), 'Wrong user name or password.');
    assert.match(ns.loginFailureText(429), /try again/);
    assert.match(ns.loginFailureText(0), /did not answer/);
    assert.equal(ns.loginFailureText(500), 'Login failed (HTTP 500).');
    assert.match(ns.forbiddenText('alice'), /^User alice lacks role root: the dashboard needs it\./);
  });
});
