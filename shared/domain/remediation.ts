import type { Clock } from '#shared/clock.ts';
import type { PolicySettings, WatchdogConfig } from '#shared/config/schema.ts';
import { policyFor } from '#shared/config/schema.ts';
import type { ChangeCalendarPort } from '#shared/ports/change-calendar.ts';
import { type Ledger, saveOwnedIncident } from '#shared/ports/ledger.ts';
import type { Log } from '#shared/ports/log.ts';
import type { MetricsPort } from '#shared/ports/metrics.ts';
import { MsfApiError, type MsfPort } from '#shared/ports/msf.ts';
import type { Notifier } from '#shared/ports/notifier.ts';
import type { WatchdogMetrics } from '#shared/ports/watchdog-metrics.ts';
import { describeAnswer, type WorkflowApprovalAnswer, whatChanged } from './approval.ts';
import { describePause, holdWhilePaused } from './automation.ts';
import { releaseRemediationSlot, renewRemediationSlot, takeRemediationSlot } from './blast-radius.ts';
import { type CheckpointHealth, checkpointHealthSince } from './checkpoints.ts';
import type { Decision, RemediationAction, StartOptions } from './decision.ts';
import { describeRemediation } from './decision.ts';
import { countRestarts, evaluate } from './detect.ts';
import { holdBeforeAutomaticCall } from './holds.ts';
import type { ActionRecord, Incident } from './incident.ts';
import { addEvent, TERMINAL_STATUSES } from './incident.ts';
import type { ApplicationOperation, ApplicationState, ApplicationStatus } from './model.ts';
import { restartMetricName } from './model.ts';
import { observe } from './observe.ts';
import { decide, type Scope } from './policy.ts';
import { escalateCommands, finish, releaseLockOrLog, tell } from './remediation-core.ts';
import { resolveScope } from './scope.ts';

// Defined in remediation-core.ts (so holds.ts needs no import of this module at run time); exported from here too.
export { escalateCommands, finish, tell };

const MINUTE_MS = 60_000;
/** Lock lifetime, renewed at every step (LOCK, ACT, AWAIT, VERIFY, REDECIDE): a crashed workflow frees the application after this, ms. */
export const LOCK_TTL_MS = 2 * 60 * MINUTE_MS;
/** Retries of a throttled or unavailable MSF call before escalating, count. */
const MAX_RETRIES = 5;
/** Extra verify windows when restarts continue below the loop threshold, count. */
const MAX_VERIFY_ROUNDS = 3;

/** Longest single wait of a remediation, s: well inside LOCK_TTL_MS, so a waiting run never loses its lock. */
export const MAX_WAIT_SECONDS = LOCK_TTL_MS / 1000 / 2;

/** An AWS SDK error the SDK itself classifies as throttling or transient (`$retryable`), or a 5xx fault. */
function isTransientSdkError(e: unknown): boolean {
  const err = e as { name?: unknown; $retryable?: unknown; $fault?: unknown };
  return (
    err?.$retryable !== undefined ||
    err?.$fault === 'server' ||
    (typeof err?.name === 'string' && /Throttl|TooManyRequests|RequestLimitExceeded/.test(err.name))
  );
}

/** One MSF call of a remediation plan and the status that ends it. */
export type PlanStep =
  | { call: 'RollbackApplication'; awaitStatus: 'RUNNING' }
  /** `force`: StopApplication Force=true (no snapshot; allowed from transient statuses) or a plain stop from RUNNING. */
  | { call: 'StopApplication'; force: boolean; awaitStatus: 'READY' }
  | { call: 'StartApplication'; start: StartOptions; awaitStatus: 'RUNNING' }
  | { call: 'UpdateApplication'; reapplyVersionId: number; awaitStatus: 'READY' };

/**
 * Statuses each call is allowed from (MSF API reference: https://docs.aws.amazon.com/managed-flink/latest/apiv2/API_StopApplication.html, API_RollbackApplication.html, API_StartApplication.html); checked on a fresh DescribeApplication before calling.
 * StopApplication's set is that of Force=true; without Force it is {@link PLAIN_STOP_ALLOWED_FROM}.
 */
const ALLOWED_FROM: Record<PlanStep['call'], ReadonlySet<ApplicationStatus>> = {
  RollbackApplication: new Set(['UPDATING', 'AUTOSCALING', 'RUNNING']),
  StopApplication: new Set(['STARTING', 'UPDATING', 'STOPPING', 'AUTOSCALING', 'RUNNING']),
  StartApplication: new Set(['READY']),
  UpdateApplication: new Set(['READY']),
};
/** Statuses StopApplication without Force is allowed from. */
const PLAIN_STOP_ALLOWED_FROM: ReadonlySet<ApplicationStatus> = new Set(['RUNNING']);

/**
 * Statuses a call puts the application in (or ends it in), by call: seeing one of them after the call got no answer
 * means MSF most likely carried the call out. StopApplication → STOPPING (FORCE_STOPPING with Force) → READY;
 * StartApplication → STARTING → RUNNING; RollbackApplication → ROLLING_BACK; UpdateApplication → UPDATING. The
 * statuses are `ApplicationStatus` values (https://docs.aws.amazon.com/managed-flink/latest/apiv2/API_ApplicationDetail.html);
 * the API reference documents each call's effect (API_StopApplication.html, API_StartApplication.html,
 * API_RollbackApplication.html) but not the status names it passes through: those are an assumption, the same the
 * emulator models, taken from the status names themselves.
 */
const OWN_TRANSITION: Record<PlanStep['call'], ReadonlySet<ApplicationStatus>> = {
  RollbackApplication: new Set(['ROLLING_BACK']),
  StopApplication: new Set(['STOPPING', 'FORCE_STOPPING', 'READY']),
  StartApplication: new Set(['STARTING', 'RUNNING']),
  UpdateApplication: new Set(['UPDATING']),
};

/**
 * How much earlier than the watchdog recorded its call MSF may date the call's operation (`StartTime`), ms: the
 * Lambda's clock and MSF's may differ a little. Assumption: AWS keeps its hosts' clocks within well under a second
 * (Amazon Time Sync), so 5 s leaves room without taking someone else's earlier operation for the watchdog's own.
 */
const OPERATION_CLOCK_SKEW_MS = 5_000;

/**
 * Whether a failed MSF call may nevertheless have been carried out: it got no answer (a client timeout, a connection
 * reset, a socket hang-up), so the request may have reached MSF. An error response (one with an HTTP status, e.g.
 * ThrottlingException or ResourceInUseException, all HTTP 400 in the API reference) means MSF refused it; a
 * connection never made (ECONNREFUSED) means it never got there. The AWS SDK for JavaScript v3 puts the response's
 * status in the error's `$metadata.httpStatusCode`; a timeout or socket error has none, and MsfAdapter names the
 * error after it (`TimeoutError`, or the Node.js message `read ECONNRESET` / `socket hang up`).
 */
export function noAnswerFromMsf(e: unknown): boolean {
  const cause = e instanceof MsfApiError ? e.cause : e;
  const status = (cause as { $metadata?: { httpStatusCode?: unknown } } | undefined)?.$metadata?.httpStatusCode;
  if (typeof status === 'number') return false;
  const text =
    e instanceof MsfApiError ? `${e.code} ${e.message}` : e instanceof Error ? `${e.name} ${e.message}` : String(e);
  return /Timeout|TimedOut|ETIMEDOUT|ECONNRESET|EPIPE|socket hang up|NetworkingError|AbortError/i.test(text);
}

/** The statuses `step` may be called from. */
function allowedFrom(step: PlanStep): ReadonlySet<ApplicationStatus> {
  return step.call === 'StopApplication' && !step.force ? PLAIN_STOP_ALLOWED_FROM : ALLOWED_FROM[step.call];
}

/** The call as people read it: "StopApplication without Force" for a plain stop, else the call name. */
function callLabel(step: PlanStep): string {
  return step.call === 'StopApplication' && !step.force ? 'StopApplication without Force' : step.call;
}

