import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KinesisAnalyticsV2Client, StopApplicationCommand } from '@aws-sdk/client-kinesis-analytics-v2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryJson } from '#cli/history.ts';
import type { RemediateJson } from '#cli/remediate.ts';
import { VirtualClock } from '#sandbox/clock.ts';
import { type LocalLedgerTable, startLedgerTable } from '#sandbox/dynalite.ts';
import { type Emulator, startEmulator } from '#sandbox/emulator/index.ts';
import { ScenarioApplication } from '#sandbox/scenario.ts';
import { DynamoDbLedger } from '#shared/adapters/dynamodb-ledger.ts';
import type { Incident } from '#shared/domain/incident.ts';
import { runbookIncidentId } from '#shared/domain/runbook.ts';
import { parseRunbookRecord } from '#shared/events/runbook-command.ts';
import { MUTATING_MSF_OPERATIONS } from '#shared/ports/msf.ts';

const MINUTE = 60_000;
const NOW_MS = Math.floor(Date.now() / MINUTE) * MINUTE;
const START_MS = NOW_MS - 15 * MINUTE;
const SECRET = 's3cr3t-token';
const CONFIG = 'test/fixtures/config/cli-watched.json';
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:flink-watchdog-commands';
/** User agent app id of the test's own MSF client, playing the watchdog that carries out the published command. */
const WATCHDOG_APP_ID = 'test-watchdog';

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** One SNS Publish the local receiver answered: the form fields of the awsQuery request. */
type Published = Record<string, string>;

const ORDERS_INCIDENT: Incident = {
  schemaVersion: 1,
  id: 'orders-enrichment-00000000000000aa',
  applicationName: 'orders-enrichment',
  trigger: { source: 'alarm', detail: 'orders-enrichment-restart-loop', atMs: NOW_MS - 30 * MINUTE },
  openedMs: NOW_MS - 30 * MINUTE,
  status: 'ESCALATED',
  finding: {
    kind: 'RESTART_LOOP',
    summary: '5 restarts in 10 minutes',
    restarts: 5,
    windowMinutes: 10,
    metricName: 'fullRestarts',
    onsetMs: NOW_MS - 40 * MINUTE,
  },
  decision: {
    verdict: 'REMEDIATE',
    reason: 'restart loop after a deploy: re-apply version 2',
    remediation: {
      kind: 'REAPPLY_PREVIOUS_VERSION',
      expectVersionId: 3,
      goodVersionId: 2,
      start: { restoreType: 'RESTORE_FROM_LATEST_SNAPSHOT', allowNonRestoredState: false },
    },
    guards: [{ name: 'lock-free', passed: true, detail: 'free' }],
    nextSteps: [],
  },
  attempts: 1,
  actions: [
    {
      seq: 1,
      call: 'UpdateApplication',
      input: { ReapplyVersionId: 2, environmentProperties: { kafka: { 'auth.token': SECRET } } },
      recordedMs: NOW_MS - 29 * MINUTE,
      state: 'SUCCEEDED',
      completedMs: NOW_MS - 29 * MINUTE + 2_000,
      operationId: 'op-update-1',
    },
    {
      seq: 2,
      call: 'StartApplication',
      input: { ApplicationRestoreType: 'RESTORE_FROM_LATEST_SNAPSHOT', AllowNonRestoredState: false },
      recordedMs: NOW_MS - 25 * MINUTE,
      state: 'FAILED',
      completedMs: NOW_MS - 25 * MINUTE + 1_000,
      error: 'ResourceInUseException: application is UPDATING',
    },
  ],
  events: [
    {
      atMs: NOW_MS - 29 * MINUTE,
      kind: 'ACTION',
      message: `UpdateApplication ${JSON.stringify({ ReapplyVersionId: 2, environmentProperties: { kafka: { 'auth.token': SECRET } } })} accepted`,
    },
  ],
  closedMs: NOW_MS - 24 * MINUTE,
  outcomeReason: 'StartApplication failed twice: a human should look',
  nextSteps: ['aws kinesisanalyticsv2 describe-application --application-name orders-enrichment'],
};

const PAYMENTS_INCIDENT: Incident = {
  schemaVersion: 1,
  id: 'payments-aggregation-00000000000000bb',
  applicationName: 'payments-aggregation',
  trigger: { source: 'schedule', detail: 'reconciler', atMs: NOW_MS - 120 * MINUTE },
  openedMs: NOW_MS - 120 * MINUTE,
  status: 'RESOLVED',
  decision: {
    verdict: 'REMEDIATE',
    reason: 'stuck in STOPPING for 20 min',
    remediation: { kind: 'FORCE_STOP_AND_RESTART', expectVersionId: 1 },
    guards: [],
    nextSteps: [],
  },
  attempts: 1,
  actions: [
    {
      seq: 1,
      call: 'StopApplication',
      input: { Force: true },
      recordedMs: NOW_MS - 119 * MINUTE,
      state: 'SUCCEEDED',
      completedMs: NOW_MS - 119 * MINUTE + 1_000,
      operationId: 'op-stop-1',
    },
  ],
  events: [],
  closedMs: NOW_MS - 100 * MINUTE,
  outcomeReason: 'READY again after a forced stop',
};

