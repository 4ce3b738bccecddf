/** The backend sources by kind: the one place that maps a backend spec to its implementation. */
import type { BackendSpec } from '../options.js';
import { PoolBackendSource } from './pool/index.js';
import { StdioBackendSource } from './stdio/index.js';
import type { BackendSource } from './types.js';

export interface SourceTimings {
  readinessTimeoutMs: number;
  stopGraceMs: number;
}

export function createBackendSource(spec: BackendSpec, timings: SourceTimings): BackendSource {
  switch (spec.kind) {
    case 'stdio':
      return new StdioBackendSource({ ...spec, readinessTimeoutMs: timings.readinessTimeoutMs, stopGraceMs: timings.stopGraceMs });
    case 'pool':
      return new PoolBackendSource({
        controller: new URL(spec.controller),
        image: spec.image,
        ...(spec.token ? { token: spec.token } : {}),
        readinessTimeoutMs: timings.readinessTimeoutMs,
      });
  }
}
