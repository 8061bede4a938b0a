import { createHash } from 'node:crypto';
import { type DetectionSettings, type PolicySettings, stuckLimitMinutes } from '#shared/config/schema.ts';
import * as z from '#shared/zod.ts';
import { APPLICATION_KEY_MAX_LENGTH } from './app-key.ts';
import { checkpointCompletions, checkpointWindow, currentRunStartMs } from './checkpoints.ts';
import { countRestarts, sliceWithBaseline } from './counters.ts';
import { runningVersionRestarts } from './detect.ts';
import type { Finding } from './findings.ts';
import type { ApplicationObservation, ApplicationOperation } from './model.ts';
import { isTransient } from './model.ts';

/**
 * Watches: after a signal that is not (yet) a finding, the watchdog looks again, at the moments new evidence can first
 * be seen, instead of waiting for the next alarm or sweep. Each watch is a Step Functions Standard execution
 * (infra/watch-workflow.ts): Wait (`$.waitSeconds`) → Check (the detector, `{"watch": …}`) → done? → Wait … Every
 * check re-observes and re-evaluates through the normal detector path; this module holds the pure parts: when a watch
 * starts, when it looks next, and when it ends.
 *
 * - `restarts`: the job restarted but fewer times than the restart-loop threshold. Looked at every minute until no
 *   restart is left in the window (QUIET) or the loop is confirmed (FOUND).
 * - `transition`: the application is in a transient status. Looked at once its limit has passed (STUCK_TRANSITION),
 *   or ends when the status settles.
 * - `change`: an UpdateApplication or StartApplication. Looked at every minute for `watchMinutes` after the operation
 *   ended: STABLE when restarts stayed at zero and no checkpoint failed; a restart is counted exactly as above.
 * - `checkpoints`: checkpoints of the running job failed (beyond what restarts explain) and none completed since, fewer
 *   than a CHECKPOINT_STALL needs. Looked at every minute until the stall is confirmed (FOUND) or checkpointing
 *   resumes (RESUMED).
 *
 * A finding held back by a guard (DEFERRED: cooldown, a foreign operation in progress, the lock held) that is still
 * going on, a restart loop or a checkpoint stall, is followed by the same `restarts` or `checkpoints` watch (see
 * {@link deferredWatches}): looked at again within a minute rather than at the next sweep.
 */

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;

/**
 * Seconds after a datapoint can first be read before a check looks for it: room for the Lambda invocation and the
 * emulator's or CloudWatch's own ingestion jitter. An assumption (no AWS figure exists); small, so a decision comes
 * well within 30 s of the datapoint.
 */
export const CHECK_MARGIN_SECONDS = 5;

/** Kinds of watch. */
export const WATCH_KINDS = ['restarts', 'transition', 'change', 'checkpoints'] as const;
export type WatchKind = (typeof WATCH_KINDS)[number];

/** How a watch ended. */
export const WATCH_OUTCOMES = [
  /** `restarts`: no restart left in the window. */
  'QUIET',
  /**
   * `change`: `watchMinutes` after the operation with no restart, no failed checkpoint and (checkpointing on) a
   * completed checkpoint: stronger than "seen running".
   */
  'STABLE',
  /** `change`: restarts or failed checkpoints during the watch, fewer than a finding needs; quiet again. */
  'UNSTABLE',
  /**
   * `change`: `watchMinutes` with no restart and no failed checkpoint, but no completed checkpoint seen either (with
   * checkpointing on): not stable.
   */
  'NO_CHECKPOINT',
  /** `transition`: the status left the transient status before its limit. */
  'SETTLED',
  /** `change`: the operation failed without a finding (MSF kept the application as it was). */
  'OPERATION_FAILED',
  /**
   * `checkpoints`: a checkpoint completed after the failures, or none failed for a whole checkpoint cycle
   * (max(interval, timeout) + two periods of publishing lag).
   */
  'RESUMED',
  /** `checkpoints`: the application left RUNNING (no job, no checkpoints; a transition has its own watch). */
  'NOT_RUNNING',
  /** A finding was decided on (an incident was recorded). */
  'FOUND',
  /** An open incident already handles the application. */
  'HANDLED',
  /** The application is no longer watched or readable as an application. */
  'GONE',
  /** The watch reached its longest duration. */
  'EXPIRED',
] as const;
export type WatchOutcome = (typeof WATCH_OUTCOMES)[number];

