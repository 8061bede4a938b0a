import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  APPLICATION_DIMENSION,
  WATCHDOG_METRICS,
  WATCHDOG_METRICS_NAMESPACE,
  type WatchdogMetricName,
  type WatchdogMetrics,
} from '#shared/ports/watchdog-metrics.ts';

/** Options of {@link PowertoolsWatchdogMetrics}. */
export interface PowertoolsWatchdogMetricsOptions {
  /**
   * The emitting function, e.g. `flink-watchdog-detector`. Written into every EMF line as the `service` property (a
   * log field, not a dimension), so the detector's and the remediation's points add up in one series per application.
   */
  readonly serviceName: string;
}

/**
 * {@link WatchdogMetrics} on Powertools `Metrics`: each `count()` prints one CloudWatch Embedded Metric Format line to
 * stdout at once (Lambda sends it to CloudWatch Logs, which extracts the metric), namespace `FlinkWatchdog`, dimension
 * `Application` only for per-application metrics and no dimension otherwise: the empty dimension set `[[]]`, which the
 * Embedded Metric Format specification allows ("A DimensionSet MAY be empty",
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html)
 * and which makes the dimension-less metric (e.g. DetectorEventRejected); an empty `Dimensions` array would make none. Powertools' default `service` dimension
 * is left out so the metric identity is exactly the port's (infra/dashboard.ts depends on it).
 *
 * Emitting per call, not per invocation, keeps points of an invocation that times out or crashes, and keeps two
 * applications' points apart (one buffered EMF line has one set of dimensions for all its metrics).
 * Never throws: an invalid value (NaN, Infinity) or a Powertools error drops the point.
 * Set `POWERTOOLS_METRICS_DISABLED=true` to print nothing (Powertools also disables output when `POWERTOOLS_DEV` is
 * set, unless `POWERTOOLS_METRICS_DISABLED=false`).
 */
export class PowertoolsWatchdogMetrics implements WatchdogMetrics {
  readonly #metrics: Metrics;
  readonly #serviceName: string;

  constructor(options: PowertoolsWatchdogMetricsOptions) {
    this.#serviceName = options.serviceName;
    this.#metrics = new Metrics({ namespace: WATCHDOG_METRICS_NAMESPACE, serviceName: options.serviceName });
    this.#metrics.clearDefaultDimensions();
  }

  count(name: WatchdogMetricName, applicationName?: string, value = 1): void {
    // JSON has no NaN or Infinity: Powertools would print null, which CloudWatch cannot use.
    if (!Number.isFinite(value)) return;
    try {
      const definition = WATCHDOG_METRICS[name];
      if (definition.dimension === 'Application' && applicationName !== undefined && applicationName !== '') {
        this.#metrics.addDimension(APPLICATION_DIMENSION, applicationName);
      } else {
        // One empty dimension set (`"Dimensions": [[]]`): CloudWatch then creates the metric without dimensions. With
        // no set at all (`"Dimensions": []`, what Powertools prints by default) it creates no metric from the line.
        this.#metrics.addDimensions({});
      }
      this.#metrics.addMetadata('service', this.#serviceName);
      this.#metrics.addMetric(name, MetricUnit[definition.unit], value);
      this.#metrics.publishStoredMetrics();
    } catch {
      this.#discard();
    }
  }

  flush(): void {
    try {
      // Points are printed by count(); this only publishes what is still stored (nothing, unless a count() failed
      // half-way), without Powertools' "No application metrics to publish" warning.
      if (this.#metrics.hasStoredMetrics()) this.#metrics.publishStoredMetrics();
    } catch {
      this.#discard();
    }
  }

  /** Drops a half-built point so it cannot merge into the next one. */
  #discard(): void {
    try {
      this.#metrics.clearMetrics();
      this.#metrics.clearDimensions();
      this.#metrics.clearMetadata();
    } catch {
      // Nothing more to do: metrics never break the caller.
    }
  }
}
