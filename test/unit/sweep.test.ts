import { describe, expect, it } from 'vitest';
import { createDetectorHandler } from '#functions/detector/handler.ts';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import { RecordingNotifier } from '#shared/adapters/recording-notifier.ts';
import { alarmsFor } from '#shared/alarms.ts';
import { parseConfig } from '#shared/config/schema.ts';
import type { FleetMember } from '#shared/domain/fleet-memory.ts';
import type { MetricSeries } from '#shared/domain/model.ts';
import { lookBatch, planSweep, rotationOf, type SweepDeps } from '#shared/domain/sweep.ts';
import { parseDetectorEvent } from '#shared/events/detector-input.ts';
import type { MetricsPort, SeriesRequest } from '#shared/ports/metrics.ts';
import { MsfApiError } from '#shared/ports/msf.ts';
import { app, MIN, policy, T0 } from '../support/builders.ts';
import { CapturingLog, FakeMsf } from '../support/fakes.ts';
import { FakeAlarms, FakeTagging } from '../support/fleet-fakes.ts';

const TAG = { key: 'flink-watchdog', value: 'on' };

/** Metrics fake that counts batched and single reads; every series empty (a quiet application). */
class CountingMetrics implements MetricsPort {
  readonly many: SeriesRequest[][] = [];
  readonly single: string[] = [];
  async getSeries(applicationName: string, metricNames: readonly string[]) {
    this.single.push(applicationName);
    return empty(metricNames);
  }
  async getSeriesMany(requests: readonly SeriesRequest[]) {
    this.many.push([...requests]);
    return requests.map((r) => empty(r.metricNames));
  }
}

function empty(names: readonly string[]): Record<string, MetricSeries> {
  return Object.fromEntries(names.map((n) => [n, { metricName: n, periodSeconds: 60, points: [] }]));
}

const MEMBER = '111122223333';
const arn = (name: string) => `arn:aws:kinesisanalytics:eu-west-1:123456789012:application/${name}`;
const memberArn = (name: string) => `arn:aws:kinesisanalytics:eu-west-1:${MEMBER}:application/${name}`;

function setup(names: string[], config: Record<string, unknown> = {}) {
  const msf = new FakeMsf();
  for (const name of names) msf.setApp(app({ name, arn: arn(name) }));
  const tagging = new FakeTagging();
  const alarms = new FakeAlarms();
  const metrics = new CountingMetrics();
  const ledger = new MemoryLedger();
  let now = T0;
  const deps: SweepDeps & { ledger: MemoryLedger } = {
    msf,
    metrics,
    ledger,
    notifier: new RecordingNotifier(),
    starter: { start: async () => undefined },
    config: parseConfig({ schemaVersion: 1, optInTag: TAG, applications: names.map((name) => ({ name })), ...config }),
    clock: { now: () => now },
    log: new CapturingLog(),
    fleet: { instance: 'prod', cells: [{ msf, tagging, alarms }] },
  };
  const advance = (ms: number) => {
    now += ms;
  };
  /** Every alarm of the fleet to OK, as CloudWatch would once the applications publish quiet metrics. */
  const allOk = () => {
    for (const name of alarms.names()) alarms.setState(name, 'OK');
  };
  return { msf, tagging, alarms, metrics, ledger, deps, advance, allOk };
}

