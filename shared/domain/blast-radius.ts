import type { Clock } from '#shared/clock.ts';
import type { PolicySettings, WatchdogConfig } from '#shared/config/schema.ts';
import { correlatedFailureLimit, fleetSettings } from '#shared/config/schema.ts';
import type { Ledger, RemediationSlot } from '#shared/ports/ledger.ts';
import type { Log } from '#shared/ports/log.ts';
import type { Notification, NotificationEvent, Notifier } from '#shared/ports/notifier.ts';
import { parseApplicationKey } from './app-key.ts';
import type { Decision, RemediationAction } from './decision.ts';
import { runningVersionRestarts } from './detect.ts';
import type { Finding, RestartLoopFinding } from './findings.ts';
import {
  describeShares,
  dropMember,
  expireFleetIncident,
  type FleetIncident,
  type FleetSighting,
  joinFleetIncident,
  newFleetIncident,
  recordHeld,
  recoverMember,
  sharesOf,
  stillFailing,
} from './fleet-incident.ts';
import type { Incident, IncidentTrigger } from './incident.ts';
import type { ApplicationObservation } from './model.ts';

/**
 * Blast radius of automatic remediation across the fleet (issue "The fleet", item 4):
 * - REMEDIATION SLOTS: at most `fleet.maxConcurrentRemediations` automatic remediations run at once. A slot is taken
 *   (ledger semaphore) before the incident is recorded and the workflow started, renewed whenever the workflow renews
 *   the application's lock (every step), and freed when the workflow releases the lock, when an abandoned workflow is
 *   closed, or on its own {@link SLOT_TTL_MS} after its last renewal. Runbook
 *   commands are a person's decision: they take no slot.
 * - CORRELATED FAILURES: every detection records a sighting of an application it sees restarting; more loops within
 *   `fleet.correlatedFailure.windowMinutes` than `correlatedFailureLimit()` open ONE fleet incident, told once, which
 *   holds the automatic restarts (FORCE_STOP_AND_RESTART, START) of its applications until they recover.
 * Times are epoch ms; every step records in the ledger before anything is acted on.
 */

const MINUTE_MS = 60_000;

/**
 * How long a remediation slot lasts when its release is lost (a crashed workflow), ms: the remediation lock's lifetime
 * (remediation.ts LOCK_TTL_MS, 2 h; not imported to keep this module free of the workflow), so a lost release never
 * blocks the fleet for longer than a lost lock blocks one application.
 */
export const SLOT_TTL_MS = 2 * 60 * MINUTE_MS;

/** Remediations a fleet incident holds: the automatic restarts. A ROLLBACK (or a re-applied version) is never held. */
const HELD_KINDS: ReadonlySet<RemediationAction['kind']> = new Set(['FORCE_STOP_AND_RESTART', 'START']);

/** What the blast-radius steps use (a subset of the detector's and the reconciler's dependencies). */
export interface BlastRadiusDeps {
  ledger: Ledger;
  notifier: Notifier;
  config: WatchdogConfig;
  clock: Clock;
  log: Log;
}

/** What {@link takeRemediationSlot} answers. */
export type SlotOutcome =
  /** A slot is held for the incident; `reentered` when it already held it (a repeated delivery of the same decision). */
  | { taken: true; reentered: boolean }
  /** Every slot is in use: `reason` names them ("3 of 3 remediation slots in use: a [id], b [id], c [id]"). */
  | { taken: false; reason: string; holders: RemediationSlot[] };

/** "3 of 3 remediation slots in use: orders [orders-1a2b], ..." */
export function slotsInUseReason(holders: readonly RemediationSlot[], limit: number): string {
  return `${holders.length} of ${limit} remediation slots in use: ${holders.map((h) => `${h.applicationName} [${h.incidentId}]`).join(', ')}`;
}

/**
 * Takes a remediation slot for an AUTOMATIC remediation (the detector's REMEDIATE, the reconciler's START) before its
 * incident is recorded and its workflow started. The slot is freed by the remediation workflow when it releases the
 * application's lock (and by {@link releaseRemediationSlot}); the workflow renews it with its lock at every step
 * ({@link renewRemediationSlot}), and it expires {@link SLOT_TTL_MS} after the last renewal should the release be lost.
 * @throws the ledger's error (e.g. RemediationSlotConflictError under extreme contention); safe to retry.
 */
