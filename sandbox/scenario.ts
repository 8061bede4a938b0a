import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { DEFAULT_QUERY_RUNNING_POLLS } from '#sandbox/emulator/logs.ts';
import {
  DEFAULT_ALARM_EVALUATION_OFFSET_SECONDS,
  DEFAULT_METRIC_HISTORY_MINUTES,
  DEFAULT_METRICS_DELAY_SECONDS,
} from '#sandbox/emulator/metric-publisher.ts';
import {
  ConfigError,
  configErrorMessage,
  didYouMean,
  formatConfigPath,
  parseConfig,
  policyFor,
  type WatchdogConfig,
} from '#shared/config/schema.ts';
import { APPLICATION_STATUSES } from '#shared/domain/model.ts';
import { packageRoot } from '#shared/package-root.ts';
import { MUTATING_MSF_OPERATIONS } from '#shared/ports/msf.ts';

/**
 * Scenario files (sandbox/scenarios/*.json) describe a world for the emulator, a timeline of what people do in it,
 * the watchdog's configuration, and the expected outcome. They are data: adding a failure mode needs no code.
 * Times are minutes after the scenario's virtual start (`startTime`).
 */

/** A 12-digit AWS account id (API models: AccountId, `^[0-9]{12}$`). */
export const AccountId = z.string().regex(/^\d{12}$/, 'an AWS account id: 12 digits');

/** Environment properties of an application: property group id → key → value (MSF EnvironmentProperties). */
const EnvironmentProperties = z.record(z.string(), z.record(z.string(), z.string()));

/** What a Flink job does when a given application version is submitted. */
export const JobBehaviour = z.discriminatedUnion('kind', [
  /** Runs; checkpoints succeed. */
  z
    .object({ kind: z.literal('healthy') })
    .strict()
    .describe('Runs; checkpoints succeed.'),
  /**
   * Starts, then fails `failAfterSeconds` after each (re)start and is restarted by Flink's restart strategy
   * (MSF's default: exponential-delay from Flink 1.19, fixed-delay before): RUNNING in MSF, only the restart metrics
   * tell.
   */
  z
    .object({
      kind: z.literal('crash-loop'),
      failAfterSeconds: z.number().positive().default(20).describe('Seconds from each (re)start to the failure.'),
      error: z.string().describe('The exception the job fails with, as the logs show it.'),
    })
    .strict()
    .describe(
      "Starts, then fails failAfterSeconds after each (re)start and is restarted by Flink's restart strategy: RUNNING in MSF, only the restart metrics tell.",
    ),
  /** Job submission fails (e.g. wrong main class): the StartApplication/UpdateApplication operation FAILS. */
  z
    .object({
      kind: z.literal('fails-at-submit'),
      error: z.string().describe('The submission error, as the operation reports it.'),
    })
    .strict()
    .describe(
      'Job submission fails (e.g. wrong main class): the StartApplication or UpdateApplication operation FAILS.',
    ),
  /**
   * Saved state cannot be mapped onto the new job graph (an operator removed, or an operator UID changed):
   * restoring from a snapshot fails unless AllowNonRestoredState=true; SKIP_RESTORE_FROM_SNAPSHOT works.
   */
  z
    .object({
      kind: z.literal('incompatible-state'),
      reason: z
        .enum(['removed-operator', 'changed-uid'])
        .describe('Why the saved state does not fit: an operator removed, or an operator UID changed.'),
      error: z.string().describe('The restore error, as the logs show it.'),
    })
    .strict()
    .describe(
      'Saved state cannot be mapped onto the new job graph: restoring from a snapshot fails unless AllowNonRestoredState=true; SKIP_RESTORE_FROM_SNAPSHOT works.',
    ),
  /** The operation that submits this version never finishes: the application stays in its transient status. */
  z
    .object({ kind: z.literal('hangs') })
    .strict()
    .describe('The operation that submits this version never finishes: the application stays in its transient status.'),
  /**
   * Runs without failing, but every checkpoint fails (e.g. the checkpoint storage refuses writes): one more
   * `numberOfFailedCheckpoints` every CheckpointInterval, `lastCheckpointDuration`/`lastCheckpointSize` stay at the
   * last completed checkpoint (-1 when none). What a checkpoint stall looks like from CloudWatch.
   */
  z
    .object({
      kind: z.literal('checkpoint-failing'),
      error: z
        .string()
        .default('org.apache.flink.runtime.checkpoint.CheckpointException: Checkpoint expired')
        .describe('Why each checkpoint fails.'),
    })
    .strict()
    .describe(
      'Runs without failing, but every checkpoint fails: one more numberOfFailedCheckpoints every checkpoint interval, lastCheckpointDuration and lastCheckpointSize stay at the last completed checkpoint (-1 when none).',
    ),
]);
export type JobBehaviour = z.infer<typeof JobBehaviour>;

/**
 * Restart strategy of the Flink job (Flink's `restart-strategy.*` options). Seconds. Without `type`, MSF's default for
 * the application's runtime applies (exponential-delay from FLINK-1_19, fixed-delay before; see
 * resolveRestartStrategy in sandbox/emulator/job.ts); `initialBackoffSeconds` is the fixed-delay delay too.
 */
export const RestartStrategy = z
  .object({
    type: z
      .enum(['exponential-delay', 'fixed-delay'])
      .optional()
      .describe(
        "Flink's restart-strategy.type; omit for MSF's default for the runtime (exponential-delay from FLINK-1_19, fixed-delay before).",
      ),
    initialBackoffSeconds: z
      .number()
      .nonnegative()
      .default(1)
      .describe('First delay before a restart, seconds (the fixed-delay delay too).'),
    maxBackoffSeconds: z.number().positive().default(60).describe('Longest delay of exponential-delay, seconds.'),
    backoffMultiplier: z
      .number()
      .min(1)
      .default(1.5)
      .describe('Factor of exponential-delay between one delay and the next.'),
    restartDurationSeconds: z
      .number()
      .nonnegative()
      .default(10)
      .describe('Time from the restart decision to the job running again (scheduling, state restore), seconds.'),
  })
  .strict();
export type RestartStrategy = z.infer<typeof RestartStrategy>;

/** Matches an application version's configuration to a job behaviour. All given fields must match. */
export const JobRule = z
  .object({
    when: z
      .object({
        application: z.string().optional().describe('The application submitting (a name of the scenario).'),
        codeKey: z
          .string()
          .optional()
          .describe(
            "The S3 FileKey of the version's code (an application's code.fileKey or a timeline update's change.codeKey).",
          ),
        property: z
          .object({
            group: z.string().describe('Property group id.'),
            key: z.string().describe('Property key.'),
            value: z.string().describe('Property value, whole.'),
          })
          .strict()
          .optional()
          .describe('An environment property of the version: group id, key and value.'),
        submittedBeforeMinute: z
          .number()
          .nonnegative()
          .optional()
          .describe(
            'Only submissions made before this minute: a transient problem (e.g. an update that hangs on an infrastructure fault that later clears).',
          ),
      })
      .strict()
      .describe('Conditions on the submitted application version; all given fields must match (none: every version).'),
    behaviour: JobBehaviour.describe('What the job does when the rule matches (kind).'),
  })
  .strict();
