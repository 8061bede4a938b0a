import { describe, expect, it } from 'vitest';
import { classifyDeployFailure, countRestarts, evaluate } from '#shared/domain/detect.ts';
import type { RestartLoopFinding } from '#shared/domain/findings.ts';
import { restartMetricName } from '#shared/domain/model.ts';
import { app, counter, loopingRestarts, MIN, observation, op, policy, T0 } from '../support/builders.ts';

describe('Function: countRestarts', () => {
  it('sums increases of the cumulative counter', () => {
    const r = countRestarts({ metricName: 'fullRestarts', periodSeconds: 60, points: counter(T0, [2, 2, 3, 5, 5]) });
    expect(r).toEqual({ restarts: 3, resets: 0, firstIncreaseMs: T0 + 2 * MIN, lastIncreaseMs: T0 + 3 * MIN });
  });

  it('starts a new baseline when the counter drops (a new job submission), counting restarts of the new job', () => {
    // Old job at 40 restarts; redeployed; the new job's counter starts again from 0 and reaches 2.
    const r = countRestarts({ metricName: 'fullRestarts', periodSeconds: 60, points: counter(T0, [38, 40, 0, 1, 2]) });
    expect(r.restarts).toBe(2 + 2);
    expect(r.resets).toBe(1);
  });

  it('does not count a drop to zero as restarts', () => {
    const r = countRestarts({ metricName: 'fullRestarts', periodSeconds: 60, points: counter(T0, [12, 12, 0, 0, 0]) });
    expect(r.restarts).toBe(0);
    expect(r.firstIncreaseMs).toBeUndefined();
  });

  it('counts the increase across missing datapoints once the next datapoint arrives', () => {
    const r = countRestarts({
      metricName: 'fullRestarts',
      periodSeconds: 60,
      points: counter(T0, [1, undefined, undefined, 4]),
    });
    expect(r.restarts).toBe(3);
    expect(r.firstIncreaseMs).toBe(T0 + 3 * MIN);
  });

  it('uses a known baseline for the first point (right after a submission)', () => {
    const series = { metricName: 'fullRestarts', periodSeconds: 60, points: counter(T0, [2, 2]) };
    expect(countRestarts(series).restarts).toBe(0);
    expect(countRestarts(series, 0).restarts).toBe(2);
  });

  it('returns zero for no series', () => {
    expect(countRestarts(undefined).restarts).toBe(0);
  });
});

describe('Function: restartMetricName', () => {
  it.each([
    ['FLINK-1_15', 'fullRestarts'],
    ['FLINK-1_19', 'fullRestarts'],
    ['FLINK-1_20', 'fullRestarts'],
    ['FLINK-2_2', 'numRestarts'],
    ['', 'fullRestarts'],
  ])('%s publishes %s', (runtime, name) => {
    expect(restartMetricName(runtime)).toBe(name);
  });
});

