import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
  SetAlarmStateCommand,
  type StateValue,
} from '@aws-sdk/client-cloudwatch';
import { KinesisAnalyticsV2Client, ListApplicationsCommand } from '@aws-sdk/client-kinesis-analytics-v2';
import { afterEach, describe, expect, it } from 'vitest';
import { SandboxClock, VirtualClock } from '#sandbox/clock.ts';
import { type Emulator, startEmulator } from '#sandbox/emulator/index.ts';
import { MAX_ADVANCE_SECONDS, SANDBOX_CLOCK_PATH } from '#sandbox/emulator/server.ts';
import { loadScenario, type ScenarioWorld } from '#sandbox/scenario.ts';
import type { AlarmStateChangeEvent } from '#shared/events/alarm-state-change.ts';

const MINUTE = 60_000;
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };
/** 2026-03-02T14:00:00Z, a minute boundary. */
const T0 = Date.UTC(2026, 2, 2, 14, 0, 0);

/** A sandbox as `flink-watchdog sandbox --speed 0` starts it: a paused SandboxClock behind the emulator. */
interface Sandbox {
  readonly emulator: Emulator;
  readonly cloudwatch: CloudWatchClient;
  /** Every alarm state change event, in the order the emulator emitted them. */
  readonly alarmEvents: AlarmStateChangeEvent[];
  /** Sends a request to `/sandbox/clock` (or `path`) and returns the status, headers and decoded JSON body. */
  clockRequest(
    method: string,
    body?: string,
    path?: string,
  ): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }>;
}

const running: Emulator[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((emulator) => emulator.close()));
});

async function startSandbox(startMs: number, world?: ScenarioWorld): Promise<Sandbox> {
  const clock = new SandboxClock(startMs, 0);
  const emulator = await startEmulator({ clock, ...(world ? { world } : {}) });
  running.push(emulator);
  const alarmEvents: AlarmStateChangeEvent[] = [];
  emulator.onAlarmEvent((e) => alarmEvents.push(e));
  return {
    emulator,
    alarmEvents,
    cloudwatch: new CloudWatchClient({
      endpoint: emulator.endpoint,
      region: emulator.region,
      credentials: CREDENTIALS,
      maxAttempts: 1,
    }),
    async clockRequest(method, body, path = SANDBOX_CLOCK_PATH) {
      const res = await fetch(`${emulator.endpoint}${path}`, { method, ...(body === undefined ? {} : { body }) });
      return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
    },
  };
}

/** Advances the sandbox's clock through the HTTP endpoint and returns the `now` it answers, epoch ms. */
async function advance(sandbox: Sandbox, seconds: number): Promise<number> {
  const res = await sandbox.clockRequest('POST', JSON.stringify({ advanceSeconds: seconds }));
  expect(res.status).toBe(200);
  return Date.parse(String(res.body.now));
}

/** One AWS/KinesisAnalytics metric of one application over [from, to), 1-minute Maximum, oldest first. */
async function metricSeries(
  sandbox: Sandbox,
  application: string,
  metricName: string,
  fromMs: number,
  toMs: number,
): Promise<Array<{ at: number; value: number }>> {
  const out = await sandbox.cloudwatch.send(
    new GetMetricDataCommand({
      StartTime: new Date(fromMs),
      EndTime: new Date(toMs),
      ScanBy: 'TimestampAscending',
      MetricDataQueries: [
        {
          Id: 'm1',
          MetricStat: {
            Metric: {
              Namespace: 'AWS/KinesisAnalytics',
              MetricName: metricName,
              Dimensions: [{ Name: 'Application', Value: application }],
            },
            Period: 60,
            Stat: 'Maximum',
          },
        },
      ],
    }),
  );
  const result = out.MetricDataResults?.[0];
  return (result?.Timestamps ?? []).map((t, i) => ({ at: t.getTime(), value: result?.Values?.[i] ?? Number.NaN }));
}