export type JobRule = z.infer<typeof JobRule>;

/** One MSF application as it exists when the scenario starts (version 1 unless `initialVersion`). */
export const ScenarioApplication = z
  .object({
    name: z.string().min(1).max(128).describe('The application name (MSF ApplicationName), unique in the scenario.'),
    accountId: AccountId.optional().describe(
      "The AWS account the application lives in: a member account listed in accounts, or the watchdog's own account when omitted.",
    ),
    runtimeEnvironment: z
      .string()
      .default('FLINK-1_20')
      .describe('MSF RuntimeEnvironment, e.g. FLINK-1_20 (decides the default restart strategy).'),
    code: z
      .object({
        bucket: z.string().describe('S3 bucket of the code (BucketARN name).'),
        fileKey: z.string().describe('S3 FileKey of the code: what job rules match with codeKey.'),
        objectVersion: z.string().optional().describe('S3 ObjectVersion.'),
      })
      .strict()
      .describe("The application code's S3 location (CodeContent.S3ContentLocation)."),
    environmentProperties: EnvironmentProperties.default({}).describe(
      'Environment properties: property group id → key → value. Source outages hit the applications whose values name the source.',
    ),
    parallelism: z.number().int().positive().default(1).describe('ParallelismConfiguration.Parallelism.'),
    parallelismPerKPU: z.number().int().positive().default(1).describe('ParallelismConfiguration.ParallelismPerKPU.'),
    autoScalingEnabled: z.boolean().default(false).describe('ParallelismConfiguration.AutoScalingEnabled.'),
    snapshotsEnabled: z.boolean().default(true).describe('ApplicationSnapshotConfiguration.SnapshotsEnabled.'),
    systemRollbackEnabled: z
      .boolean()
      .default(false)
      .describe(
        'ApplicationSystemRollbackConfiguration.RollbackEnabled: MSF rolls a failed update or scaling back itself.',
      ),
    tags: z
      .record(z.string(), z.string())
      .default({})
      .describe("The application's tags, key → value (tag opt-in reads them)."),
    initialStatus: z
      .enum(['RUNNING', 'READY'])
      .default('RUNNING')
      .describe('ApplicationStatus when the scenario starts.'),
    initialVersion: z
      .number()
      .int()
      .positive()
      .default(1)
      .describe('The application version id at the start (the versions before it exist, for rollback).'),
    versionAgeMinutes: z
      .number()
      .nonnegative()
      .default(240)
      .describe(
        'Minutes before the start at which the current version was created (a recent change makes a restart loop look like a bad deploy).',
      ),
    restartStrategy: RestartStrategy.optional().describe(
      "The Flink job's restart strategy; omit for MSF's default for runtimeEnvironment with Flink's default settings.",
    ),
    /**
     * The application's CheckpointConfiguration. ConfigurationType DEFAULT means checkpoints every 60000 ms whatever
     * the other fields say (API model, CheckpointConfiguration); CUSTOM uses them. Milliseconds.
     */
    checkpointConfiguration: z
      .object({
        configurationType: z
          .enum(['DEFAULT', 'CUSTOM'])
          .default('DEFAULT')
          .describe(
            'DEFAULT: checkpoints every 60000 ms whatever the other fields say; CUSTOM: the other fields apply.',
          ),
        checkpointingEnabled: z.boolean().default(true).describe('CheckpointingEnabled (CUSTOM only).'),
        checkpointInterval: z.number().int().min(1).default(60_000).describe('CheckpointInterval, ms (CUSTOM only).'),
        minPauseBetweenCheckpoints: z
          .number()
          .int()
          .min(0)
          .default(5_000)
          .describe('MinPauseBetweenCheckpoints, ms (CUSTOM only).'),
      })
      .strict()
      .prefault({})
      .describe("The application's CheckpointConfiguration."),
  })
  .strict();
export type ScenarioApplication = z.infer<typeof ScenarioApplication>;

/**
 * Many alike applications in one block: `count` applications named `<namePrefix>-<n>` (n from 1, zero-padded to the
 * width of `count`, e.g. `orders-01` … `orders-40`), each with the other fields of an application. Expanded by
 * {@link parseScenario} after the scenario's own `applications`.
 */
export const ApplicationGroup = ScenarioApplication.omit({ name: true })
  .extend({
    namePrefix: z
      .string()
      .regex(/^[a-zA-Z0-9_.-]{1,120}$/, 'an application name prefix: 1-120 characters of [a-zA-Z0-9_.-]')
      .describe(
        'The applications are named <namePrefix>-<n>, n from 1 zero-padded to the width of count (orders-01 … orders-40).',
      ),
    count: z.number().int().min(1).max(1000).describe('How many applications the group holds.'),
  })
  .strict();
export type ApplicationGroup = z.infer<typeof ApplicationGroup>;

/** The names of a group's applications, in order. */
export function groupApplicationNames(group: Pick<ApplicationGroup, 'namePrefix' | 'count'>): string[] {
  const width = String(group.count).length;
  return Array.from({ length: group.count }, (_, i) => `${group.namePrefix}-${String(i + 1).padStart(width, '0')}`);
}

