import { describeRemediation, type RemediationAction, type RemediationKind } from '#shared/domain/decision.ts';
import type { FindingKind } from '#shared/domain/findings.ts';
import type { FleetIncident } from '#shared/domain/fleet-incident.ts';
import type {
  ActionRecord,
  ApprovalChannel,
  ApprovalRecord,
  HoldRecord,
  Incident,
  IncidentStatus,
  IncidentTrigger,
  RootCause,
} from '#shared/domain/incident.ts';
import type { Notification } from '#shared/ports/notifier.ts';
import * as z from '#shared/zod.ts';
import {
  approveCommand,
  findingOf,
  headline,
  isoTime,
  NOTIFICATION_EVENTS,
  rejectCommand,
  SEVERITY_BY_EVENT,
  type Severity,
  timeToRecoverySeconds,
  truncate,
  wouldHave,
} from './common.ts';

/**
 * The versioned runbook message the watchdog publishes to SNS (and sends as EventBridge `detail`): what happened, what
 * was decided and done, and what a human should run next, with message attributes for subscription filter policies.
 *
 * Its JSON Schema is committed as `sns-message.schema.json` next to this file. Regenerate it after changing the schema
 * below: `npx tsx shared/notify/sns-message-schema.ts --write-schema`. A unit test fails when the committed file is
 * stale.
 *
 * No raw configuration ever goes out: an action's `input` (which may hold environment property values, i.e. secrets)
 * is never copied; actions carry only call, state, times, operation id and error.
 */

const keys = <K extends string>(record: Record<K, true>) => Object.keys(record) as [K, ...K[]];

/** Finding kinds (`Finding['kind']`); a `Record` keeps the list exhaustive at compile time. */
const FINDING_KINDS = keys<FindingKind>({
  RESTART_LOOP: true,
  STUCK_TRANSITION: true,
  DEPLOY_FAILED: true,
  ROLLED_BACK: true,
  UNEXPECTED_STATUS: true,
  CHECKPOINT_STALL: true,
  OBSERVATION_FAILED: true,
});
const REMEDIATION_KINDS = keys<RemediationKind>({
  ROLLBACK: true,
  FORCE_STOP_AND_RESTART: true,
  START: true,
  STOP: true,
  REAPPLY_PREVIOUS_VERSION: true,
});
const INCIDENT_STATUSES = keys<IncidentStatus>({
  REMEDIATING: true,
  RESOLVED: true,
  ESCALATED: true,
  NOTIFIED: true,
  OBSERVED: true,
});
const ACTION_STATES = keys<ActionRecord['state']>({ RECORDED: true, SUCCEEDED: true, FAILED: true });
const TRIGGER_SOURCES = keys<IncidentTrigger['source']>({
  alarm: true,
  schedule: true,
  cloudtrail: true,
  runbook: true,
});
const SEVERITIES = keys<Severity>({ critical: true, warning: true, info: true });
const APPROVAL_STATES = keys<ApprovalRecord['state']>({
  PENDING: true,
  APPROVED: true,
  REJECTED: true,
  TIMED_OUT: true,
  STALE: true,
});
const APPROVAL_CHANNELS = keys<ApprovalChannel>({ slack: true, 'amazon-q': true, cli: true, console: true });

const IsoTime = z.iso.datetime().check(z.describe('ISO 8601 UTC timestamp'));

/** `schema` with the `description` the generated JSON Schema shows (classic zod's `.describe()`). */
function described<T extends z.ZodMiniType>(schema: T, description: string): T {
  return schema.check(z.describe(description));
}

const RemediationRef = z.object({
  kind: z.enum(REMEDIATION_KINDS),
  description: described(z.string(), 'In words, e.g. "roll back from version 7 to version 6 (RollbackApplication)"'),
});

