import type { PolicySettings } from '#shared/config/schema.ts';
import type { Decision, GuardResult, RemediationAction, StartOptions } from './decision.ts';
import { describeRemediation } from './decision.ts';
import type { CheckpointStallFinding, Finding } from './findings.ts';
import type { ApplicationObservation, ApplicationSnapshot, ApplicationState, ApplicationStatus } from './model.ts';

const MINUTE_MS = 60_000;

/** What the ledger knows about earlier remediation of this application. */
export interface RemediationHistory {
  /** Remediation attempts on this application within the policy's attempt window, count. */
  attemptsInWindow: number;
  /** When the last attempt started, ms. */
  lastAttemptMs?: number;
  /** An incident of this application that still holds the lock (another remediation is under way). */
  lockedBy?: string;
}

/** Scope: whether the watchdog may act on this application at all. */
export interface Scope {
  inScope: boolean;
  /** e.g. "listed in config", "opt-in tag flink-watchdog=enabled", "not listed and no opt-in tag". */
  reason: string;
}

/** Everything `decide` looks at. */
export interface DecisionInput {
  observation: ApplicationObservation;
  /** From `evaluate`, strongest first. */
  findings: Finding[];
  policy: PolicySettings;
  history: RemediationHistory;
  scope: Scope;
  nowMs: number;
}

/** Statuses from which StopApplication Force=true is allowed (https://docs.aws.amazon.com/managed-flink/latest/apiv2/API_StopApplication.html). */
const FORCE_STOPPABLE: ReadonlySet<ApplicationStatus> = new Set([
  'STARTING',
  'UPDATING',
  'STOPPING',
  'AUTOSCALING',
  'RUNNING',
]);
/** Statuses from which RollbackApplication is allowed. */
const ROLLBACKABLE: ReadonlySet<ApplicationStatus> = new Set(['UPDATING', 'AUTOSCALING', 'RUNNING']);

/** READY snapshots, newest first. */
function readySnapshots(obs: ApplicationObservation): ApplicationSnapshot[] {
  return obs.snapshots.filter((s) => s.status === 'READY').sort((a, b) => (b.createdMs ?? 0) - (a.createdMs ?? 0));
}

/**
 * Which snapshot a restart restores. `last-known-good`: the newest READY snapshot of the current version taken
 * before the incident began (`beforeMs`); otherwise the latest READY snapshot. Undefined when there is none.
 */
export function chooseRestore(
  obs: ApplicationObservation,
  policy: PolicySettings,
  beforeMs: number | undefined,
  allowNonRestoredState = false,
): { start: StartOptions; detail: string } | undefined {
  const ready = readySnapshots(obs);
  const latest = ready[0];
  if (!latest) return undefined;
  const versionId = obs.application?.versionId;
  if (policy.restoreFrom === 'last-known-good' && beforeMs !== undefined) {
    const good = ready.find((s) => s.versionId === versionId && (s.createdMs ?? 0) < beforeMs);
    if (good && good.name !== latest.name) {
      return {
        start: { restoreType: 'RESTORE_FROM_CUSTOM_SNAPSHOT', snapshotName: good.name, allowNonRestoredState },
        detail: `last-known-good snapshot ${good.name} (version ${good.versionId}, taken before the incident)`,
      };
    }
  }
  return {
    start: { restoreType: 'RESTORE_FROM_LATEST_SNAPSHOT', allowNonRestoredState },
    detail: `latest snapshot ${latest.name} (version ${latest.versionId})`,
  };
}

function cli(app: string, rest: string): string {
  return `aws kinesisanalyticsv2 ${rest.replace('{app}', app)}`;
}

/** What {@link prescribe} returns: the action (if any), why, next steps, and whether a snapshot must exist. */
interface Prescription {
  action?: RemediationAction;
  reason: string;
  nextSteps: string[];
  snapshotNeeded: boolean;
  escalate?: boolean;
}

/**
 * CHECKPOINT_STALL: policy `onCheckpointStall`. NOTIFY (the default) tells what stalls, since when, the window and how
 * it was derived, and the commands to look and to restart. FORCE_STOP_AND_RESTART force-stops (a plain stop first
 * takes a snapshot, which a job whose checkpoints stall is unlikely to complete) and, when the desired status is
 * RUNNING, starts from the last-known-good snapshot: the newest READY snapshot of the running version taken before
 * the stall began (`sinceMs`), else the latest (see {@link chooseRestore}); with no READY snapshot the
 * `snapshot-exists` guard escalates.
 */
