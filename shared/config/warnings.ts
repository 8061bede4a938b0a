/**
 * Warnings about a valid watchdog config that need nothing but the config to find: what would not work once the
 * watchdog is deployed. `cdk synth` (the FlinkWatchdog construct, as CDK annotations) and `flink-watchdog validate`
 * print the same messages.
 */
import { changeFreezeSettings, listedKey, type PolicySettings, policyFor, type WatchdogConfig } from './schema.ts';

/** One warning about a config; `code` is the CDK annotation id the construct reports it under. */
export interface ConfigWarning {
  /**
   * `flink-watchdog:terraform-state-local-path`: a `drift.terraformState` source the reconciler Lambda cannot read;
   * `flink-watchdog:member-allow-changes`: member stacks must be deployed with AllowChanges=true;
   * `flink-watchdog:approval-unanswerable`: approve mode with no way to answer;
   * `flink-watchdog:remediation-timeout`: the workflow's timeout is shorter than approve mode and holds may take (synth).
   */
  code:
    | 'flink-watchdog:terraform-state-local-path'
    | 'flink-watchdog:member-allow-changes'
    | 'flink-watchdog:approval-unanswerable'
    | 'flink-watchdog:remediation-timeout';
  /** `warning`: something will not work as configured; `info`: a deployment step the config needs (synth: info). */
  level: 'warning' | 'info';
  /** What is wrong and how to fix it, one sentence or two. */
  message: string;
}

/** Whether `source` (a `drift.terraformState` entry) is an S3 object, `s3://BUCKET/KEY`. */
export function isS3StateSource(source: string): boolean {
  return /^s3:\/\/[^/]+\/.+$/.test(source);
}

/** The warning for a `drift.terraformState` source that is a local path; undefined for an `s3://` object. */
export function terraformStateLocalPathWarning(source: string): ConfigWarning | undefined {
  if (isS3StateSource(source)) return undefined;
  return {
    code: 'flink-watchdog:terraform-state-local-path',
    level: 'warning',
    message: `drift.terraformState "${source}" is a local path: the reconciler Lambda cannot read it (use the S3 backend object, s3://BUCKET/KEY). The CLI can.`,
  };
}

/** The modes in which the watchdog may change an application: by itself (remediate) or once approved (approve). */
const MAY_CHANGE: ReadonlySet<string> = new Set(['remediate', 'approve']);

/**
 * The note that the member stacks need AllowChanges=true (the member role changes nothing otherwise), when the
 * config has `fleet.accounts` and may change member applications.
 * @param memberRemediate whether a listed application of a member account is in remediate or approve mode (the construct
 *   knows its own account; {@link configWarnings} counts the applications of the accounts in `fleet.accounts`)
 */
export function memberAllowChangesNote(config: WatchdogConfig, memberRemediate: boolean): ConfigWarning | undefined {
  const accounts = config.fleet?.accounts ?? [];
  const membersMayChange =
    config.runbooks !== undefined ||
    (config.optInTag !== undefined && MAY_CHANGE.has(policyFor(config, '').mode)) ||
    memberRemediate;
  if (accounts.length === 0 || !membersMayChange) return undefined;
  return {
    code: 'flink-watchdog:member-allow-changes',
    level: 'info',
    message: `this config may change applications in member accounts (${config.runbooks !== undefined ? 'runbooks' : 'remediate or approve mode'}): deploy the member stacks of ${accounts.map((a) => a.accountId).join(', ')} with AllowChanges=true (cdk deploy -c allowChanges=true, or the StackSet parameter), or those changes fail with AccessDenied.`,
  };
}

/**
 * The policies of the applications in approve mode: each listed application's, and the defaults' when `optInTag`
 * brings in tagged applications under `defaults.mode: approve`.
 */
export function approveModePolicies(config: WatchdogConfig): PolicySettings[] {
  const policies = config.applications.map((a) => policyFor(config, listedKey(a)));
  if (config.optInTag !== undefined) policies.push(policyFor(config, ''));
  return policies.filter((p) => p.mode === 'approve');
}

