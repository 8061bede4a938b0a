import type { ApplicationDetail } from '@aws-sdk/client-kinesis-analytics-v2';
import { describe, expect, it } from 'vitest';
import { toApplicationState } from '#shared/adapters/msf.ts';
import { ConfigError, DEFAULT_POLICY, mergePolicy, parseConfig } from '#shared/config/schema.ts';
import { checkpointCompletions, checkpointHealthSince, checkpointWindow } from '#shared/domain/checkpoints.ts';
import { checkpointStall, evaluate } from '#shared/domain/detect.ts';
import type { CheckpointStallFinding } from '#shared/domain/findings.ts';
import type { ApplicationObservation, ApplicationState, MetricSeries } from '#shared/domain/model.ts';
import { observe } from '#shared/domain/observe.ts';
import type { MetricsPort } from '#shared/ports/metrics.ts';
import type { MsfPort } from '#shared/ports/msf.ts';
import { app, counter, loopingRestarts, MIN, observation, op, policy, T0 } from '../support/builders.ts';

const now = T0 + 60 * MIN;
const running = (o: Partial<ApplicationState> = {}) =>
  app({ checkpointConfiguration: { configurationType: 'DEFAULT' }, ...o });
const series = (metricName: string, startMs: number, values: Array<number | undefined>): MetricSeries => ({
  metricName,
  periodSeconds: 60,
  points: counter(startMs, values),
});
/** One datapoint a minute over the 30 minutes before `now` (index 29 is the minute before `now`). */
const last30 = (metricName: string, values: Array<number | undefined>) => series(metricName, now - 30 * MIN, values);
const flat = (value: number) => repeat(30, value);
function repeat(n: number, value: number): number[] {
  return Array.from({ length: n }, () => value);
}
function seq(n: number, f: (i: number) => number): number[] {
  return Array.from({ length: n }, (_, i) => f(i));
}
/** A gauge that changes every minute (a checkpoint completes every minute) until `untilIndex`, then stays. */
const completingUntil = (untilIndex: number) => Array.from({ length: 30 }, (_, i) => 1000 + Math.min(i, untilIndex));
const noFailures = () => last30('numberOfFailedCheckpoints', flat(3));
/** A StartApplication that ended `minutesAgo` before `now`: the running job's submission. */
const started = (minutesAgo: number) =>
  op({
    operation: 'StartApplication',
    status: 'SUCCESSFUL',
    startMs: now - (minutesAgo + 2) * MIN,
    endMs: now - minutesAgo * MIN,
  });

function stall(o: Partial<ApplicationObservation>, p = policy()): CheckpointStallFinding | undefined {
  return checkpointStall(observation({ application: running(), ...o }, now), p, now);
}

describe('Function: checkpointWindow', () => {
  it.each([
    {
      situation: 'ConfigurationType DEFAULT: MSF uses 60000 ms; Flink timeout 10 min, 0 tolerable → 20 min',
      app: running(),
      settings: DEFAULT_POLICY.checkpointStall,
      intervalMs: 60_000,
      source: 'DEFAULT',
      windowMinutes: 20,
    },
    {
      situation: 'DEFAULT ignores a CheckpointInterval that is set',
      app: running({ checkpointConfiguration: { configurationType: 'DEFAULT', checkpointIntervalMs: 900_000 } }),
      settings: DEFAULT_POLICY.checkpointStall,
      intervalMs: 60_000,
      source: 'DEFAULT',
      windowMinutes: 20,
    },
    {
      situation: 'CUSTOM interval 15 min beats the 10-min timeout → 30 min',
      app: running({ checkpointConfiguration: { configurationType: 'CUSTOM', checkpointIntervalMs: 900_000 } }),
      settings: DEFAULT_POLICY.checkpointStall,
      intervalMs: 900_000,
      source: 'CUSTOM',
      windowMinutes: 30,
    },
    {
      situation: 'CUSTOM interval 30 s, timeout 90 s, 2 tolerable → 90 s × 4 = 6 min',
      app: running({ checkpointConfiguration: { configurationType: 'CUSTOM', checkpointIntervalMs: 30_000 } }),
      settings: { checkpointTimeoutSeconds: 90, tolerableFailedCheckpoints: 2 },
      intervalMs: 30_000,
      source: 'CUSTOM',
      windowMinutes: 6,
    },
    {
      situation: 'no checkpoint configuration returned: 60000 ms assumed',
      app: app(),
      settings: DEFAULT_POLICY.checkpointStall,
      intervalMs: 60_000,
      source: 'ASSUMED',
      windowMinutes: 20,
    },
  ])('$situation', ({ app: a, settings, intervalMs, source, windowMinutes }) => {
    const w = checkpointWindow(a, settings);
    expect(w.intervalMs).toBe(intervalMs);
    expect(w.intervalSource).toBe(source);
    expect(w.windowMinutes).toBe(windowMinutes);
    expect(w.windowMs).toBe(windowMinutes * MIN);
    expect(w.enabled).toBe(true);
    expect(w.derivation).toContain(`= ${windowMinutes} min`);
  });

  it('is off when ConfigurationType CUSTOM disables checkpointing', () => {
    const w = checkpointWindow(
      running({ checkpointConfiguration: { configurationType: 'CUSTOM', checkpointingEnabled: false } }),
      DEFAULT_POLICY.checkpointStall,
    );
    expect(w.enabled).toBe(false);
  });

  it('shows the derivation in words', () => {
    expect(checkpointWindow(running(), DEFAULT_POLICY.checkpointStall).derivation).toBe(
      'max(interval 60 s [MSF DEFAULT], timeout 600 s) × (0 tolerable failed checkpoints + 2) = 20 min',
    );
  });
});

