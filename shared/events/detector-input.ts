import { WATCHDOG_USER_AGENT } from '#shared/adapters/msf.ts';
import { applicationKey, type HomeCell } from '#shared/domain/app-key.ts';
import type { Signal } from '#shared/domain/detector.ts';
import { WatchInput } from '#shared/domain/watch.ts';
import * as z from '#shared/zod.ts';
import { ALARM_STATE_CHANGE_DETAIL_TYPE, AlarmStateChangeEvent } from './alarm-state-change.ts';
import { CLOUDTRAIL_API_CALL_DETAIL_TYPE, MSF_CHANGE_EVENT_NAMES, MsfCloudTrailEvent } from './cloudtrail.ts';
import {
  ABNORMAL_EXECUTION_STATUSES,
  EXECUTION_STATUS_CHANGE_DETAIL_TYPE,
  ExecutionStatusChangeEvent,
} from './execution-status-change.ts';

/** EventBridge scheduled event (`detail-type` "Scheduled Event", source aws.events): the periodic sweep. */
export const ScheduledEvent = z.object({
  'detail-type': z.literal('Scheduled Event'),
  source: z.literal('aws.events'),
  /** The rule ARN. */
  resources: z._default(z.array(z.string()), []),
  time: z.string(),
});

/**
 * An application key as the sweep passes it: an MSF ApplicationName (`[a-zA-Z0-9_.-]`, 1-128 characters, the
 * CreateApplication `ApplicationName` pattern of the Kinesis Analytics V2 API model), optionally `@ACCOUNT.REGION`.
 */
const ApplicationKey = z
  .string()
  .check(
    z.regex(
      /^[a-zA-Z0-9_.-]{1,128}(@\d{12}\.[a-z]{2}(-[a-z]+)+-\d+)?$/,
      'an application key: the MSF ApplicationName, or NAME@ACCOUNT.REGION for another account',
    ),
  );

/**
 * The sweep state machine's input to the detector (infra/sweep-workflow.ts): `{"sweep":{"phase":"plan"}}` for the
 * Plan Task, `{"sweep":{"phase":"look","applications":[KEY,...]}}` for each LookBatch of the Distributed Map (at most
 * 100 keys: `fleet.sweep.batchSize` is at most 100).
 */
export const SweepInput = z.strictObject({
  sweep: z.discriminatedUnion('phase', [
    z.strictObject({ phase: z.literal('plan') }),
    z.strictObject({
      phase: z.literal('look'),
      applications: z.array(ApplicationKey).check(z.minLength(1), z.maxLength(100)),
    }),
  ]),
});
export type SweepInput = z.infer<typeof SweepInput>;

/** The dimension MSF metrics carry the application name in. */
export const APPLICATION_DIMENSION = 'Application';

/** Result of reading a detector event: the signals to handle, or why the event was rejected. */
export type ParsedDetectorEvent =
  | { ok: true; kind: 'alarm'; signals: Signal[] }
  /** An MSF API call; no signal for the watchdog's own calls, failed calls and read-only calls (`ignored` says why). */
  | { ok: true; kind: 'cloudtrail'; signals: Signal[]; ignored?: string }
  /** A remediation workflow execution ended FAILED, TIMED_OUT or ABORTED; its name is the incident id. */
  | { ok: true; kind: 'workflow-ended'; incidentId: string; status: string; error?: string }
  | { ok: true; kind: 'schedule'; rule: string }
  /** The sweep's Plan step (`{"sweep":{"phase":"plan"}}`). */
  | { ok: true; kind: 'sweep-plan' }
  /** One LookBatch of the sweep (`{"sweep":{"phase":"look","applications":[...]}}`): application keys. */
  | { ok: true; kind: 'sweep-look'; applications: string[] }
  /** One check of a watch: the watch workflow's Check Task invokes the detector with `{"watch": {...}, ...}`. */
  | { ok: true; kind: 'watch'; input: WatchInput }
  | { ok: false; error: string };

/**
 * Reads an event for the detector: a "CloudWatch Alarm State Change", a "Scheduled Event", an MSF "AWS API Call
 * via CloudTrail" (optional rule; it makes the detector look at the application at once), a watch check
 * (`{"watch": …}`, from the watch workflow; shared/domain/watch.ts), or a step of the sweep state machine
 * (`{"sweep": …}`, {@link SweepInput}). Malformed events,
 * alarms without an `Application` dimension and alarms naming several applications are rejected with a reason that
 * names the field: nothing downstream runs for them.
 *
 * @param home the watchdog's own account and Region: an alarm event from another account or Region (a member stack
 *   forwards them) names its application by key, `NAME@ACCOUNT.REGION` (event fields `account`, `region`). Without it,
 *   alarm applications are bare names.
 */
