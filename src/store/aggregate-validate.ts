// The checks an aggregation pipeline passes before it runs (POST /api/:collection/_aggregate,
// collection.aggregate()): the stages we run, bounded in number, with every `$match` a filter
// the store accepts (validate-filter.ts: its cost bounds, no `$where`/`$expr`, `$regex` on RE2)
// and no operator anywhere that runs JavaScript or a JavaScript RegExp.
import { ValidationError } from './errors.ts';
import type { Filter } from './types.ts';
import { isPlainObject, validateFilter } from './validate.ts';

/** The stages a pipeline may use. */
export const AGGREGATE_STAGES = ['$match', '$group', '$sort', '$project', '$limit', '$skip', '$count', '$unwind'] as const;
export type AggregateStageName = (typeof AGGREGATE_STAGES)[number];
/** Stages in one pipeline, at most. */
export const AGGREGATE_STAGES_MAX = 20;
/** Nesting of a stage's JSON, at most (expressions are walked recursively). */
export const AGGREGATE_DEPTH_LEVELS_MAX = 32;

/** Refused with a reason of their own: they write, read other collections or run code. */
const FORBIDDEN_STAGES: Readonly<Record<string, string>> = {
  $lookup: 'reads another collection',
  $graphLookup: 'reads another collection',
  $unionWith: 'reads another collection',
  $out: 'writes a collection',
  $merge: 'writes a collection',
  $function: 'runs JavaScript',
  $where: 'runs JavaScript',
  $accumulator: 'runs JavaScript',
};
/** Operators refused anywhere in a stage: JavaScript, or a JavaScript RegExp (no time bound). */
const FORBIDDEN_OPERATORS: Readonly<Record<string, string>> = {
  $function: 'runs JavaScript',
  $accumulator: 'runs JavaScript',
  $where: 'runs JavaScript',
  $regexMatch: 'runs a JavaScript RegExp (use $match with $regex, which runs on RE2)',
  $regexFind: 'runs a JavaScript RegExp',
  $regexFindAll: 'runs a JavaScript RegExp',
};

export type PipelineStage = Readonly<Record<string, unknown>>;

/** The stage's one operator; throws VALIDATION for a stage that is not one allowed object. */
export function stageName(stage: unknown, path: string): AggregateStageName {
  if (!isPlainObject(stage)) throw new ValidationError(`${path}: a stage must be an object with one key`);
  const keys = Object.keys(stage);
  if (keys.length !== 1) throw new ValidationError(`${path}: a stage must have exactly one key (got ${keys.length})`);
  const name = keys[0]!;
  const why = FORBIDDEN_STAGES[name];
  if (why !== undefined) throw new ValidationError(`${path}: stage ${name} is not allowed (it ${why})`);
  if (!(AGGREGATE_STAGES as readonly string[]).includes(name)) {
    throw new ValidationError(`${path}: unknown stage ${JSON.stringify(name.slice(0, 64))} (allowed: ${AGGREGATE_STAGES.join(', ')})`);
  }
  return name as AggregateStageName;
}

function checkOperators(value: unknown, path: string, depth: number): void {
  if (depth > AGGREGATE_DEPTH_LEVELS_MAX) throw new ValidationError(`${path}: nested deeper than ${AGGREGATE_DEPTH_LEVELS_MAX} levels`);
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkOperators(v, `${path}[${i}]`, depth + 1));
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  for (const [key, v] of Object.entries(value)) {
    const why = FORBIDDEN_OPERATORS[key];
    if (why !== undefined) throw new ValidationError(`${path}.${key}: not allowed (it ${why})`);
    checkOperators(v, `${path}.${key}`, depth + 1);
  }
}

function nonNegativeInt(value: unknown, path: string, min: number): number {
  if (!Number.isSafeInteger(value) || (value as number) < min) throw new ValidationError(`${path}: must be an integer >= ${min}`);
  return value as number;
}

/** Throws VALIDATION naming the stage and the rule; returns the pipeline typed. */
export function validatePipeline(pipeline: unknown, path = 'pipeline'): PipelineStage[] {
  if (!Array.isArray(pipeline)) throw new ValidationError(`${path}: must be an array of stages`);
  if (pipeline.length > AGGREGATE_STAGES_MAX) {
    throw new ValidationError(`${path}: ${pipeline.length} stages, more than AGGREGATE_STAGES_MAX (${AGGREGATE_STAGES_MAX})`);
  }
  pipeline.forEach((stage: unknown, i) => {
    const at = `${path}[${i}]`;
    const name = stageName(stage, at);
    const body = (stage as Record<string, unknown>)[name];
    switch (name) {
      case '$match':
        validateFilter(body, `${at}.$match`);
        break;
      case '$limit':
        nonNegativeInt(body, `${at}.$limit`, 1);
        break;
      case '$skip':
        nonNegativeInt(body, `${at}.$skip`, 0);
        break;
      case '$count':
        if (typeof body !== 'string' || body.length === 0 || body.startsWith('$') || body.includes('.')) {
          throw new ValidationError(`${at}.$count: must be a non-empty field name without "$" or "."`);
        }
        break;
      case '$sort':
        if (!isPlainObject(body) || Object.keys(body).length === 0 || Object.values(body).some((d) => d !== 1 && d !== -1)) {
          throw new ValidationError(`${at}.$sort: must be {"field": 1 | -1, ...}`);
        }
        break;
      case '$group':
        if (!isPlainObject(body) || !Object.hasOwn(body, '_id')) throw new ValidationError(`${at}.$group: must be an object with _id`);
        break;
      case '$project':
        if (!isPlainObject(body) || Object.keys(body).length === 0) throw new ValidationError(`${at}.$project: must be a non-empty object`);
        break;
      case '$unwind':
        if (typeof body !== 'string' && !isPlainObject(body)) throw new ValidationError(`${at}.$unwind: must be "$path" or {path, ...}`);
        break;
    }
    if (name !== '$match') checkOperators(body, `${at}.${name}`, 1);
  });
  return pipeline as PipelineStage[];
}

/** The filter of a leading `$match` (run through the planner and its indexes), if any. */
export function leadingMatch(pipeline: readonly PipelineStage[]): Filter | undefined {
  const first = pipeline[0];
  return first !== undefined && Object.hasOwn(first, '$match') ? (first['$match'] as Filter) : undefined;
}
