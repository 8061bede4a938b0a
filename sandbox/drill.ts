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
import { createReconcilerHandler } from '#functions/reconciler/handler.ts';
import { createRemediationHandler } from '#functions/remediation/handler.ts';
import { CloudWatchMetrics } from '#shared/adapters/cloudwatch.ts';
import { DynamoDbLedger } from '#shared/adapters/dynamodb-ledger.ts';
import { FanOutNotifier, scrubSecrets, type UndeliveredNotification } from '#shared/adapters/fan-out-notifier.ts';
import { MsfAdapter, WATCHDOG_USER_AGENT } from '#shared/adapters/msf.ts';
import { RecordingNotifier } from '#shared/adapters/recording-notifier.ts';
import { SlackWebhookNotifier } from '#shared/adapters/slack-notifier.ts';
import { ALARM_PREFIX, alarmsFor, putMetricAlarmInput } from '#shared/alarms.ts';
import { parseConfig, policyFor, stuckLimitMinutes, type WatchdogConfig } from '#shared/config/schema.ts';
import { loadDesiredStates } from '#shared/desired/sources.ts';
import { parseTerraformState } from '#shared/desired/terraform.ts';
import type { Incident } from '#shared/domain/incident.ts';
import { restartMetricName } from '#shared/domain/model.ts';
import type { WatchInput } from '#shared/domain/watch.ts';
import type { AlarmStateChangeEvent } from '#shared/events/alarm-state-change.ts';
import { renderSnsMessage, type SnsRendering } from '#shared/notify/sns-message.ts';
import type { Log } from '#shared/ports/log.ts';
import { MUTATING_MSF_OPERATIONS } from '#shared/ports/msf.ts';
import type { Notification, Notifier } from '#shared/ports/notifier.ts';
import { VirtualClock } from './clock.ts';
import { startLedgerTable } from './dynalite.ts';
import { type Emulator, startEmulator } from './emulator/index.ts';
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
import { type Outcome, type Scenario, scenarioApplications, type TimelineEntry } from './scenario.ts';
import { startSlackReceiver } from './slack-receiver.ts';
import { type LocalExecution, LocalWorkflow } from './workflow.ts';
import { synthesizedWatchWorkflow, synthesizedWorkflow } from './workflow-definition.ts';

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
/** Virtual time step of the drill loop, ms. */
const TICK_MS = 5 * SECOND_MS;
/** Period of the scheduled sweep (the EventBridge schedule in AWS), ms. */
const SWEEP_MS = 5 * MINUTE_MS;
/** User agent of the drill's "people" (deploy pipelines): their calls are not the watchdog's. */
const USER_AGENT: [string, string] = ['drill-user', '1'];

/** One line of a scenario's timeline, in virtual time. */
export interface TimelineLine {
  atMs: number;
  /** user, msf, job, alarm, detect, decide, call, notify, incident, error. */
  actor: string;
  text: string;
}

/** A watchdog mutating MSF call, as the emulator saw it. */
export interface ActionLine {
  atMs: number;
  application: string;
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
  /** Wall time the scenario took, ms. */
  wallMs: number;
}

/** A log that keeps errors and warnings as timeline lines and drops the rest. */
function timelineLog(clock: VirtualClock, lines: TimelineLine[]): Log {
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
    ...(Object.keys(definition.tags).length
      ? { Tags: Object.entries(definition.tags).map(([Key, Value]) => ({ Key, Value })) }
      : {}),
  };
}

type CreateDefinition = Extract<TimelineEntry, { action: 'create' }>['definition'];

