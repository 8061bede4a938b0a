import { describe, expect, it } from 'vitest';
import { createRemediationHandler } from '#functions/remediation/handler.ts';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import { RecordingNotifier } from '#shared/adapters/recording-notifier.ts';
import { parseConfig } from '#shared/config/schema.ts';
import { type AnswerDeps, answerApproval, whatChanged } from '#shared/domain/approval.ts';
import { type DetectorDeps, detect, type Signal } from '#shared/domain/detector.ts';
import type { Incident } from '#shared/domain/incident.ts';
import type { RemediationState } from '#shared/domain/remediation.ts';
import { remediationStep } from '#shared/domain/remediation.ts';
import { TaskTokenGoneError, type TaskTokenPort } from '#shared/ports/task-tokens.ts';
import { app, loopingRestarts, MIN, op, snapshot, T0 } from '../support/builders.ts';
import { CapturingLog, FakeMetrics, FakeMsf } from '../support/fakes.ts';

const TOKEN = 'token-of-the-wait';

/** Records each SendTaskSuccess with the incident as stored at that moment; `gone` makes it answer TaskTokenGoneError. */
class FakeTokens implements TaskTokenPort {
  readonly sent: Array<{ token: string; output: Record<string, unknown>; stored: Incident | undefined }> = [];
  gone = false;
  failure: Error | undefined;
  constructor(readonly ledger: MemoryLedger) {}
  async sendTaskSuccess(token: string, output: Record<string, unknown>): Promise<void> {
    if (this.gone) throw new TaskTokenGoneError('TaskTimedOut: Task Timed Out');
    if (this.failure) throw this.failure;
    const id = (await this.ledger.listIncidents())[0]?.id ?? '';
    this.sent.push({ token, output, stored: await this.ledger.getIncident(id) });
  }
}

/** An application `orders` at version 7 (updated from 6 four hours ago) in a restart loop, watched in approve mode. */
function world(policy: Record<string, unknown> = {}, fleet?: Record<string, unknown>) {
  const time = { t: T0 };
  const msf = new FakeMsf().setApp(app(), {
    operations: [
      op({
        operation: 'UpdateApplication',
        status: 'SUCCESSFUL',
        versionFrom: 6,
        versionTo: 7,
        startMs: T0 - 240 * MIN,
        endMs: T0 - 239 * MIN,
      }),
    ],
    snapshots: [snapshot('orders-v7', 7, T0 - 60 * MIN)],
  });
  const metrics = new FakeMetrics().set('orders', loopingRestarts(T0));
  const ledger = new MemoryLedger();
  const notifier = new RecordingNotifier();
  const log = new CapturingLog();
  const config = parseConfig({
    schemaVersion: 1,
    defaults: { mode: 'approve', ...policy },
    applications: [{ name: 'orders' }, { name: 'payments' }],
    ...(fleet ? { fleet } : {}),
  });
  const started: RemediationState[] = [];
  const clock = { now: () => time.t };
  const detectorDeps: DetectorDeps = {
    msf,
    metrics,
    ledger,
    notifier,
    log,
    config,
    clock,
    starter: { start: async (s) => void started.push(s) },
  };
  const stepDeps = { msf, metrics, ledger, notifier, config, clock, log };
  const handler = createRemediationHandler(stepDeps);
  const tokens = new FakeTokens(ledger);
  const answerDeps: AnswerDeps = { ledger, tokens, clock, log };
  const alarm: Signal = {
    source: 'alarm',
    applicationName: 'orders',
    alarmName: 'flink-watchdog-orders-restart-loop',
    stateValue: 'ALARM',
    stateTimestamp: new Date(T0).toISOString(),
  };
  /** Detects the loop and runs the workflow's AwaitApproval invocation: the request is then pending with TOKEN. */
  const asked = async () => {
    const result = await detect(alarm, detectorDeps);
    const state = started[0];
    if (!state || !result.incidentId) throw new Error(`no workflow started: ${result.result} ${result.reason}`);
    await handler({ state, taskToken: TOKEN });
    return { id: result.incidentId, state };
  };
  /** Runs ApprovalAnswered with `answer` as the workflow received it. */
  const answered = (state: RemediationState, answer: RemediationState['approvalAnswer']) =>
    remediationStep({ ...state, phase: 'APPROVAL_ANSWERED', ...(answer ? { approvalAnswer: answer } : {}) }, stepDeps);
  /** The loop goes on: restarts up to now. */
  const loopNow = () => metrics.set('orders', loopingRestarts(time.t));
  return {
    loopNow,
    time,
    msf,
    metrics,
    ledger,
    notifier,
    tokens,
    started,
    detectorDeps,
    answerDeps,
    handler,
    stepDeps,
    asked,
    answered,
  };
}

