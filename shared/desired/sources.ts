import { listedKey, policyFor, type WatchdogConfig } from '#shared/config/schema.ts';
import { parseApplicationKey } from '#shared/domain/app-key.ts';
import type { DesiredApplicationState } from '#shared/domain/desired.ts';
import type { DesiredStates } from '#shared/domain/reconciler.ts';
import type { TerraformReadResult } from './terraform.ts';

/** Reads one Terraform state source (a local path or `s3://BUCKET/KEY`); never throws for bad content. */
export type TerraformReader = (source: string) => Promise<TerraformReadResult>;

/**
 * The desired state of every listed application, keyed by its APPLICATION KEY (`listedKey`: the bare MSF
 * ApplicationName in the watchdog's own account and Region, else `NAME@ACCOUNT.REGION`), so that a listed member
 * application is never taken for a home application of the same name: the config's desired status (policy
 * `desiredStatus`) and, when declared, its `runtimeEnvironment`; then each Terraform state file of
 * `drift.terraformState` (or `terraformState` when given, e.g. the CLI's --tfstate), whose declared fields win over
 * the config's. A Terraform resource names its application by `ApplicationName` only, so its declarations apply to
 * the listed applications of the watchdog's own account and Region (stated limitation: a member application's desired
 * state comes from the config and the desired-status tag). Unreadable sources and listed home applications absent
 * from a state file are returned as problems naming the file; nothing is thrown.
 */
export async function loadDesiredStates(
  config: WatchdogConfig,
  readTerraform: TerraformReader,
  terraformState: readonly string[] = config.drift?.terraformState ?? [],
): Promise<DesiredStates> {
  const byKey = new Map<string, DesiredApplicationState>();
  for (const app of config.applications) {
    const key = listedKey(app);
    byKey.set(key, {
      applicationName: key,
      source: { kind: 'config', location: 'watchdog config' },
      status: policyFor(config, key).desiredStatus,
      ...(app.runtimeEnvironment ? { runtimeEnvironment: app.runtimeEnvironment } : {}),
    });
  }
  /** Keys of the home cell: the only ones a Terraform declaration (a bare ApplicationName) can be matched with. */
  const homeKeys = [...byKey.keys()].filter((key) => parseApplicationKey(key).accountId === undefined);
  const problems: DesiredStates['problems'] = [];
  for (const source of terraformState) {
    const read = await readTerraform(source);
    problems.push(...read.problems);
    const declared = new Map(read.applications.map((a) => [a.applicationName, a]));
    for (const key of homeKeys) {
      const fromConfig = byKey.get(key) as DesiredApplicationState;
      const tf = declared.get(key);
      if (!tf) continue;
      const defined = Object.fromEntries(Object.entries(tf).filter(([, v]) => v !== undefined));
      byKey.set(key, { ...fromConfig, ...defined, applicationName: key, source: tf.source });
    }
    if (read.problems.length === 0 && terraformState.length === 1) {
      for (const key of homeKeys) {
        if (!declared.has(key)) {
          problems.push({ location: source, address: key, message: `${key} is watched but absent from ${source}` });
        }
      }
    }
  }
  return { states: [...byKey.values()], problems };
}
