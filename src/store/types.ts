// Public data types of the document store. Everything here is plain data:
// commands and documents travel through msgpack (the log) and JSON (HTTP).

export type JsonPrimitive = null | boolean | number | string;
export type JsonValue = JsonPrimitive | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** A stored document. Stored documents are deep-frozen: never mutate them. */
export interface Document {
  _id: string;
  /** Log index of the command that last changed this document. */
  _rev: number;
  [key: string]: JsonValue;
}

/** A MongoDB-style query filter (see validate.ts for the accepted operators). */
export type Filter = JsonObject;

/** MongoDB-style update operators: `{ $set: { 'a.b': 1 }, $inc: { n: 1 } }`. */
export type UpdateSpec = JsonObject;

export type SortSpec = Record<string, 1 | -1>;
export type Projection = Record<string, 0 | 1>;

export interface FindOptions {
  sort?: SortSpec;
  skip?: number;
  limit?: number;
  projection?: Projection;
}

export type IndexField = [path: string, dir: 1 | -1];

export interface IndexSpec {
  name: string;
  fields: IndexField[];
  unique: boolean;
  /** A TTL index (one field): its documents expire this many seconds after the field's time
   * (ms since the epoch or an ISO-8601 string; store/ttl.ts). */
  expireAfterSeconds?: number;
}

export interface Limits {
  /** Maximum JSON byte length of a stored document. */
  maxDocumentBytes: number;
  /** Maximum nesting depth; the top-level document is depth 1. */
  maxDepth: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxDocumentBytes: 1024 * 1024,
  maxDepth: 64,
});

export function resolveLimits(limits: Partial<Limits> | undefined): Limits {
  const out: Limits = { ...DEFAULT_LIMITS, ...(limits ?? {}) };
  if (!Number.isSafeInteger(out.maxDocumentBytes) || out.maxDocumentBytes < 16) {
    throw new RangeError(`invalid maxDocumentBytes: ${out.maxDocumentBytes}`);
  }
  if (!Number.isSafeInteger(out.maxDepth) || out.maxDepth < 2) {
    throw new RangeError(`invalid maxDepth: ${out.maxDepth}`);
  }
  return out;
}

/** How a query was (or would be) executed. */
export interface Explain {
  plan: 'id' | 'index' | 'scan';
  /** Name of the secondary index used, for plan 'index'. */
  index?: string;
  /** Index entries (or `_id` lookups) visited. */
  keysExamined: number;
  /** Documents tested against the full filter. */
  docsExamined: number;
  /** Documents returned after skip and limit. */
  nReturned: number;
  /** 'index' when the order came from the index (or `_id` order), 'memory' when sorted after fetching. */
  sort: 'index' | 'memory';
  /** Number of key intervals scanned (plan 'index'). */
  intervals?: number;
}
