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
  | ObservationFailedFinding;

export type FindingKind = Finding['kind'];
