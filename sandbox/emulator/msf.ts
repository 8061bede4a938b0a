import { createHash } from 'node:crypto';
import { EmulatorServiceError } from '#sandbox/emulator/errors.ts';
import {
  checkpointIntervalMs,
  FlinkJob,
  type JobRuleSubject,
  type OutageWindow,
  type RunningBehaviour,
  resolveJobBehaviour,
  resolveRestartStrategy,
} from '#sandbox/emulator/job.ts';
import type { ApplicationLogSink } from '#sandbox/emulator/logs.ts';
import {
  DEFAULT_ALARM_EVALUATION_OFFSET_SECONDS,
  DEFAULT_METRIC_HISTORY_MINUTES,
  isSnapshotInstant,
  MetricPublisher,
  type MetricSink,
  type PublicationFaults,
} from '#sandbox/emulator/metric-publisher.ts';
import {
  type AppConfig,
  applyUpdate,
  asObj,
  cloneConfig,
  invalidArgument,
  type Obj,
  optArray,
  optBool,
  optNum,
  optStr,
  parseCreateConfig,
  parseRestoreType,
  reqStr,
} from '#sandbox/emulator/msf-config.ts';
import type { JobBehaviour, JobRule, RestartStrategy, ScenarioApplication, ScenarioWorld } from '#sandbox/scenario.ts';
import type { Clock } from '#shared/clock.ts';

/**
 * The Managed Service for Apache Flink half of the emulator: application state and the Kinesis Analytics V2
 * operations (awsJson1_1, target prefix `KinesisAnalytics_20180523`), with shapes, enum values and exception names
 * taken from the API model (`@aws-sdk/client-kinesis-analytics-v2` models, API reference "Actions" pages).
 *
 * Time is virtual: the emulator never reads the wall clock, and only moves when {@link MsfEmulator.advanceTo} is
 * called (the HTTP server calls it with `clock.now()` at the start of every request). Inside, a fixed 1-second step
 * ends transient statuses, runs the Flink jobs (see job.ts), samples the AWS/KinesisAnalytics metrics four times a
 * minute and stores them with the publication delay (see metric-publisher.ts), and asks for alarm evaluation a few
 * seconds after each minute boundary.
 */

export type { MetricDatapoint, MetricSink } from '#sandbox/emulator/metric-publisher.ts';
export type { ApplicationRestoreType } from '#sandbox/emulator/msf-config.ts';

/**
 * `Operation` of MSF's own maintenance in ListApplicationOperations. The developer guide says maintenance shows there
 * ("You can find out if Managed Service for Apache Flink has performed a maintenance action on your application using
 * the ListApplicationOperations API", https://docs.aws.amazon.com/managed-flink/latest/java/maintenance.html) but no
 * page found shows the string; the API model types Operation as a free string (1–64 characters). Assumption:
 * `Maintenance`, after the MAINTENANCE ApplicationStatus.
 */
export const MAINTENANCE_OPERATION = 'Maintenance';

/**
 * `Operation` of an autoscaling event in ListApplicationOperations. System rollback covers "an action such as
 * UpdateApplication or autoscaling" (https://docs.aws.amazon.com/managed-flink/latest/java/how-system-rollbacks.html)
 * and the operations list shows "all customer and system operations"
 * (https://docs.aws.amazon.com/managed-flink/latest/java/troubleshooting-system-rollback.html); the string itself is
 * not documented. Assumption: `Autoscaling`, after the AUTOSCALING ApplicationStatus.
 */
export const AUTOSCALE_OPERATION = 'Autoscaling';

/** `ApplicationStatus` values (API model enum). READY and RUNNING are steady, the rest transient. */
export type ApplicationStatus =
  | 'DELETING'
  | 'STARTING'
  | 'STOPPING'
  | 'READY'
  | 'RUNNING'
  | 'UPDATING'
  | 'AUTOSCALING'
  | 'FORCE_STOPPING'
  | 'ROLLING_BACK'
  | 'MAINTENANCE'
  | 'ROLLED_BACK';

/** `OperationStatus` values (API model enum). */
export type OperationStatus = 'IN_PROGRESS' | 'CANCELLED' | 'SUCCESSFUL' | 'FAILED';

/** `SnapshotStatus` values (API model enum). */
export type SnapshotStatus = 'CREATING' | 'READY' | 'DELETING' | 'FAILED';

/** How long (virtual seconds) each transient status lasts before the operation completes. */
export interface TransitionTimings {
  /** StartApplication: READY → STARTING → RUNNING. @default 60 */
  readonly STARTING: number;
  /** UpdateApplication of a RUNNING application: RUNNING → UPDATING → RUNNING. @default 90 */
  readonly UPDATING: number;
  /** StopApplication (snapshot taken): RUNNING → STOPPING → READY. @default 30 */
  readonly STOPPING: number;
  /** StopApplication with Force=true: → FORCE_STOPPING → READY. @default 15 */
  readonly FORCE_STOPPING: number;
  /** RollbackApplication or system rollback: → ROLLING_BACK → RUNNING. @default 90 */
  readonly ROLLING_BACK: number;
  /** Not used: a scenario's `autoscale` fault gives its own duration. @default 60 */
  readonly AUTOSCALING: number;
}

/** Default {@link TransitionTimings}, seconds. */
export const DEFAULT_TRANSITION_TIMINGS: TransitionTimings = {
  STARTING: 60,
  UPDATING: 90,
  STOPPING: 30,
  FORCE_STOPPING: 15,
  ROLLING_BACK: 90,
  AUTOSCALING: 60,
};

/** UpdateApplication of a READY application only changes configuration: UPDATING lasts at most this long (s). */
const UPDATE_WHEN_READY_MAX_SECONDS = 10;
/** A snapshot stays CREATING for this long (s), or until the transition that took it ends, whichever is first. */
const SNAPSHOT_CREATING_SECONDS = 10;
const STEP_MS = 1000;
const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

/** Construction parameters of {@link MsfEmulator}. */
export interface MsfEmulatorOptions {
  /** Shared virtual clock; the emulator reads it for API call times but never advances it. */
  readonly clock: Clock;
  readonly region: string;
  readonly accountId: string;
  /** Applications, job model, faults and start time of a scenario. @default an empty world */
  readonly world?: ScenarioWorld;
  /** Seconds per transient status. @default DEFAULT_TRANSITION_TIMINGS */
  readonly timings?: Partial<TransitionTimings>;
  /** Receives the AWS/KinesisAnalytics metrics. @default metrics are dropped */
  readonly metrics?: MetricSink;
  /**
   * Whole seconds after a minute ends at which its datapoints reach `metrics`.
   * @default world.cloudwatch.metricsDelaySeconds, else DEFAULT_METRICS_DELAY_SECONDS
   */
  readonly metricsDelaySeconds?: number;
  /**
   * Whole seconds (0–59) after each minute boundary at which `onAlarmEvaluation` is called.
   * @default world.cloudwatch.alarmEvaluationOffsetSeconds, else DEFAULT_ALARM_EVALUATION_OFFSET_SECONDS
   */
  readonly alarmEvaluationOffsetSeconds?: number;
  /**
   * Minutes of metric history stored at start for the applications RUNNING when the scenario starts (0–1440).
   * @default world.cloudwatch.metricHistoryMinutes, else DEFAULT_METRIC_HISTORY_MINUTES
   */
  readonly metricHistoryMinutes?: number;
  /**
   * Called at each minute boundary + the alarm evaluation offset (epoch ms), after the datapoints due by then are
   * stored: the time to evaluate alarms.
   */
  readonly onAlarmEvaluation?: (atMs: number) => void;
  /**
   * The account's CloudWatch Logs: every scenario application gets a logging option to a log stream there, and a
   * job's failures are written to the application's log streams (see {@link MsfEmulator}). @default no logs
   */
  readonly logs?: ApplicationLogSink;
}

/**
 * The log stream MSF's console creates for an application ("Set up application logging",
 * https://docs.aws.amazon.com/managed-flink/latest/java/cloudwatch-logs.html): log group
 * `/aws/kinesis-analytics/NAME`, log stream `kinesis-analytics-log-stream`. Every scenario application logs there
 * (assumption: applications are usually created with the console's default logging option).
 */
export const DEFAULT_LOG_STREAM_NAME = 'kinesis-analytics-log-stream';

/**
 * Frames the job model writes under a failure's exception: the Flink runtime frames every task failure runs through
 * (StreamTask → Task → Thread). Assumption: the scenario gives only the exception line, a real trace also has the
 * application's and the connector's frames; line numbers are left out rather than invented.
 */
export const FAILURE_FRAMES: readonly string[] = [
  '\tat org.apache.flink.streaming.runtime.tasks.StreamTask.invoke(StreamTask.java)',
  '\tat org.apache.flink.runtime.taskmanager.Task.doRun(Task.java)',
  '\tat org.apache.flink.runtime.taskmanager.Task.run(Task.java)',
  '\tat java.base/java.lang.Thread.run(Thread.java)',
];

