/** Which cache entries to evict to get under a byte budget: least recently used first, never protected ones. */

export interface CacheEntry {
  /** `blob:<digest>` or `snapshot:<digest>`. */
  key: string;
  bytes: number;
  /** Milliseconds since the epoch of the last use. */
  lastUsedMs: number;
}

export interface EvictionPlan {
  evict: CacheEntry[];
  /** Bytes held after the evictions. */
  bytesAfter: number;
  /** True when protected entries alone exceed the budget. */
  overBudget: boolean;
}

export function planEviction(entries: readonly CacheEntry[], budgetBytes: number, protectedKeys: ReadonlySet<string>): EvictionPlan {
  let bytesAfter = entries.reduce((sum, entry) => sum + entry.bytes, 0);
  const evict: CacheEntry[] = [];
  if (bytesAfter <= budgetBytes) return { evict, bytesAfter, overBudget: false };
  const candidates = entries
    .filter((entry) => !protectedKeys.has(entry.key))
    .sort((a, b) => a.lastUsedMs - b.lastUsedMs || a.key.localeCompare(b.key));
  for (const entry of candidates) {
    if (bytesAfter <= budgetBytes) break;
    evict.push(entry);
    bytesAfter -= entry.bytes;
  }
  return { evict, bytesAfter, overBudget: bytesAfter > budgetBytes };
}
