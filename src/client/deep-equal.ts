// Structural equality of JSON values (key order ignored), used to recognise our own
// document when a retried write meets a conflict caused by its earlier attempt.

export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  }
  const aKeys = definedKeys(a as Record<string, unknown>);
  const bKeys = definedKeys(b as Record<string, unknown>);
  if (aKeys.length !== bKeys.length) return false;
  return aKeys.every((key) => Object.hasOwn(b, key) && jsonEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

/** JSON drops keys whose value is undefined; so must the comparison. */
function definedKeys(object: Record<string, unknown>): string[] {
  return Object.keys(object).filter((key) => object[key] !== undefined);
}

/** The stored document is the one we sent: same content, `_rev` aside. */
export function isSameDocument(sent: Record<string, unknown>, stored: Record<string, unknown>): boolean {
  const { _rev: _sentRev, ...sentContent } = sent;
  const { _rev: _storedRev, ...storedContent } = stored;
  return jsonEqual(toJson(sentContent), storedContent);
}

/** What the server received: the JSON round trip of what we sent (dates become strings...). */
function toJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}