describe('Function: planSweep', () => {
  it('looks at every application at the first sweep (all new), then only at those with something off', async () => {
    // Prepare
    const { msf, alarms, deps, advance, allOk } = setup(['a', 'b', 'c', 'd', 'e']);
    const first = await planSweep(deps);
    allOk();
    advance(5 * MIN);
    msf.setApp(app({ name: 'b', arn: arn('b'), status: 'READY' }));
    msf.setApp(app({ name: 'c', arn: arn('c'), versionId: 8 }));
    alarms.setState('flink-watchdog-prod-d-restart-loop', 'ALARM');
    // Act
    const second = await planSweep(deps);
    // Assess
    expect(first.summary).toMatchObject({ watched: 5, added: 5, flagged: 5, alarmsCreated: 10 });
    expect(second.batches).toEqual([{ applications: ['b', 'c', 'd'] }]);
    expect(second.reasons).toEqual({
      b: ['ApplicationStatus READY (desired RUNNING)'],
      c: ['application version 7 → 8'],
      d: ['alarm flink-watchdog-prod-d-restart-loop ALARM'],
    });
    expect(second.summary).toMatchObject({ watched: 5, added: 0, alarmsCreated: 0, flagged: 3, msfCalls: 1 });
  });

  it('flags nothing in a quiet fleet: the look phase gets no batch', async () => {
    // Prepare
    const { deps, advance, allOk } = setup(['a', 'b']);
    await planSweep(deps);
    allOk();
    advance(5 * MIN);
    // Act
    const plan = await planSweep(deps);
    // Assess
    expect(plan.batches).toEqual([]);
  });

  it('flags an application whose alarm is missing (deleted by someone), and puts the alarm back', async () => {
    // Prepare
    const { alarms, deps, allOk } = setup(['a']);
    await planSweep(deps);
    allOk();
    alarms.alarms.delete('flink-watchdog-prod-a-failed-checkpoints');
    // Act
    const plan = await planSweep(deps);
    // Assess
    expect(plan.reasons.a).toEqual(['alarm flink-watchdog-prod-a-failed-checkpoints missing']);
    expect(plan.summary.alarmsCreated).toBe(1);
  });

  it('takes a newly tagged application into the next sweep with its alarms, and deletes them once when untagged', async () => {
    // Prepare
    const { msf, tagging, alarms, deps, allOk } = setup(['a']);
    msf.setApp(app({ name: 'late', arn: arn('late') }));
    await planSweep(deps);
    allOk();
    tagging.tag('late', TAG.key, TAG.value);
    // Act
    const tagged = await planSweep(deps);
    allOk();
    tagging.untag('late', TAG.key);
    const firstMiss = await planSweep(deps);
    const alarmsAfterFirstMiss = alarms.names().filter((n) => n.includes('-late-'));
    const untagged = await planSweep(deps);
    const after = await planSweep(deps);
    // Assess
    expect(tagged.reasons.late).toContain('new in the watched set');
    expect(tagged.summary).toMatchObject({ tagged: 1, added: 1, alarmsCreated: 2 });
    expect(firstMiss.summary).toMatchObject({ watched: 2, missing: 1, removed: 0, alarmsDeleted: 0 });
    expect(alarmsAfterFirstMiss).toHaveLength(2);
    expect(untagged.summary).toMatchObject({ watched: 1, missing: 0, removed: 1, alarmsDeleted: 2 });
    expect(after.summary).toMatchObject({ removed: 0, alarmsDeleted: 0 });
    expect(alarms.names().some((n) => n.includes('-late-'))).toBe(false);
  });

  it('keeps the alarms and the alarm state of a tagged application missing from one GetResources answer', async () => {
    // Prepare
    const { msf, tagging, alarms, deps, allOk } = setup([]);
    msf.setApp(app({ name: 'clicks', arn: arn('clicks') }));
    tagging.tag('clicks', TAG.key, TAG.value);
    await planSweep(deps);
    allOk();
    alarms.setState('flink-watchdog-prod-clicks-restart-loop', 'ALARM');
    const taggedApplications = tagging.taggedApplications.bind(tagging);
    tagging.taggedApplications = async () => [];
    // Act
    const blip = await planSweep(deps);
    tagging.taggedApplications = taggedApplications;
    const back = await planSweep(deps);
    // Assess
    expect(blip.summary).toMatchObject({ watched: 1, missing: 1, removed: 0, alarmsDeleted: 0 });
    expect(blip.reasons.clicks).toEqual(['alarm flink-watchdog-prod-clicks-restart-loop ALARM']);
    expect(back.summary).toMatchObject({ watched: 1, missing: 0, added: 0, alarmsCreated: 0 });
    expect(alarms.alarms.get('flink-watchdog-prod-clicks-restart-loop')?.state).toBe('ALARM');
  });

  it('does not flag an application stopped on purpose for its downtime alarm, but does when it should run', async () => {
    // Prepare: "idle" is READY and meant to be; "down" is READY but meant to run; both downtime alarms in ALARM
    const { msf, alarms, deps, advance, allOk } = setup(['idle', 'down'], {
      fleet: { alarms: { downtime: true } },
      applications: [{ name: 'idle', policy: { desiredStatus: 'READY' } }, { name: 'down' }],
    });
    msf.setApp(app({ name: 'idle', arn: arn('idle'), status: 'READY' }));
    await planSweep(deps);
    allOk();
    msf.setApp(app({ name: 'down', arn: arn('down'), status: 'READY' }));
    alarms.setState('flink-watchdog-prod-idle-downtime', 'ALARM');
    alarms.setState('flink-watchdog-prod-down-downtime', 'ALARM');
    advance(5 * MIN);
    // Act
    const plan = await planSweep(deps);
    // Assess
    expect(plan.reasons).toEqual({
      down: ['ApplicationStatus READY (desired RUNNING)', 'alarm flink-watchdog-prod-down-downtime ALARM'],
    });
  });

  it('writes nothing of the home cell into a member account when the home cell cannot be read', async () => {
    // Prepare: home1 at home, orders in a member account; then ListApplications throttled at home
    const { msf, alarms, deps } = setup(['home1'], {
      applications: [{ name: 'home1' }, { name: 'orders', accountId: MEMBER, region: 'eu-west-1' }],
      fleet: { accounts: [{ accountId: MEMBER, regions: ['eu-west-1'], externalId: 'central-7f3a' }] },
    });
    const memberMsf = new FakeMsf().setApp(app({ name: 'orders', arn: memberArn('orders') }));
    const memberAlarms = new FakeAlarms();
    const cells = [
      ...deps.fleet.cells,
      { accountId: MEMBER, region: 'eu-west-1', msf: memberMsf, alarms: memberAlarms },
    ];
    const fleetDeps = { ...deps, fleet: { ...deps.fleet, cells } };
    await planSweep(fleetDeps);
    const homeAlarms = alarms.names();
    msf.listApplications = async () => {
      throw new MsfApiError('*', 'ListApplications', 'ThrottlingException', 'Rate exceeded');
    };
    // Act
    const plan = await planSweep(fleetDeps);
    // Assess
    expect(memberAlarms.names()).toEqual([
      'flink-watchdog-prod-orders-failed-checkpoints',
      'flink-watchdog-prod-orders-restart-loop',
    ]);
    expect(alarms.names()).toEqual(homeAlarms);
    expect(plan.summary).toMatchObject({ watched: 2, alarmsCreated: 0, alarmsDeleted: 0 });
    expect(Object.keys(plan.reasons)).not.toContain('home1');
  });

  it('gives every quiet application a close look within fleet.sweep.closeLookMinutes, spread over the sweeps', async () => {
    // Prepare: 12 applications, a close look at least hourly, a sweep every 5 minutes
    const names = Array.from({ length: 12 }, (_, i) => `app-${i}`);
    const { deps, ledger, advance, allOk } = setup(names, { fleet: { sweep: { closeLookMinutes: 60 } } });
    await planSweep(deps);
    allOk();
    // Act
    const plans = [];
    for (let sweep = 1; sweep <= 12; sweep++) {
      advance(5 * MIN);
      plans.push(await planSweep(deps));
    }
    // Assess: one a sweep (12 × 5 / 60), each once within the hour, oldest look first
    expect(plans.map((p) => p.summary.flagged)).toEqual(names.map(() => 0));
    expect(plans.map((p) => p.summary.rotated)).toEqual(names.map(() => 1));
    expect(plans.flatMap((p) => p.rotation)).toEqual(names);
    expect(plans[0]?.batches).toEqual([{ applications: ['app-0'] }]);
    const memory = await ledger.loadFleetMemory();
    expect(memory?.applications.find((m) => m.key === 'app-0')?.lastCloseLookMs).toBe(T0 + 5 * MIN);
    expect(memory?.applications.find((m) => m.key === 'app-11')?.lastCloseLookMs).toBe(T0 + 60 * MIN);
  });

  it('counts a flagged application as looked at: the rotation takes the one due, not the one flagged since', async () => {
    // Prepare: half an hour in, b is flagged and a rotated (3 × 30 / 60 = 1), so both looked at closely then
    const { alarms, deps, advance, allOk } = setup(['a', 'b', 'c']);
    await planSweep(deps);
    allOk();
    advance(30 * MIN);
    alarms.setState('flink-watchdog-prod-b-restart-loop', 'ALARM');
    const flagged = await planSweep(deps);
    allOk();
    advance(31 * MIN);
    // Act
    const plan = await planSweep(deps);
    // Assess
    expect(flagged.reasons).toEqual({ b: ['alarm flink-watchdog-prod-b-restart-loop ALARM'] });
    expect(flagged.batches).toEqual([{ applications: ['b', 'a'] }]);
    expect(plan.rotation).toEqual(['c']);
    expect(plan.summary).toMatchObject({ flagged: 0, rotated: 1 });
  });

  it('checks every member of the open fleet incident that has not recovered, at every sweep', async () => {
    // Prepare: a and b are members, b recovered; c is not a member
    const { deps, ledger, advance, allOk } = setup(['a', 'b', 'c']);
    await planSweep(deps);
    allOk();
    const member = (applicationName: string, recoveredMs?: number) => ({
      applicationName,
      firstFailureMs: T0,
      joinedMs: T0,
      ...(recoveredMs ? { recoveredMs } : {}),
      shares: { sources: ['topic orders'], sinks: [], vpcs: [] },
    });
    await ledger.openFleetIncident({
      schemaVersion: 1,
      id: 'fleet-1',
      status: 'OPEN',
      trigger: { source: 'schedule', detail: 'sweep', atMs: T0 },
      openedMs: T0,
      firstFailureMs: T0,
      limit: 2,
      watched: 3,
      windowMinutes: 10,
      members: [member('a'), member('b', T0 + 2 * MIN)],
      shared: { sources: ['topic orders'], sinks: [], vpcs: [] },
      held: [],
      events: [],
    });
    // Act
    advance(1 * MIN);
    const first = await planSweep(deps);
    advance(1 * MIN);
    const second = await planSweep(deps);
    // Assess
    expect(first.reasons).toEqual({ a: ['member of fleet incident fleet-1, not recovered'] });
    expect(second.reasons).toEqual(first.reasons);
  });

  it('reports a foreign alarm bearing a wanted name once per sweep and looks at its application closely', async () => {
    // Prepare: someone made "a"'s restart alarm by hand with another threshold and no instance tag
    const { alarms, deps, advance, allOk } = setup(['a']);
    const [restart] = alarmsFor('a', 'FLINK-1_20', policy(), { instance: 'prod', downtime: false });
    if (!restart) throw new Error('no alarm');
    alarms.seed({ ...restart, threshold: 3 }, {}, 'OK');
    await planSweep(deps);
    allOk();
    advance(5 * MIN);
    // Act
    const plan = await planSweep(deps);
    // Assess
    const named = plan.problems.filter((p) => p.includes(restart.alarmName));
    expect(named).toHaveLength(1);
    expect(named[0]).toContain('not its tag flink-watchdog:instance=prod');
    expect(plan.reasons.a).toEqual([`alarm ${restart.alarmName} not this instance's`]);
    expect(alarms.alarms.get(restart.alarmName)?.spec.threshold).toBe(3);
  });

  it('splits the flagged applications into batches of fleet.sweep.batchSize', async () => {
    // Prepare
    const names = Array.from({ length: 45 }, (_, i) => `app-${i}`);
    const { deps } = setup(names);
    // Act
    const plan = await planSweep(deps);
    // Assess
    expect(plan.batches.map((b) => b.applications.length)).toEqual([20, 20, 5]);
  });
});

