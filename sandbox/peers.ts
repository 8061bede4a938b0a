import type { PutMetricAlarmCommandInput } from '@aws-sdk/client-cloudwatch';
import { MSF_METRIC_NAMESPACE } from '#shared/alarms.ts';

/**
 * Peer rules: what two other detectors would have seen in the same drill run, on the same emulated world, so the
 * watchdog's detection figures stand next to the ones a user gets without it.
 *
 * 1. The Flink Kubernetes Operator's cluster health check (restart count in a window), modelled from its source:
 *    apache/flink-kubernetes-operator, `observer/ClusterHealthEvaluator.java` (evaluateRestarts) and
 *    `config/KubernetesOperatorConfigOptions.java` (the defaults below).
 * 2. AWS's recommended `downtime > 0` alarm for MSF applications, created as a real alarm in the emulator's CloudWatch
 *    (see {@link awsRecommendedDowntimeAlarm}), so it obeys exactly the emulator's missing-data and timing rules.
 */

/**
 * `kubernetes.operator.cluster.health-check.restarts.threshold` default: 64 restarts.
 * Source: apache/flink-kubernetes-operator, flink-kubernetes-operator/src/main/java/org/apache/flink/kubernetes/
 * operator/config/KubernetesOperatorConfigOptions.java (OPERATOR_CLUSTER_HEALTH_CHECK_RESTARTS_THRESHOLD).
 */
export const OPERATOR_RESTARTS_THRESHOLD = 64;

/**
 * `kubernetes.operator.cluster.health-check.restarts.window` default: 2 minutes, in ms.
 * Source: as {@link OPERATOR_RESTARTS_THRESHOLD} (OPERATOR_CLUSTER_HEALTH_CHECK_RESTARTS_WINDOW).
 */
export const OPERATOR_RESTARTS_WINDOW_MS = 2 * 60_000;

/**
 * How often the operator observes a deployment, ms: `kubernetes.operator.reconcile.interval` default (60 s), same
 * source file (OPERATOR_RECONCILE_INTERVAL). The health check runs inside the observer of every reconcile
 * (ApplicationObserver.observeFlinkCluster → ClusterHealthObserver.observe, only while a job is found).
 * Assumptions: the check is turned on (`kubernetes.operator.cluster.health-check.enabled`, off by default); a steady
 * deployment is reconciled exactly every interval, first at the scenario start; the operator is not woken earlier by
 * any Kubernetes event (a restarting Flink job changes no Kubernetes resource).
 */
export const OPERATOR_OBSERVE_INTERVAL_MS = 60_000;

/** Options of {@link OperatorRestartHealthCheck}; the defaults are the operator's. */
export interface OperatorHealthCheckOptions {
  /** Restarts in the window above which the deployment is unhealthy, count. @default 64 */
  readonly restartsThreshold?: number;
  /** The window, ms. @default 120000 (2 minutes) */
  readonly restartsWindowMs?: number;
}

/** One evaluation of {@link OperatorRestartHealthCheck.observe}. */
export interface OperatorHealthResult {
  /** false once the restart count in the window is above the threshold. */
  readonly healthy: boolean;
  /**
   * Restarts the operator attributes to one window, count: the counter's increase since the baseline, scaled down by
   * window / elapsed when the baseline is older than the window (rounded down). undefined for the first observation
   * and after a counter reset (both only set the baseline).
   */
  readonly restartsInWindow: number | undefined;
}

/** A sample the health check cannot take: time going backwards, or a restart count that is not a count. */
export class PeerSampleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PeerSampleError';
  }
}

/**
 * The Flink Kubernetes Operator's restart health check for one deployment, as ClusterHealthEvaluator.evaluateRestarts
 * implements it (not as its docs paraphrase it):
 * - the first observation only records a baseline (restart count, time);
 * - a restart count below the baseline means a new job: the baseline is reset, the deployment is healthy;
 * - otherwise restarts = (count − baseline count) × min(1, window / (now − baseline time)), rounded down, and the
 *   deployment is unhealthy when restarts > threshold (the code's `numRestarts <= restartThreshold` is healthy, so
 *   the default fires at 65 restarts in 2 minutes, not at 64 as the docs' "reaches the threshold" suggests);
 * - when the baseline is older than the window, it moves to this observation.
 * The restart count is the job's `numRestarts` (or `fullRestarts` on old Flink) metric read from the JobManager REST
 * API, so it has no CloudWatch delay.
 */
