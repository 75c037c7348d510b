// ISO-8601 times as the database reads them wherever a time is given as text (a TTL field, an
// `asOf`): a date (midnight UTC), or a date and time with its zone (`Z` or `±HH:MM`). Not
// Date.parse alone: it takes far more (`1`, `-1`, `1.5`, `Tue 1` are dates in 2001), rolls
// 2026-02-30 over into March, and reads a time without a zone in the host's own zone, so two
// nodes in different zones would disagree about when a document expires.

const ISO_TIME =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:T(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,9})?)?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9]))?$/;

/** What ISO_TIME accepts, for error messages. */
export const ISO_TIME_FORMS = 'an ISO-8601 time with its zone (2026-01-01T12:00:00Z, 2026-01-01T14:00:00+02:00; a date alone is midnight UTC)';

/** Milliseconds since the epoch of an ISO-8601 time with its zone (or a date), NaN for anything else. */
export function parseIsoTimeMs(raw: string): number {
  const m = ISO_TIME.exec(raw);
  if (m === null) return NaN;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return NaN;
  return Date.parse(raw);
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}
