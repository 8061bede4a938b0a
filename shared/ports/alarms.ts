import type { AlarmSpec } from '#shared/alarms.ts';

/** What defines an alarm's behaviour: the fields of {@link AlarmSpec} that PutMetricAlarm sets. */
export type AlarmDefinition = Pick<
  AlarmSpec,
  | 'description'
  | 'queries'
  | 'threshold'
  | 'comparisonOperator'
  | 'evaluationPeriods'
  | 'datapointsToAlarm'
  | 'treatMissingData'
>;

/** A metric alarm as DescribeAlarms returns it (`MetricAlarm`), in the watchdog's terms. */
export interface ExistingAlarm {
  /** `AlarmName`. */
  alarmName: string;
  /** `AlarmArn`: what ListTagsForResource takes. */
  alarmArn: string;
  /** `StateValue`. */
  stateValue: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
  /** The value of the `Application` dimension of its metrics (the bare MSF ApplicationName), when it has one. */
  applicationName?: string;
  /**
   * Its definition as CloudWatch holds it (`AlarmDescription`, `Metrics`, `Threshold`, …), to tell an outdated alarm
   * (e.g. the runtime changed, so the restart metric did) from a current one. A metric outside the
   * AWS/KinesisAnalytics namespace keeps its namespace in `metricName` (`Namespace:MetricName`), so it never equals a
   * spec's.
   */
  definition: AlarmDefinition;
}

/**
 * The CloudWatch alarm API in one account and Region (one cell), as the alarm manager uses it. Implemented by
 * shared/adapters/cloudwatch-alarms.ts; a router for member accounts implements it per cell. Throws on API errors.
 */
export interface AlarmsPort {
  /** DescribeAlarms with AlarmNamePrefix `prefix`, metric alarms only, every page (MaxRecords 100, the maximum). */
  describeAlarms(prefix: string): Promise<ExistingAlarm[]>;
  /** PutMetricAlarm of `spec` with the tag `flink-watchdog:instance` = `instance` (applied on creation only). */
  putAlarm(spec: AlarmSpec, instance: string): Promise<void>;
  /** DeleteAlarms, at most 100 names per call (the API's `AlarmNames` maximum). */
  deleteAlarms(names: readonly string[]): Promise<void>;
  /** ListTagsForResource of an alarm ARN: tag key → value. */
  alarmTags(alarmArn: string): Promise<Record<string, string>>;
}
