import type { MetricSeries } from '#shared/domain/model.ts';
import type { MetricsPort, SeriesRequest } from '#shared/ports/metrics.ts';

const MINUTE_MS = 60_000;

/**
 * A MetricsPort that answers from metrics read beforehand for many applications at once (the sweep's look phase:
 * one GetMetricData for a batch), and asks `inner` for anything it did not read.
 *
 * A request is served from the prefetch when its application and every metric name were prefetched, its start is not
 * before the prefetched start, and its end is not past the first minute boundary at or after the prefetch's end:
 * datapoints are timestamped at the start of their 60-second period, so no period the prefetch missed begins before
 * such an end. (Stated assumption: the value of the period in progress may still change in that time; MSF metrics reach
 * CloudWatch a minute or more late, see `detection.metricsDelaySeconds`, so that period holds no datapoint yet.)
 * The served series keep only datapoints in the requested [startMs, endMs).
 */
export class PrefetchedMetrics implements MetricsPort {
  readonly #inner: MetricsPort;
  readonly #data = new Map<string, { request: SeriesRequest; series: Record<string, MetricSeries> }>();
  /** Requests answered from the prefetch, and requests passed to the inner port (counts). */
  readonly stats = { served: 0, fallback: 0 };

  constructor(inner: MetricsPort) {
    this.#inner = inner;
  }

  /**
   * Reads `requests` with `inner.getSeriesMany` (one call for requests sharing a range, up to 500 metrics each), or
   * `inner.getSeries` per request when the port has no `getSeriesMany`. Throws what the inner port throws.
   */
  async prefetch(requests: readonly SeriesRequest[]): Promise<void> {
    if (requests.length === 0) return;
    const answers = this.#inner.getSeriesMany
      ? await this.#inner.getSeriesMany(requests)
      : await Promise.all(
          requests.map((r) => this.#inner.getSeries(r.applicationName, r.metricNames, r.startMs, r.endMs)),
        );
    requests.forEach((request, i) => {
      const series = answers[i];
      if (series) this.#data.set(request.applicationName, { request, series });
    });
  }

  async getSeries(
    applicationName: string,
    metricNames: readonly string[],
    startMs: number,
    endMs: number,
  ): Promise<Record<string, MetricSeries>> {
    const held = this.#data.get(applicationName);
    const covered =
      held !== undefined &&
      startMs >= held.request.startMs &&
      endMs <= Math.ceil(held.request.endMs / MINUTE_MS) * MINUTE_MS &&
      metricNames.every((n) => held.series[n] !== undefined);
    if (!covered) {
      this.stats.fallback += 1;
      return this.#inner.getSeries(applicationName, metricNames, startMs, endMs);
    }
    this.stats.served += 1;
    const out: Record<string, MetricSeries> = {};
    for (const n of metricNames) {
      const s = held.series[n] as MetricSeries;
      out[n] = { ...s, points: s.points.filter((p) => p.timestampMs >= startMs && p.timestampMs < endMs) };
    }
    return out;
  }

  getSeriesMany(requests: readonly SeriesRequest[]): Promise<Array<Record<string, MetricSeries>>> {
    return Promise.all(requests.map((r) => this.getSeries(r.applicationName, r.metricNames, r.startMs, r.endMs)));
  }
}
