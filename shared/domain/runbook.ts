import type { Clock } from '#shared/clock.ts';
import type { PolicySettings, WatchdogConfig } from '#shared/config/schema.ts';
import { policyFor } from '#shared/config/schema.ts';
import {
  type ApplicationCommand,
  type ApprovalCommand,
  isApprovalCommand,
  type RunbookCommand,
  type RunbookCommandName,
} from '#shared/events/runbook-command.ts';
import { type Ledger, saveOwnedIncident } from '#shared/ports/ledger.ts';
import type { Log } from '#shared/ports/log.ts';
import type { MsfPort } from '#shared/ports/msf.ts';
import type { NotificationEvent, Notifier } from '#shared/ports/notifier.ts';
import type { RemediationStarter } from '#shared/ports/remediation-starter.ts';
import type { TaskTokenPort } from '#shared/ports/task-tokens.ts';
import { type AnswerResult, answerApproval } from './approval.ts';
import type { AutomationPause } from './automation.ts';
import type { Decision, GuardResult, RemediationAction, StartOptions } from './decision.ts';
import { PERSON_ACTED } from './holds.ts';
import type { ActionRecord, Incident, IncidentStatus } from './incident.ts';
import { addEvent, incidentId, TERMINAL_STATUSES } from './incident.ts';
import type { ApplicationObservation, ApplicationSnapshot, ApplicationStatus } from './model.ts';
import type { Scope } from './policy.ts';
import { chooseRestore } from './policy.ts';
import { escalateCommands, initialRemediationState, tell } from './remediation.ts';
import { resolveScope } from './scope.ts';

/**
 * Runbook commands (SNS-triggered): a person asks the watchdog to act on one application. A command is authorised,
 * scope-checked, guarded like automatic remediation, recorded in the ledger as an incident, and carried out by the
 * same remediation workflow; every outcome is told with a notification.
 */

const MINUTE_MS = 60_000;
/** How long the lock is held around a one-shot call made here (CreateApplicationSnapshot), ms. */
const ONE_SHOT_LOCK_TTL_MS = 5 * MINUTE_MS;

/**
 * Pauses and resumes automatic remediation of one application: the ledger's pause flag ({@link Ledger}
 * `automationPause`, `pauseAutomation`, `resumeAutomation`), which the detector, the reconciler and the remediation
 * workflow honour. Pass the same ledger they read. Optional: without it, `pause-automation` and `resume-automation`
 * are rejected as not supported.
 */
export type AutomationSwitch = Pick<Ledger, 'automationPause' | 'pauseAutomation' | 'resumeAutomation'>;

/**
 * MSF CreateApplicationSnapshot ({@link MsfPort} `createApplicationSnapshot`; the MSF adapter is one). Optional:
 * without it, `snapshot` is rejected as not supported. Allowed only while the application is RUNNING with
 * `SnapshotsEnabled`; the snapshot is CREATING when the call returns.
 */
export type SnapshotCreator = Pick<MsfPort, 'createApplicationSnapshot'>;

/** What {@link runCommand} uses. */
export interface RunbookDeps {
  msf: MsfPort;
  ledger: Ledger;
  notifier: Notifier;
  starter: RemediationStarter;
  config: WatchdogConfig;
  clock: Clock;
  log: Log;
  /**
   * The pause flag; the Lambda passes its ledger.
   * @default undefined — `pause-automation` / `resume-automation` are rejected as not supported.
   */
  automation?: AutomationSwitch;
  /**
   * CreateApplicationSnapshot; the Lambda passes its MSF adapter.
   * @default undefined — `snapshot` is rejected as not supported.
   */
  snapshots?: SnapshotCreator;
  /**
   * Answers the remediation workflow's waiting `.waitForTaskToken` state (Step Functions SendTaskSuccess); the Lambda
   * passes its Step Functions adapter.
   * @default undefined — `approve` / `reject` are rejected as not supported.
   */
  tokens?: TaskTokenPort;
}

/** Where a command came from. Config-free: the caller passes the topics commands are accepted from. */
export interface RunbookContext {
  /** `Sns.TopicArn` of the message. */
  topicArn: string;
  /** Topic ARNs commands are accepted from (the configured command topic); exact match. Empty: nothing accepted. */
  authorizedTopics: readonly string[];
  /** `Sns.MessageId`: kept by SNS on redelivery, so the incident id derived from it makes a redelivery a DUPLICATE. */
  messageId: string;
}

/**
 * The answer to one command:
 * - `REJECTED`: not authorised, out of scope, not supported, or a guard said no (`reason` says which); nothing changed;
 *   for `approve` / `reject`: the incident is unknown, not awaiting approval, already answered or timed out;
 * - `DRY_RUN`: `dryRun` was true (the default): `reason` says what would have been done; nothing changed;
 * - `STARTED`: the remediation workflow was started for the recorded incident;
 * - `DONE`: carried out here (snapshot, pause-automation, resume-automation; approve / reject: the answer is recorded
 *   on the incident and handed to its waiting workflow);
 * - `DUPLICATE`: this message was handled before (SNS redelivery): nothing done again.
 */
export interface RunbookResult {
  status: 'REJECTED' | 'DRY_RUN' | 'STARTED' | 'DONE' | 'DUPLICATE';
  reason: string;
  /**
   * The incident recording the command; absent when it was rejected before being recorded (not authorised). For
   * `approve` / `reject`: the incident answered (no incident of its own is recorded).
   */
  incidentId?: string;
  applicationName?: string;
  command?: RunbookCommandName;
  /** The remediation started (STARTED) or that would have been (DRY_RUN). */
  action?: RemediationAction;
}

