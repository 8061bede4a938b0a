import { afterEach, describe, expect, it } from 'vitest';
import { createRemediationHandler } from '#functions/remediation/handler.ts';
import { LocalWorkflow } from '#sandbox/workflow.ts';
import { synthesizedWorkflow } from '#sandbox/workflow-definition.ts';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import { RecordingNotifier } from '#shared/adapters/recording-notifier.ts';
import { parseConfig } from '#shared/config/schema.ts';
import { answerApproval } from '#shared/domain/approval.ts';
import { detect, type Signal } from '#shared/domain/detector.ts';
import { TaskTokenGoneError } from '#shared/ports/task-tokens.ts';
import { app, counter, loopingRestarts, MIN, op, snapshot, T0 } from '../support/builders.ts';
import { CapturingLog, FakeMetrics, FakeMsf } from '../support/fakes.ts';

/**
 * The synthesized remediation state machine (what `cdk deploy` deploys), run locally with aws-local-stepfunctions and
 * the real detector and remediation handler over fakes, in approve mode: the AwaitApproval `.waitForTaskToken` state
 * waits for answerApproval (LocalWorkflow as the TaskTokenPort) or times out on the virtual clock.
 */
function world(
  policy: Record<string, unknown> = {},
  options: { rollbackHolds?: boolean; definition?: (d: Record<string, unknown>) => void } = {},
) {
  const time = { t: T0 };
  const clock = { now: () => time.t };
  // Version 7 replaced version 6 ten minutes ago and loops since: the decision is a rollback to version 6.
  const msf = new FakeMsf().setApp(app({ versionCreatedMs: T0 - 10 * MIN, lastUpdateMs: T0 - 10 * MIN }), {
    operations: [
      op({
        operationId: 'update-7',
        operation: 'UpdateApplication',
        status: 'SUCCESSFUL',
        versionFrom: 6,
        versionTo: 7,
        startMs: T0 - 10 * MIN,
        endMs: T0 - 9 * MIN,
      }),
    ],
    snapshots: [snapshot('orders-v6', 6, T0 - 60 * MIN)],
  });
  const metrics = new FakeMetrics().set('orders', loopingRestarts(T0));
  const ledger = new MemoryLedger();
  const notifier = new RecordingNotifier();
  const log = new CapturingLog();
  const config = parseConfig({
    schemaVersion: 1,
    defaults: { mode: 'approve', ...policy },
    applications: [{ name: 'orders' }],
  });
  const step = createRemediationHandler({ msf, metrics, ledger, notifier, config, clock, log });
  const synthesized = synthesizedWorkflow(config);
  options.definition?.(synthesized.definition as Record<string, unknown>);
  const workflow = new LocalWorkflow({ workflow: synthesized, step, clock });
  const alarm: Signal = {
    source: 'alarm',
    applicationName: 'orders',
    alarmName: 'flink-watchdog-orders-restart-loop',
    stateValue: 'ALARM',
    stateTimestamp: new Date(T0).toISOString(),
  };
  const detected = () => detect(alarm, { msf, metrics, ledger, notifier, config, clock, log, starter: workflow });
  /** MSF as the rollback leaves it: version 8 (the configuration of 6) RUNNING, no restart since. */
  const rolledBack = () => {
    const a = msf.apps.get('orders');
    if (a?.versionId !== 7 || !msf.mutations.some((m) => m.call === 'RollbackApplication')) return;
    Object.assign(a, { versionId: 8, versionUpdatedFrom: 7, versionRolledBackFrom: 7, versionRolledBackTo: 6 });
    msf.operations.set('orders', [
      op({ operationId: 'rollback-1', operation: 'RollbackApplication', status: 'SUCCESSFUL', startMs: time.t }),
    ]);
    if (options.rollbackHolds !== false)
      metrics.set('orders', { metricName: 'fullRestarts', periodSeconds: 60, points: counter(time.t, [0]) });
  };
  /** Advances the virtual clock a minute at a time (the loop going on until the rollback), letting the run go on. */
  const run = async (minutes: number) => {
    for (let i = 0; i < minutes; i++) {
      if (!msf.mutations.length || options.rollbackHolds === false) metrics.set('orders', loopingRestarts(time.t));
      rolledBack();
      await workflow.settle();
      time.t += MIN;
    }
    await workflow.settle();
  };
  return { time, msf, ledger, notifier, workflow, detected, run };
}

