import type { ApplicationDetail } from '@aws-sdk/client-kinesis-analytics-v2';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CloudWatchLogsReader,
  LOGS_CONNECTION_TIMEOUT_MS,
  LOGS_MAX_ATTEMPTS,
  LOGS_REQUEST_TIMEOUT_MS,
  logsClientConfig,
  logsReadersByCell,
} from '#shared/adapters/cloudwatch-logs.ts';
import { toApplicationState, WATCHDOG_USER_AGENT } from '#shared/adapters/msf.ts';
import type { Incident } from '#shared/domain/incident.ts';
import { parseLogStreamArn } from '#shared/domain/model.ts';
import {
  findRootCause,
  insightsTimestampMs,
  isFailureRecord,
  parseException,
  ROOT_CAUSE_BUDGET_MS,
  ROOT_CAUSE_FILTER_PATTERN,
  ROOT_CAUSE_INSIGHTS_BUDGET_MS,
  ROOT_CAUSE_LOOKBACK_MINUTES,
  ROOT_CAUSE_POLLS,
  recordRootCause,
  rootCauseQuery,
} from '#shared/domain/root-cause.ts';
import type { LogEvent, LogsCallOptions, LogsPort, LogsQueryResults } from '#shared/ports/logs.ts';
import { MIN, T0 } from '../support/builders.ts';
import { CapturingLog } from '../support/fakes.ts';

const GROUP = '/aws/kinesis-analytics/orders';
const STREAM_ARN = `arn:aws:logs:eu-west-1:123456789012:log-group:${GROUP}:log-stream:kinesis-analytics-log-stream`;
const NOW = T0 + 10 * MIN;
const ONSET = T0 + 4 * MIN;

const MISSING_STREAM =
  'software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException: Stream arn:aws:kinesis:eu-west-1:123456789012:stream/orders-v2 under account 123456789012 not found.';

/** An MSF JSON log record, as the application's log stream holds it. */
function msfRecord(message: string, throwable?: string[], messageType = 'INFO'): string {
  return JSON.stringify({
    locationInformation: 'org.apache.flink.runtime.executiongraph.ExecutionGraph.transitionState',
    logger: 'org.apache.flink.runtime.executiongraph.ExecutionGraph',
    message,
    ...(throwable ? { throwableInformation: throwable } : {}),
    threadName: 'flink-akka.actor.default-dispatcher-2',
    applicationARN: 'arn:aws:kinesisanalytics:eu-west-1:123456789012:application/orders',
    applicationVersionId: '3',
    messageSchemaVersion: '1',
    messageType,
  });
}

/** Logs Insights `@timestamp` of an epoch ms. */
const insightsTime = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

class FakeLogs implements LogsPort {
  readonly calls: Array<{ op: string; args: unknown[] }> = [];
  constructor(
    readonly events: LogEvent[],
    readonly statuses: string[] = ['Complete'],
    readonly failWith?: Error,
  ) {}
  async startQuery(...args: [string, number, number, string, number]): Promise<string> {
    this.calls.push({ op: 'StartQuery', args });
    if (this.failWith) throw this.failWith;
    return 'q-1';
  }
  async getQueryResults(queryId: string): Promise<LogsQueryResults> {
    this.calls.push({ op: 'GetQueryResults', args: [queryId] });
    const status = this.statuses.shift() ?? 'Running';
    const [, startMs, endMs] = (this.calls[0]?.args ?? []) as [string, number, number];
    return {
      status,
      results:
        status === 'Complete'
          ? this.events
              .filter((e) => e.timestampMs >= startMs && e.timestampMs <= endMs)
              .map((e) => ({ '@timestamp': insightsTime(e.timestampMs), '@message': e.message }))
          : [],
    };
  }
  async filterLogEvents(...args: [string, number, number, string, number, string[]?]): Promise<LogEvent[]> {
    this.calls.push({ op: 'FilterLogEvents', args });
    return this.events.filter((e) => e.timestampMs >= args[1] && e.timestampMs <= args[2]);
  }
}