/** Read-only view of one application for the drill and tests. */
export interface ApplicationInspection {
  /** ApplicationStatus. */
  readonly status: string;
  /** ApplicationVersionId. */
  readonly versionId: number;
  /** A job is submitted and currently RUNNING in Flink terms (not restarting). */
  readonly jobRunning: boolean;
  /** Restarts since the current job was submitted (0 when no job). */
  readonly restarts: number;
  /** Failed checkpoints since the current job was submitted (`numberOfFailedCheckpoints`; 0 when no job). */
  readonly failedCheckpoints: number;
}

interface VersionRecord {
  readonly versionId: number;
  readonly config: AppConfig;
  readonly createdAtMs: number;
  readonly updatedFrom?: number;
  readonly rolledBackFrom?: number;
  readonly rolledBackTo?: number;
  readonly conditionalToken: string;
  /** Last ApplicationStatus seen while this version was current (ListApplicationVersions). */
  lastStatus: ApplicationStatus;
  /** The application was RUNNING at some time while this version was current (a rollback target). */
  wasRunning: boolean;
}

interface SnapshotRecord {
  readonly name: string;
  status: SnapshotStatus;
  readonly versionId: number;
  readonly createdAtMs: number;
  readonly runtimeEnvironment: string;
  /** While CREATING: when it becomes READY. */
  readyAtMs?: number;
}

interface OperationRecord {
  readonly id: string;
  readonly seq: number;
  readonly operation: string;
  status: OperationStatus;
  readonly startMs: number;
  endMs?: number;
  change?: { from: number; to: number };
  failure?: { rollbackOperationId?: string; error?: string };
}

type PendingKind = 'start' | 'update' | 'stop' | 'force-stop' | 'rollback' | 'autoscale' | 'maintenance';

interface Pending {
  readonly kind: PendingKind;
  readonly operationId: string;
  /** Epoch ms at which the transient status ends; +Infinity while the operation hangs. */
  endsAtMs: number;
  /** For `update`: the application was RUNNING (a job is redeployed); from READY only configuration changes. */
  readonly fromRunning?: boolean;
  /** FlinkRunConfiguration.AllowNonRestoredState sent on the call that submits the job. */
  readonly allowNonRestoredState: boolean;
  /** For `autoscale`: the scaling fails with this error. */
  readonly failsWith?: string;
}

/** A system event of the scenario (autoscaling, maintenance), not yet begun. */
type SystemEvent =
  | {
      readonly kind: 'autoscale';
      readonly atMs: number;
      readonly toParallelism: number;
      readonly durationMs: number;
      readonly failsWith?: string;
    }
  | { readonly kind: 'maintenance'; readonly atMs: number; readonly durationMs: number };

interface AppState {
  readonly name: string;
  readonly arn: string;
  /**
   * CloudWatchLoggingOptions' LogStreamARNs. Assumption: kept per application, not per version (a logging option
   * change makes a new application version in MSF; the watchdog reads only the current one).
   */
  logStreamArns: string[];
  readonly createdAtMs: number;
  lastUpdateMs: number;
  status: ApplicationStatus;
  versionId: number;
  readonly versions: Map<number, VersionRecord>;
  readonly tags: Map<string, string>;
  /** The application has carried a tag at some time (the Tagging API's GetResources still lists it). */
  everTagged: boolean;
  readonly snapshots: SnapshotRecord[];
  readonly operations: OperationRecord[];
  /** The scenario's restart strategy; its type may be left to the runtime's default (resolved at each submission). */
  readonly restartStrategy: RestartStrategy | undefined;
  /** The scenario's outage faults, and those added since ({@link MsfEmulator.addOutage}); jobs read it as it grows. */
  readonly outages: OutageWindow[];
  readonly publicationFaults: PublicationFaults;
  job?: FlinkJob;
  pending?: Pending;
  seq: number;
  /** CurrentParallelism set by autoscaling; undefined: the declared Parallelism. */
  currentParallelism?: number;
  /** Autoscaling and maintenance events of the scenario not yet begun, in time order. */
  readonly systemEvents: SystemEvent[];
}

/** Epoch ms → epoch seconds, the awsJson timestamp format. */
function seconds(ms: number): number {
  return ms / 1000;
}