describe('Function: evaluate', () => {
  const now = T0 + 30 * MIN;

  it('finds a restart loop and no recent change when the version is old', () => {
    const findings = evaluate(observation({ restarts: loopingRestarts(now) }, now), policy(), now);
    expect(findings.map((f) => f.kind)).toEqual(['RESTART_LOOP']);
    const loop = findings[0] as RestartLoopFinding;
    expect(loop.restarts).toBeGreaterThanOrEqual(3);
    expect(loop.recentChange).toBeUndefined();
  });

  it('reads numRestarts on Flink 2.x (the series given is named so)', () => {
    const obs = observation(
      { application: app({ runtimeEnvironment: 'FLINK-2_2' }), restarts: loopingRestarts(now, 6, 'numRestarts') },
      now,
    );
    const loop = evaluate(obs, policy(), now)[0] as RestartLoopFinding;
    expect(loop.metricName).toBe('numRestarts');
  });

  it("does not blame a fix deployed onto a looping job: only the new version's restarts count", () => {
    // Prepare: version 7 looped for 8 minutes; someone deployed version 8 one minute ago, and its job is quiet.
    const loopUnder7 = counter(now - 12 * MIN, [0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0]);
    const fixed = observation(
      {
        application: app({ versionId: 8, versionCreatedMs: now - 1 * MIN, versionUpdatedFrom: 7 }),
        restarts: { metricName: 'fullRestarts', periodSeconds: 60, points: loopUnder7 },
      },
      now,
    );
    // Act
    const findings = evaluate(fixed, policy(), now);
    // Assess
    expect(findings.filter((f) => f.kind === 'RESTART_LOOP')).toEqual([]);
  });

  it('still finds the loop when the new version keeps looping after the change', () => {
    // Prepare: version 8 deployed 6 minutes ago restarts every minute since.
    const points = counter(now - 12 * MIN, [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 6]);
    const obs = observation(
      {
        application: app({ versionId: 8, versionCreatedMs: now - 6 * MIN, versionUpdatedFrom: 7 }),
        restarts: { metricName: 'fullRestarts', periodSeconds: 60, points },
      },
      now,
    );
    // Act
    const loop = evaluate(obs, policy(), now).find((f) => f.kind === 'RESTART_LOOP') as RestartLoopFinding;
    // Assess
    expect(loop.restarts).toBe(6);
    expect(loop.recentChange).toMatchObject({ fromVersionId: 7, toVersionId: 8 });
  });

  it('links the loop to a version change made shortly before it began', () => {
    const obs = observation(
      {
        application: app({ versionCreatedMs: now - 8 * MIN, versionUpdatedFrom: 6 }),
        restarts: loopingRestarts(now),
        operations: [
          op({
            operation: 'UpdateApplication',
            status: 'SUCCESSFUL',
            startMs: now - 9 * MIN,
            endMs: now - 8 * MIN,
            versionFrom: 6,
            versionTo: 7,
          }),
        ],
      },
      now,
    );
    const loop = evaluate(obs, policy(), now)[0] as RestartLoopFinding;
    expect(loop.recentChange).toMatchObject({ fromVersionId: 6, toVersionId: 7, byRollback: false });
  });

  it('marks a version produced by a rollback, so it is never rolled back again', () => {
    const obs = observation(
      {
        application: app({ versionId: 8, versionCreatedMs: now - 8 * MIN, versionUpdatedFrom: 7 }),
        restarts: loopingRestarts(now),
        operations: [
          op({
            operation: 'RollbackApplication',
            status: 'SUCCESSFUL',
            startMs: now - 9 * MIN,
            endMs: now - 8 * MIN,
            versionFrom: 7,
            versionTo: 8,
          }),
        ],
      },
      now,
    );
    expect((evaluate(obs, policy(), now)[0] as RestartLoopFinding).recentChange?.byRollback).toBe(true);
  });

  it('needs the threshold of restarts inside the window', () => {
    const series = {
      metricName: 'fullRestarts',
      periodSeconds: 60,
      points: counter(now - 10 * MIN, [0, 0, 0, 0, 0, 0, 0, 0, 1, 2]),
    };
    expect(evaluate(observation({ restarts: series }, now), policy(), now)).toEqual([]);
    expect(
      evaluate(observation({ restarts: series }, now), policy({ restartLoop: { threshold: 2 } }), now)[0]?.kind,
    ).toBe('RESTART_LOOP');
  });

  it('ignores restarts before the window', () => {
    const series = { metricName: 'fullRestarts', periodSeconds: 60, points: counter(now - 30 * MIN, [0, 5, 10, 20]) };
    expect(evaluate(observation({ restarts: series }, now), policy(), now)).toEqual([]);
  });

  it('does not report a loop that stopped on its own (no restart in the last minutes)', () => {
    const series = {
      metricName: 'fullRestarts',
      periodSeconds: 60,
      points: counter(now - 10 * MIN, [0, 2, 4, 6, 8, 8, 8, 8, 8, 8]),
    };
    expect(evaluate(observation({ restarts: series }, now), policy(), now)).toEqual([]);
  });

  it('does not look for restart loops while MSF is not RUNNING', () => {
    const obs = observation({ application: app({ status: 'READY' }), restarts: loopingRestarts(now) }, now);
    expect(evaluate(obs, policy(), now).map((f) => f.kind)).toEqual(['UNEXPECTED_STATUS']);
  });

  it('reports READY after a failed UpdateApplication as DEPLOY_FAILED with its ErrorInfo and cause', () => {
    const failed = op({
      operation: 'UpdateApplication',
      status: 'FAILED',
      startMs: now - 5 * MIN,
      versionFrom: 6,
      versionTo: 7,
      errorString: 'ClassNotFoundException: com.acme.Job',
    });
    const findings = evaluate(
      observation({ application: app({ status: 'READY' }), operations: [failed] }, now),
      policy(),
      now,
    );
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      kind: 'DEPLOY_FAILED',
      cause: 'SUBMIT',
      errorString: 'ClassNotFoundException: com.acme.Job',
    });
  });

  it('forgets a failed deploy once a later start succeeded', () => {
    const ops = [
      op({ operation: 'StartApplication', status: 'SUCCESSFUL', startMs: now - 2 * MIN }),
      op({ operation: 'UpdateApplication', status: 'FAILED', startMs: now - 5 * MIN, errorString: 'boom' }),
    ];
    expect(evaluate(observation({ operations: ops }, now), policy(), now)).toEqual([]);
  });

  it('reports a system rollback as ROLLED_BACK, not DEPLOY_FAILED', () => {
    const ops = [
      op({
        operation: 'RollbackApplication',
        status: 'SUCCESSFUL',
        startMs: now - 4 * MIN,
        endMs: now - 3 * MIN,
        operationId: 'rb-1',
      }),
      op({
        operation: 'UpdateApplication',
        status: 'FAILED',
        startMs: now - 6 * MIN,
        versionFrom: 6,
        versionTo: 7,
        errorString: 'uid',
        rollbackOperationId: 'rb-1',
      }),
    ];
    const obs = observation(
      { application: app({ versionId: 8, versionRolledBackFrom: 7, versionRolledBackTo: 6 }), operations: ops },
      now,
    );
    expect(evaluate(obs, policy(), now)[0]).toMatchObject({
      kind: 'ROLLED_BACK',
      fromVersionId: 7,
      toVersionId: 6,
      system: true,
    });
  });

  it('reports a transition stuck past its limit, from the IN_PROGRESS operation start', () => {
    const inProgress = op({ operation: 'UpdateApplication', status: 'IN_PROGRESS', startMs: now - 25 * MIN });
    const obs = observation({ application: app({ status: 'UPDATING' }), operations: [inProgress] }, now);
    expect(evaluate(obs, policy(), now)[0]).toMatchObject({
      kind: 'STUCK_TRANSITION',
      status: 'UPDATING',
      minutes: 25,
      limitMinutes: 20,
    });
    expect(evaluate(obs, policy({ stuckTransitionMinutes: { UPDATING: 30 } }), now)).toEqual([]);
  });

  it('turns read failures into OBSERVATION_FAILED findings, first', () => {
    const obs = observation(
      { errors: [{ source: 'GetMetricData', message: 'ThrottlingException' }], restarts: loopingRestarts(now) },
      now,
    );
    expect(evaluate(obs, policy(), now).map((f) => f.kind)).toEqual(['OBSERVATION_FAILED', 'RESTART_LOOP']);
  });
});

describe('Function: classifyDeployFailure', () => {
  it.each([
    [
      'Cannot map checkpoint/savepoint state for operator 7df1 to the new program ... --allowNonRestoredState',
      'STATE_INCOMPATIBLE',
    ],
    ['Failed to take snapshot for the application at this moment', 'SNAPSHOT'],
    ["The program's entry point class 'com.acme.Jobb' was not found in the jar file.", 'SUBMIT'],
    ['', 'UNKNOWN'],
  ])('%s → %s', (text, cause) => {
    expect(classifyDeployFailure(text)).toBe(cause);
  });
});
