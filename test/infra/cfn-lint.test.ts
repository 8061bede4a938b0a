import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type Stack } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlinkWatchdogMemberStack } from '../../infra/member-stack.ts';
import { WatchdogStack } from '../../infra/watchdog-stack.ts';

// The synthesized templates pass cfn-lint (https://github.com/aws-cloudformation/cfn-lint, the `cfn-lint` binary on
// PATH, installed with `pip install cfn-lint`): the central stack with the example config and with a fleet config that
// uses every feature, and the member stack. Findings are allowed only for the rules listed in IGNORED_RULES, each with
// its reason. Without cfn-lint the test fails and says how to install it: it never skips.

/** cfn-lint rules whose findings are accepted, and why. Every other finding (error, warning or informational) fails. */
const IGNORED_RULES: Readonly<Record<string, string>> = {
  W3005:
    "A Lambda function's DependsOn names its role and the role's default policy (CDK adds both, so the policy exists before the function can be invoked); the role part repeats the Fn::GetAtt on the role: redundant, harmless.",
};

/** The example config of the repository (every application in observe mode). */
const EXAMPLE_CONFIG = JSON.parse(
  readFileSync(new URL('../../flink-watchdog.config.example.json', import.meta.url), 'utf8'),
);

/**
 * A config using every feature that adds resources: member accounts, runbooks, Terraform state in S3, chat, remediate,
 * approve mode with the Slack interactivity endpoint and the Amazon Q custom actions.
 */
const FLEET_CONFIG = {
  schemaVersion: 1,
  optInTag: { key: 'flink-watchdog', value: 'enabled' },
  defaults: { mode: 'remediate' },
  applications: [
    { name: 'orders-enrichment', policy: { mode: 'remediate' } },
    { name: 'payments-aggregation', runtimeEnvironment: 'FLINK-2_2', policy: { mode: 'approve' } },
    { name: 'fraud-scoring', accountId: '111122223333', region: 'eu-west-1' },
  ],
  notifications: {
    slackWebhookSecretName: 'flink-watchdog/slack-webhook',
    slackSigningSecretName: 'flink-watchdog/slack-signing',
    emailSubscriptions: ['flink-oncall@example.com'],
    chatbot: true,
  },
  runbooks: { publishers: ['arn:aws:iam::123456789012:role/flink-oncall'] },
  drift: { terraformState: ['s3://example-terraform-state/msf/terraform.tfstate'] },
  fleet: {
    accounts: [
      { accountId: '111122223333', externalId: 'flink-watchdog-ext-1' },
      { accountId: '444455556666', roleName: 'WatchdogMemberEu', externalId: 'flink-watchdog-ext-2' },
    ],
  },
};

/** One cfn-lint finding (`--format json`). */
interface Finding {
  Filename: string;
  Level: string;
  Message: string;
  Rule: { Id: string };
  Location: { Path: unknown[] };
}

const outDirs: string[] = [];

/** Synthesizes `build(app)` into a new temporary directory; returns the stack's template file. */
function synthTemplate(build: (app: App) => Stack): string {
  const outdir = mkdtempSync(join(tmpdir(), 'flink-watchdog-cfn-lint-'));
  outDirs.push(outdir);
  // The templates are linted, not the code: the assets' bundling is skipped.
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = build(app);
  app.synth();
  return join(outdir, stack.templateFile);
}

afterAll(() => {
  for (const dir of outDirs) rmSync(dir, { recursive: true, force: true });
});

describe('Templates: cfn-lint', () => {
  let templates: Record<string, string>;
  let findings: Finding[];

  beforeAll(() => {
    // Prepare
    const version = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
    if (version.error || version.status !== 0) {
      throw new Error(
        `cfn-lint is not available (${version.error?.message ?? version.stderr.trim()}): install it with \`pip install cfn-lint\` (Python 3), so that the \`cfn-lint\` command is on PATH. This test never skips.`,
      );
    }
    const env = { account: '123456789012', region: 'eu-west-1' };
    templates = {
      example: synthTemplate((app) => new WatchdogStack(app, 'FlinkWatchdog', { config: EXAMPLE_CONFIG, env })),
      fleet: synthTemplate(
        (app) => new WatchdogStack(app, 'FlinkWatchdogFleet', { config: FLEET_CONFIG, env, cloudTrailEvents: true }),
      ),
      member: synthTemplate((app) => new FlinkWatchdogMemberStack(app, 'FlinkWatchdogMember')),
    };

    // Act
    const run = spawnSync('cfn-lint', ['--format', 'json', ...Object.values(templates)], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    // Exit codes: 0 no finding; 2, 4, 8 (and sums) findings of error, warning, informational level; 1 a failure.
    if (run.status === 1 || run.status === null) {
      throw new Error(`cfn-lint failed (exit ${run.status}): ${run.stderr}`);
    }
    findings = JSON.parse(run.stdout || '[]') as Finding[];
  }, 120_000);

  it.each(['example', 'fleet', 'member'])('finds nothing in the %s template but the ignored rules', (name) => {
    // Assess
    const file = templates[name];
    const reported = findings
      .filter((f) => f.Filename === file && IGNORED_RULES[f.Rule.Id] === undefined)
      .map((f) => `${f.Rule.Id} ${f.Level} at ${f.Location.Path.join('/')}: ${f.Message}`);
    expect(reported).toEqual([]);
  });

  it('lints every template it synthesized (the linter read them)', () => {
    // Assess: the ignored rule fires on the central templates, so cfn-lint did look at them.
    const files = new Set(findings.map((f) => f.Filename));
    expect(files.has(templates.example as string)).toBe(true);
    expect(files.has(templates.fleet as string)).toBe(true);
  });
});
