/**
 * The watchdog's own operational metrics: what it detected and did, as CloudWatch metrics in the
 * {@link WATCHDOG_METRICS_NAMESPACE} namespace. This is the port; shared/adapters/powertools-metrics.ts publishes the
 * points as CloudWatch Embedded Metric Format (EMF) log lines, infra/dashboard.ts graphs them.
 * Not to be confused with `MetricsPort` (shared/ports/metrics.ts), which reads MSF's metrics.
 */

/** CloudWatch namespace of the watchdog's own metrics (`_aws.CloudWatchMetrics[].Namespace` of the EMF lines). */
export const WATCHDOG_METRICS_NAMESPACE = 'FlinkWatchdog';

/** Name of the one dimension of per-application metrics: the MSF `ApplicationName`. */
export const APPLICATION_DIMENSION = 'Application';

/** What one metric means, its CloudWatch unit, and whether it carries the {@link APPLICATION_DIMENSION}. */
export interface WatchdogMetricDefinition {
  /** CloudWatch `StandardUnit` of the values (`Count`, or `Seconds` for durations). */
  readonly unit: 'Count' | 'Seconds';
  /** `Application` (one series per MSF application) or `none` (one series for the whole watchdog). */
  readonly dimension: 'Application' | 'none';
  readonly description: string;
}

/**
 * Every metric the watchdog emits, keyed by metric name. Counts are emitted as 1 per event (CloudWatch statistic `Sum`
 * gives events per period); TimeToRecovery is one value per recovered incident (statistics `Average`/`Maximum`).
 */
export const WATCHDOG_METRICS = {
  /** An incident was opened for an application (a finding the policy decided to act on or report), count. */
  IncidentOpened: {
    unit: 'Count',
    dimension: 'Application',
    description: 'Incidents opened, count',
  },
  /**
   * One mutating MSF call made by the remediation (StartApplication, StopApplication, UpdateApplication,
   * RollbackApplication), count. Observe mode makes none, so emits none.
   */
  RemediationAction: {
    unit: 'Count',
    dimension: 'Application',
    description: 'Mutating MSF calls made by the remediation, count',
  },
  /** An incident ended with the application verified healthy (RECOVERED), count. */
  IncidentResolved: {
    unit: 'Count',
    dimension: 'Application',
    description: 'Incidents resolved (application verified healthy), count',
  },
  /** An incident was handed to a human (attempts exhausted, transition timed out, or policy NOTIFY), count. */
  IncidentEscalated: {
    unit: 'Count',
    dimension: 'Application',
    description: 'Incidents escalated to a human, count',
  },
  /** From incident opened to verified recovery, seconds; one value per resolved incident. */
  TimeToRecovery: {
    unit: 'Seconds',
    dimension: 'Application',
    description: 'Time from incident opened to verified recovery, seconds',
  },
  /**
   * The detector rejected an event (malformed, or not about one MSF application) without any MSF call, count. No
   * dimension: a rejected event may name no valid application.
   */
  DetectorEventRejected: {
    unit: 'Count',
    dimension: 'none',
    description: 'Events the detector rejected without acting, count',
  },
} as const satisfies Record<string, WatchdogMetricDefinition>;

/** Name of one of the watchdog's metrics (CloudWatch `MetricName`). */
export type WatchdogMetricName = keyof typeof WATCHDOG_METRICS;

/** Metrics with the {@link APPLICATION_DIMENSION}: every call names the application. */
export type ApplicationMetricName = {
  [K in WatchdogMetricName]: (typeof WATCHDOG_METRICS)[K]['dimension'] extends 'Application' ? K : never;
}[WatchdogMetricName];

/** Metrics without a dimension. */
export type GlobalMetricName = Exclude<WatchdogMetricName, ApplicationMetricName>;

/** Every metric name, in declaration order. */
export const WATCHDOG_METRIC_NAMES = Object.keys(WATCHDOG_METRICS) as WatchdogMetricName[];

/**
 * Emits the watchdog's own metrics. Implementations never throw: metrics must not break a detection or a remediation.
 * `value` is in the metric's unit ({@link WATCHDOG_METRICS}): a count (default 1), or seconds for TimeToRecovery.
 */
export interface WatchdogMetrics {
  /** One point of a per-application metric, dimension `Application` = `applicationName` (MSF `ApplicationName`). */
  count(name: ApplicationMetricName, applicationName: string, value?: number): void;
  /** One point of a metric without dimension; pass `undefined` as `applicationName` to give a value. */
  count(name: GlobalMetricName, applicationName?: undefined, value?: number): void;
  /** Publishes whatever is still buffered; call once at the end of each invocation. */
  flush(): void;
}

/** Metrics that go nowhere (tests and tools that do not look at them). */
export const noopWatchdogMetrics: WatchdogMetrics = { count() {}, flush() {} };

/** One point as {@link RecordingWatchdogMetrics} keeps it. */
export interface RecordedMetricPoint {
  name: WatchdogMetricName;
  /** The `Application` dimension; undefined for metrics without dimension. */
  applicationName?: string;
  /** In the metric's unit (count, or seconds). */
  value: number;
  unit: WatchdogMetricDefinition['unit'];
  /** Number of `flush()` calls before this point was emitted: points with the same value went out together. */
  flushesBefore: number;
}

/** Keeps every point in memory, in emission order (tests and the drill's figures read them). */
export class RecordingWatchdogMetrics implements WatchdogMetrics {
  readonly points: RecordedMetricPoint[] = [];
  /** Number of `flush()` calls so far. */
  flushes = 0;

  count(name: WatchdogMetricName, applicationName?: string, value = 1): void {
    const definition: WatchdogMetricDefinition = WATCHDOG_METRICS[name];
    this.points.push({
      name,
      ...(definition.dimension === 'Application' && applicationName !== undefined ? { applicationName } : {}),
      value,
      unit: definition.unit,
      flushesBefore: this.flushes,
    });
  }

  flush(): void {
    this.flushes++;
  }

  /** Sum of the recorded values of `name`, for one application when `applicationName` is given; 0 when none. */
  sum(name: WatchdogMetricName, applicationName?: string): number {
    return this.pointsOf(name, applicationName).reduce((total, p) => total + p.value, 0);
  }

  /** The recorded points of `name`, for one application when `applicationName` is given, in emission order. */
  pointsOf(name: WatchdogMetricName, applicationName?: string): RecordedMetricPoint[] {
    return this.points.filter(
      (p) => p.name === name && (applicationName === undefined || p.applicationName === applicationName),
    );
  }
}
