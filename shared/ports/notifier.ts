import type { FleetIncident } from '#shared/domain/fleet-incident.ts';
import type { Incident } from '#shared/domain/incident.ts';

/** Lifecycle events people are told about. */
export type NotificationEvent =
  | 'OPENED'
  | 'ACTION_TAKEN'
  | 'RESOLVED'
  | 'ESCALATED'
  | 'NOTIFIED'
  | 'OBSERVED'
  /** approve mode: people are asked to approve (Slack buttons, Amazon Q custom action, `flink-watchdog approve`). */
  | 'APPROVAL_REQUESTED'
  /** approve mode: approved, rejected, timed out, or an approval refused as stale. */
  | 'APPROVAL_ANSWERED'
  /** Automatic remediation held by maintenance or a change freeze (told once per hold). */
  | 'HELD';

export interface Notification {
  event: NotificationEvent;
  atMs: number;
  /** One-line headline, e.g. "orders-app: restart loop → rolled back to version 1". */
  title: string;
  /** The explanation, in the user's terms. */
  text: string;
  /** Exact commands a human should run next (ESCALATED, NOTIFIED). */
  nextSteps: string[];
  incident: Incident;
  /**
   * Set on the notification of a fleet incident (correlated restart loops, opened or resolved): the renderers list its
   * applications, what they share and the first failure time. `incident` is then a record built for the renderers.
   */
  fleet?: FleetIncident;
}

/** Delivers notifications (Slack, SNS, ... in later versions). Must never throw into a remediation. */
export interface Notifier {
  notify(notification: Notification): Promise<void>;
}