describe('Function: rotationOf', () => {
  const m = (key: string, lastCloseLookMs?: number): FleetMember => ({
    key,
    source: 'tag',
    firstSeenMs: T0,
    ...(lastCloseLookMs === undefined ? {} : { lastCloseLookMs }),
  });
  const now = T0 + 120 * MIN;

  it.each([
    ['nothing when none is due and no time passed', [m('a', now - 10 * MIN)], undefined, []],
    [
      'every one due, oldest first, never looked at first',
      [m('a', now - 70 * MIN), m('b'), m('c', now - 90 * MIN), m('d', now - 5 * MIN)],
      now - 5 * MIN,
      ['b', 'c', 'a'],
    ],
    [
      'at least the pace: 24 × 5 / 60 = 2 of the oldest',
      Array.from({ length: 24 }, (_, i) => m(`x${i}`, now - (30 + i) * MIN)),
      now - 5 * MIN,
      ['x23', 'x22'],
    ],
    [
      'no more than the members after a long gap',
      [m('a', now - 10 * MIN), m('b', now - 20 * MIN)],
      now - 600 * MIN,
      ['b', 'a'],
    ],
  ])('takes %s', (_label, members, previousSweepMs, expected) => {
    expect(rotationOf(members, now, 60, previousSweepMs)).toEqual(expected);
  });
});

