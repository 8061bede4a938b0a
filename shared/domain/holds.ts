import type { Clock } from '#shared/clock.ts';
import { changeFreezeSettings, type PolicySettings, type WatchdogConfig } from '#shared/config/schema.ts';
import type { ChangeCalendarPort } from '#shared/ports/change-calendar.ts';
import { saveOwnedIncident } from '#shared/ports/ledger.ts';
import type { Log } from '#shared/ports/log.ts';
import type { MsfPort } from '#shared/ports/msf.ts';
import { describeRemediation } from './decision.ts';
import type { HoldRecord, Incident } from './incident.ts';
import { addEvent } from './incident.ts';
import { type ApplicationOperation, isMaintenanceOperation } from './model.ts';
import type { RemediationDeps, RemediationState } from './remediation.ts';
import { escalateCommands, finish, releaseLockOrLog, tell } from './remediation-core.ts';

const MINUTE_MS = 60_000;

/**
 * How the event starts that a runbook command leaves on a held (or approval-awaiting) incident when a person acts on
 * its application meanwhile (runbook.ts): "A person acted on APP while this incident was …".
 */
export const PERSON_ACTED = 'A person acted on ';

/** Whether a person's runbook command was recorded on `incident` (a {@link PERSON_ACTED} event) at or after `sinceMs`. */
export function personActedSince(incident: Incident, sinceMs: number): boolean {
  return incident.events.some((e) => e.atMs >= sinceMs && e.message.startsWith(PERSON_ACTED));
}

/** Whether `op` is an MSF maintenance operation still IN_PROGRESS. */
export function isMaintenanceInProgress(op: ApplicationOperation): boolean {
  return op.status === 'IN_PROGRESS' && isMaintenanceOperation(op.operation);
}

/** What holds automatic remediation of an application now (see {@link checkHolds}). */
export interface Hold {
  /** MAINTENANCE: MSF maintenance in progress; CHANGE_FREEZE: a change calendar CLOSED, or unreadable (fail safe). */
  kind: HoldRecord['kind'];
  /** What holds it, in the user's terms, e.g. "change calendar prod-freeze is CLOSED until 2026-03-02T15:00:00.000Z". */
  detail: string;
  /** What a person can do about it, when the hold is a fault to fix (an unreadable calendar); one sentence. */
  fix?: string;
  /** When the hold is expected to end (GetCalendarState `NextTransitionTime`), epoch ms; absent when not known. */
  untilMs?: number;
}

/** What {@link checkHolds} reads. */
export interface HoldCheckDeps {
  msf: Pick<MsfPort, 'describeApplication' | 'listOperations'>;
  /** SSM Change Calendar reader; needed when the config names calendars (without it they count as unreadable). */
  calendars?: ChangeCalendarPort;
  config: WatchdogConfig;
  clock: Clock;
  log: Log;
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e);
}

/** "change calendar prod-freeze" or "one of the change calendars a, b" (GetCalendarState reports them combined). */
function calendarsLabel(names: readonly string[]): string {
  return names.length === 1 ? `change calendar ${names[0]}` : `one of the change calendars ${names.join(', ')}`;
}

/**
 * What holds automatic MSF calls on `applicationName` now, or undefined when nothing does. Checked in this order:
 * 1. MSF maintenance: DescribeApplication `ApplicationStatus` MAINTENANCE, or a ListApplicationOperations operation
 *    named like maintenance (isMaintenanceOperation, model.ts) IN_PROGRESS. A failed read is not a hold: the
 *    remediation's own fresh DescribeApplication before acting handles (and retries) MSF errors, and MSF refuses every
 *    call while MAINTENANCE anyway.
 * 2. The change calendars of `changeFreeze.calendars` (GetCalendarState, one call for all of them: CLOSED when any is
 *    CLOSED, https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCalendarState.html). A calendar
 *    that cannot be read (InvalidDocument for a missing document, AccessDeniedException, throttling, no reader wired)
 *    holds too: fail safe, a freeze nobody can see is still a freeze; the detail names the error, `fix` what to check.
 * Never throws.
 */