export class OperatorRestartHealthCheck {
  readonly #threshold: number;
  readonly #windowMs: number;
  #baseline: { restarts: number; atMs: number } | undefined;
  #lastMs: number | undefined;

  /** @throws PeerSampleError when restartsThreshold is not a non-negative integer or restartsWindowMs is not positive. */
  constructor(opts: OperatorHealthCheckOptions = {}) {
    this.#threshold = opts.restartsThreshold ?? OPERATOR_RESTARTS_THRESHOLD;
    this.#windowMs = opts.restartsWindowMs ?? OPERATOR_RESTARTS_WINDOW_MS;
    if (!Number.isInteger(this.#threshold) || this.#threshold < 0) {
      throw new PeerSampleError(`restartsThreshold must be a non-negative integer, got ${this.#threshold}`);
    }
    if (!(this.#windowMs > 0)) {
      throw new PeerSampleError(`restartsWindowMs must be a positive number of ms, got ${this.#windowMs}`);
    }
  }

  /**
   * Evaluates one observation of the job's restart counter.
   * @param atMs when the operator observed it, epoch ms; never earlier than the previous observation.
   * @param restarts the job's cumulative restart count.
   * @throws PeerSampleError when `atMs` goes backwards (the operator throws IllegalStateException there) or
   *   `restarts` is not a non-negative integer.
   */
  observe(atMs: number, restarts: number): OperatorHealthResult {
    if (!Number.isInteger(restarts) || restarts < 0) {
      throw new PeerSampleError(`restarts must be a non-negative integer count, got ${restarts}`);
    }
    if (this.#lastMs !== undefined && atMs < this.#lastMs) {
      throw new PeerSampleError(`observation at ${atMs} is earlier than the previous one at ${this.#lastMs}`);
    }
    this.#lastMs = atMs;
    const base = this.#baseline;
    if (!base || restarts < base.restarts) {
      this.#baseline = { restarts, atMs };
      return { healthy: true, restartsInWindow: undefined };
    }
    const elapsedMs = atMs - base.atMs;
    // elapsed 0 gives an infinite multiplier, clamped to 1 as in the operator (Java double division).
    const multiplier = Math.min(1, elapsedMs === 0 ? 1 : this.#windowMs / elapsedMs);
    const restartsInWindow = Math.floor((restarts - base.restarts) * multiplier);
    if (base.atMs < atMs - this.#windowMs) this.#baseline = { restarts, atMs };
    return { healthy: restartsInWindow <= this.#threshold, restartsInWindow };
  }
}

/**
 * First time the operator's health check finds the deployment unhealthy in a series of observations (sorted by time),
 * epoch ms; null when it never does.
 * @throws PeerSampleError as {@link OperatorRestartHealthCheck.observe}.
 */
export function operatorDetectionMs(
  samples: ReadonlyArray<{ readonly atMs: number; readonly restarts: number }>,
  opts: OperatorHealthCheckOptions = {},
): number | null {
  const check = new OperatorRestartHealthCheck(opts);
  for (const s of samples) {
    if (!check.observe(s.atMs, s.restarts).healthy) return s.atMs;
  }
  return null;
}

/** Prefix of the peer alarm's name; outside the watchdog's `flink-watchdog-` prefix, so its rule never matches it. */
export const AWS_DOWNTIME_PEER_ALARM_PREFIX = 'peer-msf-recommended-downtime-';

/**
 * AWS's recommended alarm for every MSF application, as PutMetricAlarm input.
 * Source: MSF developer guide, "Use CloudWatch alarms with Amazon Managed Service for Apache Flink", recommended
 * alarms table (https://docs.aws.amazon.com/managed-flink/latest/java/monitoring-metrics-alarms.html):
 * metric expression `downtime > 0`, statistic Average, threshold 0, "Recommended for all applications".
 * The guide gives no period, evaluation periods or missing-data treatment; assumptions:
 * - Period 60 s: MSF's application metrics are per minute (the emulator publishes one datapoint a minute);
 * - EvaluationPeriods 1, DatapointsToAlarm 1: the fastest reading of "downtime > 0", so the peer is not slowed down
 *   by a choice of ours;
 * - TreatMissingData omitted, so CloudWatch's default `missing` applies (PutMetricAlarm API reference: "If
 *   TreatMissingData is omitted, the default behavior of missing is used").
 */
export function awsRecommendedDowntimeAlarm(applicationName: string): PutMetricAlarmCommandInput {
  return {
    AlarmName: `${AWS_DOWNTIME_PEER_ALARM_PREFIX}${applicationName}`,
    AlarmDescription: `Peer rule (AWS recommended alarm): ${applicationName} downtime > 0, Average, 1 of 1 minute`,
    Namespace: MSF_METRIC_NAMESPACE,
    MetricName: 'downtime',
    Dimensions: [{ Name: 'Application', Value: applicationName }],
    Statistic: 'Average',
    Period: 60,
    EvaluationPeriods: 1,
    DatapointsToAlarm: 1,
    Threshold: 0,
    ComparisonOperator: 'GreaterThanThreshold',
  };
}

/** One peer rule's result in one scenario. */
export interface PeerDetection {
  /** The rule, in one line, with the settings it ran with. */
  readonly rule: string;
  /** When the rule first fired (the operator's unhealthy verdict; the alarm's first ALARM state), epoch ms; null when it never fired within the scenario. */
  readonly firedMs: number | null;
  /**
   * Virtual seconds from the scenario's detection onset (the same onset as the watchdog's `detectionSeconds`) to
   * `firedMs`, rounded; negative when the rule fired before that onset. null ("not detected") when the rule never
   * fired, or when the scenario has no onset (no incident).
   */
  readonly detectionSeconds: number | null;
}

/** Both peer rules' results in one scenario. */
export interface PeerReport {
  /** The Flink Kubernetes Operator's restart health check (64 restarts / 2 min, observed every 60 s). */
  readonly operatorHealthCheck: PeerDetection;
  /** AWS's recommended `downtime > 0` alarm. */
  readonly awsDowntimeAlarm: PeerDetection;
}

/** One line naming the operator rule and the settings it ran with. */
export const OPERATOR_RULE_DESCRIPTION = `Flink Kubernetes Operator health check: restarts > ${OPERATOR_RESTARTS_THRESHOLD} within ${OPERATOR_RESTARTS_WINDOW_MS / 60_000} min, observed every ${OPERATOR_OBSERVE_INTERVAL_MS / 1000} s`;

/** One line naming the AWS recommended alarm and the settings it ran with. */
export const AWS_DOWNTIME_RULE_DESCRIPTION =
  'AWS recommended alarm: downtime > 0 (Average, period 60 s, 1 of 1, missing data: missing)';

/**
 * A {@link PeerDetection} from when the rule fired and the scenario's onset (both epoch ms, or undefined/null).
 */
export function peerDetection(rule: string, firedMs: number | null, onsetMs: number | undefined): PeerDetection {
  return {
    rule,
    firedMs,
    detectionSeconds: firedMs === null || onsetMs === undefined ? null : Math.round((firedMs - onsetMs) / 1000),
  };
}

/** One peer's result as JSON (`drill --json`, `bench --json`): times as ISO-8601 strings. */
export interface PeerDetectionJson {
  rule: string;
  /** ISO-8601 time the rule first fired; null when it never fired within the scenario. */
  firedAt: string | null;
  /** As {@link PeerDetection.detectionSeconds}: null means not detected (or no onset). */
  detectionSeconds: number | null;
}

/** Both peers as JSON, keyed as in {@link PeerReport}. */
export function peersJson(peers: PeerReport): {
  operatorHealthCheck: PeerDetectionJson;
  awsDowntimeAlarm: PeerDetectionJson;
} {
  const one = (p: PeerDetection): PeerDetectionJson => ({
    rule: p.rule,
    firedAt: p.firedMs === null ? null : new Date(p.firedMs).toISOString(),
    detectionSeconds: p.detectionSeconds,
  });
  return { operatorHealthCheck: one(peers.operatorHealthCheck), awsDowntimeAlarm: one(peers.awsDowntimeAlarm) };
}
