import { CloudWatchClient, PutMetricAlarmCommand } from '@aws-sdk/client-cloudwatch';
import {
  CreateApplicationCommand,
  type CreateApplicationCommandInput,
  DescribeApplicationCommand,
  KinesisAnalyticsV2Client,
  StartApplicationCommand,
  StopApplicationCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-kinesis-analytics-v2';
import { createDetectorHandler, type DetectorOutput } from '#functions/detector/handler.ts';
import { createReconcilerHandler, reconcilerCellsOf } from '#functions/reconciler/handler.ts';
import { createRemediationHandler } from '#functions/remediation/handler.ts';
import { createRunbookHandler, type RunbookOutput } from '#functions/runbook/handler.ts';
import {
  createSlackInteractionHandler,
  type FunctionUrlResponse,
  SLACK_APPROVE_ACTION_ID,
  SLACK_REJECT_ACTION_ID,
  signedSlackRequest,
} from '#functions/slack-interactions/handler.ts';
import { CloudWatchMetrics } from '#shared/adapters/cloudwatch.ts';
import { CloudWatchAlarms } from '#shared/adapters/cloudwatch-alarms.ts';
import { CloudWatchLogsReader, logsReadersByCell } from '#shared/adapters/cloudwatch-logs.ts';
import { DynamoDbLedger } from '#shared/adapters/dynamodb-ledger.ts';
import { FanOutNotifier, scrubSecrets, type UndeliveredNotification } from '#shared/adapters/fan-out-notifier.ts';
import { fleetAdapters } from '#shared/adapters/fleet-adapters.ts';
import { MsfAdapter, WATCHDOG_USER_AGENT } from '#shared/adapters/msf.ts';
import { RecordingNotifier } from '#shared/adapters/recording-notifier.ts';
import { SlackWebhookNotifier } from '#shared/adapters/slack-notifier.ts';
import { SsmChangeCalendar } from '#shared/adapters/ssm-change-calendar.ts';
import { TaggingAdapter } from '#shared/adapters/tagging.ts';
import { alarmPrefix } from '#shared/alarms.ts';
import type { Clock } from '#shared/clock.ts';
import { parseConfig, policyFor, stuckLimitMinutes, type WatchdogConfig } from '#shared/config/schema.ts';
import { loadDesiredStates } from '#shared/desired/sources.ts';
import { parseTerraformState } from '#shared/desired/terraform.ts';
import { applicationKey } from '#shared/domain/app-key.ts';
import { type AnswerResult, type ApprovalAnswer, answerApproval } from '#shared/domain/approval.ts';
import type { FleetIncident } from '#shared/domain/fleet-incident.ts';
import type { Incident } from '#shared/domain/incident.ts';
import { restartMetricName } from '#shared/domain/model.ts';
import type { FleetWiring } from '#shared/domain/sweep.ts';
import type { WatchInput } from '#shared/domain/watch.ts';
import type { AlarmStateChangeEvent } from '#shared/events/alarm-state-change.ts';
import { renderSnsMessage, type SnsRendering } from '#shared/notify/sns-message.ts';
import type { Log } from '#shared/ports/log.ts';
import { MUTATING_MSF_OPERATIONS } from '#shared/ports/msf.ts';
import type { Notification, Notifier } from '#shared/ports/notifier.ts';
import { SWEEP_STATES } from '../infra/sweep-workflow.ts';
import { type LocalLedgerTable, startLedgerTable } from './dynalite.ts';
import { type Emulator, type EmulatorRole, startEmulator } from './emulator/index.ts';
import { type CounterDatapoint, type RestartLoopFigures, restartLoopFigures } from './loop-figures.ts';
import { type DetectionOnset, detectionOnset } from './onset.ts';
import {
  AWS_DOWNTIME_PEER_ALARM_PREFIX,
  AWS_DOWNTIME_RULE_DESCRIPTION,
  awsRecommendedDowntimeAlarm,
  OPERATOR_OBSERVE_INTERVAL_MS,
  OPERATOR_RULE_DESCRIPTION,
  OperatorRestartHealthCheck,
  type PeerReport,
  peerDetection,
} from './peers.ts';
import {
  type ApprovalStep,
  type Outcome,
  type Scenario,
  SLACK_USER_PATTERN,
  scenarioApplications,
  type TimelineEntry,
} from './scenario.ts';
import { type ReceivedSlackMessage, startSlackReceiver } from './slack-receiver.ts';
import { type LocalExecution, LocalWorkflow, type OnceResult, runOnce } from './workflow.ts';
import { synthesizedSweepWorkflow, synthesizedWatchWorkflow, synthesizedWorkflow } from './workflow-definition.ts';

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
/** Virtual time step of the drill loop (and of a live run), ms. */
export const TICK_MS = 5 * SECOND_MS;
/** Period of the scheduled sweep (the EventBridge schedule in AWS), ms. */
const SWEEP_MS = 5 * MINUTE_MS;
/**
 * Virtual ms per wall ms of the reconciler's cycles when sweeps run with a moving clock (see RunOptions.sweepSpeed):
 * moving, so the emulator's token buckets refill for the SDK's retries, and at wall-clock speed, so that a cycle over
 * 1,000 applications does not put tens of virtual minutes between two sweeps (in AWS the reconciler runs beside the
 * sweep, not between two of them).
 */
const RECONCILE_SPEED = 1;
/** The home account: the watchdog's own (the central operations account of a fleet). */
export const HOME_ACCOUNT_ID = '123456789012';
/** The drill's watchdog instance (alarm names `flink-watchdog-drill-…`, the alarms' instance tag). */
export const DRILL_INSTANCE = 'drill';
/** User agent of the drill's "people" (deploy pipelines): their calls are not the watchdog's. */
const USER_AGENT: [string, string] = ['drill-user', '1'];
/**
 * The Slack app signing secret of the drill's and the sandbox's Slack interactivity handler: local only, never a real
 * app's. The drill's Approve / Reject clicks are signed with it (as Slack signs them) and the handler verifies them.
 */
export const DRILL_SLACK_SIGNING_SECRET = 'drill-local-slack-signing-secret';
/** Who answers an approval step via slack when the step names nobody: a Slack user ID and username. */
export const DRILL_SLACK_USER = 'U0DRILL01 (drill.oncall)';
/** Who answers an approval step via cli when the step names nobody: the caller the CLI would send (`requestedBy`). */
export const DRILL_CLI_CALLER = `arn:aws:iam::${HOME_ACCOUNT_ID}:user/drill-oncall`;
/** The `response_url` of the drill's Slack clicks: the handler's reply to the clicker is captured, never sent. */
const DRILL_SLACK_RESPONSE_URL = 'https://hooks.slack.com/actions/T0WATCHDOG/drill/response';

/** One line of a scenario's timeline, in virtual time. */
export interface TimelineLine {
  atMs: number;
  /**
   * user, msf, job, alarm, ignored (an alarm that led to no new decision, and the detector's reason), detect, decide,
   * call, notify, incident, error.
   */
  actor: string;
  text: string;
}

/** A watchdog mutating MSF call, as the emulator saw it. */
export interface ActionLine {
  atMs: number;
  /** MSF ApplicationName of the call. */
  application: string;
  /** The account the call was answered in (the caller's: a member account through its assumed role). */
  accountId: string;
  operation: string;
  input: unknown;
  errorType?: string;
}

/** One notification's delivery to one channel (the local Slack receiver, the SNS capture). */
export interface DeliveryLine {
  channel: string;
  event: Notification['event'];
  incidentId: string;
  atMs: number;
  delivered: boolean;
  /** Why it was not delivered (after the channel's retries). */
  error?: string;
}

/** The result of one scenario. */
export interface ScenarioReport {
  name: string;
  title: string;
  expected: Outcome;
  outcome: Outcome;
  passed: boolean;
  /** Why it failed, when it did. */
  failures: string[];
  /**
   * The onset of the detected incident (`incidentId`: the decisive incident when its finding gives an onset, else the
   * earliest incident on the application that does), from the world (emulator), by the kind of the incident's finding
   * (sandbox/onset.ts): the first
   * restart of the looping job (RESTART_LOOP); the EndTime of the FAILED operation (DEPLOY_FAILED, ROLLED_BACK); the
   * operation's StartTime + the stuck limit (STUCK_TRANSITION); the time the application entered the unexpected status
   * (UNEXPECTED_STATUS). null without an incident, or when the evidence is absent. Restarts and statuses are seen at
   * the drill's 5-second tick, so those onsets are up to 5 s late (detection up to 5 s shorter than exact).
   */
  detectionOnset: (DetectionOnset & { incidentId: string }) | null;
  /**
   * Virtual seconds from the onset to the detector's decision (the detected incident's openedMs), for every outcome
   * with an incident: RECOVERED, ESCALATED, NOTIFIED and OBSERVED alike. null without an incident or an onset.
   */
  detectionSeconds: number | null;
  /**
   * Virtual seconds from the onset to the watchdog's first mutating MSF call on the application (what
   * `detectionSeconds` meant before it measured the decision); null without such a call.
   */
  firstActionSeconds: number | null;
  /** Virtual seconds from the onset to the incident's RESOLVED (closedMs); null when not recovered. */
  recoverySeconds: number | null;
  /** The peer rules (Flink Kubernetes Operator health check, AWS's recommended downtime alarm) on the same run. */
  peers: PeerReport;
  /**
   * For a restart loop (onset rule first-restart): when the threshold-th restart's datapoint could first be seen
   * (period end + the scenario's metrics delay), the decision's lag behind it, and the looping job's restart count at
   * the first mutating call (sandbox/loop-figures.ts). null otherwise.
   */
  restartLoop: RestartLoopFigures | null;
  actions: ActionLine[];
  mutatingCalls: number;
  /** Every MSF call the watchdog made (reads included), in order. */
  watchdogCalls: ActionLine[];
  startMs: number;
  timeline: TimelineLine[];
  incidents: Incident[];
  /** CPU time of the detector per alarm event, ms (for the bench). */
  detectorCpuMs: number[];
  /** The remediation workflow executions (the synthesized Step Functions definition, run locally). */
  executions: LocalExecution[];
  /** Workflow starts refused because an execution with that name (the incident id) existed, count. */
  duplicateStarts: number;
  /** Every notification's delivery per channel. */
  notifications: DeliveryLine[];
  /** What the Slack receiver got (attempts included: a retried message appears once per attempt). */
  slackRequests: number;
  /** The versioned SNS runbook messages that would have been published. */
  snsMessages: SnsRendering[];
  /** Notifications that went to the dead-letter queue. */
  deadLetters: UndeliveredNotification[];
  /** Fleet incidents (correlated restart loops) of the run, as the ledger holds them at the end. */
  fleetIncidents: FleetIncident[];
  /** The most remediation workflow executions RUNNING at once, seen at any drill tick (count). */
  maxConcurrentRemediations: number;
  /** Notifications that asked a person to act (see {@link isPage}), count. */
  pages: number;
  /** Every sweep (the sweep state machine's runs), the one before the scenario first. */
  sweeps: SweepRun[];
  /** Wall time the scenario took, ms. */
  wallMs: number;
  /** The expected application (the scenario's `expected.application`, else its first): the figures are about it. */
  application: string;
  /** Expected application: its job's restart counter (count) each time it changed, seen at the 5-second tick. */
  restartCounter: Array<{ atMs: number; restarts: number }>;
  /** Expected application: each ApplicationStatus it entered and when (seen at the 5-second tick), in order. */
  statusEntries: Array<{ status: string; atMs: number }>;
  /** Every request the Slack receiver got (`{ text, blocks }`, retried attempts included) and its answer, in order. */
  slackMessages: ReceivedSlackMessage[];
}

/** The watchdog's API calls in one account during a sweep, as the emulator answered them (counts). */
export interface SweepAccountCalls {
  /** MSF (kinesisanalytics) requests. */
  msf: number;
  /** GetMetricData requests, and the metric queries they carried. */
  getMetricData: number;
  getMetricDataMetrics: number;
  /** Other CloudWatch requests (DescribeAlarms, PutMetricAlarm, ListTagsForResource …). */
  cloudWatchOther: number;
  /** Resource Groups Tagging API requests. */
  tagging: number;
  /** STS requests (AssumeRole of the member role; made in the home account). */
  sts: number;
  /** Requests answered with a throttling error (any service). */
  throttled: number;
}

/** One run of the sweep state machine in the drill. */
export interface SweepRun {
  /** Virtual time the sweep started, epoch ms. */
  atMs: number;
  /** Virtual time its last LookBatch (or the Plan, without batches) returned, epoch ms. */
  lastLookEndMs: number;
  /**
   * Whether the sweep state machine's timeout ended it: the figures then hold what it did, its LookBatches already
   * running counted to their end, and an `error` timeline line says so.
   */
  timedOut: boolean;
  /** LookBatch invocations (child executions of the Look map), count. */
  batches: number;
  /** Applications watched and flagged for a closer look (something off), count. */
  watched: number;
  flagged: number;
  /** Applications given a close look by the rotation (`fleet.sweep.closeLookMinutes`) though nothing was off, count. */
  rotated: number;
  /** Detector invocations (Plan + LookBatch), count, and their wall time summed, ms. */
  invocations: number;
  invocationWallMs: number;
  /** Wall time of the LookBatch invocations summed, ms (the Express child executions' duration). */
  lookWallMs: number;
  /** Standard state transitions: states entered by the sweep execution plus one per child execution. */
  standardTransitions: number;
  /** The watchdog's calls per account (12-digit id). */
  calls: Record<string, SweepAccountCalls>;
  /** Ledger calls during the sweep, and the size of the fleet memory it saved (bytes). */
  ledger: LedgerCounts;
}

/**
 * Whether a notification is a page: it asks a person to act. ESCALATED (the watchdog gave up, or a fleet incident
 * opened: many applications failing together, their automatic restarts held; its notification carries `fleet`) and
 * NOTIFIED (policy says tell, or nothing safe to do) and APPROVAL_REQUESTED (approve mode asks people to approve or
 * reject the action) do. OPENED, ACTION_TAKEN, RESOLVED, OBSERVED, APPROVAL_ANSWERED and HELD only inform.
 * The drill's `pages` expectation counts these, once per notification whatever the channels.
 */
export function isPage(n: Pick<Notification, 'event'>): boolean {
  return n.event === 'ESCALATED' || n.event === 'NOTIFIED' || n.event === 'APPROVAL_REQUESTED';
}

/**
 * The member stacks' remediation roles for the emulator's STS: `roleName` in each of the scenario's `accounts`,
 * trusting the home account with the account's ExternalId; with an `optInTag` in the watchdog config, the role may
 * mutate only applications carrying it (the member stack's `aws:ResourceTag` condition).
 */
export function memberRoles(scenario: Scenario, config: WatchdogConfig, homeAccountId: string): EmulatorRole[] {
  return scenario.accounts.map((a) => ({
    roleArn: `arn:aws:iam::${a.accountId}:role/${a.roleName}`,
    trustedAccountId: homeAccountId,
    externalId: a.externalId,
    ...(config.optInTag ? { permissions: { msfMutateOnlyTag: { ...config.optInTag } } } : {}),
  }));
}

/**
 * The drill's clock: virtual time that the drill loop moves (a VirtualClock's `advanceTo`), except while
 * {@link DrillClock.flowing} runs, when it moves with the wall clock (1 virtual ms per wall ms): how the fleet bench
 * times a sweep, so the SDK's retry backoff (wall time) and the emulator's token buckets (virtual time) see the same
 * seconds. Never goes back.
 */
export class DrillClock implements Clock {
  #now: number;
  #flow: { wallMs: number; virtualMs: number; speed: number } | undefined;

  /** @param startMs the virtual start, epoch ms. */
  constructor(startMs: number) {
    this.#now = startMs;
  }

  now(): number {
    const f = this.#flow;
    return f ? f.virtualMs + Math.floor((performance.now() - f.wallMs) * f.speed) : this.#now;
  }

  /** Moves the clock to `epochMs` if it lies ahead; never moves it back. @returns the new now, epoch ms */
  advanceTo(epochMs: number): number {
    const now = this.now();
    this.#now = Math.max(now, epochMs);
    if (this.#flow) this.#flow = { ...this.#flow, wallMs: performance.now(), virtualMs: this.#now };
    return this.#now;
  }

  /**
   * Runs `fn` with the clock moving `speed` virtual ms per wall ms (1: wall-clock speed), then stops it where it got to.
   */
  async flowing<T>(fn: () => Promise<T>, speed = 1): Promise<T> {
    this.#flow = { wallMs: performance.now(), virtualMs: this.#now, speed };
    try {
      return await fn();
    } finally {
      this.#now = this.now();
      this.#flow = undefined;
    }
  }
}

/** Ledger methods that only read (the rest write), for the per-sweep ledger counts. */
const LEDGER_READS = /^(get|list|load|open|lock|attempts|remediationSlots|current|automationPause)/;

/** Ledger calls by kind, and the size of the fleet memory last saved, bytes. */
export interface LedgerCounts {
  reads: number;
  writes: number;
  fleetMemoryBytes: number;
}

/** The ledger, counting its calls into `counts` (reads and writes by method name; see LEDGER_READS). */
function countingLedger<L extends object>(ledger: L, counts: LedgerCounts): L {
  return new Proxy(ledger, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]) => {
        if (LEDGER_READS.test(prop)) counts.reads += 1;
        else counts.writes += 1;
        if (prop === 'saveFleetMemory') counts.fleetMemoryBytes = JSON.stringify(args[0]).length;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** A log that keeps errors and warnings as timeline lines and drops the rest. */
function timelineLog(clock: Clock, lines: TimelineLine[]): Log {
  const push =
    (actor: string) =>
    (message: string, ...extra: unknown[]) => {
      const detail = extra.length ? ` ${JSON.stringify(extra[0])}` : '';
      lines.push({ atMs: clock.now(), actor, text: `${message}${detail}` });
    };
  return { debug() {}, info() {}, warn: push('warn'), error: push('error') };
}

function incidentOutcome(incident: Incident | undefined): Outcome {
  if (!incident) return 'NO_INCIDENT';
  switch (incident.status) {
    case 'RESOLVED':
      return 'RECOVERED';
    case 'ESCALATED':
      return 'ESCALATED';
    case 'NOTIFIED':
      return 'NOTIFIED';
    case 'OBSERVED':
      return 'OBSERVED';
    case 'REMEDIATING':
      return 'NO_INCIDENT';
  }
}

/** CreateApplication's input for a timeline `create` (MSF API reference, CreateApplication). */
function createApplicationInput(
  name: string,
  definition: CreateDefinition,
  accountId: string,
  region: string,
): CreateApplicationCommandInput {
  const groups = Object.entries(definition.environmentProperties).map(([PropertyGroupId, PropertyMap]) => ({
    PropertyGroupId,
    PropertyMap,
  }));
  const checkpoint = definition.checkpointConfiguration;
  return {
    ApplicationName: name,
    RuntimeEnvironment: definition.runtimeEnvironment as CreateApplicationCommandInput['RuntimeEnvironment'],
    // The service execution role is required; the emulator does not assume it.
    ServiceExecutionRole: `arn:aws:iam::${accountId}:role/${name}-service-role`,
    ApplicationConfiguration: {
      ApplicationCodeConfiguration: {
        CodeContentType: 'ZIPFILE',
        CodeContent: {
          S3ContentLocation: {
            BucketARN: `arn:aws:s3:::${definition.code.bucket}`,
            FileKey: definition.code.fileKey,
            ...(definition.code.objectVersion ? { ObjectVersion: definition.code.objectVersion } : {}),
          },
        },
      },
      ...(groups.length ? { EnvironmentProperties: { PropertyGroups: groups } } : {}),
      FlinkApplicationConfiguration: {
        ParallelismConfiguration: {
          ConfigurationType: 'CUSTOM',
          Parallelism: definition.parallelism,
          ParallelismPerKPU: definition.parallelismPerKPU,
          AutoScalingEnabled: definition.autoScalingEnabled,
        },
        CheckpointConfiguration: {
          ConfigurationType: checkpoint.configurationType,
          ...(checkpoint.configurationType === 'CUSTOM'
            ? {
                CheckpointingEnabled: checkpoint.checkpointingEnabled,
                CheckpointInterval: checkpoint.checkpointInterval,
                MinPauseBetweenCheckpoints: checkpoint.minPauseBetweenCheckpoints,
              }
            : {}),
        },
      },
      ApplicationSnapshotConfiguration: { SnapshotsEnabled: definition.snapshotsEnabled },
      ApplicationSystemRollbackConfiguration: { RollbackEnabled: definition.systemRollbackEnabled },
    },
    // The console's default logging option: log group /aws/kinesis-analytics/NAME, stream kinesis-analytics-log-stream
    // (https://docs.aws.amazon.com/managed-flink/latest/java/cloudwatch-logs.html).
    CloudWatchLoggingOptions: [
      {
        LogStreamARN: `arn:aws:logs:${region}:${accountId}:log-group:/aws/kinesis-analytics/${name}:log-stream:kinesis-analytics-log-stream`,
      },
    ],
    ...(Object.keys(definition.tags).length
      ? { Tags: Object.entries(definition.tags).map(([Key, Value]) => ({ Key, Value })) }
      : {}),
  };
}

type CreateDefinition = Extract<TimelineEntry, { action: 'create' }>['definition'];

/** What a person does (a timeline entry), with the SDK client of the application's account; the timeline's text. */
async function userAction(
  msf: KinesisAnalyticsV2Client,
  entry: Exclude<TimelineEntry, ApprovalStep>,
  accountId: string,
): Promise<string> {
  const name = entry.application;
  const note = entry.note ? ` (${entry.note})` : '';
  switch (entry.action) {
    case 'start':
      await msf.send(
        new StartApplicationCommand({
          ApplicationName: name,
          RunConfiguration: {
            ApplicationRestoreConfiguration: { ApplicationRestoreType: 'RESTORE_FROM_LATEST_SNAPSHOT' },
          },
        }),
      );
      return `StartApplication ${name}${note}`;
    case 'stop':
      await msf.send(new StopApplicationCommand({ ApplicationName: name, ...(entry.force ? { Force: true } : {}) }));
      return `StopApplication ${name}${entry.force ? ' (Force)' : ''}${note}`;
    case 'create': {
      const region = await msf.config.region();
      await msf.send(new CreateApplicationCommand(createApplicationInput(name, entry.definition, accountId, region)));
      // A new application has no snapshot to restore from.
      await msf.send(
        new StartApplicationCommand({
          ApplicationName: name,
          RunConfiguration: {
            ApplicationRestoreConfiguration: { ApplicationRestoreType: 'SKIP_RESTORE_FROM_SNAPSHOT' },
          },
        }),
      );
      const tags = Object.entries(entry.definition.tags).map(([k, v]) => `${k}=${v}`);
      return `CreateApplication ${name} in ${accountId}${tags.length ? ` tagged ${tags.join(', ')}` : ''}, StartApplication${note}`;
    }
    case 'tag':
    case 'untag': {
      const described = await msf.send(new DescribeApplicationCommand({ ApplicationName: name }));
      const arn = described.ApplicationDetail?.ApplicationARN ?? '';
      if (entry.action === 'tag') {
        await msf.send(
          new TagResourceCommand({
            ResourceARN: arn,
            Tags: Object.entries(entry.tags).map(([Key, Value]) => ({ Key, Value })),
          }),
        );
        return `TagResource ${name}: ${Object.entries(entry.tags)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')}${note}`;
      }
      await msf.send(new UntagResourceCommand({ ResourceARN: arn, TagKeys: entry.tagKeys }));
      return `UntagResource ${name}: ${entry.tagKeys.join(', ')}${note}`;
    }
    case 'update': {
      const user = new MsfAdapter({ client: msf });
      const current = await user.describeApplication(name);
      const change = entry.change ?? {};
      await user.updateApplication(name, {
        conditionalToken: current.conditionalToken ?? '',
        ...(change.codeKey && current.code
          ? { code: { bucketArn: current.code.bucketArn, fileKey: change.codeKey } }
          : {}),
        ...(change.environmentProperties ? { environmentProperties: change.environmentProperties } : {}),
        ...(change.parallelism ? { parallelism: { parallelism: change.parallelism } } : {}),
      });
      const what = [
        change.codeKey ? `code ${change.codeKey}` : '',
        ...Object.entries(change.environmentProperties ?? {}).flatMap(([g, m]) =>
          Object.entries(m).map(([k, v]) => `${g}.${k}=${v}`),
        ),
        change.parallelism ? `parallelism ${change.parallelism}` : '',
      ].filter(Boolean);
      return `UpdateApplication ${name}: ${what.join(', ')}${note}`;
    }
  }
}

/**
 * The restart counter's 1-minute Maximum datapoints of an application as CloudWatch stored them, read with the
 * watchdog's own CloudWatch adapter (GetMetricData, paged) on the people's client, so the read is not the watchdog's.
 */
async function counterDatapoints(
  metrics: CloudWatchMetrics,
  applicationName: string,
  metricName: string,
  fromMs: number,
  toMs: number,
): Promise<CounterDatapoint[]> {
  const series = await metrics.getSeries(applicationName, [metricName], fromMs, toMs);
  return (series[metricName]?.points ?? []).map((p) => ({ periodStartMs: p.timestampMs, value: p.value }));
}

/** The interactive elements (buttons) in a Slack message's blocks, at any depth: their `action_id` and `value`. */
function slackButtons(blocks: unknown): Array<{ action_id: string; value: string }> {
  const found: Array<{ action_id: string; value: string }> = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) for (const n of node) visit(n);
    else if (typeof node === 'object' && node !== null) {
      const o = node as Record<string, unknown>;
      if (typeof o.action_id === 'string' && typeof o.value === 'string') {
        found.push({ action_id: o.action_id, value: o.value });
      }
      for (const v of Object.values(o)) visit(v);
    }
  };
  visit(blocks);
  return found;
}

/**
 * The SNS Lambda event of one message published to the command topic (https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html),
 * with the `command` message attribute the CLI sets: what the runbook handler gets from the topic's subscription.
 */
function snsCommandEvent(topicArn: string, message: { command: string }, messageId: string, atMs: number): unknown {
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: `${topicArn}:${messageId}`,
        Sns: {
          Type: 'Notification',
          MessageId: messageId,
          TopicArn: topicArn,
          Subject: null,
          Message: JSON.stringify(message),
          Timestamp: new Date(atMs).toISOString(),
          MessageAttributes: { command: { Type: 'String', Value: message.command } },
        },
      },
    ],
  };
}

