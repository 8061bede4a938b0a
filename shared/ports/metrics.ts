import type { MetricSeries } from '#shared/domain/model.ts';

/** One application's metrics over one time range, for {@link MetricsPort.getSeriesMany}. */
export interface SeriesRequest {
  /** The application (key, or MSF ApplicationName at home): the `Application` dimension. */
  applicationName: string;
  /** AWS/KinesisAnalytics metric names. */
  metricNames: readonly string[];
  /** Range [startMs, endMs), epoch ms. */
  startMs: number;
  endMs: number;
}

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
  /**
   * The same for many applications at once: requests that share a time range go into GetMetricData calls of up to
   * 500 MetricDataQueries each (the API's limit, https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html),
   * every page read. Answers in the order of `requests`. Optional: without it, callers fall back to
   * {@link MetricsPort.getSeries} per request. Throws on API errors.
   */
  getSeriesMany?(requests: readonly SeriesRequest[]): Promise<Array<Record<string, MetricSeries>>>;
}
