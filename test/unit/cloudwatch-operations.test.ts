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
const DIMENSIONS = [{ Name: 'Application', Value: 'orders-enricher' }];

function newEmulator(clock = new VirtualClock(T0)): CloudWatchEmulator {
  return new CloudWatchEmulator({ clock, region: 'eu-west-1', accountId: '123456789012' });
}

function put(cw: CloudWatchEmulator, timestampMs: number, value: number, metricName = 'downtime'): void {
  cw.putDatapoint({ namespace: NS, metricName, dimensions: APP, timestampMs, value });
}

function putAlarm(cw: CloudWatchEmulator, overrides: Record<string, unknown> = {}): void {
  cw.handle('PutMetricAlarm', {
    AlarmName: 'downtime',
    Namespace: NS,
    MetricName: 'downtime',
    Dimensions: DIMENSIONS,
    Statistic: 'Maximum',
    Period: 60,
    EvaluationPeriods: 1,
    Threshold: 0,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'missing',
    ...overrides,
  });
}

function stateOf(cw: CloudWatchEmulator): string | undefined {
  return cw.alarms()[0]?.stateValue;
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

interface HistoryOut {
  AlarmHistoryItems: Array<{
    AlarmName: string;
    AlarmType: string;
    Timestamp: number;
    HistoryItemType: string;
    HistorySummary: string;
    HistoryData: string;
  }>;
  NextToken?: string;
}

interface MetricDataOut {
  MetricDataResults: Array<{ Id: string; Timestamps: number[]; Values: number[]; StatusCode: string }>;
  NextToken?: string;
}

describe('Class: CloudWatchEmulator', () => {
  describe('Method: evaluateAlarms (at any instant)', () => {
    it('evaluates only complete periods: the running minute does not count', () => {
      // Prepare: 13:59 was fine; the minute running at 14:00:25 already has a breaching datapoint.
      const cw = newEmulator();
      putAlarm(cw);
      put(cw, T0 - MINUTE, 0);
      put(cw, T0, 1);

      // Act
      cw.evaluateAlarms(T0 + 25_000);
      const during = stateOf(cw);
      cw.evaluateAlarms(T0 + MINUTE + 10_000);

      // Assess
      expect(during).toBe('OK');
      expect(stateOf(cw)).toBe('ALARM');
    });

    it('decides on the datapoints stored at that moment; a late datapoint counts once it is stored', () => {
      // Prepare: 3 of 3, notBreaching; 13:57 and 13:58 breach, 13:59's breaching datapoint arrives late.
      const cw = newEmulator();
      putAlarm(cw, { EvaluationPeriods: 3, DatapointsToAlarm: 3, TreatMissingData: 'notBreaching' });
      put(cw, T0 - 3 * MINUTE, 1);
      put(cw, T0 - 2 * MINUTE, 1);

      // Act
      cw.evaluateAlarms(T0 + 10_000);
      const beforeArrival = stateOf(cw);
      put(cw, T0 - MINUTE, 1);
      const [event] = cw.evaluateAlarms(T0 + 20_000);

      // Assess
      expect(beforeArrival).toBe('OK');
      expect(stateOf(cw)).toBe('ALARM');
      expect(event?.time).toBe('2026-03-02T14:00:20Z');
      expect(event?.detail.state.timestamp).toBe('2026-03-02T14:00:20.000+0000');
      expect(JSON.parse(event?.detail.state.reasonData ?? '{}')).toMatchObject({
        queryDate: '2026-03-02T14:00:20.000+0000',
        startDate: '2026-03-02T13:57:00.000+0000',
        recentDatapoints: [1, 1, 1],
      });
    });

    it('gives the same answer at the boundary and anywhere inside the next period', () => {
      // Prepare
      const states = [0, 1_000, 29_999, 59_999].map((offset) => {
        const cw = newEmulator();
        putAlarm(cw, { EvaluationPeriods: 2, DatapointsToAlarm: 2 });
        put(cw, T0 - 2 * MINUTE, 1);
        put(cw, T0 - MINUTE, 1);

        // Act
        cw.evaluateAlarms(T0 + offset);
        return stateOf(cw);
      });

      // Assess
      expect(states).toEqual(['ALARM', 'ALARM', 'ALARM', 'ALARM']);
    });

    it('aligns 5-minute periods to 5-minute boundaries', () => {
      // Prepare: Sum over 13:55–13:59 is 15; 14:00–14:02 holds 100 but that period is not complete at 14:03.
      const cw = newEmulator();
      putAlarm(cw, { Statistic: 'Sum', Period: 300, Threshold: 14 });
      for (const [i, v] of [1, 2, 3, 4, 5].entries()) put(cw, T0 - (5 - i) * MINUTE, v);
      put(cw, T0 + MINUTE, 100);

      // Act
      cw.evaluateAlarms(T0 + 3 * MINUTE);

      // Assess
      expect(cw.alarms()[0]?.stateReason).toContain('[15.0 (02/03/26 13:55:00)]');
    });

    it('rejects a non-finite instant', () => {
      expect(() => newEmulator().evaluateAlarms(Number.NaN)).toThrow(TypeError);
    });
  });

  describe('Method: handle (SetAlarmState)', () => {
    it('sets the state, emits the event, and the next evaluation sets it back', () => {
      // Prepare
      const clock = new VirtualClock(T0 + 5_000);
      const cw = newEmulator(clock);
      putAlarm(cw);
      put(cw, T0 - MINUTE, 0);
      cw.evaluateAlarms(T0 + 1_000);

      // Act
      const out = cw.handle('SetAlarmState', {
        AlarmName: 'downtime',
        StateValue: 'ALARM',
        StateReason: 'testing the notification path',
        StateReasonData: '{"version":"1.0"}',
      });
      const afterSet = stateOf(cw);
      const events = cw.evaluateAlarms(T0 + 30_000);

      // Assess
      expect(out).toEqual({});
      expect(afterSet).toBe('ALARM');
      expect(events.map((e) => AlarmStateChangeEvent.parse(e).detail.state.value)).toEqual(['ALARM', 'OK']);
      expect(events[0]?.detail).toMatchObject({
        previousState: { value: 'OK' },
        state: {
          value: 'ALARM',
          reason: 'testing the notification path',
          reasonData: '{"version":"1.0"}',
          timestamp: '2026-03-02T14:00:05.000+0000',
        },
      });
      expect(stateOf(cw)).toBe('OK');
    });

    it('hands the event to onAlarmEvent at once when a listener is given', () => {
      // Prepare
      const received: AlarmStateChangeEvent[] = [];
      const cw = new CloudWatchEmulator({
        clock: new VirtualClock(T0),
        region: 'eu-west-1',
        accountId: '123456789012',
        onAlarmEvent: (e) => received.push(e),
      });
      putAlarm(cw);

      // Act
      cw.handle('SetAlarmState', { AlarmName: 'downtime', StateValue: 'OK', StateReason: 'manual' });

      // Assess
      expect(received.map((e) => e.detail.state.value)).toEqual(['OK']);
      expect(cw.evaluateAlarms(T0 + 1_000).map((e) => e.detail.state.value)).toEqual(['INSUFFICIENT_DATA']);
    });

    it('answers ResourceNotFound (404) for an unknown alarm and InvalidFormatFault for non-JSON StateReasonData', () => {
      // Prepare
      const cw = newEmulator();
      putAlarm(cw);

      // Act
      const unknown = captureError(() =>
        cw.handle('SetAlarmState', { AlarmName: 'nope', StateValue: 'OK', StateReason: 'x' }),
      );
      const badJson = captureError(() =>
        cw.handle('SetAlarmState', {
          AlarmName: 'downtime',
          StateValue: 'OK',
          StateReason: 'x',
          StateReasonData: 'not json',
        }),
      );
      const badValue = captureError(() =>
        cw.handle('SetAlarmState', { AlarmName: 'downtime', StateValue: 'BROKEN', StateReason: 'x' }),
      );

      // Assess
      expect(unknown).toMatchObject({ type: 'ResourceNotFound', status: 404 });
      expect(badJson).toMatchObject({ type: 'InvalidFormatFault', status: 400 });
      expect(badValue.message).toContain("at 'stateValue'");
      expect(stateOf(cw)).toBe('INSUFFICIENT_DATA');
    });
  });

  describe('Method: handle (DescribeAlarmHistory)', () => {
    it('records creation, updates and every state change, shaped like CloudWatch', () => {
      // Prepare
      const clock = new VirtualClock(T0);
      const cw = newEmulator(clock);
      putAlarm(cw, { AlarmDescription: 'job down' });
      put(cw, T0 - MINUTE, 1);
      cw.evaluateAlarms(T0 + 10_000);
      clock.advanceTo(T0 + 20_000);
      putAlarm(cw, { AlarmDescription: 'job down (updated)' });
      clock.advanceTo(T0 + 30_000);
      cw.handle('SetAlarmState', { AlarmName: 'downtime', StateValue: 'OK', StateReason: 'manual' });

      // Act
      const out = cw.handle('DescribeAlarmHistory', { AlarmName: 'downtime' }) as HistoryOut;

      // Assess: newest first by default.
      expect(out.AlarmHistoryItems.map((h) => [h.HistoryItemType, h.HistorySummary, h.Timestamp])).toEqual([
        ['StateUpdate', 'Alarm updated from ALARM to OK', (T0 + 30_000) / 1000],
        ['ConfigurationUpdate', 'Alarm "downtime" updated', (T0 + 20_000) / 1000],
        ['StateUpdate', 'Alarm updated from INSUFFICIENT_DATA to ALARM', (T0 + 10_000) / 1000],
        ['ConfigurationUpdate', 'Alarm "downtime" created', T0 / 1000],
      ]);
      expect(out.AlarmHistoryItems.every((h) => h.AlarmType === 'MetricAlarm')).toBe(true);
      const [, , toAlarm, created] = out.AlarmHistoryItems;
      expect(JSON.parse(toAlarm?.HistoryData ?? '{}')).toMatchObject({
        version: '1.0',
        oldState: { stateValue: 'INSUFFICIENT_DATA', stateReason: 'Unchecked: Initial alarm creation' },
        newState: {
          stateValue: 'ALARM',
          stateReasonData: { version: '1.0', queryDate: '2026-03-02T14:00:10.000+0000', recentDatapoints: [1] },
        },
      });
      expect(JSON.parse(created?.HistoryData ?? '{}')).toMatchObject({
        version: '1.0',
        type: 'Create',
        createdAlarm: {
          alarmName: 'downtime',
          alarmDescription: 'job down',
          alarmArn: 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:downtime',
          alarmConfigurationUpdatedTimestamp: '2026-03-02T14:00:00.000+0000',
          namespace: NS,
          metricName: 'downtime',
          dimensions: [{ name: 'Application', value: 'orders-enricher' }],
          stateValue: 'INSUFFICIENT_DATA',
          okactions: [],
        },
      });
    });

    it('filters by type and dates, scans oldest first on request, pages with NextToken, and keeps deleted alarms', () => {
      // Prepare: 3 state changes 1 minute apart, then the alarm is deleted.
      const cw = newEmulator();
      putAlarm(cw);
      [1, 0, 1].forEach((v, i) => {
        put(cw, T0 + i * MINUTE, v);
        cw.evaluateAlarms(T0 + (i + 1) * MINUTE + 5_000);
      });
      cw.handle('DeleteAlarms', { AlarmNames: ['downtime'] });
      const base = { AlarmName: 'downtime', HistoryItemType: 'StateUpdate', ScanBy: 'TimestampAscending' };

      // Act
      const first = cw.handle('DescribeAlarmHistory', { ...base, MaxRecords: 2 }) as HistoryOut;
      const second = cw.handle('DescribeAlarmHistory', {
        ...base,
        MaxRecords: 2,
        NextToken: first.NextToken,
      }) as HistoryOut;
      const windowed = cw.handle('DescribeAlarmHistory', {
        ...base,
        StartDate: (T0 + 2 * MINUTE) / 1000,
        EndDate: (T0 + 2 * MINUTE + 5_000) / 1000,
      }) as HistoryOut;
      const composite = cw.handle('DescribeAlarmHistory', { AlarmTypes: ['CompositeAlarm'] }) as HistoryOut;

      // Assess
      expect(first.AlarmHistoryItems.map((h) => h.HistorySummary)).toEqual([
        'Alarm updated from INSUFFICIENT_DATA to ALARM',
        'Alarm updated from ALARM to OK',
      ]);
      expect(second.AlarmHistoryItems.map((h) => h.HistorySummary)).toEqual(['Alarm updated from OK to ALARM']);
      expect(second.NextToken).toBeUndefined();
      expect(windowed.AlarmHistoryItems.map((h) => h.HistorySummary)).toEqual(['Alarm updated from ALARM to OK']);
      expect(composite.AlarmHistoryItems).toEqual([]);
    });

    it('answers InvalidNextToken for a token from another request', () => {
      // Prepare
      const cw = newEmulator();
      putAlarm(cw);
      putAlarm(cw, { AlarmName: 'other' });
      const page = cw.handle('DescribeAlarmHistory', { MaxRecords: 1 }) as HistoryOut;

      // Act
      const error = captureError(() =>
        cw.handle('DescribeAlarmHistory', { AlarmName: 'other', NextToken: page.NextToken }),
      );

      // Assess
      expect(page.NextToken).toBeDefined();
      expect(error).toMatchObject({ type: 'InvalidNextToken', status: 400 });
    });
  });

  describe('Method: handle (PutMetricData)', () => {
    it('stores Value, Values/Counts and StatisticValues, filed under their minute', () => {
      // Prepare
      const cw = newEmulator(new VirtualClock(T0 + 5 * MINUTE));
      const ts = (T0 + 42_000) / 1000;

      // Act
      cw.handle('PutMetricData', {
        Namespace: 'Sandbox',
        MetricData: [
          { MetricName: 'latency', Dimensions: DIMENSIONS, Timestamp: ts, Value: 10, Unit: 'Milliseconds' },
          { MetricName: 'latency', Dimensions: DIMENSIONS, Timestamp: ts, Values: [20, 30], Counts: [2, 1] },
          {
            MetricName: 'latency',
            Dimensions: DIMENSIONS,
            Timestamp: ts,
            StatisticValues: { SampleCount: 4, Sum: 200, Minimum: 50, Maximum: 50 },
          },
        ],
      });
      const stat = (Stat: string) =>
        (
          cw.handle('GetMetricData', {
            MetricDataQueries: [
              {
                Id: 'm',
                MetricStat: {
                  Metric: { Namespace: 'Sandbox', MetricName: 'latency', Dimensions: DIMENSIONS },
                  Period: 60,
                  Stat,
                },
              },
            ],
            StartTime: T0 / 1000,
            EndTime: (T0 + MINUTE) / 1000,
          }) as MetricDataOut
        ).MetricDataResults[0];

      // Assess: samples 10, 20, 20, 30, 50×4 → count 8, sum 280.
      expect(stat('SampleCount')).toMatchObject({ Timestamps: [T0 / 1000], Values: [8] });
      expect(stat('Sum')?.Values).toEqual([280]);
      expect(stat('Minimum')?.Values).toEqual([10]);
      expect(stat('Maximum')?.Values).toEqual([50]);
      expect(stat('p50')?.Values).toEqual([30]);
    });

    it('raises an alarm from PutMetricData datapoints', () => {
      // Prepare
      const cw = newEmulator(new VirtualClock(T0 - 30_000));
      putAlarm(cw, { Namespace: 'Sandbox' });

      // Act
      cw.handle('PutMetricData', {
        Namespace: 'Sandbox',
        MetricData: [{ MetricName: 'downtime', Dimensions: DIMENSIONS, Value: 60_000 }],
      });
      cw.evaluateAlarms(T0 + 10_000);

      // Assess: no Timestamp = the time received (13:59:30), filed under 13:59.
      expect(stateOf(cw)).toBe('ALARM');
    });

    it('rejects what the API reference rejects, storing nothing from a bad request', () => {
      // Prepare
      const cw = newEmulator();
      const datum = { MetricName: 'm', Value: 1 };
      const send =
        (MetricData: unknown[], Namespace = 'Sandbox') =>
        () =>
          cw.handle('PutMetricData', { Namespace, MetricData });

      // Act
      const errors = {
        both: captureError(send([{ ...datum, StatisticValues: { SampleCount: 1, Sum: 1, Minimum: 1, Maximum: 1 } }])),
        none: captureError(send([{ MetricName: 'm' }])),
        countsAlone: captureError(send([{ ...datum, Counts: [1] }])),
        counts: captureError(send([{ MetricName: 'm', Values: [1, 2], Counts: [1] }])),
        tooManyValues: captureError(send([{ MetricName: 'm', Values: Array.from({ length: 151 }, (_, i) => i) }])),
        nan: captureError(send([{ MetricName: 'm', Value: 'NaN' }])),
        huge: captureError(send([{ MetricName: 'm', Value: 2 ** 361 }])),
        resolution: captureError(send([{ ...datum, StorageResolution: 10 }])),
        old: captureError(send([{ ...datum, Timestamp: (T0 - 15 * 24 * 60 * MINUTE) / 1000 }])),
        future: captureError(send([{ ...datum, Timestamp: (T0 + 3 * 60 * MINUTE) / 1000 }])),
        tooMany: captureError(send(Array.from({ length: 1001 }, () => datum))),
        colon: captureError(send([datum], ':bad')),
        mixed: captureError(send([datum, { MetricName: 'm', Value: 'Infinity' }])),
      };

      // Assess
      expect(Object.fromEntries(Object.entries(errors).map(([k, e]) => [k, e.type]))).toEqual({
        both: 'InvalidParameterCombinationException',
        none: 'MissingRequiredParameterException',
        countsAlone: 'InvalidParameterCombinationException',
        counts: 'InvalidParameterValueException',
        tooManyValues: 'InvalidParameterValueException',
        nan: 'InvalidParameterValueException',
        huge: 'InvalidParameterValueException',
        resolution: 'InvalidParameterValueException',
        old: 'InvalidParameterValueException',
        future: 'InvalidParameterValueException',
        tooMany: 'InvalidParameterValueException',
        colon: 'ValidationException',
        mixed: 'InvalidParameterValueException',
      });
      expect(errors.nan.message).toContain('MetricData.member.1.Value');
      expect(errors.mixed.message).toContain('MetricData.member.2.Value');
      const out = cw.handle('GetMetricData', {
        MetricDataQueries: [
          {
            Id: 'm',
            MetricStat: { Metric: { Namespace: 'Sandbox', MetricName: 'm' }, Period: 60, Stat: 'SampleCount' },
          },
        ],
        StartTime: (T0 - 60 * MINUTE) / 1000,
        EndTime: (T0 + MINUTE) / 1000,
      }) as MetricDataOut;
      expect(out.MetricDataResults[0]?.Values).toEqual([]);
    });

    it('keeps high-resolution datapoints to the second', () => {
      // Prepare
      const cw = newEmulator();
      const Dimensions = DIMENSIONS;

      // Act
      cw.handle('PutMetricData', {
        Namespace: 'Sandbox',
        MetricData: [
          { MetricName: 'hr', Dimensions, Timestamp: (T0 + 3_000) / 1000, Value: 1, StorageResolution: 1 },
          { MetricName: 'hr', Dimensions, Timestamp: (T0 + 13_000) / 1000, Value: 2, StorageResolution: 1 },
        ],
      });
      const out = cw.handle('GetMetricData', {
        MetricDataQueries: [
          {
            Id: 'h',
            MetricStat: { Metric: { Namespace: 'Sandbox', MetricName: 'hr', Dimensions }, Period: 10, Stat: 'Sum' },
          },
        ],
        StartTime: T0 / 1000,
        EndTime: (T0 + 20_000) / 1000,
        ScanBy: 'TimestampAscending',
      }) as MetricDataOut;

      // Assess
      expect(out.MetricDataResults[0]).toMatchObject({ Timestamps: [T0 / 1000, (T0 + 10_000) / 1000], Values: [1, 2] });
    });
  });

  describe('Method: handle (PutMetricAlarm limits)', () => {
    it('refuses an evaluation longer than one day for periods under an hour, and longer than 7 days otherwise', () => {
      // Prepare
      const cw = newEmulator();

      // Act
      const day = captureError(() => putAlarm(cw, { Period: 60, EvaluationPeriods: 1441 }));
      const week = captureError(() => putAlarm(cw, { Period: 3600, EvaluationPeriods: 169 }));
      putAlarm(cw, { Period: 60, EvaluationPeriods: 1440 });
      putAlarm(cw, { AlarmName: 'weekly', Period: 3600, EvaluationPeriods: 168 });

      // Assess
      expect(day).toMatchObject({ type: 'ValidationException' });
      expect(day.message).toContain('86400 s');
      expect(week.message).toContain('604800 s');
      expect(cw.alarms().map((a) => a.alarmName)).toEqual(['downtime', 'weekly']);
    });
  });

  describe('Method: putDatapoint', () => {
    it('keeps every datapoint, zero-valued counters included: no minute goes missing', () => {
      // Prepare: 30 minutes of a counter that stays 0.
      const cw = newEmulator();
      for (let i = 0; i < 30; i++) put(cw, T0 - (30 - i) * MINUTE, 0, 'numberOfFailedCheckpoints');

      // Act
      const out = cw.handle('GetMetricData', {
        MetricDataQueries: [
          {
            Id: 'f',
            MetricStat: {
              Metric: { Namespace: NS, MetricName: 'numberOfFailedCheckpoints', Dimensions: DIMENSIONS },
              Period: 60,
              Stat: 'SampleCount',
            },
          },
        ],
        StartTime: (T0 - 30 * MINUTE) / 1000,
        EndTime: T0 / 1000,
      }) as MetricDataOut;

      // Assess
      expect(out.MetricDataResults[0]?.Values).toEqual(Array.from({ length: 30 }, () => 1));
    });
  });

  describe('Method: handle (GetMetricData StartTime rounding)', () => {
    it('rounds StartTime down to the minute, or to the period below a minute', () => {
      // Prepare: high-resolution datapoints at 14:00:05, 14:00:15 and 14:00:25.
      const cw = newEmulator();
      cw.handle('PutMetricData', {
        Namespace: 'Sandbox',
        MetricData: [5, 15, 25].map((s) => ({
          MetricName: 'hr',
          Timestamp: (T0 + s * 1000) / 1000,
          Value: s,
          StorageResolution: 1,
        })),
      });
      const read = (Period: number) =>
        (
          cw.handle('GetMetricData', {
            MetricDataQueries: [
              { Id: 'h', MetricStat: { Metric: { Namespace: 'Sandbox', MetricName: 'hr' }, Period, Stat: 'Sum' } },
            ],
            StartTime: (T0 + 23_000) / 1000,
            EndTime: (T0 + MINUTE) / 1000,
            ScanBy: 'TimestampAscending',
          }) as MetricDataOut
        ).MetricDataResults[0];

      // Act
      const tenSeconds = read(10);
      const minute = read(60);

      // Assess: 14:00:23 becomes 14:00:20 for Period 10 ("rounded down to ... even 5-, 10-, 20-, or 30-second
      // divisions of a minute") and 14:00:00 for Period 60.
      expect(tenSeconds).toMatchObject({ Timestamps: [(T0 + 20_000) / 1000], Values: [25] });
      expect(minute).toMatchObject({ Timestamps: [T0 / 1000], Values: [45] });
    });
  });

  describe('Method: handle (GetMetricData paging)', () => {
    function query(cw: CloudWatchEmulator, extra: Record<string, unknown>): MetricDataOut {
      return cw.handle('GetMetricData', {
        MetricDataQueries: [
          {
            Id: 'a',
            MetricStat: {
              Metric: { Namespace: NS, MetricName: 'downtime', Dimensions: DIMENSIONS },
              Period: 60,
              Stat: 'Maximum',
            },
          },
          {
            Id: 'b',
            MetricStat: {
              Metric: { Namespace: NS, MetricName: 'uptime', Dimensions: DIMENSIONS },
              Period: 60,
              Stat: 'Maximum',
            },
          },
        ],
        StartTime: (T0 - 3 * MINUTE) / 1000,
        EndTime: T0 / 1000,
        ...extra,
      }) as MetricDataOut;
    }

    it('returns at most MaxDatapoints in total, PartialData with a NextToken, and continues where it stopped', () => {
      // Prepare: 3 minutes of downtime (0,1,2) and uptime (10,11,12).
      const cw = newEmulator();
      [0, 1, 2].forEach((i) => {
        put(cw, T0 - (3 - i) * MINUTE, i);
        put(cw, T0 - (3 - i) * MINUTE, 10 + i, 'uptime');
      });

      // Act
      const pages: MetricDataOut[] = [query(cw, { MaxDatapoints: 4 })];
      while (pages[pages.length - 1]?.NextToken !== undefined) {
        pages.push(query(cw, { MaxDatapoints: 4, NextToken: pages[pages.length - 1]?.NextToken }));
      }

      // Assess: newest first (default ScanBy TimestampDescending).
      expect(pages).toHaveLength(2);
      expect(pages[0]?.MetricDataResults.map((r) => [r.Id, r.Values, r.StatusCode])).toEqual([
        ['a', [2, 1, 0], 'Complete'],
        ['b', [12], 'PartialData'],
      ]);
      expect(pages[1]?.MetricDataResults.map((r) => [r.Id, r.Values, r.StatusCode])).toEqual([
        ['a', [], 'Complete'],
        ['b', [11, 10], 'Complete'],
      ]);
      expect(pages[1]?.MetricDataResults[1]?.Timestamps).toEqual([(T0 - 2 * MINUTE) / 1000, (T0 - 3 * MINUTE) / 1000]);
    });

    it('answers InvalidNextToken for a token it did not issue or from another request', () => {
      // Prepare
      const cw = newEmulator();
      for (const i of [0, 1, 2]) put(cw, T0 - (3 - i) * MINUTE, i);
      const first = query(cw, { MaxDatapoints: 1 });

      // Act
      const garbage = captureError(() => query(cw, { NextToken: 'garbage' }));
      const foreign = captureError(() => query(cw, { NextToken: first.NextToken, ScanBy: 'TimestampAscending' }));

      // Assess
      expect(first.NextToken).toBeDefined();
      expect(garbage).toMatchObject({ type: 'InvalidNextToken', status: 400 });
      expect(foreign.type).toBe('InvalidNextToken');
    });
  });
});