function describeAlarm(e: AlarmStateChangeEvent): string {
  return `${e.detail.alarmName} ${e.detail.previousState.value} → ${e.detail.state.value}`;
}

/** What a live run (`flink-watchdog sandbox --scenario`) serves besides the emulator, given to {@link LiveDrive.ready}. */
export interface LiveHarness {
  /** The MSF + CloudWatch + STS + Tagging emulator, on the drill's stepped virtual clock. */
  readonly emulator: Emulator;
  /** The ledger table on dynalite (DynamoDB on 127.0.0.1). */
  readonly ledger: LocalLedgerTable;
  /** The watchdog config the run uses (the scenario's, with its metrics delay). */
  readonly config: WatchdogConfig;
  /** ARN of the command topic the runbook handler accepts commands from (`arn:aws:sns:REGION:ACCOUNT:NAME`). */
  readonly commandTopicArn: string;
  /**
   * Delivers an SNS Lambda event (`Records[].Sns`) of the command topic to the runbook handler, between two ticks of the
   * run (never during one), as the topic's subscription does in AWS.
   */
  runbook(event: unknown): Promise<RunbookOutput>;
  /**
   * Answers incident `incidentId`'s approval request (approve mode) as the sandbox console does
   * ({@link answerApproval} with the run's ledger and its remediation workflow's task tokens), between two ticks of the
   * run (never during one), and puts the answer on the run's timeline.
   */
  answerApproval(incidentId: string, answer: ApprovalAnswer): Promise<AnswerResult>;
  /**
   * Delivers a request to the run's Slack interactivity endpoint (the real handler, verifying with
   * {@link DRILL_SLACK_SIGNING_SECRET}; see `signedSlackRequest`), between two ticks of the run.
   */
  slackInteraction(
    request: Parameters<ReturnType<typeof createSlackInteractionHandler>>[0],
  ): Promise<FunctionUrlResponse>;
  /** Every request the local Slack receiver got so far (`{ text, blocks }` as sent, retries included), in order. */
  readonly slackMessages: readonly ReceivedSlackMessage[];
}

