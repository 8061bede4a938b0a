import { describe, expect, it } from 'vitest';
import { ALARM_TAG_KEY, alarmPrefix, alarmsFor, InvalidInstanceError, putMetricAlarmInput } from '#shared/alarms.ts';
import { parseConfig } from '#shared/config/schema.ts';
import { reconcileAlarms } from '#shared/domain/alarm-manager.ts';
import type { FleetCell } from '#shared/domain/fleet.ts';
import type { FleetMember } from '#shared/domain/fleet-memory.ts';
import { policy, T0 } from '../support/builders.ts';
import { CapturingLog, FakeMsf } from '../support/fakes.ts';
import { FakeAlarms } from '../support/fleet-fakes.ts';

const member = (key: string, runtimeEnvironment = 'FLINK-1_20'): FleetMember => ({
  key,
  source: 'listed',
  runtimeEnvironment,
  firstSeenMs: T0,
});

function setup(config: Record<string, unknown> = {}) {
  const alarms = new FakeAlarms();
  const cells: FleetCell[] = [{ msf: new FakeMsf(), alarms }];
  const deps = { config: parseConfig({ schemaVersion: 1, ...config }), log: new CapturingLog(), cells };
  return { alarms, deps };
}

describe('Function: alarmsFor (names per instance)', () => {
  it('names alarms flink-watchdog-<instance>-<application>-<kind> and adds the downtime alarm only when asked', () => {
    // Act
    const without = alarmsFor('orders', 'FLINK-1_20', policy(), { instance: 'prod', downtime: false });
    const withDowntime = alarmsFor('orders', 'FLINK-1_20', policy(), { instance: 'prod', downtime: true });
    // Assess
    expect(without.map((a) => a.alarmName)).toEqual([
      'flink-watchdog-prod-orders-restart-loop',
      'flink-watchdog-prod-orders-failed-checkpoints',
    ]);
    expect(withDowntime.map((a) => a.kind)).toEqual(['restart-loop', 'downtime', 'failed-checkpoints']);
  });

  it('names an application of another account by its bare name, with its bare name as the Application dimension', () => {
    // Act
    const [restart] = alarmsFor('orders@111122223333.eu-west-1', 'FLINK-1_20', policy(), {
      instance: 'prod',
      downtime: false,
    });
    // Assess
    expect(restart?.alarmName).toBe('flink-watchdog-prod-orders-restart-loop');
    expect(restart?.applicationKey).toBe('orders@111122223333.eu-west-1');
    expect(restart?.queries[0]?.metric?.dimensions).toEqual({ Application: 'orders' });
  });

  it('refuses an instance id that cannot be part of an alarm name, naming WATCHDOG_INSTANCE', () => {
    expect(() => alarmPrefix('prod eu')).toThrow(InvalidInstanceError);
    expect(() => alarmPrefix('')).toThrow(/WATCHDOG_INSTANCE/);
    // No '-': instance "prod"'s prefix must never be the start of another instance's ("prod-eu" would be).
    expect(() => alarmPrefix('prod-eu')).toThrow(InvalidInstanceError);
    expect(alarmPrefix('prodeu')).toBe('flink-watchdog-prodeu-');
  });

  it('puts the instance tag on the PutMetricAlarm input', () => {
    const [spec] = alarmsFor('orders', 'FLINK-1_20', policy(), { instance: 'prod', downtime: false });
    if (!spec) throw new Error('no alarm');
    expect(putMetricAlarmInput(spec, 'prod').Tags).toEqual([{ Key: ALARM_TAG_KEY, Value: 'prod' }]);
  });
});

