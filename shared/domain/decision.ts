import type { Finding } from './findings.ts';
import type { ApplicationRestoreType } from './model.ts';

/** How to start the application (StartApplication RunConfiguration). */
export interface StartOptions {
  restoreType: ApplicationRestoreType;
  /** Required with RESTORE_FROM_CUSTOM_SNAPSHOT. */
  snapshotName?: string;
  /** `FlinkRunConfiguration.AllowNonRestoredState`: drop state that no operator of the new job graph claims. */
  allowNonRestoredState: boolean;
}

/** A remediation the watchdog can take, with what it needs to carry it out. */
export type RemediationAction =
  /** RollbackApplication to `ApplicationVersionUpdatedFrom`; MSF restores from the last successful snapshot. */
  | { kind: 'ROLLBACK'; expectVersionId: number; toVersionId: number }
  /** StopApplication Force=true, then (when desired RUNNING) StartApplication with `start`. */
  | { kind: 'FORCE_STOP_AND_RESTART'; expectVersionId: number; start?: StartOptions }
  /** StartApplication from READY. */
  | { kind: 'START'; expectVersionId: number; start: StartOptions }
  /**
   * StopApplication without Force (allowed only from RUNNING): MSF takes a snapshot first when `SnapshotsEnabled`;
   * ends when the application is READY. Only a person asks for it (runbook `stop`).
   */
  | { kind: 'STOP'; expectVersionId: number }
  /** UpdateApplication (from READY) back to version `goodVersionId`'s configuration, then StartApplication. */
  | { kind: 'REAPPLY_PREVIOUS_VERSION'; expectVersionId: number; goodVersionId: number; start: StartOptions };

export type RemediationKind = RemediationAction['kind'];

/** One guard checked before acting (recorded on the incident). */
export interface GuardResult {
  name:
    | 'in-scope'
    | 'mode-remediate'
    | 'status-actionable'
    | 'no-foreign-operation'
    | 'lock-free'
    | 'cooldown-passed'
    | 'attempts-left'
    | 'snapshot-exists'
    | 'desired-running'
    /** Automatic remediation of the application is not paused (runbook `pause-automation`). */
    | 'automation-active';
  passed: boolean;
  detail: string;
}

/**
 * The outcome of `decide`:
 * - `REMEDIATE`: carry out `remediation`;
 * - `NOTIFY`: tell people (nothing safe or wanted to do automatically);
 * - `ESCALATE`: stop acting and page humans;
 * - `NONE`: nothing to do (healthy, duplicate, out of scope, observe mode: see `wouldHave`).
 */
export interface Decision {
  verdict: 'REMEDIATE' | 'NOTIFY' | 'ESCALATE' | 'NONE';
  /** Why, in the user's terms. */
  reason: string;
  /** The finding acted on (the strongest). */
  finding?: Finding;
  remediation?: RemediationAction;
  /** In observe mode (or when a guard blocked it): what would have been done. */
  wouldHave?: RemediationAction;
  guards: GuardResult[];
  /** Exact next steps for a human (AWS CLI commands), when notifying or escalating. */
  nextSteps: string[];
  /**
   * approve mode (policy `mode: approve`), with verdict REMEDIATE: people approve `remediation` before the workflow
   * acts. `timeoutMinutes` is policy `approvalTimeoutMinutes`; `onTimeout` is policy `onApprovalTimeout`.
   */
  approval?: { timeoutMinutes: number; onTimeout: 'escalate' | 'proceed' };
}

/** A human description of a remediation, e.g. "force-stop, then start RESTORE_FROM_CUSTOM_SNAPSHOT (snap-1)". */
export function describeRemediation(a: RemediationAction): string {
  const start = (s: StartOptions) =>
    `start ${s.restoreType}${s.snapshotName ? ` (${s.snapshotName})` : ''}${s.allowNonRestoredState ? ' with AllowNonRestoredState=true' : ''}`;
  switch (a.kind) {
    case 'ROLLBACK':
      return `roll back from version ${a.expectVersionId} to version ${a.toVersionId} (RollbackApplication)`;
    case 'FORCE_STOP_AND_RESTART':
      return a.start ? `force-stop, then ${start(a.start)}` : 'force-stop (desired status READY: no restart)';
    case 'START':
      return start(a.start);
    case 'STOP':
      return 'stop (StopApplication without Force: MSF takes a snapshot first when SnapshotsEnabled)';
    case 'REAPPLY_PREVIOUS_VERSION':
      return `re-apply version ${a.goodVersionId}'s configuration (UpdateApplication), then ${start(a.start)}`;
  }
}
