/**
 * Renderings of one Notification (shared/notify): Slack Block Kit, Amazon Q Developer custom notification, SNS runbook
 * message (WatchdogEventV1) and EventBridge entry, for each lifecycle event, compared with committed golden files in
 * test/fixtures/golden/<rendering>-<event>.json.
 *
 * After an intended change of a rendering, rewrite the golden files and review the diff:
 *   UPDATE_GOLDEN=1 npx vitest run test/unit/notify-render.test.ts && npx biome check --write test/fixtures/golden
 * (files are compared as parsed JSON, so Biome's layout does not matter).
 *
 * Deterministic: fixed times (2026-03-02T14:00:00Z), region eu-west-1.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { KnownBlock } from '@slack/web-api';
import { describe, expect, it } from 'vitest';
import type { Decision, GuardResult, RemediationAction } from '#shared/domain/decision.ts';
import type {
  DeployFailedFinding,
  Finding,
  RestartLoopFinding,
  RolledBackFinding,
  StuckTransitionFinding,
} from '#shared/domain/findings.ts';
import type { ActionRecord, ApprovalRecord, Incident, RootCause } from '#shared/domain/incident.ts';
import { RunbookCommand } from '#shared/events/runbook-command.ts';
import {
  CHATBOT_COMMAND_TEXT_MAX,
  CHATBOT_LIMITS,
  ChatbotNotification,
  chatbotActionVariables,
  chatbotCommandText,
  renderChatbot,
} from '#shared/notify/chatbot.ts';
import { NOTIFICATION_EVENTS, SEVERITY_BY_EVENT, truncate, truncateMrkdwn } from '#shared/notify/common.ts';
import { DETAIL_TYPES, EVENT_SOURCE, renderEventBridge } from '#shared/notify/eventbridge.ts';
import { applicationArn, incidentLinks, metricsConsoleUrl, msfConsoleUrl } from '#shared/notify/links.ts';
import {
  blockTextLength,
  renderSlack,
  SLACK_APPROVE_ACTION_ID,
  SLACK_LIMITS,
  SLACK_REJECT_ACTION_ID,
} from '#shared/notify/slack.ts';
import { renderSnsMessage, SNS_MESSAGE_MAX_BYTES, WatchdogEventV1 } from '#shared/notify/sns-message.ts';
import { WATCHDOG_EVENT_JSON_SCHEMA_FILE, watchdogEventJsonSchema } from '#shared/notify/sns-message-schema.ts';
import type { Notification, NotificationEvent } from '#shared/ports/notifier.ts';

const GOLDEN_DIR = fileURLToPath(new URL('../fixtures/golden/', import.meta.url));
const UPDATE_GOLDEN = process.env.UPDATE_GOLDEN === '1';

const T0 = Date.parse('2026-03-02T14:00:00Z');
const SEC = 1_000;
const MIN = 60 * SEC;
const REGION = 'eu-west-1';
const APP = 'orders-enrichment';
const ARN = applicationArn(REGION, '123456789012', APP);
const LEDGER_TABLE = 'flink-watchdog-ledger';
const COMMAND_TOPIC = 'arn:aws:sns:eu-west-1:123456789012:Watchdog-CommandTopic7A1F2C3D-AbCdEfGhIjKl';
const THREAD_TS = '1772460000.000100';
const ID = 'orders-enrichment-3f9c2a7b1d4e5f60';

const ROLLBACK: RemediationAction = { kind: 'ROLLBACK', expectVersionId: 7, toVersionId: 6 };
const FORCE_STOP: RemediationAction = {
  kind: 'FORCE_STOP_AND_RESTART',
  expectVersionId: 7,
  start: { restoreType: 'RESTORE_FROM_LATEST_SNAPSHOT', allowNonRestoredState: false },
};

const LOOP: RestartLoopFinding = {
  kind: 'RESTART_LOOP',
  summary:
    'orders-enrichment restarted 14 times in 15 min (fullRestarts) since 13:52 UTC, 12 min after the update from version 6 to version 7.',
  restarts: 14,
  windowMinutes: 15,
  metricName: 'fullRestarts',
  onsetMs: T0 - 8 * MIN,
  recentChange: { fromVersionId: 6, toVersionId: 7, atMs: T0 - 20 * MIN, byRollback: false },
};
const LOOP_REASON = `${LOOP.summary} The loop began after the update to version 7: roll back to version 6, whose last snapshot is restorable.`;

const STUCK: StuckTransitionFinding = {
  kind: 'STUCK_TRANSITION',
  summary: 'orders-enrichment has been UPDATING for 42 min (limit 30 min).',
  status: 'UPDATING',
  sinceMs: T0 - 42 * MIN,
  minutes: 42,
  limitMinutes: 30,
};

const SYSTEM_ROLLBACK: RolledBackFinding = {
  kind: 'ROLLED_BACK',
  summary: 'MSF rolled orders-enrichment back from version 8 to version 7 after the update failed.',
  fromVersionId: 8,
  toVersionId: 7,
  system: true,
  atMs: T0 - 3 * MIN,
  errorString: 'CodeValidationException: main class com.example.OrdersJob not found',
};

const PASSED: GuardResult[] = [
  { name: 'in-scope', passed: true, detail: 'listed in the watchdog config' },
  { name: 'status-actionable', passed: true, detail: 'ApplicationStatus RUNNING' },
  { name: 'no-foreign-operation', passed: true, detail: 'no operation in progress' },
  { name: 'lock-free', passed: true, detail: 'free' },
  { name: 'attempts-left', passed: true, detail: '0 of 3 attempts used in 60 min' },
  { name: 'cooldown-passed', passed: true, detail: 'no earlier attempt' },
];

const CLI = {
  describe: `aws kinesisanalyticsv2 describe-application --application-name ${APP}`,
  forceStop: `aws kinesisanalyticsv2 stop-application --application-name ${APP} --force`,
  start: `aws kinesisanalyticsv2 start-application --application-name ${APP} --run-configuration '{"ApplicationRestoreConfiguration":{"ApplicationRestoreType":"RESTORE_FROM_LATEST_SNAPSHOT"}}'`,
  version: `aws kinesisanalyticsv2 describe-application-version --application-name ${APP} --application-version-id 8`,
};

function incident(overrides: Partial<Incident> & Pick<Incident, 'decision' | 'status'>): Incident {
  return {
    schemaVersion: 1,
    id: ID,
    applicationName: APP,
    trigger: { source: 'alarm', detail: `flink-watchdog-${APP}-restart-loop`, atMs: T0 - 30 * SEC },
    openedMs: T0,
    attempts: 0,
    actions: [],
    events: [],
    ...overrides,
  };
}

function action(seq: number, call: string, recordedMs: number, more: Partial<ActionRecord> = {}): ActionRecord {
  return { seq, call, input: { ApplicationName: APP }, recordedMs, state: 'SUCCEEDED', ...more };
}

const remediate: Decision = {
  verdict: 'REMEDIATE',
  reason: LOOP_REASON,
  finding: LOOP,
  remediation: ROLLBACK,
  guards: [...PASSED, { name: 'mode-remediate', passed: true, detail: 'mode remediate' }],
  nextSteps: [],
};
/** The loop's first failure, as the detector finds it in the application's log group. */
const ROOT_CAUSE: RootCause = {
  exceptionClass: 'software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException',
  message: 'Stream orders-v2 under account 123456789012 not found. (Service: Kinesis, Status Code: 400)',
  frames: [
    'at software.amazon.awssdk.services.kinesis.DefaultKinesisClient.describeStream(DefaultKinesisClient.java:1234)',
    'at org.apache.flink.connector.kinesis.source.proxy.KinesisStreamProxy.getShardList(KinesisStreamProxy.java:88)',
    'at com.example.orders.OrdersJob.main(OrdersJob.java:42)',
  ],
  logGroupName: `/aws/kinesis-analytics/${APP}`,
  atMs: T0 - 8 * MIN + 3 * SEC,
  source: 'logs-insights',
};
/** A task token as Step Functions gives it: must never appear in any rendering. */
const TASK_TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAT0pSecretTaskToken0123456789';
const PENDING: ApprovalRecord = {
  action: ROLLBACK,
  requestedMs: T0,
  timeoutMs: T0 + 30 * MIN,
  onTimeout: 'escalate',
  taskToken: TASK_TOKEN,
  state: 'PENDING',
};
const approveMode: Decision = {
  verdict: 'REMEDIATE',
  reason: LOOP_REASON,
  finding: LOOP,
  remediation: ROLLBACK,
  guards: [...PASSED, { name: 'mode-remediate', passed: true, detail: 'mode approve: a person approves first' }],
  nextSteps: [],
};

