import { CloudWatchClient, type CloudWatchClientConfig, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { MSF_METRIC_NAMESPACE } from '#shared/alarms.ts';
import type { MetricSeries } from '#shared/domain/model.ts';
import { APPLICATION_DIMENSION } from '#shared/events/detector-input.ts';
import type { MetricsPort } from '#shared/ports/metrics.ts';
import { WATCHDOG_USER_AGENT } from './msf.ts';

/** Either a ready client or a client config, never both. */
export type CloudWatchMetricsOptions = { client: CloudWatchClient } | { clientConfig?: CloudWatchClientConfig };

/** MetricsPort over GetMetricData: statistic Maximum at a 60-second period, ascending datapoints. */
export class CloudWatchMetrics implements MetricsPort {
  readonly #client: CloudWatchClient;

  constructor(options: CloudWatchMetricsOptions = {}) {
    this.#client =
      'client' in options
        ? options.client
        : new CloudWatchClient({ customUserAgent: [WATCHDOG_USER_AGENT], ...(options.clientConfig ?? {}) });
  }

  async getSeries(
    applicationName: string,
    metricNames: readonly string[],
    startMs: number,
    endMs: number,
  ): Promise<Record<string, MetricSeries>> {
    const out: Record<string, MetricSeries> = {};
    for (const name of metricNames) out[name] = { metricName: name, periodSeconds: 60, points: [] };
    let next: string | undefined;
    do {
      const res = await this.#client.send(
        new GetMetricDataCommand({
          StartTime: new Date(startMs),
          EndTime: new Date(endMs),
          ScanBy: 'TimestampAscending',
          NextToken: next,
          MetricDataQueries: metricNames.map((name, i) => ({
            Id: `m${i}`,
            Label: name,
            ReturnData: true,
            MetricStat: {
              Metric: {
                Namespace: MSF_METRIC_NAMESPACE,
                MetricName: name,
                Dimensions: [{ Name: APPLICATION_DIMENSION, Value: applicationName }],
              },
              Period: 60,
              Stat: 'Maximum',
            },
          })),
        }),
      );
      for (const r of res.MetricDataResults ?? []) {
        const idx = Number((r.Id ?? '').slice(1));
        const name = metricNames[idx];
        const series = name === undefined ? undefined : out[name];
        if (!series) continue;
        (r.Timestamps ?? []).forEach((t, j) => {
          const v = r.Values?.[j];
          if (v !== undefined) series.points.push({ timestampMs: t.getTime(), value: v });
        });
      }
      next = res.NextToken;
    } while (next);
    for (const s of Object.values(out)) s.points.sort((a, b) => a.timestampMs - b.timestampMs);
    return out;
  }
}
