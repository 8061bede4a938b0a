import type { FleetIncident } from '#shared/domain/fleet-incident.ts';
import type { Incident } from '#shared/domain/incident.ts';

/** Lifecycle events people are told about. */
export type NotificationEvent = 'OPENED' | 'ACTION_TAKEN' | 'RESOLVED' | 'ESCALATED' | 'NOTIFIED' | 'OBSERVED';

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
