import { type PolicySettings, stuckLimitMinutes } from '#shared/config/schema.ts';
import { checkpointCompletions, checkpointWindow, currentRunStartMs } from './checkpoints.ts';
import { countRestarts, type RestartCount, sliceWithBaseline } from './counters.ts';
import type { CheckpointStallFinding, DeployFailureCause, Finding, RestartLoopFinding } from './findings.ts';
import type { ApplicationObservation, ApplicationOperation, MetricSeries } from './model.ts';
import { isMaintenanceOperation, isTransient } from './model.ts';

export { countRestarts, type RestartCount } from './counters.ts';

const MINUTE_MS = 60_000;

/**
 * A restart loop is only acted on while it is going on: the last restart must fall in this many minutes (plus one period of publishing lag) before now.
 * Flink's exponential-delay strategy caps the backoff at 1 min by default, so a live loop restarts at least every
 * 2 min; a loop that stopped on its own (the dependency came back) is not remediated from stale window data.
 */
export const ONGOING_LOOP_MINUTES = 2;

/** Operations that change the running job or its version. */
const DEPLOY_OPERATIONS = new Set(['UpdateApplication', 'StartApplication']);
const ROLLBACK_OPERATION = /rollback/i;

/**
 * Classifies an operation's ErrorInfo.ErrorString. The patterns are Flink's and MSF's own messages:
 * "Cannot map checkpoint/savepoint state for operator ... --allowNonRestoredState" for unmappable state, and
 * snapshot failures reported on UpdateApplication while the job is down.
 */
export function classifyDeployFailure(errorString: string): DeployFailureCause {
  if (/allowNonRestoredState|cannot map (checkpoint|savepoint|snapshot)|non-restored state/i.test(errorString)) {
    return 'STATE_INCOMPATIBLE';
  }
  if (/snapshot/i.test(errorString)) return 'SNAPSHOT';
  if (errorString.trim().length > 0) return 'SUBMIT';
  return 'UNKNOWN';
}

/** Newest first (by start time, then id order as given). */
function newestFirst(ops: readonly ApplicationOperation[]): ApplicationOperation[] {
  return [...ops].sort((a, b) => (b.startMs ?? 0) - (a.startMs ?? 0));
}

/** How the current application version came to be, from the operation history and DescribeApplication. */
function currentVersionOrigin(obs: ApplicationObservation): {
  atMs?: number;
  fromVersionId?: number;
  byRollback: boolean;
} {
  const app = obs.application;
  if (!app) return { byRollback: false };
  const producer = newestFirst(obs.operations).find((o) => o.status === 'SUCCESSFUL' && o.versionTo === app.versionId);
  const byRollback = producer
    ? ROLLBACK_OPERATION.test(producer.operation)
    : app.versionRolledBackTo !== undefined && app.versionRolledBackFrom !== undefined;
  const atMs = app.versionCreatedMs ?? producer?.endMs;
  const fromVersionId = producer?.versionFrom ?? app.versionUpdatedFrom;
  return {
    byRollback,
    ...(atMs === undefined ? {} : { atMs }),
    ...(fromVersionId === undefined ? {} : { fromVersionId }),
  };
}

/**
 * The restart counter without the restarts MSF's own maintenance made. MSF restarts the job to patch it ("Restarts
 * can occur during internal maintenance", https://docs.aws.amazon.com/managed-flink/latest/java/maintenance.html:
 * "a downtime of 10 to 30 seconds"), and maintenance shows as an operation in ListApplicationOperations (see
 * isMaintenanceOperation). Each maintenance operation explains one restart: the first increase in a period that
 * overlaps the operation (from its StartTime to its EndTime, or now while IN_PROGRESS, widened by one period on each
 * side: a restart at a period boundary may be counted in either period's datapoint); that increase and every later value are lowered by one (until the counter resets with a new
 * submission). Other restarts, in or out of maintenance, still count: a job that keeps failing is still a loop.
 */