/** Longest a watch runs, minutes: its Step Functions execution is stopped after this at the latest. */
export const MAX_WATCH_MINUTES = 6 * 60;

/** What started a watch (kept so an incident found by a check names the original signal). */
export const WatchTrigger = z.strictObject({
  source: z.enum(['alarm', 'schedule', 'cloudtrail']),
  /** Alarm name, schedule rule or CloudTrail eventName. */
  detail: z.string().check(z.maxLength(512)),
});

/** One watch, as it travels between the checks of its execution (the state machine's `$.watch`). */
export const WatchState = z.strictObject({
  schemaVersion: z.literal(1),
  /** The application key (shared/domain/app-key.ts): the MSF ApplicationName, or `NAME@ACCOUNT.REGION`. */
  applicationName: z
    .string()
    .check(
      z.minLength(1),
      z.maxLength(APPLICATION_KEY_MAX_LENGTH),
      z.regex(
        /^[a-zA-Z0-9_.-]+(@\d{12}\.[a-z]{2}(-[a-z]+)+-\d+)?$/,
        'an application key: an MSF application name ([a-zA-Z0-9_.-]), or NAME@ACCOUNT.REGION',
      ),
    ),
  kind: z.enum(WATCH_KINDS),
  /** The execution name (see {@link watchName}): one watch per application, kind and key. */
  name: z.string().check(z.minLength(1), z.maxLength(80)),
  /** When the watch started, epoch ms. */
  startedMs: z.number().check(z.int(), z.nonnegative()),
  /** The watch ends at the first check at or after this time, epoch ms. */
  untilMs: z.number().check(z.int(), z.nonnegative()),
  /** `change`: the operation watched (ListApplicationOperations OperationId). */
  operationId: z.optional(z.string().check(z.minLength(1))),
  /** `change`: when the operation ended and the stability window began, epoch ms. */
  stableFromMs: z.optional(z.number().check(z.int(), z.nonnegative())),
  /** Checks made so far, count. */
  checks: z.number().check(z.int(), z.nonnegative()),
  /** A restart was seen during the watch. */
  sawRestart: z.boolean(),
  /** A failed checkpoint was seen during the watch. */
  sawFailedCheckpoint: z.boolean(),
  trigger: WatchTrigger,
});
export type WatchState = z.infer<typeof WatchState>;

/**
 * The state of a watch execution between its states: the Check Task's input and output (the detector's answer adds
 * its results beside these fields). `waitSeconds` is what the Wait state waits before the next check.
 */
export const WatchInput = z.object({
  watch: WatchState,
  /** The watch is over: the Choice state ends the execution. */
  done: z._default(z.boolean(), false),
  /** Seconds to wait before the next check (a non-negative integer: Step Functions' Wait SecondsPath). */
  waitSeconds: z._default(z.number().check(z.int(), z.minimum(0)), 0),
});
export type WatchInput = z.infer<typeof WatchInput>;

/** What one check decided about its watch. */
export interface WatchStep {
  watch: WatchState;
  done: boolean;
  /** Seconds until the next check (0 when done). */
  waitSeconds: number;
  /** Set when done. */
  outcome?: WatchOutcome;
  /** One line for people: why the watch goes on or ended. */
  summary: string;
}

