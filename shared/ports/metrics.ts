import type { MetricSeries } from '#shared/domain/model.ts';

/** Reads MSF metrics (namespace AWS/KinesisAnalytics, dimension Application) at a 1-minute period. */
export interface MetricsPort {
  /**
   * GetMetricData for each metric name over [startMs, endMs), statistic Maximum, period 60 s.
   * Missing datapoints are simply absent. Throws on API errors.
   */
  getSeries(
    applicationName: string,
    metricNames: readonly string[],
    startMs: number,
    endMs: number,
  ): Promise<Record<string, MetricSeries>>;
}