export function withoutMaintenanceRestarts(
  series: MetricSeries | undefined,
  operations: readonly ApplicationOperation[],
  nowMs: number,
): MetricSeries | undefined {
  if (!series) return undefined;
  const periodMs = series.periodSeconds * 1000;
  const windows = operations
    .filter((o) => isMaintenanceOperation(o.operation) && o.startMs !== undefined)
    .map((o) => ({ fromMs: o.startMs ?? 0, toMs: o.endMs ?? nowMs, used: false }));
  if (windows.length === 0) return series;
  let prev: number | undefined;
  let offset = 0;
  const points = series.points.map((p) => {
    if (!Number.isFinite(p.value) || p.value < 0) return p;
    const reset = prev !== undefined && p.value < prev;
    if (reset) offset = 0;
    const delta = prev === undefined ? 0 : reset ? p.value : p.value - prev;
    prev = p.value;
    if (delta > 0) {
      const w = windows.find(
        (m) => !m.used && p.timestampMs < m.toMs + periodMs && p.timestampMs + 2 * periodMs > m.fromMs,
      );
      if (w) {
        w.used = true;
        offset += 1;
      }
    }
    return offset === 0 ? p : { ...p, value: p.value - offset };
  });
  return { ...series, points };
}

/**
 * Restarts of the running version within the policy's restart-loop window ending at `nowMs` (counted exactly from
 * the cumulative counter, see {@link countRestarts}); undefined when the observation has no restart series. When a
 * new version replaced the job inside the window, counting starts at that change: the old job's restarts say nothing
 * about the new one. A restart MSF's maintenance made is not counted ({@link withoutMaintenanceRestarts}). Used by the
 * RESTART_LOOP rule and by the watches that look again below the threshold.
 */
export function runningVersionRestarts(
  obs: ApplicationObservation,
  policy: PolicySettings,
  nowMs: number,
): RestartCount | undefined {
  const windowStart = nowMs - policy.restartLoop.windowMinutes * MINUTE_MS;
  const series = withoutMaintenanceRestarts(obs.restarts, obs.operations, nowMs);
  if (!series) return undefined;
  const origin = currentVersionOrigin(obs);
  // Only the running version's restarts count: when a new version replaced a looping one inside the window (someone
  // deployed a fix), the old job's restarts say nothing about the new one and must not trigger a rollback of the fix.
  const countFrom =
    origin.atMs !== undefined && origin.atMs > windowStart && origin.atMs <= nowMs ? origin.atMs : windowStart;
  // One point before the counting start serves as the baseline for the first increase after it.
  return countRestarts(sliceWithBaseline(series, countFrom, nowMs));
}

function restartLoop(
  obs: ApplicationObservation,
  policy: PolicySettings,
  nowMs: number,
): RestartLoopFinding | undefined {
  const { windowMinutes, threshold } = policy.restartLoop;
  const series = obs.restarts;
  const counted = runningVersionRestarts(obs, policy, nowMs);
  if (!series || !counted) return undefined;
  const origin = currentVersionOrigin(obs);
  if (counted.restarts < threshold || counted.firstIncreaseMs === undefined || counted.lastIncreaseMs === undefined) {
    return undefined;
  }
  // Datapoints are keyed by period start and published when the period ends: allow one period of lag.
  if (counted.lastIncreaseMs < nowMs - (ONGOING_LOOP_MINUTES + 1) * MINUTE_MS) return undefined;
  const onsetMs = counted.firstIncreaseMs;
  const app = obs.application;
  let recentChange: RestartLoopFinding['recentChange'];
  if (
    app &&
    origin.atMs !== undefined &&
    origin.fromVersionId !== undefined &&
    onsetMs - origin.atMs <= policy.recentChangeMinutes * MINUTE_MS &&
    origin.atMs <= nowMs
  ) {
    recentChange = {
      fromVersionId: origin.fromVersionId,
      toVersionId: app.versionId,
      atMs: origin.atMs,
      byRollback: origin.byRollback,
    };
  }
  const changeText = recentChange
    ? ` It began ${Math.max(0, Math.round((onsetMs - recentChange.atMs) / MINUTE_MS))} min after version ${recentChange.toVersionId} replaced version ${recentChange.fromVersionId}${recentChange.byRollback ? ' by a rollback' : ''}.`
    : ` No version change in the last ${policy.recentChangeMinutes} min before it began.`;
  return {
    kind: 'RESTART_LOOP',
    summary: `Restart loop: ${counted.restarts} restarts (${series.metricName}) in the last ${windowMinutes} min while MSF reports ${app?.status ?? 'an unknown status'}.${changeText}`,
    restarts: counted.restarts,
    windowMinutes,
    metricName: series.metricName,
    onsetMs,
    ...(recentChange ? { recentChange } : {}),
  };
}

