import type { Clock } from '#shared/clock.ts';
import type { PolicySettings, WatchdogConfig } from '#shared/config/schema.ts';
import { configuredLogGroupName, detectionSettings, policyFor } from '#shared/config/schema.ts';
import { type Ledger, saveOwnedIncident } from '#shared/ports/ledger.ts';
import type { Log } from '#shared/ports/log.ts';
import type { LogsPort } from '#shared/ports/logs.ts';
import type { MetricsPort } from '#shared/ports/metrics.ts';
import type { MsfPort } from '#shared/ports/msf.ts';
import type { Notifier } from '#shared/ports/notifier.ts';
import type { RemediationStarter } from '#shared/ports/remediation-starter.ts';
import type { WatchStarter } from '#shared/ports/watch-starter.ts';
import type { WatchdogMetrics } from '#shared/ports/watchdog-metrics.ts';
import { holdWhilePaused } from './automation.ts';
import { checkFleet, releaseRemediationSlot, type SlotOutcome, takeRemediationSlot } from './blast-radius.ts';
import type { Decision } from './decision.ts';
import { describeRemediation } from './decision.ts';
import { countRestarts, evaluate } from './detect.ts';
import type { Finding } from './findings.ts';
import type { Incident, IncidentTrigger } from './incident.ts';
import { addEvent, incidentId } from './incident.ts';
import { lastRecovery, type RecordedRecovery, recordLockDeferral, recordSlotDeferral } from './incident-history.ts';
import type { ApplicationObservation, MetricSeries } from './model.ts';
import { observe } from './observe.ts';
import type { Scope } from './policy.ts';
import { decide } from './policy.ts';
import { escalateCommands, initialRemediationState, tell } from './remediation.ts';
import { recordRootCause } from './root-cause.ts';
import { resolveScope } from './scope.ts';
import {
  advanceWatch,
  deferredWatches,
  nextDataCheckMs,
  plannedWatches,
  secondsUntil,
  type WatchInput,
  type WatchStart,
  type WatchState,
  type WatchStep,
} from './watch.ts';

const MINUTE_MS = 60_000;

/** Something that makes the detector look at an application. */
export type Signal =
  /** A watchdog alarm went to ALARM (from a "CloudWatch Alarm State Change" event). */
  | { source: 'alarm'; applicationName: string; alarmName: string; stateValue: string; stateTimestamp: string }
  /** The periodic sweep: look at one application. */
  | { source: 'schedule'; applicationName: string; rule: string }
  /** Someone changed the application (an MSF "AWS API Call via CloudTrail" event): look at it now. */
  | { source: 'cloudtrail'; applicationName: string; eventName: string }
  /** One check of a running watch (shared/domain/watch.ts): look again, then say whether the watch goes on. */
  | { source: 'watch'; applicationName: string; watch: WatchState };

/** What the detector did with one signal. */
export interface DetectionResult {
  applicationName: string;
  /**
   * IGNORED: not an ALARM transition; DEFERRED: a guard blocks acting now (cooldown, operation in progress, every
   * remediation slot in use, an automatic restart held by a fleet incident or, once, as a suspected correlated
   * failure: see shared/domain/blast-radius.ts); DUPLICATE: already handled by an open incident or the same event.
   */
  result:
    | 'IGNORED'
    | 'HEALTHY'
    | 'DEFERRED'
    | 'DUPLICATE'
    | 'OUT_OF_SCOPE'
    | 'NOTIFIED'
    | 'ESCALATED'
    | 'OBSERVED'
    | 'REMEDIATING';
  incidentId?: string;
  /** The fleet incident (correlated restart loops) that holds this application's automatic restart, when one does. */
  fleetIncidentId?: string;
  decision?: Decision;
  reason: string;
  /** For a HEALTHY watch check: the watch's next step (go on, or its outcome). */
  watch?: WatchStep;
  /**
   * Names of the watches this signal started: a healthy observation that calls for a closer look, or a restart loop
   * or checkpoint stall DEFERRED by a guard (looked at again within a minute).
   */
  watchesStarted?: string[];
}

