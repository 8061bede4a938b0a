import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_METRICS_DELAY_SECONDS } from '#sandbox/emulator/index.ts';

/** Runs `flink-watchdog sandbox ARGS` as a user would (node + tsx, the repository as working directory). */
function runSandbox(args: readonly string[]): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', 'tsx', 'cli/bin.ts', 'sandbox', ...args], {
    cwd: process.cwd(),
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
}

/** Collects stdout until `line` appears (resolves with everything printed so far) or the process exits. */
function waitForOutput(child: ChildProcessWithoutNullStreams, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (out.includes(line)) {
        child.stdout.off('data', onData);
        resolve(out);
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`sandbox exited with ${code} before printing "${line}":\n${out}`)));
  });
}

/** Resolves with the exit code and stderr once the process has exited. */
function exited(child: ChildProcessWithoutNullStreams): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.once('exit', (code) => resolve({ code, stderr }));
  });
}

const children: ChildProcessWithoutNullStreams[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGINT');
});

describe('Command: flink-watchdog sandbox', () => {
  it('starts paused with --speed 0, prints the endpoint, the environment and the clock, and stops on Ctrl-C', async () => {
    // Prepare
    const child = runSandbox(['--speed', '0', '--start', '2026-03-02T14:00:00Z', '--alarm-evaluation-offset', '10']);
    children.push(child);
    const done = exited(child);

    // Act
    const banner = await waitForOutput(child, 'Ctrl-C to stop.');
    const endpoint = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)?.[1];
    const first = await (await fetch(`${endpoint}/sandbox/clock`)).json();
    const second = await (await fetch(`${endpoint}/sandbox/clock`)).json();
    const advanced = await (
      await fetch(`${endpoint}/sandbox/clock`, { method: 'POST', body: '{"advanceSeconds": 60}' })
    ).json();
    child.kill('SIGINT');
    const { code } = await done;

    // Assess
    expect(endpoint).toBeDefined();
    // One variable per line, each line beginning with `export `, for `eval "$(... | grep ^export)"`.
    expect(banner).toContain(
      `\nexport AWS_ENDPOINT_URL=${endpoint}\nexport AWS_REGION=eu-west-1\nexport AWS_DEFAULT_REGION=eu-west-1\n`,
    );
    expect(banner).toContain(`\nexport FLINK_WATCHDOG_CLOCK_URL=${endpoint}/sandbox/clock\n`);
    expect(banner).not.toContain('LEDGER_TABLE_NAME');
    expect(banner).toContain('virtual time paused at 2026-03-02T14:00:00.000Z');
    expect(banner).toContain(
      `MSF metrics stored ${DEFAULT_METRICS_DELAY_SECONDS} s after each minute ends; alarms evaluated 10 s after each minute`,
    );
    expect(banner).toContain(`curl -X POST ${endpoint}/sandbox/clock -d '{"advanceSeconds": 60}'`);
    expect(first).toEqual({ now: '2026-03-02T14:00:00.000Z', speed: 0 });
    expect(second).toEqual(first);
    expect(advanced).toEqual({ now: '2026-03-02T14:01:00.000Z', speed: 0 });
    expect(code).toBe(0);
  });

  it('with --scenario runs the watchdog: prints the exports, replays the timeline as the clock is driven, and stops on Ctrl-C', async () => {
    // Prepare
    const child = runSandbox(['--scenario', 'bad-config-change', '--speed', '0', '--log-requests']);
    children.push(child);
    const done = exited(child);
    const banner = await waitForOutput(child, 'Ctrl-C to stop.');
    const exports = banner.split('\n').filter((l) => l.startsWith('export '));
    const env = Object.fromEntries(exports.map((l) => l.slice('export '.length).split(/=(.*)/s).slice(0, 2)));

    // Act
    const replayed = waitForOutput(child, 'sandbox POST /sandbox/clock → 200');
    const advanced = await fetch(env.FLINK_WATCHDOG_CLOCK_URL, {
      method: 'POST',
      body: '{"advanceSeconds": 600}',
    });
    const output = await replayed;
    child.kill('SIGINT');
    const { code } = await done;

    // Assess
    expect(Object.keys(env)).toEqual([
      'AWS_ENDPOINT_URL',
      'AWS_REGION',
      'AWS_DEFAULT_REGION',
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'LEDGER_TABLE_NAME',
      'COMMAND_TOPIC_ARN',
      'WATCHDOG_CONFIG_PATH',
      'FLINK_WATCHDOG_CLOCK_URL',
    ]);
    expect(env.FLINK_WATCHDOG_CLOCK_URL).toBe(`${env.AWS_ENDPOINT_URL}/sandbox/clock`);
    expect(advanced.status).toBe(200);
    expect(output).toMatch(/^T\+05:00 user +UpdateApplication orders-enrichment/m);
    expect(output).toMatch(/^T\+\d\d:\d\d call +RollbackApplication/m);
    expect(output).toMatch(/^\[2026-03-02T14:10:00\.000Z\] sandbox POST \/sandbox\/clock → 200$/m);
    expect(output).toMatch(/kinesisanalyticsv2 RollbackApplication → 200 \(watchdog\)$/m);
    expect(code).toBe(0);
  }, 60_000);

  it.each([
    [['--speed', '-1'], /--speed must be a number from 0 \(paused\) to 3600/],
    [['--speed', 'fast'], /--speed must be a number from 0 \(paused\) to 3600/],
    [['--start', '2026-03-02'], /--start must be an ISO-8601 date-time with a time zone/],
    [['--start', '2026-03-02T14:00:00Z', '--scenario', 'bad-config-change'], /--start cannot be combined/],
    [['--alarm-evaluation-offset', '60'], /--alarm-evaluation-offset must be a whole number of seconds from 0 to 59/],
    [['--metrics-delay', '1.5'], /--metrics-delay must be a whole number of seconds from 0 to 3600/],
    [
      ['--scenario', 'nope'],
      /unknown scenario "nope"; known scenarios: approval-granted, approval-timeout, autoscaling-not-drift, /,
    ],
    [['--scenario', 'bad-config-change', '--metrics-delay', '30'], /apply to --no-watchdog only/],
  ])('refuses %j with exit code 64 (usage) and says how to fix it', async (args, message) => {
    // Prepare
    const child = runSandbox(args);
    children.push(child);

    // Act
    const { code, stderr } = await exited(child);

    // Assess
    expect(code).toBe(64);
    expect(stderr).toMatch(message);
    expect(stderr).toMatch(/^error: /);
  });
});