/**
 * The execution name of a watch: `<application>-<kind>-<hash of the key>`, at most 80 characters of [A-Za-z0-9_-]
 * (StartExecution `name`: 1-80 characters; "to enable logging with CloudWatch Logs, the name should only contain 0-9,
 * A-Z, a-z, - and _", and the watch workflow logs; an application name's `.` becomes `-`, the hash keeps names apart;
 * https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html). A name is unique per state
 * machine for 90 days: a second start of the same watch answers ExecutionAlreadyExists (for a running execution with
 * the very same input it succeeds and changes nothing), so two signals about one situation start one watch.
 */
export function watchName(applicationName: string, kind: WatchKind, key: string): string {
  const hash = createHash('sha256').update(`${applicationName}\n${kind}\n${key}`).digest('hex').slice(0, 16);
  const safe = applicationName.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 80 - kind.length - hash.length - 2);
  return `${safe}-${kind}-${hash}`;
}

/**
 * The first moment after `nowMs` at which a check sees the datapoint of a period that has ended since: a minute
 * boundary + `metricsDelaySeconds` + {@link CHECK_MARGIN_SECONDS}, epoch ms. A check made then sees the newest
 * period's datapoint ≤ margin seconds after it can first be read.
 */
export function nextDataCheckMs(nowMs: number, metricsDelaySeconds: number): number {
  const offset = ((metricsDelaySeconds + CHECK_MARGIN_SECONDS) * SECOND_MS) % MINUTE_MS;
  const base = Math.floor((nowMs - offset) / MINUTE_MS) * MINUTE_MS + offset;
  return base > nowMs ? base : base + MINUTE_MS;
}

/** Whole seconds from `nowMs` until `dueMs` (rounded up, at least 0): a Wait state's SecondsPath value. */
export function secondsUntil(nowMs: number, dueMs: number): number {
  return Math.max(0, Math.ceil((dueMs - nowMs) / SECOND_MS));
}

/** A watch to start, with the seconds its execution waits before the first check. */
export interface WatchStart {
  input: WatchInput & { waitSeconds: number };
  /** One line for people. */
  summary: string;
}

/** The newest UpdateApplication or StartApplication, in progress or successful. */
function newestChange(obs: ApplicationObservation): ApplicationOperation | undefined {
  return [...obs.operations]
    .filter(
      (o) =>
        (o.operation === 'UpdateApplication' || o.operation === 'StartApplication') &&
        (o.status === 'IN_PROGRESS' || o.status === 'SUCCESSFUL'),
    )
    .sort((a, b) => (b.startMs ?? 0) - (a.startMs ?? 0))[0];
}

/** Since when the application has been in its transient status: its in-progress operation's start, else its last update. */
function transientSinceMs(obs: ApplicationObservation): { sinceMs?: number; operationId?: string } {
  const inProgress = [...obs.operations]
    .filter((o) => o.status === 'IN_PROGRESS')
    .sort((a, b) => (b.startMs ?? 0) - (a.startMs ?? 0))[0];
  const sinceMs = inProgress?.startMs ?? obs.application?.lastUpdateMs;
  return {
    ...(sinceMs === undefined ? {} : { sinceMs }),
    ...(inProgress ? { operationId: inProgress.operationId } : {}),
  };
}

/** When a transition watch looks: the transition's limit has passed (`evaluate` counts it stuck after the limit). */
function transitionDueMs(sinceMs: number, limitMinutes: number): number {
  return sinceMs + limitMinutes * MINUTE_MS + CHECK_MARGIN_SECONDS * SECOND_MS;
}

/** Fields every planned watch shares. */
type WatchBase = Pick<WatchState, 'schemaVersion' | 'applicationName' | 'startedMs' | 'checks' | 'trigger'>;

/**
 * Failed checkpoints of the running job that no completed checkpoint has followed yet: what a `checkpoints` watch
 * follows below the CHECKPOINT_STALL threshold.
 */
