import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { VirtualClock } from '#sandbox/clock.ts';
import {
  DEFAULT_ALARM_EVALUATION_OFFSET_SECONDS,
  DEFAULT_METRICS_DELAY_SECONDS,
  type MetricDatapoint,
  periodOfSnapshot,
} from '#sandbox/emulator/metric-publisher.ts';
import { MsfEmulator } from '#sandbox/emulator/msf.ts';
import { Fault, JobRule, Scenario, ScenarioApplication } from '#sandbox/scenario.ts';

const START = '2026-03-02T14:00:00Z';
const T0 = Date.parse(START);
const MINUTE = 60_000;
const at = (minutes: number, seconds = 0) => T0 + minutes * MINUTE + seconds * 1000;

/** A recording metric sink: every stored datapoint with the virtual time it was stored at. */
class RecordingSink {
  readonly stored: Array<MetricDatapoint & { storedAtMs: number }> = [];
  constructor(private readonly clock: () => number) {}
  putDatapoint(p: MetricDatapoint): void {
    this.stored.push({ ...p, storedAtMs: this.clock() });
  }
  /** Values of one metric of one application for the period starting at `periodMs`. */
  values(application: string, metricName: string, periodMs: number): number[] {
    return this.stored
      .filter(
        (p) => p.dimensions.Application === application && p.metricName === metricName && p.timestampMs === periodMs,
      )
      .map((p) => p.value);
  }
}

interface World {
  readonly clock: VirtualClock;
  readonly msf: MsfEmulator;
  readonly sink: RecordingSink;
  readonly evaluations: Array<{ atMs: number; storedBefore: number }>;
  /** Moves the clock and the emulator to `epochMs`. */
  advanceTo(epochMs: number): void;
}

function world(
  applications: z.input<typeof ScenarioApplication>[],
  opts: {
    faults?: z.input<typeof Fault>[];
    jobModel?: z.input<typeof JobRule>[];
    metricsDelaySeconds?: number;
    alarmEvaluationOffsetSeconds?: number;
    metricHistoryMinutes?: number;
  } = {},
): World {
  const clock = new VirtualClock(T0);
  // The sink reads the emulator's cursor through the clock's view: the emulator stores at step times ≤ clock.now().
  let stepMs = T0;
  const sink = new RecordingSink(() => stepMs);
  const evaluations: World['evaluations'] = [];
  const msf = new MsfEmulator({
    clock,
    region: 'eu-west-1',
    accountId: '123456789012',
    world: {
      startTime: START,
      applications: applications.map((a) => ScenarioApplication.parse(a)),
      jobModel: (opts.jobModel ?? []).map((r) => JobRule.parse(r)),
      faults: (opts.faults ?? []).map((f) => Fault.parse(f)),
    },
    metrics: {
      putDatapoint: (p) => sink.putDatapoint(p),
    },
    ...(opts.metricsDelaySeconds === undefined ? {} : { metricsDelaySeconds: opts.metricsDelaySeconds }),
    ...(opts.alarmEvaluationOffsetSeconds === undefined
      ? {}
      : { alarmEvaluationOffsetSeconds: opts.alarmEvaluationOffsetSeconds }),
    ...(opts.metricHistoryMinutes === undefined ? {} : { metricHistoryMinutes: opts.metricHistoryMinutes }),
    onAlarmEvaluation: (atMs) => evaluations.push({ atMs, storedBefore: sink.stored.length }),
  });
  return {
    clock,
    msf,
    sink,
    evaluations,
    advanceTo(epochMs) {
      // One second at a time, so that the sink can note the step at which each datapoint is stored.
      while (stepMs < epochMs) {
        stepMs += 1000;
        clock.advanceTo(stepMs);
        msf.advanceTo(stepMs);
      }
    },
  };
}

const app = (name: string, extra: Partial<z.input<typeof ScenarioApplication>> = {}) => ({
  name,
  code: { bucket: 'artifacts', fileKey: `${name}-1.jar` },
  ...extra,
});

describe('Function: periodOfSnapshot', () => {
  it('puts the snapshots at 15, 30, 45 and 60 s into the minute that ends at or after them', () => {
    // Act
    const periods = [15, 30, 45, 60].map((sec) => periodOfSnapshot(at(0, sec)));

    // Assess
    expect(periods).toEqual([T0, T0, T0, T0]);
    expect(periodOfSnapshot(at(1, 15))).toBe(at(1));
  });
});

