import { z } from 'zod';
import type { Signal } from '#shared/domain/detector.ts';
import { ALARM_STATE_CHANGE_DETAIL_TYPE, AlarmStateChangeEvent } from './alarm-state-change.ts';

/** EventBridge scheduled event (`detail-type` "Scheduled Event", source aws.events): the periodic sweep. */
export const ScheduledEvent = z.object({
  'detail-type': z.literal('Scheduled Event'),
  source: z.literal('aws.events'),
  /** The rule ARN. */
  resources: z.array(z.string()).default([]),
  time: z.string(),
});

/** The dimension MSF metrics carry the application name in. */
export const APPLICATION_DIMENSION = 'Application';

/** Result of reading a detector event: the signals to handle, or why the event was rejected. */
export type ParsedDetectorEvent =
  | { ok: true; kind: 'alarm'; signals: Signal[] }
  | { ok: true; kind: 'schedule'; rule: string }
  | { ok: false; error: string };

/**
 * Reads an event for the detector: a "CloudWatch Alarm State Change" or a "Scheduled Event". Malformed events,
 * alarms without an `Application` dimension and alarms naming several applications are rejected with a reason that
 * names the field: nothing downstream runs for them.
 */
export function parseDetectorEvent(event: unknown): ParsedDetectorEvent {
  const detailType = (event as { 'detail-type'?: unknown } | null)?.['detail-type'];
  if (detailType === 'Scheduled Event') {
    const s = ScheduledEvent.safeParse(event);
    if (!s.success) return { ok: false, error: `malformed Scheduled Event: ${formatIssues(s.error)}` };
    return { ok: true, kind: 'schedule', rule: s.data.resources[0] ?? 'schedule' };
  }
  if (detailType !== ALARM_STATE_CHANGE_DETAIL_TYPE) {
    return {
      ok: false,
      error: `unsupported event: detail-type is ${JSON.stringify(detailType)}; expected "${ALARM_STATE_CHANGE_DETAIL_TYPE}" or "Scheduled Event"`,
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
  const [applicationName] = [...apps] as [string];
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

function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}
