// Prometheus text exposition format, the subset the dashboard needs: samples with
// labels and a value. Runs in the browser (inlined into the page) and in tests
// (through node:vm), so it is a classic script that only touches `globalThis.CSDash`.
// It never throws: a line it cannot read is skipped.
(function (ns) {
  'use strict';

  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
  const MAX_LINES = 50000; // bound the work on a huge or hostile body

  /** Reads `k="v",k2="v2"` starting after `{`; returns the labels and the index after `}`. */
  function readLabels(line, start) {
    const labels = {};
    let i = start;
    while (i < line.length) {
      while (line[i] === ' ' || line[i] === ',') i++;
      if (line[i] === '}') return { labels, end: i + 1 };
      const key = NAME.exec(line.slice(i));
      if (!key) return null;
      i += key[0].length;
      while (line[i] === ' ') i++;
      if (line[i] !== '=') return null;
      i++;
      while (line[i] === ' ') i++;
      if (line[i] !== '"') return null;
      i++;
      let value = '';
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length) {
          const next = line[i + 1];
          value += next === 'n' ? '\n' : next;
          i += 2;
        } else {
          value += line[i];
          i++;
        }
      }
      if (line[i] !== '"') return null;
      i++;
      labels[key[0]] = value;
    }
    return null;
  }

  function readValue(token) {
    if (token === '+Inf' || token === 'Inf') return Infinity;
    if (token === '-Inf') return -Infinity;
    if (token === 'NaN') return NaN;
    if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(token)) return null;
    return Number(token);
  }

  /** @returns {{name: string, labels: Record<string,string>, value: number}[]} */
  function parsePrometheusText(text) {
    const samples = [];
    if (typeof text !== 'string') return samples;
    const lines = text.split('\n');
    const count = Math.min(lines.length, MAX_LINES);
    for (let n = 0; n < count; n++) {
      const line = lines[n].trim();
      if (line === '' || line[0] === '#') continue;
      const name = NAME.exec(line);
      if (!name) continue;
      let i = name[0].length;
      let labels = {};
      if (line[i] === '{') {
        const read = readLabels(line, i + 1);
        if (!read) continue;
        labels = read.labels;
        i = read.end;
      }
      const rest = line.slice(i).trim().split(/\s+/);
      const value = readValue(rest[0] || '');
      if (value === null) continue;
      samples.push({ name: name[0], labels, value });
    }
    return samples;
  }

  // The request counter, in order of preference: the conventional name, any
  // `*_requests_total`, then the count of a request-duration histogram or summary.
  const REQUEST_COUNTER_PATTERNS = [
    /^http_requests_total$/,
    /^http_server_requests_total$/,
    /_requests_total$/,
    /^http_request_duration_(seconds|ms|milliseconds)_count$/,
    /_request_duration_(seconds|ms|milliseconds)_count$/,
  ];

  /** Sums every sample of the best request counter; null when there is none. */
  function requestCounterTotal(samples) {
    for (const pattern of REQUEST_COUNTER_PATTERNS) {
      let name = null;
      let total = 0;
      for (const s of samples) {
        if (!pattern.test(s.name)) continue;
        if (name === null) name = s.name;
        if (s.name !== name || !Number.isFinite(s.value)) continue;
        total += s.value;
      }
      if (name !== null) return { name, total };
    }
    return null;
  }

  ns.parsePrometheusText = parsePrometheusText;
  ns.requestCounterTotal = requestCounterTotal;
})((globalThis.CSDash = globalThis.CSDash || {}));
