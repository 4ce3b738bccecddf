/**
 * What each kind of driver declares about its part of a scenario, all pure: the schema of its
 * keys (variants, workload, ...), the images it uses, the services it needs and how its workload
 * reads in a plan. The engine and the planner work from these and never branch on the kind.
 */
import type { z } from 'zod';

export interface VariantBase {
  name: string;
}

export interface DriverSpecBase {
  /** The variants a trial driver runs (a whole-run driver's benchmark names its own: see WholeRunSpec). */
  variants?: VariantBase[];
}

/** Something the run stands up, as the plan lists it. */
export interface PlannedService {
  kind: string;
  /** What it is for, such as "agent with the image cached". */
  detail: string;
}

export interface DriverSpecDefinition<S = DriverSpecBase> {
  kind: string;
  /** The scenario keys besides the common ones (name, images, registry, ...), as a strict mapping. */
  schema: z.ZodType<S, unknown> & { shape: Record<string, unknown> };
  /** Image names the spec refers to, with the field that names each (checked against `images`). */
  imagesUsed(spec: S): Array<{ path: string; image: string }>;
  /** Trace files its workload replays, relative to the scenario. */
  traceFiles(spec: S): string[];
  services(spec: S): PlannedService[];
  /** Lines describing one trial's workload (a whole-run driver: the benchmark's run). */
  describeTrial(spec: S): string[];
  /** Image spec files its keys name (relative to the scenario), checked to exist with the scenario. */
  specFiles?(spec: S): Array<{ path: string; file: string }>;
  /** Set for a driver whose measurement is one whole benchmark run (see WholeRunSpec). */
  wholeRun?: WholeRunSpec<S>;
}

/**
 * A driver whose measurement is one whole benchmark run: the benchmark interleaves its variants
 * itself and stands up its own services, so the scenario's keys about trials, images and links do
 * not apply, and its options are under `options`.
 */
export interface WholeRunSpec<S> {
  /** The variants the benchmark reports in results.json, as it names them. */
  variants(spec: S): string[];
  /** What thresholds can name besides those variants: figures derived from them (a ratio, an overhead), by name and by id. */
  subjects(spec: S): string[];
}