export async function takeRemediationSlot(
  deps: Pick<BlastRadiusDeps, 'ledger' | 'config'>,
  incidentId: string,
  applicationName: string,
  nowMs: number,
): Promise<SlotOutcome> {
  const limit = fleetSettings(deps.config).maxConcurrentRemediations;
  const out = await deps.ledger.acquireRemediationSlot(
    { incidentId, applicationName, expiresMs: nowMs + SLOT_TTL_MS },
    limit,
    nowMs,
  );
  if (out.acquired) return { taken: true, reentered: out.reentered };
  return { taken: false, reason: slotsInUseReason(out.holders, limit), holders: out.holders };
}

/**
 * Frees the remediation slot of `incidentId`, if it holds one (idempotent). A failure is logged, not thrown: the slot
 * expires on its own after {@link SLOT_TTL_MS}, and the caller's outcome matters more.
 */
export async function releaseRemediationSlot(
  deps: Pick<BlastRadiusDeps, 'ledger' | 'log'>,
  incidentId: string,
): Promise<void> {
  try {
    const result = await deps.ledger.releaseRemediationSlot(incidentId);
    if (result === 'RELEASED') deps.log.info('remediation slot released', { incidentId });
  } catch (e) {
    deps.log.warn('could not release the remediation slot; it expires on its own', {
      incidentId,
      error: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
      expiresAfterMinutes: SLOT_TTL_MS / MINUTE_MS,
    });
  }
}

/**
 * Renews the remediation slot of `incidentId` until `nowMs + SLOT_TTL_MS`, as the remediation workflow renews the
 * application's lock at every step (the same lifetime), so a remediation running longer than {@link SLOT_TTL_MS}
 * keeps its slot. Takes no slot: a runbook command (which holds none) is unaffected. A failure is logged, not thrown:
 * the slot still lasts until its current expiry, and the next step renews it again.
 * @returns true when the slot was extended; false when the incident holds none or the ledger failed.
 */
export async function renewRemediationSlot(
  deps: Pick<BlastRadiusDeps, 'ledger' | 'log'>,
  incidentId: string,
  nowMs: number,
): Promise<boolean> {
  try {
    return await deps.ledger.renewRemediationSlot(incidentId, nowMs + SLOT_TTL_MS, nowMs);
  } catch (e) {
    deps.log.warn('could not renew the remediation slot; the next step tries again', {
      incidentId,
      error: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
    });
    return false;
  }
}

/** What {@link admitAutomaticRemediation} answers. */
export type Admission =
  | { admitted: true; reentered: boolean }
  | {
      admitted: false;
      /** Why, in the user's terms: the fleet incident holding it, or the slots in use. */
      reason: string;
      /** The fleet incident that holds it, when that is why. */
      fleetIncidentId?: string;
    };

/**
 * Whether an automatic remediation outside the detector (the reconciler's START) may go ahead now: not while an open
 * fleet incident holds the application's automatic restarts (the held decision is counted on it), and only with a
 * remediation slot (taken here for `incidentId`; the remediation workflow frees it). Call before recording the
 * incident and starting the workflow; when not admitted, record nothing that looks like a remediation and try again
 * at the next cycle. When admitted but the workflow is then not started (the incident already existed, StartExecution
 * failed), call {@link releaseRemediationSlot} with the same `incidentId`, unless `reentered` (the slot is then that
 * existing incident's).
 * @throws the ledger's error; safe to retry.
 */
