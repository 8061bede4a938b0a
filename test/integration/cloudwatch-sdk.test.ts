import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type AlarmHistoryItem,
  CloudWatchClient,
  DeleteAlarmsCommand,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  InvalidNextToken,
  InvalidParameterValueException,
  MissingRequiredParameterException,
  PutMetricAlarmCommand,
  type PutMetricAlarmCommandInput,
  PutMetricDataCommand,
  paginateDescribeAlarmHistory,
  paginateGetMetricData,
  ResourceNotFound,
  SetAlarmStateCommand,
  ValidationException,
} from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '#sandbox/clock.ts';
import { CloudWatchEmulator } from '#sandbox/emulator/cloudwatch.ts';
import { EmulatorServiceError } from '#sandbox/emulator/errors.ts';
import { type EmulatorServer, type RecordedCall, startEmulatorServer } from '#sandbox/emulator/server.ts';

const MINUTE = 60_000;
/** 2026-03-02T14:00:00Z. */
const T0 = Date.UTC(2026, 2, 2, 14, 0, 0);
const NS = 'AWS/KinesisAnalytics';
const DIMENSIONS = [{ Name: 'Application', Value: 'orders-enricher' }];

interface Recorded {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/**
 * Stand-in for sandbox/emulator/server.ts: a minimal awsJson1_0 router on 127.0.0.1 that hands
 * `X-Amz-Target: GraniteServiceVersion20100801.<Operation>` to the emulator and writes its answer or error.
 */
function startServer(emulator: () => CloudWatchEmulator, recorded: Recorded[]): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      recorded.push({ headers: req.headers, body });
      const target = String(req.headers['x-amz-target'] ?? '');
      const [service, operation = ''] = target.split('.');
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify(payload));
      };
      if (service !== 'GraniteServiceVersion20100801') {
        send(400, { __type: 'UnknownOperationException', message: `unexpected target ${target}` });
        return;
      }
      try {
        send(200, emulator().handle(operation, body === '' ? {} : JSON.parse(body)));
      } catch (err) {
        if (err instanceof EmulatorServiceError) send(err.status, { __type: err.type, message: err.message });
        else send(500, { __type: 'InternalServiceFault', message: String(err) });
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('Class: CloudWatchEmulator (through @aws-sdk/client-cloudwatch)', () => {
  let server: Server;
  let client: CloudWatchClient;
  let cw: CloudWatchEmulator;
  const recorded: Recorded[] = [];

  beforeAll(async () => {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    server = await startServer(() => cw, recorded);
    const { port } = server.address() as AddressInfo;
    client = new CloudWatchClient({
      region: 'eu-west-1',
      endpoint: `http://127.0.0.1:${port}`,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
  });

  afterAll(async () => {
    client.destroy();
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  });

  beforeEach(() => {
    cw = new CloudWatchEmulator({ clock: new VirtualClock(T0), region: 'eu-west-1', accountId: '123456789012' });
    recorded.length = 0;
  });

  describe('Method: handle', () => {
    it('speaks awsJson1_0 in query-compatible mode', async () => {
      // Act
      await client.send(new DescribeAlarmsCommand({}));

      // Assess
      expect(recorded[0]?.headers).toMatchObject({
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'GraniteServiceVersion20100801.DescribeAlarms',
        'x-amzn-query-mode': 'true',
      });
    });

    it('creates an alarm with PutMetricAlarm and reads it back with DescribeAlarms', async () => {
      // Prepare
      for (let i = 1; i <= 3; i++) {
        cw.putDatapoint({
          namespace: NS,
          metricName: 'fullRestarts',
          dimensions: { Application: 'orders-enricher' },
          timestampMs: T0 - i * MINUTE,
          value: 5,
        });
      }

      // Act
      await client.send(
        new PutMetricAlarmCommand({
          AlarmName: 'orders-enricher-restarts',
          AlarmDescription: 'restart loop',
          Namespace: NS,
          MetricName: 'fullRestarts',
          Dimensions: DIMENSIONS,
          Statistic: 'Maximum',
          Period: 60,
          EvaluationPeriods: 3,
          DatapointsToAlarm: 2,
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
          TreatMissingData: 'notBreaching',
          Tags: [{ Key: 'team', Value: 'streaming' }],
        }),
      );
      const events = cw.evaluateAlarms(T0);
      const out = await client.send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'orders-' }));

      // Assess
      expect(events).toHaveLength(1);
      const [alarm] = out.MetricAlarms ?? [];
      expect(alarm).toMatchObject({
        AlarmName: 'orders-enricher-restarts',
        AlarmArn: 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:orders-enricher-restarts',
        StateValue: 'ALARM',
        Statistic: 'Maximum',
        Dimensions: DIMENSIONS,
        EvaluationPeriods: 3,
        DatapointsToAlarm: 2,
        Threshold: 0,
        TreatMissingData: 'notBreaching',
      });
      expect(alarm?.StateReason).toMatch(/^Threshold Crossed: 3 out of the last 3 datapoints/);
      expect(alarm?.StateUpdatedTimestamp).toEqual(new Date(T0));
      expect(alarm?.AlarmConfigurationUpdatedTimestamp).toEqual(new Date(T0));
      expect(JSON.parse(alarm?.StateReasonData ?? '{}')).toMatchObject({ version: '1.0', period: 60, threshold: 0 });

      await client.send(new DeleteAlarmsCommand({ AlarmNames: ['orders-enricher-restarts'] }));
      expect((await client.send(new DescribeAlarmsCommand({}))).MetricAlarms).toEqual([]);
    });

    it('round-trips GetMetricData StartTime/EndTime Dates as epoch seconds', async () => {
      // Prepare: minutes 13:50..13:59 hold 0..9.
      for (let i = 0; i < 10; i++) {
        cw.putDatapoint({
          namespace: NS,
          metricName: 'fullRestarts',
          dimensions: { Application: 'orders-enricher' },
          timestampMs: T0 - (10 - i) * MINUTE,
          value: i,
        });
      }
      const startTime = new Date(T0 - 5 * MINUTE);
      const endTime = new Date(T0);

      // Act
      const out = await client.send(
        new GetMetricDataCommand({
          StartTime: startTime,
          EndTime: endTime,
          ScanBy: 'TimestampAscending',
          MetricDataQueries: [
            {
              Id: 'm1',
              MetricStat: {
                Metric: { Namespace: NS, MetricName: 'fullRestarts', Dimensions: DIMENSIONS },
                Period: 60,
                Stat: 'Maximum',
              },
              ReturnData: false,
            },
            { Id: 'e1', Expression: 'RATE(m1) * 60', Label: 'restarts/min' },
          ],
        }),
      );

      // Assess: the wire carries epoch seconds as JSON numbers, and the answer comes back as Dates.
      const sent = JSON.parse(recorded[0]?.body ?? '{}') as { StartTime: unknown; EndTime: unknown };
      expect(sent.StartTime).toBe((T0 - 5 * MINUTE) / 1000);
      expect(sent.EndTime).toBe(T0 / 1000);
      expect(out.MetricDataResults).toEqual([
        {
          Id: 'e1',
          Label: 'restarts/min',
          Timestamps: [1, 2, 3, 4].map((k) => new Date(T0 - (5 - k) * MINUTE)),
          Values: [1, 1, 1, 1],
          StatusCode: 'Complete',
        },
      ]);
      expect(out.MetricDataResults?.[0]?.Timestamps?.[0]).toBeInstanceOf(Date);
    });

    it('raises the SDK exception classes for invalid requests', async () => {
      // Prepare
      const base = {
        AlarmName: 'bad',
        Namespace: NS,
        MetricName: 'fullRestarts',
        Statistic: 'Maximum' as const,
        Period: 60,
        EvaluationPeriods: 2,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold' as const,
      };

      // Act
      const tooMany = client.send(new PutMetricAlarmCommand({ ...base, DatapointsToAlarm: 3 }));
      const noThreshold = client.send(new PutMetricAlarmCommand({ ...base, Threshold: undefined }));

      // Assess
      await expect(tooMany).rejects.toBeInstanceOf(ValidationException);
      await expect(tooMany).rejects.toMatchObject({
        name: 'ValidationException',
        message: 'DatapointsToAlarm must be less than or equal to EvaluationPeriods',
        $metadata: { httpStatusCode: 400 },
      });
      await expect(noThreshold).rejects.toBeInstanceOf(MissingRequiredParameterException);
      expect(cw.alarms()).toEqual([]);
    });
  });
});

