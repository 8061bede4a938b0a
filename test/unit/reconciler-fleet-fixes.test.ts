import { describe, expect, it } from 'vitest';
import { FleetCells } from '#shared/adapters/accounts.ts';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import { RecordingNotifier } from '#shared/adapters/recording-notifier.ts';
import { RoutedMsf } from '#shared/adapters/routed-msf.ts';
import { parseConfig, type WatchdogConfig } from '#shared/config/schema.ts';
import { loadDesiredStates } from '#shared/desired/sources.ts';
import { type ReconcilerDeps, reconcile } from '#shared/domain/reconciler.ts';
import type { RemediationState } from '#shared/domain/remediation.ts';
import type { MsfPort } from '#shared/ports/msf.ts';
import { app, MIN, T0 } from '../support/builders.ts';
import { CapturingLog, FakeMsf } from '../support/fakes.ts';

const HOME = { accountId: '999999999999', region: 'us-east-1' };
const MEMBER = { accountId: '111122223333', region: 'eu-west-1' };
const MEMBER_KEY = `orders@${MEMBER.accountId}.${MEMBER.region}`;
const arnIn = (cell: { accountId: string; region: string }, name: string) =>
  `arn:aws:kinesisanalytics:${cell.region}:${cell.accountId}:application/${name}`;
const noTerraform = async () => ({ location: '', applications: [], problems: [], sensitivePaths: {} });

/** Keeps the remediations the reconciler starts. */
class RecordingStarter {
  readonly started: RemediationState[] = [];
  async start(state: RemediationState): Promise<void> {
    this.started.push(structuredClone(state));
  }
}

function depsFor(config: WatchdogConfig, msf: MsfPort, ledger = new MemoryLedger()) {
  const starter = new RecordingStarter();
  const log = new CapturingLog();
  const notifier = new RecordingNotifier();
  const deps: ReconcilerDeps = {
    msf,
    ledger,
    notifier,
    starter,
    config,
    clock: { now: () => T0 + 10 * MIN },
    log,
    desired: () => loadDesiredStates(config, noTerraform),
  };
  return { deps, starter, log, notifier, ledger };
}

describe('Function: reconcile (a listed member application and a home application of the same name)', () => {
  const config = parseConfig({
    schemaVersion: 1,
    defaults: { mode: 'remediate', onDrift: { status: 'reconcile' } },
    applications: [{ name: 'orders', accountId: MEMBER.accountId, region: MEMBER.region }],
    fleet: { accounts: [{ accountId: MEMBER.accountId, regions: [MEMBER.region], externalId: 'external-id-1' }] },
  });

  it('keys the desired state of a listed member application by its application key', async () => {
    // Act
    const { states } = await loadDesiredStates(config, noTerraform);
    // Assess
    expect(states.map((s) => s.applicationName)).toEqual([MEMBER_KEY]);
  });

  it('never starts the unlisted home application, and starts the listed member one in its own account', async () => {
    // Prepare: both named orders and READY; only the member one is listed (desired RUNNING)
    const home = new FakeMsf().setApp(app({ name: 'orders', arn: arnIn(HOME, 'orders'), status: 'READY' }));
    const member = new FakeMsf().setApp(app({ name: 'orders', arn: arnIn(MEMBER, 'orders'), status: 'READY' }));
    const cells = new FleetCells(config, HOME);
    const msf = new RoutedMsf(cells, (cell) => (cells.isHome(cell) ? home : member));
    const { deps, starter } = depsFor(config, msf);
    // Act
    const result = await reconcile(deps);
    // Assess
    expect(result.lines.map((l) => [l.applicationName, l.verdict])).toEqual([[MEMBER_KEY, 'RECONCILING']]);
    expect(starter.started.map((s) => s.applicationName)).toEqual([MEMBER_KEY]);
    expect(home.calls.filter((c) => c !== 'ListApplications')).toEqual([]);
  });

  it('reports the listed member application MISSING when only a home application has its name', async () => {
    // Prepare: the member account has no orders
    const home = new FakeMsf().setApp(app({ name: 'orders', arn: arnIn(HOME, 'orders'), status: 'READY' }));
    const cells = new FleetCells(config, HOME);
    const msf = new RoutedMsf(cells, (cell) => (cells.isHome(cell) ? home : new FakeMsf()));
    const { deps, starter } = depsFor(config, msf);
    // Act
    const result = await reconcile(deps);
    // Assess
    expect(result.lines.map((l) => [l.applicationName, l.verdict])).toEqual([[MEMBER_KEY, 'MISSING']]);
    expect(starter.started).toEqual([]);
  });
});
