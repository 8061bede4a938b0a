import { App, type CfnElement, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DetectorEnv, functionEnvironment, RemediationEnv } from '#functions/common/env.ts';
import { LEDGER_TABLE } from '#shared/adapters/ledger-table.ts';
import { ALARM_PREFIX } from '#shared/alarms.ts';
import { ConfigError, parseConfig, type WatchdogConfig } from '#shared/config/schema.ts';
import {
  FlinkWatchdog,
  FlinkWatchdogPropsError,
  LEDGER_ACTIONS,
  MSF_MUTATING_ACTIONS,
  MSF_READ_ACTIONS,
} from '../../infra/flink-watchdog.ts';
import { WatchdogStack } from '../../infra/watchdog-stack.ts';

const CONFIG = parseConfig({
  schemaVersion: 1,
  optInTag: { key: 'flink-watchdog', value: 'enabled' },
  defaults: { mode: 'observe' },
  applications: [
    { name: 'orders-enrichment', policy: { mode: 'remediate' } },
    { name: 'payments-aggregation', policy: { restartLoop: { windowMinutes: 15, threshold: 4 } } },
  ],
});

const SLACK_SECRET_NAME = 'flink-watchdog/slack-webhook';
const EXISTING_TOPIC_ARN = 'arn:aws:sns:eu-west-1:123456789012:flink-alerts';
/** A fixed account and region, so that the synthesized template does not depend on the machine. */
const FIXED_ENV = { account: '123456789012', region: 'eu-west-1' };

/** A CDK app that skips the asset bundling (the prebuilt code copy) and the built-in CloudFormation validation (~2 s per synth). */
function testApp(): App {
  return new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
}

function synthStack(
  config: WatchdogConfig,
  runtimeEnvironments?: Record<string, string>,
  env?: { account: string; region: string },
): WatchdogStack {
  // Skips the asset bundling (the prebuilt code copy): these tests assert the template, not the bundle.
  return new WatchdogStack(testApp(), 'Test', {
    config,
    ...(runtimeEnvironments !== undefined ? { runtimeEnvironments } : {}),
    ...(env !== undefined ? { env } : {}),
  });
}

function synth(config: WatchdogConfig, runtimeEnvironments?: Record<string, string>): Template {
  return Template.fromStack(synthStack(config, runtimeEnvironments));
}

/** The logical ID of a construct's CloudFormation resource (its default child for L2 constructs). */
function logicalIdOf(construct: IConstruct | undefined): string {
  expect(construct, 'a construct').toBeDefined();
  const element = (construct?.node.defaultChild ?? construct) as CfnElement;
  return Stack.of(element).getLogicalId(element);
}

function arnOf(name: string): unknown {
  return {
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        ':kinesisanalytics:',
        { Ref: 'AWS::Region' },
        ':',
        { Ref: 'AWS::AccountId' },
        `:application/${name}`,
      ],
    ],
  };
}

interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Condition?: unknown;
}

/** The statements of every policy (inline and customer managed) attached to the role with this logical ID prefix. */
function statementsOf(template: Template, roleLogicalIdPrefix: string): Statement[] {
  const statements = allStatements(template).filter((s) => s.roles.some((r) => r.startsWith(roleLogicalIdPrefix)));
  expect(statements.length, `a policy on ${roleLogicalIdPrefix}`).toBeGreaterThan(0);
  return statements.map((s) => s.statement);
}

/** A policy statement with the logical IDs of the roles its policy is attached to. */
interface AttachedStatement {
  policy: string;
  roles: string[];
  statement: Statement;
}

/** Every statement of every `AWS::IAM::Policy` and `AWS::IAM::ManagedPolicy` in the template. */
function allStatements(template: Template): AttachedStatement[] {
  const policies = {
    ...template.findResources('AWS::IAM::Policy'),
    ...template.findResources('AWS::IAM::ManagedPolicy'),
  };
  return Object.entries(policies).flatMap(([policy, p]) =>
    (p.Properties.PolicyDocument.Statement as Statement[]).map((statement) => ({
      policy,
      roles: (p.Properties.Roles as { Ref: string }[]).map((r) => r.Ref),
      statement,
    })),
  );
}