function deps(logs: LogsPort | undefined) {
  const sleeps: number[] = [];
  return {
    sleeps,
    log: new CapturingLog(),
    value: {
      ...(logs ? { logs } : {}),
      clock: { now: () => NOW },
      log: new CapturingLog(),
      sleep: async (ms: number) => {
        sleeps.push(ms);
      },
    },
  };
}

const input = { applicationKey: 'orders', logGroupName: GROUP, logStreamArns: [STREAM_ARN], onsetMs: ONSET };

describe('Function: parseException', () => {
  it('takes the exception class and message of an MSF record whose throwableInformation holds the stack trace', () => {
    // Act
    const found = parseException(
      msfRecord('Job orders switched from state RUNNING to RESTARTING.', [
        MISSING_STREAM,
        '\tat software.amazon.awssdk.core.internal.http.CombinedResponseHandler.handleErrorResponse(CombinedResponseHandler.java:125)',
        '\tat org.apache.flink.streaming.runtime.tasks.StreamTask.invoke(StreamTask.java:950)',
      ]),
    );

    // Assess
    expect(found).toEqual({
      exceptionClass: 'software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException',
      message: 'Stream arn:aws:kinesis:eu-west-1:123456789012:stream/orders-v2 under account 123456789012 not found.',
      frames: [
        'at software.amazon.awssdk.core.internal.http.CombinedResponseHandler.handleErrorResponse(CombinedResponseHandler.java:125)',
        'at org.apache.flink.streaming.runtime.tasks.StreamTask.invoke(StreamTask.java:950)',
      ],
    });
  });

  it('prefers the deepest Caused by of a chain, with its own frames, at most five', () => {
    // Arrange
    const trace = [
      'org.apache.flink.runtime.JobException: Recovery is suppressed by NoRestartBackoffTimeStrategy',
      '\tat org.apache.flink.runtime.executiongraph.failover.ExecutionFailureHandler.handleFailure(ExecutionFailureHandler.java:176)',
      'Caused by: java.lang.RuntimeException: lookup failed',
      '\tat com.acme.Enricher.map(Enricher.java:40)',
      'Caused by: java.net.UnknownHostException: scoring-v4.internal: Name or service not known',
      ...Array.from({ length: 7 }, (_, i) => `\tat java.net.InetAddress.getAllByName${i}(InetAddress.java:${i})`),
      '\t... 12 more',
    ].join('\n');

    // Act
    const found = parseException(trace);

    // Assess
    expect(found?.exceptionClass).toBe('java.net.UnknownHostException');
    expect(found?.message).toBe('scoring-v4.internal: Name or service not known');
    expect(found?.frames).toHaveLength(5);
    expect(found?.frames[0]).toBe('at java.net.InetAddress.getAllByName0(InetAddress.java:0)');
  });

  it('names no exception for a line without one', () => {
    // Act, Assess
    expect(parseException(msfRecord('Checkpoint 12 of job orders completed.'))).toBeUndefined();
    expect(parseException('Error count: 0')).toBeUndefined();
  });

  it('reads an exception named inside a plain message', () => {
    // Act
    const found = parseException('Source reader failed: java.io.IOException: disk full');

    // Assess
    expect(found).toEqual({ exceptionClass: 'java.io.IOException', message: 'disk full', frames: [] });
  });
});

describe('Function: insightsTimestampMs', () => {
  it('reads the Logs Insights @timestamp form as UTC', () => {
    // Act, Assess
    expect(insightsTimestampMs('2026-03-02 14:04:05.250')).toBe(Date.parse('2026-03-02T14:04:05.250Z'));
    expect(insightsTimestampMs(undefined)).toBeNaN();
  });
});

