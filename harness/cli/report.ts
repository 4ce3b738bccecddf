import { copyFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { readResults } from '../results/read.js';
import { renderReportInto } from '../report/run-dir.js';
import { handler, printJson, say, type JsonFlag } from './output.js';

interface ReportArgs extends JsonFlag {
  results: string;
  out?: string;
}

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: 'report <results>',
  describe: 'Render report.md, report.html and the PNG charts again from a results.json',
  builder: (yargs: Argv) =>
    yargs
      .positional('results', { type: 'string', demandOption: true, describe: 'A results.json written by mcpwarm bench' })
      .option('out', { type: 'string', describe: "Directory to write to (default: the results file's); results.json is copied there too" })
      .option('json', { type: 'boolean', default: false, describe: 'Print {dir, files} on stdout' }) as unknown as Argv<ReportArgs>,
  handler: handler(async (argv: ReportArgs) => {
    const document = await readResults(argv.results);
    const dir = resolve(argv.out ?? dirname(argv.results));
    const files = await renderReportInto(document, dir);
    if (dir !== resolve(dirname(argv.results))) {
      await copyFile(argv.results, join(dir, 'results.json'));
      files.unshift('results.json');
    }
    say(`run ${document.runId}: wrote ${files.join(', ')} to ${dir}`);
    if (argv.json) printJson({ dir, files });
  }),
};
