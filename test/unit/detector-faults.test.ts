import { describe, expect, it } from 'vitest';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import { RecordingNotifier } from '#shared/adapters/recording-notifier.ts';
import { parseConfig } from '#shared/config/schema.ts';
import { type DetectorDeps, detect, type Signal } from '#shared/domain/detector.ts';
import type { Incident } from '#shared/domain/incident.ts';
import type { MetricSeries } from '#shared/domain/model.ts';
import { LOCK_TTL_MS, type RemediationState } from '#shared/domain/remediation.ts';
import { app, counter, loopingRestarts, MIN, op, snapshot, T0 } from '../support/builders.ts';
import { CapturingLog, FakeMetrics, FakeMsf } from '../support/fakes.ts';

const ALARM: Signal = {
  source: 'alarm',
  applicationName: 'orders',
  alarmName: 'flink-watchdog-orders-restart-loop',
  stateValue: 'ALARM',
  stateTimestamp: '2026-03-02T14:30:00.000+0000',
};
const SWEEP: Signal = { source: 'schedule', applicationName: 'orders', rule: 'flink-watchdog-sweep' };

/**
 * The detector over fakes: `orders` RUNNING version 7 since an UpdateApplication four hours ago (the only operation
 * ListApplicationOperations shows, whatever happens later), a snapshot of version 7, remediate mode.
 */
function world() {
  const time = { t: T0 + 30 * MIN };
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
    snapshots: [snapshot('orders-v7-a', 7, T0 - 60 * MIN)],
  });
  const metrics = new FakeMetrics();
  const ledger = new MemoryLedger();
  const notifier = new RecordingNotifier();
  const started: RemediationState[] = [];
  const deps: DetectorDeps = {
    msf,
    metrics,
    ledger,
    notifier,
    log: new CapturingLog(),
    config: parseConfig({ schemaVersion: 1, defaults: { mode: 'remediate' }, applications: [{ name: 'orders' }] }),
    clock: { now: () => time.t },
    starter: { start: async (s) => void started.push(s) },
  };
  const restarts = (series: MetricSeries) => metrics.set('orders', series);
  /** Closes a stored incident as its workflow would, `atMs` being when the outcome was recorded. */
  const close = async (id: string | undefined, status: Incident['status'], atMs: number) => {
    const stored = await ledger.getIncident(id ?? '');
    if (!stored) throw new Error(`incident ${id} is not in the ledger`);
    await ledger.saveIncident({ ...stored, status, closedMs: atMs });
  };
  return { time, msf, ledger, notifier, started, deps, restarts, close };
}

