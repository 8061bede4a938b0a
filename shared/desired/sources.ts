import { policyFor, type WatchdogConfig } from '#shared/config/schema.ts';
import type { DesiredApplicationState } from '#shared/domain/desired.ts';
import type { DesiredStates } from '#shared/domain/reconciler.ts';
import type { TerraformReadResult } from './terraform.ts';

/** Reads one Terraform state source (a local path or `s3://BUCKET/KEY`); never throws for bad content. */
export type TerraformReader = (source: string) => Promise<TerraformReadResult>;

/**
 * The desired state of every listed application: the config's desired status (policy `desiredStatus`) and, when
 * declared, its `runtimeEnvironment`; then each Terraform state file of `drift.terraformState` (or `terraformState`
 * when given, e.g. the CLI's --tfstate), whose declared fields win over the config's. Unreadable sources and listed
 * applications absent from a state file are returned as problems naming the file; nothing is thrown.
 */
export async function loadDesiredStates(
  config: WatchdogConfig,
  readTerraform: TerraformReader,
  terraformState: readonly string[] = config.drift?.terraformState ?? [],
): Promise<DesiredStates> {
  const byName = new Map<string, DesiredApplicationState>();
  for (const app of config.applications) {
    byName.set(app.name, {
      applicationName: app.name,
      source: { kind: 'config', location: 'watchdog config' },
      status: policyFor(config, app.name).desiredStatus,
      ...(app.runtimeEnvironment ? { runtimeEnvironment: app.runtimeEnvironment } : {}),
    });
  }
  const problems: DesiredStates['problems'] = [];
  for (const source of terraformState) {
    const read = await readTerraform(source);
    problems.push(...read.problems);
    const declared = new Map(read.applications.map((a) => [a.applicationName, a]));
    for (const [name, fromConfig] of byName) {
      const tf = declared.get(name);
      if (!tf) continue;
      const defined = Object.fromEntries(Object.entries(tf).filter(([, v]) => v !== undefined));
      byName.set(name, { ...fromConfig, ...defined, source: tf.source });
    }
    if (read.problems.length === 0 && terraformState.length === 1) {
      for (const name of byName.keys()) {
        if (!declared.has(name)) {
          problems.push({ location: source, address: name, message: `${name} is watched but absent from ${source}` });
        }
      }
    }
  }
  return { states: [...byName.values()], problems };
}
