import type { PolicySettings } from '#shared/config/schema.ts';
import { applicationNameOf } from '#shared/domain/app-key.ts';
import { restartMetricName } from '#shared/domain/model.ts';

/** Namespace and dimension of MSF metrics (MSF developer guide, "Metrics and dimensions"). */
export const MSF_METRIC_NAMESPACE = 'AWS/KinesisAnalytics';

/**
 * Family prefix of every alarm any watchdog stack owns. One stack's alarms are under {@link alarmPrefix} of its
 * instance; its EventBridge rule matches that narrower prefix.
 */
export const ALARM_PREFIX = 'flink-watchdog-';

/**
 * Tag key every alarm the watchdog creates carries, its value the instance id (PutMetricAlarm `Tags`). The alarm
 * manager deletes or rewrites only alarms under its prefix that carry its own instance in this tag: an alarm of
 * another stack whose instance id extends this one's (instance `a` and `a-b` share the prefix `flink-watchdog-a-`)
 * or an alarm someone created by hand is never touched.
 */
export const ALARM_TAG_KEY = 'flink-watchdog:instance';

/** Instance id when none is configured (tests, local runs). */
export const DEFAULT_INSTANCE = 'default';

/**
 * What an instance id may be: 1-32 letters and digits (`[A-Za-z0-9]`). It is part of alarm names and IAM ARNs, and
 * has no `-`, so the prefix of one instance (`flink-watchdog-a-`) is never the start of another's (`flink-watchdog-a-b-`
 * would be, with `-` allowed): two stacks in one account never receive each other's alarm events.
 */
export const INSTANCE_PATTERN = /^[A-Za-z0-9]{1,32}$/;

/** An instance id that cannot name alarms. */
export class InvalidInstanceError extends Error {
  override readonly name = 'InvalidInstanceError';
  constructor(readonly instance: string) {
    super(
      `invalid watchdog instance ${JSON.stringify(instance)} (WATCHDOG_INSTANCE): use 1-32 letters and digits ([A-Za-z0-9]), e.g. "prodeu"`,
    );
  }
}

/**
 * Prefix of the alarms of one watchdog instance: `flink-watchdog-<instance>-`.
 * @throws InvalidInstanceError when the instance is not 1-32 letters and digits (`[A-Za-z0-9]`).
 */
export function alarmPrefix(instance: string): string {
  if (!INSTANCE_PATTERN.test(instance)) throw new InvalidInstanceError(instance);
  return `${ALARM_PREFIX}${instance}-`;
}

/** Which alarms, and for which instance. */
export interface AlarmOptions {
  /** The watchdog instance (env WATCHDOG_INSTANCE): part of every alarm name and the value of its tag. */
  instance: string;
  /** Also the downtime alarm (config `fleet.alarms.downtime`). */
  downtime: boolean;
}

/** One metric or expression of an alarm (PutMetricAlarm `Metrics[]`, plain data). */
export interface AlarmQuery {
  id: string;
  metric?: { metricName: string; dimensions: Record<string, string>; stat: string; periodSeconds: number };
  expression?: string;
  label?: string;
  returnData: boolean;
}

/** A CloudWatch alarm the watchdog needs per application; the alarm manager (shared/domain/alarm-manager.ts) creates it. */
export interface AlarmSpec {
  alarmName: string;
  /**
   * The application key (shared/domain/app-key.ts) the alarm watches. The alarm lives in that application's account
   * and Region; its name and its `Application` dimension carry the bare MSF ApplicationName.
   */
  applicationKey: string;
  kind: 'restart-loop' | 'downtime' | 'failed-checkpoints';
  description: string;
  queries: AlarmQuery[];
  threshold: number;
  comparisonOperator: 'GreaterThanThreshold';
  /** Periods of 60 s looked at, count. */
  evaluationPeriods: number;
  /** Breaching periods among them that raise the alarm, count. */
  datapointsToAlarm: number;
  treatMissingData: 'notBreaching' | 'breaching' | 'missing' | 'ignore';
}

/**
 * The watchdog's alarms for one application (by application key), named `flink-watchdog-<instance>-<app name>-<kind>`:
 * - restart: DIFF of the cumulative restart counter (fullRestarts; numRestarts on FLINK-2_x) > 0 in 1 of 1 minute,
 *   i.e. ANY restart. It only wakes the detector, which counts restarts exactly with GetMetricData: a policy of N
 *   restarts in W minutes means N restarts, however they fall into minutes (an M-of-N alarm counts minutes that had a
 *   restart, so 5 restarts within 2 minutes would never reach a threshold of 5). Below the threshold the detector
 *   starts a watch that looks again every minute (shared/domain/watch.ts); a restart that keeps the alarm in ALARM
 *   sends no new event, which is why the watch, not the alarm, follows the loop. A counter reset (new submission)
 *   gives a negative DIFF, which does not breach. Missing data is not breaching: with 1 of 1, CloudWatch evaluates
 *   the most recent real datapoint of its evaluation range, and with none there the alarm goes (or stays) OK
 *   (CloudWatch User Guide, "How alarm state is evaluated when data is missing",
 *   https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html). A datapoint that
 *   arrives late is still evaluated if it is the most recent real one at an evaluation; a restart minute that is
 *   overtaken by a newer datapoint before any evaluation sees it wakes nobody (the sweep still counts it).
 * - downtime > 0 for 3 consecutive minutes; missing data is breaching, because an application that is not running
 *   publishes nothing (the detector then compares with the desired status before doing anything). Created on every
 *   runtime: on FLINK-2_x `uptime` and `downtime` are deprecated but still published ("Flink 2.2 metric changes",
 *   https://docs.aws.amazon.com/managed-flink/latest/java/metrics-dimensions.html).
 * - failed checkpoints: DIFF(numberOfFailedCheckpoints) > 0 in 1 of 1 minute, i.e. ANY failed checkpoint, missing
 *   data not breaching, exactly as the restart alarm above (same missing-data rule, same User Guide page). It only
 *   wakes the detector: a CHECKPOINT_STALL needs failures beyond the policy's threshold within the stall window
 *   (shared/domain/detect.ts `checkpointStall`), so below it the detector starts a `checkpoints` watch that looks again
 *   every minute until the stall is confirmed or a checkpoint completes (shared/domain/watch.ts). Failures in
 *   consecutive minutes keep the alarm in ALARM and send no new event; a minute without a new failure (DIFF 0, a real
 *   datapoint) sets it back to OK, so the next failure after it wakes the detector again. A new job's counter starts
 *   at 0: the negative DIFF does not breach.
 */
