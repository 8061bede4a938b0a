import { App, type CfnElement, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DetectorEnv, functionEnvironment, RemediationEnv } from '#functions/common/env.ts';
import { LEDGER_TABLE } from '#shared/adapters/ledger-table.ts';
import { ALARM_PREFIX } from '#shared/alarms.ts';
import { ConfigError, parseConfig, type WatchdogConfig } from '#shared/config/schema.ts';
import { FlinkWatchdog, FlinkWatchdogPropsError, MSF_MUTATING_ACTIONS } from '../../infra/flink-watchdog.ts';
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
  const regex = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
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
