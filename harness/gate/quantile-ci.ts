/**
 * Distribution-free confidence intervals of a quantile: a pair of order statistics that bracket the
 * true quantile with at least the asked probability, whatever the distribution. They exist only
 * from a minimum sample size (at 95%: 6 for p50, 29 for p90, 59 for p95, 299 for p99); below it no
 * pair of samples is wide enough, which is why p99 is gated against absolute limits.
 */

export interface QuantileInterval {
  low: number;
  high: number;
  /** The exact probability that [low, high] holds the quantile (>= the confidence asked). */
  coverage: number;
}

/** P(Binomial(n, p) <= k) for k = 0..n, computed in log space so large n does not underflow. */
function binomialCdf(n: number, p: number): Float64Array {
  const logFactorial = new Float64Array(n + 1);
  for (let i = 2; i <= n; i += 1) logFactorial[i] = logFactorial[i - 1]! + Math.log(i);
  const cdf = new Float64Array(n + 1);
  let sum = 0;
  for (let k = 0; k <= n; k += 1) {
    sum += Math.exp(logFactorial[n]! - logFactorial[k]! - logFactorial[n - k]! + k * Math.log(p) + (n - k) * Math.log1p(-p));
    cdf[k] = Math.min(1, sum);
  }
  return cdf;
}

/** The smallest n for which the sample's minimum and maximum bracket the q-quantile with `confidence`. */
export function minSamplesForQuantileCi(q: number, confidence = 0.95): number {
  let n = 1;
  while (1 - q ** n - (1 - q) ** n < confidence) n += 1;
  return n;
}

/**
 * The interval for the q-quantile of `sorted` (ascending), or undefined when n is too small. Each tail
 * gets half the allowed miss probability; a tail that cannot be that small (the sample's extreme
 * already) leaves its unused share to the other.
 */
export function quantileCi(sorted: readonly number[], q: number, confidence = 0.95): QuantileInterval | undefined {
  const n = sorted.length;
  if (n === 0 || n < minSamplesForQuantileCi(q, confidence)) return undefined;
  // B = how many samples fall below the quantile ~ Binomial(n, q). The 1-based order statistics l and u
  // bracket it when l <= B <= u - 1: P(B < l) = cdf[l-1], P(B >= u) = 1 - cdf[u-1].
  const cdf = binomialCdf(n, q);
  const alpha = 1 - confidence;
  const belowMass = (l: number) => cdf[l - 1]!;
  const aboveMass = (u: number) => 1 - cdf[u - 1]!;
  const largestLow = (budget: number) => {
    let l = 1;
    while (l + 1 <= n && belowMass(l + 1) <= budget) l += 1;
    return l;
  };
  const smallestHigh = (budget: number) => {
    let u = n;
    while (u - 1 >= 1 && aboveMass(u - 1) <= budget) u -= 1;
    return u;
  };
  let l: number;
  let u: number;
  if (belowMass(1) > alpha / 2) {
    l = 1;
    u = smallestHigh(alpha - belowMass(1));
  } else if (aboveMass(n) > alpha / 2) {
    u = n;
    l = largestLow(alpha - aboveMass(n));
  } else {
    l = largestLow(alpha / 2);
    u = smallestHigh(alpha / 2);
  }
  const coverage = 1 - belowMass(l) - aboveMass(u);
  return { low: sorted[l - 1]!, high: sorted[u - 1]!, coverage };
}