const mutating = (msf: FakeMsf) => msf.mutations.map((m) => m.call);

/** MSF finishes the last mutating call at once: its operation SUCCESSFUL, the application READY after a stop, else RUNNING. */
function settle(msf: FakeMsf): void {
  const n = msf.mutations.length;
  const call = msf.mutations[n - 1]?.call ?? '';
  const id = `${{ StopApplication: 'stop', StartApplication: 'start', RollbackApplication: 'rollback' }[call] ?? 'update'}-${n}`;
  msf.operations.set('orders', [
    { operationId: id, operation: call, status: 'SUCCESSFUL' },
    ...(msf.operations.get('orders') ?? []).filter((o) => o.operationId !== id),
  ]);
  const a = msf.apps.get('orders');
  if (a) a.status = call === 'StopApplication' ? 'READY' : 'RUNNING';
}

describe('Approve mode: the decision', () => {
  it('decides REMEDIATE with the approval settings, opens the incident with a pending request, and starts at APPROVAL', async () => {
    // Prepare
    const w = world({ approvalTimeoutMinutes: 45, onApprovalTimeout: 'proceed' });

    // Act
    const result = await detect(
      {
        source: 'alarm',
        applicationName: 'orders',
        alarmName: 'a',
        stateValue: 'ALARM',
        stateTimestamp: new Date(T0).toISOString(),
      },
      w.detectorDeps,
    );

    // Assess
    expect(result.result).toBe('REMEDIATING');
    expect(result.decision?.verdict).toBe('REMEDIATE');
    expect(result.decision?.approval).toEqual({ timeoutMinutes: 45, onTimeout: 'proceed' });
    expect(result.decision?.guards.find((g) => g.name === 'mode-remediate')).toEqual({
      name: 'mode-remediate',
      passed: true,
      detail: 'mode approve: people approve first',
    });
    const incident = await w.ledger.getIncident(result.incidentId ?? '');
    expect(incident?.status).toBe('REMEDIATING');
    expect(incident?.approval).toMatchObject({ state: 'PENDING', timeoutMs: T0 + 45 * MIN, onTimeout: 'proceed' });
    expect(w.started).toHaveLength(1);
    expect(w.started[0]).toMatchObject({ phase: 'APPROVAL', approvalTimeoutSeconds: 45 * 60 });
    expect(await w.ledger.remediationSlots(T0)).toEqual([]);
    expect(w.notifier.sent.map((n) => n.event)).toEqual(['OPENED']);
    expect(w.notifier.sent[0]?.title).toContain('approval needed');
    expect(mutating(w.msf)).toEqual([]);
  });

  it('does not restart the workflow of an incident whose request is waiting for people', async () => {
    // Prepare
    const w = world();
    await w.asked();

    // Act
    w.time.t += 5 * MIN;
    const again = await detect({ source: 'schedule', applicationName: 'orders', rule: 'sweep' }, w.detectorDeps);

    // Assess
    expect(again.result).toBe('DUPLICATE');
    expect(w.started).toHaveLength(1);
  });
});

