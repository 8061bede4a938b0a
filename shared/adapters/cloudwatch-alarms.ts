import {
  CloudWatchClient,
  type CloudWatchClientConfig,
  DeleteAlarmsCommand,
  DescribeAlarmsCommand,
  ListTagsForResourceCommand,
  type MetricAlarm,
  PutMetricAlarmCommand,
} from '@aws-sdk/client-cloudwatch';
import { type AlarmQuery, type AlarmSpec, MSF_METRIC_NAMESPACE, putMetricAlarmInput } from '#shared/alarms.ts';
import { APPLICATION_DIMENSION } from '#shared/events/detector-input.ts';
import type { AlarmsPort, ExistingAlarm } from '#shared/ports/alarms.ts';
import { type AdaptiveRetryOptions, type ApiCallCounter, adaptiveClientConfig, countCall } from './msf.ts';

/** DeleteAlarms takes at most 100 names (`AlarmNames` max 100 in the CloudWatch API model). */
export const MAX_ALARMS_PER_DELETE = 100;

/** Either a ready client or a client config (with adaptive retries), never both; optionally a call counter. */
export type CloudWatchAlarmsOptions = (
  | { client: CloudWatchClient }
  | ({ clientConfig?: CloudWatchClientConfig } & AdaptiveRetryOptions)
) & { calls?: ApiCallCounter };

/** A DescribeAlarms `MetricAlarm` in the watchdog's terms (its definition as the alarm manager compares it). */
export function toExistingAlarm(a: MetricAlarm): ExistingAlarm {
  let applicationName = a.Dimensions?.find((d) => d.Name === APPLICATION_DIMENSION)?.Value;
  const queries: AlarmQuery[] = (a.Metrics ?? []).map((m) => {
    const stat = m.MetricStat;
    const dims = Object.fromEntries((stat?.Metric?.Dimensions ?? []).map((d) => [d.Name ?? '', d.Value ?? '']));
    applicationName ??= dims[APPLICATION_DIMENSION];
    const ns = stat?.Metric?.Namespace;
    return {
      id: m.Id ?? '',
      ...(stat
        ? {
            metric: {
              metricName:
                ns === MSF_METRIC_NAMESPACE ? (stat.Metric?.MetricName ?? '') : `${ns}:${stat.Metric?.MetricName}`,
              dimensions: dims,
              stat: stat.Stat ?? '',
              periodSeconds: stat.Period ?? 0,
            },
          }
        : {}),
      ...(m.Expression ? { expression: m.Expression } : {}),
      ...(m.Label ? { label: m.Label } : {}),
      returnData: m.ReturnData ?? true,
    };
  });
  return {
    alarmName: a.AlarmName ?? '',
    alarmArn: a.AlarmArn ?? '',
    stateValue: (a.StateValue ?? 'INSUFFICIENT_DATA') as ExistingAlarm['stateValue'],
    ...(applicationName ? { applicationName } : {}),
    definition: {
      description: a.AlarmDescription ?? '',
      queries,
      threshold: a.Threshold ?? Number.NaN,
      comparisonOperator: a.ComparisonOperator as AlarmSpec['comparisonOperator'],
      evaluationPeriods: a.EvaluationPeriods ?? 0,
      datapointsToAlarm: a.DatapointsToAlarm ?? a.EvaluationPeriods ?? 0,
      treatMissingData: (a.TreatMissingData ?? 'missing') as AlarmSpec['treatMissingData'],
    },
  };
}

/**
 * AlarmsPort over the CloudWatch alarm API: DescribeAlarms
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html, MaxRecords 1-100,
 * NextToken), PutMetricAlarm, DeleteAlarms (≤ 100 names a call) and ListTagsForResource.
 */
export class CloudWatchAlarms implements AlarmsPort {
  readonly #client: CloudWatchClient;
  readonly #calls: ApiCallCounter | undefined;

  constructor(options: CloudWatchAlarmsOptions = {}) {
    this.#client = 'client' in options ? options.client : new CloudWatchClient(adaptiveClientConfig(options));
    this.#calls = options.calls;
  }

  async describeAlarms(prefix: string): Promise<ExistingAlarm[]> {
    const out: ExistingAlarm[] = [];
    let next: string | undefined;
    do {
      countCall(this.#calls, 'DescribeAlarms');
      const page = await this.#client.send(
        new DescribeAlarmsCommand({
          AlarmNamePrefix: prefix,
          AlarmTypes: ['MetricAlarm'],
          MaxRecords: 100,
          ...(next ? { NextToken: next } : {}),
        }),
      );
      for (const a of page.MetricAlarms ?? []) out.push(toExistingAlarm(a));
      next = page.NextToken || undefined;
    } while (next);
    return out;
  }

  async putAlarm(spec: AlarmSpec, instance: string): Promise<void> {
    countCall(this.#calls, 'PutMetricAlarm');
    await this.#client.send(new PutMetricAlarmCommand(putMetricAlarmInput(spec, instance)));
  }

  async deleteAlarms(names: readonly string[]): Promise<void> {
    for (let at = 0; at < names.length; at += MAX_ALARMS_PER_DELETE) {
      countCall(this.#calls, 'DeleteAlarms');
      await this.#client.send(new DeleteAlarmsCommand({ AlarmNames: names.slice(at, at + MAX_ALARMS_PER_DELETE) }));
    }
  }

  async alarmTags(alarmArn: string): Promise<Record<string, string>> {
    countCall(this.#calls, 'ListTagsForResource');
    const out = await this.#client.send(new ListTagsForResourceCommand({ ResourceARN: alarmArn }));
    return Object.fromEntries((out.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
  }
}
