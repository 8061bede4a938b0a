import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRemediationHandler } from '#functions/remediation/handler.ts';
import { runScenario } from '#sandbox/drill.ts';
import { type LocalLedgerTable, startLedgerTable } from '#sandbox/dynalite.ts';
import { loadScenario } from '#sandbox/scenario.ts';
import { LocalWorkflow } from '#sandbox/workflow.ts';
import { synthesizedWorkflow } from '#sandbox/workflow-definition.ts';
import { DynamoDbLedger } from '#shared/adapters/dynamodb-ledger.ts';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import { RecordingNotifier } from '#shared/adapters/recording-notifier.ts';
import { parseConfig } from '#shared/config/schema.ts';
import type { RemediationAction } from '#shared/domain/decision.ts';
import type { Incident } from '#shared/domain/incident.ts';
import { initialRemediationState, type RemediationState } from '#shared/domain/remediation.ts';
import type { Ledger } from '#shared/ports/ledger.ts';
import { app, MIN, T0 } from '../support/builders.ts';
import { CapturingLog, FakeMetrics, FakeMsf } from '../support/fakes.ts';

const CONFIG = parseConfig({ schemaVersion: 1, defaults: { mode: 'remediate' }, applications: [{ name: 'orders' }] });
const FORCE_STOP: RemediationAction = {
  kind: 'FORCE_STOP_AND_RESTART',
  expectVersionId: 7,
  start: { restoreType: 'RESTORE_FROM_LATEST_SNAPSHOT', allowNonRestoredState: false },
};

function incident(id: string): Incident {
  return {
    schemaVersion: 1,
    id,
    applicationName: 'orders',
    trigger: { source: 'alarm', detail: 'flink-watchdog-orders-restart-loop', atMs: T0 },
    openedMs: T0,
    status: 'REMEDIATING',
    decision: { verdict: 'REMEDIATE', reason: 'restart loop', remediation: FORCE_STOP, guards: [], nextSteps: [] },
    remediation: FORCE_STOP,
    attempts: 1,
    actions: [],
    events: [],
  };
}

/** The synthesized workflow bound to the real remediation handler over fakes, with a hand-moved clock. */
function harness(ledger: Ledger, wrap?: (step: (e: unknown) => Promise<RemediationState>) => typeof step) {
  const time = { t: T0 + MIN };
  // The force stop MSF accepts (operation stop-1) is still in progress whenever the workflow polls.
  const msf = new FakeMsf().setApp(app({ name: 'orders', versionId: 7 }), {
    operations: [{ operationId: 'stop-1', operation: 'StopApplication', status: 'IN_PROGRESS' }],
  });
  const notifier = new RecordingNotifier();
  const handler = createRemediationHandler({
    msf,
    metrics: new FakeMetrics(),
    ledger,
    notifier,
    config: CONFIG,
    clock: { now: () => time.t },
    log: new CapturingLog(),
  });
  const step = wrap ? wrap(handler) : handler;
  const workflow = new LocalWorkflow({ workflow: synthesizedWorkflow(CONFIG), step, clock: { now: () => time.t } });
  return { msf, notifier, workflow, time };
}

