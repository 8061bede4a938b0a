import type { MetricsPort } from '#shared/ports/metrics.ts';
import type { MsfPort } from '#shared/ports/msf.ts';
import type { ApplicationObservation, ObservationError } from './model.ts';
import { restartMetricName } from './model.ts';

const MINUTE_MS = 60_000;

/** Ports `observe` reads from. */
export interface ObservePorts {
  msf: MsfPort;
  metrics: MetricsPort;
}

/**
 * Observes one application: DescribeApplication, ListApplicationOperations, ListApplicationSnapshots, and the
 * restart counter (fullRestarts, or numRestarts on Flink 2.x), downtime and numberOfFailedCheckpoints series over
 * the last `lookbackMinutes` (+1 minute for a baseline). Every read that fails becomes an `errors` entry: this
 * function does not throw for API errors.
 */
export async function observe(
  applicationName: string,
  ports: ObservePorts,
  nowMs: number,
  lookbackMinutes: number,
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
  const names = [restartName, 'downtime', 'numberOfFailedCheckpoints'];
  const start = nowMs - (lookbackMinutes + 1) * MINUTE_MS;
  const series = await capture('GetMetricData', () => ports.metrics.getSeries(applicationName, names, start, nowMs));
  if (series) {
    const restarts = series[restartName];
    const downtime = series.downtime;
    const failedCheckpoints = series.numberOfFailedCheckpoints;
    if (restarts) obs.restarts = restarts;
    if (downtime) obs.downtime = downtime;
    if (failedCheckpoints) obs.failedCheckpoints = failedCheckpoints;
  }
  return obs;
}
