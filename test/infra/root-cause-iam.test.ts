import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { WatchdogStack } from '../../infra/watchdog-stack.ts';

// Root cause: the detector reads a looping application's log group (StartQuery, FilterLogEvents) on the configured
// log groups of its own account's listed applications only; GetQueryResults has no resource-level permission.

const BASE = {
  schemaVersion: 1,
  defaults: { mode: 'remediate' },
  applications: [
    { name: 'orders-enrichment' },
    { name: 'payments-aggregation', logGroupName: '/flink/payments' },
    { name: 'clicks', accountId: '210987654321', region: 'eu-west-1' },
  ],
};

/** The stack of `config`; with `nag`, environment-agnostic as the CDK app synthesizes it, cdk-nag checking it. */
function synth(config: unknown, nag = false): { template: Template; app: App } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new WatchdogStack(app, 'FlinkWatchdog', {
    config: config as Record<string, unknown>,
    ...(nag ? {} : { env: { account: '123456789012', region: 'eu-west-1' } }),
  });
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { template: Template.fromStack(stack), app };
}

/** A CloudFormation value as text: Fn::Join flattened, a Ref written as <Name>. */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as { 'Fn::Join'?: [string, unknown[]]; Ref?: string };
  if (v?.Ref) return `<${v.Ref}>`;
  if (v?.['Fn::Join']) return v['Fn::Join'][1].map(text).join(v['Fn::Join'][0]);
  return JSON.stringify(value);
}

/** Statements granting a `logs:` action (other than the functions' own log writing), with their roles. */
function logsReadGrants(template: Template): Array<{ roles: string[]; actions: string[]; resources: string[] }> {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies).flatMap((p) => {
    const roles = ((p.Properties.Roles ?? []) as Array<{ Ref: string }>).map((r) => r.Ref);
    return (p.Properties.PolicyDocument.Statement as Array<{ Action: unknown; Resource: unknown }>)
      .map((s) => ({ roles, actions: [s.Action].flat() as string[], resources: [s.Resource].flat().map(text) }))
      .filter((s) => s.actions.some((a) => /^logs:(StartQuery|FilterLogEvents|GetQueryResults|\*)/i.test(a)));
  });
}

const GROUP = 'arn:<AWS::Partition>:logs:eu-west-1:123456789012:log-group:';

describe('IAM: root cause', () => {
  it("grants the detector StartQuery and FilterLogEvents on its own account's listed log groups only", () => {
    // Act
    const grants = logsReadGrants(synth(BASE).template);

    // Assess
    expect(grants.every((g) => g.roles.every((r) => r.startsWith('FlinkWatchdogDetectorRole')))).toBe(true);
    const read = grants.find((g) => g.actions.includes('logs:StartQuery'));
    expect(read?.actions.sort()).toEqual(['logs:FilterLogEvents', 'logs:StartQuery']);
    expect(read?.resources.sort()).toEqual([
      `${GROUP}/aws/kinesis-analytics/orders-enrichment`,
      `${GROUP}/aws/kinesis-analytics/orders-enrichment:*`,
      `${GROUP}/flink/payments`,
      `${GROUP}/flink/payments:*`,
    ]);
    const results = grants.find((g) => g.actions.includes('logs:GetQueryResults'));
    expect(results).toMatchObject({ actions: ['logs:GetQueryResults'], resources: ['*'] });
  });

  it("grants the default-named groups' pattern when tagged applications may be watched (optInTag)", () => {
    // Act
    const grants = logsReadGrants(synth({ ...BASE, optInTag: { key: 'flink-watchdog', value: 'watch' } }).template);

    // Assess
    const read = grants.find((g) => g.actions.includes('logs:StartQuery'));
    expect(read?.resources.sort()).toEqual([
      `${GROUP}/aws/kinesis-analytics/*`,
      `${GROUP}/aws/kinesis-analytics/*:*`,
      `${GROUP}/flink/payments`,
      `${GROUP}/flink/payments:*`,
    ]);
  });

  it('passes the cdk-nag AwsSolutions checks (each exception acknowledged with its reason)', () => {
    // Arrange
    const { app } = synth(BASE, true);

    // Act / Assess: synth throws "Validation failed" on any unacknowledged finding.
    expect(() => app.synth()).not.toThrow();
  });
});
