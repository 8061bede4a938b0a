import { CloudWatchEmulator } from '#sandbox/emulator/cloudwatch.ts';
import { type ApplicationInspection, MsfEmulator, type TransitionTimings } from '#sandbox/emulator/msf.ts';
import { type RecordedCall, startEmulatorServer } from '#sandbox/emulator/server.ts';
import type { ScenarioWorld } from '#sandbox/scenario.ts';
import type { Clock } from '#shared/clock.ts';
import type { AlarmStateChangeEvent } from '#shared/events/alarm-state-change.ts';

export {
  DEFAULT_ALARM_EVALUATION_OFFSET_SECONDS,
  DEFAULT_METRIC_HISTORY_MINUTES,
  DEFAULT_METRICS_DELAY_SECONDS,
  METRIC_SNAPSHOTS_PER_MINUTE,
} from '#sandbox/emulator/metric-publisher.ts';
export type { TransitionTimings } from '#sandbox/emulator/msf.ts';
export { AUTOSCALE_OPERATION, DEFAULT_TRANSITION_TIMINGS, MAINTENANCE_OPERATION } from '#sandbox/emulator/msf.ts';
export type { RecordedCall } from '#sandbox/emulator/server.ts';

/** Options of {@link startEmulator}. */
export interface EmulatorOptions {
  /**
   * Shared with the drill; the emulator reads it but never advances it, except when it is a DrivableClock
   * (sandbox/clock.ts, as in `flink-watchdog sandbox`): then clients drive it with `/sandbox/clock` (server.ts).
   */
  clock: Clock;
  /** applications / jobModel / faults / startTime of a scenario. @default an empty emulator */
  world?: ScenarioWorld;
  /** AWS region in ARNs and alarm events. @default 'eu-west-1' */
  region?: string;
  /** 12-digit account id in ARNs and alarm events. @default '123456789012' */
  accountId?: string;
  /** Seconds per transient status (STARTING, UPDATING, STOPPING, FORCE_STOPPING, ROLLING_BACK, AUTOSCALING). */
  timings?: Partial<TransitionTimings>;
  /**
   * CloudWatch timing, whole seconds; each field overrides the scenario's `cloudwatch` setting.
   * `metricsDelaySeconds`: a minute's MSF datapoints are stored this long after the minute ends
   * (@default DEFAULT_METRICS_DELAY_SECONDS). `alarmEvaluationOffsetSeconds` (0–59): alarms are evaluated this long
   * after each minute boundary (@default DEFAULT_ALARM_EVALUATION_OFFSET_SECONDS). `metricHistoryMinutes` (0–1440):
   * minutes of datapoints stored at start for the applications running then (@default DEFAULT_METRIC_HISTORY_MINUTES).
   */
  cloudwatch?: { metricsDelaySeconds?: number; alarmEvaluationOffsetSeconds?: number; metricHistoryMinutes?: number };
}

/** A running local MSF + CloudWatch emulator. */
export interface Emulator {
  /** Base URL for SDK v3 clients (`endpoint` option or AWS_ENDPOINT_URL), e.g. `http://127.0.0.1:41234`. */
  readonly endpoint: string;
  readonly region: string;
  readonly accountId: string;
  /** Every API request in arrival order. */
  readonly calls: readonly RecordedCall[];
  /** The CloudWatch half: metric store, alarms, alarm evaluation. */
  readonly cloudwatch: CloudWatchEmulator;
  /**
   * Processes the world up to `epochMs` (transient statuses end, jobs fail/restart/checkpoint, metrics sampled and
   * stored when due, alarms evaluated at each minute boundary + the evaluation offset). Idempotent; never goes
   * backwards.
   */
  advanceTo(epochMs: number): void;
  /** Subscribes to "CloudWatch Alarm State Change" events; returns the unsubscribe function. */
  onAlarmEvent(listener: (e: AlarmStateChangeEvent) => void): () => void;
  /**
   * Read-only view for the drill and tests: current status, version id, job state, restart and failed-checkpoint
   * counts — as of the last advanceTo or API request (inspect itself does not advance the world).
   */
  inspect(
    applicationName: string,
  ):
    | { status: string; versionId: number; jobRunning: boolean; restarts: number; failedCheckpoints: number }
    | undefined;
  /** Stops the HTTP server. */
  close(): Promise<void>;
}

/**
 * Starts the emulator: MSF state seeded from `world`, CloudWatch, and an HTTP server on 127.0.0.1 (free port) that
 * calls `advanceTo(clock.now())` at the start of every request. Alarm events produced at an alarm evaluation (each
 * minute boundary + the evaluation offset) are delivered synchronously, in order, to the listeners registered with
 * `onAlarmEvent`.
 * @throws RangeError when a CloudWatch timing setting is out of range; Error when the scenario world is inconsistent
 *   (an application defined twice) or the server cannot listen.
 */
export async function startEmulator(opts: EmulatorOptions): Promise<Emulator> {
  const region = opts.region ?? 'eu-west-1';
  const accountId = opts.accountId ?? '123456789012';
  const { clock } = opts;
  const listeners: { readonly fn: (e: AlarmStateChangeEvent) => void }[] = [];
  // SetAlarmState's event goes to the listeners at once, as CloudWatch puts it on the bus when the state changes.
  const cloudwatch = new CloudWatchEmulator({
    clock,
    region,
    accountId,
    onAlarmEvent: (event) => {
      for (const listener of [...listeners]) listener.fn(event);
    },
  });
  const msf = new MsfEmulator({
    clock,
    region,
    accountId,
    ...(opts.world ? { world: opts.world } : {}),
    ...(opts.timings ? { timings: opts.timings } : {}),
    ...(opts.cloudwatch?.metricsDelaySeconds === undefined
      ? {}
      : { metricsDelaySeconds: opts.cloudwatch.metricsDelaySeconds }),
    ...(opts.cloudwatch?.alarmEvaluationOffsetSeconds === undefined
      ? {}
      : { alarmEvaluationOffsetSeconds: opts.cloudwatch.alarmEvaluationOffsetSeconds }),
    ...(opts.cloudwatch?.metricHistoryMinutes === undefined
      ? {}
      : { metricHistoryMinutes: opts.cloudwatch.metricHistoryMinutes }),
    metrics: cloudwatch,
    onAlarmEvaluation: (atMs) => {
      for (const event of cloudwatch.evaluateAlarms(atMs)) {
        for (const listener of [...listeners]) listener.fn(event);
      }
    },
  });
  const calls: RecordedCall[] = [];
  const server = await startEmulatorServer({
    clock,
    advance: () => msf.advanceTo(clock.now()),
    kinesisAnalytics: (operation, input) => msf.handle(operation, input),
    cloudWatch: (operation, input) => cloudwatch.handle(operation, input),
    record: (call) => calls.push(call),
  });

  return {
    endpoint: server.endpoint,
    region,
    accountId,
    calls,
    cloudwatch,
    advanceTo: (epochMs) => msf.advanceTo(epochMs),
    onAlarmEvent(fn) {
      const entry = { fn };
      listeners.push(entry);
      return () => {
        const index = listeners.indexOf(entry);
        if (index >= 0) listeners.splice(index, 1);
      };
    },
    inspect: (applicationName): ApplicationInspection | undefined => msf.inspect(applicationName),
    close: () => server.close(),
  };
}