describe('Function: checkpointCompletions', () => {
  it('takes a changed gauge value as a completed checkpoint at the end of its period', () => {
    const c = checkpointCompletions(series('lastCheckpointDuration', T0, [800, 800, 950, 950]));
    expect(c.lastCompletionMs).toBe(T0 + 3 * MIN);
    expect(c.coveredUntilMs).toBe(T0 + 4 * MIN);
    expect(c.firstPointMs).toBe(T0);
  });

  it('dates the run of -1 that reaches the newest datapoint (no checkpoint since the submission)', () => {
    const c = checkpointCompletions(series('lastCheckpointDuration', T0, [800, 800, -1, -1]));
    expect(c.noneCompletedSinceMs).toBe(T0 + 2 * MIN);
    expect(checkpointCompletions(series('lastCheckpointDuration', T0, [-1, -1])).noneCompletedSinceMs).toBe(T0);
    expect(checkpointCompletions(series('lastCheckpointDuration', T0, [-1, 900])).noneCompletedSinceMs).toBeUndefined();
    expect(checkpointCompletions().noneCompletedSinceMs).toBeUndefined();
  });

  it('reads -1 (no checkpoint since submission) as no completion, and the first value after it as one', () => {
    expect(checkpointCompletions(series('lastCheckpointSize', T0, [-1, -1, -1])).lastCompletionMs).toBeUndefined();
    expect(checkpointCompletions(series('lastCheckpointSize', T0, [-1, -1, 4096])).lastCompletionMs).toBe(T0 + 3 * MIN);
  });

  it('sees a completion in either gauge', () => {
    const c = checkpointCompletions(
      series('lastCheckpointDuration', T0, [800, 800, 800]),
      series('lastCheckpointSize', T0, [4096, 8192, 8192]),
    );
    expect(c.lastCompletionMs).toBe(T0 + 2 * MIN);
  });
});