const rollbackAction = action(1, 'RollbackApplication', T0 + MIN, {
  input: { ApplicationName: APP, CurrentApplicationVersionId: 7 },
  completedMs: T0 + MIN + 2 * SEC,
  operationId: 'op-7f3c9a1e',
});

/** One realistic notification per lifecycle event, as the domain's `tell` produces them. */
const NOTIFICATIONS: Record<NotificationEvent, Notification> = {
  OPENED: {
    event: 'OPENED',
    atMs: T0,
    title: `${APP}: RESTART_LOOP → roll back from version 7 to version 6 (RollbackApplication)`,
    text: `${LOOP.summary}\nDecision: ${LOOP_REASON}`,
    nextSteps: [],
    incident: incident({
      status: 'REMEDIATING',
      finding: LOOP,
      rootCause: ROOT_CAUSE,
      decision: remediate,
      remediation: ROLLBACK,
      attempts: 1,
    }),
  },
  ACTION_TAKEN: {
    event: 'ACTION_TAKEN',
    atMs: T0 + MIN + 2 * SEC,
    title: `${APP}: RollbackApplication`,
    text: 'RollbackApplication accepted; waiting for RUNNING.',
    nextSteps: [],
    incident: incident({
      status: 'REMEDIATING',
      finding: LOOP,
      rootCause: ROOT_CAUSE,
      decision: remediate,
      remediation: ROLLBACK,
      attempts: 1,
      actions: [rollbackAction],
    }),
  },
  RESOLVED: {
    event: 'RESOLVED',
    atMs: T0 + 7 * MIN + 30 * SEC,
    title: `${APP}: recovered in 8 min`,
    text: `${APP} is RUNNING at version 8 (version 6's configuration) and fullRestarts has not moved for 5 min.`,
    nextSteps: [],
    incident: incident({
      status: 'RESOLVED',
      finding: LOOP,
      rootCause: ROOT_CAUSE,
      decision: remediate,
      remediation: ROLLBACK,
      attempts: 1,
      actions: [rollbackAction],
      closedMs: T0 + 7 * MIN + 30 * SEC,
      outcomeReason: `${APP} is RUNNING at version 8 (version 6's configuration) and fullRestarts has not moved for 5 min.`,
    }),
  },
  ESCALATED: {
    event: 'ESCALATED',
    atMs: T0 + 12 * MIN,
    title: `${APP}: escalated — automation stopped, a human is needed`,
    text: `StopApplication with Force failed twice; ${APP} is still UPDATING. No further automatic action.`,
    nextSteps: [CLI.describe, CLI.forceStop, CLI.start, 'Check the job logs for the root cause before restarting it.'],
    incident: incident({
      status: 'ESCALATED',
      trigger: { source: 'schedule', detail: 'flink-watchdog-sweep', atMs: T0 },
      finding: STUCK,
      decision: {
        verdict: 'REMEDIATE',
        reason: `${STUCK.summary} Force-stopping clears a stuck transition; then start from the latest snapshot.`,
        finding: STUCK,
        remediation: FORCE_STOP,
        guards: [...PASSED, { name: 'mode-remediate', passed: true, detail: 'mode remediate' }],
        nextSteps: [],
      },
      remediation: FORCE_STOP,
      attempts: 1,
      actions: [
        action(1, 'StopApplication', T0 + MIN, {
          input: { ApplicationName: APP, Force: true },
          state: 'FAILED',
          completedMs: T0 + MIN + SEC,
          error: 'ResourceInUseException: Application orders-enrichment is not in a state that allows force-stop',
        }),
        action(2, 'StopApplication', T0 + 6 * MIN, {
          input: { ApplicationName: APP, Force: true },
          state: 'FAILED',
          completedMs: T0 + 6 * MIN + SEC,
          error: 'ResourceInUseException: Application orders-enrichment is not in a state that allows force-stop',
        }),
      ],
      closedMs: T0 + 12 * MIN,
      outcomeReason: `StopApplication with Force failed twice; ${APP} is still UPDATING. No further automatic action.`,
      nextSteps: [
        CLI.describe,
        CLI.forceStop,
        CLI.start,
        'Check the job logs for the root cause before restarting it.',
      ],
    }),
  },
  NOTIFIED: {
    event: 'NOTIFIED',
    atMs: T0,
    title: `${APP}: ROLLED_BACK`,
    text: `${SYSTEM_ROLLBACK.summary} This is MSF's own rollback: the watchdog does not redeploy against it.`,
    nextSteps: [
      CLI.version,
      'Fix the change, or align your Terraform/CDK with the running version, before the next apply.',
    ],
    incident: incident({
      status: 'NOTIFIED',
      trigger: { source: 'cloudtrail', detail: 'UpdateApplication', atMs: T0 - MIN },
      finding: SYSTEM_ROLLBACK,
      decision: {
        verdict: 'NOTIFY',
        reason: `${SYSTEM_ROLLBACK.summary} This is MSF's own rollback: the watchdog does not redeploy against it.`,
        finding: SYSTEM_ROLLBACK,
        guards: [{ name: 'in-scope', passed: true, detail: 'listed in the watchdog config' }],
        nextSteps: [CLI.version],
      },
      closedMs: T0,
    }),
  },
  OBSERVED: {
    event: 'OBSERVED',
    atMs: T0,
    title: `${APP}: RESTART_LOOP (observe mode)`,
    text: `Observe mode: ${LOOP_REASON} Would have: roll back from version 7 to version 6 (RollbackApplication).`,
    nextSteps: [],
    incident: incident({
      status: 'OBSERVED',
      finding: LOOP,
      rootCauseNote: `no exception in log group /aws/kinesis-analytics/${APP} between 13:47 and 13:57 UTC`,
      decision: {
        verdict: 'NONE',
        reason: `Observe mode: ${LOOP_REASON} Would have: roll back from version 7 to version 6 (RollbackApplication).`,
        finding: LOOP,
        wouldHave: ROLLBACK,
        guards: [...PASSED, { name: 'mode-remediate', passed: false, detail: 'mode observe' }],
        nextSteps: [],
      },
      closedMs: T0,
    }),
  },
  APPROVAL_REQUESTED: {
    event: 'APPROVAL_REQUESTED',
    atMs: T0,
    title: `${APP}: RESTART_LOOP → approve roll back from version 7 to version 6 (RollbackApplication)?`,
    text: `${LOOP.summary}\nDecision: ${LOOP_REASON}`,
    nextSteps: [],
    incident: incident({
      status: 'REMEDIATING',
      finding: LOOP,
      rootCause: ROOT_CAUSE,
      decision: approveMode,
      remediation: ROLLBACK,
      approval: PENDING,
    }),
  },
  APPROVAL_ANSWERED: {
    event: 'APPROVAL_ANSWERED',
    atMs: T0 + 4 * MIN,
    title: `${APP}: approved by slack:U0123ABC (jane.doe)`,
    text: 'Approved: every guard is checked again on a fresh DescribeApplication before acting.',
    nextSteps: [],
    incident: incident({
      status: 'REMEDIATING',
      finding: LOOP,
      rootCause: ROOT_CAUSE,
      decision: approveMode,
      remediation: ROLLBACK,
      approval: {
        ...PENDING,
        taskToken: TASK_TOKEN,
        state: 'APPROVED',
        answer: { decision: 'APPROVED', by: 'slack:U0123ABC (jane.doe)', via: 'slack', atMs: T0 + 4 * MIN },
      },
    }),
  },
  HELD: {
    event: 'HELD',
    atMs: T0 + MIN,
    title: `${APP}: remediation held by a change freeze`,
    text: 'No automatic MSF call while change calendar prod-freeze is CLOSED; the watchdog looks again every 5 min.',
    nextSteps: [],
    incident: incident({
      status: 'REMEDIATING',
      finding: LOOP,
      rootCause: ROOT_CAUSE,
      decision: remediate,
      remediation: ROLLBACK,
      hold: {
        kind: 'CHANGE_FREEZE',
        detail: 'change calendar prod-freeze is CLOSED until 2026-03-02T18:00Z',
        sinceMs: T0 + MIN,
        lastCheckedMs: T0 + MIN,
        toldMs: T0 + MIN,
      },
    }),
  },
};

