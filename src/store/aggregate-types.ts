// The typed shape of an aggregation pipeline, for callers of aggregate() (the embedded
// collection's and the client's, which re-exports it): one object per stage with its one
// operator. It helps a caller write a pipeline; it does not decide what runs:
// aggregate-validate.ts checks every pipeline, typed or not, before it runs.

/** `$unwind`'s long form. */
export interface UnwindOptions {
  /** The array field, `$`-prefixed: `"$tags"`. */
  readonly path: string;
  /** A field to hold each element's index in the array. */
  readonly includeArrayIndex?: string;
  /** Keep documents whose array is missing, null or empty (default false). */
  readonly preserveNullAndEmptyArrays?: boolean;
}

/** An expression or accumulator of `$group` and `$project`: `"$field"`, `{ $sum: "$total" }`, a literal... */
export type AggregateExpression =
  string | number | boolean | null | readonly AggregateExpression[] | { readonly [operator: string]: AggregateExpression };

/** One stage: `$match`, `$group`, `$sort`, `$project`, `$limit`, `$skip`, `$count` or `$unwind`. */
export type AggregateStage =
  | { readonly $match: Readonly<Record<string, unknown>> }
  | { readonly $group: { readonly _id: AggregateExpression; readonly [field: string]: AggregateExpression } }
  | { readonly $sort: Readonly<Record<string, 1 | -1>> }
  | { readonly $project: Readonly<Record<string, AggregateExpression>> }
  | { readonly $limit: number }
  | { readonly $skip: number }
  | { readonly $count: string }
  | { readonly $unwind: string | UnwindOptions };

/** A pipeline: at most AGGREGATE_STAGES_MAX (20) stages, a leading `$match` uses an index. */
export type AggregatePipeline = readonly AggregateStage[];

/** One output document of a pipeline: its shape is the pipeline's, JSON. */
export type AggregateResult = Record<string, unknown>;