/** Faults injected into the world, independent of any version. */
export const Fault = z.discriminatedUnion('kind', [
  /** An external dependency (a stream, a database) is down: running jobs fail and restart until it is back. */
  z
    .strictObject({
      kind: z.literal('outage'),
      application: z.string().describe('The application hit (a name of the scenario).'),
      fromMinute: z.number().nonnegative().describe('Minute the outage starts.'),
      toMinute: z
        .number()
        .nonnegative()
        .optional()
        .describe('Minute it ends; omit for an outage that outlasts the scenario.'),
      error: z
        .string()
        .default('org.apache.kafka.common.errors.TimeoutException: Timed out waiting for a node assignment')
        .describe('The exception the job fails with during the outage.'),
    })
    .describe(
      'An external dependency (a stream, a database) of one application is down: its running job fails and restarts until it is back.',
    ),
  /**
   * MSF autoscaling moves the running job's parallelism: AUTOSCALING for `durationSeconds` (an operation in
   * ListApplicationOperations), then RUNNING with CurrentParallelism `toParallelism`. The declared Parallelism and the
   * application version do not change (an emulator simplification): what a drift check must not mistake for drift.
   * `fails: true`: the scaling fails with `error`; with system rollback enabled MSF rolls the application back to the
   * version that was running, else the application ends READY.
   */
  z
    .strictObject({
      kind: z.literal('autoscale'),
      application: z.string().describe('The application scaled.'),
      atMinute: z.number().nonnegative().describe('Minute the scaling starts.'),
      toParallelism: z.number().int().positive().describe('CurrentParallelism after the scaling.'),
      durationSeconds: z.number().int().positive().default(60).describe('Seconds in AUTOSCALING.'),
      fails: z
        .boolean()
        .default(false)
        .describe('The scaling fails with error: rolled back with system rollback enabled, else READY.'),
      error: z
        .string()
        .default('org.apache.flink.runtime.JobException: Recovery is suppressed by NoRestartBackoffTimeStrategy')
        .describe('Why a failing scaling fails.'),
    })
    .describe(
      "MSF autoscaling moves the running job's parallelism (AUTOSCALING, then RUNNING); the application version does not change: what a drift check must not mistake for drift.",
    ),
  /**
   * MSF maintenance (OS and container patches): ApplicationStatus MAINTENANCE for `durationSeconds`, a `Maintenance`
   * operation in ListApplicationOperations, and the job restarted once (one more fullRestarts/numRestarts, down for
   * `durationSeconds`; AWS: "a downtime of 10 to 30 seconds"). Only a RUNNING application with no operation in
   * progress is maintained; otherwise the fault is skipped.
   */
  z
    .strictObject({
      kind: z.literal('maintenance'),
      application: z.string().describe('The application maintained.'),
      atMinute: z.number().nonnegative().describe('Minute the maintenance starts.'),
      durationSeconds: z
        .number()
        .int()
        .positive()
        .default(30)
        .describe('Seconds in MAINTENANCE (the job is down as long).'),
    })
    .describe(
      'MSF maintenance: MAINTENANCE for durationSeconds and one job restart; skipped unless the application is RUNNING with no operation in progress.',
    ),
  /**
   * The application's datapoints for the periods starting in [fromMinute, toMinute) reach CloudWatch
   * `extraDelaySeconds` later than the normal publication delay.
   */
  z
    .strictObject({
      kind: z.literal('metrics-delayed'),
      application: z.string().describe('The application whose datapoints are late.'),
      fromMinute: z.number().nonnegative().describe('First period affected, minute.'),
      toMinute: z
        .number()
        .nonnegative()
        .optional()
        .describe('End of the window (exclusive), minute; omit for the rest of the scenario.'),
      extraDelaySeconds: z.number().int().positive().describe('Seconds added to the normal publication delay.'),
    })
    .describe("The application's datapoints for the periods in [fromMinute, toMinute) reach CloudWatch late."),
  /**
   * The application's datapoints for the periods starting in [fromMinute, toMinute) are never published: all of them,
   * or only the named `metrics` (e.g. ["downtime"]).
   */
  z
    .strictObject({
      kind: z.literal('metrics-missing'),
      application: z.string().describe('The application whose datapoints are missing.'),
      fromMinute: z.number().nonnegative().describe('First period affected, minute.'),
      toMinute: z
        .number()
        .nonnegative()
        .optional()
        .describe('End of the window (exclusive), minute; omit for the rest of the scenario.'),
      metrics: z
        .array(z.string().min(1))
        .min(1)
        .optional()
        .describe('Only these metric names (e.g. downtime); omit for all.'),
    })
    .describe("The application's datapoints for the periods in [fromMinute, toMinute) are never published."),
]);
export type Fault = z.infer<typeof Fault>;

/**
 * A shared dependency is down: every application whose environment properties name `source` (any property group,
 * any key, the whole value) is hit by an `outage` from `fromMinute` to `toMinute` (a Kafka cluster, a Kinesis stream
 * many applications read). {@link parseScenario} expands it into one `outage` fault per such application, among the
 * scenario's applications, its groups and the applications its timeline creates. Assumption: an application's
 * dependencies are the values of its environment properties (how MSF applications are usually told their source and
 * sink); the emulator has no other notion of a dependency.
 */
export const SourceOutage = z
  .object({
    kind: z.literal('outage'),
    source: z
      .string()
      .min(1)
      .describe("The dependency's name as environment property values carry it, e.g. kafka-orders."),
    fromMinute: z.number().nonnegative().describe('Minute the outage starts.'),
    toMinute: z
      .number()
      .nonnegative()
      .optional()
      .describe('Minute it ends; omit for an outage that outlasts the scenario.'),
    error: z
      .string()
      .default('org.apache.kafka.common.errors.TimeoutException: Timed out waiting for a node assignment')
      .describe('The exception the jobs fail with during the outage.'),
  })
  .strict()
  .describe(
    'A shared dependency is down: an outage of every application whose environment properties name source (any group, any key, the whole value).',
  );
export type SourceOutage = z.infer<typeof SourceOutage>;

const TimelineBase = {
  atMinute: z.number().nonnegative().describe('Minute of the step (at most durationMinutes).'),
  application: z
    .string()
    .min(1)
    .max(128)
    .describe("The application acted on, in its own account (a name of the scenario; for create, the new one's)."),
  note: z.string().optional().describe('Why, printed in the drill timeline.'),
};

/** How an approval step answers (approve mode's channels, as the drill and the sandbox reach them). */
const ApprovalVia = z
  .enum(['slack', 'cli', 'console'])
  .default('slack')
  .describe(
    'slack: a signed block_actions request (the Approve / Reject button) to the Slack interactivity handler; cli: the approve or reject runbook command published to the command topic, as flink-watchdog approve does; console: the sandbox console.',
  );

/** Who answers an approval step; the default depends on `via`. */
const ApprovalBy = z
  .string()
  .min(1)
  .max(256)
  .optional()
  .describe(
    'Who answers: with slack a Slack user as USERID (username), e.g. U024BE7LH (jane.doe); with cli the caller (an IAM ARN); with console ignored (sandbox console). Default: U0DRILL01 (drill.oncall), arn:aws:iam::123456789012:user/drill-oncall.',
  );

/**
 * What people (deploy pipelines, operators) do during the scenario, through the real SDK, in the application's own
 * account. `update`: a deploy (UpdateApplication with `change`); `start` / `stop`; `create`: CreateApplication with
 * `definition` (its tags in the request), then StartApplication; `tag` / `untag`: TagResource / UntagResource on the
 * application's ARN; `approve` / `reject`: answer the application's incident awaiting approval (approve mode) through
 * Slack, the CLI's command topic or the sandbox console.
 */