export async function checkHolds(applicationName: string, deps: HoldCheckDeps): Promise<Hold | undefined> {
  const [described, operations] = await Promise.allSettled([
    deps.msf.describeApplication(applicationName),
    deps.msf.listOperations(applicationName),
  ]);
  const maintenance = operations.status === 'fulfilled' ? operations.value.find(isMaintenanceInProgress) : undefined;
  if (maintenance) {
    return {
      kind: 'MAINTENANCE',
      detail: `MSF maintenance: operation ${maintenance.operation} ${maintenance.operationId} IN_PROGRESS${maintenance.startMs === undefined ? '' : ` since ${new Date(maintenance.startMs).toISOString()}`}`,
    };
  }
  if (described.status === 'fulfilled' && described.value.status === 'MAINTENANCE') {
    return { kind: 'MAINTENANCE', detail: 'MSF maintenance: ApplicationStatus MAINTENANCE' };
  }
  if (operations.status === 'rejected') {
    deps.log.warn('could not list operations to look for MSF maintenance', {
      applicationName,
      error: errorText(operations.reason),
    });
  }
  const { calendars } = changeFreezeSettings(deps.config);
  if (calendars.length === 0) return undefined;
  const label = calendarsLabel(calendars);
  if (!deps.calendars) {
    return {
      kind: 'CHANGE_FREEZE',
      detail: `${label} could not be read (no SSM Change Calendar reader is wired in this function), so it is taken as CLOSED`,
      fix: 'Wire the SSM Change Calendar reader (RemediationDeps.calendars) into the remediation function.',
    };
  }
  try {
    const state = await deps.calendars.getCalendarState(calendars);
    if (state.state === 'OPEN') return undefined;
    const until =
      state.nextTransitionMs === undefined ? '' : ` until ${new Date(state.nextTransitionMs).toISOString()}`;
    return {
      kind: 'CHANGE_FREEZE',
      detail: `${label} is CLOSED${until}`,
      ...(state.nextTransitionMs === undefined ? {} : { untilMs: state.nextTransitionMs }),
    };
  } catch (e) {
    const error = errorText(e);
    deps.log.warn('could not read the change calendars: held to be safe', { applicationName, calendars, error });
    return {
      kind: 'CHANGE_FREEZE',
      detail: `${label} could not be read (${error}), so it is taken as CLOSED`,
      fix: `Check the names in changeFreeze.calendars (aws ssm get-calendar-state --calendar-names ${calendars.join(' ')}) and the remediation function's ssm:GetCalendarState permission.`,
    };
  }
}

function minutesBetween(fromMs: number, toMs: number): number {
  return Math.max(0, Math.round((toMs - fromMs) / MINUTE_MS));
}

/**
 * The remediation's hold before the first automatic MSF call of a plan (ACT phase, `stepIndex` 0; a runbook command
 * is never held: the caller skips this for `trigger.source` 'runbook'). Once the plan has begun (`stepIndex` > 0, e.g.
 * StartApplication after the watchdog's own StopApplication) it is finished without looking: undefined. Uses
 * {@link checkHolds}:
 * - while held, a remediation attempt recorded on the application since the hold began (a person's runbook command:
 *   the lock is free between looks) ends the incident ESCALATED without acting on the decision made before the hold;
 * - nothing holds, and nothing held: undefined (act now);
 * - nothing holds any more after a hold: the hold is marked released (`releasedMs`, a HELD event), people are told once
 *   more when they were told of the hold, and undefined is returned: the ACT phase goes on with its own fresh
 *   DescribeApplication and version/status checks;
 * - held: `incident.hold` records it (a HELD event when it starts or what holds it changes), people are told once per
 *   hold (NotificationEvent HELD), and the state returned waits `changeFreeze.recheckMinutes` (seconds in
 *   `waitSeconds`) with the phase still ACT, so the next step looks again (and renews the lock as every step does);
 * - held for `changeFreeze.maxHoldMinutes` or more (from `hold.sinceMs`): the incident ends ESCALATED with the reason,
 *   no MSF call made.
 * @throws what the ledger throws when the incident cannot be saved.
 */