let emulator: Emulator;
let clock: VirtualClock;
let ledger: LocalLedgerTable;
let sns: { server: Server; endpoint: string; published: Published[] };
let watchdogMsf: KinesisAnalyticsV2Client;
let runs: Record<
  'history' | 'historyAppJson' | 'historyNoTable' | 'dryRun' | 'dryRunRejected' | 'executeNoTopic' | 'execute',
  Promise<CliRun>
>;

/**
 * Runs `tsx cli/bin.ts ARGS` against the emulator, the local ledger table and the local SNS receiver; `appId` tags
 * the run's AWS calls (AWS_SDK_UA_APP_ID, `app/ID` in the user agent) so the emulator's record tells runs apart.
 */
function cli(args: string[], appId: string): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      'npx',
      ['tsx', 'cli/bin.ts', ...args],
      {
        env: {
          ...process.env,
          AWS_ENDPOINT_URL: emulator.endpoint,
          AWS_ENDPOINT_URL_DYNAMODB: ledger.endpoint,
          AWS_ENDPOINT_URL_SNS: sns.endpoint,
          AWS_REGION: emulator.region,
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          AWS_SDK_UA_APP_ID: appId,
          NO_COLOR: '1',
          WATCHDOG_CONFIG: undefined,
          WATCHDOG_CONFIG_PATH: undefined,
          LEDGER_TABLE_NAME: undefined,
          COMMAND_TOPIC_ARN: undefined,
        },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * A local SNS endpoint (awsQuery: form-encoded POST, XML reply) answering Publish with a PublishResponse and
 * recording each request. Playing the watchdog, it carries out a published force-stop on the emulator with its own
 * client, then lets 5 virtual minutes pass 1.5 s later, so the CLI sees FORCE_STOPPING, then READY.
 */
async function startSnsReceiver(): Promise<{ server: Server; endpoint: string; published: Published[] }> {
  const published: Published[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    req.on('end', async () => {
      const form = Object.fromEntries(new URLSearchParams(body));
      if (form.Action !== 'Publish') {
        res.writeHead(400, { 'content-type': 'text/xml' }).end('<ErrorResponse/>');
        return;
      }
      published.push(form);
      const messageId = `00000000-0000-4000-8000-${String(published.length).padStart(12, '0')}`;
      const message = JSON.parse(form.Message ?? '{}') as { command?: string; application?: string };
      if (message.command === 'force-stop' && message.application) {
        await watchdogMsf.send(new StopApplicationCommand({ ApplicationName: message.application, Force: true }));
        setTimeout(() => clock.advance(5 * MINUTE), 1_500);
      }
      res
        .writeHead(200, { 'content-type': 'text/xml' })
        .end(
          `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${messageId}</MessageId></PublishResult><ResponseMetadata><RequestId>req-${published.length}</RequestId></ResponseMetadata></PublishResponse>`,
        );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, endpoint: `http://127.0.0.1:${port}`, published };
}

/** The emulator's MSF calls made by the run tagged `appId`. */
function callsOf(appId: string) {
  return emulator.calls.filter((c) => c.service === 'kinesisanalytics' && c.userAgent.includes(`app/${appId}`));
}

beforeAll(async () => {
  clock = new VirtualClock(START_MS);
  emulator = await startEmulator({
    clock,
    world: {
      startTime: new Date(START_MS).toISOString(),
      applications: [
        ScenarioApplication.parse({
          name: 'orders-enrichment',
          code: { bucket: 'artifacts', fileKey: 'orders-1.jar' },
          environmentProperties: { kafka: { topic: 'orders', 'auth.token': SECRET } },
          initialVersion: 3,
        }),
        ScenarioApplication.parse({
          name: 'payments-aggregation',
          runtimeEnvironment: 'FLINK-2_2',
          code: { bucket: 'artifacts', fileKey: 'payments-4.jar' },
        }),
      ],
      jobModel: [],
      faults: [],
    },
  });
  clock.advanceTo(NOW_MS);
  emulator.advanceTo(clock.now());
  watchdogMsf = new KinesisAnalyticsV2Client({
    endpoint: emulator.endpoint,
    region: emulator.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    userAgentAppId: WATCHDOG_APP_ID,
    maxAttempts: 1,
  });
  [ledger, sns] = await Promise.all([startLedgerTable(), startSnsReceiver()]);
  const ledgerAdapter = new DynamoDbLedger({ tableName: ledger.tableName, client: ledger.client });
  await Promise.all([ledgerAdapter.createIncident(ORDERS_INCIDENT), ledgerAdapter.createIncident(PAYMENTS_INCIDENT)]);

  const table = ['--table', ledger.tableName];
  const remediate = (app: string, ...args: string[]) => ['remediate', app, '--config', CONFIG, ...args];
  runs = {
    history: cli(['history', ...table], 'history'),
    historyAppJson: cli(['history', '--app', 'orders-enrichment', '--json', ...table], 'history-json'),
    historyNoTable: cli(['history'], 'history-no-table'),
    dryRun: cli(remediate('orders-enrichment', '--action', 'force-stop', '--topic', TOPIC, ...table), 'dry-run'),
    dryRunRejected: cli(remediate('orders-enrichment', '--action', 'start', '--json'), 'dry-run-rejected'),
    executeNoTopic: cli(
      remediate('payments-aggregation', '--action', 'force-stop', '--execute', '--reason', 'r', '--requested-by', 'me'),
      'execute-no-topic',
    ),
    execute: cli(
      remediate(
        'payments-aggregation',
        '--action',
        'force-stop',
        '--execute',
        '--reason',
        'stuck consumer, clearing it',
        '--requested-by',
        'alice@example.com',
        '--topic',
        TOPIC,
        '--poll-seconds',
        '0.1',
        '--timeout-minutes',
        '1',
        ...table,
      ),
      'execute',
    ),
  };
  await Promise.all(Object.values(runs));
}, 90_000);

afterAll(async () => {
  watchdogMsf?.destroy();
  await Promise.all([
    emulator?.close(),
    ledger?.close(),
    sns && new Promise<void>((resolve) => sns.server.close(() => resolve())),
  ]);
});

describe('Command: history', () => {
  it('prints each incident newest first: header, decision, actions, outcome and next steps', async () => {
    const run = await runs.history;
    expect(run.code, run.stderr).toBe(0);
    const headers = run.stdout.split('\n').filter((l) => l.startsWith('━━ '));
    expect(headers).toHaveLength(2);
    expect(headers[0]).toContain(`${new Date(ORDERS_INCIDENT.openedMs).toISOString().slice(0, 10)}`);
    expect(headers[0]).toMatch(
      /orders-enrichment {2}orders-enrichment-00000000000000aa {2}ESCALATED {2}trigger: alarm orders-enrichment-restart-loop {2}finding: RESTART_LOOP$/,
    );
    expect(headers[1]).toMatch(/payments-aggregation-00000000000000bb {2}RESOLVED {2}trigger: schedule reconciler/);
    expect(run.stdout).toContain('decision: REMEDIATE — restart loop after a deploy: re-apply version 2');
    expect(run.stdout).toMatch(
      /#1 UpdateApplication SUCCEEDED {2}recorded \S+ {2}completed \S+ {2}operation op-update-1 {2}input: ReapplyVersionId, environmentProperties/,
    );
    expect(run.stdout).toMatch(/#2 StartApplication FAILED .*error: ResourceInUseException: application is UPDATING/);
    expect(run.stdout).toContain('outcome: StartApplication failed twice: a human should look');
    expect(run.stdout).toContain('aws kinesisanalyticsv2 describe-application --application-name orders-enrichment');
    expect(run.stdout).toContain('#1 StopApplication SUCCEEDED');
    expect(run.stdout).not.toContain(SECRET);
  });

  it('keeps only the application of --app and prints Incident objects with no property value in --json', async () => {
    const run = await runs.historyAppJson;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).not.toContain(SECRET);
    const json = JSON.parse(run.stdout) as HistoryJson;
    expect(json.problems).toEqual([]);
    expect(json.incidents.map((i) => i.id)).toEqual([ORDERS_INCIDENT.id]);
    const [update, start] = json.incidents[0]?.actions ?? [];
    expect(update?.input).toEqual({ ReapplyVersionId: 2, environmentProperties: { kafka: { 'auth.token': '***' } } });
    expect(start?.input).toEqual(ORDERS_INCIDENT.actions[1]?.input);
    expect(json.incidents[0]?.events[0]?.message).toContain('"auth.token":"***"');
    expect(json.incidents[0]?.finding).toEqual(ORDERS_INCIDENT.finding);
  });

  it('exits 64 (usage) naming --table, --stack and LEDGER_TABLE_NAME when no table is given', async () => {
    const run = await runs.historyNoTable;
    expect(run.code).toBe(64);
    expect(run.stderr).toContain('pass --table NAME or --stack NAME (the watchdog stack), or set LEDGER_TABLE_NAME');
  });
});

describe('Command: remediate', () => {
  it('dry run: prints the guards and the plan, exits 0, makes no mutating call and publishes nothing', async () => {
    const run = await runs.dryRun;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Dry run: force-stop on orders-enrichment — nothing is changed, nothing is published');
    expect(run.stdout).toContain('observed: ApplicationStatus RUNNING, version 3');
    expect(run.stdout).toMatch(/✓ in-scope +listed in the watchdog config/);
    expect(run.stdout).toMatch(/✓ status-actionable +ApplicationStatus RUNNING; force-stop needs/);
    expect(run.stdout).toMatch(/✓ lock-free +free/);
    expect(run.stdout).toContain('would: force-stop orders-enrichment (version 3, RUNNING)');
    expect(run.stdout).toContain('workflow: force-stop (desired status READY: no restart)');
    const calls = callsOf('dry-run');
    expect(calls.map((c) => c.operation)).toEqual(
      expect.arrayContaining(['DescribeApplication', 'ListApplicationOperations', 'ListApplicationSnapshots']),
    );
    expect(calls.filter((c) => MUTATING_MSF_OPERATIONS.has(c.operation))).toEqual([]);
  });

  it('dry run: exits 2 with the failed guard when the watchdog would reject the command', async () => {
    const run = await runs.dryRunRejected;
    expect(run.code, run.stderr).toBe(2);
    const json = JSON.parse(run.stdout) as RemediateJson;
    expect(json).toMatchObject({ application: 'orders-enrichment', command: 'start', dryRun: true, problems: [] });
    expect(json.plan?.verdict).toBe('rejected');
    expect(json.plan?.detail).toContain('it is already running');
    expect(json.plan?.guards.find((g) => g.name === 'status-actionable')?.passed).toBe(false);
    expect(json.published).toBeUndefined();
  });

  it('--execute without a topic: exits 64 (usage) naming --topic, --stack and COMMAND_TOPIC_ARN before any call', async () => {
    const run = await runs.executeNoTopic;
    expect(run.code).toBe(64);
    expect(run.stderr).toContain('pass --topic ARN or --stack NAME (the watchdog stack), or set COMMAND_TOPIC_ARN');
    expect(callsOf('execute-no-topic')).toEqual([]);
  });

  it('--execute: publishes the command the runbook parser accepts, then follows the status to READY', async () => {
    const run = await runs.execute;
    expect(run.code, run.stdout + run.stderr).toBe(0);
    // One publish in all: the dry run, with --topic, published nothing.
    expect(sns.published).toHaveLength(1);
    const form = sns.published[0] ?? {};
    expect(form.TopicArn).toBe(TOPIC);
    const attributes: Record<string, { Type: string; Value: string }> = {};
    for (let n = 1; form[`MessageAttributes.entry.${n}.Name`]; n++) {
      expect(form[`MessageAttributes.entry.${n}.Value.DataType`]).toBe('String');
      attributes[form[`MessageAttributes.entry.${n}.Name`] as string] = {
        Type: 'String',
        Value: form[`MessageAttributes.entry.${n}.Value.StringValue`] as string,
      };
    }
    expect(attributes).toEqual({
      command: { Type: 'String', Value: 'force-stop' },
      application: { Type: 'String', Value: 'payments-aggregation' },
    });
    const messageId = '00000000-0000-4000-8000-000000000001';
    const parsed = parseRunbookRecord({
      Sns: { MessageId: messageId, TopicArn: TOPIC, Message: form.Message, MessageAttributes: attributes },
    });
    expect(parsed).toEqual({
      ok: true,
      messageId,
      topicArn: TOPIC,
      command: {
        command: 'force-stop',
        application: 'payments-aggregation',
        requestedBy: 'alice@example.com',
        reason: 'stuck consumer, clearing it',
        dryRun: false,
      },
    });

    expect(run.stdout).toContain(`incident ${runbookIncidentId('payments-aggregation', messageId)}`);
    const progress = run.stdout.split('\n').filter((l) => /^ {2}\d\d:\d\d:\d\dZ payments-aggregation /.test(l));
    expect(progress.map((l) => l.split(' ')[4])).toEqual(['RUNNING', 'FORCE_STOPPING', 'READY']);
    expect(run.stdout).toMatch(/✓ payments-aggregation is READY after \d+ s/);

    // The CLI only read MSF; the one mutating call is the one the stand-in watchdog made.
    expect(callsOf('execute').filter((c) => MUTATING_MSF_OPERATIONS.has(c.operation))).toEqual([]);
    const mutating = emulator.calls.filter((c) => MUTATING_MSF_OPERATIONS.has(c.operation));
    expect(mutating.map((c) => [c.operation, c.input, c.userAgent.includes(`app/${WATCHDOG_APP_ID}`)])).toEqual([
      ['StopApplication', { ApplicationName: 'payments-aggregation', Force: true }, true],
    ]);
  });
});