const RENDERINGS: Record<string, (n: Notification) => unknown> = {
  slack: (n) =>
    renderSlack(n, {
      region: REGION,
      ledgerTableName: LEDGER_TABLE,
      ...(n.event === 'OPENED' ? {} : { threadTs: THREAD_TS }),
    }),
  chatbot: (n) =>
    renderChatbot(n, {
      region: REGION,
      applicationArn: ARN,
      ledgerTableName: LEDGER_TABLE,
      commandTopicArn: COMMAND_TOPIC,
    }),
  sns: (n) => renderSnsMessage(n, { applicationArn: ARN }),
  eventbridge: (n) => renderEventBridge(n, { eventBusName: 'flink-watchdog', applicationArn: ARN }),
};

/** A JSON round trip, as the rendering goes on the wire (Dates become ISO strings). */
const wire = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

function golden(name: string, actual: unknown): unknown {
  const file = `${GOLDEN_DIR}${name}.json`;
  if (UPDATE_GOLDEN || !existsSync(file)) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, `${JSON.stringify(actual, null, 2)}\n`);
  }
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** Every `text` string anywhere in a block (section, header, context elements, buttons). */
function textsOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(textsOf);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, v]) => (key === 'text' && typeof v === 'string' ? [v] : textsOf(v)));
}

/** A notification with a 10,000-character ErrorInfo everywhere, 80 actions and many long next steps. */
function hugeNotification(): Notification {
  const errorString =
    `CodeValidationException: ${'java.lang.ClassNotFoundException: com.example.Missing <at> & '.repeat(170)}`.slice(
      0,
      10_000,
    );
  const finding: DeployFailedFinding = {
    kind: 'DEPLOY_FAILED',
    summary: `The update to version 8 failed: ${errorString}`,
    operation: {
      operationId: 'op-1',
      operation: 'UpdateApplication',
      status: 'FAILED',
      startMs: T0 - 5 * MIN,
      errorString,
    },
    cause: 'SUBMIT',
    errorString,
    status: 'READY',
  };
  const actions = Array.from({ length: 80 }, (_, k) =>
    action(k + 1, k % 2 === 0 ? 'StopApplication' : 'StartApplication', T0 + k * MIN, {
      state: 'FAILED',
      completedMs: T0 + k * MIN + SEC,
      operationId: `op-${k}`,
      error: errorString,
    }),
  );
  const nextSteps = Array.from({ length: 30 }, (_, k) => `${CLI.describe} --debug ${'x'.repeat(200)} ${k}`);
  const n = NOTIFICATIONS.ESCALATED;
  return {
    ...n,
    title: `${APP}: escalated — ${errorString}`,
    text: errorString,
    nextSteps,
    incident: {
      ...n.incident,
      finding,
      decision: { ...n.incident.decision, finding, reason: `${finding.summary} ${errorString}` },
      actions,
      outcomeReason: errorString,
      nextSteps,
    },
  };
}

