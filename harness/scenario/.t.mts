import yargs from 'yargs';
import { benchRunCommand } from '../cli/bench-run.js';
await yargs(process.argv.slice(2)).command(benchRunCommand).strict().parseAsync();
