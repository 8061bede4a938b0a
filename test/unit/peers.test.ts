import { describe, expect, it } from 'vitest';
import { VirtualClock } from '#sandbox/clock.ts';
import { CloudWatchEmulator } from '#sandbox/emulator/cloudwatch.ts';
import {
  AWS_DOWNTIME_PEER_ALARM_PREFIX,
  awsRecommendedDowntimeAlarm,
  OPERATOR_RESTARTS_THRESHOLD,
  OPERATOR_RESTARTS_WINDOW_MS,
  OperatorRestartHealthCheck,
  operatorDetectionMs,
  PeerSampleError,
  peerDetection,
  peersJson,
} from '#sandbox/peers.ts';
import { ALARM_PREFIX } from '#shared/alarms.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
/** 2026-03-02T14:00:00Z, a minute boundary. */
const T0 = Date.UTC(2026, 2, 2, 14, 0, 0);

/** Observations every `stepMs` from T0, the restart counter taking each value in turn. */
function series(counts: number[], stepMs = MINUTE): Array<{ atMs: number; restarts: number }> {
  return counts.map((restarts, i) => ({ atMs: T0 + i * stepMs, restarts }));
}

describe('Class: OperatorRestartHealthCheck', () => {
  describe('Method: observe', () => {
    it('uses the operator defaults: 64 restarts, a 2-minute window', () => {
      expect(OPERATOR_RESTARTS_THRESHOLD).toBe(64);
      expect(OPERATOR_RESTARTS_WINDOW_MS).toBe(2 * MINUTE);
    });

    it('only records a baseline on the first observation, whatever the count', () => {
      // Prepare
      const check = new OperatorRestartHealthCheck();
      // Act
      const first = check.observe(T0, 500);
      // Assess
      expect(first).toEqual({ healthy: true, restartsInWindow: undefined });
    });

    it('finds 65 restarts within the window unhealthy, as the code compares (restarts > threshold)', () => {
      // Prepare
      const check = new OperatorRestartHealthCheck();
      check.observe(T0, 0);
      // Act
      const result = check.observe(T0 + MINUTE, 65);
      // Assess
      expect(result).toEqual({ healthy: false, restartsInWindow: 65 });
    });

    it('keeps 64 restarts within the window healthy (the docs say "reaches", the code says "exceeds")', () => {
      // Prepare
      const check = new OperatorRestartHealthCheck();
      check.observe(T0, 0);
      // Act
      const result = check.observe(T0 + 2 * MINUTE, 64);
      // Assess
      expect(result).toEqual({ healthy: true, restartsInWindow: 64 });
    });

    it('keeps 63 restarts within the window healthy', () => {
      const check = new OperatorRestartHealthCheck();
      check.observe(T0, 0);
      expect(check.observe(T0 + MINUTE, 63).healthy).toBe(true);
    });

    it('scales the increase down to the window when the baseline is older than the window', () => {
      // Prepare: the baseline is 4 minutes old at the second observation
      const check = new OperatorRestartHealthCheck();
      check.observe(T0, 0);
      // Act: 130 restarts over 4 minutes count as 65 in 2 minutes; 128 as 64
      const over = new OperatorRestartHealthCheck();
      over.observe(T0, 0);
      const above = over.observe(T0 + 4 * MINUTE, 130);
      const at = check.observe(T0 + 4 * MINUTE, 128);
      // Assess
      expect(above).toEqual({ healthy: false, restartsInWindow: 65 });
      expect(at).toEqual({ healthy: true, restartsInWindow: 64 });
    });

    it('moves the baseline once it is older than the window, so old restarts stop counting', () => {
      // Prepare: 60 restarts in the first 3 minutes (baseline moves to minute 3), then 60 more in 1 minute
      const check = new OperatorRestartHealthCheck();
      check.observe(T0, 0);
      check.observe(T0 + 3 * MINUTE, 60);
      // Act
      const result = check.observe(T0 + 4 * MINUTE, 120);
      // Assess: counted from the new baseline, 60 ≤ 64
      expect(result).toEqual({ healthy: true, restartsInWindow: 60 });
    });

    it('takes a lower counter as a new job: new baseline, healthy', () => {
      // Prepare
      const check = new OperatorRestartHealthCheck();
      check.observe(T0, 40);
      // Act: the counter reset to 2 (a new job); then 67 restarts of the new job within a minute
      const reset = check.observe(T0 + MINUTE, 2);
      const after = check.observe(T0 + 2 * MINUTE, 69);
      // Assess
      expect(reset).toEqual({ healthy: true, restartsInWindow: undefined });
      expect(after).toEqual({ healthy: false, restartsInWindow: 67 });
    });

    it('refuses an observation earlier than the previous one, naming both times', () => {
      const check = new OperatorRestartHealthCheck();
      check.observe(T0 + MINUTE, 0);
      expect(() => check.observe(T0, 1)).toThrow(PeerSampleError);
      expect(() => check.observe(T0, 1)).toThrow(/earlier than the previous one/);
    });

    it('refuses a restart count that is not a non-negative integer', () => {
      const check = new OperatorRestartHealthCheck();
      expect(() => check.observe(T0, -1)).toThrow(/restarts must be a non-negative integer/);
      expect(() => check.observe(T0, 1.5)).toThrow(PeerSampleError);
    });

    it('refuses bad settings, naming the field', () => {
      expect(() => new OperatorRestartHealthCheck({ restartsThreshold: -1 })).toThrow(/restartsThreshold/);
      expect(() => new OperatorRestartHealthCheck({ restartsWindowMs: 0 })).toThrow(/restartsWindowMs/);
    });
  });
});