export interface DetectorDeps {
  msf: MsfPort;
  metrics: MetricsPort;
  ledger: Ledger;
  notifier: Notifier;
  starter: RemediationStarter;
  config: WatchdogConfig;
  clock: Clock;
  log: Log;
  /** The watchdog's own metrics (IncidentOpened). Default: none. */
  telemetry?: WatchdogMetrics;
  /** Starts watches (the watch workflow). Default: none, detection then relies on alarms and the sweep alone. */
  watches?: WatchStarter;
  /**
   * CloudWatch Logs, read for a restart loop's root cause (shared/domain/root-cause.ts). Default: none, the incident's
   * rootCauseNote then says so.
   */
  logs?: LogsPort;
  /**
   * CloudWatch Logs by application key (each account's, a member account's through its member role); when set, used
   * instead of `logs`. Default: `logs` for every application.
   */
  logsFor?: (applicationKey: string) => LogsPort | undefined;
}

/**
 * A stable identity for the situation a finding describes, so repeated signals (duplicate alarm events, the next
 * sweep) land on the same incident: the failed operation, or the job submission that loops.
 *
 * A restart loop after a recorded recovery is a new situation, whatever ListApplicationOperations shows (a force-stop
 * and start keeps the version, and the list may not show the new submission yet): when the restart counter rose after
 * `recovery` (the application's latest RESOLVED incident), the identity names that recovery, so it can never collide
 * with the resolved incident's, while every signal about the same loop still maps to one id. Restarts seen only
 * before the recovery (the resolved loop, still inside the window) keep the old identity.
 */
export function findingFingerprint(finding: Finding, obs: ApplicationObservation, recovery?: RecordedRecovery): string {
  const app = obs.application;
  const submission = obs.operations.find(
    (o) => o.status === 'SUCCESSFUL' && /Start|Update|Rollback/i.test(o.operation) && o.versionTo !== undefined,
  );
  switch (finding.kind) {
    case 'DEPLOY_FAILED':
      return `DEPLOY_FAILED:${finding.operation.operationId}`;
    case 'ROLLED_BACK':
      return `ROLLED_BACK:${finding.fromVersionId}->${finding.toVersionId}:${finding.atMs ?? ''}`;
    case 'STUCK_TRANSITION':
      return `STUCK:${finding.status}:${finding.operation?.operationId ?? finding.sinceMs}`;
    case 'RESTART_LOOP': {
      const loop = `RESTART_LOOP:v${app?.versionId}:${submission?.operationId ?? app?.lastUpdateMs ?? ''}`;
      return recovery && restartedSince(obs.restarts, recovery.atMs) ? `${loop}:after:${recovery.incidentId}` : loop;
    }
    case 'CHECKPOINT_STALL':
      return `CHECKPOINT_STALL:v${app?.versionId}:${submission?.operationId ?? app?.lastUpdateMs ?? ''}`;
    case 'UNEXPECTED_STATUS':
      return `UNEXPECTED_STATUS:${finding.actual}:v${app?.versionId}:${app?.lastUpdateMs ?? ''}`;
    case 'OBSERVATION_FAILED':
      return `OBSERVATION_FAILED:${finding.source}:${Math.floor(obs.atMs / (15 * MINUTE_MS))}`;
  }
}

/** Whether the cumulative restart counter rose in a period ending after `sinceMs` (a reset to a new job counts). */
function restartedSince(series: MetricSeries | undefined, sinceMs: number): boolean {
  if (!series) return false;
  const periodMs = series.periodSeconds * 1000;
  const baseline = series.points.filter((p) => p.timestampMs + periodMs <= sinceMs).at(-1)?.value;
  const after = series.points.filter((p) => p.timestampMs + periodMs > sinceMs);
  return countRestarts({ ...series, points: after }, baseline).restarts > 0;
}

function newIncident(
  id: string,
  applicationName: string,
  trigger: IncidentTrigger,
  decision: Decision,
  nowMs: number,
): Incident {
  return {
    schemaVersion: 1,
    id,
    applicationName,
    trigger,
    openedMs: nowMs,
    status:
      decision.verdict === 'REMEDIATE'
        ? 'REMEDIATING'
        : decision.verdict === 'ESCALATE'
          ? 'ESCALATED'
          : decision.verdict === 'NOTIFY'
            ? 'NOTIFIED'
            : 'OBSERVED',
    ...(decision.finding ? { finding: decision.finding } : {}),
    decision,
    ...(decision.remediation ? { remediation: decision.remediation } : {}),
    attempts: decision.verdict === 'REMEDIATE' ? 1 : 0,
    actions: [],
    events: [],
  };
}