/**
 * Drives a run in real time instead of as fast as possible: the run's virtual clock steps 5 s at a time, each step
 * once {@link waitFor} says the driving clock (the sandbox's, see sandbox/live.ts) has reached it. A live run has no end
 * of its own: it ends when `waitFor` resolves false, and then reports as a drill run does.
 */
export interface LiveDrive {
  /** Called once the world is up (the sweep before the scenario done), before the first step. */
  ready(harness: LiveHarness): void | Promise<void>;
  /** Resolves true once the driving clock has reached `atMs` (epoch ms), false when the run must stop. */
  waitFor(atMs: number): Promise<boolean>;
  /** Called after each step, with the virtual time it brought the world to (epoch ms). */
  stepped?(atMs: number): void;
}

/** Options of {@link runScenario}. */
export interface RunOptions {
  /**
   * Run live: step the virtual clock as `live` says, with no end of its own, and also serve the command topic (the
   * runbook handler). @default undefined: the scenario runs its `durationMinutes` at once (the drill)
   */
  live?: LiveDrive;
  /** Called with each timeline line as it happens (live output). */
  onLine?: (line: TimelineLine) => void;
  /**
   * Sweeps run with the virtual clock moving: `sweepSpeed(i)` virtual ms per wall ms during the i-th sweep (0: the
   * sweep before the scenario; 1 = wall-clock speed; see {@link DrillClock.flowing}), so a sweep takes virtual time
   * and the emulator's token buckets refill as the SDK's retries wait (the fleet bench's sweep duration under
   * throttling). The reconciler's cycles then run at RECONCILE_SPEED. Timings vary from run to run.
   * @default undefined: the clock stands still during a sweep (deterministic)
   */
  sweepSpeed?: (index: number) => number;
  /**
   * Called just before the i-th sweep (0: the one before the scenario) with the emulator, the drill's virtual clock
   * standing still: what happens in the world right before it (e.g. the fleet bench's worst case sets every restart
   * alarm to ALARM with SetAlarmState, so the sweep's plan flags every application).
   */
  beforeSweep?: (index: number, emulator: Emulator) => void | Promise<void>;
}

