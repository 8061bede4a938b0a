import { describe, expect, it } from 'vitest';
import {
  BACKOFF_RESET_THRESHOLD_MS,
  checkpointIntervalMs,
  checkpointStats,
  FlinkJob,
  OUTAGE_FAIL_AFTER_SECONDS,
  resolveJobBehaviour,
  resolveRestartStrategy,
  restartDelayMs,
} from '#sandbox/emulator/job.ts';
import { type JobRule, RestartStrategy } from '#sandbox/scenario.ts';

const T0 = Date.parse('2026-03-02T14:00:00Z');
const s = (seconds: number) => T0 + seconds * 1000;

/** Scenario defaults on FLINK-1_20: exponential-delay, initial 1 s, ×1.5, max 60 s, restart duration 10 s. */
const exponential = resolveRestartStrategy('FLINK-1_20');
const fixed = resolveRestartStrategy(
  'FLINK-1_20',
  RestartStrategy.parse({ type: 'fixed-delay', initialBackoffSeconds: 5, restartDurationSeconds: 10 }),
);

describe('Function: restartDelayMs', () => {
  it('grows the exponential-delay backoff by the multiplier and adds the restart duration', () => {
    // Act
    const delays = [0, 1, 2, 3].map((n) => restartDelayMs(exponential, n));

    // Assess
    expect(delays).toEqual([11_000, 11_500, 12_250, 13_375]);
  });

  it('caps the exponential-delay backoff at maxBackoff', () => {
    // Act
    const delay = restartDelayMs(exponential, 50);

    // Assess
    expect(delay).toBe(70_000);
  });

  it('keeps the fixed-delay backoff constant', () => {
    // Act
    const delays = [0, 1, 10].map((n) => restartDelayMs(fixed, n));

    // Assess
    expect(delays).toEqual([15_000, 15_000, 15_000]);
  });
});

describe('Function: resolveRestartStrategy', () => {
  it.each([
    ['FLINK-1_15', 'fixed-delay'],
    ['FLINK-1_18', 'fixed-delay'],
    ['FLINK-1_19', 'exponential-delay'],
    ['FLINK-1_20', 'exponential-delay'],
    ['FLINK-2_2', 'exponential-delay'],
    ['SQL-1_0', 'fixed-delay'],
  ])('defaults %s to %s (MSF: exponential-delay from Flink 1.19)', (runtime, type) => {
    // Act
    const strategy = resolveRestartStrategy(runtime);

    // Assess
    expect(strategy.type).toBe(type);
  });

  it('keeps a type the scenario names, whatever the runtime', () => {
    // Act
    const strategy = resolveRestartStrategy('FLINK-1_20', RestartStrategy.parse({ type: 'fixed-delay' }));

    // Assess
    expect(strategy.type).toBe('fixed-delay');
  });

  it('paces a FLINK-1_18 crash loop at a fixed delay and a FLINK-1_20 one at a growing delay', () => {
    // Prepare
    const loop = (runtime: string) =>
      new FlinkJob({
        submittedAtMs: T0,
        behaviour: { kind: 'crash-loop', failAfterSeconds: 20, error: 'boom' },
        restartStrategy: resolveRestartStrategy(runtime),
      });
    const old = loop('FLINK-1_18');
    const current = loop('FLINK-1_20');

    // Act: 20 s running + 1 s delay + 10 s restart = a failure every 31 s on fixed-delay
    old.advanceTo(s(299));
    current.advanceTo(s(299));

    // Assess: fixed-delay fails at 20, 51, …, 299 s (10 failures); exponential-delay falls behind
    expect(old.status().restarts).toBe(10);
    expect(current.status().restarts).toBeLessThan(10);
  });
});