export const TimelineEntry = z.discriminatedUnion('action', [
  z
    .object({
      ...TimelineBase,
      action: z.literal('update'),
      change: z
        .object({
          codeKey: z.string().optional().describe('New S3 FileKey of the code.'),
          environmentProperties: EnvironmentProperties.optional().describe(
            'New environment properties (all groups: they replace the old ones).',
          ),
          parallelism: z.number().int().positive().optional().describe('New Parallelism.'),
        })
        .strict()
        .optional()
        .describe('What the deploy changes.'),
    })
    .strict()
    .describe('A deploy: UpdateApplication with change.'),
  z
    .object({ ...TimelineBase, action: z.literal('start') })
    .strict()
    .describe('StartApplication.'),
  z
    .object({
      ...TimelineBase,
      action: z.literal('stop'),
      force: z
        .boolean()
        .default(false)
        .describe(
          'StopApplication Force=true: stops at once without a snapshot (how a job that cannot take one, e.g. a looping job, is stopped).',
        ),
    })
    .strict()
    .describe('StopApplication (Force with force).'),
  z
    .object({
      ...TimelineBase,
      action: z.literal('create'),
      definition: ScenarioApplication.omit({
        name: true,
        initialStatus: true,
        initialVersion: true,
        versionAgeMinutes: true,
      })
        .strict()
        .describe('The new application, with the fields of an application (named by application).'),
    })
    .strict()
    .describe('CreateApplication with definition (its tags in the request), then StartApplication by the same person.'),
  z
    .object({
      ...TimelineBase,
      action: z.literal('tag'),
      tags: z
        .record(z.string().min(1).max(128), z.string().max(256))
        .describe('Tags added (or overwritten), key → value.'),
    })
    .strict()
    .describe("TagResource on the application's ARN."),
  z
    .object({
      ...TimelineBase,
      action: z.literal('untag'),
      tagKeys: z.array(z.string().min(1).max(128)).min(1).describe('Tag keys removed.'),
    })
    .strict()
    .describe("UntagResource on the application's ARN."),
  z
    .object({
      ...TimelineBase,
      action: z.literal('approve'),
      via: ApprovalVia,
      by: ApprovalBy,
    })
    .strict()
    .describe(
      "Approves the application's incident awaiting approval (approve mode), via slack (a signed Approve click to the Slack interactivity handler), cli (flink-watchdog approve through the command topic) or console (the sandbox console); refused, and said so, when none awaits approval.",
    ),
  z
    .object({
      ...TimelineBase,
      action: z.literal('reject'),
      via: ApprovalVia,
      by: ApprovalBy,
      reason: z
        .string()
        .min(1)
        .max(1024)
        .optional()
        .describe(
          'Why the action is rejected, recorded on the incident and told; required with cli and console (a Slack button carries none: Slack records rejected in Slack).',
        ),
    })
    .strict()
    .describe(
      "Rejects the application's incident awaiting approval (approve mode): the workflow ends ESCALATED without an MSF call; refused, and said so, when none awaits approval.",
    ),
]);
export type TimelineEntry = z.infer<typeof TimelineEntry>;

/** A timeline step that answers an approval request (`approve` or `reject`). */
export type ApprovalStep = Extract<TimelineEntry, { action: 'approve' | 'reject' }>;

/**
 * A Slack user as a step's `by` names it: the user ID (`U…` or `W…`, Slack's user IDs) and, in parentheses, the
 * username: `U024BE7LH (jane.doe)`. Groups: 1 the user ID, 2 the username (optional).
 */
export const SLACK_USER_PATTERN = /^([UW][A-Z0-9]{2,})(?: \(([^()]+)\))?$/;

/** Outcome of an incident or of a scenario, from the watchdog's point of view. */
export const Outcome = z.enum([
  /** Remediated and verified healthy. */
  'RECOVERED',
  /** The watchdog stopped acting and paged humans. */
  'ESCALATED',
  /** Only a notification (policy says notify, or nothing safe to do). */
  'NOTIFIED',
  /** Seen but not acted on: out of scope or observe mode. */
  'OBSERVED',
  /** No incident at all. */
  'NO_INCIDENT',
]);
export type Outcome = z.infer<typeof Outcome>;

export const ScenarioExpectation = z
  .object({
    outcome: Outcome.describe(
      "The scenario's outcome, from the watchdog's point of view: RECOVERED (remediated and verified healthy), ESCALATED (stopped acting and paged), NOTIFIED (only a notification), OBSERVED (seen, not acted on: out of scope or observe mode), NO_INCIDENT.",
    ),
    application: z
      .string()
      .optional()
      .describe('The application whose incident decides the outcome; omit for the first application.'),
    finalStatus: z
      .enum(APPLICATION_STATUSES)
      .optional()
      .describe('ApplicationStatus the application must end in; omit to not check.'),
    actions: z
      .array(z.enum([...MUTATING_MSF_OPERATIONS] as [string, ...string[]]))
      .optional()
      .describe('The mutating MSF calls the watchdog makes, in order (operation names); omit to not check.'),
    noActionBeforeMinute: z
      .number()
      .nonnegative()
      .optional()
      .describe(
        'No mutating MSF call by the watchdog before this minute (e.g. while a change calendar is CLOSED); omit to not check.',
      ),
    maxMutatingCalls: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe('At most this many mutating MSF calls by the watchdog, to any application.'),
    untouched: z
      .array(z.string())
      .default([])
      .describe('Applications the watchdog must never call a mutating operation on.'),
    workflowExecutions: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe('Remediation workflow executions started in the whole scenario, exactly; omit to not check.'),
    fleetIncidents: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe('Fleet incidents (correlated failures) opened in the whole scenario, exactly; omit to not check.'),
    maxConcurrentRemediations: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe(
        'At most this many remediation workflow executions RUNNING at once, at every drill tick; omit to not check.',
      ),
    peakConcurrentRemediations: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe(
        'Remediation workflow executions RUNNING at once at the busiest drill tick, exactly (with maxConcurrentRemediations at the same number: the limit was reached); omit to not check.',
      ),
    pages: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe(
        'Pages in the whole scenario, exactly: notifications that ask a person to act, once per notification whatever the channels; omit to not check.',
      ),
    runningAtEnd: z
      .array(z.string().min(1))
      .default([])
      .describe(
        'Applications that must be RUNNING at the end: names, or a prefix ending in * (orders-*; * for all). Each must match an application.',
      ),
    approval: z
      .object({
        state: z
          .enum(['PENDING', 'APPROVED', 'REJECTED', 'TIMED_OUT', 'STALE'])
          .describe(
            "The approval request's state on the deciding incident at the end: PENDING (unanswered), APPROVED, REJECTED, TIMED_OUT (nobody answered within approvalTimeoutMinutes), STALE (approved, but the situation changed before acting: refused).",
          ),
        by: z
          .string()
          .min(1)
          .optional()
          .describe("Text the recorded answer's by must contain, e.g. the Slack user ID U024BE7LH; omit to not check."),
        via: z
          .enum(['slack', 'amazon-q', 'cli', 'console'])
          .optional()
          .describe('The channel the recorded answer came through; omit to not check.'),
      })
      .strict()
      .optional()
      .describe(
        "approve mode: the deciding incident's approval request (its state, who answered and through what); omit to not check.",
      ),
  })
  .strict();
export type ScenarioExpectation = z.infer<typeof ScenarioExpectation>;

