import type { Finding } from '#shared/domain/findings.ts';
import type { ApplicationOperation } from '#shared/domain/model.ts';

/**
 * The onset of a drill incident: the instant from which its detection time is measured, taken from the world (the
 * emulator's view and its operation history), never from what the watchdog believed.
 */

/** Which onset rule applied. */
export type OnsetRule =
  /** RESTART_LOOP: the first restart of the looping job (the job running at the decision). */
  | 'first-restart'
  /** DEPLOY_FAILED, ROLLED_BACK: the end (EndTime) of the FAILED operation. */
  | 'failed-operation-end'
  /** STUCK_TRANSITION: the operation's StartTime + the stuck limit of the status it is stuck in. */
  | 'transition-limit'
  /** UNEXPECTED_STATUS: when the application entered the status found (e.g. READY while desired RUNNING). */
  | 'entered-status'
  /** CHECKPOINT_STALL: the first failed checkpoint of the job running at the decision. */
  | 'first-failed-checkpoint';

/** The onset of one incident. */
export interface DetectionOnset {
  readonly rule: OnsetRule;
  /** Epoch ms. */
  readonly atMs: number;
}

/** What {@link detectionOnset} reasons from; every time is epoch ms. */
export interface OnsetEvidence {
  /** The incident's finding (what the detector concluded); undefined when it recorded none. */
  readonly finding: Finding | undefined;
  /**
   * Name of the alarm that opened the incident, when an alarm did (IncidentTrigger.detail); used only without a
   * finding (e.g. an application out of scope, recorded OBSERVED without evaluation).
   */
  readonly triggerAlarmName?: string;
  /**
   * True when the incident, without a finding, is the reconciler's answer to a status drift: it starts (or would
   * start) an application declared RUNNING that is not running. Default: false.
   */
  readonly reconcilerStart?: boolean;
  /** The detector's decision: the incident's openedMs. */
  readonly decisionMs: number;
  /**
   * Times at which a job of the application restarted for the first time (its restart counter left 0), from the
   * emulator's view, ascending. The first restart of the looping job is the last of them at or before the decision.
   */
  readonly firstRestartsMs: readonly number[];
  /**
   * Times at which a job of the application failed a checkpoint for the first time (its failed-checkpoint counter
   * left 0), from the emulator's view, ascending. Default: none.
   */
  readonly firstFailedCheckpointsMs?: readonly number[];
  /** The application's operations, from the emulator (ListApplicationOperations). */
  readonly operations: readonly ApplicationOperation[];
  /** Each time the application entered a status (emulator's view), ascending. */
  readonly statusEntries: ReadonlyArray<{ readonly status: string; readonly atMs: number }>;
  /** The stuck limit configured for a transient status, minutes (the watchdog's policy); undefined for others. */
  readonly stuckLimitMinutes: (status: string) => number | undefined;
}

const lastAtOrBefore = <T>(xs: readonly T[], ms: number, at: (x: T) => number | undefined): T | undefined =>
  xs
    .filter((x) => {
      const t = at(x);
      return t !== undefined && t <= ms;
    })
    .at(-1);

/**
 * The onset of an incident, by the kind of its finding; undefined when the rule's evidence is absent (e.g. a
 * RESTART_LOOP without any restart seen, an OBSERVATION_FAILED finding, or no finding at all).
 * - RESTART_LOOP → `first-restart`;
 * - DEPLOY_FAILED → `failed-operation-end` of the finding's operation (by OperationId), else of the last FAILED
 *   operation that ended at or before the decision; ROLLED_BACK → the same, for the failed operation that MSF's
 *   system rollback followed;
 * - STUCK_TRANSITION → `transition-limit`: StartTime of the finding's operation (else of the last operation started at
 *   or before the decision; else the time the application entered the status) + the stuck limit;
 * - UNEXPECTED_STATUS → `entered-status`: the last time the application entered the status found;
 * - CHECKPOINT_STALL → `first-failed-checkpoint`: the last first-failed-checkpoint at or before the decision;
 * - any other kind → undefined;
 * - no finding (the application was out of scope, or a drift report): `first-restart` when an alarm opened the
 *   incident and a job restarted before the decision; `entered-status` (the status the application was in at the
 *   decision, when not RUNNING) for the reconciler's start of a stopped application; else undefined.
 */