/** An alarm that goes to ALARM in any minute in which the application had downtime (as AWS recommends). */
async function putDowntimeAlarm(sandbox: Sandbox, application: string): Promise<void> {
  await sandbox.cloudwatch.send(
    new PutMetricAlarmCommand({
      AlarmName: `${application}-downtime`,
      Namespace: 'AWS/KinesisAnalytics',
      MetricName: 'downtime',
      Dimensions: [{ Name: 'Application', Value: application }],
      Statistic: 'Maximum',
      Period: 60,
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    }),
  );
}

describe('Route: /sandbox/clock', () => {
  describe('Method: GET', () => {
    it('answers the virtual now and the speed of a paused clock, which stays put', async () => {
      // Prepare
      const sandbox = await startSandbox(T0);

      // Act
      const first = await sandbox.clockRequest('GET');
      const second = await sandbox.clockRequest('GET');

      // Assess
      expect(first.status).toBe(200);
      expect(first.headers.get('content-type')).toBe('application/json');
      expect(first.body).toEqual({ now: '2026-03-02T14:00:00.000Z', speed: 0 });
      expect(second.body).toEqual(first.body);
    });

    it('is not served for a clock driven by its owner (the drill)', async () => {
      // Prepare
      const emulator = await startEmulator({ clock: new VirtualClock(T0) });
      running.push(emulator);

      // Act
      const res = await fetch(`${emulator.endpoint}${SANDBOX_CLOCK_PATH}`);

      // Assess
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({
        error: 'NotFound',
        message: expect.stringMatching(/driven by its owner/),
      });
    });
  });

  describe('Method: POST', () => {
    it('advances the virtual clock by advanceSeconds and answers the new now', async () => {
      // Prepare
      const sandbox = await startSandbox(T0);

      // Act
      const advanced = await sandbox.clockRequest('POST', '{"advanceSeconds": 90}');
      const fractional = await sandbox.clockRequest('POST', '{"advanceSeconds": 0.5}');
      const read = await sandbox.clockRequest('GET');

      // Assess
      expect(advanced).toMatchObject({ status: 200, body: { now: '2026-03-02T14:01:30.000Z', speed: 0 } });
      expect(fractional.body).toEqual({ now: '2026-03-02T14:01:30.500Z', speed: 0 });
      expect(read.body).toEqual(fractional.body);
    });

    it('changes the speed, and pauses again with speed 0', async () => {
      // Prepare
      const sandbox = await startSandbox(T0);

      // Act
      const running = await sandbox.clockRequest('POST', '{"speed": 2}');
      const paused = await sandbox.clockRequest('POST', '{"speed": 0, "advanceSeconds": 60}');

      // Assess
      expect(running).toMatchObject({ status: 200, body: { speed: 2 } });
      expect(paused).toMatchObject({ status: 200, body: { speed: 0 } });
      expect(Date.parse(String(paused.body.now))).toBeGreaterThanOrEqual(T0 + MINUTE);
    });

    it.each([
      ['an empty object', '{}', 'advanceSeconds', /advanceSeconds is missing/],
      ['a negative step', '{"advanceSeconds": -60}', 'advanceSeconds', /never goes back/],
      ['a step given as a string', '{"advanceSeconds": "60"}', 'advanceSeconds'],
      ['a null step', '{"advanceSeconds": null}', 'advanceSeconds'],
      ['a step beyond the cap', `{"advanceSeconds": ${MAX_ADVANCE_SECONDS + 1}}`, 'advanceSeconds', /several requests/],
      [
        'an unknown field',
        '{"advanceSeconds": 60, "advanceMinutes": 1}',
        'advanceMinutes',
        /only advanceSeconds and speed/,
      ],
      ['a valid step with an invalid speed', '{"advanceSeconds": 60, "speed": -1}', 'speed'],
      ['a speed given as a string', '{"speed": "fast"}', 'speed'],
      ['a body that is not JSON', 'advanceSeconds=60', 'body'],
      ['a JSON array', '[60]', 'body'],
    ] as Array<[string, string, string, RegExp?]>)(
      'refuses %s with 400 naming the field and changes nothing',
      async (_case, body, field, hint) => {
        // Prepare
        const sandbox = await startSandbox(T0);

        // Act
        const res = await sandbox.clockRequest('POST', body);
        const after = await sandbox.clockRequest('GET');

        // Assess
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ error: 'InvalidClockRequest', field });
        expect(String(res.body.message)).toMatch(/e\.g\. \{"advanceSeconds": 60\}/);
        if (hint) expect(String(res.body.message)).toMatch(hint);
        expect(after.body).toEqual({ now: '2026-03-02T14:00:00.000Z', speed: 0 });
      },
    );
  });

  describe('Routing', () => {
    it('answers 405 with Allow for other methods and 404 for other paths', async () => {
      // Prepare
      const sandbox = await startSandbox(T0);

      // Act
      const put = await sandbox.clockRequest('PUT', '{"advanceSeconds": 60}');
      const other = await sandbox.clockRequest('GET', undefined, '/sandbox/time');
      const elsewhere = await sandbox.clockRequest('GET', undefined, '/clock');
      const after = await sandbox.clockRequest('GET');

      // Assess
      expect(put.status).toBe(405);
      expect(put.headers.get('allow')).toBe('GET, POST');
      expect(put.body).toMatchObject({ error: 'MethodNotAllowed' });
      expect(other).toMatchObject({ status: 404, body: { error: 'NotFound' } });
      expect(elsewhere).toMatchObject({ status: 404, body: { error: 'NotFound' } });
      expect(after.body).toEqual({ now: '2026-03-02T14:00:00.000Z', speed: 0 });
    });

    it('leaves AWS requests (POST / with X-Amz-Target) to the AWS APIs on the same endpoint', async () => {
      // Prepare
      const world = loadScenario('external-outage-recovers');
      const sandbox = await startSandbox(Date.parse(world.startTime), world);
      const msf = new KinesisAnalyticsV2Client({
        endpoint: sandbox.emulator.endpoint,
        region: sandbox.emulator.region,
        credentials: CREDENTIALS,
        maxAttempts: 1,
      });
      await advance(sandbox, 60);

      // Act
      const out = await msf.send(new ListApplicationsCommand({}));

      // Assess
      expect(out.ApplicationSummaries?.map((a) => a.ApplicationName)).toEqual(['clickstream-sessions']);
      expect(sandbox.emulator.calls.map((c) => c.operation)).toEqual(['ListApplications']);
    });
  });
});

