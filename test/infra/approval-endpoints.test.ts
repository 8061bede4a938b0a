import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { CHATBOT_COMMAND_TEXT_MAX, chatbotCommandText } from '#shared/notify/chatbot.ts';
import { SLACK_INTERACTIVITY_URL_OUTPUT, SLACK_RESERVED_CONCURRENCY } from '../../infra/approval-endpoints.ts';
import { WatchdogStack } from '../../infra/watchdog-stack.ts';

// approve mode from chat: the Slack interactivity endpoint (function URL, auth NONE, Slack signature checked in code)
// exists only with notifications.slackSigningSecretName and may read its secret, GetItem / PutItem on the ledger table
// and SendTaskSuccess on the remediation workflow, nothing else, with a reserved concurrency; the Amazon Q Developer
// custom actions exist only with chat, approve mode and a command topic, and publish approve / reject runbook commands
// to that topic, their CommandText within the API's 100 characters.

const SECRET = 'flink-watchdog/slack-signing';
const PUBLISHER = 'arn:aws:iam::123456789012:role/flink-oncall';
const BASE = {
  schemaVersion: 1,
  defaults: { mode: 'observe' },
  applications: [{ name: 'orders-enrichment', policy: { mode: 'approve' } }, { name: 'payments-aggregation' }],
};

/** The stack of `config`; with `nag`, environment-agnostic as the CDK app synthesizes it, cdk-nag checking it. */
function synth(
  config: unknown,
  nag = false,
  options: { region?: string; instanceId?: string } = {},
): { template: Template; app: App } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new WatchdogStack(app, 'FlinkWatchdog', {
    config: config as Record<string, unknown>,
    ...(nag ? {} : { env: { account: '123456789012', region: options.region ?? 'eu-west-1' } }),
    ...(options.instanceId ? { instanceId: options.instanceId } : {}),
  });
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { template: Template.fromStack(stack), app };
}

/** A CloudFormation value as text: Fn::Join flattened, a Ref written as <Name>, a GetAtt as <Name.Attr>. */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as { 'Fn::Join'?: [string, unknown[]]; Ref?: string; 'Fn::GetAtt'?: [string, string] };
  if (v?.Ref) return `<${v.Ref}>`;
  if (v?.['Fn::GetAtt']) return `<${v['Fn::GetAtt'].join('.')}>`;
  if (v?.['Fn::Join']) return v['Fn::Join'][1].map(text).join(v['Fn::Join'][0]);
  return JSON.stringify(value);
}

/** The statements of the policies attached to the role whose logical id starts with `rolePrefix`. */
function statementsOf(template: Template, rolePrefix: string): Array<{ actions: string[]; resources: string[] }> {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) => {
    const roles = ((p.Properties.Roles ?? []) as Array<{ Ref: string }>).map((r) => r.Ref);
    if (!roles.some((r) => r.startsWith(rolePrefix))) return [];
    return (p.Properties.PolicyDocument.Statement as Array<{ Action: unknown; Resource: unknown }>).map((s) => ({
      actions: [s.Action].flat() as string[],
      resources: [s.Resource].flat().map(text),
    }));
  });
}