/** Statuses StopApplication Force=true is allowed from (https://docs.aws.amazon.com/managed-flink/latest/apiv2/API_StopApplication.html). */
const FORCE_STOPPABLE: ReadonlySet<ApplicationStatus> = new Set([
  'STARTING',
  'UPDATING',
  'STOPPING',
  'AUTOSCALING',
  'RUNNING',
]);
/** Statuses RollbackApplication is allowed from. */
const ROLLBACKABLE: ReadonlySet<ApplicationStatus> = new Set(['UPDATING', 'AUTOSCALING', 'RUNNING']);
const READY_ONLY: ReadonlySet<ApplicationStatus> = new Set(['READY']);
const RUNNING_ONLY: ReadonlySet<ApplicationStatus> = new Set(['RUNNING']);

/**
 * Whether the message may command the watchdog: it came from an authorised topic (the topic policy limits who can
 * publish; this checks the message really came through that topic) and names who asks. Pure.
 * @returns undefined when authorised, else the reason.
 */
export function authorise(command: Pick<RunbookCommand, 'requestedBy'>, ctx: RunbookContext): string | undefined {
  if (!ctx.authorizedTopics.includes(ctx.topicArn)) {
    return ctx.authorizedTopics.length === 0
      ? `not authorised: no command topic is configured, so no command is accepted (message from ${ctx.topicArn})`
      : `not authorised: the message came from topic ${JSON.stringify(ctx.topicArn)}, not the command topic`;
  }
  if (command.requestedBy.trim() === '') return 'not authorised: requestedBy is empty';
  return undefined;
}

/** The incident id of a command: one per SNS message, so a redelivery lands on the same incident. */
export function runbookIncidentId(applicationName: string, messageId: string): string {
  return incidentId(applicationName, `runbook:${messageId}`);
}

/** What the ledger says about who else is acting on the application. */
export interface RunbookHistory {
  /** The incident holding the application's lock (ledger `lockHolder`). */
  lockedBy?: string;
  /** The application's open (non-terminal) incident, e.g. an automatic remediation about to take the lock. */
  openIncidentId?: string;
  /**
   * Why the open incident is waiting rather than acting, from {@link waitingNotActing} (held by a change freeze or MSF
   * maintenance, or awaiting approval): a person's command then goes through (the issue's "a human runbook command
   * still runs"), and the waiting incident does not act on its earlier decision afterwards.
   */
  openIncidentWaiting?: string;
}

/**
 * Why the open incident `incident` is waiting and not acting, in words, or undefined when it may be acting (or about
 * to): held (`hold` set and not released: a CLOSED change calendar or MSF maintenance; the lock is free between its
 * looks, holds.ts), or awaiting approval (approval `state` PENDING: no lock is held until it is answered). Pure.
 */
export function waitingNotActing(incident: Incident): string | undefined {
  if (incident.hold && incident.hold.releasedMs === undefined) return `held: ${incident.hold.detail}`;
  if (incident.approval?.state === 'PENDING') {
    return `awaiting approval until ${new Date(incident.approval.timeoutMs).toISOString()}`;
  }
  return undefined;
}

/** A command planned against a fresh observation. */
export type RunbookPlan =
  /** Carried out by the remediation workflow. */
  | { kind: 'workflow'; action: RemediationAction; detail: string; guards: GuardResult[] }
  /** CreateApplicationSnapshot, called here. */
  | { kind: 'snapshot'; snapshotName: string; detail: string; guards: GuardResult[] }
  | { kind: 'rejected'; reason: string; nextSteps: string[]; guards: GuardResult[] };

function cli(app: string, rest: string): string {
  return `aws kinesisanalyticsv2 ${rest} --application-name ${app}`;
}

/** READY snapshots, newest first. */
function readySnapshots(snapshots: readonly ApplicationSnapshot[]): ApplicationSnapshot[] {
  return snapshots.filter((s) => s.status === 'READY').sort((a, b) => (b.createdMs ?? 0) - (a.createdMs ?? 0));
}

/** Whether the running version was itself produced by a rollback (as `detect` tells it). */
function currentVersionIsRollback(obs: ApplicationObservation): boolean {
  const app = obs.application;
  if (!app) return false;
  const producer = [...obs.operations]
    .sort((a, b) => (b.startMs ?? 0) - (a.startMs ?? 0))
    .find((o) => o.status === 'SUCCESSFUL' && o.versionTo === app.versionId);
  return producer
    ? /rollback/i.test(producer.operation)
    : app.versionRolledBackTo !== undefined && app.versionRolledBackFrom !== undefined;
}

/**
 * Plans a command that changes the application (every command but pause/resume) against a fresh observation
 * (DescribeApplication, ListApplicationOperations, ListApplicationSnapshots). Pure; table-tested.
 *
 * Guards, all recorded: status actionable (not DELETING/MAINTENANCE, and one the command's MSF call is allowed
 * from); no foreign operation IN_PROGRESS (except for a forced stop, which exists to clear a transition, as for an
 * automatic stuck-transition remediation); lock free and no other open incident; a READY snapshot where the action
 * restores one (or RollbackApplication needs one). Attempts and cooldown do not block a human command: they limit
 * automation so it does not flap, and a person deciding is what escalation asks for. Policy `mode` (observe) does
 * not block either: it is about automatic decisions. `expectVersionId` is the observed `ApplicationVersionId`.
 *
 * Mapping: force-stop → FORCE_STOP_AND_RESTART without start; restart-from-snapshot → FORCE_STOP_AND_RESTART with a
 * start (from READY: START) restoring `latest`, `last-known-good` (the newest READY snapshot of the running version,
 * via `chooseRestore`) or a named READY snapshot; rollback → ROLLBACK to `ApplicationVersionUpdatedFrom`; start →
 * START from READY (latest snapshot, or without state when the application has none); stop → STOP (StopApplication
 * without Force, from RUNNING only; MSF takes a snapshot first when SnapshotsEnabled); snapshot →
 * CreateApplicationSnapshot (RUNNING, SnapshotsEnabled). A pause of automation does not block any of them: a person
 * decided.
 */