/** Whether an IAM action pattern (`service:Action`, with `*` and `?` wildcards, case-insensitive) covers `action`. */
function coversAction(pattern: string, action: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${regex}$`, 'i').test(action);
}

/** Whether a statement grants any of `actions`, wildcards included. */
function grantsAny(statement: Statement, actions: readonly string[]): boolean {
  return [statement.Action].flat().some((pattern) => actions.some((a) => coversAction(pattern, a)));
}

/** The environment variables of the function with this logical ID. */
function environmentOf(template: Template, functionId: string): Record<string, unknown> {
  const fn = template.toJSON().Resources?.[functionId];
  expect(fn?.Type, `${functionId} is a function`).toBe('AWS::Lambda::Function');
  return (fn?.Properties?.Environment?.Variables ?? {}) as Record<string, unknown>;
}

/** Actions that support no resource-level permissions, the only ones allowed on `Resource: '*'`. */
const RESOURCELESS_ACTIONS = [
  'cloudwatch:GetMetricData',
  'cloudwatch:DescribeAlarms',
  'tag:GetResources',
  'kinesisanalytics:ListApplications',
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
  'logs:GetQueryResults',
];

/**
 * The IAM invariants of every synthesized watchdog: no AWS managed or inline role policies (customer managed policies
 * only for the grants on listed applications by ARN), no NotAction, no wildcard action, only Allow statements, and
 * `Resource: '*'` only for actions that support no resource-level permissions.
 */
function expectLeastPrivilege(template: Template): void {
  for (const [id, policy] of Object.entries(template.findResources('AWS::IAM::ManagedPolicy'))) {
    expect(id).toMatch(/Listed\d+/);
    for (const st of policy.Properties.PolicyDocument.Statement as Statement[]) expect(st.Sid).toMatch(/Listed$/);
  }
  for (const role of Object.values(template.findResources('AWS::IAM::Role'))) {
    expect(role.Properties.Policies).toBeUndefined();
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  }
  for (const { statement: s } of allStatements(template)) {
    expect(s.NotAction).toBeUndefined();
    expect(s.Effect).toBe('Allow');
    for (const a of [s.Action].flat()) expect(a, 'a wildcard action').not.toMatch(/^\*$|:\*$/);
    if ([s.Resource].flat().includes('*')) {
      for (const a of [s.Action].flat()) expect(RESOURCELESS_ACTIONS, 'on Resource "*"').toContain(a);
    }
  }
}

/** The name of the alarm on undelivered notifications (outside the application alarms' prefix). */
function undeliveredAlarmName(stack: Stack): string {
  return `FlinkWatchdog-undelivered-notifications-${stack.stackName}`;
}

/** The name of the alarm on watch executions that ended FAILED, TIMED_OUT or ABORTED (outside the prefix too). */
function watchEndedAlarmName(stack: Stack): string {
  return `FlinkWatchdog-watch-executions-ended-${stack.stackName}`;
}

/** The name of the alarm on sweeps or look batches that failed (outside the prefix too). */
function sweepFailedAlarmName(stack: Stack): string {
  return `FlinkWatchdog-sweep-failed-${stack.stackName}`;
}

/** The alarm prefix of the test stack's instance (the stack name `Test`). */
const TEST_PREFIX = `${ALARM_PREFIX}Test-`;

/** The CloudWatch alarms of the template, by logical ID. */
function alarmsOf(template: Template): Record<string, { Properties: Record<string, unknown> }> {
  return template.findResources('AWS::CloudWatch::Alarm') as Record<string, { Properties: Record<string, unknown> }>;
}

/** The application alarms: those under ALARM_PREFIX, the prefix the alarm-state rule routes to the detector. */
function applicationAlarmNames(template: Template): string[] {
  return Object.values(alarmsOf(template))
    .map((a) => a.Properties.AlarmName as string)
    .filter((name) => name.startsWith(ALARM_PREFIX));
}

/** The names of the alarms that are not application alarms. */
function otherAlarmNames(template: Template): string[] {
  return Object.values(alarmsOf(template))
    .map((a) => a.Properties.AlarmName as string)
    .filter((name) => !name.startsWith(ALARM_PREFIX));
}

/**
 * The roles that start executions of the sweep workflow: EventBridge's (the schedule's target role) and the state
 * machine's own (a Distributed Map starts its child executions).
 */
function sweepStarterRoles(stack: WatchdogStack): string[] {
  const machine = stack.watchdog.sweepWorkflow.stateMachine;
  const eventsRole = machine.node.tryFindChild('EventsRole');
  return [logicalIdOf(machine.role), ...(eventsRole ? [logicalIdOf(eventsRole)] : [])];
}

/** Principals allowed to publish runbook commands (one in another account). */
const PUBLISHERS = ['arn:aws:iam::123456789012:role/oncall-runbooks', 'arn:aws:iam::210987654321:role/ops-automation'];

/** The account's default event bus, as the template holds it (no fixed account or region). */
const DEFAULT_EVENT_BUS = {
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':events:',
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      ':event-bus/default',
    ],
  ],
};

const SNAPSHOT_ACTION = 'kinesisanalytics:CreateApplicationSnapshot';

/** Every mutating action of the MSF (Kinesis Analytics V2) API. */
const MSF_MUTATING_ACTIONS_ALL = [
  ...MSF_MUTATING_ACTIONS,
  'kinesisanalytics:AddApplicationCloudWatchLoggingOption',
  'kinesisanalytics:AddApplicationInput',
  'kinesisanalytics:AddApplicationInputProcessingConfiguration',
  'kinesisanalytics:AddApplicationOutput',
  'kinesisanalytics:AddApplicationReferenceDataSource',
  'kinesisanalytics:AddApplicationVpcConfiguration',
  'kinesisanalytics:CreateApplication',
  'kinesisanalytics:CreateApplicationPresignedUrl',
  SNAPSHOT_ACTION,
  'kinesisanalytics:DeleteApplication',
  'kinesisanalytics:DeleteApplicationCloudWatchLoggingOption',
  'kinesisanalytics:DeleteApplicationInputProcessingConfiguration',
  'kinesisanalytics:DeleteApplicationOutput',
  'kinesisanalytics:DeleteApplicationReferenceDataSource',
  'kinesisanalytics:DeleteApplicationSnapshot',
  'kinesisanalytics:DeleteApplicationVpcConfiguration',
  'kinesisanalytics:TagResource',
  'kinesisanalytics:UntagResource',
  'kinesisanalytics:UpdateApplicationMaintenanceConfiguration',
];

let fullyConfiguredStack: { stack: WatchdogStack; template: Template } | undefined;

/** A stack with every optional notification and runbook feature on (synthesized once). */
function fullyConfigured(): { stack: WatchdogStack; template: Template } {
  if (fullyConfiguredStack === undefined) {
    const stack = synthStack(
      parseConfig({
        ...CONFIG,
        notifications: { chatbot: true, slackWebhookSecretName: SLACK_SECRET_NAME },
        runbooks: { publishers: PUBLISHERS },
      }),
    );
    fullyConfiguredStack = { stack, template: Template.fromStack(stack) };
  }
  return fullyConfiguredStack;
}

/** Matches an asset hash (SHA-256, hex) anywhere in a string. */
const ASSET_HASH = /[0-9a-f]{64}/g;

/**
 * The template with what changes whenever a source file changes taken out: asset hashes (e.g. the `S3Key` of the
 * functions' code) become `[ASSET_HASH]`, and `aws:asset:*` metadata is dropped.
 */
function normalised(template: Template): unknown {
  return JSON.parse(
    JSON.stringify(template.toJSON(), (key, value: unknown) => {
      if (key.startsWith('aws:asset:')) return undefined;
      return typeof value === 'string' ? value.replace(ASSET_HASH, '[ASSET_HASH]') : value;
    }),
  );
}

describe('Construct: FlinkWatchdog', () => {
  let stack: WatchdogStack;
  let template: Template;
  beforeAll(() => {
    stack = synthStack(CONFIG, { 'payments-aggregation': 'FLINK-2_2' });
    template = Template.fromStack(stack);
  });

  describe('alarms (created at runtime by the alarm manager)', () => {
    it("creates no application alarm: only the watchdog's own three, outside the alarm prefix", () => {
      // Assess
      expect(applicationAlarmNames(template)).toEqual([]);
      expect(otherAlarmNames(template).sort()).toEqual(
        [undeliveredAlarmName(stack), watchEndedAlarmName(stack), sweepFailedAlarmName(stack)].sort(),
      );
    });

    it("lets the detector, and only it, write the alarms under its instance's prefix, and describe alarms", () => {
      // Prepare
      const detectorRole = logicalIdOf(stack.watchdog.detector.role);
      const alarmWrites = ['PutMetricAlarm', 'DeleteAlarms', 'TagResource', 'ListTagsForResource'].map(
        (a) => `cloudwatch:${a}`,
      );

      // Act
      const writers = allStatements(template).filter((s) => grantsAny(s.statement, alarmWrites));
      const describers = allStatements(template).filter((s) => grantsAny(s.statement, ['cloudwatch:DescribeAlarms']));

      // Assess
      expect(writers.map((s) => s.roles)).toEqual([[detectorRole], [detectorRole]]);
      expect(writers.flatMap((s) => [s.statement.Action].flat()).sort()).toEqual([...alarmWrites].sort());
      // PutMetricAlarm only without alarm actions (cloudwatch:AlarmActions absent from the request).
      const put = writers.find((s) => [s.statement.Action].flat().includes('cloudwatch:PutMetricAlarm'));
      expect(put?.statement.Action).toBe('cloudwatch:PutMetricAlarm');
      expect(put?.statement.Condition).toEqual({ Null: { 'cloudwatch:AlarmActions': 'true' } });
      expect(writers[1]?.statement.Resource).toEqual(writers[0]?.statement.Resource);
      expect(writers[0]?.statement.Resource).toEqual({
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':cloudwatch:',
            { Ref: 'AWS::Region' },
            ':',
            { Ref: 'AWS::AccountId' },
            `:alarm:${TEST_PREFIX}*`,
          ],
        ],
      });
      expect(describers.map((s) => s.roles)).toEqual([[detectorRole]]);
      expect(describers[0]?.statement.Resource).toBe('*');
    });

    it("gives each of two stacks in one app its own instance, alarm prefix and rule: neither receives the other's alarms", () => {
      // Prepare
      const app = testApp();
      const blue = new WatchdogStack(app, 'Blue', { config: CONFIG });
      const green = new WatchdogStack(app, 'Green', { config: CONFIG, instanceId: 'greeneu' });

      // Act
      const prefixOf = (s: WatchdogStack): string[] =>
        Object.values(Template.fromStack(s).findResources('AWS::Events::Rule'))
          .filter((r) => ((r.Properties.EventPattern?.source ?? []) as string[]).includes('aws.cloudwatch'))
          .flatMap((r) => (r.Properties.EventPattern.detail.alarmName as { prefix: string }[]).map((m) => m.prefix));
      const instanceOf = (s: WatchdogStack): unknown =>
        environmentOf(Template.fromStack(s), logicalIdOf(s.watchdog.detector)).WATCHDOG_INSTANCE;

      // Assess
      expect(prefixOf(blue)).toEqual([`${ALARM_PREFIX}Blue-`]);
      expect(prefixOf(green)).toEqual([`${ALARM_PREFIX}greeneu-`]);
      expect(instanceOf(blue)).toBe('Blue');
      expect(instanceOf(green)).toBe('greeneu');
      expect(Template.fromStack(green).toJSON().Outputs.FlinkWatchdogInstance.Value).toBe('greeneu');
    });

    it('derives the instance from the stack name (cut to 32 characters) and rejects a bad instanceId', () => {
      // Act
      const long = new WatchdogStack(testApp(), 'Prod', {
        config: CONFIG,
        stackName: 'flink-watchdog-production-eu-west-1-central',
      });

      // Assess
      expect(long.watchdog.instanceId).toBe('flinkwatchdogproductioneuwest1ce');
      expect(() => new WatchdogStack(testApp(), 'Bad', { config: CONFIG, instanceId: 'prod_eu' })).toThrow(
        FlinkWatchdogPropsError,
      );
      expect(() => new WatchdogStack(testApp(), 'Bad', { config: CONFIG, instanceId: 'x'.repeat(33) })).toThrow(
        /1-32 letters and digits/,
      );
    });
  });

  describe('IAM', () => {
    it('limits the mutating actions to the listed applications in remediate mode, by ARN', () => {
      // Act
      const statements = statementsOf(template, 'FlinkWatchdogRemediationRole');
      const listed = statements.find((s) => s.Sid === 'MsfMutateListed');
      // Assess
      expect(listed?.Action).toEqual([...MSF_MUTATING_ACTIONS]);
      // payments-aggregation follows the defaults (observe): no mutation on it.
      expect([listed?.Resource].flat()).toEqual([arnOf('orders-enrichment')]);
      // The defaults are observe, so a tagged application (which follows them) is not changed either.
      expect(statements.find((s) => s.Sid === 'MsfMutateOptInTagged')).toBeUndefined();
      const mutatingAnywhere = statements.filter((s) => grantsAny(s, MSF_MUTATING_ACTIONS) && !s.Condition);
      expect(mutatingAnywhere.map((s) => s.Sid)).toEqual(['MsfMutateListed']);
    });

    it('grants the mutations on tagged applications by tag condition when the defaults remediate', () => {
      // Act
      const remediating = parseConfig({ ...CONFIG, defaults: { mode: 'remediate' } });
      const statements = statementsOf(synth(remediating), 'FlinkWatchdogRemediationRole');
      const listed = statements.find((s) => s.Sid === 'MsfMutateListed');
      const tagged = statements.find((s) => s.Sid === 'MsfMutateOptInTagged');

      // Assess
      expect(listed?.Resource).toEqual([arnOf('orders-enrichment'), arnOf('payments-aggregation')]);
      expect(tagged?.Action).toEqual([...MSF_MUTATING_ACTIONS]);
      expect(tagged?.Resource).toEqual(arnOf('*'));
      expect(tagged?.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/flink-watchdog': 'enabled' } });
    });

    it('with runbooks, grants the mutations on every listed application and the tagged ones: a person may command any', () => {
      // Act
      const statements = statementsOf(fullyConfigured().template, 'FlinkWatchdogRemediationRole');
      const listed = statements.find((s) => s.Sid === 'MsfMutateListed');
      const tagged = statements.find((s) => s.Sid === 'MsfMutateOptInTagged');

      // Assess
      expect(listed?.Resource).toEqual(CONFIG.applications.map((a) => arnOf(a.name)));
      expect(tagged?.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/flink-watchdog': 'enabled' } });
    });

    it('grants no MSF mutation at all for an observe-only config', () => {
      // Act
      const observe = synth(
        parseConfig({ ...CONFIG, applications: CONFIG.applications.map((a) => ({ name: a.name })) }),
      );

      // Assess
      expect(allStatements(observe).filter((s) => grantsAny(s.statement, MSF_MUTATING_ACTIONS_ALL))).toEqual([]);
      observe.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
    });

    it('lets the detector (sweep look batches) and the remediation (verify) read metrics, and no other function', () => {
      // Act
      const readers = allStatements(template).filter((s) => grantsAny(s.statement, ['cloudwatch:GetMetricData']));

      // Assess
      expect(readers.flatMap((s) => s.roles).sort()).toEqual(
        [stack.watchdog.detector, stack.watchdog.remediation].map((fn) => logicalIdOf(fn.role)).sort(),
      );
    });

    it('reads MSF on every application of the account and Region, from every function', () => {
      // Assess
      for (const fn of stack.watchdog.functions()) {
        const read = statementsOf(template, logicalIdOf(fn.role)).find((s) => s.Sid === 'MsfRead');
        expect(read, fn.node.id).toEqual({
          Sid: 'MsfRead',
          Effect: 'Allow',
          Action: [...MSF_READ_ACTIONS],
          Resource: arnOf('*'),
        });
      }
    });

    it('gives the detector no mutating action', () => {
      // Act
      const actions = statementsOf(template, 'FlinkWatchdogDetectorRole').flatMap((s) => [s.Action].flat());
      // Assess
      for (const a of MSF_MUTATING_ACTIONS) expect(actions).not.toContain(a);
      expect(actions).toContain('kinesisanalytics:DescribeApplication');
    });

    it('has no tag statement without optInTag', () => {
      // Act
      const { optInTag: _, ...rest } = CONFIG;
      const statements = statementsOf(
        synth(parseConfig({ ...rest, defaults: { mode: 'remediate' } })),
        'FlinkWatchdogRemediationRole',
      );
      // Assess
      expect(statements.filter((s) => s.Condition !== undefined)).toEqual([]);
    });
  });

  describe('events', () => {
    it('routes the watchdog alarm state changes to the detector, with a dead-letter queue', () => {
      // Assess
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.cloudwatch'],
          'detail-type': ['CloudWatch Alarm State Change'],
          detail: { alarmName: [{ prefix: TEST_PREFIX }] },
        },
        Targets: [
          Match.objectLike({
            Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^FlinkWatchdogDetector'), 'Arn'] },
            DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('EventsDeadLetterQueue'), 'Arn'] } },
          }),
        ],
      });
    });

    it('sweeps every 5 minutes', () => {
      template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
    });
  });

  describe('functions and queues', () => {
    it('runs the three functions on arm64 Node 22 with JSON logs, tracing, a DLQ and the config', () => {
      // Assess
      const fns = template.findResources('AWS::Lambda::Function', {
        Properties: {
          Runtime: 'nodejs22.x',
          Architectures: ['arm64'],
          Handler: 'index.handler',
          TracingConfig: { Mode: 'Active' },
          LoggingConfig: Match.objectLike({ LogFormat: 'JSON' }),
          DeadLetterConfig: { TargetArn: Match.anyValue() },
          Environment: {
            Variables: Match.objectLike({ WATCHDOG_CONFIG_PATH: 'watchdog.config.json', WATCHDOG_INSTANCE: 'Test' }),
          },
        },
      });
      expect(Object.keys(fns).sort()).toEqual(stack.watchdog.functions().map(logicalIdOf).sort());
      template.resourceCountIs('AWS::Lambda::Function', 3);
      template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    });

    it('gives the reconciler and the detector (sweep plan and look batches) 2 minutes, the remediation step 1', () => {
      // Act
      const timeoutOf = (fn: LambdaFunction) =>
        template.toJSON().Resources[logicalIdOf(fn)].Properties.Timeout as number;

      // Assess
      expect(timeoutOf(stack.watchdog.reconciler)).toBe(120);
      expect(timeoutOf(stack.watchdog.detector)).toBe(120);
      expect(timeoutOf(stack.watchdog.remediation)).toBe(60);
    });

    it('encrypts the three dead-letter queues (events, invocations, notifications) and enforces SSL', () => {
      // Prepare
      const queues = [
        stack.watchdog.eventsDeadLetterQueue,
        stack.watchdog.invocationDeadLetterQueue,
        stack.watchdog.notificationDeadLetterQueue,
      ].map(logicalIdOf);

      // Assess
      expect(Object.keys(template.findResources('AWS::SQS::Queue')).sort()).toEqual([...queues].sort());
      template.allResourcesProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
      template.resourceCountIs('AWS::SQS::QueuePolicy', 3);
      for (const queue of queues) {
        template.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: [{ Ref: queue }],
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({
                Effect: 'Deny',
                Action: 'sqs:*',
                Principal: { AWS: '*' },
                Resource: { 'Fn::GetAtt': [queue, 'Arn'] },
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              }),
            ]),
          },
        });
      }
    });
  });

  describe('ledger', () => {
    it('is a TableV2 with the pk/sk keys, the byApplication index, PITR, TTL and encryption', () => {
      // Assess
      template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
      template.resourceCountIs('AWS::DynamoDB::Table', 0);
      template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
        KeySchema: [
          { AttributeName: LEDGER_TABLE.partitionKey, KeyType: 'HASH' },
          { AttributeName: LEDGER_TABLE.sortKey, KeyType: 'RANGE' },
        ],
        AttributeDefinitions: Match.arrayEquals([
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          { AttributeName: 'applicationName', AttributeType: 'S' },
          { AttributeName: 'openedMs', AttributeType: 'N' },
        ]),
        BillingMode: 'PAY_PER_REQUEST',
        GlobalSecondaryIndexes: [
          {
            IndexName: 'byApplication',
            KeySchema: [
              { AttributeName: 'applicationName', KeyType: 'HASH' },
              { AttributeName: 'openedMs', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        SSESpecification: { SSEEnabled: true },
        Replicas: [
          Match.objectLike({
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
            DeletionProtectionEnabled: true,
          }),
        ],
      });
    });

    it('is retained, with deletion protection, by default', () => {
      // Assess
      template.hasResource('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    });

    it('names the table in all three functions, which may read and write it and its indexes', () => {
      // Prepare
      const ledger = logicalIdOf(stack.watchdog.ledger);
      const arn = { 'Fn::GetAtt': [ledger, 'Arn'] };

      // Act
      const grants = allStatements(template).filter((s) => grantsAny(s.statement, ['dynamodb:PutItem']));

      // Assess
      for (const fn of stack.watchdog.functions()) {
        expect(environmentOf(template, logicalIdOf(fn)).LEDGER_TABLE_NAME).toEqual({ Ref: ledger });
        const grant = grants.find((s) => s.roles.includes(logicalIdOf(fn.role)));
        expect(grant?.statement.Resource).toEqual([arn, { 'Fn::Join': ['', [arn, '/index/*']] }]);
        // Only what the ledger adapter calls: no batch writes, no UpdateItem, no stream reads on the audit table.
        expect([grant?.statement.Action].flat().sort()).toEqual([...LEDGER_ACTIONS].sort());
      }
    });
  });

  describe('notifications', () => {
    it('creates a topic encrypted with its own rotated KMS key, publishable over TLS only', () => {
      // Prepare
      const key = logicalIdOf(stack.watchdog.node.findChild('NotificationTopicKey'));

      // Assess
      template.resourceCountIs('AWS::SNS::Topic', 1);
      template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [key, 'Arn'] } });
      template.resourceCountIs('AWS::KMS::Key', 1);
      template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [{ Ref: logicalIdOf(stack.watchdog.topic) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sns:Publish',
              Principal: '*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
      template.resourceCountIs('AWS::SNS::Subscription', 0);
    });

    it('lets all three functions publish to the topic, using its key and no other', () => {
      // Prepare
      const topic = { Ref: logicalIdOf(stack.watchdog.topic) };
      const key = { 'Fn::GetAtt': [logicalIdOf(stack.watchdog.node.findChild('NotificationTopicKey')), 'Arn'] };
      const statements = allStatements(template);

      // Assess
      for (const fn of stack.watchdog.functions()) {
        const role = logicalIdOf(fn.role);
        const own = statements.filter((s) => s.roles.includes(role)).map((s) => s.statement);
        expect(environmentOf(template, logicalIdOf(fn)).NOTIFICATION_TOPIC_ARN).toEqual(topic);
        expect(own.filter((s) => grantsAny(s, ['sns:Publish'])).map((s) => s.Resource)).toEqual([topic]);
        expect(own.filter((s) => grantsAny(s, ['kms:GenerateDataKey'])).map((s) => s.Resource)).toEqual([key]);
      }
    });

    it('sends nothing to Slack without slackWebhookSecretName', () => {
      // Assess
      for (const fn of stack.watchdog.functions()) {
        expect(environmentOf(template, logicalIdOf(fn))).not.toHaveProperty('SLACK_WEBHOOK_SECRET_NAME');
      }
      expect(allStatements(template).filter((s) => grantsAny(s.statement, ['secretsmanager:GetSecretValue']))).toEqual(
        [],
      );
    });

    describe('with email subscriptions and a Slack webhook secret', () => {
      let withSlack: WatchdogStack;
      let slackTemplate: Template;
      beforeAll(() => {
        withSlack = synthStack(
          parseConfig({
            ...CONFIG,
            notifications: {
              slackWebhookSecretName: SLACK_SECRET_NAME,
              emailSubscriptions: ['oncall@example.com', 'flink-team@example.com'],
            },
          }),
        );
        slackTemplate = Template.fromStack(withSlack);
      });

      it('subscribes each email address to the topic', () => {
        // Assess
        const topic = { Ref: logicalIdOf(withSlack.watchdog.topic) };
        slackTemplate.resourceCountIs('AWS::SNS::Subscription', 2);
        for (const email of ['oncall@example.com', 'flink-team@example.com']) {
          slackTemplate.hasResourceProperties('AWS::SNS::Subscription', {
            Protocol: 'email',
            Endpoint: email,
            TopicArn: topic,
          });
        }
      });

      it('gives all three functions the secret NAME and read access to that secret only', () => {
        // Prepare
        const statements = allStatements(slackTemplate);

        // Assess
        for (const fn of withSlack.watchdog.functions()) {
          expect(environmentOf(slackTemplate, logicalIdOf(fn)).SLACK_WEBHOOK_SECRET_NAME).toBe(SLACK_SECRET_NAME);
          const reads = statements
            .filter((s) => s.roles.includes(logicalIdOf(fn.role)))
            .filter((s) => grantsAny(s.statement, ['secretsmanager:GetSecretValue']));
          expect(reads).toHaveLength(1);
          expect(JSON.stringify(reads[0]?.statement.Resource)).toMatch(
            /":secretsmanager:".*":secret:flink-watchdog\/slack-webhook-\?{6}"\]/,
          );
        }
        const readers = statements.filter((s) => grantsAny(s.statement, ['secretsmanager:GetSecretValue']));
        expect(readers.flatMap((s) => s.roles).sort()).toEqual(
          withSlack.watchdog
            .functions()
            .map((fn) => logicalIdOf(fn.role))
            .sort(),
        );
      });

      it('puts no webhook URL in any environment variable or anywhere in the template', () => {
        // Act
        const values = Object.values(slackTemplate.findResources('AWS::Lambda::Function')).flatMap((fn) =>
          Object.values(fn.Properties.Environment.Variables as Record<string, unknown>),
        );

        // Assess
        expect(values.length).toBeGreaterThan(0);
        for (const value of values) expect(JSON.stringify(value)).not.toMatch(/hooks\.slack(-gov)?\.com/i);
        expect(JSON.stringify(slackTemplate.toJSON())).not.toMatch(/hooks\.slack(-gov)?\.com/i);
        expect(() =>
          parseConfig({
            schemaVersion: 1,
            notifications: { slackWebhookSecretName: 'https://hooks.slack.com/services/T000/B000/XXXX' },
          }),
        ).toThrow(ConfigError);
      });
    });

    describe('with an existing topic (snsTopicArn)', () => {
      let existing: WatchdogStack;
      let existingTemplate: Template;
      beforeAll(() => {
        existing = synthStack(parseConfig({ ...CONFIG, notifications: { snsTopicArn: EXISTING_TOPIC_ARN } }));
        existingTemplate = Template.fromStack(existing);
      });

      it('creates no topic, key or topic policy', () => {
        // Assess
        existingTemplate.resourceCountIs('AWS::SNS::Topic', 0);
        existingTemplate.resourceCountIs('AWS::SNS::TopicPolicy', 0);
        existingTemplate.resourceCountIs('AWS::KMS::Key', 0);
      });

      it("sends the watchdog's own alarms (undelivered notifications, watch runs that ended) to that ARN", () => {
        // Assess
        for (const alarmName of [undeliveredAlarmName(existing), watchEndedAlarmName(existing)]) {
          existingTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
            AlarmName: alarmName,
            AlarmActions: [EXISTING_TOPIC_ARN],
          });
        }
      });

      it('has all three functions publish to that ARN', () => {
        // Prepare
        const statements = allStatements(existingTemplate);

        // Assess
        for (const fn of existing.watchdog.functions()) {
          expect(environmentOf(existingTemplate, logicalIdOf(fn)).NOTIFICATION_TOPIC_ARN).toBe(EXISTING_TOPIC_ARN);
          const publish = statements
            .filter((s) => s.roles.includes(logicalIdOf(fn.role)))
            .filter((s) => grantsAny(s.statement, ['sns:Publish']));
          expect(publish.map((s) => s.statement.Resource)).toEqual([EXISTING_TOPIC_ARN]);
        }
      });
    });
  });

  describe('IAM scope', () => {
    it('grants the MSF mutating actions to the remediation role only, on listed or opted-in applications', () => {
      // Prepare
      const remediationRole = logicalIdOf(stack.watchdog.remediation.role);
      const listed = CONFIG.applications.map((a) => arnOf(a.name));

      // Act
      const mutating = allStatements(template).filter((s) => grantsAny(s.statement, MSF_MUTATING_ACTIONS));

      // Assess
      expect(mutating.length).toBeGreaterThan(0);
      for (const { roles, statement } of mutating) {
        expect(roles, statement.Sid).toEqual([remediationRole]);
        expect(statement.Effect).toBe('Allow');
        expect(statement.NotResource).toBeUndefined();
        const resources = [statement.Resource].flat();
        if (statement.Condition === undefined) {
          expect(resources.length).toBeGreaterThan(0);
          for (const r of resources) expect(listed, statement.Sid).toContainEqual(r);
        } else {
          expect(resources).toEqual([arnOf('*')]);
          expect(statement.Condition).toEqual({
            StringEquals: { [`aws:ResourceTag/${CONFIG.optInTag?.key}`]: CONFIG.optInTag?.value },
          });
        }
      }
      const granted = mutating.flatMap((s) => [s.statement.Action].flat());
      for (const a of MSF_MUTATING_ACTIONS) expect(granted).toContain(a);
    });

    it('has no NotAction, no wildcard action and "*" resources only for actions that support nothing else', () => {
      // Assess
      expectLeastPrivilege(template);
    });

    it('lets only the detector and the reconciler start executions of the workflow', () => {
      // Prepare
      const stateMachine = { Ref: logicalIdOf(stack.watchdog.workflow.stateMachine) };

      // Act (the detector's start of the watch workflow, Sid StartWatch, is asserted in watch-workflow.test.ts; the
      // sweep workflow's starters below)
      const sweepStarters = sweepStarterRoles(stack);
      const starts = allStatements(template).filter(
        (s) =>
          grantsAny(s.statement, ['states:StartExecution']) &&
          s.statement.Sid !== 'StartWatch' &&
          !s.roles.some((r) => sweepStarters.includes(r)),
      );

      // Assess
      expect(starts.map((s) => s.roles).sort()).toEqual(
        [[logicalIdOf(stack.watchdog.detector.role)], [logicalIdOf(stack.watchdog.reconciler.role)]].sort(),
      );
      for (const { statement } of starts) expect(statement.Resource).toEqual(stateMachine);
    });

    it('lets only the schedule (its events role) and the Distributed Map (the state machine role) start sweeps', () => {
      // Prepare
      const sweep = logicalIdOf(stack.watchdog.sweepWorkflow.stateMachine);

      // Act
      const starts = allStatements(template).filter(
        (s) => grantsAny(s.statement, ['states:StartExecution']) && JSON.stringify(s.statement).includes(sweep),
      );

      // Assess
      expect(starts.flatMap((s) => s.roles).sort()).toEqual([...sweepStarterRoles(stack)].sort());
    });

    it.each(['detector', 'reconciler'] as const)(
      'lets the %s start executions of the workflow and do nothing else in Step Functions',
      (name) => {
        // Prepare
        const fn = stack.watchdog[name];
        const role = logicalIdOf(fn.role);
        const stateMachine = { Ref: logicalIdOf(stack.watchdog.workflow.stateMachine) };
        // The detector also starts watches (infra/watch-workflow.ts), named by ARN in its environment.
        const watch = name === 'detector' ? [environmentOf(template, logicalIdOf(fn)).WATCH_STATE_MACHINE_ARN] : [];

        // Act
        const own = allStatements(template).filter((s) => s.roles.includes(role));
        const statesActions = own.flatMap((s) => [s.statement.Action].flat()).filter((a) => a.startsWith('states:'));
        const starts = own.filter((s) => grantsAny(s.statement, ['states:StartExecution']));

        // Assess
        expect(statesActions).toEqual(['states:StartExecution', ...watch.map(() => 'states:StartExecution')]);
        expect(starts.map((s) => s.statement.Resource)).toEqual(expect.arrayContaining([stateMachine, ...watch]));
        expect(starts).toHaveLength(1 + watch.length);
        expect(environmentOf(template, logicalIdOf(fn)).STATE_MACHINE_ARN).toEqual(stateMachine);
      },
    );

    it('lets the state machine invoke the remediation function (and its versions) only', () => {
      // Prepare
      const smRole = logicalIdOf(stack.watchdog.workflow.stateMachine.role);
      const fn = { 'Fn::GetAtt': [logicalIdOf(stack.watchdog.remediation), 'Arn'] };

      // Act (the watch and sweep workflows' invocations of the detector are asserted in their own tests)
      const detectorCallers = [stack.watchdog.watchWorkflow, stack.watchdog.sweepWorkflow].map((w) =>
        logicalIdOf(w.stateMachine.role),
      );
      const invokes = allStatements(template).filter(
        (s) => grantsAny(s.statement, ['lambda:InvokeFunction']) && !s.roles.some((r) => detectorCallers.includes(r)),
      );

      // Assess
      expect(invokes.map((s) => s.roles)).toEqual([[smRole]]);
      expect(invokes[0]?.statement.Resource).toEqual([fn, { 'Fn::Join': ['', [fn, ':*']] }]);
      const smActions = allStatements(template)
        .filter((s) => s.roles.includes(smRole))
        .flatMap((s) => [s.statement.Action].flat());
      expect(smActions.filter((a) => a.startsWith('lambda:'))).toEqual(['lambda:InvokeFunction']);
      expect(smActions.filter((a) => a.startsWith('kinesisanalytics:'))).toEqual([]);
    });
  });

  describe('reconciler', () => {
    const LOCAL_PATH_WARNING = 'flink-watchdog:terraform-state-local-path';
    const STATE_BUCKET = 'acme-terraform-state';

    /** `arn:<partition>:s3:::BUCKET/KEY` as the template holds it (the partition is a pseudo-parameter). */
    function objectArn(bucket: string, key: string): unknown {
      return { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::${bucket}/${key}`]] };
    }

    function withTerraformState(...terraformState: string[]): WatchdogStack {
      return synthStack(parseConfig({ ...CONFIG, drift: { terraformState } }));
    }

    /** The statements granting any S3 action. */
    /** Statements granting S3 object reads (ListBucket, limited to each state key, is asserted separately). */
    function s3Statements(t: Template): AttachedStatement[] {
      return allStatements(t).filter((s) =>
        [s.statement.Action].flat().some((a) => a.startsWith('s3:') && a !== 's3:ListBucket'),
      );
    }

    function listBucketStatements(t: Template): AttachedStatement[] {
      return allStatements(t).filter((s) => [s.statement.Action].flat().includes('s3:ListBucket'));
    }

    function escaped(text: string): string {
      return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }

    it('reads MSF only: no mutating kinesisanalytics action and no cloudwatch:GetMetricData', () => {
      // Prepare
      const role = logicalIdOf(stack.watchdog.reconciler.role);
      const own = allStatements(template)
        .filter((s) => s.roles.includes(role))
        .map((s) => s.statement);

      // Act
      const msf = own.filter((s) => [s.Action].flat().some((a) => a.startsWith('kinesisanalytics:')));

      // Assess
      expect(own.filter((s) => grantsAny(s, MSF_MUTATING_ACTIONS))).toEqual([]);
      expect(own.filter((s) => grantsAny(s, ['cloudwatch:GetMetricData']))).toEqual([]);
      expect(own.flatMap((s) => [s.Action].flat()).filter((a) => a.startsWith('cloudwatch:'))).toEqual([]);
      expect(msf.map((s) => s.Sid).sort()).toEqual(['MsfListApplications', 'MsfRead']);
      const read = msf.find((s) => s.Sid === 'MsfRead');
      expect(read?.Action).toEqual([...MSF_READ_ACTIONS]);
      expect(read?.Resource).toEqual(arnOf('*'));
    });

    it('has ListApplications as its only kinesisanalytics action on "*", which only the detector shares', () => {
      // Prepare
      const roles = [stack.watchdog.reconciler, stack.watchdog.detector].map((fn) => logicalIdOf(fn.role));

      // Act
      const onStar = allStatements(template).filter(
        (s) =>
          [s.statement.Resource].flat().includes('*') &&
          [s.statement.Action].flat().some((a) => a.startsWith('kinesisanalytics:')),
      );
      const listers = allStatements(template).filter((s) =>
        grantsAny(s.statement, ['kinesisanalytics:ListApplications']),
      );

      // Assess
      expect(onStar.map((s) => s.roles).sort()).toEqual(roles.map((r) => [r]).sort());
      for (const { statement } of onStar) {
        expect(statement).toEqual({
          Sid: 'MsfListApplications',
          Effect: 'Allow',
          Action: 'kinesisanalytics:ListApplications',
          Resource: '*',
        });
      }
      expect(listers.map((s) => s.roles).sort()).toEqual(roles.map((r) => [r]).sort());
    });

    it('may read exactly the s3:// Terraform state object, and no other role any S3 object', () => {
      // Prepare
      const withState = withTerraformState(`s3://${STATE_BUCKET}/envs/prod/msf.tfstate`);

      // Act
      const statements = s3Statements(Template.fromStack(withState));

      // Assess
      expect(statements).toHaveLength(1);
      expect(statements[0]?.roles).toEqual([logicalIdOf(withState.watchdog.reconciler.role)]);
      expect(statements[0]?.statement).toEqual({
        Sid: 'TerraformStateRead',
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: objectArn(STATE_BUCKET, 'envs/prod/msf.tfstate'),
      });
      Annotations.fromStack(withState).hasNoWarning('*', Match.stringLikeRegexp(escaped(LOCAL_PATH_WARNING)));
      // ListBucket on the bucket, for that key only: a missing state object then reads as NoSuchKey, not 403.
      const listings = listBucketStatements(Template.fromStack(withState));
      expect(listings).toHaveLength(1);
      expect(listings[0]?.roles).toEqual([logicalIdOf(withState.watchdog.reconciler.role)]);
      expect(listings[0]?.statement).toMatchObject({
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Condition: { StringEquals: { 's3:prefix': 'envs/prod/msf.tfstate' } },
      });
    });

    it('refuses a Terraform state location with a wildcard, which would widen the grant', () => {
      // Assess
      expect(() => withTerraformState(`s3://${STATE_BUCKET}/*`)).toThrow(/wildcards/);
    });

    it('grants s3:GetObject on each s3:// state object, in one statement', () => {
      // Prepare
      const withStates = withTerraformState(
        `s3://${STATE_BUCKET}/envs/prod/msf.tfstate`,
        `s3://${STATE_BUCKET}/env:/staging/msf.tfstate`,
      );

      // Act
      const statements = s3Statements(Template.fromStack(withStates));

      // Assess
      expect(statements.map((s) => s.statement.Action)).toEqual(['s3:GetObject']);
      expect(statements[0]?.statement.Resource).toEqual([
        objectArn(STATE_BUCKET, 'envs/prod/msf.tfstate'),
        objectArn(STATE_BUCKET, 'env:/staging/msf.tfstate'),
      ]);
    });

    it('grants no S3 access without an s3:// Terraform state', () => {
      // Assess
      expect(s3Statements(template)).toEqual([]);
      Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp(escaped(LOCAL_PATH_WARNING)));
    });

    it('warns at synth time about a local Terraform state path, and grants nothing for it', () => {
      // Prepare
      const withLocal = withTerraformState('./terraform/terraform.tfstate', `s3://${STATE_BUCKET}/prod.tfstate`);

      // Act
      const statements = s3Statements(Template.fromStack(withLocal));

      // Assess
      Annotations.fromStack(withLocal).hasWarning(
        `/${withLocal.stackName}/${withLocal.watchdog.node.id}`,
        Match.stringLikeRegexp(
          `${escaped('drift.terraformState "./terraform/terraform.tfstate" is a local path')}.*${escaped(`[ack: ${LOCAL_PATH_WARNING}]`)}`,
        ),
      );
      expect(statements.map((s) => s.statement.Resource)).toEqual([objectArn(STATE_BUCKET, 'prod.tfstate')]);
      const localOnly = withTerraformState('./terraform/terraform.tfstate');
      Annotations.fromStack(localOnly).hasWarning('*', Match.stringLikeRegexp(escaped(LOCAL_PATH_WARNING)));
      expect(s3Statements(Template.fromStack(localOnly))).toEqual([]);
    });
  });

  describe('function environments', () => {
    it('gives all three functions the ledger, topic and config, and the detector and reconciler the state machine', () => {
      // Prepare
      const common = {
        WATCHDOG_CONFIG_PATH: 'watchdog.config.json',
        WATCHDOG_INSTANCE: 'Test',
        WATCHDOG_ACCOUNT_ID: { Ref: 'AWS::AccountId' },
        LEDGER_TABLE_NAME: { Ref: logicalIdOf(stack.watchdog.ledger) },
        NOTIFICATION_TOPIC_ARN: { Ref: logicalIdOf(stack.watchdog.topic) },
      };

      // Act
      const detector = environmentOf(template, logicalIdOf(stack.watchdog.detector));
      const remediation = environmentOf(template, logicalIdOf(stack.watchdog.remediation));
      const reconciler = environmentOf(template, logicalIdOf(stack.watchdog.reconciler));

      // Assess
      expect(detector).toMatchObject({
        ...common,
        STATE_MACHINE_ARN: { Ref: logicalIdOf(stack.watchdog.workflow.stateMachine) },
      });
      // ReconcilerEnv is DetectorEnv: the same variables, the same values, but for the watch workflow, which only the
      // detector starts.
      const { WATCH_STATE_MACHINE_ARN: watchArn, ...detectorWithoutWatch } = detector;
      expect(watchArn).toBeDefined();
      expect(reconciler).toEqual(detectorWithoutWatch);
      expect(remediation).toMatchObject(common);
      expect(remediation).not.toHaveProperty('STATE_MACHINE_ARN');
      // The config is bundled with the code, never in the environment.
      for (const env of [detector, remediation, reconciler]) expect(env).not.toHaveProperty('WATCHDOG_CONFIG');
    });
  });

  describe('dead-letter queues', () => {
    it('sends failed asynchronous invocations of every function to the invocation DLQ, kept 14 days', () => {
      // Prepare
      const dlq = { 'Fn::GetAtt': [logicalIdOf(stack.watchdog.invocationDeadLetterQueue), 'Arn'] };
      const notificationDlq = { 'Fn::GetAtt': [logicalIdOf(stack.watchdog.notificationDeadLetterQueue), 'Arn'] };

      // Assess
      expect(stack.watchdog.functions()).toHaveLength(3);
      for (const fn of stack.watchdog.functions()) {
        const resource = template.toJSON().Resources[logicalIdOf(fn)];
        expect(resource.Properties.DeadLetterConfig).toEqual({ TargetArn: dlq });
        const sends = allStatements(template)
          .filter((s) => s.roles.includes(logicalIdOf(fn.role)))
          .filter((s) => grantsAny(s.statement, ['sqs:SendMessage']));
        // The invocation DLQ (Lambda's DeadLetterConfig) and the notification DLQ (undelivered notifications).
        expect(sends.map((s) => s.statement.Resource)).toEqual([dlq, notificationDlq]);
      }
      template.allResourcesProperties('AWS::SQS::Queue', { MessageRetentionPeriod: 14 * 24 * 3600 });
    });

    it('gives every rule retries, an event age limit and the events DLQ, which only those rules may send to', () => {
      // Prepare
      const dlq = logicalIdOf(stack.watchdog.eventsDeadLetterQueue);
      const rules = template.findResources('AWS::Events::Rule');
      const sweep = logicalIdOf(stack.watchdog.node.findChild('SweepSchedule'));
      // The sweep starts the sweep workflow and runs the reconciler; the alarm and workflow-ended rules are the
      // detector's only.
      const targetsOf = (id: string): LambdaFunction[] =>
        id === sweep ? [stack.watchdog.reconciler] : [stack.watchdog.detector];
      const sweepWorkflow = { Ref: logicalIdOf(stack.watchdog.sweepWorkflow.stateMachine) };

      // Assess
      expect(Object.keys(rules)).toHaveLength(3);
      expect(Object.keys(rules)).toContain(sweep);
      for (const [id, rule] of Object.entries(rules)) {
        const functionTargets = (rule.Properties.Targets as { Arn: unknown }[]).filter(
          (t) => JSON.stringify(t.Arn) !== JSON.stringify(sweepWorkflow),
        );
        expect(functionTargets, id).toEqual(
          targetsOf(id).map((fn) => ({
            Id: expect.any(String),
            Arn: { 'Fn::GetAtt': [logicalIdOf(fn), 'Arn'] },
            DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq, 'Arn'] } },
            RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
          })),
        );
        for (const fn of targetsOf(id)) {
          template.hasResourceProperties('AWS::Lambda::Permission', {
            Action: 'lambda:InvokeFunction',
            Principal: 'events.amazonaws.com',
            FunctionName: { 'Fn::GetAtt': [logicalIdOf(fn), 'Arn'] },
            SourceArn: { 'Fn::GetAtt': [id, 'Arn'] },
          });
        }
        template.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: [{ Ref: dlq }],
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({
                Effect: 'Allow',
                Action: 'sqs:SendMessage',
                Principal: { Service: 'events.amazonaws.com' },
                Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [id, 'Arn'] } } },
              }),
            ]),
          },
        });
      }
      template.resourceCountIs('AWS::Lambda::Permission', 3);
    });

    it('starts the sweep workflow and invokes the reconciler from the sweep, each with the events DLQ and retries', () => {
      // Prepare
      const sweep = logicalIdOf(stack.watchdog.node.findChild('SweepSchedule'));
      const dlq = { 'Fn::GetAtt': [logicalIdOf(stack.watchdog.eventsDeadLetterQueue), 'Arn'] };

      // Act
      const targets = template.toJSON().Resources[sweep].Properties.Targets as Record<string, unknown>[];

      // Assess
      expect(targets.map((t) => t.Arn)).toEqual([
        { Ref: logicalIdOf(stack.watchdog.sweepWorkflow.stateMachine) },
        { 'Fn::GetAtt': [logicalIdOf(stack.watchdog.reconciler), 'Arn'] },
      ]);
      // EventBridge starts the state machine with a role of its own.
      expect(targets[0]?.RoleArn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/EventsRole/), 'Arn'] });
      for (const target of targets) {
        expect(target.DeadLetterConfig).toEqual({ Arn: dlq });
        expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 });
      }
      const invokers = Object.values(template.findResources('AWS::Lambda::Permission'))
        .filter((p) => JSON.stringify(p.Properties.FunctionName).includes(logicalIdOf(stack.watchdog.reconciler)))
        .map((p) => p.Properties.SourceArn);
      expect(invokers, 'only the sweep invokes the reconciler').toEqual([{ 'Fn::GetAtt': [sweep, 'Arn'] }]);
    });

    it('sends the remediation workflow executions that end FAILED, TIMED_OUT or ABORTED to the detector', () => {
      // Assess
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.states'],
          'detail-type': ['Step Functions Execution Status Change'],
          detail: {
            stateMachineArn: [{ Ref: logicalIdOf(stack.watchdog.workflow.stateMachine) }],
            status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          },
        },
        Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [logicalIdOf(stack.watchdog.detector), 'Arn'] } })],
      });
    });
  });

  describe('CloudTrail rule (cloudTrailEvents)', () => {
    it('routes the MSF calls that change an application to the detector and the reconciler, with the events DLQ', () => {
      // Prepare
      const withTrail = new WatchdogStack(testApp(), 'Test', { config: CONFIG, cloudTrailEvents: true });

      // Act
      const trail = Template.fromStack(withTrail);

      // Assess
      trail.resourceCountIs('AWS::Events::Rule', 4);
      trail.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.kinesisanalytics'],
          'detail-type': ['AWS API Call via CloudTrail'],
          detail: {
            eventSource: ['kinesisanalytics.amazonaws.com'],
            eventName: Match.arrayEquals([...MSF_MUTATING_ACTIONS.map((a) => a.split(':')[1]), 'CreateApplication']),
          },
        },
        Targets: [withTrail.watchdog.detector, withTrail.watchdog.reconciler].map((fn) =>
          Match.objectLike({
            Arn: { 'Fn::GetAtt': [logicalIdOf(fn), 'Arn'] },
            DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalIdOf(withTrail.watchdog.eventsDeadLetterQueue), 'Arn'] } },
            RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
          }),
        ),
      });
      trail.resourceCountIs('AWS::Lambda::Permission', 5);
    });

    it('is off by default', () => {
      // Assess
      expect(
        Object.values(template.findResources('AWS::Events::Rule')).map((r) => r.Properties.EventPattern?.source),
      ).not.toContainEqual(['aws.kinesisanalytics']);
    });
  });

  describe('props', () => {
    it('honours the removal policies, sweep interval, log retention and remediation timeout', () => {
      // Prepare
      const app = testApp();
      const scope = new Stack(app, 'Props');
      const watchdog = new FlinkWatchdog(scope, 'FlinkWatchdog', {
        config: CONFIG,
        ledgerRemovalPolicy: RemovalPolicy.DESTROY,
        removalPolicy: RemovalPolicy.RETAIN,
        sweepInterval: Duration.minutes(10),
        logRetention: RetentionDays.ONE_WEEK,
        remediationTimeout: Duration.hours(2),
      });

      // Act
      const props = Template.fromStack(scope);

      // Assess
      props.hasResource('AWS::DynamoDB::GlobalTable', {
        DeletionPolicy: 'Delete',
        Properties: Match.objectLike({ Replicas: [Match.objectLike({ DeletionProtectionEnabled: false })] }),
      });
      for (const type of ['AWS::SQS::Queue', 'AWS::Logs::LogGroup', 'AWS::KMS::Key']) {
        expect(Object.keys(props.findResources(type)).length, type).toBeGreaterThan(0);
        props.allResources(type, { DeletionPolicy: 'Retain' });
      }
      props.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(10 minutes)' });
      props.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
      const definition = props.toJSON().Resources[logicalIdOf(watchdog.workflow.stateMachine)].Properties
        .DefinitionString['Fn::Join'][1] as unknown[];
      // The non-string parts (the function ARN) sit inside JSON strings: leaving them out keeps the JSON valid.
      expect(JSON.parse(definition.filter((p) => typeof p === 'string').join('')).TimeoutSeconds).toBe(7200);
    });
  });

  describe('undelivered notifications', () => {
    it('alarms on every notification sent to the DLQ, publishing to the notification topic', () => {
      // Prepare
      const queue = logicalIdOf(stack.watchdog.notificationDeadLetterQueue);

      // Act
      const alarms = Object.values(alarmsOf(template)).filter(
        (a) => a.Properties.AlarmName === undeliveredAlarmName(stack),
      );

      // Assess
      expect(alarms).toHaveLength(1);
      expect(alarms[0]?.Properties).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'NumberOfMessagesSent',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
        Statistic: 'Sum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: logicalIdOf(stack.watchdog.topic) }],
      });
      expect(alarms[0]?.Properties.Metrics).toBeUndefined();
    });

    it('names the alarm outside the prefix the alarm-state rule routes to the detector', () => {
      // Prepare
      const rules = Object.values(template.findResources('AWS::Events::Rule')).filter((r) =>
        ((r.Properties.EventPattern?.source ?? []) as string[]).includes('aws.cloudwatch'),
      );
      expect(rules).toHaveLength(1);
      const matchers = (rules[0]?.Properties.EventPattern?.detail?.alarmName ?? []) as { prefix: string }[];
      const prefixes = matchers.map((m) => m.prefix);

      // Act
      const name = undeliveredAlarmName(stack);

      // Assess
      expect(prefixes).toEqual([TEST_PREFIX]);
      template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: name });
      expect(name.startsWith(ALARM_PREFIX)).toBe(false);
      // EventBridge prefix matching is case-sensitive; not even a case-insensitive match is allowed here.
      for (const prefix of prefixes) expect(name.toLowerCase().startsWith(prefix.toLowerCase()), name).toBe(false);
      expect(applicationAlarmNames(template)).not.toContain(name);
    });

    it('keeps the notification DLQ 14 days, encrypted, over TLS only', () => {
      // Prepare
      const queue = logicalIdOf(stack.watchdog.notificationDeadLetterQueue);

      // Assess
      expect(template.toJSON().Resources[queue].Properties).toEqual({
        MessageRetentionPeriod: 14 * 24 * 3600,
        SqsManagedSseEnabled: true,
      });
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: queue }],
        PolicyDocument: {
          Statement: [Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })],
        },
      });
    });

    it.each([
      ['the default config', 3, () => ({ stack, template })],
      ['chatbot and runbooks', 4, fullyConfigured],
    ])(
      'with %s, gives every function NOTIFICATION_DLQ_URL, SendMessage on that queue and PutEvents on the default bus',
      (_, count, get) => {
        // Prepare
        const { stack: s, template: t } = get();
        const queue = logicalIdOf(s.watchdog.notificationDeadLetterQueue);
        const invocationDlq = { 'Fn::GetAtt': [logicalIdOf(s.watchdog.invocationDeadLetterQueue), 'Arn'] };
        const functionRoles = s.watchdog.functions().map((fn) => logicalIdOf(fn.role));

        // Act
        const statements = allStatements(t);

        // Assess
        expect(s.watchdog.functions()).toHaveLength(count);
        for (const fn of s.watchdog.functions()) {
          const role = logicalIdOf(fn.role);
          const own = statements.filter((st) => st.roles.includes(role)).map((st) => st.statement);
          expect(environmentOf(t, logicalIdOf(fn)).NOTIFICATION_DLQ_URL).toEqual({ Ref: queue });
          // SQS: SendMessage (with the queue attribute/URL reads of grantSendMessages) on the notification DLQ, and the
          // invocation DLQ of Lambda's DeadLetterConfig; nothing else.
          const sqs = own.filter((st) => [st.Action].flat().some((a) => a.startsWith('sqs:')));
          expect(sqs).toEqual([
            { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: invocationDlq },
            {
              Effect: 'Allow',
              Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
              Resource: { 'Fn::GetAtt': [queue, 'Arn'] },
            },
          ]);
          // EventBridge: PutEvents on the account's default bus, and no other events action.
          const events = own.filter((st) => [st.Action].flat().some((a) => a.startsWith('events:')));
          expect(events).toEqual([
            { Sid: 'WatchdogEvents', Effect: 'Allow', Action: 'events:PutEvents', Resource: DEFAULT_EVENT_BUS },
          ]);
        }
        // Only the functions may send to the notification DLQ or put events.
        const senders = statements.filter((st) => JSON.stringify(st.statement.Resource).includes(`"${queue}"`));
        expect(senders.flatMap((st) => st.roles).sort()).toEqual([...functionRoles].sort());
        const putters = statements.filter((st) => grantsAny(st.statement, ['events:PutEvents']));
        expect(putters.flatMap((st) => st.roles).sort()).toEqual([...functionRoles].sort());
      },
    );
  });

  describe('watch executions that end FAILED, TIMED_OUT or ABORTED', () => {
    it("alarms on the watch state machine's ExecutionsFailed + ExecutionsTimedOut + ExecutionsAborted, to the topic", () => {
      // Prepare
      const watch = { Ref: logicalIdOf(stack.watchdog.watchWorkflow.stateMachine) };
      const executions = (id: string, metricName: string) => ({
        Id: id,
        MetricStat: {
          Metric: {
            Namespace: 'AWS/States',
            MetricName: metricName,
            Dimensions: [{ Name: 'StateMachineArn', Value: watch }],
          },
          Period: 300,
          Stat: 'Sum',
        },
        ReturnData: false,
      });

      // Act
      const alarms = Object.values(alarmsOf(template)).filter(
        (a) => a.Properties.AlarmName === watchEndedAlarmName(stack),
      );

      // Assess
      expect(alarms).toHaveLength(1);
      const props = alarms[0]?.Properties as { Metrics: { Id: string; Expression?: string }[] };
      expect(props).toMatchObject({
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: logicalIdOf(stack.watchdog.topic) }],
      });
      expect(props.Metrics).toHaveLength(4);
      expect(props.Metrics).toEqual(
        expect.arrayContaining([
          executions('failed', 'ExecutionsFailed'),
          executions('timedOut', 'ExecutionsTimedOut'),
          executions('aborted', 'ExecutionsAborted'),
        ]),
      );
      // The one returned series: any of the three counts, a missing one counting 0, never the remediation workflow.
      const expression = props.Metrics.find((m) => m.Expression !== undefined);
      expect(expression).toMatchObject({ Expression: 'FILL(failed, 0) + FILL(timedOut, 0) + FILL(aborted, 0)' });
      expect(expression).not.toHaveProperty('ReturnData', false);
      expect(JSON.stringify(props)).not.toContain(logicalIdOf(stack.watchdog.workflow.stateMachine));
    });

    it('names the alarm outside the prefix the alarm-state rule routes to the detector', () => {
      // Act
      const name = watchEndedAlarmName(stack);

      // Assess
      expect(name.toLowerCase().startsWith(ALARM_PREFIX.toLowerCase()), name).toBe(false);
      expect(applicationAlarmNames(template)).not.toContain(name);
    });

    it("lets CloudWatch publish the stack's own three alarms to the encrypted topic, and no other alarm", () => {
      // Prepare
      const cloudWatchStatements = (resourceType: string, policyProperty: string): unknown[] =>
        Object.values(template.findResources(resourceType)).flatMap((r) =>
          (r.Properties[policyProperty].Statement as Statement[]).filter((st) => st.Sid === 'CloudWatchAlarmPublish'),
        );

      // Act
      const statements = [
        ...cloudWatchStatements('AWS::KMS::Key', 'KeyPolicy'),
        ...cloudWatchStatements('AWS::SNS::TopicPolicy', 'PolicyDocument'),
      ] as { Condition: { ArnLike: { 'aws:SourceArn': unknown[] } } }[];

      // Assess
      expect(statements).toHaveLength(2);
      for (const st of statements) {
        const arns = st.Condition.ArnLike['aws:SourceArn'].map((a) => JSON.stringify(a));
        expect(arns).toHaveLength(3);
        expect(arns.filter((a) => a.endsWith(`:alarm:${undeliveredAlarmName(stack)}"]]}`))).toHaveLength(1);
        expect(arns.filter((a) => a.endsWith(`:alarm:${watchEndedAlarmName(stack)}"]]}`))).toHaveLength(1);
        expect(arns.filter((a) => a.endsWith(`:alarm:${sweepFailedAlarmName(stack)}"]]}`))).toHaveLength(1);
      }
    });

    it('leaves the ended-run rule to the remediation workflow: a watch run is not an incident', () => {
      // Act
      const rules = Object.values(template.findResources('AWS::Events::Rule')).filter((r) =>
        ((r.Properties.EventPattern?.source ?? []) as string[]).includes('aws.states'),
      );

      // Assess
      expect(rules).toHaveLength(1);
      expect(rules[0]?.Properties.EventPattern.detail.stateMachineArn).toEqual([
        { Ref: logicalIdOf(stack.watchdog.workflow.stateMachine) },
      ]);
    });
  });

  describe('Amazon Q Developer chat topic (notifications.chatbot)', () => {
    it('is not created when chatbot is off or unset', () => {
      // Prepare
      const off = synthStack(parseConfig({ ...CONFIG, notifications: { chatbot: false } }));

      // Assess
      for (const [s, t] of [
        [stack, template],
        [off, Template.fromStack(off)],
      ] as const) {
        expect(s.watchdog.chatTopic).toBeUndefined();
        expect(s.watchdog.node.tryFindChild('ChatNotificationTopic')).toBeUndefined();
        t.resourceCountIs('AWS::SNS::Topic', 1);
        for (const fn of s.watchdog.functions()) {
          expect(environmentOf(t, logicalIdOf(fn))).not.toHaveProperty('CHATBOT_TOPIC_ARN');
        }
      }
    });

    describe('when on', () => {
      let withChat: WatchdogStack;
      let chatTemplate: Template;
      beforeAll(() => {
        withChat = synthStack(parseConfig({ ...CONFIG, notifications: { chatbot: true } }));
        chatTemplate = Template.fromStack(withChat);
      });

      it('creates a topic encrypted with the rotated topic key, publishable over TLS only', () => {
        // Prepare
        const chat = logicalIdOf(withChat.watchdog.chatTopic);
        const key = logicalIdOf(withChat.watchdog.node.findChild('NotificationTopicKey'));

        // Assess
        chatTemplate.resourceCountIs('AWS::SNS::Topic', 2);
        chatTemplate.resourceCountIs('AWS::KMS::Key', 1);
        expect(chatTemplate.toJSON().Resources[chat].Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [key, 'Arn'] });
        chatTemplate.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
        // Its resource policy only enforces TLS: nothing but the functions' IAM grants lets anyone publish.
        chatTemplate.hasResourceProperties('AWS::SNS::TopicPolicy', {
          Topics: [{ Ref: chat }],
          PolicyDocument: {
            Statement: [
              {
                Sid: 'AllowPublishThroughSSLOnly',
                Effect: 'Deny',
                Action: 'sns:Publish',
                Principal: '*',
                Resource: { Ref: chat },
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              },
            ],
            Version: '2012-10-17',
          },
        });
        chatTemplate.resourceCountIs('AWS::SNS::Subscription', 0);
      });

      it('gives every function CHATBOT_TOPIC_ARN and publish on it (with the key), and nobody else', () => {
        // Prepare
        const topic = { Ref: logicalIdOf(withChat.watchdog.topic) };
        const chat = { Ref: logicalIdOf(withChat.watchdog.chatTopic) };
        const key = { 'Fn::GetAtt': [logicalIdOf(withChat.watchdog.node.findChild('NotificationTopicKey')), 'Arn'] };
        const statements = allStatements(chatTemplate);
        const functionRoles = withChat.watchdog.functions().map((fn) => logicalIdOf(fn.role));

        // Assess
        for (const fn of withChat.watchdog.functions()) {
          const own = statements.filter((s) => s.roles.includes(logicalIdOf(fn.role))).map((s) => s.statement);
          expect(environmentOf(chatTemplate, logicalIdOf(fn)).CHATBOT_TOPIC_ARN).toEqual(chat);
          expect(own.filter((s) => grantsAny(s, ['sns:Publish'])).map((s) => s.Resource)).toEqual([topic, chat]);
          expect(own.filter((s) => grantsAny(s, ['kms:GenerateDataKey'])).map((s) => s.Resource)).toEqual([key]);
        }
        const publishers = statements.filter((s) => JSON.stringify(s.statement.Resource) === JSON.stringify(chat));
        expect(publishers.flatMap((s) => s.roles).sort()).toEqual([...functionRoles].sort());
        expect(publishers.map((s) => s.statement.Action)).toEqual(functionRoles.map(() => 'sns:Publish'));
      });
    });
  });

  describe('runbook commands (runbooks)', () => {
    it('creates no command topic and no runbook function without runbooks: three functions', () => {
      // Assess
      expect(stack.watchdog.commandTopic).toBeUndefined();
      expect(stack.watchdog.runbook).toBeUndefined();
      expect(stack.watchdog.functions()).toEqual([
        stack.watchdog.detector,
        stack.watchdog.remediation,
        stack.watchdog.reconciler,
      ]);
      template.resourceCountIs('AWS::Lambda::Function', 3);
      template.resourceCountIs('AWS::SNS::Topic', 1);
      expect(template.findResources('AWS::SNS::Subscription', { Properties: { Protocol: 'lambda' } })).toEqual({});
      for (const fn of stack.watchdog.functions()) {
        expect(environmentOf(template, logicalIdOf(fn))).not.toHaveProperty('COMMAND_TOPIC_ARN');
      }
      expect(
        allStatements(template).filter((s) => grantsAny(s.statement, ['kinesisanalytics:CreateApplicationSnapshot'])),
      ).toEqual([]);
    });

    describe('when configured', () => {
      let withRunbooks: WatchdogStack;
      let runbookTemplate: Template;
      let runbook: LambdaFunction;
      let commandTopic: string;
      beforeAll(() => {
        withRunbooks = synthStack(parseConfig({ ...CONFIG, runbooks: { publishers: PUBLISHERS } }));
        runbookTemplate = Template.fromStack(withRunbooks);
        expect(withRunbooks.watchdog.runbook).toBeDefined();
        runbook = withRunbooks.watchdog.runbook as LambdaFunction;
        commandTopic = logicalIdOf(withRunbooks.watchdog.commandTopic);
      });

      /** The statements of the runbook function's role. */
      function runbookStatements(): Statement[] {
        const role = logicalIdOf(runbook.role);
        return allStatements(runbookTemplate)
          .filter((s) => s.roles.includes(role))
          .map((s) => s.statement);
      }

      it('adds the runbook function: four functions, on the runtime defaults with the invocation DLQ', () => {
        // Prepare
        const dlq = { 'Fn::GetAtt': [logicalIdOf(withRunbooks.watchdog.invocationDeadLetterQueue), 'Arn'] };

        // Assess
        expect(withRunbooks.watchdog.functions()).toEqual([
          withRunbooks.watchdog.detector,
          withRunbooks.watchdog.remediation,
          withRunbooks.watchdog.reconciler,
          runbook,
        ]);
        runbookTemplate.resourceCountIs('AWS::Lambda::Function', 4);
        expect(runbookTemplate.toJSON().Resources[logicalIdOf(runbook)].Properties).toMatchObject({
          Runtime: 'nodejs22.x',
          Architectures: ['arm64'],
          TracingConfig: { Mode: 'Active' },
          DeadLetterConfig: { TargetArn: dlq },
        });
      });

      it("gives the runbook the detector's environment plus COMMAND_TOPIC_ARN, the command topic", () => {
        // Act
        const env = environmentOf(runbookTemplate, logicalIdOf(runbook));
        const detector = environmentOf(runbookTemplate, logicalIdOf(withRunbooks.watchdog.detector));

        // Assess (only the detector starts watches)
        const { WATCH_STATE_MACHINE_ARN: _watch, ...detectorWithoutWatch } = detector;
        expect(env).toEqual({ ...detectorWithoutWatch, COMMAND_TOPIC_ARN: { Ref: commandTopic } });
        expect(env.STATE_MACHINE_ARN).toEqual({ Ref: logicalIdOf(withRunbooks.watchdog.workflow.stateMachine) });
        for (const fn of [
          withRunbooks.watchdog.detector,
          withRunbooks.watchdog.remediation,
          withRunbooks.watchdog.reconciler,
        ]) {
          expect(environmentOf(runbookTemplate, logicalIdOf(fn))).not.toHaveProperty('COMMAND_TOPIC_ARN');
        }
      });

      it('encrypts the command topic with the rotated topic key', () => {
        // Prepare
        const key = logicalIdOf(withRunbooks.watchdog.node.findChild('NotificationTopicKey'));

        // Assess
        runbookTemplate.resourceCountIs('AWS::SNS::Topic', 2);
        runbookTemplate.resourceCountIs('AWS::KMS::Key', 1);
        expect(runbookTemplate.toJSON().Resources[commandTopic].Properties.KmsMasterKeyId).toEqual({
          'Fn::GetAtt': [key, 'Arn'],
        });
      });

      it('lets the configured publishers, and only them, publish, over TLS only', () => {
        // Prepare
        const topic = { Ref: commandTopic };

        // Act
        const policies = Object.values(runbookTemplate.findResources('AWS::SNS::TopicPolicy')).filter(
          (p) => JSON.stringify(p.Properties.Topics) === JSON.stringify([topic]),
        );

        // Assess
        expect(policies).toHaveLength(1);
        expect(policies[0]?.Properties.PolicyDocument).toEqual({
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'AllowPublishThroughSSLOnly',
              Effect: 'Deny',
              Action: 'sns:Publish',
              Principal: '*',
              Resource: topic,
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            },
            {
              Sid: 'OnlyConfiguredPublishers',
              Effect: 'Deny',
              Action: 'sns:Publish',
              Principal: { AWS: '*' },
              Resource: topic,
              Condition: { ArnNotEquals: { 'aws:PrincipalArn': PUBLISHERS } },
            },
            {
              Sid: 'ConfiguredPublishers',
              Effect: 'Allow',
              Action: 'sns:Publish',
              Principal: { AWS: PUBLISHERS },
              Resource: topic,
            },
          ],
        });
        // No IAM policy of the stack grants publishing commands: the watchdog's own functions cannot.
        const iamPublish = allStatements(runbookTemplate).filter(
          (s) => grantsAny(s.statement, ['sns:Publish']) && JSON.stringify(s.statement.Resource).includes(commandTopic),
        );
        expect(iamPublish).toEqual([]);
      });

      it("lets the publishers use the topic key through SNS only, and CloudWatch only for the stack's own alarms", () => {
        // Act
        const keyPolicy = Object.values(runbookTemplate.findResources('AWS::KMS::Key'))[0]?.Properties.KeyPolicy as {
          Statement: Statement[];
        };
        const forPublishers = keyPolicy.Statement.filter((s) =>
          PUBLISHERS.some((arn) => JSON.stringify(s).includes(arn)),
        );
        const forCloudWatch = keyPolicy.Statement.filter((s) => JSON.stringify(s).includes('cloudwatch.amazonaws.com'));

        // Assess
        expect(forPublishers).toEqual([
          {
            Sid: 'CommandPublishersViaSns',
            Effect: 'Allow',
            Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
            Principal: { AWS: PUBLISHERS },
            Resource: '*',
            Condition: { StringEquals: { 'kms:ViaService': expect.anything() } },
          },
        ]);
        expect(forCloudWatch).toEqual([
          expect.objectContaining({
            Sid: 'CloudWatchAlarmPublish',
            Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Condition: expect.objectContaining({ ArnLike: { 'aws:SourceArn': expect.anything() } }),
          }),
        ]);
        // The rest is the account's administration of its own key (CDK's default key policy).
        expect(keyPolicy.Statement.filter((s) => !forPublishers.includes(s) && !forCloudWatch.includes(s))).toEqual([
          {
            Effect: 'Allow',
            Action: 'kms:*',
            Principal: {
              AWS: {
                'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']],
              },
            },
            Resource: '*',
          },
        ]);
      });

      it("lets CloudWatch publish the stack's own alarms to the encrypted topic, from those alarms only", () => {
        // Assess
        runbookTemplate.hasResourceProperties('AWS::SNS::TopicPolicy', {
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({
                Sid: 'CloudWatchAlarmPublish',
                Effect: 'Allow',
                Principal: { Service: 'cloudwatch.amazonaws.com' },
                Action: 'sns:Publish',
                Condition: Match.objectLike({ ArnLike: { 'aws:SourceArn': Match.anyValue() } }),
              }),
            ]),
          },
        });
      });

      it('subscribes the runbook function to the command topic, with the events DLQ as its redrive policy', () => {
        // Prepare
        const fn = { 'Fn::GetAtt': [logicalIdOf(runbook), 'Arn'] };
        const dlq = logicalIdOf(withRunbooks.watchdog.eventsDeadLetterQueue);

        // Act
        const subscriptions = Object.values(runbookTemplate.findResources('AWS::SNS::Subscription'));

        // Assess
        expect(subscriptions.map((s) => s.Properties)).toEqual([
          {
            Protocol: 'lambda',
            TopicArn: { Ref: commandTopic },
            Endpoint: fn,
            RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] } },
          },
        ]);
        const snsInvokes = Object.values(runbookTemplate.findResources('AWS::Lambda::Permission')).filter(
          (p) => p.Properties.Principal === 'sns.amazonaws.com',
        );
        expect(snsInvokes.map((p) => p.Properties)).toEqual([
          {
            Action: 'lambda:InvokeFunction',
            FunctionName: fn,
            Principal: 'sns.amazonaws.com',
            SourceArn: { Ref: commandTopic },
          },
        ]);
        // SNS may send the undeliverable commands to the DLQ, for this topic only.
        runbookTemplate.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: [{ Ref: dlq }],
          PolicyDocument: {
            Statement: Match.arrayWith([
              {
                Effect: 'Allow',
                Action: 'sqs:SendMessage',
                Principal: { Service: 'sns.amazonaws.com' },
                Resource: { 'Fn::GetAtt': [dlq, 'Arn'] },
                Condition: { ArnEquals: { 'aws:SourceArn': { Ref: commandTopic } } },
              },
            ]),
          },
        });
      });

      it('gives the runbook MSF reads and, as its only mutating MSF action, CreateApplicationSnapshot', () => {
        // Prepare
        const listed = CONFIG.applications.map((a) => arnOf(a.name));
        const tagCondition = { StringEquals: { 'aws:ResourceTag/flink-watchdog': 'enabled' } };

        // Act
        const msf = runbookStatements().filter((s) => [s.Action].flat().some((a) => a.startsWith('kinesisanalytics:')));
        const mutating = msf.filter((s) =>
          [s.Action].flat().some((a) => !(MSF_READ_ACTIONS as readonly string[]).includes(a)),
        );

        // Assess
        expect(
          msf.filter((s) =>
            grantsAny(
              s,
              MSF_MUTATING_ACTIONS_ALL.filter((a) => a !== SNAPSHOT_ACTION),
            ),
          ),
        ).toEqual([]);
        expect(mutating).toEqual(
          expect.arrayContaining([
            { Sid: 'MsfSnapshotListed', Effect: 'Allow', Action: SNAPSHOT_ACTION, Resource: listed },
            {
              Sid: 'MsfSnapshotOptInTagged',
              Effect: 'Allow',
              Action: SNAPSHOT_ACTION,
              Resource: arnOf('*'),
              Condition: tagCondition,
            },
          ]),
        );
        expect(mutating).toHaveLength(2);
        expect(msf.find((s) => s.Sid === 'MsfRead')).toEqual({
          Sid: 'MsfRead',
          Effect: 'Allow',
          Action: [...MSF_READ_ACTIONS],
          Resource: arnOf('*'),
        });
        // No other role may snapshot.
        const snapshotters = allStatements(runbookTemplate).filter((s) => grantsAny(s.statement, [SNAPSHOT_ACTION]));
        expect([...new Set(snapshotters.flatMap((s) => s.roles))]).toEqual([logicalIdOf(runbook.role)]);
      });

      it('lets the runbook start executions of the workflow and answer its approval wait, nothing else in Step Functions', () => {
        // Prepare
        const stateMachine = { Ref: logicalIdOf(withRunbooks.watchdog.workflow.stateMachine) };

        // Act
        const states = runbookStatements().filter((s) => [s.Action].flat().some((a) => a.startsWith('states:')));
        const sweepStarters = sweepStarterRoles(withRunbooks);
        const starters = allStatements(runbookTemplate).filter(
          (s) =>
            grantsAny(s.statement, ['states:StartExecution']) &&
            s.statement.Sid !== 'StartWatch' &&
            !s.roles.some((r) => sweepStarters.includes(r)),
        );

        // Assess
        expect(states).toEqual([
          { Effect: 'Allow', Action: 'states:StartExecution', Resource: stateMachine },
          // approve / reject: SendTaskSuccess (only) on the AwaitApproval task token, this state machine only.
          { Effect: 'Allow', Action: 'states:SendTaskSuccess', Resource: stateMachine },
        ]);
        expect(starters.flatMap((s) => s.roles).sort()).toEqual(
          [withRunbooks.watchdog.detector, withRunbooks.watchdog.reconciler, runbook]
            .map((fn) => logicalIdOf(fn.role))
            .sort(),
        );
        for (const { statement } of starters) expect(statement.Resource).toEqual(stateMachine);
      });

      it('keeps the IAM invariants (no wildcard action, "*" only where nothing else is supported)', () => {
        // Assess
        expectLeastPrivilege(runbookTemplate);
        expectLeastPrivilege(fullyConfigured().template);
      });
    });

    it('creates the topic key for the chat and command topics even with an existing notification topic', () => {
      // Prepare
      const existing = synthStack(
        parseConfig({
          ...CONFIG,
          notifications: { snsTopicArn: EXISTING_TOPIC_ARN, chatbot: true },
          runbooks: { publishers: PUBLISHERS },
        }),
      );
      const t = Template.fromStack(existing);
      const key = { 'Fn::GetAtt': [logicalIdOf(existing.watchdog.node.findChild('NotificationTopicKey')), 'Arn'] };

      // Assess
      t.resourceCountIs('AWS::KMS::Key', 1);
      t.resourceCountIs('AWS::SNS::Topic', 2);
      t.allResourcesProperties('AWS::SNS::Topic', { KmsMasterKeyId: key });
      for (const fn of existing.watchdog.functions()) {
        const own = allStatements(t)
          .filter((s) => s.roles.includes(logicalIdOf(fn.role)))
          .map((s) => s.statement);
        expect(own.filter((s) => grantsAny(s, ['sns:Publish'])).map((s) => s.Resource)).toEqual([
          EXISTING_TOPIC_ARN,
          { Ref: logicalIdOf(existing.watchdog.chatTopic) },
        ]);
        expect(own.filter((s) => grantsAny(s, ['kms:GenerateDataKey'])).map((s) => s.Resource)).toEqual([key]);
      }
    });
  });

  describe('template snapshot', () => {
    it('matches the snapshot, asset hashes normalised', () => {
      // Prepare
      const config = parseConfig({
        ...CONFIG,
        notifications: { slackWebhookSecretName: SLACK_SECRET_NAME, emailSubscriptions: ['oncall@example.com'] },
      });
      const runtimes = { 'payments-aggregation': 'FLINK-2_2' };

      // Act
      const first = Template.fromStack(synthStack(config, runtimes, FIXED_ENV));
      const second = Template.fromStack(synthStack(config, runtimes, FIXED_ENV));

      // Assess
      const raw = JSON.stringify(first.toJSON());
      expect(raw, 'the template has asset hashes to normalise').toMatch(ASSET_HASH);
      const snapshot = normalised(first);
      expect(JSON.stringify(snapshot)).not.toMatch(ASSET_HASH);
      expect(JSON.stringify(snapshot)).toContain('"S3Key":"[ASSET_HASH].zip"');
      expect(snapshot, 'two syntheses give the same template').toEqual(normalised(second));
      expect(snapshot).toMatchSnapshot();
    });
  });

  describe('validation', () => {
    it('rejects a runtime environment for an application that is not listed', () => {
      expect(() => synth(CONFIG, { 'orders-enrichmnet': 'FLINK-2_2' })).toThrow(FlinkWatchdogPropsError);
    });

    it('names the bad field of a config that does not validate', () => {
      expect(() => parseConfig({ schemaVersion: 1, applications: [{ name: 'bad name' }] }, 'x.json')).toThrow(
        ConfigError,
      );
      expect(() => parseConfig({ schemaVersion: 1, applications: [{ name: 'bad name' }] }, 'x.json')).toThrow(
        /applications\[0\]\.name/,
      );
    });
  });
});