describe('Class: MsfEmulator (metric publication)', () => {
  it('stores a minute four samples at once, DEFAULT_METRICS_DELAY_SECONDS after the minute ends', () => {
    // Prepare
    const w = world([app('orders')]);

    // Act
    w.advanceTo(at(1) + DEFAULT_METRICS_DELAY_SECONDS * 1000 - 1000);
    const early = w.sink.values('orders', 'uptime', T0);
    w.advanceTo(at(1) + DEFAULT_METRICS_DELAY_SECONDS * 1000);

    // Assess
    expect(early).toEqual([]);
    expect(w.sink.values('orders', 'uptime', T0)).toHaveLength(4);
    const stored = w.sink.stored.filter((p) => p.timestampMs === T0);
    expect(new Set(stored.map((p) => p.storedAtMs))).toEqual(new Set([at(1) + DEFAULT_METRICS_DELAY_SECONDS * 1000]));
  });

  it('uses the delay the scenario sets', () => {
    // Prepare
    const w = world([app('orders')], { metricsDelaySeconds: 20 });

    // Act
    w.advanceTo(at(1, 19));
    const early = w.sink.values('orders', 'uptime', T0);
    w.advanceTo(at(1, 20));

    // Assess
    expect(early).toEqual([]);
    expect(w.sink.values('orders', 'uptime', T0)).toHaveLength(4);
  });

  it('publishes zero counters every minute (no invented gaps)', () => {
    // Prepare
    const w = world([app('orders')], { metricsDelaySeconds: 0 });

    // Act
    w.advanceTo(at(10));

    // Assess: every minute 0–9 has its fullRestarts and numberOfFailedCheckpoints samples, all 0
    for (let m = 0; m < 10; m++) {
      expect(w.sink.values('orders', 'fullRestarts', at(m))).toEqual([0, 0, 0, 0]);
      expect(w.sink.values('orders', 'numberOfFailedCheckpoints', at(m))).toEqual([0, 0, 0, 0]);
    }
  });

  it('samples downtime at the four snapshots, so Maximum sees an outage still going on at one of them', () => {
    // Prepare: an outage from minute 1 fails the job at 1:20 (OUTAGE_FAIL_AFTER_SECONDS); it restarts at 1:31
    const w = world([app('orders')], {
      metricsDelaySeconds: 0,
      faults: [{ kind: 'outage', application: 'orders', fromMinute: 1, toMinute: 1.4 }],
    });

    // Act
    w.advanceTo(at(3));

    // Assess: snapshots at 1:15 (up), 1:30 (down 10 s), 1:45 and 2:00 (up again)
    const downtime = w.sink.values('orders', 'downtime', at(1));
    expect(downtime).toEqual([0, 10_000, 0, 0]);
    expect(Math.max(...downtime)).toBe(10_000);
    expect(w.sink.values('orders', 'fullRestarts', at(1))).toEqual([0, 1, 1, 1]);
  });

  it('publishes numRestarts, the 2.2 state times and still uptime/downtime on FLINK-2_2; fullRestarts before 2', () => {
    // Prepare
    const w = world(
      [app('flink2', { runtimeEnvironment: 'FLINK-2_2' }), app('flink1', { runtimeEnvironment: 'FLINK-1_20' })],
      {
        metricsDelaySeconds: 0,
      },
    );

    // Act
    w.advanceTo(at(1));
    const names = (application: string) =>
      [
        ...new Set(w.sink.stored.filter((p) => p.dimensions.Application === application).map((p) => p.metricName)),
      ].sort();

    // Assess
    expect(names('flink2')).toEqual([
      'cancellingTime',
      'downtime',
      'failingTime',
      'lastCheckpointDuration',
      'lastCheckpointSize',
      'numRestarts',
      'numberOfFailedCheckpoints',
      'restartingTime',
      'runningTime',
      'uptime',
    ]);
    expect(names('flink1')).toEqual([
      'downtime',
      'fullRestarts',
      'lastCheckpointDuration',
      'lastCheckpointSize',
      'numberOfFailedCheckpoints',
      'uptime',
    ]);
  });

  it('holds the last hour of history of an application that is running when the scenario starts', () => {
    // Prepare & Act: the seeded job has run since its version was created (240 min before the start by default)
    const w = world([app('orders')]);

    // Assess: the 60 minutes before the start, each with 4 samples; those due by the start are stored at once
    const periods = [...new Set(w.sink.stored.filter((p) => p.metricName === 'uptime').map((p) => p.timestampMs))];
    expect(Math.min(...periods)).toBe(at(-60));
    expect(w.sink.values('orders', 'uptime', at(-60))).toHaveLength(4);
    expect(Math.max(...periods)).toBe(at(-1) - DEFAULT_METRICS_DELAY_SECONDS * 1000);
    expect(w.sink.values('orders', 'uptime', at(-1))).toEqual([]);
    w.advanceTo(at(0, DEFAULT_METRICS_DELAY_SECONDS));
    expect(w.sink.values('orders', 'uptime', at(-1))).toHaveLength(4);
  });

  it('starts on an empty store with metricHistoryMinutes 0', () => {
    // Act
    const w = world([app('orders')], { metricHistoryMinutes: 0 });

    // Assess
    expect(w.sink.stored).toEqual([]);
  });

  it('publishes nothing for an application that runs no job', () => {
    // Prepare
    const w = world([app('stopped', { initialStatus: 'READY' })], { metricsDelaySeconds: 0 });

    // Act
    w.advanceTo(at(5));

    // Assess
    expect(w.sink.stored).toEqual([]);
  });

  it('delays only the periods in a metrics-delayed window, by the extra seconds', () => {
    // Prepare
    const w = world([app('orders')], {
      metricsDelaySeconds: 10,
      faults: [{ kind: 'metrics-delayed', application: 'orders', fromMinute: 2, toMinute: 3, extraDelaySeconds: 120 }],
    });

    // Act
    w.advanceTo(at(8));
    const storedAt = (periodMs: number) =>
      w.sink.stored.find((p) => p.metricName === 'uptime' && p.timestampMs === periodMs)?.storedAtMs;

    // Assess
    expect(storedAt(at(1))).toBe(at(2, 10));
    expect(storedAt(at(2))).toBe(at(5, 10));
    expect(storedAt(at(3))).toBe(at(4, 10));
  });

  it('leaves out the named metrics of the periods in a metrics-missing window, and everything without names', () => {
    // Prepare
    const w = world([app('orders'), app('payments')], {
      metricsDelaySeconds: 0,
      faults: [
        { kind: 'metrics-missing', application: 'orders', fromMinute: 2, toMinute: 4, metrics: ['downtime'] },
        { kind: 'metrics-missing', application: 'payments', fromMinute: 1 },
      ],
    });

    // Act
    w.advanceTo(at(6));

    // Assess
    expect(w.sink.values('orders', 'downtime', at(1))).toHaveLength(4);
    expect(w.sink.values('orders', 'downtime', at(2))).toEqual([]);
    expect(w.sink.values('orders', 'downtime', at(3))).toEqual([]);
    expect(w.sink.values('orders', 'uptime', at(3))).toHaveLength(4);
    expect(w.sink.values('orders', 'downtime', at(4))).toHaveLength(4);
    expect(w.sink.values('payments', 'uptime', at(0))).toHaveLength(4);
    expect(w.sink.stored.filter((p) => p.dimensions.Application === 'payments' && p.timestampMs >= at(1))).toEqual([]);
  });

  it('publishes checkpoint metrics; under checkpoint-failing the failures grow every CheckpointInterval', () => {
    // Prepare: 'stalled' runs the checkpoint-failing behaviour with a 30 s CUSTOM interval
    const w = world(
      [
        app('orders'),
        app('stalled', {
          checkpointConfiguration: { configurationType: 'CUSTOM', checkpointInterval: 30_000 },
        }),
      ],
      {
        metricsDelaySeconds: 0,
        jobModel: [{ when: { application: 'stalled' }, behaviour: { kind: 'checkpoint-failing' } }],
      },
    );

    // Act
    w.advanceTo(at(5));
    const last = (application: string, metricName: string) => w.sink.values(application, metricName, at(4)).at(-1);

    // Assess: 'orders' completes a checkpoint every minute; 'stalled' fails two more every minute, completes none
    expect(last('orders', 'lastCheckpointDuration')).toBeGreaterThanOrEqual(1_000);
    expect(last('orders', 'lastCheckpointSize')).toBeGreaterThanOrEqual(1_048_576);
    expect(last('orders', 'lastCheckpointDuration')).not.toBe(
      w.sink.values('orders', 'lastCheckpointDuration', at(3)).at(-1),
    );
    expect(last('orders', 'numberOfFailedCheckpoints')).toBe(0);
    expect(last('stalled', 'lastCheckpointDuration')).toBe(-1);
    const failedAt = (m: number) => w.sink.values('stalled', 'numberOfFailedCheckpoints', at(m)).at(-1) ?? 0;
    expect(failedAt(4) - failedAt(3)).toBe(2);
  });
});