export interface CheckpointFailures {
  /**
   * Failures (numberOfFailedCheckpoints increases) since the last completed checkpoint, the job's submission or the
   * stall window's start, whichever is latest, beyond the one failure each restart explains, count.
   */
  failed: number;
  /** Start of the period of the first such failure, epoch ms. */
  firstFailureMs: number;
  /** Start of the period of the newest such failure, epoch ms. */
  lastFailureMs: number;
  /**
   * The episode the failures belong to: the end of the period of the last completed checkpoint before them, else the
   * job's submission, else the first failure, epoch ms. The `checkpoints` watch is named after it.
   */
  sinceMs: number;
  /** The checkpoint-stall window (see `checkpointWindow` in checkpoints.ts), ms. */
  windowMs: number;
}

/**
 * Checkpoint failures still going on (pure), or undefined: the application is RUNNING with checkpointing on, failures
 * beyond what restarts explain are in the stall window since the last completed checkpoint, and the newest of them
 * is recent (within one checkpoint cycle, max(interval, timeout), plus two periods of publishing lag: the same test of
 * "ongoing" as the CHECKPOINT_STALL rule in detect.ts). Counted as that rule counts them: the cumulative counter's
 * increases, a drop being a new job's counter, a completion seen when a last-checkpoint gauge changes to a value ≥ 0.
 */
export function checkpointFailures(
  obs: ApplicationObservation,
  policy: PolicySettings,
  nowMs: number,
): CheckpointFailures | undefined {
  const app = obs.application;
  if (app?.status !== 'RUNNING') return undefined;
  const window = checkpointWindow(app, policy.checkpointStall);
  if (!window.enabled) return undefined;
  const runStartMs = currentRunStartMs(obs);
  const completedMs = checkpointCompletions(obs.lastCheckpointDuration, obs.lastCheckpointSize).lastCompletionMs;
  const lastCompletedMs =
    completedMs !== undefined && (runStartMs === undefined || completedMs > runStartMs) ? completedMs : undefined;
  const fromMs = Math.max(
    nowMs - window.windowMs,
    runStartMs ?? Number.NEGATIVE_INFINITY,
    lastCompletedMs ?? Number.NEGATIVE_INFINITY,
  );
  const failed = countRestarts(sliceWithBaseline(obs.failedCheckpoints, fromMs, nowMs));
  const restarts = countRestarts(sliceWithBaseline(obs.restarts, fromMs, nowMs)).restarts;
  const unexplained = failed.restarts - restarts;
  if (unexplained <= 0 || failed.firstIncreaseMs === undefined || failed.lastIncreaseMs === undefined) return undefined;
  const periodMs = (obs.failedCheckpoints?.periodSeconds ?? 60) * SECOND_MS;
  const cycleMs = Math.max(window.intervalMs, window.timeoutMs);
  if (failed.lastIncreaseMs + periodMs < nowMs - (cycleMs + 2 * periodMs)) return undefined;
  return {
    failed: unexplained,
    firstFailureMs: failed.firstIncreaseMs,
    lastFailureMs: failed.lastIncreaseMs,
    sinceMs: lastCompletedMs ?? runStartMs ?? failed.firstIncreaseMs,
    windowMs: window.windowMs,
  };
}

/** The `restarts` watch for restarts of the running version in the window, if any. */
function restartsWatch(
  obs: ApplicationObservation,
  policy: PolicySettings,
  detection: DetectionSettings,
  base: WatchBase,
  nowMs: number,
): WatchStart | undefined {
  const app = obs.application;
  const restarts = runningVersionRestarts(obs, policy, nowMs);
  if (!app || !restarts || restarts.restarts <= 0 || restarts.firstIncreaseMs === undefined) return undefined;
  const kind = 'restarts';
  const key = `v${app.versionId}:${restarts.firstIncreaseMs}`;
  return {
    input: {
      watch: {
        ...base,
        kind,
        name: watchName(obs.applicationName, kind, key),
        untilMs: nowMs + 2 * policy.restartLoop.windowMinutes * MINUTE_MS,
        sawRestart: true,
        sawFailedCheckpoint: false,
      },
      done: false,
      waitSeconds: secondsUntil(nowMs, nextDataCheckMs(nowMs, detection.metricsDelaySeconds)),
    },
    summary: `${restarts.restarts} restart(s) in the last ${policy.restartLoop.windowMinutes} min (threshold ${policy.restartLoop.threshold}): looking again every minute`,
  };
}

