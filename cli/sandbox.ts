import { isSandboxSpeed, MAX_SANDBOX_SPEED, SandboxClock } from '#sandbox/clock.ts';
import { HOME_ACCOUNT_ID, memberRoles } from '#sandbox/drill.ts';
import {
  DEFAULT_ALARM_EVALUATION_OFFSET_SECONDS,
  DEFAULT_METRICS_DELAY_SECONDS,
  startEmulator,
} from '#sandbox/emulator/index.ts';
import { MAX_ADVANCE_SECONDS, SANDBOX_CLOCK_PATH } from '#sandbox/emulator/server.ts';
import type { ServedRequest } from '#sandbox/live.ts';
import type { Scenario } from '#sandbox/scenario.ts';
import { parseConfig } from '#shared/config/schema.ts';
import { UsageError } from './context.ts';
import { resolveScenario } from './drill.ts';

/** `--log-requests`: one line per API call served, `[time] service Operation → status[ ErrorType]`. */
function requestLine(atMs: number, service: string, operation: string, status: number, errorType?: string): string {
  return `[${new Date(atMs).toISOString()}] ${service} ${operation} → ${status}${errorType ? ` ${errorType}` : ''}`;
}

/** `T+mm:ss` since the scenario's start (minutes may exceed 59). */
function elapsed(atMs: number, startMs: number): string {
  const s = Math.max(0, Math.floor((atMs - startMs) / 1000));
  return `T+${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * The live sandbox: the scenario run by the whole watchdog (sandbox/live.ts) on one endpoint; prints the `export`
 * lines, then each timeline line as it happens, until Ctrl-C.
 */
async function liveSandbox(scenario: Scenario, speed: number, logRequests: boolean): Promise<number> {
  const { startLiveSandbox } = await import('#sandbox/live.ts');
  const startMs = Date.parse(scenario.startTime);
  // Lines of the sweep before the scenario come before the banner: held until it is printed.
  let held: string[] | undefined = [];
  const print = (text: string) => (held ? held.push(text) : console.log(text));
  const sandbox = await startLiveSandbox({
    scenario,
    speed,
    onLine: (l) => print(`${elapsed(l.atMs, startMs)} ${l.actor.padEnd(8)} ${l.text}`),
    ...(logRequests
      ? {
          onRequest: (r: ServedRequest) =>
            print(
              `${requestLine(r.atMs, r.service, r.operation, r.status, r.errorType)}${r.caller === 'watchdog' ? ' (watchdog)' : ''}`,
            ),
        }
      : {}),
    onRunbook: (out) => {
      if (out instanceof Error) print(`runbook handler failed: ${out.message}`);
      else if (out.status === 'REJECTED') print(`runbook event rejected: ${out.error ?? ''}`);
    },
  });
  const clockUrl = `${sandbox.endpoint}${SANDBOX_CLOCK_PATH}`;
  console.log(
    `Flink Watchdog sandbox (the watchdog on the MSF + CloudWatch emulator) listening on ${sandbox.endpoint}`,
  );
  console.log(`  scenario: ${scenario.name} (${scenario.applications.map((a) => a.name).join(', ')})`);
  console.log(
    `  virtual time ${speed === 0 ? 'paused' : `runs ${speed}x`} at ${new Date(sandbox.clock.now()).toISOString()}; region ${sandbox.region}, account ${sandbox.accountId}`,
  );
  console.log(
    `  console: ${sandbox.endpoint}/ (applications, charts, incidents, notifications; advance the clock, inject a failure, pause automation)`,
  );
  console.log('\nPoint flink-watchdog, the AWS CLI or any SDK at it:');
  for (const [name, value] of sandbox.environment) console.log(`export ${name}=${value}`);
  console.log('  flink-watchdog status; flink-watchdog history; aws kinesisanalyticsv2 list-applications');
  console.log(`\nDrive the virtual clock (advanceSeconds up to ${MAX_ADVANCE_SECONDS}; speed 0 pauses):`);
  console.log(`  curl -X POST ${clockUrl} -d '{"advanceSeconds": 60}'`);
  console.log('\nCtrl-C to stop.\n');
  for (const text of held) console.log(text);
  held = undefined;
  // Until Ctrl-C, or until the run fails (then the error, exit 1, as any command's unexpected error).
  try {
    await Promise.race([
      new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      }),
      sandbox.ended,
    ]);
  } catch (e) {
    await sandbox.stop().catch(() => {});
    throw e;
  }
  const stoppedAt = sandbox.clock.now();
  const report = await sandbox.stop();
  console.log(
    `\nStopped at ${elapsed(stoppedAt, startMs)}: ${report.incidents.length} incident(s)${report.incidents.map((i) => ` ${i.id} ${i.status}`).join(',')}`,
  );
  return 0;
}

/** Options of {@link sandboxCommand}, as commander gives them. */
export interface SandboxOptions {
  /** A scenario name or a path to a scenario .json file. @default an empty emulator */
  readonly scenario?: string;
  /** Virtual seconds per wall-clock second, from 0 (paused) to 3600, as typed on the command line. */
  readonly speed: string;
  /**
   * Virtual start time, ISO-8601 with a time zone (e.g. `2026-03-02T14:00:00Z`); not with `scenario`, whose own
   * `startTime` its minutes count from. @default the scenario's startTime, else the wall-clock now
   */
  readonly start?: string;
  /**
   * Seconds after a minute ends at which its MSF datapoints are stored, 0 to 3600, as typed.
   * @default the scenario's `cloudwatch.metricsDelaySeconds`, else DEFAULT_METRICS_DELAY_SECONDS
   */
  readonly metricsDelay?: string;
  /**
   * Seconds after each minute boundary at which alarms are evaluated, 0 to 59, as typed.
   * @default the scenario's `cloudwatch.alarmEvaluationOffsetSeconds`, else DEFAULT_ALARM_EVALUATION_OFFSET_SECONDS
   */
  readonly alarmEvaluationOffset?: string;
  /**
   * `--no-watchdog` (false): the emulator only, as before the live sandbox: no watchdog, ledger, topics or timeline.
   * @default true: with a scenario, the whole watchdog runs on it (sandbox/live.ts)
   */
  readonly watchdog?: boolean;
  /** `--log-requests`: print each API call served (service, operation, HTTP status). @default false */
  readonly logRequests?: boolean;
}

/** A whole number of seconds from 0 to `max` typed on the command line, or the message that says how to fix it. */
function wholeSeconds(option: string, raw: string, max: number): number | string {
  const value = raw.trim() === '' ? Number.NaN : Number(raw);
  return Number.isInteger(value) && value >= 0 && value <= max
    ? value
    : `${option} must be a whole number of seconds from 0 to ${max} (got "${raw}")`;
}

/** ISO-8601 date-time with seconds and a time zone (`Z` or `±hh:mm`), optional fraction. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * `flink-watchdog sandbox [--scenario NAME|FILE] [--speed N] [--no-watchdog] [--log-requests] [--start ISO-8601]
 * [--metrics-delay S] [--alarm-evaluation-offset S]`, in the foreground until Ctrl-C.
 *
 * With a scenario (and without `--no-watchdog`): the whole watchdog runs live on it (sandbox/live.ts: alarms, sweep
 * and reconciler schedules, detector, remediation workflow, ledger, topics, the scenario's timeline replayed), one
 * endpoint serves MSF, CloudWatch, STS, Tagging, the ledger's DynamoDB API and SNS Publish to the command topic, and
 * the `export NAME=VALUE` lines it prints (one per line) point every flink-watchdog command and the AWS CLI at it;
 * then each timeline line as it happens (`T+mm:ss actor text`), and a summary on Ctrl-C.
 * Otherwise the emulator only, with the environment for any AWS SDK or the AWS CLI.
 * Virtual time runs `speed` times faster than the wall clock; `--speed 0` starts it paused, to be driven with
 * `POST /sandbox/clock` on the endpoint. `--log-requests` prints each API call served (service, operation, status).
 * @returns the exit code: 0 after Ctrl-C.
 * @throws UsageError for an invalid option or an unknown scenario name (the message says which and how to fix it;
 *   the CLI prints `error: MESSAGE` and exits 64), before the emulator starts.
 */
export async function sandboxCommand(opts: SandboxOptions): Promise<number> {
  const speed = opts.speed.trim() === '' ? Number.NaN : Number(opts.speed);
  if (!isSandboxSpeed(speed)) {
    throw new UsageError(
      `--speed must be a number from 0 (paused) to ${MAX_SANDBOX_SPEED} virtual seconds per wall-clock second (got "${opts.speed}")`,
    );
  }
  if (opts.start !== undefined) {
    if (opts.scenario) {
      throw new UsageError('--start cannot be combined with --scenario: the scenario starts at its own startTime');
    }
    if (!ISO_DATE_TIME.test(opts.start) || Number.isNaN(Date.parse(opts.start))) {
      throw new UsageError(
        `--start must be an ISO-8601 date-time with a time zone, e.g. 2026-03-02T14:00:00Z (got "${opts.start}")`,
      );
    }
  }
  const timing: { metricsDelaySeconds?: number; alarmEvaluationOffsetSeconds?: number } = {};
  for (const [option, raw, max, key] of [
    ['--metrics-delay', opts.metricsDelay, 3600, 'metricsDelaySeconds'],
    ['--alarm-evaluation-offset', opts.alarmEvaluationOffset, 59, 'alarmEvaluationOffsetSeconds'],
  ] as const) {
    if (raw === undefined) continue;
    const seconds = wholeSeconds(option, raw, max);
    if (typeof seconds === 'string') {
      throw new UsageError(seconds);
    }
    timing[key] = seconds;
  }
  const scenario = opts.scenario ? resolveScenario(opts.scenario) : undefined;
  if (scenario && opts.watchdog !== false) {
    if (opts.metricsDelay !== undefined || opts.alarmEvaluationOffset !== undefined) {
      throw new UsageError(
        "--metrics-delay and --alarm-evaluation-offset apply to --no-watchdog only: with the watchdog, set the scenario's cloudwatch.metricsDelaySeconds and cloudwatch.alarmEvaluationOffsetSeconds",
      );
    }
    return liveSandbox(scenario, speed, opts.logRequests === true);
  }
  const start = scenario
    ? Date.parse(scenario.startTime)
    : opts.start !== undefined
      ? Date.parse(opts.start)
      : Date.now();
  const clock = new SandboxClock(start, speed);
  // A scenario's member accounts (their roles for STS AssumeRole) and request rates, as the drill gives them.
  const emulator = await startEmulator({
    clock,
    cloudwatch: timing,
    ...(scenario
      ? {
          world: scenario,
          roles: memberRoles(
            scenario,
            parseConfig(scenario.watchdog, `scenario ${scenario.name} (watchdog)`),
            HOME_ACCOUNT_ID,
          ),
          accountId: HOME_ACCOUNT_ID,
          ...(scenario.throttle ? { throttle: scenario.throttle } : {}),
        }
      : {}),
  });
  const metricsDelay =
    timing.metricsDelaySeconds ?? scenario?.cloudwatch.metricsDelaySeconds ?? DEFAULT_METRICS_DELAY_SECONDS;
  const evaluationOffset =
    timing.alarmEvaluationOffsetSeconds ??
    scenario?.cloudwatch.alarmEvaluationOffsetSeconds ??
    DEFAULT_ALARM_EVALUATION_OFFSET_SECONDS;
  let logged = 0;
  const tick = setInterval(() => {
    emulator.advanceTo(clock.now());
    if (!opts.logRequests) return;
    for (; logged < emulator.calls.length; logged++) {
      const c = emulator.calls[logged];
      if (c) console.log(requestLine(c.atMs, c.service, c.operation, c.errorType ? 400 : 200, c.errorType));
    }
  }, 250);
  emulator.onAlarmEvent((e) =>
    console.log(`[${e.time}] alarm ${e.detail.alarmName}: ${e.detail.previousState.value} → ${e.detail.state.value}`),
  );
  const clockUrl = `${emulator.endpoint}${SANDBOX_CLOCK_PATH}`;
  console.log(`Flink Watchdog sandbox (MSF + CloudWatch emulator) listening on ${emulator.endpoint}`);
  console.log(
    `  scenario: ${scenario ? `${scenario.name} (${scenario.applications.map((a) => a.name).join(', ')})` : 'none (empty: create applications with CreateApplication)'}`,
  );
  console.log(
    `  virtual time ${speed === 0 ? 'paused' : `runs ${speed}x`} at ${new Date(clock.now()).toISOString()}; region ${emulator.region}, account ${emulator.accountId}`,
  );
  console.log(
    `  MSF metrics stored ${metricsDelay} s after each minute ends; alarms evaluated ${evaluationOffset} s after each minute`,
  );
  console.log('\nPoint the AWS CLI or any SDK at it:');
  for (const [name, value] of [
    ['AWS_ENDPOINT_URL', emulator.endpoint],
    ['AWS_REGION', emulator.region],
    ['AWS_DEFAULT_REGION', emulator.region],
    ['AWS_ACCESS_KEY_ID', 'sandbox'],
    ['AWS_SECRET_ACCESS_KEY', 'sandbox'],
    ['FLINK_WATCHDOG_CLOCK_URL', clockUrl],
  ]) {
    console.log(`export ${name}=${value}`);
  }
  console.log('  aws kinesisanalyticsv2 list-applications');
  console.log(`\nDrive the virtual clock (advanceSeconds up to ${MAX_ADVANCE_SECONDS}; speed 0 pauses):`);
  console.log(`  curl ${clockUrl}`);
  console.log(`  curl -X POST ${clockUrl} -d '{"advanceSeconds": 60}'`);
  console.log('\nCtrl-C to stop.');
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  clearInterval(tick);
  await emulator.close();
  return 0;
}
