// `node --import tsx bench/compare-files.ts SAVED NEW`: the regression guard on two saved runs
// (the JSON `npm run -s bench` printed), without running a benchmark. Exit code 1 when a
// measure is more than 15 % worse, 2 when nothing could be compared.
import { readFileSync } from 'node:fs';
import { compareGuards, formatComparison, guardOfOutput } from './compare.ts';

const [savedFile, newFile] = process.argv.slice(2);
if (savedFile === undefined || newFile === undefined) {
  console.error('usage: node --import tsx bench/compare-files.ts SAVED.json NEW.json');
  process.exit(2);
}
const read = (file: string) => guardOfOutput(JSON.parse(readFileSync(file, 'utf8')) as unknown);
const saved = read(savedFile);
const next = read(newFile);
if (saved.suite !== next.suite) {
  console.error(`${savedFile} is a run of the ${saved.suite} suite, ${newFile} of ${next.suite}`);
  process.exit(2);
}
const comparison = compareGuards(saved.guard, next.guard);
console.log(formatComparison(comparison));
process.exitCode = comparison.compared === 0 ? 2 : comparison.worse.length > 0 ? 1 : 0;
