// The chaos history in the Jepsen convention (one event a line in history.jsonl): every
// operation is an `invoke` followed by exactly one `ok`, `fail` (certainly not done) or
// `info` (indeterminate: it may or may not have taken effect). `time` is ns since start.

export type ChaosF = 'write' | 'read' | 'cas';
export type EventType = 'invoke' | 'ok' | 'fail' | 'info';
/** A register value: the unique string a write put there, or null (never written). */
export type RegisterValue = string | null;

export interface HistoryEvent {
  readonly process: number;
  readonly type: EventType;
  readonly f: ChaosF;
  readonly key: string;
  /** write: the value; read: null at invoke, the value seen at ok; cas: [expected, new]. */
  readonly value: RegisterValue | readonly [RegisterValue, RegisterValue];
  readonly time: number;
  /** Not Jepsen: which node served it, the document's _rev, why it failed. */
  readonly node?: number;
  readonly rev?: number;
  readonly error?: string;
}

/** One operation: its invoke and completion paired (completion null while pending). */
export interface ChaosOp {
  readonly invoke: HistoryEvent;
  complete: HistoryEvent | null;
}

export class ChaosHistory {
  readonly events: HistoryEvent[] = [];
  readonly ops: ChaosOp[] = [];
  /** Operations completed ok so far: the progress line reads it every second (a scan of
   * `ops` each time grew with the run and stalled the load for 0.4 s a second after 5 min). */
  okOps = 0;
  private readonly startNs = process.hrtime.bigint();

  /** Ns since the history started. */
  now(): number {
    return Number(process.hrtime.bigint() - this.startNs);
  }

  nowMs(): number {
    return this.now() / 1e6;
  }

  invoke(process: number, f: ChaosF, key: string, value: HistoryEvent['value'], node: number): ChaosOp {
    const event: HistoryEvent = { process, type: 'invoke', f, key, value, time: this.now(), node };
    this.events.push(event);
    const op: ChaosOp = { invoke: event, complete: null };
    this.ops.push(op);
    return op;
  }

  complete(op: ChaosOp, type: Exclude<EventType, 'invoke'>, value: HistoryEvent['value'], extra: { rev?: number; error?: string } = {}): void {
    if (op.complete !== null) throw new Error(`chaos history: op of process ${op.invoke.process} completed twice`);
    const event: HistoryEvent = { ...op.invoke, type, value, time: this.now(), ...extra };
    this.events.push(event);
    op.complete = event;
    if (type === 'ok') this.okOps++;
  }

  /** Ops still pending when the run ends are indeterminate. */
  closePending(): void {
    for (const op of this.ops) if (op.complete === null) this.complete(op, 'info', op.invoke.value, { error: 'still pending at the end of the run' });
  }

  toJsonl(): string {
    return this.events.map((e) => JSON.stringify(e)).join('\n') + '\n';
  }
}
