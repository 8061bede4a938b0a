import { describe, expect, it } from 'vitest';
import { VirtualClock } from '#sandbox/clock.ts';
import { CloudWatchEmulator } from '#sandbox/emulator/cloudwatch.ts';
import { EmulatorServiceError } from '#sandbox/emulator/errors.ts';
import { AlarmStateChangeEvent } from '#shared/events/alarm-state-change.ts';

const MINUTE = 60_000;
/** 2026-03-02T14:00:00Z, a minute boundary. */
const T0 = Date.UTC(2026, 2, 2, 14, 0, 0);
const NS = 'AWS/KinesisAnalytics';
const APP = { Application: 'orders-enricher' };

function newEmulator(): CloudWatchEmulator {
  return new CloudWatchEmulator({ clock: new VirtualClock(T0), region: 'eu-west-1', accountId: '123456789012' });
}

/**
 * Writes one datapoint per minute for the minutes just before `endMs`, oldest first.
 * In a pattern string `X` = 1 (breaches "> 0"), `0` = 0, `-` = no datapoint.
 */
function feed(cw: CloudWatchEmulator, metricName: string, values: ReadonlyArray<number | null>, endMs = T0): void {
  values.forEach((value, i) => {
    if (value === null) return;
    cw.putDatapoint({
      namespace: NS,
      metricName,
      dimensions: APP,
      timestampMs: endMs - (values.length - i) * MINUTE,
      value,
    });
  });
}

function pattern(p: string): Array<number | null> {
  return [...p].map((c) => (c === 'X' ? 1 : c === '0' ? 0 : null));
}

function putSingleAlarm(cw: CloudWatchEmulator, overrides: Record<string, unknown> = {}): void {
  cw.handle('PutMetricAlarm', {
    AlarmName: 'restarts',
    AlarmDescription: 'Flink job restarting',
    Namespace: NS,
    MetricName: 'fullRestarts',
    Dimensions: [{ Name: 'Application', Value: 'orders-enricher' }],
    Statistic: 'Maximum',
    Period: 60,
    EvaluationPeriods: 5,
    DatapointsToAlarm: 3,
    Threshold: 0,
    ComparisonOperator: 'GreaterThanThreshold',
    ...overrides,
  });
}

function putDiffAlarm(cw: CloudWatchEmulator, expression = 'DIFF(m1)'): void {
  cw.handle('PutMetricAlarm', {
    AlarmName: 'restart-loop',
    EvaluationPeriods: 1,
    DatapointsToAlarm: 1,
    Threshold: 0,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'notBreaching',
    Metrics: [
      {
        Id: 'm1',
        MetricStat: {
          Metric: {
            Namespace: NS,
            MetricName: 'fullRestarts',
            Dimensions: [{ Name: 'Application', Value: 'orders-enricher' }],
          },
          Period: 60,
          Stat: 'Maximum',
        },
        ReturnData: false,
      },
      { Id: 'e1', Expression: expression, Label: 'restarts per minute', ReturnData: true },
    ],
  });
}

function stateOf(cw: CloudWatchEmulator, name: string): string | undefined {
  return cw.alarms().find((a) => a.alarmName === name)?.stateValue;
}

function captureError(fn: () => unknown): EmulatorServiceError {
  try {
    fn();
  } catch (err) {
    if (err instanceof EmulatorServiceError) return err;
    throw err;
  }
  throw new Error('expected an EmulatorServiceError');
}