/** What a person does (a timeline entry), with the SDK client of the application's account; the timeline's text. */
async function userAction(msf: KinesisAnalyticsV2Client, entry: TimelineEntry, accountId: string): Promise<string> {
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
      await msf.send(new StopApplicationCommand({ ApplicationName: name }));
      return `StopApplication ${name}${note}`;
    case 'create': {
      await msf.send(new CreateApplicationCommand(createApplicationInput(name, entry.definition, accountId)));
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

function describeAlarm(e: AlarmStateChangeEvent): string {
  return `${e.detail.alarmName} ${e.detail.previousState.value} → ${e.detail.state.value}`;
}

/** Options of {@link runScenario}. */
export interface RunOptions {
  /** Called with each timeline line as it happens (live output). */
  onLine?: (line: TimelineLine) => void;
}

/**
 * Runs one scenario end to end on a fresh emulator: the real detector and remediation handlers, the real SDK
 * clients pointed at 127.0.0.1, a virtual clock, the ledger on dynalite (DynamoDB on 127.0.0.1), and the remediation
 * workflow as synthesized from the CDK construct, run by aws-local-stepfunctions. Deterministic for a given scenario.
 */
export async function runScenario(scenario: Scenario, options: RunOptions = {}): Promise<ScenarioReport> {
  const wallStart = performance.now();
  const startMs = Date.parse(scenario.startTime);
  const endMs = startMs + scenario.durationMinutes * MINUTE_MS;
  const clock = new VirtualClock(startMs);
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
  const emulator: Emulator = await startEmulator({ clock, world: scenario });
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
    const watchdogMsf = new KinesisAnalyticsV2Client({ ...base, customUserAgent: [WATCHDOG_USER_AGENT] });
    const watchdogCw = new CloudWatchClient({ ...base, customUserAgent: [WATCHDOG_USER_AGENT] });
    const userMsf = new KinesisAnalyticsV2Client({ ...base, customUserAgent: [USER_AGENT] });
    const userCw = new CloudWatchClient({ ...base, customUserAgent: [USER_AGENT] });
    // People act in the application's own account: the emulator takes a 12-digit access key id as that account.
    const accountOf = new Map(
      scenarioApplications(scenario).flatMap((a) => (a.accountId ? [[a.name, a.accountId] as const] : [])),
    );
    const userClients = new Map<string, KinesisAnalyticsV2Client>([[emulator.accountId, userMsf]]);
    const userMsfIn = (accountId: string): KinesisAnalyticsV2Client => {
      let client = userClients.get(accountId);
      if (!client) {
        client = new KinesisAnalyticsV2Client({
          ...base,
          credentials: { accessKeyId: accountId, secretAccessKey: 'drill' },
          customUserAgent: [USER_AGENT],
        });
        userClients.set(accountId, client);
      }
      return client;
    };

    // The alarms the CDK construct would create, for every application of the world.
    for (const app of scenario.applications) {
      for (const a of alarmsFor(app.name, app.runtimeEnvironment, policyFor(config, app.name))) {
        await userCw.send(new PutMetricAlarmCommand(putMetricAlarmInput(a)));
      }
      // Peer rule: AWS's recommended downtime alarm, a real alarm beside the watchdog's (sandbox/peers.ts).
      await userCw.send(new PutMetricAlarmCommand(awsRecommendedDowntimeAlarm(app.name)));
    }

    const ledger = new DynamoDbLedger({ tableName: table.tableName, client: table.client });
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
    const deps = {
      msf: new MsfAdapter({ client: watchdogMsf }),
      metrics: new CloudWatchMetrics({ client: watchdogCw }),
      ledger,
      notifier,
      config,
      clock,
      log,
    };
    const remediation = createRemediationHandler(deps);
    const workflow = new LocalWorkflow({ workflow: workflowDefinition, step: remediation, clock });
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
    });
    const reportedExecutions = new Map<string, string>();
    const reportedWatches = new Map<string, string>();

    const alarmQueue: AlarmStateChangeEvent[] = [];
    // The watchdog's EventBridge rule matches its alarms by name prefix (infra/flink-watchdog.ts): a peer's never
    // reaches the detector.
    emulator.onAlarmEvent((e) => {
      if (e.detail.alarmName.startsWith(ALARM_PREFIX)) alarmQueue.push(e);
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
    const echo = (out: DetectorOutput) => {
      for (const r of out.results) {
        if (r.result === 'HEALTHY' || r.result === 'IGNORED' || r.result === 'DUPLICATE') continue;
        if (r.decision?.finding) line('detect', `${r.applicationName}: ${r.decision.finding.summary}`);
        line(
          'decide',
          `${r.applicationName}: ${r.result}${r.incidentId ? ` [${r.incidentId}]` : ''} — ${r.decision?.reason ?? r.reason}`,
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

    let nextSweep = startMs + SWEEP_MS;
    for (let t = startMs; t <= endMs; t += TICK_MS) {
      clock.advanceTo(t);
      emulator.advanceTo(t);

      // What happened in the world (from the emulator's own view).
      for (const app of scenario.applications) {
        const now = emulator.inspect(app.name);
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
          echo(await runDetector(e));
          continue;
        }
        // At-least-once delivery: every copy runs at once; show the one that acted, then what the others found.
        const outs = await Promise.all(Array.from({ length: copies }, () => runDetector(e)));
        const results = outs.flatMap((o) => o.results);
        const acted = outs.find((o) => o.results.some((r) => r.result !== 'HEALTHY' && r.result !== 'DUPLICATE'));
        if (acted) echo(acted);
        const counts = new Map<string, number>();
        for (const r of results) counts.set(r.result, (counts.get(r.result) ?? 0) + 1);
        line('detect', `${copies} deliveries: ${[...counts].map(([k, n]) => `${n} ${k}`).join(', ')}`);
      }

      // The periodic sweep (EventBridge schedule → detector).
      if (t >= nextSweep) {
        nextSweep += SWEEP_MS;
        const sweep = await runDetector({
          version: '0',
          id: `sweep-${t}`,
          'detail-type': 'Scheduled Event',
          source: 'aws.events',
          account: emulator.accountId,
          time: new Date(t).toISOString(),
          region,
          resources: [`arn:aws:events:${region}:${emulator.accountId}:rule/flink-watchdog-sweep`],
          detail: {},
        });
        echo(sweep);
        // The reconciler runs on the same schedule (its own EventBridge rule in AWS).
        const cycle = await reconciler({
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
        if (
          c &&
          c.service === 'kinesisanalytics' &&
          MUTATING_MSF_OPERATIONS.has(c.operation) &&
          c.userAgent.includes('flink-watchdog')
        ) {
          line('call', `${c.operation} ${JSON.stringify(c.input)}${c.errorType ? ` → ${c.errorType}` : ''}`);
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
        operation: c.operation,
        input: c.input,
        ...(c.errorType ? { errorType: c.errorType } : {}),
      }));
    const actions = watchdogCalls.filter((c) => MUTATING_MSF_OPERATIONS.has(c.operation));
    const appIncidents = incidents.filter((i) => i.applicationName === expectedApp);
    const decisive = appIncidents.find((i) => i.status !== 'OBSERVED' || appIncidents.length === 1) ?? appIncidents[0];
    const outcome = incidentOutcome(decisive);
    // Detection is of the decisive incident when its finding gives an onset, else of the earliest incident on the
    // application that does (e.g. the ROLLED_BACK finding before the drift report it led to); the onset comes from the
    // world: the emulator's view and its operation history.
    const operations = appIncidents.length ? await new MsfAdapter({ client: userMsf }).listOperations(expectedApp) : [];
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
        stuckLimitMinutes: (status) => stuckLimitMinutes(policyFor(config, expectedApp), status),
      });
    const detected = [decisive, ...[...appIncidents].sort((a, b) => a.openedMs - b.openedMs)]
      .flatMap((i) => {
        const o = i ? onsetOf(i) : undefined;
        return i && o ? [{ incident: i, onset: o }] : [];
      })
      .at(0);
    const onsetFound = detected ? { ...detected.onset, incidentId: detected.incident.id } : undefined;
    const onset = onsetFound?.atMs;
    const since = (ms: number | undefined) =>
      onset !== undefined && ms !== undefined ? Math.round((ms - onset) / SECOND_MS) : null;
    const firstAction = actions.find((a) => a.application === expectedApp);
    const resolved = decisive?.status === 'RESOLVED' ? decisive.closedMs : undefined;
    // Restart loop: when the threshold-th restart's datapoint could first be seen, from what CloudWatch stored.
    const runtime = scenario.applications.find((a) => a.name === expectedApp)?.runtimeEnvironment;
    const restartLoop =
      detected?.onset.rule === 'first-restart'
        ? restartLoopFigures({
            datapoints: await counterDatapoints(
              new CloudWatchMetrics({ client: userCw }),
              expectedApp,
              restartMetricName(runtime),
              startMs,
              endMs,
            ),
            onsetMs: detected.onset.atMs,
            onsetToleranceMs: TICK_MS,
            decisionMs: detected.incident.openedMs,
            threshold: policyFor(config, expectedApp).restartLoop.threshold,
            metricsDelayMs: scenario.cloudwatch.metricsDelaySeconds * SECOND_MS,
            firstActionMs: firstAction?.atMs,
            counterAt: (ms) => counterSeen.filter((c) => c.atMs <= ms).at(-1)?.restarts,
          })
        : null;
    const failures: string[] = [];
    const exp = scenario.expected;
    if (outcome !== exp.outcome) failures.push(`outcome ${outcome}, expected ${exp.outcome}`);
    const finalStatus = emulator.inspect(expectedApp)?.status;
    if (exp.finalStatus && finalStatus !== exp.finalStatus)
      failures.push(`final status ${finalStatus}, expected ${exp.finalStatus}`);
    if (exp.actions) {
      const got = actions.filter((a) => a.application === expectedApp).map((a) => a.operation);
      if (JSON.stringify(got) !== JSON.stringify(exp.actions))
        failures.push(`actions [${got.join(', ')}], expected [${exp.actions.join(', ')}]`);
    }
    if (exp.maxMutatingCalls !== undefined && actions.length > exp.maxMutatingCalls) {
      failures.push(`${actions.length} mutating calls, expected at most ${exp.maxMutatingCalls}`);
    }
    for (const name of exp.untouched) {
      const touched = actions.filter((a) => a.application === name);
      if (touched.length > 0)
        failures.push(`${name} must never be touched, got ${touched.map((a) => a.operation).join(', ')}`);
    }
    if (exp.workflowExecutions !== undefined && workflow.executions.length !== exp.workflowExecutions) {
      failures.push(`${workflow.executions.length} workflow executions, expected ${exp.workflowExecutions}`);
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
      wallMs: Math.round(performance.now() - wallStart),
    };
  } finally {
    await Promise.all([emulator.close(), table.close(), slackReceiver.close()]);
  }
}