describe('Class: CloudWatchEmulator (through the emulator server and @aws-sdk/client-cloudwatch)', () => {
  const clock = new VirtualClock(T0);
  let server: EmulatorServer;
  let client: CloudWatchClient;
  let cw: CloudWatchEmulator;
  const calls: RecordedCall[] = [];

  beforeAll(async () => {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    server = await startEmulatorServer({
      clock,
      advance: () => undefined,
      kinesisAnalytics: () => {
        throw new EmulatorServiceError('UnknownOperationException', 'not under test');
      },
      cloudWatch: (operation, input) => cw.handle(operation, input),
      record: (call) => calls.push(call),
    });
    client = new CloudWatchClient({
      region: 'eu-west-1',
      endpoint: server.endpoint,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
  });

  afterAll(async () => {
    client.destroy();
    await server.close();
  });

  beforeEach(() => {
    cw = new CloudWatchEmulator({ clock, region: 'eu-west-1', accountId: '123456789012' });
    calls.length = 0;
  });

  const putAlarm = (overrides: Partial<PutMetricAlarmCommandInput> = {}) =>
    client.send(
      new PutMetricAlarmCommand({
        AlarmName: 'orders-enricher-downtime',
        Namespace: 'Sandbox',
        MetricName: 'downtime',
        Dimensions: DIMENSIONS,
        Statistic: 'Maximum',
        Period: 60,
        EvaluationPeriods: 3,
        DatapointsToAlarm: 3,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'breaching',
        ...overrides,
      }),
    );

  describe('Operation: PutMetricData', () => {
    it('drives an alarm: the table cell 0 - - - - (breaching, 3 of 3) is OK, then ALARM a minute later', async () => {
      // Prepare
      await putAlarm();

      // Act
      await client.send(
        new PutMetricDataCommand({
          Namespace: 'Sandbox',
          MetricData: [
            { MetricName: 'downtime', Dimensions: DIMENSIONS, Timestamp: new Date(T0 - 5 * MINUTE), Value: 0 },
          ],
        }),
      );
      cw.evaluateAlarms(T0 + 15_000);
      const first = await client.send(new DescribeAlarmsCommand({ AlarmNames: ['orders-enricher-downtime'] }));
      cw.evaluateAlarms(T0 + MINUTE + 15_000);
      const second = await client.send(new DescribeAlarmsCommand({ AlarmNames: ['orders-enricher-downtime'] }));

      // Assess
      expect(first.MetricAlarms?.[0]?.StateValue).toBe('OK');
      expect(second.MetricAlarms?.[0]?.StateValue).toBe('ALARM');
    });

    it('accepts a gzip-compressed request of 1000 metrics with Values/Counts', async () => {
      // Prepare: 1000 datums are well above the SDK's 10 KB compression threshold.
      const MetricData = Array.from({ length: 1000 }, (_, i) => ({
        MetricName: 'latency',
        Dimensions: DIMENSIONS,
        Timestamp: new Date(T0 - MINUTE + (i % 60) * 1000),
        Values: [1, 2],
        Counts: [1, 3],
      }));

      // Act
      await client.send(new PutMetricDataCommand({ Namespace: 'Sandbox', MetricData }));
      const out = await client.send(
        new GetMetricDataCommand({
          MetricDataQueries: [
            {
              Id: 'n',
              MetricStat: {
                Metric: { Namespace: 'Sandbox', MetricName: 'latency', Dimensions: DIMENSIONS },
                Period: 60,
                Stat: 'SampleCount',
              },
            },
          ],
          StartTime: new Date(T0 - MINUTE),
          EndTime: new Date(T0),
        }),
      );

      // Assess
      expect(out.MetricDataResults?.[0]?.Values).toEqual([4000]);
      expect(calls.find((c) => c.operation === 'PutMetricData')?.errorType).toBeUndefined();
    });

    it('raises InvalidParameterValueException for a NaN value', async () => {
      // Act
      const send = client.send(
        new PutMetricDataCommand({ Namespace: 'Sandbox', MetricData: [{ MetricName: 'm', Value: Number.NaN }] }),
      );

      // Assess
      await expect(send).rejects.toBeInstanceOf(InvalidParameterValueException);
      // The query-compatible code of the model (awsQueryError), as CloudWatch reports it.
      await expect(send).rejects.toMatchObject({ Code: 'InvalidParameterValue', $metadata: { httpStatusCode: 400 } });
    });
  });

  describe('Operation: SetAlarmState and DescribeAlarmHistory', () => {
    it('sets the state, records it in the history, and pages the history', async () => {
      // Prepare
      await putAlarm();

      // Act
      await client.send(
        new SetAlarmStateCommand({ AlarmName: 'orders-enricher-downtime', StateValue: 'ALARM', StateReason: 'drill' }),
      );
      const described = await client.send(new DescribeAlarmsCommand({ AlarmNames: ['orders-enricher-downtime'] }));
      const items: AlarmHistoryItem[] = [];
      for await (const page of paginateDescribeAlarmHistory(
        { client, pageSize: 1 },
        { AlarmName: 'orders-enricher-downtime', ScanBy: 'TimestampAscending' },
      )) {
        items.push(...(page.AlarmHistoryItems ?? []));
      }
      const unknown = client.send(new SetAlarmStateCommand({ AlarmName: 'nope', StateValue: 'OK', StateReason: 'x' }));

      // Assess
      expect(described.MetricAlarms?.[0]).toMatchObject({ StateValue: 'ALARM', StateReason: 'drill' });
      expect(items.map((h) => [h.HistoryItemType, h.HistorySummary])).toEqual([
        ['ConfigurationUpdate', 'Alarm "orders-enricher-downtime" created'],
        ['StateUpdate', 'Alarm updated from INSUFFICIENT_DATA to ALARM'],
      ]);
      expect(items[0]?.Timestamp).toEqual(new Date(T0));
      await expect(unknown).rejects.toBeInstanceOf(ResourceNotFound);
      await expect(unknown).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    });
  });

  describe('Operation: DeleteAlarms', () => {
    it('deletes the names that exist and accepts unknown ones', async () => {
      // Prepare
      await putAlarm();
      await putAlarm({ AlarmName: 'kept' });

      // Act
      await client.send(new DeleteAlarmsCommand({ AlarmNames: ['orders-enricher-downtime', 'never-created'] }));
      const out = await client.send(new DescribeAlarmsCommand({}));

      // Assess
      expect(out.MetricAlarms?.map((a) => a.AlarmName)).toEqual(['kept']);
    });
  });

  describe('Operation: GetMetricData', () => {
    it('pages with MaxDatapoints and NextToken through the SDK paginator', async () => {
      // Prepare: minutes 13:50..13:59 hold 0..9.
      for (let i = 0; i < 10; i++) {
        cw.putDatapoint({
          namespace: NS,
          metricName: 'uptime',
          dimensions: { Application: 'orders-enricher' },
          timestampMs: T0 - (10 - i) * MINUTE,
          value: i,
        });
      }
      const input = {
        MetricDataQueries: [
          {
            Id: 'u',
            MetricStat: {
              Metric: { Namespace: NS, MetricName: 'uptime', Dimensions: DIMENSIONS },
              Period: 60,
              Stat: 'Maximum',
            },
          },
        ],
        StartTime: new Date(T0 - 10 * MINUTE),
        EndTime: new Date(T0),
        MaxDatapoints: 4,
      };

      // Act
      const pages: Array<{ values: number[]; status: string | undefined }> = [];
      for await (const page of paginateGetMetricData({ client }, input)) {
        const result = page.MetricDataResults?.[0];
        pages.push({ values: result?.Values ?? [], status: result?.StatusCode });
      }
      const bad = client.send(new GetMetricDataCommand({ ...input, NextToken: 'not-a-token' }));

      // Assess
      expect(pages).toEqual([
        { values: [9, 8, 7, 6], status: 'PartialData' },
        { values: [5, 4, 3, 2], status: 'PartialData' },
        { values: [1, 0], status: 'Complete' },
      ]);
      await expect(bad).rejects.toBeInstanceOf(InvalidNextToken);
    });
  });
});