describe('Approve mode: the request (AwaitApproval)', () => {
  it('records the task token on the incident and tells people with the request set, making no MSF call', async () => {
    // Prepare
    const w = world();

    // Act
    const { id } = await w.asked();

    // Assess
    const incident = await w.ledger.getIncident(id);
    expect(incident?.approval).toMatchObject({ state: 'PENDING', taskToken: TOKEN, timeoutMs: T0 + 30 * MIN });
    expect(incident?.events.filter((e) => e.kind === 'APPROVAL')).toHaveLength(1);
    const request = w.notifier.sent.find((n) => n.event === 'APPROVAL_REQUESTED');
    expect(request?.incident.approval?.state).toBe('PENDING');
    expect(request?.nextSteps).toEqual([`flink-watchdog approve ${id}`, `flink-watchdog reject ${id} --reason "WHY"`]);
    expect(mutating(w.msf)).toEqual([]);
  });

  it('asks once when the invocation is repeated (a Lambda retry)', async () => {
    // Prepare
    const w = world();
    const { state } = await w.asked();

    // Act
    await w.handler({ state, taskToken: TOKEN });

    // Assess
    expect(w.notifier.sent.filter((n) => n.event === 'APPROVAL_REQUESTED')).toHaveLength(1);
  });

  it('refuses a malformed request naming the field', async () => {
    // Prepare
    const w = world();

    // Act
    const call = w.handler({ state: { incidentId: 'x' }, taskToken: '' });

    // Assess
    await expect(call).rejects.toThrow(/invalid approval request: .*taskToken/);
  });
});

describe('answerApproval', () => {
  it('records the answer before handing it to the workflow, and tells the person what happens next', async () => {
    // Prepare
    const w = world();
    const { id } = await w.asked();
    w.time.t += 3 * MIN;

    // Act
    const out = await answerApproval(id, { decision: 'APPROVED', by: 'slack:U1 (jane)', via: 'slack' }, w.answerDeps);

    // Assess
    expect(out.accepted).toBe(true);
    expect(out.message).toContain('Approved by slack:U1 (jane)');
    expect(w.tokens.sent).toHaveLength(1);
    expect(w.tokens.sent[0]?.token).toBe(TOKEN);
    expect(w.tokens.sent[0]?.output).toEqual({ decision: 'APPROVED', by: 'slack:U1 (jane)', via: 'slack' });
    const atSend = w.tokens.sent[0]?.stored?.approval;
    expect(atSend?.state).toBe('APPROVED');
    expect(atSend?.answer).toEqual({ decision: 'APPROVED', by: 'slack:U1 (jane)', via: 'slack', atMs: T0 + 3 * MIN });
    expect(atSend?.taskToken).toBeUndefined();
  });

  it('refuses an unknown incident, changing nothing', async () => {
    // Prepare
    const w = world();

    // Act
    const out = await answerApproval('nope', { decision: 'APPROVED', by: 'me', via: 'cli' }, w.answerDeps);

    // Assess
    expect(out).toMatchObject({ accepted: false });
    expect(out.message).toContain('No incident nope');
    expect(w.tokens.sent).toEqual([]);
  });

  it('refuses an incident that is not awaiting approval (remediate mode)', async () => {
    // Prepare
    const w = world({ mode: 'remediate' });
    const result = await detect({ source: 'schedule', applicationName: 'orders', rule: 'sweep' }, w.detectorDeps);

    // Act
    const out = await answerApproval(
      result.incidentId ?? '',
      { decision: 'APPROVED', by: 'me', via: 'cli' },
      w.answerDeps,
    );

    // Assess
    expect(out.accepted).toBe(false);
    expect(out.message).toContain('not awaiting approval');
    expect(w.tokens.sent).toEqual([]);
  });

  it('refuses a second answer: the first one stands', async () => {
    // Prepare
    const w = world();
    const { id } = await w.asked();
    await answerApproval(
      id,
      { decision: 'REJECTED', by: 'arn:aws:iam::1:user/bob', via: 'cli', reason: 'deploy in progress' },
      w.answerDeps,
    );

    // Act
    const out = await answerApproval(id, { decision: 'APPROVED', by: 'slack:U1 (jane)', via: 'slack' }, w.answerDeps);

    // Assess
    expect(out.accepted).toBe(false);
    expect(out.message).toContain('already REJECTED');
    expect(w.tokens.sent).toHaveLength(1);
    expect((await w.ledger.getIncident(id))?.approval?.answer?.by).toBe('arn:aws:iam::1:user/bob');
  });

  it('of two concurrent answers records exactly one and hands exactly one to the workflow', async () => {
    // Prepare
    const w = world();
    const { id } = await w.asked();

    // Act
    const [a, b] = await Promise.all([
      answerApproval(id, { decision: 'APPROVED', by: 'slack:U1 (jane)', via: 'slack' }, w.answerDeps),
      answerApproval(id, { decision: 'REJECTED', by: 'slack:U2 (joe)', via: 'slack', reason: 'no' }, w.answerDeps),
    ]);

    // Assess
    expect([a.accepted, b.accepted].filter(Boolean)).toHaveLength(1);
    expect(w.tokens.sent).toHaveLength(1);
    const stored = await w.ledger.getIncident(id);
    const winner = a.accepted ? 'APPROVED' : 'REJECTED';
    expect(stored?.approval?.state).toBe(winner);
    expect(stored?.events.filter((e) => e.kind === 'APPROVAL')).toHaveLength(2);
  });

  it('refuses an answer after the request timed out', async () => {
    // Prepare
    const w = world();
    const { id } = await w.asked();
    w.time.t += 31 * MIN;

    // Act
    const out = await answerApproval(id, { decision: 'APPROVED', by: 'me', via: 'cli' }, w.answerDeps);

    // Assess
    expect(out.accepted).toBe(false);
    expect(out.message).toContain('timed out');
    expect(w.tokens.sent).toEqual([]);
    expect((await w.ledger.getIncident(id))?.approval?.state).toBe('PENDING');
  });

  it('says the request already timed out when Step Functions no longer waits on the token', async () => {
    // Prepare
    const w = world();
    const { id } = await w.asked();
    w.tokens.gone = true;

    // Act
    const out = await answerApproval(id, { decision: 'APPROVED', by: 'me', via: 'cli' }, w.answerDeps);

    // Assess
    expect(out.accepted).toBe(false);
    expect(out.message).toContain('already timed out');
    expect((await w.ledger.getIncident(id))?.approval?.state).toBe('TIMED_OUT');
  });

  it('puts the request back to pending when the answer could not reach the workflow, so it can be answered again', async () => {
    // Prepare
    const w = world();
    const { id } = await w.asked();
    w.tokens.failure = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });

    // Act
    const out = await answerApproval(id, { decision: 'APPROVED', by: 'me', via: 'cli' }, w.answerDeps);
    w.tokens.failure = undefined;
    const retry = await answerApproval(id, { decision: 'APPROVED', by: 'me', via: 'cli' }, w.answerDeps);

    // Assess
    expect(out.accepted).toBe(false);
    expect(out.message).toContain('try again');
    expect(retry.accepted).toBe(true);
    expect(w.tokens.sent).toHaveLength(1);
  });
});

