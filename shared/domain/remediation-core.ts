/**
 * The small part of the remediation steps that holds.ts uses too: telling people, recording the outcome, and the
 * commands a person runs first. Kept apart from remediation.ts so that holds.ts and remediation.ts do not import each
 * other at run time (remediation.ts re-exports these; only types come from remediation.ts here).
 */
import { saveOwnedIncident } from '#shared/ports/ledger.ts';
import type { NotificationEvent } from '#shared/ports/notifier.ts';
import type { Incident } from './incident.ts';
import { addEvent } from './incident.ts';
import type { RemediationDeps, RemediationState } from './remediation.ts';

/** Sends a notification; a failure to deliver never affects the remediation. */
export async function tell(
  deps: Pick<RemediationDeps, 'notifier' | 'log'>,
  incident: Incident,
  event: NotificationEvent,
  atMs: number,
  title: string,
  text: string,
  nextSteps: string[] = [],
): Promise<void> {
  try {
    await deps.notifier.notify({ event, atMs, title, text, nextSteps, incident });
  } catch (e) {
    deps.log.warn('notification failed', { incidentId: incident.id, event, error: (e as Error).message });
  }
}

/**
 * Records the outcome (RESOLVED or ESCALATED with `reason` and `nextSteps`), saves it, counts it, and moves on to
 * RELEASE (or NOTIFY when `releaseLock` is false). Used by the phases of remediation.ts and by holds.ts.
 */
export async function finish(
  deps: RemediationDeps,
  state: RemediationState,
  incident: Incident,
  outcome: 'RECOVERED' | 'ESCALATED',
  reason: string,
  nextSteps: string[] = [],
  options: { releaseLock: boolean } = { releaseLock: true },
): Promise<RemediationState> {
  const now = deps.clock.now();
  incident.status = outcome === 'RECOVERED' ? 'RESOLVED' : 'ESCALATED';
  incident.closedMs = now;
  incident.outcomeReason = reason;
  incident.nextSteps = nextSteps;
  addEvent(incident, now, outcome === 'RECOVERED' ? 'RESOLVED' : 'ESCALATED', reason);
  await saveOwnedIncident(deps.ledger, incident);
  deps.log.info(`incident ${outcome === 'RECOVERED' ? 'resolved' : 'escalated'}`, { incidentId: incident.id, reason });
  if (outcome === 'RECOVERED') {
    deps.telemetry?.count('IncidentResolved', state.applicationName);
    deps.telemetry?.count('TimeToRecovery', state.applicationName, Math.round((now - incident.trigger.atMs) / 1000));
  } else {
    deps.telemetry?.count('IncidentEscalated', state.applicationName);
  }
  // The outcome is recorded; releasing the lock and telling people are the workflow's next two states.
  return { ...state, phase: options.releaseLock ? 'RELEASE' : 'NOTIFY', outcome, waitSeconds: 0 };
}

/** The AWS CLI commands a human should run first when automation stops on `app`. */
export function escalateCommands(app: string): string[] {
  return [
    `aws kinesisanalyticsv2 describe-application --application-name ${app}`,
    `aws kinesisanalyticsv2 list-application-operations --application-name ${app}`,
  ];
}

/**
 * Frees the application's lock if incident `incidentId` holds it, when the run no longer needs it (waiting for people
 * or for a hold to end, or stopping on an incident closed elsewhere). A failure is logged with `warning` and the command
 * to release the lock by hand, never thrown: the lock expires on its own (`LOCK_TTL_MS` after its last renewal).
 */
export async function releaseLockOrLog(
  deps: Pick<RemediationDeps, 'ledger' | 'log'>,
  applicationName: string,
  incidentId: string,
  warning: string,
): Promise<void> {
  try {
    await deps.ledger.releaseLock(applicationName, incidentId);
  } catch (e) {
    deps.log.warn(warning, {
      incidentId,
      error: (e as Error).message,
      release: deps.ledger.manualLockRelease(applicationName, incidentId),
    });
  }
}
