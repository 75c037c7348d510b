// What a model costs a durable write, end to end (issue #14): the same durable inserts as the
// embedded suite (`open({ dir, sync: 'batch' })`, each insert fsynced before it resolves), into
// a collection without a model, with a schema, with a schema and trackHistory, with a schema
// and audited, and with all three; in alternating rounds, so that each variant's rounds run
// under about the same load as its neighbours'. The peer of each variant is the collection
// without a model: paired ratios (variant / none, per round) say what the model costs.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CollectionModel, JsonObject } from 'collection-store';
import { openOurWriter } from './peers/ours.ts';
import { alternate, pairedRatios, round3, summarize, type Summary } from './rounds.ts';
import { durableInserts } from './side-by-side.ts';
import { progress } from './util.ts';

/** The documents the inserts write (bench/peers/subject.ts InsertDoc), as a model describes them. */
const INSERT_DOC_SCHEMA: JsonObject = {
  type: 'object',
  required: ['writer', 'n', 'name', 'tags', 'price'],
  properties: {
    writer: { type: 'integer', minimum: 0 },
    n: { type: 'integer', minimum: 0 },
    name: { type: 'string', minLength: 1 },
    tags: { type: 'array', items: { type: 'string' }, maxItems: 16 },
    price: { type: 'number', minimum: 0 },
    stock: { type: 'integer', default: 0 },
  },
};

const VARIANTS = ['none', 'schema', 'schemaHistory', 'schemaAudited', 'schemaHistoryAudited'] as const;
type Variant = (typeof VARIANTS)[number];

const MODELS: Readonly<Record<Variant, CollectionModel | undefined>> = {
  none: undefined,
  schema: { schema: INSERT_DOC_SCHEMA },
  schemaHistory: { schema: INSERT_DOC_SCHEMA, trackHistory: true },
  schemaAudited: { schema: INSERT_DOC_SCHEMA, audited: true },
  schemaHistoryAudited: { schema: INSERT_DOC_SCHEMA, trackHistory: true, audited: true },
};

export interface ModelsBenchOptions {
  readonly rounds: number;
  readonly secondsPerRound: number;
  readonly writers: readonly number[];
}

export async function benchModels(options: ModelsBenchOptions): Promise<Record<string, unknown>> {
  const base = await mkdtemp(join(tmpdir(), 'cs-bench-models-'));
  try {
    const load1AtStart = round3(loadavg()[0]!);
    const byWriters: Record<string, unknown> = {};
    for (const writers of options.writers) {
      // One untimed run first: the first timed round would also pay for compiling the hot paths.
      await durableInserts(
        { openWriter: (dir) => openOurWriter(dir, MODELS.schemaHistoryAudited) },
        await fresh(base, `warm-${writers}`),
        writers,
        0.5,
      );
      const values = await alternate(VARIANTS, options.rounds, async (variant, r) => {
        const dir = await fresh(base, `${variant}-${writers}-${r}`);
        try {
          const run = await durableInserts({ openWriter: (d) => openOurWriter(d, MODELS[variant]) }, dir, writers, options.secondsPerRound);
          progress(`models, ${writers} writer(s), round ${r + 1}/${options.rounds}, ${variant}: ${run.insertsPerSecond}/s`);
          return run.insertsPerSecond;
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });
      const perVariant: Record<string, { insertsPerSecond: Summary; vsNone: ReturnType<typeof pairedRatios> }> = {};
      for (const v of VARIANTS)
        perVariant[v] = { insertsPerSecond: summarize(values[v]), vsNone: v === 'none' ? null : pairedRatios(values[v], values.none) };
      byWriters[`writers${writers}`] = perVariant;
    }
    return {
      setup: "open({ dir, sync: 'batch' }): each insert fsynced (group commit) before it resolves; db.collection('bench', model)",
      schema: INSERT_DOC_SCHEMA,
      rounds: options.rounds,
      secondsPerRound: options.secondsPerRound,
      ...byWriters,
      load1AtStart,
      load1AtEnd: round3(loadavg()[0]!),
    };
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

async function fresh(base: string, name: string): Promise<string> {
  const dir = join(base, name);
  await mkdir(dir, { recursive: true });
  return dir;
}