describe('Rendering: golden files', () => {
  for (const [rendering, render] of Object.entries(RENDERINGS)) {
    for (const event of NOTIFICATION_EVENTS) {
      const name = `${rendering}-${event.toLowerCase().replace(/_/g, '-')}`;
      it(`renders ${event} for ${rendering} as ${name}.json`, () => {
        // Act
        const actual = wire(render(NOTIFICATIONS[event]));

        // Assess
        expect(actual).toEqual(golden(name, actual));
      });
    }
  }
});

describe('Rendering: Slack', () => {
  it('puts application and status in the header, threads updates and carries the incident id in the text', () => {
    // Act
    const opened = renderSlack(NOTIFICATIONS.OPENED, { region: REGION });
    const escalated = renderSlack(NOTIFICATIONS.ESCALATED, { region: REGION, threadTs: THREAD_TS });

    // Assess
    expect(escalated.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: 'orders-enrichment · ESCALATED' },
    });
    expect(opened.thread_ts).toBeUndefined();
    expect(escalated.thread_ts).toBe(THREAD_TS);
    expect(opened.text).toContain(ID);
    expect(JSON.stringify(opened.blocks)).toContain(ID);
  });

  it('shows actions with their times and next steps as code', () => {
    // Act
    const texts = textsOf(renderSlack(NOTIFICATIONS.ESCALATED, { region: REGION }).blocks).join('\n');

    // Assess
    expect(texts).toContain('• 14:01 UTC StopApplication FAILED (completed 14:01 UTC, error: ResourceInUseException');
    expect(texts).toContain(`\`\`\`${CLI.describe}\n${CLI.forceStop}\n${CLI.start}\`\`\``);
    expect(texts).toContain('• Check the job logs for the root cause before restarting it.');
  });

  it('offers the MSF console, CloudWatch metrics and the incident as buttons', () => {
    // Act
    const { blocks } = renderSlack(NOTIFICATIONS.OPENED, { region: REGION, ledgerTableName: LEDGER_TABLE });

    // Assess
    const buttons = blocks.flatMap((b) => (b.type === 'actions' ? b.elements : []));
    expect(buttons.map((b) => (b.type === 'button' ? [b.text.text, b.url] : []))).toEqual([
      ['MSF console', msfConsoleUrl(REGION, APP)],
      ['CloudWatch metrics', metricsConsoleUrl(REGION, APP)],
      [
        'Incident',
        incidentLinks({ region: REGION, applicationName: APP, incidentId: ID, ledgerTableName: LEDGER_TABLE }).incident,
      ],
    ]);
  });

  it('stays within Block Kit limits with a 10,000-character ErrorInfo and 80 actions', () => {
    // Act
    const message = renderSlack(hugeNotification(), { region: REGION, ledgerTableName: LEDGER_TABLE });

    // Assess
    expect(message.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    for (const text of textsOf(message.blocks)) expect(text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    const header = message.blocks[0] as Extract<KnownBlock, { type: 'header' }>;
    expect(header.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);
    expect(message.text.length).toBeLessThanOrEqual(SLACK_LIMITS.messageText);
    expect(message.blocks.reduce((sum, b) => sum + blockTextLength(b), 0)).toBeLessThanOrEqual(
      SLACK_LIMITS.totalBlockText,
    );
    const all = textsOf(message.blocks).join('\n');
    expect(all).toContain('(truncated)');
    expect(all).toMatch(/… \d+ more actions not shown \(truncated\)/);
    expect(all).toContain(ID);
    expect(message.text).toContain(`(incident ${ID})`);
    expect(message.blocks.at(-1)?.type).toBe('context');
  });

  it('escapes mrkdwn control characters in user-derived text', () => {
    // Arrange
    const n = NOTIFICATIONS.NOTIFIED;
    const hostile: Notification = {
      ...n,
      title: `${APP}: <!channel> & <https://evil.example|click>`,
      text: 'lag > 5 min & rising <@U123>',
      incident: { ...n.incident, decision: { ...n.incident.decision, reason: 'a < b & c > d' } },
    };

    // Act
    const message = renderSlack(hostile, { region: REGION });

    // Assess
    const all = [message.text, ...textsOf(message.blocks.filter((b) => b.type !== 'header'))].join('\n');
    expect(all).toContain('&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;');
    expect(all).toContain('lag &gt; 5 min &amp; rising &lt;@U123&gt;');
    expect(all).toContain('a &lt; b &amp; c &gt; d');
    expect(all).not.toContain('<!channel>');
    expect(all).not.toContain('<@U123>');
  });

  it('shows prominently what observe mode would have done', () => {
    // Act
    const { blocks } = renderSlack(NOTIFICATIONS.OBSERVED, { region: REGION });

    // Assess
    expect(textsOf(blocks.slice(0, 2))).toEqual([
      'orders-enrichment · OBSERVED (observe mode)',
      '*orders-enrichment: would have rolled back to version 6 (observe mode)*\n*Would have: roll back from version 7 to version 6 (RollbackApplication). Observe mode: nothing was done to the application.*',
    ]);
  });
});

describe('Rendering: Amazon Q Developer custom notification', () => {
  it('validates against the documented schema for every event, threaded by incident id', () => {
    for (const event of NOTIFICATION_EVENTS) {
      // Act
      const notification = renderChatbot(NOTIFICATIONS[event], { region: REGION, applicationArn: ARN });

      // Assess
      expect(ChatbotNotification.safeParse(notification).success, event).toBe(true);
      expect(notification).toMatchObject({
        version: '1.0',
        source: 'custom',
        content: { textType: 'client-markdown' },
        metadata: { threadId: ID, eventType: event, relatedResources: [ARN] },
      });
    }
  });

  it('falls back to the application name as related resource', () => {
    // Act
    const notification = renderChatbot(NOTIFICATIONS.OPENED, { region: REGION });

    // Assess
    expect(notification.metadata?.relatedResources).toEqual([APP]);
  });

  it('keeps every field within its cap for a huge incident', () => {
    // Act
    const notification = renderChatbot(hugeNotification(), { region: REGION });

    // Assess
    expect(ChatbotNotification.parse(notification)).toEqual(notification);
    const { content, metadata } = notification;
    expect(content.title?.length).toBeLessThanOrEqual(CHATBOT_LIMITS.title);
    expect(content.description.length).toBeLessThanOrEqual(CHATBOT_LIMITS.description);
    expect(content.description).toContain('(truncated)');
    expect(content.description).toContain(`Incident \`${ID}\``);
    expect(content.nextSteps?.length).toBeLessThanOrEqual(CHATBOT_LIMITS.nextSteps);
    for (const step of content.nextSteps ?? []) expect(step.length).toBeLessThanOrEqual(CHATBOT_LIMITS.nextStep);
    expect(metadata?.summary?.length).toBeLessThanOrEqual(CHATBOT_LIMITS.summary);
  });

  it('escapes mrkdwn and leads with the observe-mode "would have"', () => {
    // Arrange
    const n = NOTIFICATIONS.OBSERVED;
    const hostile: Notification = {
      ...n,
      incident: { ...n.incident, finding: { ...LOOP, summary: 'restarts <!here> & more' } },
    };

    // Act
    const { content } = renderChatbot(hostile, { region: REGION });

    // Assess
    expect(content.title).toBe('orders-enrichment: would have rolled back to version 6 (observe mode)');
    expect(content.description.split('\n')[0]).toBe(
      '*Would have: roll back from version 7 to version 6 (RollbackApplication). Observe mode: nothing was done to the application.*',
    );
    expect(content.description).toContain('restarts &lt;!here&gt; &amp; more');
  });
});

