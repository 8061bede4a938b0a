import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { FlinkWatchdogMemberStack } from '../member-stack.ts';

/**
 * The member stack's CDK app: one member account and Region of a central Flink Watchdog (infra/member-stack.ts).
 *
 * `cdk deploy -a "npx tsx infra/bin/member-app.ts" -c centralAccountId=... -c externalId=... -c instance=...` deploys
 * it in the account and Region of the current credentials; the context values become the parameters' defaults.
 * `cdk synth -a "npx tsx infra/bin/member-app.ts"` without them gives a template whose parameters are all to be given
 * at deploy: a StackSet template. Context:
 * - `centralAccountId`, `centralStackName`, `externalId`, `instance`, `optInTagValue`, `organizationId`,
 *   `centralRegion`, `roleRegion`, `roleName`, `allowChanges` (`true` when the central config remediates applications
 *   of this account or has runbooks; default `false`: the member role only reads): parameter defaults (see FlinkWatchdogMemberStack); `centralStackName`
 *   (default `FlinkWatchdog`) is the central stack's name, cut to the 25 characters its generated role names keep;
 * - `optInTagKey`: the opt-in tag key, fixed in the template (default `flink-watchdog`);
 * - `stackName`: default `FlinkWatchdogMember`.
 */
const app = new App();

function context(name: string): string | undefined {
  const value = app.node.tryGetContext(name) as unknown;
  if (value === undefined || value === null) return undefined;
  return String(value);
}

const defaults = Object.fromEntries(
  (
    [
      'centralAccountId',
      'centralStackName',
      'externalId',
      'instance',
      'optInTagValue',
      'organizationId',
      'centralRegion',
      'roleRegion',
      'roleName',
      'allowChanges',
    ] as const
  )
    .map((name) => [name, context(name)] as const)
    .filter(([, value]) => value !== undefined),
);
const optInTagKey = context('optInTagKey');

new FlinkWatchdogMemberStack(app, context('stackName') ?? 'FlinkWatchdogMember', {
  ...(optInTagKey !== undefined ? { optInTagKey } : {}),
  parameterDefaults: defaults,
  description:
    'Flink Watchdog member: forwards alarm and MSF events to the central watchdog and lets it act on opted-in MSF applications',
});

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
