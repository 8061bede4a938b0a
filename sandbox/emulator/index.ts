import { CloudWatchEmulator } from '#sandbox/emulator/cloudwatch.ts';
import { EmulatorServiceError } from '#sandbox/emulator/errors.ts';
import type { OutageWindow } from '#sandbox/emulator/job.ts';
import { LogsEmulator } from '#sandbox/emulator/logs.ts';
import { type ApplicationInspection, MsfEmulator, type TransitionTimings } from '#sandbox/emulator/msf.ts';
import { type RecordedCall, startEmulatorServer } from '#sandbox/emulator/server.ts';
import { SsmEmulator } from '#sandbox/emulator/ssm.ts';
import { type Caller, type EmulatorRole, StsEmulator } from '#sandbox/emulator/sts.ts';
import { handleTagging } from '#sandbox/emulator/tagging.ts';
import { RequestThrottle, type ThrottleOptions } from '#sandbox/emulator/throttle.ts';
import type { ScenarioWorld } from '#sandbox/scenario.ts';
import type { Clock } from '#shared/clock.ts';
import type { AlarmStateChangeEvent } from '#shared/events/alarm-state-change.ts';

export {
  DEFAULT_ALARM_EVALUATION_OFFSET_SECONDS,
  DEFAULT_METRIC_HISTORY_MINUTES,
  DEFAULT_METRICS_DELAY_SECONDS,
  METRIC_SNAPSHOTS_PER_MINUTE,
} from '#sandbox/emulator/metric-publisher.ts';
export type { TransitionTimings } from '#sandbox/emulator/msf.ts';
export { AUTOSCALE_OPERATION, DEFAULT_TRANSITION_TIMINGS, MAINTENANCE_OPERATION } from '#sandbox/emulator/msf.ts';
export type { RecordedCall } from '#sandbox/emulator/server.ts';
export type { Caller, EmulatorRole } from '#sandbox/emulator/sts.ts';
export type { RateLimit, ThrottleOptions } from '#sandbox/emulator/throttle.ts';

/** Options of {@link startEmulator}. */
export interface EmulatorOptions {
  /**
   * Shared with the drill; the emulator reads it but never advances it, except when it is a DrivableClock
   * (sandbox/clock.ts, as in `flink-watchdog sandbox`): then clients drive it with `/sandbox/clock` (server.ts).
   */
  clock: Clock;
  /**
   * applications / jobModel / faults / startTime of a scenario. An application (and a fault) may carry an optional
   * `accountId` (12 digits): it lives in that account's world; without it, in the home account. Job model rules
   * match by application name in every account. @default an empty emulator
   */
  world?: ScenarioWorld;
  /** AWS region in ARNs and alarm events (one Region for every account). @default 'eu-west-1' */
  region?: string;
  /**
   * The HOME account: 12-digit account id of requests signed with any access key id that is neither 12 digits nor
   * issued by the emulator's STS ('drill', 'sandbox', AKIA...). @default '123456789012'
   */
  accountId?: string;
  /**
   * Roles the emulator's STS AssumeRole grants (the member stack's `FlinkWatchdogMember` role in each member account).
   * A role's account gets a world even when no application lives there. @default none: AssumeRole is AccessDenied
   */
  roles?: readonly EmulatorRole[];
  /**
   * Request-rate limits per account and service (token buckets on the virtual clock; see throttle.ts), answered with
   * each service's throttling error. @default {} (nothing is throttled)
   */
  throttle?: ThrottleOptions;
  /** Seconds per transient status (STARTING, UPDATING, STOPPING, FORCE_STOPPING, ROLLING_BACK, AUTOSCALING). */
  timings?: Partial<TransitionTimings>;
  /**
   * CloudWatch timing, whole seconds; each field overrides the scenario's `cloudwatch` setting.
   * `metricsDelaySeconds`: a minute's MSF datapoints are stored this long after the minute ends
   * (@default DEFAULT_METRICS_DELAY_SECONDS). `alarmEvaluationOffsetSeconds` (0–59): alarms are evaluated this long
   * after each minute boundary (@default DEFAULT_ALARM_EVALUATION_OFFSET_SECONDS). `metricHistoryMinutes` (0–1440):
   * minutes of datapoints stored at start for the applications running then (@default DEFAULT_METRIC_HISTORY_MINUTES).
   */
  cloudwatch?: { metricsDelaySeconds?: number; alarmEvaluationOffsetSeconds?: number; metricHistoryMinutes?: number };
}