/**
 * CHECKPOINT_STALL for a RUNNING application whose checkpointing is on, when either holds in the window derived by
 * {@link checkpointWindow} (max(interval, timeout) × (tolerable failed checkpoints + 2)):
 * - FAILED_CHECKPOINTS_RISING: `numberOfFailedCheckpoints` (a cumulative counter, counted as {@link countRestarts}
 *   counts restarts: a drop is a new job submission) rose by at least the threshold (policy
 *   `checkpointStall.failedCheckpointsThreshold`, default tolerable + 2) beyond the failures restarts explain, the
 *   last failure is recent (within one checkpoint cycle, max(interval, timeout), plus two periods of publishing lag)
 *   and no checkpoint completed after it. A restart aborts the checkpoint in flight, and Flink runs one checkpoint at
 *   a time by default (execution.checkpointing.max-concurrent-checkpoints 1), so each restart in the window explains
 *   one failed checkpoint: a restart loop stays a RESTART_LOOP.
 * - NO_COMPLETED_CHECKPOINT: the last-checkpoint gauges (see {@link checkpointCompletions}) read -1, no checkpoint
 *   completed since the job was submitted, from `sinceMs` (the submission) until past `sinceMs` + window.
 * MSF publishes no completed-checkpoint counter, so "no completion within the window" of a job that did complete
 * checkpoints before is found through its failures: a checkpoint that does not complete within the timeout expires and
 * counts as failed, so a window of max(interval, timeout) × (tolerable + 2) without a completion holds about
 * tolerable + 2 failed attempts, which is the default threshold. Unchanged gauges are never taken as a stall (equal
 * checkpoints look the same). Only failures and completions of the current job (since its submission) count.
 */