/**
 * Handles one signal: scope → observe → evaluate → decide → correlated failures (record the sighting; open, join or
 * resolve the fleet incident; hold automatic restarts it covers) → take a remediation slot (REMEDIATE only) → record
 * the incident → start the remediation workflow, or only notify. Never makes a mutating MSF call itself. Read failures become OBSERVATION_FAILED findings.
 *
 * While automation of the application is paused (ledger `automationPause`, runbook `pause-automation`), a REMEDIATE
 * decision is held back as in observe mode: an OBSERVED incident says "automation paused by X: reason — would have …"
 * and nothing is started. Its id is that of the situation plus the pause, so once automation is resumed the same
 * situation is remediated; while paused it is recorded and told once.
 */
export async function detect(signal: Signal, deps: DetectorDeps): Promise<DetectionResult> {
  const now = deps.clock.now();
  const name = signal.applicationName;
  const log = deps.log;
  if (signal.source === 'alarm' && signal.stateValue !== 'ALARM') {
    return {
      applicationName: name,
      result: 'IGNORED',
      reason: `alarm ${signal.alarmName} went to ${signal.stateValue}, not ALARM`,
    };
  }
  const trigger = triggerOf(signal, now);

  let scope: Scope;
  try {
    scope = await resolveScope(name, deps);
  } catch (e) {
    const reason = `cannot resolve scope of ${name}: ${(e as Error).message}`;
    log.error('scope check failed; not acting', { applicationName: name, error: (e as Error).message });
    return { applicationName: name, result: 'OUT_OF_SCOPE', reason };
  }
  if (!scope.inScope) {
    // Out of scope: record what was seen (from the signal alone), never touch the application.
    const decision: Decision = {
      verdict: 'NONE',
      reason: `${name} is not watched (${scope.reason}): observed only, never touched.`,
      guards: [{ name: 'in-scope', passed: false, detail: scope.reason }],
      nextSteps: [],
    };
    // One record per application and hour, however many of its alarms fire.
    const id = incidentId(name, `OUT_OF_SCOPE:${Math.floor(now / (60 * MINUTE_MS))}`);
    const incident = addEvent(newIncident(id, name, trigger, decision, now), now, 'OBSERVED', decision.reason);
    incident.closedMs = now;
    if (signal.source === 'alarm' && (await deps.ledger.createIncident(incident))) {
      await tell(deps, incident, 'OBSERVED', now, `${name}: observed (not watched)`, decision.reason);
    }
    log.info('application not in scope: observed only', { applicationName: name, scope: scope.reason });
    return { applicationName: name, result: 'OUT_OF_SCOPE', incidentId: id, decision, reason: decision.reason };
  }

  const open = await deps.ledger.openIncident(name);
  if (open) {
    // approve mode: an incident whose workflow recorded its task token, or whose request was answered, has a running
    // workflow (waiting for people up to approvalTimeoutMinutes, or past the wait): no action yet is expected there.
    const asked = open.approval && (open.approval.state !== 'PENDING' || open.approval.taskToken !== undefined);
    if (open.status === 'REMEDIATING' && open.remediation && open.actions.length === 0 && !asked) {
      // Recorded but maybe never started (the invocation that recorded it died before StartExecution): start it.
      // Harmless if it runs: the execution name is the incident id, so Step Functions starts nothing twice.
      await deps.starter.start(
        initialRemediationState(open, open.remediation, { approval: open.approval !== undefined }),
      );
    }
    return {
      applicationName: name,
      result: 'DUPLICATE',
      incidentId: open.id,
      reason: `incident ${open.id} is already ${open.status}`,
    };
  }

  const pause = await deps.ledger.automationPause(name);
  const policy = policyFor(deps.config, name);
  const obs = await observe(name, deps, now, policy.restartLoop.windowMinutes, policy.checkpointStall);
  const findings = evaluate(obs, policy, now);
  const attempts = await deps.ledger.attemptsSince(name, now - policy.attemptWindowMinutes * MINUTE_MS);
  const lockedBy = await deps.ledger.lockHolder(name, now);
  const decided = decide({
    observation: obs,
    findings,
    policy,
    history: {
      attemptsInWindow: attempts.count,
      ...(attempts.lastMs === undefined ? {} : { lastAttemptMs: attempts.lastMs }),
      ...(lockedBy === undefined ? {} : { lockedBy }),
    },
    scope,
    nowMs: now,
  });
  const decision = holdWhilePaused(decided, pause);
  const paused = pause !== undefined && decision !== decided;
  // Correlated failures: the sighting is recorded (and a fleet incident opened, joined or resolved) before acting.
  const fleet = await checkFleet(
    { applicationName: name, observation: obs, findings, decision, policy, trigger, nowMs: now },
    deps,
  );
  const finding = decision.finding;
  if (!finding) {
    log.info('no finding', { applicationName: name, signal: signal.source });
    const followUp = await followUpHealthy(signal, obs, policy, deps, now);
    return { applicationName: name, result: 'HEALTHY', decision, reason: decision.reason, ...followUp };
  }
  if (finding.kind === 'UNEXPECTED_STATUS' && policy.onDrift.status === 'reconcile') {
    // Status drift with no failed operation is the reconciler's (onDrift.status: reconcile): it compares with every
    // desired-state source (Terraform, tags, config), starts the application through the remediation workflow and
    // tells people. A second incident here would page twice for one situation.
    const reason = `${finding.summary} Left to the reconciler (onDrift.status: reconcile), which starts it from the latest snapshot and reports it.`;
    log.info('status drift left to the reconciler', { applicationName: name });
    return { applicationName: name, result: 'DEFERRED', decision, reason };
  }
  const recovery = finding.kind === 'RESTART_LOOP' ? await lastRecovery(deps.ledger, name) : undefined;
  const fingerprint = findingFingerprint(finding, obs, recovery);
  const id = incidentId(name, paused ? `${fingerprint}:paused:${pause.atMs}` : fingerprint);
  if (fleet.kind === 'HOLD') {
    // Held by a fleet incident, or once as a suspected correlated failure: no incident, no page; the watch looks again
    // within a minute (a watch check that is itself held goes on, see checkWatch).
    const followUp = await followDeferred(signal, finding, obs, policy, deps, now);
    log.info('automatic restart held: correlated failure', { applicationName: name, reason: fleet.reason });
    return {
      applicationName: name,
      result: 'DEFERRED',
      ...(fleet.fleetIncidentId ? { fleetIncidentId: fleet.fleetIncidentId } : {}),
      decision,
      reason: fleet.reason,
      ...followUp,
    };
  }
  const incident = newIncident(id, name, trigger, decision, now);
  addEvent(incident, now, 'OPENED', finding.summary);
  addEvent(incident, now, 'DECISION', `${decision.verdict}: ${decision.reason}`);
  const observeMode = decision.guards.some((g) => g.name === 'mode-remediate' && !g.passed);
  if (decision.verdict === 'NONE' && !observeMode && !paused) {
    // Blocked for now (cooldown, another operation in progress, lock held): the next signal retries. A restart loop or
    // checkpoint stall is followed by its watch, which looks again within a minute (a check of a watch that is itself
    // deferred goes on, see checkWatch, so a watch signal starts nothing).
    const followUp = await followDeferred(signal, finding, obs, policy, deps, now);
    if (lockedBy !== undefined) {
      // Behind a lock: recorded (one record per blocking incident) and, once it lasts cooldownMinutes, told once.
      const deferral = await recordLockDeferral(
        {
          applicationName: name,
          lockHolder: lockedBy,
          trigger,
          finding,
          decision,
          cooldownMinutes: policy.cooldownMinutes,
          nowMs: now,
        },
        deps,
      );
      return {
        applicationName: name,
        result: 'DEFERRED',
        incidentId: deferral.incidentId,
        decision,
        reason: decision.reason,
        ...followUp,
      };
    }
    log.info('remediation deferred', { applicationName: name, reason: decision.reason });
    return { applicationName: name, result: 'DEFERRED', decision, reason: decision.reason, ...followUp };
  }
  if (decision.verdict === 'ESCALATE' && decision.guards.some((g) => g.name === 'attempts-left' && !g.passed)) {
    // Attempts exhausted: if this application was already escalated within the attempt window, do not page again.
    const since = now - policy.attemptWindowMinutes * MINUTE_MS;
    const earlier = (await deps.ledger.listIncidents({ applicationName: name })).find(
      (i) => i.status === 'ESCALATED' && (i.closedMs ?? i.openedMs) >= since,
    );
    if (earlier) {
      return {
        applicationName: name,
        result: 'DUPLICATE',
        incidentId: earlier.id,
        decision,
        reason: `already escalated as ${earlier.id}`,
      };
    }
  }
  if (decision.verdict !== 'REMEDIATE') incident.closedMs = now;
  if (finding.kind === 'RESTART_LOOP') {
    // The first failure's exception, before the incident is first saved and told (every page carries it).
    const logStreamArns = obs.application?.logStreamArns;
    const logs = deps.logsFor ? deps.logsFor(name) : deps.logs;
    await recordRootCause(
      incident,
      {
        applicationKey: name,
        logGroupName: configuredLogGroupName(deps.config, name),
        ...(logStreamArns ? { logStreamArns } : {}),
        onsetMs: finding.onsetMs,
      },
      { clock: deps.clock, log: deps.log, ...(logs ? { logs } : {}) },
    );
  }
  let slot: SlotOutcome | undefined;
  // approve mode: people are asked first; the fleet's remediation slot is taken after their approval (by the
  // workflow's ApprovalAnswered step), so no slot is held while people decide.
  const approval = decision.verdict === 'REMEDIATE' ? decision.approval : undefined;
  if (approval && decision.remediation) {
    incident.approval = {
      action: decision.remediation,
      requestedMs: now,
      timeoutMs: now + approval.timeoutMinutes * MINUTE_MS,
      onTimeout: approval.onTimeout,
      state: 'PENDING',
    };
  }
  if (decision.verdict === 'REMEDIATE' && !approval) {
    // Blast radius: a remediation slot is taken before the incident is recorded and its workflow started.
    slot = await takeRemediationSlot(deps, id, name, now);
    if (!slot.taken) {
      const reason = `${slot.reason}; waiting for a remediation slot.`;
      const followUp = await followDeferred(signal, finding, obs, policy, deps, now);
      const record = await recordSlotDeferral(
        { applicationName: name, fingerprint, trigger, finding, decision, reason, nowMs: now },
        deps,
      );
      log.info('remediation deferred: no remediation slot', { applicationName: name, reason });
      return { applicationName: name, result: 'DEFERRED', incidentId: record, decision, reason, ...followUp };
    }
  }
  let created: boolean;
  try {
    created = await deps.ledger.createIncident(incident);
  } catch (e) {
    // Nothing recorded, nothing started: a slot taken for it would only block the fleet until it expires.
    if (slot?.taken && !slot.reentered) await releaseRemediationSlot(deps, id);
    throw e;
  }
  if (!created) {
    // A repeated delivery of a decision already recorded: its slot (same incident id) stays with it.
    if (slot?.taken && !slot.reentered) await releaseRemediationSlot(deps, id);
    return {
      applicationName: name,
      result: 'DUPLICATE',
      incidentId: id,
      decision,
      reason: `incident ${id} already recorded for this situation`,
    };
  }
  deps.telemetry?.count('IncidentOpened', name);
  log.info('incident opened', {
    incidentId: id,
    applicationName: name,
    finding: finding.kind,
    verdict: decision.verdict,
  });

  switch (decision.verdict) {
    case 'REMEDIATE': {
      const remediation = decision.remediation;
      if (!remediation) throw new Error('REMEDIATE decision without a remediation (bug)');
      // Start first, tell after: a slow notification must never leave a recorded incident without its workflow.
      try {
        await deps.starter.start(initialRemediationState(incident, remediation, { approval: approval !== undefined }));
      } catch (e) {
        // Nothing was done to the application. Close the incident (an open one would block every later incident of
        // this application) and tell people: the situation is real and no automation is handling it.
        const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
        await releaseRemediationSlot(deps, id);
        const reason = `The remediation workflow could not be started (${message}); no action was taken. ${finding.summary}`;
        incident.status = 'ESCALATED';
        incident.closedMs = now;
        incident.outcomeReason = reason;
        incident.nextSteps = escalateCommands(name);
        addEvent(incident, now, 'ESCALATED', reason);
        await saveOwnedIncident(deps.ledger, incident);
        log.error('remediation workflow not started', { incidentId: id, error: message });
        await tell(
          deps,
          incident,
          'ESCALATED',
          now,
          `${name}: escalated — ${finding.kind}`,
          reason,
          incident.nextSteps,
        );
        return { applicationName: name, result: 'ESCALATED', incidentId: id, decision, reason };
      }
      await tell(
        deps,
        incident,
        'OPENED',
        now,
        `${name}: ${finding.kind} → ${approval ? 'approval needed: ' : ''}${describeRemediation(remediation)}`,
        `${finding.summary}\nDecision: ${decision.reason}${
          approval
            ? `\nApprove mode: nothing is done until someone approves (within ${approval.timeoutMinutes} min; unanswered: ${approval.onTimeout === 'proceed' ? 'act anyway, every guard checked again' : 'ESCALATED, no MSF call'}).`
            : ''
        }`,
      );
      return { applicationName: name, result: 'REMEDIATING', incidentId: id, decision, reason: decision.reason };
    }
    case 'ESCALATE':
      await tell(
        deps,
        incident,
        'ESCALATED',
        now,
        `${name}: escalated — ${finding.kind}`,
        decision.reason,
        decision.nextSteps,
      );
      return { applicationName: name, result: 'ESCALATED', incidentId: id, decision, reason: decision.reason };
    case 'NOTIFY':
      await tell(deps, incident, 'NOTIFIED', now, `${name}: ${finding.kind}`, decision.reason, decision.nextSteps);
      return { applicationName: name, result: 'NOTIFIED', incidentId: id, decision, reason: decision.reason };
    case 'NONE':
      await tell(
        deps,
        incident,
        'OBSERVED',
        now,
        `${name}: ${finding.kind} (${paused ? 'automation paused' : `${policy.mode} mode`})`,
        decision.reason,
        decision.nextSteps,
      );
      return { applicationName: name, result: 'OBSERVED', incidentId: id, decision, reason: decision.reason };
  }
}