describe('Slack interactivity endpoint (infra)', () => {
  const { template } = synth({ ...BASE, notifications: { slackSigningSecretName: SECRET } });
  const functions = template.findResources('AWS::Lambda::Function');
  const [fnId, fn] = Object.entries(functions).find(([id]) => id.includes('SlackInteractions')) ?? [];

  it('deploys the slack-interactions function with the ledger and the secret name, no webhook or config', () => {
    // Assess
    expect(fnId).toBeDefined();
    const env = fn?.Properties.Environment.Variables as Record<string, unknown>;
    expect(env.SLACK_SIGNING_SECRET_NAME).toBe(SECRET);
    expect(text(env.LEDGER_TABLE_NAME)).toMatch(/^<FlinkWatchdogLedger/);
    expect(env).not.toHaveProperty('SLACK_WEBHOOK_SECRET_NAME');
    expect(fn?.Properties.Timeout).toBe(10);
  });

  it('puts it behind a function URL with auth NONE and no CORS, and outputs the URL for the Slack app', () => {
    // Assess
    const urls = Object.values(template.findResources('AWS::Lambda::Url'));
    expect(urls).toHaveLength(1);
    expect(urls[0]?.Properties).toEqual({ AuthType: 'NONE', TargetFunctionArn: { 'Fn::GetAtt': [fnId, 'Arn'] } });
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission')).filter(
      (p) => p.Properties.Action === 'lambda:InvokeFunctionUrl',
    );
    expect(permissions.map((p) => [p.Properties.Principal, p.Properties.FunctionUrlAuthType])).toEqual([['*', 'NONE']]);
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown; Description: string }>;
    expect(outputs.FlinkWatchdogSlackInteractivityUrl?.Description).toBe(SLACK_INTERACTIVITY_URL_OUTPUT);
    expect(text(outputs.FlinkWatchdogSlackInteractivityUrl?.Value)).toMatch(
      /^<FlinkWatchdogApprovalEndpoints.*Url.*\.FunctionUrl>$/,
    );
  });

  it('caps its concurrency, so requests to the public URL cannot take the other functions’ concurrency', () => {
    // Assess
    expect(fn?.Properties.ReservedConcurrentExecutions).toBe(SLACK_RESERVED_CONCURRENCY);
    const others = Object.entries(functions).filter(([id]) => !id.includes('SlackInteractions'));
    expect(others.map(([, f]) => f.Properties.ReservedConcurrentExecutions).filter((c) => c !== undefined)).toEqual([]);
  });

  it('lets it read the signing secret, get and put the incident and answer the task token, nothing else', () => {
    // Act
    const statements = statementsOf(template, 'FlinkWatchdogApprovalEndpointsSlackInteractionsRole');
    const actions = statements.flatMap((s) => s.actions).sort();

    // Assess
    expect(actions).toEqual(
      [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        // The invocation dead-letter queue every watchdog function has.
        'sqs:SendMessage',
        'states:SendTaskSuccess',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ].sort(),
    );
    const secret = statements.find((s) => s.actions.includes('secretsmanager:GetSecretValue'));
    expect(secret?.resources).toEqual([
      `arn:<AWS::Partition>:secretsmanager:eu-west-1:123456789012:secret:${SECRET}-??????`,
    ]);
    const task = statements.find((s) => s.actions.includes('states:SendTaskSuccess'));
    expect(task?.resources).toEqual([expect.stringMatching(/^<FlinkWatchdogRemediationWorkflow.*StateMachine/)]);
    const ledger = statements.find((s) => s.actions.includes('dynamodb:GetItem'));
    expect(ledger?.actions.sort()).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem']);
    expect(ledger?.resources).toEqual([expect.stringMatching(/^<FlinkWatchdogLedger[A-Z0-9]+\.Arn>$/)]);
  });

  it('lets the runbook function answer task tokens with SendTaskSuccess only', () => {
    // Act
    const { template: withRunbooks } = synth({ ...BASE, runbooks: { publishers: [PUBLISHER] } });
    const actions = statementsOf(withRunbooks, 'FlinkWatchdogRunbook').flatMap((s) => s.actions);

    // Assess
    expect(actions).toContain('states:SendTaskSuccess');
    expect(actions.filter((a) => a === 'states:SendTaskFailure' || a === 'states:SendTaskHeartbeat')).toEqual([]);
  });

  it('passes the cdk-nag AwsSolutions checks (each exception acknowledged with its reason)', () => {
    // Arrange
    const { app } = synth(
      {
        ...BASE,
        notifications: { slackSigningSecretName: SECRET, chatbot: true },
        runbooks: { publishers: [PUBLISHER] },
      },
      true,
    );

    // Act / Assess: synth throws "Validation failed" on any unacknowledged finding.
    expect(() => app.synth()).not.toThrow();
  });

  it('is not deployed without slackSigningSecretName', () => {
    // Act
    const { template: none } = synth(BASE);

    // Assess
    none.resourceCountIs('AWS::Lambda::Url', 0);
    expect(
      Object.keys(none.findResources('AWS::Lambda::Function')).filter((id) => id.includes('SlackInteractions')),
    ).toEqual([]);
    expect(Object.keys(none.toJSON().Outputs ?? {})).not.toContain('FlinkWatchdogSlackInteractivityUrl');
  });
});

