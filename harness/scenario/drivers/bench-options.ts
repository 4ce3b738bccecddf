/**
 * A whole-run driver's `options`: the benchmark's options as a strict mapping, named as its flags
 * are, checked by the benchmark's own rules after their types, every problem at once under its key.
 */
import { z } from 'zod';
import type { OptionProblem } from '../../benchmarks/option-problems.js';
import { strictMapping } from '../problems.js';

export function benchmarkOptions<T extends z.ZodRawShape>(shape: T, problemsOf: (options: z.output<z.ZodObject<T>>) => OptionProblem[]) {
  return strictMapping(shape)
    .superRefine(
      (value, context) => {
        if (typeof value !== 'object' || value === null) return;
        // Checked even when some keys have the wrong type: those get their default (or, without one, the checks
        // wait for them), and further problems with them are left out.
        const flagged = new Set(context.issues.map((issue) => String(issue.path?.[0] ?? '')));
        const typed: Record<string, unknown> = { ...value };
        for (const key of flagged) {
          if (!(key in shape)) continue;
          const fallback = (shape[key] as z.ZodType).safeParse(undefined);
          if (!fallback.success) return;
          typed[key] = fallback.data;
        }
        for (const problem of problemsOf(typed as z.output<z.ZodObject<T>>)) {
          if (!flagged.has(problem.option)) context.addIssue({ code: 'custom', path: problem.option === '' ? [] : [problem.option], message: problem.message });
        }
      },
      { when: () => true },
    )
    // Absent: every option at its default (or missing, when it has none).
    .prefault({} as z.input<z.ZodObject<T>>);
}
