import { describe, expect, it } from 'vitest';
import { createDetectorHandler } from '#functions/detector/handler.ts';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import { RecordingNotifier } from '#shared/adapters/recording-notifier.ts';
import { alarmsFor } from '#shared/alarms.ts';
import { type DetectionSettings, parseConfig } from '#shared/config/schema.ts';
import { checkWatch, type DetectorDeps, detect } from '#shared/domain/detector.ts';
import type { MetricSeries } from '#shared/domain/model.ts';
import type { RemediationState } from '#shared/domain/remediation.ts';
import {
  advanceWatch,
  CHECK_MARGIN_SECONDS,
  checkpointFailures,
  deferredWatches,
  nextDataCheckMs,
  plannedWatches,
  type WatchInput,
  type WatchState,
  watchName,
} from '#shared/domain/watch.ts';
import { app, counter, MIN, observation, op, policy, snapshot, T0 } from '../support/builders.ts';
import { CapturingLog, FakeMetrics, FakeMsf } from '../support/fakes.ts';

const SEC = 1000;
const DETECTION: DetectionSettings = { metricsDelaySeconds: 60, watchMinutes: 10 };
const TRIGGER = { source: 'alarm' as const, detail: 'flink-watchdog-orders-restart-loop' };

/** A fullRestarts series, one datapoint per minute from `startMs`. */
function restarts(startMs: number, values: Array<number | undefined>): MetricSeries {
  return { metricName: 'fullRestarts', periodSeconds: 60, points: counter(startMs, values) };
}

function failedCheckpoints(startMs: number, values: number[]): MetricSeries {
  return { metricName: 'numberOfFailedCheckpoints', periodSeconds: 60, points: counter(startMs, values) };
}

/** A lastCheckpointDuration gauge (ms), one datapoint per minute from `startMs`; -1 = none completed since submission. */
function lastDuration(startMs: number, values: number[]): MetricSeries {
  return { metricName: 'lastCheckpointDuration', periodSeconds: 60, points: counter(startMs, values) };
}

function watchOf(kind: WatchState['kind'], overrides: Partial<WatchState> = {}): WatchState {
  return {
    schemaVersion: 1,
    applicationName: 'orders',
    kind,
    name: watchName('orders', kind, 'k'),
    startedMs: T0,
    untilMs: T0 + 20 * MIN,
    checks: 0,
    sawRestart: false,
    sawFailedCheckpoint: false,
    trigger: TRIGGER,
    ...overrides,
  };
}

/** A restarts watch started a minute before `nowMs`, with 20 minutes to go. */
function running(nowMs: number): WatchState {
  return watchOf('restarts', { startedMs: nowMs - MIN, untilMs: nowMs + 20 * MIN });
}

describe('Function: nextDataCheckMs', () => {
  it('looks at the next minute boundary + the metrics delay + the margin', () => {
    // Prepare: 14:00:30, datapoints readable 60 s after their period ends
    const now = T0 + 30 * SEC;
    // Act
    const due = nextDataCheckMs(now, 60);
    // Assess: 14:01:05 — the period 13:59 ended at 14:00:00 and is readable from 14:01:00
    expect(due).toBe(T0 + MIN + CHECK_MARGIN_SECONDS * SEC);
  });

  it('never answers the present moment: a check made at a due time looks again a minute later', () => {
    const now = T0 + MIN + CHECK_MARGIN_SECONDS * SEC;
    expect(nextDataCheckMs(now, 60)).toBe(now + MIN);
  });

  it('follows a configured delay that is not a whole minute', () => {
    // 90 s delay + 5 s margin = 95 s after a boundary, i.e. 35 s past a minute
    expect(nextDataCheckMs(T0 + 30 * SEC, 90)).toBe(T0 + 35 * SEC);
    expect(nextDataCheckMs(T0 + 36 * SEC, 90)).toBe(T0 + MIN + 35 * SEC);
  });
});

describe('Function: watchName', () => {
  it('is a valid Step Functions execution name of at most 80 characters, however long the application name', () => {
    const long = 'a.b'.repeat(42);
    const name = watchName(long, 'transition', 'UPDATING:op-1');
    expect(name.length).toBeLessThanOrEqual(80);
    // Only 0-9, A-Z, a-z, - and _: what Step Functions needs of a name to log the execution to CloudWatch Logs.
    expect(name).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(name).toContain('-transition-');
  });

  it('names one situation once: the same key gives the same name, another key another', () => {
    expect(watchName('orders', 'restarts', 'v7:1')).toBe(watchName('orders', 'restarts', 'v7:1'));
    expect(watchName('orders', 'restarts', 'v7:1')).not.toBe(watchName('orders', 'restarts', 'v7:2'));
    expect(watchName('orders', 'restarts', 'k')).not.toBe(watchName('orders', 'change', 'k'));
  });
});