describe('Class: CloudWatchEmulator', () => {
  describe('Method: evaluateAlarms', () => {
    // The User Guide's missing-data tables are replayed cell by cell in cloudwatch-missing-data.test.ts.
    it('needs all N datapoints breaching when DatapointsToAlarm is omitted', () => {
      // Prepare
      const cw = newEmulator();
      putSingleAlarm(cw, { DatapointsToAlarm: undefined, EvaluationPeriods: 3 });
      feed(cw, 'fullRestarts', pattern('0XX'));

      // Act
      cw.evaluateAlarms(T0);
      feed(cw, 'fullRestarts', pattern('X'), T0 + MINUTE);
      cw.evaluateAlarms(T0 + MINUTE);

      // Assess
      expect(stateOf(cw, 'restarts')).toBe('ALARM');
    });

    it('keeps ALARM under ignore when every datapoint is missing', () => {
      // Prepare
      const cw = newEmulator();
      putSingleAlarm(cw, { TreatMissingData: 'ignore', EvaluationPeriods: 1, DatapointsToAlarm: 1 });
      feed(cw, 'fullRestarts', [1]);
      cw.evaluateAlarms(T0);

      // Act
      const events = cw.evaluateAlarms(T0 + 10 * MINUTE);

      // Assess
      expect(stateOf(cw, 'restarts')).toBe('ALARM');
      expect(events).toEqual([]);
    });

    it('words StateReason and StateReasonData as CloudWatch does', () => {
      // Prepare
      const cw = newEmulator();
      putSingleAlarm(cw);
      feed(cw, 'fullRestarts', [2, 0, 3, 0, 4]);

      // Act
      const [event] = cw.evaluateAlarms(T0);

      // Assess
      expect(cw.alarms()[0]?.stateReason).toBe(
        'Threshold Crossed: 3 out of the last 5 datapoints [4.0 (02/03/26 13:59:00), 3.0 (02/03/26 13:57:00), ' +
          '2.0 (02/03/26 13:55:00)] were greater than the threshold (0.0) (minimum 3 datapoints for OK -> ALARM transition).',
      );
      expect(JSON.parse(event?.detail.state.reasonData ?? '{}')).toEqual({
        version: '1.0',
        queryDate: '2026-03-02T14:00:00.000+0000',
        startDate: '2026-03-02T13:55:00.000+0000',
        statistic: 'Maximum',
        period: 60,
        recentDatapoints: [2, 0, 3, 0, 4],
        threshold: 0,
        evaluatedDatapoints: [
          { timestamp: '2026-03-02T13:59:00.000+0000', sampleCount: 1, value: 4 },
          { timestamp: '2026-03-02T13:58:00.000+0000', sampleCount: 1, value: 0 },
          { timestamp: '2026-03-02T13:57:00.000+0000', sampleCount: 1, value: 3 },
          { timestamp: '2026-03-02T13:56:00.000+0000', sampleCount: 1, value: 0 },
          { timestamp: '2026-03-02T13:55:00.000+0000', sampleCount: 1, value: 2 },
        ],
      });
    });

    it('words the OK, INSUFFICIENT_DATA and treated-missing reasons', () => {
      // Prepare
      const ok = newEmulator();
      putSingleAlarm(ok, {
        EvaluationPeriods: 2,
        DatapointsToAlarm: 2,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 1,
      });
      feed(ok, 'fullRestarts', [1, 0]);
      const none = newEmulator();
      putSingleAlarm(none);
      feed(none, 'fullRestarts', [0], T0 - 10 * MINUTE);
      none.evaluateAlarms(T0 - 10 * MINUTE);
      const treated = newEmulator();
      putSingleAlarm(treated, { TreatMissingData: 'notBreaching', EvaluationPeriods: 1, DatapointsToAlarm: 1 });

      // Act
      ok.evaluateAlarms(T0);
      none.evaluateAlarms(T0);
      treated.evaluateAlarms(T0);

      // Assess
      expect(ok.alarms()[0]?.stateReason).toBe(
        'Threshold Crossed: 1 out of the last 2 datapoints [0.0 (02/03/26 13:59:00)] was not greater than or equal to ' +
          'the threshold (1.0) (minimum 1 datapoint for ALARM -> OK transition).',
      );
      // An alarm whose value does not change keeps its reason: only OK -> INSUFFICIENT_DATA rewrites it.
      expect(none.alarms()[0]?.stateReason).toBe('Insufficient Data: 5 datapoints were unknown.');
      expect(treated.alarms()[0]?.stateReason).toBe(
        'Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [NonBreaching].',
      );
    });

    it('aggregates several datapoints per period with the alarm statistic', () => {
      // Prepare: a 5-minute period; minutes 13:55..13:59 hold 1,2,3,4,5.
      const cw = newEmulator();
      putSingleAlarm(cw, { Statistic: 'Sum', Period: 300, EvaluationPeriods: 1, DatapointsToAlarm: 1, Threshold: 14 });
      feed(cw, 'fullRestarts', [1, 2, 3, 4, 5]);

      // Act
      cw.evaluateAlarms(T0);

      // Assess: Sum = 15 > 14
      expect(stateOf(cw, 'restarts')).toBe('ALARM');
      expect(cw.alarms()[0]?.stateReason).toContain('[15.0 (02/03/26 13:55:00)]');
    });

    it('does not alarm on a counter reset with DIFF, and alarms again on the next restart', () => {
      // Prepare: fullRestarts is cumulative; a new job submission resets it to 0.
      const cw = newEmulator();
      putDiffAlarm(cw);
      const counter = [0, 0, 1, 2, 2, 0, 0, 1];
      const states: string[] = [];

      // Act
      counter.forEach((value, i) => {
        const minuteStart = T0 + i * MINUTE;
        cw.putDatapoint({
          namespace: NS,
          metricName: 'fullRestarts',
          dimensions: APP,
          timestampMs: minuteStart,
          value,
        });
        cw.evaluateAlarms(minuteStart + MINUTE);
        states.push(stateOf(cw, 'restart-loop') ?? '?');
      });

      // Assess: DIFF = -,0,1,1,0,-2,0,1
      expect(states).toEqual(['OK', 'OK', 'ALARM', 'ALARM', 'OK', 'OK', 'OK', 'ALARM']);
    });

    it('evaluates RATE per second and FILL for missing minutes', () => {
      // Prepare
      const rate = newEmulator();
      putDiffAlarm(rate, 'RATE(m1) * 60');
      feed(rate, 'fullRestarts', [3, 4]);
      const fill = newEmulator();
      putDiffAlarm(fill, 'FILL(m1, 1)');

      // Act
      rate.evaluateAlarms(T0);
      fill.evaluateAlarms(T0);

      // Assess: RATE = 1/60 per second → ×60 = 1 > 0; FILL turns the missing minute into 1 > 0.
      expect(stateOf(rate, 'restart-loop')).toBe('ALARM');
      expect(stateOf(fill, 'restart-loop')).toBe('ALARM');
    });

    it('emits events that pass AlarmStateChangeEvent.parse, single-metric shape', () => {
      // Prepare
      const cw = newEmulator();
      putSingleAlarm(cw, { EvaluationPeriods: 1, DatapointsToAlarm: 1 });
      feed(cw, 'fullRestarts', [1]);

      // Act
      const first = cw.evaluateAlarms(T0);
      feed(cw, 'fullRestarts', [0], T0 + MINUTE);
      const second = cw.evaluateAlarms(T0 + MINUTE);
      const third = cw.evaluateAlarms(T0 + MINUTE);

      // Assess
      const [a, b] = [...first, ...second].map((e) => AlarmStateChangeEvent.parse(e));
      expect(third).toEqual([]);
      expect(a).toMatchObject({
        version: '0',
        'detail-type': 'CloudWatch Alarm State Change',
        source: 'aws.cloudwatch',
        account: '123456789012',
        region: 'eu-west-1',
        time: '2026-03-02T14:00:00Z',
        resources: ['arn:aws:cloudwatch:eu-west-1:123456789012:alarm:restarts'],
        detail: {
          alarmName: 'restarts',
          configuration: {
            description: 'Flink job restarting',
            metrics: [
              {
                metricStat: {
                  metric: { namespace: NS, name: 'fullRestarts', dimensions: APP },
                  period: 60,
                  stat: 'Maximum',
                },
                returnData: true,
              },
            ],
          },
          previousState: {
            value: 'INSUFFICIENT_DATA',
            reason: 'Unchecked: Initial alarm creation',
            timestamp: '2026-03-02T14:00:00.000+0000',
          },
          state: { value: 'ALARM', timestamp: '2026-03-02T14:00:00.000+0000' },
        },
      });
      expect(a?.detail.configuration.metrics[0]?.id).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
      );
      expect(b?.detail.previousState.value).toBe('ALARM');
      expect(b?.detail.state.value).toBe('OK');
      expect(a?.id).not.toBe(b?.id);
    });

    it('emits metric-math configuration with every query', () => {
      // Prepare
      const cw = newEmulator();
      putDiffAlarm(cw);
      feed(cw, 'fullRestarts', [0, 1]);

      // Act
      const [event] = cw.evaluateAlarms(T0);

      // Assess
      const parsed = AlarmStateChangeEvent.parse(event);
      expect(parsed.detail.configuration.metrics).toEqual([
        {
          id: 'm1',
          metricStat: { metric: { namespace: NS, name: 'fullRestarts', dimensions: APP }, period: 60, stat: 'Maximum' },
          returnData: false,
        },
        { id: 'e1', expression: 'DIFF(m1)', label: 'restarts per minute', returnData: true },
      ]);
      expect(JSON.parse(parsed.detail.state.reasonData ?? '{}')).not.toHaveProperty('statistic');
    });

    it('keeps the state when an alarm is updated', () => {
      // Prepare
      const cw = newEmulator();
      putSingleAlarm(cw, { EvaluationPeriods: 1, DatapointsToAlarm: 1 });
      feed(cw, 'fullRestarts', [1]);
      cw.evaluateAlarms(T0);

      // Act
      putSingleAlarm(cw, { EvaluationPeriods: 1, DatapointsToAlarm: 1, Threshold: 5 });

      // Assess
      expect(stateOf(cw, 'restarts')).toBe('ALARM');
    });
  });

  describe('Method: handle', () => {
    it('rejects invalid PutMetricAlarm input with the CloudWatch exception', () => {
      // Prepare
      const cw = newEmulator();
      const metrics = [
        { Id: 'm1', MetricStat: { Metric: { Namespace: NS, MetricName: 'x' }, Period: 60, Stat: 'Sum' } },
      ];

      // Act + Assess
      expect(captureError(() => putSingleAlarm(cw, { DatapointsToAlarm: 6 }))).toMatchObject({
        type: 'ValidationException',
        message: 'DatapointsToAlarm must be less than or equal to EvaluationPeriods',
      });
      expect(captureError(() => putSingleAlarm(cw, { Threshold: undefined })).type).toBe(
        'MissingRequiredParameterException',
      );
      expect(captureError(() => putSingleAlarm(cw, { ExtendedStatistic: 'p99' })).type).toBe(
        'InvalidParameterCombinationException',
      );
      expect(captureError(() => putSingleAlarm(cw, { Period: 45 })).type).toBe('InvalidParameterValueException');
      expect(captureError(() => putSingleAlarm(cw, { Metrics: metrics })).message).toBe(
        'MetricName should not be set if list of Metrics is set.',
      );
      expect(captureError(() => putSingleAlarm(cw, { ComparisonOperator: 'Bigger' })).message).toBe(
        "1 validation error detected: Value 'Bigger' at 'comparisonOperator' failed to satisfy constraint: Member must " +
          'satisfy enum value set: [GreaterThanThreshold, GreaterThanOrEqualToThreshold, LessThanThreshold, LessThanOrEqualToThreshold]',
      );
      expect(captureError(() => putSingleAlarm(cw, { AlarmName: undefined })).message).toContain(
        "Value null at 'alarmName' failed to satisfy constraint: Member must not be null",
      );
      expect(
        captureError(() =>
          cw.handle('PutMetricAlarm', {
            AlarmName: 'x',
            EvaluationPeriods: 1,
            Threshold: 0,
            ComparisonOperator: 'GreaterThanThreshold',
            Metrics: [...metrics, { Id: 'e1', Expression: 'm1 * 2' }],
          }),
        ).message,
      ).toBe('Exactly one element of the metrics list should return data.');
      expect(cw.alarms()).toEqual([]);
    });

    it('describes alarms with the API model fields and filters', () => {
      // Prepare
      const cw = newEmulator();
      putSingleAlarm(cw, { AlarmActions: ['arn:aws:sns:eu-west-1:123456789012:ops'] });
      putSingleAlarm(cw, { AlarmName: 'restarts-b' });
      putDiffAlarm(cw);
      feed(cw, 'fullRestarts', pattern('XXXXX'));
      cw.evaluateAlarms(T0);

      // Act
      const all = cw.handle('DescribeAlarms', {}) as { MetricAlarms: Array<Record<string, unknown>> };
      const byPrefix = cw.handle('DescribeAlarms', { AlarmNamePrefix: 'restarts', StateValue: 'ALARM', MaxRecords: 1 });
      const page2 = cw.handle('DescribeAlarms', { AlarmNamePrefix: 'restarts', NextToken: '1' });
      const byName = cw.handle('DescribeAlarms', { AlarmNames: ['restart-loop'] }) as typeof all;

      // Assess
      expect(all.MetricAlarms.map((a) => a.AlarmName)).toEqual(['restart-loop', 'restarts', 'restarts-b']);
      expect(all.MetricAlarms[1]).toMatchObject({
        AlarmName: 'restarts',
        AlarmArn: 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:restarts',
        AlarmDescription: 'Flink job restarting',
        ActionsEnabled: true,
        AlarmActions: ['arn:aws:sns:eu-west-1:123456789012:ops'],
        OKActions: [],
        StateValue: 'ALARM',
        StateUpdatedTimestamp: T0 / 1000,
        AlarmConfigurationUpdatedTimestamp: T0 / 1000,
        MetricName: 'fullRestarts',
        Namespace: NS,
        Statistic: 'Maximum',
        Dimensions: [{ Name: 'Application', Value: 'orders-enricher' }],
        Period: 60,
        EvaluationPeriods: 5,
        DatapointsToAlarm: 3,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'missing',
      });
      expect(typeof all.MetricAlarms[1]?.StateReasonData).toBe('string');
      expect(byPrefix).toMatchObject({ MetricAlarms: [{ AlarmName: 'restarts' }], NextToken: '1' });
      expect(page2).toMatchObject({ MetricAlarms: [{ AlarmName: 'restarts-b' }] });
      expect(byName.MetricAlarms[0]).toMatchObject({
        Metrics: [
          { Id: 'm1', ReturnData: false },
          { Id: 'e1', Expression: 'DIFF(m1)', ReturnData: true },
        ],
      });
      expect(byName.MetricAlarms[0]).not.toHaveProperty('MetricName');
    });

    it('deletes the alarms that exist and ignores unknown names', () => {
      // Prepare
      const cw = newEmulator();
      putSingleAlarm(cw);
      putSingleAlarm(cw, { AlarmName: 'other' });

      // Act: DeleteAlarms API reference: "If you specify any incorrect alarm names, the alarms you specify with
      // correct names are still deleted."
      const out = cw.handle('DeleteAlarms', { AlarmNames: ['restarts', 'nope'] });

      // Assess
      expect(out).toEqual({});
      expect(cw.alarms().map((a) => a.alarmName)).toEqual(['other']);
    });

    it('serves GetMetricData with stats, metric math and ScanBy', () => {
      // Prepare: minutes 13:50..13:59 hold 1..10 for fullRestarts and 10 for downtime.
      const cw = newEmulator();
      feed(cw, 'fullRestarts', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      feed(cw, 'downtime', [10, 10, 10, 10, 10, null, 10, 10, 10, 10]);
      const metric = (name: string) => ({
        Namespace: NS,
        MetricName: name,
        Dimensions: [{ Name: 'Application', Value: 'orders-enricher' }],
      });

      // Act
      const out = cw.handle('GetMetricData', {
        StartTime: (T0 - 10 * MINUTE) / 1000,
        EndTime: T0 / 1000,
        ScanBy: 'TimestampAscending',
        MetricDataQueries: [
          { Id: 'sum5', MetricStat: { Metric: metric('fullRestarts'), Period: 300, Stat: 'Sum' } },
          { Id: 'avg5', MetricStat: { Metric: metric('fullRestarts'), Period: 300, Stat: 'Average' } },
          { Id: 'n5', MetricStat: { Metric: metric('downtime'), Period: 300, Stat: 'SampleCount' } },
          { Id: 'max5', MetricStat: { Metric: metric('fullRestarts'), Period: 300, Stat: 'Maximum' } },
          { Id: 'min5', MetricStat: { Metric: metric('fullRestarts'), Period: 300, Stat: 'Minimum' } },
          { Id: 'r', MetricStat: { Metric: metric('fullRestarts'), Period: 60, Stat: 'Maximum' }, ReturnData: false },
          { Id: 'd', MetricStat: { Metric: metric('downtime'), Period: 60, Stat: 'Maximum' }, ReturnData: false },
          { Id: 'diff', Expression: 'DIFF(r)' },
          { Id: 'mix', Expression: '(d - r) / 2 + -1', Label: 'mixed' },
          { Id: 'filled', Expression: 'FILL(d, 0)' },
        ],
      }) as { MetricDataResults: Array<{ Id: string; Label: string; Timestamps: number[]; Values: number[] }> };
      const desc = cw.handle('GetMetricData', {
        StartTime: (T0 - 3 * MINUTE + 500) / 1000,
        EndTime: T0 / 1000,
        MetricDataQueries: [{ Id: 'r', MetricStat: { Metric: metric('fullRestarts'), Period: 60, Stat: 'Maximum' } }],
      });

      // Assess
      const byId = Object.fromEntries(out.MetricDataResults.map((r) => [r.Id, r]));
      const t5 = [(T0 - 10 * MINUTE) / 1000, (T0 - 5 * MINUTE) / 1000];
      expect(byId.sum5).toEqual({
        Id: 'sum5',
        Label: 'fullRestarts',
        Timestamps: t5,
        Values: [15, 40],
        StatusCode: 'Complete',
      });
      expect(byId.avg5?.Values).toEqual([3, 8]);
      expect(byId.n5?.Values).toEqual([5, 4]);
      expect(byId.max5?.Values).toEqual([5, 10]);
      expect(byId.min5?.Values).toEqual([1, 6]);
      expect(byId.r).toBeUndefined();
      expect(byId.diff?.Values).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1]);
      expect(byId.diff?.Timestamps[0]).toBe((T0 - 9 * MINUTE) / 1000);
      expect(byId.mix?.Label).toBe('mixed');
      expect(byId.mix?.Values).toEqual([3.5, 3, 2.5, 2, 1.5, 0.5, 0, -0.5, -1]);
      expect(byId.filled?.Values).toEqual([10, 10, 10, 10, 10, 0, 10, 10, 10, 10]);
      expect(desc).toEqual({
        MetricDataResults: [
          {
            Id: 'r',
            Label: 'fullRestarts',
            Timestamps: [(T0 - MINUTE) / 1000, (T0 - 2 * MINUTE) / 1000, (T0 - 3 * MINUTE) / 1000],
            Values: [10, 9, 8],
            StatusCode: 'Complete',
          },
        ],
        Messages: [],
      });
    });

    it('rejects expressions outside the supported subset, naming the expression', () => {
      // Prepare
      const cw = newEmulator();
      const query = (Expression: string) => ({
        StartTime: (T0 - 10 * MINUTE) / 1000,
        EndTime: T0 / 1000,
        MetricDataQueries: [
          {
            Id: 'm1',
            MetricStat: { Metric: { Namespace: NS, MetricName: 'x' }, Period: 60, Stat: 'Sum' },
            ReturnData: false,
          },
          { Id: 'e1', Expression },
        ],
      });

      // Act + Assess
      expect(captureError(() => cw.handle('GetMetricData', query('SUM(METRICS())')))).toMatchObject({
        type: 'ValidationException',
        message: expect.stringContaining("Error in expression 'e1' (SUM(METRICS())): unsupported function 'SUM'"),
      });
      expect(captureError(() => cw.handle('GetMetricData', query('FILL(m1, REPEAT)'))).message).toContain(
        'FILL(m1, REPEAT)',
      );
      expect(captureError(() => cw.handle('GetMetricData', query('m1 +'))).message).toContain("'e1' (m1 +)");
      expect(captureError(() => cw.handle('GetMetricData', query('m2 * 2'))).message).toContain(
        "unknown query id 'm2'",
      );
      expect(captureError(() => cw.handle('GetMetricData', query('e1 + 1'))).message).toContain('circular reference');
    });

    it('rejects an unknown operation', () => {
      // Prepare
      const cw = newEmulator();

      // Act
      const error = captureError(() => cw.handle('PutDashboard', {}));

      // Assess
      expect(error.type).toBe('UnknownOperationException');
    });
  });
});