describe('Function: checkpointIntervalMs', () => {
  it('is 60000 ms with ConfigurationType DEFAULT, whatever the other fields say', () => {
    // Act
    const interval = checkpointIntervalMs({
      configurationType: 'DEFAULT',
      checkpointingEnabled: false,
      checkpointInterval: 5_000,
    });

    // Assess
    expect(interval).toBe(60_000);
  });

  it('uses CheckpointInterval with CUSTOM, and none when checkpointing is disabled', () => {
    // Act
    const custom = checkpointIntervalMs({
      configurationType: 'CUSTOM',
      checkpointingEnabled: true,
      checkpointInterval: 30_000,
    });
    const off = checkpointIntervalMs({
      configurationType: 'CUSTOM',
      checkpointingEnabled: false,
      checkpointInterval: 30_000,
    });

    // Assess
    expect(custom).toBe(30_000);
    expect(off).toBeUndefined();
  });
});

describe('Class: FlinkJob', () => {
  describe('Method: advanceTo (checkpoints)', () => {
    it('completes a checkpoint every interval while running', () => {
      // Prepare
      const job = new FlinkJob({
        submittedAtMs: T0,
        behaviour: { kind: 'healthy' },
        restartStrategy: exponential,
        checkpointIntervalMs: 60_000,
      });

      // Act
      job.advanceTo(s(59));
      const before = job.status();
      job.advanceTo(s(180));

      // Assess
      expect(before).toMatchObject({ completedCheckpoints: 0, failedCheckpoints: 0 });
      expect(before.lastCheckpointDurationMs).toBeUndefined();
      expect(job.status()).toMatchObject({
        completedCheckpoints: 3,
        failedCheckpoints: 0,
        lastCheckpointDurationMs: checkpointStats(3).durationMs,
        lastCheckpointSizeBytes: checkpointStats(3).sizeBytes,
        lastCompletedCheckpointMs: s(180),
      });
    });

    it('reports a different duration and size for consecutive checkpoints, so a reader can see each completion', () => {
      // Act
      const stats = Array.from({ length: 200 }, (_, i) => checkpointStats(i + 1));

      // Assess
      for (let i = 1; i < stats.length; i++) {
        expect(stats[i]?.durationMs).not.toBe(stats[i - 1]?.durationMs);
        expect(stats[i]?.sizeBytes).not.toBe(stats[i - 1]?.sizeBytes);
      }
      expect(Math.min(...stats.map((x) => x.durationMs))).toBeGreaterThanOrEqual(1_000);
      expect(Math.max(...stats.map((x) => x.durationMs))).toBeLessThan(1_500);
    });

    it('fails one checkpoint per interval under checkpoint-failing, and the job keeps running', () => {
      // Prepare
      const job = new FlinkJob({
        submittedAtMs: T0,
        behaviour: { kind: 'checkpoint-failing', error: 'Checkpoint expired' },
        restartStrategy: exponential,
        checkpointIntervalMs: 30_000,
      });

      // Act
      job.advanceTo(s(600));

      // Assess
      expect(job.status()).toMatchObject({
        running: true,
        restarts: 0,
        failedCheckpoints: 20,
        completedCheckpoints: 0,
      });
      expect(job.status().lastCheckpointDurationMs).toBeUndefined();
    });

    it('takes no checkpoint while down, and the first one an interval after running again', () => {
      // Prepare: fails at 20 s, runs again at 31 s
      const job = new FlinkJob({
        submittedAtMs: T0,
        behaviour: { kind: 'healthy' },
        restartStrategy: exponential,
        checkpointIntervalMs: 60_000,
        outages: [{ fromMs: T0, toMs: s(21), error: 'down' }],
      });

      // Act
      job.advanceTo(s(90));
      const beforeFirst = job.status().completedCheckpoints;
      job.advanceTo(s(91));

      // Assess
      expect(beforeFirst).toBe(0);
      expect(job.status()).toMatchObject({ completedCheckpoints: 1, lastCompletedCheckpointMs: s(91) });
    });
  });

  describe('Method: restartNow', () => {
    it('restarts a running job once, down for the given time, without advancing the backoff', () => {
      // Prepare
      const job = new FlinkJob({ submittedAtMs: T0, behaviour: { kind: 'healthy' }, restartStrategy: exponential });

      // Act
      job.restartNow(s(100), 30_000, 'maintenance');
      job.advanceTo(s(129));
      const during = job.status();
      job.advanceTo(s(130));

      // Assess
      expect(during).toMatchObject({ running: false, restarts: 1, downtimeMs: 29_000, lastError: 'maintenance' });
      expect(job.status()).toMatchObject({ running: true, restarts: 1, uptimeMs: 0 });
    });

    it('does nothing while the job is already down', () => {
      // Prepare: fails at 20 s, down until 31 s
      const job = new FlinkJob({
        submittedAtMs: T0,
        behaviour: { kind: 'healthy' },
        restartStrategy: exponential,
        outages: [{ fromMs: T0, toMs: s(21), error: 'down' }],
      });

      // Act
      job.restartNow(s(25), 30_000, 'maintenance');
      job.advanceTo(s(31));

      // Assess
      expect(job.status()).toMatchObject({ running: true, restarts: 1, lastError: 'down' });
    });
  });

  describe('Method: advanceTo', () => {
    it('paces a crash loop: fails failAfterSeconds after each (re)start, restarts after the backoff', () => {
      // Prepare
      const job = new FlinkJob({
        submittedAtMs: T0,
        behaviour: { kind: 'crash-loop', failAfterSeconds: 20, error: 'NoSuchStream' },
        restartStrategy: exponential,
      });

      // Act & Assess: fail at 20 s, run again at 31 s, fail at 51 s, run again at 62.5 s, fail at 82.5 s
      job.advanceTo(s(19));
      expect(job.status()).toMatchObject({ running: true, restarts: 0, uptimeMs: 19_000, downtimeMs: 0 });
      job.advanceTo(s(20));
      expect(job.status()).toMatchObject({
        running: false,
        restarts: 1,
        failedCheckpoints: 1,
        lastError: 'NoSuchStream',
      });
      job.advanceTo(s(30));
      expect(job.status()).toMatchObject({ running: false, downtimeMs: 10_000, uptimeMs: 0 });
      job.advanceTo(s(31));
      expect(job.status()).toMatchObject({ running: true, restarts: 1, uptimeMs: 0 });
      job.advanceTo(s(51));
      expect(job.status()).toMatchObject({ running: false, restarts: 2 });
      job.advanceTo(s(62.5));
      expect(job.status()).toMatchObject({ running: true, restarts: 2 });
      job.advanceTo(s(82.5));
      expect(job.status()).toMatchObject({ running: false, restarts: 3, lastFailureMs: s(82.5) });
    });

    it('slows down but never stops: the loop keeps restarting at the capped backoff', () => {
      // Prepare
      const job = new FlinkJob({
        submittedAtMs: T0,
        behaviour: { kind: 'crash-loop', failAfterSeconds: 20, error: 'boom' },
        restartStrategy: exponential,
      });

      // Act
      job.advanceTo(s(3600));
      const afterOneHour = job.status().restarts;
      job.advanceTo(s(7200));
      const secondHour = job.status().restarts - afterOneHour;

      // Assess: at the cap a cycle is 20 s running + 60 s backoff + 10 s restart = 90 s → 40 per hour
      expect(afterOneHour).toBeGreaterThan(40);
      expect(secondHour).toBe(40);
    });

    it('never fails when healthy and no outage', () => {
      // Prepare
      const job = new FlinkJob({ submittedAtMs: T0, behaviour: { kind: 'healthy' }, restartStrategy: exponential });

      // Act
      job.advanceTo(s(86_400));

      // Assess
      expect(job.status()).toMatchObject({ running: true, restarts: 0, uptimeMs: 86_400_000 });
    });

    it('fails during an outage and the first restart after it ends succeeds', () => {
      // Prepare: outage from 100 s to 200 s
      const job = new FlinkJob({
        submittedAtMs: T0,
        behaviour: { kind: 'healthy' },
        restartStrategy: exponential,
        outages: [{ fromMs: s(100), toMs: s(200), error: 'TimeoutException' }],
      });

      // Act & Assess: fails at 120 s, 151 s, 182.5 s; restarts at 194.75 s and would fail at 214.75 s, after the end
      job.advanceTo(s(100 + OUTAGE_FAIL_AFTER_SECONDS));
      expect(job.status()).toMatchObject({ running: false, restarts: 1, lastError: 'TimeoutException' });
      job.advanceTo(s(600));
      expect(job.status()).toMatchObject({ running: true, restarts: 3, uptimeMs: 600_000 - 194_750 });
    });

    it('starts the backoff again after running stably for the reset threshold', () => {
      // Prepare: two outages far apart
      const secondOutageMs = T0 + BACKOFF_RESET_THRESHOLD_MS * 2;
      const job = new FlinkJob({
        submittedAtMs: T0,
        behaviour: { kind: 'healthy' },
        restartStrategy: exponential,
        outages: [
          { fromMs: T0, toMs: s(100), error: 'first' },
          { fromMs: secondOutageMs, toMs: secondOutageMs + 30_000, error: 'second' },
        ],
      });

      // Act: the second outage makes the job fail once; its restart must use the initial backoff (11 s)
      job.advanceTo(secondOutageMs + OUTAGE_FAIL_AFTER_SECONDS * 1000 + 10_999);
      const stillDown = job.status().running;
      job.advanceTo(secondOutageMs + OUTAGE_FAIL_AFTER_SECONDS * 1000 + 11_000);

      // Assess
      expect(stillDown).toBe(false);
      expect(job.status().running).toBe(true);
    });
  });

  describe('Method: canTakeSnapshot', () => {
    it('refuses while the job is down and within 120 s after a failure', () => {
      // Prepare
      const job = new FlinkJob({
        submittedAtMs: T0,
        behaviour: { kind: 'healthy' },
        restartStrategy: exponential,
        outages: [{ fromMs: T0, toMs: s(21), error: 'down' }],
      });

      // Act & Assess: fails at 20 s, runs again at 31 s
      job.advanceTo(s(25));
      expect(job.canTakeSnapshot(s(25))).toBe(false);
      job.advanceTo(s(100));
      expect(job.canTakeSnapshot(s(100))).toBe(false);
      job.advanceTo(s(140));
      expect(job.canTakeSnapshot(s(140))).toBe(true);
    });
  });
});

