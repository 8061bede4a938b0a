import { describe, expect, it } from 'vitest';
import { reconcilerCellsOf } from '#functions/reconciler/handler.ts';
import { FleetCells } from '#shared/adapters/accounts.ts';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import { RecordingNotifier } from '#shared/adapters/recording-notifier.ts';
import { RoutedMsf } from '#shared/adapters/routed-msf.ts';
import { parseConfig, type WatchdogConfig } from '#shared/config/schema.ts';
import { loadDesiredStates } from '#shared/desired/sources.ts';
import { newFleetIncident } from '#shared/domain/fleet-incident.ts';
import { type ReconcilerDeps, reconcile } from '#shared/domain/reconciler.ts';
import type { RemediationState } from '#shared/domain/remediation.ts';
import { MsfApiError, type MsfPort } from '#shared/ports/msf.ts';
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

describe('Function: reconcile (the blast radius of automatic starts)', () => {
  const NAMES = ['a1', 'a2', 'a3', 'a4', 'a5'];
  const fleetConfig = parseConfig({
    schemaVersion: 1,
    defaults: { mode: 'remediate', onDrift: { status: 'reconcile' } },
    applications: NAMES.map((name) => ({ name })),
    fleet: { maxConcurrentRemediations: 3 },
  });
  /** The five applications, every one stopped out of band (READY while desired RUNNING). */
  const stoppedFleet = () => {
    const msf = new FakeMsf();
    for (const name of NAMES) msf.setApp(app({ name, arn: arnIn(HOME, name), status: 'READY' }));
    return msf;
  };

  it('starts at most maxConcurrentRemediations applications at once and defers the others without a page', async () => {
    // Prepare
    const { deps, starter, notifier, log, ledger } = depsFor(fleetConfig, stoppedFleet());
    // Act
    const result = await reconcile(deps);
    // Assess
    const verdicts = result.lines.map((l) => l.verdict);
    expect(verdicts.filter((v) => v === 'RECONCILING')).toHaveLength(3);
    expect(verdicts.filter((v) => v === 'DEFERRED')).toHaveLength(2);
    expect(starter.started).toHaveLength(3);
    const deferred = result.lines.filter((l) => l.verdict === 'DEFERRED');
    for (const line of deferred) expect(line.reason).toMatch(/3 of 3 remediation slots in use/);
    expect(notifier.sent.map((n) => n.event)).toEqual(['OPENED', 'OPENED', 'OPENED']);
    expect(log.lines.filter((e) => e.message === 'reconcile deferred by the blast radius')).toHaveLength(2);
    const record = await ledger.getIncident(deferred[0]?.incidentId as string);
    expect(record?.status).toBe('OBSERVED');
    expect(record?.events.map((e) => e.kind)).toContain('DEFERRED');
  });

  it('starts a deferred application at a later cycle once a slot is free', async () => {
    // Prepare: a first cycle fills the 3 slots; one remediation ends and frees its slot
    const { deps, starter, ledger } = depsFor(fleetConfig, stoppedFleet());
    const first = await reconcile(deps);
    const done = first.lines.find((l) => l.verdict === 'RECONCILING');
    await ledger.releaseRemediationSlot(done?.incidentId as string);
    // Act
    const second = await reconcile(deps);
    // Assess
    expect(second.lines.filter((l) => l.verdict === 'RECONCILING')).toHaveLength(1);
    expect(second.lines.filter((l) => l.verdict === 'DEFERRED')).toHaveLength(1);
    expect(starter.started).toHaveLength(4);
  });

  it('does not start an application held by an open fleet incident', async () => {
    // Prepare: a fleet incident whose members include a1
    const ledger = new MemoryLedger();
    const shares = { sources: ['topic orders'], sinks: [], vpcs: [] };
    await ledger.openFleetIncident(
      newFleetIncident({
        sightings: ['a1', 'x1', 'x2'].map((applicationName) => ({
          schemaVersion: 1 as const,
          applicationName,
          restartingSinceMs: T0,
          loopSinceMs: T0,
          lastSeenMs: T0,
          shares,
        })),
        limit: 2,
        watched: 10,
        windowMinutes: 10,
        trigger: { source: 'alarm', detail: 'restart-loop', atMs: T0 },
        nowMs: T0,
      }),
    );
    const msf = new FakeMsf().setApp(app({ name: 'a1', arn: arnIn(HOME, 'a1'), status: 'READY' }));
    const config = parseConfig({
      schemaVersion: 1,
      defaults: { mode: 'remediate', onDrift: { status: 'reconcile' } },
      applications: [{ name: 'a1' }],
    });
    const { deps, starter, notifier } = depsFor(config, msf, ledger);
    // Act
    const result = await reconcile(deps);
    // Assess
    expect(result.lines.map((l) => l.verdict)).toEqual(['DEFERRED']);
    expect(result.lines[0]?.reason).toMatch(/^Held by fleet incident fleet-/);
    expect(starter.started).toEqual([]);
    expect(notifier.sent).toEqual([]);
    expect(msf.mutations).toEqual([]);
    const fleet = await ledger.currentFleetIncident();
    expect(fleet?.held.map((h) => [h.applicationName, h.remediation])).toEqual([['a1', 'START']]);
  });

  it('frees the slot when the remediation workflow cannot be started', async () => {
    // Prepare: StartExecution fails for every application
    const { deps } = depsFor(fleetConfig, stoppedFleet());
    deps.starter = {
      start: async () => {
        throw new Error('ExecutionLimitExceeded');
      },
    };
    // Act
    const result = await reconcile(deps);
    // Assess: nothing started, and no slot stays taken: three other remediations can run at once
    expect(result.lines.map((l) => l.verdict)).not.toContain('RECONCILING');
    for (const probe of ['p1', 'p2', 'p3']) {
      const slot = await deps.ledger.acquireRemediationSlot(
        { incidentId: probe, applicationName: probe, expiresMs: T0 + 60 * MIN },
        3,
        T0 + 10 * MIN,
      );
      expect(slot.acquired).toBe(true);
    }
  });
});