describe('Function: lookBatch', () => {
  it('reads the metrics of a batch of 20 with one batched read and none per application', async () => {
    // Prepare
    const names = Array.from({ length: 20 }, (_, i) => `app-${i}`);
    const { deps, metrics } = setup(names);
    await planSweep(deps);
    // Act
    const results = await lookBatch(names, deps);
    // Assess
    expect(metrics.many).toHaveLength(1);
    expect(metrics.many[0]).toHaveLength(20);
    expect(metrics.many[0]?.[0]?.metricNames).toEqual([
      'fullRestarts',
      'downtime',
      'numberOfFailedCheckpoints',
      'lastCheckpointDuration',
      'lastCheckpointSize',
    ]);
    expect(metrics.single).toEqual([]);
    expect(results.map((r) => r.result)).toEqual(names.map(() => 'HEALTHY'));
  });

  it('reads an application on its own when its checkpoint window is longer than the prefetched range', async () => {
    // Prepare: a custom 30-minute checkpoint interval needs 60 minutes of failed checkpoints
    const { deps, msf, metrics } = setup(['slow', 'quick']);
    msf.setApp(
      app({
        name: 'slow',
        arn: arn('slow'),
        checkpointConfiguration: { configurationType: 'CUSTOM', checkpointIntervalMs: 30 * MIN },
      }),
    );
    // Act
    await lookBatch(['slow', 'quick'], deps);
    // Assess
    expect(metrics.many).toHaveLength(1);
    expect(metrics.single).toEqual(['slow']);
  });
});

