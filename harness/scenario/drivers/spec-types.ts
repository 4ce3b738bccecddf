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
  variants: VariantBase[];
}

/** Something the run stands up, as the plan lists it. */
export interface PlannedService {
  kind: string;
  /** What it is for, such as "agent with the image cached". */
  detail: string;
}

export interface DriverSpecDefinition<S extends DriverSpecBase = DriverSpecBase> {
  kind: string;
  /** The scenario keys besides the common ones (name, images, registry, ...), as a strict mapping. */
  schema: z.ZodType<S, unknown> & { shape: Record<string, unknown> };
  /** Image names the spec refers to, with the field that names each (checked against `images`). */
  imagesUsed(spec: S): Array<{ path: string; image: string }>;
  /** Trace files its workload replays, relative to the scenario. */
  traceFiles(spec: S): string[];
  services(spec: S): PlannedService[];
  /** Lines describing one trial's workload. */
  describeTrial(spec: S): string[];
}
