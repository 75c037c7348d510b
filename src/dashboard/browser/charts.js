// The three uPlot charts over the rolling window: commit rate, lag per member,
// requests per second. The lag chart is rebuilt when the set of members changes
// (one series per member); the others are built once and fed with setData.
(function (ns) {
  'use strict';

  // Colours readable on white (contrast >= 4.5:1 for the thin lines and legend).
  const PALETTE = ['#0b5cad', '#b3261e', '#1a7f37', '#8250df', '#a04000', '#0a6f7d', '#57606a', '#a0116e'];
  const HEIGHT = 180;
  const MIN_WIDTH = 240;

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
    const containers = {
      commit: document.getElementById('chart-commit'),
      lag: document.getElementById('chart-lag'),
      requests: document.getElementById('chart-requests'),
    };
    const requestsNote = document.getElementById('requests-note');
    const charts = { commit: null, lag: null, requests: null };
    let lagIds = [];

    function build(key, series, data) {
      const container = containers[key];
      if (!container) return null;
      if (charts[key] !== null) charts[key].destroy();
      container.replaceChildren();
      charts[key] = new uPlot(options(widthOf(container), windowSeconds, series), data, container);
      return charts[key];
    }

    function update(history, requestCounterName) {
      const xs = ns.historyTimes(history);

      const commit = [xs, ns.commitRate(history)];
      if (charts.commit === null) build('commit', [line('commits/s', PALETTE[0])], commit);
      else charts.commit.setData(commit);

      const lag = ns.lagSeries(history);
      const lagData = [xs].concat(lag.series);
      if (charts.lag === null || lag.ids.join('\u0000') !== lagIds.join('\u0000')) {
        lagIds = lag.ids;
        build(
          'lag',
          lag.ids.map((id, i) => line('member ' + id, PALETTE[i % PALETTE.length])),
          lagData,
        );
      } else {
        charts.lag.setData(lagData);
      }

      if (requestCounterName !== null) {
        if (requestsNote) requestsNote.textContent = 'From the counter ' + requestCounterName + '.';
        const requests = [xs, ns.requestRate(history)];
        if (charts.requests === null) build('requests', [line('requests/s', PALETTE[2])], requests);
        else charts.requests.setData(requests);
      }
    }

    // Follow the layout's width; only a real change resizes (no resize loops).
    if (typeof ResizeObserver === 'function') {
      const observer = new ResizeObserver(() => {
        for (const key of Object.keys(charts)) {
          const chart = charts[key];
          const container = containers[key];
          if (chart === null || !container) continue;
          const width = widthOf(container);
          if (Math.abs(width - chart.width) >= 2) chart.setSize({ width, height: HEIGHT });
        }
      });
      for (const key of Object.keys(containers)) if (containers[key]) observer.observe(containers[key]);
    }

    /** What each chart holds now: x points and series count, read from uPlot itself. */
    function describe() {
      const out = {};
      for (const key of Object.keys(charts)) {
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
