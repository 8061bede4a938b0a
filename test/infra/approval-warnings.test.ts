import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { FlinkWatchdog, type FlinkWatchdogProps } from '../../infra/flink-watchdog.ts';

// Synth-time warnings about approve mode: no way to answer an approval request, and a remediation workflow timeout
// shorter than approve mode's waits and a hold may take.

const RUNBOOKS = { publishers: ['arn:aws:iam::123456789012:role/oncall'] };
const APPROVE = { schemaVersion: 1, defaults: { mode: 'approve' }, applications: [{ name: 'orders' }] };

function synth(config: Record<string, unknown>, props: Partial<FlinkWatchdogProps> = {}, grant = false): Annotations {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Consumer', { env: { account: '123456789012', region: 'eu-west-1' } });
  const watchdog = new FlinkWatchdog(stack, 'Watchdog', { config, ...props });
  if (grant)
    watchdog.grantApprovalAnswer(
      new Role(stack, 'Approver', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') }),
    );
  return Annotations.fromStack(stack);
}

const warningsWith = (a: Annotations, id: string) =>
  a.findWarning('*', Match.stringLikeRegexp(id === 'unanswerable' ? 'no way to answer' : 'remediationTimeout \\('));

describe('Synth warnings: approve mode', () => {
  it('warns when applications are in approve mode and nothing can answer (no runbooks, no Slack signing secret)', () => {
    // Act
    const a = synth(APPROVE);

    // Assess
    const found = warningsWith(a, 'unanswerable');
    expect(found).toHaveLength(1);
    expect(JSON.stringify(found[0]?.entry.data)).toContain('notifications.slackSigningSecretName');
  });

  it('does not warn when runbooks, a Slack signing secret or a granted role can answer, nor in remediate mode', () => {
    // Act
    const runbooks = synth({ ...APPROVE, runbooks: RUNBOOKS });
    const slack = synth({ ...APPROVE, notifications: { slackSigningSecretName: 'flink-watchdog/slack-signing' } });
    const granted = synth(APPROVE, {}, true);
    const remediate = synth({ ...APPROVE, defaults: { mode: 'remediate' } });

    // Assess
    for (const a of [runbooks, slack, granted, remediate]) expect(warningsWith(a, 'unanswerable')).toEqual([]);
  });

  it('warns when remediationTimeout is shorter than maxAttempts × 2 × approvalTimeoutMinutes + maxHoldMinutes + 1 h', () => {
    // Prepare: 3 × 2 × 120 + 240 + 60 = 1,020 min (17 h) > the 12 h default
    const config = { ...APPROVE, runbooks: RUNBOOKS, defaults: { mode: 'approve', approvalTimeoutMinutes: 120 } };

    // Act
    const short = synth(config);
    const enough = synth(config, { remediationTimeout: Duration.hours(17) });
    const defaults = synth({ ...APPROVE, runbooks: RUNBOOKS });

    // Assess
    const found = warningsWith(short, 'timeout');
    expect(found).toHaveLength(1);
    expect(JSON.stringify(found[0]?.entry.data)).toContain('= 1020 min');
    expect(warningsWith(enough, 'timeout')).toEqual([]);
    expect(warningsWith(defaults, 'timeout')).toEqual([]);
  });

  it('counts the hold alone outside approve mode: a long maxHoldMinutes with a short remediationTimeout warns', () => {
    // Act
    const a = synth(
      {
        schemaVersion: 1,
        applications: [{ name: 'orders' }],
        changeFreeze: { calendars: ['freeze'], maxHoldMinutes: 600 },
      },
      { remediationTimeout: Duration.hours(10) },
    );

    // Assess
    expect(JSON.stringify(warningsWith(a, 'timeout')[0]?.entry.data)).toContain(
      'changeFreeze.maxHoldMinutes + 60 min = 660 min',
    );
  });
});
