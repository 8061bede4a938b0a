import { describe, expect, it } from 'vitest';
import { type Cell, CellNotWatchedError, cellId, FleetCells } from '#shared/adapters/accounts.ts';
import { RoutedMetrics } from '#shared/adapters/routed-metrics.ts';
import { RoutedMsf } from '#shared/adapters/routed-msf.ts';
import { parseConfig, type WatchdogConfig } from '#shared/config/schema.ts';
import { MsfApiError } from '#shared/ports/msf.ts';
import { app, T0 } from '../support/builders.ts';
import { FakeMetrics, FakeMsf } from '../support/fakes.ts';

const HOME = { accountId: '123456789012', region: 'eu-west-1' };
const MEMBER = '111122223333';
const MEMBER_ARN = `arn:aws:kinesisanalytics:eu-west-1:${MEMBER}:application/orders`;
const MEMBER_KEY = `orders@${MEMBER}.eu-west-1`;

function config(fleet?: WatchdogConfig['fleet']): WatchdogConfig {
  return parseConfig({
    schemaVersion: 1,
    applications: [{ name: 'orders' }, { name: 'orders', accountId: MEMBER, region: 'eu-west-1' }],
    ...(fleet ? { fleet } : {}),
  });
}

const FLEET = config({ accounts: [{ accountId: MEMBER, externalId: 'ext-1234' }] });

/** A RoutedMsf over one FakeMsf per cell (home: `orders`; member: its own `orders` and `payments`). */
function routed(cfg: WatchdogConfig = FLEET) {
  const cells = new FleetCells(cfg, HOME);
  const home = new FakeMsf().setApp(app());
  const member = new FakeMsf()
    .setApp(app({ arn: MEMBER_ARN, versionId: 3 }), { tags: { 'flink-watchdog': 'enabled' } })
    .setApp(app({ name: 'payments', arn: MEMBER_ARN.replace('orders', 'payments') }));
  const built: string[] = [];
  const msf = new RoutedMsf(cells, (cell: Cell) => {
    built.push(cellId(cell));
    return cell.accountId === MEMBER ? member : home;
  });
  return { msf, home, member, built };
}