function hash(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** Exact message AWS documents for a snapshot that cannot be taken (troubleshooting-symptoms.md, see below). */
function snapshotDowntimeMessage(name: string): string {
  return (
    `Failed to take snapshot for the application ${name} at this moment. The application is currently experiencing ` +
    "downtime. Please check the application's CloudWatch metrics or CloudWatch logs for any possible errors and retry " +
    'the request. You can also retry the request after disabling the snapshots in the Kinesis Data Analytics console ' +
    'or by updating the ApplicationSnapshotConfiguration through the AWS SDK'
  );
}

/**
 * In-memory Managed Service for Apache Flink. {@link handle} runs one operation; {@link advanceTo} moves the world.
 * Not safe for use without advancing: the HTTP server calls `advanceTo(clock.now())` before every request.
 */
export class MsfEmulator {
  readonly region: string;
  readonly accountId: string;
  readonly #clock: Clock;
  readonly #timings: TransitionTimings;
  readonly #rules: readonly JobRule[];
  readonly #faults: ScenarioWorld['faults'];
  readonly #startMs: number;
  readonly #publisher: MetricPublisher | undefined;
  readonly #alarmOffsetMs: number;
  readonly #onAlarmEvaluation: ((atMs: number) => void) | undefined;
  readonly #apps = new Map<string, AppState>();
  readonly #logs: ApplicationLogSink | undefined;
  /** Last simulated instant (a whole second), epoch ms. */
  #cursorMs: number;

  constructor(opts: MsfEmulatorOptions) {
    this.region = opts.region;
    this.accountId = opts.accountId;
    this.#clock = opts.clock;
    this.#logs = opts.logs;
    this.#timings = { ...DEFAULT_TRANSITION_TIMINGS, ...opts.timings };
    this.#rules = opts.world?.jobModel ?? [];
    this.#faults = opts.world?.faults ?? [];
    const delaySeconds = opts.metricsDelaySeconds ?? opts.world?.cloudwatch?.metricsDelaySeconds;
    this.#publisher = opts.metrics
      ? new MetricPublisher({ sink: opts.metrics, ...(delaySeconds === undefined ? {} : { delaySeconds }) })
      : undefined;
    const offsetSeconds =
      opts.alarmEvaluationOffsetSeconds ??
      opts.world?.cloudwatch?.alarmEvaluationOffsetSeconds ??
      DEFAULT_ALARM_EVALUATION_OFFSET_SECONDS;
    if (!Number.isInteger(offsetSeconds) || offsetSeconds < 0 || offsetSeconds > 59) {
      throw new RangeError(
        `alarmEvaluationOffsetSeconds must be a whole number of seconds from 0 to 59 (got ${offsetSeconds})`,
      );
    }
    this.#alarmOffsetMs = offsetSeconds * 1000;
    this.#onAlarmEvaluation = opts.onAlarmEvaluation;
    const now = opts.clock.now();
    this.#startMs = opts.world ? Date.parse(opts.world.startTime) : now;
    this.#cursorMs = Math.floor(now / STEP_MS) * STEP_MS;
    for (const app of opts.world?.applications ?? []) this.#seedApplication(app);
    const historyMinutes =
      opts.metricHistoryMinutes ?? opts.world?.cloudwatch?.metricHistoryMinutes ?? DEFAULT_METRIC_HISTORY_MINUTES;
    if (!Number.isInteger(historyMinutes) || historyMinutes < 0 || historyMinutes > 1440) {
      throw new RangeError(
        `metricHistoryMinutes must be a whole number of minutes from 0 to 1440 (got ${historyMinutes})`,
      );
    }
    this.#publishHistory(this.#cursorMs, historyMinutes);
  }

  /**
   * Processes the world up to `epochMs` in 1-second steps: transient statuses end, snapshots become READY, jobs fail,
   * restart and checkpoint, metrics are sampled and stored when due, and `onAlarmEvaluation` is called at each minute
   * boundary + the evaluation offset. Idempotent; never goes backwards.
   */
  advanceTo(epochMs: number): void {
    const target = Math.floor(epochMs / STEP_MS) * STEP_MS;
    while (this.#cursorMs < target) {
      this.#cursorMs += STEP_MS;
      this.#step(this.#cursorMs);
    }
  }

  /**
   * Adds an outage fault (a scenario's `outage`, sandbox/scenario.ts) to an application while the world runs: its job,
   * running or later submitted, fails and restarts while the window is active, as for the scenario's own outages.
   * @returns false when the application does not exist
   */
  addOutage(applicationName: string, window: OutageWindow): boolean {
    const app = this.#apps.get(applicationName);
    if (!app) return false;
    app.outages.push(window);
    return true;
  }

  /**
   * Current status, version, job state and restart count of an application, as of the last {@link advanceTo} (or API
   * request); does not advance the world itself. undefined if the application does not exist.
   */
  inspect(applicationName: string): ApplicationInspection | undefined {
    const app = this.#apps.get(applicationName);
    if (!app) return undefined;
    const job = app.job?.status();
    return {
      status: app.status,
      versionId: app.versionId,
      jobRunning: job?.running ?? false,
      restarts: job?.restarts ?? 0,
      failedCheckpoints: job?.failedCheckpoints ?? 0,
    };
  }

  /**
   * The tags of an application (key → value), undefined if the application does not exist. A copy: changing it
   * changes nothing.
   */
  tagsOf(applicationName: string): Map<string, string> | undefined {
    const app = this.#apps.get(applicationName);
    return app ? new Map(app.tags) : undefined;
  }

  /**
   * Every application as the Resource Groups Tagging API sees it: ARN, current tags (copies) and whether it ever
   * carried a tag; in creation order.
   */
  taggableResources(): { arn: string; tags: Map<string, string>; everTagged: boolean }[] {
    return [...this.#apps.values()].map((app) => ({
      arn: app.arn,
      tags: new Map(app.tags),
      everTagged: app.everTagged,
    }));
  }

  /**
   * Runs one Kinesis Analytics V2 operation (the part after `KinesisAnalytics_20180523.` in X-Amz-Target) on the
   * decoded JSON input and returns the JSON output object (timestamps as epoch seconds).
   * @throws EmulatorServiceError with the API model's exception name: ResourceNotFoundException, ResourceInUseException,
   *   ConcurrentModificationException, InvalidArgumentException, InvalidRequestException,
   *   InvalidApplicationConfigurationException, UnknownOperationException.
   */
  handle(operation: string, input: unknown): unknown {
    const now = this.#clock.now();
    this.advanceTo(now);
    const body = asObj(input, 'request body');
    switch (operation) {
      case 'CreateApplication':
        return this.#createApplication(body, now);
      case 'ListApplications':
        return this.#listApplications(body);
      case 'DescribeApplication':
        return { ApplicationDetail: this.#detail(this.#app(body)) };
      case 'StartApplication':
        return this.#startApplication(body, now);
      case 'StopApplication':
        return this.#stopApplication(body, now);
      case 'UpdateApplication':
        return this.#updateApplication(body, now);
      case 'RollbackApplication':
        return this.#rollbackApplication(body, now);
      case 'ListApplicationVersions':
        return this.#listApplicationVersions(body);
      case 'DescribeApplicationVersion':
        return this.#describeApplicationVersion(body);
      case 'ListApplicationOperations':
        return this.#listApplicationOperations(body);
      case 'DescribeApplicationOperation':
        return this.#describeApplicationOperation(body);
      case 'ListApplicationSnapshots':
        return this.#listApplicationSnapshots(body);
      case 'CreateApplicationSnapshot':
        return this.#createApplicationSnapshot(body, now);
      case 'DescribeApplicationSnapshot':
        return this.#describeApplicationSnapshot(body);
      case 'TagResource':
        return this.#tagResource(body);
      case 'UntagResource':
        return this.#untagResource(body);
      case 'ListTagsForResource':
        return { Tags: [...this.#appByArn(body).tags].map(([Key, Value]) => ({ Key, Value })) };
      default:
        throw new EmulatorServiceError('UnknownOperationException', `Operation ${operation} is not supported`);
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // World: seeding and simulation
  // ---------------------------------------------------------------------------------------------------------------

  #seedApplication(spec: ScenarioApplication): void {
    if (this.#apps.has(spec.name)) throw new Error(`scenario defines application ${spec.name} twice`);
    const n = spec.initialVersion;
    const currentCreatedMs = this.#startMs - spec.versionAgeMinutes * MINUTE_MS;
    const versionCreatedMs = (k: number) => currentCreatedMs - (n - k) * DAY_MS;
    const config: AppConfig = {
      runtimeEnvironment: spec.runtimeEnvironment,
      serviceExecutionRole: `arn:aws:iam::${this.accountId}:role/${spec.name}-msf-role`,
      codeContentType: 'ZIPFILE',
      code: {
        bucketArn: `arn:aws:s3:::${spec.code.bucket}`,
        fileKey: spec.code.fileKey,
        ...(spec.code.objectVersion === undefined ? {} : { objectVersion: spec.code.objectVersion }),
      },
      propertyGroups: structuredClone(spec.environmentProperties),
      parallelism: {
        configurationType: 'CUSTOM',
        parallelism: spec.parallelism,
        parallelismPerKPU: spec.parallelismPerKPU,
        autoScalingEnabled: spec.autoScalingEnabled,
      },
      monitoring: { configurationType: 'DEFAULT', metricsLevel: 'APPLICATION', logLevel: 'INFO' },
      checkpoint: { ...spec.checkpointConfiguration },
      snapshotsEnabled: spec.snapshotsEnabled,
      systemRollbackEnabled: spec.systemRollbackEnabled,
      restore: { type: 'RESTORE_FROM_LATEST_SNAPSHOT' },
      allowNonRestoredState: false,
    };
    const app = this.#newApp(spec.name, versionCreatedMs(1), spec.restartStrategy);
    const logGroup = `/aws/kinesis-analytics/${spec.name}`;
    app.logStreamArns.push(this.#logStreamArn(logGroup, DEFAULT_LOG_STREAM_NAME));
    this.#logs?.ensureStream(logGroup, DEFAULT_LOG_STREAM_NAME);
    for (const [key, value] of Object.entries(spec.tags)) app.tags.set(key, value);
    app.everTagged = app.tags.size > 0;
    for (let k = 1; k <= n; k++) {
      this.#putVersion(app, {
        versionId: k,
        config: cloneConfig(config),
        createdAtMs: versionCreatedMs(k),
        ...(k > 1 ? { updatedFrom: k - 1 } : {}),
        lastStatus: k < n ? 'RUNNING' : spec.initialStatus,
        wasRunning: true,
      });
    }
    app.versionId = n;
    app.lastUpdateMs = currentCreatedMs;
    app.status = spec.initialStatus;

    // A healthy-looking history: started once, updated to each version, snapshots of the previous and current version.
    this.#seedOperation(app, 'StartApplication', versionCreatedMs(1), this.#timings.STARTING, 1, 1);
    for (let k = 2; k <= n; k++) {
      this.#seedOperation(app, 'UpdateApplication', versionCreatedMs(k), this.#timings.UPDATING, k - 1, k);
    }
    const currentSnapshotMs = currentCreatedMs + Math.floor((spec.versionAgeMinutes * MINUTE_MS) / 2);
    if (spec.snapshotsEnabled) {
      if (n > 1) this.#seedSnapshot(app, n - 1, currentCreatedMs, spec.runtimeEnvironment);
      this.#seedSnapshot(app, n, currentSnapshotMs, spec.runtimeEnvironment);
    }
    if (spec.initialStatus === 'READY') {
      this.#seedOperation(app, 'StopApplication', currentSnapshotMs, this.#timings.STOPPING, n, n);
    } else {
      const { behaviour } = resolveJobBehaviour(this.#rules, this.#subject(app, config));
      // An initially RUNNING application is running a job; a version that could not have been submitted runs healthy.
      app.job = this.#newJob(app, config, currentCreatedMs, behaviour);
    }
    this.#apps.set(spec.name, app);
  }

  /**
   * The metric history of the applications that are RUNNING when the scenario starts: their jobs have been running
   * since their version was created, so CloudWatch already holds their datapoints. Samples the seeded jobs over the
   * `minutes` before `nowMs` (not before a job's submission); what is due by `nowMs` is stored now, the rest when due.
   * Without it every alarm would start on an empty store, which no real application has.
   */
  #publishHistory(nowMs: number, minutes: number): void {
    const publisher = this.#publisher;
    if (!publisher || minutes === 0) return;
    const fromMs = Math.floor((nowMs - minutes * MINUTE_MS) / MINUTE_MS) * MINUTE_MS;
    // From the first snapshot of the first minute (the one at `fromMs` belongs to the minute before).
    for (let t = fromMs + STEP_MS; t <= nowMs; t += STEP_MS) {
      if (!isSnapshotInstant(t)) continue;
      for (const app of this.#apps.values()) {
        const job = app.job;
        if (!job || t <= job.submittedAtMs) continue;
        job.advanceTo(t);
        publisher.sample(app.name, this.#config(app).runtimeEnvironment, job.status(), t, app.publicationFaults);
      }
    }
    publisher.flush(nowMs);
  }

  #seedOperation(app: AppState, operation: string, startMs: number, durationS: number, from: number, to: number): void {
    const op = this.#newOperation(app, operation, startMs, { from, to });
    op.status = 'SUCCESSFUL';
    op.endMs = startMs + durationS * 1000;
  }

  #seedSnapshot(app: AppState, versionId: number, atMs: number, runtimeEnvironment: string): void {
    app.snapshots.push({
      name: this.#snapshotName(app, versionId, atMs),
      status: 'READY',
      versionId,
      createdAtMs: atMs,
      runtimeEnvironment,
    });
  }

  /**
   * A job for `config` submitted at `atMs` (a new FlinkJob: counters from 0), with the restart strategy for the
   * config's runtime and its checkpoint interval. Behaviours that end at submission run as healthy (seeding only).
   */
  #newJob(app: AppState, config: AppConfig, atMs: number, behaviour: JobBehaviour): FlinkJob {
    const running: RunningBehaviour =
      behaviour.kind === 'crash-loop'
        ? { kind: 'crash-loop', failAfterSeconds: behaviour.failAfterSeconds, error: behaviour.error }
        : behaviour.kind === 'checkpoint-failing'
          ? { kind: 'checkpoint-failing', error: behaviour.error }
          : { kind: 'healthy' };
    const intervalMs = checkpointIntervalMs(config.checkpoint);
    return new FlinkJob({
      submittedAtMs: atMs,
      behaviour: running,
      restartStrategy: resolveRestartStrategy(config.runtimeEnvironment, app.restartStrategy),
      outages: app.outages,
      ...(intervalMs === undefined ? {} : { checkpointIntervalMs: intervalMs }),
      onFailure: (failedAtMs, error) => this.#logFailure(app, failedAtMs, error, 'RESTARTING'),
    });
  }

  /** `arn:aws:logs:REGION:ACCOUNT:log-group:GROUP:log-stream:STREAM` in this account. */
  #logStreamArn(group: string, stream: string): string {
    return `arn:aws:logs:${this.region}:${this.accountId}:log-group:${group}:log-stream:${stream}`;
  }

  /**
   * Writes a job failure to the application's log streams as MSF's JSON log record (fields of "Write custom messages
   * to CloudWatch Logs", https://docs.aws.amazon.com/managed-flink/latest/java/cloudwatch-logs-writing.html:
   * locationInformation, logger, message, threadName, applicationARN, applicationVersionId, messageSchemaVersion,
   * messageType). The message is the one Flink's ExecutionGraph logs at INFO on a job status change ("Job NAME (ID)
   * switched from state RUNNING to RESTARTING."). Assumption: `throwableInformation` holds the stack trace as an array
   * of lines (the exception line, then {@link FAILURE_FRAMES}); AWS documents no record with a throwable.
   */
  #logFailure(app: AppState, atMs: number, error: string, to: 'RESTARTING' | 'FAILED'): void {
    if (!this.#logs) return;
    const jobId = hash(`${app.name}/${app.versionId}`, 32);
    const record = JSON.stringify({
      locationInformation: 'org.apache.flink.runtime.executiongraph.DefaultExecutionGraph.transitionState',
      logger: 'org.apache.flink.runtime.executiongraph.ExecutionGraph',
      message: `Job ${app.name} (${jobId}) switched from state RUNNING to ${to}.`,
      throwableInformation: [error, ...FAILURE_FRAMES],
      threadName: 'flink-pekko.actor.default-dispatcher-5',
      applicationARN: app.arn,
      applicationVersionId: String(app.versionId),
      messageSchemaVersion: '1',
      messageType: 'INFO',
    });
    for (const arn of app.logStreamArns) {
      const m = /:log-group:([^:]+):log-stream:(.+)$/.exec(arn);
      if (m?.[1] && m[2]) this.#logs.put(m[1], m[2], atMs, record);
    }
  }

  #newApp(name: string, createdAtMs: number, restartStrategy: RestartStrategy | undefined): AppState {
    const at = (minute: number) => this.#startMs + minute * MINUTE_MS;
    const outages: OutageWindow[] = [];
    const publicationFaults: {
      delayed: PublicationFaults['delayed'][number][];
      missing: PublicationFaults['missing'][number][];
    } = {
      delayed: [],
      missing: [],
    };
    const systemEvents: SystemEvent[] = [];
    for (const fault of this.#faults) {
      if (fault.application !== name) continue;
      switch (fault.kind) {
        case 'outage':
          outages.push({
            fromMs: at(fault.fromMinute),
            ...(fault.toMinute === undefined ? {} : { toMs: at(fault.toMinute) }),
            error: fault.error,
          });
          break;
        case 'metrics-delayed':
          publicationFaults.delayed.push({
            fromMs: at(fault.fromMinute),
            ...(fault.toMinute === undefined ? {} : { toMs: at(fault.toMinute) }),
            extraDelayMs: fault.extraDelaySeconds * 1000,
          });
          break;
        case 'metrics-missing':
          publicationFaults.missing.push({
            fromMs: at(fault.fromMinute),
            ...(fault.toMinute === undefined ? {} : { toMs: at(fault.toMinute) }),
            ...(fault.metrics === undefined ? {} : { metricNames: fault.metrics }),
          });
          break;
        case 'autoscale':
          systemEvents.push({
            kind: 'autoscale',
            atMs: at(fault.atMinute),
            toParallelism: fault.toParallelism,
            durationMs: fault.durationSeconds * 1000,
            ...(fault.fails ? { failsWith: fault.error } : {}),
          });
          break;
        case 'maintenance':
          systemEvents.push({
            kind: 'maintenance',
            atMs: at(fault.atMinute),
            durationMs: fault.durationSeconds * 1000,
          });
          break;
      }
    }
    systemEvents.sort((a, b) => a.atMs - b.atMs);
    return {
      name,
      arn: `arn:aws:kinesisanalytics:${this.region}:${this.accountId}:application/${name}`,
      logStreamArns: [],
      createdAtMs,
      lastUpdateMs: createdAtMs,
      status: 'READY',
      versionId: 1,
      versions: new Map(),
      tags: new Map(),
      everTagged: false,
      snapshots: [],
      operations: [],
      restartStrategy,
      outages,
      publicationFaults,
      seq: 0,
      systemEvents,
    };
  }

  #step(t: number): void {
    for (const app of this.#apps.values()) {
      for (const snapshot of app.snapshots) {
        if (snapshot.status === 'CREATING' && snapshot.readyAtMs !== undefined && snapshot.readyAtMs <= t) {
          snapshot.status = 'READY';
          delete snapshot.readyAtMs;
        }
      }
      // A completed transition may start another one (a failed update starts a system rollback).
      for (let guard = 0; app.pending && app.pending.endsAtMs <= t && guard < 4; guard++) {
        this.#completeTransition(app, app.pending);
      }
      this.#beginSystemEvents(app, t);
      app.job?.advanceTo(t);
    }
    const publisher = this.#publisher;
    if (publisher) {
      if (isSnapshotInstant(t)) {
        for (const app of this.#apps.values()) {
          if (!app.job) continue;
          const runtime = this.#config(app).runtimeEnvironment;
          publisher.sample(app.name, runtime, app.job.status(), t, app.publicationFaults);
        }
      }
      publisher.flush(t);
    }
    if (t % MINUTE_MS === this.#alarmOffsetMs) this.#onAlarmEvaluation?.(t);
  }

  /**
   * Starts the scenario's autoscaling and maintenance events that are due. Each applies only to a RUNNING application
   * with a job and no operation in progress, and is skipped otherwise (assumption: MSF does not scale or patch an
   * application in another status).
   * - autoscale: RUNNING → AUTOSCALING (an `Autoscaling` operation) → RUNNING with the new CurrentParallelism.
   * - maintenance: RUNNING → MAINTENANCE (a `Maintenance` operation) → RUNNING; the job is restarted once and is down
   *   for the whole maintenance ("a downtime of 10 to 30 seconds",
   *   https://docs.aws.amazon.com/managed-flink/latest/java/maintenance.html).
   */
  #beginSystemEvents(app: AppState, t: number): void {
    for (let next = app.systemEvents[0]; next && next.atMs <= t; next = app.systemEvents[0]) {
      app.systemEvents.shift();
      if (app.status !== 'RUNNING' || app.pending || !app.job) continue;
      if (next.kind === 'autoscale') {
        const op = this.#newOperation(app, AUTOSCALE_OPERATION, t);
        this.#setStatus(app, 'AUTOSCALING');
        app.currentParallelism = next.toParallelism;
        app.pending = {
          kind: 'autoscale',
          operationId: op.id,
          endsAtMs: t + next.durationMs,
          allowNonRestoredState: false,
          ...(next.failsWith === undefined ? {} : { failsWith: next.failsWith }),
        };
      } else {
        const op = this.#newOperation(app, MAINTENANCE_OPERATION, t);
        this.#setStatus(app, 'MAINTENANCE');
        app.job.restartNow(t, next.durationMs, 'Restarted by Managed Service for Apache Flink maintenance');
        app.pending = {
          kind: 'maintenance',
          operationId: op.id,
          endsAtMs: t + next.durationMs,
          allowNonRestoredState: false,
        };
      }
    }
  }

  #completeTransition(app: AppState, pending: Pending): void {
    const t = pending.endsAtMs;
    const op = this.#operation(app, pending.operationId);
    switch (pending.kind) {
      case 'maintenance': {
        op.status = 'SUCCESSFUL';
        op.endMs = t;
        app.pending = undefined;
        this.#setStatus(app, 'RUNNING');
        return;
      }
      case 'autoscale': {
        if (pending.failsWith === undefined) {
          op.status = 'SUCCESSFUL';
          op.endMs = t;
          app.pending = undefined;
          this.#setStatus(app, 'RUNNING');
          return;
        }
        // "If your application update or scaling operation fails ..., Amazon Managed Service for Apache Flink
        // automatically attempts to roll back to the previous running version if you have opted in ... If this
        // autorollback fails or you have not opted in ..., your application will be placed into the READY state"
        // (https://docs.aws.amazon.com/managed-flink/latest/java/troubleshooting-system-rollback.html). The version
        // that was running is the current one: scaling does not create a version in the emulator.
        op.failure = { error: pending.failsWith };
        app.job = undefined;
        delete app.currentParallelism;
        if (this.#config(app).systemRollbackEnabled && this.#beginSystemRollback(app, op, t, app.versionId)) {
          op.status = 'FAILED';
          op.endMs = t;
          return;
        }
        this.#finish(app, op, 'FAILED', t, 'READY');
        return;
      }
      case 'force-stop':
      case 'stop': {
        app.job = undefined;
        this.#finish(app, op, 'SUCCESSFUL', t, 'READY');
        return;
      }
      case 'update': {
        if (!pending.fromRunning) {
          this.#finish(app, op, 'SUCCESSFUL', t, 'READY');
          return;
        }
        // The old job was stopped with a snapshot; the new version's job is submitted now.
        app.job = undefined;
        const config = this.#config(app);
        const restoreFrom = config.snapshotsEnabled ? this.#restoreSnapshot(app, config.restore) : undefined;
        const outcome = this.#submit(app, t, restoreFrom, pending.allowNonRestoredState);
        if (outcome.kind === 'hangs') {
          pending.endsAtMs = Number.POSITIVE_INFINITY;
          return;
        }
        if (outcome.kind === 'running') {
          this.#finish(app, op, 'SUCCESSFUL', t, 'RUNNING');
          return;
        }
        op.failure = { error: outcome.error };
        const target = this.#previousRunningVersion(app);
        if (config.systemRollbackEnabled && target !== undefined && this.#beginSystemRollback(app, op, t, target)) {
          op.status = 'FAILED';
          op.endMs = t;
          return;
        }
        this.#finish(app, op, 'FAILED', t, 'READY');
        return;
      }
      case 'start': {
        const config = this.#config(app);
        const outcome = this.#submit(app, t, this.#restoreSnapshot(app, config.restore), pending.allowNonRestoredState);
        if (outcome.kind === 'hangs') {
          pending.endsAtMs = Number.POSITIVE_INFINITY;
          return;
        }
        if (outcome.kind === 'running') {
          this.#finish(app, op, 'SUCCESSFUL', t, 'RUNNING');
          return;
        }
        // System rollback reverts failed update/scale operations only; a failed start leaves the application READY.
        op.failure = { error: outcome.error };
        this.#finish(app, op, 'FAILED', t, 'READY');
        return;
      }
      case 'rollback': {
        // RollbackApplication restores from the last successful snapshot (API reference, RollbackApplication).
        const outcome = this.#submit(app, t, this.#latestReadySnapshot(app), false);
        if (outcome.kind === 'hangs') {
          pending.endsAtMs = Number.POSITIVE_INFINITY;
          return;
        }
        if (outcome.kind === 'running') {
          this.#finish(app, op, 'SUCCESSFUL', t, 'RUNNING');
          return;
        }
        // "If the automatic rollback also fails, ... transitions the application to the READY status" (how-system-rollbacks).
        op.failure = { error: outcome.error };
        this.#finish(app, op, 'FAILED', t, 'READY');
        return;
      }
    }
  }

  /**
   * A failed UpdateApplication or autoscaling with RollbackEnabled: MSF "automatically initiates a RollbackApplication
   * operation" to "the previous version that ran successfully" (developer guide, how-system-rollbacks,
   * https://docs.aws.amazon.com/managed-flink/latest/java/how-system-rollbacks.html), restoring its state. Returns
   * false when there is no snapshot to restore from.
   */
  #beginSystemRollback(app: AppState, failed: OperationRecord, t: number, target: number): boolean {
    const from = app.versionId;
    if (!this.#latestReadySnapshot(app)) return false;
    const rollback = this.#newOperation(app, 'RollbackApplication', t);
    failed.failure = { ...failed.failure, rollbackOperationId: rollback.id };
    const to = this.#createRolledBackVersion(app, target, t);
    rollback.change = { from, to };
    this.#setStatus(app, 'ROLLING_BACK');
    app.pending = {
      kind: 'rollback',
      operationId: rollback.id,
      endsAtMs: t + this.#timings.ROLLING_BACK * 1000,
      allowNonRestoredState: false,
    };
    return true;
  }

  /**
   * The version RollbackApplication goes back to: "Reverts the application to the previous running version" (API
   * reference, RollbackApplication, https://docs.aws.amazon.com/managed-flink/latest/apiv2/API_RollbackApplication.html):
   * the newest version other than the current one that was RUNNING while it was current. A version whose deploy
   * failed, or that was only ever configured while READY, is skipped. undefined when there is none.
   */
  #previousRunningVersion(app: AppState): number | undefined {
    let best: number | undefined;
    for (const v of app.versions.values()) {
      if (v.versionId === app.versionId || !v.wasRunning) continue;
      if (best === undefined || v.versionId > best) best = v.versionId;
    }
    return best;
  }

  #finish(app: AppState, op: OperationRecord, status: OperationStatus, t: number, appStatus: ApplicationStatus): void {
    op.status = status;
    op.endMs = t;
    app.pending = undefined;
    // A new or stopped job runs with the declared parallelism again.
    delete app.currentParallelism;
    this.#setStatus(app, appStatus);
  }

  /**
   * Submits a job for the current version at `t`. The behaviour comes from the first matching JobRule; restoring a
   * snapshot into an `incompatible-state` version fails unless AllowNonRestoredState, except when the snapshot was
   * taken by a version the same rule matches (its state already fits the new job graph).
   */
  #submit(
    app: AppState,
    t: number,
    restoreFrom: SnapshotRecord | undefined,
    allowNonRestoredState: boolean,
  ): { kind: 'running' } | { kind: 'hangs' } | { kind: 'failed'; error: string } {
    const config = this.#config(app);
    const { behaviour, ruleIndex } = resolveJobBehaviour(this.#rules, this.#subject(app, config));
    if (behaviour.kind === 'fails-at-submit') {
      this.#logFailure(app, t, behaviour.error, 'FAILED');
      return { kind: 'failed', error: behaviour.error };
    }
    if (behaviour.kind === 'hangs') return { kind: 'hangs' };
    if (behaviour.kind === 'incompatible-state' && restoreFrom && !allowNonRestoredState) {
      const snapshotVersion = app.versions.get(restoreFrom.versionId);
      const sameGraph =
        snapshotVersion !== undefined &&
        resolveJobBehaviour(this.#rules, this.#subject(app, snapshotVersion.config)).ruleIndex === ruleIndex;
      if (!sameGraph) {
        this.#logFailure(app, t, behaviour.error, 'FAILED');
        return { kind: 'failed', error: behaviour.error };
      }
    }
    app.job = this.#newJob(app, config, t, behaviour);
    return { kind: 'running' };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Operations
  // ---------------------------------------------------------------------------------------------------------------

  #createApplication(body: Obj, now: number): unknown {
    const name = reqStr(body, 'ApplicationName');
    if (!/^[a-zA-Z0-9_.-]{1,128}$/.test(name)) invalidArgument('ApplicationName must match [a-zA-Z0-9_.-]{1,128}');
    if (this.#apps.has(name)) {
      throw new EmulatorServiceError('ResourceInUseException', `Application ${name} already exists`);
    }
    const config = parseCreateConfig(body);
    const app = this.#newApp(name, now, undefined);
    for (const option of optArray(body, 'CloudWatchLoggingOptions')) {
      const arn = reqStr(asObj(option, 'CloudWatchLoggingOption'), 'LogStreamARN');
      // LogStreamARN: an ARN of the form arn:PARTITION:logs:REGION:ACCOUNT:log-group:GROUP:log-stream:STREAM.
      if (!/^arn:[^:]+:logs:[^:]*:\d{12}:log-group:[^:]+:log-stream:[^:*]+$/.test(arn)) {
        invalidArgument(`CloudWatchLoggingOptions LogStreamARN ${arn} is not a CloudWatch Logs log stream ARN`);
      }
      app.logStreamArns.push(arn);
      // Assumption: the emulator serves no CreateLogGroup / CreateLogStream, so the group and stream of a logging
      // option exist from CreateApplication on (as the console creates them for its default option).
      const m = /:log-group:([^:]+):log-stream:(.+)$/.exec(arn);
      if (m?.[1] && m[2]) this.#logs?.ensureStream(m[1], m[2]);
    }
    for (const tag of optArray(body, 'Tags')) {
      const t = asObj(tag, 'Tag');
      app.tags.set(reqStr(t, 'Key'), optStr(t, 'Value') ?? '');
      app.everTagged = true;
    }
    this.#putVersion(app, { versionId: 1, config, createdAtMs: now, lastStatus: 'READY', wasRunning: false });
    this.#apps.set(name, app);
    return { ApplicationDetail: this.#detail(app) };
  }

  #listApplications(body: Obj): unknown {
    const apps = [...this.#apps.values()];
    const { page, nextToken } = this.#paginate(apps, body, (message) => {
      throw new EmulatorServiceError('InvalidRequestException', message);
    });
    return {
      ApplicationSummaries: page.map((app) => ({
        ApplicationName: app.name,
        ApplicationARN: app.arn,
        ApplicationStatus: app.status,
        ApplicationVersionId: app.versionId,
        RuntimeEnvironment: this.#config(app).runtimeEnvironment,
        ApplicationMode: 'STREAMING',
      })),
      ...(nextToken === undefined ? {} : { NextToken: nextToken }),
    };
  }

  /**
   * StartApplication: only from READY (else ResourceInUseException). RunConfiguration.ApplicationRestoreConfiguration
   * and FlinkRunConfiguration.AllowNonRestoredState apply to this start and are shown in RunConfigurationDescription.
   */
  #startApplication(body: Obj, now: number): unknown {
    const app = this.#app(body);
    this.#requireStatus(app, ['READY'], 'StartApplication');
    const run = asObj(body.RunConfiguration, 'RunConfiguration');
    const config = this.#config(app);
    const restore = this.#parseRestore(
      app,
      asObj(run.ApplicationRestoreConfiguration, 'ApplicationRestoreConfiguration'),
    );
    if (restore) config.restore = restore;
    const allowNonRestoredState =
      optBool(asObj(run.FlinkRunConfiguration, 'FlinkRunConfiguration'), 'AllowNonRestoredState') ?? false;
    config.allowNonRestoredState = allowNonRestoredState;
    const op = this.#newOperation(app, 'StartApplication', now, { from: app.versionId, to: app.versionId });
    this.#setStatus(app, 'STARTING');
    app.pending = {
      kind: 'start',
      operationId: op.id,
      endsAtMs: now + this.#timings.STARTING * 1000,
      allowNonRestoredState,
    };
    return { OperationId: op.id };
  }

  /**
   * StopApplication: from RUNNING takes a snapshot (when SnapshotsEnabled) and stops; Force=true stops without a
   * snapshot from STARTING, UPDATING, STOPPING, AUTOSCALING or RUNNING and cancels the operation in progress.
   */
  #stopApplication(body: Obj, now: number): unknown {
    const app = this.#app(body);
    const force = optBool(body, 'Force') ?? false;
    if (force) {
      this.#requireStatus(
        app,
        ['STARTING', 'UPDATING', 'STOPPING', 'AUTOSCALING', 'RUNNING'],
        'StopApplication with Force',
      );
      this.#cancelPending(app, now, true);
      app.job = undefined;
      const op = this.#newOperation(app, 'StopApplication', now, { from: app.versionId, to: app.versionId });
      this.#setStatus(app, 'FORCE_STOPPING');
      app.pending = {
        kind: 'force-stop',
        operationId: op.id,
        endsAtMs: now + this.#timings.FORCE_STOPPING * 1000,
        allowNonRestoredState: false,
      };
      return { OperationId: op.id };
    }
    this.#requireStatus(app, ['RUNNING'], 'StopApplication');
    const endsAtMs = now + this.#timings.STOPPING * 1000;
    if (this.#config(app).snapshotsEnabled) this.#takeSnapshot(app, now, endsAtMs);
    const op = this.#newOperation(app, 'StopApplication', now, { from: app.versionId, to: app.versionId });
    this.#setStatus(app, 'STOPPING');
    app.pending = { kind: 'stop', operationId: op.id, endsAtMs, allowNonRestoredState: false };
    return { OperationId: op.id };
  }

  /**
   * UpdateApplication: from READY or RUNNING; needs ConditionalToken or CurrentApplicationVersionId. Creates the next
   * version at once (the response shows it, status UPDATING). From RUNNING a snapshot is taken first (when
   * SnapshotsEnabled) and the job is redeployed when UPDATING ends; from READY only the configuration changes.
   */
  #updateApplication(body: Obj, now: number): unknown {
    const app = this.#app(body);
    this.#checkConcurrency(app, body, true);
    this.#requireStatus(app, ['READY', 'RUNNING'], 'UpdateApplication');
    const fromRunning = app.status === 'RUNNING';
    const previous = this.#config(app);
    const next = applyUpdate(previous, body);
    const run = asObj(body.RunConfigurationUpdate, 'RunConfigurationUpdate');
    // "If you update your application without specifying this parameter, AllowNonRestoredState will be set to false".
    const allowNonRestoredState =
      optBool(asObj(run.FlinkRunConfiguration, 'FlinkRunConfiguration'), 'AllowNonRestoredState') ?? false;
    next.allowNonRestoredState = allowNonRestoredState;
    const restore = this.#parseRestore(
      app,
      asObj(run.ApplicationRestoreConfiguration, 'ApplicationRestoreConfiguration'),
    );
    if (restore) next.restore = restore;

    const durationS = fromRunning
      ? this.#timings.UPDATING
      : Math.min(UPDATE_WHEN_READY_MAX_SECONDS, this.#timings.UPDATING);
    const endsAtMs = now + durationS * 1000;
    // Snapshot first: if it cannot be taken, the call fails and nothing changes (see #takeSnapshot).
    if (fromRunning && previous.snapshotsEnabled) this.#takeSnapshot(app, now, endsAtMs);
    const from = app.versionId;
    const to = this.#nextVersionId(app);
    this.#putVersion(app, {
      versionId: to,
      config: next,
      createdAtMs: now,
      updatedFrom: from,
      lastStatus: 'UPDATING',
      wasRunning: false,
    });
    app.versionId = to;
    app.lastUpdateMs = now;
    const op = this.#newOperation(app, 'UpdateApplication', now, { from, to });
    this.#setStatus(app, 'UPDATING');
    app.pending = { kind: 'update', operationId: op.id, endsAtMs, fromRunning, allowNonRestoredState };
    return { ApplicationDetail: this.#detail(app), OperationId: op.id };
  }

  /**
   * RollbackApplication: only from UPDATING, AUTOSCALING or RUNNING; CurrentApplicationVersionId must be current.
   * Goes back to the previous running version's configuration (see #previousRunningVersion) as a new version
   * (RolledBackFrom = the version when called, RolledBackTo = the target) and restores the last successful snapshot.
   */
  #rollbackApplication(body: Obj, now: number): unknown {
    const app = this.#app(body);
    this.#checkConcurrency(app, body, false);
    this.#requireStatus(app, ['UPDATING', 'AUTOSCALING', 'RUNNING'], 'RollbackApplication');
    const from = app.versionId;
    const target = this.#previousRunningVersion(app);
    if (target === undefined) {
      throw new EmulatorServiceError(
        'InvalidRequestException',
        `Application ${app.name} has no previous running version to roll back to`,
      );
    }
    // "If the application has no snapshots, Managed Service for Apache Flink rejects the rollback request" (API
    // reference, RollbackApplication). The exception name is not documented; InvalidRequestException is a guess.
    if (!this.#latestReadySnapshot(app)) {
      throw new EmulatorServiceError(
        'InvalidRequestException',
        `Application ${app.name} has no snapshots; RollbackApplication needs a snapshot to restore from`,
      );
    }
    this.#cancelPending(app, now, false);
    app.job = undefined;
    const op = this.#newOperation(app, 'RollbackApplication', now);
    const to = this.#createRolledBackVersion(app, target, now);
    op.change = { from, to };
    this.#setStatus(app, 'ROLLING_BACK');
    app.pending = {
      kind: 'rollback',
      operationId: op.id,
      endsAtMs: now + this.#timings.ROLLING_BACK * 1000,
      allowNonRestoredState: false,
    };
    return { ApplicationDetail: this.#detail(app), OperationId: op.id };
  }

  #listApplicationVersions(body: Obj): unknown {
    const app = this.#app(body);
    const versions = [...app.versions.values()].sort((a, b) => b.versionId - a.versionId);
    const { page, nextToken } = this.#paginate(versions, body);
    return {
      ApplicationVersionSummaries: page.map((v) => ({
        ApplicationVersionId: v.versionId,
        ApplicationStatus: v.versionId === app.versionId ? app.status : v.lastStatus,
      })),
      ...(nextToken === undefined ? {} : { NextToken: nextToken }),
    };
  }

  #describeApplicationVersion(body: Obj): unknown {
    const app = this.#app(body);
    const versionId = optNum(body, 'ApplicationVersionId');
    if (versionId === undefined) invalidArgument('ApplicationVersionId is required');
    const version = app.versions.get(versionId);
    if (!version) {
      throw new EmulatorServiceError(
        'ResourceNotFoundException',
        `Application version ${versionId} of ${app.name} not found`,
      );
    }
    return { ApplicationVersionDetail: this.#detail(app, version) };
  }

  #listApplicationOperations(body: Obj): unknown {
    const app = this.#app(body);
    const operation = optStr(body, 'Operation');
    const status = optStr(body, 'OperationStatus');
    // "in reverse chronological order" (developer guide, how-system-rollbacks).
    const ops = app.operations
      .filter(
        (op) =>
          (operation === undefined || op.operation === operation) && (status === undefined || op.status === status),
      )
      .sort((a, b) => b.startMs - a.startMs || b.seq - a.seq);
    const { page, nextToken } = this.#paginate(ops, body);
    return {
      ApplicationOperationInfoList: page.map((op) => ({
        Operation: op.operation,
        OperationId: op.id,
        StartTime: seconds(op.startMs),
        ...(op.endMs === undefined ? {} : { EndTime: seconds(op.endMs) }),
        OperationStatus: op.status,
      })),
      ...(nextToken === undefined ? {} : { NextToken: nextToken }),
    };
  }

  #describeApplicationOperation(body: Obj): unknown {
    const app = this.#app(body);
    const op = this.#operation(app, reqStr(body, 'OperationId'));
    return {
      ApplicationOperationInfoDetails: {
        Operation: op.operation,
        StartTime: seconds(op.startMs),
        ...(op.endMs === undefined ? {} : { EndTime: seconds(op.endMs) }),
        OperationStatus: op.status,
        ...(op.change
          ? {
              ApplicationVersionChangeDetails: {
                ApplicationVersionUpdatedFrom: op.change.from,
                ApplicationVersionUpdatedTo: op.change.to,
              },
            }
          : {}),
        ...(op.failure
          ? {
              OperationFailureDetails: {
                ...(op.failure.rollbackOperationId === undefined
                  ? {}
                  : { RollbackOperationId: op.failure.rollbackOperationId }),
                ...(op.failure.error === undefined ? {} : { ErrorInfo: { ErrorString: op.failure.error } }),
              },
            }
          : {}),
      },
    };
  }

  #listApplicationSnapshots(body: Obj): unknown {
    // The API model gives ListApplicationSnapshots no ResourceNotFoundException (only InvalidArgumentException and
    // UnsupportedOperationException, https://docs.aws.amazon.com/managed-flink/latest/apiv2/API_ListApplicationSnapshots.html):
    // an unknown application is an invalid argument here. Assumption: AWS's message text is not documented.
    const name = reqStr(body, 'ApplicationName');
    if (!this.#apps.has(name)) invalidArgument(`Application ${name} is not found in account ${this.accountId}`);
    const app = this.#app(body);
    const { page, nextToken } = this.#paginate(app.snapshots, body);
    return {
      SnapshotSummaries: page.map((s) => this.#snapshotDetails(s)),
      ...(nextToken === undefined ? {} : { NextToken: nextToken }),
    };
  }

  /** CreateApplicationSnapshot: only while RUNNING; CREATING, then READY after a few seconds. */
  #createApplicationSnapshot(body: Obj, now: number): unknown {
    const app = this.#app(body);
    const name = reqStr(body, 'SnapshotName');
    if (!/^[a-zA-Z0-9_.-]{1,256}$/.test(name)) invalidArgument('SnapshotName must match [a-zA-Z0-9_.-]{1,256}');
    this.#requireStatus(app, ['RUNNING'], 'CreateApplicationSnapshot');
    if (app.snapshots.some((s) => s.name === name)) invalidArgument(`Snapshot ${name} already exists for ${app.name}`);
    if (!this.#config(app).snapshotsEnabled) {
      throw new EmulatorServiceError(
        'InvalidApplicationConfigurationException',
        `Snapshots are not enabled for application ${app.name}`,
      );
    }
    this.#takeSnapshot(app, now, now + SNAPSHOT_CREATING_SECONDS * 1000, name);
    return {};
  }

  #describeApplicationSnapshot(body: Obj): unknown {
    const app = this.#app(body);
    const name = reqStr(body, 'SnapshotName');
    const snapshot = app.snapshots.find((s) => s.name === name);
    if (!snapshot) {
      throw new EmulatorServiceError('ResourceNotFoundException', `Snapshot ${name} of ${app.name} not found`);
    }
    return { SnapshotDetails: this.#snapshotDetails(snapshot) };
  }

  #tagResource(body: Obj): unknown {
    const app = this.#appByArn(body);
    for (const tag of optArray(body, 'Tags')) {
      const t = asObj(tag, 'Tag');
      app.tags.set(reqStr(t, 'Key'), optStr(t, 'Value') ?? '');
      app.everTagged = true;
    }
    return {};
  }

  #untagResource(body: Obj): unknown {
    const app = this.#appByArn(body);
    for (const key of optArray(body, 'TagKeys')) {
      if (typeof key === 'string') app.tags.delete(key);
    }
    return {};
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Helpers
  // ---------------------------------------------------------------------------------------------------------------

  #app(body: Obj): AppState {
    const name = reqStr(body, 'ApplicationName');
    const app = this.#apps.get(name);
    if (!app) {
      throw new EmulatorServiceError(
        'ResourceNotFoundException',
        `Application ${name} is not found in account ${this.accountId}`,
      );
    }
    return app;
  }

  #appByArn(body: Obj): AppState {
    const arn = reqStr(body, 'ResourceARN');
    for (const app of this.#apps.values()) if (app.arn === arn) return app;
    throw new EmulatorServiceError('ResourceNotFoundException', `Resource ${arn} not found`);
  }

  #version(app: AppState, versionId: number): VersionRecord {
    const version = app.versions.get(versionId);
    if (!version) throw new Error(`emulator bug: ${app.name} has no version ${versionId}`);
    return version;
  }

  #config(app: AppState): AppConfig {
    return this.#version(app, app.versionId).config;
  }

  #operation(app: AppState, operationId: string): OperationRecord {
    const op = app.operations.find((o) => o.id === operationId);
    if (!op) {
      throw new EmulatorServiceError('ResourceNotFoundException', `Operation ${operationId} of ${app.name} not found`);
    }
    return op;
  }

  #subject(app: AppState, config: AppConfig): JobRuleSubject {
    return {
      application: app.name,
      codeKey: config.code.fileKey,
      properties: config.propertyGroups,
      atMinute: (this.#clock.now() - this.#startMs) / MINUTE_MS,
    };
  }

  #requireStatus(app: AppState, allowed: readonly ApplicationStatus[], what: string): void {
    if (!allowed.includes(app.status)) {
      throw new EmulatorServiceError(
        'ResourceInUseException',
        `Application ${app.name} is in ${app.status} status; ${what} is only allowed in ${allowed.join(', ')}`,
      );
    }
  }

  /**
   * UpdateApplication needs ConditionalToken or CurrentApplicationVersionId (API reference: "You must provide the
   * CurrentApplicationVersionId or the ConditionalToken"); RollbackApplication needs CurrentApplicationVersionId.
   * A stale value → ConcurrentModificationException.
   */
  #checkConcurrency(app: AppState, body: Obj, tokenAllowed: boolean): void {
    const versionId = optNum(body, 'CurrentApplicationVersionId');
    const token = tokenAllowed ? optStr(body, 'ConditionalToken') : undefined;
    if (versionId === undefined && token === undefined) {
      invalidArgument(
        tokenAllowed
          ? 'You must provide the CurrentApplicationVersionId or the ConditionalToken'
          : 'CurrentApplicationVersionId is required',
      );
    }
    const current = this.#version(app, app.versionId);
    if (versionId !== undefined && versionId !== app.versionId) {
      throw new EmulatorServiceError(
        'ConcurrentModificationException',
        `Current application version of ${app.name} is ${app.versionId}, not ${versionId}`,
      );
    }
    if (token !== undefined && token !== current.conditionalToken) {
      throw new EmulatorServiceError(
        'ConcurrentModificationException',
        `ConditionalToken of ${app.name} is stale; describe the application again`,
      );
    }
  }

  #parseRestore(app: AppState, restore: Obj): AppConfig['restore'] | undefined {
    const type = parseRestoreType(optStr(restore, 'ApplicationRestoreType'));
    if (type === undefined) return undefined;
    const snapshotName = optStr(restore, 'SnapshotName');
    if (type !== 'RESTORE_FROM_CUSTOM_SNAPSHOT') return { type };
    if (snapshotName === undefined) invalidArgument('SnapshotName is required with RESTORE_FROM_CUSTOM_SNAPSHOT');
    const snapshot = app.snapshots.find((s) => s.name === snapshotName);
    if (snapshot?.status !== 'READY') {
      throw new EmulatorServiceError(
        'ResourceNotFoundException',
        `Snapshot ${snapshotName} of ${app.name} not found or not READY`,
      );
    }
    return { type, snapshotName };
  }

  /** The snapshot a submission restores from, per ApplicationRestoreConfiguration; undefined = start without state. */
  #restoreSnapshot(app: AppState, restore: AppConfig['restore']): SnapshotRecord | undefined {
    switch (restore.type) {
      case 'SKIP_RESTORE_FROM_SNAPSHOT':
        return undefined;
      case 'RESTORE_FROM_CUSTOM_SNAPSHOT':
        return app.snapshots.find((s) => s.name === restore.snapshotName && s.status === 'READY');
      case 'RESTORE_FROM_LATEST_SNAPSHOT':
        return this.#latestReadySnapshot(app);
    }
  }

  #latestReadySnapshot(app: AppState): SnapshotRecord | undefined {
    let latest: SnapshotRecord | undefined;
    for (const s of app.snapshots) {
      if (s.status === 'READY' && (!latest || s.createdAtMs >= latest.createdAtMs)) latest = s;
    }
    return latest;
  }

  /**
   * Takes a snapshot of the running job, READY at `min(now + 10 s, settleByMs)`.
   * @throws EmulatorServiceError InvalidApplicationConfigurationException when the job is down or restarted within
   *   the last 120 s: AWS documents this synchronous error for snapshots and for the updates and stops that take one
   *   (developer guide, troubleshooting-symptoms: "Snapshot, application update, or application stop error:
   *   InvalidApplicationConfigurationException ... Failed to take snapshot ... currently experiencing downtime").
   */
  #takeSnapshot(app: AppState, now: number, settleByMs: number, name?: string): void {
    const job = app.job;
    job?.advanceTo(now);
    if (!job?.canTakeSnapshot(now)) {
      throw new EmulatorServiceError('InvalidApplicationConfigurationException', snapshotDowntimeMessage(app.name));
    }
    app.snapshots.push({
      name: name ?? this.#snapshotName(app, app.versionId, now),
      status: 'CREATING',
      versionId: app.versionId,
      createdAtMs: now,
      runtimeEnvironment: this.#config(app).runtimeEnvironment,
      readyAtMs: Math.min(now + SNAPSHOT_CREATING_SECONDS * 1000, settleByMs),
    });
  }

  #snapshotName(app: AppState, versionId: number, atMs: number): string {
    const base = `${app.name}-v${versionId}-${Math.floor(atMs / 1000)}`;
    let name = base;
    for (let i = 2; app.snapshots.some((s) => s.name === name); i++) name = `${base}-${i}`;
    return name;
  }

  /**
   * Force stop or rollback interrupts the operation in progress: it ends CANCELLED. A force stop also fails a snapshot
   * still CREATING (the job it was taken from is killed).
   */
  #cancelPending(app: AppState, now: number, failSnapshots: boolean): void {
    const pending = app.pending;
    if (!pending) return;
    const op = this.#operation(app, pending.operationId);
    op.status = 'CANCELLED';
    op.endMs = now;
    app.pending = undefined;
    if (!failSnapshots) return;
    for (const s of app.snapshots) {
      if (s.status === 'CREATING') {
        s.status = 'FAILED';
        delete s.readyAtMs;
      }
    }
  }

  #nextVersionId(app: AppState): number {
    return Math.max(...app.versions.keys()) + 1;
  }

  #putVersion(app: AppState, v: Omit<VersionRecord, 'conditionalToken'>): void {
    app.versions.set(v.versionId, { ...v, conditionalToken: hash(`${app.arn}:version:${v.versionId}`, 32) });
  }

  /**
   * A rollback creates a new application version with the target's configuration. Source: ApplicationDetail in the
   * API model — ApplicationVersionRolledBackFrom is "the application version when RollbackApplication was called",
   * ApplicationVersionRolledBackTo "the version to which you want to roll back" — and ApplicationVersionId only
   * grows; that the rolled-back configuration gets a new id is inferred, not documented.
   */
  #createRolledBackVersion(app: AppState, target: number, now: number): number {
    const from = app.versionId;
    const to = this.#nextVersionId(app);
    const config = cloneConfig(this.#version(app, target).config);
    config.allowNonRestoredState = false;
    this.#putVersion(app, {
      versionId: to,
      config,
      createdAtMs: now,
      updatedFrom: from,
      rolledBackFrom: from,
      rolledBackTo: target,
      lastStatus: 'ROLLING_BACK',
      wasRunning: false,
    });
    app.versionId = to;
    app.lastUpdateMs = now;
    return to;
  }

  #setStatus(app: AppState, status: ApplicationStatus): void {
    app.status = status;
    const version = this.#version(app, app.versionId);
    version.lastStatus = status;
    if (status === 'RUNNING') version.wasRunning = true;
  }

  #newOperation(
    app: AppState,
    operation: string,
    startMs: number,
    change?: { from: number; to: number },
  ): OperationRecord {
    app.seq += 1;
    const op: OperationRecord = {
      id: hash(`${app.arn}:operation:${app.seq}`, 24),
      seq: app.seq,
      operation,
      status: 'IN_PROGRESS',
      startMs,
      ...(change ? { change } : {}),
    };
    app.operations.push(op);
    return op;
  }

  /**
   * One page of a List* answer. `invalid` raises the operation's error for a bad Limit or NextToken: the API model
   * gives ListApplications only InvalidRequestException
   * (https://docs.aws.amazon.com/managed-flink/latest/apiv2/API_ListApplications.html), the other List* operations
   * InvalidArgumentException.
   */
  #paginate<T>(
    items: readonly T[],
    body: Obj,
    invalid: (message: string) => never = invalidArgument,
  ): { page: readonly T[]; nextToken?: string } {
    const limit = optNum(body, 'Limit') ?? 50;
    // The List* operations accept Limit 1–50 (Kinesis Analytics V2 API reference).
    if (!Number.isInteger(limit) || limit < 1 || limit > 50) invalid('Limit must be an integer from 1 to 50');
    const token = optStr(body, 'NextToken');
    const start = token === undefined ? 0 : Number.parseInt(token, 10);
    if (!Number.isInteger(start) || start < 0 || start > items.length) invalid('NextToken is not valid');
    const end = start + limit;
    return { page: items.slice(start, end), ...(end < items.length ? { nextToken: String(end) } : {}) };
  }

  #snapshotDetails(s: SnapshotRecord): unknown {
    return {
      SnapshotName: s.name,
      SnapshotStatus: s.status,
      ApplicationVersionId: s.versionId,
      SnapshotCreationTimestamp: seconds(s.createdAtMs),
      RuntimeEnvironment: s.runtimeEnvironment,
    };
  }

  /** ApplicationDetail of the current version, or of `version` (DescribeApplicationVersion). */
  #detail(app: AppState, version?: VersionRecord): unknown {
    const v = version ?? this.#version(app, app.versionId);
    const isCurrent = v.versionId === app.versionId;
    const c = v.config;
    return {
      ApplicationARN: app.arn,
      ...(c.description === undefined ? {} : { ApplicationDescription: c.description }),
      ApplicationName: app.name,
      RuntimeEnvironment: c.runtimeEnvironment,
      ServiceExecutionRole: c.serviceExecutionRole,
      ApplicationStatus: isCurrent ? app.status : v.lastStatus,
      ApplicationVersionId: v.versionId,
      CreateTimestamp: seconds(app.createdAtMs),
      LastUpdateTimestamp: seconds(isCurrent ? app.lastUpdateMs : v.createdAtMs),
      ApplicationConfigurationDescription: {
        ApplicationCodeConfigurationDescription: {
          CodeContentType: c.codeContentType,
          CodeContentDescription: {
            S3ApplicationCodeLocationDescription: {
              BucketARN: c.code.bucketArn,
              FileKey: c.code.fileKey,
              ...(c.code.objectVersion === undefined ? {} : { ObjectVersion: c.code.objectVersion }),
            },
          },
        },
        RunConfigurationDescription: {
          ApplicationRestoreConfigurationDescription: {
            ApplicationRestoreType: c.restore.type,
            ...(c.restore.snapshotName === undefined ? {} : { SnapshotName: c.restore.snapshotName }),
          },
          FlinkRunConfigurationDescription: { AllowNonRestoredState: c.allowNonRestoredState },
        },
        FlinkApplicationConfigurationDescription: {
          CheckpointConfigurationDescription: {
            ConfigurationType: c.checkpoint.configurationType,
            CheckpointingEnabled: c.checkpoint.checkpointingEnabled,
            CheckpointInterval: c.checkpoint.checkpointInterval,
            MinPauseBetweenCheckpoints: c.checkpoint.minPauseBetweenCheckpoints,
          },
          MonitoringConfigurationDescription: {
            ConfigurationType: c.monitoring.configurationType,
            MetricsLevel: c.monitoring.metricsLevel,
            LogLevel: c.monitoring.logLevel,
          },
          ParallelismConfigurationDescription: {
            ConfigurationType: c.parallelism.configurationType,
            Parallelism: c.parallelism.parallelism,
            ParallelismPerKPU: c.parallelism.parallelismPerKPU,
            CurrentParallelism: (isCurrent ? app.currentParallelism : undefined) ?? c.parallelism.parallelism,
            AutoScalingEnabled: c.parallelism.autoScalingEnabled,
          },
        },
        EnvironmentPropertyDescriptions: {
          PropertyGroupDescriptions: Object.entries(c.propertyGroups).map(([PropertyGroupId, PropertyMap]) => ({
            PropertyGroupId,
            PropertyMap,
          })),
        },
        ApplicationSnapshotConfigurationDescription: { SnapshotsEnabled: c.snapshotsEnabled },
        ApplicationSystemRollbackConfigurationDescription: { RollbackEnabled: c.systemRollbackEnabled },
      },
      ...(v.updatedFrom === undefined ? {} : { ApplicationVersionUpdatedFrom: v.updatedFrom }),
      ...(v.rolledBackFrom === undefined ? {} : { ApplicationVersionRolledBackFrom: v.rolledBackFrom }),
      ...(v.rolledBackTo === undefined ? {} : { ApplicationVersionRolledBackTo: v.rolledBackTo }),
      ApplicationVersionCreateTimestamp: seconds(v.createdAtMs),
      ...(isCurrent ? { ConditionalToken: v.conditionalToken } : {}),
      CloudWatchLoggingOptionDescriptions: app.logStreamArns.map((arn, i) => ({
        CloudWatchLoggingOptionId: `${i + 1}.1`,
        LogStreamARN: arn,
      })),
      ApplicationMode: 'STREAMING',
    };
  }
}