export const Scenario = z
  .object({
    /** Editor hint: the JSON Schema of this format (`./scenario.schema.json` beside the bundled scenarios); ignored. */
    $schema: z.string().optional().describe('JSON Schema reference for editors; ignored by the drill.'),
    name: z
      .string()
      .regex(/^[a-z0-9-]+$/, 'scenario names are kebab-case: a-z, 0-9 and -')
      .describe("The scenario's name, kebab-case; a file's name must be NAME.json."),
    title: z.string().describe("One line, printed above the scenario's timeline."),
    description: z.string().describe('What happens and what the watchdog should do, printed under the title.'),
    designScenario: z
      .number()
      .int()
      .optional()
      .describe("The failure mode this file covers: its number in the README's drill scenario table."),
    startTime: z
      .string()
      .datetime()
      .default('2026-03-02T14:00:00Z')
      .describe('Virtual start, ISO-8601 in UTC (Z); every minute of the scenario counts from it.'),
    durationMinutes: z
      .number()
      .positive()
      .max(24 * 60)
      .describe('Length of the run in virtual minutes; the drill stops there and checks expected.'),
    applications: z
      .array(ScenarioApplication)
      .default([])
      .describe(
        'MSF applications as they exist at the start (with applicationGroups, at least one application in all).',
      ),
    applicationGroups: z
      .array(ApplicationGroup)
      .default([])
      .describe('Many alike applications, each block expanded after applications into count applications.'),
    /**
     * Member accounts: the emulator holds one world per account and its STS lets the watchdog assume `roleName` in
     * each with `externalId` (the member stack's remediation role). The watchdog's config lists them in
     * `fleet.accounts` with the same ExternalId.
     */
    accounts: z
      .array(
        z
          .object({
            accountId: AccountId.describe('The member account id, 12 digits.'),
            roleName: z
              .string()
              .regex(/^[\w+=,.@-]{1,64}$/, 'an IAM role name')
              .default('FlinkWatchdogMember')
              .describe("The role the watchdog assumes in it (the member stack's role)."),
            externalId: z
              .string()
              .min(2)
              .max(1224)
              .describe(
                "The ExternalId the role's trust policy requires (sts:ExternalId); the watchdog config's fleet.accounts carries the same.",
              ),
          })
          .strict(),
      )
      .default([])
      .describe(
        'Member accounts: the emulator holds one world per account, and its STS lets the watchdog assume roleName in each with externalId.',
      ),
    /**
     * The emulator's request-rate limits per account and service (token buckets on the virtual clock, a
     * ThrottlingException beyond them; sandbox/emulator/throttle.ts): `ratePerSecond` requests per virtual second,
     * `burst` at once. A service without a limit is not throttled; omit the whole setting for none.
     */
    throttle: z
      .partialRecord(
        z.enum(['kinesisanalytics', 'cloudwatch', 'tagging', 'sts']),
        z
          .object({
            ratePerSecond: z.number().positive().describe('Requests per virtual second.'),
            burst: z.number().int().min(1).describe('Requests at once.'),
          })
          .strict(),
      )
      .optional()
      .describe(
        "The emulator's request-rate limits per service and account (token buckets on the virtual clock, ThrottlingException beyond them); a service without a limit is not throttled.",
      ),
    jobModel: z
      .array(JobRule)
      .default([])
      .describe(
        'What each submitted application version does: the first rule whose when matches decides, else the job is healthy.',
      ),
    faults: z
      .array(z.union([Fault, SourceOutage]))
      .default([])
      .describe('Faults of one application (application), or of every application reading a source (source).'),
    timeline: z
      .array(TimelineEntry)
      .default([])
      .describe(
        "What people (deploy pipelines, operators) do, through the real SDK, in the application's own account, by action.",
      ),
    /**
     * CloudWatch timing in the emulator, whole seconds: MSF's datapoints for a minute are stored `metricsDelaySeconds`
     * after the minute ends; alarms are evaluated `alarmEvaluationOffsetSeconds` after each minute boundary; the
     * applications running at the start come with `metricHistoryMinutes` of datapoints.
     * Defaults: DEFAULT_METRICS_DELAY_SECONDS, DEFAULT_ALARM_EVALUATION_OFFSET_SECONDS and
     * DEFAULT_METRIC_HISTORY_MINUTES (sandbox/emulator/metric-publisher.ts, with their sources or reasons).
     */
    cloudwatch: z
      .object({
        metricsDelaySeconds: z
          .number()
          .int()
          .min(0)
          .max(60 * 60)
          .default(DEFAULT_METRICS_DELAY_SECONDS)
          .describe('Seconds after a minute ends at which its MSF datapoints are stored.'),
        alarmEvaluationOffsetSeconds: z
          .number()
          .int()
          .min(0)
          .max(59)
          .default(DEFAULT_ALARM_EVALUATION_OFFSET_SECONDS)
          .describe('Seconds after each minute boundary at which alarms are evaluated.'),
        metricHistoryMinutes: z
          .number()
          .int()
          .min(0)
          .max(24 * 60)
          .default(DEFAULT_METRIC_HISTORY_MINUTES)
          .describe('Minutes of datapoints the applications running at the start come with.'),
      })
      .strict()
      .prefault({})
      .describe('CloudWatch timing in the emulator, whole seconds.'),
    /**
     * The emulator's CloudWatch Logs: `queryRunningPolls`, GetQueryResults calls of each Logs Insights query that
     * answer Running before it is Complete (count). A scenario can set it past the watchdog's polls to show the
     * FilterLogEvents fallback of the root-cause read.
     */
    cloudwatchLogs: z
      .object({
        queryRunningPolls: z
          .number()
          .int()
          .min(0)
          .max(100)
          .default(DEFAULT_QUERY_RUNNING_POLLS)
          .describe(
            'GetQueryResults calls of each Logs Insights query that answer Running before it is Complete (1 by default: about a second, as in AWS for a small window).',
          ),
      })
      .strict()
      .prefault({})
      .describe("The emulator's CloudWatch Logs (the root-cause read)."),
    /**
     * How EventBridge delivers the alarm state change events to the detector. `alarmEventCopies`: every event is
     * delivered this many times at once (at-least-once delivery, failure mode 8), count.
     */
    delivery: z
      .object({
        alarmEventCopies: z
          .number()
          .int()
          .min(1)
          .max(100)
          .default(1)
          .describe(
            "Every alarm state change event is delivered this many times at once (EventBridge's at-least-once delivery).",
          ),
      })
      .strict()
      .default({
        alarmEventCopies: 1,
      })
      .describe('How EventBridge delivers the alarm state change events to the detector.'),
    /**
     * The local Slack receiver's outages, in scenario minutes: `http-500` answers 500, `timeout` never answers. The
     * watchdog must carry on, retry, and record the failed delivery on the incident.
     */
    slack: z
      .object({
        outages: z
          .array(
            z
              .object({
                fromMinute: z.number().nonnegative().describe('Minute the outage starts.'),
                toMinute: z
                  .number()
                  .nonnegative()
                  .optional()
                  .describe('Minute it ends; omit for the rest of the scenario.'),
                mode: z.enum(['http-500', 'timeout']).describe('http-500 answers 500; timeout never answers.'),
              })
              .strict(),
          )
          .default([])
          .describe('Outages of the local Slack receiver.'),
      })
      .strict()
      .default({ outages: [] })
      .describe(
        'The local Slack receiver: the watchdog must carry on, retry, and record a failed delivery on the incident.',
      ),
    /**
     * Terraform state files the scenario provides, by name (format version 4 JSON). The watchdog config refers to them
     * by name in `drift.terraformState`, as it would to a path or an s3:// location.
     */
    terraformStates: z
      .record(z.string(), z.unknown())
      .default({})
      .describe(
        "Terraform state files (format version 4 JSON) by name; the watchdog config's drift.terraformState names them as it would a path or an s3:// location.",
      ),
    /**
     * AWS Systems Manager Change Calendars the emulator serves (GetCalendarState, sandbox/emulator/ssm.ts), in the home
     * account: each a DEFAULT_OPEN calendar that is CLOSED during its `closed` windows, [fromMinute, toMinute). The
     * watchdog config names them in `changeFreeze.calendars`; a name not defined here answers InvalidDocument.
     */
    changeCalendars: z
      .array(
        z
          .object({
            name: z
              .string()
              .regex(/^[A-Za-z0-9_.-]{3,128}$/, 'an SSM document name: 3 to 128 of A-Z a-z 0-9 _ . -')
              .describe('The calendar document name (changeFreeze.calendars names it, or its ARN).'),
            closed: z
              .array(
                z
                  .object({
                    fromMinute: z.number().nonnegative().describe('Minute the calendar closes.'),
                    toMinute: z.number().nonnegative().describe('Minute it opens again (after fromMinute).'),
                  })
                  .strict(),
              )
              .default([])
              .describe('When the calendar is CLOSED (events of a DEFAULT_OPEN calendar), in scenario minutes.'),
          })
          .strict(),
      )
      .default([])
      .describe(
        'SSM Change Calendars the emulator serves (GetCalendarState), each OPEN except during its closed windows; the watchdog config names them in changeFreeze.calendars.',
      ),
    watchdog: z
      .unknown()
      .describe('The watchdog configuration (the format of flink-watchdog.config.json), validated before the run.'),
    expected: ScenarioExpectation.describe(
      'What must happen; the drill checks it at the end and the scenario passes or fails.',
    ),
  })
  .strict();

