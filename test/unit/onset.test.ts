import { describe, expect, it } from 'vitest';
import { detectionOnset, type OnsetEvidence } from '#sandbox/onset.ts';
import type { Finding } from '#shared/domain/findings.ts';
import type { ApplicationOperation } from '#shared/domain/model.ts';

const MINUTE = 60_000;
/** 2026-03-02T14:00:00Z. */
const T0 = Date.UTC(2026, 2, 2, 14, 0, 0);

function evidence(over: Partial<OnsetEvidence>): OnsetEvidence {
  return {
    finding: undefined,
    decisionMs: T0 + 10 * MINUTE,
    firstRestartsMs: [],
    operations: [],
    statusEntries: [],
    stuckLimitMinutes: (status) => (status === 'UPDATING' ? 10 : undefined),
    ...over,
  };
}

const op = (o: Partial<ApplicationOperation> & Pick<ApplicationOperation, 'operationId'>): ApplicationOperation => ({
  operation: 'UpdateApplication',
  status: 'SUCCESSFUL',
  ...o,
});

const restartLoop: Finding = {
  kind: 'RESTART_LOOP',
  summary: 'loop',
  restarts: 3,
  windowMinutes: 10,
  metricName: 'fullRestarts',
  onsetMs: T0,
};

describe('Function: detectionOnset', () => {
  it('RESTART_LOOP: the first restart of the job looping at the decision, not of an earlier job', () => {
    // Prepare: a job restarted at +2 min, a new job started restarting at +6 min; decided at +10 min
    const e = evidence({ finding: restartLoop, firstRestartsMs: [T0 + 2 * MINUTE, T0 + 6 * MINUTE, T0 + 12 * MINUTE] });
    // Act / Assess
    expect(detectionOnset(e)).toEqual({ rule: 'first-restart', atMs: T0 + 6 * MINUTE });
  });

  it('RESTART_LOOP without any restart seen before the decision: no onset', () => {
    expect(detectionOnset(evidence({ finding: restartLoop, firstRestartsMs: [T0 + 11 * MINUTE] }))).toBeUndefined();
  });

  it('DEPLOY_FAILED: the EndTime of the failed operation, as the emulator reports it', () => {
    // Prepare: the finding names operation op-2; the emulator's record of it ended at +6.5 min
    const failed = op({ operationId: 'op-2', status: 'FAILED', startMs: T0 + 5 * MINUTE, endMs: T0 + 6.5 * MINUTE });
    const e = evidence({
      finding: {
        kind: 'DEPLOY_FAILED',
        summary: 'failed',
        operation: { ...failed, endMs: T0 + 7 * MINUTE },
        cause: 'SUBMIT',
        errorString: 'x',
        status: 'READY',
      },
      operations: [op({ operationId: 'op-1', status: 'FAILED', endMs: T0 + MINUTE }), failed],
    });
    // Act / Assess
    expect(detectionOnset(e)).toEqual({ rule: 'failed-operation-end', atMs: T0 + 6.5 * MINUTE });
  });

  it('ROLLED_BACK: the end of the last FAILED operation at or before the decision', () => {
    const e = evidence({
      finding: { kind: 'ROLLED_BACK', summary: 'rolled back', fromVersionId: 3, toVersionId: 2, system: true },
      operations: [
        op({ operationId: 'late', status: 'FAILED', endMs: T0 + 12 * MINUTE }),
        op({ operationId: 'failed', status: 'FAILED', endMs: T0 + 6 * MINUTE }),
        op({ operationId: 'rollback', operation: 'RollbackApplication', endMs: T0 + 8 * MINUTE }),
      ],
    });
    expect(detectionOnset(e)).toEqual({ rule: 'failed-operation-end', atMs: T0 + 6 * MINUTE });
  });

  it('STUCK_TRANSITION: the operation StartTime + the stuck limit of the status', () => {
    // Prepare: UpdateApplication started at +5 min, limit 10 min for UPDATING; decided at +20 min
    const e = evidence({
      decisionMs: T0 + 20 * MINUTE,
      finding: {
        kind: 'STUCK_TRANSITION',
        summary: 'stuck',
        status: 'UPDATING',
        sinceMs: T0 + 5 * MINUTE,
        minutes: 15,
        limitMinutes: 10,
      },
      operations: [op({ operationId: 'u', status: 'IN_PROGRESS', startMs: T0 + 5 * MINUTE })],
    });
    // Act / Assess
    expect(detectionOnset(e)).toEqual({ rule: 'transition-limit', atMs: T0 + 15 * MINUTE });
  });

  it('STUCK_TRANSITION without an operation: the time the status was entered + the limit', () => {
    const e = evidence({
      decisionMs: T0 + 20 * MINUTE,
      finding: {
        kind: 'STUCK_TRANSITION',
        summary: 'stuck',
        status: 'UPDATING',
        sinceMs: 0,
        minutes: 0,
        limitMinutes: 0,
      },
      statusEntries: [
        { status: 'RUNNING', atMs: T0 },
        { status: 'UPDATING', atMs: T0 + 4 * MINUTE },
      ],
    });
    expect(detectionOnset(e)).toEqual({ rule: 'transition-limit', atMs: T0 + 14 * MINUTE });
  });

  it('UNEXPECTED_STATUS: the last time the application entered the status found', () => {
    const e = evidence({
      finding: { kind: 'UNEXPECTED_STATUS', summary: 'stopped', desired: 'RUNNING', actual: 'READY' },
      statusEntries: [
        { status: 'READY', atMs: T0 },
        { status: 'RUNNING', atMs: T0 + MINUTE },
        { status: 'STOPPING', atMs: T0 + 6 * MINUTE },
        { status: 'READY', atMs: T0 + 6.5 * MINUTE },
      ],
    });
    expect(detectionOnset(e)).toEqual({ rule: 'entered-status', atMs: T0 + 6.5 * MINUTE });
  });

  it('no finding, opened by an alarm (an application out of scope): the first restart', () => {
    const e = evidence({ triggerAlarmName: 'flink-watchdog-x-restart-loop', firstRestartsMs: [T0 + 3 * MINUTE] });
    expect(detectionOnset(e)).toEqual({ rule: 'first-restart', atMs: T0 + 3 * MINUTE });
  });

  it("no finding, the reconciler's start of a stopped application: when it entered the status it is in", () => {
    const e = evidence({
      reconcilerStart: true,
      statusEntries: [
        { status: 'RUNNING', atMs: T0 },
        { status: 'STOPPING', atMs: T0 + 6 * MINUTE },
        { status: 'READY', atMs: T0 + 6.5 * MINUTE },
      ],
    });
    expect(detectionOnset(e)).toEqual({ rule: 'entered-status', atMs: T0 + 6.5 * MINUTE });
  });

  it("no finding, the reconciler's start while the application is RUNNING again: no onset", () => {
    const e = evidence({ reconcilerStart: true, statusEntries: [{ status: 'RUNNING', atMs: T0 }] });
    expect(detectionOnset(e)).toBeUndefined();
  });

  it('no finding and no alarm (a drift report from the sweep): no onset rather than a made-up one', () => {
    expect(detectionOnset(evidence({ firstRestartsMs: [T0 + 3 * MINUTE] }))).toBeUndefined();
  });

  it('CHECKPOINT_STALL: the first failed checkpoint of the job running at the decision; none seen, no onset', () => {
    // Prepare: an earlier job failed a checkpoint at +1 min, the running one first at +4 min; decided at +10 min
    const stall: Finding = {
      kind: 'CHECKPOINT_STALL',
      summary: 'stall',
      cause: 'FAILED_CHECKPOINTS_RISING',
      sinceMs: T0 + 4 * MINUTE,
      onsetMs: T0 + 6 * MINUTE,
      failedCheckpoints: 3,
      restarts: 0,
      unexplainedFailures: 3,
      failedCheckpointsThreshold: 2,
      window: {
        windowMs: 20 * MINUTE,
        intervalMs: MINUTE,
        intervalSource: 'DEFAULT',
        timeoutMs: 10 * MINUTE,
        tolerableFailedCheckpoints: 0,
        derivation: 'x',
      },
    };
    const seen = evidence({
      finding: stall,
      firstFailedCheckpointsMs: [T0 + MINUTE, T0 + 4 * MINUTE, T0 + 11 * MINUTE],
    });
    expect(detectionOnset(seen)).toEqual({ rule: 'first-failed-checkpoint', atMs: T0 + 4 * MINUTE });
    expect(detectionOnset(evidence({ finding: stall }))).toBeUndefined();
  });

  it('OBSERVATION_FAILED: no onset', () => {
    const e = evidence({
      finding: { kind: 'OBSERVATION_FAILED', summary: 'x', source: 'GetMetricData', message: 'throttled' },
      firstRestartsMs: [T0],
    });
    expect(detectionOnset(e)).toBeUndefined();
  });
});