describe('Function: reconcileAlarms', () => {
  it('creates the missing alarms of every member, tagged with the instance', async () => {
    // Prepare
    const { alarms, deps } = setup();
    // Act
    const done = await reconcileAlarms(deps, [member('orders'), member('clicks')], 'prod');
    // Assess
    expect(done.created).toEqual([
      'flink-watchdog-prod-orders-restart-loop',
      'flink-watchdog-prod-orders-failed-checkpoints',
      'flink-watchdog-prod-clicks-restart-loop',
      'flink-watchdog-prod-clicks-failed-checkpoints',
    ]);
    expect([...alarms.alarms.values()].every((a) => a.tags[ALARM_TAG_KEY] === 'prod')).toBe(true);
  });

  it('creates the downtime alarm too when fleet.alarms.downtime is true', async () => {
    // Prepare
    const { alarms, deps } = setup({ fleet: { alarms: { downtime: true } } });
    // Act
    await reconcileAlarms(deps, [member('orders')], 'prod');
    // Assess
    expect(alarms.names()).toContain('flink-watchdog-prod-orders-downtime');
  });

  it('changes nothing when every alarm is as wanted: one DescribeAlarms, no write', async () => {
    // Prepare
    const { alarms, deps } = setup();
    await reconcileAlarms(deps, [member('orders')], 'prod');
    alarms.calls.length = 0;
    // Act
    const done = await reconcileAlarms(deps, [member('orders')], 'prod');
    // Assess
    expect(done).toMatchObject({ created: [], updated: [], deleted: [] });
    expect(alarms.calls).toEqual(['DescribeAlarms flink-watchdog-prod-']);
    expect(done.states.get('flink-watchdog-prod-orders-restart-loop')).toBe('INSUFFICIENT_DATA');
  });

  it('puts again an alarm whose definition is outdated (the runtime changed, so the restart metric did)', async () => {
    // Prepare
    const { alarms, deps } = setup();
    await reconcileAlarms(deps, [member('orders', 'FLINK-1_20')], 'prod');
    // Act
    const done = await reconcileAlarms(deps, [member('orders', 'FLINK-2_2')], 'prod');
    // Assess
    expect(done.updated).toEqual(['flink-watchdog-prod-orders-restart-loop']);
    expect(alarms.alarms.get('flink-watchdog-prod-orders-restart-loop')?.spec.queries[0]?.metric?.metricName).toBe(
      'numRestarts',
    );
  });

  it('deletes the alarms of an application that left the watched set, once', async () => {
    // Prepare
    const { alarms, deps } = setup();
    await reconcileAlarms(deps, [member('orders'), member('clicks')], 'prod');
    // Act
    const first = await reconcileAlarms(deps, [member('orders')], 'prod');
    const second = await reconcileAlarms(deps, [member('orders')], 'prod');
    // Assess
    expect(first.deleted).toEqual([
      'flink-watchdog-prod-clicks-restart-loop',
      'flink-watchdog-prod-clicks-failed-checkpoints',
    ]);
    expect(second.deleted).toEqual([]);
    expect(alarms.names()).toEqual([
      'flink-watchdog-prod-orders-failed-checkpoints',
      'flink-watchdog-prod-orders-restart-loop',
    ]);
  });

  it("never touches another instance's alarms under its prefix, an untagged alarm, or alarms outside the prefix", async () => {
    // Prepare: alarms under prod's prefix tagged for another instance (copied by hand); a person made one by hand
    const { alarms, deps } = setup();
    const other = alarmsFor('orders', 'FLINK-1_20', policy(), { instance: 'prod', downtime: false });
    const byHand = alarmsFor('legacy', 'FLINK-1_20', policy(), { instance: 'prod', downtime: false });
    const outside = { ...byHand[0], alarmName: 'team-orders-restarts' } as (typeof byHand)[0];
    for (const a of other) alarms.seed(a, { [ALARM_TAG_KEY]: 'staging' });
    for (const a of byHand) alarms.seed(a, {});
    alarms.seed(outside, {});
    // Act
    const done = await reconcileAlarms(deps, [], 'prod');
    // Assess
    expect(done.deleted).toEqual([]);
    expect(done.foreign.sort()).toEqual([...other.map((a) => a.alarmName), ...byHand.map((a) => a.alarmName)].sort());
    expect(alarms.names()).toHaveLength(5);
  });

  it('does not rewrite an alarm with a wanted name that is not its own, and reports it once', async () => {
    // Prepare
    const { alarms, deps } = setup();
    const [restart] = alarmsFor('orders', 'FLINK-1_20', policy(), { instance: 'prod', downtime: false });
    if (!restart) throw new Error('no alarm');
    alarms.seed({ ...restart, threshold: 3 }, {});
    // Act
    const done = await reconcileAlarms(deps, [member('orders')], 'prod');
    // Assess
    expect(done.updated).toEqual([]);
    expect(done.foreign).toEqual([restart.alarmName]);
    expect(done.problems).toEqual([
      `alarm ${restart.alarmName} in home has a name this watchdog wants but not its tag flink-watchdog:instance=prod: left alone, and its application is looked at closely every sweep; delete the alarm so that the watchdog makes its own`,
    ]);
    expect(alarms.alarms.get(restart.alarmName)?.spec.threshold).toBe(3);
  });

  it('writes at most alarmWritesPerCell alarms a cell per reconciliation and the rest at the next one', async () => {
    // Prepare: 3 applications, 6 alarms, 4 writes a time
    const { alarms, deps } = setup();
    const members = [member('a'), member('b'), member('c')];
    // Act
    const first = await reconcileAlarms({ ...deps, alarmWritesPerCell: 4 }, members, 'prod');
    const second = await reconcileAlarms({ ...deps, alarmWritesPerCell: 4 }, members, 'prod');
    // Assess
    expect(first.created).toHaveLength(4);
    expect(first.postponed).toEqual(['flink-watchdog-prod-c-restart-loop', 'flink-watchdog-prod-c-failed-checkpoints']);
    expect(second.created).toEqual(first.postponed);
    expect(alarms.names()).toHaveLength(6);
  });

  it('reports a failed call as a problem and goes on', async () => {
    // Prepare
    const { alarms, deps } = setup();
    alarms.putAlarm = async () => {
      throw Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });
    };
    // Act
    const done = await reconcileAlarms(deps, [member('orders')], 'prod');
    // Assess
    expect(done.created).toEqual([]);
    expect(done.problems).toHaveLength(2);
    expect(done.problems[0]).toContain('Throttling');
  });
});
