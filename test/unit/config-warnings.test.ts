import { describe, expect, it } from 'vitest';
import { parseConfig } from '#shared/config/schema.ts';
import { configWarnings, isS3StateSource } from '#shared/config/warnings.ts';

const MEMBER = '210987654321';

describe('Function: configWarnings', () => {
  it('warns about nothing for an observe-only config with S3 Terraform states', () => {
    const config = parseConfig({
      schemaVersion: 1,
      applications: [{ name: 'orders' }],
      drift: { terraformState: ['s3://acme-state/flink/terraform.tfstate'] },
      fleet: { accounts: [{ accountId: MEMBER, externalId: 'ext-member-1' }] },
    });
    expect(configWarnings(config)).toEqual([]);
  });

  it('warns once per local Terraform state path, in the config order, naming the fix', () => {
    const config = parseConfig({
      schemaVersion: 1,
      applications: [{ name: 'orders' }],
      drift: { terraformState: ['./a.tfstate', 's3://acme-state/b.tfstate', '/srv/c.tfstate'] },
    });
    expect(configWarnings(config)).toEqual([
      {
        code: 'flink-watchdog:terraform-state-local-path',
        level: 'warning',
        message:
          'drift.terraformState "./a.tfstate" is a local path: the reconciler Lambda cannot read it (use the S3 backend object, s3://BUCKET/KEY). The CLI can.',
      },
      expect.objectContaining({ message: expect.stringContaining('"/srv/c.tfstate" is a local path') }),
    ]);
  });

  it('notes AllowChanges=true for member stacks when a member application is in remediate mode, not in observe mode', () => {
    const remediate = parseConfig({
      schemaVersion: 1,
      applications: [{ name: 'orders', accountId: MEMBER, region: 'eu-west-1', policy: { mode: 'remediate' } }],
      fleet: { accounts: [{ accountId: MEMBER, externalId: 'ext-member-1' }] },
    });
    const observe = parseConfig({
      schemaVersion: 1,
      applications: [{ name: 'orders', accountId: MEMBER, region: 'eu-west-1' }],
      fleet: { accounts: [{ accountId: MEMBER, externalId: 'ext-member-1' }] },
    });
    expect(configWarnings(remediate)).toEqual([
      {
        code: 'flink-watchdog:member-allow-changes',
        level: 'info',
        message: `this config may change applications in member accounts (remediate or approve mode): deploy the member stacks of ${MEMBER} with AllowChanges=true (cdk deploy -c allowChanges=true, or the StackSet parameter), or those changes fail with AccessDenied.`,
      },
    ]);
    expect(configWarnings(observe)).toEqual([]);
  });

  it('notes AllowChanges=true for a member application in approve mode too: it acts once approved', () => {
    const approve = parseConfig({
      schemaVersion: 1,
      applications: [{ name: 'orders', accountId: MEMBER, region: 'eu-west-1', policy: { mode: 'approve' } }],
      fleet: { accounts: [{ accountId: MEMBER, externalId: 'ext-member-1' }] },
      notifications: { slackSigningSecretName: 'flink-watchdog/slack-signing' },
    });
    expect(configWarnings(approve).map((w) => w.code)).toEqual(['flink-watchdog:member-allow-changes']);
  });
  it('warns when applications are in approve mode and nothing can answer, naming the fields and the fix', () => {
    // Prepare
    const approve = { schemaVersion: 1, defaults: { mode: 'approve' }, applications: [{ name: 'orders' }] };
    const oneApp = {
      schemaVersion: 1,
      applications: [{ name: 'orders' }, { name: 'payments', policy: { mode: 'approve' } }],
    };

    // Act
    const none = configWarnings(parseConfig(approve));
    const listed = configWarnings(parseConfig(oneApp));
    const slack = configWarnings(
      parseConfig({ ...approve, notifications: { slackSigningSecretName: 'flink-watchdog/slack-signing' } }),
    );
    const runbooks = configWarnings(
      parseConfig({ ...approve, runbooks: { publishers: ['arn:aws:iam::123456789012:role/oncall'] } }),
    );
    const remediate = configWarnings(parseConfig({ ...approve, defaults: { mode: 'remediate' } }));

    // Assess
    expect(none).toEqual([
      {
        code: 'flink-watchdog:approval-unanswerable',
        level: 'warning',
        message: expect.stringMatching(
          /^applications in approve mode \(defaults\.mode \/ applications\[i\]\.policy\.mode\) but no way to answer.*`runbooks`.*`notifications\.slackSigningSecretName`.*grantApprovalAnswer\(role\)/,
        ),
      },
    ]);
    expect(listed.map((w) => w.code)).toEqual(['flink-watchdog:approval-unanswerable']);
    expect(slack).toEqual([]);
    expect(runbooks).toEqual([]);
    expect(remediate).toEqual([]);
  });
});

describe('Function: isS3StateSource', () => {
  it.each([
    ['s3://bucket/key.tfstate', true],
    ['s3://bucket/', false],
    ['./s3://x', false],
    ['terraform.tfstate', false],
    ['-', false],
  ])('%s → %s', (source, expected) => {
    expect(isS3StateSource(source)).toBe(expected);
  });
});
