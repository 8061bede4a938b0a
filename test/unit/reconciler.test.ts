import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import { RecordingNotifier } from '#shared/adapters/recording-notifier.ts';
import { type PolicyOverride, parseConfig } from '#shared/config/schema.ts';
import { loadDesiredStates, type TerraformReader } from '#shared/desired/sources.ts';
import { parseTerraformState } from '#shared/desired/terraform.ts';
import type { DesiredApplicationState } from '#shared/domain/desired.ts';
import type { Incident } from '#shared/domain/incident.ts';
import type { ApplicationOperation, ApplicationState } from '#shared/domain/model.ts';
import {
  type ReconcileOptions,
  type ReconcileResult,
  type ReconcilerDeps,
  reconcile,
} from '#shared/domain/reconciler.ts';
import type { RemediationState } from '#shared/domain/remediation.ts';
import { MsfApiError, MUTATING_MSF_OPERATIONS } from '#shared/ports/msf.ts';
import type { RemediationStarter } from '#shared/ports/remediation-starter.ts';
import { app, CODE_7, MIN, op, systemRollback as systemRollbackOf, T0, UID_ERROR } from '../support/builders.ts';
import { CapturingLog, FakeMsf } from '../support/fakes.ts';

const TF_STATE = 's3://tf-state/streaming/terraform.tfstate';
const CORRUPT_STATE = fileURLToPath(new URL('../fixtures/tfstate/corrupt.tfstate', import.meta.url));
/** Time between two reconcile cycles (the schedule's rate). */
const CYCLE_MS = 5 * MIN;

/** Keeps every remediation the reconciler starts (the Step Functions execution, in AWS). */
class RecordingStarter implements RemediationStarter {
  readonly started: RemediationState[] = [];
  async start(state: RemediationState): Promise<void> {
    this.started.push(structuredClone(state));
  }
}

/** DescribeApplication fails with ThrottlingException for the next `failures` calls, then behaves. */
class ThrottledDescribeMsf extends FakeMsf {
  failures: number;

  constructor(failures: number) {
    super();
    this.failures = failures;
  }

  override async describeApplication(name: string) {
    if (this.failures > 0) {
      this.failures -= 1;
      this.calls.push(`DescribeApplication ${name}`);
      throw new MsfApiError(name, 'DescribeApplication', 'ThrottlingException', 'Rate exceeded');
    }
    return super.describeApplication(name);
  }
}

/** A RUNNING application at version 7 named `name`. */
function appNamed(name: string, overrides: Partial<ApplicationState> = {}): ApplicationState {
  return app({ name, arn: `arn:aws:kinesisanalytics:eu-west-1:123456789012:application/${name}`, ...overrides });
}

/** Failure mode 6 for the application `orders` with its full ARN (see `systemRollback` in builders.ts). */
function systemRollback() {
  return systemRollbackOf({ arn: appNamed('orders').arn });
}

/** An incident on `applicationName` still being remediated (e.g. by the detector). */
function remediatingIncident(applicationName: string): Incident {
  return {
    schemaVersion: 1,
    id: `${applicationName}-restart-loop`,
    applicationName,
    trigger: { source: 'alarm', detail: `flink-watchdog-${applicationName}-restart-loop`, atMs: T0 - MIN },
    openedMs: T0 - MIN,
    status: 'REMEDIATING',
    decision: { verdict: 'REMEDIATE', reason: 'restart loop', guards: [], nextSteps: [] },
    attempts: 1,
    actions: [],
    events: [],
  };
}

interface SetupOptions {
  /** Applications watched (config), declared in the Terraform state and present in MSF. @default ['orders'] */
  names?: readonly string[];
  /** The config's policy `defaults`. */
  defaults?: PolicyOverride;
  msf?: FakeMsf;
  /** Replaces the Terraform state reader (e.g. one returning problems). */
  reader?: TerraformReader;
  /** Replaces the whole desired-state source (config + Terraform). */
  desired?: ReconcilerDeps['desired'];
}