/** The runbook message, schema version 1 (JSON; times ISO 8601 UTC). */
export const WatchdogEventV1 = described(
  z.object({
    schemaVersion: z.literal(1),
    event: described(z.enum(NOTIFICATION_EVENTS), 'Lifecycle event'),
    at: described(IsoTime, 'When the event happened'),
    application: described(z.string().check(z.minLength(1)), 'MSF ApplicationName'),
    applicationArn: described(z.optional(z.string()), 'ApplicationARN, when the publisher knows it'),
    incidentId: z.string().check(z.minLength(1)),
    severity: described(
      z.enum(SEVERITIES),
      'critical: ESCALATED; warning: OPENED, ACTION_TAKEN, NOTIFIED, APPROVAL_REQUESTED, APPROVAL_ANSWERED, HELD; info: RESOLVED, OBSERVED',
    ),
    title: described(z.string(), 'One-line headline'),
    text: described(z.string(), 'The explanation, in the user’s terms'),
    nextSteps: described(z.array(z.string()), 'Exact commands (AWS CLI) or steps a human should run next'),
    trigger: z.object({
      source: z.enum(TRIGGER_SOURCES),
      detail: described(z.string(), 'Alarm name, schedule rule, CloudTrail eventName or runbook requester'),
      at: IsoTime,
    }),
    finding: z.optional(z.object({ kind: z.enum(FINDING_KINDS), summary: z.string() })),
    decision: z.object({
      verdict: z.enum(['REMEDIATE', 'NOTIFY', 'ESCALATE', 'NONE']),
      reason: z.string(),
      remediation: described(z.optional(RemediationRef), 'The remediation taken'),
      wouldHave: described(
        z.optional(RemediationRef),
        'What would have been done (observe mode, or blocked by a guard)',
      ),
    }),
    actions: described(
      z.array(
        z.object({
          seq: z.number().check(z.int()),
          call: described(z.string(), 'MSF operation, e.g. StopApplication'),
          state: z.enum(ACTION_STATES),
          recordedAt: IsoTime,
          completedAt: z.optional(IsoTime),
          operationId: z.optional(z.string()),
          error: z.optional(z.string()),
        }),
      ),
      'MSF calls made by this incident, oldest first (never their input)',
    ),
    actionsOmitted: described(
      z.optional(z.number().check(z.int(), z.positive())),
      'Older actions left out to fit the message size',
    ),
    outcome: z.object({
      status: z.enum(INCIDENT_STATUSES),
      reason: z.optional(z.string()),
      closedAt: z.optional(IsoTime),
    }),
    timeToRecoverySeconds: described(
      z.optional(z.number().check(z.int(), z.nonnegative())),
      'RESOLVED only: seconds from the trigger to the incident closing',
    ),
    approval: described(
      z.optional(
        z.object({
          state: described(
            z.enum(APPROVAL_STATES),
            'PENDING until answered; STALE: approved, but the application changed before acting (refused)',
          ),
          remediation: described(RemediationRef, 'What is (or was) put to people'),
          requestedAt: IsoTime,
          timeoutAt: described(IsoTime, 'When an unanswered request times out'),
          onTimeout: described(z.enum(['escalate', 'proceed']), 'What an unanswered request ends in'),
          answer: z.optional(
            z.object({
              decision: z.enum(['APPROVED', 'REJECTED']),
              by: described(z.string(), 'Who answered: slack:USER (name), an IAM caller ARN, or the console'),
              via: z.enum(APPROVAL_CHANNELS),
              at: IsoTime,
              reason: z.optional(z.string()),
            }),
          ),
          commands: described(
            z.optional(z.object({ approve: z.string(), reject: z.string() })),
            'PENDING only: the CLI commands that answer (reject: replace TEXT with the reason)',
          ),
        }),
      ),
      'approve mode: the approval request and its answer (never its task token)',
    ),
    hold: described(
      z.optional(
        z.object({
          kind: described(
            z.enum(['MAINTENANCE', 'CHANGE_FREEZE']),
            'MAINTENANCE: an MSF maintenance operation in progress; CHANGE_FREEZE: a CLOSED SSM Change Calendar',
          ),
          detail: z.string(),
          since: IsoTime,
          releasedAt: described(z.optional(IsoTime), 'When the hold ended; absent while it holds'),
        }),
      ),
      'What holds (or held) automatic remediation',
    ),
    rootCause: described(
      z.optional(
        z.object({
          exceptionClass: z.string(),
          message: z.string(),
          frames: described(z.array(z.string()), 'Top stack frames, at most 5'),
          logGroupName: z.string(),
          at: described(IsoTime, 'Timestamp of the log line with the exception'),
          source: z.enum(['logs-insights', 'filter-log-events']),
        }),
      ),
      "A restart loop's first failure, from the application's CloudWatch Logs",
    ),
    rootCauseNote: described(z.optional(z.string()), 'Why no root cause was found, when none was'),
    fleet: described(
      z.optional(
        z.object({
          status: z.enum(['OPEN', 'RESOLVED', 'ESCALATED']),
          applications: described(
            z.array(
              z.object({
                application: described(z.string(), 'Application key (the MSF ApplicationName at home)'),
                firstFailureAt: IsoTime,
                recoveredAt: z.optional(IsoTime),
              }),
            ),
            'The applications in a restart loop, earliest failure first',
          ),
          shared: described(
            z.object({
              sources: z.array(z.string()),
              sinks: z.array(z.string()),
              vpcs: z.array(z.string()),
              runtime: z.optional(z.string()),
            }),
            'What at least two of them share: names from environment properties, VPC, runtime',
          ),
          firstFailureAt: IsoTime,
          heldRestarts: described(
            z.number().check(z.int(), z.nonnegative()),
            'Applications whose automatic restart was held so far, count',
          ),
          limit: described(
            z.number().check(z.int()),
            'More loops within the window than this opened the fleet incident',
          ),
          watched: described(z.number().check(z.int()), 'Watched applications the limit was computed from'),
          windowMinutes: z.number().check(z.int()),
        }),
      ),
      'Set on a fleet incident (correlated restart loops): `incidentId` is the fleet incident, `application` the first to fail',
    ),
  }),
  'Flink Watchdog lifecycle event (schemaVersion 1)',
);
export type WatchdogEventV1 = z.infer<typeof WatchdogEventV1>;

