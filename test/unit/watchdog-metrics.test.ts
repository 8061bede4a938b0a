import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import { PowertoolsWatchdogMetrics } from '#shared/adapters/powertools-metrics.ts';
import {
  noopWatchdogMetrics,
  RecordingWatchdogMetrics,
  WATCHDOG_METRIC_NAMES,
  WATCHDOG_METRICS,
  WATCHDOG_METRICS_NAMESPACE,
} from '#shared/ports/watchdog-metrics.ts';

const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);

/** The EMF envelope as Powertools prints it (CloudWatch Embedded Metric Format specification). */
interface EmfLine {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[];
  };
  [key: string]: unknown;
}

describe('Class: RecordingWatchdogMetrics', () => {
  describe('Method: count', () => {
    it('records each point with its unit and, for per-application metrics, the application', () => {
      // Prepare
      const metrics = new RecordingWatchdogMetrics();

      // Act
      metrics.count('IncidentOpened', 'orders-enrichment');
      metrics.count('RemediationAction', 'orders-enrichment', 2);
      metrics.count('TimeToRecovery', 'orders-enrichment', 312);
      metrics.count('DetectorEventRejected');

      // Assess
      expect(metrics.points).toEqual([
        { name: 'IncidentOpened', applicationName: 'orders-enrichment', value: 1, unit: 'Count', flushesBefore: 0 },
        { name: 'RemediationAction', applicationName: 'orders-enrichment', value: 2, unit: 'Count', flushesBefore: 0 },
        { name: 'TimeToRecovery', applicationName: 'orders-enrichment', value: 312, unit: 'Seconds', flushesBefore: 0 },
        { name: 'DetectorEventRejected', value: 1, unit: 'Count', flushesBefore: 0 },
      ]);
    });
  });

  describe('Method: sum', () => {
    it('adds up the values of one metric, per application or over all of them', () => {
      // Prepare
      const metrics = new RecordingWatchdogMetrics();
      metrics.count('RemediationAction', 'orders-enrichment');
      metrics.count('RemediationAction', 'orders-enrichment');
      metrics.count('RemediationAction', 'payments-aggregation');
      metrics.count('IncidentOpened', 'orders-enrichment');

      // Act / Assess
      expect(metrics.sum('RemediationAction', 'orders-enrichment')).toBe(2);
      expect(metrics.sum('RemediationAction')).toBe(3);
      expect(metrics.sum('IncidentEscalated')).toBe(0);
    });
  });

  describe('Method: flush', () => {
    it('counts flushes and marks the points emitted after each', () => {
      // Prepare
      const metrics = new RecordingWatchdogMetrics();

      // Act
      metrics.count('IncidentOpened', 'a');
      metrics.flush();
      metrics.count('IncidentResolved', 'a');

      // Assess
      expect(metrics.flushes).toBe(1);
      expect(metrics.points.map((p) => p.flushesBefore)).toEqual([0, 1]);
    });
  });
});

describe('Constant: noopWatchdogMetrics', () => {
  it('accepts every call and does nothing', () => {
    // Act / Assess
    expect(() => {
      noopWatchdogMetrics.count('IncidentOpened', 'a');
      noopWatchdogMetrics.count('DetectorEventRejected');
      noopWatchdogMetrics.flush();
    }).not.toThrow();
  });
});

describe('Constant: WATCHDOG_METRICS', () => {
  it('gives every metric the Application dimension except DetectorEventRejected, and seconds only to TimeToRecovery', () => {
    // Assess
    expect(WATCHDOG_METRIC_NAMES).toEqual([
      'IncidentOpened',
      'RemediationAction',
      'IncidentResolved',
      'IncidentEscalated',
      'TimeToRecovery',
      'DetectorEventRejected',
    ]);
    expect(WATCHDOG_METRIC_NAMES.filter((n) => WATCHDOG_METRICS[n].dimension === 'none')).toEqual([
      'DetectorEventRejected',
    ]);
    expect(WATCHDOG_METRIC_NAMES.filter((n) => WATCHDOG_METRICS[n].unit === 'Seconds')).toEqual(['TimeToRecovery']);
  });
});