describe('Class: RoutedMsf', () => {
  describe('Method: describeApplication', () => {
    it('describes a bare name in the home cell, as a plain MSF adapter would', async () => {
      // Prepare
      const { msf, home, member } = routed();
      // Act
      const state = await msf.describeApplication('orders');
      // Assess
      expect(state.name).toBe('orders');
      expect(state.versionId).toBe(7);
      expect(home.calls).toEqual(['DescribeApplication orders']);
      expect(member.calls).toEqual([]);
    });

    it('describes NAME@ACCOUNT.REGION in the member cell with the bare name and gives the key back, ARN unchanged', async () => {
      // Prepare
      const { msf, home, member } = routed();
      // Act
      const state = await msf.describeApplication(MEMBER_KEY);
      // Assess
      expect(member.calls).toEqual(['DescribeApplication orders']);
      expect(home.calls).toEqual([]);
      expect(state).toMatchObject({ name: MEMBER_KEY, arn: MEMBER_ARN, versionId: 3 });
    });

    it('routes a key naming the home account and Region to the home cell and answers with the bare name', async () => {
      // Prepare
      const { msf, home } = routed();
      // Act
      const state = await msf.describeApplication(`orders@${HOME.accountId}.${HOME.region}`);
      // Assess
      expect(home.calls).toEqual(['DescribeApplication orders']);
      expect(state.name).toBe('orders');
    });

    it('refuses a key of an account that is not in fleet.accounts, naming the key and the fix, without any call', async () => {
      // Prepare
      const { msf, home, member, built } = routed();
      const key = 'orders@999988887777.eu-west-1';
      // Act
      const error = await msf.describeApplication(key).catch((e: unknown) => e);
      // Assess
      expect(error).toBeInstanceOf(MsfApiError);
      const e = error as MsfApiError;
      expect(e.code).toBe('CellNotWatched');
      expect(e.applicationName).toBe(key);
      expect(e.retryable).toBe(false);
      expect(e.cause).toBeInstanceOf(CellNotWatchedError);
      expect(e.message).toContain(key);
      expect(e.message).toContain('add it to fleet.accounts');
      expect([...home.calls, ...member.calls]).toEqual([]);
      expect(built).toEqual([]);
    });

    it("refuses a member account's Region that is not listed for it", async () => {
      // Prepare
      const { msf, member } = routed();
      // Act / Assess
      await expect(msf.describeApplication(`orders@${MEMBER}.us-east-1`)).rejects.toMatchObject({
        code: 'CellNotWatched',
      });
      expect(member.calls).toEqual([]);
    });

    it("throws the cell's MsfApiError again naming the key, with the same operation, code and cause", async () => {
      // Prepare
      const { msf } = routed();
      const key = `missing@${MEMBER}.eu-west-1`;
      // Act
      const error = (await msf.describeApplication(key).catch((e: unknown) => e)) as MsfApiError;
      // Assess
      expect(error).toBeInstanceOf(MsfApiError);
      expect(error).toMatchObject({
        applicationName: key,
        operation: 'DescribeApplication',
        code: 'ResourceNotFoundException',
      });
      expect(error.message).toBe(
        `DescribeApplication ${key}: ResourceNotFoundException: Application missing not found`,
      );
    });
  });

  describe('Method: listApplications', () => {
    it("lists every watched cell's applications, home first, each named by its key", async () => {
      // Prepare
      const { msf } = routed();
      // Act
      const summaries = await msf.listApplications();
      // Assess
      expect(summaries.map((s) => s.name)).toEqual(['orders', MEMBER_KEY, `payments@${MEMBER}.eu-west-1`]);
      expect(summaries[1]?.arn).toBe(MEMBER_ARN);
    });

    it('with no fleet.accounts lists the home cell only, by bare names', async () => {
      // Prepare
      const { msf, member } = routed(parseConfig({ schemaVersion: 1, applications: [{ name: 'orders' }] }));
      // Act
      const summaries = await msf.listApplications();
      // Assess
      expect(summaries.map((s) => s.name)).toEqual(['orders']);
      expect(member.calls).toEqual([]);
    });

    it('refuses to list a cell that is not watched', async () => {
      // Prepare
      const { msf } = routed();
      // Act / Assess
      await expect(msf.listApplicationsIn({ accountId: '999988887777', region: 'eu-west-1' })).rejects.toMatchObject({
        code: 'CellNotWatched',
      });
    });
  });

  describe('Mutating calls', () => {
    it('stops, starts, rolls back, updates and snapshots in the key’s cell only, with the bare name', async () => {
      // Prepare
      const { msf, home, member } = routed();
      // Act
      await msf.stopApplication(MEMBER_KEY, true);
      await msf.startApplication(MEMBER_KEY, {
        restoreType: 'SKIP_RESTORE_FROM_SNAPSHOT',
        allowNonRestoredState: false,
      });
      await msf.rollbackApplication(MEMBER_KEY, 3);
      await msf.updateApplication(MEMBER_KEY, { conditionalToken: 'token-7' });
      await msf.createApplicationSnapshot(MEMBER_KEY, 'before-fix');
      // Assess
      expect(member.mutations.map((m) => `${m.call} ${m.applicationName}`)).toEqual([
        'StopApplication orders',
        'StartApplication orders',
        'RollbackApplication orders',
        'UpdateApplication orders',
        'CreateApplicationSnapshot orders',
      ]);
      expect(member.mutations[0]?.args).toEqual({ force: true });
      expect(home.mutations).toEqual([]);
    });

    it('never acts in the home cell for a key of an unwatched account', async () => {
      // Prepare
      const { msf, home, member } = routed();
      // Act / Assess
      await expect(msf.stopApplication('orders@999988887777.eu-west-1', true)).rejects.toMatchObject({
        code: 'CellNotWatched',
        operation: 'StopApplication',
      });
      expect([...home.mutations, ...member.mutations]).toEqual([]);
    });
  });

  describe('Method: listTags', () => {
    it("reads the tags in the ARN's own account and Region", async () => {
      // Prepare
      const { msf, home, member } = routed();
      // Act
      const tags = await msf.listTags(MEMBER_ARN);
      // Assess
      expect(tags).toEqual({ 'flink-watchdog': 'enabled' });
      expect(member.calls).toEqual([`ListTagsForResource ${MEMBER_ARN}`]);
      expect(home.calls).toEqual([]);
    });

    it('refuses the ARN of an unwatched account', async () => {
      // Prepare
      const { msf } = routed();
      // Act / Assess
      await expect(
        msf.listTags('arn:aws:kinesisanalytics:eu-west-1:999988887777:application/orders'),
      ).rejects.toMatchObject({ code: 'CellNotWatched' });
    });
  });

  it('builds one port per cell and reuses it', async () => {
    // Prepare
    const { msf, built } = routed();
    // Act
    await msf.describeApplication(MEMBER_KEY);
    await msf.listOperations(MEMBER_KEY);
    await msf.describeApplication('orders');
    // Assess
    expect(built).toEqual([`${MEMBER}.eu-west-1`, `${HOME.accountId}.${HOME.region}`]);
  });
});

describe('Class: RoutedMetrics', () => {
  it("reads a member application's metrics in its cell with the bare name as the Application dimension", async () => {
    // Prepare
    const cells = new FleetCells(FLEET, HOME);
    const point = { timestampMs: T0, value: 4 };
    const home = new FakeMetrics().set('orders', { metricName: 'fullRestarts', periodSeconds: 60, points: [] });
    const member = new FakeMetrics().set('orders', { metricName: 'fullRestarts', periodSeconds: 60, points: [point] });
    const metrics = new RoutedMetrics(cells, (cell) => (cell.accountId === MEMBER ? member : home));
    // Act
    const atHome = await metrics.getSeries('orders', ['fullRestarts'], T0 - 60_000, T0 + 60_000);
    const inMember = await metrics.getSeries(MEMBER_KEY, ['fullRestarts'], T0 - 60_000, T0 + 60_000);
    // Assess
    expect(atHome.fullRestarts?.points).toEqual([]);
    expect(inMember.fullRestarts?.points).toEqual([point]);
  });

  it('refuses a key of an unwatched cell before any call', async () => {
    // Prepare
    const cells = new FleetCells(FLEET, HOME);
    const built: string[] = [];
    const metrics = new RoutedMetrics(cells, (cell) => {
      built.push(cellId(cell));
      return new FakeMetrics();
    });
    // Act / Assess
    await expect(
      metrics.getSeries('orders@999988887777.eu-west-1', ['fullRestarts'], T0, T0 + 60_000),
    ).rejects.toBeInstanceOf(CellNotWatchedError);
    expect(built).toEqual([]);
  });
});
