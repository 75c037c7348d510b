// Which node the next request goes to: the last one that worked, or the leader when a
// response named it; after a failure, the next URL in the list. Leader URLs we were
// not given (a member added later) are learnt from hints, up to a bound.
import { assert } from '../assert.ts';

export const MAX_NODES = 64;

export class NodeSelector {
  private readonly urls: string[];
  private current = 0;

  constructor(urls: readonly string[]) {
    if (urls.length === 0) throw new RangeError('NodeSelector: no URL');
    this.urls = [...new Set(urls)];
    if (this.urls.length > MAX_NODES) throw new RangeError(`NodeSelector: more than ${MAX_NODES} URLs`);
  }

  get size(): number {
    return this.urls.length;
  }

  list(): readonly string[] {
    return this.urls;
  }

  /** The node to try now. */
  pick(): string {
    const url = this.urls[this.current];
    assert(url !== undefined, `NodeSelector: current index ${this.current} out of range`);
    return url;
  }

  /** A request to `url` worked: keep using it. */
  succeeded(url: string): void {
    const index = this.urls.indexOf(url);
    if (index >= 0) this.current = index;
  }

  /** A request to `url` failed: move on, unless another request already did. */
  failed(url: string): void {
    if (this.urls[this.current] === url) this.current = (this.current + 1) % this.urls.length;
  }

  /** A node told us who leads. Returns whether the next pick changed. */
  leaderHint(rawUrl: string): boolean {
    const url = normalizeUrl(rawUrl, false);
    if (url === null) return false;
    let index = this.urls.indexOf(url);
    if (index < 0) {
      if (this.urls.length >= MAX_NODES) return false;
      this.urls.push(url);
      index = this.urls.length - 1;
    }
    const changed = index !== this.current;
    this.current = index;
    return changed;
  }
}

/**
 * `http://host:port` from `http://host:port/`, `host:port`, ... Throws (or returns null
 * when `strict` is false) for what is not an http(s) origin.
 */
export function normalizeUrl(raw: string, strict: true): string;
export function normalizeUrl(raw: string, strict: false): string | null;
export function normalizeUrl(raw: string, strict: boolean): string | null {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let parsed: URL;
  try {
    parsed = new URL(withScheme);
  } catch {
    if (strict) throw new TypeError(`invalid node URL ${JSON.stringify(raw)}`);
    return null;
  }
  const ok = (parsed.protocol === 'http:' || parsed.protocol === 'https:') && parsed.pathname === '/' && parsed.search === '';
  if (!ok) {
    if (strict) throw new TypeError(`invalid node URL ${JSON.stringify(raw)}: expected http(s)://host:port`);
    return null;
  }
  return parsed.origin;
}