export async function admitAutomaticRemediation(
  input: { incidentId: string; applicationName: string; remediation: RemediationAction },
  deps: BlastRadiusDeps,
): Promise<Admission> {
  const now = deps.clock.now();
  if (HELD_KINDS.has(input.remediation.kind)) {
    const open = await deps.ledger.currentFleetIncident();
    if (open?.members.some((m) => m.applicationName === input.applicationName)) {
      const kind = input.remediation.kind;
      await deps.ledger.updateFleetIncident(open.id, (f) =>
        f.held.some((h) => h.applicationName === input.applicationName && h.remediation === kind)
          ? undefined
          : recordHeld(f, input.applicationName, kind, now),
      );
      return { admitted: false, reason: heldReason(open, input.remediation), fleetIncidentId: open.id };
    }
  }
  const slot = await takeRemediationSlot(deps, input.incidentId, input.applicationName, now);
  return slot.taken ? { admitted: true, reentered: slot.reentered } : { admitted: false, reason: slot.reason };
}

/**
 * Whether DescribeApplication said the application does not exist (ResourceNotFoundException: "Specified application
 * can't be found", the DescribeApplication errors of the kinesisanalyticsv2 API model,
 * https://docs.aws.amazon.com/managed-flink/latest/apiv2/API_DescribeApplication.html#API_DescribeApplication_Errors).
 */
export function isDeleted(observation: ApplicationObservation): boolean {
  return (
    observation.application === undefined &&
    observation.errors.some((e) => e.source === 'DescribeApplication' && /ResourceNotFoundException/.test(e.message))
  );
}

/**
 * Keeps the open fleet incident true, before a detection decides anything from it (and at any other time, e.g. the
 * sweep's plan, without `seen`):
 * - a member that left the watched set (not in the sweep's fleet memory, when there is one) is dropped, and so is the
 *   application of `seen` when it was deleted; should every member left be healthy (or none be left), the fleet
 *   incident is RESOLVED and people are told;
 * - a fleet incident open longer than `fleet.correlatedFailure.maxOpenMinutes` is closed as ESCALATED: its held
 *   applications go back to normal handling (their own detections, remediation slots, escalation), and people are
 *   told once (the conditional write that closes it happens once) what is still failing and the commands to run.
 * @returns the fleet incident still open afterwards, if any.
 * @throws the ledger's error; safe to retry.
 */
export async function reviewFleetIncident(
  deps: BlastRadiusDeps,
  nowMs: number,
  seen?: { applicationName: string; deleted: boolean },
): Promise<FleetIncident | undefined> {
  const open = await deps.ledger.currentFleetIncident();
  if (!open) return undefined;
  const memory = await deps.ledger.loadFleetMemory();
  const watched = memory ? new Set(memory.applications.map((a) => a.key)) : undefined;
  const leaving = (f: FleetIncident) =>
    f.members
      .map((m) => m.applicationName)
      .flatMap((name): Array<{ name: string; why: string }> => {
        if (seen?.deleted && seen.applicationName === name) return [{ name, why: 'was deleted' }];
        if (watched && !watched.has(name)) return [{ name, why: 'left the watched set' }];
        return [];
      });
  const maxOpenMinutes = fleetSettings(deps.config).correlatedFailure.maxOpenMinutes;
  const change = (f: FleetIncident): FleetIncident | undefined => {
    let changed = false;
    for (const { name, why } of leaving(f)) changed = dropMember(f, name, why, nowMs) !== undefined || changed;
    if (f.status === 'OPEN') changed = expireFleetIncident(f, maxOpenMinutes, nowMs) !== undefined || changed;
    return changed ? f : undefined;
  };
  if (!change(structuredClone(open))) return open;
  const stored = await deps.ledger.updateFleetIncident(open.id, change);
  if (!stored) return deps.ledger.currentFleetIncident();
  if (stored.status === 'OPEN') return stored;
  // Closed by this write (another writer's close makes updateFleetIncident answer undefined), so told once.
  if (stored.status === 'ESCALATED') {
    deps.log.warn('fleet incident escalated: open too long', {
      fleetIncidentId: stored.id,
      stillFailing: stillFailing(stored).map((m) => m.applicationName),
    });
  } else deps.log.info('fleet incident resolved', { fleetIncidentId: stored.id });
  await tellFleet(deps, stored, stored.status === 'ESCALATED' ? 'ESCALATED' : 'RESOLVED', nowMs);
  return undefined;
}

