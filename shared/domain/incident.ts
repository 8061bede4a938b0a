import { createHash } from 'node:crypto';
import type { Decision, RemediationAction } from './decision.ts';
import type { Finding } from './findings.ts';

/** Lifecycle of an incident. Terminal: RESOLVED, ESCALATED, NOTIFIED, OBSERVED. */
export type IncidentStatus = 'REMEDIATING' | 'RESOLVED' | 'ESCALATED' | 'NOTIFIED' | 'OBSERVED';

export const TERMINAL_STATUSES: ReadonlySet<IncidentStatus> = new Set([
  'RESOLVED',
  'ESCALATED',
  'NOTIFIED',
  'OBSERVED',
]);

/** What raised the incident. */
export interface IncidentTrigger {
  source: 'alarm' | 'schedule' | 'cloudtrail' | 'runbook';
  /** Alarm name, schedule rule, MSF API call (CloudTrail eventName), or runbook requester. */
  detail: string;
  atMs: number;
}

/** One MSF mutating call, recorded before it is made (`RECORDED`) and completed after. */
export interface ActionRecord {
  seq: number;
  /** MSF operation, e.g. StopApplication. */
  call: string;
  input: Record<string, unknown>;
  recordedMs: number;
  state: 'RECORDED' | 'SUCCEEDED' | 'FAILED';
  completedMs?: number;
  operationId?: string;
  error?: string;
  /**
   * True when the call failed without an answer from MSF (a timeout or network error): MSF may have carried it out.
   * The next step looks for the call's own operation (ListApplicationOperations) before doing anything else.
   */
  outcomeUnknown?: boolean;
}

/** One line of the incident's own timeline. */
export interface IncidentEvent {
  atMs: number;
  kind:
    | 'OPENED'
    | 'DECISION'
    | 'ACTION'
    | 'STATUS'
    | 'VERIFY'
    | 'RESOLVED'
    | 'ESCALATED'
    | 'NOTIFIED'
    | 'OBSERVED'
    | 'DUPLICATE'
    /** A detection held back because another incident holds the application's lock (see {@link LockDeferral}). */
    | 'DEFERRED'
    /** approve mode: approval requested, answered (approved, rejected), timed out, or refused as stale. */
    | 'APPROVAL'
    /** Automatic remediation held by an MSF maintenance operation or a CLOSED change calendar, or released. */
    | 'HELD'
    /** The first failure's exception found in the application's logs (or why it was not). */
    | 'ROOT_CAUSE'
    | 'ERROR';
  message: string;
}

/**
 * An incident as stored in the ledger (schema version 1). `revision` was added to version 1 as an optional field:
 * records written before it read as revision 0, so stored items stay readable and writable.
 */
export interface Incident {
  schemaVersion: 1;
  /**
   * How many times the incident was saved since it was created, count; absent means 0 (never saved since created, or
   * an older record). Kept by the ledger: a save is refused when the stored revision is not this one (optimistic
   * concurrency, see the Ledger port). Bookkeeping, not part of what the incident says.
   */
  revision?: number;
  id: string;
  applicationName: string;
  trigger: IncidentTrigger;
  openedMs: number;
  status: IncidentStatus;
  finding?: Finding;
  decision: Decision;
  /** The remediation in progress or last taken. */
  remediation?: RemediationAction;
  /** Remediation attempts made by this incident, count. */
  attempts: number;
  actions: ActionRecord[];
  events: IncidentEvent[];
  closedMs?: number;
  /** Final explanation, for RESOLVED/ESCALATED. */
  outcomeReason?: string;
  /** Exact commands a human should run next (ESCALATED). */
  nextSteps?: string[];
  /** The Slack message that opened this incident's thread (Web API token mode): later updates reply in it. */
  slackThread?: { channel: string; ts: string };
  /** Set on a deferral record: detections of the application held back behind another incident's lock. */
  deferral?: LockDeferral;
  /** approve mode: the request put to people and its answer. */
  approval?: ApprovalRecord;
  /** What holds (or held) automatic remediation: an MSF maintenance operation or a CLOSED change calendar. */
  hold?: HoldRecord;
  /** A restart loop's first failure, from the application's CloudWatch Logs. */
  rootCause?: RootCause;
  /** Why no root cause was found (log group unreadable, no exception near the onset), when none was. */
  rootCauseNote?: string;
}

/** How people answered an approval request. */
export type ApprovalChannel = 'slack' | 'amazon-q' | 'cli' | 'console';

/**
 * approve mode: the remediation people are asked to approve, the Step Functions task token the workflow waits on,
 * and the answer. Times are epoch ms.
 */
export interface ApprovalRecord {
  /** The remediation decided and put to people. */
  action: RemediationAction;
  requestedMs: number;
  /** When an unanswered request times out (requestedMs + approvalTimeoutMinutes), ms. */
  timeoutMs: number;
  /** What an unanswered request ends in (policy `onApprovalTimeout`). */
  onTimeout: 'escalate' | 'proceed';
  /** The task token (`$$.Task.Token`) of the waiting `.waitForTaskToken` state; removed once answered. */
  taskToken?: string;
  /** PENDING until answered; STALE: approved, but the situation changed before acting (refused). */
  state: 'PENDING' | 'APPROVED' | 'REJECTED' | 'TIMED_OUT' | 'STALE';
  answer?: {
    decision: 'APPROVED' | 'REJECTED';
    /** Who answered: Slack user (`slack:U123 (name)`), IAM caller ARN, or the console. */
    by: string;
    via: ApprovalChannel;
    atMs: number;
    /** A rejection's reason, as given. */
    reason?: string;
    /**
     * The SNS `MessageId` of the runbook command that carried the answer (CLI, Amazon Q): the CloudTrail record of that
     * sns:Publish names the IAM principal who published it, whatever `by` says. Absent for Slack and the console.
     */
    messageId?: string;
  };
}

