/**
 * Warnings about a valid watchdog config that need nothing but the config to find: what would not work once the
 * watchdog is deployed. `cdk synth` (the FlinkWatchdog construct, as CDK annotations) and `flink-watchdog validate`
 * print the same messages.
 */
import { listedKey, policyFor, type WatchdogConfig } from './schema.ts';

/** One warning about a config; `code` is the CDK annotation id the construct reports it under. */
export interface ConfigWarning {
  /**
   * `flink-watchdog:terraform-state-local-path`: a `drift.terraformState` source the reconciler Lambda cannot read;
   * `flink-watchdog:member-allow-changes`: member stacks must be deployed with AllowChanges=true.
   */
  code: 'flink-watchdog:terraform-state-local-path' | 'flink-watchdog:member-allow-changes';
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
 * Every config-only warning of a valid config (parseConfig's result), in a stable order: local Terraform state paths
 * first (in the config's order), then the member AllowChanges note. An application counts as a member account's
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
  ].filter((w): w is ConfigWarning => w !== undefined);
}
