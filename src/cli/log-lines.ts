// Child output as the `cluster` command shows it: each line prefixed with its node, and
// pino's JSON log lines made readable (time, level, message, then the other fields).

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
// pino's own bookkeeping fields, and the node id the line prefix already shows.
const HIDDEN_FIELDS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v', 'node']);
const MAX_LINE_CHARS = 4000;

function clock(time: unknown): string {
  if (typeof time !== 'number') return '';
  const d = new Date(time);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)} `;
}

/** A pino JSON line as `12:00:00.123 INFO  message key=value`; any other line unchanged. */
export function formatLogLine(line: string): string {
  if (!line.startsWith('{')) return line;
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return line;
  const fields = record as Record<string, unknown>;
  if (typeof fields['level'] !== 'number') return line;
  const level = (LEVEL_NAMES[fields['level']] ?? `L${fields['level']}`).padEnd(5);
  const msg = typeof fields['msg'] === 'string' ? fields['msg'] : '';
  const extras = Object.entries(fields)
    .filter(([key]) => !HIDDEN_FIELDS.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  const text = `${clock(fields['time'])}${level} ${msg}${extras.length > 0 ? ` ${extras.join(' ')}` : ''}`;
  return text.length > MAX_LINE_CHARS ? `${text.slice(0, MAX_LINE_CHARS)}…` : text;
}

/**
 * Splits a byte stream into lines and calls `emit` with each, prefixed. A partial last
 * line is kept until the next chunk or flushed by `end()`; lines are bounded in length.
 */
export class LinePrefixer {
  private pending = '';

  constructor(
    private readonly prefix: string,
    private readonly emit: (line: string) => void,
  ) {}

  push(chunk: string): void {
    this.pending += chunk;
    let newline = this.pending.indexOf('\n');
    while (newline >= 0) {
      this.flushLine(this.pending.slice(0, newline));
      this.pending = this.pending.slice(newline + 1);
      newline = this.pending.indexOf('\n');
    }
    // A child writing megabytes without a newline must not grow our memory without bound.
    if (this.pending.length > 64 * 1024) {
      this.flushLine(this.pending);
      this.pending = '';
    }
  }

  end(): void {
    if (this.pending !== '') this.flushLine(this.pending);
    this.pending = '';
  }

  private flushLine(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    this.emit(`${this.prefix} ${formatLogLine(line)}`);
  }
}