describe('Function: checkpointStall', () => {
  interface Row {
    situation: string;
    obs: Partial<ApplicationObservation>;
    override?: Parameters<typeof policy>[0];
    cause?: CheckpointStallFinding['cause'];
    sinceMs?: number;
  }
  const rows: Row[] = [
    {
      situation: 'healthy: a checkpoint completes every minute, none fails',
      obs: {
        failedCheckpoints: noFailures(),
        lastCheckpointDuration: last30('lastCheckpointDuration', completingUntil(29)),
      },
    },
    {
      situation: 'rising failures: 4 failed checkpoints in the last 10 min, no restart, none completed since',
      obs: {
        failedCheckpoints: last30('numberOfFailedCheckpoints', [...repeat(20, 3), 3, 4, 4, 5, 5, 6, 6, 7, 7, 7]),
        lastCheckpointDuration: last30('lastCheckpointDuration', completingUntil(19)),
      },
      cause: 'FAILED_CHECKPOINTS_RISING',
      // The last change of the gauge was in minute index 19: a completion by the end of that period.
      sinceMs: now - 30 * MIN + 20 * MIN,
    },
    {
      situation: 'rising failures without any last-checkpoint gauge: since the first counted failure',
      obs: {
        failedCheckpoints: last30('numberOfFailedCheckpoints', [...repeat(25, 0), 1, 2, 3, 3, 3]),
      },
      cause: 'FAILED_CHECKPOINTS_RISING',
      sinceMs: now - 5 * MIN,
    },
    {
      situation: 'one failed checkpoint (below the default threshold of tolerable + 2 = 2)',
      obs: {
        failedCheckpoints: last30('numberOfFailedCheckpoints', [...repeat(25, 0), 1, 1, 1, 1, 1]),
      },
    },
    {
      situation: 'failures that restarts explain (each restart aborts the checkpoint in flight)',
      obs: {
        failedCheckpoints: last30('numberOfFailedCheckpoints', [...repeat(25, 0), 1, 2, 3, 3, 3]),
        restarts: last30('fullRestarts', [...repeat(25, 0), 1, 2, 3, 3, 3]),
      },
    },
    {
      situation: 'failures that stopped 15 min ago (longer than one checkpoint cycle plus lag)',
      obs: {
        failedCheckpoints: last30('numberOfFailedCheckpoints', [...repeat(12, 0), 1, 2, 3, 4, ...repeat(14, 4)]),
      },
    },
    {
      situation: 'failures, then a completed checkpoint after the last one: recovered',
      obs: {
        failedCheckpoints: last30('numberOfFailedCheckpoints', [...repeat(24, 0), 1, 2, 3, 3, 3, 3]),
        lastCheckpointDuration: last30('lastCheckpointDuration', [...repeat(28, 900), 950, 975]),
      },
    },
    {
      situation: 'a threshold of 5 set in the policy: 3 failures are not enough',
      obs: {
        failedCheckpoints: last30('numberOfFailedCheckpoints', [...repeat(25, 0), 1, 2, 3, 3, 3]),
      },
      override: { checkpointStall: { failedCheckpointsThreshold: 5 } },
    },
    {
      situation: 'gauges unchanged for 25 min and no failure: not a stall (equal checkpoints look alike)',
      obs: {
        failedCheckpoints: noFailures(),
        lastCheckpointDuration: last30('lastCheckpointDuration', completingUntil(4)),
        lastCheckpointSize: last30('lastCheckpointSize', flat(1_048_576)),
      },
    },
    {
      situation: 'no checkpoint completed (-1) 15 min after StartApplication: still inside the 20-min window',
      obs: {
        operations: [started(15)],
        lastCheckpointDuration: last30('lastCheckpointDuration', [...repeat(15, 700), ...repeat(15, -1)]),
      },
    },
    {
      situation: 'no checkpoint completed (-1) 15 min after StartApplication with a 5-min timeout (window 10 min)',
      obs: {
        operations: [started(15)],
        lastCheckpointDuration: last30('lastCheckpointDuration', [...repeat(15, 700), ...repeat(15, -1)]),
      },
      override: { checkpointStall: { checkpointTimeoutSeconds: 300 } },
      cause: 'NO_COMPLETED_CHECKPOINT',
      sinceMs: now - 15 * MIN,
    },
    {
      situation: 'no datapoint yet for the minutes past the window (metrics delayed): not concluded',
      obs: {
        operations: [started(21)],
        // -1 since the submission 21 min ago, but the newest datapoint is index 18 (ends 11 min before now).
        lastCheckpointDuration: last30('lastCheckpointDuration', [...repeat(9, 700), ...repeat(10, -1)]),
      },
    },
    {
      situation: 'every datapoint -1 and no submission known: since the oldest datapoint',
      obs: {
        application: running({ versionCreatedMs: undefined }),
        lastCheckpointDuration: last30('lastCheckpointDuration', flat(-1)),
        lastCheckpointSize: last30('lastCheckpointSize', flat(-1)),
      },
      cause: 'NO_COMPLETED_CHECKPOINT',
      sinceMs: now - 30 * MIN,
    },
    {
      situation: '-1 for 5 min while the known submission is hours old (e.g. after maintenance): the datapoints decide',
      obs: {
        lastCheckpointDuration: last30('lastCheckpointDuration', [...repeat(25, 700), ...repeat(5, -1)]),
      },
    },
    {
      situation: 'one gauge -1 but the other shows a completed checkpoint: not concluded',
      obs: {
        operations: [started(25)],
        lastCheckpointDuration: last30('lastCheckpointDuration', flat(-1)),
        lastCheckpointSize: last30('lastCheckpointSize', flat(2048)),
      },
    },
    {
      situation: 'a job that never completed a checkpoint (-1) 25 min after StartApplication',
      obs: {
        operations: [
          op({ operation: 'StartApplication', status: 'SUCCESSFUL', startMs: now - 27 * MIN, endMs: now - 25 * MIN }),
        ],
        failedCheckpoints: last30('numberOfFailedCheckpoints', [...repeat(5, 9), ...repeat(25, 0)]),
        lastCheckpointDuration: last30('lastCheckpointDuration', [...repeat(5, 700), ...repeat(25, -1)]),
      },
      cause: 'NO_COMPLETED_CHECKPOINT',
      sinceMs: now - 25 * MIN,
    },
    {
      situation: 'a new job submission resets the counter: the old job’s failures do not count',
      obs: {
        operations: [
          op({ operation: 'StartApplication', status: 'SUCCESSFUL', startMs: now - 12 * MIN, endMs: now - 10 * MIN }),
        ],
        // Old job: a failure every minute up to the new submission; the new job's counter starts again at 0.
        failedCheckpoints: last30('numberOfFailedCheckpoints', [...seq(20, (i) => i), ...repeat(10, 0)]),
        lastCheckpointDuration: last30('lastCheckpointDuration', [...repeat(20, 500), ...seq(10, (i) => 600 + i)]),
      },
    },
    {
      situation: 'a new job whose counter drops and then rises again: only the new failures count',
      obs: {
        failedCheckpoints: last30('numberOfFailedCheckpoints', [...repeat(24, 40), 0, 1, 2, 3, 3, 3]),
      },
      cause: 'FAILED_CHECKPOINTS_RISING',
      sinceMs: now - 5 * MIN,
    },
    {
      situation: 'checkpointing disabled (CUSTOM, CheckpointingEnabled false)',
      obs: {
        application: running({ checkpointConfiguration: { configurationType: 'CUSTOM', checkpointingEnabled: false } }),
        failedCheckpoints: noFailures(),
        lastCheckpointDuration: last30('lastCheckpointDuration', flat(-1)),
      },
    },
    {
      situation: 'not RUNNING (UPDATING): a transition is not a stall',
      obs: {
        application: running({ status: 'UPDATING' }),
        failedCheckpoints: last30('numberOfFailedCheckpoints', [...repeat(25, 0), 1, 2, 3, 3, 3]),
        lastCheckpointDuration: last30('lastCheckpointDuration', flat(700)),
      },
    },
  ];

  it.each(rows)('$situation', ({ obs, override, cause, sinceMs }) => {
    // Prepare
    const p = policy(override ?? {});
    // Act
    const f = stall(obs, p);
    // Assess
    if (cause === undefined) {
      expect(f).toBeUndefined();
      return;
    }
    expect(f?.cause).toBe(cause);
    expect(f?.sinceMs).toBe(sinceMs);
    expect(f?.summary).toContain(f?.window.derivation ?? 'no window');
  });

  it('counts the failures, restarts and threshold it acted on, and when the threshold was reached', () => {
    const f = stall({
      failedCheckpoints: last30('numberOfFailedCheckpoints', [...repeat(25, 0), 1, 2, 4, 4, 4]),
      restarts: last30('fullRestarts', [...repeat(25, 0), 1, 1, 1, 1, 1]),
    });
    expect(f).toMatchObject({
      failedCheckpoints: 4,
      restarts: 1,
      unexplainedFailures: 3,
      failedCheckpointsThreshold: 2,
    });
    // 2 failed, 1 restart at index 26: 1 unexplained; 4 failed at index 27: 3 unexplained ≥ 2 → end of that minute.
    expect(f?.onsetMs).toBe(now - 30 * MIN + 28 * MIN);
  });

  it('dates a NO_COMPLETED_CHECKPOINT onset at the end of the window, from the submission', () => {
    const f = stall({
      operations: [started(25)],
      lastCheckpointDuration: last30('lastCheckpointDuration', [...repeat(5, 700), ...repeat(25, -1)]),
    });
    expect(f?.sinceMs).toBe(now - 25 * MIN);
    expect(f?.onsetMs).toBe(now - 5 * MIN);
    expect(f?.lastCompletedMs).toBeUndefined();
  });

  it('prefers NO_COMPLETED_CHECKPOINT when checkpoints also keep failing', () => {
    const f = stall({
      operations: [started(25)],
      failedCheckpoints: last30('numberOfFailedCheckpoints', [...repeat(5, 0), ...seq(25, (i) => i)]),
      lastCheckpointDuration: last30('lastCheckpointDuration', [...repeat(5, 700), ...repeat(25, -1)]),
    });
    expect(f?.cause).toBe('NO_COMPLETED_CHECKPOINT');
    expect(f?.failedCheckpoints).toBe(20);
    expect(f?.summary).toContain('20 checkpoint(s) failed (numberOfFailedCheckpoints) in the last 20 min');
  });
});