/** The detector's view of one detection, for {@link checkFleet}. */
export interface FleetCheckInput {
  applicationName: string;
  observation: ApplicationObservation;
  findings: readonly Finding[];
  decision: Decision;
  policy: PolicySettings;
  trigger: IncidentTrigger;
  nowMs: number;
}

/** What {@link checkFleet} decided. */
export type FleetCheck =
  | { kind: 'PROCEED' }
  | {
      kind: 'HOLD';
      /** The DetectionResult reason (see {@link heldReason} and {@link suspectedReason}). */
      reason: string;
      /** The fleet incident holding it; absent for a suspected correlated failure (the early signal). */
      fleetIncidentId?: string;
    };

/**
 * The correlated-failure step of a detection, after `decide`. In order (after {@link reviewFleetIncident}: members
 * that left the watched set or were deleted dropped, a fleet incident open too long closed as ESCALATED):
 * 1. The sighting: an application seen with restarts in the policy's restart-loop window (counted as the RESTART_LOOP
 *    rule counts them) is recorded, `loopSinceMs` set at the first detection that finds its RESTART_LOOP; one seen
 *    without restarts has its sighting deleted (not when its restart counter could not be read).
 * 2. Recovery: a member of the open fleet incident seen without any restart in the policy's restart-loop window, and
 *    RUNNING or without any finding (e.g. stopped by a person), is marked recovered; when the last one recovers the fleet incident is RESOLVED and people are told, once (the conditional write that closes it
 *    happens once).
 * 3. Joining: with a fleet incident open, an application found in a restart loop whose restarts began within the
 *    window after the fleet incident opened joins it.
 * 4. Opening: with none open, more applications with a loop first found within `windowMinutes` than
 *    `correlatedFailureLimit(fleet settings, watched)` (watched: the fleet memory's applications, else the listed
 *    ones) open one fleet incident (a conditional write: one per burst however many detectors race), told once. Its
 *    members: every application sighted restarting within the window (the loops among them).
 * 5. Holding: a REMEDIATE decision to FORCE_STOP_AND_RESTART or START an application of the open fleet incident is
 *    HELD (recorded on the fleet incident once per application and remediation, never paged); a ROLLBACK (its own
 *    recent change started its loop) proceeds.
 * 6. The early signal: with none open and at most the limit in a loop, a loop found while MORE than the limit of
 *    applications are sighted restarting within the window (each restart wakes the detector through the restart
 *    alarm, so they are sighted before their loops are confirmed) is held ONCE as a suspected correlated failure
 *    (`suspectedMs` recorded on its sighting); its watch looks again within a minute, by when the others' loops are
 *    confirmed (step 4) or not: then it proceeds. A lone loop (at most the limit restarting) proceeds at once.
 * @throws the ledger's error; the detection then fails and is retried like any other.
 */
