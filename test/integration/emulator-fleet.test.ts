import { CloudWatchClient, GetMetricDataCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import {
  DescribeApplicationCommand,
  KinesisAnalyticsV2Client,
  ListApplicationsCommand,
  StopApplicationCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-kinesis-analytics-v2';
import {
  GetResourcesCommand,
  ResourceGroupsTaggingAPIClient,
  type TagFilter,
} from '@aws-sdk/client-resource-groups-tagging-api';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { afterEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { VirtualClock } from '#sandbox/clock.ts';
import { type Emulator, type EmulatorOptions, startEmulator } from '#sandbox/emulator/index.ts';
import { ScenarioApplication } from '#sandbox/scenario.ts';
import type { AlarmStateChangeEvent } from '#shared/events/alarm-state-change.ts';

/**
 * The emulator of a fleet, through the real SDK v3 clients: one world per account chosen by the caller's access key,
 * STS AssumeRole with the member role's trust policy, ExternalId and session expiry, the role's tag limit on mutating
 * MSF calls, the Tagging API's GetResources, alarm events of a member account, and throttling per account.
 */

const START = '2026-03-02T14:00:00Z';
const START_MS = Date.parse(START);
const HOME = '123456789012';
const MEMBER = '222222222222';
const OTHER = '333333333333';
const ROLE_ARN = `arn:aws:iam::${MEMBER}:role/FlinkWatchdogMember`;
const EXTERNAL_ID = 'fleet-external-id';
const OPT_IN = { key: 'flink-watchdog', value: 'watch' };

const running: Emulator[] = [];
afterEach(async () => {
  for (const emulator of running.splice(0)) await emulator.close();
});

function app(name: string, extra: Partial<z.input<typeof ScenarioApplication>> = {}) {
  return ScenarioApplication.parse({ name, code: { bucket: 'artifacts', fileKey: `${name}-1.jar` }, ...extra });
}

interface Fleet {
  readonly clock: VirtualClock;
  readonly emulator: Emulator;
  /** Client options signed with `accessKeyId` (12 digits: a person of that account; else the home account). */
  as(accessKeyId: string): {
    endpoint: string;
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
    maxAttempts: number;
  };
}

async function fleet(opts: Partial<EmulatorOptions> = {}): Promise<Fleet> {
  const clock = new VirtualClock(START_MS);
  const emulator = await startEmulator({
    clock,
    world: {
      startTime: START,
      applications: [
        app('orders', { tags: { [OPT_IN.key]: OPT_IN.value, team: 'a' } }),
        app('payments'),
        app('orders', { accountId: MEMBER, tags: { [OPT_IN.key]: OPT_IN.value, team: 'b' } }),
        app('clicks', { accountId: MEMBER, tags: { team: 'c' } }),
        app('untagged', { accountId: MEMBER }),
      ],
      jobModel: [],
      faults: [],
    },
    roles: [
      {
        roleArn: ROLE_ARN,
        trustedAccountId: HOME,
        externalId: EXTERNAL_ID,
        permissions: { msfMutateOnlyTag: OPT_IN },
      },
    ],
    ...opts,
  });
  running.push(emulator);
  return {
    clock,
    emulator,
    as: (accessKeyId) => ({
      endpoint: emulator.endpoint,
      region: emulator.region,
      credentials: { accessKeyId, secretAccessKey: 'sandbox' },
      maxAttempts: 1,
    }),
  };
}

async function names(client: KinesisAnalyticsV2Client): Promise<string[]> {
  const out = await client.send(new ListApplicationsCommand({}));
  return (out.ApplicationSummaries ?? []).map((s) => s.ApplicationARN ?? '');
}

describe('Emulator: one world per account', () => {
  it('answers each request in the account of its access key id, with that account in ARNs', async () => {
    // Prepare
    const f = await fleet();
    // Act
    const home = await names(new KinesisAnalyticsV2Client(f.as('drill')));
    const member = await names(new KinesisAnalyticsV2Client(f.as(MEMBER)));
    const empty = await names(new KinesisAnalyticsV2Client(f.as(OTHER)));
    // Assess
    expect(home).toEqual([
      `arn:aws:kinesisanalytics:eu-west-1:${HOME}:application/orders`,
      `arn:aws:kinesisanalytics:eu-west-1:${HOME}:application/payments`,
    ]);
    expect(member).toEqual([
      `arn:aws:kinesisanalytics:eu-west-1:${MEMBER}:application/orders`,
      `arn:aws:kinesisanalytics:eu-west-1:${MEMBER}:application/clicks`,
      `arn:aws:kinesisanalytics:eu-west-1:${MEMBER}:application/untagged`,
    ]);
    expect(empty).toEqual([]);
    expect(f.emulator.calls.map((c) => c.accountId)).toEqual([HOME, MEMBER, OTHER]);
    expect(f.emulator.accounts()).toEqual([HOME, MEMBER, OTHER]);
  });

  it('keeps the same application name apart in two accounts: a stop in one leaves the other running', async () => {
    // Prepare
    const f = await fleet();
    const member = new KinesisAnalyticsV2Client(f.as(MEMBER));
    // Act
    await member.send(new StopApplicationCommand({ ApplicationName: 'orders' }));
    // Assess
    expect(f.emulator.inspect('orders', MEMBER)?.status).toBe('STOPPING');
    expect(f.emulator.inspect('orders')?.status).toBe('RUNNING');
    expect(f.emulator.inspect('clicks')).toBeUndefined();
    await expect(
      new KinesisAnalyticsV2Client(f.as('drill')).send(new DescribeApplicationCommand({ ApplicationName: 'clicks' })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException', message: expect.stringContaining(HOME) });
  });

  it('puts the member account in the alarm events of its alarms', async () => {
    // Prepare
    const f = await fleet();
    const events: AlarmStateChangeEvent[] = [];
    f.emulator.onAlarmEvent((e) => events.push(e));
    const cw = new CloudWatchClient(f.as(MEMBER));
    await f.emulator.cloudwatchOf(MEMBER).handle('PutMetricAlarm', {
      AlarmName: 'flink-watchdog-drill-orders-restart-loop',
      Namespace: 'AWS/KinesisAnalytics',
      MetricName: 'fullRestarts',
      Dimensions: [{ Name: 'Application', Value: 'orders' }],
      Statistic: 'Maximum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    // Act
    await cw.send(
      new SetAlarmStateCommand({
        AlarmName: 'flink-watchdog-drill-orders-restart-loop',
        StateValue: 'ALARM',
        StateReason: 'test',
      }),
    );
    // Assess
    expect(events).toHaveLength(1);
    expect(events[0]?.account).toBe(MEMBER);
    expect(events[0]?.resources).toEqual([
      `arn:aws:cloudwatch:eu-west-1:${MEMBER}:alarm:flink-watchdog-drill-orders-restart-loop`,
    ]);
    expect(f.emulator.cloudwatch.alarms()).toEqual([]);
  });
});

describe('Emulator: STS AssumeRole into a member account', () => {
  it('gives credentials that act in the role account, as the SDK credential provider uses them', async () => {
    // Prepare
    const f = await fleet();
    const credentials = fromTemporaryCredentials({
      params: { RoleArn: ROLE_ARN, RoleSessionName: 'flink-watchdog', ExternalId: EXTERNAL_ID },
      masterCredentials: { accessKeyId: 'drill', secretAccessKey: 'sandbox' },
      clientConfig: { endpoint: f.emulator.endpoint, region: f.emulator.region },
    });
    const config = { endpoint: f.emulator.endpoint, region: f.emulator.region, credentials, maxAttempts: 1 };
    // Act
    const identity = await new STSClient(config).send(new GetCallerIdentityCommand({}));
    const arns = await names(new KinesisAnalyticsV2Client(config));
    // Assess
    expect(identity).toMatchObject({
      Account: MEMBER,
      Arn: `arn:aws:sts::${MEMBER}:assumed-role/FlinkWatchdogMember/flink-watchdog`,
    });
    expect(arns).toHaveLength(3);
    expect(arns.every((a) => a.includes(`:${MEMBER}:`))).toBe(true);
  });

  it.each([
    ['a wrong ExternalId', 'drill', ROLE_ARN, 'other-id'],
    ['no ExternalId', 'drill', ROLE_ARN, undefined],
    ['a caller account the role does not trust', OTHER, ROLE_ARN, EXTERNAL_ID],
    ['an unknown role', 'drill', `arn:aws:iam::${MEMBER}:role/Nope`, EXTERNAL_ID],
  ])('refuses %s with AccessDenied', async (_case, key, roleArn, externalId) => {
    // Prepare
    const f = await fleet();
    const sts = new STSClient(f.as(key));
    // Act
    const call = sts.send(
      new AssumeRoleCommand({
        RoleArn: roleArn,
        RoleSessionName: 'flink-watchdog',
        ...(externalId ? { ExternalId: externalId } : {}),
      }),
    );
    // Assess
    await expect(call).rejects.toMatchObject({
      name: 'AccessDenied',
      message: expect.stringContaining(`is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`),
      $metadata: { httpStatusCode: 403 },
    });
  });

  it('answers ExpiredTokenException once the session has expired (DurationSeconds honoured)', async () => {
    // Prepare
    const f = await fleet();
    const out = await new STSClient(f.as('drill')).send(
      new AssumeRoleCommand({
        RoleArn: ROLE_ARN,
        RoleSessionName: 'short',
        ExternalId: EXTERNAL_ID,
        DurationSeconds: 900,
      }),
    );
    const c = out.Credentials;
    expect(c?.Expiration?.getTime()).toBe(START_MS + 900_000);
    const msf = new KinesisAnalyticsV2Client({
      ...f.as('unused'),
      credentials: {
        accessKeyId: c?.AccessKeyId ?? '',
        secretAccessKey: c?.SecretAccessKey ?? '',
        sessionToken: c?.SessionToken ?? '',
      },
    });
    await names(msf);
    // Act
    f.clock.advance(900_000);
    const late = names(msf);
    // Assess
    await expect(late).rejects.toMatchObject({
      name: 'ExpiredTokenException',
      $metadata: { httpStatusCode: 403 },
    });
  });

  it("refuses a mutating MSF call on an application without the role's tag, and allows it with the tag", async () => {
    // Prepare
    const f = await fleet();
    const credentials = fromTemporaryCredentials({
      params: { RoleArn: ROLE_ARN, RoleSessionName: 'flink-watchdog', ExternalId: EXTERNAL_ID },
      masterCredentials: { accessKeyId: 'drill', secretAccessKey: 'sandbox' },
      clientConfig: { endpoint: f.emulator.endpoint, region: f.emulator.region },
    });
    const msf = new KinesisAnalyticsV2Client({
      endpoint: f.emulator.endpoint,
      region: f.emulator.region,
      credentials,
      maxAttempts: 1,
    });
    // Act
    const refused = await msf.send(new StopApplicationCommand({ ApplicationName: 'clicks' })).catch((e: unknown) => e);
    const described = await msf.send(new DescribeApplicationCommand({ ApplicationName: 'clicks' }));
    await msf.send(new StopApplicationCommand({ ApplicationName: 'orders' }));
    // Assess
    expect(refused).toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining('kinesisanalytics:StopApplication'),
    });
    expect(described.ApplicationDetail?.ApplicationStatus).toBe('RUNNING');
    expect(f.emulator.inspect('clicks', MEMBER)?.status).toBe('RUNNING');
    expect(f.emulator.inspect('orders', MEMBER)?.status).toBe('STOPPING');
  });
});

describe('Emulator: Resource Groups Tagging API GetResources', () => {
  async function arnsOf(client: ResourceGroupsTaggingAPIClient, TagFilters?: TagFilter[]): Promise<string[]> {
    const out = await client.send(
      new GetResourcesCommand({
        ResourceTypeFilters: ['kinesisanalytics:application'],
        ...(TagFilters ? { TagFilters } : {}),
      }),
    );
    return (out.ResourceTagMappingList ?? []).map((m) => (m.ResourceARN ?? '').split('/')[1] ?? '');
  }

  it("lists the caller's account's applications that match every filter, any value within a filter", async () => {
    // Prepare
    const f = await fleet();
    const member = new ResourceGroupsTaggingAPIClient(f.as(MEMBER));
    const home = new ResourceGroupsTaggingAPIClient(f.as('drill'));
    // Act
    const optedIn = await arnsOf(member, [{ Key: OPT_IN.key, Values: [OPT_IN.value] }]);
    const anyTeam = await arnsOf(member, [{ Key: 'team', Values: ['b', 'c'] }]);
    const both = await arnsOf(member, [{ Key: 'team', Values: ['b', 'c'] }, { Key: OPT_IN.key }]);
    const tagged = await arnsOf(member);
    const homeOptedIn = await arnsOf(home, [{ Key: OPT_IN.key, Values: [OPT_IN.value] }]);
    const otherType = await member.send(new GetResourcesCommand({ ResourceTypeFilters: ['ec2:instance'] }));
    // Assess
    expect(optedIn).toEqual(['orders']);
    expect(anyTeam).toEqual(['orders', 'clicks']);
    expect(both).toEqual(['orders']);
    expect(tagged).toEqual(['orders', 'clicks']);
    expect(homeOptedIn).toEqual(['orders']);
    expect(otherType.ResourceTagMappingList).toEqual([]);
  });

  it('sees tags changed at run time; an application untagged since stays listed with no tags', async () => {
    // Prepare
    const f = await fleet();
    const msf = new KinesisAnalyticsV2Client(f.as(MEMBER));
    const tagging = new ResourceGroupsTaggingAPIClient(f.as(MEMBER));
    const arn = (name: string) => `arn:aws:kinesisanalytics:eu-west-1:${MEMBER}:application/${name}`;
    // Act
    await msf.send(
      new TagResourceCommand({ ResourceARN: arn('untagged'), Tags: [{ Key: OPT_IN.key, Value: OPT_IN.value }] }),
    );
    const after = await arnsOf(tagging, [{ Key: OPT_IN.key, Values: [OPT_IN.value] }]);
    await msf.send(new UntagResourceCommand({ ResourceARN: arn('clicks'), TagKeys: ['team'] }));
    const all = await tagging.send(new GetResourcesCommand({}));
    // Assess
    expect(after).toEqual(['orders', 'untagged']);
    expect(f.emulator.tagsOf('untagged', MEMBER)).toEqual({ [OPT_IN.key]: OPT_IN.value });
    expect(all.ResourceTagMappingList?.find((m) => m.ResourceARN === arn('clicks'))?.Tags).toEqual([]);
  });

  it('pages with ResourcesPerPage and PaginationToken, and refuses ResourcesPerPage above 100', async () => {
    // Prepare
    const f = await fleet();
    const tagging = new ResourceGroupsTaggingAPIClient(f.as(MEMBER));
    // Act
    const first = await tagging.send(new GetResourcesCommand({ ResourcesPerPage: 1 }));
    const second = await tagging.send(
      new GetResourcesCommand({ ResourcesPerPage: 1, PaginationToken: first.PaginationToken }),
    );
    const tooMany = tagging.send(new GetResourcesCommand({ ResourcesPerPage: 101 }));
    // Assess
    expect(first.ResourceTagMappingList?.map((m) => m.ResourceARN?.split('/')[1])).toEqual(['orders']);
    expect(first.PaginationToken).not.toBe('');
    expect(second.ResourceTagMappingList?.map((m) => m.ResourceARN?.split('/')[1])).toEqual(['clicks']);
    expect(second.PaginationToken).toBe('');
    await expect(tooMany).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });
});

describe('Emulator: throttling per account and service', () => {
  it("throttles an account's MSF calls beyond the burst, not another account's, and refills on the virtual clock", async () => {
    // Prepare
    const f = await fleet({ throttle: { kinesisanalytics: { ratePerSecond: 1, burst: 2 } } });
    const home = new KinesisAnalyticsV2Client(f.as('drill'));
    const member = new KinesisAnalyticsV2Client(f.as(MEMBER));
    await names(home);
    await names(home);
    // Act
    const third = names(home);
    await expect(third).rejects.toMatchObject({ name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
    const otherAccount = await names(member);
    f.clock.advance(1000);
    const refilled = await names(home);
    // Assess
    expect(otherAccount).toHaveLength(3);
    expect(refilled).toHaveLength(2);
    expect(f.emulator.calls.map((c) => `${c.accountId} ${c.errorType ?? 'ok'}`)).toEqual([
      `${HOME} ok`,
      `${HOME} ok`,
      `${HOME} ThrottlingException`,
      `${MEMBER} ok`,
      `${HOME} ok`,
    ]);
  });

  it("answers each service's own throttling error: CloudWatch Throttling, the Tagging API ThrottledException", async () => {
    // Prepare
    const f = await fleet({
      throttle: { cloudwatch: { ratePerSecond: 1, burst: 1 }, tagging: { ratePerSecond: 1, burst: 1 } },
    });
    const cw = new CloudWatchClient(f.as('drill'));
    const tagging = new ResourceGroupsTaggingAPIClient(f.as('drill'));
    const query = new GetMetricDataCommand({
      StartTime: new Date(START_MS - 600_000),
      EndTime: new Date(START_MS),
      MetricDataQueries: [
        {
          Id: 'm',
          MetricStat: {
            Metric: {
              Namespace: 'AWS/KinesisAnalytics',
              MetricName: 'downtime',
              Dimensions: [{ Name: 'Application', Value: 'orders' }],
            },
            Period: 60,
            Stat: 'Maximum',
          },
        },
      ],
    });
    await cw.send(query);
    await tagging.send(new GetResourcesCommand({}));
    // Act
    const cwThrottled = await cw.send(query).catch((e: unknown) => e);
    const taggingThrottled = await tagging.send(new GetResourcesCommand({})).catch((e: unknown) => e);
    // Assess
    expect(cwThrottled).toMatchObject({ name: 'Throttling' });
    expect(taggingThrottled).toMatchObject({ name: 'ThrottledException' });
  });
});

describe('Emulator: GetMetricData across a batch of applications', () => {
  it('answers 500 MetricDataQueries (the model limit) in one call and refuses 501', async () => {
    // Prepare
    const f = await fleet();
    f.clock.advance(5 * 60_000);
    f.emulator.advanceTo(f.clock.now());
    const cw = new CloudWatchClient(f.as(MEMBER));
    const queries = (count: number) =>
      Array.from({ length: count }, (_, i) => ({
        Id: `m${i}`,
        MetricStat: {
          Metric: {
            Namespace: 'AWS/KinesisAnalytics',
            MetricName: 'downtime',
            Dimensions: [{ Name: 'Application', Value: ['orders', 'clicks', 'untagged'][i % 3] ?? 'orders' }],
          },
          Period: 60,
          Stat: 'Maximum',
        },
      }));
    const range = { StartTime: new Date(f.clock.now() - 600_000), EndTime: new Date(f.clock.now()) };
    // Act
    const out = await cw.send(new GetMetricDataCommand({ ...range, MetricDataQueries: queries(500) }));
    const tooMany = cw.send(new GetMetricDataCommand({ ...range, MetricDataQueries: queries(501) }));
    // Assess
    expect(out.MetricDataResults).toHaveLength(500);
    expect(out.MetricDataResults?.every((r) => (r.Values ?? []).length > 0)).toBe(true);
    await expect(tooMany).rejects.toMatchObject({ $metadata: { httpStatusCode: 400 } });
  });
});