describe('Function: evaluate (CHECKPOINT_STALL)', () => {
  it('orders a restart loop before a checkpoint stall', () => {
    const obs = observation(
      {
        application: running(),
        restarts: loopingRestarts(now),
        failedCheckpoints: last30('numberOfFailedCheckpoints', [...repeat(20, 0), ...seq(10, (i) => 2 * i)]),
      },
      now,
    );
    expect(evaluate(obs, policy(), now).map((f) => f.kind)).toEqual(['RESTART_LOOP', 'CHECKPOINT_STALL']);
  });

  it('reports a stall of a RUNNING application as its only finding', () => {
    const obs = observation(
      {
        application: running(),
        operations: [started(28)],
        lastCheckpointDuration: last30('lastCheckpointDuration', flat(-1)),
      },
      now,
    );
    expect(evaluate(obs, policy(), now).map((f) => f.kind)).toEqual(['CHECKPOINT_STALL']);
  });
});

describe('Function: observe (checkpoint series)', () => {
  class FakeMetrics implements MetricsPort {
    calls: Array<{ names: readonly string[]; startMs: number; endMs: number }> = [];
    constructor(readonly data: Record<string, MetricSeries>) {}
    async getSeries(_app: string, names: readonly string[], startMs: number, endMs: number) {
      this.calls.push({ names, startMs, endMs });
      return this.data;
    }
  }
  const msf = (a: ApplicationState) =>
    ({
      describeApplication: async () => a,
      listOperations: async () => [],
      listSnapshots: async () => [],
    }) as unknown as MsfPort;

  it('reads the failed-checkpoint counter and both last-checkpoint gauges over the checkpoint window', async () => {
    // Prepare
    const metrics = new FakeMetrics({
      fullRestarts: last30('fullRestarts', flat(0)),
      downtime: last30('downtime', flat(0)),
      numberOfFailedCheckpoints: noFailures(),
      lastCheckpointDuration: last30('lastCheckpointDuration', completingUntil(29)),
      lastCheckpointSize: last30('lastCheckpointSize', flat(4096)),
    });
    // Act
    const obs = await observe('orders', { msf: msf(running()), metrics }, now, 10);
    // Assess
    expect(metrics.calls).toHaveLength(1);
    expect(metrics.calls[0]?.names).toEqual([
      'fullRestarts',
      'downtime',
      'numberOfFailedCheckpoints',
      'lastCheckpointDuration',
      'lastCheckpointSize',
    ]);
    expect(metrics.calls[0]?.startMs).toBe(now - 21 * MIN);
    expect(obs.lastCheckpointDuration?.points[0]?.timestampMs).toBe(now - 21 * MIN);
    expect(obs.lastCheckpointSize?.points.length).toBe(21);
    // Restarts span the checkpoint window (they explain failed checkpoints); downtime keeps the restart look-back.
    expect(obs.restarts?.points[0]?.timestampMs).toBe(now - 30 * MIN);
    expect(obs.downtime?.points[0]?.timestampMs).toBe(now - 11 * MIN);
  });

  it('widens the read to a longer checkpoint window from the policy', async () => {
    const metrics = new FakeMetrics({});
    await observe('orders', { msf: msf(running()), metrics }, now, 10, {
      checkpointTimeoutSeconds: 900,
      tolerableFailedCheckpoints: 1,
    });
    expect(metrics.calls[0]?.startMs).toBe(now - (45 + 1) * MIN);
  });
});