/**
 * The `checkpoints` watch of one episode of failures: named after the version and the episode's start (the last
 * completed checkpoint, else the submission), so every signal about the same failing checkpoints maps to one
 * execution. It runs for the stall window plus two periods and the metrics delay past now: within that a stall is
 * either confirmed or not going on.
 */
function checkpointsWatch(
  obs: ApplicationObservation,
  episode: { sinceMs: number; windowMs: number },
  detection: DetectionSettings,
  base: WatchBase,
  nowMs: number,
  summary: string,
): WatchStart | undefined {
  const app = obs.application;
  if (!app) return undefined;
  const kind = 'checkpoints';
  return {
    input: {
      watch: {
        ...base,
        kind,
        name: watchName(obs.applicationName, kind, `v${app.versionId}:${episode.sinceMs}`),
        untilMs: nowMs + episode.windowMs + 2 * MINUTE_MS + detection.metricsDelaySeconds * SECOND_MS,
        sawRestart: false,
        sawFailedCheckpoint: true,
      },
      done: false,
      waitSeconds: secondsUntil(nowMs, nextDataCheckMs(nowMs, detection.metricsDelaySeconds)),
    },
    summary,
  };
}

/**
 * The watches a healthy observation calls for (pure): a restart below the threshold → `restarts`; failed checkpoints
 * below the stall threshold, none completed since → `checkpoints`; a transient status → `transition` (first check
 * just after its limit); an UpdateApplication or StartApplication in progress or ended within `watchMinutes` →
 * `change`. Each has a deterministic name, so the same situation seen again (a duplicate alarm event, the next sweep)
 * maps to the same execution, which Step Functions refuses to start twice.
 */
export function plannedWatches(
  obs: ApplicationObservation,
  policy: PolicySettings,
  detection: DetectionSettings,
  trigger: z.infer<typeof WatchTrigger>,
  nowMs: number,
): WatchStart[] {
  const app = obs.application;
  if (!app) return [];
  const name = obs.applicationName;
  const starts: WatchStart[] = [];
  const base: WatchBase = { schemaVersion: 1, applicationName: name, startedMs: nowMs, checks: 0, trigger };
  const nextData = nextDataCheckMs(nowMs, detection.metricsDelaySeconds);
  const change = newestChange(obs);
  const watchMs = detection.watchMinutes * MINUTE_MS;

  const restarts = restartsWatch(obs, policy, detection, base, nowMs);
  if (restarts) starts.push(restarts);

  const failing = checkpointFailures(obs, policy, nowMs);
  if (failing) {
    const threshold =
      policy.checkpointStall.failedCheckpointsThreshold ?? policy.checkpointStall.tolerableFailedCheckpoints + 2;
    const checkpoints = checkpointsWatch(
      obs,
      failing,
      detection,
      base,
      nowMs,
      `${failing.failed} failed checkpoint(s) since ${new Date(failing.sinceMs).toISOString()}, none completed since (stall threshold ${threshold}): looking again every minute`,
    );
    if (checkpoints) starts.push(checkpoints);
  }

  const limit = stuckLimitMinutes(policy, app.status);
  const transient = transientSinceMs(obs);
  if (isTransient(app.status) && limit !== undefined && transient.sinceMs !== undefined) {
    const kind = 'transition';
    const dueMs = transitionDueMs(transient.sinceMs, limit);
    const key = `${app.status}:${transient.operationId ?? transient.sinceMs}`;
    starts.push({
      input: {
        watch: {
          ...base,
          kind,
          name: watchName(name, kind, key),
          untilMs: Math.max(dueMs, nowMs) + 10 * MINUTE_MS,
          sawRestart: false,
          sawFailedCheckpoint: false,
        },
        done: false,
        waitSeconds: secondsUntil(nowMs, dueMs),
      },
      summary: `${app.status} since ${new Date(transient.sinceMs).toISOString()}: looking again when its ${limit}-min limit has passed`,
    });
  }

  if (change && (change.status === 'IN_PROGRESS' || (change.endMs !== undefined && change.endMs + watchMs > nowMs))) {
    const kind = 'change';
    const inProgressLimit = (stuckLimitMinutes(policy, app.status) ?? 0) * MINUTE_MS;
    starts.push({
      input: {
        watch: {
          ...base,
          kind,
          name: watchName(name, kind, change.operationId),
          operationId: change.operationId,
          ...(change.status === 'SUCCESSFUL' && change.endMs !== undefined ? { stableFromMs: change.endMs } : {}),
          untilMs:
            change.status === 'SUCCESSFUL' && change.endMs !== undefined
              ? change.endMs + watchMs
              : nowMs + inProgressLimit + watchMs,
          sawRestart: false,
          sawFailedCheckpoint: false,
        },
        done: false,
        waitSeconds: secondsUntil(nowMs, nextData),
      },
      summary: `${change.operation} ${change.operationId}: watching every minute for ${detection.watchMinutes} min after it ends (no restart, no failed checkpoint)`,
    });
  }
  return starts;
}

