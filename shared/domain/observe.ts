import { DEFAULT_POLICY, type PolicySettings } from '#shared/config/schema.ts';
import type { MetricsPort } from '#shared/ports/metrics.ts';
import type { MsfPort } from '#shared/ports/msf.ts';
import { checkpointWindow } from './checkpoints.ts';
import type { ApplicationObservation, MetricSeries, ObservationError } from './model.ts';
import { restartMetricName } from './model.ts';

const MINUTE_MS = 60_000;

/** Ports `observe` reads from. */
export interface ObservePorts {
  msf: MsfPort;
  metrics: MetricsPort;
}

/**
 * Observes one application: DescribeApplication, ListApplicationOperations, ListApplicationSnapshots, and the
 * downtime over the last `lookbackMinutes`, plus numberOfFailedCheckpoints, lastCheckpointDuration and
 * lastCheckpointSize over the checkpoint-stall window derived from the application's CheckpointConfigurationDescription
 * and `checkpointStall` (see `checkpointWindow`), and the restart counter (fullRestarts, or numRestarts on Flink 2.x)
 * over the longer of the two; each with one more minute for a baseline. One GetMetricData read covers all five.
 * Every read that fails
 * becomes an `errors` entry: this function does not throw for API errors.
 *
 * @param lookbackMinutes the restart window, minutes.
 * @param checkpointStall the policy's checkpoint settings; default {@link DEFAULT_POLICY}'s (Flink's defaults).
 */
export async function observe(
  applicationName: string,
  ports: ObservePorts,
  nowMs: number,
  lookbackMinutes: number,
  checkpointStall: PolicySettings['checkpointStall'] = DEFAULT_POLICY.checkpointStall,
): Promise<ApplicationObservation> {
  const errors: ObservationError[] = [];
  const capture = async <T>(source: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (e) {
      errors.push({ source, message: e instanceof Error ? e.message : String(e) });
      return undefined;
    }
  };
  const [application, operations, snapshots] = await Promise.all([
    capture('DescribeApplication', () => ports.msf.describeApplication(applicationName)),
    capture('ListApplicationOperations', () => ports.msf.listOperations(applicationName)),
    capture('ListApplicationSnapshots', () => ports.msf.listSnapshots(applicationName)),
  ]);
  const obs: ApplicationObservation = {
    applicationName,
    atMs: nowMs,
    operations: operations ?? [],
    snapshots: snapshots ?? [],
    errors,
    ...(application ? { application } : {}),
  };
  if (!application) return obs;
  const restartName = restartMetricName(application.runtimeEnvironment);
  const checkpointNames = ['numberOfFailedCheckpoints', 'lastCheckpointDuration', 'lastCheckpointSize'] as const;
  const names = [restartName, 'downtime', ...checkpointNames];
  const start = nowMs - (lookbackMinutes + 1) * MINUTE_MS;
  const checkpointStart = nowMs - (checkpointWindow(application, checkpointStall).windowMinutes + 1) * MINUTE_MS;
  const series = await capture('GetMetricData', () =>
    ports.metrics.getSeries(applicationName, names, Math.min(start, checkpointStart), nowMs),
  );
  if (series) {
    // Downtime keeps its own look-back. The restart series spans the checkpoint window too: restarts there explain
    // failed checkpoints; the restart rules count only inside their own window.
    const from = (s: MetricSeries | undefined, startMs: number) =>
      s ? { ...s, points: s.points.filter((p) => p.timestampMs >= startMs) } : undefined;
    const restarts = series[restartName];
    const downtime = from(series.downtime, start);
    const failedCheckpoints = from(series.numberOfFailedCheckpoints, checkpointStart);
    const lastDuration = from(series.lastCheckpointDuration, checkpointStart);
    const lastSize = from(series.lastCheckpointSize, checkpointStart);
    if (restarts) obs.restarts = restarts;
    if (downtime) obs.downtime = downtime;
    if (failedCheckpoints) obs.failedCheckpoints = failedCheckpoints;
    if (lastDuration) obs.lastCheckpointDuration = lastDuration;
    if (lastSize) obs.lastCheckpointSize = lastSize;
  }
  return obs;
}