describe('Emulator: advancing the sandbox clock runs every due event in order', () => {
  const world = loadScenario('external-outage-recovers');
  const app = 'clickstream-sessions';
  const startMs = Date.parse(world.startTime);
  /** The scenario's Kafka outage: minutes 5 to 11 after the start. */
  const outage = world.faults.find((f) => f.kind === 'outage');

  it('publishes no metric for the virtual future, and each minute’s metrics once the clock has moved past it', async () => {
    // Prepare (the store may hold history from before the start: the application has been running for a while)
    const sandbox = await startSandbox(startMs, world);
    const before = await metricSeries(sandbox, app, 'uptime', startMs, startMs + 60 * MINUTE);

    // Act
    const now = await advance(sandbox, 5 * 60);
    const after = await metricSeries(sandbox, app, 'uptime', startMs, startMs + 60 * MINUTE);

    // Assess
    expect(now).toBe(startMs + 5 * MINUTE);
    expect(before).toEqual([]);
    expect(after.length).toBeGreaterThan(0);
    for (const point of after) {
      // Only complete minutes of the virtual past are published.
      expect(point.at).toBeGreaterThanOrEqual(startMs);
      expect(point.at + MINUTE).toBeLessThanOrEqual(now);
      expect(point.value).toBeGreaterThan(0);
    }
  });

  it('raises and clears an alarm at their due virtual times inside one step, after the datapoints that cause them', async () => {
    // Prepare
    expect(outage).toMatchObject({ fromMinute: 5, toMinute: 11 });
    const sandbox = await startSandbox(startMs, world);
    await putDowntimeAlarm(sandbox, app);

    // Act
    const now = await advance(sandbox, 20 * 60);

    // Assess: the state changes form one chain in time order, each at an instant inside the step …
    const transitions = sandbox.alarmEvents.map((e) => ({
      from: e.detail.previousState.value,
      to: e.detail.state.value,
      at: Date.parse(e.time),
    }));
    transitions.forEach((t, i) => {
      expect(t.at).toBeGreaterThan(startMs);
      expect(t.at).toBeLessThanOrEqual(now);
      if (i > 0) {
        expect(t.from).toBe(transitions[i - 1]?.to);
        expect(t.at).toBeGreaterThan(transitions[i - 1]?.at ?? Number.POSITIVE_INFINITY);
      }
    });
    const downtime = await metricSeries(sandbox, app, 'downtime', startMs, now);
    const firstDown = downtime.find((p) => p.value > 0);
    const lastDown = downtime.findLast((p) => p.value > 0);
    const raised = transitions.find((t) => t.to === 'ALARM');
    const cleared = transitions.at(-1);
    expect(raised).toBeDefined();
    // … ALARM only once the first minute with downtime (in the outage) had ended and its datapoint existed …
    expect(firstDown?.at).toBeGreaterThanOrEqual(startMs + 5 * MINUTE);
    expect(raised?.at).toBeGreaterThanOrEqual((firstDown?.at ?? Number.POSITIVE_INFINITY) + MINUTE);
    // … and OK at last, once the last minute with downtime had ended.
    expect(cleared?.to).toBe('OK');
    expect(cleared?.at).toBeGreaterThanOrEqual((lastDown?.at ?? Number.POSITIVE_INFINITY) + MINUTE);
    // The alarm's own record agrees with the last event.
    const described = await sandbox.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [`${app}-downtime`] }));
    expect(described.MetricAlarms?.[0]?.StateValue).toBe('OK');
  });

  it('gives the same metrics and alarm events in one step as in many uneven steps', async () => {
    // Prepare
    const oneStep = await startSandbox(startMs, world);
    const manySteps = await startSandbox(startMs, world);
    await putDowntimeAlarm(oneStep, app);
    await putDowntimeAlarm(manySteps, app);

    // Act
    const end = await advance(oneStep, 20 * 60);
    for (const seconds of [37, 250, 13, 0, 600, 299, 1]) await advance(manySteps, seconds);

    // Assess
    const summary = async (s: Sandbox) => ({
      events: s.alarmEvents.map((e) => [e.time, e.detail.previousState.value, e.detail.state.value]),
      downtime: await metricSeries(s, app, 'downtime', startMs, end),
      fullRestarts: await metricSeries(s, app, 'fullRestarts', startMs, end),
      uptime: await metricSeries(s, app, 'uptime', startMs, end),
    });
    const a = await summary(oneStep);
    expect(a.events.length).toBeGreaterThan(1);
    expect(a.fullRestarts.some((p) => p.value > 0)).toBe(true);
    expect(await summary(manySteps)).toEqual(a);
  });
});