export function planRunbookCommand(
  command: ApplicationCommand,
  obs: ApplicationObservation,
  policy: PolicySettings,
  history: RunbookHistory,
  snapshotName?: string,
): RunbookPlan {
  const name = command.application;
  const guards: GuardResult[] = [];
  const reject = (reason: string, nextSteps: string[] = escalateCommands(name)): RunbookPlan => ({
    kind: 'rejected',
    reason,
    nextSteps,
    guards,
  });
  const app = obs.application;
  if (!app)
    return reject(`cannot read ${name}: ${obs.errors.map((e) => e.message).join('; ') || 'no DescribeApplication'}`);
  const c = command.command;
  if (c === 'pause-automation' || c === 'resume-automation') {
    return reject(`${c} does not change the application (bug: planned as one)`, []);
  }

  const ready = readySnapshots(obs.snapshots);
  const forced = c === 'force-stop' || (c === 'restart-from-snapshot' && app.status !== 'READY');
  const allowed: ReadonlySet<ApplicationStatus> =
    c === 'force-stop'
      ? FORCE_STOPPABLE
      : c === 'restart-from-snapshot'
        ? new Set([...FORCE_STOPPABLE, 'READY'])
        : c === 'rollback'
          ? ROLLBACKABLE
          : c === 'start'
            ? READY_ONLY
            : RUNNING_ONLY; // stop, snapshot
  const statusOk = allowed.has(app.status);
  guards.push({
    name: 'status-actionable',
    passed: statusOk,
    detail: `ApplicationStatus ${app.status}; ${c} needs ${[...allowed].join(', ')}`,
  });
  if (!statusOk) {
    const hint =
      app.status === 'READY' && (c === 'force-stop' || c === 'stop')
        ? ': it is already stopped'
        : app.status === 'RUNNING' && c === 'start'
          ? ': it is already running'
          : c === 'stop' && FORCE_STOPPABLE.has(app.status)
            ? ` (StopApplication without Force needs RUNNING): use force-stop to stop it from ${app.status}, without a snapshot`
            : '';
    return reject(`${c} is not allowed while ${name} is ${app.status}${hint}.`, [cli(name, 'describe-application')]);
  }

  const foreign = obs.operations.find((o) => o.status === 'IN_PROGRESS');
  const foreignOk = !foreign || forced;
  guards.push({
    name: 'no-foreign-operation',
    passed: foreignOk,
    detail: foreign
      ? `${foreign.operation} ${foreign.operationId} IN_PROGRESS${forced ? ' (a forced stop clears it)' : ''}`
      : 'no operation in progress',
  });
  if (!foreignOk) {
    return reject(
      `${foreign?.operation} ${foreign?.operationId} is in progress on ${name}: wait for it, or use force-stop to clear it.`,
      [cli(name, 'list-application-operations')],
    );
  }

  // An open incident that is held or awaiting approval is not acting: a person's command goes through (the lock is
  // free then); one holding the lock, or about to take it, is.
  const waiting = history.openIncidentWaiting;
  const other = history.lockedBy ?? (waiting === undefined ? history.openIncidentId : undefined);
  guards.push({
    name: 'lock-free',
    passed: other === undefined,
    detail:
      history.lockedBy !== undefined
        ? `held by incident ${history.lockedBy}`
        : history.openIncidentId !== undefined
          ? `incident ${history.openIncidentId} is open${waiting === undefined ? '' : ` but not acting (${waiting}); it will not act on its earlier decision after this command`}`
          : 'free',
  });
  if (other !== undefined) {
    if (waiting !== undefined && other === history.openIncidentId) {
      return reject(
        `incident ${other} (${waiting}) is looking again at ${name} right now and holds its lock for that moment: send the command again in a minute.`,
      );
    }
    return reject(`incident ${other} is already acting on ${name}: not acting twice. Wait for it to finish.`);
  }
  guards.push(
    { name: 'attempts-left', passed: true, detail: 'not applied: attempts limit automation, not a human command' },
    { name: 'cooldown-passed', passed: true, detail: 'not applied: cooldown limits automation, not a human command' },
  );

  const v = app.versionId;
  const snapshotGuard = (ok: boolean, detail: string) => guards.push({ name: 'snapshot-exists', passed: ok, detail });
  switch (c) {
    case 'force-stop':
      return {
        kind: 'workflow',
        action: { kind: 'FORCE_STOP_AND_RESTART', expectVersionId: v },
        detail: `force-stop ${name} (version ${v}, ${app.status}); no snapshot is taken and it is not restarted`,
        guards,
      };
    case 'stop':
      return {
        kind: 'workflow',
        action: { kind: 'STOP', expectVersionId: v },
        detail: `stop ${name} (version ${v}, RUNNING) with StopApplication without Force: ${app.snapshotsEnabled ? 'MSF takes a snapshot first' : 'SnapshotsEnabled=false, so no snapshot is taken'}; it is not restarted`,
        guards,
      };
    case 'restart-from-snapshot': {
      const choice = command.snapshot ?? policy.restoreFrom;
      let start: StartOptions;
      let from: string;
      if (choice === 'latest' || choice === 'last-known-good') {
        const restore = chooseRestore(obs, { ...policy, restoreFrom: choice }, obs.atMs);
        snapshotGuard(
          restore !== undefined,
          restore ? `${ready.length} READY snapshot(s), newest ${ready[0]?.name}` : 'no READY snapshot',
        );
        if (!restore) {
          return reject(`${name} has no READY snapshot to restart from: restarting would lose its state.`, [
            cli(name, 'list-application-snapshots'),
          ]);
        }
        start = restore.start;
        from = restore.detail;
      } else {
        const snap = obs.snapshots.find((s) => s.name === choice);
        const ok = snap?.status === 'READY';
        snapshotGuard(ok, snap ? `snapshot ${choice} is ${snap.status}` : `no snapshot named ${choice}`);
        if (!ok) {
          return reject(
            snap
              ? `snapshot ${choice} of ${name} is ${snap.status}, not READY: it cannot be restored.`
              : `${name} has no snapshot named ${choice}.`,
            [cli(name, 'list-application-snapshots')],
          );
        }
        start = { restoreType: 'RESTORE_FROM_CUSTOM_SNAPSHOT', snapshotName: choice, allowNonRestoredState: false };
        from = `snapshot ${choice} (version ${snap.versionId}${snap.versionId === v ? '' : `, not the running version ${v}`})`;
      }
      const action: RemediationAction = forced
        ? { kind: 'FORCE_STOP_AND_RESTART', expectVersionId: v, start }
        : { kind: 'START', expectVersionId: v, start };
      return {
        kind: 'workflow',
        action,
        detail: `${forced ? `force-stop ${name} (version ${v}, ${app.status}), then start` : `start ${name} (READY)`} from the ${from}`,
        guards,
      };
    }
    case 'rollback': {
      if (currentVersionIsRollback(obs)) {
        return reject(
          `version ${v} of ${name} is itself a rollback: rolling back again is not an option. Use restart-from-snapshot or fix the deployment.`,
        );
      }
      const to = app.versionUpdatedFrom;
      if (to === undefined) {
        return reject(`${name} has no ApplicationVersionUpdatedFrom: there is no earlier version to roll back to.`);
      }
      snapshotGuard(ready.length > 0, ready.length ? `${ready.length} READY snapshot(s)` : 'no READY snapshot');
      if (ready.length === 0) {
        return reject(`${name} has no READY snapshot: MSF rejects RollbackApplication without one.`, [
          cli(name, 'list-application-snapshots'),
        ]);
      }
      return {
        kind: 'workflow',
        action: { kind: 'ROLLBACK', expectVersionId: v, toVersionId: to },
        detail: `roll ${name} back from version ${v} to version ${to} (MSF restores the last successful snapshot)`,
        guards,
      };
    }
    case 'start': {
      if (obs.snapshots.length > 0 && ready.length === 0) {
        snapshotGuard(false, `no READY snapshot (${obs.snapshots.map((s) => `${s.name} ${s.status}`).join(', ')})`);
        return reject(
          `${name} has snapshots but none is READY: starting now would drop its state. Wait for them, or restart-from-snapshot a named one.`,
          [cli(name, 'list-application-snapshots')],
        );
      }
      const withState = ready.length > 0;
      snapshotGuard(true, withState ? `newest READY snapshot ${ready[0]?.name}` : 'no snapshot: nothing to restore');
      return {
        kind: 'workflow',
        action: {
          kind: 'START',
          expectVersionId: v,
          start: {
            restoreType: withState ? 'RESTORE_FROM_LATEST_SNAPSHOT' : 'SKIP_RESTORE_FROM_SNAPSHOT',
            allowNonRestoredState: false,
          },
        },
        detail: `start ${name} (READY, version ${v}) ${withState ? `from the latest snapshot ${ready[0]?.name}` : 'without state: it has no snapshot'}`,
        guards,
      };
    }
    case 'snapshot': {
      if (!app.snapshotsEnabled) {
        return reject(`${name} has SnapshotsEnabled=false: MSF cannot take a snapshot of it.`, [
          cli(name, 'describe-application'),
        ]);
      }
      const snapshotNameOrDefault = snapshotName ?? `runbook-${name}`;
      return {
        kind: 'snapshot',
        snapshotName: snapshotNameOrDefault,
        detail: `take snapshot ${snapshotNameOrDefault} of ${name} (version ${v}, RUNNING)`,
        guards,
      };
    }
  }
}