describe('Function: toApplicationState (CheckpointConfigurationDescription)', () => {
  const detail = (cp: object): ApplicationDetail =>
    ({
      ApplicationARN: 'arn:aws:kinesisanalytics:eu-west-1:123456789012:application/orders',
      ApplicationName: 'orders',
      ApplicationStatus: 'RUNNING',
      ApplicationVersionId: 7,
      RuntimeEnvironment: 'FLINK-1_20',
      ApplicationConfigurationDescription: {
        FlinkApplicationConfigurationDescription: { CheckpointConfigurationDescription: cp },
      },
    }) as ApplicationDetail;

  it('maps ConfigurationType, CheckpointingEnabled and CheckpointInterval', () => {
    expect(
      toApplicationState(
        detail({ ConfigurationType: 'CUSTOM', CheckpointingEnabled: true, CheckpointInterval: 30_000 }),
      ).checkpointConfiguration,
    ).toEqual({ configurationType: 'CUSTOM', checkpointingEnabled: true, checkpointIntervalMs: 30_000 });
  });

  it('leaves it out when MSF returned none', () => {
    expect(toApplicationState(detail({})).checkpointConfiguration).toBeUndefined();
  });
});

describe('Config: onCheckpointStall and checkpointStall', () => {
  const config = (defaults: object) => ({ schemaVersion: 1, defaults, applications: [{ name: 'orders' }] });

  it('defaults to NOTIFY with Flink’s checkpoint timeout (600 s) and tolerable failures (0)', () => {
    const p = mergePolicy();
    expect(p.onCheckpointStall).toBe('NOTIFY');
    expect(p.checkpointStall).toEqual({ checkpointTimeoutSeconds: 600, tolerableFailedCheckpoints: 0 });
  });

  it('merges a partial checkpointStall onto the defaults', () => {
    const p = mergePolicy({ checkpointStall: { tolerableFailedCheckpoints: 3 } });
    expect(p.checkpointStall).toEqual({ checkpointTimeoutSeconds: 600, tolerableFailedCheckpoints: 3 });
  });

  it('accepts FORCE_STOP_AND_RESTART', () => {
    expect(parseConfig(config({ onCheckpointStall: 'FORCE_STOP_AND_RESTART' })).defaults.onCheckpointStall).toBe(
      'FORCE_STOP_AND_RESTART',
    );
  });

  it.each([
    [
      { onCheckpointStall: 'ROLLBACK' },
      'defaults.onCheckpointStall: must be one of "FORCE_STOP_AND_RESTART", "NOTIFY"',
    ],
    [
      { checkpointStall: { checkpointTimeoutSeconds: 0 } },
      'defaults.checkpointStall.checkpointTimeoutSeconds: must be at least 1 (got 0)',
    ],
    [
      { checkpointStall: { tolerableFailedCheckpoints: -1 } },
      'defaults.checkpointStall.tolerableFailedCheckpoints: must be at least 0 (got -1)',
    ],
    [{ checkpointStall: { timeoutMinutes: 5 } }, 'defaults.checkpointStall.timeoutMinutes: unknown key'],
  ])('rejects %j naming the field', (defaults, message) => {
    expect(() => parseConfig(config(defaults))).toThrow(ConfigError);
    expect(() => parseConfig(config(defaults))).toThrow(message);
  });
});