describe('Class: PowertoolsWatchdogMetrics', () => {
  // Powertools prints EMF through a Console on process.stdout (POWERTOOLS_DEV unset), read here.
  let stdout: MockInstance<typeof process.stdout.write>;
  const emfLines = (): EmfLine[] =>
    stdout.mock.calls
      .map(([chunk]) => String(chunk))
      .filter((s) => s.includes('"_aws"'))
      .map((s) => JSON.parse(s) as EmfLine);

  beforeEach(() => {
    vi.useFakeTimers({ now: NOW });
    vi.stubEnv('POWERTOOLS_DEV', undefined);
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
    vi.useRealTimers();
  });

  describe('Method: count', () => {
    it('prints one EMF line per call, namespace FlinkWatchdog, dimension Application', () => {
      // Prepare
      const metrics = new PowertoolsWatchdogMetrics({ serviceName: 'flink-watchdog-detector' });

      // Act
      metrics.count('IncidentOpened', 'orders-enrichment');

      // Assess
      expect(emfLines()).toEqual([
        {
          _aws: {
            Timestamp: NOW,
            CloudWatchMetrics: [
              {
                Namespace: WATCHDOG_METRICS_NAMESPACE,
                Dimensions: [['Application']],
                Metrics: [{ Name: 'IncidentOpened', Unit: 'Count' }],
              },
            ],
          },
          service: 'flink-watchdog-detector',
          Application: 'orders-enrichment',
          IncidentOpened: 1,
        },
      ]);
    });

    it('keeps two applications apart: one line each, never one merged value', () => {
      // Prepare
      const metrics = new PowertoolsWatchdogMetrics({ serviceName: 'flink-watchdog-remediation' });

      // Act
      metrics.count('RemediationAction', 'orders-enrichment');
      metrics.count('RemediationAction', 'payments-aggregation', 2);

      // Assess
      expect(emfLines().map((l) => [l.Application, l.RemediationAction])).toEqual([
        ['orders-enrichment', 1],
        ['payments-aggregation', 2],
      ]);
    });

    it('emits TimeToRecovery in seconds and DetectorEventRejected with one empty dimension set, so it becomes a metric', () => {
      // Prepare
      const metrics = new PowertoolsWatchdogMetrics({ serviceName: 'flink-watchdog-detector' });

      // Act
      metrics.count('TimeToRecovery', 'orders-enrichment', 312);
      metrics.count('DetectorEventRejected');
      metrics.count('TimeToRecovery', 'payments-aggregation', 60);

      // Assess
      const [ttr, rejected, next] = emfLines();
      expect(ttr?._aws.CloudWatchMetrics[0]?.Metrics).toEqual([{ Name: 'TimeToRecovery', Unit: 'Seconds' }]);
      expect(ttr?.TimeToRecovery).toBe(312);
      // EMF: "A DimensionSet MAY be empty"; `[[]]` makes the metric without dimensions, `[]` would make no metric.
      expect(rejected?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([[]]);
      // The empty set does not stay for the next point.
      expect(next?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['Application']]);
      expect(rejected).not.toHaveProperty('Application');
      expect(rejected?.DetectorEventRejected).toBe(1);
    });

    it('never throws: an invalid value drops that point only', () => {
      // Prepare
      const metrics = new PowertoolsWatchdogMetrics({ serviceName: 'flink-watchdog-detector' });

      // Act
      expect(() => metrics.count('IncidentOpened', 'a', Number.NaN)).not.toThrow();
      metrics.count('IncidentResolved', 'b');

      // Assess
      const lines = emfLines();
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ Application: 'b', IncidentResolved: 1 });
      expect(lines[0]).not.toHaveProperty('IncidentOpened');
    });

    it('prints nothing when POWERTOOLS_METRICS_DISABLED is true', () => {
      // Prepare
      vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
      const metrics = new PowertoolsWatchdogMetrics({ serviceName: 'flink-watchdog-detector' });

      // Act
      metrics.count('IncidentOpened', 'a');
      metrics.flush();

      // Assess
      expect(emfLines()).toEqual([]);
    });
  });

  describe('Method: flush', () => {
    it('prints nothing, not even a warning, when every point was already emitted', () => {
      // Prepare
      const metrics = new PowertoolsWatchdogMetrics({ serviceName: 'flink-watchdog-detector' });
      const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
      metrics.count('IncidentEscalated', 'a');
      stdout.mockClear();

      // Act
      metrics.flush();

      // Assess
      expect(stdout).not.toHaveBeenCalled();
      expect(stderr).not.toHaveBeenCalled();
    });
  });
});
