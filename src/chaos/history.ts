// The chaos history in the Jepsen convention (one event a line in history.jsonl): every
// operation is an `invoke` followed by exactly one `ok`, `fail` (certainly not done) or
// `info` (indeterminate: it may or may not have taken effect). `time` is ns since start.
//
// Kept in columns while the load runs (one array per field, an op's fields at its index), not
// as objects: a 300 s run makes 400,000 operations, and two event objects and an op object each,
// all alive to the end, made the generator's full collections take 120 to 200 ms and more as the
// run went on (`node --trace-gc`), every client stopped meanwhile and every answer that arrived
// stamped late: gaps in the history that were the generator's own (docs/operations.md). The
// objects (`ops`, `events`) are made when asked for, after the run.

export type ChaosF = 'write' | 'read' | 'cas';
export type EventType = 'invoke' | 'ok' | 'fail' | 'info';
/** A register value: the unique string a write put there, or null (never written). */
export type RegisterValue = string | null;
type OpValue = RegisterValue | readonly [RegisterValue, RegisterValue];

export interface HistoryEvent {
  readonly process: number;
  readonly type: EventType;
  readonly f: ChaosF;
  readonly key: string;
  /** write: the value; read: null at invoke, the value seen at ok; cas: [expected, new]. */
  readonly value: OpValue;
  readonly time: number;
  /** Not Jepsen: which node served it, the document's _rev, why it failed. */
  readonly node?: number;
  readonly rev?: number;
  readonly error?: string;
}

/** One operation: its invoke and completion paired (completion null while pending). */
export interface ChaosOp {
  readonly invoke: HistoryEvent;
  readonly complete: HistoryEvent | null;
}

/** An operation of the history, as invoke() names it for complete(). */
export type OpHandle = number;

const F_NAMES: readonly ChaosF[] = ['write', 'read', 'cas'];
const COMPLETION_TYPES: readonly Exclude<EventType, 'invoke'>[] = ['ok', 'fail', 'info'];
/** completeType of an op still pending. */
const PENDING = -1;

export class ChaosHistory {
  /** Operations completed ok so far: the progress line reads it every second (a scan of
   * `ops` each time grew with the run and stalled the load for 0.4 s a second after 5 min). */
  okOps = 0;
  private readonly startNs = process.hrtime.bigint();

  // One entry per operation, at its handle. Numbers only in the number columns (no holes,
  // no undefined), so that V8 keeps them unboxed.
  private readonly process: number[] = [];
  private readonly f: number[] = [];
  private readonly key: string[] = [];
  private readonly node: number[] = [];
  private readonly invokeTime: number[] = [];
  /** write: the value; read: null; cas: the expected value (the new one in invokeNew). */
  private readonly invokeValue: RegisterValue[] = [];
  private readonly invokeNew: RegisterValue[] = [];
  private readonly completeType: number[] = [];
  private readonly completeTime: number[] = [];
  private readonly completeValue: OpValue[] = [];
  /** NaN: none. */
  private readonly rev: number[] = [];
  private readonly error: (string | null)[] = [];
  /** Every event in the order it happened: 2 × handle for an invoke, 2 × handle + 1 for a completion. */
  private readonly order: number[] = [];

  private opsMade: ChaosOp[] | null = null;
  private eventsMade: HistoryEvent[] | null = null;

  /** Ns since the history started. */
  now(): number {
    return Number(process.hrtime.bigint() - this.startNs);
  }

  nowMs(): number {
    return this.now() / 1e6;
  }

  invoke(process: number, f: ChaosF, key: string, value: OpValue, node: number): OpHandle {
    const handle = this.process.length;
    this.process.push(process);
    this.f.push(F_NAMES.indexOf(f));
    this.key.push(key);
    this.node.push(node);
    this.invokeTime.push(this.now());
    if (f === 'cas') {
      const [expected, next] = value as readonly [RegisterValue, RegisterValue];
      this.invokeValue.push(expected);
      this.invokeNew.push(next);
    } else {
      this.invokeValue.push(value as RegisterValue);
      this.invokeNew.push(null);
    }
    this.completeType.push(PENDING);
    this.completeTime.push(Number.NaN);
    this.completeValue.push(null);
    this.rev.push(Number.NaN);
    this.error.push(null);
    this.order.push(2 * handle);
    this.changed();
    return handle;
  }

  complete(op: OpHandle, type: Exclude<EventType, 'invoke'>, value: OpValue, extra: { rev?: number; error?: string } = {}): void {
    if (this.completeType[op] !== PENDING) throw new Error(`chaos history: op of process ${this.process[op]} completed twice`);
    this.completeType[op] = COMPLETION_TYPES.indexOf(type);
    this.completeTime[op] = this.now();
    this.completeValue[op] = value;
    if (extra.rev !== undefined) this.rev[op] = extra.rev;
    if (extra.error !== undefined) this.error[op] = extra.error;
    this.order.push(2 * op + 1);
    this.changed();
    if (type === 'ok') this.okOps++;
  }

  /** Ops still pending when the run ends are indeterminate. */
  closePending(): void {
    for (let op = 0; op < this.completeType.length; op++) {
      if (this.completeType[op] === PENDING) this.complete(op, 'info', this.invokeValueOf(op), { error: 'still pending at the end of the run' });
    }
  }

  /** Every operation, in the order invoked (made from the columns once per change). */
  get ops(): readonly ChaosOp[] {
    if (this.opsMade === null) {
      const ops: ChaosOp[] = [];
      for (let op = 0; op < this.process.length; op++) {
        const invoke = this.invokeEvent(op);
        ops.push({ invoke, complete: this.completeType[op] === PENDING ? null : this.completeEvent(op, invoke) });
      }
      this.opsMade = ops;
    }
    return this.opsMade;
  }

  /** Every event, in the order it happened. */
  get events(): readonly HistoryEvent[] {
    if (this.eventsMade === null) {
      const ops = this.ops;
      this.eventsMade = this.order.map((code) => {
        const op = ops[code >> 1]!;
        return (code & 1) === 0 ? op.invoke : op.complete!;
      });
    }
    return this.eventsMade;
  }

  toJsonl(): string {
    return this.events.map((e) => JSON.stringify(e)).join('\n') + '\n';
  }

  private changed(): void {
    this.opsMade = null;
    this.eventsMade = null;
  }

  private invokeValueOf(op: OpHandle): OpValue {
    return F_NAMES[this.f[op]!] === 'cas' ? [this.invokeValue[op]!, this.invokeNew[op]!] : this.invokeValue[op]!;
  }

  private invokeEvent(op: OpHandle): HistoryEvent {
    return {
      process: this.process[op]!,
      type: 'invoke',
      f: F_NAMES[this.f[op]!]!,
      key: this.key[op]!,
      value: this.invokeValueOf(op),
      time: this.invokeTime[op]!,
      node: this.node[op]!,
    };
  }

  /** The fields in the order the history has always written them: the invoke's, then type, value and time, then rev and error. */
  private completeEvent(op: OpHandle, invoke: HistoryEvent): HistoryEvent {
    const rev = this.rev[op]!;
    const error = this.error[op]!;
    return {
      ...invoke,
      type: COMPLETION_TYPES[this.completeType[op]!]!,
      value: this.completeValue[op]!,
      time: this.completeTime[op]!,
      ...(Number.isNaN(rev) ? {} : { rev }),
      ...(error === null ? {} : { error }),
    };
  }
}
