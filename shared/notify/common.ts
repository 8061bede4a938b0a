import { describeRemediation, type RemediationAction } from '#shared/domain/decision.ts';
import type { Finding } from '#shared/domain/findings.ts';
import type { ActionRecord } from '#shared/domain/incident.ts';
import type { Notification, NotificationEvent } from '#shared/ports/notifier.ts';

/**
 * What every rendering of a {@link Notification} shares: severity, status labels, the observe-mode "would have" line,
 * time to recovery, time formatting, truncation and Slack mrkdwn escaping. Pure: no clock, no environment.
 */

/**
 * Severity of a lifecycle event, for SNS filter policies and EventBridge rules:
 * - `critical`: ESCALATED — automation stopped and a human must act now;
 * - `warning`: OPENED, ACTION_TAKEN, NOTIFIED, APPROVAL_REQUESTED, APPROVAL_ANSWERED, HELD — something is wrong and is
 *   being handled, needs a look, or waits for a person or for a maintenance operation or change freeze to end;
 * - `info`: RESOLVED, OBSERVED — recovered, or only observed (observe mode, out of scope).
 */
export type Severity = 'critical' | 'warning' | 'info';

/** {@link Severity} of each lifecycle event (see the type for the reasoning). */
export const SEVERITY_BY_EVENT: Readonly<Record<NotificationEvent, Severity>> = {
  OPENED: 'warning',
  ACTION_TAKEN: 'warning',
  RESOLVED: 'info',
  ESCALATED: 'critical',
  NOTIFIED: 'warning',
  OBSERVED: 'info',
  APPROVAL_REQUESTED: 'warning',
  APPROVAL_ANSWERED: 'warning',
  HELD: 'warning',
};

/** Every lifecycle event, in lifecycle order (a `Record` keeps this list exhaustive at compile time). */
export const NOTIFICATION_EVENTS = Object.keys(SEVERITY_BY_EVENT) as [NotificationEvent, ...NotificationEvent[]];

/** Status words shown next to the application name, e.g. "orders-enrichment · ACTION TAKEN". */
export const STATUS_LABEL: Readonly<Record<NotificationEvent, string>> = {
  OPENED: 'OPENED',
  ACTION_TAKEN: 'ACTION TAKEN',
  RESOLVED: 'RESOLVED',
  ESCALATED: 'ESCALATED',
  NOTIFIED: 'NOTIFIED',
  OBSERVED: 'OBSERVED',
  APPROVAL_REQUESTED: 'APPROVAL REQUESTED',
  APPROVAL_ANSWERED: 'APPROVAL ANSWERED',
  HELD: 'HELD',
};

/** Marker appended to anything cut to fit a limit. */
export const TRUNCATED_SUFFIX = '… (truncated)';

/**
 * Cuts `text` to at most `max` UTF-16 code units (which is never more characters than Slack or AWS count), ending with
 * {@link TRUNCATED_SUFFIX} when it was cut. Never splits a surrogate pair.
 * @throws RangeError when `max` is shorter than the suffix (a bug in the caller's limit).
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max < TRUNCATED_SUFFIX.length) throw new RangeError(`limit ${max} is shorter than the truncation marker`);
  let cut = text.slice(0, max - TRUNCATED_SUFFIX.length);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}${TRUNCATED_SUFFIX}`;
}

/**
 * Escapes the three characters Slack mrkdwn treats as control characters in user-derived text: `&` → `&amp;`,
 * `<` → `&lt;`, `>` → `&gt;` (Slack "Formatting text for app surfaces": escaping text). Used for Amazon Q Developer's
 * `client-markdown` too, which it renders as the chat platform's markdown (Slack mrkdwn in Slack channels).
 */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** {@link truncate} for escaped mrkdwn: never leaves half an `&amp;`/`&lt;`/`&gt;` entity before the marker. */
export function truncateMrkdwn(text: string, max: number): string {
  const cut = truncate(text, max);
  if (cut === text) return cut;
  const body = cut.slice(0, -TRUNCATED_SUFFIX.length).replace(/&[a-z]{0,3}$/, '');
  return `${body}${TRUNCATED_SUFFIX}`;
}

/** ISO 8601 UTC timestamp of epoch milliseconds, e.g. `2026-03-02T14:05:00.000Z`. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** Clock time of epoch milliseconds in UTC, e.g. `14:05 UTC`. */
export function utcClock(ms: number): string {
  return `${new Date(ms).toISOString().slice(11, 16)} UTC`;
}

