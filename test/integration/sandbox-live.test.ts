import { spawn } from 'node:child_process';
import {
  DescribeApplicationCommand,
  KinesisAnalyticsV2Client,
  UpdateApplicationCommand,
} from '@aws-sdk/client-kinesis-analytics-v2';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveScenario } from '#cli/drill.ts';
import type { TimelineLine } from '#sandbox/drill.ts';
import { type LiveSandbox, type ServedRequest, startLiveSandbox } from '#sandbox/live.ts';

/** Runs `flink-watchdog ARGS` as a user would in a shell with the sandbox's exports (node + tsx, from the repository). */
function cli(args: readonly string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/bin.ts', ...args], {
      cwd: process.cwd(),
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', NO_COLOR: '1', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve({ code, stdout }) : reject(new Error(`exit ${code}: ${stderr}`)),
    );
  });
}

/** POSTs the sandbox clock forward `minutes` virtual minutes, in steps of `stepMinutes`. @returns its last answer */
async function advance(clockUrl: string, minutes: number, stepMinutes = 10): Promise<{ now: string; speed: number }> {
  let last = { now: '', speed: -1 };
  for (let done = 0; done < minutes; done += stepMinutes) {
    const answer = await fetch(clockUrl, {
      method: 'POST',
      body: JSON.stringify({ advanceSeconds: Math.min(stepMinutes, minutes - done) * 60 }),
    });
    expect(answer.status).toBe(200);
    last = (await answer.json()) as typeof last;
  }
  return last;
}

let sandbox: LiveSandbox | undefined;

afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
});