/**
 * Runs one scenario end to end on a fresh emulator: the real detector and remediation handlers, the real SDK
 * clients pointed at 127.0.0.1, a virtual clock, the ledger on dynalite (DynamoDB on 127.0.0.1), and the remediation
 * workflow as synthesized from the CDK construct, run by aws-local-stepfunctions. Deterministic for a given scenario.
 */
export async function runScenario(scenario: Scenario, options: RunOptions = {}): Promise<ScenarioReport> {
  const wallStart = performance.now();
  const startMs = Date.parse(scenario.startTime);
  const live = options.live;
  let endMs = live ? Number.POSITIVE_INFINITY : startMs + scenario.durationMinutes * MINUTE_MS;
  const clock = new DrillClock(startMs);
  const parsedConfig: WatchdogConfig = parseConfig(scenario.watchdog, `scenario ${scenario.name} (watchdog)`);
  // The watchdog is told the scenario's metric delay (as a deployment would set `detection.metricsDelaySeconds`), so
  // its watches look when a new datapoint can first be read; a scenario's own watchdog setting wins.
  const config: WatchdogConfig = {
    ...parsedConfig,
    detection: { metricsDelaySeconds: scenario.cloudwatch.metricsDelaySeconds, ...parsedConfig.detection },
  };
  const timeline: TimelineLine[] = [];
  const line = (actor: string, text: string) => {
    const l = { atMs: clock.now(), actor, text };
    timeline.push(l);
    options.onLine?.(l);
  };
  const workflowDefinition = synthesizedWorkflow(config);
  const watchDefinition = synthesizedWatchWorkflow(config);
  // The local engine's variant of the sweep state machine (a failed LookBatch ends its own item only).
  const sweepDefinition = { definition: synthesizedSweepWorkflow(config).localDefinition };
  const emulator: Emulator = await startEmulator({
    clock,
    world: scenario,
    roles: memberRoles(scenario, config, HOME_ACCOUNT_ID),
    accountId: HOME_ACCOUNT_ID,
    ...(scenario.throttle ? { throttle: scenario.throttle } : {}),
  });
  const table = await startLedgerTable();
  const slackReceiver = await startSlackReceiver({
    clock,
    outages: scenario.slack.outages.map((o) => ({
      fromMs: startMs + o.fromMinute * MINUTE_MS,
      ...(o.toMinute === undefined ? {} : { toMs: startMs + o.toMinute * MINUTE_MS }),
      mode: o.mode,
    })),
  });
  try {
    const region = emulator.region;
    const credentials = { accessKeyId: 'drill', secretAccessKey: 'drill' };
    const base = { endpoint: emulator.endpoint, region, credentials, maxAttempts: 1 };
    const home = { accountId: emulator.accountId, region };
    // People act in the application's own account: the emulator takes a 12-digit access key id as that account.
    const known = scenarioApplications(scenario);
    const accountOf = new Map(known.map((a) => [a.name, a.accountId ?? home.accountId] as const));
    const accountOfApp = (name: string) => accountOf.get(name) ?? home.accountId;
    /** The application key the watchdog knows an application by (bare name at home, NAME@ACCOUNT.REGION else). */
    const keyOf = (name: string) => applicationKey({ name, accountId: accountOfApp(name), region }, home);
    const userClients = new Map<string, { msf: KinesisAnalyticsV2Client; cw: CloudWatchClient }>();
    const userIn = (accountId: string) => {
      let clients = userClients.get(accountId);
      if (!clients) {
        const own = {
          ...base,
          credentials: { accessKeyId: accountId === home.accountId ? 'drill' : accountId, secretAccessKey: 'drill' },
          customUserAgent: [USER_AGENT],
        };
        clients = { msf: new KinesisAnalyticsV2Client(own), cw: new CloudWatchClient(own) };
        userClients.set(accountId, clients);
      }
      return clients;
    };
    const userMsfIn = (accountId: string) => userIn(accountId).msf;

    // Peer rule: AWS's recommended downtime alarm on the expected application, a real alarm beside the watchdog's
    // (sandbox/peers.ts), made by the application's team. The watchdog's own alarms are made by its alarm manager at
    // the sweep before the scenario.
    const peerApp = scenario.expected.application ?? scenario.applications[0]?.name ?? '';
    await userIn(accountOfApp(peerApp)).cw.send(new PutMetricAlarmCommand(awsRecommendedDowntimeAlarm(peerApp)));

    const ledgerCounts: LedgerCounts = { reads: 0, writes: 0, fleetMemoryBytes: 0 };
    const ledger = countingLedger(
      new DynamoDbLedger({ tableName: table.tableName, client: table.client }),
      ledgerCounts,
    );
    const log = timelineLog(clock, timeline);
    // Notifications: the timeline's record, a local Slack webhook receiver and an SNS capture, through the same
    // fan-out as in AWS (a failed delivery is retried, recorded on the incident and dead-lettered).
    const recorded = new RecordingNotifier();
    const deliveries: DeliveryLine[] = [];
    const deadLetters: UndeliveredNotification[] = [];
    const snsMessages: SnsRendering[] = [];
    const tracked = (channel: string, inner: Notifier): Notifier => ({
      notify: async (n) => {
        const base = { channel, event: n.event, incidentId: n.incident.id, atMs: n.atMs };
        try {
          await inner.notify(n);
          deliveries.push({ ...base, delivered: true });
        } catch (e) {
          deliveries.push({
            ...base,
            delivered: false,
            error: scrubSecrets(e instanceof Error ? e.message : String(e)),
          });
          throw e;
        }
      },
    });
    const notifier = new FanOutNotifier({
      channels: [
        {
          name: 'slack',
          notifier: tracked(
            'slack',
            // Short timeouts and retry delays: the drill's wall time, not the behaviour, is what they change.
            new SlackWebhookNotifier({
              webhookUrl: async () => slackReceiver.url,
              region,
              timeoutMs: 250,
              retries: 2,
              minRetryDelayMs: 10,
            }),
          ),
        },
        { name: 'sns', notifier: tracked('sns', { notify: async (n) => void snsMessages.push(renderSnsMessage(n)) }) },
        { name: 'timeline', notifier: recorded },
      ],
      ledger,
      deadLetter: async (u) => void deadLetters.push(u),
      log,
    });
    // The watchdog's clients per cell (home, and each member account through STS AssumeRole with its ExternalId),
    // with the adaptive retry mode; one attempt per call unless the scenario throttles (then the SDK's 3).
    const adapters = fleetAdapters({
      config,
      home,
      instance: DRILL_INSTANCE,
      clientOptions: {
        endpoint: emulator.endpoint,
        credentials,
        maxAttempts: scenario.throttle ? 3 : 1,
        clock,
      },
    });
    const fleet: FleetWiring = {
      instance: DRILL_INSTANCE,
      cells: adapters.cells.cells().map((cell) => ({
        ...(adapters.cells.isHome(cell) ? {} : { accountId: cell.accountId, region: cell.region }),
        msf: new MsfAdapter({ client: adapters.clients.msf(cell) }),
        tagging: new TaggingAdapter({ client: adapters.clients.tagging(cell) }),
        alarms: new CloudWatchAlarms({ client: adapters.clients.cloudWatch(cell) }),
      })),
    };
    const deps = {
      msf: adapters.msf,
      metrics: adapters.metrics,
      ledger,
      notifier,
      config,
      clock,
      log,
    };
    // The watchdog's change calendars (changeFreeze.calendars) are read from the emulator's SSM, in the home account.
    const calendars = new SsmChangeCalendar({
      clientConfig: { ...base, customUserAgent: [WATCHDOG_USER_AGENT] },
    });
    const remediation = createRemediationHandler({ ...deps, calendars });
    const workflow = new LocalWorkflow({ workflow: workflowDefinition, step: remediation, clock });
    // Approve mode: an answer is recorded on the incident and handed to the waiting remediation workflow, whose local
    // runner takes the task token (Step Functions' SendTaskSuccess in AWS).
    const answerDeps = { ledger, tokens: workflow, clock, log, notifier };
    /** The last answer's result (the Slack handler tells it to the clicker only). */
    let lastAnswer: AnswerResult | undefined;
    const answer = async (incidentId: string, a: ApprovalAnswer): Promise<AnswerResult> => {
      lastAnswer = await answerApproval(incidentId, a, answerDeps);
      return lastAnswer;
    };
    /** The result of the last answer given since `lastAnswer` was cleared (read through a call: set in `answer`). */
    const answered = (): AnswerResult | undefined => lastAnswer;
    /** The handler's replies to the clicker (what Slack would show them), captured at the response_url. */
    const slackReplies: string[] = [];
    const slackInteraction = createSlackInteractionHandler({
      signingSecret: async () => DRILL_SLACK_SIGNING_SECRET,
      answer,
      clock,
      log,
      respond: async (_url, message) => void slackReplies.push(message.text),
    });
    // Watches (Step Functions in AWS): the synthesized watch workflow, its Check Task bound to the detector.
    const watchWorkflow = new LocalWorkflow<DetectorOutput & WatchInput>({
      workflow: watchDefinition,
      step: async (event) => {
        const out = await runDetector(event);
        echo(out);
        return out as DetectorOutput & WatchInput;
      },
      clock,
      nameOf: (input) => input.watch.name,
    });
    const detector = createDetectorHandler({
      ...deps,
      fleet,
      home,
      // A restart loop's root cause, from the emulator's CloudWatch Logs: the home account's with the watchdog's own
      // credentials, a member account's through its member role (STS AssumeRole).
      logsFor: logsReadersByCell(
        adapters.cells,
        adapters.clients,
        new CloudWatchLogsReader({ clientConfig: { ...base, customUserAgent: [WATCHDOG_USER_AGENT] } }),
        { endpoint: emulator.endpoint, maxAttempts: 1, customUserAgent: [WATCHDOG_USER_AGENT] },
      ),
      starter: workflow,
      watches: {
        start: (input) => watchWorkflow.tryStart({ status: 'OK', results: [], ...input }),
      },
    });
    // Terraform state files come from the scenario, by name.
    const readTerraform = async (source: string) => {
      const state = scenario.terraformStates[source];
      return state === undefined
        ? parseTerraformState('', `${source} (not among the scenario's terraformStates)`)
        : parseTerraformState(JSON.stringify(state), source);
    };
    const reconciler = createReconcilerHandler({
      ...deps,
      starter: workflow,
      desired: () => loadDesiredStates(config, readTerraform),
      cells: reconcilerCellsOf(adapters.cells, adapters.msf),
    });
    const reportedExecutions = new Map<string, string>();
    const reportedWatches = new Map<string, string>();
    /** Live runs: a runbook command waits for the step in progress (tick) to end, and the next one for it. */
    let stepping: Promise<unknown> = Promise.resolve();
    const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
      const run = stepping.then(fn);
      stepping = run.catch(() => {});
      return run;
    };

    const alarmQueue: AlarmStateChangeEvent[] = [];
    // The watchdog's EventBridge rule matches its alarms by name prefix (infra/flink-watchdog.ts): a peer's never
    // reaches the detector.
    // The watchdog's EventBridge rule matches its instance's alarm prefix; a member account's alarm events reach the
    // central bus through the member stack's forwarding rule, with their own `account`. Other accounts have no rule.
    const forwarded = new Set([home.accountId, ...scenario.accounts.map((a) => a.accountId)]);
    const prefix = alarmPrefix(DRILL_INSTANCE);
    // Both rules forward transitions to ALARM only (detail.state.value).
    emulator.onAlarmEvent((e) => {
      if (e.detail.alarmName.startsWith(prefix) && e.detail.state.value === 'ALARM' && forwarded.has(e.account)) {
        alarmQueue.push(e);
      }
    });

    const pendingTimeline = [...scenario.timeline].sort((a, b) => a.atMinute - b.atMinute);
    const lastSeen = new Map<
      string,
      { status: string; versionId: number; restarts: number; failedCheckpoints: number; jobRunning: boolean }
    >();
    /** Expected application: each time a job's restart counter left 0 (its first restart), and each status entered. */
    const firstRestartsMs: number[] = [];
    /** Expected application: each time a job's failed-checkpoint counter left 0 (its first failed checkpoint). */
    const firstFailedCheckpointsMs: number[] = [];
    const statusEntries: Array<{ status: string; atMs: number }> = [];
    let notified = 0;
    let callsSeen = 0;
    const detectorCpuMs: number[] = [];
    const expectedApp = scenario.expected.application ?? scenario.applications[0]?.name ?? '';
    const expectedAccount = accountOfApp(expectedApp);
    const expectedKey = keyOf(expectedApp);
    /** The most remediation workflow executions RUNNING at once, seen at any tick. */
    let maxRunningRemediations = 0;
    // Peer rules on the expected application: the operator's health check, and AWS's downtime alarm's first ALARM as
    // the emulator's CloudWatch produced it.
    const operatorCheck = new OperatorRestartHealthCheck();
    /** Expected application: the job's restart counter each time it changed (the drill's view). */
    const counterSeen: Array<{ atMs: number; restarts: number }> = [];
    let operatorFiredMs: number | null = null;
    let awsAlarmFiredMs: number | null = null;
    const peerAlarmName = `${AWS_DOWNTIME_PEER_ALARM_PREFIX}${expectedApp}`;
    emulator.onAlarmEvent((e) => {
      if (awsAlarmFiredMs !== null || e.detail.alarmName !== peerAlarmName || e.detail.state.value !== 'ALARM') return;
      awsAlarmFiredMs = Date.parse(e.detail.state.timestamp);
      line('peer', `${AWS_DOWNTIME_RULE_DESCRIPTION}: ${e.detail.previousState.value} → ALARM`);
    });

    /** Timeline lines for what the detector found and decided (healthy, ignored and duplicate results are quiet). */
    /** The last result shown per application: a DEFERRED decision repeated at every check is shown once. */
    const lastShown = new Map<string, string>();
    const echo = (out: DetectorOutput) => {
      for (const r of out.results) {
        if (r.result === 'HEALTHY' || r.result === 'IGNORED' || r.result === 'DUPLICATE') continue;
        const repeated = r.result === 'DEFERRED' && lastShown.get(r.applicationName) === 'DEFERRED';
        lastShown.set(r.applicationName, r.result);
        if (repeated) continue;
        if (r.decision?.finding) line('detect', `${r.applicationName}: ${r.decision.finding.summary}`);
        line(
          'decide',
          `${r.applicationName}: ${r.result}${r.incidentId ? ` [${r.incidentId}]` : ''} — ${r.result === 'DEFERRED' ? r.reason : (r.decision?.reason ?? r.reason)}`,
        );
      }
    };
    /** An alarm that fired and led to no new decision: why (the detector's reason), as an `ignored` line. */
    const explainQuiet = (out: DetectorOutput, alarmName: string) => {
      for (const r of out.results) {
        const quiet = r.result === 'HEALTHY' || r.result === 'IGNORED' || r.result === 'DUPLICATE';
        if (quiet || (r.result === 'DEFERRED' && lastShown.get(r.applicationName) === 'DEFERRED'))
          line(
            'ignored',
            `${alarmName} ${r.result}: ${r.reason}${r.watchesStarted?.length ? ` (watch started: ${r.watchesStarted.join(', ')})` : ''}`,
          );
      }
    };
    const runDetector = async (event: unknown): Promise<DetectorOutput> => {
      const cpu = process.cpuUsage();
      const out = await detector(event);
      const used = process.cpuUsage(cpu);
      detectorCpuMs.push((used.user + used.system) / 1000);
      if (out.status === 'REJECTED') line('error', `detector rejected the event: ${out.error}`);
      return out;
    };

    /**
     * One sweep: the sweep state machine as synthesized (Plan → Look, a Distributed Map of LookBatch), its Task states
     * bound to the detector; a summary line when it changed something or flagged an application.
     */
    const sweep = async (t: number): Promise<void> => {
      await options.beforeSweep?.(sweeps.length, emulator);
      const firstCall = emulator.calls.length;
      const ledgerBefore = { ...ledgerCounts };
      let planSummary: NonNullable<DetectorOutput['sweep']>['summary'] | undefined;
      const runSweep = () =>
        runOnce(
          sweepDefinition,
          {
            [SWEEP_STATES.plan]: async (payload) => {
              const out = await runDetector(payload);
              const s = out.sweep?.summary;
              planSummary = s;
              if (s && (s.added || s.removed || s.alarmsCreated || s.alarmsDeleted || s.flagged)) {
                line(
                  'sweep',
                  `${s.watched} watched (${s.tagged} by tag)${s.added ? `, ${s.added} new` : ''}${s.removed ? `, ${s.removed} gone` : ''}${s.alarmsCreated ? `, ${s.alarmsCreated} alarms created` : ''}${s.alarmsDeleted ? `, ${s.alarmsDeleted} alarms deleted` : ''}; ${s.flagged} flagged for a closer look`,
                );
              }
              return out;
            },
            [SWEEP_STATES.lookBatch]: async (payload) => {
              const look = (async () => {
                const out = await runDetector(payload);
                echo(out);
                return out;
              })();
              inFlight.add(look);
              try {
                return await look;
              } finally {
                inFlight.delete(look);
                lookEnds.push(clock.now());
                lookStarts += 1;
              }
            },
          },
          clock,
          { id: `sweep-${t}` },
        );
      /** LookBatch invocations still running, and those that ended (their virtual end), for a timed-out sweep. */
      const inFlight = new Set<Promise<unknown>>();
      const lookEnds: number[] = [];
      let lookStarts = 0;
      const speed = options.sweepSpeed?.(sweeps.length);
      const startedMs = clock.now();
      // The state machine's TimeoutSeconds (below the sweep interval) ends the execution; in Step Functions its Express
      // children already running go on, so their LookBatches run to their end here too, and the sweep is recorded as
      // timed out with what it did.
      const runOrTimeout = async (): Promise<OnceResult | undefined> => {
        try {
          return await runSweep();
        } catch (e) {
          if ((e as Error).name !== 'ExecutionTimeoutError') throw e;
          await Promise.allSettled([...inFlight]);
          return undefined;
        }
      };
      const run = speed === undefined ? await runOrTimeout() : await clock.flowing(runOrTimeout, speed);
      if (!run)
        line('error', `sweep started at ${new Date(startedMs).toISOString()} timed out (state machine timeout)`);
      const calls: Record<string, SweepAccountCalls> = {};
      for (const c of emulator.calls.slice(firstCall)) {
        if (!c.userAgent.includes('flink-watchdog')) continue;
        const account = c.accountId ?? home.accountId;
        calls[account] ??= {
          msf: 0,
          getMetricData: 0,
          getMetricDataMetrics: 0,
          cloudWatchOther: 0,
          tagging: 0,
          sts: 0,
          throttled: 0,
        };
        const n = calls[account];
        if (c.errorType && /^Thrott/.test(c.errorType)) n.throttled += 1;
        if (c.service === 'kinesisanalytics') n.msf += 1;
        else if (c.service === 'tagging') n.tagging += 1;
        else if (c.service === 'sts') n.sts += 1;
        else if (c.operation === 'GetMetricData') {
          n.getMetricData += 1;
          n.getMetricDataMetrics += ((c.input as { MetricDataQueries?: unknown[] }).MetricDataQueries ?? []).length;
        } else n.cloudWatchOther += 1;
      }
      const looks = run?.tasks.filter((x) => x.state === SWEEP_STATES.lookBatch) ?? [];
      const summary = run ? (run.output as DetectorOutput).sweep?.summary : planSummary;
      sweeps.push({
        atMs: run?.startMs ?? startedMs,
        lastLookEndMs: run ? Math.max(run.startMs, ...run.tasks.map((x) => x.endMs)) : Math.max(startedMs, ...lookEnds),
        timedOut: !run,
        batches: run?.mapIterations ?? lookStarts,
        watched: summary?.watched ?? 0,
        flagged: summary?.flagged ?? 0,
        rotated: summary?.rotated ?? 0,
        invocations: run?.tasks.length ?? lookStarts + 1,
        invocationWallMs: run?.tasks.reduce((sum, x) => sum + x.wallMs, 0) ?? 0,
        lookWallMs: looks.reduce((sum, x) => sum + x.wallMs, 0),
        standardTransitions: run ? run.stateTransitions + run.mapIterations : 2 + lookStarts,
        calls,
        ledger: {
          reads: ledgerCounts.reads - ledgerBefore.reads,
          writes: ledgerCounts.writes - ledgerBefore.writes,
          fleetMemoryBytes: ledgerCounts.fleetMemoryBytes,
        },
      });
    };
    const sweeps: SweepRun[] = [];
    // The command topic's subscriber: the runbook handler (approval steps via cli; the live run's SNS endpoint).
    const commandTopicArn = `arn:aws:sns:${region}:${home.accountId}:flink-watchdog-${DRILL_INSTANCE}-commands`;
    const runbook = createRunbookHandler({
      ...deps,
      msf: adapters.msf,
      starter: workflow,
      automation: ledger,
      snapshots: adapters.msf,
      tokens: workflow,
      commandTopicArn,
    });
    /** Runs a runbook command event and puts each record's result on the timeline. */
    const runRunbook = async (event: unknown): Promise<RunbookOutput> => {
      const out = await runbook(event);
      for (const r of out.results) {
        line('runbook', `${r.command ?? 'command'} ${r.applicationName ?? ''}: ${r.status} — ${r.reason}`);
      }
      return out;
    };
    let commandsPublished = 0;

    /**
     * The incident an approval step of `application` answers: its newest one awaiting approval, else its newest with
     * an approval request (answered, timed out: answerApproval says why it refuses), else its open incident.
     */
    const approvalTarget = async (application: string): Promise<Incident | undefined> => {
      const incidents = await ledger.listIncidents({ applicationName: keyOf(application) });
      const asked = incidents
        .filter((i) => i.approval !== undefined)
        .sort((a, b) => (a.approval?.requestedMs ?? 0) - (b.approval?.requestedMs ?? 0));
      return (
        asked.filter((i) => i.approval?.state === 'PENDING').at(-1) ??
        asked.at(-1) ??
        incidents.filter((i) => i.status === 'REMEDIATING').at(-1)
      );
    };

    /**
     * An approval step (`approve` / `reject`): a person answers the application's incident awaiting approval through
     * Slack (a click signed with the drill's signing secret, to the real interactivity handler), the CLI (the runbook
     * command `flink-watchdog approve` / `reject` publishes, delivered to the runbook handler as the topic's
     * subscription does) or the sandbox console ({@link answerApproval}). Never throws for a refused answer: the
     * timeline says why. @returns the timeline's text
     */
    const approvalStep = async (entry: ApprovalStep): Promise<string> => {
      const decision = entry.action === 'approve' ? 'APPROVED' : 'REJECTED';
      const by =
        entry.via === 'console'
          ? 'sandbox console'
          : (entry.by ?? (entry.via === 'slack' ? DRILL_SLACK_USER : DRILL_CLI_CALLER));
      const note = entry.note ? ` (${entry.note})` : '';
      const head = `${entry.action} ${entry.application} via ${entry.via} by ${by}`;
      const incident = await approvalTarget(entry.application);
      if (!incident) return `${head}: refused — ${entry.application} has no incident awaiting approval${note}`;
      const told = (r: AnswerResult | undefined, how = '') =>
        `${head}: ${r ? (r.accepted ? 'accepted' : 'refused') : 'not answered'}${how} — ${r?.message ?? ''}${note}`;
      lastAnswer = undefined;
      switch (entry.via) {
        case 'console':
          return told(
            await answer(incident.id, {
              decision,
              by,
              via: 'console',
              ...(entry.action === 'reject' && entry.reason ? { reason: entry.reason } : {}),
            }),
          );
        case 'slack': {
          // The person clicks the button on the incident's Slack message as the local Slack receiver got it.
          const actionId = decision === 'APPROVED' ? SLACK_APPROVE_ACTION_ID : SLACK_REJECT_ACTION_ID;
          const button = slackReceiver.received
            .flatMap((m) => slackButtons(m.body.blocks))
            .find((b) => b.action_id === actionId && b.value === incident.id);
          if (!button) {
            return `${head}: refused — no Slack message of incident ${incident.id} has a${decision === 'APPROVED' ? 'n Approve' : ' Reject'} button to click${note}`;
          }
          const user = SLACK_USER_PATTERN.exec(by);
          const userId = user?.[1] ?? by;
          const replies = slackReplies.length;
          const res = await slackInteraction(
            signedSlackRequest({
              secret: DRILL_SLACK_SIGNING_SECRET,
              nowMs: clock.now(),
              incidentId: button.value,
              decision,
              userId,
              userName: user?.[2] ?? userId,
              responseUrl: DRILL_SLACK_RESPONSE_URL,
            }),
          );
          if (res.statusCode !== 200) {
            line('error', `the Slack interactivity endpoint answered HTTP ${res.statusCode}: ${res.body}`);
          }
          const reply = slackReplies.slice(replies).join(' ');
          const result = answered();
          return `${told(result, ` (HTTP ${res.statusCode})`)}${reply && reply !== result?.message ? `; Slack shows: ${reply}` : ''}`;
        }
        case 'cli': {
          const message = {
            command: entry.action,
            incidentId: incident.id,
            via: 'cli',
            requestedBy: by,
            ...(entry.action === 'reject' && entry.reason ? { reason: entry.reason } : {}),
            dryRun: false,
          };
          commandsPublished += 1;
          // The runbook handler answers through answerApproval itself; its result (DONE: the answer was taken) is told.
          const out = await runbook(
            snsCommandEvent(commandTopicArn, message, `drill-command-${commandsPublished}`, clock.now()),
          );
          if (out.status === 'REJECTED') line('error', `runbook handler rejected the event: ${out.error}`);
          const result = out.results[0];
          return told(
            result ? { accepted: result.status === 'DONE', message: result.reason } : undefined,
            ` (runbook command: ${result?.status ?? 'no result'})`,
          );
        }
      }
    };

    // The watchdog has been running: its last sweep before the scenario found the watched set and made their alarms.
    await sweep(startMs);
    let nextSweep = startMs + SWEEP_MS;
    if (live) {
      await live.ready({
        emulator,
        ledger: table,
        config,
        commandTopicArn,
        slackMessages: slackReceiver.received,
        runbook: (event) => exclusive(() => runRunbook(event)),
        answerApproval: (incidentId, a) =>
          exclusive(async () => {
            const r = await answer(incidentId, a);
            line(
              'approval',
              `${a.decision === 'APPROVED' ? 'approve' : 'reject'} [${incidentId}] via ${a.via} by ${a.by}: ${r.accepted ? 'accepted' : 'refused'} — ${r.message}`,
            );
            return r;
          }),
        slackInteraction: (request) =>
          exclusive(async () => {
            const res = await slackInteraction(request);
            if (res.statusCode !== 200)
              line('approval', `Slack interactivity endpoint: HTTP ${res.statusCode} ${res.body}`);
            return res;
          }),
      });
    }
    for (let t = startMs; t <= endMs; t += TICK_MS) {
      let endStep: (() => void) | undefined;
      if (live) {
        if (!(await live.waitFor(t))) {
          endMs = clock.now();
          break;
        }
        // The step holds the lock until its end (below): a runbook command runs between two steps.
        const previous = stepping;
        stepping = new Promise<void>((resolve) => {
          endStep = resolve;
        });
        await previous;
      }
      clock.advanceTo(t);
      emulator.advanceTo(t);

      // What happened in the world (from the emulator's own view).
      for (const app of known) {
        const now = emulator.inspect(app.name, accountOfApp(app.name));
        if (!now) continue;
        const before = lastSeen.get(app.name);
        if (before && (before.status !== now.status || before.versionId !== now.versionId)) {
          line('msf', `${app.name}: ${before.status} → ${now.status} (version ${now.versionId})`);
        }
        if (before && now.restarts > before.restarts && before.restarts === 0) {
          line('job', `${app.name}: the job is restarting (restart ${now.restarts})`);
        }
        if (app.name === expectedApp) {
          // A job's first restart: the counter leaves 0, or falls (a new job) and is above 0 again.
          if (now.restarts > 0 && (!before || before.restarts === 0 || now.restarts < before.restarts)) {
            firstRestartsMs.push(t);
          }
          const failed = now.failedCheckpoints;
          if (failed > 0 && (!before || before.failedCheckpoints === 0 || failed < before.failedCheckpoints)) {
            firstFailedCheckpointsMs.push(t);
          }
          if (!before || before.status !== now.status) statusEntries.push({ status: now.status, atMs: t });
          // The operator observes at each reconcile, and only while a job is deployed (MSF status RUNNING).
          if (
            (t - startMs) % OPERATOR_OBSERVE_INTERVAL_MS === 0 &&
            now.status === 'RUNNING' &&
            operatorFiredMs === null
          ) {
            const health = operatorCheck.observe(t, now.restarts);
            if (!health.healthy) {
              operatorFiredMs = t;
              line('peer', `${OPERATOR_RULE_DESCRIPTION}: ${health.restartsInWindow} restarts → unhealthy`);
            }
          }
          if (!before || before.restarts !== now.restarts) counterSeen.push({ atMs: t, restarts: now.restarts });
        }
        lastSeen.set(app.name, { ...now });
      }

      // People act.
      while (pendingTimeline.length > 0 && startMs + (pendingTimeline[0]?.atMinute ?? 0) * MINUTE_MS <= t) {
        const entry = pendingTimeline.shift() as TimelineEntry;
        if (entry.action === 'approve' || entry.action === 'reject') {
          line('approval', await approvalStep(entry));
          continue;
        }
        try {
          const account = accountOf.get(entry.application) ?? emulator.accountId;
          line('user', await userAction(userMsfIn(account), entry, account));
        } catch (e) {
          const err = e as Error & { code?: string; cause?: { message?: string } };
          line(
            'user',
            `${entry.action} ${entry.application} refused: ${err.code ?? err.name}: ${err.cause?.message ?? err.message}`,
          );
        }
      }

      // Alarm state changes reach the detector (EventBridge rule → detector).
      while (alarmQueue.length > 0) {
        const e = alarmQueue.shift() as AlarmStateChangeEvent;
        const copies = scenario.delivery.alarmEventCopies;
        line('alarm', `${describeAlarm(e)}${copies > 1 ? ` (delivered ${copies} times at once)` : ''}`);
        if (copies === 1) {
          const out = await runDetector(e);
          explainQuiet(out, e.detail.alarmName);
          echo(out);
          continue;
        }
        // At-least-once delivery: every copy runs at once; show the one that acted, then what the others found.
        const outs = await Promise.all(Array.from({ length: copies }, () => runDetector(e)));
        const results = outs.flatMap((o) => o.results);
        const acted = outs.find((o) => o.results.some((r) => r.result !== 'HEALTHY' && r.result !== 'DUPLICATE'));
        for (const o of outs) if (o !== acted) explainQuiet(o, e.detail.alarmName);
        if (acted) echo(acted);
        const counts = new Map<string, number>();
        for (const r of results) counts.set(r.result, (counts.get(r.result) ?? 0) + 1);
        line('detect', `${copies} deliveries: ${[...counts].map(([k, n]) => `${n} ${k}`).join(', ')}`);
      }

      // The periodic sweep (EventBridge schedule → the sweep state machine).
      if (t >= nextSweep) {
        nextSweep += SWEEP_MS;
        await sweep(t);
        // The reconciler runs on the same schedule (its own EventBridge rule in AWS); with sweeps in wall time, the
        // clock moves during it too (at the first sweep's speed: not measured), so throttled calls can be retried.
        const reconcile = (event: unknown) =>
          options.sweepSpeed ? clock.flowing(() => reconciler(event), RECONCILE_SPEED) : reconciler(event);
        const cycle = await reconcile({
          version: '0',
          id: `reconcile-${t}`,
          'detail-type': 'Scheduled Event',
          source: 'aws.events',
          account: emulator.accountId,
          time: new Date(t).toISOString(),
          region,
          resources: [`arn:aws:events:${region}:${emulator.accountId}:rule/flink-watchdog-reconcile`],
          detail: {},
        });
        if (cycle.status === 'REJECTED') line('error', `reconciler rejected the event: ${cycle.error}`);
        for (const p of cycle.result?.problems ?? []) line('error', `desired state: ${p.message}`);
        for (const l of cycle.result?.lines ?? []) {
          if (l.verdict === 'UNCHANGED' || l.verdict === 'NO_DRIFT' || l.verdict === 'ALREADY_REPORTED') continue;
          const what = l.report?.fields.map((f) => f.field).join(', ');
          line(
            'drift',
            `${l.applicationName}: ${l.verdict}${what ? ` (${what})` : ''}${l.reason ? ` — ${l.reason}` : ''}`,
          );
          if (l.verdict === 'REPORTED' && l.report) line('', `  ${l.report.summary}`);
        }
      }

      // Watches, then remediation workflows (Step Functions): every execution runs until its next Wait or its end. A
      // watch's check may start a remediation workflow; a remediation step never starts a watch.
      await watchWorkflow.settle();
      for (const x of watchWorkflow.executions) {
        const status = `${x.status}${x.error ? ` (${x.error})` : ''}`;
        if (reportedWatches.get(x.name) === status) continue;
        if (!reportedWatches.has(x.name)) {
          line(
            'watch',
            `${x.input.watch.applicationName}: ${x.input.watch.kind} watch ${x.name} started (first check in ${x.input.waitSeconds} s)`,
          );
        }
        if (x.status !== 'RUNNING') {
          const last = x.lastState;
          line(
            'watch',
            `${x.input.watch.applicationName}: ${x.input.watch.kind} watch ${status}${last.outcome ? ` ${last.outcome}` : ''} after ${last.watch?.checks ?? 0} check(s)${last.summary ? ` — ${last.summary}` : ''}`,
          );
        }
        reportedWatches.set(x.name, status);
      }
      await workflow.settle();
      maxRunningRemediations = Math.max(
        maxRunningRemediations,
        workflow.executions.filter((x) => x.status === 'RUNNING').length,
      );
      for (const x of workflow.executions) {
        const status = `${x.status}${x.error ? ` (${x.error})` : ''}`;
        if (reportedExecutions.get(x.name) === status) continue;
        if (!reportedExecutions.has(x.name)) line('workflow', `execution ${x.name} started`);
        if (x.status !== 'RUNNING') {
          line('workflow', `execution ${x.name} ${status}: ${x.stateTransitions} state transitions, ${x.steps} steps`);
        }
        reportedExecutions.set(x.name, status);
      }

      // Watchdog calls and notifications, as they happened.
      for (; callsSeen < emulator.calls.length; callsSeen++) {
        const c = emulator.calls[callsSeen];
        if (!c?.userAgent.includes('flink-watchdog')) continue;
        const failed = c.errorType ? ` → ${c.errorType}` : '';
        if (c.service === 'sts' && c.operation === 'AssumeRole') {
          const input = c.input as { RoleArn?: string; ExternalId?: string; RoleSessionName?: string };
          line(
            'sts',
            `AssumeRole ${input.RoleArn ?? ''} (session ${input.RoleSessionName ?? ''}, ExternalId ${input.ExternalId ? 'given' : 'missing'})${failed}`,
          );
        }
        if (c.service === 'kinesisanalytics' && MUTATING_MSF_OPERATIONS.has(c.operation)) {
          // A call answered in a member account went through the role assumed there.
          const where = c.accountId && c.accountId !== home.accountId ? ` [in account ${c.accountId}]` : '';
          line('call', `${c.operation} ${JSON.stringify(c.input)}${where}${failed}`);
        }
      }
      for (; notified < recorded.sent.length; notified++) {
        const n = recorded.sent[notified];
        if (!n) continue;
        const channels = deliveries
          .filter((d) => d.event === n.event && d.incidentId === n.incident.id && d.atMs === n.atMs)
          .map((d) => `${d.channel} ${d.delivered ? '✓' : `✗ ${d.error ?? ''}`}`);
        line('notify', `${n.event}: ${n.title}${channels.length ? `  [${channels.join(', ')}]` : ''}`);
        if (n.event === 'RESOLVED' || n.event === 'ESCALATED') line('', `  ${n.text}`);
        for (const step of n.nextSteps) line('', `  next: ${step}`);
      }
      if (endStep) {
        endStep();
        live?.stepped?.(t);
      }
    }

    // The scenario is over: watches and remediations still running would go on in AWS; here their local runs stop.
    watchWorkflow.stopAll();
    workflow.stopAll();
    const incidents = await ledger.listIncidents();
    const watchdogCalls: ActionLine[] = emulator.calls
      .filter((c) => c.service === 'kinesisanalytics' && c.userAgent.includes('flink-watchdog'))
      .map((c) => ({
        atMs: c.atMs,
        application: String((c.input as { ApplicationName?: unknown })?.ApplicationName ?? ''),
        accountId: c.accountId ?? home.accountId,
        operation: c.operation,
        input: c.input,
        ...(c.errorType ? { errorType: c.errorType } : {}),
      }));
    const actions = watchdogCalls.filter((c) => MUTATING_MSF_OPERATIONS.has(c.operation));
    const appIncidents = incidents.filter((i) => i.applicationName === expectedKey);
    const decisive = appIncidents.find((i) => i.status !== 'OBSERVED' || appIncidents.length === 1) ?? appIncidents[0];
    // An application held by a fleet incident has no incident of its own: the fleet incident's outcome is its outcome.
    const fleetIncidents = await ledger.listFleetIncidents();
    const heldBy = fleetIncidents.find((f) => f.members.some((m) => m.applicationName === expectedKey));
    const outcome: Outcome =
      decisive || !heldBy ? incidentOutcome(decisive) : heldBy.status === 'RESOLVED' ? 'RECOVERED' : 'ESCALATED';
    // Detection is of the decisive incident when its finding gives an onset, else of the earliest incident on the
    // application that does (e.g. the ROLLED_BACK finding before the drift report it led to); the onset comes from the
    // world: the emulator's view and its operation history.
    const operations = appIncidents.length
      ? await new MsfAdapter({ client: userMsfIn(expectedAccount) }).listOperations(expectedApp)
      : [];
    const onsetOf = (i: Incident) =>
      detectionOnset({
        finding: i.finding ?? i.decision.finding,
        ...(i.trigger.source === 'alarm' ? { triggerAlarmName: i.trigger.detail } : {}),
        reconcilerStart:
          i.trigger.detail.startsWith('reconciler') &&
          [i.decision.remediation, i.decision.wouldHave, i.remediation].some((r) => r?.kind === 'START'),
        decisionMs: i.openedMs,
        firstRestartsMs,
        firstFailedCheckpointsMs,
        operations,
        statusEntries,
        stuckLimitMinutes: (status) => stuckLimitMinutes(policyFor(config, expectedKey), status),
      });
    // An application held by a fleet incident (no incident of its own): its onset is its job's first restart, the
    // decision the fleet incident's opening, the recovery its RESOLVED.
    const firstRestartMs = firstRestartsMs[0];
    const fleetHeld =
      !decisive && heldBy && firstRestartMs !== undefined
        ? {
            incident: { id: heldBy.id, openedMs: heldBy.openedMs } as Pick<Incident, 'id' | 'openedMs'>,
            onset: { rule: 'first-restart', atMs: firstRestartMs } as DetectionOnset,
          }
        : undefined;
    const detected =
      [decisive, ...[...appIncidents].sort((a, b) => a.openedMs - b.openedMs)]
        .flatMap((i) => {
          const o = i ? onsetOf(i) : undefined;
          return i && o ? [{ incident: i as Pick<Incident, 'id' | 'openedMs'>, onset: o }] : [];
        })
        .at(0) ?? fleetHeld;
    const onsetFound = detected ? { ...detected.onset, incidentId: detected.incident.id } : undefined;
    const onset = onsetFound?.atMs;
    const since = (ms: number | undefined) =>
      onset !== undefined && ms !== undefined ? Math.round((ms - onset) / SECOND_MS) : null;
    const ofExpected = (a: ActionLine) => a.application === expectedApp && a.accountId === expectedAccount;
    const firstAction = actions.find(ofExpected);
    const resolved =
      decisive?.status === 'RESOLVED'
        ? decisive.closedMs
        : fleetHeld && heldBy?.status === 'RESOLVED'
          ? heldBy.closedMs
          : undefined;
    // Restart loop: when the threshold-th restart's datapoint could first be seen, from what CloudWatch stored.
    const runtime = known.find((a) => a.name === expectedApp)?.runtimeEnvironment;
    const restartLoop =
      detected?.onset.rule === 'first-restart'
        ? restartLoopFigures({
            datapoints: await counterDatapoints(
              new CloudWatchMetrics({ client: userIn(expectedAccount).cw }),
              expectedApp,
              restartMetricName(runtime),
              startMs,
              endMs,
            ),
            onsetMs: detected.onset.atMs,
            onsetToleranceMs: TICK_MS,
            decisionMs: detected.incident.openedMs,
            threshold: policyFor(config, expectedKey).restartLoop.threshold,
            metricsDelayMs: scenario.cloudwatch.metricsDelaySeconds * SECOND_MS,
            firstActionMs: firstAction?.atMs,
            counterAt: (ms) => counterSeen.filter((c) => c.atMs <= ms).at(-1)?.restarts,
          })
        : null;
    const failures: string[] = [];
    const exp = scenario.expected;
    if (outcome !== exp.outcome) failures.push(`outcome ${outcome}, expected ${exp.outcome}`);
    const finalStatus = emulator.inspect(expectedApp, expectedAccount)?.status;
    if (exp.finalStatus && finalStatus !== exp.finalStatus)
      failures.push(`final status ${finalStatus}, expected ${exp.finalStatus}`);
    if (exp.actions) {
      const got = actions.filter(ofExpected).map((a) => a.operation);
      if (JSON.stringify(got) !== JSON.stringify(exp.actions))
        failures.push(`actions [${got.join(', ')}], expected [${exp.actions.join(', ')}]`);
    }
    const early =
      exp.noActionBeforeMinute === undefined
        ? []
        : actions.filter((a) => a.atMs < startMs + (exp.noActionBeforeMinute ?? 0) * MINUTE_MS);
    if (early.length > 0) {
      failures.push(
        `${early.map((a) => `${a.operation} at T+${Math.round((a.atMs - startMs) / 1000)} s`).join(', ')}, expected no mutating call before minute ${exp.noActionBeforeMinute}`,
      );
    }
    if (exp.maxMutatingCalls !== undefined && actions.length > exp.maxMutatingCalls) {
      failures.push(`${actions.length} mutating calls, expected at most ${exp.maxMutatingCalls}`);
    }
    for (const name of exp.untouched) {
      const touched = actions.filter((a) => a.application === name && a.accountId === accountOfApp(name));
      if (touched.length > 0)
        failures.push(`${name} must never be touched, got ${touched.map((a) => a.operation).join(', ')}`);
    }
    if (exp.workflowExecutions !== undefined && workflow.executions.length !== exp.workflowExecutions) {
      failures.push(`${workflow.executions.length} workflow executions, expected ${exp.workflowExecutions}`);
    }
    if (exp.fleetIncidents !== undefined && fleetIncidents.length !== exp.fleetIncidents) {
      failures.push(`${fleetIncidents.length} fleet incidents, expected ${exp.fleetIncidents}`);
    }
    if (exp.maxConcurrentRemediations !== undefined && maxRunningRemediations > exp.maxConcurrentRemediations) {
      failures.push(
        `${maxRunningRemediations} remediation workflows ran at once, expected at most ${exp.maxConcurrentRemediations}`,
      );
    }
    if (exp.peakConcurrentRemediations !== undefined && maxRunningRemediations !== exp.peakConcurrentRemediations) {
      failures.push(
        `at most ${maxRunningRemediations} remediation workflows ran at once, expected exactly ${exp.peakConcurrentRemediations} at the busiest moment`,
      );
    }
    const pages = recorded.sent.filter(isPage);
    if (exp.pages !== undefined && pages.length !== exp.pages) {
      failures.push(`${pages.length} pages (${pages.map((n) => n.title).join('; ')}), expected ${exp.pages}`);
    }
    for (const pattern of exp.runningAtEnd) {
      const matched = known.filter((a) =>
        pattern.endsWith('*') ? a.name.startsWith(pattern.slice(0, -1)) : a.name === pattern,
      );
      if (matched.length === 0) failures.push(`runningAtEnd: "${pattern}" matches no application`);
      const notRunning = matched
        .map((a) => ({ name: a.name, status: emulator.inspect(a.name, accountOfApp(a.name))?.status }))
        .filter((a) => a.status !== 'RUNNING');
      if (notRunning.length > 0) {
        failures.push(
          `not RUNNING at the end: ${notRunning.map((a) => `${a.name} ${a.status ?? 'absent'}`).join(', ')}`,
        );
      }
    }
    if (exp.approval) {
      const asked = decisive?.approval;
      const want = exp.approval;
      if (!asked) failures.push(`no approval request on the deciding incident, expected one ${want.state}`);
      else {
        if (asked.state !== want.state) failures.push(`approval ${asked.state}, expected ${want.state}`);
        if (want.by !== undefined && !asked.answer?.by.includes(want.by)) {
          failures.push(`approval answered by ${asked.answer?.by ?? 'nobody'}, expected by ${want.by}`);
        }
        if (want.via !== undefined && asked.answer?.via !== want.via) {
          failures.push(`approval answered via ${asked.answer?.via ?? 'nothing'}, expected via ${want.via}`);
        }
      }
    }
    if (timeline.some((l) => l.actor === 'error')) failures.push('errors were logged (see timeline)');
    timeline.sort((a, b) => a.atMs - b.atMs);
    return {
      name: scenario.name,
      title: scenario.title,
      expected: exp.outcome,
      outcome,
      passed: failures.length === 0,
      failures,
      detectionOnset: onsetFound ?? null,
      detectionSeconds: since(detected?.incident.openedMs),
      firstActionSeconds: since(firstAction?.atMs),
      recoverySeconds: since(resolved),
      peers: {
        operatorHealthCheck: peerDetection(OPERATOR_RULE_DESCRIPTION, operatorFiredMs, onset),
        awsDowntimeAlarm: peerDetection(AWS_DOWNTIME_RULE_DESCRIPTION, awsAlarmFiredMs, onset),
      },
      restartLoop,
      actions,
      mutatingCalls: actions.length,
      watchdogCalls,
      startMs,
      timeline,
      incidents,
      detectorCpuMs,
      executions: workflow.executions,
      duplicateStarts: workflow.duplicateStarts,
      notifications: deliveries,
      slackRequests: slackReceiver.received.length,
      snsMessages,
      deadLetters,
      fleetIncidents,
      maxConcurrentRemediations: maxRunningRemediations,
      pages: pages.length,
      sweeps,
      wallMs: Math.round(performance.now() - wallStart),
      application: expectedApp,
      restartCounter: counterSeen,
      statusEntries,
      slackMessages: slackReceiver.received,
    };
  } finally {
    await Promise.all([emulator.close(), table.close(), slackReceiver.close()]);
  }
}