/** The MSF calls that carry out a remediation, in order. */
export function planFor(action: RemediationAction): PlanStep[] {
  switch (action.kind) {
    case 'ROLLBACK':
      return [{ call: 'RollbackApplication', awaitStatus: 'RUNNING' }];
    case 'FORCE_STOP_AND_RESTART':
      return [
        { call: 'StopApplication', force: true, awaitStatus: 'READY' },
        ...(action.start
          ? [{ call: 'StartApplication' as const, start: action.start, awaitStatus: 'RUNNING' as const }]
          : []),
      ];
    case 'START':
      return [{ call: 'StartApplication', start: action.start, awaitStatus: 'RUNNING' }];
    case 'STOP':
      return [{ call: 'StopApplication', force: false, awaitStatus: 'READY' }];
    case 'REAPPLY_PREVIOUS_VERSION':
      return [
        { call: 'UpdateApplication', reapplyVersionId: action.goodVersionId, awaitStatus: 'READY' },
        { call: 'StartApplication', start: action.start, awaitStatus: 'RUNNING' },
      ];
  }
}

/**
 * The state a remediation carries from step to step: JSON, so a Step Functions execution can hold it between
 * Wait states. `waitSeconds` says how long to wait before the next step.
 */
export interface RemediationState {
  incidentId: string;
  applicationName: string;
  /**
   * (approve mode: APPROVAL → APPROVAL_ANSWERED →) LOCK → ACT → AWAIT → … → VERIFY (→ REDECIDE → ACT …) → RELEASE →
   * NOTIFY → DONE. ESCALATE is entered only from the workflow's Catch path, with `error` set.
   */
  phase: RemediationPhase;
  steps: PlanStep[];
  stepIndex: number;
  /** ApplicationVersionId the next call expects to find; anything else means someone else changed the app. */
  expectVersionId: number;
  operationId?: string;
  /** When the current transition must have finished, ms. */
  deadlineMs?: number;
  /** Start of the current verify window, ms. */
  verifyFromMs?: number;
  verifyRounds: number;
  retries: number;
  /** Seconds to wait before the next step (Step Functions Wait `SecondsPath`). */
  waitSeconds: number;
  outcome?: 'RECOVERED' | 'ESCALATED' | 'DUPLICATE';
  /**
   * The error a failed workflow step raised (Step Functions Catch, `ResultPath: $.error`): `Error` name and `Cause`;
   * or `LockNotReleased` with the last error when RELEASE gave up, so NOTIFY says why the lock is still held.
   */
  error?: { Error: string; Cause?: string };
  /**
   * approve mode: how long the workflow's AwaitApproval state waits for an answer (Step Functions
   * `TimeoutSecondsPath: $.approvalTimeoutSeconds`), s; policy `approvalTimeoutMinutes` × 60.
   */
  approvalTimeoutSeconds?: number;
  /**
   * approve mode: the answer AwaitApproval received (the SendTaskSuccess output, `ResultPath: $.approvalAnswer`), or
   * `{ decision: "TIMEOUT" }` set by the workflow when the wait timed out (`States.Timeout`).
   */
  approvalAnswer?: WorkflowApprovalAnswer;
}

/** The phases of a remediation, in workflow order (see {@link remediationStep}). */
export const REMEDIATION_PHASES = [
  'APPROVAL',
  'APPROVAL_ANSWERED',
  'LOCK',
  'ACT',
  'AWAIT',
  'VERIFY',
  'REDECIDE',
  'ESCALATE',
  'RELEASE',
  'NOTIFY',
  'DONE',
] as const;
export type RemediationPhase = (typeof REMEDIATION_PHASES)[number];

/** What the remediation steps use. */
export interface RemediationDeps {
  msf: MsfPort;
  metrics: MetricsPort;
  ledger: Ledger;
  notifier: Notifier;
  config: WatchdogConfig;
  clock: Clock;
  log: Log;
  /** The watchdog's own metrics (RemediationAction, IncidentResolved, IncidentEscalated, TimeToRecovery). */
  telemetry?: WatchdogMetrics;
  /** SSM Change Calendar reader for `changeFreeze.calendars` (holds.ts); without it configured calendars hold (fail safe). */
  calendars?: ChangeCalendarPort;
}

/**
 * The first state of a remediation for an incident whose decision is REMEDIATE: phase LOCK, or with
 * `options.approval` (approve mode) phase APPROVAL, whose AwaitApproval state waits `approvalTimeoutSeconds` (from the
 * incident's approval request, else its decision's `approval.timeoutMinutes`) for people's answer.
 * @throws Error when `options.approval` is set but the incident carries neither an approval request nor a decision
 *   with `approval` (a bug).
 */
export function initialRemediationState(
  incident: Incident,
  action: RemediationAction,
  options: { approval?: boolean } = {},
): RemediationState {
  const state: RemediationState = {
    incidentId: incident.id,
    applicationName: incident.applicationName,
    phase: 'LOCK',
    steps: planFor(action),
    stepIndex: 0,
    expectVersionId: action.expectVersionId,
    verifyRounds: 0,
    retries: 0,
    waitSeconds: 0,
  };
  if (!options.approval) return state;
  const request = incident.approval;
  const seconds = request
    ? Math.ceil((request.timeoutMs - request.requestedMs) / 1000)
    : incident.decision.approval && incident.decision.approval.timeoutMinutes * 60;
  if (seconds === undefined) {
    throw new Error(`incident ${incident.id}: approval asked for, but no approval timeout is known (a bug)`);
  }
  return { ...state, phase: 'APPROVAL', approvalTimeoutSeconds: Math.max(1, seconds) };
}

/** Raised when a remediation step is handed an incident that does not exist: a bug or a lost ledger. */
export class IncidentNotFoundError extends Error {
  override readonly name = 'IncidentNotFoundError';
  constructor(readonly incidentId: string) {
    super(`incident ${incidentId} is not in the ledger`);
  }
}

async function load(deps: RemediationDeps, id: string): Promise<Incident> {
  const incident = await deps.ledger.getIncident(id);
  if (!incident) throw new IncidentNotFoundError(id);
  return incident;
}

/** Wait before the next try after `retries` failed ones, s: the poll interval doubled each time, at most 5 min. */
function backoffSeconds(policy: PolicySettings, retries: number): number {
  return Math.min(300, policy.pollIntervalSeconds * 2 ** retries);
}

/**
 * RELEASE: frees the application's lock if this incident holds it. Releasing is idempotent (a lock this incident no
 * longer holds, or none, is a success), so any failure is retried, up to {@link MAX_RETRIES} times with backoff; after
 * that the run goes on to NOTIFY, which checks the lock and tells people the outcome either way.
 */
async function release(deps: RemediationDeps, state: RemediationState): Promise<RemediationState> {
  // The fleet's remediation slot goes with the lock (idempotent; a failure is logged and the slot expires on its own).
  await releaseRemediationSlot(deps, state.incidentId);
  try {
    const result = await deps.ledger.releaseLock(state.applicationName, state.incidentId);
    deps.log.info('lock released', { incidentId: state.incidentId, result });
  } catch (e) {
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    if (state.retries < MAX_RETRIES) {
      deps.log.warn('releasing the lock failed, retrying', { incidentId: state.incidentId, error: message });
      const policy = policyFor(deps.config, state.applicationName);
      return { ...state, retries: state.retries + 1, waitSeconds: backoffSeconds(policy, state.retries) };
    }
    deps.log.error('the lock could not be released', { incidentId: state.incidentId, error: message });
    return {
      ...state,
      phase: 'NOTIFY',
      retries: 0,
      waitSeconds: 0,
      error: { Error: 'LockNotReleased', Cause: message },
    };
  }
  return { ...state, phase: 'NOTIFY', retries: 0, waitSeconds: 0 };
}

/**
 * Whether this incident still holds the application's lock, and if so what to tell people: the lock blocks every
 * later remediation of the application until released or expired, and how to release it by hand.
 * @returns undefined when the lock is not held by this incident (the usual case).
 */
async function lockLeftHeld(
  deps: RemediationDeps,
  state: RemediationState,
  nowMs: number,
): Promise<{ note: string; command: string } | undefined> {
  const command = deps.ledger.manualLockRelease(state.applicationName, state.incidentId);
  const ttlHours = LOCK_TTL_MS / (60 * MINUTE_MS);
  const why = state.error ? ` (${describeWorkflowError(state.error)})` : '';
  try {
    if ((await deps.ledger.lockHolder(state.applicationName, nowMs)) !== state.incidentId) return undefined;
    return {
      note: `The lock on ${state.applicationName} could not be released${why}: until it expires (${ttlHours} h after the last step at most) every new detection on ${state.applicationName} is deferred, not acted on. Release it by hand: ${command}`,
      command,
    };
  } catch (e) {
    if (!state.error) return undefined;
    return {
      note: `Releasing the lock on ${state.applicationName} failed${why} and the lock could not be read (${(e as Error).message}): if this incident still holds it, release it by hand: ${command}`,
      command,
    };
  }
}

