// Times given as text (a TTL field, asOf) are ISO-8601 with their zone, read alike on every
// node (src/store/iso-time.ts); Date.parse alone would take "1" as a date in 2001 and a time
// without a zone in the host's zone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseIsoTimeMs } from '../../src/store/iso-time.ts';
import { expiryMs } from '../../src/store/ttl.ts';

test('ISO-8601 with a zone, or a date (midnight UTC): the instant; anything else: NaN', () => {
  assert.equal(parseIsoTimeMs('2026-12-06T03:00:00Z'), Date.UTC(2026, 11, 6, 3));
  assert.equal(parseIsoTimeMs('2026-12-06T05:00:00.250+02:00'), Date.UTC(2026, 11, 6, 3, 0, 0, 250));
  assert.equal(parseIsoTimeMs('2026-12-06'), Date.UTC(2026, 11, 6));
  for (const bad of ['1', '-1', '1.5', 'Tue 1', '2026-12-06T03:00:00', '2026-02-30', '2026-13-01', ' 2026-12-06', '']) {
    assert.ok(Number.isNaN(parseIsoTimeMs(bad)), `${JSON.stringify(bad)} read as ${parseIsoTimeMs(bad)}`);
  }
});

test('a TTL field expires by the same reading: a string Date.parse alone would take never expires', () => {
  assert.equal(expiryMs({ at: '2026-12-06T03:00:00Z' }, 'at'), Date.UTC(2026, 11, 6, 3));
  assert.equal(expiryMs({ at: 1_000 }, 'at'), 1_000);
  for (const bad of ['1', 'Tue 1', '2026-12-06T03:00:00', '2026-02-30']) assert.equal(expiryMs({ at: bad }, 'at'), undefined, bad);
});