describe('Class: MsfEmulator (alarm evaluation)', () => {
  it('asks for evaluation DEFAULT_ALARM_EVALUATION_OFFSET_SECONDS after each minute boundary', () => {
    // Prepare
    const w = world([app('orders')]);

    // Act
    w.advanceTo(at(3));

    // Assess
    const offset = DEFAULT_ALARM_EVALUATION_OFFSET_SECONDS;
    expect(w.evaluations.map((e) => e.atMs)).toEqual([at(0, offset), at(1, offset), at(2, offset)]);
  });

  it('evaluates after the datapoints due at the same instant are stored', () => {
    // Prepare: delay 5 s = offset 5 s
    const w = world([app('orders')], { metricsDelaySeconds: 5, alarmEvaluationOffsetSeconds: 5 });

    // Act
    w.advanceTo(at(1, 5));

    // Assess: minute 0's 24 datapoints (6 metrics × 4 samples) are stored before the evaluation at 1:05
    const evaluation = w.evaluations.find((e) => e.atMs === at(1, 5));
    const storedBefore = w.sink.stored.slice(0, evaluation?.storedBefore ?? 0);
    expect(storedBefore.filter((p) => p.timestampMs === T0)).toHaveLength(24);
  });

  it('refuses an evaluation offset outside 0–59 s and a delay that is not whole seconds', () => {
    // Act & Assess
    expect(() => world([app('orders')], { alarmEvaluationOffsetSeconds: 60 })).toThrow(/alarmEvaluationOffsetSeconds/);
    expect(() => world([app('orders')], { metricsDelaySeconds: 1.5 })).toThrow(/metricsDelaySeconds/);
  });

  it('validates the scenario cloudwatch settings with defaults from the sources', () => {
    // Act
    const parsed = Scenario.shape.cloudwatch.parse(undefined);

    // Assess
    expect(parsed).toEqual({
      metricsDelaySeconds: DEFAULT_METRICS_DELAY_SECONDS,
      alarmEvaluationOffsetSeconds: DEFAULT_ALARM_EVALUATION_OFFSET_SECONDS,
      metricHistoryMinutes: 60,
    });
    expect(() => Scenario.shape.cloudwatch.parse({ alarmEvaluationOffsetSeconds: 75 })).toThrow();
  });
});

describe('Schema: Fault (publication and system faults)', () => {
  it('fills the documented defaults of maintenance and autoscale', () => {
    // Act
    const maintenance = Fault.parse({ kind: 'maintenance', application: 'orders', atMinute: 3 });
    const autoscale = Fault.parse({ kind: 'autoscale', application: 'orders', atMinute: 3, toParallelism: 4 });

    // Assess
    expect(maintenance).toEqual({ kind: 'maintenance', application: 'orders', atMinute: 3, durationSeconds: 30 });
    expect(autoscale).toMatchObject({ durationSeconds: 60, fails: false });
  });

  it('refuses a metrics-delayed fault without a positive whole extraDelaySeconds, naming the field', () => {
    // Act
    const result = Fault.safeParse({
      kind: 'metrics-delayed',
      application: 'orders',
      fromMinute: 1,
      extraDelaySeconds: 0,
    });

    // Assess
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toEqual(['extraDelaySeconds']);
  });

  it('refuses a metrics-missing fault with an empty metric list', () => {
    // Act
    const result = Fault.safeParse({ kind: 'metrics-missing', application: 'orders', fromMinute: 1, metrics: [] });

    // Assess
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toEqual(['metrics']);
  });
});
