import {
  CloudWatchLogsClient,
  FilterLogEventsCommand,
  GetQueryResultsCommand,
  StartQueryCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  CreateApplicationCommand,
  DescribeApplicationCommand,
  KinesisAnalyticsV2Client,
} from '@aws-sdk/client-kinesis-analytics-v2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '#sandbox/clock.ts';
import { type Emulator, startEmulator } from '#sandbox/emulator/index.ts';
import { DEFAULT_QUERY_RUNNING_POLLS, LogsEmulator } from '#sandbox/emulator/logs.ts';
import { JobRule, ScenarioApplication } from '#sandbox/scenario.ts';
import { ROOT_CAUSE_FILTER_PATTERN, rootCauseQuery } from '#shared/domain/root-cause.ts';
import { loadServiceModel, MODEL_FILES } from './model.ts';
import { type CapturedResponse, captureResponses, expectConformingError, expectConformingOutput } from './wire.ts';

/**
 * Conformance of the emulator's CloudWatch Logs with the official model (awsJson1_1): StartQuery, GetQueryResults and
 * FilterLogEvents through the real SDK v3 client, each raw response checked against the output shape and each
 * documented error against the operation's `errors`; and the log lines come from the job model (a crash-loop rule's
 * exception, in the application's default log group).
 */

const MODEL = loadServiceModel(MODEL_FILES.logs);
const START = '2026-03-02T14:00:00Z';
const T0 = Date.parse(START);
const GROUP = '/aws/kinesis-analytics/orders';
const MISSING_STREAM =
  'software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException: Stream arn:aws:kinesis:eu-west-1:123456789012:stream/orders-v2 under account 123456789012 not found.';

let emulator: Emulator;
let clock: VirtualClock;
let logs: CloudWatchLogsClient;
let wire: CapturedResponse[];