/** The one-line account of a command, as every notification and the incident trigger carry it. */
export function describeCommand(command: RunbookCommand): string {
  if (isApprovalCommand(command)) {
    const reason = command.reason ? `: ${command.reason}` : '';
    return `runbook: ${command.command} incident ${command.incidentId} by ${command.requestedBy} via ${command.via ?? 'cli'}${reason}`;
  }
  const snapshot = command.snapshot ? ` ${command.snapshot}` : '';
  return `runbook: ${command.command}${snapshot} by ${command.requestedBy}: ${command.reason}`;
}

/**
 * Records on the waiting incident `waitingIncident` (held, or awaiting approval: see {@link waitingNotActing}) that a
 * person's runbook command (`command`, recorded as incident `personId`) acts on its application now, before that command's workflow
 * starts: a HELD event on a held incident, an APPROVAL event on one awaiting approval. The held remediation stops at
 * its next look without acting on its earlier decision (the command's attempt is counted, holds.ts); an approval
 * answered later is checked again against the changed application before anything is done (remediation.ts). Never
 * throws: the person's command goes on when the note cannot be saved (logged).
 */
async function tellWaitingIncident(
  deps: RunbookDeps,
  waitingIncident: Incident,
  waiting: string,
  command: ApplicationCommand,
  personId: string,
  now: number,
): Promise<void> {
  const kind = waitingIncident.hold && waitingIncident.hold.releasedMs === undefined ? 'HELD' : 'APPROVAL';
  const message = `${PERSON_ACTED}${command.application} while this incident was ${waiting}: runbook command ${command.command} by ${command.requestedBy} (incident ${personId}). The decision made before no longer stands: this incident does not act on it.`;
  try {
    await deps.ledger.updateIncident(waitingIncident.id, (stored) => {
      if (TERMINAL_STATUSES.has(stored.status)) return undefined;
      addEvent(stored, now, kind, message);
      return stored;
    });
  } catch (e) {
    deps.log.warn('could not record the runbook command on the waiting incident', {
      incidentId: waitingIncident.id,
      runbookIncidentId: personId,
      error: (e as Error).message,
    });
  }
}