/** PutMetricAlarm's TreatMissingData, in the order of the User Guide's table columns. */
const TREATMENTS = ['missing', 'ignore', 'breaching', 'notBreaching'] as const;

/**
 * One row of the CloudWatch User Guide's tables in "How alarm state is evaluated when data is missing"
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html): the five most recent
 * periods of the evaluation range, oldest first (`0` not breaching, `X` breaching, `-` missing), for an alarm with
 * EvaluationPeriods 3, and the state for each TreatMissingData column (`retain`: "Retain current state").
 */
interface TableRow {
  readonly datapoints: string;
  readonly datapointsToAlarm: 2 | 3;
  readonly states: readonly [
    StateValue | 'retain',
    StateValue | 'retain',
    StateValue | 'retain',
    StateValue | 'retain',
  ];
}

/** Both tables of the section, every row: first Datapoints to Alarm 3 of 3, then 2 of 3. */
const TABLE_ROWS: readonly TableRow[] = [
  { datapoints: '0 - X - X', datapointsToAlarm: 3, states: ['OK', 'OK', 'OK', 'OK'] },
  // The audit's downtime alarm (breaching, 3 of 3): the one real, non-breaching datapoint keeps it OK.
  { datapoints: '0 - - - -', datapointsToAlarm: 3, states: ['OK', 'OK', 'OK', 'OK'] },
  { datapoints: '- - - - -', datapointsToAlarm: 3, states: ['INSUFFICIENT_DATA', 'retain', 'ALARM', 'OK'] },
  // The audit's restart-loop alarm (notBreaching): the 3 most recent real datapoints are X X X.
  { datapoints: '0 X X - X', datapointsToAlarm: 3, states: ['ALARM', 'ALARM', 'ALARM', 'ALARM'] },
  { datapoints: '- - X - -', datapointsToAlarm: 3, states: ['ALARM', 'retain', 'ALARM', 'OK'] },
  { datapoints: '0 - X - X', datapointsToAlarm: 2, states: ['ALARM', 'ALARM', 'ALARM', 'ALARM'] },
  { datapoints: '0 0 X 0 X', datapointsToAlarm: 2, states: ['ALARM', 'ALARM', 'ALARM', 'ALARM'] },
  { datapoints: '0 - X - -', datapointsToAlarm: 2, states: ['OK', 'OK', 'ALARM', 'OK'] },
  { datapoints: '- - - - 0', datapointsToAlarm: 2, states: ['OK', 'OK', 'ALARM', 'OK'] },
  { datapoints: '- - - X -', datapointsToAlarm: 2, states: ['ALARM', 'retain', 'ALARM', 'OK'] },
];