describe('Function: findRootCause', () => {
  it("returns the earliest failure's exception near the onset from a Complete Logs Insights query", async () => {
    // Arrange
    const logs = new FakeLogs([
      { timestampMs: ONSET + 3 * MIN, message: msfRecord('later', ['java.lang.IllegalStateException: side effect']) },
      { timestampMs: ONSET - 30_000, message: msfRecord('Job orders switched', [MISSING_STREAM]) },
    ]);
    const d = deps(logs);

    // Act
    const outcome = await findRootCause(input, d.value);

    // Assess
    expect(outcome.note).toBeUndefined();
    expect(outcome.rootCause).toMatchObject({
      exceptionClass: 'software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException',
      logGroupName: GROUP,
      atMs: ONSET - 30_000,
      source: 'logs-insights',
    });
    const [group, startMs, endMs, query] = logs.calls[0]?.args ?? [];
    expect([group, startMs, endMs]).toEqual([GROUP, ONSET - ROOT_CAUSE_LOOKBACK_MINUTES * MIN, NOW]);
    expect(query).toContain('filter @logStream = "kinesis-analytics-log-stream"');
  });

  it('falls back to FilterLogEvents when the query is still running after the last poll, without waiting longer', async () => {
    // Arrange
    const logs = new FakeLogs(
      [{ timestampMs: ONSET, message: MISSING_STREAM }],
      Array.from({ length: ROOT_CAUSE_POLLS }, () => 'Running'),
    );
    const d = deps(logs);

    // Act
    const outcome = await findRootCause(input, d.value);

    // Assess
    expect(outcome.rootCause?.source).toBe('filter-log-events');
    expect(logs.calls.filter((c) => c.op === 'GetQueryResults')).toHaveLength(ROOT_CAUSE_POLLS);
    expect(d.sleeps).toHaveLength(ROOT_CAUSE_POLLS - 1);
    expect(logs.calls.at(-1)?.args[5]).toEqual(['kinesis-analytics-log-stream']);
  });

  it('says in a note when no exception is in the window', async () => {
    // Act
    const outcome = await findRootCause(input, deps(new FakeLogs([])).value);

    // Assess
    expect(outcome.rootCause).toBeUndefined();
    expect(outcome.note).toMatch(/^No exception found in \/aws\/kinesis-analytics\/orders from /);
  });

  it('never throws: an error of CloudWatch Logs becomes the note', async () => {
    // Arrange
    const error = Object.assign(new Error('The specified log group does not exist.'), {
      name: 'ResourceNotFoundException',
    });

    // Act
    const outcome = await findRootCause(input, deps(new FakeLogs([], [], error)).value);

    // Assess
    expect(outcome.note).toBe(
      'Root cause not read: ResourceNotFoundException: The specified log group does not exist..',
    );
  });

  it('reads nothing when the application logs to a log group the watchdog may not read, and names the fix', async () => {
    // Arrange
    const logs = new FakeLogs([{ timestampMs: ONSET, message: MISSING_STREAM }]);
    const elsewhere = 'arn:aws:logs:eu-west-1:123456789012:log-group:/flink/orders:log-stream:app';

    // Act
    const outcome = await findRootCause({ ...input, logStreamArns: [elsewhere] }, deps(logs).value);

    // Assess
    expect(logs.calls).toEqual([]);
    expect(outcome.note).toContain('Set applications[].logGroupName to /flink/orders');
  });

  it('reads nothing for an application without logging option, nor without a logs client for its account', async () => {
    // Arrange
    const logs = new FakeLogs([{ timestampMs: ONSET, message: MISSING_STREAM }]);

    // Act
    const none = await findRootCause({ ...input, logStreamArns: [] }, deps(logs).value);
    const noClient = await findRootCause(
      { ...input, applicationKey: 'orders@210987654321.eu-west-1' },
      deps(undefined).value,
    );

    // Assess
    expect(logs.calls).toEqual([]);
    expect(none.note).toContain('AddApplicationCloudWatchLoggingOption');
    expect(noClient.note).toBe(
      'Root cause not read: this watchdog has no CloudWatch Logs client for the account of orders@210987654321.eu-west-1.',
    );
  });
});

/**
 * A LogsPort whose calls never answer until aborted (a CloudWatch Logs endpoint that hangs), except the operations
 * listed in `answers`; records each call's abort signal.
 */