beforeAll(async () => {
  clock = new VirtualClock(T0);
  emulator = await startEmulator({
    clock,
    world: {
      startTime: START,
      applications: ['orders', 'payments'].map((name) =>
        ScenarioApplication.parse({ name, code: { bucket: 'artifacts', fileKey: `${name}-1.jar` } }),
      ),
      jobModel: [
        JobRule.parse({
          when: { application: 'orders' },
          behaviour: { kind: 'crash-loop', failAfterSeconds: 20, error: MISSING_STREAM },
        }),
      ],
      faults: [],
    },
  });
  logs = new CloudWatchLogsClient({
    endpoint: emulator.endpoint,
    region: emulator.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  wire = captureResponses(logs);
  clock.advance(5 * 60_000);
});

afterAll(async () => {
  logs?.destroy();
  await emulator?.close();
});

const seconds = (ms: number) => Math.floor(ms / 1000);

describe('Conformance: CloudWatch Logs responses match the API model', () => {
  it('StartQuery and GetQueryResults: the failures of a looping job, oldest first, with the exception', async () => {
    // Act
    const { queryId } = await logs.send(
      new StartQueryCommand({
        logGroupName: GROUP,
        startTime: seconds(T0 - 60_000),
        endTime: seconds(clock.now()),
        queryString:
          'fields @timestamp, @message, @logStream | filter @message like /Exception/ | sort @timestamp asc | limit 3',
      }),
    );
    expectConformingOutput(MODEL, wire, 'StartQuery');
    await logs.send(new GetQueryResultsCommand({ queryId: String(queryId) }));
    const running = expectConformingOutput(MODEL, wire, 'GetQueryResults');
    await logs.send(new GetQueryResultsCommand({ queryId: String(queryId) }));
    const out = expectConformingOutput(MODEL, wire, 'GetQueryResults');

    // Assess: Running at the first poll (DEFAULT_QUERY_RUNNING_POLLS), no rows yet; then Complete.
    expect(DEFAULT_QUERY_RUNNING_POLLS).toBe(1);
    expect(running.status).toBe('Running');
    expect(running.results).toEqual([]);
    expect(out.status).toBe('Complete');
    const rows = out.results as Array<Array<{ field: string; value: string }>>;
    expect(rows).toHaveLength(3);
    const first = Object.fromEntries((rows[0] ?? []).map((f) => [f.field, f.value]));
    expect(first['@logStream']).toBe('kinesis-analytics-log-stream');
    const times = rows.map((r) => Date.parse(`${r.find((f) => f.field === '@timestamp')?.value.replace(' ', 'T')}Z`));
    expect(times[0]).toBeGreaterThanOrEqual(T0 - 60_000);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const record = JSON.parse(first['@message'] ?? '{}') as { throwableInformation: string[]; messageType: string };
    expect(record.throwableInformation[0]).toBe(MISSING_STREAM);
  });

  it('FilterLogEvents: term pattern, time range in ms, paged with nextToken; a healthy application logs no failure', async () => {
    // Act
    await logs.send(
      new FilterLogEventsCommand({
        logGroupName: GROUP,
        startTime: T0,
        endTime: clock.now(),
        filterPattern: '?Exception ?Error',
        limit: 1,
      }),
    );
    const page = expectConformingOutput(MODEL, wire, 'FilterLogEvents');
    await logs.send(
      new FilterLogEventsCommand({
        logGroupName: GROUP,
        startTime: T0,
        endTime: clock.now(),
        filterPattern: '?Exception ?Error',
        nextToken: String(page.nextToken),
      }),
    );
    const rest = expectConformingOutput(MODEL, wire, 'FilterLogEvents');
    await logs.send(new FilterLogEventsCommand({ logGroupName: '/aws/kinesis-analytics/payments' }));
    const healthy = expectConformingOutput(MODEL, wire, 'FilterLogEvents');

    // Assess
    const events = page.events as Array<{ timestamp: number; message: string }>;
    expect(events).toHaveLength(1);
    expect(events[0]?.timestamp).toBeGreaterThanOrEqual(T0);
    expect(events[0]?.message).toContain(MISSING_STREAM);
    expect((rest.events as unknown[]).length).toBeGreaterThan(1);
    expect(healthy.events).toEqual([]);
  });

  it("the watchdog's query and pattern read MSF's structured fields: ERROR records and stack traces, not lines naming an error", async () => {
    // Arrange: noise in the application's stream just before the job model's failures.
    const stream = 'kinesis-analytics-log-stream';
    const record = (message: string, messageType: string) =>
      JSON.stringify({ logger: 'com.acme.Orders', message, messageSchemaVersion: '1', messageType });
    emulator.logs.put(GROUP, stream, T0 - 90_000, record('Retrying after java.net.SocketTimeoutException: x', 'WARN'));
    emulator.logs.put(GROUP, stream, T0 - 89_000, record('Registered com.acme.DeadLetterErrorHandler', 'INFO'));
    emulator.logs.put(GROUP, stream, T0 - 88_000, record('Checkpoint 3 expired before completing.', 'ERROR'));

    // Act
    const { queryId } = await logs.send(
      new StartQueryCommand({
        logGroupName: GROUP,
        startTime: seconds(T0 - 120_000),
        endTime: seconds(clock.now()),
        queryString: rootCauseQuery(stream),
      }),
    );
    await logs.send(new GetQueryResultsCommand({ queryId: String(queryId) }));
    const out = await logs.send(new GetQueryResultsCommand({ queryId: String(queryId) }));
    const filtered = await logs.send(
      new FilterLogEventsCommand({
        logGroupName: GROUP,
        startTime: T0 - 120_000,
        endTime: clock.now(),
        filterPattern: ROOT_CAUSE_FILTER_PATTERN,
        logStreamNames: [stream],
      }),
    );

    // Assess: the ERROR record and the job's failures (INFO with throwableInformation); not the WARN nor the INFO.
    const messages = (out.results ?? []).map((row) => row.find((f) => f.field === '@message')?.value ?? '');
    expect(out.status).toBe('Complete');
    expect(messages.filter((m) => m.includes('Checkpoint 3 expired'))).toHaveLength(1);
    expect(messages.filter((m) => m.includes(MISSING_STREAM)).length).toBe(messages.length - 1);
    expect(messages.some((m) => m.includes('SocketTimeoutException') || m.includes('DeadLetterErrorHandler'))).toBe(
      false,
    );
    const filteredMessages = (filtered.events ?? []).map((e) => e.message ?? '');
    expect(filteredMessages.filter((m) => m.includes('Checkpoint 3 expired'))).toHaveLength(1);
    expect(filteredMessages.some((m) => m.includes('SocketTimeoutException') || m.includes('DeadLetter'))).toBe(false);
  });

  it('a query stays Running for queryRunningPolls GetQueryResults, then Complete', () => {
    // Arrange
    const logsEmulator = new LogsEmulator({
      clock,
      region: 'eu-west-1',
      accountId: '123456789012',
      queryRunningPolls: 3,
    });
    logsEmulator.ensureStream('/g', 's');
    logsEmulator.put('/g', 's', T0, 'hello');
    const { queryId } = logsEmulator.handle('StartQuery', {
      logGroupName: '/g',
      startTime: seconds(T0),
      endTime: seconds(T0),
      queryString: 'fields @message',
    }) as { queryId: string };

    // Act
    const statuses = Array.from(
      { length: 4 },
      () => (logsEmulator.handle('GetQueryResults', { queryId }) as { status: string }).status,
    );

    // Assess
    expect(statuses).toEqual(['Running', 'Running', 'Running', 'Complete']);
    expect(() => new LogsEmulator({ clock, region: 'eu-west-1', accountId: '1', queryRunningPolls: -1 })).toThrow(
      /queryRunningPolls must be a whole number/,
    );
  });

  it('StartQuery errors: ResourceNotFoundException, MalformedQueryException, InvalidParameterException', async () => {
    const window = { startTime: seconds(T0), endTime: seconds(clock.now()) };
    await expectConformingError(MODEL, wire, 'StartQuery', 'ResourceNotFoundException', () =>
      logs.send(
        new StartQueryCommand({ logGroupName: '/aws/kinesis-analytics/none', ...window, queryString: 'limit 1' }),
      ),
    );
    await expectConformingError(MODEL, wire, 'StartQuery', 'MalformedQueryException', () =>
      logs.send(new StartQueryCommand({ logGroupName: GROUP, ...window, queryString: 'stats count(*) by bin(1m)' })),
    );
    await expectConformingError(MODEL, wire, 'StartQuery', 'InvalidParameterException', () =>
      logs.send(
        new StartQueryCommand({
          logGroupName: GROUP,
          startTime: window.endTime,
          endTime: window.startTime,
          queryString: 'limit 1',
        }),
      ),
    );
  });

  it('GetQueryResults and FilterLogEvents errors: ResourceNotFoundException, InvalidParameterException', async () => {
    await expectConformingError(MODEL, wire, 'GetQueryResults', 'ResourceNotFoundException', () =>
      logs.send(new GetQueryResultsCommand({ queryId: 'no-such-query' })),
    );
    await expectConformingError(MODEL, wire, 'FilterLogEvents', 'ResourceNotFoundException', () =>
      logs.send(new FilterLogEventsCommand({ logGroupName: '/aws/kinesis-analytics/none' })),
    );
    await expectConformingError(MODEL, wire, 'FilterLogEvents', 'InvalidParameterException', () =>
      logs.send(new FilterLogEventsCommand({ logGroupName: GROUP, logStreamNames: ['a'], logStreamNamePrefix: 'a' })),
    );
  });
});

describe('MSF emulator: CloudWatchLoggingOptionDescriptions', () => {
  it("a scenario application logs to the console's default stream; a created one to the options it was created with", async () => {
    // Arrange
    const msf = new KinesisAnalyticsV2Client({
      endpoint: emulator.endpoint,
      region: emulator.region,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    const arn = 'arn:aws:logs:eu-west-1:123456789012:log-group:/flink/created:log-stream:app';
    const create = (name: string, options?: Array<{ LogStreamARN: string }>) =>
      msf.send(
        new CreateApplicationCommand({
          ApplicationName: name,
          RuntimeEnvironment: 'FLINK-1_20',
          ServiceExecutionRole: 'arn:aws:iam::123456789012:role/created-msf-role',
          ApplicationConfiguration: {
            ApplicationCodeConfiguration: {
              CodeContentType: 'ZIPFILE',
              CodeContent: { S3ContentLocation: { BucketARN: 'arn:aws:s3:::artifacts', FileKey: 'c-1.jar' } },
            },
          },
          ...(options ? { CloudWatchLoggingOptions: options } : {}),
        }),
      );

    // Act
    const seeded = await msf.send(new DescribeApplicationCommand({ ApplicationName: 'orders' }));
    const created = await create('created-logged', [{ LogStreamARN: arn }]);
    const silent = await create('created-silent');
    const invalid = create('created-invalid', [{ LogStreamARN: 'arn:aws:s3:::not-a-log-stream' }]);

    // Assess
    expect(seeded.ApplicationDetail?.CloudWatchLoggingOptionDescriptions?.map((o) => o.LogStreamARN)).toEqual([
      `arn:aws:logs:eu-west-1:123456789012:log-group:${GROUP}:log-stream:kinesis-analytics-log-stream`,
    ]);
    expect(created.ApplicationDetail?.CloudWatchLoggingOptionDescriptions?.map((o) => o.LogStreamARN)).toEqual([arn]);
    expect(silent.ApplicationDetail?.CloudWatchLoggingOptionDescriptions ?? []).toEqual([]);
    await expect(invalid).rejects.toMatchObject({ name: 'InvalidArgumentException' });
    msf.destroy();
  });
});
