// The newest records of something that happens now and then (a long gap between a leader's
// messages, a stalled event loop, a slow log write), kept for a status page: at most
// `capacity`, oldest first, the oldest dropped when a new one comes. Small by design (tens), so
// a shift of the array costs nothing worth a ring buffer.

export class NewestRecords<T> {
  private readonly records: T[] = [];

  constructor(private readonly capacity: number) {
    if (!(Number.isSafeInteger(capacity) && capacity >= 1)) throw new RangeError(`NewestRecords capacity must be an integer >= 1, got ${capacity}`);
  }

  add(record: T): void {
    if (this.records.length >= this.capacity) this.records.shift();
    this.records.push(record);
  }

  /** A copy, oldest first. */
  list(): T[] {
    return this.records.slice();
  }
}
