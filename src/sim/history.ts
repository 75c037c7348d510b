// The record of what clients asked and what they were told, on the virtual clock.
// Ops whose outcome is unknown (timeout, crash of the node holding them) are
// `indeterminate`: they may or may not have taken effect, so their completion time
// is +Infinity for the checker. Ops that certainly had no effect (rejected before
// entering any log) are `failed` and take no part in the check.

export type OpKind = 'put' | 'append' | 'read';
export type OpStatus = 'pending' | 'ok' | 'indeterminate' | 'failed';

export interface HistoryOp {
  readonly id: number;
  readonly client: number;
  readonly kind: OpKind;
  readonly key: string;
  /** For put and append: the (unique) value written. Null for reads. */
  readonly value: string | null;
  readonly invoke: number;
  /** Completion time; +Infinity while pending or when indeterminate. */
  complete: number;
  status: OpStatus;
  /** For a completed read: the value seen (null when the key was absent). */
  result: string | null;
  /** Free text for counterexamples: which node served it, at which index. */
  note: string;
}

export class History {
  private readonly list: HistoryOp[] = [];

  constructor(private readonly maxOps = 200_000) {}

  get size(): number {
    return this.list.length;
  }

  invoke(client: number, kind: OpKind, key: string, value: string | null, time: number): HistoryOp {
    if (this.list.length >= this.maxOps) throw new Error(`History: more than ${this.maxOps} ops`);
    if ((kind === 'read') !== (value === null)) throw new Error(`History: ${kind} with value ${String(value)}`);
    const op: HistoryOp = {
      id: this.list.length,
      client,
      kind,
      key,
      value,
      invoke: time,
      complete: Infinity,
      status: 'pending',
      result: null,
      note: '',
    };
    this.list.push(op);
    return op;
  }

  ok(op: HistoryOp, time: number, result: string | null, note = ''): void {
    this.expectPending(op);
    if (time < op.invoke) throw new Error(`History: op ${op.id} completes at ${time} before its invoke ${op.invoke}`);
    if (op.kind !== 'read' && result !== null) throw new Error(`History: write ${op.id} with a read result`);
    op.status = 'ok';
    op.complete = time;
    op.result = result;
    op.note = note;
  }

  indeterminate(op: HistoryOp, note = ''): void {
    this.expectPending(op);
    op.status = 'indeterminate';
    op.note = note;
  }

  failed(op: HistoryOp, note = ''): void {
    this.expectPending(op);
    op.status = 'failed';
    op.note = note;
  }

  /** Turns every still-pending op indeterminate (end of a run). */
  closePending(note: string): void {
    for (const op of this.list) if (op.status === 'pending') this.indeterminate(op, note);
  }

  ops(): readonly HistoryOp[] {
    return this.list;
  }

  private expectPending(op: HistoryOp): void {
    if (op.status !== 'pending') throw new Error(`History: op ${op.id} already ${op.status}`);
  }
}

export function describeOp(op: HistoryOp): string {
  const end = op.complete === Infinity ? '∞' : String(op.complete);
  const what =
    op.kind === 'read'
      ? `read(${op.key}) -> ${op.status === 'ok' ? JSON.stringify(op.result) : '?'}`
      : `${op.kind}(${op.key}, ${JSON.stringify(op.value)})`;
  return `#${op.id} c${op.client} [${op.invoke}, ${end}] ${what} ${op.status}${op.note ? ` (${op.note})` : ''}`;
}
