import type { ApplicationOperation, ApplicationStatus } from './model.ts';

/**
 * Findings: what evaluation concluded about one observation. Values, not exceptions.
 * Every finding carries `summary`, a sentence in the user's terms.
 */

/** Why a deploy (UpdateApplication/StartApplication) failed, classified from its ErrorInfo. */
export type DeployFailureCause =
  /** The job could not be submitted or started (wrong main class, missing dependency, ...). */
  | 'SUBMIT'
  /** A snapshot could not be taken because the job was down (e.g. while in a restart loop). */
  | 'SNAPSHOT'
  /** Saved state could not be mapped onto the new job graph (removed operator, changed UID). */
  | 'STATE_INCOMPATIBLE'
  | 'UNKNOWN';

export interface RestartLoopFinding {
  kind: 'RESTART_LOOP';
  summary: string;
  /** Restarts counted in the window, count. */
  restarts: number;
  windowMinutes: number;
  /** fullRestarts or numRestarts. */
  metricName: string;
  /** Start of the first period with a restart in the window, ms. */
  onsetMs: number;
  /** The version change shortly before the loop, if any. */
  recentChange?: { fromVersionId: number; toVersionId: number; atMs: number; byRollback: boolean };
}

export interface StuckTransitionFinding {
  kind: 'STUCK_TRANSITION';
  summary: string;
  status: ApplicationStatus;
  sinceMs: number;
  /** Time in the status, minutes (rounded down). */
  minutes: number;
  limitMinutes: number;
  operation?: ApplicationOperation;
}

export interface DeployFailedFinding {
  kind: 'DEPLOY_FAILED';
  summary: string;
  operation: ApplicationOperation;
  cause: DeployFailureCause;
  errorString: string;
  /** Status the application was found in (READY after a failed update/start, RUNNING after a failed snapshot). */
  status: ApplicationStatus;
}

export interface RolledBackFinding {
  kind: 'ROLLED_BACK';
  summary: string;
  fromVersionId: number;
  toVersionId: number;
  /** True when MSF's system rollback did it (the failed operation names a RollbackOperationId). */
  system: boolean;
  atMs?: number;
  errorString?: string;
}

export interface UnexpectedStatusFinding {
  kind: 'UNEXPECTED_STATUS';
  summary: string;
  desired: 'RUNNING' | 'READY';
  actual: ApplicationStatus;
}

/**
 * Why checkpoints count as stalled:
 * - `FAILED_CHECKPOINTS_RISING`: `numberOfFailedCheckpoints` rose by at least the threshold within the window, beyond
 *   the failures restarts explain, and no checkpoint completed after the last failure;
 * - `NO_COMPLETED_CHECKPOINT`: no checkpoint completed since the job was submitted (the last-checkpoint gauges read -1),
 *   for longer than the window.
 */
export type CheckpointStallCause = 'FAILED_CHECKPOINTS_RISING' | 'NO_COMPLETED_CHECKPOINT';

/** How the checkpoint-stall window was derived (the Flink Kubernetes Operator's rule). */
export interface CheckpointStallWindow {
  /** max(interval, timeout) × (tolerable failures + 2), ms. */
  windowMs: number;
  /** `CheckpointInterval`, ms. */
  intervalMs: number;
  /** DEFAULT: MSF's 60000 ms for ConfigurationType DEFAULT; CUSTOM: the application's CheckpointInterval; ASSUMED: not returned, 60000 ms assumed. */
  intervalSource: 'DEFAULT' | 'CUSTOM' | 'ASSUMED';
  /** Checkpoint timeout from the policy (Flink's default 10 min), ms. */
  timeoutMs: number;
  /** Tolerable consecutive checkpoint failures from the policy (Flink's default 0), count. */
  tolerableFailedCheckpoints: number;
  /** The derivation in words, e.g. "max(interval 60 s [MSF DEFAULT], timeout 600 s) × (0 tolerable failures + 2) = 20 min". */
  derivation: string;
}

/** Checkpoints of a RUNNING job stall: they fail again and again, or none completes within the window. */
export interface CheckpointStallFinding {
  kind: 'CHECKPOINT_STALL';
  summary: string;
  cause: CheckpointStallCause;
  /** Since when no checkpoint is known to have completed (the last completion seen, or the job's start), ms. */
  sinceMs: number;
  /** When the stall condition was first met (the threshold-th failure, or `sinceMs` + window), ms. */
  onsetMs: number;
  /** End of the period in which the last completed checkpoint was seen, ms; undefined when none was seen. */
  lastCompletedMs?: number;
  /** Increase of numberOfFailedCheckpoints in the window, count. */
  failedCheckpoints: number;
  /** Restarts in the same window (each can abort one in-flight checkpoint), count. */
  restarts: number;
  /** Failed checkpoints no restart explains: `failedCheckpoints - restarts`, at least 0, count. */
  unexplainedFailures: number;
  /** Threshold of `unexplainedFailures` for FAILED_CHECKPOINTS_RISING, count. */
  failedCheckpointsThreshold: number;
  window: CheckpointStallWindow;
}

export interface ObservationFailedFinding {
  kind: 'OBSERVATION_FAILED';
  summary: string;
  source: string;
  message: string;
}

export type Finding =
  | RestartLoopFinding
  | StuckTransitionFinding
  | DeployFailedFinding
  | RolledBackFinding
  | UnexpectedStatusFinding
  | CheckpointStallFinding
  | ObservationFailedFinding;

export type FindingKind = Finding['kind'];