function prescribeCheckpointStall(
  finding: CheckpointStallFinding,
  input: DecisionInput,
  app: ApplicationState,
): Prescription {
  const { observation: obs, policy, nowMs } = input;
  const name = obs.applicationName;
  const wantRunning = policy.desiredStatus === 'RUNNING';
  const restore = wantRunning ? chooseRestore(obs, policy, finding.sinceMs) : undefined;
  const since = new Date(finding.sinceMs).toISOString();
  if (policy.onCheckpointStall === 'NOTIFY') {
    const from = new Date(Math.min(finding.sinceMs, nowMs - finding.window.windowMs) - 5 * MINUTE_MS).toISOString();
    const to = new Date(nowMs).toISOString();
    const metric = (m: string) =>
      `aws cloudwatch get-metric-statistics --namespace AWS/KinesisAnalytics --metric-name ${m} --dimensions Name=Application,Value=${name} --statistics Maximum --period 60 --start-time ${from} --end-time ${to}`;
    const start =
      restore?.start.restoreType === 'RESTORE_FROM_CUSTOM_SNAPSHOT'
        ? `{"ApplicationRestoreConfiguration":{"ApplicationRestoreType":"RESTORE_FROM_CUSTOM_SNAPSHOT","SnapshotName":"${restore.start.snapshotName}"}}`
        : '{"ApplicationRestoreConfiguration":{"ApplicationRestoreType":"RESTORE_FROM_LATEST_SNAPSHOT"}}';
    return {
      reason: `${finding.summary} Policy onCheckpointStall=NOTIFY: the job keeps running, but if it fails it resumes from the last completed checkpoint (before ${since}). Set onCheckpointStall: FORCE_STOP_AND_RESTART to have the watchdog force-stop it and start from the ${restore?.detail ?? 'latest snapshot'}.`,
      nextSteps: [
        metric('numberOfFailedCheckpoints'),
        metric('lastCheckpointDuration'),
        "Read the job's CloudWatch Logs for why checkpoints fail or time out (backpressure, a slow sink, state growth, access to the checkpoint storage).",
        cli(name, 'list-application-snapshots --application-name {app}'),
        ...(wantRunning
          ? [
              `To restart: ${cli(name, 'stop-application --application-name {app} --force')}, then ${cli(name, `start-application --application-name {app} --run-configuration '${start}'`)}`,
            ]
          : []),
      ],
      snapshotNeeded: false,
    };
  }
  return {
    action: {
      kind: 'FORCE_STOP_AND_RESTART',
      expectVersionId: app.versionId,
      ...(restore ? { start: restore.start } : {}),
    },
    reason: `${finding.summary} Policy onCheckpointStall=FORCE_STOP_AND_RESTART: force-stop (a plain stop first takes a snapshot, which a job whose checkpoints stall is unlikely to complete)${wantRunning ? ` and start from the ${restore?.detail ?? 'latest snapshot'}` : '; desired status READY, so no restart'}.`,
    nextSteps: [],
    snapshotNeeded: wantRunning,
  };
}