describe('Function: operatorDetectionMs', () => {
  it('returns the first observation found unhealthy', () => {
    expect(operatorDetectionMs(series([0, 30, 96, 200]))).toBe(T0 + 2 * MINUTE);
  });

  it('returns null for a loop of a few restarts a minute (the drill scenarios): never 65 in 2 minutes', () => {
    expect(operatorDetectionMs(series([0, 2, 5, 7, 10, 12, 15, 17, 20]))).toBeNull();
  });

  it('returns null when a counter reset splits 100 restarts into two jobs of 50', () => {
    expect(operatorDetectionMs(series([0, 50, 0, 50]))).toBeNull();
  });

  it('honours a configured threshold and window', () => {
    const s = series([0, 2, 4, 6], 30 * SECOND);
    expect(operatorDetectionMs(s, { restartsThreshold: 3, restartsWindowMs: MINUTE })).toBe(T0 + 60 * SECOND);
  });
});

describe('Function: awsRecommendedDowntimeAlarm', () => {
  it('is the MSF guide recommendation: downtime > 0, Average, threshold 0, on the application', () => {
    // Act
    const alarm = awsRecommendedDowntimeAlarm('orders-enrichment');
    // Assess
    expect(alarm).toMatchObject({
      Namespace: 'AWS/KinesisAnalytics',
      MetricName: 'downtime',
      Dimensions: [{ Name: 'Application', Value: 'orders-enrichment' }],
      Statistic: 'Average',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      Period: 60,
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
    });
    expect(alarm.TreatMissingData).toBeUndefined();
  });

  it('is named outside the watchdog prefix, so the watchdog never reacts to it', () => {
    const name = awsRecommendedDowntimeAlarm('orders-enrichment').AlarmName ?? '';
    expect(name.startsWith(AWS_DOWNTIME_PEER_ALARM_PREFIX)).toBe(true);
    expect(name.startsWith(ALARM_PREFIX)).toBe(false);
  });

  it('is accepted by the emulator and goes to ALARM on the first minute with downtime', () => {
    // Prepare
    const cw = new CloudWatchEmulator({ clock: new VirtualClock(T0), region: 'eu-west-1', accountId: '123456789012' });
    cw.handle('PutMetricAlarm', awsRecommendedDowntimeAlarm('orders-enrichment'));
    const put = (minute: number, value: number) =>
      cw.putDatapoint({
        namespace: 'AWS/KinesisAnalytics',
        metricName: 'downtime',
        dimensions: { Application: 'orders-enrichment' },
        timestampMs: T0 + minute * MINUTE,
        value,
        unit: 'Milliseconds',
      });
    put(0, 0);
    put(1, 0);
    put(2, 15_000);
    // Act: evaluate at the minute boundaries after minutes 0, 1 and 2
    const states = [1, 2, 3].map((m) => cw.evaluateAlarms(T0 + m * MINUTE).map((e) => e.detail.state.value));
    // Assess
    expect(states.flat()).toContain('ALARM');
    expect(states.flat().indexOf('ALARM')).toBe(states.flat().length - 1);
  });
});

describe('Function: peerDetection', () => {
  it('measures from the onset, and says null (not detected) when the rule never fired', () => {
    expect(peerDetection('r', T0 + 90 * SECOND, T0).detectionSeconds).toBe(90);
    expect(peerDetection('r', null, T0)).toEqual({ rule: 'r', firedMs: null, detectionSeconds: null });
  });

  it('gives no figure without an onset, and a negative one when the rule fired before it', () => {
    expect(peerDetection('r', T0, undefined).detectionSeconds).toBeNull();
    expect(peerDetection('r', T0, T0 + 30 * SECOND).detectionSeconds).toBe(-30);
  });

  it('renders times as ISO-8601 in JSON', () => {
    const json = peersJson({
      operatorHealthCheck: peerDetection('op', null, T0),
      awsDowntimeAlarm: peerDetection('aws', T0 + MINUTE, T0),
    });
    expect(json).toEqual({
      operatorHealthCheck: { rule: 'op', firedAt: null, detectionSeconds: null },
      awsDowntimeAlarm: { rule: 'aws', firedAt: '2026-03-02T14:01:00.000Z', detectionSeconds: 60 },
    });
  });
});
