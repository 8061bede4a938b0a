import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand, type Output } from '@aws-sdk/client-cloudformation';
import {
  CreateApplicationSnapshotCommand,
  KinesisAnalyticsV2Client,
  StopApplicationCommand,
  UpdateApplicationCommand,
} from '@aws-sdk/client-kinesis-analytics-v2';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '#cli/program.ts';
import type { RemediateJson } from '#cli/remediate.ts';
import { VirtualClock } from '#sandbox/clock.ts';
import { type LocalLedgerTable, startLedgerTable } from '#sandbox/dynalite.ts';
import { type Emulator, startEmulator } from '#sandbox/emulator/index.ts';
import { ScenarioApplication } from '#sandbox/scenario.ts';
import { MUTATING_MSF_OPERATIONS } from '#shared/ports/msf.ts';

/**
 * The CLI run in-process (runCli) against the emulator and a local ledger table, with CloudFormation DescribeStacks
 * (the emulator does not serve CloudFormation) and SNS Publish mocked by aws-sdk-client-mock.
 */

const MINUTE = 60_000;
const NOW_MS = Math.floor(Date.now() / MINUTE) * MINUTE;
const CONFIG = 'test/fixtures/config/cli-watched.json';
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:flink-watchdog-commands';
const ENV_KEYS = [
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_DYNAMODB',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_PROFILE',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'NO_COLOR',
  'LEDGER_TABLE_NAME',
  'COMMAND_TOPIC_ARN',
  'WATCHDOG_CONFIG',
  'WATCHDOG_CONFIG_PATH',
] as const;

let emulator: Emulator;
let clock: VirtualClock;
let ledger: LocalLedgerTable;
let setupMsf: KinesisAnalyticsV2Client;
let tmp: string;
/** A config watching the two applications of CONFIG and clickstream, deployed anew (version 2) without a snapshot. */
let configWithClickstream: string;
const savedEnv: Partial<Record<(typeof ENV_KEYS)[number], string>> = {};
const cfn = mockClient(CloudFormationClient);
const sns = mockClient(SNSClient);

/** Outputs of a stack holding one watchdog (construct id `Watchdog`), with or without a command topic. */
function outputs(withTopic: boolean): Output[] {
  return [
    { OutputKey: 'WatchdogLedgerTableName', OutputValue: ledger.tableName },
    { OutputKey: 'WatchdogNotificationTopicArn', OutputValue: 'arn:aws:sns:eu-west-1:123456789012:notify' },
    { OutputKey: 'WatchdogDashboardName', OutputValue: 'flink-watchdog-dashboard' },
    { OutputKey: 'WatchdogInstance', OutputValue: 'wd' },
    ...(withTopic ? [{ OutputKey: 'WatchdogCommandTopicArn', OutputValue: TOPIC }] : []),
  ];
}

/** Runs the CLI in-process; stdout (console.log and stream writes) and stderr captured. */
async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const spies = [
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
      out += `${a.join(' ')}\n`;
    }),
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => {
      err += `${a.join(' ')}\n`;
    }),
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    }),
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err += String(chunk);
      return true;
    }),
  ];
  try {
    return { code: await runCli(argv), out, err };
  } finally {
    for (const s of spies) s.mockRestore();
  }
}

function msfCalls(): number {
  return emulator.calls.filter((c) => c.service === 'kinesisanalytics').length;
}

