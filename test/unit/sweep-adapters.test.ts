import {
  CloudWatchClient,
  DeleteAlarmsCommand,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
} from '@aws-sdk/client-cloudwatch';
import { GetResourcesCommand, ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { FleetCells } from '#shared/adapters/accounts.ts';
import { CloudWatchMetrics } from '#shared/adapters/cloudwatch.ts';
import { CloudWatchAlarms } from '#shared/adapters/cloudwatch-alarms.ts';
import { type ApiCallCounter, adaptiveClientConfig } from '#shared/adapters/msf.ts';
import { PrefetchedMetrics } from '#shared/adapters/prefetched-metrics.ts';
import { RoutedMetrics } from '#shared/adapters/routed-metrics.ts';
import { TaggingAdapter } from '#shared/adapters/tagging.ts';
import { parseConfig } from '#shared/config/schema.ts';
import type { MetricsPort } from '#shared/ports/metrics.ts';
import { MIN, T0 } from '../support/builders.ts';

const region = { region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } };

describe('Class: CloudWatchMetrics', () => {
  describe('Method: getSeriesMany', () => {
    it('puts at most 500 queries in one GetMetricData call and gives each application its own datapoints', async () => {
      // Prepare: 120 applications × 5 metrics = 600 queries
      const client = new CloudWatchClient(region);
      const cw = mockClient(client);
      cw.on(GetMetricDataCommand).callsFake(async (input: GetMetricDataCommandInput) => ({
        MetricDataResults: (input.MetricDataQueries ?? []).map((q) => ({
          Id: q.Id,
          Timestamps: [new Date(T0)],
          Values: [Number(q.MetricStat?.Metric?.Dimensions?.[0]?.Value?.slice(4))],
        })),
      }));
      const calls: ApiCallCounter = {};
      const metrics = new CloudWatchMetrics({ client, calls });
      const names = [
        'fullRestarts',
        'downtime',
        'numberOfFailedCheckpoints',
        'lastCheckpointDuration',
        'lastCheckpointSize',
      ];
      const requests = Array.from({ length: 120 }, (_, i) => ({
        applicationName: `app-${i}`,
        metricNames: names,
        startMs: T0 - 20 * MIN,
        endMs: T0 + MIN,
      }));
      // Act
      const out = await metrics.getSeriesMany(requests);
      // Assess
      const sent = cw.commandCalls(GetMetricDataCommand).map((c) => c.args[0].input.MetricDataQueries?.length);
      expect(sent).toEqual([500, 100]);
      expect(calls).toEqual({ GetMetricData: 2 });
      expect(out[117]?.downtime?.points).toEqual([{ timestampMs: T0, value: 117 }]);
    });

    it('reads every page (NextToken) of one call', async () => {
      // Prepare
      const client = new CloudWatchClient(region);
      const cw = mockClient(client);
      cw.on(GetMetricDataCommand)
        .resolvesOnce({ MetricDataResults: [{ Id: 'm0_0', Timestamps: [new Date(T0)], Values: [1] }], NextToken: 'p2' })
        .resolvesOnce({ MetricDataResults: [{ Id: 'm0_0', Timestamps: [new Date(T0 + MIN)], Values: [2] }] });
      // Act
      const out = await new CloudWatchMetrics({ client }).getSeries('orders', ['fullRestarts'], T0, T0 + 2 * MIN);
      // Assess
      expect(out.fullRestarts?.points.map((p) => p.value)).toEqual([1, 2]);
      expect(cw.commandCalls(GetMetricDataCommand)[1]?.args[0].input.NextToken).toBe('p2');
    });
  });
});

describe('Class: PrefetchedMetrics', () => {
  const inner = (): MetricsPort & { single: number } => {
    const port = {
      single: 0,
      async getSeries(_a: string, names: readonly string[]) {
        port.single += 1;
        return Object.fromEntries(names.map((n) => [n, { metricName: n, periodSeconds: 60, points: [] }]));
      },
      async getSeriesMany(requests: readonly { metricNames: readonly string[] }[]) {
        return requests.map((r) =>
          Object.fromEntries(
            r.metricNames.map((n) => [
              n,
              {
                metricName: n,
                periodSeconds: 60,
                points: [0, 1, 2, 3].map((i) => ({ timestampMs: T0 + i * MIN, value: i })),
              },
            ]),
          ),
        );
      },
    };
    return port;
  };

  it('serves a range inside the prefetch, cut to that range, without a call', async () => {
    // Prepare
    const port = inner();
    const metrics = new PrefetchedMetrics(port);
    await metrics.prefetch([{ applicationName: 'a', metricNames: ['downtime'], startMs: T0, endMs: T0 + 4 * MIN }]);
    // Act
    const out = await metrics.getSeries('a', ['downtime'], T0 + MIN, T0 + 3 * MIN);
    // Assess
    expect(out.downtime?.points.map((p) => p.value)).toEqual([1, 2]);
    expect(port.single).toBe(0);
  });

  it('asks the inner port for an earlier start, another metric, an application not prefetched, or a later minute', async () => {
    // Prepare
    const port = inner();
    const metrics = new PrefetchedMetrics(port);
    await metrics.prefetch([
      { applicationName: 'a', metricNames: ['downtime'], startMs: T0, endMs: T0 + 4 * MIN + 10_000 },
    ]);
    // Act
    await metrics.getSeries('a', ['downtime'], T0 - MIN, T0 + 4 * MIN);
    await metrics.getSeries('a', ['fullRestarts'], T0, T0 + 4 * MIN);
    await metrics.getSeries('b', ['downtime'], T0, T0 + 4 * MIN);
    await metrics.getSeries('a', ['downtime'], T0, T0 + 5 * MIN + 1);
    const sameMinute = await metrics.getSeries('a', ['downtime'], T0, T0 + 4 * MIN + 50_000);
    // Assess
    expect(port.single).toBe(4);
    expect(sameMinute.downtime?.points).toHaveLength(4);
  });
});