describe('Function: functionEnvironment', () => {
  const valid = {
    WATCHDOG_CONFIG: JSON.stringify(CONFIG),
    LEDGER_TABLE_NAME: 'flink-watchdog-ledger',
    NOTIFICATION_TOPIC_ARN: EXISTING_TOPIC_ARN,
  };

  it('returns the values, leaving out the undefined ones', () => {
    // Act
    const env = functionEnvironment(RemediationEnv, { ...valid, SLACK_WEBHOOK_SECRET_NAME: undefined });

    // Assess
    expect(env).toEqual(valid);
  });

  it('throws naming the variable whose literal value does not validate', () => {
    // Act
    const bad = () => functionEnvironment(DetectorEnv, { ...valid, STATE_MACHINE_ARN: 'remediation-workflow' });

    // Assess
    expect(bad).toThrow(/STATE_MACHINE_ARN/);
    expect(bad).not.toThrow(/LEDGER_TABLE_NAME|NOTIFICATION_TOPIC_ARN/);
  });

  it('accepts CDK tokens, resolved only at deploy time, but still checks the literal values beside them', () => {
    // Prepare
    const tableName = Token.asString({ Ref: 'Ledger' });
    const topicArn = Token.asString({ Ref: 'Topic' });

    // Act
    const env = functionEnvironment(RemediationEnv, {
      ...valid,
      LEDGER_TABLE_NAME: tableName,
      NOTIFICATION_TOPIC_ARN: topicArn,
    });
    const bad = () =>
      functionEnvironment(DetectorEnv, {
        ...valid,
        NOTIFICATION_TOPIC_ARN: topicArn,
        STATE_MACHINE_ARN: 'not-an-arn',
      });

    // Assess
    expect(Token.isUnresolved(env.NOTIFICATION_TOPIC_ARN)).toBe(true);
    expect(env).toEqual({ ...valid, LEDGER_TABLE_NAME: tableName, NOTIFICATION_TOPIC_ARN: topicArn });
    expect(bad).toThrow(/STATE_MACHINE_ARN/);
    expect(bad).not.toThrow(/NOTIFICATION_TOPIC_ARN/);
  });

  it('throws when neither WATCHDOG_CONFIG nor WATCHDOG_CONFIG_PATH is set', () => {
    // Act
    const { WATCHDOG_CONFIG: _, ...withoutConfig } = valid;

    // Assess
    expect(() => functionEnvironment(RemediationEnv, withoutConfig)).toThrow(/WATCHDOG_CONFIG/);
  });
});