describe('Handler: detector (sweep steps)', () => {
  it.each([
    ['an unknown phase', { sweep: { phase: 'scan' } }, 'sweep.phase'],
    ['a look without applications', { sweep: { phase: 'look' } }, 'sweep.applications'],
    ['a look with an empty batch', { sweep: { phase: 'look', applications: [] } }, 'sweep.applications'],
    ['a look with a bad key', { sweep: { phase: 'look', applications: ['orders/x'] } }, 'sweep.applications.0'],
    ['an extra field', { sweep: { phase: 'plan', applications: ['a'] } }, 'sweep'],
  ])('rejects %s, naming the field, with no MSF call', async (_label, event, field) => {
    // Prepare
    const { deps, msf, alarms } = setup(['a']);
    const handler = createDetectorHandler(deps);
    // Act
    const out = await handler(event);
    // Assess
    expect(out.status).toBe('REJECTED');
    expect(out.error).toContain(field);
    expect(msf.calls).toEqual([]);
    expect(alarms.calls).toEqual([]);
  });

  it('answers the Plan step with the batches at $.sweep.batches and a summary', async () => {
    // Prepare
    const { deps } = setup(['a', 'b']);
    const handler = createDetectorHandler(deps);
    // Act
    const out = await handler({ sweep: { phase: 'plan' } });
    // Assess
    expect(out).toEqual({
      status: 'OK',
      results: [],
      sweep: {
        batches: [{ applications: ['a', 'b'] }],
        summary: {
          watched: 2,
          tagged: 0,
          added: 2,
          removed: 0,
          alarmsCreated: 4,
          alarmsDeleted: 0,
          missing: 0,
          flagged: 2,
          rotated: 0,
          msfCalls: 1,
        },
      },
    });
  });

  it('answers a LookBatch step with one result per application', async () => {
    // Prepare
    const { deps } = setup(['a', 'b']);
    const handler = createDetectorHandler(deps);
    // Act
    const out = await handler({ sweep: { phase: 'look', applications: ['a', 'b'] } });
    // Assess
    expect(out.status).toBe('OK');
    expect(out.results.map((r) => [r.applicationName, r.result])).toEqual([
      ['a', 'HEALTHY'],
      ['b', 'HEALTHY'],
    ]);
  });

  it('runs the plan and every batch in one invocation for a Scheduled Event (callers without the state machine)', async () => {
    // Prepare: no fleet wiring, as a caller that predates the sweep state machine
    const { deps } = setup(['a', 'b', 'c']);
    const { fleet: _fleet, ...legacy } = deps;
    const handler = createDetectorHandler(legacy);
    // Act
    const out = await handler({
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      resources: ['arn:aws:events:eu-west-1:123456789012:rule/flink-watchdog-sweep'],
      time: new Date(T0).toISOString(),
    });
    // Assess
    expect(out.results.map((r) => r.applicationName)).toEqual(['a', 'b', 'c']);
  });
});

