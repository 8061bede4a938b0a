import { describe, expect, it } from 'vitest';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import { parseConfig } from '#shared/config/schema.ts';
import { cellOfKey, discoverFleet, type FleetCell } from '#shared/domain/fleet.ts';
import { MsfApiError } from '#shared/ports/msf.ts';
import { app, MIN, T0 } from '../support/builders.ts';
import { CapturingLog, FakeMsf } from '../support/fakes.ts';
import { FakeTagging } from '../support/fleet-fakes.ts';

const TAG = { key: 'flink-watchdog', value: 'on' };
const MEMBER = '111122223333';

function setup(config: Record<string, unknown> = {}) {
  const msf = new FakeMsf()
    .setApp(app({ name: 'orders' }))
    .setApp(app({ name: 'payments', arn: 'arn:aws:kinesisanalytics:eu-west-1:123456789012:application/payments' }))
    .setApp(
      app({
        name: 'clicks',
        arn: 'arn:aws:kinesisanalytics:eu-west-1:123456789012:application/clicks',
        runtimeEnvironment: 'FLINK-2_2',
      }),
    );
  const tagging = new FakeTagging();
  const ledger = new MemoryLedger();
  const log = new CapturingLog();
  const cells: FleetCell[] = [{ msf, tagging }];
  const deps = {
    config: parseConfig({ schemaVersion: 1, optInTag: TAG, applications: [{ name: 'orders' }], ...config }),
    ledger,
    log,
    cells,
  };
  return { msf, tagging, ledger, log, deps, cells };
}

/** One sweep's discovery, its members saved as the sweep's plan saves them (discovery itself saves nothing). */
async function sweep(deps: ReturnType<typeof setup>['deps'], nowMs: number) {
  const found = await discoverFleet(deps, nowMs);
  await deps.ledger.saveFleetMemory({ atMs: nowMs, applications: found.members });
  return found;
}