describe('Class: CloudWatchAlarms', () => {
  it('deletes at most 100 alarms per DeleteAlarms call', async () => {
    // Prepare
    const client = new CloudWatchClient(region);
    const cw = mockClient(client);
    cw.on(DeleteAlarmsCommand).resolves({});
    const names = Array.from({ length: 250 }, (_, i) => `flink-watchdog-prod-app-${i}-restart-loop`);
    // Act
    await new CloudWatchAlarms({ client }).deleteAlarms(names);
    // Assess
    expect(cw.commandCalls(DeleteAlarmsCommand).map((c) => c.args[0].input.AlarmNames?.length)).toEqual([100, 100, 50]);
  });
});

describe('Class: TaggingAdapter', () => {
  it('reads every page of GetResources for MSF applications with the tag, 100 per page', async () => {
    // Prepare
    const client = new ResourceGroupsTaggingAPIClient(region);
    const tagging = mockClient(client);
    const arn = (n: string) => `arn:aws:kinesisanalytics:eu-west-1:123456789012:application/${n}`;
    tagging
      .on(GetResourcesCommand)
      .resolvesOnce({ ResourceTagMappingList: [{ ResourceARN: arn('a') }], PaginationToken: 'next' })
      .resolvesOnce({ ResourceTagMappingList: [{ ResourceARN: arn('b') }], PaginationToken: '' });
    // Act
    const found = await new TaggingAdapter({ client }).taggedApplications({ key: 'team', value: 'data' });
    // Assess
    expect(found).toEqual([
      { arn: arn('a'), name: 'a' },
      { arn: arn('b'), name: 'b' },
    ]);
    const first = tagging.commandCalls(GetResourcesCommand)[0]?.args[0].input;
    expect(first).toEqual({
      ResourceTypeFilters: ['kinesisanalytics:application'],
      TagFilters: [{ Key: 'team', Values: ['data'] }],
      ResourcesPerPage: 100,
    });
    expect(tagging.commandCalls(GetResourcesCommand)[1]?.args[0].input.PaginationToken).toBe('next');
  });
});

describe('Function: adaptiveClientConfig', () => {
  it('sets the adaptive retry mode and the attempts, and lets an explicit client config win', () => {
    expect(adaptiveClientConfig({ maxAttempts: 6 })).toMatchObject({ retryMode: 'adaptive', maxAttempts: 6 });
    expect(adaptiveClientConfig({ clientConfig: { region: 'eu-west-1', retryMode: 'standard' } })).toMatchObject({
      retryMode: 'standard',
      region: 'eu-west-1',
    });
  });
});

describe('Class: RoutedMetrics (batched reads)', () => {
  it('reads each cell’s applications in one batched read of that cell, by bare name, answering in request order', async () => {
    // Prepare
    const config = parseConfig({
      schemaVersion: 1,
      fleet: { accounts: [{ accountId: '111122223333', externalId: 'ext-123' }] },
    });
    const cells = new FleetCells(config, { accountId: '123456789012', region: 'eu-west-1' });
    const seen: Array<{ cell: string; names: string[] }> = [];
    const routed = new RoutedMetrics(cells, (cell) => ({
      getSeries: async () => ({}),
      getSeriesMany: async (requests) => {
        seen.push({ cell: cell.accountId, names: requests.map((r) => r.applicationName) });
        return requests.map((r) => ({
          downtime: { metricName: `${cell.accountId}/${r.applicationName}`, periodSeconds: 60, points: [] },
        }));
      },
    }));
    const request = (applicationName: string) => ({
      applicationName,
      metricNames: ['downtime'],
      startMs: T0,
      endMs: T0,
    });
    // Act
    const out = await routed.getSeriesMany([request('a'), request('b@111122223333.eu-west-1'), request('c')]);
    // Assess
    expect(seen).toEqual([
      { cell: '123456789012', names: ['a', 'c'] },
      { cell: '111122223333', names: ['b'] },
    ]);
    expect(out.map((o) => o.downtime?.metricName)).toEqual(['123456789012/a', '111122223333/b', '123456789012/c']);
  });
});