describe('Rendering: SNS runbook message', () => {
  it('validates against WatchdogEventV1 for every event, with filter-policy attributes', () => {
    for (const event of NOTIFICATION_EVENTS) {
      // Act
      const { message, attributes, subject } = renderSnsMessage(NOTIFICATIONS[event]);

      // Assess
      expect(WatchdogEventV1.parse(wire(message))).toEqual(message);
      expect(Object.keys(attributes).sort()).toEqual(
        ['action', 'application', 'event', 'findingKind', 'incidentId', 'outcome', 'severity'].sort(),
      );
      for (const a of Object.values(attributes)) {
        expect(a.DataType).toBe('String');
        expect(a.StringValue.length).toBeGreaterThan(0);
      }
      expect(attributes.severity.StringValue).toBe(SEVERITY_BY_EVENT[event]);
      expect(attributes.event.StringValue).toBe(event);
      expect(subject).toMatch(/^[\x20-\x7e]{1,100}$/);
    }
  });

  it('carries a CHECKPOINT_STALL finding (kind and summary) and filters on it', () => {
    // Prepare
    const stall: Finding = {
      kind: 'CHECKPOINT_STALL',
      summary: 'Checkpoint stall: checkpoints of orders-enrichment keep failing (3 failed in the last 20 min).',
      cause: 'FAILED_CHECKPOINTS_RISING',
      sinceMs: T0 - 5 * MIN,
      onsetMs: T0 - 2 * MIN,
      failedCheckpoints: 3,
      restarts: 0,
      unexplainedFailures: 3,
      failedCheckpointsThreshold: 2,
      window: {
        windowMs: 20 * MIN,
        intervalMs: MIN,
        intervalSource: 'DEFAULT',
        timeoutMs: 10 * MIN,
        tolerableFailedCheckpoints: 0,
        derivation: 'max(interval 60 s [MSF DEFAULT], timeout 600 s) × (0 tolerable failed checkpoints + 2) = 20 min',
      },
    };
    const n: Notification = {
      ...NOTIFICATIONS.NOTIFIED,
      title: `${APP}: CHECKPOINT_STALL`,
      incident: { ...NOTIFICATIONS.NOTIFIED.incident, finding: stall },
    };
    // Act
    const { message, attributes } = renderSnsMessage(n);
    // Assess
    expect(WatchdogEventV1.parse(wire(message))).toEqual(message);
    expect(attributes.findingKind.StringValue).toBe('CHECKPOINT_STALL');
    expect(JSON.stringify(message)).toContain(stall.summary);
  });

  it.each([
    ['OPENED', { severity: 'warning', findingKind: 'RESTART_LOOP', action: 'ROLLBACK', outcome: 'REMEDIATING' }],
    ['ACTION_TAKEN', { severity: 'warning', findingKind: 'RESTART_LOOP', action: 'ROLLBACK', outcome: 'REMEDIATING' }],
    ['RESOLVED', { severity: 'info', findingKind: 'RESTART_LOOP', action: 'ROLLBACK', outcome: 'RESOLVED' }],
    [
      'ESCALATED',
      { severity: 'critical', findingKind: 'STUCK_TRANSITION', action: 'FORCE_STOP_AND_RESTART', outcome: 'ESCALATED' },
    ],
    ['NOTIFIED', { severity: 'warning', findingKind: 'ROLLED_BACK', action: 'NONE', outcome: 'NOTIFIED' }],
    ['OBSERVED', { severity: 'info', findingKind: 'RESTART_LOOP', action: 'NONE', outcome: 'OBSERVED' }],
  ] as const)('sets the attributes of %s', (event, expected) => {
    // Act
    const { attributes } = renderSnsMessage(NOTIFICATIONS[event]);

    // Assess
    expect({
      severity: attributes.severity.StringValue,
      findingKind: attributes.findingKind.StringValue,
      action: attributes.action.StringValue,
      outcome: attributes.outcome.StringValue,
    }).toEqual(expected);
    expect(attributes.application.StringValue).toBe(APP);
    expect(attributes.incidentId.StringValue).toBe(ID);
  });

  it('carries time to recovery on RESOLVED only', () => {
    // Act
    const resolved = renderSnsMessage(NOTIFICATIONS.RESOLVED).message;
    const opened = renderSnsMessage(NOTIFICATIONS.OPENED).message;

    // Assess
    expect(resolved.timeToRecoverySeconds).toBe(480);
    expect(resolved.outcome).toEqual({
      status: 'RESOLVED',
      reason: NOTIFICATIONS.RESOLVED.incident.outcomeReason,
      closedAt: '2026-03-02T14:07:30.000Z',
    });
    expect(opened).not.toHaveProperty('timeToRecoverySeconds');
  });

  it('never includes action input (environment property values)', () => {
    // Arrange
    const n = NOTIFICATIONS.ACTION_TAKEN;
    const update = action(2, 'UpdateApplication', T0 + 2 * MIN, {
      input: {
        ApplicationName: APP,
        CurrentApplicationVersionId: 8,
        ApplicationConfigurationUpdate: {
          EnvironmentPropertyUpdates: {
            PropertyGroups: [
              { PropertyGroupId: 'app', PropertyMap: { 'db.password': 's3cr3t', 'api.key': 's3cr3t-key' } },
            ],
          },
        },
      },
      operationId: 'op-update',
    });
    const withSecret: Notification = { ...n, incident: { ...n.incident, actions: [rollbackAction, update] } };

    // Act
    const { message, attributes } = renderSnsMessage(withSecret);
    const entry = renderEventBridge(withSecret);

    // Assess
    const json = JSON.stringify({ message, attributes, entry });
    expect(json).not.toContain('s3cr3t');
    expect(json).not.toContain('PropertyMap');
    expect(message.actions.map((a) => Object.keys(a).sort())).toEqual([
      ['call', 'completedAt', 'operationId', 'recordedAt', 'seq', 'state'],
      ['call', 'operationId', 'recordedAt', 'seq', 'state'],
    ]);
    expect(WatchdogEventV1.parse(wire(message))).toEqual(message);
  });

  it('stays within the SNS message size for a huge incident', () => {
    // Act
    const { message, attributes } = renderSnsMessage(hugeNotification());

    // Assess
    const bytes =
      Buffer.byteLength(JSON.stringify(message)) +
      Object.entries(attributes).reduce((s, [k, a]) => s + k.length + a.DataType.length + a.StringValue.length, 0);
    expect(bytes).toBeLessThanOrEqual(SNS_MESSAGE_MAX_BYTES);
    expect(message.actions).toHaveLength(80);
    expect(message.text.length).toBeLessThan(10_100);
    expect(WatchdogEventV1.parse(wire(message))).toEqual(message);
  });

  it('says what observe mode would have done', () => {
    // Act
    const { message } = renderSnsMessage(NOTIFICATIONS.OBSERVED);

    // Assess
    expect(message.title).toBe('orders-enrichment: would have rolled back to version 6 (observe mode)');
    expect(message.decision).toMatchObject({
      verdict: 'NONE',
      wouldHave: { kind: 'ROLLBACK', description: 'roll back from version 7 to version 6 (RollbackApplication)' },
    });
    expect(message.decision).not.toHaveProperty('remediation');
  });

  it('has its JSON Schema committed up to date (npx tsx shared/notify/sns-message-schema.ts --write-schema)', () => {
    // Arrange
    const committed = readFileSync(WATCHDOG_EVENT_JSON_SCHEMA_FILE, 'utf8');

    // Assess
    expect(
      JSON.parse(committed),
      'shared/notify/sns-message.schema.json is stale: npx tsx shared/notify/sns-message-schema.ts --write-schema',
    ).toEqual(watchdogEventJsonSchema());
    expect(committed.endsWith('}\n')).toBe(true);
    expect(watchdogEventJsonSchema()).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: 'urn:flink-watchdog:event:schema-version-1',
      type: 'object',
    });
  });
});