let current: ReturnType<typeof world> | undefined;
afterEach(() => current?.workflow.stopAll());

describe('Workflow in approve mode: the synthesized state machine, run locally', () => {
  it('waits at AwaitApproval without acting, then, approved, rolls back and ends RECOVERED', async () => {
    // Prepare
    const w = world();
    current = w;
    const opened = await w.detected();
    const id = opened.incidentId ?? '';
    await w.run(3);
    const pending = w.workflow.pendingTokens(id);

    // Act
    const answer = await answerApproval(
      id,
      { decision: 'APPROVED', by: 'slack:U1 (jane)', via: 'slack' },
      { ledger: w.ledger, tokens: w.workflow, clock: { now: () => w.time.t }, log: new CapturingLog() },
    );
    await w.run(30);

    // Assess
    expect(opened.decision?.remediation).toMatchObject({ kind: 'ROLLBACK', expectVersionId: 7, toVersionId: 6 });
    expect(pending).toHaveLength(1);
    expect(pending[0]?.timeoutMs).toBe(pending[0] ? pending[0].sinceMs + 30 * MIN : 0);
    expect(answer.accepted).toBe(true);
    const x = w.workflow.executions[0];
    expect(x?.status).toBe('SUCCEEDED');
    expect(x?.path.slice(0, 5)).toEqual(['Route', 'NextStep', 'ApprovalTimeout', 'AwaitApproval', 'ApprovalReceived']);
    expect(x?.path).toContain('ApprovalAnswered');
    expect(x?.path.indexOf('Lock')).toBeGreaterThan(x?.path.indexOf('ApprovalAnswered') ?? 0);
    expect(x?.path.at(-1)).toBe('Recovered');
    expect(w.msf.mutations.map((m) => m.call)).toEqual(['RollbackApplication']);
    const incident = await w.ledger.getIncident(id);
    expect(incident?.status).toBe('RESOLVED');
    expect(incident?.approval).toMatchObject({ state: 'APPROVED', answer: { by: 'slack:U1 (jane)', via: 'slack' } });
    expect(incident?.approval?.taskToken).toBeUndefined();
    expect(w.notifier.sent.map((n) => n.event)).toEqual([
      'OPENED',
      'APPROVAL_REQUESTED',
      'APPROVAL_ANSWERED',
      'ACTION_TAKEN',
      'RESOLVED',
    ]);
    expect(w.workflow.pendingTokens()).toEqual([]);
  });

  it('times out after approvalTimeoutMinutes into ESCALATED with no MSF call, and a late answer is refused', async () => {
    // Prepare
    const w = world({ approvalTimeoutMinutes: 20 });
    current = w;
    const opened = await w.detected();
    const id = opened.incidentId ?? '';
    await w.run(2);
    const token = w.workflow.pendingTokens(id)[0]?.token ?? '';

    // Act
    await w.run(25);
    const late = w.workflow.sendTaskSuccess(token, { decision: 'APPROVED', by: 'me', via: 'cli' });

    // Assess
    await expect(late).rejects.toBeInstanceOf(TaskTokenGoneError);
    const x = w.workflow.executions[0];
    expect(x?.status).toBe('SUCCEEDED');
    expect(x?.path).toContain('ApprovalTimedOut');
    expect(x?.path).not.toContain('Lock');
    expect(x?.path.at(-1)).toBe('Escalated');
    expect(w.msf.mutations).toEqual([]);
    const incident = await w.ledger.getIncident(id);
    expect(incident?.status).toBe('ESCALATED');
    expect(incident?.approval?.state).toBe('TIMED_OUT');
    expect(incident?.outcomeReason).toContain('within 20 min');
    expect(w.notifier.sent.map((n) => n.event)).toEqual([
      'OPENED',
      'APPROVAL_REQUESTED',
      'APPROVAL_ANSWERED',
      'ESCALATED',
    ]);
  });

  it('rejected: ESCALATED with the reason, no MSF call', async () => {
    // Prepare
    const w = world();
    current = w;
    const id = (await w.detected()).incidentId ?? '';
    await w.run(2);

    // Act
    const answer = await answerApproval(
      id,
      { decision: 'REJECTED', by: 'arn:aws:iam::123456789012:user/bob', via: 'cli', reason: 'release freeze' },
      { ledger: w.ledger, tokens: w.workflow, clock: { now: () => w.time.t }, log: new CapturingLog() },
    );
    await w.run(2);

    // Assess
    expect(answer.accepted).toBe(true);
    expect(w.workflow.executions[0]?.path.at(-1)).toBe('Escalated');
    expect(w.msf.mutations).toEqual([]);
    expect((await w.ledger.getIncident(id))?.outcomeReason).toContain('release freeze');
  });
  it('approved rollback that does not hold: asks again, and makes no second MSF call without a second answer', async () => {
    // Prepare
    const w = world({}, { rollbackHolds: false });
    current = w;
    const id = (await w.detected()).incidentId ?? '';
    await w.run(2);
    await answerApproval(
      id,
      { decision: 'APPROVED', by: 'slack:U1 (jane)', via: 'slack' },
      { ledger: w.ledger, tokens: w.workflow, clock: { now: () => w.time.t }, log: new CapturingLog() },
    );

    // Act: the rollback is made, the job keeps restarting, the verify window fails
    await w.run(15);

    // Assess: a second request waits at AwaitApproval; nothing more was done
    expect(w.msf.mutations.map((m) => m.call)).toEqual(['RollbackApplication']);
    const pending = w.workflow.pendingTokens(id);
    expect(pending).toHaveLength(1);
    expect(pending[0]?.token).toMatch(/-2$/);
    const x = w.workflow.executions[0];
    expect(x?.path).toContain('Redecide');
    expect(x?.path.filter((p) => p === 'AwaitApproval')).toHaveLength(2);
    const incident = await w.ledger.getIncident(id);
    expect(incident?.status).toBe('REMEDIATING');
    expect(incident?.approval).toMatchObject({ state: 'PENDING', action: incident?.remediation });
    expect(incident?.events.some((e) => /approved by slack:U1 \(jane\) via slack\) did not hold/.test(e.message))).toBe(
      true,
    );
    expect(await w.ledger.lockHolder('orders', w.time.t)).toBeUndefined();
    expect(w.notifier.sent.filter((n) => n.event === 'APPROVAL_REQUESTED')).toHaveLength(2);

    // nobody answers the second request (escalate): ESCALATED, still the one rollback
    await w.run(35);
    expect(x?.path.at(-1)).toBe('Escalated');
    expect(w.msf.mutations.map((m) => m.call)).toEqual(['RollbackApplication']);
    expect((await w.ledger.getIncident(id))?.status).toBe('ESCALATED');
  });
  it('fails the execution (States.Runtime, not caught) when the approval timeout resolves under only one reading of TimeoutSecondsPath', async () => {
    // Prepare: a payload without approvalTimeoutSeconds, as if Step Functions read the path after Parameters
    const w = world(
      {},
      {
        definition: (d) => {
          const states = d.States as Record<string, { Parameters?: { Payload?: Record<string, unknown> } }>;
          delete states.AwaitApproval?.Parameters?.Payload?.['approvalTimeoutSeconds.$'];
        },
      },
    );
    current = w;

    // Act
    await w.detected();
    await w.run(2);

    // Assess
    const x = w.workflow.executions[0];
    expect(x?.status).toBe('FAILED');
    expect(x?.path).not.toContain('StepFailed');
    expect(w.workflow.pendingTokens()).toEqual([]);
    expect(w.msf.mutations).toEqual([]);
  });
});