/** The world of one AWS account: its MSF applications and its CloudWatch metrics and alarms. */
interface AccountWorld {
  readonly accountId: string;
  readonly msf: MsfEmulator;
  readonly cloudwatch: CloudWatchEmulator;
  /** CloudWatch Logs: the applications' log streams (a job's failures are written there). */
  readonly logs: LogsEmulator;
}

/** Read-only view of one application (see {@link Emulator.inspect}). */
export type { ApplicationInspection } from '#sandbox/emulator/msf.ts';

/** A running local MSF + CloudWatch + CloudWatch Logs + Tagging API + STS emulator, one world per AWS account. */
export interface Emulator {
  /** Base URL for SDK v3 clients (`endpoint` option or AWS_ENDPOINT_URL), e.g. `http://127.0.0.1:41234`. */
  readonly endpoint: string;
  readonly region: string;
  /** The home account (see {@link EmulatorOptions.accountId}). */
  readonly accountId: string;
  /** Every API request in arrival order, with the account it was answered in and its error (throttling included). */
  readonly calls: readonly RecordedCall[];
  /** The CloudWatch half of the HOME account: metric store, alarms, alarm evaluation. */
  readonly cloudwatch: CloudWatchEmulator;
  /** CloudWatch Logs of the HOME account: the log groups of its applications (sandbox/emulator/logs.ts). */
  readonly logs: LogsEmulator;
  /** Accounts that have a world now, home first (the world's accounts, the roles' accounts, and any account called). */
  accounts(): string[];
  /**
   * The CloudWatch half of `accountId` (created empty if the account has no world yet).
   * @throws RangeError when `accountId` is not 12 digits.
   */
  cloudwatchOf(accountId: string): CloudWatchEmulator;
  /**
   * Processes every account's world up to `epochMs`, second by second across accounts (transient statuses end,
   * jobs fail/restart/checkpoint, metrics stored when due, alarms evaluated at each minute boundary + the evaluation
   * offset). Idempotent; never goes backwards.
   */
  advanceTo(epochMs: number): void;
  /** Subscribes to "CloudWatch Alarm State Change" events of every account; returns the unsubscribe function. */
  onAlarmEvent(listener: (e: AlarmStateChangeEvent) => void): () => void;
  /**
   * Read-only view for the drill and tests: current status, version id, job state, restart and failed-checkpoint
   * counts of an application in `accountId` (@default the home account) — as of the last advanceTo or API request
   * (inspect itself does not advance the world). undefined when the application (or the account's world) does not
   * exist.
   */
  inspect(
    applicationName: string,
    accountId?: string,
  ):
    | { status: string; versionId: number; jobRunning: boolean; restarts: number; failedCheckpoints: number }
    | undefined;
  /**
   * Adds an outage fault to an application of `accountId` (@default home) while the world runs (MsfEmulator.addOutage):
   * its job fails and restarts from `window.fromMs` (epoch ms) until `window.toMs`. false when it does not exist.
   */
  addOutage(applicationName: string, window: OutageWindow, accountId?: string): boolean;
  /** The tags of an application in `accountId` (@default home), key → value; undefined when it does not exist. */
  tagsOf(applicationName: string, accountId?: string): Record<string, string> | undefined;
  /** Stops the HTTP server. */
  close(): Promise<void>;
}

const ACCOUNT_ID = /^\d{12}$/;

/** The optional `accountId` of a scenario item (an application or a fault), read defensively. */
function accountOf(item: unknown, home: string): string {
  const value = (item as { accountId?: unknown }).accountId;
  return typeof value === 'string' && value !== '' ? value : home;
}

/** MSF operations a role limited by `msfMutateOnlyTag` may call only on applications carrying the tag. */
const MUTATING_MSF_OPERATIONS: ReadonlySet<string> = new Set([
  'StartApplication',
  'StopApplication',
  'UpdateApplication',
  'RollbackApplication',
  'CreateApplicationSnapshot',
]);