describe('Function: resolveJobBehaviour', () => {
  const rules: JobRule[] = [
    {
      when: { application: 'orders', codeKey: 'orders-2.jar' },
      behaviour: { kind: 'fails-at-submit', error: 'ClassNotFound' },
    },
    {
      when: { property: { group: 'kafka', key: 'topic', value: 'wrong' } },
      behaviour: { kind: 'crash-loop', failAfterSeconds: 20, error: 'UnknownTopic' },
    },
    { when: { codeKey: 'orders-2.jar' }, behaviour: { kind: 'hangs' } },
  ];

  it('returns the first matching rule', () => {
    // Act
    const resolved = resolveJobBehaviour(rules, { application: 'orders', codeKey: 'orders-2.jar', properties: {} });

    // Assess
    expect(resolved).toEqual({ behaviour: { kind: 'fails-at-submit', error: 'ClassNotFound' }, ruleIndex: 0 });
  });

  it('matches an environment property by group, key and value', () => {
    // Act
    const resolved = resolveJobBehaviour(rules, {
      application: 'payments',
      codeKey: 'payments-1.jar',
      properties: { kafka: { topic: 'wrong' } },
    });

    // Assess
    expect(resolved.ruleIndex).toBe(1);
  });

  it('defaults to healthy when no rule matches', () => {
    // Act
    const resolved = resolveJobBehaviour(rules, {
      application: 'payments',
      codeKey: 'payments-1.jar',
      properties: { kafka: { topic: 'right' } },
    });

    // Assess
    expect(resolved).toEqual({ behaviour: { kind: 'healthy' }, ruleIndex: -1 });
  });
});