/** NOTIFY: tells people the recorded outcome (RESOLVED with time to recovery, or ESCALATED with next steps). */
async function notifyOutcome(
  deps: RemediationDeps,
  state: RemediationState,
  incident: Incident,
): Promise<RemediationState> {
  const now = deps.clock.now();
  // Every run ends here, also one that skipped RELEASE (its lock lost to another incident): free its slot.
  await releaseRemediationSlot(deps, state.incidentId);
  const recovered = incident.status === 'RESOLVED';
  const ttrMin = Math.round(((incident.closedMs ?? now) - incident.trigger.atMs) / MINUTE_MS);
  const held = await lockLeftHeld(deps, state, now);
  if (held) {
    addEvent(incident, now, 'ERROR', held.note);
    try {
      await saveOwnedIncident(deps.ledger, incident);
    } catch (e) {
      deps.log.warn('could not record the lock left held', { incidentId: incident.id, error: (e as Error).message });
    }
  }
  await tell(
    deps,
    incident,
    recovered ? 'RESOLVED' : 'ESCALATED',
    now,
    `${
      recovered
        ? `${state.applicationName}: recovered in ${ttrMin} min`
        : `${state.applicationName}: escalated — automation stopped, a human is needed`
    }${held ? ' (lock not released)' : ''}`,
    [incident.outcomeReason ?? '', held?.note].filter(Boolean).join('\n'),
    [...(incident.nextSteps ?? []), ...(held ? [held.command] : [])],
  );
  return { ...state, phase: 'DONE', waitSeconds: 0 };
}

/** ESCALATE (the workflow's Catch path): a step failed in a way the step itself could not handle. */
async function escalateFailedStep(
  deps: RemediationDeps,
  state: RemediationState,
  incident: Incident,
): Promise<RemediationState> {
  if (TERMINAL_STATUSES.has(incident.status)) {
    // The outcome was already recorded before the failure: keep it, and still release and notify.
    return {
      ...state,
      phase: 'RELEASE',
      outcome: state.outcome ?? (incident.status === 'RESOLVED' ? 'RECOVERED' : 'ESCALATED'),
      waitSeconds: 0,
    };
  }
  return finish(
    deps,
    state,
    incident,
    'ESCALATED',
    `The remediation workflow failed: ${describeWorkflowError(state.error)}. Automation stopped; check what the last recorded action did before acting.`,
    escalateCommands(state.applicationName),
  );
}

/**
 * A readable form of a Step Functions error: for a Lambda failure, `Cause` is the JSON
 * `{ errorType, errorMessage, trace }` of the function's error.
 */
export function describeWorkflowError(error: RemediationState['error']): string {
  if (!error) return 'unknown error';
  if (error.Cause) {
    try {
      const cause = JSON.parse(error.Cause) as { errorType?: unknown; errorMessage?: unknown };
      if (typeof cause.errorMessage === 'string') {
        return `${typeof cause.errorType === 'string' ? cause.errorType : error.Error}: ${cause.errorMessage}`;
      }
    } catch {
      // Not JSON: use it as it is.
    }
    return `${error.Error}: ${error.Cause}`;
  }
  return error.Error;
}

/** After a rollback: what the infrastructure-as-code now says that MSF no longer runs. */
function driftNote(incident: Incident, app: ApplicationState): string {
  if (incident.remediation?.kind !== 'ROLLBACK') return '';
  const { expectVersionId, toVersionId } = incident.remediation;
  return ` Drift: MSF now runs version ${app.versionId} (the configuration of version ${toVersionId}); your Terraform/CDK still declares version ${expectVersionId}'s change, so the next apply redeploys the failing configuration. Fix it there first.`;
}

async function callStep(
  deps: RemediationDeps,
  state: RemediationState,
  step: PlanStep,
  app: ApplicationState,
): Promise<{ operationId?: string }> {
  const name = state.applicationName;
  switch (step.call) {
    case 'RollbackApplication':
      return deps.msf.rollbackApplication(name, app.versionId);
    case 'StopApplication':
      return deps.msf.stopApplication(name, step.force);
    case 'StartApplication':
      return deps.msf.startApplication(name, step.start);
    case 'UpdateApplication': {
      if (!app.conditionalToken) {
        throw new MsfApiError(
          name,
          'UpdateApplication',
          'MissingConditionalToken',
          'DescribeApplication returned no ConditionalToken',
        );
      }
      const good = await deps.msf.describeApplicationVersion(name, step.reapplyVersionId);
      return deps.msf.updateApplication(name, {
        conditionalToken: app.conditionalToken,
        ...(good.code ? { code: good.code } : {}),
        environmentProperties: good.environmentProperties,
        ...(good.parallelism === undefined
          ? {}
          : {
              parallelism: {
                parallelism: good.parallelism,
                ...(good.parallelismPerKPU === undefined ? {} : { parallelismPerKPU: good.parallelismPerKPU }),
                ...(good.autoScalingEnabled === undefined ? {} : { autoScalingEnabled: good.autoScalingEnabled }),
              },
            }),
      });
    }
  }
}

function callInput(step: PlanStep, app: ApplicationState): Record<string, unknown> {
  switch (step.call) {
    case 'RollbackApplication':
      return { CurrentApplicationVersionId: app.versionId };
    case 'StopApplication':
      return { Force: step.force };
    case 'StartApplication':
      return {
        ApplicationRestoreType: step.start.restoreType,
        ...(step.start.snapshotName ? { SnapshotName: step.start.snapshotName } : {}),
        AllowNonRestoredState: step.start.allowNonRestoredState,
      };
    case 'UpdateApplication':
      return { ConditionalToken: app.conditionalToken, ReapplyVersionId: step.reapplyVersionId };
  }
}

/** Enters VERIFY: the healthy window starts now and is checked after `verifyMinutes`. */
function startVerify(state: RemediationState, nowMs: number, policy: PolicySettings): RemediationState {
  return { ...state, phase: 'VERIFY', verifyFromMs: nowMs, waitSeconds: policy.verifyMinutes * 60 };
}

async function act(
  deps: RemediationDeps,
  state: RemediationState,
  incident: Incident,
  policy: PolicySettings,
): Promise<RemediationState> {
  const step = state.steps[state.stepIndex];
  if (!step) return startVerify(state, deps.clock.now(), policy);
  // Every mutating call follows a fresh DescribeApplication.
  let app: ApplicationState;
  try {
    app = await deps.msf.describeApplication(state.applicationName);
  } catch (e) {
    return retryOrEscalate(deps, state, incident, policy, e, 'DescribeApplication');
  }
  // An earlier try of this call got no answer: before anything else, look whether MSF carried it out.
  const lost = unansweredTry(incident, step);
  if (lost) {
    const own = await ownTransition(deps, state, step, app, lost);
    if (own) return adoptOwnCall(deps, state, incident, policy, step, app, lost, own);
  }
  const noAnswer = lost
    ? ` The watchdog's own ${step.call} at ${new Date(lost.recordedMs).toISOString()} got no answer (${lost.error}), and MSF shows neither its operation nor the transition it causes, so what changed the application is not known.`
    : '';
  if (app.versionId !== state.expectVersionId) {
    return finish(
      deps,
      state,
      incident,
      'ESCALATED',
      `Before ${step.call}: the application is at version ${app.versionId}, not ${state.expectVersionId} as decided — someone else changed it. Not acting on a stale decision.${noAnswer}`,
      escalateCommands(state.applicationName),
    );
  }
  if (!allowedFrom(step).has(app.status)) {
    return finish(
      deps,
      state,
      incident,
      'ESCALATED',
      `Before ${step.call}: the application is ${app.status}, from which ${callLabel(step)} is not allowed. Not acting.${noAnswer}`,
      escalateCommands(state.applicationName),
    );
  }
  const now = deps.clock.now();
  // Record the action before taking it.
  const record: ActionRecord = {
    seq: incident.actions.length + 1,
    call: step.call,
    input: callInput(step, app),
    recordedMs: now,
    state: 'RECORDED',
  };
  incident.actions.push(record);
  await saveOwnedIncident(deps.ledger, incident);
  try {
    const result = await callStep(deps, state, step, app);
    const done = deps.clock.now();
    deps.telemetry?.count('RemediationAction', state.applicationName);
    record.state = 'SUCCEEDED';
    record.completedMs = done;
    if (result.operationId) record.operationId = result.operationId;
    addEvent(
      incident,
      done,
      'ACTION',
      `${step.call} ${JSON.stringify(record.input)} accepted${result.operationId ? ` (operation ${result.operationId})` : ''}`,
    );
    await saveOwnedIncident(deps.ledger, incident);
    await tell(
      deps,
      incident,
      'ACTION_TAKEN',
      done,
      `${state.applicationName}: ${step.call}`,
      `${step.call} accepted; waiting for ${step.awaitStatus}.`,
    );
    const next: RemediationState = {
      ...state,
      phase: 'AWAIT',
      retries: 0,
      deadlineMs: done + policy.transitionTimeoutMinutes * MINUTE_MS,
      waitSeconds: policy.pollIntervalSeconds,
    };
    if (result.operationId) next.operationId = result.operationId;
    else delete next.operationId;
    return next;
  } catch (e) {
    record.state = 'FAILED';
    record.completedMs = deps.clock.now();
    record.error = e instanceof Error ? e.message : String(e);
    if (noAnswerFromMsf(e)) record.outcomeUnknown = true;
    await saveOwnedIncident(deps.ledger, incident);
    return retryOrEscalate(deps, state, incident, policy, e, step.call);
  }
}