beforeAll(async () => {
  clock = new VirtualClock(NOW_MS - 15 * MINUTE);
  emulator = await startEmulator({
    clock,
    world: {
      startTime: new Date(clock.now()).toISOString(),
      applications: [
        ScenarioApplication.parse({
          name: 'orders-enrichment',
          code: { bucket: 'artifacts', fileKey: 'orders-1.jar' },
          initialVersion: 3,
        }),
        ScenarioApplication.parse({
          name: 'payments-aggregation',
          runtimeEnvironment: 'FLINK-2_2',
          code: { bucket: 'artifacts', fileKey: 'payments-4.jar' },
        }),
        ScenarioApplication.parse({ name: 'clickstream', code: { bucket: 'artifacts', fileKey: 'clicks-1.jar' } }),
      ],
      jobModel: [],
      faults: [],
    },
  });
  ledger = await startLedgerTable();
  for (const key of ENV_KEYS) savedEnv[key] = process.env[key];
  for (const key of ENV_KEYS) delete process.env[key];
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: emulator.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: ledger.endpoint,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    NO_COLOR: '1',
  });
  setupMsf = new KinesisAnalyticsV2Client({
    endpoint: emulator.endpoint,
    region: emulator.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  // A READY snapshot of orders-enrichment's running version 3: its last-known-good.
  await setupMsf.send(
    new CreateApplicationSnapshotCommand({ ApplicationName: 'orders-enrichment', SnapshotName: 'good-1' }),
  );
  // clickstream deployed anew: version 2 runs, its snapshots are of version 1.
  await setupMsf.send(
    new UpdateApplicationCommand({
      ApplicationName: 'clickstream',
      CurrentApplicationVersionId: 1,
      ApplicationConfigurationUpdate: {
        FlinkApplicationConfigurationUpdate: {
          ParallelismConfigurationUpdate: { ConfigurationTypeUpdate: 'CUSTOM', ParallelismUpdate: 2 },
        },
      },
    }),
  );
  clock.advanceTo(NOW_MS);
  emulator.advanceTo(clock.now());
  tmp = mkdtempSync(join(tmpdir(), 'flink-watchdog-stack-'));
  configWithClickstream = join(tmp, 'config.json');
  writeFileSync(
    configWithClickstream,
    JSON.stringify({
      schemaVersion: 1,
      applications: [
        { name: 'orders-enrichment' },
        { name: 'payments-aggregation', runtimeEnvironment: 'FLINK-2_2' },
        { name: 'clickstream' },
      ],
    }),
  );
}, 60_000);