describe('Function: parseDetectorEvent (alarm events of other accounts)', () => {
  const event = (account: string, region = 'eu-west-1') => ({
    version: '0',
    id: 'e1',
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account,
    time: '2026-03-02T14:00:00Z',
    region,
    resources: [`arn:aws:cloudwatch:${region}:${account}:alarm:flink-watchdog-prod-orders-restart-loop`],
    detail: {
      alarmName: 'flink-watchdog-prod-orders-restart-loop',
      configuration: {
        metrics: [
          {
            id: 'restarts',
            metricStat: {
              metric: {
                namespace: 'AWS/KinesisAnalytics',
                name: 'fullRestarts',
                dimensions: { Application: 'orders' },
              },
              period: 60,
              stat: 'Maximum',
            },
            returnData: false,
          },
        ],
      },
      previousState: { value: 'OK', reason: 'x', timestamp: '2026-03-02T13:59:00Z' },
      state: { value: 'ALARM', reason: 'x', timestamp: '2026-03-02T14:00:00Z' },
    },
  });
  const home = { accountId: '123456789012', region: 'eu-west-1' };

  it('names the application of a member account’s CloudTrail event by key', () => {
    const parsed = parseDetectorEvent(
      {
        'detail-type': 'AWS API Call via CloudTrail',
        source: 'aws.kinesisanalytics',
        account: '111122223333',
        region: 'eu-west-1',
        time: '2026-03-02T14:00:00Z',
        detail: {
          eventSource: 'kinesisanalytics.amazonaws.com',
          eventName: 'UpdateApplication',
          userAgent: 'aws-cli/2.27.0',
          requestParameters: { applicationName: 'orders' },
        },
      },
      home,
    );
    expect(parsed.ok && parsed.kind === 'cloudtrail' && parsed.signals[0]?.applicationName).toBe(
      'orders@111122223333.eu-west-1',
    );
  });

  it('names the application by its bare name in the home account and Region', () => {
    const parsed = parseDetectorEvent(event('123456789012'), home);
    expect(parsed.ok && parsed.kind === 'alarm' && parsed.signals[0]?.applicationName).toBe('orders');
  });

  it('names the application NAME@ACCOUNT.REGION when the alarm is in a member account or another Region', () => {
    const member = parseDetectorEvent(event('111122223333'), home);
    const region = parseDetectorEvent(event('123456789012', 'us-east-1'), home);
    expect(member.ok && member.kind === 'alarm' && member.signals[0]?.applicationName).toBe(
      'orders@111122223333.eu-west-1',
    );
    expect(region.ok && region.kind === 'alarm' && region.signals[0]?.applicationName).toBe(
      'orders@123456789012.us-east-1',
    );
  });
});
