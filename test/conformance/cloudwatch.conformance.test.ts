import {
  CloudWatchClient,
  DeleteAlarmsCommand,
  DescribeAlarmHistoryCommand,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  ListTagsForResourceCommand,
  type MetricDataQuery,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
  SetAlarmStateCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '#sandbox/clock.ts';
import { type Emulator, startEmulator } from '#sandbox/emulator/index.ts';
import { Fault, ScenarioApplication } from '#sandbox/scenario.ts';
import { alarmsFor, MSF_METRIC_NAMESPACE, putMetricAlarmInput } from '#shared/alarms.ts';
import { mergePolicy } from '#shared/config/schema.ts';
import { type CommonErrors, loadServiceModel, MODEL_FILES } from './model.ts';
import { type CapturedResponse, captureResponses, expectConformingError, expectConformingOutput } from './wire.ts';

/**
 * Conformance of the CloudWatch half of the emulator with the official CloudWatch API model: the alarms the watchdog
 * deploys (shared/alarms.ts) and the metric queries it makes, through the real SDK v3 client (awsJson1_0,
 * query-compatible), each raw response body checked against the model's output shape, and the documented errors
 * checked against the operation's `errors`, HTTP status and query error code. One emulator for the file; virtual time
 * only moves forward.
 */

const MODEL = loadServiceModel(MODEL_FILES.cloudwatch);
const START = '2026-03-02T14:00:00Z';
const MINUTE = 60_000;

/**
 * Errors CloudWatch documents as common to all its actions ("Common Errors", CloudWatch API Reference:
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CommonErrors.html), by their model shape name. An
 * operation may answer them although its own `errors` list does not name them.
 */
const COMMON_ERRORS: CommonErrors = {
  InvalidParameterCombinationException: 'InvalidParameterCombination (400)',
  InvalidParameterValueException: 'InvalidParameterValue (400)',
  MissingRequiredParameterException: 'MissingParameter (400)',
  ValidationException: 'ValidationError (400)',
};

const APPLICATIONS = [
  ScenarioApplication.parse({ name: 'orders', code: { bucket: 'artifacts', fileKey: 'orders-1.jar' } }),
  ScenarioApplication.parse({
    name: 'orders-2x',
    runtimeEnvironment: 'FLINK-2_2',
    code: { bucket: 'artifacts', fileKey: 'orders-2x-1.jar' },
  }),
  ScenarioApplication.parse({ name: 'payments', code: { bucket: 'artifacts', fileKey: 'payments-1.jar' } }),
];

let clock: VirtualClock;
let emulator: Emulator;
let cloudwatch: CloudWatchClient;
let wire: CapturedResponse[];

beforeAll(async () => {
  clock = new VirtualClock(Date.parse(START));
  emulator = await startEmulator({
    clock,
    world: {
      startTime: START,
      applications: APPLICATIONS,
      jobModel: [],
      // payments restarts in a loop from minute 1: its restart-loop and downtime alarms change state.
      faults: [Fault.parse({ kind: 'outage', application: 'payments', fromMinute: 1 })],
    },
  });
  cloudwatch = new CloudWatchClient({
    endpoint: emulator.endpoint,
    region: emulator.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  wire = captureResponses(cloudwatch);
});

afterAll(async () => {
  cloudwatch?.destroy();
  await emulator?.close();
});

function advanceMinutes(minutes: number): void {
  clock.advance(minutes * MINUTE);
  emulator.advanceTo(clock.now());
}

/** The watchdog instance whose alarms this suite creates. */
const INSTANCE = 'conformance';

/** The watchdog's alarms for `name` (the alarm manager creates the same), as PutMetricAlarm input. */
function watchdogAlarms(name: string, runtimeEnvironment: string) {
  return alarmsFor(name, runtimeEnvironment, mergePolicy(), { instance: INSTANCE, downtime: true }).map((a) =>
    putMetricAlarmInput(a, INSTANCE),
  );
}

/** A single-metric alarm that a healthy application breaches (uptime > 0), to have an alarm in ALARM. */
function uptimeAlarm(name: string) {
  return { ...downtimeAlarm(name), AlarmName: `${name}-uptime`, MetricName: 'uptime', AlarmActions: [] };
}

/** AWS's recommended single-metric downtime alarm (MSF developer guide, "Using CloudWatch alarms"). */
function downtimeAlarm(name: string) {
  return {
    AlarmName: `${name}-downtime`,
    Namespace: MSF_METRIC_NAMESPACE,
    MetricName: 'downtime',
    Dimensions: [{ Name: 'Application', Value: name }],
    Statistic: 'Maximum' as const,
    Period: 60,
    EvaluationPeriods: 1,
    Threshold: 0,
    ComparisonOperator: 'GreaterThanThreshold' as const,
    AlarmActions: ['arn:aws:sns:eu-west-1:123456789012:flink-alerts'],
    Unit: 'Milliseconds' as const,
  };
}

describe('Conformance: CloudWatch responses match the API model', () => {
  it('PutMetricAlarm: the watchdog alarms of every application and a single-metric alarm', async () => {
    for (const app of APPLICATIONS) {
      for (const input of watchdogAlarms(app.name, app.runtimeEnvironment)) {
        await cloudwatch.send(new PutMetricAlarmCommand(input));
        expectConformingOutput(MODEL, wire, 'PutMetricAlarm');
      }
      await cloudwatch.send(new PutMetricAlarmCommand(downtimeAlarm(app.name)));
      expectConformingOutput(MODEL, wire, 'PutMetricAlarm');
    }
  });

  it('DescribeAlarms: new alarms, alarms after evaluations, filters and pages', async () => {
    for (const input of [...watchdogAlarms('payments', 'FLINK-1_20'), downtimeAlarm('orders'), uptimeAlarm('orders')]) {
      await cloudwatch.send(new PutMetricAlarmCommand(input));
    }
    await cloudwatch.send(new DescribeAlarmsCommand({}));
    const fresh = expectConformingOutput(MODEL, wire, 'DescribeAlarms');
    expect((fresh.MetricAlarms as unknown[]).length).toBeGreaterThan(0);

    // Evaluated alarms carry StateReasonData and new timestamps: evaluate at a minute boundary, whatever the
    // emulator's own evaluation schedule (the shapes are checked here, the timing elsewhere).
    await cloudwatch.send(new PutMetricAlarmCommand(uptimeAlarm('orders')));
    advanceMinutes(12);
    emulator.cloudwatch.evaluateAlarms(clock.now());
    await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: ['orders-uptime', 'orders-downtime'] }));
    const evaluated = expectConformingOutput(MODEL, wire, 'DescribeAlarms');
    const states = (evaluated.MetricAlarms as Array<{ AlarmName: string; StateValue: string }>).map(
      (a) => `${a.AlarmName}: ${a.StateValue}`,
    );
    expect(states).toEqual(['orders-downtime: OK', 'orders-uptime: ALARM']);
    await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNamePrefix: `flink-watchdog-${INSTANCE}-payments` }));
    const prefixed = expectConformingOutput(MODEL, wire, 'DescribeAlarms');
    expect((prefixed.MetricAlarms as unknown[]).length).toBeGreaterThan(0);

    await cloudwatch.send(new DescribeAlarmsCommand({ StateValue: 'OK', AlarmTypes: ['MetricAlarm'] }));
    expectConformingOutput(MODEL, wire, 'DescribeAlarms');
    await cloudwatch.send(new DescribeAlarmsCommand({ MaxRecords: 2 }));
    const page = expectConformingOutput(MODEL, wire, 'DescribeAlarms');
    expect(page.NextToken).toEqual(expect.any(String));
    await cloudwatch.send(new DescribeAlarmsCommand({ MaxRecords: 2, NextToken: String(page.NextToken) }));
    expectConformingOutput(MODEL, wire, 'DescribeAlarms');
    await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: ['payments-downtime', 'no-such-alarm'] }));
    expectConformingOutput(MODEL, wire, 'DescribeAlarms');
  });

  it('ListTagsForResource, TagResource, UntagResource: the tags of an alarm', async () => {
    const arn = `arn:aws:cloudwatch:${emulator.region}:${emulator.accountId}:alarm:orders-tagged`;
    await cloudwatch.send(
      new PutMetricAlarmCommand({
        ...downtimeAlarm('orders'),
        AlarmName: 'orders-tagged',
        Tags: [{ Key: 'a', Value: '1' }],
      }),
    );
    await cloudwatch.send(new ListTagsForResourceCommand({ ResourceARN: arn }));
    expect(expectConformingOutput(MODEL, wire, 'ListTagsForResource').Tags).toEqual([{ Key: 'a', Value: '1' }]);
    await cloudwatch.send(new TagResourceCommand({ ResourceARN: arn, Tags: [{ Key: 'b', Value: '2' }] }));
    expectConformingOutput(MODEL, wire, 'TagResource');
    await cloudwatch.send(new UntagResourceCommand({ ResourceARN: arn, TagKeys: ['a'] }));
    expectConformingOutput(MODEL, wire, 'UntagResource');
    await cloudwatch.send(new ListTagsForResourceCommand({ ResourceARN: arn }));
    expect(expectConformingOutput(MODEL, wire, 'ListTagsForResource').Tags).toEqual([{ Key: 'b', Value: '2' }]);
  });

  it('ListTagsForResource / TagResource: an unknown alarm and a foreign ARN are the documented errors', async () => {
    const missing = `arn:aws:cloudwatch:${emulator.region}:${emulator.accountId}:alarm:no-such-alarm`;
    await expectConformingError(MODEL, wire, 'ListTagsForResource', 'ResourceNotFoundException', () =>
      cloudwatch.send(new ListTagsForResourceCommand({ ResourceARN: missing })),
    );
    await expectConformingError(MODEL, wire, 'TagResource', 'InvalidParameterValueException', () =>
      cloudwatch.send(
        new TagResourceCommand({
          ResourceARN: 'arn:aws:sns:eu-west-1:123456789012:t',
          Tags: [{ Key: 'k', Value: 'v' }],
        }),
      ),
    );
  });

  it('GetMetricData: the watchdog query of restart counters and downtime, and a metric math query', async () => {
    const end = clock.now();
    for (const app of APPLICATIONS) {
      const restarts = app.runtimeEnvironment.startsWith('FLINK-2') ? 'numRestarts' : 'fullRestarts';
      await cloudwatch.send(
        new GetMetricDataCommand({
          StartTime: new Date(end - 10 * MINUTE),
          EndTime: new Date(end),
          ScanBy: 'TimestampAscending',
          MetricDataQueries: [restarts, 'downtime', 'uptime'].map((metricName, i) => ({
            Id: `m${i}`,
            Label: metricName,
            ReturnData: true,
            MetricStat: {
              Metric: {
                Namespace: MSF_METRIC_NAMESPACE,
                MetricName: metricName,
                Dimensions: [{ Name: 'Application', Value: app.name }],
              },
              Period: 60,
              Stat: 'Maximum',
            },
          })),
        }),
      );
      const body = expectConformingOutput(MODEL, wire, 'GetMetricData');
      const results = body.MetricDataResults as Array<{ Values: number[] }>;
      expect(results[0]?.Values.length).toBeGreaterThan(0);
    }

    await cloudwatch.send(
      new GetMetricDataCommand({
        StartTime: new Date(end - 10 * MINUTE),
        EndTime: new Date(end),
        MetricDataQueries: [
          {
            Id: 'restarts',
            ReturnData: false,
            MetricStat: {
              Metric: {
                Namespace: MSF_METRIC_NAMESPACE,
                MetricName: 'fullRestarts',
                Dimensions: [{ Name: 'Application', Value: 'payments' }],
              },
              Period: 60,
              Stat: 'Maximum',
            },
          },
          { Id: 'newRestarts', Expression: 'DIFF(restarts)', Label: 'new restarts per minute', ReturnData: true },
        ],
      }),
    );
    expectConformingOutput(MODEL, wire, 'GetMetricData');
  });

  it('GetMetricData: a page cut short by MaxDatapoints (PartialData) and the pages after it', async () => {
    const request = {
      StartTime: new Date(clock.now() - 10 * MINUTE),
      EndTime: new Date(clock.now()),
      MaxDatapoints: 3,
      MetricDataQueries: ['uptime', 'downtime'].map((metricName, i) => ({
        Id: `m${i}`,
        MetricStat: {
          Metric: {
            Namespace: MSF_METRIC_NAMESPACE,
            MetricName: metricName,
            Dimensions: [{ Name: 'Application', Value: 'orders' }],
          },
          Period: 60,
          Stat: 'Maximum' as const,
        },
      })),
    };
    const statusCodes: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      await cloudwatch.send(new GetMetricDataCommand({ ...request, NextToken: nextToken }));
      const page = expectConformingOutput(MODEL, wire, 'GetMetricData');
      statusCodes.push(...(page.MetricDataResults as Array<{ StatusCode: string }>).map((r) => r.StatusCode));
      nextToken = page.NextToken as string | undefined;
      pages += 1;
    } while (nextToken !== undefined && pages < 20);
    expect(pages).toBeGreaterThan(1);
    expect(statusCodes).toContain('PartialData');
  });

  it('PutMetricData: single values, Values/Counts and StatisticValues; the data is read back by GetMetricData', async () => {
    const at = new Date(clock.now() - 2 * MINUTE);
    await cloudwatch.send(
      new PutMetricDataCommand({
        Namespace: 'Custom/Conformance',
        MetricData: [
          {
            MetricName: 'lagSeconds',
            Dimensions: [{ Name: 'Application', Value: 'orders' }],
            Timestamp: at,
            Value: 4,
            Unit: 'Seconds',
          },
          { MetricName: 'batch', Timestamp: at, Values: [1, 2, 3], Counts: [1, 1, 2], Unit: 'Count' },
          {
            MetricName: 'summary',
            Timestamp: at,
            StatisticValues: { SampleCount: 3, Sum: 12, Minimum: 2, Maximum: 6 },
            StorageResolution: 60,
          },
        ],
      }),
    );
    expectConformingOutput(MODEL, wire, 'PutMetricData');

    await cloudwatch.send(
      new GetMetricDataCommand({
        StartTime: new Date(clock.now() - 10 * MINUTE),
        EndTime: new Date(clock.now()),
        MetricDataQueries: [
          {
            Id: 'lag',
            MetricStat: {
              Metric: {
                Namespace: 'Custom/Conformance',
                MetricName: 'lagSeconds',
                Dimensions: [{ Name: 'Application', Value: 'orders' }],
              },
              Period: 60,
              Stat: 'Maximum',
            },
          },
        ],
      }),
    );
    const read = expectConformingOutput(MODEL, wire, 'GetMetricData');
    expect((read.MetricDataResults as Array<{ Values: number[] }>)[0]?.Values).toEqual([4]);
  });

  it('SetAlarmState and DescribeAlarmHistory of its state update and of the configuration updates', async () => {
    await cloudwatch.send(new PutMetricAlarmCommand(downtimeAlarm('history')));
    await cloudwatch.send(
      new SetAlarmStateCommand({
        AlarmName: 'history-downtime',
        StateValue: 'ALARM',
        StateReason: 'conformance: set by hand',
        StateReasonData: JSON.stringify({ by: 'conformance' }),
      }),
    );
    expectConformingOutput(MODEL, wire, 'SetAlarmState');

    await cloudwatch.send(new DescribeAlarmHistoryCommand({ AlarmName: 'history-downtime' }));
    const history = expectConformingOutput(MODEL, wire, 'DescribeAlarmHistory');
    const types = (history.AlarmHistoryItems as Array<{ HistoryItemType: string }>).map((i) => i.HistoryItemType);
    expect(types).toContain('StateUpdate');
    expect(types).toContain('ConfigurationUpdate');

    await cloudwatch.send(
      new DescribeAlarmHistoryCommand({
        HistoryItemType: 'StateUpdate',
        AlarmTypes: ['MetricAlarm'],
        StartDate: new Date(Date.parse(START)),
        EndDate: new Date(clock.now() + MINUTE),
        ScanBy: 'TimestampAscending',
        MaxRecords: 1,
      }),
    );
    const page = expectConformingOutput(MODEL, wire, 'DescribeAlarmHistory');
    expect((page.AlarmHistoryItems as unknown[]).length).toBe(1);
    await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: ['history-downtime'] }));
    expectConformingOutput(MODEL, wire, 'DescribeAlarms');
  });

  it('DeleteAlarms of existing alarms', async () => {
    await cloudwatch.send(new PutMetricAlarmCommand(downtimeAlarm('deleted-1')));
    await cloudwatch.send(new PutMetricAlarmCommand(downtimeAlarm('deleted-2')));
    await cloudwatch.send(new DeleteAlarmsCommand({ AlarmNames: ['deleted-1-downtime', 'deleted-2-downtime'] }));
    expectConformingOutput(MODEL, wire, 'DeleteAlarms');
    await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'deleted-' }));
    expect(expectConformingOutput(MODEL, wire, 'DescribeAlarms').MetricAlarms).toEqual([]);
  });
});

