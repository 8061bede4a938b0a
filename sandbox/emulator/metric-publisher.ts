import type { JobStatus } from '#sandbox/emulator/job.ts';

/**
 * The AWS/KinesisAnalytics metric publisher of the MSF emulator: when MSF samples a job's metrics, which metrics a
 * runtime publishes, and when each minute's datapoints become visible in CloudWatch.
 *
 * Timing model (each rule with its source below):
 * - MSF takes {@link METRIC_SNAPSHOTS_PER_MINUTE} snapshots of a job's metrics per minute; every snapshot is one
 *   sample of the 1-minute period it falls in, so `Maximum` is the largest of the four.
 * - A minute's datapoints (timestamp = start of the period) are stored in CloudWatch `metricsDelaySeconds` after the
 *   period ends ({@link DEFAULT_METRICS_DELAY_SECONDS}), later or never for an application under a `metrics-delayed`
 *   or `metrics-missing` scenario fault. Nothing else leaves a gap.
 * - Alarms are evaluated `alarmEvaluationOffsetSeconds` after each minute boundary
 *   ({@link DEFAULT_ALARM_EVALUATION_OFFSET_SECONDS}), on the data stored by then.
 */

/**
 * Snapshots of a job's metrics per minute. Source: MSF metrics page, usage notes of numRecordsIn and others: "As
 * Managed Service for Apache Flink takes 4 metric snapshots per minute"
 * (https://docs.aws.amazon.com/managed-flink/latest/java/metrics-dimensions.html). The emulator takes them at 15, 30,
 * 45 and 60 s into each minute, each one a separate sample of that minute's datapoint (SampleCount 4).
 *
 * Consequence for `downtime` (a gauge of the current outage, 0 while running): `Maximum` over the minute sees every
 * outage that is still going on at one of the four snapshots, i.e. every outage of 15 s or more, and shorter ones only
 * when a snapshot falls inside them. That is what MSF's documented sampling gives; the emulator does not widen it.
 */
export const METRIC_SNAPSHOTS_PER_MINUTE = 4;

/**
 * Seconds after the end of a 1-minute period at which MSF's datapoints for that period are stored in CloudWatch.
 *
 * No AWS document states the publication delay of AWS/KinesisAnalytics metrics. The only bound found is AWS's sample
 * "CloudWatch Alarm State Change" event for a 60-second period (CloudWatch User Guide, "Alarm events and
 * EventBridge", https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html,
 * anomaly detection sample): evaluated at 16:00:04.650 (queryDate), its newest datapoint is the period starting
 * 15:58:00. The period that had ended 4.65 s before was not yet there, the one that had ended 64.65 s before was: the
 * delay lies between 4.65 s and 64.65 s. Assumption: 60 s, near the conservative end of that range; with the
 * evaluation offset below, an alarm evaluates data one period behind, as in the sample.
 */
export const DEFAULT_METRICS_DELAY_SECONDS = 60;

/**
 * Seconds after each minute boundary at which CloudWatch evaluates alarms. Source: the same AWS sample events
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html): the 60-second
 * alarm's queryDate values are 15:59:04.670 and 16:00:04.650, i.e. 4.65–4.67 s after the minute. The emulator runs in
 * whole seconds: 5 s.
 */
export const DEFAULT_ALARM_EVALUATION_OFFSET_SECONDS = 5;

/**
 * Minutes of metric history the emulator stores at start for the applications that are RUNNING when a scenario
 * starts (their jobs have run for hours; CloudWatch would hold their datapoints). Assumption: one hour covers every
 * alarm's and the detector's look-back in the bundled configurations (the longest, a checkpoint-stall window with
 * Flink's defaults, is 20 min).
 */
export const DEFAULT_METRIC_HISTORY_MINUTES = 60;

/** Namespace of MSF's application metrics. */
export const MSF_NAMESPACE = 'AWS/KinesisAnalytics';

/** One datapoint for the metric store; `timestampMs` = start of the 1-minute period it describes. */
export interface MetricDatapoint {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Record<string, string>;
  readonly timestampMs: number;
  readonly value: number;
  readonly unit?: string;
}

