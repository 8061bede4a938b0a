import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { WatchdogStack } from '../../infra/watchdog-stack.ts';

// Change freezes: the remediation function reads the configured SSM Change Calendars (ssm:GetCalendarState) on their
// documents only, and no function gets any SSM permission when no calendar is configured.

const BASE = {
  schemaVersion: 1,
  defaults: { mode: 'remediate' },
  applications: [{ name: 'orders-enrichment' }],
};

function synth(config: unknown): Template {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new WatchdogStack(app, 'FlinkWatchdog', {
    config: config as Record<string, unknown>,
    env: { account: '123456789012', region: 'eu-west-1' },
  });
  return Template.fromStack(stack);
}

/** A CloudFormation value as text: Fn::Join flattened, a Ref written as <Name>. */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as { 'Fn::Join'?: [string, unknown[]]; Ref?: string };
  if (v?.Ref) return `<${v.Ref}>`;
  if (v?.['Fn::Join']) return v['Fn::Join'][1].map(text).join(v['Fn::Join'][0]);
  return JSON.stringify(value);
}

/** Statements granting an `ssm:` action, with the roles their policy is attached to and their resources as text. */
function ssmGrants(template: Template): Array<{ roles: string[]; actions: string[]; resources: string[] }> {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies).flatMap((p) => {
    const roles = ((p.Properties.Roles ?? []) as Array<{ Ref: string }>).map((r) => r.Ref);
    return (p.Properties.PolicyDocument.Statement as Array<{ Action: unknown; Resource: unknown }>)
      .map((s) => ({ roles, actions: [s.Action].flat() as string[], resources: [s.Resource].flat().map(text) }))
      .filter((s) => s.actions.some((a) => a.toLowerCase().startsWith('ssm:')));
  });
}

describe('IAM: change freezes', () => {
  it('grants the remediation role ssm:GetCalendarState on the configured calendars only (name or ARN)', () => {
    // Act
    const grants = ssmGrants(
      synth({
        ...BASE,
        changeFreeze: {
          calendars: ['prod-change-freeze', 'arn:aws:ssm:eu-west-1:123456789012:document/payments-freeze'],
        },
      }),
    );

    // Assess
    expect(grants).toHaveLength(1);
    expect(grants[0]?.roles.every((r) => r.startsWith('FlinkWatchdogRemediationRole'))).toBe(true);
    expect(grants[0]?.actions).toEqual(['ssm:GetCalendarState']);
    expect(grants[0]?.resources.sort()).toEqual([
      'arn:<AWS::Partition>:ssm:eu-west-1:123456789012:document/prod-change-freeze',
      'arn:aws:ssm:eu-west-1:123456789012:document/payments-freeze',
    ]);
  });

  it('grants no SSM permission to any function without changeFreeze', () => {
    // Assess
    expect(ssmGrants(synth(BASE))).toEqual([]);
  });
});