/**
 * A scenario as the drill runs it (see {@link parseScenario}): `applications` holds every application of the start
 * (the groups expanded), and `faults` holds one fault per application (source outages expanded).
 */
export type Scenario = Omit<z.output<typeof Scenario>, '$schema' | 'applicationGroups' | 'faults'> & {
  faults: Fault[];
};

/**
 * Every application a scenario knows of, with its definition: those of the start, then those its timeline creates
 * (name, account, environment properties, tags, runtime).
 */
export function scenarioApplications(
  scenario: Pick<Scenario, 'applications' | 'timeline'>,
): Array<Pick<ScenarioApplication, 'name' | 'accountId' | 'environmentProperties' | 'tags' | 'runtimeEnvironment'>> {
  return [
    ...scenario.applications,
    ...scenario.timeline.flatMap((e) => (e.action === 'create' ? [{ ...e.definition, name: e.application }] : [])),
  ];
}

/** Whether an application's environment properties name `source` (as a whole value, in any group and key). */
export function readsSource(app: Pick<ScenarioApplication, 'environmentProperties'>, source: string): boolean {
  return Object.values(app.environmentProperties).some((group) => Object.values(group).includes(source));
}

/**
 * A scenario that does not validate. `message` starts `scenario SOURCE:` and lists every problem, one per line when
 * there are several; {@link issues} has them one by one as `path: problem and fix`, the path written like a JavaScript
 * accessor (`timeline[2].application`).
 */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
  /**
   * @param source where the scenario came from (a file path, a bundled name, `test`)
   * @param issues one entry per problem, `path: problem`
   */
  constructor(
    readonly source: string,
    readonly issues: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(
      issues.length === 1
        ? `scenario ${source}: ${issues[0]}`
        : `scenario ${source}: ${issues.length} problems:\n${issues.map((i) => `  ${i}`).join('\n')}`,
      options,
    );
  }
}

/**
 * The schema's problems with `raw`, as `path: problem`: unknown keys one by one with the key they were probably meant
 * as and the allowed keys, a union (faults, job behaviours, timeline steps) reported by the variant it came closest to.
 */
function schemaIssues(raw: unknown): { data?: z.output<typeof Scenario>; issues: string[] } {
  const parsed = Scenario.safeParse(raw, {
    reportInput: true,
    error: (issue) => {
      // The object's allowed keys travel in the message (a JSON array), the only field zod keeps: each variant of a
      // union sees the same input with its own keys.
      if (issue.code === 'unrecognized_keys' && issue.inst instanceof z.ZodObject) {
        return JSON.stringify(Object.keys(issue.inst.shape));
      }
      if (issue.code === 'invalid_union' && issue.note === 'No matching discriminator') {
        // zod's raw issue for an unmatched discriminator carries the key and the allowed values beside the standard fields.
        const { discriminator, options } = issue as { discriminator?: string; options?: readonly unknown[] };
        const got = isObject(issue.input) && discriminator ? issue.input[discriminator] : undefined;
        const allowed = (options ?? []).map((o) => JSON.stringify(o)).join(', ');
        return `${got === undefined ? 'required: ' : ''}must be one of ${allowed}${got === undefined ? '' : ` (got ${JSON.stringify(got)})`}`;
      }
      return configErrorMessage(issue);
    },
  });
  if (parsed.success) return { data: parsed.data, issues: [] };
  const issues: string[] = [];
  const add = (issue: z.core.$ZodIssue, prefix: readonly PropertyKey[]): void => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      // The variant with the fewest problems is the one the author meant.
      const closest = [...issue.errors].sort((a, b) => weight(a) - weight(b))[0] ?? [];
      for (const inner of closest) add(inner, path);
      return;
    }
    if (issue.code !== 'unrecognized_keys') {
      issues.push(`${formatConfigPath(path)}: ${issue.message}`);
      return;
    }
    const allowed = allowedKeysOf(issue.message);
    for (const key of issue.keys) {
      const meant = didYouMean(key, allowed);
      issues.push(
        `${formatConfigPath([...path, key])}: unknown key${meant !== undefined ? ` (did you mean "${meant}"?)` : ''}${allowed.length > 0 ? `; allowed keys: ${allowed.join(', ')}` : ''}`,
      );
    }
  };
  for (const issue of parsed.error.issues) add(issue, []);
  return { issues: [...new Set(issues)] };
}

/** The allowed keys the error map of {@link schemaIssues} put in an unknown-key issue's message; none if it did not. */
function allowedKeysOf(message: string): string[] {
  try {
    const keys: unknown = JSON.parse(message);
    return Array.isArray(keys) ? keys.map(String) : [];
  } catch {
    return [];
  }
}