/**
 * The latest try of `step`'s call that got no answer, among the tries since the last one that succeeded (a later try
 * may have been refused, e.g. with ResourceInUseException, because the unanswered one had landed meanwhile).
 */
function unansweredTry(incident: Incident, step: PlanStep): ActionRecord | undefined {
  for (let i = incident.actions.length - 1; i >= 0; i--) {
    const record = incident.actions[i];
    if (!record || record.call !== step.call || record.state !== 'FAILED') return undefined;
    if (record.outcomeUnknown) return record;
  }
  return undefined;
}

/** Evidence that MSF carried out a call that got no answer: its operation, or the status it leads to. */
type OwnTransition = { operation: ApplicationOperation } | { status: ApplicationStatus };

/**
 * Looks for the effect of `record`'s call, which got no answer: an operation of the same call (ListApplicationOperations
 * `Operation`) that MSF dates no earlier than the call was recorded, or, when none is listed (the list can lag or fail),
 * a status the call leads to with no other operation started since. Another operation started since means someone
 * else may be at work: no evidence then.
 */
async function ownTransition(
  deps: RemediationDeps,
  state: RemediationState,
  step: PlanStep,
  app: ApplicationState,
  record: ActionRecord,
): Promise<OwnTransition | undefined> {
  const since = record.recordedMs - OPERATION_CLOCK_SKEW_MS;
  let operations: ApplicationOperation[] | undefined;
  try {
    operations = await deps.msf.listOperations(state.applicationName);
  } catch (e) {
    deps.log.warn('ListApplicationOperations failed while looking for an unanswered call', {
      incidentId: state.incidentId,
      error: (e as Error).message,
    });
  }
  const started = (operations ?? []).filter((o) => o.startMs !== undefined && o.startMs >= since);
  const operation = started.find((o) => o.operation === step.call);
  if (operation) return { operation };
  if (started.length > 0 || !OWN_TRANSITION[step.call].has(app.status)) return undefined;
  // Update and rollback leave a new version; a stop or start keeps it.
  const versionMoved = app.versionId !== state.expectVersionId;
  if (versionMoved !== (step.call === 'UpdateApplication' || step.call === 'RollbackApplication')) return undefined;
  return { status: app.status };
}

/**
 * The call that got no answer was carried out: it is the watchdog's own transition, recorded as such, and the run
 * waits for it as if the answer had come (AWAIT, with the operation id when MSF lists it).
 */
async function adoptOwnCall(
  deps: RemediationDeps,
  state: RemediationState,
  incident: Incident,
  policy: PolicySettings,
  step: PlanStep,
  app: ApplicationState,
  record: ActionRecord,
  own: OwnTransition,
): Promise<RemediationState> {
  const now = deps.clock.now();
  record.state = 'SUCCEEDED';
  record.completedMs = now;
  const evidence =
    'operation' in own
      ? `MSF lists operation ${own.operation.operationId} (${own.operation.operation}, ${own.operation.status}) started after the call was recorded`
      : `MSF shows ${app.status} (version ${app.versionId}), where ${step.call} leads, and no other operation since the call was recorded`;
  if ('operation' in own) record.operationId = own.operation.operationId;
  addEvent(
    incident,
    now,
    'ACTION',
    `${step.call} ${JSON.stringify(record.input)} got no answer (${record.error}) but was carried out: ${evidence}. The transition is the watchdog's own, not someone else's; waiting for ${step.awaitStatus}.`,
  );
  await saveOwnedIncident(deps.ledger, incident);
  deps.telemetry?.count('RemediationAction', state.applicationName);
  await tell(
    deps,
    incident,
    'ACTION_TAKEN',
    now,
    `${state.applicationName}: ${step.call}`,
    `${step.call} accepted (its answer was lost; ${evidence}); waiting for ${step.awaitStatus}.`,
  );
  const next: RemediationState = {
    ...state,
    phase: 'AWAIT',
    retries: 0,
    deadlineMs: record.recordedMs + policy.transitionTimeoutMinutes * MINUTE_MS,
    waitSeconds: 0,
  };
  if ('operation' in own) next.operationId = own.operation.operationId;
  else delete next.operationId;
  return next;
}

async function retryOrEscalate(
  deps: RemediationDeps,
  state: RemediationState,
  incident: Incident,
  policy: PolicySettings,
  e: unknown,
  call: string,
): Promise<RemediationState> {
  // ConcurrentModificationException and ResourceInUseException are retried too: the next ACT starts with a fresh
  // DescribeApplication and escalates if the version or status is no longer the one decided on, so a retry can never
  // act on someone else's change.
  // A call that got no answer is retried too: the next ACT first looks whether MSF carried it out.
  const unanswered = noAnswerFromMsf(e);
  const retryable =
    unanswered ||
    (e instanceof MsfApiError &&
      (e.retryable || e.code === 'ConcurrentModificationException' || e.code === 'ResourceInUseException')) ||
    // CloudWatch (GetMetricData in verify) and DynamoDB throttling or faults, as the AWS SDK marks them.
    (!(e instanceof MsfApiError) && isTransientSdkError(e));
  const message = e instanceof Error ? e.message : String(e);
  if (retryable && state.retries < MAX_RETRIES) {
    addEvent(
      incident,
      deps.clock.now(),
      'ERROR',
      unanswered
        ? `${call} got no answer, so MSF may have carried it out; looking before trying again: ${message}`
        : `${call} throttled or unavailable, retrying: ${message}`,
    );
    await saveOwnedIncident(deps.ledger, incident);
    return {
      ...state,
      retries: state.retries + 1,
      waitSeconds: backoffSeconds(policy, state.retries),
    };
  }
  return finish(
    deps,
    state,
    incident,
    'ESCALATED',
    `${call} failed: ${message}`,
    escalateCommands(state.applicationName),
  );
}

async function awaitTransition(
  deps: RemediationDeps,
  state: RemediationState,
  incident: Incident,
  policy: PolicySettings,
): Promise<RemediationState> {
  const step = state.steps[state.stepIndex];
  if (!step) return startVerify(state, deps.clock.now(), policy);
  const now = deps.clock.now();
  let app: ApplicationState;
  try {
    app = await deps.msf.describeApplication(state.applicationName);
    if (state.operationId) {
      const op = await deps.msf.describeOperation(state.applicationName, state.operationId);
      if (op.status === 'FAILED' || op.status === 'CANCELLED') {
        return finish(
          deps,
          state,
          incident,
          'ESCALATED',
          `${step.call} operation ${op.operationId} ${op.status}: ${op.errorString ?? 'no ErrorInfo'}. The application is ${app.status}.`,
          escalateCommands(state.applicationName),
        );
      }
      if (op.status === 'IN_PROGRESS') return waitOrTimeout(deps, state, incident, policy, app, now);
    }
  } catch (e) {
    return retryOrEscalate(deps, state, incident, policy, e, 'DescribeApplication');
  }
  if (app.status !== step.awaitStatus) return waitOrTimeout(deps, state, incident, policy, app, now);
  addEvent(
    incident,
    now,
    'STATUS',
    `${state.applicationName} is ${app.status} (version ${app.versionId}) after ${step.call}`,
  );
  await saveOwnedIncident(deps.ledger, incident);
  const nextIndex = state.stepIndex + 1;
  const base = { ...state, expectVersionId: app.versionId, retries: 0 };
  delete base.operationId;
  delete base.deadlineMs;
  if (nextIndex < state.steps.length) return { ...base, phase: 'ACT', stepIndex: nextIndex, waitSeconds: 0 };
  if (step.awaitStatus === 'READY') {
    return finish(
      deps,
      state,
      incident,
      'RECOVERED',
      `${state.applicationName} is READY as desired after ${describeRemediation(incident.remediation ?? { kind: 'FORCE_STOP_AND_RESTART', expectVersionId: app.versionId })}.`,
    );
  }
  return startVerify({ ...base, stepIndex: nextIndex }, now, policy);
}