describe('Rendering: EventBridge', () => {
  it('uses the documented source and detail-type of each event, with the runbook message as detail', () => {
    for (const event of NOTIFICATION_EVENTS) {
      // Act
      const entry = renderEventBridge(NOTIFICATIONS[event], { applicationArn: ARN });

      // Assess
      expect(entry.Source).toBe(EVENT_SOURCE);
      expect(entry.DetailType).toBe(DETAIL_TYPES[event]);
      expect(entry.Resources).toEqual([ARN]);
      expect(entry.EventBusName).toBeUndefined();
      expect(WatchdogEventV1.parse(JSON.parse(entry.Detail ?? ''))).toMatchObject({ event, incidentId: ID });
    }
  });

  it('omits Resources when the ARN is unknown and names the bus when given', () => {
    // Act
    const entry = renderEventBridge(NOTIFICATIONS.RESOLVED, { eventBusName: 'ops' });

    // Assess
    expect(entry).not.toHaveProperty('Resources');
    expect(entry.EventBusName).toBe('ops');
    expect(entry.Time?.toISOString()).toBe('2026-03-02T14:07:30.000Z');
  });
});

describe('Rendering: links and helpers', () => {
  it('builds console links from region, application name and incident id', () => {
    // Act
    const links = incidentLinks({
      region: REGION,
      applicationName: APP,
      incidentId: ID,
      ledgerTableName: LEDGER_TABLE,
    });

    // Assess
    expect(links).toEqual({
      msfConsole:
        'https://eu-west-1.console.aws.amazon.com/flink/home?region=eu-west-1#/applications/orders-enrichment',
      metrics:
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#metricsV2:graph=~();query=~'*7bAWS*2fKinesisAnalytics*2cApplication*7d*20orders-enrichment",
      incident: `https://eu-west-1.console.aws.amazon.com/dynamodbv2/home?region=eu-west-1#edit-item?itemMode=2&pk=INCIDENT%23${ID}&route=ROUTE_ITEM_EXPLORER&sk=INCIDENT&table=flink-watchdog-ledger`,
      historyCommand: 'flink-watchdog history --app orders-enrichment',
    });
    expect(ARN).toBe('arn:aws:kinesisanalytics:eu-west-1:123456789012:application/orders-enrichment');
  });

  it('truncates with a marker, never splitting an entity', () => {
    // Assess
    expect(truncate('abcdef', 6)).toBe('abcdef');
    expect(truncate('x'.repeat(50), 20)).toBe(`${'x'.repeat(7)}… (truncated)`);
    expect(truncateMrkdwn(`${'x'.repeat(5)}&amp;${'y'.repeat(30)}`, 21)).toBe('xxxxx… (truncated)');
  });
});

