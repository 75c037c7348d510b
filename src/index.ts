// Collection Store: the embedded database and its types.
export { open, Database } from './node/embedded-database.ts';
export type { OpenOptions, DatabaseInfo, CollectionModel } from './node/embedded-database.ts';
export { EmbeddedCollection } from './node/embedded-collection.ts';
export type { UpdateOptions, ReplaceOptions, RemoveOptions, UpdateResult, FindPageOptions, Page } from './node/embedded-collection.ts';
export { Transaction, TransactionCollection } from './node/embedded-transaction.ts';
export type { TransactionOptions } from './node/embedded-transaction.ts';
export type { IndexFieldsInput } from './store/index-fields.ts';
export type { AggregateExpression, AggregatePipeline, AggregateResult, AggregateStage, UnwindOptions } from './store/aggregate-types.ts';
export { StoreError, ValidationError, ConflictError, NotFoundError, PreconditionFailedError, BadRequestError } from './store/errors.ts';
export type { ErrorCode } from './store/errors.ts';
export type { Document, Filter, FindOptions, IndexSpec, JsonObject, JsonValue, UpdateSpec, Explain, Limits } from './store/types.ts';
