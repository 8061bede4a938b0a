import {
  CloudWatchClient,
  type CloudWatchClientConfig,
  GetMetricDataCommand,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import { MSF_METRIC_NAMESPACE } from '#shared/alarms.ts';
import type { MetricSeries } from '#shared/domain/model.ts';
import { APPLICATION_DIMENSION } from '#shared/events/detector-input.ts';
import type { MetricsPort, SeriesRequest } from '#shared/ports/metrics.ts';
import { type AdaptiveRetryOptions, type ApiCallCounter, adaptiveClientConfig, countCall } from './msf.ts';

/**
 * Most MetricDataQueries one GetMetricData call takes: "You can include up to 500 MetricDataQuery structures in one
 * GetMetricData request" (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html).
 */
export const MAX_METRIC_DATA_QUERIES = 500;

/** Either a ready client or a client config (with adaptive retries), never both; optionally a call counter. */
export type CloudWatchMetricsOptions = (
  | { client: CloudWatchClient }
  | ({ clientConfig?: CloudWatchClientConfig } & AdaptiveRetryOptions)
) & { calls?: ApiCallCounter };

/** MetricsPort over GetMetricData: statistic Maximum at a 60-second period, ascending datapoints. */
export class CloudWatchMetrics implements MetricsPort {
  readonly #client: CloudWatchClient;
  readonly #calls: ApiCallCounter | undefined;

  constructor(options: CloudWatchMetricsOptions = {}) {
    this.#client = 'client' in options ? options.client : new CloudWatchClient(adaptiveClientConfig(options));
    this.#calls = options.calls;
  }

  async getSeries(
    applicationName: string,
    metricNames: readonly string[],
    startMs: number,
    endMs: number,
  ): Promise<Record<string, MetricSeries>> {
    const [out] = await this.getSeriesMany([{ applicationName, metricNames, startMs, endMs }]);
    return out ?? {};
  }

  /**
   * Requests with the same [startMs, endMs) share GetMetricData calls of up to {@link MAX_METRIC_DATA_QUERIES}
   * queries (GetMetricData has one StartTime/EndTime per call); each call is read to its last page (NextToken).
   */
  async getSeriesMany(requests: readonly SeriesRequest[]): Promise<Array<Record<string, MetricSeries>>> {
    const out = requests.map((r) => {
      const series: Record<string, MetricSeries> = {};
      for (const name of r.metricNames) series[name] = { metricName: name, periodSeconds: 60, points: [] };
      return series;
    });
    // Query id → where its datapoints go. Ids must start with a lower-case letter (MetricDataQuery `Id`).
    const byRange = new Map<string, Array<{ id: string; request: SeriesRequest; name: string; into: MetricSeries }>>();
    requests.forEach((r, i) => {
      const range = `${r.startMs}/${r.endMs}`;
      const list = byRange.get(range) ?? [];
      r.metricNames.forEach((name, j) => {
        const into = out[i]?.[name];
        if (into) list.push({ id: `m${i}_${j}`, request: r, name, into });
      });
      byRange.set(range, list);
    });
    for (const queries of byRange.values()) {
      for (let at = 0; at < queries.length; at += MAX_METRIC_DATA_QUERIES) {
        const chunk = queries.slice(at, at + MAX_METRIC_DATA_QUERIES);
        const first = chunk[0];
        if (!first) continue;
        const targets = new Map(chunk.map((q) => [q.id, q.into]));
        const metricDataQueries: MetricDataQuery[] = chunk.map((q) => ({
          Id: q.id,
          Label: q.name,
          ReturnData: true,
          MetricStat: {
            Metric: {
              Namespace: MSF_METRIC_NAMESPACE,
              MetricName: q.name,
              Dimensions: [{ Name: APPLICATION_DIMENSION, Value: q.request.applicationName }],
            },
            Period: 60,
            Stat: 'Maximum',
          },
        }));
        let next: string | undefined;
        do {
          countCall(this.#calls, 'GetMetricData');
          const res = await this.#client.send(
            new GetMetricDataCommand({
              StartTime: new Date(first.request.startMs),
              EndTime: new Date(first.request.endMs),
              ScanBy: 'TimestampAscending',
              NextToken: next,
              MetricDataQueries: metricDataQueries,
            }),
          );
          for (const r of res.MetricDataResults ?? []) {
            const series = targets.get(r.Id ?? '');
            if (!series) continue;
            (r.Timestamps ?? []).forEach((t, j) => {
              const v = r.Values?.[j];
              if (v !== undefined) series.points.push({ timestampMs: t.getTime(), value: v });
            });
          }
          next = res.NextToken;
        } while (next);
      }
    }
    for (const series of out)
      for (const s of Object.values(series)) s.points.sort((a, b) => a.timestampMs - b.timestampMs);
    return out;
  }
}
