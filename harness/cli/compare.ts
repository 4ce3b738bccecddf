import type { Argv, CommandModule } from 'yargs';
import { compareRuns } from '../gate/compare.js';
import { renderComparisonMarkdown } from '../gate/markdown.js';
import { readResults } from '../results/read.js';
import { handler, printJson, say, type JsonFlag } from './output.js';

interface CompareArgs extends JsonFlag {
  a: string;
  b: string;
}

export const compareCommand: CommandModule<object, CompareArgs> = {
  command: 'compare <a> <b>',
  describe: 'Two results files side by side: p50, p90 and p99 per variant, with bootstrap intervals of B/A',
  builder: (yargs: Argv) =>
    yargs
      .positional('a', { type: 'string', demandOption: true, describe: 'results.json of run A (the reference)' })
      .positional('b', { type: 'string', demandOption: true, describe: 'results.json of run B' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the comparison as JSON on stdout' }) as unknown as Argv<CompareArgs>,
  handler: handler(async (argv: CompareArgs) => {
    const [a, b] = await Promise.all([readResults(argv.a), readResults(argv.b)]);
    const comparison = compareRuns(a, b);
    say(renderComparisonMarkdown(comparison));
    if (argv.json) printJson(comparison);
  }),
};