/** Why a command cannot be carried out by this deployment, or undefined when it can. */
function unsupported(command: ApplicationCommand, deps: RunbookDeps): string | undefined {
  switch (command.command) {
    case 'snapshot':
      return deps.snapshots
        ? undefined
        : 'not supported yet: CreateApplicationSnapshot is not available to the watchdog';
    case 'pause-automation':
    case 'resume-automation':
      return deps.automation
        ? undefined
        : `not supported yet: ${command.command} needs an automation switch in the ledger, which this deployment does not have`;
    default:
      return undefined;
  }
}

function newIncident(
  id: string,
  command: ApplicationCommand,
  nowMs: number,
  status: IncidentStatus,
  decision: Decision,
): Incident {
  const incident: Incident = {
    schemaVersion: 1,
    id,
    applicationName: command.application,
    trigger: { source: 'runbook', detail: `${command.requestedBy}: ${command.reason}`, atMs: nowMs },
    openedMs: nowMs,
    status,
    decision,
    ...(decision.remediation ? { remediation: decision.remediation } : {}),
    attempts: decision.verdict === 'REMEDIATE' ? 1 : 0,
    actions: [],
    events: [],
  };
  addEvent(incident, nowMs, 'OPENED', describeCommand(command));
  addEvent(incident, nowMs, 'DECISION', `${decision.verdict}: ${decision.reason}`);
  return incident;
}

/**
 * Handles one command: authorise → (already handled? DUPLICATE) → supported by this deployment → in scope →
 * fresh DescribeApplication, ListApplicationOperations, ListApplicationSnapshots → guards and plan
 * ({@link planRunbookCommand}) → record the incident (trigger source `runbook`) → dry run, or act: start the
 * remediation workflow with `initialRemediationState`, or make the one-shot call (CreateApplicationSnapshot, the
 * automation switch).
 *
 * Every authorised command is recorded in the ledger before anything acts, under an id derived from the SNS
 * MessageId, and answered with a notification: OPENED (STARTED), ACTION_TAKEN (DONE), NOTIFIED "would have"
 * (DRY_RUN), NOTIFIED with the reason (REJECTED), ESCALATED when the workflow cannot be started. Unauthorised
 * commands are only logged: nothing is recorded, read or told. Pausing automation does not block human commands.
 *
 * `approve` / `reject` take another path ({@link runApprovalCommand}): they answer an existing incident's approval
 * request (no incident of their own, no MSF call, no lock).
 *
 * Never makes a mutating MSF call itself, except CreateApplicationSnapshot through `deps.snapshots`.
 * @throws only for infrastructure faults of the ledger (the SNS delivery is then retried; the MessageId makes the
 *   retry safe).
 */
export async function runCommand(
  command: RunbookCommand,
  deps: RunbookDeps,
  ctx: RunbookContext,
): Promise<RunbookResult> {
  return isApprovalCommand(command)
    ? runApprovalCommand(command, deps, ctx)
    : runApplicationCommand(command, deps, ctx);
}