class HangingLogs implements LogsPort {
  readonly signals: Array<{ op: string; signal: AbortSignal | undefined }> = [];
  constructor(readonly answers: { filterLogEvents?: LogEvent[] } = {}) {}
  #hang<T>(op: string, options: LogsCallOptions | undefined): Promise<T> {
    this.signals.push({ op, signal: options?.abortSignal });
    return new Promise<T>((_, reject) => {
      options?.abortSignal?.addEventListener('abort', () => reject(options.abortSignal?.reason), { once: true });
    });
  }
  startQuery(_g: string, _s: number, _e: number, _q: string, _l: number, options?: LogsCallOptions): Promise<string> {
    return this.#hang('StartQuery', options);
  }
  getQueryResults(_id: string, options?: LogsCallOptions): Promise<LogsQueryResults> {
    return this.#hang('GetQueryResults', options);
  }
  async filterLogEvents(
    _g: string,
    _s: number,
    _e: number,
    _p: string,
    _l: number,
    _streams?: string[],
    options?: LogsCallOptions,
  ): Promise<LogEvent[]> {
    if (this.answers.filterLogEvents) {
      this.signals.push({ op: 'FilterLogEvents', signal: options?.abortSignal });
      return this.answers.filterLogEvents;
    }
    return this.#hang('FilterLogEvents', options);
  }
}

/** Settles `promise` into a box, so a test can see whether it has settled yet. */
function watch<T>(promise: Promise<T>): { settled: boolean; value?: T } {
  const box: { settled: boolean; value?: T } = { settled: false };
  void promise.then((value) => {
    box.settled = true;
    box.value = value;
  });
  return box;
}

