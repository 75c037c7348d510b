// Record framing: layout, round trips, and a decoder that never crashes on bad bytes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc32c } from '@node-rs/crc32';
import { Packr } from 'msgpackr';
import { decodePayload, encodeRecords, RECORD_HEADER_BYTES, RecordType, type LogRecord } from '../../src/log/record.ts';
import { decodeAllRecords } from '../../src/log/record-scanner.ts';
import type { Entry, EntryType } from '../../src/raft/types.ts';
import { entry, plain } from './helpers.ts';

const entryArb: fc.Arbitrary<Entry> = fc.record({
  index: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  term: fc.oneof(fc.nat(300), fc.maxSafeNat()),
  type: fc.constantFrom<EntryType>('normal', 'noop', 'conf'),
  data: fc.oneof(
    { arbitrary: fc.uint8Array({ maxLength: 300, size: 'max' }), weight: 9 },
    // large data (bin16/bin32 headers), cheap to generate
    { arbitrary: fc.integer({ min: 65530, max: 70000 }).map((n) => new Uint8Array(n).fill(n & 0xff)), weight: 1 },
  ),
});

const recordArb: fc.Arbitrary<LogRecord> = fc.oneof(
  entryArb.map((e): LogRecord => ({ kind: 'entry', entry: e })),
  fc.record({ term: fc.maxSafeNat(), vote: fc.nat(), commit: fc.maxSafeNat() }).map((state): LogRecord => ({ kind: 'hardState', state })),
  fc.record({ index: fc.maxSafeNat(), term: fc.maxSafeNat(), keep: fc.boolean() }).map((marker): LogRecord => ({ kind: 'snapshotMarker', marker })),
  fc
    .record({ start: fc.maxSafeNat(), sectors: fc.nat(20).chain((n) => fc.uint8Array({ minLength: n * 4, maxLength: n * 4 })) })
    .map(({ start, sectors }): LogRecord => ({ kind: 'writeEnd', start, sectors })),
);

function normalize(records: readonly LogRecord[]): unknown[] {
  // plain objects (fast-check builds records with a null prototype)
  return records.map((r) => {
    if (r.kind === 'entry') return { kind: r.kind, entry: plain([r.entry])[0] };
    if (r.kind === 'hardState') return { kind: r.kind, state: { ...r.state } };
    if (r.kind === 'writeEnd') return { kind: r.kind, start: r.start, sectors: [...r.sectors] };
    return { kind: r.kind, marker: { ...r.marker } };
  });
}

/** Checks the invariants of any decode result over arbitrary bytes. */
function checkResult(bytes: Uint8Array): void {
  const result = decodeAllRecords(bytes);
  // past the bytes only by the padding after a writeEnd that ends them
  assert.ok(result.end >= 0 && result.end <= Math.ceil(bytes.length / 512) * 512);
  if (result.stop === null) assert.ok(result.end >= bytes.length);
  else assert.equal(result.stop.offset, result.end);
}