/**
 * The watch that follows a finding held back by a guard (DEFERRED: cooldown, a foreign operation in progress, the
 * lock held), pure: a RESTART_LOOP → the `restarts` watch, a CHECKPOINT_STALL → the `checkpoints` watch, each under
 * the very name a healthy observation of the same situation would give it (see {@link plannedWatches}), so a watch
 * already following it is kept, not doubled. Each check of that watch runs the detector again: the finding is acted
 * on at the first check after the guard clears, within a minute, instead of at the next sweep. Other findings get no
 * watch: a STUCK_TRANSITION is followed by its `transition` watch, started when the transition was first seen, and
 * the rest are not ongoing situations.
 */
export function deferredWatches(
  finding: Finding,
  obs: ApplicationObservation,
  policy: PolicySettings,
  detection: DetectionSettings,
  trigger: z.infer<typeof WatchTrigger>,
  nowMs: number,
): WatchStart[] {
  const base: WatchBase = {
    schemaVersion: 1,
    applicationName: obs.applicationName,
    startedMs: nowMs,
    checks: 0,
    trigger,
  };
  const because = 'deferred by a guard: looking again every minute';
  switch (finding.kind) {
    case 'RESTART_LOOP': {
      const watch = restartsWatch(obs, policy, detection, base, nowMs);
      return watch ? [{ ...watch, summary: `${finding.restarts} restarts, ${because}` }] : [];
    }
    case 'CHECKPOINT_STALL': {
      // The episode as a healthy observation names it, so the watch that followed the failures below the threshold
      // is the one kept; a stall without failures (NO_COMPLETED_CHECKPOINT) is named after its start.
      const failing = checkpointFailures(obs, policy, nowMs);
      const episode = failing ?? { sinceMs: finding.sinceMs, windowMs: finding.window.windowMs };
      const watch = checkpointsWatch(obs, episode, detection, base, nowMs, `checkpoint stall, ${because}`);
      return watch ? [watch] : [];
    }
    default:
      return [];
  }
}

/**
 * The next step of a watch whose check found nothing to decide on (pure): go on at the next moment new evidence can
 * be seen, or end with an outcome. Restarts left in the window keep any watch going (they are counted exactly at each
 * check until the loop is confirmed or the window is quiet), up to `untilMs` and {@link MAX_WATCH_MINUTES}.
 */