async function waitOrTimeout(
  deps: RemediationDeps,
  state: RemediationState,
  incident: Incident,
  policy: PolicySettings,
  app: ApplicationState,
  now: number,
): Promise<RemediationState> {
  if (state.deadlineMs !== undefined && now > state.deadlineMs) {
    return finish(
      deps,
      state,
      incident,
      'ESCALATED',
      `${state.steps[state.stepIndex]?.call} did not finish within ${policy.transitionTimeoutMinutes} min: the application is still ${app.status}.`,
      [
        `aws kinesisanalyticsv2 stop-application --application-name ${state.applicationName} --force`,
        ...escalateCommands(state.applicationName),
      ],
    );
  }
  // A poll that succeeded ends any run of throttled calls.
  return { ...state, retries: 0, waitSeconds: policy.pollIntervalSeconds };
}

async function verify(
  deps: RemediationDeps,
  state: RemediationState,
  incident: Incident,
  policy: PolicySettings,
): Promise<RemediationState> {
  const now = deps.clock.now();
  const from = state.verifyFromMs ?? now;
  const remainingMs = from + policy.verifyMinutes * MINUTE_MS - now;
  // A verify window longer than the longest single wait is waited out in several Wait states.
  if (remainingMs > 0) return { ...state, waitSeconds: Math.ceil(remainingMs / 1000) };
  let app: ApplicationState;
  let restarts = 0;
  // After a checkpoint stall, RUNNING without restarts is not enough: checkpoints must complete again.
  const stall = (incident.finding ?? incident.decision.finding)?.kind === 'CHECKPOINT_STALL';
  let checkpoints: CheckpointHealth | undefined;
  try {
    app = await deps.msf.describeApplication(state.applicationName);
    const metric = restartMetricName(app.runtimeEnvironment);
    const series = await deps.metrics.getSeries(
      state.applicationName,
      stall ? [metric, 'numberOfFailedCheckpoints', 'lastCheckpointDuration'] : [metric],
      from - policy.restartLoop.windowMinutes * MINUTE_MS,
      now,
    );
    if (stall)
      checkpoints = checkpointHealthSince(series.numberOfFailedCheckpoints, series.lastCheckpointDuration, from);
    const points = series[metric]?.points ?? [];
    // Baseline: the counter's last value before the window (a lower value after it is a new submission, which
    // countRestarts treats as a reset); 0 when nothing was published before, i.e. the job was just submitted.
    const baseline = points.filter((p) => p.timestampMs < from).at(-1)?.value ?? 0;
    const inside = points.filter((p) => p.timestampMs >= from);
    restarts = countRestarts({ metricName: metric, periodSeconds: 60, points: inside }, baseline).restarts;
  } catch (e) {
    return retryOrEscalate(deps, state, incident, policy, e, 'verify');
  }
  const minutes = Math.round((now - from) / MINUTE_MS);
  const checkpointsOk = checkpoints === undefined || (checkpoints.failed === 0 && checkpoints.completed);
  const checkpointText = checkpoints
    ? `, ${checkpoints.failed} failed checkpoint(s), ${checkpoints.completed ? 'a checkpoint completed' : 'no checkpoint completed'}`
    : '';
  if (app.status === 'RUNNING' && restarts === 0 && checkpointsOk) {
    addEvent(incident, now, 'VERIFY', `RUNNING with no restart for ${minutes} min${checkpointText}`);
    return finish(
      deps,
      state,
      incident,
      'RECOVERED',
      `${incident.remediation ? describeRemediation(incident.remediation) : 'Remediation'} worked: ${state.applicationName} is RUNNING version ${app.versionId} with no restart for ${minutes} min${checkpointText}.${driftNote(incident, app)}`,
    );
  }
  addEvent(
    incident,
    now,
    'VERIFY',
    `not healthy after ${minutes} min: status ${app.status}, ${restarts} restart(s)${checkpointText}`,
  );
  await saveOwnedIncident(deps.ledger, incident);
  return { ...state, phase: 'REDECIDE', verifyRounds: state.verifyRounds + 1, retries: 0, waitSeconds: 0 };
}

async function redecide(
  deps: RemediationDeps,
  state: RemediationState,
  incident: Incident,
  policy: PolicySettings,
): Promise<RemediationState> {
  const now = deps.clock.now();
  let scope: Scope;
  try {
    scope = await resolveScope(state.applicationName, deps);
  } catch (e) {
    return retryOrEscalate(deps, state, incident, policy, e, 'scope check');
  }
  const obs = await observe(state.applicationName, deps, now, policy.restartLoop.windowMinutes, policy.checkpointStall);
  const findings = evaluate(obs, policy, now);
  const attempts = await deps.ledger.attemptsSince(
    state.applicationName,
    now - policy.attemptWindowMinutes * MINUTE_MS,
  );
  const decision = decide({
    observation: obs,
    findings,
    policy,
    history: {
      attemptsInWindow: attempts.count,
      ...(attempts.lastMs === undefined ? {} : { lastAttemptMs: attempts.lastMs }),
    },
    scope,
    nowMs: now,
  });
  // A pause (runbook pause-automation) stops automation here: no further attempt, people decide.
  const pause = decision.verdict === 'REMEDIATE' ? await deps.ledger.automationPause(state.applicationName) : undefined;
  const held = holdWhilePaused(decision, pause, 'ESCALATE');
  addEvent(incident, now, 'DECISION', `${held.verdict}: ${held.reason}`);
  incident.decision = held;
  await saveOwnedIncident(deps.ledger, incident);
  if (pause && held.wouldHave && held !== decision) {
    return finish(
      deps,
      state,
      incident,
      'ESCALATED',
      `Remediation did not hold; ${describePause(pause)} — not starting another attempt (would have ${describeRemediation(held.wouldHave)}). ${decision.reason}`,
      escalateCommands(state.applicationName),
    );
  }
  if (decision.verdict === 'REMEDIATE' && decision.remediation && decision.approval) {
    // approve mode: people approved one action; the next one is asked for again (a new approval request), never taken
    // on the earlier answer. Lock and fleet slot are freed while people decide, as for the first request.
    return askAgain(deps, state, incident, decision.remediation, decision.approval.timeoutMinutes, now);
  }
  if (decision.verdict === 'REMEDIATE' && decision.remediation) {
    incident.remediation = decision.remediation;
    incident.attempts += 1;
    await deps.ledger.recordAttempt(state.applicationName, incident.id, now);
    await saveOwnedIncident(deps.ledger, incident);
    return {
      ...state,
      phase: 'ACT',
      steps: planFor(decision.remediation),
      stepIndex: 0,
      expectVersionId: decision.remediation.expectVersionId,
      retries: 0,
      waitSeconds: 0,
    };
  }
  if (!scope.inScope) {
    return finish(
      deps,
      state,
      incident,
      'ESCALATED',
      `${state.applicationName} is no longer watched (${scope.reason}): automation stops here.`,
      escalateCommands(state.applicationName),
    );
  }
  if (decision.verdict === 'ESCALATE' || decision.verdict === 'NOTIFY') {
    return finish(
      deps,
      state,
      incident,
      'ESCALATED',
      `Remediation did not hold. ${decision.reason}`,
      decision.nextSteps.length ? decision.nextSteps : escalateCommands(state.applicationName),
    );
  }
  // NONE: healthy by the loop threshold, cooling down, or another operation in progress: look again later.
  if (state.verifyRounds >= MAX_VERIFY_ROUNDS) {
    return finish(
      deps,
      state,
      incident,
      'ESCALATED',
      `Still not healthy after ${state.verifyRounds} verify windows: ${decision.reason}`,
      escalateCommands(state.applicationName),
    );
  }
  const cooldown = decision.guards.find((g) => g.name === 'cooldown-passed' && !g.passed);
  if (cooldown && attempts.lastMs !== undefined) {
    const waitMs = attempts.lastMs + policy.cooldownMinutes * MINUTE_MS - now;
    return { ...state, phase: 'REDECIDE', waitSeconds: Math.max(policy.pollIntervalSeconds, Math.ceil(waitMs / 1000)) };
  }
  return startVerify(state, now, policy);
}

