import type { PolicySettings } from '#shared/config/schema.ts';
import { countRestarts } from './counters.ts';
import type { CheckpointStallWindow } from './findings.ts';
import type { ApplicationObservation, ApplicationState, MetricSeries } from './model.ts';

/**
 * Checkpoint facts the watchdog derives from DescribeApplication and the AWS/KinesisAnalytics metrics.
 *
 * What MSF publishes about checkpoints (https://docs.aws.amazon.com/managed-flink/latest/java/metrics-dimensions.html,
 * Application level): `numberOfFailedCheckpoints` (Count, "the number of times checkpointing has failed"),
 * `lastCheckpointDuration` (Milliseconds, "the time it took to complete the last checkpoint") and `lastCheckpointSize`
 * (Bytes, "the total size of the last checkpoint"). There is no completed-checkpoint counter (Flink's
 * `numberOfCompletedCheckpoints`, which the Flink Kubernetes Operator watches, is not among them). So a completed
 * checkpoint is only seen when one of the two last-checkpoint gauges changes value; two checkpoints in a row with the
 * same duration and size cannot be told apart, and unchanged gauges prove nothing. Flink reports -1 for both gauges
 * until the job completes its first checkpoint (apache/flink, CheckpointStatsTracker:
 * LatestCompletedCheckpointDurationGauge/SizeGauge): that, and failed checkpoints, are the evidence of a stall.
 */

const MINUTE_MS = 60_000;

/**
 * CheckpointInterval MSF uses with ConfigurationType DEFAULT, whatever the other fields say, ms
 * (https://docs.aws.amazon.com/managed-flink/latest/apiv2/API_CheckpointConfigurationDescription.html).
 */
export const MSF_DEFAULT_CHECKPOINT_INTERVAL_MS = 60_000;

/** The checkpoint-stall window of an application, and whether checkpointing is on at all. */
export interface DerivedCheckpointWindow extends CheckpointStallWindow {
  /** Whole minutes covering `windowMs` (rounded up). */
  windowMinutes: number;
  /** False only for ConfigurationType CUSTOM with CheckpointingEnabled false: nothing can stall then. */
  enabled: boolean;
}

/**
 * The window without a completed checkpoint after which checkpoints count as stalled, derived as the Flink
 * Kubernetes Operator derives its checkpoint-progress window: max(interval × (tolerable + 2), timeout × (tolerable +
 * 2)), i.e. max(interval, timeout) × (tolerable failed checkpoints + 2)
 * (https://github.com/apache/flink-kubernetes-operator/blob/main/flink-kubernetes-operator/src/main/java/org/apache/flink/kubernetes/operator/observer/ClusterHealthEvaluator.java,
 * `evaluateCheckpoints`).
 *
 * The interval comes from DescribeApplication's CheckpointConfigurationDescription: 60000 ms with ConfigurationType
 * DEFAULT (MSF's documented value), CheckpointInterval with CUSTOM. When MSF returned no checkpoint configuration, or
 * CUSTOM without an interval, 60000 ms is assumed (MSF's default; stated as `intervalSource: 'ASSUMED'`). Timeout and
 * tolerable failures are set in the job's code or Flink configuration, which MSF does not return: they come from the
 * policy (`checkpointStall`), whose defaults are Flink's (execution.checkpointing.timeout 10 min,
 * execution.checkpointing.tolerable-failed-checkpoints 0;
 * https://nightlies.apache.org/flink/flink-docs-release-1.20/docs/deployment/config/#checkpointing).
 */
