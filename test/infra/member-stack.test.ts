import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, CfnParameter, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import {
  FlinkWatchdogMember,
  FlinkWatchdogMemberPropsError,
  FlinkWatchdogMemberStack,
  GENERATED_ROLE_NAME_STACK_CHARS,
  MEMBER_MSF_MUTATING_ACTIONS,
} from '../../infra/member-stack.ts';

const CENTRAL = '123456789012';

/** The member stack as a StackSet sees it: parameters, no context. */
function stackSetTemplate(): Template {
  return Template.fromStack(new FlinkWatchdogMemberStack(new App(), 'Member'));
}

/** The member construct with literal values (a `cdk deploy` with every value known). */
function literalTemplate(extra: { organizationId?: string; centralStackName?: string } = {}): Template {
  const stack = new Stack(new App(), 'Literal', { env: { account: '111122223333', region: 'eu-west-1' } });
  new FlinkWatchdogMember(stack, 'Member', {
    centralAccountId: CENTRAL,
    externalId: 'ext-1234',
    instance: 'prod',
    optInTagKey: 'flink-watchdog',
    optInTagValue: 'enabled',
    ...extra,
  });
  return Template.fromStack(stack);
}

/** The `aws:PrincipalArn` pattern of the literal template's trust policy for roles named `<prefix>-*`. */
function principalArn(prefix: string): unknown {
  return { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${CENTRAL}:role/${prefix}-*`]] };
}

interface Statement {
  Sid?: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
  Effect: string;
}

/** Every statement of every identity policy in the template (roles' inline policies and AWS::IAM::Policy). */
function identityStatements(template: Template): Statement[] {
  const out: Statement[] = [];
  for (const role of Object.values(template.findResources('AWS::IAM::Role'))) {
    for (const p of (role.Properties.Policies ?? []) as Array<{ PolicyDocument: { Statement: Statement[] } }>) {
      out.push(...p.PolicyDocument.Statement);
    }
  }
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    out.push(...(policy.Properties.PolicyDocument.Statement as Statement[]));
  }
  return out;
}

const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

describe('Class: FlinkWatchdogMemberStack', () => {
  describe('as a StackSet template', () => {
    const template = stackSetTemplate();

    it('stands alone: no CDK bootstrap parameter or rule, no CDK metadata resource', () => {
      // Assess
      const json = template.toJSON() as { Parameters: Record<string, unknown>; Rules?: unknown };
      expect(json.Parameters.BootstrapVersion).toBeUndefined();
      expect(json.Rules).toBeUndefined();
      expect(template.findResources('AWS::CDK::Metadata')).toEqual({});
    });

    it('has the parameters a StackSet gives, the required ones without defaults', () => {
      // Assess
      const parameters = template.toJSON().Parameters as Record<string, { Default?: string; AllowedPattern?: string }>;
      expect(Object.keys(parameters).sort()).toEqual(
        [
          'AllowChanges',
          'CentralAccountId',
          'CentralRegion',
          'CentralStackName',
          'ExternalId',
          'Instance',
          'OptInTagKey',
          'OptInTagValue',
          'OrganizationId',
          'RoleName',
          'RoleRegion',
        ].sort(),
      );
      for (const required of ['CentralAccountId', 'ExternalId', 'Instance', 'OptInTagValue']) {
        expect(parameters[required]?.Default, required).toBeUndefined();
      }
      expect(parameters.OrganizationId?.Default).toBe('');
      expect(parameters.RoleName?.Default).toBe('FlinkWatchdogMember');
      expect(parameters.CentralStackName?.Default).toBe('FlinkWatchdog');
      // Observe by default: the central watchdog may change nothing until AllowChanges is true.
      template.hasParameter('AllowChanges', { AllowedValues: ['false', 'true'], Default: 'false' });
      template.hasParameter('OptInTagKey', { AllowedValues: ['flink-watchdog'], Default: 'flink-watchdog' });
      expect(new RegExp(parameters.CentralAccountId?.AllowedPattern ?? '').test('12345')).toBe(false);
    });

    it("lets only the central stack's roles assume the role, with the ExternalId, and the organization when given", () => {
      // Assess
      const principalArn = {
        ArnLike: {
          'aws:PrincipalArn': {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':iam::',
                { Ref: 'CentralAccountId' },
                ':role/',
                { Ref: 'CentralStackName' },
                '-*',
              ],
            ],
          },
        },
      };
      template.hasResourceProperties('AWS::IAM::Role', {
        RoleName: { Ref: 'RoleName' },
        MaxSessionDuration: 3600,
        AssumeRolePolicyDocument: {
          Statement: [
            {
              Action: 'sts:AssumeRole',
              Effect: 'Allow',
              Principal: {
                AWS: {
                  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'CentralAccountId' }, ':root']],
                },
              },
              Condition: {
                'Fn::If': [
                  Match.anyValue(),
                  {
                    StringEquals: {
                      'sts:ExternalId': { Ref: 'ExternalId' },
                      'aws:PrincipalOrgID': { Ref: 'OrganizationId' },
                    },
                    ...principalArn,
                  },
                  { StringEquals: { 'sts:ExternalId': { Ref: 'ExternalId' } }, ...principalArn },
                ],
              },
            },
          ],
        },
      });
    });

    it('grants the changes only when AllowChanges is true, in a policy that exists only with the role', () => {
      // Act
      const json = template.toJSON();
      const policies = Object.entries(
        json.Resources as Record<string, { Type: string; Condition?: string; Properties: Record<string, unknown> }>,
      ).filter(([, r]) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties).includes('kinesisanalytics'));

      // Assess
      expect(policies).toHaveLength(1);
      const condition = policies[0]?.[1].Condition as string;
      expect(json.Conditions[condition]).toEqual({
        'Fn::And': [{ Condition: 'CreatesRole' }, { Condition: 'AllowsChanges' }],
      });
      expect(json.Conditions.AllowsChanges).toEqual({ 'Fn::Equals': [{ Ref: 'AllowChanges' }, 'true'] });
    });

    it('allows the mutating MSF actions only on applications carrying the opt-in tag value', () => {
      // Assess
      const mutating = identityStatements(template).filter((s) =>
        actionsOf(s).some(
          (a) => (MEMBER_MSF_MUTATING_ACTIONS as readonly string[]).includes(a) || /^kinesisanalytics:\*|^\*$/.test(a),
        ),
      );
      expect(mutating).toHaveLength(1);
      expect(mutating[0]?.Condition).toEqual({
        StringEquals: { 'aws:ResourceTag/flink-watchdog': { Ref: 'OptInTagValue' } },
      });
      expect([...actionsOf(mutating[0] as Statement)].sort()).toEqual([...MEMBER_MSF_MUTATING_ACTIONS].sort());
    });

    it('never grants a mutating MSF action, or any action, without a condition other than reads, alarms of its prefix and unscoped reads', () => {
      // Assess
      const unconditioned = identityStatements(template)
        .filter((s) => s.Condition === undefined)
        .flatMap(actionsOf);
      for (const action of unconditioned) {
        expect(action, action).toMatch(
          /^(kinesisanalytics:(Describe|List)\w+|tag:GetResources|cloudwatch:(GetMetricData|DescribeAlarms|PutMetricAlarm|DeleteAlarms|TagResource|ListTagsForResource)|logs:(StartQuery|FilterLogEvents|GetQueryResults)|events:PutEvents)$/,
        );
      }
      expect(unconditioned).not.toContain('kinesisanalytics:StopApplication');
    });

    it('allows PutMetricAlarm only without alarm actions (cloudwatch:AlarmActions absent)', () => {
      // Assess
      const puts = identityStatements(template).filter((s) =>
        actionsOf(s).some((a) => a === 'cloudwatch:PutMetricAlarm' || /^cloudwatch:\*|^\*$/.test(a)),
      );
      expect(puts).toHaveLength(1);
      expect(actionsOf(puts[0] as Statement)).toEqual(['cloudwatch:PutMetricAlarm']);
      expect(puts[0]?.Condition).toEqual({ Null: { 'cloudwatch:AlarmActions': 'true' } });
    });

    it('refuses a CentralStackName longer than the part of it generated role names keep', () => {
      // Assess
      const parameters = template.toJSON().Parameters as Record<string, { AllowedPattern?: string }>;
      const pattern = new RegExp(parameters.CentralStackName?.AllowedPattern ?? '');
      expect(pattern.test('a'.repeat(GENERATED_ROLE_NAME_STACK_CHARS))).toBe(true);
      expect(pattern.test('a'.repeat(GENERATED_ROLE_NAME_STACK_CHARS + 1))).toBe(false);
      expect(pattern.test('Flink_Watchdog')).toBe(false);
    });

    it("manages only the alarms under the instance's prefix", () => {
      // Assess
      const alarmStatement = identityStatements(template).find((s) => actionsOf(s).includes('cloudwatch:DeleteAlarms'));
      expect(alarmStatement?.Resource).toEqual({
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':cloudwatch:*:',
            { Ref: 'AWS::AccountId' },
            ':alarm:flink-watchdog-',
            { Ref: 'Instance' },
            '-*',
          ],
        ],
      });
    });

    it("forwards the instance's alarm events and MSF change calls to the central default bus", () => {
      // Assess
      const centralBus = {
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':events:',
            { 'Fn::If': ['CentralRegionGiven', { Ref: 'CentralRegion' }, { Ref: 'AWS::Region' }] },
            ':',
            { Ref: 'CentralAccountId' },
            ':event-bus/default',
          ],
        ],
      };
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.cloudwatch', 'aws.kinesisanalytics'],
          'detail-type': [
            'CloudWatch Alarm State Change',
            'CloudWatch Alarm Contributor State Change',
            'AWS API Call via CloudTrail',
          ],
          detail: {
            $or: [
              { alarmName: [{ prefix: { 'Fn::Join': ['', ['flink-watchdog-', { Ref: 'Instance' }, '-']] } }] },
              {
                eventSource: ['kinesisanalytics.amazonaws.com'],
                eventName: Match.arrayWith(['StartApplication', 'StopApplication', 'UpdateApplication']),
              },
            ],
          },
        },
        Targets: [Match.objectLike({ Arn: centralBus, RoleArn: Match.anyValue() })],
      });
      const putEvents = identityStatements(template).filter((s) => actionsOf(s).includes('events:PutEvents'));
      expect(putEvents).toEqual([expect.objectContaining({ Action: 'events:PutEvents', Resource: centralBus })]);
    });

    it('creates the global role only in the Region RoleRegion names (or this one when empty)', () => {
      // Assess
      template.hasResource('AWS::IAM::Role', {
        Properties: { RoleName: { Ref: 'RoleName' } },
        Condition: 'CreatesRole',
      });
      template.hasCondition('CreatesRole', {
        'Fn::Or': [
          { 'Fn::Equals': [{ Ref: 'RoleRegion' }, ''] },
          { 'Fn::Equals': [{ Ref: 'RoleRegion' }, { Ref: 'AWS::Region' }] },
        ],
      });
    });

    it('passes the cdk-nag AwsSolutions checks (each exception acknowledged with its reason)', () => {
      // Prepare
      const app = new App();
      new FlinkWatchdogMemberStack(app, 'Member');
      Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
      // Act / Assess: synth throws "Validation failed" on any unacknowledged finding.
      expect(() => app.synth()).not.toThrow();
    });
  });

  describe('with literal values', () => {
    it('grants no MSF change by default (observe), and the tagged ones with allowChanges', () => {
      // Act
      const observe = literalTemplate();
      const changing = (() => {
        const stack = new Stack(new App(), 'Literal', { env: { account: '111122223333', region: 'eu-west-1' } });
        new FlinkWatchdogMember(stack, 'Member', {
          centralAccountId: CENTRAL,
          externalId: 'ext-1234',
          instance: 'prod',
          optInTagKey: 'flink-watchdog',
          optInTagValue: 'enabled',
          allowChanges: true,
        });
        return Template.fromStack(stack);
      })();
      const mutatingOf = (t: Template) =>
        identityStatements(t).filter((st) =>
          actionsOf(st).some((a) => (MEMBER_MSF_MUTATING_ACTIONS as readonly string[]).includes(a) || /\*/.test(a)),
        );

      // Assess
      expect(mutatingOf(observe).map((st) => st.Sid)).toEqual([]);
      expect(mutatingOf(changing).map((st) => [st.Sid, st.Condition])).toEqual([
        ['MsfMutateOptedIn', { StringEquals: { 'aws:ResourceTag/flink-watchdog': 'enabled' } }],
      ]);
      const [policy] = Object.values(changing.findResources('AWS::IAM::Policy'));
      expect(policy?.Condition).toBeUndefined();
    });

    it('puts the ExternalId and the organization straight into the trust policy', () => {
      // Act
      const template = literalTemplate({ organizationId: 'o-a1b2c3d4e5' });
      // Assess
      template.hasResourceProperties('AWS::IAM::Role', {
        RoleName: 'FlinkWatchdogMember',
        AssumeRolePolicyDocument: {
          Statement: [
            Match.objectLike({
              Condition: {
                StringEquals: { 'sts:ExternalId': 'ext-1234', 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' },
                ArnLike: { 'aws:PrincipalArn': principalArn('FlinkWatchdog') },
              },
            }),
          ],
        },
      });
    });

    it('has no organization condition when none is given', () => {
      // Act
      const template = literalTemplate();
      // Assess
      template.hasResourceProperties('AWS::IAM::Role', {
        RoleName: 'FlinkWatchdogMember',
        AssumeRolePolicyDocument: {
          Statement: [
            Match.objectLike({
              Condition: {
                StringEquals: { 'sts:ExternalId': 'ext-1234' },
                ArnLike: { 'aws:PrincipalArn': principalArn('FlinkWatchdog') },
              },
            }),
          ],
        },
      });
    });

    it('trusts the roles of a long central stack name by the part of it CloudFormation keeps in role names', () => {
      // Act
      const template = literalTemplate({ centralStackName: 'ChineseboostAnalyticsStack' });
      // Assess: the roles CloudFormation generates for a 26-character stack name begin with its first 25 characters.
      template.hasResourceProperties('AWS::IAM::Role', {
        AssumeRolePolicyDocument: {
          Statement: [
            Match.objectLike({
              Condition: Match.objectLike({
                ArnLike: { 'aws:PrincipalArn': principalArn('ChineseboostAnalyticsStac') },
              }),
            }),
          ],
        },
      });
    });
  });

  describe('bad props', () => {
    it('refuses an opt-in tag key that is a parameter, saying why', () => {
      // Prepare
      const stack = new Stack(new App(), 'Bad');
      const key = new CfnParameter(stack, 'Key').valueAsString;
      // Act / Assess
      expect(
        () =>
          new FlinkWatchdogMember(stack, 'Member', {
            centralAccountId: CENTRAL,
            externalId: 'ext-1234',
            instance: 'prod',
            optInTagKey: key,
            optInTagValue: 'enabled',
          }),
      ).toThrow(/optInTagKey: must be a literal/);
    });

    it.each([
      ['centralAccountId', { centralAccountId: '1234' }, 'a 12-digit AWS account id'],
      ['externalId', { externalId: 'x' }, 'an STS ExternalId'],
      ['instance', { instance: 'has space' }, 'an instance id'],
      ['organizationId', { organizationId: 'org-1' }, 'an AWS Organizations id'],
      ['centralStackName', { centralStackName: '1-starts-with-a-digit' }, 'a CloudFormation stack name'],
    ])('refuses a malformed %s, naming it', (field, override, what) => {
      // Prepare
      const stack = new Stack(new App(), 'Bad');
      // Act
      const build = () =>
        new FlinkWatchdogMember(stack, 'Member', {
          centralAccountId: CENTRAL,
          externalId: 'ext-1234',
          instance: 'prod',
          optInTagKey: 'flink-watchdog',
          optInTagValue: 'enabled',
          ...override,
        });
      // Assess
      expect(build).toThrow(FlinkWatchdogMemberPropsError);
      expect(build).toThrow(new RegExp(`${field}: .* is not ${what}`));
    });
  });
});

// The CDK app (infra/bin/member-app.ts) as `cdk synth` runs it: a child process with the context in CDK_CONTEXT_JSON.
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const outDirs: string[] = [];
afterAll(() => {
  for (const dir of outDirs) rmSync(dir, { recursive: true, force: true });
});

function synthApp(context: Record<string, string>): Promise<{ code: number | null; stderr: string; template: string }> {
  const outDir = mkdtempSync(join(tmpdir(), 'flink-watchdog-member-'));
  outDirs.push(outDir);
  const child = spawn(process.execPath, ['--import', 'tsx', 'infra/bin/member-app.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      CDK_CONTEXT_JSON: JSON.stringify(context),
      CDK_OUTDIR: outDir,
      CDK_DISABLE_VERSION_CHECK: '1',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code, stderr, template: code === 0 ? join(outDir, 'FlinkWatchdogMember.template.json') : '' }),
    );
  });
}

describe('CDK app: infra/bin/member-app.ts', () => {
  it('with context for cdk deploy: the context values become the parameter defaults, the tag key is fixed', async () => {
    // Act
    const run = await synthApp({
      centralAccountId: CENTRAL,
      centralStackName: 'FlinkWatchdogProductionEuWest1',
      externalId: 'ext-1234',
      instance: 'prod',
      optInTagKey: 'team:flink',
      optInTagValue: 'watched',
      allowChanges: 'true',
    });
    // Assess
    expect(run.code, run.stderr).toBe(0);
    const template = Template.fromJSON(JSON.parse(readFileSync(run.template, 'utf8')));
    template.hasParameter('CentralAccountId', { Default: CENTRAL });
    // The stack name cut to the characters generated role names keep.
    template.hasParameter('CentralStackName', { Default: 'FlinkWatchdogProductionEu' });
    template.hasParameter('ExternalId', { Default: 'ext-1234' });
    template.hasParameter('Instance', { Default: 'prod' });
    template.hasParameter('OptInTagKey', { AllowedValues: ['team:flink'] });
    template.hasParameter('OptInTagValue', { Default: 'watched' });
    template.hasParameter('AllowChanges', { Default: 'true' });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Sid: 'MsfMutateOptedIn',
            Condition: { StringEquals: { 'aws:ResourceTag/team:flink': { Ref: 'OptInTagValue' } } },
          }),
        ],
      },
    });
  }, 60_000);
});
