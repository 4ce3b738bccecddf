/** Reads a scenario file: YAML, the schema, and the files it names (image specs, traces), every problem at once. */
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { parseTrace, scheduleOffsets } from '../load/schedule.js';
import { ROOT, scenarioError, type ScenarioProblem } from './problems.js';
import { parseScenario, type Scenario, type ScenarioOverrides } from './schema.js';

export interface LoadedScenario {
  scenario: Scenario;
  /** Absolute path of the scenario file; relative paths in it are relative to its directory. */
  path: string;
  /** Image spec files by image name, absolute. */
  imageSpecs: Record<string, string>;
  /** Replayed traces by the file name the scenario gives, as offsets in ms. */
  traces: Record<string, number[]>;
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** Reads and checks the scenario, with overrides (a command's flags) merged into the driver's keys. */
export async function loadScenario(file: string, overrides: ScenarioOverrides = {}): Promise<LoadedScenario> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw scenarioError(file, [{ path: ROOT, message: `expected a readable scenario file (${(error as Error).message})` }]);
  }
  const document = parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0) {
    throw scenarioError(file, document.errors.map((error) => ({ path: ROOT, message: `expected valid YAML: ${error.message.split('\n')[0]}` })));
  }
  const parsed = parseScenario(document.toJS(), file, overrides);
  const problems: ScenarioProblem[] = [...parsed.problems];
  const base = dirname(path);
  for (const input of parsed.inputs.specFiles) {
    if (!(await isFile(resolve(base, input.file)))) problems.push({ path: input.path, message: `expected an image spec file (${resolve(base, input.file)} does not exist)` });
  }
  const traces: Record<string, number[]> = {};
  for (const trace of parsed.inputs.traceFiles) {
    try {
      traces[trace] = parseTrace(await readFile(resolve(base, trace), 'utf8'));
      // Refuses offsets out of order, as the scheduler would.
      scheduleOffsets({ pattern: 'trace', offsetsMs: traces[trace]! }, { count: traces[trace]!.length });
      if (traces[trace]!.length === 0) problems.push({ path: 'workload.open.file', message: `expected at least one offset in ${trace}` });
    } catch (error) {
      problems.push({ path: 'workload.open.file', message: `expected a readable trace of offsets in ms (${(error as Error).message})` });
    }
  }
  if (problems.length > 0 || parsed.scenario === undefined) throw scenarioError(file, problems);
  const imageSpecs = Object.fromEntries(parsed.scenario.images.flatMap((image) => ('spec' in image ? [[image.name, resolve(base, image.spec)]] : [])));
  return { scenario: parsed.scenario, path, imageSpecs, traces };
}