/**
 * REDECIDE in approve mode, when deciding again gives another remediation: the earlier approval covered only the
 * action it named, so a new approval request is made for `action` (phase APPROVAL, `approvalTimeoutSeconds` =
 * `timeoutMinutes` × 60). The earlier request and its answer stay in the incident's events (event APPROVAL); the
 * incident's `approval` is cleared so {@link requestApproval} records the new request. The application's lock and the
 * fleet remediation slot are released while people decide (taken again after an approval, by APPROVAL_ANSWERED and
 * LOCK); the attempt is recorded in the ledger only if it is acted on (LOCK).
 */
async function askAgain(
  deps: RemediationDeps,
  state: RemediationState,
  incident: Incident,
  action: RemediationAction,
  timeoutMinutes: number,
  now: number,
): Promise<RemediationState> {
  const earlier = incident.approval;
  const answered = earlier?.answer ? describeAnswer(earlier.answer) : earlier ? earlier.state.toLowerCase() : undefined;
  addEvent(
    incident,
    now,
    'APPROVAL',
    `The approved remediation${earlier ? ` (${describeRemediation(earlier.action)}${answered ? `, ${answered}` : ''})` : ''} did not hold: approve mode does not act again on that answer; asking again for ${describeRemediation(action)}.`,
  );
  delete incident.approval;
  incident.remediation = action;
  incident.attempts += 1;
  await saveOwnedIncident(deps.ledger, incident);
  await releaseRemediationSlot(deps, state.incidentId);
  // ACT takes the lock again (acquireLock) after an approval.
  await releaseLockOrLog(
    deps,
    state.applicationName,
    state.incidentId,
    'could not release the lock while asking for a new approval; it expires on its own',
  );
  const next: RemediationState = {
    ...state,
    phase: 'APPROVAL',
    steps: planFor(action),
    stepIndex: 0,
    expectVersionId: action.expectVersionId,
    approvalTimeoutSeconds: Math.max(1, Math.round(timeoutMinutes * 60)),
    retries: 0,
    waitSeconds: 0,
  };
  delete next.deadlineMs;
  delete next.verifyFromMs;
  delete next.approvalAnswer;
  delete next.error;
  return next;
}

/**
 * Runs one step of a remediation and returns the next state; the caller waits `waitSeconds` and calls again until
 * `phase` is DONE. Phases: LOCK (take the application's lock; a held lock ends the run as DUPLICATE) → ACT (fresh
 * DescribeApplication, guard, record, call) → AWAIT (poll status and operation until the target status; escalate on
 * FAILED or timeout) → next ACT … → VERIFY (no restart for `verifyMinutes`) → RECOVERED, or REDECIDE (attempts,
 * cooldown; an application whose automation is paused escalates) → ACT again (approve mode: APPROVAL again, a new
 * approval request for the new remediation) or ESCALATED. Once the outcome is
 * recorded: RELEASE (free the lock; idempotent, retried with backoff) → NOTIFY (tell people, and if the lock is still
 * held, say so with the command to release it by hand) → DONE. An ACT whose previous try got no answer from MSF first
 * looks for that call's own operation or transition, and waits for it as the watchdog's own instead of acting again. ESCALATE is the Step Functions Catch path: it
 * records the failed step's `error` as the reason to escalate.
 * @throws IncidentNotFoundError when the incident is not in the ledger.
 */
export async function remediationStep(state: RemediationState, deps: RemediationDeps): Promise<RemediationState> {
  if (state.phase === 'DONE') return state;
  const next = await stepOnce(state, deps);
  // Step Functions' Wait SecondsPath takes a non-negative integer; and no wait may outlive the lock.
  const waitSeconds = Math.min(MAX_WAIT_SECONDS, Math.max(0, Math.ceil(next.waitSeconds)));
  return waitSeconds === next.waitSeconds ? next : { ...next, waitSeconds };
}

async function stepOnce(state: RemediationState, deps: RemediationDeps): Promise<RemediationState> {
  if (state.phase === 'DONE') return state;
  // The closing phases run whoever holds the lock: the outcome is already recorded.
  if (state.phase === 'RELEASE') return release(deps, state);
  let incident: Incident;
  try {
    incident = await load(deps, state.incidentId);
  } catch (e) {
    // The outcome is recorded: telling it is worth a few more tries than a Task state's retries.
    if (state.phase !== 'NOTIFY' || e instanceof IncidentNotFoundError || state.retries >= MAX_RETRIES) throw e;
    deps.log.warn('could not read the incident to notify, retrying', { incidentId: state.incidentId });
    const policy = policyFor(deps.config, state.applicationName);
    return { ...state, retries: state.retries + 1, waitSeconds: backoffSeconds(policy, state.retries) };
  }
  if (state.phase === 'NOTIFY') return notifyOutcome(deps, state, incident);
  if (state.phase === 'ESCALATE') return escalateFailedStep(deps, state, incident);
  if (TERMINAL_STATUSES.has(incident.status)) {
    // Closed elsewhere (e.g. the detector could not tell whether StartExecution went through and escalated): never
    // act on an incident people were told is closed. Free the lock if this run holds it, and stop.
    await releaseRemediationSlot(deps, state.incidentId);
    await releaseLockOrLog(
      deps,
      state.applicationName,
      state.incidentId,
      'could not release the lock of an incident closed elsewhere; it expires on its own',
    );
    deps.log.warn('incident already closed: the workflow stops without acting', {
      incidentId: incident.id,
      status: incident.status,
    });
    return {
      ...state,
      phase: 'DONE',
      outcome: incident.status === 'RESOLVED' ? 'RECOVERED' : 'ESCALATED',
      waitSeconds: 0,
    };
  }
  const policy = policyFor(deps.config, state.applicationName);
  const now = deps.clock.now();
  if (state.phase === 'APPROVAL') {
    // Run by the AwaitApproval state with a task token ({@link requestApproval}), never as a plain step.
    throw new Error('phase APPROVAL is run by the AwaitApproval state with its task token (requestApproval)');
  }
  if (state.phase === 'APPROVAL_ANSWERED') return approvalAnswered(deps, state, incident, policy);
  if (state.phase === 'LOCK') {
    const lock = await deps.ledger.acquireLock(state.applicationName, state.incidentId, now, LOCK_TTL_MS);
    if (!lock.acquired) {
      incident.status = 'OBSERVED';
      incident.closedMs = now;
      incident.outcomeReason = `Incident ${lock.holder} already holds the lock on ${state.applicationName}: not acting twice.`;
      addEvent(incident, now, 'DUPLICATE', incident.outcomeReason);
      await saveOwnedIncident(deps.ledger, incident);
      await releaseRemediationSlot(deps, state.incidentId);
      return { ...state, phase: 'DONE', outcome: 'DUPLICATE', waitSeconds: 0 };
    }
    // The remediation slot (if this automatic remediation holds one) lives as long as the lock: renewed with it.
    await renewRemediationSlot(deps, state.incidentId, now);
    await deps.ledger.recordAttempt(state.applicationName, incident.id, now);
    return { ...state, phase: 'ACT', waitSeconds: 0 };
  }
  // The lock is renewed at every step; one lost to another incident (expired during a long wait) stops us here.
  const lock = await deps.ledger.acquireLock(state.applicationName, state.incidentId, now, LOCK_TTL_MS);
  if (!lock.acquired) {
    return finish(
      deps,
      state,
      incident,
      'ESCALATED',
      `Incident ${lock.holder} holds the lock on ${state.applicationName}: this remediation stops without acting.`,
      escalateCommands(state.applicationName),
      { releaseLock: false },
    );
  }
  // Renewed with the lock (same lifetime), so a remediation longer than the slot's lifetime never loses its slot.
  await renewRemediationSlot(deps, state.incidentId, now);
  if (state.phase === 'ACT' && incident.trigger.source !== 'runbook') {
    // A pause set after the decision (or during a remediation in progress) holds before every MSF call; a runbook
    // command is a person's decision and is not held.
    const pause = await deps.ledger.automationPause(state.applicationName);
    if (pause) {
      const step = state.steps[state.stepIndex];
      return finish(
        deps,
        state,
        incident,
        'ESCALATED',
        `${describePause(pause)}: the remediation stops before ${step?.call ?? 'its next call'}${incident.actions.length ? ` (after ${incident.actions.map((a) => a.call).join(', ')})` : ' without acting'}.`,
        escalateCommands(state.applicationName),
      );
    }
    // MSF maintenance in progress or a CLOSED change calendar holds every automatic MSF call (holds.ts).
    const held = await holdBeforeAutomaticCall(deps, state, incident, policy);
    if (held) return held;
  }
  switch (state.phase) {
    case 'ACT':
      return act(deps, state, incident, policy);
    case 'AWAIT':
      return awaitTransition(deps, state, incident, policy);
    case 'VERIFY':
      return verify(deps, state, incident, policy);
    case 'REDECIDE':
      return redecide(deps, state, incident, policy);
  }
}

