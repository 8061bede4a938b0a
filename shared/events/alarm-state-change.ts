import * as z from '#shared/zod.ts';

/** `detail-type` of the event CloudWatch puts on the default EventBridge bus when an alarm changes state. */
export const ALARM_STATE_CHANGE_DETAIL_TYPE = 'CloudWatch Alarm State Change';

/** Alarm states, as in CloudWatch's `StateValue`. */
export const AlarmStateValue = z.enum(['OK', 'ALARM', 'INSUFFICIENT_DATA']);
export type AlarmStateValue = z.infer<typeof AlarmStateValue>;

const AlarmState = z.object({
  value: AlarmStateValue,
  reason: z.string(),
  reasonData: z.optional(z.string()),
  /** ISO-8601 timestamp, e.g. `2026-03-02T14:07:00.000+0000`. */
  timestamp: z.string(),
});

/** One entry of `detail.configuration.metrics[]`: a metric statistic or a metric-math expression. */
export const AlarmEventMetric = z.object({
  id: z.string(),
  metricStat: z.optional(
    z.object({
      metric: z.object({
        namespace: z.string(),
        name: z.string(),
        dimensions: z._default(z.record(z.string(), z.string()), {}),
      }),
      /** Seconds. */
      period: z.number().check(z.int(), z.positive()),
      stat: z.string(),
    }),
  ),
  expression: z.optional(z.string()),
  label: z.optional(z.string()),
  returnData: z.optional(z.boolean()),
});
export type AlarmEventMetric = z.infer<typeof AlarmEventMetric>;

/**
 * "CloudWatch Alarm State Change" EventBridge event, source `aws.cloudwatch`.
 * Shape from the CloudWatch User Guide, "Alarm events and EventBridge".
 */
export const AlarmStateChangeEvent = z.object({
  version: z.string(),
  id: z.string(),
  'detail-type': z.literal(ALARM_STATE_CHANGE_DETAIL_TYPE),
  source: z.literal('aws.cloudwatch'),
  account: z.string(),
  /** ISO-8601 time the event was emitted. */
  time: z.string(),
  region: z.string(),
  /** The alarm ARN. */
  resources: z.array(z.string()),
  detail: z.object({
    alarmName: z.string(),
    configuration: z.object({
      description: z.optional(z.string()),
      metrics: z._default(z.array(AlarmEventMetric), []),
    }),
    previousState: AlarmState,
    state: AlarmState,
  }),
});
export type AlarmStateChangeEvent = z.infer<typeof AlarmStateChangeEvent>;
