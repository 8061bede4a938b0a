/**
 * Restart-loop figures of a drill run, for issue 9's goals: the decision ≤ 30 s after the threshold-th restart's
 * datapoint can first be seen (period end + the modelled metrics delay), and a looping bad deploy acted on before its
 * 5th restart. Pure: the drill gives it the restart counter's datapoints (as CloudWatch stored them) and the times.
 */

const MINUTE_MS = 60_000;

/** One 1-minute datapoint of the restart counter (fullRestarts/numRestarts, statistic Maximum). */
export interface CounterDatapoint {
  /** Start of the 1-minute period, epoch ms. */
  readonly periodStartMs: number;
  /** The counter's largest sample in the period, count. */
  readonly value: number;
}

/** Input of {@link restartLoopFigures}; every time is epoch ms. */
export interface RestartLoopEvidence {
  /** The restart counter's datapoints, any order. */
  readonly datapoints: readonly CounterDatapoint[];
  /** The loop's onset: the first restart of the looping job, as the drill saw it (its tick may be late). */
  readonly onsetMs: number;
  /** How late the drill may have seen the onset (its tick), ms. */
  readonly onsetToleranceMs: number;
  /** The detector's decision (the incident's openedMs). */
  readonly decisionMs: number;
  /** The policy's restartLoop.threshold, count (≥ 1). */
  readonly threshold: number;
  /** Delay from a period's end until its datapoint is stored (the emulator's metricsDelaySeconds), ms. */
  readonly metricsDelayMs: number;
  /** The watchdog's first mutating MSF call on the application; undefined without one. */
  readonly firstActionMs: number | undefined;
  /** The looping job's restart counter at a time (the drill's view), undefined before any observation. */
  readonly counterAt: (ms: number) => number | undefined;
}

/** Restart-loop figures of one scenario. */
export interface RestartLoopFigures {
  /** The policy's threshold, restarts. */
  readonly threshold: number;
  /** Start of the first period whose datapoint shows the threshold-th restart of the looping job; null if none. */
  readonly thresholdPeriodStartMs: number | null;
  /** When that datapoint can first be seen: period end + metrics delay, epoch ms; null if none. */
  readonly thresholdVisibleMs: number | null;
  /** Seconds from thresholdVisibleMs to the decision (goal ≤ 30; negative: decided before it could be seen). */
  readonly decisionAfterVisibleSeconds: number | null;
  /** The looping job's restart count when the watchdog made its first mutating call (goal: below 5); null without. */
  readonly restartsAtFirstAction: number | null;
}

/**
 * The figures: the looping job's datapoints are those from the period holding the onset (less the tolerance) on,
 * up to the first fall of the counter (a new job); the threshold-th restart is the first of them at or above the
 * threshold (the job's counter starts at 0).
 */
export function restartLoopFigures(e: RestartLoopEvidence): RestartLoopFigures {
  const fromMs = Math.floor((e.onsetMs - e.onsetToleranceMs) / MINUTE_MS) * MINUTE_MS;
  const series = [...e.datapoints]
    .filter((d) => d.periodStartMs >= fromMs)
    .sort((a, b) => a.periodStartMs - b.periodStartMs);
  let previous = -1;
  let hit: CounterDatapoint | undefined;
  for (const d of series) {
    if (d.value < previous) break;
    previous = d.value;
    if (d.value >= e.threshold) {
      hit = d;
      break;
    }
  }
  const visibleMs = hit ? hit.periodStartMs + MINUTE_MS + e.metricsDelayMs : null;
  const atAction = e.firstActionMs === undefined ? undefined : e.counterAt(e.firstActionMs);
  return {
    threshold: e.threshold,
    thresholdPeriodStartMs: hit?.periodStartMs ?? null,
    thresholdVisibleMs: visibleMs,
    decisionAfterVisibleSeconds: visibleMs === null ? null : Math.round((e.decisionMs - visibleMs) / 1000),
    restartsAtFirstAction: atAction ?? null,
  };
}

/** {@link RestartLoopFigures} as JSON (`drill --json`, `bench --json`): times as ISO-8601 strings. */
export interface RestartLoopJson {
  threshold: number;
  thresholdPeriodStart: string | null;
  thresholdVisibleAt: string | null;
  decisionAfterVisibleSeconds: number | null;
  restartsAtFirstAction: number | null;
}

/** Renders {@link RestartLoopFigures} as {@link RestartLoopJson}. */
export function restartLoopJson(f: RestartLoopFigures): RestartLoopJson {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    threshold: f.threshold,
    thresholdPeriodStart: iso(f.thresholdPeriodStartMs),
    thresholdVisibleAt: iso(f.thresholdVisibleMs),
    decisionAfterVisibleSeconds: f.decisionAfterVisibleSeconds,
    restartsAtFirstAction: f.restartsAtFirstAction,
  };
}