/** The finding the incident is about (`incident.finding`, else the decision's), if any. */
export function findingOf(n: Notification): Finding | undefined {
  return n.incident.finding ?? n.incident.decision.finding;
}

/** True when the decision was held back only because the policy's mode is `observe` (guard `mode-remediate`). */
export function isObserveMode(n: Notification): boolean {
  return n.incident.decision.guards.some((g) => g.name === 'mode-remediate' && !g.passed);
}

/**
 * What the watchdog would have done but did not (`Decision.wouldHave`): set in observe mode and when a guard blocked
 * the remediation (no snapshot, attempts exhausted, ...). Undefined when a remediation was actually taken.
 */
export function wouldHave(n: Notification): { action: RemediationAction; description: string } | undefined {
  const action = n.incident.decision.wouldHave;
  if (action === undefined || n.incident.remediation !== undefined) return undefined;
  return { action, description: describeRemediation(action) };
}

/** A past-tense phrase of a remediation for headlines, e.g. "rolled back to version 6". */
export function remediationDone(a: RemediationAction): string {
  switch (a.kind) {
    case 'ROLLBACK':
      return `rolled back to version ${a.toVersionId}`;
    case 'FORCE_STOP_AND_RESTART':
      return a.start ? `force-stopped and restarted (${a.start.restoreType})` : 'force-stopped';
    case 'START':
      return `started (${a.start.restoreType})`;
    case 'STOP':
      return 'stopped (without Force)';
    case 'REAPPLY_PREVIOUS_VERSION':
      return `re-applied version ${a.goodVersionId} and restarted`;
  }
}

/**
 * The one-line headline every rendering shows. The notification's own title, except for an OBSERVED event that held
 * back a remediation: then the "would have" is the headline, e.g. "orders: would have rolled back to version 6
 * (observe mode)", so nobody mistakes it for something that was done.
 */
export function headline(n: Notification): string {
  const held = wouldHave(n);
  if (n.event !== 'OBSERVED' || held === undefined) return n.title;
  const why = isObserveMode(n) ? 'observe mode' : 'not acted on';
  return `${n.incident.applicationName}: would have ${remediationDone(held.action)} (${why})`;
}

/** The "would have" sentence shown prominently in bodies, or undefined when nothing was held back. */
export function wouldHaveSentence(n: Notification): string | undefined {
  const held = wouldHave(n);
  if (held === undefined) return undefined;
  return isObserveMode(n)
    ? `Would have: ${held.description}. Observe mode: nothing was done to the application.`
    : `Would have: ${held.description}. Not done: ${n.incident.decision.verdict === 'NONE' ? 'held back' : 'a guard blocked it'}.`;
}

/**
 * Time to recovery of a RESOLVED incident, seconds (rounded): from the trigger (`incident.trigger.atMs`, when the
 * signal fired) to `incident.closedMs` (or the notification time), as the `TimeToRecovery` metric counts it.
 * Undefined for every other event.
 */
export function timeToRecoverySeconds(n: Notification): number | undefined {
  if (n.event !== 'RESOLVED') return undefined;
  const end = n.incident.closedMs ?? n.atMs;
  return Math.max(0, Math.round((end - n.incident.trigger.atMs) / 1000));
}

/** "7 min 30 s", "45 s", "2 h 5 min" from seconds. */
export function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return m > 0 ? `${h} h ${m} min` : `${h} h`;
  if (m > 0) return s > 0 ? `${m} min ${s} s` : `${m} min`;
  return `${s} s`;
}

/** Longest `error` of one action shown in chat renderings, characters (full ErrorInfo strings can be kilobytes). */
export const ACTION_ERROR_MAX = 300;

/**
 * One action as a plain line, e.g. "14:05 UTC StopApplication SUCCEEDED (completed 14:06 UTC, operation op-1)".
 * Never includes the call's `input` (it may carry environment property values).
 */
export function actionLine(a: ActionRecord): string {
  const details = [
    a.completedMs !== undefined ? `completed ${utcClock(a.completedMs)}` : undefined,
    a.operationId !== undefined ? `operation ${a.operationId}` : undefined,
    a.error !== undefined ? `error: ${truncate(a.error, ACTION_ERROR_MAX)}` : undefined,
  ].filter((d): d is string => d !== undefined);
  return `${utcClock(a.recordedMs)} ${a.call} ${a.state}${details.length > 0 ? ` (${details.join(', ')})` : ''}`;
}