export function advanceWatch(
  watch: WatchState,
  obs: ApplicationObservation,
  policy: PolicySettings,
  detection: DetectionSettings,
  nowMs: number,
): WatchStep {
  const app = obs.application;
  const restarts = runningVersionRestarts(obs, policy, nowMs)?.restarts ?? 0;
  const stableFromMs =
    watch.stableFromMs ?? (watch.kind === 'change' ? changeEndMs(obs, watch.operationId) : undefined);
  const countFrom = stableFromMs ?? watch.startedMs;
  const next: WatchState = {
    ...watch,
    checks: watch.checks + 1,
    ...(stableFromMs === undefined ? {} : { stableFromMs }),
    sawRestart: watch.sawRestart || countRestarts(sliceWithBaseline(obs.restarts, countFrom, nowMs)).restarts > 0,
    sawFailedCheckpoint:
      watch.sawFailedCheckpoint ||
      countRestarts(sliceWithBaseline(obs.failedCheckpoints, countFrom, nowMs)).restarts > 0,
  };
  const end = (outcome: WatchOutcome, summary: string): WatchStep => ({
    watch: next,
    done: true,
    waitSeconds: 0,
    outcome,
    summary,
  });
  const goOn = (dueMs: number, summary: string): WatchStep => ({
    watch: next,
    done: false,
    waitSeconds: secondsUntil(nowMs, dueMs),
    summary,
  });
  const everyMinute = nextDataCheckMs(nowMs, detection.metricsDelaySeconds);
  const hardStop = watch.startedMs + MAX_WATCH_MINUTES * MINUTE_MS;
  if (!app) return end('GONE', `${watch.applicationName} could not be described`);
  if (nowMs >= hardStop) return end('EXPIRED', `watched for ${MAX_WATCH_MINUTES} min`);

  if (restarts > 0 && watch.kind !== 'checkpoints' && (app.status === 'RUNNING' || app.status === 'AUTOSCALING')) {
    // A change watch that saw restarts follows them for up to two more windows past its end, then calls the change
    // UNSTABLE; other watches end at their end.
    const capMs =
      watch.kind === 'change' ? watch.untilMs + 2 * policy.restartLoop.windowMinutes * MINUTE_MS : watch.untilMs;
    if (nowMs >= capMs) {
      const below = `${restarts} restart(s) in the last ${policy.restartLoop.windowMinutes} min, below the threshold of ${policy.restartLoop.threshold}`;
      return watch.kind === 'change'
        ? end('UNSTABLE', `${below}, still at the end of the watch after ${watch.operationId}`)
        : end('EXPIRED', `${below}, at the watch's end`);
    }
    return goOn(
      everyMinute,
      `${restarts} restart(s) in the last ${policy.restartLoop.windowMinutes} min, below the threshold of ${policy.restartLoop.threshold}: looking again`,
    );
  }

  switch (watch.kind) {
    case 'restarts':
      return end('QUIET', `no restart in the last ${policy.restartLoop.windowMinutes} min`);
    case 'transition': {
      const limit = stuckLimitMinutes(policy, app.status);
      const since = transientSinceMs(obs).sinceMs;
      if (!isTransient(app.status) || limit === undefined || since === undefined) {
        return end('SETTLED', `${app.name} is ${app.status}: the transition ended within its limit`);
      }
      if (nowMs >= watch.untilMs) return end('EXPIRED', `${app.status} past the watch's end without a finding`);
      const dueMs = transitionDueMs(since, limit);
      return goOn(
        dueMs > nowMs ? dueMs : everyMinute,
        `${app.status} since ${new Date(since).toISOString()} (limit ${limit} min)`,
      );
    }
    case 'change': {
      const op = obs.operations.find((o) => o.operationId === watch.operationId);
      if (op?.status === 'FAILED') {
        return end('OPERATION_FAILED', `${op.operation} ${op.operationId} failed: ${op.errorString ?? 'no ErrorInfo'}`);
      }
      if (stableFromMs === undefined) {
        if (nowMs >= watch.untilMs) return end('EXPIRED', `${watch.operationId} did not end within the watch`);
        return goOn(everyMinute, `${op?.operation ?? 'the operation'} ${watch.operationId} is still in progress`);
      }
      const untilMs = Math.min(watch.untilMs, stableFromMs + detection.watchMinutes * MINUTE_MS);
      if (nowMs < untilMs) {
        return goOn(
          everyMinute,
          `${Math.floor((nowMs - stableFromMs) / MINUTE_MS)} of ${detection.watchMinutes} min after ${watch.operationId}: no restart so far`,
        );
      }
      if (next.sawRestart || next.sawFailedCheckpoint) {
        const what = [next.sawRestart ? 'restarts' : '', next.sawFailedCheckpoint ? 'failed checkpoints' : '']
          .filter(Boolean)
          .join(' and ');
        return end(
          'UNSTABLE',
          `${what} within ${detection.watchMinutes} min after ${watch.operationId}, fewer than a finding needs; quiet now`,
        );
      }
      // "Checkpoints complete": with checkpointing on, the job must have completed one since the operation. MSF
      // publishes no completed-checkpoint counter; a completion shows as lastCheckpointDuration/lastCheckpointSize
      // moving to a new value ≥ 0 (Flink reports -1 until a job's first completed checkpoint; MSF metrics page,
      // https://docs.aws.amazon.com/managed-flink/latest/java/metrics-dimensions.html).
      if (checkpointWindow(app, policy.checkpointStall).enabled && !completedSince(obs, stableFromMs)) {
        return end(
          'NO_CHECKPOINT',
          `no restart and no failed checkpoint for ${detection.watchMinutes} min after ${watch.operationId}, but no completed checkpoint seen either: not called stable (the checkpoint-stall rule decides once its window has passed)`,
        );
      }
      return end(
        'STABLE',
        `stable for ${detection.watchMinutes} min after ${watch.operationId}: no restart, no failed checkpoint, checkpoints completing`,
      );
    }
    case 'checkpoints': {
      // Restarts are the `restarts` watch's (the restart alarm starts it); this one follows the checkpoints only.
      if (app.status !== 'RUNNING') {
        return end('NOT_RUNNING', `${app.name} is ${app.status}: no running job whose checkpoints could stall`);
      }
      const failing = checkpointFailures(obs, policy, nowMs);
      if (!failing) {
        return end(
          'RESUMED',
          'checkpointing resumed: a checkpoint completed after the failures, or none failed for a checkpoint cycle',
        );
      }
      const failures = `${failing.failed} failed checkpoint(s) since ${new Date(failing.sinceMs).toISOString()}, none completed since`;
      if (nowMs >= watch.untilMs) return end('EXPIRED', `${failures}, below the stall threshold at the watch's end`);
      return goOn(everyMinute, `${failures}, below the stall threshold: looking again`);
    }
  }
}

/** EndTime of the watched operation once it succeeded, epoch ms. */
function changeEndMs(obs: ApplicationObservation, operationId: string | undefined): number | undefined {
  const op = obs.operations.find((o) => o.operationId === operationId);
  return op?.status === 'SUCCESSFUL' ? op.endMs : undefined;
}

/**
 * Whether the job completed a checkpoint after `fromMs` (epoch ms): a last-checkpoint gauge (lastCheckpointDuration or
 * lastCheckpointSize) changed to a value ≥ 0 in a period ending after it, or the newest lastCheckpointDuration
 * datapoint since it is ≥ 0 after a -1 (a new job's first completion).
 */
function completedSince(obs: ApplicationObservation, fromMs: number): boolean {
  const { lastCompletionMs } = checkpointCompletions(obs.lastCheckpointDuration, obs.lastCheckpointSize);
  if (lastCompletionMs !== undefined && lastCompletionMs > fromMs) return true;
  const points = (obs.lastCheckpointDuration?.points ?? []).filter((p) => p.timestampMs >= fromMs);
  return points.some((p) => p.value < 0) && (points.at(-1)?.value ?? -1) >= 0;
}