/** An application command (everything but approve / reject): see {@link runCommand}. */
async function runApplicationCommand(
  command: ApplicationCommand,
  deps: RunbookDeps,
  ctx: RunbookContext,
): Promise<RunbookResult> {
  const name = command.application;
  const base = { applicationName: name, command: command.command } as const;
  const denied = authorise(command, ctx);
  if (denied) {
    deps.log.error('runbook command rejected', { applicationName: name, command: command.command, reason: denied });
    return { ...base, status: 'REJECTED', reason: denied };
  }
  const now = deps.clock.now();
  const id = runbookIncidentId(name, ctx.messageId);
  const duplicate = (): RunbookResult => ({
    ...base,
    status: 'DUPLICATE',
    incidentId: id,
    reason: `message ${ctx.messageId} was already handled as incident ${id}`,
  });
  const seen = await deps.ledger.getIncident(id);
  if (seen) {
    if (seen.status === 'REMEDIATING' && seen.remediation && seen.actions.length === 0) {
      // Recorded by a delivery that died before StartExecution: start it now (the execution name is the incident
      // id, so a workflow already running is not started twice).
      await deps.starter.start(initialRemediationState(seen, seen.remediation));
    }
    return duplicate();
  }

  /** Records the command as a closed incident and tells people; REJECTED, DRY_RUN or DONE. */
  const close = async (
    status: 'REJECTED' | 'DRY_RUN' | 'DONE',
    reason: string,
    guards: GuardResult[],
    options: { nextSteps?: string[]; wouldHave?: RemediationAction } = {},
  ): Promise<RunbookResult> => {
    const nextSteps = options.nextSteps ?? [];
    const decision: Decision = {
      verdict: status === 'REJECTED' ? 'NOTIFY' : 'NONE',
      reason,
      ...(options.wouldHave ? { wouldHave: options.wouldHave } : {}),
      guards,
      nextSteps,
    };
    const incident = newIncident(id, command, now, status === 'DONE' ? 'RESOLVED' : 'NOTIFIED', decision);
    incident.closedMs = now;
    incident.outcomeReason = reason;
    incident.nextSteps = nextSteps;
    addEvent(incident, now, status === 'DONE' ? 'RESOLVED' : 'NOTIFIED', reason);
    if (!(await deps.ledger.createIncident(incident))) return duplicate();
    await answer(deps, incident, command, status, reason, now, nextSteps);
    deps.log.info(`runbook command ${status === 'DONE' ? 'done' : status === 'DRY_RUN' ? 'dry run' : 'rejected'}`, {
      incidentId: id,
      applicationName: name,
      command: command.command,
      requestedBy: command.requestedBy,
      reason,
    });
    return {
      ...base,
      status,
      incidentId: id,
      reason,
      ...(options.wouldHave ? { action: options.wouldHave } : {}),
    };
  };

  const notSupported = unsupported(command, deps);
  if (notSupported) return close('REJECTED', notSupported, []);

  let scope: Scope;
  try {
    scope = await resolveScope(name, deps);
  } catch (e) {
    const reason = `cannot resolve the scope of ${name}: ${(e as Error).message}`;
    return close('REJECTED', reason, [{ name: 'in-scope', passed: false, detail: reason }]);
  }
  const scopeGuard: GuardResult = { name: 'in-scope', passed: scope.inScope, detail: scope.reason };
  if (!scope.inScope) {
    return close('REJECTED', `${name} is not watched (${scope.reason}): the watchdog never touches it.`, [scopeGuard]);
  }

  if (command.command === 'pause-automation' || command.command === 'resume-automation') {
    return switchAutomation(command, deps, scopeGuard, close);
  }

  let obs: ApplicationObservation;
  try {
    const [application, operations, snapshots] = await Promise.all([
      deps.msf.describeApplication(name),
      deps.msf.listOperations(name),
      deps.msf.listSnapshots(name),
    ]);
    obs = { applicationName: name, atMs: now, application, operations, snapshots, errors: [] };
  } catch (e) {
    return close('REJECTED', `cannot read ${name}, not acting on partial information: ${(e as Error).message}`, [
      scopeGuard,
    ]);
  }
  const lockedBy = await deps.ledger.lockHolder(name, now);
  const open = await deps.ledger.openIncident(name);
  const waiting = open ? waitingNotActing(open) : undefined;
  const plan = planRunbookCommand(
    command,
    obs,
    policyFor(deps.config, name),
    {
      ...(lockedBy === undefined ? {} : { lockedBy }),
      ...(open === undefined ? {} : { openIncidentId: open.id }),
      ...(waiting === undefined ? {} : { openIncidentWaiting: waiting }),
    },
    `runbook-${id}`,
  );
  const guards = [scopeGuard, ...plan.guards];
  if (plan.kind === 'rejected') return close('REJECTED', plan.reason, guards, { nextSteps: plan.nextSteps });
  if (command.dryRun) {
    return close('DRY_RUN', `dry run: would have ${plan.detail}. Nothing was changed.`, guards, {
      nextSteps: ['Send the same command with "dryRun": false to carry it out.'],
      ...(plan.kind === 'workflow' ? { wouldHave: plan.action } : {}),
    });
  }
  if (plan.kind === 'snapshot') return takeSnapshot(command, deps, id, now, plan, guards, close, duplicate);

  // Through the remediation workflow, as automatic remediation: recorded first, then started.
  const action = plan.action;
  const reason = `${plan.detail}.`;
  const decision: Decision = { verdict: 'REMEDIATE', reason, remediation: action, guards, nextSteps: [] };
  const incident = newIncident(id, command, now, 'REMEDIATING', decision);
  if (!(await deps.ledger.createIncident(incident))) return duplicate();
  if (open && waiting !== undefined) await tellWaitingIncident(deps, open, waiting, command, id, now);
  // Start first, answer after: a slow notification must never leave a recorded command without its workflow.
  try {
    await deps.starter.start(initialRemediationState(incident, action));
  } catch (e) {
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    const why = `The remediation workflow could not be started (${message}); no action was taken.`;
    incident.status = 'ESCALATED';
    incident.closedMs = now;
    incident.outcomeReason = why;
    incident.nextSteps = escalateCommands(name);
    addEvent(incident, now, 'ESCALATED', why);
    await saveOwnedIncident(deps.ledger, incident);
    deps.log.error('remediation workflow not started for a runbook command', { incidentId: id, error: message });
    await tell(
      deps,
      incident,
      'ESCALATED',
      now,
      `${name}: runbook ${command.command} not carried out`,
      why,
      incident.nextSteps,
    );
    return { ...base, status: 'REJECTED', incidentId: id, reason: why, action };
  }
  await answer(deps, incident, command, 'STARTED', reason, now, []);
  deps.log.info('runbook command started', {
    incidentId: id,
    applicationName: name,
    command: command.command,
    requestedBy: command.requestedBy,
    action: action.kind,
  });
  return { ...base, status: 'STARTED', incidentId: id, reason, action };
}

/** Why incident `incident` cannot take an answer now, or undefined when its approval request is PENDING. */
function notAwaitingApproval(incident: Incident, nowMs: number): string | undefined {
  const approval = incident.approval;
  const id = incident.id;
  if (!approval)
    return `incident ${id} (${incident.status}) has no approval request: its application is not in approve mode, or nothing was decided yet.`;
  if (approval.state !== 'PENDING') {
    const by = approval.answer ? ` by ${approval.answer.by} via ${approval.answer.via}` : '';
    return `the approval request of incident ${id} is already ${approval.state}${by}: nothing to answer.`;
  }
  if (TERMINAL_STATUSES.has(incident.status)) return `incident ${id} is already ${incident.status}: nothing to answer.`;
  if (nowMs > approval.timeoutMs) {
    return `the approval request of incident ${id} timed out at ${new Date(approval.timeoutMs).toISOString()}: nothing to answer.`;
  }
  if (!approval.taskToken) {
    return `the remediation workflow of incident ${id} is not waiting for an answer yet: try again in a moment.`;
  }
  return undefined;
}