export function checkpointStall(
  obs: ApplicationObservation,
  policy: PolicySettings,
  nowMs: number,
): CheckpointStallFinding | undefined {
  const app = obs.application;
  if (app?.status !== 'RUNNING') return undefined;
  const window = checkpointWindow(app, policy.checkpointStall);
  if (!window.enabled) return undefined;
  const { enabled: _enabled, windowMinutes, ...windowFacts } = window;
  const runStartMs = currentRunStartMs(obs);
  const windowStartMs = nowMs - window.windowMs;
  const countFromMs = runStartMs !== undefined && runStartMs > windowStartMs ? runStartMs : windowStartMs;

  const failed = countRestarts(sliceWithBaseline(obs.failedCheckpoints, countFromMs, nowMs));
  const restarts = countRestarts(sliceWithBaseline(obs.restarts, countFromMs, nowMs)).restarts;
  const unexplained = Math.max(0, failed.restarts - restarts);
  const threshold = policy.checkpointStall.failedCheckpointsThreshold ?? window.tolerableFailedCheckpoints + 2;

  const completions = checkpointCompletions(obs.lastCheckpointDuration, obs.lastCheckpointSize);
  const lastCompletedMs =
    completions.lastCompletionMs !== undefined &&
    (runStartMs === undefined || completions.lastCompletionMs > runStartMs)
      ? completions.lastCompletionMs
      : undefined;

  // NO_COMPLETED_CHECKPOINT: the gauges read -1 (none completed since the submission) for longer than the window.
  let noCompletion: { sinceMs: number; onsetMs: number } | undefined;
  if (completions.noneCompletedSinceMs !== undefined) {
    // Only what the datapoints show counts: the run of -1 itself must span the window (a submission the operation
    // history does not show, e.g. after maintenance, would otherwise date the stall too early).
    const sinceMs = Math.max(runStartMs ?? Number.NEGATIVE_INFINITY, completions.noneCompletedSinceMs);
    if (
      completions.coveredUntilMs !== undefined &&
      completions.coveredUntilMs >= sinceMs + window.windowMs &&
      nowMs >= sinceMs + window.windowMs
    ) {
      noCompletion = { sinceMs, onsetMs: sinceMs + window.windowMs };
    }
  }

  // FAILED_CHECKPOINTS_RISING: failures beyond what restarts explain, still going on, none completed after them.
  let rising: { sinceMs: number; onsetMs: number } | undefined;
  const periodMs = (obs.failedCheckpoints?.periodSeconds ?? 60) * 1000;
  if (unexplained >= threshold && failed.firstIncreaseMs !== undefined && failed.lastIncreaseMs !== undefined) {
    const lastFailureEndMs = failed.lastIncreaseMs + periodMs;
    const ongoing = lastFailureEndMs >= nowMs - (Math.max(window.intervalMs, window.timeoutMs) + 2 * periodMs);
    const recovered = lastCompletedMs !== undefined && lastCompletedMs > lastFailureEndMs;
    if (ongoing && !recovered) {
      rising = {
        sinceMs: lastCompletedMs ?? failed.firstIncreaseMs,
        onsetMs: thresholdReachedMs(obs, countFromMs, nowMs, threshold) ?? lastFailureEndMs,
      };
    }
  }

  const found = noCompletion ?? rising;
  if (!found) return undefined;
  const cause = noCompletion ? 'NO_COMPLETED_CHECKPOINT' : 'FAILED_CHECKPOINTS_RISING';
  const since = new Date(found.sinceMs).toISOString();
  const stalledMin = Math.floor((nowMs - found.sinceMs) / MINUTE_MS);
  const failures =
    failed.restarts > 0
      ? ` ${failed.restarts} checkpoint(s) failed (numberOfFailedCheckpoints) in the last ${windowMinutes} min${restarts > 0 ? `, ${unexplained} of them not explained by the ${restarts} restart(s)` : ''}.`
      : '';
  const head =
    cause === 'NO_COMPLETED_CHECKPOINT'
      ? `Checkpoint stall: no checkpoint of ${app.name} completed for ${stalledMin} min (since ${since}; lastCheckpointDuration/lastCheckpointSize read -1 since the job was submitted), longer than the ${windowMinutes}-min window.`
      : `Checkpoint stall: checkpoints of ${app.name} keep failing (${unexplained} failed in the last ${windowMinutes} min beyond what restarts explain; threshold ${threshold}) and no completed checkpoint was seen since ${since}.`;
  return {
    kind: 'CHECKPOINT_STALL',
    summary: `${head}${cause === 'NO_COMPLETED_CHECKPOINT' ? failures : ''} Window: ${window.derivation}.`,
    cause,
    sinceMs: found.sinceMs,
    onsetMs: found.onsetMs,
    ...(lastCompletedMs === undefined ? {} : { lastCompletedMs }),
    failedCheckpoints: failed.restarts,
    restarts,
    unexplainedFailures: unexplained,
    failedCheckpointsThreshold: threshold,
    window: windowFacts,
  };
}

/** End of the period in which failed checkpoints beyond restarts first reached `threshold`, ms. */
function thresholdReachedMs(
  obs: ApplicationObservation,
  fromMs: number,
  nowMs: number,
  threshold: number,
): number | undefined {
  const periodMs = (obs.failedCheckpoints?.periodSeconds ?? 60) * 1000;
  for (const p of obs.failedCheckpoints?.points ?? []) {
    if (p.timestampMs < fromMs || p.timestampMs > nowMs) continue;
    const failed = countRestarts(sliceWithBaseline(obs.failedCheckpoints, fromMs, p.timestampMs)).restarts;
    const restarts = countRestarts(sliceWithBaseline(obs.restarts, fromMs, p.timestampMs)).restarts;
    if (failed - restarts >= threshold) return p.timestampMs + periodMs;
  }
  return undefined;
}

/**
 * Evaluates one observation against the application's policy: a pure function of its inputs.
 * Returns findings strongest first: OBSERVATION_FAILED, STUCK_TRANSITION, DEPLOY_FAILED, RESTART_LOOP, CHECKPOINT_STALL, ROLLED_BACK,
 * UNEXPECTED_STATUS. An empty list means healthy.
 */