describe('Conformance: CloudWatch errors are the operation errors (or common errors) of the API model', () => {
  const uptimeQuery: MetricDataQuery[] = [
    {
      Id: 'm',
      MetricStat: {
        Metric: {
          Namespace: MSF_METRIC_NAMESPACE,
          MetricName: 'uptime',
          Dimensions: [{ Name: 'Application', Value: 'orders' }],
        },
        Period: 60,
        Stat: 'Maximum',
      },
    },
  ];

  it.each([
    ['DescribeAlarms', () => cloudwatch.send(new DescribeAlarmsCommand({ NextToken: 'not-a-token' }))],
    ['DescribeAlarmHistory', () => cloudwatch.send(new DescribeAlarmHistoryCommand({ NextToken: 'not-a-token' }))],
    [
      'GetMetricData',
      () =>
        cloudwatch.send(
          new GetMetricDataCommand({
            StartTime: new Date(clock.now() - 10 * MINUTE),
            EndTime: new Date(clock.now()),
            NextToken: 'not-a-token',
            MetricDataQueries: uptimeQuery,
          }),
        ),
    ],
  ] as const)('%s with a NextToken it did not issue: InvalidNextToken', async (operation, call) => {
    await expectConformingError(MODEL, wire, operation, 'InvalidNextToken', call, COMMON_ERRORS);
  });

  it.each([
    [
      'PutMetricAlarm',
      'MissingRequiredParameterException',
      'without Threshold',
      () => cloudwatch.send(new PutMetricAlarmCommand({ ...downtimeAlarm('refused'), Threshold: undefined })),
    ],
    [
      'PutMetricAlarm',
      'InvalidParameterCombinationException',
      'with Statistic and ExtendedStatistic',
      () => cloudwatch.send(new PutMetricAlarmCommand({ ...downtimeAlarm('refused'), ExtendedStatistic: 'p99' })),
    ],
    [
      'PutMetricAlarm',
      'ValidationException',
      'with DatapointsToAlarm > EvaluationPeriods',
      () => cloudwatch.send(new PutMetricAlarmCommand({ ...downtimeAlarm('refused'), DatapointsToAlarm: 3 })),
    ],
    [
      'GetMetricData',
      'InvalidParameterValueException',
      'with StartTime after EndTime',
      () =>
        cloudwatch.send(
          new GetMetricDataCommand({
            StartTime: new Date(clock.now()),
            EndTime: new Date(clock.now() - 10 * MINUTE),
            MetricDataQueries: uptimeQuery,
          }),
        ),
    ],
    [
      'PutMetricData',
      'MissingRequiredParameterException',
      'with a datum without a value',
      () =>
        cloudwatch.send(
          new PutMetricDataCommand({ Namespace: 'Custom/Conformance', MetricData: [{ MetricName: 'a' }] }),
        ),
    ],
    [
      'PutMetricData',
      'InvalidParameterCombinationException',
      'with Value and Values',
      () =>
        cloudwatch.send(
          new PutMetricDataCommand({
            Namespace: 'Custom/Conformance',
            MetricData: [{ MetricName: 'a', Value: 1, Values: [1] }],
          }),
        ),
    ],
    [
      'PutMetricData',
      'InvalidParameterValueException',
      'with fewer Counts than Values',
      () =>
        cloudwatch.send(
          new PutMetricDataCommand({
            Namespace: 'Custom/Conformance',
            MetricData: [{ MetricName: 'a', Values: [1, 2], Counts: [1] }],
          }),
        ),
    ],
    [
      'SetAlarmState',
      'InvalidFormatFault',
      'with StateReasonData that is not JSON',
      () =>
        cloudwatch.send(
          new SetAlarmStateCommand({
            AlarmName: 'orders-uptime',
            StateValue: 'OK',
            StateReason: 'conformance',
            StateReasonData: '{not json',
          }),
        ),
    ],
  ] as const)('%s: %s %s', async (operation, exception, _case, call) => {
    await cloudwatch.send(new PutMetricAlarmCommand(uptimeAlarm('orders')));
    await expectConformingError(MODEL, wire, operation, exception, call, COMMON_ERRORS);
  });

  it('SetAlarmState of an alarm that does not exist: ResourceNotFound (HTTP 404)', async () => {
    await expectConformingError(MODEL, wire, 'SetAlarmState', 'ResourceNotFound', () =>
      cloudwatch.send(
        new SetAlarmStateCommand({ AlarmName: 'no-such-alarm', StateValue: 'OK', StateReason: 'conformance' }),
      ),
    );
  });
});
