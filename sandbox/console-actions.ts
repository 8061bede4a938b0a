import {
  DescribeApplicationCommand,
  KinesisAnalyticsV2Client,
  UpdateApplicationCommand,
} from '@aws-sdk/client-kinesis-analytics-v2';
import type { Scenario } from './scenario.ts';

/**
 * A bad configuration deploy the console can inject: the environment property a crash-loop rule of the scenario's job
 * model matches (`jobModel[].when.property`, on an application of the scenario or on any), on that application.
 */
export interface ConsoleInjection {
  /** ApplicationName the UpdateApplication targets. */
  readonly application: string;
  /** Property group id (PropertyGroupId). */
  readonly group: string;
  /** Property key and the value that makes the job crash-loop. */
  readonly key: string;
  readonly value: string;
  /** "FlinkApplicationProperties.input.stream.name = orders-v2 (crash-loop)": for the button's title. */
  readonly description: string;
}

/**
 * The failure the console can inject for `scenario`: the first crash-loop rule of its job model that matches on an
 * environment property only (and, if it names one, an application of the scenario), on its application or else the
 * scenario's first. undefined when there is none (the console then offers no injection: nothing else is honest).
 */
export function consoleInjection(scenario: Pick<Scenario, 'applications' | 'jobModel'>): ConsoleInjection | undefined {
  const names = scenario.applications.map((a) => a.name);
  for (const rule of scenario.jobModel) {
    const { property, application, codeKey, submittedBeforeMinute } = rule.when;
    if (rule.behaviour.kind !== 'crash-loop' || !property) continue;
    if (codeKey !== undefined || submittedBeforeMinute !== undefined) continue;
    const target = application ?? names[0];
    if (target === undefined || !names.includes(target)) continue;
    return {
      application: target,
      group: property.group,
      key: property.key,
      value: property.value,
      description: `${property.group}.${property.key} = ${property.value} (the job model crash-loops on it)`,
    };
  }
  return undefined;
}

/**
 * Deploys the injection as a person would with the AWS CLI, through the sandbox's endpoint: DescribeApplication (its
 * ConditionalToken and property groups), then UpdateApplication with the group's properties and `key` = `value`
 * (EnvironmentPropertyUpdates replaces whole groups, so the others are kept as they are).
 * @returns the application version the update asked for (ApplicationVersionId + 1)
 * @throws the MSF error (e.g. ResourceInUseException while the application is UPDATING; ConcurrentModificationException)
 */
export async function injectFailure(
  endpoint: string,
  region: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
  injection: ConsoleInjection,
): Promise<number> {
  const msf = new KinesisAnalyticsV2Client({ endpoint, region, credentials, maxAttempts: 1 });
  try {
    const { ApplicationDetail: detail } = await msf.send(
      new DescribeApplicationCommand({ ApplicationName: injection.application }),
    );
    const groups =
      detail?.ApplicationConfigurationDescription?.EnvironmentPropertyDescriptions?.PropertyGroupDescriptions ?? [];
    const current = groups.find((g) => g.PropertyGroupId === injection.group)?.PropertyMap ?? {};
    await msf.send(
      new UpdateApplicationCommand({
        ApplicationName: injection.application,
        ConditionalToken: detail?.ConditionalToken,
        ApplicationConfigurationUpdate: {
          EnvironmentPropertyUpdates: {
            PropertyGroups: [
              ...groups
                .filter((g) => g.PropertyGroupId !== injection.group)
                .map((g) => ({ PropertyGroupId: g.PropertyGroupId, PropertyMap: g.PropertyMap ?? {} })),
              { PropertyGroupId: injection.group, PropertyMap: { ...current, [injection.key]: injection.value } },
            ],
          },
        },
      }),
    );
    return (detail?.ApplicationVersionId ?? 0) + 1;
  } finally {
    msf.destroy();
  }
}