export function parseDetectorEvent(event: unknown, home?: HomeCell): ParsedDetectorEvent {
  if (typeof event === 'object' && event !== null && 'sweep' in event) {
    const s = SweepInput.safeParse(event);
    if (!s.success) {
      return {
        ok: false,
        error: `malformed sweep step: ${formatIssues(s.error)}; the sweep state machine passes {"sweep":{"phase":"plan"}} or {"sweep":{"phase":"look","applications":["<application key>",...]}}`,
      };
    }
    return s.data.sweep.phase === 'plan'
      ? { ok: true, kind: 'sweep-plan' }
      : { ok: true, kind: 'sweep-look', applications: s.data.sweep.applications };
  }
  if (typeof event === 'object' && event !== null && 'watch' in event) {
    const w = WatchInput.safeParse(event);
    if (!w.success) {
      return {
        ok: false,
        error: `malformed watch check: ${formatIssues(w.error)}; the watch workflow passes {"watch": {...}, "done": false, "waitSeconds": N} as the watchdog started it`,
      };
    }
    return { ok: true, kind: 'watch', input: w.data };
  }
  const detailType = (event as { 'detail-type'?: unknown } | null)?.['detail-type'];
  if (detailType === 'Scheduled Event') {
    const s = ScheduledEvent.safeParse(event);
    if (!s.success) return { ok: false, error: `malformed Scheduled Event: ${formatIssues(s.error)}` };
    return { ok: true, kind: 'schedule', rule: s.data.resources[0] ?? 'schedule' };
  }
  if (detailType === CLOUDTRAIL_API_CALL_DETAIL_TYPE) return parseCloudTrail(event, home);
  if (detailType === EXECUTION_STATUS_CHANGE_DETAIL_TYPE) {
    const x = ExecutionStatusChangeEvent.safeParse(event);
    if (!x.success)
      return { ok: false, error: `malformed ${EXECUTION_STATUS_CHANGE_DETAIL_TYPE} event: ${formatIssues(x.error)}` };
    const d = x.data.detail;
    if (!(ABNORMAL_EXECUTION_STATUSES as readonly string[]).includes(d.status)) {
      return {
        ok: false,
        error: `${EXECUTION_STATUS_CHANGE_DETAIL_TYPE} with status ${d.status}: only ${ABNORMAL_EXECUTION_STATUSES.join(', ')} are handled`,
      };
    }
    return {
      ok: true,
      kind: 'workflow-ended',
      incidentId: d.name,
      status: d.status,
      ...(d.error ? { error: `${d.error}${d.cause ? `: ${d.cause}` : ''}` } : {}),
    };
  }
  if (detailType !== ALARM_STATE_CHANGE_DETAIL_TYPE) {
    return {
      ok: false,
      error: `unsupported event: detail-type is ${JSON.stringify(detailType)}; expected "${ALARM_STATE_CHANGE_DETAIL_TYPE}", "Scheduled Event", "${CLOUDTRAIL_API_CALL_DETAIL_TYPE}" or "${EXECUTION_STATUS_CHANGE_DETAIL_TYPE}"`,
    };
  }
  const parsed = AlarmStateChangeEvent.safeParse(event);
  if (!parsed.success)
    return { ok: false, error: `malformed ${ALARM_STATE_CHANGE_DETAIL_TYPE} event: ${formatIssues(parsed.error)}` };
  const e = parsed.data;
  const apps = new Set<string>();
  for (const m of e.detail.configuration.metrics) {
    const v = m.metricStat?.metric.dimensions[APPLICATION_DIMENSION];
    if (v) apps.add(v);
  }
  if (apps.size === 0) {
    return {
      ok: false,
      error: `alarm ${e.detail.alarmName} has no "${APPLICATION_DIMENSION}" dimension in detail.configuration.metrics[].metricStat.metric.dimensions: the watchdog only handles alarms on MSF application metrics (namespace AWS/KinesisAnalytics, dimension Application)`,
    };
  }
  if (apps.size > 1) {
    return {
      ok: false,
      error: `alarm ${e.detail.alarmName} names several applications (${[...apps].join(', ')}): use one alarm per application`,
    };
  }
  const [name] = [...apps] as [string];
  const applicationName = home ? applicationKey({ name, accountId: e.account, region: e.region }, home) : name;
  return {
    ok: true,
    kind: 'alarm',
    signals: [
      {
        source: 'alarm',
        applicationName,
        alarmName: e.detail.alarmName,
        stateValue: e.detail.state.value,
        stateTimestamp: e.detail.state.timestamp,
      },
    ],
  };
}

/**
 * An MSF CloudTrail event as a signal. Every EventBridge event carries the `account` and `region` it happened in (kept
 * when a member stack's rule forwards it to the central bus, https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html):
 * with `home` given, an application elsewhere is named by key.
 */
function parseCloudTrail(event: unknown, home?: HomeCell): ParsedDetectorEvent {
  const parsed = MsfCloudTrailEvent.safeParse(event);
  if (!parsed.success) {
    return { ok: false, error: `malformed ${CLOUDTRAIL_API_CALL_DETAIL_TYPE} event: ${formatIssues(parsed.error)}` };
  }
  const d = parsed.data.detail;
  const none = (ignored: string): ParsedDetectorEvent => ({ ok: true, kind: 'cloudtrail', signals: [], ignored });
  const where = event as { account?: unknown; region?: unknown };
  const qualified = (name: string): string =>
    home && typeof where.account === 'string' && typeof where.region === 'string'
      ? applicationKey({ name, accountId: where.account, region: where.region }, home)
      : name;
  if (!(MSF_CHANGE_EVENT_NAMES as readonly string[]).includes(d.eventName)) {
    return none(`${d.eventName} does not change an application`);
  }
  if (d.errorCode) return none(`${d.eventName} failed (${d.errorCode}): nothing changed`);
  // The watchdog's own calls are followed by its workflow already; re-checking them would feed back on itself.
  if (d.userAgent?.includes(WATCHDOG_USER_AGENT[0])) return none(`${d.eventName} was the watchdog's own call`);
  if (!d.requestParameters) {
    return { ok: false, error: `${d.eventName} event without detail.requestParameters.applicationName` };
  }
  return {
    ok: true,
    kind: 'cloudtrail',
    signals: [
      { source: 'cloudtrail', applicationName: qualified(d.requestParameters.applicationName), eventName: d.eventName },
    ],
  };
}

function formatIssues(error: z.core.$ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}