/**
 * A remediation workflow execution ended FAILED, TIMED_OUT or ABORTED (Step Functions Execution Status Change). When
 * the run recorded its outcome first (e.g. CloseFailed: notifying failed after the outcome was recorded; an escalation
 * itself ends SUCCEEDED), only its remediation slot is freed
 * (idempotent: the run has ended, whatever it recorded). Otherwise the
 * incident would stay open and hide every later incident of the application: it is escalated with the execution's
 * status, the lock is freed if the incident holds it, and people are told.
 * @returns the incident when it was closed here, undefined when there was nothing to close.
 */
export async function closeAbandonedIncident(
  incidentId: string,
  executionStatus: string,
  executionError: string | undefined,
  deps: Pick<RemediationDeps, 'ledger' | 'notifier' | 'clock' | 'log' | 'telemetry'>,
): Promise<Incident | undefined> {
  const incident = await deps.ledger.getIncident(incidentId);
  if (!incident) {
    deps.log.warn('workflow ended for an incident that is not in the ledger', { incidentId, executionStatus });
    return undefined;
  }
  // The workflow has ended, whatever it recorded: its remediation slot is free (idempotent).
  await releaseRemediationSlot(deps, incident.id);
  if (TERMINAL_STATUSES.has(incident.status)) return undefined;
  const now = deps.clock.now();
  const reason = `The remediation workflow ended ${executionStatus}${executionError ? ` (${executionError})` : ''} before recording an outcome. Check what the last recorded action did before acting.`;
  incident.status = 'ESCALATED';
  incident.closedMs = now;
  incident.outcomeReason = reason;
  incident.nextSteps = escalateCommands(incident.applicationName);
  addEvent(incident, now, 'ESCALATED', reason);
  await saveOwnedIncident(deps.ledger, incident);
  deps.telemetry?.count('IncidentEscalated', incident.applicationName);
  let lockNote = '';
  try {
    await deps.ledger.releaseLock(incident.applicationName, incident.id);
  } catch (e) {
    // Told all the same: the outcome matters more than the lock, which expires on its own.
    const command = deps.ledger.manualLockRelease(incident.applicationName, incident.id);
    lockNote = `\nThe lock on ${incident.applicationName} could not be released (${(e as Error).message}); release it by hand: ${command}`;
    incident.nextSteps = [...incident.nextSteps, command];
    addEvent(incident, now, 'ERROR', lockNote.trim());
    try {
      await saveOwnedIncident(deps.ledger, incident);
    } catch {
      // The escalation itself is recorded; the note goes out with the notification.
    }
  }
  await tell(
    deps,
    incident,
    'ESCALATED',
    now,
    `${incident.applicationName}: escalated — the remediation workflow ended ${executionStatus}`,
    `${reason}${lockNote}`,
    incident.nextSteps,
  );
  return incident;
}

/** The commands that answer incident `id`'s approval request (CLI; Slack buttons and the console do the same). */
export function approvalCommands(id: string): string[] {
  return [`flink-watchdog approve ${id}`, `flink-watchdog reject ${id} --reason "WHY"`];
}

/**
 * APPROVAL (approve mode), run by the workflow's AwaitApproval state (`lambda:invoke.waitForTaskToken`) with the task
 * token Step Functions waits on: records the request on the incident (`approval`: PENDING, the action, `timeoutMs` =
 * now + `approvalTimeoutSeconds`, `onTimeout`, the task token; event APPROVAL) and tells people
 * (APPROVAL_REQUESTED, the incident's `approval` set so the renderers show Approve / Reject). The workflow then waits,
 * no Lambda running, until {@link answerApproval} sends the answer (SendTaskSuccess) or the wait times out. The return
 * value is ignored by Step Functions. A repeated invocation with the same token (a Lambda retry) asks nothing twice; an
 * incident already closed, or whose request is already answered, is left as it is (the wait ends at its timeout and
 * the next step stops without acting). A second request in the same run (REDECIDE after an approved remediation did
 * not hold) finds the earlier request cleared (its answer kept in the events) and is recorded like the first.
 * @throws IncidentNotFoundError when the incident is not in the ledger; Error when it has no remediation (a bug).
 */
export async function requestApproval(
  state: RemediationState,
  taskToken: string,
  deps: RemediationDeps,
): Promise<RemediationState> {
  const incident = await load(deps, state.incidentId);
  const current = incident.approval;
  if (TERMINAL_STATUSES.has(incident.status) || (current && current.state !== 'PENDING')) {
    deps.log.warn('approval not requested: the incident is closed or its request answered', {
      incidentId: incident.id,
      status: incident.status,
      approval: current?.state,
    });
    return state;
  }
  if (current?.taskToken === taskToken) return state;
  const action = current?.action ?? incident.remediation;
  if (!action) throw new Error(`incident ${incident.id} has no remediation to approve (a bug)`);
  const policy = policyFor(deps.config, state.applicationName);
  const now = deps.clock.now();
  const seconds = state.approvalTimeoutSeconds ?? policy.approvalTimeoutMinutes * 60;
  const onTimeout = current?.onTimeout ?? policy.onApprovalTimeout;
  incident.approval = {
    action,
    requestedMs: now,
    timeoutMs: now + seconds * 1000,
    onTimeout,
    state: 'PENDING',
    taskToken,
  };
  const minutes = Math.round(seconds / 60);
  const until = new Date(now + seconds * 1000).toISOString();
  const then =
    onTimeout === 'proceed'
      ? 'the watchdog acts anyway, after checking every guard again (onApprovalTimeout: proceed)'
      : 'the incident is ESCALATED and no MSF call is made (onApprovalTimeout: escalate)';
  addEvent(
    incident,
    now,
    'APPROVAL',
    `Approval requested: ${describeRemediation(action)}. Unanswered by ${until} (${minutes} min): ${then}.`,
  );
  await saveOwnedIncident(deps.ledger, incident);
  const finding = incident.finding ?? incident.decision.finding;
  await tell(
    deps,
    incident,
    'APPROVAL_REQUESTED',
    now,
    `${state.applicationName}: approve? ${describeRemediation(action)}`,
    [
      finding?.summary,
      `Decision: ${incident.decision.reason}`,
      `Approve or reject within ${minutes} min (by ${until}); unanswered, ${then}. After an approval every guard is checked again on a fresh DescribeApplication: if the situation changed, the watchdog does not act.`,
    ]
      .filter(Boolean)
      .join('\n'),
    approvalCommands(incident.id),
  );
  return state;
}

/** A fresh decision for `state`'s application, as the detector would take it now (scope, observation, history, pause). */
async function decideAgain(
  deps: RemediationDeps,
  state: RemediationState,
  policy: PolicySettings,
  now: number,
): Promise<{ scope: Scope; decision: Decision; pause?: string }> {
  const scope = await resolveScope(state.applicationName, deps);
  const obs = await observe(state.applicationName, deps, now, policy.restartLoop.windowMinutes, policy.checkpointStall);
  const findings = evaluate(obs, policy, now);
  const attempts = await deps.ledger.attemptsSince(
    state.applicationName,
    now - policy.attemptWindowMinutes * MINUTE_MS,
  );
  const lockedBy = await deps.ledger.lockHolder(state.applicationName, now);
  const decision = decide({
    observation: obs,
    findings,
    policy,
    history: {
      attemptsInWindow: attempts.count,
      ...(attempts.lastMs === undefined ? {} : { lastAttemptMs: attempts.lastMs }),
      ...(lockedBy === undefined || lockedBy === state.incidentId ? {} : { lockedBy }),
    },
    scope,
    nowMs: now,
  });
  const pause = decision.verdict === 'REMEDIATE' ? await deps.ledger.automationPause(state.applicationName) : undefined;
  return { scope, decision, ...(pause ? { pause: describePause(pause) } : {}) };
}