/** The state an alarm is set to (SetAlarmState) before the evaluation, so that "retain" has something to keep. */
const STATE_BEFORE: StateValue = 'OK';

describe('Acceptance: an AWS SDK client drives `sandbox --speed 0` through the missing-data tables', () => {
  it('gives every cell the state the CloudWatch User Guide gives', async () => {
    // Prepare: a paused sandbox one second before a minute boundary (the boundary closes the fifth period); one alarm
    // per cell, each on its own metric.
    const sandbox = await startSandbox(T0 - 1_000);
    const clockNow = Date.parse(String((await sandbox.clockRequest('GET')).body.now));
    const boundary = Math.ceil(clockNow / MINUTE) * MINUTE;
    const namespace = 'FlinkWatchdog/Acceptance';
    const cells = TABLE_ROWS.flatMap((row) =>
      TREATMENTS.map((treatMissingData, column) => ({
        name: `${row.datapointsToAlarm}-of-3 [${row.datapoints}] ${treatMissingData}`,
        row,
        treatMissingData,
        expected: row.states[column] === 'retain' ? STATE_BEFORE : row.states[column],
      })),
    );
    for (const cell of cells) {
      await sandbox.cloudwatch.send(
        new PutMetricAlarmCommand({
          AlarmName: cell.name,
          Namespace: namespace,
          MetricName: 'errors',
          Dimensions: [{ Name: 'Cell', Value: cell.name }],
          Statistic: 'Maximum',
          Period: 60,
          EvaluationPeriods: 3,
          DatapointsToAlarm: cell.row.datapointsToAlarm,
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
          TreatMissingData: cell.treatMissingData,
        }),
      );
      await sandbox.cloudwatch.send(
        new SetAlarmStateCommand({
          AlarmName: cell.name,
          StateValue: STATE_BEFORE,
          StateReason: 'state before the table',
        }),
      );
    }
    const metricData = cells.flatMap((cell) =>
      cell.row.datapoints.split(' ').flatMap((point, i) =>
        point === '-'
          ? []
          : [
              {
                MetricName: 'errors',
                Dimensions: [{ Name: 'Cell', Value: cell.name }],
                Timestamp: new Date(boundary - (5 - i) * MINUTE),
                Value: point === 'X' ? 1 : 0,
                Unit: 'Count' as const,
              },
            ],
      ),
    );
    await sandbox.cloudwatch.send(new PutMetricDataCommand({ Namespace: namespace, MetricData: metricData }));

    // Act: past the boundary, short of the next one: one evaluation, whatever its offset after the boundary.
    await advance(sandbox, 59);
    const out = await sandbox.cloudwatch.send(new DescribeAlarmsCommand({ MaxRecords: 100 }));

    // Assess
    const states = Object.fromEntries((out.MetricAlarms ?? []).map((a) => [a.AlarmName, a.StateValue]));
    expect(states).toEqual(Object.fromEntries(cells.map((cell) => [cell.name, cell.expected])));
  });
});