describe('Approve mode: the answer (ApprovalAnswered)', () => {
  it('approved and unchanged: tells people and goes on to LOCK with the approved remediation, taking a slot only now', async () => {
    // Prepare
    const w = world();
    const { id, state } = await w.asked();
    w.time.t += 4 * MIN;
    w.loopNow();
    await answerApproval(id, { decision: 'APPROVED', by: 'slack:U1 (jane)', via: 'slack' }, w.answerDeps);
    const approved = (await w.ledger.getIncident(id))?.approval?.action;

    // Act
    const next = await w.answered(state, { decision: 'APPROVED', by: 'slack:U1 (jane)', via: 'slack' });

    // Assess
    expect(next.phase).toBe('LOCK');
    expect(next.expectVersionId).toBe(approved?.expectVersionId);
    const told = w.notifier.sent.find((n) => n.event === 'APPROVAL_ANSWERED');
    expect(told?.title).toContain('approved by slack:U1 (jane) — acting');
    expect((await w.ledger.remediationSlots(w.time.t)).map((s) => s.incidentId)).toEqual([id]);
    expect(mutating(w.msf)).toEqual([]);
    expect(w.msf.calls).toContain('DescribeApplication orders');
  });

  it('approved, but the application moved to another version meanwhile: STALE, ESCALATED, no MSF call', async () => {
    // Prepare
    const w = world();
    const { id, state } = await w.asked();
    await answerApproval(id, { decision: 'APPROVED', by: 'me', via: 'cli' }, w.answerDeps);
    Object.assign(w.msf.apps.get('orders') ?? {}, { versionId: 8, versionUpdatedFrom: 7 });

    // Act
    const next = await w.answered(state, { decision: 'APPROVED', by: 'me', via: 'cli' });

    // Assess
    expect(next).toMatchObject({ phase: 'RELEASE', outcome: 'ESCALATED' });
    const incident = await w.ledger.getIncident(id);
    expect(incident?.status).toBe('ESCALATED');
    expect(incident?.approval?.state).toBe('STALE');
    expect(incident?.outcomeReason).toContain('the application is at version 8, not 7');
    expect(incident?.outcomeReason).toContain('Not acting on a stale approval');
    expect(w.notifier.sent.find((n) => n.event === 'APPROVAL_ANSWERED')?.title).toContain('stale');
    expect(mutating(w.msf)).toEqual([]);
  });

  it('approved, but the application is no longer looping: STALE, no MSF call', async () => {
    // Prepare
    const w = world();
    const { id, state } = await w.asked();
    await answerApproval(id, { decision: 'APPROVED', by: 'me', via: 'cli' }, w.answerDeps);
    w.metrics.set('orders', { metricName: 'fullRestarts', periodSeconds: 60, points: [] });
    w.time.t += 20 * MIN;

    // Act
    const next = await w.answered(state, { decision: 'APPROVED', by: 'me', via: 'cli' });

    // Assess
    expect(next.outcome).toBe('ESCALATED');
    const incident = await w.ledger.getIncident(id);
    expect(incident?.approval?.state).toBe('STALE');
    expect(incident?.outcomeReason).toContain('gives NONE: orders looks healthy');
    expect(mutating(w.msf)).toEqual([]);
  });

  it('approved, but automation was paused meanwhile: STALE, no MSF call', async () => {
    // Prepare
    const w = world();
    const { id, state } = await w.asked();
    await answerApproval(id, { decision: 'APPROVED', by: 'me', via: 'cli' }, w.answerDeps);
    await w.ledger.pauseAutomation('orders', 'ops', 'migration', w.time.t);

    // Act
    const next = await w.answered(state, { decision: 'APPROVED', by: 'me', via: 'cli' });

    // Assess
    expect(next.outcome).toBe('ESCALATED');
    const incident = await w.ledger.getIncident(id);
    expect(incident?.approval?.state).toBe('STALE');
    expect(incident?.outcomeReason).toMatch(/paused/i);
    expect(mutating(w.msf)).toEqual([]);
  });

  it('approved, but a person acted on the application since the request (a runbook command): STALE, no MSF call', async () => {
    // Prepare
    const w = world();
    const { id, state } = await w.asked();
    w.time.t += 1000;
    await w.ledger.recordAttempt('orders', 'orders-runbook-person', w.time.t);
    await answerApproval(id, { decision: 'APPROVED', by: 'me', via: 'cli' }, w.answerDeps);

    // Act
    const next = await w.answered(state, { decision: 'APPROVED', by: 'me', via: 'cli' });

    // Assess
    expect(next.outcome).toBe('ESCALATED');
    const incident = await w.ledger.getIncident(id);
    expect(incident?.approval?.state).toBe('STALE');
    expect(incident?.outcomeReason).toContain('1 remediation attempt(s) were made on orders since the request');
    expect(mutating(w.msf)).toEqual([]);
  });

  it('approved, but the application can no longer be described (deleted): STALE, no MSF call', async () => {
    // Prepare
    const w = world();
    const { id, state } = await w.asked();
    await answerApproval(id, { decision: 'APPROVED', by: 'me', via: 'cli' }, w.answerDeps);
    w.msf.apps.delete('orders');

    // Act
    const next = await w.answered(state, { decision: 'APPROVED', by: 'me', via: 'cli' });

    // Assess
    expect(next.outcome).toBe('ESCALATED');
    expect((await w.ledger.getIncident(id))?.outcomeReason).toContain('Not acting without a fresh DescribeApplication');
    expect(mutating(w.msf)).toEqual([]);
  });

  it('rejected: ESCALATED with who rejected and why, no MSF call', async () => {
    // Prepare
    const w = world();
    const { id, state } = await w.asked();
    await answerApproval(
      id,
      { decision: 'REJECTED', by: 'arn:aws:iam::1:user/bob', via: 'cli', reason: 'deploy in progress' },
      w.answerDeps,
    );

    // Act
    const next = await w.answered(state, { decision: 'REJECTED', by: 'arn:aws:iam::1:user/bob', via: 'cli' });

    // Assess
    expect(next.outcome).toBe('ESCALATED');
    const incident = await w.ledger.getIncident(id);
    expect(incident?.outcomeReason).toContain('rejected by arn:aws:iam::1:user/bob via cli: deploy in progress');
    expect(w.notifier.sent.find((n) => n.event === 'APPROVAL_ANSWERED')?.title).toContain('rejected by');
    expect(mutating(w.msf)).toEqual([]);
  });

  it('timed out with onApprovalTimeout escalate: TIMED_OUT, ESCALATED, no MSF call', async () => {
    // Prepare
    const w = world();
    const { id, state } = await w.asked();
    w.time.t += 30 * MIN;

    // Act
    const next = await w.answered(state, { decision: 'TIMEOUT' });

    // Assess
    expect(next.outcome).toBe('ESCALATED');
    const incident = await w.ledger.getIncident(id);
    expect(incident?.approval?.state).toBe('TIMED_OUT');
    expect(incident?.outcomeReason).toContain('No one answered the approval request within 30 min');
    expect(w.notifier.sent.filter((n) => n.event === 'APPROVAL_ANSWERED')).toHaveLength(1);
    expect(mutating(w.msf)).toEqual([]);
  });

  it('timed out with onApprovalTimeout proceed: every guard checked again, then LOCK', async () => {
    // Prepare
    const w = world({ onApprovalTimeout: 'proceed' });
    const { id, state } = await w.asked();
    w.time.t += 30 * MIN;
    w.loopNow();

    // Act
    const next = await w.answered(state, { decision: 'TIMEOUT' });

    // Assess
    expect(next.phase).toBe('LOCK');
    expect((await w.ledger.getIncident(id))?.approval?.state).toBe('TIMED_OUT');
    expect(w.notifier.sent.find((n) => n.event === 'APPROVAL_ANSWERED')?.title).toContain('no answer — acting');
  });

  it('timed out with proceed, but the version moved: STALE, no MSF call', async () => {
    // Prepare
    const w = world({ onApprovalTimeout: 'proceed' });
    const { state } = await w.asked();
    Object.assign(w.msf.apps.get('orders') ?? {}, { versionId: 9 });

    // Act
    const next = await w.answered(state, { decision: 'TIMEOUT' });

    // Assess
    expect(next.outcome).toBe('ESCALATED');
    expect((await w.ledger.getIncident(state.incidentId))?.outcomeReason).toContain('version 9, not 7');
    expect(mutating(w.msf)).toEqual([]);
  });

  it('approved while every fleet remediation slot is in use: waits, checking again, and escalates after approvalTimeoutMinutes', async () => {
    // Prepare
    const w = world({}, { maxConcurrentRemediations: 1 });
    const { id, state } = await w.asked();
    await w.ledger.acquireRemediationSlot(
      { incidentId: 'payments-1', applicationName: 'payments', expiresMs: T0 + 600 * MIN },
      1,
      T0,
    );
    await answerApproval(id, { decision: 'APPROVED', by: 'me', via: 'cli' }, w.answerDeps);

    // Act
    const waiting = await w.answered(state, { decision: 'APPROVED', by: 'me', via: 'cli' });
    w.time.t += 31 * MIN;
    w.loopNow();
    const ended = await remediationStep(waiting, { ...w.detectorDeps });

    // Assess
    expect(waiting).toMatchObject({ phase: 'APPROVAL_ANSWERED' });
    expect(waiting.waitSeconds).toBeGreaterThan(0);
    expect(ended.outcome).toBe('ESCALATED');
    expect((await w.ledger.getIncident(id))?.outcomeReason).toContain('no fleet remediation slot came free');
    expect(mutating(w.msf)).toEqual([]);
  });
});