/** What an approval answer does, in words: "roll orders back to version 3" style detail from the approved action. */
function approvalAction(incident: Incident): string {
  const action = incident.approval?.action;
  if (!action) return 'the remediation';
  return action.kind === 'ROLLBACK'
    ? `RollbackApplication of ${incident.applicationName} (version ${action.expectVersionId} to ${action.toVersionId})`
    : `${action.kind} of ${incident.applicationName} (version ${action.expectVersionId})`;
}

/**
 * approve / reject: answers the approval request of incident `command.incidentId` ({@link answerApproval}): authorised
 * like every command (command topic, requestedBy), then the incident is read from the ledger; `application`, when
 * given, must be the incident's. A dry run (the default) says whether the answer would be taken. Otherwise the answer
 * (`by` = requestedBy, `via` = the command's `via`, else `cli`) is recorded on the incident and sent to the waiting
 * workflow, which tells people (APPROVAL_ANSWERED) and, when approved, checks every guard again before acting. No MSF
 * call and no lock here. A refusal or a dry run is told (NOTIFIED) on the incident; an unknown incident is only
 * logged (there is nothing to tell it on). A redelivery of an answer already taken is a DUPLICATE.
 */
async function runApprovalCommand(
  command: ApprovalCommand,
  deps: RunbookDeps,
  ctx: RunbookContext,
): Promise<RunbookResult> {
  const id = command.incidentId;
  const base = {
    command: command.command,
    incidentId: id,
    ...(command.application === undefined ? {} : { applicationName: command.application }),
  };
  const denied = authorise(command, ctx);
  if (denied) {
    deps.log.error('runbook command rejected', { incidentId: id, command: command.command, reason: denied });
    return { ...base, status: 'REJECTED', reason: denied };
  }
  const incident = await deps.ledger.getIncident(id);
  if (!incident) {
    const reason = `incident ${id} is not in the ledger: nothing to ${command.command} (flink-watchdog history lists the incidents).`;
    deps.log.error('runbook command rejected', { incidentId: id, command: command.command, reason });
    return { ...base, status: 'REJECTED', reason };
  }
  const result = { ...base, applicationName: incident.applicationName };
  const now = deps.clock.now();
  const refuse = async (reason: string, nextSteps: string[] = []): Promise<RunbookResult> => {
    deps.log.warn('runbook command rejected', {
      incidentId: id,
      command: command.command,
      requestedBy: command.requestedBy,
      reason,
    });
    await answer(deps, incident, command, 'REJECTED', reason, now, nextSteps);
    return { ...result, status: 'REJECTED', reason };
  };
  if (command.application !== undefined && command.application !== incident.applicationName) {
    return refuse(
      `incident ${id} is about ${incident.applicationName}, not ${command.application}: nothing was answered.`,
    );
  }
  const tokens = deps.tokens;
  if (!tokens) {
    return refuse(
      `not supported: this deployment cannot answer approval requests (no access to the remediation workflow's task tokens).`,
    );
  }
  const decision = command.command === 'approve' ? 'APPROVED' : 'REJECTED';
  const via = command.via ?? 'cli';
  const verb = command.command === 'approve' ? 'approved' : 'rejected';
  if (command.dryRun) {
    const why = notAwaitingApproval(incident, now);
    if (why) return refuse(why);
    const reason = `dry run: would have ${verb} ${approvalAction(incident)} for incident ${id}. Nothing was changed.`;
    await answer(deps, incident, command, 'DRY_RUN', reason, now, [
      'Send the same command with "dryRun": false to carry it out.',
    ]);
    return { ...result, status: 'DRY_RUN', reason };
  }
  let answered: AnswerResult;
  try {
    answered = await answerApproval(
      id,
      {
        decision,
        by: command.requestedBy,
        via,
        ...(command.reason === undefined ? {} : { reason: command.reason }),
        // The SNS MessageId: CloudTrail's sns:Publish of the command names who published it (`by` is the body's).
        messageId: ctx.messageId,
      },
      { ledger: deps.ledger, tokens, clock: deps.clock, log: deps.log },
    );
  } catch (e) {
    return refuse(`the answer could not be taken: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
  if (!answered.accepted) {
    const approval = (answered.incident ?? incident).approval;
    const taken = approval?.state === decision ? approval.answer : undefined;
    if (taken && taken.decision === decision && taken.by === command.requestedBy && taken.via === via) {
      // The same answer, already taken: an SNS redelivery of this message (or the same person twice).
      return {
        ...result,
        status: 'DUPLICATE',
        reason: `incident ${id} was already ${verb} by ${command.requestedBy} via ${via}: nothing done again.`,
      };
    }
    return refuse(answered.message);
  }
  deps.log.info(`approval ${verb}`, {
    incidentId: id,
    applicationName: incident.applicationName,
    requestedBy: command.requestedBy,
    via,
  });
  return { ...result, status: 'DONE', reason: answered.message };
}

type Close = (
  status: 'REJECTED' | 'DRY_RUN' | 'DONE',
  reason: string,
  guards: GuardResult[],
  options?: { nextSteps?: string[]; wouldHave?: RemediationAction },
) => Promise<RunbookResult>;

/** pause-automation / resume-automation: flips the switch (or reports, on a dry run). */
async function switchAutomation(
  command: ApplicationCommand,
  deps: RunbookDeps,
  scopeGuard: GuardResult,
  close: Close,
): Promise<RunbookResult> {
  const name = command.application;
  const automation = deps.automation;
  if (!automation) return close('REJECTED', 'not supported yet: no automation switch', [scopeGuard]); // checked earlier
  const pause = command.command === 'pause-automation';
  let existing: AutomationPause | undefined;
  try {
    existing = await automation.automationPause(name);
  } catch (e) {
    return close('REJECTED', `cannot read whether automation of ${name} is paused: ${(e as Error).message}`, [
      scopeGuard,
    ]);
  }
  const paused = existing !== undefined;
  const current = existing ? `paused (by ${existing.pausedBy}: ${existing.reason})` : 'active';
  if (command.dryRun) {
    return close(
      'DRY_RUN',
      `dry run: would have ${pause ? 'paused' : 'resumed'} automatic remediation of ${name} (now ${current}). Nothing was changed.`,
      [scopeGuard],
      { nextSteps: ['Send the same command with "dryRun": false to carry it out.'] },
    );
  }
  if (pause === paused) {
    return close('DONE', `automatic remediation of ${name} was already ${current}: nothing to change.`, [scopeGuard]);
  }
  // The switch holds no MSF state: flipping it first and recording after cannot leave the application half-changed.
  try {
    if (pause) await automation.pauseAutomation(name, command.requestedBy, command.reason, deps.clock.now());
    else await automation.resumeAutomation(name);
  } catch (e) {
    return close('REJECTED', `could not ${pause ? 'pause' : 'resume'} automation of ${name}: ${(e as Error).message}`, [
      scopeGuard,
    ]);
  }
  return close(
    'DONE',
    pause
      ? `automatic remediation of ${name} is paused: the watchdog reports but does not act until resume-automation. Runbook commands still work.`
      : `automatic remediation of ${name} is resumed.`,
    [scopeGuard],
  );
}

/** snapshot: CreateApplicationSnapshot under the application's lock, recorded before and after the call. */
async function takeSnapshot(
  command: ApplicationCommand,
  deps: RunbookDeps,
  id: string,
  now: number,
  plan: Extract<RunbookPlan, { kind: 'snapshot' }>,
  guards: GuardResult[],
  close: Close,
  duplicate: () => RunbookResult,
): Promise<RunbookResult> {
  const name = command.application;
  const creator = deps.snapshots;
  if (!creator) return close('REJECTED', 'not supported yet: CreateApplicationSnapshot', guards); // checked earlier
  const reason = `${plan.detail}.`;
  const decision: Decision = { verdict: 'NONE', reason, guards, nextSteps: [] };
  // Recorded closed from the start: a crash after this line must never leave an open incident that blocks detection.
  const incident = newIncident(id, command, now, 'NOTIFIED', decision);
  incident.closedMs = now;
  const record: ActionRecord = {
    seq: 1,
    call: 'CreateApplicationSnapshot',
    input: { SnapshotName: plan.snapshotName },
    recordedMs: now,
    state: 'RECORDED',
  };
  incident.actions.push(record);
  if (!(await deps.ledger.createIncident(incident))) return duplicate();
  const lock = await deps.ledger.acquireLock(name, id, now, ONE_SHOT_LOCK_TTL_MS);
  const finish = async (status: 'DONE' | 'REJECTED', why: string): Promise<RunbookResult> => {
    incident.status = status === 'DONE' ? 'RESOLVED' : 'NOTIFIED';
    incident.outcomeReason = why;
    addEvent(incident, deps.clock.now(), status === 'DONE' ? 'RESOLVED' : 'NOTIFIED', why);
    await saveOwnedIncident(deps.ledger, incident);
    await deps.ledger.releaseLock(name, id);
    await answer(
      deps,
      incident,
      command,
      status,
      why,
      now,
      status === 'DONE' ? [] : [cli(name, 'list-application-snapshots')],
    );
    return { applicationName: name, command: command.command, status, incidentId: id, reason: why };
  };
  if (!lock.acquired) {
    record.state = 'FAILED';
    record.error = `lock held by incident ${lock.holder}`;
    return finish('REJECTED', `incident ${lock.holder} is already acting on ${name}: not taking a snapshot now.`);
  }
  try {
    await creator.createApplicationSnapshot(name, plan.snapshotName);
  } catch (e) {
    record.state = 'FAILED';
    record.completedMs = deps.clock.now();
    record.error = e instanceof Error ? e.message : String(e);
    return finish('REJECTED', `CreateApplicationSnapshot ${plan.snapshotName} failed: ${record.error}`);
  }
  record.state = 'SUCCEEDED';
  record.completedMs = deps.clock.now();
  addEvent(
    incident,
    record.completedMs,
    'ACTION',
    `CreateApplicationSnapshot ${JSON.stringify(record.input)} accepted`,
  );
  return finish(
    'DONE',
    `snapshot ${plan.snapshotName} of ${name} is being created (SnapshotStatus CREATING until READY).`,
  );
}

/** Tells people the answer to a command (on `incident`: the command's own, or the one an approval answer is for). */
async function answer(
  deps: Pick<RunbookDeps, 'notifier' | 'log'>,
  incident: Incident,
  command: RunbookCommand,
  status: 'REJECTED' | 'DRY_RUN' | 'DONE' | 'STARTED',
  text: string,
  atMs: number,
  nextSteps: string[],
): Promise<void> {
  const name = incident.applicationName;
  const head = `${name}: runbook ${command.command} by ${command.requestedBy}`;
  const event: NotificationEvent = status === 'STARTED' ? 'OPENED' : status === 'DONE' ? 'ACTION_TAKEN' : 'NOTIFIED';
  // An approval answer refused is "refused": "reject ...: rejected" would read as the answer itself.
  const refused = isApprovalCommand(command);
  const title =
    status === 'REJECTED'
      ? `${head}: ${refused ? 'refused' : 'rejected'}`
      : status === 'DRY_RUN'
        ? `${head}: dry run`
        : status === 'STARTED'
          ? `${head}: started`
          : `${head}: done`;
  const label =
    status === 'REJECTED' ? (refused ? 'Refused' : 'Rejected') : status === 'DRY_RUN' ? 'Would have' : 'Action';
  const body = status === 'DRY_RUN' ? text.replace(/^dry run: would have /, '') : text;
  await tell(deps, incident, event, atMs, title, `${describeCommand(command)}\n${label}: ${body}`, nextSteps);
}
