// The dashboard page as served: one self-contained document.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dashboardHtml } from '../../src/dashboard/index.ts';
import { readDashboardAssets } from '../../src/dashboard/assets.ts';
import { renderDashboardPage } from '../../src/dashboard/page.ts';

test('the page inlines uPlot and every script, loads nothing external, and is cached', () => {
  const html = dashboardHtml();
  assert.equal(dashboardHtml(), html, 'cached');
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none';[^"]*connect-src 'self'/);
  assert.doesNotMatch(html, /<script[^>]+src=/i);
  assert.doesNotMatch(html, /<link[^>]+rel="stylesheet"/i);
  const assets = readDashboardAssets();
  assert.ok(html.includes(assets.uplotJs.slice(0, 200)), 'uPlot JS inlined');
  assert.ok(html.includes(assets.uplotCss.slice(0, 200)), 'uPlot CSS inlined');
  assert.equal((html.match(/<script>/g) ?? []).length, 1 + assets.appScripts.length);
  assert.equal((html.match(/<\/script>/g) ?? []).length, 1 + assets.appScripts.length);
  const ids = ['members-body', 'chart-commit', 'chart-lag', 'chart-requests', 'connection', 'leader', 'term'];
  const panels = ['health-nodes', 'elections-count', 'replication-lags-body', 'performance-ops', 'timeline-strip', 'timeline-list'];
  const charts = ['chart-ops', 'chart-cpu', 'chart-memory', 'chart-latency', 'chart-lag-ms'];
  for (const id of [...ids, ...panels, ...charts]) {
    assert.ok(html.includes(`id="${id}"`), id);
  }
});

test('inlined code cannot close its element early', () => {
  const html = renderDashboardPage({
    uplotJs: 'var a = "</script><script>alert(1)</script>";',
    uplotCss: '.x::after { content: "</style>"; }',
    appCss: '',
    appScripts: ['var b = "<!--";'],
  });
  assert.equal((html.match(/<\/script/gi) ?? []).length, 2);
  assert.equal((html.match(/<\/style/gi) ?? []).length, 2);
  assert.ok(!html.includes('"<!--"'));
});
