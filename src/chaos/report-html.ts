// report.html: throughput and latency over time as inline SVG, faults marked as shaded
// spans, the longest interruption as a dark band, the nodes' and the generator's stalls of
// 100 ms or more as marks under the axis (one row per kind), and the report's numbers; one
// self-contained file (no script, no CDN).
import { reportText, type ChaosReport, type SeriesPoint } from './report.ts';

const WIDTH_PX = 900;
const HEIGHT_PX = 220;
const MARGIN_PX = 40;
/** Rows of stall marks under the axis, by kind: a row's offset below the axis and its colour. */
const STALL_ROWS = {
  loop: { dyPx: 18, color: '#8250df', label: 'node loop stall' },
  'log write': { dyPx: 24, color: '#bf8700', label: 'node log write' },
  generator: { dyPx: 30, color: '#57606a', label: 'generator stall' },
} as const;

function escapeHtml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

function chart(report: ChaosReport, title: string, unit: string, lines: { color: string; value: (p: SeriesPoint) => number | null }[]): string {
  const points = report.series;
  const spanMs = Math.max(1, report.durationMs);
  const max = Math.max(1, ...points.flatMap((p) => lines.map((l) => l.value(p) ?? 0)));
  const x = (ms: number): number => MARGIN_PX + ((WIDTH_PX - 2 * MARGIN_PX) * ms) / spanMs;
  const y = (v: number): number => HEIGHT_PX - MARGIN_PX + (-(HEIGHT_PX - 2 * MARGIN_PX) * v) / max;
  const faults = report.faults
    .map((f) => {
      const x0 = x(f.startMs);
      const x1 = x(Number.isNaN(f.endMs) ? spanMs : f.endMs);
      return `<rect x="${x0.toFixed(1)}" y="${MARGIN_PX / 2}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${HEIGHT_PX - 1.5 * MARGIN_PX}" fill="#f4a3a3" opacity="0.4"><title>${escapeHtml(`${f.kind}: ${f.description}`)}</title></rect><text x="${x0.toFixed(1)}" y="${MARGIN_PX / 2 - 4}" font-size="10">${escapeHtml(f.kind)}</text>`;
    })
    .join('');
  const gap = report.maxInterruption;
  const interruption = `<rect x="${x(gap.fromMs).toFixed(1)}" y="${MARGIN_PX / 2}" width="${Math.max(3, x(gap.toMs) - x(gap.fromMs)).toFixed(1)}" height="${HEIGHT_PX - 1.5 * MARGIN_PX}" fill="#24292f" opacity="0.5"><title>${escapeHtml(`longest interruption: ${report.maxInterruptionMs} ms`)}</title></rect><text x="${x(gap.toMs).toFixed(1)}" y="${MARGIN_PX / 2 + 10}" font-size="10" font-weight="bold">◀ ${report.maxInterruptionMs} ms</text>`;
  const stalls = report.nodeStalls.list
    .map((st) => {
      const row = STALL_ROWS[st.kind];
      const x0 = x(st.endMs - st.durationMs);
      const who = st.kind === 'generator' ? 'load generator' : `node ${st.node}`;
      return `<rect x="${x0.toFixed(1)}" y="${HEIGHT_PX - MARGIN_PX + row.dyPx}" width="${Math.max(2, x(st.endMs) - x0).toFixed(1)}" height="5" fill="${row.color}"><title>${escapeHtml(`${row.label}, ${who}: ${st.durationMs} ms at ${(st.endMs / 1000).toFixed(2)} s`)}</title></rect>`;
    })
    .join('');
  const paths = lines
    .map((l) => {
      const d = points
        .map((p) => [p.tMs, l.value(p)] as const)
        .filter((pair): pair is readonly [number, number] => pair[1] !== null)
        .map(([t, v], i) => `${i === 0 ? 'M' : 'L'}${x(t).toFixed(1)},${y(v).toFixed(1)}`)
        .join(' ');
      return `<path d="${d}" fill="none" stroke="${l.color}" stroke-width="1.5"/>`;
    })
    .join('');
  const axis = `<line x1="${MARGIN_PX}" y1="${HEIGHT_PX - MARGIN_PX}" x2="${WIDTH_PX - MARGIN_PX}" y2="${HEIGHT_PX - MARGIN_PX}" stroke="#333"/><text x="${MARGIN_PX}" y="${HEIGHT_PX - MARGIN_PX + 14}" font-size="10">0 s</text><text x="${WIDTH_PX - MARGIN_PX - 20}" y="${HEIGHT_PX - MARGIN_PX + 14}" font-size="10">${(spanMs / 1000).toFixed(1)} s</text><text x="2" y="${MARGIN_PX}" font-size="10">${Math.round(max)} ${escapeHtml(unit)}</text>`;
  return `<h2>${escapeHtml(title)}</h2><svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH_PX}" height="${HEIGHT_PX}" role="img" aria-label="${escapeHtml(title)}">${faults}${interruption}${axis}${paths}${stalls}</svg>`;
}

export function reportHtml(report: ChaosReport): string {
  const verdictColor = report.consistency.verdict === 'linearizable' ? '#1a7f37' : report.consistency.verdict === 'unknown' ? '#9a6700' : '#cf222e';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>chaos report: ${escapeHtml(report.scenario)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:960px}pre{background:#f6f8fa;padding:1em;overflow:auto}.legend span{margin-right:1.5em}</style></head>
<body><h1>Chaos report: ${escapeHtml(report.scenario)} (seed ${report.seed})</h1>
<p>Consistency: <strong style="color:${verdictColor}">${escapeHtml(report.consistency.verdict)}</strong>; availability ${report.availabilityPercent} %; longest interruption ${report.maxInterruptionMs} ms (the dark band); ${report.leaderChanges} leader changes. Faults are shaded; under the axis, stalls of 100 ms or more: <span style="color:${STALL_ROWS.loop.color}">nodes' event loops</span>, <span style="color:${STALL_ROWS['log write'].color}">nodes' log writes</span>, <span style="color:${STALL_ROWS.generator.color}">the load generator's event loop</span>.</p>
${chart(report, 'Throughput (operations per second)', 'ops/s', [
  { color: '#1f6feb', value: (p) => p.okPerSec },
  { color: '#cf222e', value: (p) => p.failPerSec },
])}
<p class="legend"><span style="color:#1f6feb">ok</span><span style="color:#cf222e">failed or indeterminate</span></p>
${chart(report, 'Latency of successful operations (ms)', 'ms', [
  { color: '#8250df', value: (p) => p.p50LatencyMs },
  { color: '#bf8700', value: (p) => p.p99LatencyMs },
])}
<p class="legend"><span style="color:#8250df">p50</span><span style="color:#bf8700">p99</span></p>
<h2>Report</h2><pre>${escapeHtml(reportText(report))}</pre>
</body></html>
`;
}