describe('Function: checkpointHealthSince (verify after a CHECKPOINT_STALL remediation)', () => {
  const from = now - 5 * MIN;
  it.each([
    {
      situation: 'the restarted job completed a checkpoint and none failed → healthy',
      failed: [...repeat(25, 7), 0, 0, 0, 0, 0],
      duration: [...repeat(25, -1), -1, -1, 900, 950, 950],
      expected: { failed: 0, completed: true },
    },
    {
      situation: 'the restarted job fails checkpoints again (new counter from 0)',
      failed: [...repeat(25, 7), 0, 1, 2, 3, 4],
      duration: flat(-1),
      expected: { failed: 4, completed: false },
    },
    {
      situation: 'no failure but no checkpoint completed yet (gauge still -1)',
      failed: [...repeat(25, 7), 0, 0, 0, 0, 0],
      duration: flat(-1),
      expected: { failed: 0, completed: false },
    },
  ])('$situation', ({ failed, duration, expected }) => {
    expect(
      checkpointHealthSince(
        last30('numberOfFailedCheckpoints', failed),
        last30('lastCheckpointDuration', duration),
        from,
      ),
    ).toEqual(expected);
  });

  it('counts from 0 when nothing was published before the window (a job just submitted)', () => {
    const failed = series('numberOfFailedCheckpoints', from, [1, 2]);
    expect(checkpointHealthSince(failed, undefined, from)).toEqual({ failed: 2, completed: false });
  });
});