/** The remediation the policy table prescribes for a finding, or a reason why it only notifies. */
function prescribe(finding: Finding, input: DecisionInput): Prescription {
  const { observation: obs, policy } = input;
  const app = obs.application;
  const name = obs.applicationName;
  const describe = cli(name, 'describe-application --application-name {app}');
  if (!app) {
    return {
      reason: `${finding.summary} Not acting without a fresh DescribeApplication.`,
      nextSteps: [describe],
      snapshotNeeded: false,
    };
  }
  const wantRunning = policy.desiredStatus === 'RUNNING';
  const v = app.versionId;
  switch (finding.kind) {
    case 'OBSERVATION_FAILED':
      return {
        reason: `${finding.summary} Not acting on partial information.`,
        nextSteps: [describe],
        snapshotNeeded: false,
      };
    case 'ROLLED_BACK':
      return {
        reason: `${finding.summary} This is MSF's own rollback: the watchdog does not redeploy against it. Your infrastructure-as-code still declares version ${finding.fromVersionId}'s configuration, so the next apply redeploys the failing change.`,
        nextSteps: [
          cli(
            name,
            `describe-application-version --application-name {app} --application-version-id ${finding.fromVersionId}`,
          ),
          'Fix the change, or align your Terraform/CDK with the running version, before the next apply.',
        ],
        snapshotNeeded: false,
      };
    case 'UNEXPECTED_STATUS':
      return {
        reason:
          policy.onDrift.status === 'reconcile'
            ? `${finding.summary} No failed operation explains it; the reconciler starts it from the latest snapshot (onDrift.status: reconcile).`
            : `${finding.summary} No failed operation explains it; starting it is left to people (set onDrift.status: reconcile to have the watchdog start it).`,
        nextSteps: [
          cli(
            name,
            'start-application --application-name {app} --run-configuration \'{"ApplicationRestoreConfiguration":{"ApplicationRestoreType":"RESTORE_FROM_LATEST_SNAPSHOT"}}\'',
          ),
        ],
        snapshotNeeded: false,
      };
    case 'STUCK_TRANSITION': {
      if (policy.onStuckTransition === 'NOTIFY') {
        return {
          reason: `${finding.summary} Policy onStuckTransition=NOTIFY.`,
          nextSteps: [cli(name, 'stop-application --application-name {app} --force')],
          snapshotNeeded: false,
        };
      }
      if (!FORCE_STOPPABLE.has(app.status)) {
        return {
          reason: `${finding.summary} StopApplication with Force is not allowed from ${app.status}; only AWS Support can clear it.`,
          nextSteps: [describe, 'Open an AWS Support case for the application.'],
          snapshotNeeded: false,
          escalate: true,
        };
      }
      const restore = wantRunning ? chooseRestore(obs, policy, finding.sinceMs) : undefined;
      return {
        action: { kind: 'FORCE_STOP_AND_RESTART', expectVersionId: v, ...(restore ? { start: restore.start } : {}) },
        reason: `${finding.summary} Force-stopping clears a stuck transition${restore ? `; then start from the ${restore.detail}` : ''}.`,
        nextSteps: [],
        snapshotNeeded: wantRunning,
      };
    }
    case 'DEPLOY_FAILED': {
      if (finding.cause === 'SNAPSHOT') {
        const looping = input.findings.some((f) => f.kind === 'RESTART_LOOP');
        if (!looping) {
          return {
            reason: `${finding.summary} The job is not in a restart loop any more: re-run the deploy.`,
            nextSteps: ['Re-run the deployment (UpdateApplication) now that the job is healthy.'],
            snapshotNeeded: false,
          };
        }
        const restore = chooseRestore(obs, policy, undefined);
        return {
          action: { kind: 'FORCE_STOP_AND_RESTART', expectVersionId: v, ...(restore ? { start: restore.start } : {}) },
          reason: `${finding.summary} The update failed because no snapshot can be taken while the job restarts; the documented fix is to force-stop (no snapshot) and start from the ${restore?.detail ?? 'latest snapshot'}. Then re-run the deploy.`,
          nextSteps: ['After recovery, re-run the deployment that failed.'],
          snapshotNeeded: true,
        };
      }
      if (!wantRunning) {
        return {
          reason: `${finding.summary} Desired status is READY: nothing to restart.`,
          nextSteps: [],
          snapshotNeeded: false,
        };
      }
      if (finding.cause === 'STATE_INCOMPATIBLE') {
        const fix = cli(
          name,
          'start-application --application-name {app} --run-configuration \'{"ApplicationRestoreConfiguration":{"ApplicationRestoreType":"RESTORE_FROM_LATEST_SNAPSHOT"},"FlinkRunConfiguration":{"AllowNonRestoredState":true}}\'',
        );
        if (!policy.allowNonRestoredState) {
          return {
            reason: `${finding.summary} The saved state no longer maps onto the job graph (an operator was removed or its UID changed). Policy allowNonRestoredState=false: starting with AllowNonRestoredState=true drops that operator's state, so a human decides.`,
            nextSteps: [fix, 'Or restore the operator / its UID and deploy again.'],
            snapshotNeeded: false,
          };
        }
        return {
          action: {
            kind: 'START',
            expectVersionId: v,
            start: { restoreType: 'RESTORE_FROM_LATEST_SNAPSHOT', allowNonRestoredState: true },
          },
          reason: `${finding.summary} Policy allowNonRestoredState=true: start from the latest snapshot with AllowNonRestoredState=true (state of removed operators is dropped).`,
          nextSteps: [],
          snapshotNeeded: true,
        };
      }
      const good = finding.operation.versionFrom;
      if (!policy.restoreLastGoodVersion || good === undefined) {
        return {
          reason: `${finding.summary} Policy restoreLastGoodVersion=${policy.restoreLastGoodVersion}: fix the deploy and start the application.`,
          nextSteps: [
            good === undefined
              ? describe
              : cli(name, `describe-application-version --application-name {app} --application-version-id ${good}`),
            'Fix the error above and deploy again (UpdateApplication), or start the previous version.',
          ],
          snapshotNeeded: false,
        };
      }
      const snap = readySnapshots(obs).find((s) => s.versionId === good);
      return {
        action: {
          kind: 'REAPPLY_PREVIOUS_VERSION',
          expectVersionId: v,
          goodVersionId: good,
          start: snap
            ? { restoreType: 'RESTORE_FROM_CUSTOM_SNAPSHOT', snapshotName: snap.name, allowNonRestoredState: false }
            : { restoreType: 'RESTORE_FROM_LATEST_SNAPSHOT', allowNonRestoredState: false },
        },
        reason: `${finding.summary} Policy restoreLastGoodVersion=true: re-apply version ${good}'s configuration and start from ${snap ? `its snapshot ${snap.name}` : 'the latest snapshot'}.`,
        nextSteps: ['Fix the failing change before deploying it again.'],
        snapshotNeeded: true,
      };
    }
    case 'CHECKPOINT_STALL':
      return prescribeCheckpointStall(finding, input, app);
    case 'RESTART_LOOP': {
      const change = finding.recentChange;
      if (change && !change.byRollback && policy.onRestartLoopAfterChange !== 'FORCE_STOP_AND_RESTART') {
        if (policy.onRestartLoopAfterChange === 'NOTIFY') {
          return {
            reason: `${finding.summary} Policy onRestartLoopAfterChange=NOTIFY.`,
            nextSteps: [
              cli(name, `rollback-application --application-name {app} --current-application-version-id ${v}`),
            ],
            snapshotNeeded: false,
          };
        }
        if (ROLLBACKABLE.has(app.status)) {
          return {
            action: { kind: 'ROLLBACK', expectVersionId: v, toVersionId: change.fromVersionId },
            reason: `${finding.summary} The loop follows a version change, so roll back to version ${change.fromVersionId} (MSF restores its last successful snapshot).`,
            nextSteps: [],
            snapshotNeeded: true,
          };
        }
      }
      if (policy.onRestartLoop === 'NOTIFY') {
        return {
          reason: `${finding.summary} Policy onRestartLoop=NOTIFY.`,
          nextSteps: [cli(name, 'stop-application --application-name {app} --force')],
          snapshotNeeded: false,
        };
      }
      const restore = wantRunning ? chooseRestore(obs, policy, finding.onsetMs) : undefined;
      const why = change?.byRollback
        ? ' The current version is itself a rollback, so rolling back again is not an option.'
        : '';
      return {
        action: { kind: 'FORCE_STOP_AND_RESTART', expectVersionId: v, ...(restore ? { start: restore.start } : {}) },
        reason: `${finding.summary}${why} Force-stop (no snapshot is taken of a failing job) and start from the ${restore?.detail ?? 'latest snapshot'}.`,
        nextSteps: [],
        snapshotNeeded: wantRunning,
      };
    }
  }
}

