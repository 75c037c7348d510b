// Aggregation pipelines on mingo: `$match`, `$group`, `$sort`, `$project`, `$limit`, `$skip`,
// `$count`, `$unwind` (aggregate-validate.ts checks them first). A leading `$match` is a
// query: the planner picks an index for it (Store.find, or the HTTP route's sliced find), and
// only its matches enter mingo. Bounded like queries: documents entering the pipeline
// (AGGREGATE_DOCS_MAX), output size (AGGREGATE_OUTPUT_BYTES_MAX) and time spent producing the
// output (AGGREGATE_TIME_MS_MAX), each with a 400 naming the limit.
import { Aggregator } from 'mingo/aggregator';
import { Context } from 'mingo/core';
import * as accumulatorOperators from 'mingo/operators/accumulator';
import * as expressionOperators from 'mingo/operators/expression';
import { $count, $group, $limit, $match, $project, $skip, $sort, $unwind } from 'mingo/operators/pipeline';
import * as projectionOperators from 'mingo/operators/projection';
import { leadingMatch, validatePipeline, type PipelineStage } from './aggregate-validate.ts';
import { StoreError, ValidationError } from './errors.ts';
import { QUERY_OPTIONS } from './query-cache.ts';
import { withRe2Operators } from './query-regex.ts';
import type { Store } from './store.ts';
import type { Document, Filter, JsonObject } from './types.ts';

/** Documents entering the pipeline (after a leading `$match`), at most. */
export const AGGREGATE_DOCS_MAX = 100_000;
/** Output of one pipeline as JSON text, at most (UTF-16 code units, ~bytes for ASCII). */
export const AGGREGATE_OUTPUT_BYTES_MAX = 16 * 1024 * 1024;
/** Time spent producing the output, at most (checked between output documents: a blocking
 * stage such as $group or $sort is bounded by AGGREGATE_DOCS_MAX instead). */
export const AGGREGATE_TIME_MS_MAX = 2_000;

export interface AggregateBounds {
  readonly docsMax: number;
  readonly outputBytesMax: number;
  readonly timeMsMax: number;
}

export const DEFAULT_AGGREGATE_BOUNDS: AggregateBounds = {
  docsMax: AGGREGATE_DOCS_MAX,
  outputBytesMax: AGGREGATE_OUTPUT_BYTES_MAX,
  timeMsMax: AGGREGATE_TIME_MS_MAX,
};

// The operators that run no JavaScript: the validator refuses the others by name too.
const LEFT_OUT: ReadonlySet<string> = new Set(['$function', '$accumulator', '$regexMatch', '$regexFind', '$regexFindAll', '$where']);
const safe = <T extends object>(ops: T): T => Object.fromEntries(Object.entries(ops).filter(([name]) => !LEFT_OUT.has(name))) as T;
const AGGREGATE_CONTEXT = Context.from(
  QUERY_OPTIONS.context,
  Context.init({
    pipeline: { $match, $group, $sort, $project, $limit, $skip, $count, $unwind },
    accumulator: safe(accumulatorOperators),
    expression: safe(expressionOperators),
    projection: safe(projectionOperators),
  }),
);
const AGGREGATE_OPTIONS = { ...QUERY_OPTIONS, context: AGGREGATE_CONTEXT };

/** A validated pipeline split into the leading `$match` (a query) and the stages after it. */
export interface PlannedPipeline {
  readonly match: Filter;
  readonly rest: readonly PipelineStage[];
}

/** Validates (VALIDATION naming the stage) and splits the pipeline. */
export function planPipeline(pipeline: unknown): PlannedPipeline {
  const stages = validatePipeline(pipeline);
  const match = leadingMatch(stages);
  return { match: match ?? {}, rest: match === undefined ? stages : stages.slice(1) };
}

export function tooManyDocuments(bounds: AggregateBounds = DEFAULT_AGGREGATE_BOUNDS): ValidationError {
  return new ValidationError(
    `pipeline: more than AGGREGATE_DOCS_MAX (${bounds.docsMax}) documents enter it: narrow the leading $match (an indexed field helps)`,
  );
}

/** Runs the stages after the leading `$match` over its matches (at most bounds.docsMax). */
export function runPipeline(
  input: readonly Document[],
  rest: readonly PipelineStage[],
  bounds: AggregateBounds = DEFAULT_AGGREGATE_BOUNDS,
): JsonObject[] {
  if (input.length > bounds.docsMax) throw tooManyDocuments(bounds);
  // $regex in a later $match runs on RE2, as in filters.
  const stages = rest.flatMap((s) => {
    if (Object.hasOwn(s, '$match')) return [{ $match: withRe2Operators(s['$match']) }];
    // MongoDB's $count outputs nothing for no input; mingo's outputs a count of 0. The
    // equivalent MongoDB documents ($group then $project) outputs nothing, as MongoDB does.
    const count = s['$count'];
    if (typeof count === 'string' && count !== '_id') return [{ $group: { _id: null, [count]: { $sum: 1 } } }, { $project: { _id: 0 } }];
    return [s];
  }) as Record<string, unknown>[];
  const started = performance.now();
  const out: JsonObject[] = [];
  let chars = 2;
  const output = pipelineErrors(() => new Aggregator(stages, AGGREGATE_OPTIONS).stream(input as Document[]) as Iterable<JsonObject>);
  for (const doc of output) {
    chars += JSON.stringify(doc).length + 1;
    if (chars > bounds.outputBytesMax) {
      throw new ValidationError(`pipeline: output over AGGREGATE_OUTPUT_BYTES_MAX (${bounds.outputBytesMax} bytes): add $limit or $project`);
    }
    if (performance.now() - started > bounds.timeMsMax) {
      throw new ValidationError(`pipeline: took over AGGREGATE_TIME_MS_MAX (${bounds.timeMsMax} ms): narrow the leading $match or add $limit`);
    }
    out.push(doc);
  }
  return out;
}

/** mingo's own errors (an operator it does not know, an argument of the wrong type) are the
 * pipeline's fault: a 400 VALIDATION naming what mingo said, not a 500. */
function* pipelineErrors(run: () => Iterable<JsonObject>): Generator<JsonObject> {
  try {
    yield* run();
  } catch (e) {
    if (e instanceof StoreError || !(e instanceof Error)) throw e;
    throw new ValidationError(`pipeline: ${e.message}`);
  }
}

/** The embedded form: the leading `$match` through Store.find (the planner), then mingo. */
export function aggregate(store: Store, collection: string, pipeline: unknown, bounds: AggregateBounds = DEFAULT_AGGREGATE_BOUNDS): JsonObject[] {
  const { match, rest } = planPipeline(pipeline);
  const input = store.find(collection, match, { limit: bounds.docsMax + 1 }) as Document[];
  return runPipeline(input, rest, bounds);
}