describe('Amazon Q Developer custom actions (infra)', () => {
  const CHAT = {
    ...BASE,
    notifications: { chatbot: true },
    runbooks: { publishers: [PUBLISHER] },
  };

  it('publishes approve and reject runbook commands, the topic and the message taken from the notification', () => {
    // Act
    const { template } = synth(CHAT);
    const actions = Object.values(template.findResources('AWS::Chatbot::CustomAction')).map((r) => r.Properties);

    // Assess
    expect(actions.map((a) => a.ActionName)).toEqual([
      'flink-watchdog-FlinkWatchdog-approve',
      'flink-watchdog-FlinkWatchdog-reject',
    ]);
    const [approve, reject] = actions;
    expect(approve?.Definition.CommandText).toBe(
      "sns publish --topic-arn $commandTopicArn --region $commandRegion --message '$approveCommand'",
    );
    expect(reject?.Definition.CommandText).toBe(
      "sns publish --topic-arn $commandTopicArn --region $commandRegion --message '$rejectCommand'",
    );
    expect(approve?.Attachments).toEqual([
      {
        NotificationType: 'Custom',
        ButtonText: 'Approve',
        Variables: {
          approvalState: 'event.metadata.additionalContext.approvalState',
          commandTopicArn: 'event.metadata.additionalContext.commandTopicArn',
          commandRegion: 'event.metadata.additionalContext.commandRegion',
          approveCommand: 'event.metadata.additionalContext.approveCommand',
        },
        Criteria: [
          { Operator: 'HAS_VALUE', VariableName: 'approveCommand' },
          { Operator: 'EQUALS', VariableName: 'approvalState', Value: 'PENDING' },
        ],
      },
    ]);
    expect(reject?.Attachments[0].Variables.rejectCommand).toBe('event.metadata.additionalContext.rejectCommand');
  });

  it('tells the notifying functions the command topic, so a pending request’s chat message carries it', () => {
    // Act
    const { template } = synth(CHAT);
    const functions = Object.entries(template.findResources('AWS::Lambda::Function'));
    const withTopic = functions
      .filter(([, f]) => f.Properties.Environment?.Variables?.CHATBOT_COMMAND_TOPIC_ARN !== undefined)
      .map(([id, f]) => [
        id.replace(/[A-F0-9]{8}$/, ''),
        text(f.Properties.Environment.Variables.CHATBOT_COMMAND_TOPIC_ARN),
      ]);

    // Assess
    expect(withTopic.map(([id]) => id).sort()).toEqual(
      ['FlinkWatchdogDetector', 'FlinkWatchdogReconciler', 'FlinkWatchdogRemediation', 'FlinkWatchdogRunbook'].sort(),
    );
    for (const [, arn] of withTopic) expect(arn).toMatch(/^<FlinkWatchdogCommandTopic[A-Z0-9]+>$/);
  });

  it('keeps CommandText within the API limit (100 characters) for the longest instance id and Region', () => {
    // Act
    const { template } = synth(CHAT, false, { region: 'ap-southeast-2', instanceId: 'W'.repeat(32) });
    const texts = Object.values(template.findResources('AWS::Chatbot::CustomAction')).map((r) =>
      text(r.Properties.Definition.CommandText),
    );

    // Assess
    expect(texts).toEqual([chatbotCommandText('approve'), chatbotCommandText('reject')]);
    for (const t of texts) expect(t.length).toBeLessThanOrEqual(CHATBOT_COMMAND_TEXT_MAX);
  });

  it.each([
    ['no application in approve mode', { ...CHAT, applications: [{ name: 'orders-enrichment' }] }],
    ['no chat', { ...CHAT, notifications: {} }],
    ['no command topic (runbooks)', { ...BASE, notifications: { chatbot: true } }],
  ])('is not created with %s', (_, config) => {
    // Act / Assess
    synth(config).template.resourceCountIs('AWS::Chatbot::CustomAction', 0);
  });

  it('is created when the defaults are in approve mode (opted-in tagged applications)', () => {
    // Act / Assess
    synth({
      ...CHAT,
      defaults: { mode: 'approve' },
      applications: [{ name: 'orders-enrichment' }],
    }).template.resourceCountIs('AWS::Chatbot::CustomAction', 2);
  });
});