/** Where the emulator publishes metrics (the CloudWatch emulator's `putDatapoint`). */
export interface MetricSink {
  putDatapoint(p: MetricDatapoint): void;
}

/** A window of periods, epoch ms: `[fromMs, toMs)`; `toMs` undefined = never ends. */
export interface PeriodWindow {
  readonly fromMs: number;
  readonly toMs?: number;
}

/** Scenario fault `metrics-delayed`, resolved: datapoints of periods in the window arrive `extraDelayMs` late. */
export interface DelayedMetricsWindow extends PeriodWindow {
  readonly extraDelayMs: number;
}

/** Scenario fault `metrics-missing`, resolved: datapoints of periods in the window are never stored. */
export interface MissingMetricsWindow extends PeriodWindow {
  /** Only these metric names; undefined = every metric of the application. */
  readonly metricNames?: readonly string[];
}

/** Publication faults of one application. */
export interface PublicationFaults {
  readonly delayed: readonly DelayedMetricsWindow[];
  readonly missing: readonly MissingMetricsWindow[];
}

/** Construction parameters of {@link MetricPublisher}. */
export interface MetricPublisherOptions {
  readonly sink: MetricSink;
  /** Whole seconds after a period's end at which its datapoints are stored. @default DEFAULT_METRICS_DELAY_SECONDS */
  readonly delaySeconds?: number;
}

const MINUTE_MS = 60_000;
const SNAPSHOT_INTERVAL_MS = MINUTE_MS / METRIC_SNAPSHOTS_PER_MINUTE;

/** `true` when epoch ms `t` is one of MSF's metric snapshot instants (every 15 s on the minute grid). */
export function isSnapshotInstant(t: number): boolean {
  return t % SNAPSHOT_INTERVAL_MS === 0;
}

/** Start (epoch ms) of the 1-minute period a snapshot at `t` belongs to: the one ending at or after `t`. */
export function periodOfSnapshot(t: number): number {
  return Math.ceil(t / MINUTE_MS) * MINUTE_MS - MINUTE_MS;
}

/**
 * Major and minor Flink version of a RuntimeEnvironment (`FLINK-1_20` → [1, 20]); undefined for other runtimes
 * (SQL-1_0, ZEPPELIN-FLINK-3_0) or unknown spellings.
 */