export async function checkFleet(input: FleetCheckInput, deps: BlastRadiusDeps): Promise<FleetCheck> {
  const { applicationName: name, observation: obs, nowMs: now } = input;
  const settings = fleetSettings(deps.config);
  const windowMs = settings.correlatedFailure.windowMinutes * MINUTE_MS;
  const loop = input.findings.find((f): f is RestartLoopFinding => f.kind === 'RESTART_LOOP');
  const counted = runningVersionRestarts(obs, input.policy, now);
  const restartingSinceMs = counted && counted.restarts > 0 ? counted.firstIncreaseMs : undefined;

  // 1. The sighting, recorded before anything is decided from it.
  let sightings = await deps.ledger.listSightings();
  const before = sightings.find((s) => s.applicationName === name);
  let own: FleetSighting | undefined;
  if (restartingSinceMs !== undefined || loop) {
    const loopStillOn = loop && before?.loopSinceMs !== undefined;
    own = {
      schemaVersion: 1,
      applicationName: name,
      restartingSinceMs: Math.min(restartingSinceMs ?? loop?.onsetMs ?? now, loop?.onsetMs ?? Number.POSITIVE_INFINITY),
      ...(loop ? { loopSinceMs: loopStillOn ? (before?.loopSinceMs as number) : now, loopOnsetMs: loop.onsetMs } : {}),
      ...(loop && loopStillOn && before?.suspectedMs !== undefined ? { suspectedMs: before.suspectedMs } : {}),
      lastSeenMs: now,
      shares: sharesOf(obs.application),
    };
    await deps.ledger.saveSighting(own);
    sightings = [...sightings.filter((s) => s.applicationName !== name), own];
  } else if (before && counted !== undefined) {
    // Seen without restarts in the window (a failed metrics read says nothing, and keeps the sighting).
    await deps.ledger.clearSighting(name);
    sightings = sightings.filter((s) => s.applicationName !== name);
  }

  // Members that left (the watched set, or MSF) are dropped; one open too long is closed as escalated.
  let open = await reviewFleetIncident(deps, now, { applicationName: name, deleted: isDeleted(obs) });
  // 2. Recovery.
  // No restart of the running version in the whole restart-loop window (read, not failed), and RUNNING or no finding
  // at all. Not "RUNNING without a RESTART_LOOP" alone: a job that keeps failing restarts less often as Flink's restart
  // backoff grows, and its loop finding lapses between restarts while the shared dependency is still down.
  const quiet = counted !== undefined && restartingSinceMs === undefined;
  const recovered = quiet && (input.findings.length === 0 || obs.application?.status === 'RUNNING');
  if (open && recovered && isMember(open, name)) {
    const stored = await deps.ledger.updateFleetIncident(open.id, (f) => recoverMember(f, name, now));
    if (stored?.status === 'RESOLVED') {
      deps.log.info('fleet incident resolved', { fleetIncidentId: stored.id });
      await tellFleet(deps, stored, 'RESOLVED', now);
      open = undefined;
    } else {
      open = stored ?? (await deps.ledger.currentFleetIncident());
    }
  }
  if (!loop && !(open && isMember(open, name))) return { kind: 'PROCEED' };

  // 4. Opening (when none is open).
  if (!open && loop) {
    const loops = sightings.filter((s) => s.loopSinceMs !== undefined && s.loopSinceMs >= now - windowMs);
    const watched = (await deps.ledger.loadFleetMemory())?.applications.length ?? deps.config.applications.length;
    const limit = correlatedFailureLimit(settings, watched);
    if (loops.length <= limit) {
      // 6. The early signal.
      const restarting = sightings.filter((s) => s.lastSeenMs >= now - windowMs);
      if (
        restarting.length > limit &&
        own?.loopSinceMs !== undefined &&
        own.suspectedMs === undefined &&
        isHeldKind(input.decision)
      ) {
        await deps.ledger.saveSighting({ ...own, suspectedMs: now });
        return {
          kind: 'HOLD',
          reason: suspectedReason(restarting.length, limit, settings.correlatedFailure.windowMinutes),
        };
      }
      return { kind: 'PROCEED' };
    }
    const restarting = sightings.filter((s) => s.lastSeenMs >= now - windowMs || loops.includes(s));
    const fresh = newFleetIncident({
      sightings: restarting,
      limit,
      watched,
      windowMinutes: settings.correlatedFailure.windowMinutes,
      trigger: input.trigger,
      nowMs: now,
    });
    const opened = await deps.ledger.openFleetIncident(fresh);
    open = opened.incident;
    if (opened.opened) {
      deps.log.warn('fleet incident opened: correlated restart loops', {
        fleetIncidentId: open.id,
        applications: open.members.map((m) => m.applicationName),
        limit,
        watched,
      });
      await tellFleet(deps, open, 'ESCALATED', now);
    }
  }
  if (!open) return { kind: 'PROCEED' };

  // 3. Joining (or relapsing: a member seen recovered loops again) and 5. holding, in one conditional write, and only
  // when something changes: a burst of detections contends for the one open fleet incident.
  const remediation = isHeldKind(input.decision) ? input.decision.remediation : undefined;
  const change = (f: FleetIncident): FleetIncident | undefined => {
    let changed = false;
    if (loop && own) {
      const member = f.members.find((m) => m.applicationName === name);
      const joins = member
        ? member.recoveredMs !== undefined || member.loopSinceMs === undefined
        : own.restartingSinceMs <= f.openedMs + windowMs;
      if (joins) {
        joinFleetIncident(f, own, now);
        changed = true;
      }
    }
    if (
      remediation &&
      isMember(f, name) &&
      !f.held.some((h) => h.applicationName === name && h.remediation === remediation.kind)
    ) {
      recordHeld(f, name, remediation.kind, now);
      changed = true;
    }
    return changed ? f : undefined;
  };
  if (change(structuredClone(open))) open = (await deps.ledger.updateFleetIncident(open.id, change)) ?? open;
  if (remediation && isMember(open, name)) {
    return { kind: 'HOLD', reason: heldReason(open, remediation), fleetIncidentId: open.id };
  }
  return { kind: 'PROCEED' };
}