export function detectionOnset(e: OnsetEvidence): DetectionOnset | undefined {
  const f = e.finding;
  if (!f) {
    if (e.reconcilerStart) {
      // Status drift: the application left RUNNING (e.g. stopped by hand) and stays out of it.
      const current = lastAtOrBefore(e.statusEntries, e.decisionMs, (s) => s.atMs);
      return current && current.status !== 'RUNNING' ? { rule: 'entered-status', atMs: current.atMs } : undefined;
    }
    // No finding: an alarm (restart loop, downtime, failed checkpoints) says a job is failing; its onset is the job's
    // first restart, when there was one.
    if (e.triggerAlarmName === undefined) return undefined;
    const at = lastAtOrBefore(e.firstRestartsMs, e.decisionMs, (t) => t);
    return at === undefined ? undefined : { rule: 'first-restart', atMs: at };
  }
  switch (f.kind) {
    case 'RESTART_LOOP': {
      const at = lastAtOrBefore(e.firstRestartsMs, e.decisionMs, (t) => t);
      return at === undefined ? undefined : { rule: 'first-restart', atMs: at };
    }
    case 'DEPLOY_FAILED':
    case 'ROLLED_BACK': {
      const failed = e.operations.filter((o) => o.status === 'FAILED');
      const byId =
        f.kind === 'DEPLOY_FAILED' ? failed.find((o) => o.operationId === f.operation.operationId) : undefined;
      const op =
        byId ??
        lastAtOrBefore(
          sortBy(failed, (o) => o.endMs),
          e.decisionMs,
          (o) => o.endMs,
        );
      return op?.endMs === undefined ? undefined : { rule: 'failed-operation-end', atMs: op.endMs };
    }
    case 'STUCK_TRANSITION': {
      const limit = e.stuckLimitMinutes(f.status);
      if (limit === undefined) return undefined;
      const byId = f.operation
        ? e.operations.find((o) => o.operationId === f.operation?.operationId && o.startMs !== undefined)
        : undefined;
      const op =
        byId ??
        lastAtOrBefore(
          sortBy(e.operations, (o) => o.startMs),
          e.decisionMs,
          (o) => o.startMs,
        );
      const entered = lastAtOrBefore(
        e.statusEntries.filter((s) => s.status === f.status),
        e.decisionMs,
        (s) => s.atMs,
      );
      const startMs = op?.startMs ?? entered?.atMs;
      return startMs === undefined ? undefined : { rule: 'transition-limit', atMs: startMs + limit * 60_000 };
    }
    case 'UNEXPECTED_STATUS': {
      const entered = lastAtOrBefore(
        e.statusEntries.filter((s) => s.status === f.actual),
        e.decisionMs,
        (s) => s.atMs,
      );
      return entered ? { rule: 'entered-status', atMs: entered.atMs } : undefined;
    }
    case 'CHECKPOINT_STALL': {
      const at = lastAtOrBefore(e.firstFailedCheckpointsMs ?? [], e.decisionMs, (t) => t);
      return at === undefined ? undefined : { rule: 'first-failed-checkpoint', atMs: at };
    }
    default:
      // OBSERVATION_FAILED, and kinds without an onset rule yet: no figure rather than a made-up one.
      return undefined;
  }
}

function sortBy<T>(xs: readonly T[], key: (x: T) => number | undefined): T[] {
  return [...xs].sort((a, b) => (key(a) ?? 0) - (key(b) ?? 0));
}
