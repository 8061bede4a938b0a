import type { WatchdogConfig } from '#shared/config/schema.ts';
import { isListed } from '#shared/config/schema.ts';
import type { MsfPort } from '#shared/ports/msf.ts';
import type { Scope } from './policy.ts';

/**
 * Scope: listed in the config by name, or carrying the opt-in tag (read with ListTagsForResource, which needs the
 * ARN from DescribeApplication). Only read calls.
 */
export async function resolveScope(
  applicationName: string,
  deps: { msf: MsfPort; config: WatchdogConfig },
  applicationArn?: string,
): Promise<Scope> {
  if (isListed(deps.config, applicationName)) return { inScope: true, reason: 'listed in the watchdog config' };
  const tag = deps.config.optInTag;
  if (!tag) return { inScope: false, reason: 'not listed in the watchdog config (no opt-in tag configured)' };
  const arn = applicationArn ?? (await deps.msf.describeApplication(applicationName)).arn;
  const tags = await deps.msf.listTags(arn);
  return tags[tag.key] === tag.value
    ? { inScope: true, reason: `opt-in tag ${tag.key}=${tag.value}` }
    : { inScope: false, reason: `not listed in the watchdog config and no opt-in tag ${tag.key}=${tag.value}` };
}