function setup(options: SetupOptions = {}) {
  const names = options.names ?? ['orders'];
  const msf = options.msf ?? new FakeMsf();
  for (const name of names) msf.setApp(appNamed(name));
  const config = parseConfig({
    schemaVersion: 1,
    defaults: options.defaults ?? {},
    applications: names.map((name) => ({ name })),
    drift: { terraformState: [TF_STATE] },
  });
  /** What the Terraform state declares per application (in sync with `appNamed` by default). */
  const declared = new Map<string, Partial<DesiredApplicationState>>(
    names.map((name) => [name, { status: 'RUNNING', versionId: 7 }]),
  );
  const tfReader: TerraformReader = async (location) => ({
    location,
    applications: [...declared].map(([name, d]) => ({
      applicationName: name,
      source: { kind: 'terraform', location, address: `aws_kinesisanalyticsv2_application.app["${name}"]` },
      ...d,
    })),
    problems: [],
    sensitivePaths: {},
  });
  const reader = options.reader ?? tfReader;
  const ledger = new MemoryLedger();
  const notifier = new RecordingNotifier();
  const starter = new RecordingStarter();
  const log = new CapturingLog();
  const time = { t: T0 + 10 * MIN };
  const deps: ReconcilerDeps = {
    msf,
    ledger,
    notifier,
    starter,
    config,
    clock: { now: () => time.t },
    log,
    desired: options.desired ?? (() => loadDesiredStates(config, reader)),
  };
  /** One scheduled cycle; `msf.calls` then holds this cycle's calls only, and the clock moves on by CYCLE_MS. */
  const cycle = async (o?: ReconcileOptions): Promise<ReconcileResult> => {
    msf.calls.length = 0;
    const result = await reconcile(deps, o);
    time.t += CYCLE_MS;
    return result;
  };
  const declare = (name: string, patch: Partial<DesiredApplicationState>) => {
    declared.set(name, { ...declared.get(name), ...patch });
  };
  /** Changes what MSF runs (the next DescribeApplication and ListApplications see it). */
  const change = (name: string, patch: Partial<ApplicationState>, operations?: ApplicationOperation[]) => {
    const current = msf.apps.get(name);
    if (!current) throw new Error(`FakeMsf has no application ${name}`);
    Object.assign(current, patch);
    if (operations) msf.operations.set(name, operations);
  };
  return { msf, ledger, notifier, starter, log, config, deps, cycle, declare, change };
}

function verdicts(result: ReconcileResult): Record<string, string> {
  return Object.fromEntries(result.lines.map((l) => [l.applicationName, l.verdict]));
}

function line(result: ReconcileResult, name = 'orders') {
  const found = result.lines.find((l) => l.applicationName === name);
  if (!found) throw new Error(`no line for ${name}: ${JSON.stringify(result.lines)}`);
  return found;
}

function mutatingCalls(msf: FakeMsf): string[] {
  return msf.calls.filter((c) => MUTATING_MSF_OPERATIONS.has(c.split(' ')[0] ?? ''));
}

/** The applications DescribeApplication was called for, sorted (the reconciler looks at several concurrently). */
function described(msf: FakeMsf): string[] {
  return msf.calls
    .filter((c) => c.startsWith('DescribeApplication '))
    .map((c) => c.split(' ')[1] ?? '')
    .sort();
}