/** One SNS message attribute (`MessageAttributeValue`); SNS rejects empty values, so none is ever empty. */
export interface SnsStringAttribute {
  DataType: 'String';
  StringValue: string;
}

/** Message attribute names, for subscription filter policies (`FilterPolicyScope: MessageAttributes`). */
export type SnsAttributeName =
  | 'severity'
  | 'application'
  | 'findingKind'
  | 'action'
  | 'outcome'
  | 'event'
  | 'incidentId';

/** What {@link renderSnsMessage} returns: Publish's `Message` (as an object), `Subject` and `MessageAttributes`. */
export interface SnsRendering {
  message: WatchdogEventV1;
  /** Publish `Subject`: printable ASCII, at most {@link SNS_SUBJECT_MAX} characters (for email subscriptions). */
  subject: string;
  /**
   * - `severity`: {@link Severity};
   * - `application`: ApplicationName;
   * - `findingKind`: the finding's kind, or `NONE`;
   * - `action`: the remediation's kind (`incident.remediation.kind`), or `NONE` when nothing was or will be done;
   * - `outcome`: the incident's status (REMEDIATING, RESOLVED, ESCALATED, NOTIFIED, OBSERVED);
   * - `event`: the lifecycle event;
   * - `incidentId`.
   */
  attributes: Record<SnsAttributeName, SnsStringAttribute>;
}

/** SNS Publish `Subject` limit, characters (SNS API reference: Publish, Subject). */
export const SNS_SUBJECT_MAX = 100;

/**
 * SNS message size limit, bytes: 256 KiB = 262,144 bytes including the message attributes' names, types and values
 * (SNS API reference: MessageAttributeValue). The rendering keeps message + attributes under it.
 */
export const SNS_MESSAGE_MAX_BYTES = 262_144;

/** Per-field caps that keep ordinary messages far below {@link SNS_MESSAGE_MAX_BYTES}, characters or items. */
export const SNS_FIELD_LIMITS = {
  title: 500,
  text: 10_000,
  reason: 10_000,
  findingSummary: 4_000,
  nextSteps: 20,
  nextStep: 2_000,
  /** Newest actions kept; older ones are counted in `actionsOmitted`. */
  actions: 100,
  actionError: 2_000,
} as const;

/** Options of {@link renderSnsMessage}. */
export interface SnsRenderOptions {
  /** The application's ARN, when known (see `applicationArn` in links.ts). */
  applicationArn?: string;
}