export function evaluate(obs: ApplicationObservation, policy: PolicySettings, nowMs: number): Finding[] {
  const findings: Finding[] = [];
  for (const e of obs.errors) {
    findings.push({
      kind: 'OBSERVATION_FAILED',
      summary: `Could not read ${e.source} for ${obs.applicationName}: ${e.message}`,
      source: e.source,
      message: e.message,
    });
  }
  const app = obs.application;
  if (!app) return findings;
  const ops = newestFirst(obs.operations);

  // Stuck in a transient status past its limit.
  const limit = stuckLimitMinutes(policy, app.status);
  if (isTransient(app.status) && limit !== undefined) {
    const inProgress = ops.find((o) => o.status === 'IN_PROGRESS');
    const sinceMs = inProgress?.startMs ?? app.lastUpdateMs;
    if (sinceMs !== undefined) {
      const minutes = Math.floor((nowMs - sinceMs) / MINUTE_MS);
      if (nowMs - sinceMs > limit * MINUTE_MS) {
        findings.push({
          kind: 'STUCK_TRANSITION',
          summary: `${app.name} has been ${app.status} for ${minutes} min (limit ${limit} min)${inProgress ? `; operation ${inProgress.operation} ${inProgress.operationId} is still IN_PROGRESS` : ''}.`,
          status: app.status,
          sinceMs,
          minutes,
          limitMinutes: limit,
          ...(inProgress ? { operation: inProgress } : {}),
        });
      }
    }
  }

  // The newest deploy operation failed and nothing succeeded since.
  const lastDeploy = ops.find((o) => DEPLOY_OPERATIONS.has(o.operation) && o.status !== 'IN_PROGRESS');
  if (lastDeploy?.status === 'FAILED') {
    const laterSuccess = ops.some(
      (o) =>
        o.status === 'SUCCESSFUL' &&
        (o.startMs ?? 0) > (lastDeploy.startMs ?? 0) &&
        (DEPLOY_OPERATIONS.has(o.operation) || ROLLBACK_OPERATION.test(o.operation)),
    );
    const errorString = lastDeploy.errorString ?? '';
    const cause = classifyDeployFailure(errorString);
    if (lastDeploy.rollbackOperationId !== undefined) {
      const rollback = ops.find((o) => o.operationId === lastDeploy.rollbackOperationId);
      findings.push({
        kind: 'ROLLED_BACK',
        summary: `MSF rolled back from version ${lastDeploy.versionTo ?? app.versionRolledBackFrom ?? '?'} to ${app.versionRolledBackTo ?? lastDeploy.versionFrom ?? '?'} after ${lastDeploy.operation} failed: ${errorString || 'no ErrorInfo'}.`,
        fromVersionId: lastDeploy.versionTo ?? app.versionRolledBackFrom ?? app.versionId,
        toVersionId: app.versionRolledBackTo ?? lastDeploy.versionFrom ?? app.versionId,
        system: true,
        ...(rollback?.endMs === undefined ? {} : { atMs: rollback.endMs }),
        ...(errorString ? { errorString } : {}),
      });
    } else if (!laterSuccess && (app.status === 'READY' || cause === 'SNAPSHOT')) {
      findings.push({
        kind: 'DEPLOY_FAILED',
        summary: `${lastDeploy.operation} (${lastDeploy.operationId}) failed${lastDeploy.versionTo ? ` for version ${lastDeploy.versionTo}` : ''}; the application is ${app.status}. ErrorInfo: ${errorString || '(none)'}`,
        operation: lastDeploy,
        cause,
        errorString,
        status: app.status,
      });
    }
  }

  const loop = app.status === 'RUNNING' || app.status === 'AUTOSCALING' ? restartLoop(obs, policy, nowMs) : undefined;
  if (loop) findings.push(loop);

  const stall = checkpointStall(obs, policy, nowMs);
  if (stall) findings.push(stall);

  if (
    policy.desiredStatus === 'RUNNING' &&
    app.status === 'READY' &&
    !findings.some((f) => f.kind === 'DEPLOY_FAILED')
  ) {
    findings.push({
      kind: 'UNEXPECTED_STATUS',
      summary: `${app.name} is READY (not running) but its desired status is RUNNING.`,
      desired: 'RUNNING',
      actual: app.status,
    });
  }

  const order: Finding['kind'][] = [
    'OBSERVATION_FAILED',
    'STUCK_TRANSITION',
    'DEPLOY_FAILED',
    'RESTART_LOOP',
    'CHECKPOINT_STALL',
    'ROLLED_BACK',
    'UNEXPECTED_STATUS',
  ];
  return findings.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
}