/**
 * Starts the emulator: one world per account (MSF state seeded from the `world` applications of that account,
 * CloudWatch), STS with `roles`, the Tagging API, and an HTTP server on 127.0.0.1 (free port) that calls
 * `advanceTo(clock.now())` at the start of every request and answers it in the caller's account. Alarm events
 * produced at an alarm evaluation (each minute boundary + the evaluation offset) are delivered synchronously, in
 * order, to the listeners registered with `onAlarmEvent`.
 * @throws RangeError when a CloudWatch timing setting, a throttle limit, a role or an application's accountId is
 *   invalid; Error when the scenario world is inconsistent (an application defined twice in one account) or the server
 *   cannot listen.
 */
export async function startEmulator(opts: EmulatorOptions): Promise<Emulator> {
  const region = opts.region ?? 'eu-west-1';
  const home = opts.accountId ?? '123456789012';
  const { clock } = opts;
  const listeners: { readonly fn: (e: AlarmStateChangeEvent) => void }[] = [];
  const emit = (event: AlarmStateChangeEvent) => {
    for (const listener of [...listeners]) listener.fn(event);
  };
  const sts = new StsEmulator({ clock, homeAccountId: home, ...(opts.roles ? { roles: opts.roles } : {}) });
  const throttle = new RequestThrottle(clock, opts.throttle ?? {});
  const world = opts.world;
  for (const app of world?.applications ?? []) {
    const account = accountOf(app, home);
    if (!ACCOUNT_ID.test(account)) {
      throw new RangeError(`applications[].accountId of ${app.name} must be a 12-digit account id (got ${account})`);
    }
  }

  const worlds = new Map<string, AccountWorld>();
  const createWorld = (accountId: string): AccountWorld => {
    // SetAlarmState's event goes to the listeners at once, as CloudWatch puts it on the bus when the state changes.
    const cloudwatch = new CloudWatchEmulator({ clock, region, accountId, onAlarmEvent: emit });
    const logs = new LogsEmulator({
      clock,
      region,
      accountId,
      ...(world?.cloudwatchLogs ? { queryRunningPolls: world.cloudwatchLogs.queryRunningPolls } : {}),
    });
    const accountWorld: ScenarioWorld | undefined = world
      ? {
          ...world,
          applications: world.applications.filter((a) => accountOf(a, home) === accountId),
          faults: world.faults.filter((f) => {
            const faultAccount = (f as { accountId?: unknown }).accountId;
            return typeof faultAccount !== 'string' || faultAccount === accountId;
          }),
        }
      : undefined;
    const msf = new MsfEmulator({
      clock,
      region,
      accountId,
      ...(accountWorld ? { world: accountWorld } : {}),
      ...(opts.timings ? { timings: opts.timings } : {}),
      ...(opts.cloudwatch?.metricsDelaySeconds === undefined
        ? {}
        : { metricsDelaySeconds: opts.cloudwatch.metricsDelaySeconds }),
      ...(opts.cloudwatch?.alarmEvaluationOffsetSeconds === undefined
        ? {}
        : { alarmEvaluationOffsetSeconds: opts.cloudwatch.alarmEvaluationOffsetSeconds }),
      ...(opts.cloudwatch?.metricHistoryMinutes === undefined
        ? {}
        : { metricHistoryMinutes: opts.cloudwatch.metricHistoryMinutes }),
      metrics: cloudwatch,
      logs,
      onAlarmEvaluation: (atMs) => {
        for (const event of cloudwatch.evaluateAlarms(atMs)) emit(event);
      },
    });
    const created = { accountId, msf, cloudwatch, logs };
    worlds.set(accountId, created);
    return created;
  };
  const worldOf = (accountId: string): AccountWorld => worlds.get(accountId) ?? createWorld(accountId);
  worldOf(home);
  for (const app of world?.applications ?? []) worldOf(accountOf(app, home));
  for (const account of sts.roleAccounts()) worldOf(account);

  /** Last instant (whole second, epoch ms) every world has been brought to. */
  let cursorMs = Math.floor(clock.now() / 1000) * 1000;
  const advanceTo = (epochMs: number): void => {
    const target = Math.floor(epochMs / 1000) * 1000;
    if (worlds.size === 1) {
      worldOf(home).msf.advanceTo(target);
    } else {
      // Second by second across accounts, so alarm events of different accounts come out in time order.
      for (let t = cursorMs + 1000; t <= target; t += 1000) {
        for (const w of worlds.values()) w.msf.advanceTo(t);
      }
    }
    cursorMs = Math.max(cursorMs, target);
  };

  /**
   * The member role's permissions policy allows the mutating MSF actions only with the condition
   * `aws:ResourceTag/<key> = <value>` ("Use the aws:ResourceTag condition key to compare the tag key-value pair that's
   * specified in the policy with the key-value pair that's attached to the resource",
   * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourcetag).
   * An application without the tag (or one that does not exist, which carries no tag) is refused with
   * AccessDeniedException, a common error of the Kinesis Analytics V2 API (HTTP 400,
   * https://docs.aws.amazon.com/managed-flink/latest/apiv2/CommonErrors.html), worded as IAM words an implicit deny.
   */
  const checkMsfPermission = (operation: string, input: unknown, caller: Caller, msf: MsfEmulator): void => {
    const limit = caller.role?.permissions?.msfMutateOnlyTag;
    if (!limit || !MUTATING_MSF_OPERATIONS.has(operation)) return;
    const name = (input as { ApplicationName?: unknown } | null)?.ApplicationName;
    const tags = typeof name === 'string' ? msf.tagsOf(name) : undefined;
    if (tags?.get(limit.key) === limit.value) return;
    const resource = `arn:aws:kinesisanalytics:${region}:${caller.accountId}:application/${String(name)}`;
    throw new EmulatorServiceError(
      'AccessDeniedException',
      `User: ${caller.arn} is not authorized to perform: kinesisanalytics:${operation} on resource: ${resource} because no identity-based policy allows the kinesisanalytics:${operation} action`,
    );
  };

  const startMs = world ? Date.parse(world.startTime) : clock.now();
  const ssm = new SsmEmulator({
    clock,
    region,
    accountId: home,
    calendars: (world?.changeCalendars ?? []).map((c) => ({
      name: c.name,
      closed: c.closed.map((w) => ({ fromMs: startMs + w.fromMinute * 60_000, toMs: startMs + w.toMinute * 60_000 })),
    })),
  });
  const noCalendars = new SsmEmulator({ clock, region, accountId: home });

  const calls: RecordedCall[] = [];
  const server = await startEmulatorServer({
    clock,
    advance: () => advanceTo(clock.now()),
    callerOf: (accessKeyId) => sts.callerOf(accessKeyId),
    admit: (caller, service) => throttle.admit(caller.accountId, service),
    kinesisAnalytics: (operation, input, caller) => {
      const { msf } = worldOf(caller.accountId);
      checkMsfPermission(operation, input, caller, msf);
      return msf.handle(operation, input);
    },
    cloudWatch: (operation, input, caller) => worldOf(caller.accountId).cloudwatch.handle(operation, input),
    logs: (operation, input, caller) => worldOf(caller.accountId).logs.handle(operation, input),
    // The scenario's change calendars live in the home account; another account has none (InvalidDocument).
    ssm: (operation, input, caller) => (caller.accountId === home ? ssm : noCalendars).handle(operation, input),
    tagging: (operation, input, caller) =>
      handleTagging(operation, input, worldOf(caller.accountId).msf.taggableResources()),
    sts: (params, caller, requestId) => sts.handle(params, caller, requestId),
    record: (call) => calls.push(call),
  });

  const existingWorld = (accountId: string | undefined): AccountWorld | undefined => worlds.get(accountId ?? home);

  return {
    endpoint: server.endpoint,
    region,
    accountId: home,
    calls,
    cloudwatch: worldOf(home).cloudwatch,
    logs: worldOf(home).logs,
    accounts: () => [...worlds.keys()],
    cloudwatchOf(accountId) {
      if (!ACCOUNT_ID.test(accountId)) {
        throw new RangeError(`cloudwatchOf: accountId must be a 12-digit account id (got ${accountId})`);
      }
      return worldOf(accountId).cloudwatch;
    },
    advanceTo,
    onAlarmEvent(fn) {
      const entry = { fn };
      listeners.push(entry);
      return () => {
        const index = listeners.indexOf(entry);
        if (index >= 0) listeners.splice(index, 1);
      };
    },
    inspect: (applicationName, accountId): ApplicationInspection | undefined =>
      existingWorld(accountId)?.msf.inspect(applicationName),
    addOutage: (applicationName, window, accountId) =>
      existingWorld(accountId)?.msf.addOutage(applicationName, window) ?? false,
    tagsOf: (applicationName, accountId) => {
      const tags = existingWorld(accountId)?.msf.tagsOf(applicationName);
      return tags ? Object.fromEntries(tags) : undefined;
    },
    close: () => server.close(),
  };
}