describe('Function: plannedWatches', () => {
  const now = T0 + 30 * MIN + 5 * SEC;

  it('starts a restarts watch when the job restarted fewer times than the threshold, first check at the next datapoint', () => {
    // Prepare: one restart at 14:27, threshold 3
    const obs = observation({ restarts: restarts(T0 + 19 * MIN, [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]) }, now);
    // Act
    const planned = plannedWatches(obs, policy(), DETECTION, TRIGGER, now);
    // Assess
    expect(planned.map((p) => p.input.watch.kind)).toEqual(['restarts']);
    expect(planned[0]?.input.waitSeconds).toBe(60);
    expect(planned[0]?.input.watch).toMatchObject({ applicationName: 'orders', sawRestart: true, trigger: TRIGGER });
  });

  it('plans the same watch name for the same restarts seen again (a duplicate event, the next sweep)', () => {
    const series = restarts(T0 + 19 * MIN, [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
    const first = plannedWatches(observation({ restarts: series }, now), policy(), DETECTION, TRIGGER, now);
    const later = now + 2 * MIN;
    const again = plannedWatches(observation({ restarts: series }, later), policy(), DETECTION, TRIGGER, later);
    expect(again[0]?.input.watch.name).toBe(first[0]?.input.watch.name);
  });

  it('plans nothing for a quiet RUNNING application with no recent change', () => {
    const obs = observation({ restarts: restarts(T0 + 19 * MIN, [4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4]) }, now);
    expect(plannedWatches(obs, policy(), DETECTION, TRIGGER, now)).toEqual([]);
  });

  it('times a transition watch to look just after the transient status has outlasted its limit', () => {
    // Prepare: UpdateApplication in progress since 14:25, UPDATING limit 20 min
    const update = op({ operation: 'UpdateApplication', status: 'IN_PROGRESS', startMs: T0 + 25 * MIN });
    const obs = observation({ application: app({ status: 'UPDATING' }), operations: [update] }, now);
    // Act
    const planned = plannedWatches(obs, policy(), DETECTION, TRIGGER, now);
    // Assess: 14:45:05 is 15 min after now
    const transition = planned.find((p) => p.input.watch.kind === 'transition');
    expect(transition?.input.waitSeconds).toBe((T0 + 45 * MIN + CHECK_MARGIN_SECONDS * SEC - now) / SEC);
    // The change itself is watched too, every minute, from the next datapoint.
    expect(planned.find((p) => p.input.watch.kind === 'change')?.input.watch.operationId).toBe(update.operationId);
  });

  it('watches a change that ended within watchMinutes, until watchMinutes after its end', () => {
    const update = op({
      operation: 'UpdateApplication',
      status: 'SUCCESSFUL',
      startMs: T0 + 25 * MIN,
      endMs: T0 + 27 * MIN,
    });
    const obs = observation({ operations: [update] }, now);
    const [change] = plannedWatches(obs, policy(), DETECTION, TRIGGER, now);
    expect(change?.input.watch).toMatchObject({ kind: 'change', stableFromMs: T0 + 27 * MIN, untilMs: T0 + 37 * MIN });
  });

  it('does not watch a change that ended longer than watchMinutes ago', () => {
    const update = op({ operation: 'StartApplication', status: 'SUCCESSFUL', startMs: T0, endMs: T0 + MIN });
    expect(plannedWatches(observation({ operations: [update] }, now), policy(), DETECTION, TRIGGER, now)).toEqual([]);
  });
});

describe('Function: advanceWatch', () => {
  const now = T0 + 10 * MIN + 5 * SEC;

  it('goes on at the next datapoint while restarts below the threshold are in the window', () => {
    const obs = observation({ restarts: restarts(T0, [0, 0, 0, 0, 0, 0, 0, 0, 1, 2]) }, now);
    const step = advanceWatch(watchOf('restarts'), obs, policy(), DETECTION, now);
    expect(step).toMatchObject({ done: false, waitSeconds: 60 });
    expect(step.watch.checks).toBe(1);
  });

  it('ends QUIET once no restart is left in the window', () => {
    // The one restart was at 13:58, outside the 10-minute window ending 14:10:05.
    const obs = observation({ restarts: restarts(T0 - 3 * MIN, [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]) }, now);
    const step = advanceWatch(watchOf('restarts'), obs, policy(), DETECTION, now);
    expect(step).toMatchObject({ done: true, outcome: 'QUIET' });
  });

  it('waits for a transition until its limit has passed, and ends SETTLED when the status is steady', () => {
    const update = op({ operation: 'UpdateApplication', status: 'IN_PROGRESS', startMs: T0 });
    const updating = observation({ application: app({ status: 'UPDATING' }), operations: [update] }, now);
    const waiting = advanceWatch(watchOf('transition'), updating, policy(), DETECTION, now);
    expect(waiting).toMatchObject({
      done: false,
      waitSeconds: (20 * MIN + CHECK_MARGIN_SECONDS * SEC - 10 * MIN - 5 * SEC) / SEC,
    });
    const settled = advanceWatch(watchOf('transition'), observation({}, now), policy(), DETECTION, now);
    expect(settled).toMatchObject({ done: true, outcome: 'SETTLED' });
  });

  describe('change watch', () => {
    const update = op({ operation: 'UpdateApplication', status: 'SUCCESSFUL', startMs: T0 - MIN, endMs: T0 });
    const watch = watchOf('change', { operationId: update.operationId, stableFromMs: T0, untilMs: T0 + 10 * MIN });

    it('ends STABLE after watchMinutes with no restart, no failed checkpoint and checkpoints completing', () => {
      const obs = observation(
        {
          operations: [update],
          restarts: restarts(T0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
          failedCheckpoints: failedCheckpoints(T0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
          // The new job's gauge reads -1 until its first completed checkpoint, then each completion moves it.
          lastCheckpointDuration: lastDuration(T0, [-1, 1010, 1020, 1015, 1030, 1012, 1018, 1022, 1011, 1019]),
        },
        now,
      );
      expect(advanceWatch(watch, obs, policy(), DETECTION, now)).toMatchObject({ done: true, outcome: 'STABLE' });
    });

    it('does not call it STABLE when no checkpoint completed after the change (the gauge stays at -1)', () => {
      const obs = observation(
        {
          operations: [update],
          restarts: restarts(T0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
          failedCheckpoints: failedCheckpoints(T0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
          lastCheckpointDuration: lastDuration(T0, [-1, -1, -1, -1, -1, -1, -1, -1, -1, -1]),
        },
        now,
      );
      const step = advanceWatch(watch, obs, policy(), DETECTION, now);
      expect(step).toMatchObject({ done: true, outcome: 'NO_CHECKPOINT' });
      expect(step.summary).toContain('no completed checkpoint');
    });

    it('ends UNSTABLE when checkpoints failed during the watch', () => {
      const obs = observation(
        {
          operations: [update],
          restarts: restarts(T0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
          failedCheckpoints: failedCheckpoints(T0, [0, 0, 1, 1, 1, 1, 1, 1, 1, 1]),
        },
        now,
      );
      const step = advanceWatch(watch, obs, policy(), DETECTION, now);
      expect(step).toMatchObject({ done: true, outcome: 'UNSTABLE' });
      expect(step.summary).toContain('failed checkpoints');
    });

    it('goes on every minute before watchMinutes have passed', () => {
      const early = T0 + 4 * MIN + 5 * SEC;
      const obs = observation({ operations: [update], restarts: restarts(T0, [0, 0, 0, 0]) }, early);
      expect(advanceWatch(watch, obs, policy(), DETECTION, early)).toMatchObject({ done: false, waitSeconds: 60 });
    });

    it('keeps counting when the job restarts during the watch, past watchMinutes', () => {
      const obs = observation({ operations: [update], restarts: restarts(T0, [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]) }, now);
      const step = advanceWatch(watch, obs, policy(), DETECTION, now);
      expect(step).toMatchObject({ done: false });
      expect(step.watch.sawRestart).toBe(true);
    });

    it('calls the change UNSTABLE when restarts below the threshold go on two windows past its end', () => {
      const late = T0 + 30 * MIN + 5 * SEC;
      const obs = observation(
        { operations: [update], restarts: restarts(T0 + 20 * MIN, [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]) },
        late,
      );
      const step = advanceWatch(watch, obs, policy(), DETECTION, late);
      expect(step).toMatchObject({ done: true, outcome: 'UNSTABLE' });
    });

    it('ends OPERATION_FAILED when the watched operation failed without a finding', () => {
      const failed = { ...update, status: 'FAILED' as const, errorString: 'boom' };
      const obs = observation({ operations: [failed] }, now);
      const step = advanceWatch({ ...watch, stableFromMs: undefined } as WatchState, obs, policy(), DETECTION, now);
      expect(step).toMatchObject({ done: true, outcome: 'OPERATION_FAILED' });
    });
  });
});

describe('Function: checkWatch (through the detector)', () => {
  const now = T0 + 30 * MIN + 5 * SEC;

  function setup(series: MetricSeries, options: { threshold?: number } = {}) {
    const msf = new FakeMsf().setApp(app(), { snapshots: [snapshot('orders-v7-a', 7, now - 60 * MIN)] });
    const metrics = new FakeMetrics().set('orders', series);
    const ledger = new MemoryLedger();
    const started: RemediationState[] = [];
    const watches: WatchInput[] = [];
    const deps: DetectorDeps = {
      msf,
      metrics,
      ledger,
      notifier: new RecordingNotifier(),
      log: new CapturingLog(),
      config: parseConfig({
        schemaVersion: 1,
        defaults: { mode: 'remediate', restartLoop: { threshold: options.threshold ?? 3 } },
        applications: [{ name: 'orders' }],
      }),
      clock: { now: () => now },
      starter: { start: async (s) => void started.push(s) },
      watches: {
        start: async (w) => {
          const fresh = !watches.some((x) => x.watch.name === w.watch.name);
          watches.push(w);
          return fresh;
        },
      },
    };
    return { msf, ledger, started, watches, deps };
  }

  it('decides at the check that sees the threshold-th restart: FOUND, one incident, the remediation started', async () => {
    // Prepare: restarts at 14:27, 14:28, 14:29 (the last one readable from 14:31:00)
    const { deps, ledger, started, msf } = setup(restarts(T0 + 20 * MIN, [0, 0, 0, 0, 0, 0, 0, 1, 2, 3]));
    // Act
    const step = await checkWatch({ watch: running(now), done: false, waitSeconds: 0 }, deps);
    // Assess
    expect(step).toMatchObject({ done: true, outcome: 'FOUND' });
    expect(step.result.result).toBe('REMEDIATING');
    expect(await ledger.listIncidents()).toHaveLength(1);
    expect((await ledger.listIncidents())[0]?.trigger.detail).toContain('restarts watch');
    expect(started).toHaveLength(1);
    expect(msf.mutations).toEqual([]);
  });

  it('goes on below the threshold without recording anything or calling a mutating API', async () => {
    const { deps, ledger, started, msf, watches } = setup(restarts(T0 + 20 * MIN, [0, 0, 0, 0, 0, 0, 0, 0, 1, 2]));
    const step = await checkWatch({ watch: running(now), done: false, waitSeconds: 0 }, deps);
    expect(step).toMatchObject({ done: false, waitSeconds: 60 });
    expect(await ledger.listIncidents()).toEqual([]);
    expect(started).toEqual([]);
    expect(msf.mutations).toEqual([]);
    // A check never starts another watch: the watch itself goes on.
    expect(watches).toEqual([]);
  });

  it('ends HANDLED when an open incident already handles the application', async () => {
    const { deps } = setup(restarts(T0 + 20 * MIN, [0, 0, 0, 0, 0, 0, 0, 1, 2, 3]));
    await detect({ source: 'schedule', applicationName: 'orders', rule: 'sweep' }, deps);
    const step = await checkWatch({ watch: running(now), done: false, waitSeconds: 0 }, deps);
    expect(step).toMatchObject({ done: true, outcome: 'HANDLED' });
  });

  it('starts one restarts watch for a restart below the threshold, however often the alarm event arrives', async () => {
    // Prepare
    const { deps, watches } = setup(restarts(T0 + 20 * MIN, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1]));
    const signal = {
      source: 'alarm' as const,
      applicationName: 'orders',
      alarmName: 'flink-watchdog-orders-restart-loop',
      stateValue: 'ALARM',
      stateTimestamp: new Date(now).toISOString(),
    };
    // Act
    const first = await detect(signal, deps);
    const second = await detect(signal, deps);
    // Assess
    expect(first).toMatchObject({ result: 'HEALTHY', watchesStarted: [watches[0]?.watch.name] });
    expect(second.result).toBe('HEALTHY');
    expect(second.watchesStarted).toBeUndefined();
    expect(new Set(watches.map((w) => w.watch.name)).size).toBe(1);
    expect(watches[0]?.watch.kind).toBe('restarts');
  });

  it('means N restarts: 5 restarts within 2 minutes are a loop for a threshold of 5 at the first signal', async () => {
    const { deps, started } = setup(restarts(T0 + 20 * MIN, [0, 0, 0, 0, 0, 0, 0, 0, 3, 5]), { threshold: 5 });
    const out = await detect(
      {
        source: 'alarm',
        applicationName: 'orders',
        alarmName: 'flink-watchdog-orders-restart-loop',
        stateValue: 'ALARM',
        stateTimestamp: new Date(now).toISOString(),
      },
      deps,
    );
    expect(out.result).toBe('REMEDIATING');
    expect(started).toHaveLength(1);
  });
});

describe('Handler: detector, watch checks', () => {
  const now = T0 + 30 * MIN + 5 * SEC;

  function handlerWith(msf = new FakeMsf().setApp(app())) {
    const log = new CapturingLog();
    const handler = createDetectorHandler({
      msf,
      metrics: new FakeMetrics().set('orders', restarts(T0 + 20 * MIN, [0, 0, 0, 0, 0, 0, 0, 0, 1, 1])),
      ledger: new MemoryLedger(),
      notifier: new RecordingNotifier(),
      log,
      config: parseConfig({ schemaVersion: 1, defaults: { mode: 'remediate' }, applications: [{ name: 'orders' }] }),
      clock: { now: () => now },
      starter: { start: async () => {} },
    });
    return { handler, msf, log };
  }

  it.each([
    ['no applicationName', { watch: { ...watchOf('restarts'), applicationName: undefined } }, 'watch.applicationName'],
    ['an unknown kind', { watch: { ...watchOf('restarts'), kind: 'forever' } }, 'watch.kind'],
    ['a negative waitSeconds', { watch: watchOf('restarts'), waitSeconds: -1 }, 'waitSeconds'],
    ['a watch that is not an object', { watch: 'orders' }, 'watch'],
  ])('rejects a watch payload with %s, naming the field, without any MSF call', async (_label, payload, field) => {
    // Prepare
    const { handler, msf, log } = handlerWith();
    // Act
    const out = await handler(payload);
    // Assess
    expect(out.status).toBe('REJECTED');
    expect(out.error).toContain('malformed watch check');
    expect(out.error).toContain(field);
    expect(msf.calls).toEqual([]);
    expect(log.lines.filter((l) => l.level === 'error')).toHaveLength(1);
  });

  it("answers the watch's next step for the workflow: the watch, done, waitSeconds", async () => {
    const { handler } = handlerWith();
    const out = await handler({ watch: running(now), done: false, waitSeconds: 0, results: [] });
    expect(out).toMatchObject({ status: 'OK', done: false, waitSeconds: 60 });
    expect(out.watch?.checks).toBe(1);
    expect(out.results[0]?.result).toBe('HEALTHY');
  });
});

describe('Function: alarmsFor (restart alarm)', () => {
  it('wakes the detector on any restart: DIFF(counter) > 0 in 1 of 1 minute, missing data not breaching', () => {
    // Act
    const [restart] = alarmsFor(
      'orders',
      'FLINK-1_20',
      { ...policy(), restartLoop: { windowMinutes: 10, threshold: 5 } },
      { instance: 'prod', downtime: false },
    );
    // Assess
    expect(restart).toMatchObject({
      kind: 'restart-loop',
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
    });
    expect(restart?.queries.map((q) => q.expression ?? q.metric?.metricName)).toEqual([
      'fullRestarts',
      'DIFF(restarts)',
    ]);
    expect(restart?.description).toContain('5 in 10 min');
  });

  it('uses numRestarts on FLINK-2_x and keeps the downtime alarm there (deprecated, still published)', () => {
    const alarms = alarmsFor('orders', 'FLINK-2_2', policy(), { instance: 'prod', downtime: true });
    expect(alarms[0]?.queries[0]?.metric?.metricName).toBe('numRestarts');
    expect(alarms.map((a) => a.kind)).toEqual(['restart-loop', 'downtime', 'failed-checkpoints']);
  });
});

describe('Function: checkpointFailures', () => {
  const now = T0 + 10 * MIN + 5 * SEC;

  it('counts failures since the last completed checkpoint, beyond what restarts explain', () => {
    // Prepare: a checkpoint completed in 14:03 (the gauge changed), failures in 14:06 and... only one so far
    const obs = observation(
      {
        failedCheckpoints: failedCheckpoints(T0, [0, 0, 0, 0, 0, 0, 1, 1, 1]),
        lastCheckpointDuration: lastDuration(T0, [800, 800, 800, 950, 950, 950, 950, 950, 950]),
        restarts: restarts(T0, [0, 0, 0, 0, 0, 0, 0, 0, 0]),
      },
      now,
    );
    // Act
    const failing = checkpointFailures(obs, policy(), now);
    // Assess
    expect(failing).toMatchObject({ failed: 1, firstFailureMs: T0 + 6 * MIN, sinceMs: T0 + 4 * MIN });
  });

  it("finds nothing when every failure is explained by a restart (a restart loop is the restarts watch's)", () => {
    const obs = observation(
      {
        failedCheckpoints: failedCheckpoints(T0, [0, 0, 0, 0, 0, 0, 1, 1, 1]),
        restarts: restarts(T0, [0, 0, 0, 0, 0, 0, 1, 1, 1]),
      },
      now,
    );
    expect(checkpointFailures(obs, policy(), now)).toBeUndefined();
  });

  it('finds nothing once a checkpoint completed after the failures', () => {
    const obs = observation(
      {
        failedCheckpoints: failedCheckpoints(T0, [0, 0, 0, 0, 0, 0, 1, 1, 1]),
        lastCheckpointDuration: lastDuration(T0, [800, 800, 800, 800, 800, 800, 800, 800, 1200]),
      },
      now,
    );
    expect(checkpointFailures(obs, policy(), now)).toBeUndefined();
  });

  it('finds nothing when no checkpoint failed for a whole cycle (timeout 10 min + two periods)', () => {
    // One failure in 13:58, inside the 20-minute window; nothing failed in the 12 min since its datapoint.
    const series = failedCheckpoints(T0 - 5 * MIN, [0, 0, 0, 1, ...Array(14).fill(1)]);
    const at = (ms: number) => checkpointFailures(observation({ failedCheckpoints: series }, ms), policy(), ms);
    expect(at(T0 + 11 * MIN)).toMatchObject({ failed: 1 });
    expect(at(T0 + 12 * MIN + 5 * SEC)).toBeUndefined();
  });
});

describe('Function: plannedWatches (checkpoints)', () => {
  const now = T0 + 10 * MIN + 5 * SEC;
  const oneFailure = () =>
    observation(
      {
        failedCheckpoints: failedCheckpoints(T0, [0, 0, 0, 0, 0, 0, 0, 0, 1]),
        lastCheckpointDuration: lastDuration(T0, [800, 800, 800, 800, 800, 800, 800, 800, 800]),
      },
      now,
    );

  it('starts a checkpoints watch for a failed checkpoint below the stall threshold, first check at the next datapoint', () => {
    // Act
    const planned = plannedWatches(oneFailure(), policy(), DETECTION, TRIGGER, now);
    // Assess
    expect(planned.map((p) => p.input.watch.kind)).toEqual(['checkpoints']);
    expect(planned[0]?.input.waitSeconds).toBe(60);
    expect(planned[0]?.input.watch).toMatchObject({ sawFailedCheckpoint: true, startedMs: now });
    // It covers the whole 20-minute stall window (max(60 s, 600 s) × (0 + 2)), plus publishing lag.
    expect(planned[0]?.input.watch.untilMs).toBeGreaterThanOrEqual(now + 20 * MIN);
    expect(planned[0]?.summary).toContain('stall threshold 2');
  });

  it('names one episode of failures once: the next signal a minute later plans the same execution name', () => {
    const first = plannedWatches(oneFailure(), policy(), DETECTION, TRIGGER, now)[0]?.input.watch.name;
    const again = plannedWatches({ ...oneFailure(), atMs: now + MIN }, policy(), DETECTION, TRIGGER, now + MIN)[0]
      ?.input.watch.name;
    expect(first).toBeDefined();
    expect(again).toBe(first);
  });

  it('plans no checkpoints watch when checkpointing is off (CUSTOM, CheckpointingEnabled false)', () => {
    const obs = {
      ...oneFailure(),
      application: app({ checkpointConfiguration: { configurationType: 'CUSTOM', checkpointingEnabled: false } }),
    };
    expect(plannedWatches(obs, policy(), DETECTION, TRIGGER, now)).toEqual([]);
  });
});

describe('Function: advanceWatch (checkpoints watch)', () => {
  const now = T0 + 10 * MIN + 5 * SEC;
  const failing = (extra: Partial<ReturnType<typeof observation>> = {}) =>
    observation({ failedCheckpoints: failedCheckpoints(T0, [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]), ...extra }, now);

  it('goes on every minute while failures below the threshold are not followed by a completed checkpoint', () => {
    const step = advanceWatch(watchOf('checkpoints'), failing(), policy(), DETECTION, now);
    expect(step).toMatchObject({ done: false, waitSeconds: 60 });
    expect(step.summary).toContain('1 failed checkpoint(s)');
  });

  it('ends RESUMED once a checkpoint completed after the failures', () => {
    const obs = failing({
      lastCheckpointDuration: lastDuration(T0, [800, 800, 800, 800, 800, 800, 800, 800, 800, 990]),
    });
    expect(advanceWatch(watchOf('checkpoints'), obs, policy(), DETECTION, now)).toMatchObject({
      done: true,
      outcome: 'RESUMED',
    });
  });

  it('ends NOT_RUNNING when the application left RUNNING', () => {
    const obs = failing({ application: app({ status: 'STOPPING' }) });
    expect(advanceWatch(watchOf('checkpoints'), obs, policy(), DETECTION, now)).toMatchObject({
      done: true,
      outcome: 'NOT_RUNNING',
    });
  });

  it("ends EXPIRED at the watch's end with failures still below the threshold", () => {
    const step = advanceWatch(watchOf('checkpoints', { untilMs: now }), failing(), policy(), DETECTION, now);
    expect(step).toMatchObject({ done: true, outcome: 'EXPIRED' });
  });

  it("does not follow restarts: they are the restarts watch's", () => {
    const obs = observation({ restarts: restarts(T0, [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]) }, now);
    expect(advanceWatch(watchOf('checkpoints'), obs, policy(), DETECTION, now)).toMatchObject({
      done: true,
      outcome: 'RESUMED',
    });
  });
});

describe('Function: deferredWatches', () => {
  const now = T0 + 10 * MIN + 5 * SEC;

  it('follows a deferred restart loop with the very restarts watch a healthy observation would start', () => {
    // Prepare: 3 restarts, a loop for the default threshold of 3
    const obs = observation({ restarts: restarts(T0, [0, 0, 0, 0, 0, 0, 0, 1, 2, 3]) }, now);
    const below = observation({ restarts: restarts(T0, [0, 0, 0, 0, 0, 0, 0, 1, 2, 2]) }, now);
    const finding = {
      kind: 'RESTART_LOOP' as const,
      summary: 'loop',
      restarts: 3,
      windowMinutes: 10,
      metricName: 'fullRestarts',
      onsetMs: T0 + 7 * MIN,
    };
    // Act
    const deferred = deferredWatches(finding, obs, policy(), DETECTION, TRIGGER, now);
    // Assess
    expect(deferred.map((d) => d.input.watch.kind)).toEqual(['restarts']);
    expect(deferred[0]?.input.waitSeconds).toBe(60);
    expect(deferred[0]?.input.watch.name).toBe(
      plannedWatches(below, policy(), DETECTION, TRIGGER, now)[0]?.input.watch.name,
    );
  });
});

describe('Function: alarmsFor (failed-checkpoints alarm)', () => {
  it('wakes the detector on any failed checkpoint: DIFF(numberOfFailedCheckpoints) > 0 in 1 of 1 minute, missing data not breaching', () => {
    const alarm = alarmsFor('orders', 'FLINK-1_20', policy(), { instance: 'prod', downtime: false }).find(
      (a) => a.kind === 'failed-checkpoints',
    );
    expect(alarm).toMatchObject({
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
    });
    expect(alarm?.queries.map((q) => q.expression ?? q.metric?.metricName)).toEqual([
      'numberOfFailedCheckpoints',
      'DIFF(failed)',
    ]);
    expect(alarm?.queries.find((q) => q.returnData)?.expression).toBe('DIFF(failed)');
  });
});

describe('Function: detect / checkWatch (checkpoints and deferred findings)', () => {
  const now = T0 + 10 * MIN + 5 * SEC;

  function setup(series: MetricSeries[], options: { operations?: ReturnType<typeof op>[] } = {}) {
    const msf = new FakeMsf().setApp(app(), {
      snapshots: [snapshot('orders-v7-a', 7, now - 60 * MIN)],
      operations: options.operations ?? [],
    });
    const metrics = new FakeMetrics();
    for (const s of series) metrics.set('orders', s);
    const ledger = new MemoryLedger();
    const started: RemediationState[] = [];
    const watches: WatchInput[] = [];
    const notifier = new RecordingNotifier();
    const deps: DetectorDeps = {
      msf,
      metrics,
      ledger,
      notifier,
      log: new CapturingLog(),
      config: parseConfig({ schemaVersion: 1, defaults: { mode: 'remediate' }, applications: [{ name: 'orders' }] }),
      clock: { now: () => now },
      starter: { start: async (s) => void started.push(s) },
      watches: {
        start: async (w) => {
          const fresh = !watches.some((x) => x.watch.name === w.watch.name);
          watches.push(w);
          return fresh;
        },
      },
    };
    return { msf, ledger, started, watches, deps, notifier };
  }
  const alarm = (alarmName: string) => ({
    source: 'alarm' as const,
    applicationName: 'orders',
    alarmName,
    stateValue: 'ALARM',
    stateTimestamp: new Date(now).toISOString(),
  });
  const loop = restarts(T0, [0, 0, 0, 0, 0, 0, 0, 1, 2, 3]);

  it('follows a failed checkpoint below the stall threshold with one checkpoints watch, however often the alarm fires', async () => {
    // Prepare
    const { deps, watches, ledger } = setup([failedCheckpoints(T0, [0, 0, 0, 0, 0, 0, 0, 0, 1])]);
    // Act
    const first = await detect(alarm('flink-watchdog-orders-failed-checkpoints'), deps);
    const second = await detect(alarm('flink-watchdog-orders-failed-checkpoints'), deps);
    // Assess
    expect(first).toMatchObject({ result: 'HEALTHY', watchesStarted: [watches[0]?.watch.name] });
    expect(second.watchesStarted).toBeUndefined();
    expect(watches.map((w) => w.watch.kind)).toEqual(['checkpoints', 'checkpoints']);
    expect(await ledger.listIncidents()).toEqual([]);
  });

  it('decides CHECKPOINT_STALL at the check that sees the threshold-th failure: FOUND, told, nothing touched', async () => {
    // Prepare: failures at 14:08 and 14:09 (threshold 0 tolerable + 2), no restart, no completion
    const { deps, notifier, msf, started } = setup([failedCheckpoints(T0, [0, 0, 0, 0, 0, 0, 0, 0, 1, 2])]);
    const watch = watchOf('checkpoints', { startedMs: now - MIN, untilMs: now + 20 * MIN });
    // Act
    const step = await checkWatch({ watch, done: false, waitSeconds: 0 }, deps);
    // Assess
    expect(step).toMatchObject({ done: true, outcome: 'FOUND' });
    expect(step.result).toMatchObject({ result: 'NOTIFIED' });
    expect(step.result.decision?.finding?.kind).toBe('CHECKPOINT_STALL');
    expect(notifier.sent).toHaveLength(1);
    expect(msf.mutations).toEqual([]);
    expect(started).toEqual([]);
  });

  it('follows a restart loop deferred behind a held lock with its restarts watch, started once', async () => {
    // Prepare
    const { deps, watches, ledger, started } = setup([loop]);
    await ledger.acquireLock('orders', 'orders-other-incident', now - MIN, 60 * MIN);
    // Act
    const first = await detect({ source: 'schedule', applicationName: 'orders', rule: 'sweep' }, deps);
    const second = await detect(alarm('flink-watchdog-orders-restart-loop'), deps);
    // Assess
    expect(first.result).toBe('DEFERRED');
    expect(first.watchesStarted).toEqual([watches[0]?.watch.name]);
    expect(watches[0]).toMatchObject({ watch: { kind: 'restarts' }, waitSeconds: 60 });
    expect(second.result).toBe('DEFERRED');
    expect(second.watchesStarted).toBeUndefined();
    expect(new Set(watches.map((w) => w.watch.name)).size).toBe(1);
    expect(started).toEqual([]);
  });

  it('follows a restart loop deferred by a foreign operation in progress with its restarts watch', async () => {
    const { deps, watches } = setup([loop], {
      operations: [
        op({ operation: 'UpdateApplicationMaintenanceConfiguration', status: 'IN_PROGRESS', startMs: now - MIN }),
      ],
    });
    const out = await detect(alarm('flink-watchdog-orders-restart-loop'), deps);
    expect(out.result).toBe('DEFERRED');
    expect(out.reason).toContain('in progress');
    expect(watches.map((w) => w.watch.kind)).toEqual(['restarts']);
  });

  it('starts nothing from a check of a watch that is itself deferred: the watch goes on within a minute', async () => {
    const { deps, watches, ledger } = setup([loop]);
    await ledger.acquireLock('orders', 'orders-other-incident', now - MIN, 60 * MIN);
    const step = await checkWatch({ watch: running(now), done: false, waitSeconds: 0 }, deps);
    expect(step).toMatchObject({ done: false, waitSeconds: 60 });
    expect(step.result.result).toBe('DEFERRED');
    expect(watches).toEqual([]);
  });
});