/** True when a next step is a command to run (rendered as code), not prose. */
export function isCommand(step: string): boolean {
  return /^(aws|npx|flink-watchdog)\s/.test(step);
}

/**
 * The notification's `text` unless every line of it is already shown by the finding summary or the decision reason
 * (the OPENED text is "<finding summary>\nDecision: <reason>"), so bodies do not repeat themselves.
 */
export function extraText(n: Notification): string | undefined {
  const text = n.text.trim();
  if (text === '') return undefined;
  const shown = [findingOf(n)?.summary ?? '', n.incident.decision.reason].join('\n');
  const lines = text.split('\n').map((l) => l.replace(/^Decision:\s*/, '').trim());
  return lines.every((l) => l === '' || shown.includes(l)) ? undefined : text;
}

/** Most application names listed in one fleet notification; the rest are counted ("… and 12 more"). */
export const FLEET_APPLICATIONS_SHOWN = 50;

/**
 * What every rendering shows of a fleet incident (correlated restart loops; {@link Notification.fleet}), as plain
 * labelled lines: the fleet incident id and count, its applications (first {@link FLEET_APPLICATIONS_SHOWN}, earliest
 * failure first), what they share, the first failure time, and the automatic restarts held so far. Undefined for an
 * ordinary notification.
 */
export function fleetSummary(
  n: Notification,
): { label: string; applications: string; shared: string; firstFailure: string; held: string } | undefined {
  const f = n.fleet;
  if (!f) return undefined;
  const names = [...f.members].sort((a, b) => a.firstFailureMs - b.firstFailureMs).map((m) => m.applicationName);
  const shown = names.slice(0, FLEET_APPLICATIONS_SHOWN);
  const more = names.length - shown.length;
  const shared = [
    ...f.shared.sources.map((v) => `source ${v}`),
    ...f.shared.sinks.map((v) => `sink ${v}`),
    ...f.shared.vpcs.map((v) => `VPC ${v}`),
    ...(f.shared.runtime ? [`runtime ${f.shared.runtime}`] : []),
  ];
  const heldCount = new Set(f.held.map((h) => h.applicationName)).size;
  return {
    label: `Fleet incident ${f.id} (${f.status}): ${names.length} applications in a restart loop`,
    applications: `${shown.join(', ')}${more > 0 ? ` … and ${more} more` : ''}`,
    shared: shared.length > 0 ? shared.join('; ') : 'nothing in common found in their configuration',
    firstFailure: `${utcClock(f.firstFailureMs)} (${isoTime(f.firstFailureMs)})`,
    held:
      f.status === 'OPEN'
        ? `automatic restarts of ${heldCount} application${heldCount === 1 ? '' : 's'} held`
        : `none now (${heldCount} application${heldCount === 1 ? ' was' : 's were'} held while it was open)`,
  };
}

/** The CLI command that approves incident `id` (through the command topic, with the caller's identity). */
export function approveCommand(id: string): string {
  return `flink-watchdog approve ${id}`;
}

/** The CLI command that rejects incident `id`; `TEXT` is for the person to fill in. */
export function rejectCommand(id: string): string {
  return `flink-watchdog reject ${id} --reason TEXT`;
}

/** Who may answer an approval request, whichever channel the request is read in. */
export const APPROVAL_ANSWERERS =
  'anyone in the incident’s Slack channel (Approve / Reject buttons), the Amazon Q Developer channel (custom action), or a command-topic publisher (CLI)';

/**
 * What every rendering shows of an approval request (`incident.approval`), as plain sentences (not escaped):
 * - `pending`: true while the request waits for an answer (state PENDING): the renderings then show the commands;
 * - `answerable`: pending and the workflow already waits on it (the request has its task token, i.e. from
 *   APPROVAL_REQUESTED on): only then do Slack's buttons and the Amazon Q custom actions show. The detector's OPENED
 *   message records the request before the workflow reaches its approval step, and an answer then is refused;
 * - `headline`: "Approval requested: <what will be done>" or the answer, e.g. "Approved by slack:U1 (jane) via slack at
 *   14:07 UTC";
 * - `lines`: who can answer and until when (pending), or the answer's reason / what the timeout led to;
 * - `commands`: `flink-watchdog approve ID` and `flink-watchdog reject ID --reason TEXT` (pending only).
 * Undefined when the incident has no approval record. Never includes the task token.
 */