/**
 * The {@link WatchdogEventV1} of a notification, with message attributes and a subject. Pure and deterministic.
 * Fields are capped ({@link SNS_FIELD_LIMITS}); if the JSON still exceeds {@link SNS_MESSAGE_MAX_BYTES}, older actions
 * are dropped and then the free texts shortened until it fits.
 */
export function renderSnsMessage(n: Notification, options: SnsRenderOptions = {}): SnsRendering {
  const attributes = snsAttributes(n);
  const attributeBytes = Object.entries(attributes).reduce(
    (sum, [name, a]) => sum + byteLength(name) + byteLength(a.DataType) + byteLength(a.StringValue),
    0,
  );
  let message = watchdogEvent(n, options, SNS_FIELD_LIMITS.actions, 1);
  for (const [actions, shrink] of [
    [10, 1],
    [0, 1],
    [0, 10],
    [0, 100],
  ] as const) {
    if (byteLength(JSON.stringify(message)) + attributeBytes <= SNS_MESSAGE_MAX_BYTES) break;
    message = watchdogEvent(n, options, actions, shrink);
  }
  // Cut first, then make it printable ASCII: the truncation marker's "…" must not survive either.
  const subject = truncate(message.title, SNS_SUBJECT_MAX).replace(/[^\x20-\x7e]/g, '-');
  return { message, subject, attributes };
}

/** The message attributes of a notification (see {@link SnsRendering.attributes}). */
export function snsAttributes(n: Notification): Record<SnsAttributeName, SnsStringAttribute> {
  const s = (StringValue: string): SnsStringAttribute => ({ DataType: 'String', StringValue });
  return {
    severity: s(SEVERITY_BY_EVENT[n.event]),
    application: s(n.incident.applicationName),
    findingKind: s(findingOf(n)?.kind ?? 'NONE'),
    action: s(n.incident.remediation?.kind ?? 'NONE'),
    outcome: s(n.incident.status),
    event: s(n.event),
    incidentId: s(n.incident.id),
  };
}

/**
 * Builds the event; `maxActions` newest actions are kept and every free text is capped at its limit divided by
 * `shrink` (used only to fit pathological inputs into the SNS size limit).
 */
function watchdogEvent(
  n: Notification,
  options: SnsRenderOptions,
  maxActions: number,
  shrink: number,
): WatchdogEventV1 {
  const i = n.incident;
  const cap = (text: string, limit: number) => truncate(text, Math.max(100, Math.floor(limit / shrink)));
  const finding = findingOf(n);
  const held = wouldHave(n);
  const kept = maxActions > 0 ? i.actions.slice(-maxActions) : [];
  const omitted = i.actions.length - kept.length;
  const ttr = timeToRecoverySeconds(n);
  const ref = (a: RemediationAction) => ({ kind: a.kind, description: describeRemediation(a) });
  return {
    schemaVersion: 1,
    event: n.event,
    at: isoTime(n.atMs),
    application: i.applicationName,
    ...(options.applicationArn ? { applicationArn: options.applicationArn } : {}),
    incidentId: i.id,
    severity: SEVERITY_BY_EVENT[n.event],
    title: cap(headline(n), SNS_FIELD_LIMITS.title),
    text: cap(n.text, SNS_FIELD_LIMITS.text),
    nextSteps: n.nextSteps.slice(0, SNS_FIELD_LIMITS.nextSteps).map((s) => cap(s, SNS_FIELD_LIMITS.nextStep)),
    trigger: { source: i.trigger.source, detail: i.trigger.detail, at: isoTime(i.trigger.atMs) },
    ...(finding
      ? { finding: { kind: finding.kind, summary: cap(finding.summary, SNS_FIELD_LIMITS.findingSummary) } }
      : {}),
    decision: {
      verdict: i.decision.verdict,
      reason: cap(i.decision.reason, SNS_FIELD_LIMITS.reason),
      ...(i.remediation ? { remediation: ref(i.remediation) } : {}),
      ...(held ? { wouldHave: ref(held.action) } : {}),
    },
    actions: kept.map((a) => ({
      seq: a.seq,
      call: a.call,
      state: a.state,
      recordedAt: isoTime(a.recordedMs),
      ...(a.completedMs !== undefined ? { completedAt: isoTime(a.completedMs) } : {}),
      ...(a.operationId !== undefined ? { operationId: a.operationId } : {}),
      ...(a.error !== undefined ? { error: cap(a.error, SNS_FIELD_LIMITS.actionError) } : {}),
    })),
    ...(omitted > 0 ? { actionsOmitted: omitted } : {}),
    outcome: {
      status: i.status,
      ...(i.outcomeReason !== undefined ? { reason: cap(i.outcomeReason, SNS_FIELD_LIMITS.reason) } : {}),
      ...(i.closedMs !== undefined ? { closedAt: isoTime(i.closedMs) } : {}),
    },
    ...(ttr !== undefined ? { timeToRecoverySeconds: ttr } : {}),
    ...(i.approval ? { approval: approvalPart(i, i.approval, (t) => cap(t, SNS_FIELD_LIMITS.reason)) } : {}),
    ...(i.hold ? { hold: holdPart(i.hold, (t) => cap(t, SNS_FIELD_LIMITS.reason)) } : {}),
    ...(i.rootCause ? { rootCause: rootCausePart(i.rootCause, (t) => cap(t, SNS_FIELD_LIMITS.findingSummary)) } : {}),
    ...(i.rootCauseNote !== undefined ? { rootCauseNote: cap(i.rootCauseNote, SNS_FIELD_LIMITS.reason) } : {}),
    ...(n.fleet ? { fleet: fleetPart(n.fleet) } : {}),
  };
}