/** How far a union variant was from the input: its problems, each unknown key counted. */
function weight(issues: readonly z.core.$ZodIssue[]): number {
  return issues.reduce((n, i) => n + (i.code === 'unrecognized_keys' ? i.keys.length : 1), 0);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `a, b, c`, or the first `max` names and how many more. */
function nameList(names: readonly string[], max = 8): string {
  if (names.length === 0) return '(none)';
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

/** An application name known to the scenario: where it is defined and, for a timeline `create`, from which minute. */
interface KnownApplication {
  readonly path: string;
  /** Minute of the `create` step; 0 for the applications of the start. */
  readonly fromMinute: number;
}

/**
 * Checks a schema-valid scenario against itself before anything runs: every name a timeline step, fault, job rule or
 * expectation uses is an application of the scenario; times fall within `durationMinutes`; windows end after they
 * start; accounts exist; the watchdog configuration validates. Returns every problem found (none: an empty list).
 */
function crossCheckIssues(s: z.output<typeof Scenario>, applications: readonly ScenarioApplication[]): string[] {
  const issues: string[] = [];
  const problem = (path: string, message: string) => issues.push(`${path}: ${message}`);
  const duration = s.durationMinutes;

  // Names: the start's applications, the groups' and those the timeline creates, each once.
  const known = new Map<string, KnownApplication>();
  const define = (name: string, where: KnownApplication) => {
    const first = known.get(name);
    if (first !== undefined) {
      problem(where.path, `application "${name}" is already defined (${first.path}); names are unique in a scenario`);
    } else known.set(name, where);
  };
  s.applications.forEach((a, i) => {
    define(a.name, { path: `applications[${i}].name`, fromMinute: 0 });
  });
  s.applicationGroups.forEach((g, i) => {
    for (const name of groupApplicationNames(g)) define(name, { path: `applicationGroups[${i}]`, fromMinute: 0 });
  });
  s.timeline.forEach((e, i) => {
    if (e.action === 'create') define(e.application, { path: `timeline[${i}].application`, fromMinute: e.atMinute });
  });
  if (applications.length === 0) {
    problem('applications', 'at least one application is needed (in applications or applicationGroups)');
  }
  const names = [...known.keys()];
  const unknownApplication = (name: string) =>
    `no application "${name}" in the scenario; known applications: ${nameList(names)}${
      didYouMean(name, names) ? ` (did you mean "${didYouMean(name, names)}"?)` : ''
    }`;

  // Accounts.
  const members = new Set<string>();
  s.accounts.forEach((a, i) => {
    if (members.has(a.accountId)) problem(`accounts[${i}].accountId`, `account ${a.accountId} is listed twice`);
    members.add(a.accountId);
  });
  const checkAccount = (accountId: string | undefined, path: string) => {
    if (accountId !== undefined && !members.has(accountId)) {
      problem(
        path,
        `account ${accountId} is not among the scenario's accounts (${nameList([...members])}): add it to accounts or remove accountId`,
      );
    }
  };
  s.applications.forEach((a, i) => {
    checkAccount(a.accountId, `applications[${i}].accountId`);
  });
  s.applicationGroups.forEach((g, i) => {
    checkAccount(g.accountId, `applicationGroups[${i}].accountId`);
  });
  s.timeline.forEach((e, i) => {
    if (e.action === 'create') checkAccount(e.definition.accountId, `timeline[${i}].definition.accountId`);
  });

  // Times.
  const within = (minute: number, path: string) => {
    if (minute > duration) {
      problem(
        path,
        `minute ${minute} is after the scenario ends (durationMinutes ${duration}): lower it or raise durationMinutes`,
      );
    }
  };
  const window = (from: number, to: number | undefined, path: string) => {
    within(from, `${path}.fromMinute`);
    if (to !== undefined && to <= from) {
      problem(
        `${path}.toMinute`,
        `must be after fromMinute ${from} (got ${to}); omit it for a window that lasts to the end`,
      );
    }
  };

  // Timeline: each step on an application that exists by then.
  s.timeline.forEach((e, i) => {
    const path = `timeline[${i}]`;
    within(e.atMinute, `${path}.atMinute`);
    if (e.action === 'create') return;
    const app = known.get(e.application);
    if (app === undefined) problem(`${path}.application`, unknownApplication(e.application));
    else if (app.fromMinute > e.atMinute) {
      problem(
        `${path}.application`,
        `"${e.application}" is created at minute ${app.fromMinute} (${app.path}), after this ${e.action} at minute ${e.atMinute}: move one of them`,
      );
    }
  });

  // Approval steps: a Slack user written as Slack sends it; an application in approve mode (else nothing asks).
  let approvalConfig: WatchdogConfig | undefined;
  try {
    approvalConfig = parseConfig(s.watchdog, 'watchdog');
  } catch {
    // Reported with the watchdog configuration's own issues below.
  }
  s.timeline.forEach((e, i) => {
    if (e.action !== 'approve' && e.action !== 'reject') return;
    if (e.via === 'slack' && e.by !== undefined && !SLACK_USER_PATTERN.test(e.by)) {
      problem(
        `timeline[${i}].by`,
        `"${e.by}" is not a Slack user: write the user ID and the username, e.g. "U024BE7LH (jane.doe)", or use via cli or console`,
      );
    }
    if (e.action === 'reject' && e.via !== 'slack' && e.reason === undefined) {
      problem(`timeline[${i}].reason`, `required: a reject via ${e.via} says why (recorded on the incident and told)`);
    }
    // Applications of the home account are known to the config by their name (a member account's by NAME@ACCOUNT.REGION).
    const app = s.applications.find((a) => a.name === e.application);
    if (approvalConfig && app && app.accountId === undefined) {
      const mode = policyFor(approvalConfig, e.application).mode;
      if (mode !== 'approve') {
        problem(
          `timeline[${i}].action`,
          `"${e.application}" is in ${mode} mode, so nothing asks for approval and this ${e.action} is always refused: set "mode": "approve" in its policy (or in watchdog.defaults)`,
        );
      }
    }
  });

  // Change calendars: each defined once, each closed window a real window.
  const calendarNames = new Set<string>();
  s.changeCalendars.forEach((c, i) => {
    if (calendarNames.has(c.name)) problem(`changeCalendars[${i}].name`, `calendar ${c.name} is defined twice`);
    calendarNames.add(c.name);
    c.closed.forEach((w, j) => {
      window(w.fromMinute, w.toMinute, `changeCalendars[${i}].closed[${j}]`);
    });
  });

  // Faults: on an application of the scenario, or on a source some application reads.
  s.faults.forEach((f, i) => {
    const path = `faults[${i}]`;
    if ('source' in f) {
      if (!applications.some((a) => readsSource(a, f.source)) && !createdReading(s, f.source)) {
        problem(
          `${path}.source`,
          `no application's environment properties name "${f.source}": use a value of some application's environmentProperties`,
        );
      }
    } else if (!known.has(f.application)) problem(`${path}.application`, unknownApplication(f.application));
    if ('atMinute' in f) within(f.atMinute, `${path}.atMinute`);
    else window(f.fromMinute, f.toMinute, path);
  });

  // Job rules: each names only what the scenario can submit, or it never matches.
  const codeKeys = new Set<string>([
    ...applications.map((a) => a.code.fileKey),
    ...s.timeline.flatMap((e) =>
      e.action === 'create'
        ? [e.definition.code.fileKey]
        : e.action === 'update' && e.change?.codeKey
          ? [e.change.codeKey]
          : [],
    ),
  ]);
  const propertyValues = new Set<string>();
  const addProperties = (props: Record<string, Record<string, string>> | undefined) => {
    for (const [group, kv] of Object.entries(props ?? {})) {
      for (const [key, value] of Object.entries(kv)) propertyValues.add(JSON.stringify([group, key, value]));
    }
  };
  for (const a of applications) addProperties(a.environmentProperties);
  for (const e of s.timeline) {
    if (e.action === 'create') addProperties(e.definition.environmentProperties);
    if (e.action === 'update') addProperties(e.change?.environmentProperties);
  }
  s.jobModel.forEach((rule, i) => {
    const path = `jobModel[${i}].when`;
    const { application, codeKey, property } = rule.when;
    if (application !== undefined && !known.has(application)) {
      problem(`${path}.application`, unknownApplication(application));
    }
    if (codeKey !== undefined && !codeKeys.has(codeKey)) {
      problem(
        `${path}.codeKey`,
        `no application's code.fileKey and no timeline update's change.codeKey is "${codeKey}", so the rule never matches; known code keys: ${nameList([...codeKeys])}`,
      );
    }
    if (property !== undefined && !propertyValues.has(JSON.stringify([property.group, property.key, property.value]))) {
      problem(
        `${path}.property`,
        `no application and no timeline update sets ${property.group}.${property.key} to "${property.value}", so the rule never matches`,
      );
    }
  });

  // Expectations.
  const exp = s.expected;
  if (exp.application !== undefined && !known.has(exp.application)) {
    problem('expected.application', unknownApplication(exp.application));
  }
  exp.untouched.forEach((name, i) => {
    if (!known.has(name)) problem(`expected.untouched[${i}]`, unknownApplication(name));
  });
  exp.runningAtEnd.forEach((pattern, i) => {
    const prefix = pattern.endsWith('*') ? pattern.slice(0, -1) : undefined;
    const matches = prefix === undefined ? known.has(pattern) : names.some((n) => n.startsWith(prefix));
    if (!matches) {
      problem(
        `expected.runningAtEnd[${i}]`,
        `"${pattern}" matches no application; known applications: ${nameList(names)} (a prefix ends in *)`,
      );
    }
  });

  // Slack receiver outages.
  s.slack.outages.forEach((o, i) => {
    window(o.fromMinute, o.toMinute, `slack.outages[${i}]`);
  });

  // The watchdog configuration, as the drill will read it.
  try {
    parseConfig(s.watchdog, 'watchdog');
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const issue of e.issues)
      issues.push(issue.startsWith('(root)') ? `watchdog${issue.slice(6)}` : `watchdog.${issue}`);
  }
  return issues;
}

/** Whether an application created by the timeline reads `source`. */
function createdReading(s: Pick<z.output<typeof Scenario>, 'timeline'>, source: string): boolean {
  return s.timeline.some((e) => e.action === 'create' && readsSource(e.definition, source));
}

/**
 * Validates a scenario and expands it: groups into applications, source outages into per-application outages. A
 * top-level `$schema` (the editor's JSON Schema hint) is accepted and dropped.
 *
 * Two stages, each reporting every problem it finds: the schema (types, ranges, unknown keys by their path), then,
 * for a scenario that passes it, the cross checks (names used by timeline steps, faults, job rules and expectations;
 * times within `durationMinutes`; accounts; the `watchdog` configuration).
 * @param source where the scenario came from, for the message (a file path, `test`)
 * @throws ScenarioError listing every problem as `path: problem`, e.g.
 *   `applications[0].parallelizm: unknown key (did you mean "parallelism"?); allowed keys: ...` or
 *   `timeline[1].application: no application "order-enrichment" in the scenario; known applications: ...`.
 */
export function parseScenario(raw: unknown, source: string): Scenario {
  const { data, issues } = schemaIssues(raw);
  if (data === undefined) throw new ScenarioError(source, issues);
  const { $schema: _editorHint, applicationGroups, faults, ...rest } = data;
  const applications: ScenarioApplication[] = [
    ...rest.applications,
    ...applicationGroups.flatMap(({ namePrefix, count, ...app }) =>
      groupApplicationNames({ namePrefix, count }).map((name) => ({ ...app, name })),
    ),
  ];
  const crossIssues = crossCheckIssues(data, applications);
  if (crossIssues.length > 0) throw new ScenarioError(source, crossIssues);
  const expanded = { ...rest, applications };
  const all = scenarioApplications(expanded);
  const perApplication: Fault[] = faults.flatMap((f) => {
    if (!('source' in f)) return [f];
    const { source: dependency, ...window } = f;
    return all.filter((app) => readsSource(app, dependency)).map((app) => ({ ...window, application: app.name }));
  });
  return { ...expanded, faults: perApplication };
}

/** The part of a scenario the emulator needs. */
export type ScenarioWorld = Pick<Scenario, 'applications' | 'jobModel' | 'faults' | 'startTime'> &
  Partial<Pick<Scenario, 'cloudwatch' | 'changeCalendars' | 'cloudwatchLogs'>>;

/** Folder holding the bundled scenarios: `sandbox/scenarios/` of the package (found from the sources and from dist/). */
export const SCENARIO_DIR = join(packageRoot(), 'sandbox', 'scenarios');

/**
 * Reads and validates one scenario file (see {@link parseScenario}); its `name` must be the file's name.
 * @throws Error when the file is not readable JSON; ScenarioError naming the file and every problem.
 */
export function loadScenarioFile(path: string): Scenario {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new Error(`scenario ${path}: not readable JSON (${(cause as Error).message})`, { cause });
  }
  const fileName = basename(path, '.json');
  const nameIssues =
    isObject(raw) && typeof raw.name === 'string' && raw.name !== fileName
      ? [
          `name: "${raw.name}" must match the file name: rename the file to ${raw.name}.json or set "name": "${fileName}"`,
        ]
      : [];
  try {
    const scenario = parseScenario(raw, path);
    if (nameIssues.length > 0) throw new ScenarioError(path, nameIssues);
    return scenario;
  } catch (e) {
    if (!(e instanceof ScenarioError) || nameIssues.length === 0 || e.issues === nameIssues) throw e;
    throw new ScenarioError(path, [...nameIssues, ...e.issues]);
  }
}

/** Lists bundled scenarios (file names without `.json`), sorted. */
export function listScenarios(dir: string = SCENARIO_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => basename(f, '.json'))
    .sort();
}

/** Loads a bundled scenario by name. @throws Error listing the known names when there is none by that name. */
export function loadScenario(name: string, dir: string = SCENARIO_DIR): Scenario {
  const known = listScenarios(dir);
  if (!known.includes(name)) {
    throw new Error(`unknown scenario "${name}"; known scenarios: ${known.join(', ')}`);
  }
  return loadScenarioFile(join(dir, `${name}.json`));
}
