import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { DetectorEnv, loadConfigFromEnv, readEnv } from '#functions/common/env.ts';
import { ALARM_PREFIX } from '#shared/alarms.ts';
import { parseConfig, type WatchdogConfig } from '#shared/config/schema.ts';
import {
  CONFIG_FILE_NAME,
  FlinkWatchdog,
  FlinkWatchdogPropsError,
  LAMBDA_ENV_LIMIT_BYTES,
  MSF_MUTATING_ACTIONS,
  worstCaseEnvironmentBytes,
} from '../../infra/flink-watchdog.ts';
import { GENERATED_ROLE_NAME_STACK_CHARS } from '../../infra/member-stack.ts';
import { WatchdogStack } from '../../infra/watchdog-stack.ts';

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** A fleet config: `count` listed applications with realistic names, `remediate` ones in remediate mode. */
function fleetConfig(count: number, remediate = 0, extra: Record<string, unknown> = {}): WatchdogConfig {
  return parseConfig({
    schemaVersion: 1,
    optInTag: { key: 'flink-watchdog', value: 'enabled' },
    defaults: { mode: 'observe' },
    applications: Array.from({ length: count }, (_, i) => ({
      name: `team-${String(i % 40).padStart(2, '0')}-stream-job-${String(i).padStart(4, '0')}`,
      ...(i < remediate ? { policy: { mode: 'remediate' } } : {}),
    })),
    ...extra,
  });
}

/** A test app that skips bundling and the built-in CloudFormation validation. */
function testApp(): App {
  return new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
}

interface Statement {
  Sid?: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

/** Every statement of every inline and customer managed policy, with the roles it is attached to. */
function allStatements(template: Template): Array<{ roles: string[]; statement: Statement }> {
  const policies = {
    ...template.findResources('AWS::IAM::Policy'),
    ...template.findResources('AWS::IAM::ManagedPolicy'),
  };
  return Object.values(policies).flatMap((p) =>
    (p.Properties.PolicyDocument.Statement as Statement[]).map((statement) => ({
      roles: ((p.Properties.Roles ?? []) as { Ref: string }[]).map((r) => r.Ref),
      statement,
    })),
  );
}

/** A CloudFormation value with the pseudo parameters at their longest (as IAM would count the deployed policy). */
function deployed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(deployed);
  if (typeof value !== 'object' || value === null) return value;
  const v = value as Record<string, unknown>;
  if (Array.isArray(v['Fn::Join'])) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => deployed(p)).join(sep);
  }
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws-us-gov',
    'AWS::Region': 'ap-southeast-2',
    'AWS::AccountId': '123456789012',
  };
  if (typeof v.Ref === 'string' && pseudo[v.Ref] !== undefined) return pseudo[v.Ref];
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deployed(x)]));
}