describe('Function: detect', () => {
  describe('a restart loop after a recorded recovery', () => {
    it('is a new incident, though the version and the operations list are those of the resolved one', async () => {
      // Prepare: a loop, remediated and RESOLVED; 40 min later the new job loops again on the same version, and
      // ListApplicationOperations does not show the watchdog's stop and start.
      const w = world();
      w.restarts(loopingRestarts(w.time.t));
      const first = await detect(ALARM, w.deps);
      await w.close(first.incidentId, 'RESOLVED', w.time.t + 8 * MIN);
      w.time.t += 40 * MIN;
      w.restarts({
        metricName: 'fullRestarts',
        periodSeconds: 60,
        points: counter(w.time.t - 12 * MIN, [0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6]),
      });
      // Act
      const second = await detect(ALARM, w.deps);
      // Assess
      expect(first.result).toBe('REMEDIATING');
      expect(second.result).toBe('REMEDIATING');
      expect(second.incidentId).not.toBe(first.incidentId);
      expect(w.started.map((s) => s.incidentId)).toEqual([first.incidentId, second.incidentId]);
      expect((await w.ledger.getIncident(first.incidentId ?? ''))?.status).toBe('RESOLVED');
    });

    it('keeps every later signal about that new loop on its one incident, open or closed', async () => {
      // Prepare
      const w = world();
      w.restarts(loopingRestarts(w.time.t));
      const first = await detect(ALARM, w.deps);
      await w.close(first.incidentId, 'RESOLVED', w.time.t + 8 * MIN);
      w.time.t += 40 * MIN;
      w.restarts({
        metricName: 'fullRestarts',
        periodSeconds: 60,
        points: counter(w.time.t - 12 * MIN, [0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6]),
      });
      const second = await detect(ALARM, w.deps);
      // Act: the same alarm delivered again, then a sweep once the new incident was closed.
      const again = await detect(ALARM, w.deps);
      await w.close(second.incidentId, 'ESCALATED', w.time.t + MIN);
      const sweep = await detect(SWEEP, w.deps);
      // Assess
      expect(again).toMatchObject({ result: 'DUPLICATE', incidentId: second.incidentId });
      expect(sweep).toMatchObject({ result: 'DUPLICATE', incidentId: second.incidentId });
      // (A start repeated for the open incident carries its name: Step Functions runs one execution.)
      expect(new Set(w.started.map((s) => s.incidentId))).toEqual(new Set([first.incidentId, second.incidentId]));
      expect(await w.ledger.listIncidents()).toHaveLength(2);
    });

    it('is not seen in restarts that all came before the recovery (the resolved loop, still in the window)', async () => {
      // Prepare: the outcome was recorded a minute after the loop's last restart; nothing restarted since.
      const w = world();
      w.restarts(loopingRestarts(w.time.t));
      const first = await detect(ALARM, w.deps);
      await w.close(first.incidentId, 'RESOLVED', w.time.t + MIN);
      w.time.t += MIN;
      // Act
      const sweep = await detect(SWEEP, w.deps);
      // Assess
      expect(sweep).toMatchObject({ result: 'DUPLICATE', incidentId: first.incidentId });
      expect(w.started).toHaveLength(1);
    });
  });

  describe('a detection deferred behind another incident’s lock', () => {
    /** A RESOLVED incident whose lock release failed: it still holds the application's lock. */
    async function leakedLock(w: ReturnType<typeof world>): Promise<Incident> {
      const blocking: Incident = {
        schemaVersion: 1,
        id: 'orders-blocking',
        applicationName: 'orders',
        trigger: { source: 'alarm', detail: 'flink-watchdog-orders-restart-loop', atMs: w.time.t - 30 * MIN },
        openedMs: w.time.t - 30 * MIN,
        status: 'RESOLVED',
        decision: { verdict: 'REMEDIATE', reason: 'restart loop', guards: [], nextSteps: [] },
        attempts: 1,
        actions: [],
        events: [{ atMs: w.time.t - 30 * MIN, kind: 'OPENED', message: 'restart loop' }],
        closedMs: w.time.t - 20 * MIN,
      };
      await w.ledger.createIncident(blocking);
      await w.ledger.acquireLock('orders', blocking.id, w.time.t - 25 * MIN, LOCK_TTL_MS);
      return blocking;
    }

    it('is recorded on one deferral record that every later sweep updates, and told once after cooldownMinutes', async () => {
      // Prepare: a new loop while a resolved incident still holds the lock (cooldownMinutes 5 by default).
      const w = world();
      const blocking = await leakedLock(w);
      // Act: sweeps at +0, +2, +5 and +10 min, the job looping all along.
      const results = [];
      for (const after of [0, 2, 3, 5]) {
        w.time.t += after * MIN;
        w.restarts(loopingRestarts(w.time.t));
        results.push({ result: await detect(SWEEP, w.deps), told: w.notifier.sent.length });
      }
      // Assess
      expect(results.map((r) => r.result.result)).toEqual(['DEFERRED', 'DEFERRED', 'DEFERRED', 'DEFERRED']);
      expect(new Set(results.map((r) => r.result.incidentId)).size).toBe(1);
      expect(results.map((r) => r.told)).toEqual([0, 0, 1, 1]);
      expect(w.started).toEqual([]);
      const record = await w.ledger.getIncident(results[0]?.result.incidentId ?? '');
      expect(record).toMatchObject({ status: 'OBSERVED', finding: { kind: 'RESTART_LOOP' } });
      expect(record?.deferral).toMatchObject({ lockHolder: blocking.id, count: 4, toldMs: T0 + 35 * MIN });
      expect(record?.events.map((e) => e.kind)).toEqual(['DEFERRED', 'NOTIFIED']);
      expect(record?.events[0]?.message).toContain('incident orders-blocking holds the lock');
      expect(record?.outcomeReason).toContain('Deferred 4 times over 10 min');
      expect(record?.nextSteps?.[0]).toBe(w.ledger.manualLockRelease('orders', blocking.id));
      const told = w.notifier.sent[0];
      expect(told?.event).toBe('NOTIFIED');
      expect(told?.title).toContain('deferred for 5 min');
      expect(told?.title).toContain('orders-blocking');
      expect(told?.text).toContain('is RESOLVED but still holds the lock');
      expect(told?.nextSteps[0]).toBe(w.ledger.manualLockRelease('orders', blocking.id));
      // The blocking incident is never written by the detector.
      expect(await w.ledger.getIncident(blocking.id)).toEqual(blocking);
      // `history` lists the record with the application's incidents.
      expect((await w.ledger.listIncidents({ applicationName: 'orders' })).map((i) => i.id)).toContain(record?.id);
    });

    it('tells once when detections race past cooldownMinutes (a sweep and an alarm at the same moment)', async () => {
      // Prepare: deferred once, then cooldownMinutes later a sweep and an alarm arrive together.
      const w = world();
      await leakedLock(w);
      w.restarts(loopingRestarts(w.time.t));
      await detect(SWEEP, w.deps);
      w.time.t += 5 * MIN;
      w.restarts(loopingRestarts(w.time.t));
      // Act
      const results = await Promise.all([detect(SWEEP, w.deps), detect(ALARM, w.deps)]);
      // Assess
      expect(results.map((r) => r.result)).toEqual(['DEFERRED', 'DEFERRED']);
      expect(w.notifier.sent).toHaveLength(1);
    });

    it('records nothing for a deferral that is not about a lock (cooldown): the next signal looks again', async () => {
      // Prepare: an attempt a minute ago; no lock.
      const w = world();
      await w.ledger.recordAttempt('orders', 'orders-earlier', w.time.t - MIN);
      w.restarts(loopingRestarts(w.time.t));
      // Act
      const out = await detect(SWEEP, w.deps);
      // Assess
      expect(out.result).toBe('DEFERRED');
      expect(out.incidentId).toBeUndefined();
      expect(await w.ledger.listIncidents()).toEqual([]);
    });
  });
});
