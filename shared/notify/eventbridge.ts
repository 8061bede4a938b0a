import type { PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { Notification, NotificationEvent } from '#shared/ports/notifier.ts';
import { renderSnsMessage } from './sns-message.ts';

/**
 * EventBridge custom events for each lifecycle notification, so rules can route exactly the events they handle, e.g.
 * `{"source": ["flink-watchdog"], "detail-type": ["Flink Watchdog Incident Escalated"], "detail": {"application":
 * ["orders-enrichment"]}}`. The `detail` is the same versioned {@link WatchdogEventV1} the SNS runbook topic carries
 * (its JSON Schema: shared/notify/sns-message.schema.json).
 */

/** `source` of every watchdog event. Custom sources must not start with `aws.` (reserved for AWS services). */
export const EVENT_SOURCE = 'flink-watchdog';

/**
 * `detail-type` of each lifecycle event:
 * - OPENED → `Flink Watchdog Incident Opened`: a finding opened an incident and the decision was taken;
 * - ACTION_TAKEN → `Flink Watchdog Action Taken`: an MSF call (StopApplication, StartApplication, RollbackApplication,
 *   UpdateApplication) was accepted;
 * - RESOLVED → `Flink Watchdog Incident Resolved`: the application recovered (detail has `timeToRecoverySeconds`);
 * - ESCALATED → `Flink Watchdog Incident Escalated`: automation stopped, a human must act (detail has `nextSteps`);
 * - NOTIFIED → `Flink Watchdog Incident Notified`: nothing safe to do automatically; people are told;
 * - OBSERVED → `Flink Watchdog Incident Observed`: observe mode or out of scope; `detail.decision.wouldHave` says what
 *   would have been done;
 * - APPROVAL_REQUESTED → `Flink Watchdog Approval Requested`: approve mode asks people (`detail.approval`, with the CLI
 *   commands that answer);
 * - APPROVAL_ANSWERED → `Flink Watchdog Approval Answered`: approved, rejected, timed out, or refused as stale
 *   (`detail.approval.answer`);
 * - HELD → `Flink Watchdog Remediation Held`: a maintenance operation or a CLOSED change calendar holds automation
 *   (`detail.hold`). Every event of a restart loop carries `detail.rootCause` (or `detail.rootCauseNote`) once found.
 */
export const DETAIL_TYPES: Readonly<Record<NotificationEvent, string>> = {
  OPENED: 'Flink Watchdog Incident Opened',
  ACTION_TAKEN: 'Flink Watchdog Action Taken',
  RESOLVED: 'Flink Watchdog Incident Resolved',
  ESCALATED: 'Flink Watchdog Incident Escalated',
  NOTIFIED: 'Flink Watchdog Incident Notified',
  OBSERVED: 'Flink Watchdog Incident Observed',
  APPROVAL_REQUESTED: 'Flink Watchdog Approval Requested',
  APPROVAL_ANSWERED: 'Flink Watchdog Approval Answered',
  HELD: 'Flink Watchdog Remediation Held',
};

/** Options of {@link renderEventBridge}. */
export interface EventBridgeRenderOptions {
  /** Event bus name or ARN; omitted means the account's default bus. */
  eventBusName?: string;
  /** The application's ARN, put in `Resources` when known. */
  applicationArn?: string;
}

/**
 * One PutEvents entry for a notification: `Source` {@link EVENT_SOURCE}, `DetailType` from {@link DETAIL_TYPES},
 * `Detail` the {@link WatchdogEventV1} as JSON (size-capped like the SNS message to 256 KiB, the same size as the
 * PutEvents entry quota), `Time` the event time, `Resources` the application ARN when known. Pure and deterministic.
 */
export function renderEventBridge(n: Notification, options: EventBridgeRenderOptions = {}): PutEventsRequestEntry {
  const { message } = renderSnsMessage(n, options.applicationArn ? { applicationArn: options.applicationArn } : {});
  return {
    Source: EVENT_SOURCE,
    DetailType: DETAIL_TYPES[n.event],
    Detail: JSON.stringify(message),
    Time: new Date(n.atMs),
    ...(options.applicationArn ? { Resources: [options.applicationArn] } : {}),
    ...(options.eventBusName ? { EventBusName: options.eventBusName } : {}),
  };
}