export async function holdBeforeAutomaticCall(
  deps: RemediationDeps,
  state: RemediationState,
  incident: Incident,
  _policy: PolicySettings,
): Promise<RemediationState | undefined> {
  const step = state.steps[state.stepIndex];
  // No call left (the ACT phase only moves on to VERIFY): nothing to hold.
  if (!step) return undefined;
  const current = incident.hold && incident.hold.releasedMs === undefined ? incident.hold : undefined;
  // Holds are checked only before the first call of a plan: once the watchdog's own plan has begun (a call of it made
  // and its transition finished, e.g. StopApplication of a stop-and-restart), it is finished, so a freeze that starts
  // mid-plan never leaves the application stopped by the watchdog. The fresh DescribeApplication and version/status
  // checks of the ACT phase still apply, and MSF refuses calls while MAINTENANCE anyway.
  if (state.stepIndex > 0 && !current) return undefined;
  const settings = changeFreezeSettings(deps.config);
  const now = deps.clock.now();
  const nextCall = step.call;
  if (current) {
    // The lock was free while held, so people could act (runbook commands): an attempt recorded since the hold began
    // is theirs, and the decision made before the hold no longer stands. Looked at on every look, so the held
    // remediation stops as soon as it sees it rather than when the hold ends.
    // (This remediation's own attempt is recorded at LOCK or REDECIDE, at the latest in the same ms the hold began.)
    // A runbook command also leaves an event here before its workflow starts: that counts even when its workflow never
    // got as far as its attempt (e.g. it found this remediation holding the lock for a look, and stopped).
    const theirs = await deps.ledger.attemptsSince(state.applicationName, current.sinceMs + 1);
    const noted = personActedSince(incident, current.sinceMs);
    if (theirs.count > 0 || noted) {
      current.releasedMs = now;
      current.lastCheckedMs = now;
      const what =
        theirs.count > 0
          ? `${theirs.count} remediation attempt(s) were made on ${state.applicationName} meanwhile (runbook commands)`
          : `a person sent a runbook command for ${state.applicationName} meanwhile`;
      return finish(
        deps,
        state,
        incident,
        'ESCALATED',
        `Held ${minutesBetween(current.sinceMs, now)} min (${current.detail}), and ${what}: the decision made before the hold no longer stands, so the watchdog does not act on it${incident.actions.length ? ` (after ${incident.actions.map((a) => a.call).join(', ')})` : ''}. Check the application before acting.`,
        escalateCommands(state.applicationName),
      );
    }
  }
  const hold = await checkHolds(state.applicationName, deps);
  if (!hold) {
    if (!current) return undefined;
    current.releasedMs = now;
    current.lastCheckedMs = now;
    const message = `Hold released after ${minutesBetween(current.sinceMs, now)} min (${current.detail}): the remediation goes on with ${nextCall}.`;
    addEvent(incident, now, 'HELD', message);
    await saveOwnedIncident(deps.ledger, incident);
    deps.log.info('hold released', { incidentId: incident.id, kind: current.kind });
    if (current.toldMs !== undefined) {
      await tell(deps, incident, 'HELD', now, `${state.applicationName}: hold released — remediation goes on`, message);
    }
    return undefined;
  }
  let record = current;
  if (!record) {
    record = { kind: hold.kind, detail: hold.detail, sinceMs: now, lastCheckedMs: now };
    incident.hold = record;
    addEvent(
      incident,
      now,
      'HELD',
      `Held before ${nextCall}: ${hold.detail}. No automatic MSF call until it ends; looking again every ${settings.recheckMinutes} min, at most ${settings.maxHoldMinutes} min.`,
    );
  } else {
    if (record.kind !== hold.kind) {
      // Something else holds it now: people are told of the new reason (the hold's start, sinceMs, is kept).
      delete record.toldMs;
      addEvent(incident, now, 'HELD', `Still held before ${nextCall}, now by ${hold.detail}.`);
    }
    record.kind = hold.kind;
    record.detail = hold.detail;
    record.lastCheckedMs = now;
  }
  const heldMinutes = minutesBetween(record.sinceMs, now);
  if (now - record.sinceMs >= settings.maxHoldMinutes * MINUTE_MS) {
    const calendarCheck = settings.calendars.length
      ? [`aws ssm get-calendar-state --calendar-names ${settings.calendars.join(' ')}`]
      : [];
    return finish(
      deps,
      state,
      incident,
      'ESCALATED',
      `Held for ${heldMinutes} min (changeFreeze.maxHoldMinutes ${settings.maxHoldMinutes}): ${hold.detail}. Automation stopped before ${nextCall}${incident.actions.length ? ` (after ${incident.actions.map((a) => a.call).join(', ')})` : ' without acting'}; a human decides whether to act.${hold.fix ? ` ${hold.fix}` : ''}`,
      [...escalateCommands(state.applicationName), ...calendarCheck],
    );
  }
  await saveOwnedIncident(deps.ledger, incident);
  deps.log.info('held', { incidentId: incident.id, kind: hold.kind, detail: hold.detail, heldMinutes });
  if (record.toldMs === undefined) {
    record.toldMs = now;
    await tell(
      deps,
      incident,
      'HELD',
      now,
      `${state.applicationName}: remediation held — ${hold.kind === 'MAINTENANCE' ? 'MSF maintenance' : 'change freeze'}`,
      `${incident.remediation ? `Decided: ${describeRemediation(incident.remediation)}. ` : ''}Held before ${nextCall}: ${hold.detail}. The watchdog makes no automatic MSF call until it ends and looks again every ${settings.recheckMinutes} min; after ${settings.maxHoldMinutes} min held it escalates. Runbook commands still run meanwhile (flink-watchdog remediate ${state.applicationName} --action …); if you act, this remediation stops without acting on its earlier decision.${hold.fix ? ` ${hold.fix}` : ''}`,
    );
    await saveOwnedIncident(deps.ledger, incident);
  }
  // While held, the lock is left free so that people can act (a runbook command takes the lock; automation never
  // acts meanwhile; runbook.ts lets a command through past a held incident). The next step takes the lock again
  // before looking; if a runbook command holds it then, this remediation stops without acting (see remediationStep),
  // and an attempt made during the hold stops it at the next look (above).
  await releaseLockOrLog(
    deps,
    state.applicationName,
    state.incidentId,
    'could not free the lock while held; runbook commands wait until the next look',
  );
  return { ...state, phase: 'ACT', retries: 0, waitSeconds: settings.recheckMinutes * 60 };
}
