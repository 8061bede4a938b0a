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
 * `desiredStatus`) and, when declared, its `runtimeEnvironment`; then each Terraform state of `drift.terraformState`
 * (or `terraformState` when given, e.g. the CLI's --tfstate), whose declared fields win over the config's. A Terraform
 * resource names its application by `ApplicationName` only, so its declarations apply to the listed applications of
 * the watchdog's own account and Region (stated limitation: a member application's desired state comes from the
 * config and the desired-status tag).
 *
 * Problems (nothing is thrown; each names the source, and a problem with an `address` equal to an application key
 * concerns that application only, one without an `address` every application):
 * - a source that cannot be read at all (missing, corrupt, another format version): the reader's problem, no address;
 * - a resource instance that cannot be read: the reader's problem; when its `name` could be read and is a watched home
 *   application, its `address` is that application key (the message keeps the resource address);
 * - a watched home application declared by no source, when every source could be read: `KEY is watched but absent
 *   from SOURCE` (one source) or `... absent from every Terraform state (A, B)` (several), address KEY.
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
  /** Home keys some source declares, or whose resource a source could not read. */
  const accounted = new Set<string>();
  const locations: string[] = [];
  let everySourceRead = true;
  for (const source of terraformState) {
    const read = await readTerraform(source);
    locations.push(read.location);
    for (const p of read.problems) {
      if (p.address === undefined) everySourceRead = false;
      const named = p.applicationName !== undefined && homeKeys.includes(p.applicationName);
      if (named) accounted.add(p.applicationName as string);
      problems.push({
        location: p.location,
        ...(named ? { address: p.applicationName } : p.address === undefined ? {} : { address: p.address }),
        message: p.message,
      });
    }
    const declared = new Map(read.applications.map((a) => [a.applicationName, a]));
    for (const key of homeKeys) {
      const fromConfig = byKey.get(key) as DesiredApplicationState;
      const tf = declared.get(key);
      if (!tf) continue;
      accounted.add(key);
      const defined = Object.fromEntries(Object.entries(tf).filter(([, v]) => v !== undefined));
      byKey.set(key, { ...fromConfig, ...defined, applicationName: key, source: tf.source });
    }
  }
  if (everySourceRead && locations.length > 0) {
    const where = locations.length === 1 ? locations[0] : `every Terraform state (${locations.join(', ')})`;
    for (const key of homeKeys) {
      if (accounted.has(key)) continue;
      problems.push({
        location: locations.join(', '),
        address: key,
        message: `${key} is watched but absent from ${where}`,
      });
    }
  }
  return { states: [...byKey.values()], problems };
}