/** The incident trigger of a signal; a watch check names the signal that started the watch, and the watch. */
function triggerOf(signal: Signal, now: number): IncidentTrigger {
  if (signal.source !== 'watch') return { ...originOf(signal), atMs: now };
  const w = signal.watch;
  return {
    source: w.trigger.source,
    detail: `${w.trigger.detail} (${w.kind} watch ${w.name}, check ${w.checks + 1})`,
    atMs: now,
  };
}

/**
 * After a healthy observation: a watch check learns whether its watch goes on; any other signal starts the watches
 * the observation calls for (a restart below the threshold, a transient status, a recent change). A watch that
 * cannot be started is logged: the alarms and the sweep still look at the application.
 */
async function followUpHealthy(
  signal: Signal,
  obs: ApplicationObservation,
  policy: PolicySettings,
  deps: DetectorDeps,
  now: number,
): Promise<Pick<DetectionResult, 'watch' | 'watchesStarted'>> {
  const detection = detectionSettings(deps.config);
  if (signal.source === 'watch') {
    const step = advanceWatch(signal.watch, obs, policy, detection, now);
    if (step.done) {
      deps.log.info('watch ended', {
        applicationName: signal.applicationName,
        watch: step.watch.name,
        kind: step.watch.kind,
        outcome: step.outcome,
        summary: step.summary,
      });
    }
    return { watch: step };
  }
  if (!deps.watches) return {};
  return startWatches(plannedWatches(obs, policy, detection, originOf(signal), now), signal.applicationName, deps);
}