/**
 * The warning for approve mode with no way to answer a request: no `runbooks` (the runbook function answers
 * `flink-watchdog approve|reject` and Amazon Q's custom actions) and no `notifications.slackSigningSecretName` (Slack's
 * buttons). Every request would wait `approvalTimeoutMinutes` and escalate. `granted`: a role of the user's own was
 * given `grantApprovalAnswer` (the construct knows; validate cannot).
 */
export function approvalUnanswerableWarning(config: WatchdogConfig, granted = false): ConfigWarning | undefined {
  if (granted || config.runbooks !== undefined || config.notifications?.slackSigningSecretName !== undefined)
    return undefined;
  if (approveModePolicies(config).length === 0) return undefined;
  return {
    code: 'flink-watchdog:approval-unanswerable',
    level: 'warning',
    message:
      'applications in approve mode (defaults.mode / applications[i].policy.mode) but no way to answer an approval request: every request would time out (approvalTimeoutMinutes) and escalate. Set `runbooks` (flink-watchdog approve / reject, Amazon Q custom actions) and/or `notifications.slackSigningSecretName` (Slack buttons), or grant a role of your own with watchdog.grantApprovalAnswer(role).',
  };
}

/**
 * The longest a remediation workflow execution may need, minutes: every approval request in approve mode (up to
 * `maxAttempts` per run, one per attempt) waits up to `approvalTimeoutMinutes`, and an approved one up to as long again
 * for a fleet remediation slot; a hold (MSF maintenance or a change freeze) up to `changeFreeze.maxHoldMinutes`; plus
 * 60 min for the remediation itself (transitions and the verify window).
 */
export function worstCaseRemediationMinutes(config: WatchdogConfig): number {
  const approvals = Math.max(
    0,
    ...approveModePolicies(config).map((p) => p.maxAttempts * 2 * p.approvalTimeoutMinutes),
  );
  return approvals + changeFreezeSettings(config).maxHoldMinutes + 60;
}

/**
 * The warning (synth) when the remediation workflow's timeout (`remediationTimeout`, minutes) is shorter than
 * {@link worstCaseRemediationMinutes}: Step Functions would stop an execution mid-remediation (the workflow-ended rule
 * then escalates the incident).
 */
export function remediationTimeoutWarning(config: WatchdogConfig, timeoutMinutes: number): ConfigWarning | undefined {
  const needed = worstCaseRemediationMinutes(config);
  if (timeoutMinutes >= needed) return undefined;
  const approve = approveModePolicies(config).length > 0;
  return {
    code: 'flink-watchdog:remediation-timeout',
    level: 'warning',
    message: `remediationTimeout (${timeoutMinutes} min) is shorter than a remediation may take: ${approve ? 'maxAttempts × 2 × approvalTimeoutMinutes (an approval wait, then as long for a remediation slot) + ' : ''}changeFreeze.maxHoldMinutes + 60 min = ${needed} min. Step Functions would stop such a run mid-remediation; raise remediationTimeout to at least Duration.minutes(${needed}) or lower those settings.`,
  };
}

/**
 * Every config-only warning of a valid config (parseConfig's result), in a stable order: local Terraform state paths
 * first (in the config's order), then the member AllowChanges note, then approve mode with no way to answer. An application counts as a member account's
 * when its `accountId` is one of `fleet.accounts`.
 * @returns an empty array when there is nothing to warn about.
 */
export function configWarnings(config: WatchdogConfig): ConfigWarning[] {
  const memberAccounts = new Set((config.fleet?.accounts ?? []).map((a) => a.accountId));
  const memberRemediate = config.applications.some(
    (a) =>
      a.accountId !== undefined &&
      memberAccounts.has(a.accountId) &&
      MAY_CHANGE.has(policyFor(config, listedKey(a)).mode),
  );
  return [
    ...(config.drift?.terraformState ?? []).map(terraformStateLocalPathWarning),
    memberAllowChangesNote(config, memberRemediate),
    approvalUnanswerableWarning(config),
  ].filter((w): w is ConfigWarning => w !== undefined);
}