function isMember(f: FleetIncident, applicationName: string): boolean {
  return f.members.some((m) => m.applicationName === applicationName);
}

function isHeldKind(decision: Decision): boolean {
  return (
    decision.verdict === 'REMEDIATE' && decision.remediation !== undefined && HELD_KINDS.has(decision.remediation.kind)
  );
}

/**
 * The reason of a restart held by a fleet incident, e.g. "Held by fleet incident fleet-1a2b: 12 applications failing
 * since 14:05 UTC (shared: source topic orders); automatic FORCE_STOP_AND_RESTART held until they recover."
 */
export function heldReason(f: FleetIncident, remediation: RemediationAction): string {
  return `Held by fleet incident ${f.id}: ${f.members.length} applications failing since ${clock(f.firstFailureMs)} (shared: ${describeShares(f.shared)}); automatic ${remediation.kind} held until they recover.`;
}

/**
 * The reason of a loop held once by the early signal, e.g. "Suspected correlated failure: 12 applications restarting
 * within 10 min (limit 5); looking again at the next check before restarting it."
 */
export function suspectedReason(restarting: number, limit: number, windowMinutes: number): string {
  return `Suspected correlated failure: ${restarting} applications restarting within ${windowMinutes} min (limit ${limit}); looking again at the next check before restarting it.`;
}

function clock(ms: number): string {
  return `${new Date(ms).toISOString().slice(11, 16)} UTC`;
}

/**
 * The notification of a fleet incident: `fleet` carries the fleet incident; `incident` is a record built for the
 * renderers (never stored): id the fleet incident's, application the first to fail, trigger the signal that opened it
 * (so a RESOLVED one's time to recovery runs from then), status ESCALATED while open, RESOLVED once closed, decision
 * NONE with the reason.
 */
export function fleetNotification(
  f: FleetIncident,
  event: Extract<NotificationEvent, 'ESCALATED' | 'RESOLVED'>,
  nowMs: number,
): Notification {
  const names = [...f.members].sort((a, b) => a.firstFailureMs - b.firstFailureMs).map((m) => m.applicationName);
  if (f.status === 'ESCALATED') return expiredNotification(f, nowMs);
  const resolved = event === 'RESOLVED';
  const loops = f.members.filter((m) => m.loopSinceMs !== undefined).length;
  const title = resolved
    ? `Correlated failure resolved: all ${names.length} applications healthy again [${f.id}]`
    : `Correlated failure: ${names.length} applications failing at once (${loops} in a restart loop), automatic restarts held [${f.id}]`;
  const text = resolved
    ? `All ${names.length} applications of fleet incident ${f.id} are healthy again (${Math.round(((f.closedMs ?? nowMs) - f.firstFailureMs) / MINUTE_MS)} min after the first failure at ${clock(f.firstFailureMs)}): ${names.join(', ')}. Automatic restarts are no longer held.`
    : `${loops} applications entered a restart loop within ${f.windowMinutes} min (more than ${f.limit} of ${f.watched} watched); ${names.length} are restarting, the first at ${clock(f.firstFailureMs)}: ${names.join(', ')}. Shared: ${describeShares(f.shared)}. Their automatic restarts (force-stop and restart, start) are held until they recover; a rollback of an application whose own recent change started its loop still goes ahead.`;
  const nextSteps = resolved
    ? []
    : [
        `Check what they share first: ${describeShares(f.shared)}.`,
        'Once the shared dependency is back, the applications recover on their own; the watchdog closes this fleet incident then.',
      ];
  const incident: Incident = {
    schemaVersion: 1,
    id: f.id,
    applicationName: names[0] ?? 'fleet',
    trigger: f.trigger,
    openedMs: f.openedMs,
    status: resolved ? 'RESOLVED' : 'ESCALATED',
    decision: { verdict: 'NONE', reason: text, guards: [], nextSteps },
    attempts: 0,
    actions: [],
    events: [],
    ...(f.closedMs !== undefined ? { closedMs: f.closedMs, outcomeReason: text } : {}),
  };
  return { event, atMs: nowMs, title, text, nextSteps, incident, fleet: f };
}