describe('Construct: FlinkWatchdog, for a fleet', () => {
  describe.each([500, 1000])('with %i listed applications (observe mode, tagged ones by condition)', (count) => {
    const stack = new WatchdogStack(testApp(), 'Fleet', { config: fleetConfig(count, 20) });
    const template = Template.fromStack(stack);

    it('synthesizes without a CloudWatch alarm per application', () => {
      // Assess
      const names = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
        (a) => a.Properties.AlarmName as string,
      );
      expect(names.filter((n) => n.startsWith(ALARM_PREFIX))).toEqual([]);
      expect(names).toHaveLength(3);
    });

    it("keeps every function's environment under Lambda's 4 KB with worst-case ARNs and names", () => {
      // Assess
      for (const fn of stack.watchdog.functions()) {
        const bytes = worstCaseEnvironmentBytes(fn);
        expect(bytes, fn.node.id).toBeLessThanOrEqual(LAMBDA_ENV_LIMIT_BYTES);
        // The config is not in it, whatever the fleet's size.
        expect(bytes, fn.node.id).toBeLessThan(2048);
      }
    });

    it('grants the mutations on the remediate-mode applications only, every listed grant within 6,144 characters', () => {
      // Act
      const listed = Object.values(template.findResources('AWS::IAM::ManagedPolicy'));
      const resources = listed.flatMap((p) =>
        (p.Properties.PolicyDocument.Statement as Statement[]).flatMap((s) => [s.Resource].flat()),
      );

      // Assess
      expect(resources).toHaveLength(20);
      for (const policy of listed) {
        const chars = JSON.stringify(deployed(policy.Properties.PolicyDocument)).length;
        expect(chars).toBeLessThanOrEqual(6144);
      }
    });
  });

  it('splits many remediate-mode ARNs over managed policies of at most 6,144 characters, each ARN once', () => {
    // Prepare
    const config = fleetConfig(300, 300);

    // Act
    const template = Template.fromStack(new WatchdogStack(testApp(), 'Fleet', { config }));
    const policies = Object.values(template.findResources('AWS::IAM::ManagedPolicy'));
    const arns = policies.flatMap((p) =>
      (p.Properties.PolicyDocument.Statement as Statement[]).flatMap((s) =>
        [deployed(s.Resource)].flat().map((r) => String(r)),
      ),
    );

    // Assess
    expect(policies.length).toBeGreaterThan(1);
    for (const p of policies) {
      expect(JSON.stringify(deployed(p.Properties.PolicyDocument)).length).toBeLessThanOrEqual(6144);
      expect(p.Properties.PolicyDocument.Statement[0].Action).toEqual([...MSF_MUTATING_ACTIONS]);
    }
    expect(arns.map((a) => a.split('application/')[1]).sort()).toEqual(config.applications.map((a) => a.name).sort());
  });

  it('fails synth when the remediate-mode ARNs do not fit, saying how many fit and to opt them in by tag', () => {
    // Act / Assess
    expect(() => new WatchdogStack(testApp(), 'Fleet', { config: fleetConfig(1000, 1000) })).toThrow(
      FlinkWatchdogPropsError,
    );
    expect(() => new WatchdogStack(testApp(), 'Fleet', { config: fleetConfig(1000, 1000) })).toThrow(
      /1000 listed applications need MSF mutating permissions by ARN on the Remediation role \(the listed applications in remediate or approve mode\), but only \d+ of them fit.*optInTag/,
    );
  });

  it('fails synth naming the function whose environment would pass 4 KB once deployed', () => {
    // Prepare
    const stack = new Stack(testApp(), 'Big');
    const watchdog = new FlinkWatchdog(stack, 'W', { config: fleetConfig(2) });
    watchdog.detector.addEnvironment('PADDING', 'x'.repeat(3500));

    // Act / Assess
    expect(() => Template.fromStack(stack)).toThrow(/function Big\/W\/Detector: .* over Lambda's 4096-byte limit/);
  });

  describe('member accounts (fleet.accounts)', () => {
    const config = parseConfig({
      schemaVersion: 1,
      defaults: { mode: 'remediate' },
      applications: [
        { name: 'orders-enrichment' },
        { name: 'payments', accountId: '111122223333', region: 'eu-west-1' },
      ],
      fleet: {
        accounts: [
          { accountId: '111122223333', externalId: 'flink-watchdog-ext-1' },
          { accountId: '444455556666', roleName: 'WatchdogMemberEu', externalId: 'flink-watchdog-ext-2' },
        ],
      },
    });
    const stack = new WatchdogStack(testApp(), 'Central', { config });
    const template = Template.fromStack(stack);

    it('lets every function assume the member roles, and only those', () => {
      // Prepare
      const roles = [
        { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::111122223333:role/FlinkWatchdogMember']] },
        { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::444455556666:role/WatchdogMemberEu']] },
      ];

      // Act
      const assumes = allStatements(template).filter((s) => [s.statement.Action].flat().includes('sts:AssumeRole'));

      // Assess
      expect(assumes.flatMap((s) => s.roles).sort()).toEqual(
        stack.watchdog
          .functions()
          .map((fn) => stack.getLogicalId(fn.role?.node.defaultChild as CfnElement))
          .sort(),
      );
      for (const { statement } of assumes) expect(statement.Resource).toEqual(roles);
    });

    it("has function roles CloudFormation names after the stack, as the member role's trust (aws:PrincipalArn) expects", () => {
      // Prepare
      const roles = template.findResources('AWS::IAM::Role');

      // Act
      const functionRoles = stack.watchdog
        .functions()
        .map((fn) => stack.getLogicalId(fn.role?.node.defaultChild as CfnElement));

      // Assess: no RoleName, so the name is <stack name>-<logical ID>-<random>; with a logical ID of at least
      // GENERATED_ROLE_NAME_STACK_CHARS characters a longer stack name is cut to exactly that many, the member
      // stack's CentralStackName.
      for (const id of functionRoles) {
        expect(roles[id]?.Properties.RoleName, id).toBeUndefined();
        expect(id.length, id).toBeGreaterThanOrEqual(GENERATED_ROLE_NAME_STACK_CHARS);
      }
    });

    it('lets each member account put events on the central default bus, one statement per account and instance', () => {
      // Assess
      template.resourceCountIs('AWS::Events::EventBusPolicy', 2);
      for (const account of ['111122223333', '444455556666']) {
        template.hasResourceProperties('AWS::Events::EventBusPolicy', {
          EventBusName: 'default',
          StatementId: `FlinkWatchdog-Central-${account}`,
          Statement: {
            Effect: 'Allow',
            Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${account}:root`]] } },
            Action: 'events:PutEvents',
          },
        });
      }
    });

    it("keeps a member account's listed application out of the central account's policies", () => {
      // Act
      const everything = JSON.stringify(allStatements(template));

      // Assess
      expect(everything).toContain(':application/orders-enrichment');
      expect(everything).not.toContain('application/payments');
    });

    it('warns at synth that a listed member application in remediate mode must carry the opt-in tag too', () => {
      // Assess
      const warnings = Annotations.fromStack(stack).findWarning(
        '*',
        Match.stringLikeRegexp('applications in member accounts in remediate or approve mode'),
      );
      expect(warnings).toHaveLength(1);
      const message = String(warnings[0]?.entry.data);
      expect(message).toContain('payments@111122223333.eu-west-1');
      expect(message).not.toContain('orders-enrichment');
      expect(message).toMatch(/changes only applications carrying the opt-in tag \(set optInTag.*\): tag them too/);
    });

    it.each([
      ['observe mode', 'observe', undefined],
      ['remediate mode', 'remediate', 'team:flink=watched'],
    ] as const)('with the member application in %s and an opt-in tag: warns in remediate mode only', (_, mode, tag) => {
      // Prepare
      const withTag = parseConfig({
        schemaVersion: 1,
        optInTag: { key: 'team:flink', value: 'watched' },
        defaults: { mode: 'observe' },
        applications: [{ name: 'payments', accountId: '111122223333', region: 'eu-west-1', policy: { mode } }],
        fleet: { accounts: [{ accountId: '111122223333', externalId: 'flink-watchdog-ext-1' }] },
      });

      // Act
      const central = new WatchdogStack(testApp(), 'Tagged', { config: withTag });
      const warnings = Annotations.fromStack(central).findWarning(
        '*',
        Match.stringLikeRegexp('applications in member accounts in remediate or approve mode'),
      );

      // Assess
      if (tag === undefined) {
        expect(warnings).toEqual([]);
      } else {
        expect(warnings).toHaveLength(1);
        expect(String(warnings[0]?.entry.data)).toContain(`carrying the opt-in tag (${tag}): tag them too`);
      }
      // The member stacks must allow changes exactly when the config may change member applications.
      const allowChanges = Annotations.fromStack(central).findInfo('*', Match.stringLikeRegexp('AllowChanges=true'));
      expect(allowChanges).toHaveLength(tag === undefined ? 0 : 1);
    });
  });

  it('bundles the config next to each handler as watchdog.config.json, equal to the config', () => {
    // Prepare (real bundling with the local esbuild: no Docker)
    const outdir = mkdtempSync(join(tmpdir(), 'flink-watchdog-bundle-'));
    tempDirs.push(outdir);
    const config = fleetConfig(1000, 10);
    const app = new App({ outdir, builtinCloudFormationValidation: false });
    const stack = new WatchdogStack(app, 'Bundled', { config });

    // Act
    const template = app.synth().getStackArtifact(stack.artifactId).template as {
      Resources: Record<string, { Type: string; Properties: { Code?: { S3Key?: string } } }>;
    };
    const functions = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');

    // Assess
    expect(functions).toHaveLength(3);
    for (const fn of functions) {
      // The code asset `<hash>.zip` is staged in the cloud assembly as the directory `asset.<hash>`.
      const hash = fn.Properties.Code?.S3Key?.replace(/\.zip$/, '');
      expect(hash).toMatch(/^[0-9a-f]{64}$/);
      const codeDir = join(outdir, `asset.${hash}`);
      const bundled = JSON.parse(readFileSync(join(codeDir, CONFIG_FILE_NAME), 'utf8'));
      expect(bundled).toEqual(JSON.parse(JSON.stringify(config)));
      // What the function reads at runtime: the bundled file, named relative to its code directory.
      expect(loadConfigFromEnv({ WATCHDOG_CONFIG_PATH: CONFIG_FILE_NAME, LAMBDA_TASK_ROOT: codeDir })).toEqual(config);
    }
  }, 180_000);
});

describe('Function: loadConfigFromEnv', () => {
  it('reads a relative WATCHDOG_CONFIG_PATH from LAMBDA_TASK_ROOT, an absolute one as is', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'flink-watchdog-config-'));
    tempDirs.push(dir);
    const config = fleetConfig(3, 1);
    writeFileSync(join(dir, CONFIG_FILE_NAME), JSON.stringify(config));

    // Act / Assess
    expect(loadConfigFromEnv({ WATCHDOG_CONFIG_PATH: CONFIG_FILE_NAME, LAMBDA_TASK_ROOT: dir })).toEqual(config);
    expect(
      loadConfigFromEnv({ WATCHDOG_CONFIG_PATH: join(dir, CONFIG_FILE_NAME), LAMBDA_TASK_ROOT: '/nowhere' }),
    ).toEqual(config);
    expect(() => loadConfigFromEnv({ WATCHDOG_CONFIG_PATH: CONFIG_FILE_NAME, LAMBDA_TASK_ROOT: '/nowhere' })).toThrow(
      `/nowhere/${CONFIG_FILE_NAME}: not readable JSON`,
    );
  });
});

describe('Schema: DetectorEnv', () => {
  const base = {
    WATCHDOG_CONFIG_PATH: CONFIG_FILE_NAME,
    NOTIFICATION_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:t',
    LEDGER_TABLE_NAME: 'ledger',
    STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:r',
  };

  it('defaults the instance to "default" and takes the account id when set', () => {
    // Act / Assess
    expect(readEnv(DetectorEnv, base).WATCHDOG_INSTANCE).toBe('default');
    expect(
      readEnv(DetectorEnv, { ...base, WATCHDOG_INSTANCE: 'prodeu', WATCHDOG_ACCOUNT_ID: '123456789012' }),
    ).toMatchObject({ WATCHDOG_INSTANCE: 'prodeu', WATCHDOG_ACCOUNT_ID: '123456789012' });
  });

  it('rejects an instance that cannot name alarms and an account id that is not 12 digits', () => {
    // Act / Assess
    expect(() => readEnv(DetectorEnv, { ...base, WATCHDOG_INSTANCE: 'prod_eu' })).toThrow(/WATCHDOG_INSTANCE/);
    expect(() => readEnv(DetectorEnv, { ...base, WATCHDOG_ACCOUNT_ID: '1234' })).toThrow(/WATCHDOG_ACCOUNT_ID/);
  });
});
