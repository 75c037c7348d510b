// The step trace of a run: a ring of the latest lines (for failure reports) plus a running
// hash and count of every line (to prove that one seed replays identically).

import { hashString } from './prng.ts';

export class Trace {
  private readonly ring: string[] = [];
  private next = 0;
  private total = 0;
  private digest = 0x811c9dc5;
  /** Every line, when the caller asked for the full trace (tests of determinism). */
  readonly all: string[] | null;

  constructor(
    private readonly keep = 200,
    full = false,
  ) {
    if (keep < 1) throw new Error('Trace: keep must be >= 1');
    this.all = full ? [] : null;
  }

  add(now: number, line: string): void {
    const text = `${now} ${line}`;
    this.digest = hashString(text, this.digest);
    this.total++;
    if (this.ring.length < this.keep) this.ring.push(text);
    else this.ring[this.next] = text;
    this.next = (this.next + 1) % this.keep;
    this.all?.push(text);
  }

  get count(): number {
    return this.total;
  }

  get hash(): string {
    return this.digest.toString(16).padStart(8, '0');
  }

  /** The last `n` lines, oldest first. */
  tail(n = 50): string[] {
    const ordered = this.ring.length < this.keep ? [...this.ring] : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
    return ordered.slice(-n);
  }
}