/**
 * After a deferred detection (a guard, a lock, no remediation slot, a fleet hold): the watches that look again within
 * a minute. A watch check starts none: its own watch goes on (see {@link checkWatch}).
 */
async function followDeferred(
  signal: Signal,
  finding: Finding,
  obs: ApplicationObservation,
  policy: PolicySettings,
  deps: DetectorDeps,
  now: number,
): Promise<Pick<DetectionResult, 'watchesStarted'>> {
  if (signal.source === 'watch') return {};
  const planned = deferredWatches(finding, obs, policy, detectionSettings(deps.config), originOf(signal), now);
  return startWatches(planned, signal.applicationName, deps);
}

/** What started a watch, from the signal that starts it. */
function originOf(signal: Exclude<Signal, { source: 'watch' }>): WatchState['trigger'] {
  switch (signal.source) {
    case 'alarm':
      return { source: 'alarm', detail: signal.alarmName };
    case 'cloudtrail':
      return { source: 'cloudtrail', detail: signal.eventName };
    case 'schedule':
      return { source: 'schedule', detail: signal.rule };
  }
}

/**
 * Starts the planned watches; one that already runs (same name) is kept, not doubled. A watch that cannot be started
 * is logged: the alarms and the sweep still look at the application.
 */
async function startWatches(
  planned: WatchStart[],
  applicationName: string,
  deps: DetectorDeps,
): Promise<Pick<DetectionResult, 'watchesStarted'>> {
  if (!deps.watches) return {};
  const started: string[] = [];
  for (const p of planned) {
    try {
      if (await deps.watches.start(p.input)) {
        started.push(p.input.watch.name);
        deps.log.info('watch started', {
          applicationName,
          watch: p.input.watch.name,
          kind: p.input.watch.kind,
          firstCheckInSeconds: p.input.waitSeconds,
          summary: p.summary,
        });
      }
    } catch (e) {
      deps.log.warn('watch not started; alarms and the sweep still look at the application', {
        applicationName,
        watch: p.input.watch.name,
        error: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
      });
    }
  }
  return started.length > 0 ? { watchesStarted: started } : {};
}