describe('Rendering: approval, hold and root cause', () => {
  const slackBlocks = (n: Notification) => renderSlack(n, { region: REGION }).blocks;
  const approvalActions = (n: Notification) =>
    slackBlocks(n).filter((b) => b.type === 'actions' && b.block_id === 'flink-watchdog-approval');

  it('puts Approve (with a confirmation) and Reject buttons carrying the incident id on a pending request', () => {
    // Act
    const blocks = approvalActions(NOTIFICATIONS.APPROVAL_REQUESTED);

    // Assess
    expect(blocks).toEqual([
      {
        type: 'actions',
        block_id: 'flink-watchdog-approval',
        elements: [
          {
            type: 'button',
            action_id: SLACK_APPROVE_ACTION_ID,
            style: 'primary',
            text: { type: 'plain_text', text: 'Approve' },
            value: ID,
            confirm: {
              title: { type: 'plain_text', text: 'Approve this remediation?' },
              text: {
                type: 'plain_text',
                text: 'roll back from version 7 to version 6 (RollbackApplication). Every guard is checked again before acting.',
              },
              confirm: { type: 'plain_text', text: 'Approve' },
              deny: { type: 'plain_text', text: 'Cancel' },
            },
          },
          {
            type: 'button',
            action_id: SLACK_REJECT_ACTION_ID,
            style: 'danger',
            text: { type: 'plain_text', text: 'Reject' },
            value: ID,
          },
        ],
      },
    ]);
  });

  it('shows no approval buttons once answered, nor on incidents without a request', () => {
    for (const event of NOTIFICATION_EVENTS.filter((e) => e !== 'APPROVAL_REQUESTED')) {
      // Act / Assess
      expect(approvalActions(NOTIFICATIONS[event]), event).toEqual([]);
    }
  });

  it('says what will be done, who can answer, until when and the CLI commands, in every rendering', () => {
    // Arrange
    const n = NOTIFICATIONS.APPROVAL_REQUESTED;

    // Act
    const slack = textsOf(slackBlocks(n)).join('\n');
    const chatbot = renderChatbot(n, { region: REGION });
    const { message } = renderSnsMessage(n);

    // Assess
    for (const text of [slack, chatbot.content.description]) {
      expect(text).toContain(
        'Approval* Approval requested: roll back from version 7 to version 6 (RollbackApplication)',
      );
      expect(text).toContain('Who can answer: anyone in the incident’s Slack channel');
      expect(text).toContain(
        'Until: 14:30 UTC (2026-03-02T14:30:00.000Z); then the incident is ESCALATED and nothing is done.',
      );
    }
    expect(slack).toContain(`flink-watchdog approve ${ID}\nflink-watchdog reject ${ID} --reason TEXT`);
    expect(chatbot.content.nextSteps?.slice(0, 2)).toEqual([
      `\`flink-watchdog approve ${ID}\``,
      `\`flink-watchdog reject ${ID} --reason TEXT\``,
    ]);
    expect(message.approval).toEqual({
      state: 'PENDING',
      remediation: { kind: 'ROLLBACK', description: 'roll back from version 7 to version 6 (RollbackApplication)' },
      requestedAt: '2026-03-02T14:00:00.000Z',
      timeoutAt: '2026-03-02T14:30:00.000Z',
      onTimeout: 'escalate',
      commands: { approve: `flink-watchdog approve ${ID}`, reject: `flink-watchdog reject ${ID} --reason TEXT` },
    });
  });

  it('tells who answered and through what, without the commands', () => {
    // Arrange
    const n = NOTIFICATIONS.APPROVAL_ANSWERED;

    // Act
    const slack = textsOf(slackBlocks(n)).join('\n');
    const { message } = renderSnsMessage(n);

    // Assess
    expect(slack).toContain(
      '*Approval* Approved by slack:U0123ABC (jane.doe) via slack at 14:04 UTC: roll back from version 7 to version 6 (RollbackApplication)',
    );
    expect(slack).not.toContain('flink-watchdog approve');
    expect(message.approval?.answer).toEqual({
      decision: 'APPROVED',
      by: 'slack:U0123ABC (jane.doe)',
      via: 'slack',
      at: '2026-03-02T14:04:00.000Z',
    });
    expect(message.approval?.commands).toBeUndefined();
  });

  it.each([
    [
      'REJECTED',
      {
        decision: 'REJECTED',
        by: 'arn:aws:iam::123456789012:user/bob',
        via: 'cli',
        atMs: T0 + 2 * MIN,
        reason: 'deploy window',
      },
      'Rejected by arn:aws:iam::123456789012:user/bob via cli at 14:02 UTC: not done: roll back',
    ],
    ['TIMED_OUT', undefined, 'No answer by 14:30 UTC: escalated, not done: roll back'],
    [
      'STALE',
      { decision: 'APPROVED', by: 'slack:U1 (amy)', via: 'slack', atMs: T0 + 3 * MIN },
      'Approved by slack:U1 (amy) via slack at 14:03 UTC, but refused as stale',
    ],
  ] as const)('words a %s approval', (state, answer, expected) => {
    // Arrange
    const base = NOTIFICATIONS.APPROVAL_ANSWERED;
    const n: Notification = {
      ...base,
      incident: {
        ...base.incident,
        approval: { ...PENDING, state, ...(answer ? { answer: { ...answer } } : {}) },
      },
    };

    // Act
    const description = renderChatbot(n, { region: REGION }).content.description;

    // Assess
    expect(description).toContain(`*Approval* ${expected}`);
    if (state === 'REJECTED') expect(description).toContain('Reason: deploy window');
  });

  it('never puts the task token in any rendering', () => {
    for (const event of ['APPROVAL_REQUESTED', 'APPROVAL_ANSWERED'] as const) {
      for (const [rendering, render] of Object.entries(RENDERINGS)) {
        // Act / Assess
        expect(JSON.stringify(render(NOTIFICATIONS[event])), `${rendering} ${event}`).not.toContain(TASK_TOKEN);
      }
    }
  });

  it('shows what holds automation in every rendering', () => {
    // Arrange
    const n = NOTIFICATIONS.HELD;
    const sentence =
      'Held by a change freeze since 14:01 UTC: change calendar prod-freeze is CLOSED until 2026-03-02T18:00Z';

    // Act / Assess
    expect(textsOf(slackBlocks(n)).join('\n')).toContain(`*Held* ${sentence}`);
    expect(renderChatbot(n, { region: REGION }).content.description).toContain(`*Held* ${sentence}`);
    expect(renderSnsMessage(n).message.hold).toEqual({
      kind: 'CHANGE_FREEZE',
      detail: 'change calendar prod-freeze is CLOSED until 2026-03-02T18:00Z',
      since: '2026-03-02T14:01:00.000Z',
    });
    expect(JSON.parse(renderEventBridge(n).Detail ?? '{}').hold.kind).toBe('CHANGE_FREEZE');
  });

  it('says when a hold was released', () => {
    // Arrange
    const base = NOTIFICATIONS.HELD;
    const n: Notification = {
      ...base,
      incident: {
        ...base.incident,
        hold: { ...(base.incident.hold as NonNullable<Incident['hold']>), releasedMs: T0 + 40 * MIN },
      },
    };

    // Act / Assess
    expect(renderChatbot(n, { region: REGION }).content.description).toContain(
      '*Held* Was held by a change freeze since 14:01 UTC: change calendar prod-freeze is CLOSED until 2026-03-02T18:00Z (released 14:40 UTC)',
    );
  });

  it('shows the root cause (exception class, message, top frames) in every notification of a restart loop', () => {
    const loopEvents = NOTIFICATION_EVENTS.filter((e) => NOTIFICATIONS[e].incident.rootCause !== undefined);
    expect(loopEvents).toEqual([
      'OPENED',
      'ACTION_TAKEN',
      'RESOLVED',
      'APPROVAL_REQUESTED',
      'APPROVAL_ANSWERED',
      'HELD',
    ]);
    for (const event of loopEvents) {
      for (const [rendering, render] of Object.entries(RENDERINGS)) {
        // Act
        const rendered = JSON.stringify(wire(render(NOTIFICATIONS[event])));

        // Assess
        expect(rendered, `${rendering} ${event}`).toContain(ROOT_CAUSE.exceptionClass);
        expect(rendered, `${rendering} ${event}`).toContain('Stream orders-v2 under account 123456789012 not found.');
        expect(rendered, `${rendering} ${event}`).toContain('KinesisStreamProxy.getShardList');
      }
    }
    expect(textsOf(slackBlocks(NOTIFICATIONS.OPENED)).join('\n')).toContain(
      `*Root cause* ${ROOT_CAUSE.exceptionClass}: ${ROOT_CAUSE.message}\n\`\`\`${ROOT_CAUSE.frames.join('\n')}\`\`\`\n_log group /aws/kinesis-analytics/${APP} at 13:52 UTC (CloudWatch Logs Insights)_`,
    );
  });

  it('says why no root cause was found when none was', () => {
    // Arrange
    const n = NOTIFICATIONS.OBSERVED;
    const note = `no exception in log group /aws/kinesis-analytics/${APP} between 13:47 and 13:57 UTC`;

    // Act / Assess
    expect(textsOf(slackBlocks(n)).join('\n')).toContain(`*Root cause* not found: ${note}`);
    expect(renderChatbot(n, { region: REGION }).content.description).toContain(`*Root cause* not found: ${note}`);
    expect(renderSnsMessage(n).message.rootCauseNote).toBe(note);
  });

  /** The value a custom action variable's path (`event.metadata.additionalContext.KEY`) names in a notification. */
  const read = (n: ChatbotNotification, path: string) =>
    path
      .replace(/^event\./, '')
      .split('.')
      .reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], n);
  /** What the custom action of `command` would run on `n`: its CommandText with the variables put in. */
  const commandRun = (n: ChatbotNotification, command: 'approve' | 'reject') =>
    Object.entries(chatbotActionVariables(command)).reduce(
      (text, [name, path]) => text.replaceAll(`$${name}`, String(read(n, path))),
      chatbotCommandText(command),
    );

  it('gives the Amazon Q custom actions what they publish: the command topic, its Region and the runbook command', () => {
    // Act
    const pending = renderChatbot(NOTIFICATIONS.APPROVAL_REQUESTED, { region: REGION, commandTopicArn: COMMAND_TOPIC });
    const answered = renderChatbot(NOTIFICATIONS.APPROVAL_ANSWERED, { region: REGION, commandTopicArn: COMMAND_TOPIC });

    // Assess
    expect(commandRun(pending, 'approve')).toBe(
      `sns publish --topic-arn ${COMMAND_TOPIC} --region eu-west-1 --message '{"command":"approve","incidentId":"${ID}","via":"amazon-q","requestedBy":"amazon-q-custom-action","dryRun":false}'`,
    );
    const reject = /--message '(.+)'$/.exec(commandRun(pending, 'reject'))?.[1] ?? '';
    expect(RunbookCommand.parse(JSON.parse(reject))).toMatchObject({
      command: 'reject',
      incidentId: ID,
      via: 'amazon-q',
      reason: 'rejected-in-Amazon-Q-Developer',
      dryRun: false,
    });
    expect(read(pending, chatbotActionVariables('approve').approvalState ?? '')).toBe('PENDING');
    expect(read(answered, chatbotActionVariables('approve').approvalState ?? '')).toBe('APPROVED');
    expect(answered.metadata?.additionalContext?.approveCommand).toBeUndefined();
  });

  it('keeps every custom action CommandText within the API limit of 100 characters', () => {
    for (const command of ['approve', 'reject'] as const) {
      expect(chatbotCommandText(command).length, command).toBeLessThanOrEqual(CHATBOT_COMMAND_TEXT_MAX);
      expect(Object.keys(chatbotActionVariables(command)).length, command).toBeLessThanOrEqual(5);
    }
  });

  it('offers no Approve / Reject before the workflow waits on the request (the detector OPENED message)', () => {
    // Arrange: the detector records the request before the workflow reaches AwaitApproval (no task token yet).
    const { taskToken: _, ...requested } = PENDING;
    const opened: Notification = {
      ...NOTIFICATIONS.OPENED,
      incident: { ...NOTIFICATIONS.OPENED.incident, approval: requested },
    };

    // Act
    const chat = renderChatbot(opened, { region: REGION, commandTopicArn: COMMAND_TOPIC });

    // Assess
    expect(approvalActions(opened)).toEqual([]);
    expect(chat.metadata?.additionalContext?.approvalState).toBe('REQUESTED');
    expect(chat.metadata?.additionalContext?.approveCommand).toBeUndefined();
    expect(chat.content.description).not.toContain('*Approve* button');
    expect(approvalActions(NOTIFICATIONS.APPROVAL_REQUESTED)).toHaveLength(1);
  });

  it('leaves the Amazon Q buttons out when the command topic is not known', () => {
    // Act
    const chat = renderChatbot(NOTIFICATIONS.APPROVAL_REQUESTED, { region: REGION });

    // Assess
    expect(chat.metadata?.additionalContext?.approvalState).toBe('PENDING');
    expect(chat.metadata?.additionalContext?.commandTopicArn).toBeUndefined();
    expect(chat.content.description).toContain('Approve or reject with a command below.');
  });

  it('stays within Block Kit limits with a pending approval, a hold and a root cause on a huge incident', () => {
    // Arrange
    const huge = hugeNotification();
    const n: Notification = {
      ...huge,
      incident: {
        ...huge.incident,
        approval: PENDING,
        hold: NOTIFICATIONS.HELD.incident.hold,
        rootCause: { ...ROOT_CAUSE, message: 'x'.repeat(5_000), frames: ROOT_CAUSE.frames.map((f) => f.repeat(20)) },
      },
    } as Notification;

    // Act
    const { blocks } = renderSlack(n, { region: REGION });

    // Assess
    expect(blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    for (const b of blocks) {
      if (b.type === 'section') expect(b.text?.text.length ?? 0).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    }
    expect(blocks.reduce((sum, b) => sum + blockTextLength(b), 0)).toBeLessThanOrEqual(SLACK_LIMITS.totalBlockText);
    expect(approvalActions(n)).toHaveLength(1);
  });
});
