import { App, type CfnElement, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
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

/** A CDK app that skips NodejsFunction bundling and the built-in CloudFormation validation (~2 s per synth). */
function testApp(): App {
  return new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
}

function synthStack(
  config: WatchdogConfig,
  runtimeEnvironments?: Record<string, string>,
  env?: { account: string; region: string },
): WatchdogStack {
  // Skips NodejsFunction bundling: these tests assert the template, not the bundle.
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

function statementsOf(template: Template, roleLogicalIdPrefix: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  const entry = Object.entries(policies).find(([, p]) =>
    (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref.startsWith(roleLogicalIdPrefix)),
  );
  expect(entry, `a policy on ${roleLogicalIdPrefix}`).toBeDefined();
  return (entry?.[1].Properties.PolicyDocument.Statement ?? []) as Statement[];
}

/** A policy statement with the logical IDs of the roles its policy is attached to. */
interface AttachedStatement {
  policy: string;
  roles: string[];
  statement: Statement;
}

/** Every statement of every `AWS::IAM::Policy` in the template. */
function allStatements(template: Template): AttachedStatement[] {
  return Object.entries(template.findResources('AWS::IAM::Policy')).flatMap(([policy, p]) =>
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
];

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

  describe('alarms', () => {
    it('creates restart-loop, downtime and failed-checkpoint alarms for a FLINK-1_x application', () => {
      // Assess
      for (const kind of ['restart-loop', 'downtime', 'failed-checkpoints']) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          AlarmName: `${ALARM_PREFIX}orders-enrichment-${kind}`,
        });
      }
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `${ALARM_PREFIX}orders-enrichment-restart-loop`,
        EvaluationPeriods: 10,
        DatapointsToAlarm: 3,
        TreatMissingData: 'notBreaching',
        Metrics: Match.arrayWith([
          Match.objectLike({
            Id: 'restarts',
            MetricStat: Match.objectLike({
              Metric: {
                Namespace: 'AWS/KinesisAnalytics',
                MetricName: 'fullRestarts',
                Dimensions: [{ Name: 'Application', Value: 'orders-enrichment' }],
              },
            }),
          }),
          Match.objectLike({ Id: 'newRestarts', Expression: 'DIFF(restarts)', ReturnData: true }),
        ]),
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `${ALARM_PREFIX}orders-enrichment-downtime`,
        TreatMissingData: 'breaching',
      });
    });

    it('alarms on numRestarts and creates no downtime alarm on FLINK-2_2, with the policy window', () => {
      // Assess
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `${ALARM_PREFIX}payments-aggregation-restart-loop`,
        EvaluationPeriods: 15,
        DatapointsToAlarm: 4,
        Metrics: Match.arrayWith([
          Match.objectLike({
            MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'numRestarts' }) }),
          }),
        ]),
      });
      const names = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties.AlarmName);
      expect(names).not.toContain(`${ALARM_PREFIX}payments-aggregation-downtime`);
      expect(names).toHaveLength(5);
    });
  });

  describe('IAM', () => {
    it('limits the mutating actions to the listed applications, and tagged ones by condition', () => {
      // Act
      const statements = statementsOf(template, 'FlinkWatchdogRemediationRole');
      const listed = statements.find((s) => s.Sid === 'MsfMutateListed');
      const tagged = statements.find((s) => s.Sid === 'MsfOptInTagged');
      // Assess
      expect(listed?.Action).toEqual([...MSF_MUTATING_ACTIONS]);
      expect(listed?.Resource).toEqual([arnOf('orders-enrichment'), arnOf('payments-aggregation')]);
      expect(tagged?.Action).toEqual(expect.arrayContaining([...MSF_MUTATING_ACTIONS]));
      expect(tagged?.Resource).toEqual(arnOf('*'));
      expect(tagged?.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/flink-watchdog': 'enabled' } });
      const mutatingAnywhere = statements.filter(
        (s) => [s.Action].flat().some((a) => (MSF_MUTATING_ACTIONS as readonly string[]).includes(a)) && !s.Condition,
      );
      expect(mutatingAnywhere.map((s) => s.Sid)).toEqual(['MsfMutateListed']);
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
      const statements = statementsOf(synth(rest), 'FlinkWatchdogRemediationRole');
      // Assess
      expect(statements.find((s) => s.Sid === 'MsfOptInTagged')).toBeUndefined();
    });
  });

  describe('events', () => {
    it('routes the watchdog alarm state changes to the detector, with a dead-letter queue', () => {
      // Assess
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.cloudwatch'],
          'detail-type': ['CloudWatch Alarm State Change'],
          detail: { alarmName: [{ prefix: ALARM_PREFIX }] },
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
    it('runs both functions on arm64 Node 22 with JSON logs, tracing, a DLQ and the config', () => {
      // Assess
      const fns = template.findResources('AWS::Lambda::Function', {
        Properties: {
          Runtime: 'nodejs22.x',
          Architectures: ['arm64'],
          Handler: 'index.handler',
          TracingConfig: { Mode: 'Active' },
          LoggingConfig: Match.objectLike({ LogFormat: 'JSON' }),
          DeadLetterConfig: { TargetArn: Match.anyValue() },
          Environment: { Variables: Match.objectLike({ WATCHDOG_CONFIG: JSON.stringify(CONFIG) }) },
        },
      });
      expect(Object.keys(fns)).toHaveLength(2);
      template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    });

    it('encrypts the dead-letter queues and enforces SSL', () => {
      // Assess
      template.resourceCountIs('AWS::SQS::Queue', 2);
      template.allResourcesProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
      template.resourceCountIs('AWS::SQS::QueuePolicy', 2);
      template.allResourcesProperties('AWS::SQS::QueuePolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    });
  });

  describe('alarms per application', () => {
    it('creates the alarms of each listed application, every metric on that application only', () => {
      // Act
      const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
      const byApplication = new Map<string, string[]>();
      for (const alarm of alarms) {
        const name = alarm.Properties.AlarmName as string;
        const application = CONFIG.applications.find((a) => name.startsWith(`${ALARM_PREFIX}${a.name}-`))?.name;
        expect(application, `${name} names a listed application`).toBeDefined();
        const dimensions = (alarm.Properties.Metrics as { MetricStat?: { Metric: { Dimensions: unknown } } }[])
          .filter((m) => m.MetricStat !== undefined)
          .map((m) => m.MetricStat?.Metric.Dimensions);
        expect(dimensions.length, `${name} has a metric`).toBeGreaterThan(0);
        for (const d of dimensions) expect(d, name).toEqual([{ Name: 'Application', Value: application }]);
        byApplication.set(application ?? '', [...(byApplication.get(application ?? '') ?? []), name]);
      }

      // Assess
      expect(byApplication.get('orders-enrichment')?.sort()).toEqual(
        ['downtime', 'failed-checkpoints', 'restart-loop'].map((k) => `${ALARM_PREFIX}orders-enrichment-${k}`),
      );
      expect(byApplication.get('payments-aggregation')?.sort()).toEqual(
        ['failed-checkpoints', 'restart-loop'].map((k) => `${ALARM_PREFIX}payments-aggregation-${k}`),
      );
    });

    it('creates no alarm without a listed application', () => {
      // Act
      const tagOnly = synth(parseConfig({ schemaVersion: 1, optInTag: { key: 'flink-watchdog', value: 'on' } }));

      // Assess
      tagOnly.resourceCountIs('AWS::CloudWatch::Alarm', 0);
      expect(allStatements(tagOnly).filter((s) => s.statement.Sid === 'MsfMutateListed')).toEqual([]);
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

    it('names the table in both functions, which may read and write it and its indexes', () => {
      // Prepare
      const ledger = logicalIdOf(stack.watchdog.ledger);
      const arn = { 'Fn::GetAtt': [ledger, 'Arn'] };

      // Act
      const grants = allStatements(template).filter((s) => grantsAny(s.statement, ['dynamodb:PutItem']));

      // Assess
      for (const fn of [stack.watchdog.detector, stack.watchdog.remediation]) {
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

    it('lets both functions publish to the topic, using its key and no other', () => {
      // Prepare
      const topic = { Ref: logicalIdOf(stack.watchdog.topic) };
      const key = { 'Fn::GetAtt': [logicalIdOf(stack.watchdog.node.findChild('NotificationTopicKey')), 'Arn'] };
      const statements = allStatements(template);

      // Assess
      for (const fn of [stack.watchdog.detector, stack.watchdog.remediation]) {
        const role = logicalIdOf(fn.role);
        const own = statements.filter((s) => s.roles.includes(role)).map((s) => s.statement);
        expect(environmentOf(template, logicalIdOf(fn)).NOTIFICATION_TOPIC_ARN).toEqual(topic);
        expect(own.filter((s) => grantsAny(s, ['sns:Publish'])).map((s) => s.Resource)).toEqual([topic]);
        expect(own.filter((s) => grantsAny(s, ['kms:GenerateDataKey'])).map((s) => s.Resource)).toEqual([key]);
      }
    });

    it('sends nothing to Slack without slackWebhookSecretName', () => {
      // Assess
      for (const fn of [stack.watchdog.detector, stack.watchdog.remediation]) {
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

      it('gives both functions the secret NAME and read access to that secret only', () => {
        // Prepare
        const statements = allStatements(slackTemplate);

        // Assess
        for (const fn of [withSlack.watchdog.detector, withSlack.watchdog.remediation]) {
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
          [logicalIdOf(withSlack.watchdog.detector.role), logicalIdOf(withSlack.watchdog.remediation.role)].sort(),
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

      it('has both functions publish to that ARN', () => {
        // Prepare
        const statements = allStatements(existingTemplate);

        // Assess
        for (const fn of [existing.watchdog.detector, existing.watchdog.remediation]) {
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
      // Act
      const statements = allStatements(template).map((s) => s.statement);

      // Assess
      template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
      for (const role of Object.values(template.findResources('AWS::IAM::Role'))) {
        expect(role.Properties.Policies).toBeUndefined();
        expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      }
      for (const s of statements) {
        expect(s.NotAction).toBeUndefined();
        expect(s.Effect).toBe('Allow');
        for (const a of [s.Action].flat()) expect(a, 'a wildcard action').not.toMatch(/^\*$|:\*$/);
        if ([s.Resource].flat().includes('*')) {
          for (const a of [s.Action].flat()) expect(RESOURCELESS_ACTIONS, 'on Resource "*"').toContain(a);
        }
      }
    });

    it('lets the detector start executions of the workflow and nothing else in Step Functions', () => {
      // Prepare
      const detectorRole = logicalIdOf(stack.watchdog.detector.role);
      const stateMachine = { Ref: logicalIdOf(stack.watchdog.workflow.stateMachine) };

      // Act
      const starts = allStatements(template).filter((s) => grantsAny(s.statement, ['states:StartExecution']));
      const detectorStates = allStatements(template)
        .filter((s) => s.roles.includes(detectorRole))
        .flatMap((s) => [s.statement.Action].flat())
        .filter((a) => a.startsWith('states:'));

      // Assess
      expect(starts.map((s) => s.roles)).toEqual([[detectorRole]]);
      expect(starts[0]?.statement.Resource).toEqual(stateMachine);
      expect(detectorStates).toEqual(['states:StartExecution']);
      expect(environmentOf(template, logicalIdOf(stack.watchdog.detector)).STATE_MACHINE_ARN).toEqual(stateMachine);
    });

    it('lets the state machine invoke the remediation function (and its versions) only', () => {
      // Prepare
      const smRole = logicalIdOf(stack.watchdog.workflow.stateMachine.role);
      const fn = { 'Fn::GetAtt': [logicalIdOf(stack.watchdog.remediation), 'Arn'] };

      // Act
      const invokes = allStatements(template).filter((s) => grantsAny(s.statement, ['lambda:InvokeFunction']));

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

  describe('function environments', () => {
    it('gives both functions the ledger, topic and config, and the detector the state machine', () => {
      // Prepare
      const common = {
        WATCHDOG_CONFIG: JSON.stringify(CONFIG),
        LEDGER_TABLE_NAME: { Ref: logicalIdOf(stack.watchdog.ledger) },
        NOTIFICATION_TOPIC_ARN: { Ref: logicalIdOf(stack.watchdog.topic) },
      };

      // Act
      const detector = environmentOf(template, logicalIdOf(stack.watchdog.detector));
      const remediation = environmentOf(template, logicalIdOf(stack.watchdog.remediation));

      // Assess
      expect(detector).toMatchObject({
        ...common,
        STATE_MACHINE_ARN: { Ref: logicalIdOf(stack.watchdog.workflow.stateMachine) },
      });
      expect(remediation).toMatchObject(common);
      expect(remediation).not.toHaveProperty('STATE_MACHINE_ARN');
      expect(JSON.parse(detector.WATCHDOG_CONFIG as string)).toEqual(CONFIG);
    });
  });

  describe('dead-letter queues', () => {
    it('sends failed asynchronous invocations of both functions to the invocation DLQ, kept 14 days', () => {
      // Prepare
      const dlq = { 'Fn::GetAtt': [logicalIdOf(stack.watchdog.invocationDeadLetterQueue), 'Arn'] };

      // Assess
      for (const fn of [stack.watchdog.detector, stack.watchdog.remediation]) {
        const resource = template.toJSON().Resources[logicalIdOf(fn)];
        expect(resource.Properties.DeadLetterConfig).toEqual({ TargetArn: dlq });
        const sends = allStatements(template)
          .filter((s) => s.roles.includes(logicalIdOf(fn.role)))
          .filter((s) => grantsAny(s.statement, ['sqs:SendMessage']));
        expect(sends.map((s) => s.statement.Resource)).toEqual([dlq]);
      }
      template.allResourcesProperties('AWS::SQS::Queue', { MessageRetentionPeriod: 14 * 24 * 3600 });
    });

    it('gives every rule retries, an event age limit and the events DLQ, which only those rules may send to', () => {
      // Prepare
      const dlq = logicalIdOf(stack.watchdog.eventsDeadLetterQueue);
      const rules = template.findResources('AWS::Events::Rule');

      // Assess
      expect(Object.keys(rules)).toHaveLength(3);
      for (const [id, rule] of Object.entries(rules)) {
        expect(rule.Properties.Targets, id).toEqual([
          {
            Id: expect.any(String),
            Arn: { 'Fn::GetAtt': [logicalIdOf(stack.watchdog.detector), 'Arn'] },
            DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq, 'Arn'] } },
            RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
          },
        ]);
        template.hasResourceProperties('AWS::Lambda::Permission', {
          Action: 'lambda:InvokeFunction',
          Principal: 'events.amazonaws.com',
          FunctionName: { 'Fn::GetAtt': [logicalIdOf(stack.watchdog.detector), 'Arn'] },
          SourceArn: { 'Fn::GetAtt': [id, 'Arn'] },
        });
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
    it('routes the MSF calls that change an application to the detector, with the events DLQ', () => {
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
        Targets: [
          Match.objectLike({
            Arn: { 'Fn::GetAtt': [logicalIdOf(withTrail.watchdog.detector), 'Arn'] },
            DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalIdOf(withTrail.watchdog.eventsDeadLetterQueue), 'Arn'] } },
            RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
          }),
        ],
      });
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