/** What one check of a watch answers: its next step, and what the detector did. */
export interface WatchCheckResult extends WatchStep {
  result: DetectionResult;
}

/**
 * One check of a watch (the watch workflow's Check Task): runs the detector for the application with a `watch`
 * signal, then says whether the watch goes on. A finding goes the normal way (incident, remediation workflow) and ends
 * the watch as FOUND; an open incident ends it as HANDLED; a decision held back for now (DEFERRED: cooldown, an
 * operation in progress) looks again at the next minute; a healthy check goes on or ends by the watch's own rules
 * ({@link advanceWatch}).
 */
export async function checkWatch(input: WatchInput, deps: DetectorDeps): Promise<WatchCheckResult> {
  const watch = input.watch;
  const result = await detect({ source: 'watch', applicationName: watch.applicationName, watch }, deps);
  const now = deps.clock.now();
  const next = { ...watch, checks: watch.checks + 1 };
  const end = (outcome: WatchCheckResult['outcome'], summary: string): WatchCheckResult => {
    deps.log.info('watch ended', {
      applicationName: watch.applicationName,
      watch: watch.name,
      kind: watch.kind,
      outcome,
      summary,
    });
    return { watch: next, done: true, waitSeconds: 0, ...(outcome ? { outcome } : {}), summary, result };
  };
  switch (result.result) {
    case 'HEALTHY':
      return result.watch
        ? { ...result.watch, result }
        : end('GONE', `no watch step for ${watch.applicationName} (${result.reason})`);
    case 'DEFERRED': {
      if (now >= watch.untilMs) return end('EXPIRED', `still deferred at the watch's end: ${result.reason}`);
      const dueMs = nextDataCheckMs(now, detectionSettings(deps.config).metricsDelaySeconds);
      return { watch: next, done: false, waitSeconds: secondsUntil(now, dueMs), summary: result.reason, result };
    }
    case 'DUPLICATE':
      return end('HANDLED', result.reason);
    case 'OUT_OF_SCOPE':
    case 'IGNORED':
      return end('GONE', result.reason);
    default:
      return end('FOUND', `${result.result}${result.incidentId ? ` [${result.incidentId}]` : ''}: ${result.reason}`);
  }
}