/** What holds automatic remediation of an application. Times are epoch ms. */
export interface HoldRecord {
  /** MAINTENANCE: an MSF maintenance operation IN_PROGRESS (ListApplicationOperations); CHANGE_FREEZE: a CLOSED calendar. */
  kind: 'MAINTENANCE' | 'CHANGE_FREEZE';
  /** e.g. "operation Maintenance op-1 IN_PROGRESS" or "change calendar prod-freeze is CLOSED until 2026-03-02T18:00Z". */
  detail: string;
  sinceMs: number;
  lastCheckedMs: number;
  /** When people were told (once per hold), ms. */
  toldMs?: number;
  /** When the hold ended, ms; absent while it holds. */
  releasedMs?: number;
}

/** The first failure's exception at a restart loop's onset, read from the application's log group. */
export interface RootCause {
  /** e.g. `software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException`. */
  exceptionClass: string;
  message: string;
  /** The top stack frames (`at ...` lines), at most 5. */
  frames: string[];
  logGroupName: string;
  /** Timestamp of the log line with the exception, ms. */
  atMs: number;
  /** How it was found: a CloudWatch Logs Insights query (StartQuery/GetQueryResults) or FilterLogEvents. */
  source: 'logs-insights' | 'filter-log-events';
}

/**
 * Detections of an application held back because another incident (`lockHolder`) holds its lock. Kept on one
 * OBSERVED incident per blocking incident (its id is derived from `lockHolder`), so `history` shows it and every
 * later sweep updates the same record instead of adding one.
 */
export interface LockDeferral {
  /** The incident holding the application's lock. */
  lockHolder: string;
  /** The first and the latest deferred detection, epoch ms. */
  firstMs: number;
  lastMs: number;
  /** Deferred detections so far, count. */
  count: number;
  /** When people were told (once the deferral lasted `cooldownMinutes`), epoch ms; absent until then. */
  toldMs?: number;
}

/**
 * A stable incident id from what identifies the situation, so at-least-once delivery of the same event maps to the
 * same incident. Safe as a Step Functions execution name (≤ 80 chars, [A-Za-z0-9-_]).
 */
export function incidentId(applicationName: string, fingerprint: string): string {
  const hash = createHash('sha256').update(`${applicationName}\n${fingerprint}`).digest('hex').slice(0, 16);
  const safe = applicationName.replace(/[^A-Za-z0-9-_]/g, '-').slice(0, 50);
  return `${safe}-${hash}`;
}

/** Appends a timeline event (mutates and returns the incident). */
export function addEvent(incident: Incident, atMs: number, kind: IncidentEvent['kind'], message: string): Incident {
  incident.events.push({ atMs, kind, message });
  return incident;
}

/** Identity of a timeline event: events carry no id, so two with the same time, kind and message are the same one. */
function eventKey(e: IncidentEvent): string {
  return `${e.atMs}\u0000${e.kind}\u0000${e.message}`;
}

/**
 * The owner's copy of an incident (`mine`, e.g. the remediation workflow's, which holds the application's lock) merged
 * with the stored one (`stored`), which other writers changed since `mine` was read. Pure.
 * - Fields: `mine`'s, as read and changed by the owner (status, decision, remediation, outcome, attempts...).
 * - `events` (append-only): every event of `stored` and every event of `mine`, once (an event both hold, e.g. a failed
 *   delivery the notifier put in both, counts once; identity: time, kind and message), in time order.
 * - `actions` (append-only, one per `seq`): the union by `seq`; the owner's record of a `seq` wins (it completes them).
 * - `slackThread` and `deferral` (set by others: the Slack notifier, deferral records): `mine`'s, else `stored`'s.
 * - `revision`: `stored`'s, so the save is conditional on what was just read.
 */
export function mergeIncident(stored: Incident, mine: Incident): Incident {
  const merged: Incident = { ...structuredClone(mine) };
  const seen = new Map<string, number>();
  for (const e of stored.events) seen.set(eventKey(e), (seen.get(eventKey(e)) ?? 0) + 1);
  const events = stored.events.map((e) => ({ ...e }));
  for (const e of mine.events) {
    const key = eventKey(e);
    const left = seen.get(key) ?? 0;
    if (left > 0) seen.set(key, left - 1);
    else events.push({ ...e });
  }
  // Stable: events of equal time keep the order they were appended in.
  merged.events = events.sort((a, b) => a.atMs - b.atMs);
  const actions = new Map(stored.actions.map((a) => [a.seq, a] as const));
  for (const a of mine.actions) actions.set(a.seq, a);
  merged.actions = structuredClone([...actions.values()].sort((a, b) => a.seq - b.seq));
  const slackThread = mine.slackThread ?? stored.slackThread;
  if (slackThread) merged.slackThread = { ...slackThread };
  const deferral = mine.deferral ?? stored.deferral;
  if (deferral) merged.deferral = { ...deferral };
  if (stored.revision === undefined) delete merged.revision;
  else merged.revision = stored.revision;
  return merged;
}