export function checkpointWindow(
  app: ApplicationState | undefined,
  settings: PolicySettings['checkpointStall'],
): DerivedCheckpointWindow {
  const cfg = app?.checkpointConfiguration;
  let intervalMs = MSF_DEFAULT_CHECKPOINT_INTERVAL_MS;
  let intervalSource: CheckpointStallWindow['intervalSource'] = 'ASSUMED';
  let enabled = true;
  if (cfg?.configurationType === 'DEFAULT') {
    intervalSource = 'DEFAULT';
  } else if (cfg?.configurationType === 'CUSTOM') {
    enabled = cfg.checkpointingEnabled !== false;
    if (cfg.checkpointIntervalMs !== undefined && cfg.checkpointIntervalMs > 0) {
      intervalMs = cfg.checkpointIntervalMs;
      intervalSource = 'CUSTOM';
    }
  }
  const timeoutMs = settings.checkpointTimeoutSeconds * 1000;
  const tolerable = settings.tolerableFailedCheckpoints;
  const windowMs = Math.max(intervalMs, timeoutMs) * (tolerable + 2);
  const windowMinutes = Math.ceil(windowMs / MINUTE_MS);
  const source =
    intervalSource === 'DEFAULT'
      ? 'MSF DEFAULT'
      : intervalSource === 'CUSTOM'
        ? 'CUSTOM CheckpointInterval'
        : 'assumed, not returned by MSF';
  const derivation = `max(interval ${seconds(intervalMs)} [${source}], timeout ${seconds(timeoutMs)}) × (${tolerable} tolerable failed checkpoints + 2) = ${minutes(windowMs)}`;
  return {
    windowMs,
    windowMinutes,
    intervalMs,
    intervalSource,
    timeoutMs,
    tolerableFailedCheckpoints: tolerable,
    derivation,
    enabled,
  };
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

function minutes(ms: number): string {
  return `${Number((ms / MINUTE_MS).toFixed(2))} min`;
}

/** What the last-checkpoint gauges say about completed checkpoints. */
export interface CheckpointCompletions {
  /**
   * End of the newest period in which `lastCheckpointDuration` or `lastCheckpointSize` changed to a value ≥ 0: a
   * checkpoint completed by then, ms. Undefined when no change was seen.
   */
  lastCompletionMs?: number;
  /** End of the newest period with a datapoint of either gauge: how far the evidence reaches, ms. */
  coveredUntilMs?: number;
  /** Start of the oldest datapoint of either gauge, ms. */
  firstPointMs?: number;
  /**
   * Start of the newest unbroken run of -1 datapoints reaching the newest datapoint (in every gauge read): no
   * checkpoint completed since the job was submitted, ms. Undefined when the newest value of a gauge is ≥ 0.
   */
  noneCompletedSinceMs?: number;
}

/**
 * Reads completed checkpoints from the last-checkpoint gauges (ascending points). A value differing from the previous
 * datapoint and ≥ 0 means a newer checkpoint completed in that period; a value of -1 means none completed since the
 * job was submitted. Limitation: equal consecutive values cannot tell whether checkpoints completed, so they are never
 * taken as evidence of a stall (only -1 is).
 */
export function checkpointCompletions(...series: Array<MetricSeries | undefined>): CheckpointCompletions {
  const out: CheckpointCompletions = {};
  let someCompleted = false;
  let noneSinceMs: number | undefined;
  for (const s of series) {
    const points = (s?.points ?? []).filter((p) => Number.isFinite(p.value));
    if (!s || points.length === 0) continue;
    const periodMs = s.periodSeconds * 1000;
    let prev: number | undefined;
    let runStartMs: number | undefined;
    for (const p of points) {
      const endMs = p.timestampMs + periodMs;
      out.firstPointMs = Math.min(out.firstPointMs ?? p.timestampMs, p.timestampMs);
      out.coveredUntilMs = Math.max(out.coveredUntilMs ?? endMs, endMs);
      if (prev !== undefined && p.value !== prev && p.value >= 0) {
        out.lastCompletionMs = Math.max(out.lastCompletionMs ?? endMs, endMs);
      }
      if (p.value < 0) runStartMs ??= p.timestampMs;
      else runStartMs = undefined;
      prev = p.value;
    }
    if (runStartMs === undefined) someCompleted = true;
    else noneSinceMs = Math.max(noneSinceMs ?? runStartMs, runStartMs);
  }
  if (!someCompleted && noneSinceMs !== undefined) out.noneCompletedSinceMs = noneSinceMs;
  return out;
}

/** Operations that submit a new Flink job (its checkpoint counters start again). */
const SUBMITTING_OPERATION = /^(StartApplication|UpdateApplication|RollbackApplication)$/;

/**
 * When the running Flink job was submitted, ms: the end of the newest successful StartApplication, UpdateApplication
 * or RollbackApplication, else `ApplicationVersionCreateTimestamp`; undefined when neither is known.
 */
export function currentRunStartMs(obs: ApplicationObservation): number | undefined {
  let start = obs.application?.versionCreatedMs;
  for (const o of obs.operations) {
    if (o.status !== 'SUCCESSFUL' || !SUBMITTING_OPERATION.test(o.operation)) continue;
    const at = o.endMs ?? o.startMs;
    if (at !== undefined && (start === undefined || at > start)) start = at;
  }
  return start;
}

/** What the checkpoint metrics say about a job since `fromMs` (the verify window after a remediation). */
export interface CheckpointHealth {
  /** Increase of numberOfFailedCheckpoints since `fromMs`, count (a lower value is a new submission's counter). */
  failed: number;
  /** The newest lastCheckpointDuration datapoint since `fromMs` is ≥ 0: the running job has completed a checkpoint. */
  completed: boolean;
}

/**
 * Checkpoint health since `fromMs`, for the verify step after a CHECKPOINT_STALL remediation: a restarted job counts
 * as recovered only when no checkpoint failed since and it has completed one (its last-checkpoint gauge left -1).
 * The failed-checkpoint baseline is the last datapoint before `fromMs`, else 0 (the job was just submitted).
 */
export function checkpointHealthSince(
  failedCheckpoints: MetricSeries | undefined,
  lastCheckpointDuration: MetricSeries | undefined,
  fromMs: number,
): CheckpointHealth {
  const points = failedCheckpoints?.points ?? [];
  const baseline = points.filter((p) => p.timestampMs < fromMs).at(-1)?.value ?? 0;
  const since = failedCheckpoints && { ...failedCheckpoints, points: points.filter((p) => p.timestampMs >= fromMs) };
  const failed = countRestarts(since, baseline).restarts;
  const newest = (lastCheckpointDuration?.points ?? []).filter((p) => p.timestampMs >= fromMs).at(-1);
  return { failed, completed: newest !== undefined && newest.value >= 0 };
}
