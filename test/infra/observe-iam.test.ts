import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { WatchdogStack } from '../../infra/watchdog-stack.ts';

// Observe mode is enforced by IAM: an all-observe config without runbooks deploys no permission to change an MSF
// application, in any policy of the template (inline, managed, resource policies), whatever else it configures.

/** The MSF actions that change an application or its snapshots (Kinesis Analytics V2 API). */
const MSF_CHANGING_ACTIONS = [
  'kinesisanalytics:StartApplication',
  'kinesisanalytics:StopApplication',
  'kinesisanalytics:UpdateApplication',
  'kinesisanalytics:RollbackApplication',
  'kinesisanalytics:CreateApplicationSnapshot',
  'kinesisanalytics:DeleteApplicationSnapshot',
  'kinesisanalytics:DeleteApplication',
] as const;

/** Whether an IAM action pattern (`service:Action`, `*` and `?` wildcards, case-insensitive) covers `action`. */
function covers(pattern: string, action: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${regex}$`, 'i').test(action);
}

/**
 * Every IAM statement anywhere in the template (role inline policies, AWS::IAM::Policy, AWS::IAM::ManagedPolicy, key,
 * topic and queue policies, trust policies): any object with `Effect` and `Action` or `NotAction`, with where it is.
 */
function statements(node: unknown, path = ''): Array<{ path: string; statement: Record<string, unknown> }> {
  if (Array.isArray(node)) return node.flatMap((v, i) => statements(v, `${path}[${i}]`));
  if (typeof node !== 'object' || node === null) return [];
  const record = node as Record<string, unknown>;
  const own = 'Effect' in record && ('Action' in record || 'NotAction' in record) ? [{ path, statement: record }] : [];
  return [...own, ...Object.entries(record).flatMap(([k, v]) => statements(v, `${path}/${k}`))];
}

/** The Allow statements of the template that grant one of {@link MSF_CHANGING_ACTIONS}, as `path: actions`. */
function changingGrants(template: Template): string[] {
  return statements(template.toJSON())
    .filter(({ statement }) => statement.Effect === 'Allow')
    .flatMap(({ path, statement }) => {
      if ('NotAction' in statement) return [`${path}: NotAction ${JSON.stringify(statement.NotAction)}`];
      const actions = [statement.Action].flat() as string[];
      const granted = MSF_CHANGING_ACTIONS.filter((a) => actions.some((p) => typeof p === 'string' && covers(p, a)));
      return granted.length > 0 ? [`${path}: ${granted.join(', ')}`] : [];
    });
}

/** Synthesizes the central stack for `config` (bundling skipped: the template is what is checked). */
function synth(config: unknown, cloudTrailEvents = false): Template {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new WatchdogStack(app, 'FlinkWatchdog', {
    config: config as Record<string, unknown>,
    env: { account: '123456789012', region: 'eu-west-1' },
    cloudTrailEvents,
  });
  return Template.fromStack(stack);
}

/** An all-observe config using everything else that adds IAM: tag opt-in, member accounts, Terraform state, chat. */
const ALL_OBSERVE = {
  schemaVersion: 1,
  optInTag: { key: 'flink-watchdog', value: 'enabled' },
  defaults: { mode: 'observe' },
  applications: [
    { name: 'orders-enrichment', policy: { mode: 'observe' } },
    { name: 'payments-aggregation' },
    { name: 'fraud-scoring', accountId: '111122223333', region: 'eu-west-1' },
  ],
  notifications: { slackWebhookSecretName: 'flink-watchdog/slack-webhook', chatbot: true },
  drift: { terraformState: ['s3://example-terraform-state/msf/terraform.tfstate'] },
  fleet: { accounts: [{ accountId: '111122223333', externalId: 'flink-watchdog-ext-1' }] },
};

describe('IAM: observe mode', () => {
  it('the example config puts every application in observe mode and grants no MSF change', () => {
    // Prepare
    const example = JSON.parse(
      readFileSync(new URL('../../flink-watchdog.config.example.json', import.meta.url), 'utf8'),
    );

    // Act
    const grants = changingGrants(synth(example));

    // Assess
    expect(example.defaults.mode).toBe('observe');
    for (const app of example.applications) expect(app.policy?.mode ?? 'observe', app.name).toBe('observe');
    expect(grants).toEqual([]);
  });

  it('an all-observe config without runbooks grants no MSF change in any policy, tag opt-in and member accounts included', () => {
    // Act
    const grants = changingGrants(synth(ALL_OBSERVE, true));

    // Assess
    expect(grants).toEqual([]);
  });

  it.each([
    [
      'one listed application in remediate mode',
      { applications: [{ name: 'orders-enrichment', policy: { mode: 'remediate' } }] },
    ],
    ['tag opt-in in remediate mode (the defaults)', { defaults: { mode: 'remediate' } }],
    [
      'one listed application in approve mode (it acts once people approve)',
      { applications: [{ name: 'orders-enrichment', policy: { mode: 'approve' } }] },
    ],
    [
      'runbooks (people command any watched application)',
      { runbooks: { publishers: ['arn:aws:iam::123456789012:role/oncall'] } },
    ],
  ])('grants the changes once the config asks for them: %s', (_, change) => {
    // Act
    const grants = changingGrants(synth({ ...ALL_OBSERVE, ...change }));

    // Assess: the scan sees grants when there are some.
    expect(grants.length).toBeGreaterThan(0);
  });
});