/**
 * APPROVAL_ANSWERED (approve mode), after AwaitApproval got an answer or timed out:
 * - REJECTED → ESCALATED ("rejected by X: reason"), no MSF call;
 * - TIMEOUT → the request recorded TIMED_OUT; with `onApprovalTimeout: escalate` → ESCALATED, no MSF call; with
 *   `proceed` → as approved;
 * - APPROVED → decided again on a fresh observation (scope, DescribeApplication, metrics, operations, attempts, lock,
 *   automation pause): the same remediation (kind, expected ApplicationVersionId, target) → a fleet remediation slot is
 *   taken (none free: the step waits and checks everything again, up to `approvalTimeoutMinutes`, then ESCALATED) and
 *   the run goes on to LOCK → ACT (which checks the application again before its call); anything else → the request is
 *   recorded STALE and the incident ESCALATED saying what changed, no MSF call.
 * Every answer, timeout and stale approval is recorded (event APPROVAL, `incident.approval`) and told
 * (APPROVAL_ANSWERED).
 */
async function approvalAnswered(
  deps: RemediationDeps,
  state: RemediationState,
  incident: Incident,
  policy: PolicySettings,
): Promise<RemediationState> {
  const now = deps.clock.now();
  const request = incident.approval;
  const answer = state.approvalAnswer;
  if (!request || !answer) {
    return finish(
      deps,
      state,
      incident,
      'ESCALATED',
      `The approval step found no ${request ? 'answer in the workflow state' : 'approval request on the incident'} (a bug): not acting.`,
      escalateCommands(state.applicationName),
    );
  }
  const { taskToken: _token, ...record } = request;
  const action = record.action;
  const app = state.applicationName;
  // A re-run of this step (waiting for a remediation slot, or a retry) records and tells the answer only once.
  const first = state.deadlineMs === undefined && state.retries === 0;
  const minutes = Math.round((record.timeoutMs - record.requestedMs) / MINUTE_MS);
  let who: string;
  /** For titles: "approved by X", "rejected by X", "no answer". */
  let short: string;
  if (answer.decision === 'TIMEOUT') {
    who = `not answered within ${minutes} min (onApprovalTimeout: ${record.onTimeout})`;
    short = 'no answer';
    if (first) {
      incident.approval = { ...record, state: 'TIMED_OUT' };
      addEvent(incident, now, 'APPROVAL', `Approval request timed out: ${who}.`);
      await saveOwnedIncident(deps.ledger, incident);
    }
    if (record.onTimeout !== 'proceed') {
      await tell(
        deps,
        incident,
        'APPROVAL_ANSWERED',
        now,
        `${app}: approval timed out — not acting`,
        `No one answered within ${minutes} min: the incident is escalated and no MSF call was made.`,
      );
      return finish(
        deps,
        state,
        incident,
        'ESCALATED',
        `No one answered the approval request within ${minutes} min (onApprovalTimeout: escalate): no MSF call was made. Would have: ${describeRemediation(action)}.`,
        escalateCommands(app),
      );
    }
  } else {
    // The answer recorded by answerApproval (before it reached the workflow) names who answered; the state's is the same.
    const given = record.answer ?? {
      decision: answer.decision,
      by: answer.by ?? 'unknown',
      via: answer.via ?? 'cli',
      atMs: now,
      ...(answer.reason ? { reason: answer.reason } : {}),
    };
    who = describeAnswer(given);
    short = `${given.decision === 'APPROVED' ? 'approved' : 'rejected'} by ${given.by}`;
    incident.approval = { ...record, state: answer.decision, answer: given };
    if (answer.decision === 'REJECTED') {
      await saveOwnedIncident(deps.ledger, incident);
      await tell(
        deps,
        incident,
        'APPROVAL_ANSWERED',
        now,
        `${app}: ${short} — not acting`,
        `The remediation (${describeRemediation(action)}) was ${who}. The incident is escalated; no MSF call was made.`,
      );
      return finish(
        deps,
        state,
        incident,
        'ESCALATED',
        `The remediation (${describeRemediation(action)}) was ${who}. No MSF call was made.`,
        escalateCommands(app),
      );
    }
  }
  // Approved (or unanswered with onApprovalTimeout: proceed): every guard again, on a fresh observation.
  let fresh: Awaited<ReturnType<typeof decideAgain>>;
  let actedSince: { count: number };
  try {
    fresh = await decideAgain(deps, state, policy, now);
    // A remediation attempt recorded since the request was put to people is someone else's (a person's runbook
    // command: this incident records its own at LOCK, after the answer).
    actedSince = await deps.ledger.attemptsSince(app, record.requestedMs + 1);
  } catch (e) {
    return retryOrEscalate(deps, state, incident, policy, e, 'checking the approved remediation again');
  }
  const { scope, decision, pause } = fresh;
  const stale = !scope.inScope
    ? `${app} is no longer watched (${scope.reason})`
    : actedSince.count > 0
      ? `${actedSince.count} remediation attempt(s) were made on ${app} since the request (a person's runbook command), so the decision put to people no longer stands`
      : pause
        ? pause
        : decision.verdict !== 'REMEDIATE' || !decision.remediation
          ? `deciding again on a fresh DescribeApplication gives ${decision.verdict}: ${decision.reason}`
          : whatChanged(action, decision.remediation);
  if (stale) {
    const what = stale.replace(/\.$/, '');
    incident.approval = { ...(incident.approval ?? record), state: 'STALE' };
    incident.decision = decision;
    addEvent(incident, now, 'DECISION', `${decision.verdict}: ${decision.reason}`);
    addEvent(incident, now, 'APPROVAL', `Approval not acted on (${who}): ${what}.`);
    await saveOwnedIncident(deps.ledger, incident);
    await tell(
      deps,
      incident,
      'APPROVAL_ANSWERED',
      now,
      `${app}: approval is stale — not acting`,
      `${describeRemediation(action)} was ${who}, but the situation changed: ${what}. Not acting on a stale approval; no MSF call was made.`,
    );
    return finish(
      deps,
      state,
      incident,
      'ESCALATED',
      `${describeRemediation(action)} was ${who}, but the situation changed before acting: ${what}. Not acting on a stale approval; no MSF call was made.`,
      decision.nextSteps.length ? decision.nextSteps : escalateCommands(app),
    );
  }
  // The fleet's remediation slot is taken only now: no slot is held while people decide.
  const slot = await takeRemediationSlot(deps, incident.id, app, now);
  if (!slot.taken) {
    const deadlineMs = state.deadlineMs ?? now + policy.approvalTimeoutMinutes * MINUTE_MS;
    if (now >= deadlineMs) {
      return finish(
        deps,
        state,
        incident,
        'ESCALATED',
        `${describeRemediation(action)} was ${who}, but no fleet remediation slot came free within ${policy.approvalTimeoutMinutes} min (${slot.reason}): not acting.`,
        escalateCommands(app),
      );
    }
    if (state.deadlineMs === undefined) {
      addEvent(incident, now, 'APPROVAL', `${who}; waiting for a remediation slot: ${slot.reason}.`);
      await saveOwnedIncident(deps.ledger, incident);
      await tell(
        deps,
        incident,
        'APPROVAL_ANSWERED',
        now,
        `${app}: ${short} — waiting for a remediation slot`,
        `${describeRemediation(action)} was ${who}. ${slot.reason}: the watchdog checks everything again when a slot is free (at most ${policy.approvalTimeoutMinutes} min).`,
      );
    }
    return { ...state, deadlineMs, retries: 0, waitSeconds: policy.pollIntervalSeconds };
  }
  incident.decision = decision;
  addEvent(incident, now, 'DECISION', `${decision.verdict}: ${decision.reason}`);
  const seen = decision.guards.find((g) => g.name === 'status-actionable')?.detail ?? '';
  addEvent(
    incident,
    now,
    'APPROVAL',
    `${who}: every guard passed again on a fresh DescribeApplication (${seen}, version ${action.expectVersionId}): acting.`,
  );
  await saveOwnedIncident(deps.ledger, incident);
  await tell(
    deps,
    incident,
    'APPROVAL_ANSWERED',
    now,
    `${app}: ${short} — acting`,
    `${describeRemediation(action)} was ${who}. Every guard passed again on a fresh DescribeApplication (${seen}, version ${action.expectVersionId}): acting now.`,
  );
  const next: RemediationState = {
    ...state,
    phase: 'LOCK',
    steps: planFor(action),
    stepIndex: 0,
    expectVersionId: action.expectVersionId,
    retries: 0,
    waitSeconds: 0,
  };
  delete next.deadlineMs;
  return next;
}