describe('Workflow: the synthesized remediation state machine, run locally', () => {
  it('carries a rollback incident through lock → act → wait/poll → verify → release → notify', async () => {
    // Prepare
    const scenario = loadScenario('bad-config-change');
    // Act
    const report = await runScenario(scenario);
    // Assess
    expect(report.executions).toHaveLength(1);
    const x = report.executions[0];
    expect(x?.status).toBe('SUCCEEDED');
    expect(x?.input.steps.map((s) => s.call)).toEqual(['RollbackApplication']);
    const tasks = x?.path.filter((s) => ['Lock', 'Act', 'VerifyHealthy', 'ReleaseLock', 'Notify'].includes(s));
    expect(tasks).toEqual(['Lock', 'Act', 'VerifyHealthy', 'ReleaseLock', 'Notify']);
    expect(x?.path).toContain('PollStatus');
    expect(x?.path).toContain('WaitBeforeNextStep');
    expect(x?.path.at(-1)).toBe('Recovered');
    expect(report.incidents[0]?.status).toBe('RESOLVED');
  });

  it('carries a force-stop-and-restart incident through both MSF calls, each awaited', async () => {
    // Prepare
    const scenario = loadScenario('external-outage-recovers');
    // Act
    const report = await runScenario(scenario);
    // Assess
    const x = report.executions[0];
    expect(x?.status).toBe('SUCCEEDED');
    expect(x?.input.steps.map((s) => s.call)).toEqual(['StopApplication', 'StartApplication']);
    expect(x?.path.filter((s) => s === 'Act')).toHaveLength(2);
    const firstVerify = x?.path.indexOf('VerifyHealthy') ?? -1;
    const lastAct = x?.path.lastIndexOf('Act') ?? -1;
    expect(x?.path.slice(lastAct, firstVerify)).toContain('PollStatus');
    expect(x?.path.at(-1)).toBe('Recovered');
    expect(report.actions.map((a) => a.operation)).toEqual(['StopApplication', 'StartApplication']);
  });

  it('retries a throttled step, then goes on as if nothing happened', async () => {
    // Prepare: the ledger throttles the first poll once.
    const ledger = new MemoryLedger();
    await ledger.createIncident(incident('orders-1'));
    let throttled = 0;
    let polls = 0;
    const h = harness(ledger, (step) => async (e) => {
      if ((e as RemediationState).phase === 'AWAIT') {
        polls += 1;
        if (throttled === 0) {
          throttled += 1;
          throw Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' });
        }
      }
      return step(e);
    });
    // Act
    await h.workflow.start(initialRemediationState(incident('orders-1'), FORCE_STOP));
    await h.workflow.settle();
    h.time.t += 15_000;
    await h.workflow.settle();
    // Assess
    const x = h.workflow.executions[0];
    expect(throttled).toBe(1);
    expect(polls).toBe(2);
    expect(h.msf.calls).toContain('DescribeApplicationOperation orders');
    expect(x?.status).toBe('RUNNING');
    expect(x?.path).not.toContain('StepFailed');
    expect(x?.lastState.phase).toBe('AWAIT');
    expect(h.msf.mutations.map((m) => m.call)).toEqual(['StopApplication']);
  });

  it('ends ESCALATED through the Catch path when a step keeps failing: recorded, lock released, people told', async () => {
    // Prepare: every poll fails (the Lambda's DynamoDB calls are throttled for good).
    const ledger = new MemoryLedger();
    await ledger.createIncident(incident('orders-1'));
    let polls = 0;
    const h = harness(ledger, (step) => async (e) => {
      if ((e as RemediationState).phase === 'AWAIT') {
        polls += 1;
        throw Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' });
      }
      return step(e);
    });
    // Act
    await h.workflow.start(initialRemediationState(incident('orders-1'), FORCE_STOP));
    await h.workflow.settle();
    h.time.t += 15_000;
    await h.workflow.settle();
    // Assess: 1 attempt + 3 retries, then StepFailed → Escalate → ReleaseLock → Notify → Escalated.
    const x = h.workflow.executions[0];
    expect(polls).toBe(4);
    // An escalation is an expected end: the execution SUCCEEDS, its output's outcome says ESCALATED.
    expect(x?.status).toBe('SUCCEEDED');
    expect(x?.lastState.outcome).toBe('ESCALATED');
    expect(x?.path.slice(-12)).toEqual([
      'PollStatus',
      'StepFailed',
      'Escalate',
      'Route',
      'NextStep',
      'ReleaseLock',
      'Route',
      'NextStep',
      'Notify',
      'Route',
      'Outcome',
      'Escalated',
    ]);
    const stored = await ledger.getIncident('orders-1');
    expect(stored?.status).toBe('ESCALATED');
    expect(stored?.outcomeReason).toContain('ProvisionedThroughputExceededException: Rate exceeded');
    expect(await ledger.lockHolder('orders', h.time.t)).toBeUndefined();
    expect(h.notifier.sent.at(-1)?.event).toBe('ESCALATED');
    expect(h.msf.mutations.map((m) => m.call)).toEqual(['StopApplication']);
  });

  it('still tells the outcome when the lock release fails for good: ReleaseLock → LockNotReleased → Notify', async () => {
    // Prepare: every poll fails (so the run escalates), and so does every invocation of the release step.
    const ledger = new MemoryLedger();
    await ledger.createIncident(incident('orders-1'));
    let releases = 0;
    const h = harness(ledger, (step) => async (e) => {
      const phase = (e as RemediationState).phase;
      if (phase === 'RELEASE') releases += 1;
      if (phase === 'AWAIT' || phase === 'RELEASE') {
        throw Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' });
      }
      return step(e);
    });
    // Act
    await h.workflow.start(initialRemediationState(incident('orders-1'), FORCE_STOP));
    await h.workflow.settle();
    h.time.t += 15_000;
    await h.workflow.settle();
    // Assess: the release Task's retries, then the Catch into LockNotReleased and on to Notify; never CloseFailed.
    const x = h.workflow.executions[0];
    expect(releases).toBe(4);
    expect(x?.path).toContain('LockNotReleased');
    expect(x?.path).not.toContain('CloseFailed');
    expect(x?.path.slice(-5)).toEqual(['LockNotReleased', 'Notify', 'Route', 'Outcome', 'Escalated']);
    expect(x?.status).toBe('SUCCEEDED');
    expect(x?.lastState.outcome).toBe('ESCALATED');
    const told = h.notifier.sent.at(-1);
    expect(told?.event).toBe('ESCALATED');
    expect(told?.title).toContain('lock not released');
    expect(told?.text).toContain('could not be released (ProvisionedThroughputExceededException');
    expect(told?.nextSteps).toContain(ledger.manualLockRelease('orders', 'orders-1'));
    expect(await ledger.lockHolder('orders', h.time.t)).toBe('orders-1');
  });

  describe('two incidents on one application at once (ledger on dynalite)', () => {
    let table: LocalLedgerTable;
    beforeEach(async () => {
      table = await startLedgerTable();
    });
    afterEach(async () => {
      await table.close();
    });

    it('never lets both hold the lock: one acts, the other ends Duplicate without an MSF call', async () => {
      let runs = 0;
      await fc.assert(
        fc.asyncProperty(fc.boolean(), fc.integer({ min: 0, max: 3 }), async (secondFirst, yields) => {
          // Prepare
          const ledger = new DynamoDbLedger({ tableName: table.tableName, client: table.client });
          const ids = secondFirst ? ['orders-b', 'orders-a'] : ['orders-a', 'orders-b'];
          // Fresh incident ids every run: the table outlives the runs.
          runs += 1;
          const run = `${runs}-${yields}-${secondFirst}`;
          const names = ids.map((id) => `${id}-${run}`);
          for (const id of names) await ledger.createIncident(incident(id));
          const h = harness(ledger);
          // Act: both start in the same tick, the second after a few turns of the event loop.
          const [a, b] = names.map((id) => initialRemediationState(incident(id), FORCE_STOP));
          const started = h.workflow.start(a as RemediationState);
          for (let i = 0; i < yields; i++) await new Promise((r) => setImmediate(r));
          await Promise.all([started, h.workflow.start(b as RemediationState)]);
          await h.workflow.settle();
          // Assess
          const outcomes = h.workflow.executions.map((x) => x.lastState.outcome ?? x.lastState.phase);
          expect(outcomes.sort()).toEqual(['AWAIT', 'DUPLICATE']);
          expect(h.msf.mutations.map((m) => m.call)).toEqual(['StopApplication']);
          const holder = await ledger.lockHolder('orders', h.time.t);
          const acting = h.workflow.executions.find((x) => x.lastState.phase === 'AWAIT');
          expect(holder).toBe(acting?.name);
          await ledger.releaseLock('orders', holder ?? '');
        }),
        { numRuns: 8 },
      );
    });
  });
});