export function alarmsFor(
  applicationKey: string,
  runtimeEnvironment: string,
  policy: PolicySettings,
  options: AlarmOptions,
): AlarmSpec[] {
  const applicationName = applicationNameOf(applicationKey);
  const prefix = `${alarmPrefix(options.instance)}${applicationName}`;
  const dims = { Application: applicationName };
  const restart = restartMetricName(runtimeEnvironment);
  const window = policy.restartLoop.windowMinutes;
  const all: AlarmSpec[] = [
    {
      alarmName: `${prefix}-restart-loop`,
      applicationKey,
      kind: 'restart-loop',
      description: `Flink Watchdog: ${applicationName} restarted (${restart} rose); the detector counts restarts exactly (restart loop: ${policy.restartLoop.threshold} in ${window} min)`,
      queries: [
        {
          id: 'restarts',
          metric: { metricName: restart, dimensions: dims, stat: 'Maximum', periodSeconds: 60 },
          returnData: false,
        },
        { id: 'newRestarts', expression: 'DIFF(restarts)', label: `new ${restart} per minute`, returnData: true },
      ],
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: 'notBreaching',
    },
    {
      alarmName: `${prefix}-downtime`,
      applicationKey,
      kind: 'downtime',
      description: `Flink Watchdog: ${applicationName} job down (downtime > 0) for 3 minutes, or not publishing metrics`,
      queries: [
        {
          id: 'downtime',
          metric: { metricName: 'downtime', dimensions: dims, stat: 'Maximum', periodSeconds: 60 },
          returnData: true,
        },
      ],
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      treatMissingData: 'breaching',
    },
    {
      alarmName: `${prefix}-failed-checkpoints`,
      applicationKey,
      kind: 'failed-checkpoints',
      description: `Flink Watchdog: ${applicationName} checkpoint failed (numberOfFailedCheckpoints rose); the detector follows failures until a checkpoint stall is confirmed or a checkpoint completes`,
      queries: [
        {
          id: 'failed',
          metric: { metricName: 'numberOfFailedCheckpoints', dimensions: dims, stat: 'Maximum', periodSeconds: 60 },
          returnData: false,
        },
        { id: 'newFailed', expression: 'DIFF(failed)', label: 'new failed checkpoints per minute', returnData: true },
      ],
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: 'notBreaching',
    },
  ];
  return options.downtime ? all : all.filter((a) => a.kind !== 'downtime');
}

/**
 * An alarm spec as the CloudWatch PutMetricAlarm API takes it (field names of the API reference,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html): what the drill sends to the
 * emulator, and what `aws cloudwatch put-metric-alarm --cli-input-json` accepts. Plain data, no SDK types.
 * `Tags` carries {@link ALARM_TAG_KEY} = `instance`; CloudWatch applies tags only when it creates the alarm ("If you
 * are using this operation to update an existing alarm, any tags you specify in this parameter are ignored", same page).
 */
export function putMetricAlarmInput(
  a: AlarmSpec,
  instance: string,
): {
  AlarmName: string;
  AlarmDescription: string;
  Metrics: Array<{
    Id: string;
    ReturnData: boolean;
    Label?: string;
    Expression?: string;
    MetricStat?: {
      Metric: { Namespace: string; MetricName: string; Dimensions: Array<{ Name: string; Value: string }> };
      /** Seconds. */
      Period: number;
      Stat: string;
    };
  }>;
  Threshold: number;
  ComparisonOperator: AlarmSpec['comparisonOperator'];
  EvaluationPeriods: number;
  DatapointsToAlarm: number;
  TreatMissingData: AlarmSpec['treatMissingData'];
  Tags: Array<{ Key: string; Value: string }>;
} {
  return {
    AlarmName: a.alarmName,
    AlarmDescription: a.description,
    Metrics: a.queries.map((q) => ({
      Id: q.id,
      ReturnData: q.returnData,
      ...(q.label ? { Label: q.label } : {}),
      ...(q.expression ? { Expression: q.expression } : {}),
      ...(q.metric
        ? {
            MetricStat: {
              Metric: {
                Namespace: MSF_METRIC_NAMESPACE,
                MetricName: q.metric.metricName,
                Dimensions: Object.entries(q.metric.dimensions).map(([Name, Value]) => ({ Name, Value })),
              },
              Period: q.metric.periodSeconds,
              Stat: q.metric.stat,
            },
          }
        : {}),
    })),
    Threshold: a.threshold,
    ComparisonOperator: a.comparisonOperator,
    EvaluationPeriods: a.evaluationPeriods,
    DatapointsToAlarm: a.datapointsToAlarm,
    TreatMissingData: a.treatMissingData,
    Tags: [{ Key: ALARM_TAG_KEY, Value: instance }],
  };
}