/**
 * The notification of a fleet incident closed as ESCALATED (open longer than maxOpenMinutes): what is still failing,
 * that automatic restarts are no longer held, and the commands to run for each application still failing.
 */
function expiredNotification(f: FleetIncident, nowMs: number): Notification {
  const failing = stillFailing(f).map((m) => m.applicationName);
  const openMinutes = Math.round(((f.closedMs ?? nowMs) - f.openedMs) / MINUTE_MS);
  const title = `Correlated failure not over after ${openMinutes} min: ${failing.length} of ${f.members.length} applications still failing, automatic restarts no longer held [${f.id}]`;
  const text = `Fleet incident ${f.id} (first failure at ${clock(f.firstFailureMs)}; shared: ${describeShares(f.shared)}) is closed as escalated after ${openMinutes} min. Still failing: ${failing.length > 0 ? failing.join(', ') : 'none'}. Their automatic restarts are no longer held: each is handled on its own again (its own detection, at most the fleet's remediation slots at once), and escalated on its own if that does not help.`;
  const nextSteps = [
    `Check what they share first: ${describeShares(f.shared)}.`,
    ...failing.flatMap((name) => escalateCommandsOf(name)),
  ];
  const incident: Incident = {
    schemaVersion: 1,
    id: f.id,
    applicationName: failing[0] ?? f.members[0]?.applicationName ?? 'fleet',
    trigger: f.trigger,
    openedMs: f.openedMs,
    status: 'ESCALATED',
    decision: { verdict: 'NONE', reason: text, guards: [], nextSteps },
    attempts: 0,
    actions: [],
    events: [],
    nextSteps,
    ...(f.closedMs !== undefined ? { closedMs: f.closedMs, outcomeReason: text } : {}),
  };
  return { event: 'ESCALATED', atMs: nowMs, title, text, nextSteps, incident, fleet: f };
}

/**
 * What to look at for one application still failing (as an escalated incident says; AWS CLI, kinesisanalyticsv2): by
 * its MSF ApplicationName, with `--region` for a member application (run them with credentials of its account).
 */
function escalateCommandsOf(key: string): string[] {
  const ref = parseApplicationKey(key);
  const where = ref.region ? ` --region ${ref.region}` : '';
  const account = ref.accountId ? ` # in account ${ref.accountId}` : '';
  return [
    `aws kinesisanalyticsv2 describe-application --application-name ${ref.name}${where}${account}`,
    `aws kinesisanalyticsv2 list-application-operations --application-name ${ref.name}${where}`,
  ];
}

/**
 * Tells people about a fleet incident through `deps.notifier`, the same notifier as every notification: in the Lambda
 * functions the fan-out (functions/common/notifier.ts), whose channels retry on their own and whose failed deliveries
 * go to the dead-letter queue counted by the undelivered-notification alarm. A notifier that throws anyway (a
 * plain channel in a test) is logged, never thrown: the fleet incident is recorded already.
 */
async function tellFleet(
  deps: Pick<BlastRadiusDeps, 'notifier' | 'log'>,
  f: FleetIncident,
  event: 'ESCALATED' | 'RESOLVED',
  nowMs: number,
): Promise<void> {
  try {
    await deps.notifier.notify(fleetNotification(f, event, nowMs));
  } catch (e) {
    deps.log.warn('fleet notification failed', { fleetIncidentId: f.id, event, error: (e as Error).message });
  }
}