/**
 * The policy: (findings, observation, history, policy, scope, now) → Decision. Pure; table-tested.
 *
 * Guards, checked in this order and all recorded: in scope; status actionable (no DELETING/MAINTENANCE); no foreign
 * operation IN_PROGRESS unless the finding is a stuck transition; lock free; attempts left (else ESCALATE);
 * cooldown passed; a snapshot exists where the action restores one (else ESCALATE); mode is remediate (else NONE
 * with `wouldHave`), or approve: REMEDIATE with `approval` set, so the workflow asks people before acting.
 */
export function decide(input: DecisionInput): Decision {
  const { observation: obs, findings, policy, history, scope, nowMs } = input;
  const guards: GuardResult[] = [];
  const finding = findings[0];
  const app = obs.application;

  guards.push({ name: 'in-scope', passed: scope.inScope, detail: scope.reason });
  if (!scope.inScope) {
    return {
      verdict: 'NONE',
      reason: `${obs.applicationName} is not watched (${scope.reason}): observed only, never touched.${finding ? ` Seen: ${finding.summary}` : ''}`,
      ...(finding ? { finding } : {}),
      guards,
      nextSteps: [],
    };
  }
  if (!finding) {
    return { verdict: 'NONE', reason: `${obs.applicationName} looks healthy: no finding.`, guards, nextSteps: [] };
  }

  const p = prescribe(finding, input);
  if (!p.action) {
    return { verdict: p.escalate ? 'ESCALATE' : 'NOTIFY', reason: p.reason, finding, guards, nextSteps: p.nextSteps };
  }
  const action = p.action;
  const blocked = (verdict: Decision['verdict'], why: string, nextSteps: string[] = p.nextSteps): Decision => ({
    verdict,
    reason: `${why} Would have: ${describeRemediation(action)}.`,
    finding,
    wouldHave: action,
    guards,
    nextSteps,
  });

  const status = app?.status;
  const actionable = status !== undefined && status !== 'DELETING' && status !== 'MAINTENANCE';
  guards.push({ name: 'status-actionable', passed: actionable, detail: `ApplicationStatus ${status ?? 'unknown'}` });
  if (!actionable)
    return blocked('NOTIFY', `${finding.summary} MSF is ${status ?? 'unreadable'}: the watchdog does not act now.`);

  const foreign = obs.operations.find((o) => o.status === 'IN_PROGRESS');
  const foreignOk = !foreign || finding.kind === 'STUCK_TRANSITION';
  guards.push({
    name: 'no-foreign-operation',
    passed: foreignOk,
    detail: foreign ? `${foreign.operation} ${foreign.operationId} IN_PROGRESS` : 'no operation in progress',
  });
  if (!foreignOk) return blocked('NONE', `${finding.summary} ${foreign?.operation} is in progress: waiting for it.`);

  guards.push({
    name: 'lock-free',
    passed: history.lockedBy === undefined,
    detail: history.lockedBy ? `held by incident ${history.lockedBy}` : 'free',
  });
  if (history.lockedBy !== undefined) {
    return blocked('NONE', `${finding.summary} Incident ${history.lockedBy} is already remediating this application.`);
  }

  const attemptsLeft = history.attemptsInWindow < policy.maxAttempts;
  guards.push({
    name: 'attempts-left',
    passed: attemptsLeft,
    detail: `${history.attemptsInWindow} of ${policy.maxAttempts} attempts used in ${policy.attemptWindowMinutes} min`,
  });
  if (!attemptsLeft) {
    return blocked(
      'ESCALATE',
      `${finding.summary} ${history.attemptsInWindow} remediation attempts in the last ${policy.attemptWindowMinutes} min did not hold: stopping automation so it does not flap.`,
      [
        cli(obs.applicationName, 'describe-application --application-name {app}'),
        'Check the job logs for the root cause before restarting it.',
      ],
    );
  }

  const sinceLast = history.lastAttemptMs === undefined ? Number.POSITIVE_INFINITY : nowMs - history.lastAttemptMs;
  const cooled = sinceLast >= policy.cooldownMinutes * MINUTE_MS;
  guards.push({
    name: 'cooldown-passed',
    passed: cooled,
    detail:
      history.lastAttemptMs === undefined
        ? 'no earlier attempt'
        : `${Math.floor(sinceLast / MINUTE_MS)} min since the last attempt (cooldown ${policy.cooldownMinutes} min)`,
  });
  if (!cooled) return blocked('NONE', `${finding.summary} Cooldown of ${policy.cooldownMinutes} min has not passed.`);

  if (p.snapshotNeeded) {
    const ready = readySnapshots(obs);
    const needed = action.kind === 'START' || action.kind === 'REAPPLY_PREVIOUS_VERSION' ? action.start : undefined;
    const ok =
      ready.length > 0 &&
      (needed?.restoreType !== 'RESTORE_FROM_CUSTOM_SNAPSHOT' || ready.some((s) => s.name === needed.snapshotName));
    guards.push({
      name: 'snapshot-exists',
      passed: ok,
      detail: ok ? `${ready.length} READY snapshot(s), newest ${ready[0]?.name}` : 'no READY snapshot',
    });
    if (!ok) {
      return blocked(
        'ESCALATE',
        `${finding.summary} No READY snapshot to restore from: restarting would lose the application state, so a human decides.`,
        [cli(obs.applicationName, 'list-application-snapshots --application-name {app}')],
      );
    }
  }

  if (policy.mode === 'approve') {
    // approve mode: the decision is the same as in remediate mode, but people approve it before the workflow acts.
    guards.push({ name: 'mode-remediate', passed: true, detail: 'mode approve: people approve first' });
    return {
      verdict: 'REMEDIATE',
      reason: p.reason,
      finding,
      remediation: action,
      guards,
      nextSteps: p.nextSteps,
      approval: { timeoutMinutes: policy.approvalTimeoutMinutes, onTimeout: policy.onApprovalTimeout },
    };
  }
  const remediate = policy.mode === 'remediate';
  guards.push({ name: 'mode-remediate', passed: remediate, detail: `mode ${policy.mode}` });
  if (!remediate) return blocked('NONE', `Observe mode: ${p.reason}`);

  return { verdict: 'REMEDIATE', reason: p.reason, finding, remediation: action, guards, nextSteps: p.nextSteps };
}