/** An MSF whose ListApplications is refused (a member role that cannot be assumed, AccessDenied, throttling). */
class UnlistableMsf extends FakeMsf {
  constructor(readonly code: string) {
    super();
  }
  override async listApplications(): Promise<never> {
    this.calls.push('ListApplications');
    throw new MsfApiError('*', 'ListApplications', this.code, 'User is not authorized to perform ListApplications');
  }
}

describe('Function: reconcile (each cell listed on its own)', () => {
  const BROKEN = { accountId: '444455556666', region: 'eu-west-1' };
  const config = parseConfig({
    schemaVersion: 1,
    defaults: { mode: 'remediate', onDrift: { status: 'reconcile' } },
    applications: [
      { name: 'home1' },
      { name: 'orders', accountId: MEMBER.accountId, region: MEMBER.region },
      { name: 'clicks', accountId: BROKEN.accountId, region: BROKEN.region },
    ],
    fleet: {
      accounts: [
        { accountId: MEMBER.accountId, regions: [MEMBER.region], externalId: 'external-id-1' },
        { accountId: BROKEN.accountId, regions: [BROKEN.region], externalId: 'external-id-2' },
      ],
    },
  });

  function fleetOf(broken: MsfPort) {
    const home = new FakeMsf().setApp(app({ name: 'home1', arn: arnIn(HOME, 'home1'), status: 'READY' }));
    const member = new FakeMsf().setApp(app({ name: 'orders', arn: arnIn(MEMBER, 'orders'), status: 'READY' }));
    const cells = new FleetCells(config, HOME);
    const msf = new RoutedMsf(cells, (cell) =>
      cells.isHome(cell) ? home : cell.accountId === MEMBER.accountId ? member : broken,
    );
    const setup = depsFor(config, msf);
    setup.deps.cells = reconcilerCellsOf(cells, msf);
    return setup;
  }

  it('skips a cell that cannot be listed, naming the cell and the error, and reconciles the other cells', async () => {
    // Prepare
    const { deps, starter, log } = fleetOf(new UnlistableMsf('AccessDeniedException'));
    // Act
    const result = await reconcile(deps);
    // Assess
    const cell = `${BROKEN.accountId}.${BROKEN.region}`;
    expect(result.skippedCells).toEqual([{ cell, error: expect.stringContaining('AccessDeniedException') }]);
    expect(result.lines.map((l) => [l.applicationName, l.verdict])).toEqual([
      ['home1', 'RECONCILING'],
      [MEMBER_KEY, 'RECONCILING'],
      [`clicks@${cell}`, 'ERROR'],
    ]);
    expect(result.lines[2]?.reason).toContain(cell);
    expect(starter.started.map((s) => s.applicationName)).toEqual(['home1', MEMBER_KEY]);
    const problem = log.lines.find((l) => l.level === 'error');
    expect(problem?.message).toMatch(/cell not listed/);
    expect(problem?.extra).toEqual([{ cell, error: expect.stringContaining('AccessDeniedException') }]);
  });

  it('throws when no cell at all can be listed', async () => {
    // Prepare: ListApplications throttled everywhere
    const down = new UnlistableMsf('ThrottlingException');
    const cells = new FleetCells(config, HOME);
    const msf = new RoutedMsf(cells, () => down);
    const { deps } = depsFor(config, msf);
    deps.cells = reconcilerCellsOf(cells, msf);
    // Act + Assess
    await expect(reconcile(deps)).rejects.toThrow(/ThrottlingException/);
  });
});