describe('record framing', () => {
  test('frame layout: length, crc32c over type + payload, type, msgpack payload', () => {
    const bytes = encodeRecords([{ kind: 'hardState', state: { term: 2, vote: 3, commit: 1 } }]);
    const length = bytes.readUInt32LE(0);
    assert.equal(bytes.length, RECORD_HEADER_BYTES + length);
    assert.equal(bytes[8], RecordType.hardState);
    assert.equal(bytes.readUInt32LE(4), crc32c(bytes.subarray(8)) >>> 0);
    const payload = new Packr({ useRecords: false }).unpack(bytes.subarray(9));
    assert.deepEqual(payload, { term: 2, vote: 3, commit: 1 });
  });

  test('entry payloads are standard msgpack with data as bytes', () => {
    const bytes = encodeRecords([{ kind: 'entry', entry: entry(300, 70000, 'hello', 'conf') }]);
    const payload = new Packr({ useRecords: false }).unpack(bytes.subarray(9)) as unknown[];
    assert.equal(payload[0], 300);
    assert.equal(payload[1], 70000);
    assert.equal(payload[2], 2);
    assert.equal(Buffer.from(payload[3] as Uint8Array).toString(), 'hello');
  });

  test('decodes entries written by a generic msgpack encoder too', () => {
    const payload = new Packr({ useRecords: false }).pack([2 ** 40, 2 ** 33, 0, new Uint8Array([1, 2])]);
    const record = decodePayload(RecordType.entry, payload, 0, payload.length);
    assert.ok(record !== null && record.kind === 'entry');
    assert.equal(record.entry.index, 2 ** 40);
    assert.equal(record.entry.term, 2 ** 33);
    assert.deepEqual([...record.entry.data], [1, 2]);
    assert.equal(Object.getPrototypeOf(record.entry.data), Uint8Array.prototype);
  });

  test('round trip of random records', () => {
    fc.assert(
      fc.property(fc.array(recordArb, { maxLength: 20, size: 'max' }), (records) => {
        const bytes = encodeRecords(records);
        const result = decodeAllRecords(bytes);
        assert.equal(result.stop, null);
        assert.equal(result.end, bytes.length);
        assert.deepEqual(normalize(result.records), normalize(records));
      }),
      { numRuns: 150 },
    );
  });

  test('reports the exact offset and reason where it stops', () => {
    const good = encodeRecords([
      { kind: 'entry', entry: entry(1, 1) },
      { kind: 'entry', entry: entry(2, 1) },
    ]);
    const firstEnd = good.readUInt32LE(0) + RECORD_HEADER_BYTES;

    const torn = decodeAllRecords(good.subarray(0, good.length - 3));
    assert.deepEqual(torn.stop, { offset: firstEnd, reason: 'torn' });
    assert.equal(torn.records.length, 1);

    const flipped = Buffer.from(good);
    flipped[firstEnd + 12]! ^= 0x40;
    assert.deepEqual(decodeAllRecords(flipped).stop, { offset: firstEnd, reason: 'bad-crc' });

    const zeros = Buffer.concat([good, Buffer.alloc(100)]);
    assert.deepEqual(decodeAllRecords(zeros).stop, { offset: good.length, reason: 'bad-length' });

    const huge = Buffer.from(good);
    huge.writeUInt32LE(0xfffffff0, firstEnd);
    assert.deepEqual(decodeAllRecords(huge).stop, { offset: firstEnd, reason: 'bad-length' });

    // valid crc but an unknown type, and a valid frame whose payload is not an entry
    const payload = Buffer.from([0x93, 1, 2, 3]);
    const frame = (type: number): Buffer => {
      const out = Buffer.alloc(RECORD_HEADER_BYTES + payload.length);
      out.writeUInt32LE(payload.length, 0);
      out[8] = type;
      payload.copy(out, 9);
      out.writeUInt32LE(crc32c(out.subarray(8)) >>> 0, 4);
      return out;
    };
    assert.deepEqual(decodeAllRecords(frame(99)).stop, { offset: 0, reason: 'bad-type' });
    assert.deepEqual(decodeAllRecords(frame(RecordType.entry)).stop, { offset: 0, reason: 'bad-payload' });
  });

  test('fuzz: random bytes never crash the decoder', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000, size: 'max' }), (bytes) => checkResult(bytes)),
      { numRuns: 300 },
    );
  });

  test('fuzz: mutated valid frames never crash it and keep the records before the damage', () => {
    const mutation = fc.record({
      records: fc.array(recordArb, { minLength: 1, maxLength: 8 }),
      flips: fc.array(fc.record({ at: fc.nat(), bits: fc.integer({ min: 1, max: 255 }) }), { minLength: 1, maxLength: 4 }),
      cut: fc.option(fc.nat()),
    });
    fc.assert(
      fc.property(mutation, ({ records, flips, cut }) => {
        const bytes = Buffer.from(encodeRecords(records));
        let firstDamage = bytes.length;
        for (const flip of flips) {
          const at = flip.at % bytes.length;
          bytes[at]! ^= flip.bits;
          firstDamage = Math.min(firstDamage, at);
        }
        const data = cut === null ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
        checkResult(data);
        const result = decodeAllRecords(data);
        // every record that ends before the first damaged byte is still decoded
        const intact = decodeAllRecords(encodeRecords(records)).records;
        let offset = 0;
        let expected = 0;
        for (const r of intact) {
          const length = encodeRecords([r]).length;
          if (offset + length > Math.min(firstDamage, data.length)) break;
          offset += length;
          expected++;
        }
        assert.ok(result.records.length >= expected);
        assert.deepEqual(normalize(result.records.slice(0, expected)), normalize(intact.slice(0, expected)));
      }),
      { numRuns: 300 },
    );
  });

  test('fuzz: arbitrary payload bytes under a valid frame decode or are refused, never throw', () => {
    fc.assert(
      fc.property(fc.constantFrom(1, 2, 3, 4), fc.uint8Array({ minLength: 1, maxLength: 200, size: 'max' }), (type, payload) => {
        const record = decodePayload(type, payload, 0, payload.length);
        if (record !== null) assert.equal(record.kind, ['entry', 'hardState', 'snapshotMarker', 'writeEnd'][type - 1]);
      }),
      { numRuns: 500 },
    );
  });
});