describe('Function: startLiveSandbox', () => {
  it('runs bad-config-change live: after 40 virtual minutes driven through the clock endpoint, history shows the incident RESOLVED', async () => {
    // Prepare
    const lines: TimelineLine[] = [];
    const served: ServedRequest[] = [];
    sandbox = await startLiveSandbox({
      scenario: resolveScenario('bad-config-change'),
      speed: 0,
      onLine: (l) => lines.push(l),
      onRequest: (r) => served.push(r),
    });
    const env = Object.fromEntries(sandbox.environment);
    const clockUrl = env.FLINK_WATCHDOG_CLOCK_URL ?? '';

    // Act
    const paused = await (await fetch(clockUrl)).json();
    const before = await cli(['history', '--output', 'json'], env);
    const after = await advance(clockUrl, 40);
    const history = await cli(['history', '--output', 'json'], env);
    const timeline = await (await fetch(`${sandbox.endpoint}/sandbox/timeline`)).json();

    // Assess
    expect(Object.keys(env)).toEqual(
      expect.arrayContaining([
        'AWS_ENDPOINT_URL',
        'AWS_REGION',
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
        'LEDGER_TABLE_NAME',
        'COMMAND_TOPIC_ARN',
        'WATCHDOG_CONFIG_PATH',
        'FLINK_WATCHDOG_CLOCK_URL',
      ]),
    );
    expect(env.AWS_ENDPOINT_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(paused).toEqual({ now: '2026-03-02T14:00:00.000Z', speed: 0 });
    expect(JSON.parse(before.stdout).incidents).toEqual([]);
    expect(after).toEqual({ now: '2026-03-02T14:40:00.000Z', speed: 0 });
    const incidents = JSON.parse(history.stdout).incidents as Array<{ applicationName: string; status: string }>;
    expect(incidents).toHaveLength(1);
    expect(incidents[0]).toMatchObject({ applicationName: 'orders-enrichment', status: 'RESOLVED' });
    // The scenario's timeline replayed (the bad update at minute 5) and the watchdog's rollback, in virtual time.
    const at = (actor: string, text: string) => lines.find((l) => l.actor === actor && l.text.includes(text))?.atMs;
    expect(at('user', 'UpdateApplication orders-enrichment')).toBe(Date.parse('2026-03-02T14:05:00Z'));
    expect(at('call', 'RollbackApplication')).toBeGreaterThan(Date.parse('2026-03-02T14:05:00Z'));
    expect(timeline).toEqual({ now: '2026-03-02T14:40:00.000Z', speed: 0, lines });
    // The CLI's ledger reads were served by the same endpoint (DynamoDB), and reported as requests.
    expect(served).toContainEqual(
      expect.objectContaining({ caller: 'client', service: 'dynamodb', operation: 'Scan', status: 200 }),
    );
  }, 120_000);

  it('at --speed 60, an UpdateApplication sent by a person (as the AWS CLI sends it) to a missing stream ends in a rollback', async () => {
    // Prepare: the scenario's world without its timeline: nobody but the test changes anything.
    const lines: TimelineLine[] = [];
    let rollbackCalled: (l: TimelineLine) => void = () => {};
    const rolledBack = new Promise<TimelineLine>((resolve) => {
      rollbackCalled = resolve;
    });
    sandbox = await startLiveSandbox({
      scenario: { ...resolveScenario('bad-config-change'), timeline: [] },
      speed: 60,
      onLine: (l) => {
        lines.push(l);
        if (l.actor === 'call' && l.text.startsWith('RollbackApplication')) rollbackCalled(l);
      },
    });
    const msf = new KinesisAnalyticsV2Client({
      endpoint: sandbox.endpoint,
      region: sandbox.region,
      credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
    });

    // Act
    const { ApplicationDetail } = await msf.send(
      new DescribeApplicationCommand({ ApplicationName: 'orders-enrichment' }),
    );
    await msf.send(
      new UpdateApplicationCommand({
        ApplicationName: 'orders-enrichment',
        ConditionalToken: ApplicationDetail?.ConditionalToken,
        ApplicationConfigurationUpdate: {
          EnvironmentPropertyUpdates: {
            PropertyGroups: [
              {
                PropertyGroupId: 'FlinkApplicationProperties',
                PropertyMap: { 'input.stream.name': 'orders-v2', 'output.stream.name': 'orders-enriched' },
              },
            ],
          },
        },
      }),
    );
    msf.destroy();
    const rollback = await rolledBack;

    // Assess
    expect(rollback.text).toContain('"ApplicationName":"orders-enrichment"');
    expect(lines.some((l) => l.actor === 'user')).toBe(false);
    const decided = lines.find((l) => l.actor === 'decide');
    expect(decided?.text).toMatch(/orders-enrichment: REMEDIATING .*roll back to version/);
  }, 120_000);

  it('counts restarts in virtual time: status shows the restart loop at T+9 min, as CloudWatch holds it', async () => {
    // Prepare
    sandbox = await startLiveSandbox({ scenario: resolveScenario('bad-config-change'), speed: 0 });
    const env = Object.fromEntries(sandbox.environment);

    // Act
    await advance(env.FLINK_WATCHDOG_CLOCK_URL ?? '', 9, 9);
    const status = await cli(['status', '--output', 'json'], env);

    // Assess
    const [app] = JSON.parse(status.stdout).applications;
    expect(app).toMatchObject({ applicationName: 'orders-enrichment', status: 'RUNNING', applicationVersion: 7 });
    expect(app.restarts.count).toBeGreaterThanOrEqual(3);
  }, 120_000);

  it('delivers a runbook command published to the command topic to the runbook handler, and refuses other topics', async () => {
    // Prepare
    const lines: TimelineLine[] = [];
    sandbox = await startLiveSandbox({
      scenario: resolveScenario('bad-config-change'),
      speed: 0,
      onLine: (l) => lines.push(l),
    });
    const env = Object.fromEntries(sandbox.environment);
    const sns = new SNSClient({
      endpoint: sandbox.endpoint,
      region: sandbox.region,
      credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
      maxAttempts: 1,
    });
    const command = (topicArn: string) =>
      new PublishCommand({
        TopicArn: topicArn,
        Message: JSON.stringify({
          command: 'pause-automation',
          application: 'orders-enrichment',
          reason: 'rehearsal',
          requestedBy: 'test',
          dryRun: false,
        }),
        MessageAttributes: {
          command: { DataType: 'String', StringValue: 'pause-automation' },
          application: { DataType: 'String', StringValue: 'orders-enrichment' },
        },
      });

    // Act
    const published = await sns.send(command(sandbox.commandTopicArn));
    const refused = await sns.send(command(`${sandbox.commandTopicArn}-other`)).catch((e: Error) => e);
    await sandbox.caughtUp();
    await advance(env.FLINK_WATCHDOG_CLOCK_URL ?? '', 1, 1);
    // What a person types: the CLI publishes to COMMAND_TOPIC_ARN on the endpoint and waits for the watchdog's answer.
    const resumed = await cli(
      ['remediate', 'orders-enrichment', '--action', 'resume-automation', '--reason', 'rehearsal', '--execute'],
      env,
    );
    const history = await cli(['history', '--output', 'json'], env);
    sns.destroy();

    // Assess
    expect(published.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(refused).toBeInstanceOf(Error);
    // SNS's NotFound query error (HTTP 404), as the SDK names it.
    expect((refused as Error).name).toBe('NotFoundException');
    expect(lines.map((l) => `${l.actor} ${l.text}`)).toContainEqual(
      expect.stringMatching(/^runbook pause-automation orders-enrichment: DONE/),
    );
    expect(resumed.stdout).toContain(`Published resume-automation for orders-enrichment to ${sandbox.commandTopicArn}`);
    expect(lines.map((l) => `${l.actor} ${l.text}`)).toContainEqual(
      expect.stringMatching(/^runbook resume-automation orders-enrichment: DONE/),
    );
    const incidents = JSON.parse(history.stdout).incidents as Array<{ trigger: { source: string }; status: string }>;
    expect(incidents.filter((i) => i.trigger.source === 'runbook').map((i) => i.status)).toEqual([
      'RESOLVED',
      'RESOLVED',
    ]);
  }, 120_000);
});
