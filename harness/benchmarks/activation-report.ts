/** What `bench activation` prints on stderr: per server p50/p90/p99 per variant and the agent's phase medians, then the targets. */
import { summaryHeader, summaryRow, targetLines } from '../report/console.js';
import { machineLine } from '../report/tables.js';
import type { ActivationBenchResult } from './activation.js';

export function activationReportLines(result: ActivationBenchResult): string[] {
  const lines = ['', `sandbox ${result.sandbox}, ${result.runs} rounds; idle agent RSS ${(result.idleAgentRssBytes / 2 ** 20).toFixed(1)} MiB`, `machine: ${machineLine(result.machine)}`];
  for (const server of result.servers) {
    lines.push(
      '',
      summaryHeader(`${server.server}: to initialize answered (ms)`),
      summaryRow('bare spawn on the host', server.variants.bare),
      summaryRow('agent, image cached', server.variants.warm),
      summaryRow('agent, image not cached', server.variants.cold),
      summaryRow('seed: skopeo + tar + chroot', server.variants.seed),
    );
    for (const [variant, phases] of Object.entries(server.phases)) {
      lines.push(`  ${variant} phase medians: ${Object.entries(phases).map(([k, v]) => `${k.replace(/Ms$/, '')} ${v.toFixed(1)}`).join(', ')}`);
    }
  }
  return [...lines, '', ...targetLines(result.targets)];
}