describe('Function: reconcile', () => {
  describe('cheap first pass', () => {
    it('describes every application on the first cycle, and counts ListApplications and each describe', async () => {
      // Prepare
      const s = setup({ names: ['orders', 'payments', 'clicks'] });
      // Act
      const result = await s.cycle();
      // Assess
      expect(verdicts(result)).toEqual({ orders: 'NO_DRIFT', payments: 'NO_DRIFT', clicks: 'NO_DRIFT' });
      expect(described(s.msf)).toEqual(['clicks', 'orders', 'payments']);
      expect(result.msfCalls).toBe(s.msf.calls.length);
      // ListApplications, then DescribeApplication, ListApplicationOperations and ListTagsForResource per application.
      expect(result.msfCalls).toBe(1 + 3 * 3);
    });

    it('makes only the ListApplications calls on a second cycle when nothing changed (120 applications: 3 pages)', async () => {
      // Prepare
      const names = Array.from({ length: 120 }, (_, i) => `app-${String(i).padStart(3, '0')}`);
      const s = setup({ names });
      await s.cycle();
      // Act
      const result = await s.cycle();
      // Assess
      expect(s.msf.calls).toEqual(['ListApplications']);
      expect(result.msfCalls).toBe(3);
      expect(result.lines).toHaveLength(120);
      expect(result.lines.every((l) => l.verdict === 'UNCHANGED')).toBe(true);
      expect(s.notifier.sent).toEqual([]);
    });

    it('describes only the applications whose status or version changed', async () => {
      // Prepare
      const s = setup({ names: ['orders', 'payments', 'clicks'] });
      await s.cycle();
      s.change('payments', { status: 'READY' });
      s.change('clicks', { versionId: 8 });
      // Act
      const result = await s.cycle();
      // Assess
      expect(described(s.msf)).toEqual(['clicks', 'payments']);
      expect(s.msf.calls[0]).toBe('ListApplications');
      expect([...s.msf.calls].sort()).toEqual([
        'DescribeApplication clicks',
        'DescribeApplication payments',
        'ListApplicationOperations clicks',
        'ListApplicationOperations payments',
        'ListApplications',
        'ListTagsForResource arn:aws:kinesisanalytics:eu-west-1:123456789012:application/clicks',
        'ListTagsForResource arn:aws:kinesisanalytics:eu-west-1:123456789012:application/payments',
      ]);
      expect(result.msfCalls).toBe(7);
      expect(verdicts(result)).toEqual({ orders: 'UNCHANGED', payments: 'REPORTED', clicks: 'PENDING' });
    });

    it('describes an application again when its declaration changed (a new Terraform state)', async () => {
      // Prepare
      const s = setup({ names: ['orders', 'payments'] });
      await s.cycle();
      s.change('orders', { parallelism: 4 });
      s.declare('orders', { parallelism: 4 });
      // Act
      const result = await s.cycle();
      // Assess
      expect(described(s.msf)).toEqual(['orders']);
      expect(verdicts(result)).toEqual({ orders: 'NO_DRIFT', payments: 'UNCHANGED' });
    });

    it('describes a forced application (a CloudTrail event) although ListApplications shows no change', async () => {
      // Prepare
      const s = setup({ names: ['orders', 'payments'] });
      await s.cycle();
      s.change('orders', { parallelism: 8 });
      // Act
      const result = await s.cycle({ force: ['orders'] });
      // Assess
      expect(s.msf.calls).toEqual([
        'ListApplications',
        'DescribeApplication orders',
        'ListApplicationOperations orders',
        'ListTagsForResource arn:aws:kinesisanalytics:eu-west-1:123456789012:application/orders',
      ]);
      expect(result.msfCalls).toBe(4);
      expect(verdicts(result)).toEqual({ orders: 'NO_DRIFT', payments: 'UNCHANGED' });
    });
  });

  describe('debounce', () => {
    it('reports configuration drift only when the second observation agrees', async () => {
      // Prepare
      const s = setup();
      s.declare('orders', { parallelism: 4 });
      s.change('orders', { parallelism: 8 });
      // Act
      const first = await s.cycle();
      const notifiedAfterFirst = s.notifier.sent.length;
      const second = await s.cycle();
      // Assess
      expect(line(first).verdict).toBe('PENDING');
      expect(line(first).report?.severity).toBe('configuration');
      expect(notifiedAfterFirst).toBe(0);
      expect(described(s.msf)).toEqual(['orders']);
      expect(line(second).verdict).toBe('REPORTED');
      expect(line(second).incidentId).toBeDefined();
      expect(s.notifier.sent).toHaveLength(1);
      expect(s.notifier.sent[0]).toMatchObject({ event: 'NOTIFIED', title: 'orders: drift (configuration)' });
      expect(s.notifier.sent[0]?.text).toContain('Terraform declares parallelism 4; MSF runs with Parallelism 8');
    });

    it('reports version drift only when the second observation agrees', async () => {
      // Prepare
      const s = setup();
      s.change('orders', { versionId: 9 });
      // Act
      const first = await s.cycle();
      const second = await s.cycle();
      // Assess
      expect(line(first).verdict).toBe('PENDING');
      expect(line(first).report?.severity).toBe('code/version');
      expect(line(second).verdict).toBe('REPORTED');
      expect(s.notifier.sent.map((n) => n.title)).toEqual(['orders: drift (code/version)']);
    });

    it('restarts the debounce when the second observation sees a different drift', async () => {
      // Prepare
      const s = setup();
      s.declare('orders', { parallelism: 4 });
      s.change('orders', { parallelism: 8 });
      await s.cycle();
      s.change('orders', { parallelism: 6 });
      // Act
      const second = await s.cycle();
      const third = await s.cycle();
      // Assess
      expect(line(second).verdict).toBe('PENDING');
      expect(line(third).verdict).toBe('REPORTED');
      expect(s.notifier.sent).toHaveLength(1);
      expect(s.notifier.sent[0]?.text).toContain('MSF runs with Parallelism 6');
    });

    it('reports status drift at once', async () => {
      // Prepare
      const s = setup();
      s.change('orders', { status: 'READY' });
      // Act
      const result = await s.cycle();
      // Assess
      expect(line(result).verdict).toBe('REPORTED');
      expect(line(result).report?.severity).toBe('status');
      expect(s.notifier.sent.map((n) => [n.event, n.title])).toEqual([['NOTIFIED', 'orders: drift (status)']]);
      expect(s.starter.started).toEqual([]);
    });

    it('does not report the same drift again, whether or not the application is described', async () => {
      // Prepare
      const s = setup();
      s.change('orders', { status: 'READY' });
      await s.cycle();
      // Act
      const unchanged = await s.cycle();
      const forced = await s.cycle({ force: ['orders'] });
      // Assess
      expect(line(unchanged).verdict).toBe('ALREADY_REPORTED');
      expect(line(forced).verdict).toBe('ALREADY_REPORTED');
      expect(described(s.msf)).toEqual(['orders']);
      expect(s.notifier.sent).toHaveLength(1);
      expect(await s.ledger.listIncidents({ applicationName: 'orders' })).toHaveLength(1);
    });

    it('says NO_DRIFT once the drift went away, and logs that it resolved', async () => {
      // Prepare
      const s = setup();
      s.change('orders', { status: 'READY' });
      await s.cycle();
      s.change('orders', { status: 'RUNNING' });
      // Act
      const result = await s.cycle();
      // Assess
      expect(line(result).verdict).toBe('NO_DRIFT');
      expect(s.log.lines.map((l) => l.message)).toContain('drift resolved');
      expect(s.notifier.sent).toHaveLength(1);
    });

    it('reports a drift again after it went away and came back with different values', async () => {
      // Prepare
      const s = setup();
      s.declare('orders', { parallelism: 4 });
      s.change('orders', { parallelism: 8 });
      await s.cycle();
      await s.cycle(); // REPORTED
      s.change('orders', { parallelism: 4 });
      await s.cycle({ force: ['orders'] }); // NO_DRIFT
      s.change('orders', { parallelism: 6 });
      // Act
      const first = await s.cycle({ force: ['orders'] });
      const second = await s.cycle();
      // Assess
      expect(line(first).verdict).toBe('PENDING');
      expect(line(second).verdict).toBe('REPORTED');
      expect(s.notifier.sent).toHaveLength(2);
    });
  });

  describe('policy per drift kind', () => {
    it('ignores configuration drift under onDrift.configuration ignore: no incident, no notification', async () => {
      // Prepare
      const s = setup({ defaults: { onDrift: { configuration: 'ignore' } } });
      s.declare('orders', { parallelism: 4 });
      s.change('orders', { parallelism: 8 });
      await s.cycle();
      // Act
      const result = await s.cycle();
      // Assess
      expect(line(result).verdict).toBe('IGNORED');
      expect(line(result).reason).toBe('onDrift.configuration is ignore');
      expect(s.notifier.sent).toEqual([]);
      expect(await s.ledger.listIncidents()).toEqual([]);
    });

    it('starts an application stopped out of band from the latest snapshot under onDrift.status reconcile', async () => {
      // Prepare
      const s = setup({ defaults: { mode: 'remediate', onDrift: { status: 'reconcile' } } });
      s.declare('orders', { versionId: 9 });
      s.change('orders', { status: 'READY', versionId: 9 }, [
        op({ operation: 'StopApplication', status: 'SUCCESSFUL', startMs: T0, endMs: T0 + MIN }),
      ]);
      // Act
      const result = await s.cycle();
      await s.cycle(); // the workflow has not run yet: still READY
      // Assess
      expect(line(result).verdict).toBe('RECONCILING');
      const incidents = await s.ledger.listIncidents({ applicationName: 'orders' });
      expect(incidents).toHaveLength(1);
      expect(incidents[0]).toMatchObject({
        id: line(result).incidentId,
        status: 'REMEDIATING',
        trigger: { source: 'schedule' },
        remediation: {
          kind: 'START',
          expectVersionId: 9,
          start: { restoreType: 'RESTORE_FROM_LATEST_SNAPSHOT', allowNonRestoredState: false },
        },
      });
      expect(s.starter.started).toHaveLength(1);
      expect(s.starter.started[0]).toMatchObject({
        incidentId: line(result).incidentId,
        applicationName: 'orders',
        phase: 'LOCK',
        expectVersionId: 9,
        steps: [
          {
            call: 'StartApplication',
            start: { restoreType: 'RESTORE_FROM_LATEST_SNAPSHOT', allowNonRestoredState: false },
            awaitStatus: 'RUNNING',
          },
        ],
      });
      expect(s.notifier.sent.map((n) => n.event)).toEqual(['OPENED']);
      expect(s.msf.mutations).toEqual([]);
    });

    it('only says what it would have done in observe mode', async () => {
      // Prepare
      const s = setup({ defaults: { mode: 'observe', onDrift: { status: 'reconcile' } } });
      s.change('orders', { status: 'READY' });
      // Act
      const result = await s.cycle();
      // Assess
      expect(line(result).verdict).toBe('REPORTED');
      expect(s.starter.started).toEqual([]);
      expect(s.msf.mutations).toEqual([]);
      const incidents = await s.ledger.listIncidents({ applicationName: 'orders' });
      expect(incidents).toHaveLength(1);
      expect(incidents[0]?.status).toBe('OBSERVED');
      expect(incidents[0]?.decision.reason).toContain('Would have started it from the latest snapshot (observe mode)');
      expect(s.notifier.sent.map((n) => n.event)).toEqual(['OBSERVED']);
    });

    it('in approve mode starts nothing and asks no one: tells people what to start and how (NOTIFIED)', async () => {
      // Prepare
      const s = setup({ defaults: { mode: 'approve', onDrift: { status: 'reconcile' } } });
      s.change('orders', { status: 'READY' });
      // Act
      const result = await s.cycle();
      // Assess
      expect(line(result).verdict).toBe('REPORTED');
      expect(s.starter.started).toEqual([]);
      expect(s.msf.mutations).toEqual([]);
      const incidents = await s.ledger.listIncidents({ applicationName: 'orders' });
      expect(incidents).toHaveLength(1);
      expect(incidents[0]?.status).toBe('NOTIFIED');
      expect(incidents[0]?.approval).toBeUndefined();
      expect(incidents[0]?.decision.reason).toContain('Approve mode: the reconciler does not start it by itself');
      expect(s.notifier.sent.map((n) => n.event)).toEqual(['NOTIFIED']);
      expect(s.notifier.sent[0]?.nextSteps[0]).toContain(
        'aws kinesisanalyticsv2 start-application --application-name orders',
      );
    });

    it('does not start an application while its automation is paused: it reports, then starts it once resumed', async () => {
      // Prepare
      const s = setup({ defaults: { mode: 'remediate', onDrift: { status: 'reconcile' } } });
      await s.cycle();
      await s.ledger.pauseAutomation('orders', 'alice@example.com', 'release freeze', T0);
      s.change('orders', { status: 'READY' });
      // Act
      const paused = await s.cycle();
      const stillPaused = await s.cycle();
      const describedWhilePaused = described(s.msf);
      await s.ledger.resumeAutomation('orders');
      const resumed = await s.cycle();
      // Assess
      expect([paused, stillPaused, resumed].map((r) => line(r).verdict)).toEqual([
        'REPORTED',
        'ALREADY_REPORTED',
        'RECONCILING',
      ]);
      expect(line(paused).reason).toMatch(
        /^automation paused by alice@example\.com: release freeze — would have started it from the latest snapshot/,
      );
      expect(describedWhilePaused).toEqual(['orders']); // looked at again every cycle while paused
      const observed = await s.ledger.getIncident(line(paused).incidentId ?? '');
      expect(observed).toMatchObject({
        status: 'OBSERVED',
        decision: { verdict: 'NONE', wouldHave: { kind: 'START', expectVersionId: 7 } },
      });
      expect(observed?.remediation).toBeUndefined();
      expect(s.starter.started).toHaveLength(1);
      expect(s.starter.started[0]?.incidentId).toBe(line(resumed).incidentId);
      expect(s.notifier.sent.map((n) => [n.event, n.title])).toEqual([
        ['OBSERVED', 'orders: stopped out of band (automation paused)'],
        ['OPENED', 'orders: stopped out of band → start from the latest snapshot'],
      ]);
      expect(s.msf.mutations).toEqual([]);
    });

    it('leaves an application READY after a FAILED operation to the detector', async () => {
      // Prepare
      const s = setup({ defaults: { mode: 'remediate', onDrift: { status: 'reconcile' } } });
      s.change('orders', { status: 'READY' }, [
        op({ operation: 'UpdateApplication', status: 'FAILED', startMs: T0, endMs: T0 + MIN, errorString: UID_ERROR }),
      ]);
      // Act
      const result = await s.cycle();
      // Assess
      expect(line(result).verdict).toBe('IGNORED');
      expect(line(result).reason).toBe('UpdateApplication failed: the detector handles it');
      expect(s.starter.started).toEqual([]);
      expect(s.notifier.sent).toEqual([]);
      expect(s.msf.mutations).toEqual([]);
    });

    it('reconciles when a successful StopApplication came after an older failed operation', async () => {
      // Prepare
      const s = setup({ defaults: { mode: 'remediate', onDrift: { status: 'reconcile' } } });
      s.change('orders', { status: 'READY' }, [
        op({ operation: 'UpdateApplication', status: 'FAILED', startMs: T0 - 60 * MIN, errorString: UID_ERROR }),
        op({ operation: 'StopApplication', status: 'SUCCESSFUL', startMs: T0 }),
      ]);
      // Act
      const result = await s.cycle();
      // Assess
      expect(line(result).verdict).toBe('RECONCILING');
      expect(s.starter.started).toHaveLength(1);
    });

    it('does not reconcile an application with an open incident: it reports the drift instead', async () => {
      // Prepare
      const s = setup({ defaults: { mode: 'remediate', onDrift: { status: 'reconcile' } } });
      await s.ledger.createIncident(remediatingIncident('orders'));
      s.change('orders', { status: 'READY' });
      // Act
      const result = await s.cycle();
      // Assess
      expect(line(result).verdict).toBe('REPORTED');
      expect(s.starter.started).toEqual([]);
      expect(s.msf.mutations).toEqual([]);
      expect(s.notifier.sent.map((n) => n.event)).toEqual(['NOTIFIED']);
    });

    it('does not start an application declared READY that MSF runs: it reports it', async () => {
      // Prepare
      const s = setup({ defaults: { mode: 'remediate', onDrift: { status: 'reconcile' } } });
      s.declare('orders', { status: 'READY' });
      // Act
      const result = await s.cycle();
      // Assess
      expect(line(result).verdict).toBe('REPORTED');
      expect(line(result).report?.fields.map((f) => [f.field, f.desired, f.actual])).toEqual([
        ['status', 'READY', 'RUNNING'],
      ]);
      expect(s.starter.started).toEqual([]);
      expect(s.msf.mutations).toEqual([]);
    });
  });

  describe('version drift and rollbacks', () => {
    it("reports MSF's system rollback and takes no action, even under onDrift.status reconcile (scenario 6)", async () => {
      // Prepare
      const s = setup({ defaults: { mode: 'remediate', onDrift: { status: 'reconcile' } } });
      const { actual, operations } = systemRollback();
      s.msf.setApp(actual, { operations });
      s.declare('orders', { status: 'RUNNING', versionId: 7, code: CODE_7, systemRollbackEnabled: true });
      const calls: string[] = [];
      // Act
      const first = await s.cycle();
      calls.push(...s.msf.calls);
      const second = await s.cycle();
      calls.push(...s.msf.calls);
      // Assess
      expect(line(first).verdict).toBe('PENDING');
      expect(line(second).verdict).toBe('REPORTED');
      expect(line(second).report?.severity).toBe('code/version');
      expect(line(second).report?.rollback).toMatchObject({
        kind: 'system',
        fromVersionId: 7,
        toVersionId: 6,
        failedOperation: 'UpdateApplication',
      });
      expect(s.notifier.sent).toHaveLength(1);
      expect(s.notifier.sent[0]?.text).toContain(
        'MSF rolled back from version 7 to 6 at 14:02 UTC after UpdateApplication failed',
      );
      expect(s.notifier.sent[0]?.text).toContain('so the next terraform apply redeploys the failing code');
      expect(s.starter.started).toEqual([]);
      expect(s.msf.mutations).toEqual([]);
      expect(calls.filter((c) => MUTATING_MSF_OPERATIONS.has(c.split(' ')[0] ?? ''))).toEqual([]);
    });

    it('does not start an application a failed system rollback left READY', async () => {
      // Prepare
      const s = setup({ defaults: { mode: 'remediate', onDrift: { status: 'reconcile' } } });
      const { actual, operations } = systemRollback();
      const failedRollback = operations.map((o) =>
        o.operationId === 'rb-1' ? { ...o, status: 'FAILED' as const } : o,
      );
      s.msf.setApp({ ...actual, status: 'READY', versionId: 7 }, { operations: failedRollback });
      s.declare('orders', { status: 'RUNNING', versionId: 7, code: CODE_7 });
      // Act
      const result = await s.cycle();
      // Assess
      expect(line(result).verdict).toBe('IGNORED');
      expect(s.starter.started).toEqual([]);
      expect(s.msf.mutations).toEqual([]);
    });
  });

  describe('scope and failures', () => {
    it('reconciles only the applications listed in the config', async () => {
      // Prepare
      const shadow: DesiredApplicationState = {
        applicationName: 'shadow',
        source: { kind: 'terraform', location: TF_STATE },
        status: 'RUNNING',
      };
      const orders: DesiredApplicationState = { ...shadow, applicationName: 'orders', versionId: 7 };
      const s = setup({ desired: async () => ({ states: [orders, shadow], problems: [] }) });
      s.msf.setApp(appNamed('shadow', { status: 'READY' }));
      // Act
      const result = await s.cycle();
      // Assess
      expect(verdicts(result)).toEqual({ orders: 'NO_DRIFT' });
      expect(described(s.msf)).toEqual(['orders']);
      expect(s.notifier.sent).toEqual([]);
    });

    it('reconciles only the applications named in `only`', async () => {
      // Prepare
      const s = setup({ names: ['orders', 'payments'] });
      // Act
      const result = await s.cycle({ only: ['payments'] });
      // Assess
      expect(verdicts(result)).toEqual({ payments: 'NO_DRIFT' });
      expect(described(s.msf)).toEqual(['payments']);
    });

    it('says MISSING, naming the application and its declaration, for a declared application MSF does not list', async () => {
      // Prepare
      const s = setup({ names: ['orders', 'payments'] });
      s.msf.apps.delete('payments');
      // Act
      const result = await s.cycle();
      // Assess
      expect(line(result, 'payments').verdict).toBe('MISSING');
      expect(line(result, 'payments').reason).toBe(
        `payments is declared (terraform ${TF_STATE}) but is not an application in this account and region`,
      );
      expect(described(s.msf)).toEqual(['orders']);
      expect(s.msf.mutations).toEqual([]);
    });

    it('says ERROR when DescribeApplication fails, and looks at the application again next cycle', async () => {
      // Prepare
      const s = setup({ msf: new ThrottledDescribeMsf(1) });
      // Act
      const first = await s.cycle();
      const second = await s.cycle();
      // Assess
      expect(line(first).verdict).toBe('ERROR');
      expect(line(first).reason).toContain('ThrottlingException');
      expect(line(second).verdict).toBe('NO_DRIFT');
      expect(described(s.msf)).toEqual(['orders']);
    });

    it('restarts the debounce of a pending drift after a failed describe: no report on an unconfirmed drift', async () => {
      // Prepare
      const msf = new ThrottledDescribeMsf(0);
      const s = setup({ msf });
      s.declare('orders', { parallelism: 4 });
      s.change('orders', { parallelism: 8 });
      await s.cycle(); // PENDING
      msf.failures = 1;
      // Act
      const failed = await s.cycle();
      const after = await s.cycle();
      const confirmed = await s.cycle();
      // Assess
      expect(line(failed).verdict).toBe('ERROR');
      expect(line(after).verdict).toBe('PENDING');
      expect(line(confirmed).verdict).toBe('REPORTED');
      expect(s.notifier.sent).toHaveLength(1);
    });
  });

  describe('desired-state problems', () => {
    it('returns a corrupt Terraform state as a problem naming the file, and makes no MSF mutating call', async () => {
      // Prepare
      const s = setup({
        defaults: { mode: 'remediate', onDrift: { status: 'reconcile' } },
        reader: async (location) => parseTerraformState(readFileSync(CORRUPT_STATE, 'utf8'), location),
      });
      // Act
      const result = await s.cycle();
      // Assess
      expect(result.problems).toHaveLength(1);
      expect(result.problems[0]?.location).toBe(TF_STATE);
      expect(result.problems[0]?.message).toMatch(
        /^Terraform state s3:\/\/tf-state\/streaming\/terraform\.tfstate: not valid JSON.*corrupt or truncated/,
      );
      expect(mutatingCalls(s.msf)).toEqual([]);
      expect(s.msf.mutations).toEqual([]);
      expect(s.starter.started).toEqual([]);
    });

    it('returns a watched application absent from the Terraform state as a problem naming both', async () => {
      // Prepare
      const s = setup({
        reader: async (location) => ({ location, applications: [], problems: [], sensitivePaths: {} }),
      });
      // Act
      const result = await s.cycle();
      // Assess
      expect(result.problems).toEqual([
        { location: TF_STATE, address: 'orders', message: `orders is watched but absent from ${TF_STATE}` },
      ]);
      expect(s.msf.mutations).toEqual([]);
      expect(s.starter.started).toEqual([]);
    });

    it('takes no action on an application whose desired state could not be read, even with reconcile on', async () => {
      // Prepare: stopped out of band; the Terraform state is corrupt, so what is desired is unknown.
      const s = setup({
        defaults: { mode: 'remediate', onDrift: { status: 'reconcile' } },
        reader: async (location) => parseTerraformState(readFileSync(CORRUPT_STATE, 'utf8'), location),
      });
      s.change('orders', { status: 'READY' });
      // Act
      const result = await s.cycle();
      // Assess
      expect(line(result)).toMatchObject({ verdict: 'ERROR' });
      expect(line(result).reason).toContain('no action taken');
      expect(s.starter.started).toEqual([]);
      expect(s.notifier.sent).toEqual([]);
    });
  });

  describe('desired status tag', () => {
    it('takes the desired status from the flink-watchdog:desired-status tag over the config default', async () => {
      // Prepare: the config wants RUNNING (its default); the application's tag says READY on purpose.
      const s = setup({
        reader: async (location) => ({ location, applications: [], problems: [], sensitivePaths: {} }),
      });
      const config = parseConfig({ schemaVersion: 1, applications: [{ name: 'orders' }] });
      s.deps.config = config;
      s.deps.desired = () =>
        loadDesiredStates(
          config,
          async () => ({ location: '', applications: [], problems: [], sensitivePaths: {} }),
          [],
        );
      s.change('orders', { status: 'READY' });
      s.msf.tags.set(`${'arn:aws:kinesisanalytics:eu-west-1:123456789012:application/'}orders`, {
        'flink-watchdog:desired-status': 'READY',
      });
      // Act
      const result = await s.cycle();
      // Assess
      expect(line(result).verdict).toBe('NO_DRIFT');
      expect(line(result).report?.source).toMatchObject({ kind: 'tag' });
    });
  });

  describe('a runbook stop', () => {
    it('is not undone: an application a person stopped through a runbook command is reported, not restarted', async () => {
      // Prepare
      const s = setup({ defaults: { mode: 'remediate', onDrift: { status: 'reconcile' } } });
      await s.cycle();
      const stop = { kind: 'STOP' as const, expectVersionId: 7 };
      await s.ledger.createIncident({
        ...remediatingIncident('orders'),
        id: 'orders-runbook-stop',
        trigger: { source: 'runbook', detail: 'bob@example.com: maintenance window', atMs: T0 },
        status: 'RESOLVED',
        closedMs: T0 + MIN,
        remediation: stop,
        decision: { verdict: 'REMEDIATE', reason: 'stop', remediation: stop, guards: [], nextSteps: [] },
      });
      s.change('orders', { status: 'READY' });
      // Act
      const result = await s.cycle();
      // Assess
      expect(line(result)).toMatchObject({ verdict: 'IGNORED' });
      expect(line(result).reason).toContain('stopped by runbook command (bob@example.com: maintenance window');
      expect(s.starter.started).toEqual([]);
    });
  });

  describe('drift episodes', () => {
    it('reports the same drift again when it comes back after going away', async () => {
      // Prepare
      const s = setup();
      await s.cycle();
      s.change('orders', { status: 'READY' });
      const first = await s.cycle();
      s.change('orders', { status: 'RUNNING' });
      const gone = await s.cycle();
      s.change('orders', { status: 'READY' });
      // Act
      const again = await s.cycle();
      // Assess
      expect([line(first).verdict, line(gone).verdict, line(again).verdict]).toEqual([
        'REPORTED',
        'NO_DRIFT',
        'REPORTED',
      ]);
      expect(line(again).incidentId).not.toBe(line(first).incidentId);
      expect(s.notifier.sent).toHaveLength(2);
    });

    it('starts an application stopped out of band a second time at the same version', async () => {
      // Prepare
      const s = setup({ defaults: { mode: 'remediate', onDrift: { status: 'reconcile' } } });
      await s.cycle();
      s.change('orders', { status: 'READY' });
      const first = await s.cycle();
      const incident = await s.ledger.getIncident(line(first).incidentId ?? '');
      await s.ledger.saveIncident({ ...(incident as Incident), status: 'RESOLVED', closedMs: T0 + 30 * MIN });
      s.change('orders', { status: 'RUNNING' });
      await s.cycle();
      s.change('orders', { status: 'READY' });
      // Act
      const second = await s.cycle();
      // Assess
      expect([line(first).verdict, line(second).verdict]).toEqual(['RECONCILING', 'RECONCILING']);
      expect(s.starter.started).toHaveLength(2);
    });

    it('closes the incident and tries again next cycle when the workflow cannot be started', async () => {
      // Prepare
      const s = setup({ defaults: { mode: 'remediate', onDrift: { status: 'reconcile' } } });
      await s.cycle();
      s.change('orders', { status: 'READY' });
      let failures = 1;
      const start = s.starter.start.bind(s.starter);
      s.starter.start = async (state) => {
        if (failures-- > 0) throw Object.assign(new Error('too many executions'), { name: 'ExecutionLimitExceeded' });
        return start(state);
      };
      // Act
      const failed = await s.cycle();
      const retried = await s.cycle();
      // Assess
      expect([line(failed).verdict, line(retried).verdict]).toEqual(['ERROR', 'RECONCILING']);
      expect(line(failed).reason).toContain('ExecutionLimitExceeded');
      expect(s.starter.started).toHaveLength(1);
      expect((await s.ledger.getIncident(line(failed).incidentId ?? ''))?.status).toBe('ESCALATED');
      expect((await s.ledger.openIncident('orders'))?.id).toBe(line(retried).incidentId);
    });
  });
});