export function approvalSummary(
  n: Notification,
): { pending: boolean; answerable: boolean; headline: string; lines: string[]; commands: string[] } | undefined {
  const a = n.incident.approval;
  if (!a) return undefined;
  const what = describeRemediation(a.action);
  const until = `${utcClock(a.timeoutMs)} (${isoTime(a.timeoutMs)})`;
  const onTimeout =
    a.onTimeout === 'proceed'
      ? 'the watchdog acts without an answer, after checking every guard again'
      : 'the incident is ESCALATED and nothing is done';
  const answered = a.answer
    ? `${a.answer.decision === 'APPROVED' ? 'Approved' : 'Rejected'} by ${a.answer.by} via ${a.answer.via} at ${utcClock(a.answer.atMs)}`
    : undefined;
  const reason = a.answer?.reason ? [`Reason: ${a.answer.reason}`] : [];
  switch (a.state) {
    case 'PENDING':
      return {
        pending: true,
        answerable: a.taskToken !== undefined,
        headline: `Approval requested: ${what}`,
        lines: [`Who can answer: ${APPROVAL_ANSWERERS}.`, `Until: ${until}; then ${onTimeout}.`],
        commands: [approveCommand(n.incident.id), rejectCommand(n.incident.id)],
      };
    case 'APPROVED':
      return {
        pending: false,
        answerable: false,
        headline: `${answered ?? 'Approved'}: ${what}`,
        lines: reason,
        commands: [],
      };
    case 'REJECTED':
      return {
        pending: false,
        answerable: false,
        headline: `${answered ?? 'Rejected'}: not done: ${what}`,
        lines: reason,
        commands: [],
      };
    case 'TIMED_OUT':
      return {
        pending: false,
        answerable: false,
        headline: `No answer by ${utcClock(a.timeoutMs)}: ${a.onTimeout === 'proceed' ? `proceeding: ${what}` : `escalated, not done: ${what}`}`,
        lines: [],
        commands: [],
      };
    case 'STALE':
      return {
        pending: false,
        answerable: false,
        headline: `${answered ?? 'Approved'}, but refused as stale: the application changed before acting; not done: ${what}`,
        lines: reason,
        commands: [],
      };
  }
}

/**
 * What holds (or held) automatic remediation (`incident.hold`) as one plain sentence, e.g. "Held by MSF
 * maintenance since 14:02 UTC: operation Maintenance op-1 IN_PROGRESS" or "… (released 14:40 UTC)". Undefined when
 * nothing holds it.
 */
export function holdSentence(n: Notification): string | undefined {
  const h = n.incident.hold;
  if (!h) return undefined;
  const what = h.kind === 'MAINTENANCE' ? 'MSF maintenance' : 'a change freeze';
  const released = h.releasedMs !== undefined ? ` (released ${utcClock(h.releasedMs)})` : '';
  return `${h.releasedMs !== undefined ? 'Was held' : 'Held'} by ${what} since ${utcClock(h.sinceMs)}: ${h.detail}${released}`;
}

/**
 * The restart loop's first failure (`incident.rootCause`) as plain text: `exception` ("<class>: <message>"),
 * `frames` (top stack frames, at most 5), `source` ("log group /aws/kinesis-analytics/x at 13:52 UTC (CloudWatch Logs
 * Insights)"); or only `note` (why none was found, `incident.rootCauseNote`). Undefined when neither is set.
 */
export function rootCauseSummary(
  n: Notification,
): { exception?: string; frames: string[]; source?: string; note?: string } | undefined {
  const r = n.incident.rootCause;
  if (r) {
    return {
      exception: `${r.exceptionClass}: ${r.message}`,
      frames: r.frames.slice(0, 5),
      source: `log group ${r.logGroupName} at ${utcClock(r.atMs)} (${r.source === 'logs-insights' ? 'CloudWatch Logs Insights' : 'FilterLogEvents'})`,
    };
  }
  const note = n.incident.rootCauseNote;
  return note ? { frames: [], note } : undefined;
}
