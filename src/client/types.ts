// Public types of the HTTP client. They mirror docs/http-api.md; the client imports
// nothing from the store but its error classes (and the shapes of index fields), so documents are plain JSON here.
import type { BackoffPolicy } from '../backoff.ts';

export type Consistency = 'linearizable' | 'lease' | 'local';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A document as the user writes it: `_id` optional (generated when absent). */
export type NewDocument = { _id?: string; [key: string]: unknown };

/** A stored document: always has `_id` and `_rev` (the log index of its last change). */
export type Document = { _id: string; _rev: number; [key: string]: unknown };

/** A query filter (MongoDB-style operators, evaluated by the server). */
export type Filter = Record<string, unknown>;

/** Update operators, e.g. `{ $set: { a: 1 }, $inc: { n: 1 } }`. */
export type UpdateSpec = Record<string, unknown>;

/** `{ a: 1, b: -1 }` (key order matters). */
export type SortSpec = Record<string, 1 | -1>;

/** Paths to include, `{ a: 1, 'b.c': 1 }`, or to exclude, `{ a: 0 }`. */
export type Projection = Record<string, 0 | 1 | boolean>;

/** TLS for https:// node URLs (PEM). Without `ca`, a node's certificate is verified against the system's root CAs. */
export interface ClientTls {
  /** CA certificate(s) that signed the nodes' certificates, e.g. a cluster's private CA (`<data-dir>/tls/ca.crt` of `cluster --tls`). */
  readonly ca?: string | Buffer;
  /** A client certificate and its key, for a server that asks for one (a node's HTTP API does not). */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

/**
 * Credentials, for a cluster with authentication on (docs/security.md):
 * - `{ user, password }`: the client logs in (`POST /auth/login`, on any node: a token is
 *   valid on every node) before its first request, sends `Authorization: Bearer <token>`,
 *   logs in again once 80% of the token's lifetime has passed, and after a 401 logs in once
 *   more and resends that request once (a 401 is answered before any work, so this is safe
 *   for every write). Concurrent requests share one login. A wrong password is an
 *   UnauthorizedError, not retried.
 * - `{ token }`: a token from `POST /auth/login`, sent as is; once it expires or is revoked,
 *   requests fail with UnauthorizedError.
 *
 * A user whose roles do not allow a request gets ForbiddenError (never retried). Without TLS
 * the password and tokens travel in clear: use https:// URLs beyond loopback.
 */
export type ClientAuth = { readonly user: string; readonly password: string } | { readonly token: string };

export interface ConnectOptions {
  /** Per attempt, in ms (default 5000). */
  readonly timeout?: number;
  /** Attempts after the first one (default 5). */
  readonly retries?: number;
  /** Exponential backoff between attempts, with jitter (default 50 ms doubling up to 1000 ms). */
  readonly backoff?: BackoffPolicy;
  /** Default read consistency (default: the server's, linearizable). */
  readonly consistency?: Consistency;
  /** Keep-alive connections per node (default 16). */
  readonly connectionsPerNode?: number;
  /** For https:// URLs: `{ ca }` trusts a private CA (e.g. that of `cluster --tls`); cert and key are passed through. */
  readonly tls?: ClientTls;
  /** `{ user, password }` (logs in and renews its token) or `{ token }`; see ClientAuth. */
  readonly auth?: ClientAuth;
}

export interface ReadOptions {
  readonly consistency?: Consistency;
}

export interface FindOptions extends ReadOptions {
  readonly sort?: SortSpec;
  readonly skip?: number;
  readonly limit?: number;
  readonly projection?: Projection;
}

/** findPage()'s options (docs/http-api.md, Pages). */
export interface FindPageOptions extends ReadOptions {
  /** Documents per page (a page holds fewer only when it is the last). Required with a cursor. */
  readonly limit: number;
  /** The `next` of the previous page (the server's `Next-Cursor`); the first page without it. */
  readonly cursor?: string;
  /** The order (then `_id` ascending); a cursor is valid only for the sort it was made with. */
  readonly sort?: SortSpec;
  readonly projection?: Projection;
}

/** pages()'s options: findPage()'s, starting at `cursor` when given. */
export type PagesOptions = FindPageOptions;

/** A page: its documents and the cursor of the next one, absent on the last page. */
export interface Page<T = Document> {
  readonly docs: T[];
  readonly next?: string;
}

export interface ExplainOptions {
  readonly sort?: SortSpec;
  readonly skip?: number;
  readonly limit?: number;
}

export interface UpdateOptions {
  /** Update every matching document (default: the first only). */
  readonly multi?: boolean;
  /** Insert a document built from the filter and update when nothing matches. */
  readonly upsert?: boolean;
}

export interface UpdateResult {
  readonly matched: number;
  readonly modified: number;
  readonly upsertedId?: string;
}

export interface IfRevOptions {
  /** Apply only if the document's `_rev` is this one (HTTP If-Match); else PreconditionFailedError. */
  readonly ifRev?: number;
}

export interface ReplaceOptions extends IfRevOptions {
  /** Create the document when it does not exist (default false: NotFoundError). */
  readonly upsert?: boolean;
}

export interface RemoveOptions extends IfRevOptions {
  /** For a filter: remove every match (the server's default) or only the first. */
  readonly multi?: boolean;
}

/** The shapes createIndex takes: the embedded database's, normalised by the same function. */
export type { IndexFieldsInput as IndexFields } from '../store/index-fields.ts';

/** Aggregation pipelines (collection.aggregate()): the store's own type, so client and server agree. */
export type { AggregateExpression, AggregatePipeline, AggregateResult, AggregateStage, UnwindOptions } from '../store/aggregate-types.ts';

export interface IndexOptions {
  readonly unique?: boolean;
  readonly name?: string;
  /** A TTL index (one date field: epoch ms or ISO 8601): documents expire this many seconds
   * after the field's value (docs/models.md). */
  readonly expireAfterSeconds?: number;
}

export interface IndexInfo {
  readonly name: string;
  readonly fields: Array<[string, 1 | -1]>;
  readonly unique: boolean;
  /** Present on a TTL index. */
  readonly expireAfterSeconds?: number;
}

/** The query plan, as the server describes it. */
export type ExplainPlan = Record<string, unknown>;

export type TxOp =
  | { readonly op: 'insert'; readonly collection: string; readonly doc: NewDocument }
  | {
      readonly op: 'update';
      readonly collection: string;
      readonly filter: Filter;
      readonly update: UpdateSpec;
      readonly multi?: boolean;
      readonly upsert?: boolean;
    }
  | { readonly op: 'replace'; readonly collection: string; readonly id: string; readonly doc: NewDocument }
  | { readonly op: 'remove'; readonly collection: string; readonly filter: Filter; readonly multi?: boolean };

export type TxCondition =
  | { readonly collection: string; readonly id: string; readonly rev: number }
  | { readonly collection: string; readonly id: string; readonly exists: boolean }
  | { readonly collection: string; readonly filter: Filter; readonly count: number };

export interface TxRequest {
  readonly ops: readonly TxOp[];
  readonly if?: readonly TxCondition[];
}

/** One result per op, in the server's format (a document, an update result, a count...). */
export interface TxResponse {
  readonly results: unknown[];
}

export interface ClusterMember {
  readonly id: number;
  readonly url: string;
  readonly voter: boolean;
  readonly matchIndex: number;
  readonly lag: number;
  readonly connected: boolean;
}

export interface ClusterStatus {
  readonly nodeId: number;
  readonly url: string;
  readonly role: string;
  readonly term: number;
  readonly leader: { readonly id: number; readonly url: string } | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly snapshotIndex: number;
  readonly members: ClusterMember[];
}
