import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '#sandbox/clock.ts';
import { type Emulator, startEmulator } from '#sandbox/emulator/index.ts';
import type { AlarmStateChangeEvent } from '#shared/events/alarm-state-change.ts';

/** 2026-03-02T14:00:30Z: between two minute boundaries, so no scheduled evaluation runs. */
const T0 = Date.UTC(2026, 2, 2, 14, 0, 30);

const running: Emulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.close()));
});

describe('Function: startEmulator', () => {
  describe('Alarm events', () => {
    it('delivers the event of a SetAlarmState call to the listeners at once, not at the next evaluation', async () => {
      // Prepare
      const clock = new VirtualClock(T0);
      const emulator = await startEmulator({ clock });
      running.push(emulator);
      const events: AlarmStateChangeEvent[] = [];
      emulator.onAlarmEvent((e) => events.push(e));
      const client = new CloudWatchClient({
        endpoint: emulator.endpoint,
        region: emulator.region,
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      });
      await client.send(
        new PutMetricAlarmCommand({
          AlarmName: 'orders-downtime',
          Namespace: 'AWS/KinesisAnalytics',
          MetricName: 'downtime',
          Dimensions: [{ Name: 'Application', Value: 'orders' }],
          Statistic: 'Maximum',
          Period: 60,
          EvaluationPeriods: 1,
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
        }),
      );

      // Act
      await client.send(
        new SetAlarmStateCommand({ AlarmName: 'orders-downtime', StateValue: 'ALARM', StateReason: 'rehearsal' }),
      );

      // Assess: the clock has not moved, so only SetAlarmState can have produced it.
      expect(events.map((e) => [e.detail.alarmName, e.detail.previousState.value, e.detail.state.value])).toEqual([
        ['orders-downtime', 'INSUFFICIENT_DATA', 'ALARM'],
      ]);
      expect(events[0]?.detail.state.reason).toBe('rehearsal');
    });
  });
});