afterAll(async () => {
  for (const key of ENV_KEYS) {
    if (savedEnv[key] === undefined) delete process.env[key];
    else process.env[key] = savedEnv[key];
  }
  setupMsf?.destroy();
  cfn.restore();
  sns.restore();
  await Promise.all([emulator?.close(), ledger?.close()]);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

beforeEach(() => {
  cfn.reset();
  sns.reset();
  cfn.on(DescribeStacksCommand, { StackName: 'wd' }).resolves({
    Stacks: [{ StackName: 'wd', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: outputs(false) }],
  });
  cfn.on(DescribeStacksCommand, { StackName: 'wd-runbooks' }).resolves({
    Stacks: [
      { StackName: 'wd-runbooks', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: outputs(true) },
    ],
  });
  cfn.on(DescribeStacksCommand, { StackName: 'two' }).resolves({
    Stacks: [
      {
        StackName: 'two',
        CreationTime: new Date(),
        StackStatus: 'UPDATE_COMPLETE',
        Outputs: [
          { OutputKey: 'WatchdogLedgerTableName', OutputValue: 'not-this-table' },
          { OutputKey: 'WatchdogInstance', OutputValue: 'wd' },
          { OutputKey: 'BlueLedgerTableName', OutputValue: ledger.tableName },
          { OutputKey: 'BlueInstance', OutputValue: 'blue' },
        ],
      },
    ],
  });
  cfn.on(DescribeStacksCommand, { StackName: 'old' }).resolves({
    Stacks: [{ StackName: 'old', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: [] }],
  });
  cfn
    .on(DescribeStacksCommand, { StackName: 'gone' })
    .rejects(Object.assign(new Error('Stack with id gone does not exist'), { name: 'ValidationError' }));
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('Option: --stack', { timeout: 60_000 }, () => {
  it('status reads the ledger table and dashboard from the stack Outputs (--region, --output table)', async () => {
    // Act
    const result = await run([
      'status',
      '--stack',
      'wd',
      '--region',
      emulator.region,
      '--config',
      CONFIG,
      '--output',
      'table',
    ]);

    // Assess
    expect(result.code, result.err).toBe(0);
    expect(cfn.commandCalls(DescribeStacksCommand).map((c) => c.args[0].input)).toEqual([{ StackName: 'wd' }]);
    expect(result.out).toContain(
      `Watchdog: stack wd (Watchdog), ledger table ${ledger.tableName}, dashboard flink-watchdog-dashboard`,
    );
    expect(result.out).toMatch(/^orders-enrichment +RUNNING +3 +\S+ in 10 min +none +/m);
    expect(result.out).toMatch(/^payments-aggregation +RUNNING +1 +/m);
  });

  it('takes the global options before the command too, those after it winning', async () => {
    // Act
    const before = await run([
      '--region',
      emulator.region,
      '--stack',
      'wd',
      '--output',
      'json',
      'status',
      '--config',
      CONFIG,
    ]);
    const both = await run([
      '--region',
      'us-east-1',
      '--output',
      'table',
      'status',
      '--region',
      emulator.region,
      '--stack',
      'wd',
      '--output',
      'json',
      '--config',
      CONFIG,
    ]);

    // Assess
    expect(before.code, before.err).toBe(0);
    expect(both.code, both.err).toBe(0);
    for (const result of [before, both]) {
      const json = JSON.parse(result.out) as { applications: Array<{ applicationName: string; status: string }> };
      expect(json.applications.map((a) => [a.applicationName, a.status])).toEqual([
        ['orders-enrichment', 'RUNNING'],
        ['payments-aggregation', 'RUNNING'],
      ]);
    }
    expect(cfn.commandCalls(DescribeStacksCommand).map((c) => c.args[0].input)).toEqual([
      { StackName: 'wd' },
      { StackName: 'wd' },
    ]);
  });

  it('asks for --watchdog (exit 64, listing the prefixes) when the stack holds two, and uses the one named', async () => {
    // Act
    const ambiguous = await run(['history', '--stack', 'two', '--region', emulator.region]);
    const chosen = await run(['history', '--stack', 'two', '--watchdog', 'Blue', '--region', emulator.region]);

    // Assess
    expect(ambiguous.code).toBe(64);
    expect(ambiguous.err).toContain(
      'stack two holds 2 watchdogs (Watchdog, Blue): pass --watchdog PREFIX to choose one',
    );
    expect(chosen.code, chosen.err).toBe(0);
    expect(chosen.out).toContain(`No incidents in ledger table ${ledger.tableName}.`);
  });

  it('lets an explicit --table win over the stack Output', async () => {
    // Act
    const result = await run(['history', '--stack', 'wd', '--table', 'explicit-table', '--region', emulator.region]);

    // Assess
    expect(result.code).toBe(1);
    expect(result.err).toContain('ledger table explicit-table:');
  });

  it('says how to fix a stack without watchdog Outputs, and a stack that does not exist (exit 1)', async () => {
    // Act
    const old = await run(['history', '--stack', 'old', '--region', emulator.region]);
    const gone = await run(['history', '--stack', 'gone', '--region', emulator.region]);

    // Assess
    expect(old.code).toBe(1);
    expect(old.err).toContain('stack old has no flink-watchdog Outputs');
    expect(old.err).toContain('Upgrade it (cdk deploy with this version)');
    expect(gone.code).toBe(1);
    expect(gone.err).toContain('stack gone does not exist in this account and Region');
  });

  it('remediate --execute names the missing CommandTopicArn Output and the fix, before any MSF call', async () => {
    // Prepare
    const before = msfCalls();

    // Act
    const result = await run([
      'remediate',
      'orders-enrichment',
      '--action',
      'force-stop',
      '--execute',
      '--reason',
      'r',
      '--stack',
      'wd',
      '--region',
      emulator.region,
      '--config',
      CONFIG,
    ]);

    // Assess
    expect(result.code).toBe(1);
    expect(result.err).toContain(
      'stack wd has no Output WatchdogCommandTopicArn (the runbook command SNS topic): the watchdog has no command topic: add runbooks.publishers to its config and deploy it',
    );
    expect(msfCalls()).toBe(before);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
  });

  it('remediate --execute publishes to the stack topic, requested by the STS caller identity when not given', async () => {
    // Prepare: the mocked topic plays the watchdog: it force-stops the application, which is READY 5 minutes later.
    sns.on(PublishCommand).callsFake(async () => {
      await setupMsf.send(new StopApplicationCommand({ ApplicationName: 'payments-aggregation', Force: true }));
      clock.advance(5 * MINUTE);
      emulator.advanceTo(clock.now());
      return { MessageId: '00000000-0000-4000-8000-000000000001' };
    });
    const mutatingBefore = emulator.calls.filter((c) => MUTATING_MSF_OPERATIONS.has(c.operation)).length;

    // Act
    const result = await run([
      'remediate',
      'payments-aggregation',
      '--action',
      'force-stop',
      '--execute',
      '--reason',
      'stuck consumer',
      '--stack',
      'wd-runbooks',
      '--region',
      emulator.region,
      '--config',
      CONFIG,
      '--poll-seconds',
      '0.05',
      '--timeout-minutes',
      '1',
      '--output',
      'json',
    ]);

    // Assess
    expect(result.code, result.err).toBe(0);
    const [publish] = sns.commandCalls(PublishCommand);
    expect(publish?.args[0].input.TopicArn).toBe(TOPIC);
    const message = JSON.parse(publish?.args[0].input.Message ?? '{}') as { requestedBy?: string };
    expect(message.requestedBy).toMatch(/^arn:aws:iam::\d{12}:user\/\S+$/);
    const json = JSON.parse(result.out.slice(result.out.indexOf('{'))) as RemediateJson;
    expect(json.progress?.outcome).toBe('reached');
    // The one mutating call is the stand-in watchdog's.
    expect(emulator.calls.filter((c) => MUTATING_MSF_OPERATIONS.has(c.operation)).length).toBe(mutatingBefore + 1);
  });
});

describe('Option: --profile', { timeout: 60_000 }, () => {
  it('takes the credentials and the Region of a named profile of the shared config files', async () => {
    // Prepare: a profile whose access key id the emulator reads as a person of account 210987654321.
    const configFile = join(tmp, 'aws-config');
    const credentialsFile = join(tmp, 'aws-credentials');
    writeFileSync(configFile, `[profile wd-ops]\nregion = ${emulator.region}\n`);
    writeFileSync(credentialsFile, '[wd-ops]\naws_access_key_id = 210987654321\naws_secret_access_key = secret\n');
    const saved = {
      AWS_CONFIG_FILE: process.env.AWS_CONFIG_FILE,
      AWS_SHARED_CREDENTIALS_FILE: process.env.AWS_SHARED_CREDENTIALS_FILE,
    };
    process.env.AWS_CONFIG_FILE = configFile;
    process.env.AWS_SHARED_CREDENTIALS_FILE = credentialsFile;
    sns.on(PublishCommand).resolves({ MessageId: '00000000-0000-4000-8000-000000000002' });

    // Act: no --region, no AWS_REGION: the profile's region must be used.
    let result: Awaited<ReturnType<typeof run>>;
    try {
      result = await run([
        'remediate',
        'clickstream',
        '--action',
        'pause-automation',
        '--execute',
        '--reason',
        'maintenance window',
        '--topic',
        TOPIC,
        '--profile',
        'wd-ops',
        '--config',
        configWithClickstream,
      ]);
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }

    // Assess
    expect(result.code, result.out + result.err).toBe(0);
    const [publish] = sns.commandCalls(PublishCommand);
    const message = JSON.parse(publish?.args[0].input.Message ?? '{}') as { requestedBy?: string; command?: string };
    expect(message).toMatchObject({ command: 'pause-automation' });
    expect(message.requestedBy).toMatch(/^arn:aws:iam::210987654321:/);
  });
});

describe('Command: remediate --snapshot last-known-good', { timeout: 60_000 }, () => {
  it('resolves to the newest READY snapshot of the running version and shows the unchecked lock as not checked', async () => {
    // Act
    const args = [
      'remediate',
      'orders-enrichment',
      '--action',
      'restart-from-snapshot',
      '--snapshot',
      'last-known-good',
    ];
    const common = ['--region', emulator.region, '--config', CONFIG];
    const table = await run([...args, ...common]);
    const json = await run([...args, ...common, '--json']);

    // Assess
    expect(table.code, table.err).toBe(0);
    expect(table.out).toContain('note: last-known-good is snapshot good-1 (version 3');
    expect(table.out).toMatch(/\? lock-free +not checked here: no ledger table/);
    expect(table.out).not.toMatch(/✓ lock-free/);
    const plan = (JSON.parse(json.out) as RemediateJson).plan;
    expect(plan?.lastKnownGood).toMatchObject({ snapshotName: 'good-1', versionId: 3 });
    expect(plan?.guards.find((g) => g.name === 'lock-free')).toMatchObject({ passed: null, status: 'not checked' });
    expect(plan?.detail).toContain('snapshot good-1');
  });

  it('is refused with the reason (exit 2) when the running version has no READY snapshot', async () => {
    // Act
    const result = await run([
      'remediate',
      'clickstream',
      '--action',
      'restart-from-snapshot',
      '--snapshot',
      'last-known-good',
      '--region',
      emulator.region,
      '--config',
      configWithClickstream,
      '--output',
      'text',
    ]);

    // Assess
    expect(result.code, result.out + result.err).toBe(2);
    expect(result.out).toMatch(
      /^PLAN\trejected\tlast-known-good cannot be honoured: clickstream has no READY snapshot of its running version 2, so there is no last-known-good snapshot \(the latest READY snapshot, \S+, is of version 1: pass --snapshot latest or --snapshot \S+ to restore it\)/m,
    );
    expect(result.out).toMatch(/^GUARD\tsnapshot-exists\tfailed\t/m);
  });
});
