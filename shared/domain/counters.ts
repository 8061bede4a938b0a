import type { MetricSeries } from './model.ts';

/*
 * Cumulative counters of a Flink job as MSF publishes them (fullRestarts / numRestarts, numberOfFailedCheckpoints):
 * counted since the job was submitted, so a lower value means a new submission.
 */

/** Result of counting restarts in a cumulative counter series. */
export interface RestartCount {
  /** Restarts seen, count. */
  restarts: number;
  /** Start of the first period whose counter rose, ms; undefined when none rose. */
  firstIncreaseMs?: number;
  /** Start of the last period whose counter rose, ms. */
  lastIncreaseMs?: number;
  /** Times the counter dropped (a new job submission), count. */
  resets: number;
}

/**
 * Counts restarts in a cumulative restart counter (fullRestarts / numRestarts), ascending points.
 *
 * The counter is cumulative since the job was submitted, so restarts are the sum of increases between consecutive
 * datapoints. A lower value than the previous one means a new submission: the counter restarted from 0, so the new
 * value itself is the number of restarts since then (a new baseline, as the Flink Kubernetes operator's
 * ClusterHealthEvaluator does). Missing datapoints are skipped: the increase across a gap is counted once the next
 * datapoint arrives.
 *
 * @param baseline counter value known before the first point (e.g. 0 right after a submission); without it the first
 *   point is only a baseline.
 */
export function countRestarts(series: MetricSeries | undefined, baseline?: number): RestartCount {
  let restarts = 0;
  let resets = 0;
  let firstIncreaseMs: number | undefined;
  let lastIncreaseMs: number | undefined;
  let prev = baseline;
  for (const p of series?.points ?? []) {
    if (!Number.isFinite(p.value) || p.value < 0) continue;
    if (prev !== undefined) {
      const delta = p.value >= prev ? p.value - prev : p.value;
      if (p.value < prev) resets += 1;
      if (delta > 0) {
        restarts += delta;
        firstIncreaseMs ??= p.timestampMs;
        lastIncreaseMs = p.timestampMs;
      }
    }
    prev = p.value;
  }
  return firstIncreaseMs === undefined || lastIncreaseMs === undefined
    ? { restarts, resets }
    : { restarts, resets, firstIncreaseMs, lastIncreaseMs };
}

/** The points of `series` in [fromMs, toMs], preceded by the newest point before `fromMs` (a baseline). */
export function sliceWithBaseline(
  series: MetricSeries | undefined,
  fromMs: number,
  toMs: number,
): MetricSeries | undefined {
  if (!series) return undefined;
  const before = series.points.filter((p) => p.timestampMs < fromMs).at(-1);
  const inside = series.points.filter((p) => p.timestampMs >= fromMs && p.timestampMs <= toMs);
  return { ...series, points: before ? [before, ...inside] : inside };
}
