import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { KinesisAnalyticsV2Client, UntagResourceCommand } from '@aws-sdk/client-kinesis-analytics-v2';
import { ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '#sandbox/clock.ts';
import { type Emulator, startEmulator } from '#sandbox/emulator/index.ts';
import type { ThrottleOptions } from '#sandbox/emulator/throttle.ts';
import { ScenarioApplication } from '#sandbox/scenario.ts';
import { CloudWatchMetrics } from '#shared/adapters/cloudwatch.ts';
import { CloudWatchAlarms } from '#shared/adapters/cloudwatch-alarms.ts';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import { type ApiCallCounter, MsfAdapter } from '#shared/adapters/msf.ts';
import { RecordingNotifier } from '#shared/adapters/recording-notifier.ts';
import { TaggingAdapter } from '#shared/adapters/tagging.ts';
import { ALARM_TAG_KEY, alarmsFor, putMetricAlarmInput } from '#shared/alarms.ts';
import { parseConfig } from '#shared/config/schema.ts';
import { lookBatch, planSweep, type SweepDeps } from '#shared/domain/sweep.ts';
import { policy } from '../support/builders.ts';
import { CapturingLog } from '../support/fakes.ts';

const START = '2026-03-02T14:00:00Z';
const MINUTE = 60_000;
const TAG = { key: 'flink-watchdog', value: 'on' };
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

const running: Emulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.close()));
});

async function harness(listed: string[], tagged: string[], throttle: ThrottleOptions = {}) {
  const clock = new VirtualClock(Date.parse(START));
  const applications = [...listed, ...tagged].map((name) =>
    ScenarioApplication.parse({
      name,
      code: { bucket: 'artifacts', fileKey: `${name}-1.jar` },
      ...(tagged.includes(name) ? { tags: { [TAG.key]: TAG.value } } : {}),
    }),
  );
  const emulator = await startEmulator({
    clock,
    world: { startTime: START, applications, jobModel: [], faults: [] },
    throttle,
  });
  running.push(emulator);
  // One attempt: the SDK's retries back off in wall time while the emulator's rate limit refills in virtual time.
  const clientConfig = { endpoint: emulator.endpoint, region: 'eu-west-1', credentials: CREDENTIALS, maxAttempts: 1 };
  const calls: ApiCallCounter = {};
  const msf = new MsfAdapter({ client: new KinesisAnalyticsV2Client(clientConfig), calls });
  const cloudwatch = new CloudWatchClient(clientConfig);
  const deps: SweepDeps = {
    msf,
    metrics: new CloudWatchMetrics({ client: cloudwatch, calls }),
    ledger: new MemoryLedger(),
    notifier: new RecordingNotifier(),
    starter: { start: async () => undefined },
    config: parseConfig({ schemaVersion: 1, optInTag: TAG, applications: listed.map((name) => ({ name })) }),
    clock,
    log: new CapturingLog(),
    fleet: {
      instance: 'prod',
      cells: [
        {
          msf,
          tagging: new TaggingAdapter({ client: new ResourceGroupsTaggingAPIClient(clientConfig), calls }),
          alarms: new CloudWatchAlarms({ client: cloudwatch, calls }),
        },
      ],
    },
  };
  const advance = (minutes: number) => {
    clock.advance(minutes * MINUTE);
    emulator.advanceTo(clock.now());
  };
  return { emulator, deps, calls, cloudwatch, clientConfig, advance };
}