/** The `approval` part: state, what is put to people, times, the answer, the CLI commands while PENDING; no task token. */
function approvalPart(
  i: Incident,
  a: ApprovalRecord,
  cap: (text: string) => string,
): NonNullable<WatchdogEventV1['approval']> {
  return {
    state: a.state,
    remediation: { kind: a.action.kind, description: describeRemediation(a.action) },
    requestedAt: isoTime(a.requestedMs),
    timeoutAt: isoTime(a.timeoutMs),
    onTimeout: a.onTimeout,
    ...(a.answer
      ? {
          answer: {
            decision: a.answer.decision,
            by: cap(a.answer.by),
            via: a.answer.via,
            at: isoTime(a.answer.atMs),
            ...(a.answer.reason !== undefined ? { reason: cap(a.answer.reason) } : {}),
          },
        }
      : {}),
    ...(a.state === 'PENDING' ? { commands: { approve: approveCommand(i.id), reject: rejectCommand(i.id) } } : {}),
  };
}

function holdPart(h: HoldRecord, cap: (text: string) => string): NonNullable<WatchdogEventV1['hold']> {
  return {
    kind: h.kind,
    detail: cap(h.detail),
    since: isoTime(h.sinceMs),
    ...(h.releasedMs !== undefined ? { releasedAt: isoTime(h.releasedMs) } : {}),
  };
}

function rootCausePart(r: RootCause, cap: (text: string) => string): NonNullable<WatchdogEventV1['rootCause']> {
  return {
    exceptionClass: cap(r.exceptionClass),
    message: cap(r.message),
    frames: r.frames.slice(0, 5).map(cap),
    logGroupName: r.logGroupName,
    at: isoTime(r.atMs),
    source: r.source,
  };
}

/** The `fleet` part of the event (every member; 1,000 applications stay far below the SNS size limit). */
function fleetPart(f: FleetIncident): NonNullable<WatchdogEventV1['fleet']> {
  return {
    status: f.status,
    applications: [...f.members]
      .sort((a, b) => a.firstFailureMs - b.firstFailureMs)
      .map((m) => ({
        application: m.applicationName,
        firstFailureAt: isoTime(m.firstFailureMs),
        ...(m.recoveredMs !== undefined ? { recoveredAt: isoTime(m.recoveredMs) } : {}),
      })),
    shared: {
      sources: f.shared.sources,
      sinks: f.shared.sinks,
      vpcs: f.shared.vpcs,
      ...(f.shared.runtime ? { runtime: f.shared.runtime } : {}),
    },
    firstFailureAt: isoTime(f.firstFailureMs),
    heldRestarts: new Set(f.held.map((h) => h.applicationName)).size,
    limit: f.limit,
    watched: f.watched,
    windowMinutes: f.windowMinutes,
  };
}

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}
