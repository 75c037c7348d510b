// The rolling window of samples behind the charts, and the series derived from
// it. Pure: time comes in with each sample (seconds). Classic script shared by
// the page and the tests (node:vm).
(function (ns) {
  'use strict';

  /**
   * A sample: { t: seconds, commitIndex: number|null, lags: {id: lag}, requests: number|null,
   * metrics: metricsSample() of GET /cluster/metrics, or null/absent when it did not answer }.
   * An unreachable poll is a sample with nulls, so charts show a gap.
   */
  function createHistory(windowSeconds, maxSamples) {
    if (!(windowSeconds > 0) || !(maxSamples > 1)) throw new Error('history: bad bounds');
    return { windowSeconds, maxSamples, samples: [] };
  }

  function addSample(history, sample) {
    const samples = history.samples;
    const last = samples[samples.length - 1];
    if (last !== undefined && sample.t <= last.t) return; // time must move forward
    samples.push(sample);
    const oldest = sample.t - history.windowSeconds;
    let drop = 0;
    while (drop < samples.length && samples[drop].t < oldest) drop++;
    drop = Math.max(drop, samples.length - history.maxSamples);
    if (drop > 0) samples.splice(0, drop);
  }

  /** Per-second rate of a monotonic value; null across gaps and resets. */
  function rateSeries(samples, pick) {
    const ys = new Array(samples.length);
    for (let i = 0; i < samples.length; i++) {
      const cur = pick(samples[i]);
      const prev = i > 0 ? pick(samples[i - 1]) : null;
      const dt = i > 0 ? samples[i].t - samples[i - 1].t : 0;
      ys[i] = cur !== null && prev !== null && dt > 0 && cur >= prev ? (cur - prev) / dt : null;
    }
    return ys;
  }

  function times(history) {
    return history.samples.map((s) => s.t);
  }

  function commitRate(history) {
    return rateSeries(history.samples, (s) => s.commitIndex);
  }

  function requestRate(history) {
    return rateSeries(history.samples, (s) => s.requests);
  }

  /** One series per key of the maps `pick` returns (id -> value), keys in numeric order. */
  function keyedSeries(samples, pick) {
    const idSet = new Set();
    for (const s of samples) {
      const map = pick(s);
      if (map) for (const id of Object.keys(map)) idSet.add(id);
    }
    const ids = Array.from(idSet).sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    const series = ids.map((id) =>
      samples.map((s) => {
        const map = pick(s);
        return map && Object.prototype.hasOwnProperty.call(map, id) ? map[id] : null;
      }),
    );
    return { ids, series };
  }

  /** One lag series (entries, from /cluster/status) per member id seen in the window, ids sorted. */
  function lagSeries(history) {
    return keyedSeries(history.samples, (s) => s.lags);
  }

  /** One lag series in ms (from /cluster/metrics, leader only) per follower seen in the window. */
  function lagMsSeries(history) {
    return keyedSeries(history.samples, (s) => (s.metrics ? s.metrics.lagMs : null));
  }

  /** One field of the samples' metrics (metricsSample), null where there were none. */
  function metricSeries(history, key) {
    return history.samples.map((s) => {
      const v = s.metrics ? s.metrics[key] : null;
      return typeof v === 'number' && Number.isFinite(v) ? v : null;
    });
  }

  ns.createHistory = createHistory;
  ns.addSample = addSample;
  ns.historyTimes = times;
  ns.commitRate = commitRate;
  ns.requestRate = requestRate;
  ns.lagSeries = lagSeries;
  ns.lagMsSeries = lagMsSeries;
  ns.metricSeries = metricSeries;
})((globalThis.CSDash = globalThis.CSDash || {}));