export function flinkVersion(runtimeEnvironment: string): readonly [number, number] | undefined {
  const match = /^FLINK-(\d+)_(\d+)$/.exec(runtimeEnvironment);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

/**
 * The application-level metrics MSF publishes for a job in one snapshot, as name → value and unit.
 *
 * - `uptime`, `downtime` (ms): published on every runtime. On FLINK-2_x they are deprecated, not removed: "The
 *   `uptime` and `downtime` metrics are deprecated and will be removed in a future release" (MSF metrics page, "Flink
 *   2.2 metric changes", https://docs.aws.amazon.com/managed-flink/latest/java/metrics-dimensions.html).
 * - restarts: `fullRestarts` before Flink 2; on FLINK-2_x "The `fullRestarts` metric has been removed. Use
 *   `numRestarts` instead" (same section).
 * - `numberOfFailedCheckpoints` (Count), `lastCheckpointDuration` (ms), `lastCheckpointSize` (Bytes): the checkpoint
 *   metrics of the MSF metrics page, Application level. Before a checkpoint completes, Flink's last-checkpoint gauges
 *   report -1 (Flink CheckpointStatsTracker; an assumption that MSF forwards the gauge as it is).
 * - From Flink 2.2, also `runningTime`, `restartingTime`, `failingTime`, `cancellingTime` (ms; "Available from Flink
 *   2.2", same page): Flink's job-status gauges, the time spent in that state while the job is in it, else 0 (Flink
 *   metrics reference, Availability). Assumption: the job model's whole down phase (backoff + restart) counts as
 *   RESTARTING, so `restartingTime` equals `downtime`, and `failingTime`/`cancellingTime` stay 0.
 */
export function snapshotMetrics(
  runtimeEnvironment: string,
  status: JobStatus,
): ReadonlyArray<{ readonly metricName: string; readonly value: number; readonly unit: string }> {
  const [major, minor] = flinkVersion(runtimeEnvironment) ?? [1, 0];
  const stateTimes =
    major > 2 || (major === 2 && minor >= 2)
      ? [
          { metricName: 'runningTime', value: status.uptimeMs, unit: 'Milliseconds' },
          { metricName: 'restartingTime', value: status.downtimeMs, unit: 'Milliseconds' },
          { metricName: 'failingTime', value: 0, unit: 'Milliseconds' },
          { metricName: 'cancellingTime', value: 0, unit: 'Milliseconds' },
        ]
      : [];
  return [
    { metricName: major >= 2 ? 'numRestarts' : 'fullRestarts', value: status.restarts, unit: 'Count' },
    { metricName: 'downtime', value: status.downtimeMs, unit: 'Milliseconds' },
    { metricName: 'uptime', value: status.uptimeMs, unit: 'Milliseconds' },
    { metricName: 'numberOfFailedCheckpoints', value: status.failedCheckpoints, unit: 'Count' },
    { metricName: 'lastCheckpointDuration', value: status.lastCheckpointDurationMs ?? -1, unit: 'Milliseconds' },
    { metricName: 'lastCheckpointSize', value: status.lastCheckpointSizeBytes ?? -1, unit: 'Bytes' },
    ...stateTimes,
  ];
}

function inWindow(w: PeriodWindow, periodMs: number): boolean {
  return periodMs >= w.fromMs && (w.toMs === undefined || periodMs < w.toMs);
}

interface Pending {
  readonly dueMs: number;
  readonly seq: number;
  readonly point: MetricDatapoint;
}

/**
 * Collects the snapshot samples of every application and stores each in the sink when it is due: at the end of its
 * period + the publication delay (+ a `metrics-delayed` fault's extra delay), never under a `metrics-missing` fault.
 * Datapoints due at the same instant are stored in the order they were sampled.
 */
export class MetricPublisher {
  readonly #sink: MetricSink;
  readonly #delayMs: number;
  #pending: Pending[] = [];
  #seq = 0;

  /** @throws RangeError when `delaySeconds` is not a whole number of seconds ≥ 0. */
  constructor(opts: MetricPublisherOptions) {
    const delaySeconds = opts.delaySeconds ?? DEFAULT_METRICS_DELAY_SECONDS;
    if (!Number.isInteger(delaySeconds) || delaySeconds < 0) {
      throw new RangeError(
        `metricsDelaySeconds must be a whole number of seconds ≥ 0 (got ${delaySeconds}); the emulator runs in 1-second steps`,
      );
    }
    this.#sink = opts.sink;
    this.#delayMs = delaySeconds * 1000;
  }

  /**
   * Records one snapshot of `application`'s job taken at `t` (a snapshot instant) and schedules its datapoints.
   * @param faults the application's publication faults
   */
  sample(
    application: string,
    runtimeEnvironment: string,
    status: JobStatus,
    t: number,
    faults: PublicationFaults,
  ): void {
    const periodMs = periodOfSnapshot(t);
    const extraDelayMs = faults.delayed.reduce((sum, w) => (inWindow(w, periodMs) ? sum + w.extraDelayMs : sum), 0);
    const dueMs = periodMs + MINUTE_MS + this.#delayMs + extraDelayMs;
    for (const { metricName, value, unit } of snapshotMetrics(runtimeEnvironment, status)) {
      const missing = faults.missing.some(
        (w) => inWindow(w, periodMs) && (w.metricNames === undefined || w.metricNames.includes(metricName)),
      );
      if (missing) continue;
      this.#seq += 1;
      this.#pending.push({
        dueMs,
        seq: this.#seq,
        point: {
          namespace: MSF_NAMESPACE,
          metricName,
          dimensions: { Application: application },
          timestampMs: periodMs,
          value,
          unit,
        },
      });
    }
  }

  /** Stores every datapoint due at or before `t`, in due-time then sampling order. */
  flush(t: number): void {
    if (!this.#pending.some((p) => p.dueMs <= t)) return;
    const due = this.#pending.filter((p) => p.dueMs <= t).sort((a, b) => a.dueMs - b.dueMs || a.seq - b.seq);
    this.#pending = this.#pending.filter((p) => p.dueMs > t);
    for (const p of due) this.#sink.putDatapoint(p.point);
  }
}