describe('Root cause read: one wall-clock budget (fake timers)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const timedDeps = (logs: LogsPort) => ({ logs, clock: { now: () => NOW }, log: new CapturingLog() });

  it('a hanging CloudWatch Logs does not hold the read past the budget: a note, and every call aborted', async () => {
    // Arrange
    vi.useFakeTimers();
    const logs = new HangingLogs();

    // Act
    const outcome = watch(findRootCause(input, timedDeps(logs)));
    await vi.advanceTimersByTimeAsync(ROOT_CAUSE_BUDGET_MS - 1);
    const beforeBudget = outcome.settled;
    await vi.advanceTimersByTimeAsync(1);

    // Assess
    expect(beforeBudget).toBe(false);
    expect(outcome.settled).toBe(true);
    expect(outcome.value?.rootCause).toBeUndefined();
    expect(outcome.value?.note).toMatch(/^Root cause not read: CloudWatch Logs did not answer within 4 s/);
    // StartQuery hung past the Logs Insights budget, then FilterLogEvents hung past the whole budget.
    expect(logs.signals.map((s) => s.op)).toEqual(['StartQuery', 'FilterLogEvents']);
    expect(logs.signals.every((s) => s.signal?.aborted === true)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a hanging Logs Insights query gives way to FilterLogEvents at its own budget, within the whole budget', async () => {
    // Arrange
    vi.useFakeTimers();
    const logs = new HangingLogs({
      filterLogEvents: [{ timestampMs: ONSET, message: msfRecord('Job orders switched', [MISSING_STREAM]) }],
    });

    // Act
    const outcome = watch(findRootCause(input, timedDeps(logs)));
    await vi.advanceTimersByTimeAsync(ROOT_CAUSE_INSIGHTS_BUDGET_MS);

    // Assess
    expect(outcome.settled).toBe(true);
    expect(outcome.value?.rootCause).toMatchObject({ source: 'filter-log-events', atMs: ONSET });
    expect(logs.signals[0]).toMatchObject({ op: 'StartQuery' });
    expect(logs.signals[0]?.signal?.aborted).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('the incident gets its ROOT_CAUSE note at the budget when CloudWatch Logs hangs (what the detector awaits)', async () => {
    // Arrange
    vi.useFakeTimers();
    const incident = { events: [] } as unknown as Incident;

    // Act
    const done = watch(recordRootCause(incident, input, timedDeps(new HangingLogs())));
    await vi.advanceTimersByTimeAsync(ROOT_CAUSE_BUDGET_MS);

    // Assess
    expect(done.settled).toBe(true);
    expect(incident.rootCauseNote).toMatch(/did not answer within 4 s.*Look in \/aws\/kinesis-analytics\/orders/);
    expect(incident.events.map((e) => e.kind)).toEqual(['ROOT_CAUSE']);
  });
});

describe('Root cause read: MSF structured fields, past noise', () => {
  /** 25 lines before the failure that are not it: handled exceptions at WARN, an ErrorHandler at INFO, cut records, an ERROR without exception. */
  const noise: LogEvent[] = Array.from({ length: 25 }, (_, i) => {
    const at = ONSET - 60_000 + i * 1_000;
    const kinds = [
      msfRecord('Retrying after java.net.SocketTimeoutException: Read timed out', undefined, 'WARN'),
      msfRecord('Registered com.acme.orders.DeadLetterErrorHandler for sink orders-out'),
      '{"message":"Job orders switched from state RUNNING to FAILING","messageType":"ERR',
      msfRecord('Checkpoint 12 of job orders expired before completing.', undefined, 'ERROR'),
      msfRecord('Metric numRecordsOutErrors registered', undefined, 'INFO'),
    ];
    return { timestampMs: at, message: kinds[i % kinds.length] ?? '' };
  });
  const failure = { timestampMs: ONSET - 30_000 + 1, message: msfRecord('Job orders switched', [MISSING_STREAM]) };

  it('the query and the pattern ask for ERROR records or a stack trace, not any line naming an error', () => {
    // Act, Assess
    expect(rootCauseQuery('s')).toContain(
      '| filter messageType = "ERROR" or ispresent(throwableInformation) or ispresent(throwableInformation.0) |',
    );
    expect(rootCauseQuery('s')).not.toMatch(/@message like/);
    expect(ROOT_CAUSE_FILTER_PATTERN).toBe('?ERROR ?throwableInformation');
    expect(isFailureRecord(msfRecord('Retrying after java.io.IOException: x', undefined, 'WARN'))).toBe(false);
    expect(isFailureRecord(msfRecord('x', undefined, 'ERROR'))).toBe(true);
    expect(isFailureRecord(msfRecord('x', ['java.io.IOException: y'], 'INFO'))).toBe(true);
    expect(isFailureRecord('java.io.IOException: y')).toBe(true);
  });

  it('Logs Insights: 25 noise lines before the failure, the failure is still found', async () => {
    // Arrange
    const logs = new FakeLogs([...noise, failure]);

    // Act
    const outcome = await findRootCause(input, deps(logs).value);

    // Assess
    expect(outcome.rootCause).toMatchObject({
      exceptionClass: 'software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException',
      atMs: failure.timestampMs,
      source: 'logs-insights',
    });
  });

  it('FilterLogEvents: 25 noise lines before the failure, the failure is still found', async () => {
    // Arrange
    const logs = new FakeLogs([...noise, failure], ['Failed']);

    // Act
    const outcome = await findRootCause(input, deps(logs).value);

    // Assess
    expect(outcome.rootCause).toMatchObject({ atMs: failure.timestampMs, source: 'filter-log-events' });
    expect(logs.calls.at(-1)?.args[3]).toBe(ROOT_CAUSE_FILTER_PATTERN);
  });
});

describe('Function: recordRootCause', () => {
  const bare = () => ({ events: [] }) as unknown as Incident;

  it('puts the root cause and a ROOT_CAUSE event on the incident', async () => {
    // Arrange
    const incident = bare();

    // Act
    await recordRootCause(incident, input, deps(new FakeLogs([{ timestampMs: ONSET, message: MISSING_STREAM }])).value);

    // Assess
    expect(incident.rootCause?.exceptionClass).toBe(
      'software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException',
    );
    expect(incident.rootCauseNote).toBeUndefined();
    expect(incident.events).toEqual([{ atMs: NOW, kind: 'ROOT_CAUSE', message: `${MISSING_STREAM} (logs-insights)` }]);
  });

  it('puts the note on the incident when none is found', async () => {
    // Arrange
    const incident = bare();

    // Act
    await recordRootCause(incident, input, deps(new FakeLogs([])).value);

    // Assess
    expect(incident.rootCause).toBeUndefined();
    expect(incident.rootCauseNote).toMatch(/^No exception found/);
    expect(incident.events[0]?.kind).toBe('ROOT_CAUSE');
  });
});

describe('Log stream ARNs (CloudWatchLoggingOptionDescriptions)', () => {
  it('maps DescribeApplication logging options onto ApplicationState.logStreamArns; none is []', () => {
    // Arrange
    const detail = (extra: Partial<ApplicationDetail>) =>
      ({
        ApplicationARN: 'arn:aws:kinesisanalytics:eu-west-1:123456789012:application/orders',
        ApplicationName: 'orders',
        RuntimeEnvironment: 'FLINK-1_20',
        ApplicationStatus: 'RUNNING',
        ApplicationVersionId: 3,
        ...extra,
      }) as ApplicationDetail;

    // Act
    const logged = toApplicationState(
      detail({ CloudWatchLoggingOptionDescriptions: [{ CloudWatchLoggingOptionId: '1.1', LogStreamARN: STREAM_ARN }] }),
    );
    const silent = toApplicationState(detail({}));

    // Assess
    expect(logged.logStreamArns).toEqual([STREAM_ARN]);
    expect(silent.logStreamArns).toEqual([]);
  });

  it('reads the log group and stream of a log stream ARN, and nothing of another ARN', () => {
    // Act, Assess
    expect(parseLogStreamArn(STREAM_ARN)).toEqual({
      logGroupName: GROUP,
      logStreamName: 'kinesis-analytics-log-stream',
    });
    expect(parseLogStreamArn('arn:aws:logs:eu-west-1:123456789012:log-group:/x')).toBeUndefined();
  });
});

describe('Function: logsReadersByCell', () => {
  it("gives the home reader for a home application, one reader per member cell (its role's credentials), none for an unwatched cell", () => {
    // Arrange
    const home = new FakeLogs([]);
    const member = { accountId: '210987654321', region: 'eu-west-1' };
    const asked: unknown[] = [];
    const readers = logsReadersByCell(
      {
        cellOf: (key: string) => {
          if (!key.includes('@')) return { accountId: '123456789012', region: 'eu-west-1' };
          if (key.endsWith('@210987654321.eu-west-1')) return member;
          throw new Error(`${key}: cell not watched`);
        },
        isHome: (cell) => cell.accountId === '123456789012',
      },
      {
        credentialsFor: (cell) => {
          asked.push(cell);
          return { accessKeyId: 'ASIAMEMBER', secretAccessKey: 'x' };
        },
      },
      home,
    );

    // Act
    const own = readers('orders');
    const first = readers('clicks@210987654321.eu-west-1');
    const second = readers('views@210987654321.eu-west-1');
    const unwatched = readers('x@999999999999.eu-west-1');

    // Assess
    expect(own).toBe(home);
    expect(first).toBeInstanceOf(CloudWatchLogsReader);
    expect(second).toBe(first);
    expect(asked).toEqual([member]);
    expect(unwatched).toBeUndefined();
  });
});

describe('Function: logsClientConfig', () => {
  it('gives every CloudWatch Logs client timeouts and attempts that fit the budget, and the watchdog user agent', () => {
    // Act
    const plain = logsClientConfig();
    const member = logsClientConfig({ region: 'eu-central-1', endpoint: 'http://127.0.0.1:1' });

    // Assess
    expect(plain).toEqual({
      customUserAgent: [WATCHDOG_USER_AGENT],
      maxAttempts: 2,
      requestHandler: { requestTimeout: 1_500, connectionTimeout: 500 },
    });
    expect([LOGS_MAX_ATTEMPTS, LOGS_REQUEST_TIMEOUT_MS, LOGS_CONNECTION_TIMEOUT_MS]).toEqual([2, 1_500, 500]);
    expect(LOGS_MAX_ATTEMPTS * LOGS_REQUEST_TIMEOUT_MS).toBeLessThan(ROOT_CAUSE_BUDGET_MS);
    expect(member).toMatchObject({ ...plain, region: 'eu-central-1', endpoint: 'http://127.0.0.1:1' });
  });
});