describe('Approve mode: an approved remediation that did not hold (REDECIDE)', () => {
  it('asks again for the next remediation: no further MSF mutation without a second answer', async () => {
    // Prepare: approved remediation, run until VERIFY finds the loop still going
    const w = world();
    const { id, state } = await w.asked();
    w.time.t += 2 * MIN;
    w.loopNow();
    await answerApproval(id, { decision: 'APPROVED', by: 'slack:U1 (jane)', via: 'slack' }, w.answerDeps);
    let next = await w.answered(state, { decision: 'APPROVED', by: 'slack:U1 (jane)', via: 'slack' });
    for (let i = 0; i < 200 && next.phase !== 'REDECIDE' && next.phase !== 'DONE'; i++) {
      w.time.t += Math.max(1, next.waitSeconds) * 1000;
      w.loopNow();
      const before = w.msf.mutations.length;
      next = await remediationStep(next, w.stepDeps);
      if (w.msf.mutations.length > before) settle(w.msf);
    }
    expect(next.phase, (await w.ledger.getIncident(id))?.outcomeReason).toBe('REDECIDE');
    const first = mutating(w.msf);
    expect(first.length).toBeGreaterThan(0);

    // Act
    const asking = await remediationStep(next, w.stepDeps);

    // Assess: a new request, nothing done, lock and slot free while people decide, the earlier answer kept
    expect(asking.phase).toBe('APPROVAL');
    expect(asking.approvalTimeoutSeconds).toBe(30 * 60);
    expect(asking.approvalAnswer).toBeUndefined();
    expect(mutating(w.msf)).toEqual(first);
    expect(await w.ledger.lockHolder('orders', w.time.t)).toBeUndefined();
    expect(await w.ledger.remediationSlots(w.time.t)).toEqual([]);
    const between = await w.ledger.getIncident(id);
    expect(between?.status).toBe('REMEDIATING');
    expect(between?.approval).toBeUndefined();
    expect(
      between?.events.some(
        (e) =>
          e.kind === 'APPROVAL' &&
          /approved by slack:U1 \(jane\) via slack\) did not hold: .*asking again/.test(e.message),
      ),
    ).toBe(true);

    // the workflow's AwaitApproval records the second request with its own token
    await w.handler({ state: asking, taskToken: 'second-token' });
    const second = await w.ledger.getIncident(id);
    expect(second?.approval?.state).toBe('PENDING');
    expect(second?.approval?.taskToken).toBe('second-token');
    expect(second?.approval?.action).toEqual(second?.remediation);
    expect(w.notifier.sent.filter((n) => n.event === 'APPROVAL_REQUESTED')).toHaveLength(2);

    // nobody answers the second request: escalated, still the one rollback
    w.time.t += 30 * MIN;
    let end = await w.answered(asking, { decision: 'TIMEOUT' });
    for (let i = 0; i < 10 && end.phase !== 'DONE'; i++) end = await remediationStep(end, w.stepDeps);
    expect(end.outcome).toBe('ESCALATED');
    expect(mutating(w.msf)).toEqual(first);
  });
});

describe('whatChanged', () => {
  it('names the version, the kind and the target that differ; nothing when the remediation is the same', () => {
    // Prepare
    const rollback = { kind: 'ROLLBACK', expectVersionId: 7, toVersionId: 6 } as const;

    // Act / Assess
    expect(whatChanged(rollback, { ...rollback })).toBeUndefined();
    expect(whatChanged(rollback, { ...rollback, expectVersionId: 8 })).toContain('version 8, not 7');
    expect(whatChanged(rollback, { ...rollback, toVersionId: 5 })).toContain('version 5, not 6');
    expect(whatChanged(rollback, { kind: 'FORCE_STOP_AND_RESTART', expectVersionId: 7 })).toContain(
      'force stop and restart',
    );
  });
});