describe('Sweep against the emulator', () => {
  it('creates the alarms of listed and tagged applications, tagged with the instance, and deletes them once untagged (two sweeps agree)', async () => {
    // Prepare
    const h = await harness(['orders'], ['clicks']);
    const alarms = new CloudWatchAlarms({ client: h.cloudwatch });
    // Act
    const first = await planSweep(h.deps);
    const created = await alarms.describeAlarms('flink-watchdog-prod-');
    const tags = await alarms.alarmTags(created[0]?.alarmArn ?? '');
    await new KinesisAnalyticsV2Client(h.clientConfig).send(
      new UntagResourceCommand({
        ResourceARN: `arn:aws:kinesisanalytics:eu-west-1:${h.emulator.accountId}:application/clicks`,
        TagKeys: [TAG.key],
      }),
    );
    h.advance(5);
    const firstMiss = await planSweep(h.deps);
    h.advance(5);
    const second = await planSweep(h.deps);
    const left = await alarms.describeAlarms('flink-watchdog-prod-');
    // Assess
    expect(first.summary).toMatchObject({ watched: 2, tagged: 1, alarmsCreated: 4 });
    expect(created.map((a) => a.alarmName).sort()).toEqual([
      'flink-watchdog-prod-clicks-failed-checkpoints',
      'flink-watchdog-prod-clicks-restart-loop',
      'flink-watchdog-prod-orders-failed-checkpoints',
      'flink-watchdog-prod-orders-restart-loop',
    ]);
    expect(tags).toEqual({ [ALARM_TAG_KEY]: 'prod' });
    expect(firstMiss.summary).toMatchObject({ watched: 2, missing: 1, removed: 0, alarmsDeleted: 0 });
    expect(second.summary).toMatchObject({ watched: 1, removed: 1, alarmsDeleted: 2 });
    expect(left.map((a) => a.alarmName).sort()).toEqual([
      'flink-watchdog-prod-orders-failed-checkpoints',
      'flink-watchdog-prod-orders-restart-loop',
    ]);
  });

  it("reads its own alarms back as current (no rewrite) and leaves another instance's alarms alone", async () => {
    // Prepare: an alarm under prod's prefix that carries another instance's tag (e.g. copied by hand from staging)
    const h = await harness(['orders'], []);
    const [copy] = alarmsFor('legacy', 'FLINK-1_20', policy(), { instance: 'prod', downtime: false });
    if (!copy) throw new Error('no alarm');
    await h.cloudwatch.send(new PutMetricAlarmCommand(putMetricAlarmInput(copy, 'staging')));
    await planSweep(h.deps);
    h.advance(5);
    for (const k of Object.keys(h.calls)) delete h.calls[k];
    // Act
    const again = await planSweep(h.deps);
    const left = await new CloudWatchAlarms({ client: h.cloudwatch }).describeAlarms('flink-watchdog-prod-legacy-');
    // Assess
    expect(again.summary).toMatchObject({ alarmsCreated: 0, alarmsDeleted: 0 });
    expect(h.calls.PutMetricAlarm).toBeUndefined();
    expect(h.calls.DeleteAlarms).toBeUndefined();
    expect(left.map((a) => a.alarmName)).toEqual([copy.alarmName]);
  });

  it('reads the metrics of a batch of 20 applications with one GetMetricData call', async () => {
    // Prepare
    const names = Array.from({ length: 20 }, (_, i) => `app-${i}`);
    const h = await harness(names, []);
    h.advance(15);
    await planSweep(h.deps);
    delete h.calls.GetMetricData;
    // Act
    const results = await lookBatch(names, h.deps);
    // Assess
    expect(h.calls.GetMetricData).toBe(1);
    expect(results.map((r) => r.result)).toEqual(names.map(() => 'HEALTHY'));
  });

  it('gives a quiet fleet its close look by rotation: after an hour every application, one GetMetricData for the batch', async () => {
    // Prepare: the first sweep looks at every application (all new); then nothing is off for an hour
    const names = Array.from({ length: 5 }, (_, i) => `app-${i}`);
    const h = await harness(names, []);
    await planSweep(h.deps);
    h.advance(60);
    for (const a of await new CloudWatchAlarms({ client: h.cloudwatch }).describeAlarms('flink-watchdog-prod-')) {
      await h.cloudwatch.send(
        new SetAlarmStateCommand({ AlarmName: a.alarmName, StateValue: 'OK', StateReason: 'quiet (test)' }),
      );
    }
    // Act
    const plan = await planSweep(h.deps);
    delete h.calls.GetMetricData;
    const results = await lookBatch(plan.batches[0]?.applications ?? [], h.deps);
    // Assess
    expect(plan.summary).toMatchObject({ flagged: 0, rotated: 5 });
    expect(plan.batches).toEqual([{ applications: names }]);
    expect(h.calls.GetMetricData).toBe(1);
    expect(results.map((r) => r.result)).toEqual(names.map(() => 'HEALTHY'));
  });

  it('keeps the watched set and every alarm when MSF throttles the sweep (ThrottlingException), and says so', async () => {
    // Prepare: one MSF request, then a token every 1,000 virtual seconds
    const h = await harness(['orders'], ['clicks'], { kinesisanalytics: { ratePerSecond: 0.001, burst: 1 } });
    await planSweep(h.deps);
    h.advance(1);
    // Act
    const throttled = await planSweep(h.deps);
    const left = await new CloudWatchAlarms({ client: h.cloudwatch }).describeAlarms('flink-watchdog-prod-');
    // Assess
    expect(throttled.problems[0]).toMatch(/^cell home could not be read \(MsfApiError: .*ThrottlingException/);
    expect(throttled.summary).toMatchObject({ watched: 2, removed: 0, alarmsDeleted: 0, flagged: 0 });
    expect(left).toHaveLength(4);
    expect(h.emulator.calls.filter((c) => c.errorType === 'ThrottlingException')).toHaveLength(1);
  });
});
