// The uPlot charts over the rolling window: operations/s, CPU, memory, commit latency and
// lag in ms per follower (from GET /cluster/metrics), commit rate and lag in entries per
// member (from /cluster/status), requests per second (from /metrics). A chart with one
// series per member is rebuilt when the set of members changes; the others are built once
// and fed with setData.
(function (ns) {
  'use strict';

  // Colours readable on white (contrast >= 4.5:1 for the thin lines and legend).
  const PALETTE = ['#0b5cad', '#b3261e', '#1a7f37', '#8250df', '#a04000', '#0a6f7d', '#57606a', '#a0116e'];
  const HEIGHT = 180;
  const MIN_WIDTH = 240;

  /**
   * Every chart: its container, and either fixed series (label, colour, values of the history)
   * or series keyed by member (ids and values, labelled with `label(id)`).
   */
  const SPECS = {
    ops: { element: 'chart-ops', fixed: [['ops/s', 0, (h) => ns.metricSeries(h, 'opsPerSec')]] },
    cpu: { element: 'chart-cpu', fixed: [['CPU %', 4, (h) => ns.metricSeries(h, 'cpuPercent')]] },
    memory: {
      element: 'chart-memory',
      fixed: [
        ['resident MiB', 3, (h) => ns.metricSeries(h, 'rssMiB')],
        ['heap used MiB', 5, (h) => ns.metricSeries(h, 'heapMiB')],
      ],
    },
    latency: { element: 'chart-latency', fixed: [['commit latency ms', 1, (h) => ns.metricSeries(h, 'commitLatencyMs')]] },
    lagMs: { element: 'chart-lag-ms', keyed: (h) => ns.lagMsSeries(h), label: (id) => 'follower ' + id },
    commit: { element: 'chart-commit', fixed: [['commits/s', 0, (h) => ns.commitRate(h)]] },
    lag: { element: 'chart-lag', keyed: (h) => ns.lagSeries(h), label: (id) => 'member ' + id },
    requests: { element: 'chart-requests', fixed: [['requests/s', 2, (h) => ns.requestRate(h)]] },
  };

  function widthOf(container) {
    return Math.max(MIN_WIDTH, Math.floor(container.clientWidth || 0));
  }

  function options(width, windowSeconds, series) {
    const axis = { stroke: '#24292f', grid: { stroke: '#e1e4e8', width: 1 }, ticks: { stroke: '#e1e4e8', width: 1 } };
    return {
      width,
      height: HEIGHT,
      cursor: { drag: { x: false, y: false } },
      scales: {
        // Always show the whole window, ending at the newest sample.
        x: {
          time: true,
          range: (_u, _min, max) => {
            const end = Number.isFinite(max) ? max : Date.now() / 1000;
            return [end - windowSeconds, end];
          },
        },
        y: { range: (_u, _min, max) => [0, Number.isFinite(max) && max > 0 ? max * 1.1 : 1] },
      },
      axes: [axis, Object.assign({ size: 60 }, axis)],
      series: [{ label: 'time' }].concat(series),
    };
  }

  function line(label, colour) {
    return { label, stroke: colour, width: 2, points: { show: false }, spanGaps: false };
  }

  function createCharts(windowSeconds) {
    const keys = Object.keys(SPECS);
    const containers = {};
    const charts = {};
    const keyedIds = {};
    for (const key of keys) {
      containers[key] = document.getElementById(SPECS[key].element);
      charts[key] = null;
      keyedIds[key] = [];
    }
    const requestsNote = document.getElementById('requests-note');

    function build(key, series, data) {
      const container = containers[key];
      if (!container) return;
      if (charts[key] !== null) charts[key].destroy();
      container.replaceChildren();
      charts[key] = new uPlot(options(widthOf(container), windowSeconds, series), data, container);
    }

    function updateOne(key, xs, history) {
      const spec = SPECS[key];
      if (spec.fixed) {
        const data = [xs].concat(spec.fixed.map((s) => s[2](history)));
        if (charts[key] === null)
          build(
            key,
            spec.fixed.map((s) => line(s[0], PALETTE[s[1]])),
            data,
          );
        else charts[key].setData(data);
        return;
      }
      const keyed = spec.keyed(history);
      const data = [xs].concat(keyed.series);
      if (charts[key] === null || keyed.ids.join('\u0000') !== keyedIds[key].join('\u0000')) {
        keyedIds[key] = keyed.ids;
        build(
          key,
          keyed.ids.map((id, i) => line(spec.label(id), PALETTE[i % PALETTE.length])),
          data,
        );
      } else {
        charts[key].setData(data);
      }
    }

    function update(history, requestCounterName) {
      const xs = ns.historyTimes(history);
      for (const key of keys) {
        // Requests only once /metrics has a request counter to chart.
        if (key === 'requests' && requestCounterName === null) continue;
        updateOne(key, xs, history);
      }
      if (requestCounterName !== null && requestsNote) requestsNote.textContent = 'From the counter ' + requestCounterName + '.';
    }

    // Follow the layout's width; only a real change resizes (no resize loops).
    if (typeof ResizeObserver === 'function') {
      const observer = new ResizeObserver(() => {
        for (const key of keys) {
          const chart = charts[key];
          const container = containers[key];
          if (chart === null || !container) continue;
          const width = widthOf(container);
          if (Math.abs(width - chart.width) >= 2) chart.setSize({ width, height: HEIGHT });
        }
      });
      for (const key of keys) if (containers[key]) observer.observe(containers[key]);
    }

    /** What each chart holds now: x points and series count, read from uPlot itself. */
    function describe() {
      const out = {};
      for (const key of keys) {
        const chart = charts[key];
        if (chart === null) {
          out[key] = null;
          continue;
        }
        const values = chart.data.slice(1);
        out[key] = {
          points: chart.data[0].length,
          series: values.length,
          nonNull: values.reduce((n, ys) => n + ys.filter((y) => y !== null && y !== undefined).length, 0),
          labels: chart.series.slice(1).map((s) => s.label),
          last: values.map((ys) => {
            for (let i = ys.length - 1; i >= 0; i--) if (ys[i] !== null && ys[i] !== undefined) return ys[i];
            return null;
          }),
        };
      }
      return out;
    }

    return { update, describe };
  }

  ns.createCharts = createCharts;
})((globalThis.CSDash = globalThis.CSDash || {}));