describe('Function: discoverFleet', () => {
  it('watches the listed applications and, from the next sweep on, an application that got the opt-in tag', async () => {
    // Prepare
    const { deps, tagging } = setup();
    // Act
    const first = await sweep(deps, T0);
    tagging.tag('clicks', TAG.key, TAG.value);
    const second = await sweep(deps, T0 + 5 * MIN);
    // Assess
    expect(first.members.map((m) => m.key)).toEqual(['orders']);
    expect(second.members.map((m) => [m.key, m.source, m.runtimeEnvironment])).toEqual([
      ['orders', 'listed', 'FLINK-1_20'],
      ['clicks', 'tag', 'FLINK-2_2'],
    ]);
    expect(second.added).toEqual(['clicks']);
    expect(second.tagged).toBe(1);
  });

  it('keeps when a member was first seen, and gives status and version for the next sweep; saves nothing itself', async () => {
    // Prepare
    const { deps, ledger } = setup();
    await sweep(deps, T0);
    // Act
    const again = await discoverFleet(deps, T0 + 5 * MIN);
    // Assess
    expect(again.added).toEqual([]);
    expect((await ledger.loadFleetMemory())?.atMs).toBe(T0);
    expect(again.members).toEqual([
      {
        key: 'orders',
        source: 'listed',
        runtimeEnvironment: 'FLINK-1_20',
        firstSeenMs: T0,
        status: 'RUNNING',
        versionId: 7,
      },
    ]);
  });

  it('lets a tagged application go once, only when two sweeps in a row miss its tag', async () => {
    // Prepare
    const { deps, tagging } = setup();
    tagging.tag('payments', TAG.key, TAG.value);
    await sweep(deps, T0);
    tagging.untag('payments', TAG.key);
    // Act
    const firstMiss = await sweep(deps, T0 + 5 * MIN);
    const secondMiss = await sweep(deps, T0 + 10 * MIN);
    const later = await sweep(deps, T0 + 15 * MIN);
    // Assess
    expect(firstMiss.removed).toEqual([]);
    expect(firstMiss.missing).toEqual(['payments']);
    expect(firstMiss.members.find((m) => m.key === 'payments')).toMatchObject({
      source: 'tag',
      firstSeenMs: T0,
      status: 'RUNNING',
      missingSinceMs: T0 + 5 * MIN,
    });
    expect(firstMiss.problems).toEqual([
      'payments is not found by GetResources (the opt-in tag) in home: kept watched (its alarms too) until the next sweep confirms it is gone',
    ]);
    expect(secondMiss.removed.map((m) => m.key)).toEqual(['payments']);
    expect(later.removed).toEqual([]);
    expect(later.members.map((m) => m.key)).toEqual(['orders']);
  });

  it('keeps a tagged application that ListApplications missed once, and takes it back as it was when it shows again', async () => {
    // Prepare
    const { deps, msf, tagging } = setup();
    tagging.tag('payments', TAG.key, TAG.value);
    await sweep(deps, T0);
    const list = msf.listApplications.bind(msf);
    msf.listApplications = async () => (await list()).filter((a) => a.name !== 'payments');
    // Act
    const missed = await sweep(deps, T0 + 5 * MIN);
    msf.listApplications = list;
    const back = await sweep(deps, T0 + 10 * MIN);
    // Assess
    expect(missed.removed).toEqual([]);
    expect(missed.members.find((m) => m.key === 'payments')).toEqual({
      key: 'payments',
      source: 'tag',
      runtimeEnvironment: 'FLINK-1_20',
      firstSeenMs: T0,
      missingSinceMs: T0 + 5 * MIN,
    });
    expect(missed.problems[0]).toContain('payments is not found by ListApplications');
    expect(back.added).toEqual([]);
    expect(back.missing).toEqual([]);
    expect(back.members.find((m) => m.key === 'payments')).toMatchObject({ firstSeenMs: T0, status: 'RUNNING' });
  });

  it('does not count a sweep that could not read the cell as a miss', async () => {
    // Prepare
    const { deps, msf, tagging } = setup();
    tagging.tag('payments', TAG.key, TAG.value);
    await sweep(deps, T0);
    tagging.untag('payments', TAG.key);
    await sweep(deps, T0 + 5 * MIN);
    const list = msf.listApplications.bind(msf);
    msf.listApplications = async () => {
      throw new MsfApiError('*', 'ListApplications', 'ThrottlingException', 'Rate exceeded');
    };
    // Act
    const unread = await sweep(deps, T0 + 10 * MIN);
    msf.listApplications = list;
    const secondMiss = await sweep(deps, T0 + 15 * MIN);
    // Assess
    expect(unread.removed).toEqual([]);
    expect(unread.missing).toEqual(['payments']);
    expect(secondMiss.removed.map((m) => m.key)).toEqual(['payments']);
  });

  it('keeps a listed application that MSF does not show, marked missing since the first sweep that missed it', async () => {
    // Prepare
    const { deps, msf } = setup();
    await sweep(deps, T0);
    msf.apps.delete('orders');
    // Act
    await sweep(deps, T0 + 5 * MIN);
    const third = await sweep(deps, T0 + 10 * MIN);
    // Assess
    expect(third.removed).toEqual([]);
    expect(third.members).toEqual([
      {
        key: 'orders',
        source: 'listed',
        runtimeEnvironment: 'FLINK-1_20',
        firstSeenMs: T0,
        missingSinceMs: T0 + 5 * MIN,
      },
    ]);
  });

  it('lets an application go at once when it is unlisted from the config and not tagged', async () => {
    // Prepare
    const { deps } = setup({ applications: [{ name: 'orders' }, { name: 'payments' }] });
    await sweep(deps, T0);
    // Act
    const after = await sweep(
      { ...deps, config: { ...deps.config, applications: deps.config.applications.slice(0, 1) } },
      T0 + 5 * MIN,
    );
    // Assess
    expect(after.removed.map((m) => m.key)).toEqual(['payments']);
  });

  it('does not watch an application with another value of the opt-in tag key', async () => {
    // Prepare
    const { deps, tagging } = setup();
    tagging.tag('payments', TAG.key, 'off');
    // Act
    const found = await sweep(deps, T0);
    // Assess
    expect(found.members.map((m) => m.key)).toEqual(['orders']);
  });

  it('reports a listed application that is not in MSF, keeps it watched, and does not throw', async () => {
    // Prepare
    const { deps } = setup({ applications: [{ name: 'orders' }, { name: 'ghost' }] });
    // Act
    const found = await sweep(deps, T0);
    // Assess
    expect(found.members.map((m) => m.key)).toEqual(['orders', 'ghost']);
    expect(found.problems).toEqual(['ghost is listed in the watchdog config but is not an application in home']);
  });

  it('keeps the members of a cell it could not read, so that no alarm is deleted for a failed call', async () => {
    // Prepare
    const { deps, msf, tagging } = setup();
    tagging.tag('payments', TAG.key, TAG.value);
    await sweep(deps, T0);
    msf.listApplications = async () => {
      throw new MsfApiError('*', 'ListApplications', 'ThrottlingException', 'Rate exceeded');
    };
    // Act
    const found = await sweep(deps, T0 + 5 * MIN);
    // Assess
    expect(found.members.map((m) => m.key).sort()).toEqual(['orders', 'payments']);
    expect(found.removed).toEqual([]);
    expect(found.unreadCells).toEqual(['home']);
    expect(found.problems[0]).toContain('ThrottlingException');
  });

  it('names applications of a member cell by key and counts one ListApplications call per 50 applications', async () => {
    // Prepare
    const { deps, cells } = setup({
      applications: [{ name: 'orders' }, { name: 'orders', accountId: MEMBER, region: 'eu-west-1' }],
    });
    const member = new FakeMsf();
    for (let i = 0; i < 51; i++) {
      member.setApp(
        app({
          name: i === 0 ? 'orders' : `job-${i}`,
          arn: `arn:aws:kinesisanalytics:eu-west-1:${MEMBER}:application/x${i}`,
        }),
      );
    }
    const memberTagging = new FakeTagging(MEMBER).tag('job-3', TAG.key, TAG.value);
    cells.push({ accountId: MEMBER, region: 'eu-west-1', msf: member, tagging: memberTagging });
    // Act
    const found = await sweep(deps, T0);
    // Assess
    expect(found.members.map((m) => m.key)).toEqual([
      'orders',
      `orders@${MEMBER}.eu-west-1`,
      `job-3@${MEMBER}.eu-west-1`,
    ]);
    expect(found.msfCalls).toBe(1 + 2);
  });

  it('reports a listed application whose account is not watched', async () => {
    // Prepare
    const { deps } = setup({ applications: [{ name: 'orders', accountId: MEMBER, region: 'eu-west-1' }] });
    // Act
    const found = await sweep(deps, T0);
    // Assess
    expect(found.members).toEqual([]);
    expect(found.problems[0]).toContain('add the account to fleet.accounts');
  });
});

describe('Function: cellOfKey', () => {
  const home: { name: string; accountId?: string; region?: string } = { name: 'home' };
  const member = { name: 'member', accountId: MEMBER, region: 'eu-west-1' };

  it('puts a bare key in the home cell and NAME@ACCOUNT.REGION in that cell', () => {
    expect(cellOfKey([home, member], 'orders')).toBe(home);
    expect(cellOfKey([member, home], `orders@${MEMBER}.eu-west-1`)).toBe(member);
  });

  it('gives no cell for a bare key when the home cell is not in the list (never another cell)', () => {
    expect(cellOfKey([member], 'orders')).toBeUndefined();
    expect(cellOfKey([home], `orders@${MEMBER}.eu-west-1`)).toBeUndefined();
  });
});
