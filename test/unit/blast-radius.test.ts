import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startLedgerTable } from '#sandbox/dynalite.ts';
import { DynamoDbLedger } from '#shared/adapters/dynamodb-ledger.ts';
import { FanOutNotifier, type UndeliveredNotification } from '#shared/adapters/fan-out-notifier.ts';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import { RecordingNotifier } from '#shared/adapters/recording-notifier.ts';
import { parseConfig } from '#shared/config/schema.ts';
import { admitAutomaticRemediation, SLOT_TTL_MS } from '#shared/domain/blast-radius.ts';
import { type DetectionResult, type DetectorDeps, detect, type Signal } from '#shared/domain/detector.ts';
import type { ApplicationState, MetricSeries } from '#shared/domain/model.ts';
import { closeAbandonedIncident, type RemediationState, remediationStep } from '#shared/domain/remediation.ts';
import { fleetSummary } from '#shared/notify/common.ts';
import type { Ledger } from '#shared/ports/ledger.ts';
import { app, MIN, op, snapshot, T0 } from '../support/builders.ts';
import { CapturingLog, FakeMetrics, FakeMsf } from '../support/fakes.ts';

const name = (i: number) => `app-${String(i).padStart(2, '0')}`;

/** The Kafka source twelve of the applications share (environment properties, as MSF returns them). */
const KAFKA = {
  'consumer.config.0': { 'bootstrap.servers': 'b-2.kafka:9092,b-1.kafka:9092', 'source.topic': 'orders' },
  'producer.config.0': { 'sink.stream': 'enriched-orders' },
  credentials: { 'sasl.jaas.config': 'password=secret' },
};

/** A cumulative restart counter: one restart a minute from `onsetMs` until `stopMs`, read at `nowMs`. */
function restarts(onsetMs: number, nowMs: number, stopMs = Number.POSITIVE_INFINITY): MetricSeries {
  const points = [];
  for (let t = nowMs - 15 * MIN; t <= nowMs - MIN; t += MIN) {
    const until = Math.min(t, stopMs - MIN);
    points.push({ timestampMs: t, value: until < onsetMs ? 0 : Math.floor((until - onsetMs) / MIN) + 1 });
  }
  return { metricName: 'fullRestarts', periodSeconds: 60, points };
}

interface Subject {
  name: string;
  open(): Promise<{ ledger: Ledger; close(): Promise<void> }>;
}

const subjects: Subject[] = [
  { name: 'MemoryLedger', open: async () => ({ ledger: new MemoryLedger(), close: async () => {} }) },
  {
    name: 'DynamoDbLedger on dynalite',
    open: async () => {
      const table = await startLedgerTable();
      return { ledger: new DynamoDbLedger({ tableName: table.tableName, client: table.client }), close: table.close };
    },
  },
];

/**
 * A fleet of 40 listed applications (correlatedFailureLimit: min(5, 20% of 40) = 5), all RUNNING version 7 since an
 * UpdateApplication four hours before, each with a snapshot; the first twelve read the same Kafka source.
 */
function fleet(ledger: Ledger, fleetConfig: Record<string, unknown> = {}, defaults: Record<string, unknown> = {}) {
  const time = { t: T0 };
  const msf = new FakeMsf();
  for (let i = 1; i <= 40; i++) {
    msf.setApp(
      app({
        name: name(i),
        arn: `arn:aws:kinesisanalytics:eu-west-1:123456789012:application/${name(i)}`,
        environmentProperties: i <= 12 ? KAFKA : {},
      }),
      {
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
        snapshots: [snapshot(`${name(i)}-v7`, 7, T0 - 60 * MIN)],
      },
    );
  }
  const metrics = new FakeMetrics();
  const notifier = new RecordingNotifier();
  const started: RemediationState[] = [];
  const config = parseConfig({
    schemaVersion: 1,
    defaults: { mode: 'remediate', ...defaults },
    applications: Array.from({ length: 40 }, (_, i) => ({ name: name(i + 1) })),
    fleet: fleetConfig,
  });
  const log = new CapturingLog();
  const deps: DetectorDeps = {
    msf,
    metrics,
    ledger,
    notifier,
    log,
    config,
    clock: { now: () => time.t },
    starter: { start: async (s) => void started.push(s) },
  };
  const alarm = (app: string): Signal => ({
    source: 'alarm',
    applicationName: app,
    alarmName: `flink-watchdog-drill-${app}-restart-loop`,
    stateValue: 'ALARM',
    stateTimestamp: new Date(time.t).toISOString(),
  });
  const sweep = (app: string): Signal => ({ source: 'schedule', applicationName: app, rule: 'flink-watchdog-sweep' });
  /** Every application in `apps` restarts from `onsetMs` (until `stopMs`), as read now. */
  const restarting = (apps: string[], onsetMs: number, stopMs?: number) => {
    for (const a of apps) metrics.set(a, restarts(onsetMs, time.t, stopMs));
  };
  const all = (signals: Signal[]) => Promise.all(signals.map((s) => detect(s, deps)));
  return { time, msf, metrics, notifier, started, deps, alarm, sweep, restarting, all };
}

const byResult = (results: DetectionResult[]) =>
  results.reduce<Record<string, number>>((acc, r) => {
    acc[r.result] = (acc[r.result] ?? 0) + 1;
    return acc;
  }, {});

describe.each(subjects)('Blast radius ($name)', ({ open }) => {
  let ledger: Ledger;
  let close: () => Promise<void>;
  beforeEach(async () => {
    ({ ledger, close } = await open());
  });
  afterEach(async () => {
    await close();
  });

  describe('remediation slots', () => {
    // Correlation off (threshold 1000, fraction 1): only the slots limit the twelve independent loops.
    const independent = { correlatedFailure: { threshold: 1000, fraction: 1 } };

    it('lets at most 3 of 12 concurrent restart loops remediate; the others wait, named and never paged', async () => {
      // Prepare
      const w = fleet(ledger, independent);
      const apps = Array.from({ length: 12 }, (_, i) => name(i + 1));
      w.time.t = T0 + 6 * MIN;
      w.restarting(apps, T0);
      // Act
      const results = await w.all(apps.map(w.alarm));
      // Assess
      expect(byResult(results)).toEqual({ REMEDIATING: 3, DEFERRED: 9 });
      expect(w.started).toHaveLength(3);
      const holders = results.filter((r) => r.result === 'REMEDIATING');
      const reason = results.find((r) => r.result === 'DEFERRED')?.reason ?? '';
      expect(reason).toMatch(/^3 of 3 remediation slots in use: /);
      for (const h of holders) expect(reason).toContain(`${h.applicationName} [${h.incidentId}]`);
      expect(reason).toMatch(/waiting for a remediation slot\.$/);
      expect(w.notifier.sent.map((n) => n.event)).toEqual(['OPENED', 'OPENED', 'OPENED']);
      expect(await ledger.remediationSlots(w.time.t)).toHaveLength(3);
    });

    it('records a wait once per situation, and remediates it once a slot is released on success', async () => {
      // Prepare: three loops hold the slots, a fourth waits.
      const w = fleet(ledger, { ...independent });
      const apps = [name(1), name(2), name(3), name(4)];
      w.time.t = T0 + 6 * MIN;
      w.restarting(apps, T0);
      const first = [];
      for (const a of apps) first.push(await detect(w.alarm(a), w.deps));
      expect(first.map((r) => r.result)).toEqual(['REMEDIATING', 'REMEDIATING', 'REMEDIATING', 'DEFERRED']);
      w.time.t += MIN;
      w.restarting(apps, T0);
      const again = await detect(w.sweep(name(4)), w.deps);
      expect(again.result).toBe('DEFERRED');
      expect(again.incidentId).toBe(first[3]?.incidentId);
      const records = (await ledger.listIncidents({ applicationName: name(4) })).filter((i) => i.status === 'OBSERVED');
      expect(records).toHaveLength(1);
      expect(records[0]?.events.map((e) => e.kind)).toEqual(['DEFERRED']);
      // Act: the first remediation recovers and its workflow releases its lock (and slot).
      const state = w.started[0] as RemediationState;
      const incident = await ledger.getIncident(state.incidentId);
      if (!incident) throw new Error('no incident');
      await ledger.saveIncident({ ...incident, status: 'RESOLVED', closedMs: w.time.t });
      await remediationStep({ ...state, phase: 'RELEASE', outcome: 'RECOVERED' }, w.deps);
      const fourth = await detect(w.sweep(name(4)), w.deps);
      // Assess
      expect(fourth.result).toBe('REMEDIATING');
      expect((await ledger.remediationSlots(w.time.t)).map((s) => s.applicationName).sort()).toEqual([
        name(2),
        name(3),
        name(4),
      ]);
    });

    it('releases the slot when the remediation escalates, and when an abandoned workflow is closed', async () => {
      // Prepare
      const w = fleet(ledger, { maxConcurrentRemediations: 2, ...independent });
      w.time.t = T0 + 6 * MIN;
      w.restarting([name(1), name(2)], T0);
      const a = await detect(w.alarm(name(1)), w.deps);
      const b = await detect(w.alarm(name(2)), w.deps);
      expect([a.result, b.result]).toEqual(['REMEDIATING', 'REMEDIATING']);
      // Act: the first escalates through the workflow's Catch path; the second's execution is aborted.
      let state: RemediationState = {
        ...(w.started[0] as RemediationState),
        phase: 'ESCALATE',
        error: { Error: 'States.Timeout' },
      };
      state = await remediationStep(state, w.deps);
      expect(state.phase).toBe('RELEASE');
      await remediationStep(state, w.deps);
      const afterEscalation = await ledger.remediationSlots(w.time.t);
      await closeAbandonedIncident(b.incidentId as string, 'ABORTED', undefined, w.deps);
      // Assess
      expect(afterEscalation.map((s) => s.incidentId)).toEqual([b.incidentId]);
      expect(await ledger.remediationSlots(w.time.t)).toEqual([]);
      // Idempotent: closing again frees nothing more and fails nothing.
      await closeAbandonedIncident(b.incidentId as string, 'ABORTED', undefined, w.deps);
      expect(await ledger.remediationSlots(w.time.t)).toEqual([]);
    });

    it('keeps the slot of a remediation that runs longer than 2 hours: renewed with its lock at every step', async () => {
      // Prepare: one slot; app-01 loops and takes it at T0 + 6 min. Its force-stop may take up to 4 hours (the
      // longest transitionTimeoutMinutes), so the workflow keeps waiting for it.
      const w = fleet(ledger, { maxConcurrentRemediations: 1, ...independent }, { transitionTimeoutMinutes: 240 });
      w.time.t = T0 + 6 * MIN;
      w.restarting([name(1)], T0);
      expect((await detect(w.alarm(name(1)), w.deps)).result).toBe('REMEDIATING');
      let state = w.started[0] as RemediationState;
      // MSF's force-stop (operation stop-1, the fake's first mutation) stays IN_PROGRESS the whole time.
      w.msf.operations.get(name(1))?.push(
        op({
          operationId: 'stop-1',
          operation: 'ForceStopApplication',
          status: 'IN_PROGRESS',
          startMs: T0 + 56 * MIN,
        }),
      );
      const phases: string[] = [];
      // Act: its workflow's steps run 50 minutes apart (each within a wait's limit), 150 minutes in all.
      for (let step = 0; step < 3 && state.phase !== 'DONE' && state.phase !== 'RELEASE'; step++) {
        w.time.t += 50 * MIN;
        state = await remediationStep(state, w.deps);
        phases.push(state.phase);
      }
      // Assess: still remediating past the slot's first expiry (T0 + 126 min), the slot is still its own, so a
      // second loop waits for it.
      expect(phases).not.toContain('RELEASE');
      expect(w.time.t).toBeGreaterThan(T0 + 6 * MIN + SLOT_TTL_MS);
      expect((await ledger.remediationSlots(w.time.t)).map((s) => s.incidentId)).toEqual([state.incidentId]);
      w.restarting([name(2)], w.time.t - 6 * MIN);
      const second = await detect(w.alarm(name(2)), w.deps);
      expect(second.result).toBe('DEFERRED');
      expect(second.reason).toMatch(/^1 of 1 remediation slots in use: app-01 /);
    });

    it('keeps the slot of a repeated delivery of the same decision (the same incident)', async () => {
      const w = fleet(ledger, { maxConcurrentRemediations: 1, ...independent });
      w.time.t = T0 + 6 * MIN;
      w.restarting([name(1)], T0);
      const [first, second] = await w.all([w.alarm(name(1)), w.alarm(name(1))]);
      expect([first?.result, second?.result].sort()).toEqual(['DUPLICATE', 'REMEDIATING']);
      expect((await ledger.remediationSlots(w.time.t)).map((s) => s.applicationName)).toEqual([name(1)]);
    });

    it("gives the reconciler's START a slot only when one is free (admitAutomaticRemediation)", async () => {
      const w = fleet(ledger, { maxConcurrentRemediations: 1, ...independent });
      const start = {
        kind: 'START' as const,
        expectVersionId: 7,
        start: { restoreType: 'RESTORE_FROM_LATEST_SNAPSHOT' as const, allowNonRestoredState: false },
      };
      const first = await admitAutomaticRemediation(
        { incidentId: 'rec-1', applicationName: name(30), remediation: start },
        w.deps,
      );
      const second = await admitAutomaticRemediation(
        { incidentId: 'rec-2', applicationName: name(31), remediation: start },
        w.deps,
      );
      expect(first).toEqual({ admitted: true, reentered: false });
      expect(second).toEqual({ admitted: false, reason: `1 of 1 remediation slots in use: ${name(30)} [rec-1]` });
    });
  });

  describe('correlated failure', () => {
    const twelve = Array.from({ length: 12 }, (_, i) => name(i + 1));

    /** The twelve restart from T0; each restart alarm (first restart) wakes the detector at T0 + 2 min. */
    async function firstRestarts(w: ReturnType<typeof fleet>) {
      w.time.t = T0 + 2 * MIN;
      w.restarting(twelve, T0);
      const seen = await w.all(twelve.map(w.alarm));
      expect(byResult(seen)).toEqual({ HEALTHY: 12 });
    }

    it('a burst of 12 loops: one fleet incident, one notification, no restart, then resolved once all recover', async () => {
      // Prepare
      const w = fleet(ledger);
      await firstRestarts(w);
      // Act 1: the loops are confirmed at once (threshold 3 in 10 min): the early signal holds each once.
      w.time.t = T0 + 5 * MIN;
      w.restarting(twelve, T0);
      const confirmed = await w.all(twelve.map(w.alarm));
      // Assess 1: nothing restarted, nobody paged yet; some may already see the fleet incident.
      expect(byResult(confirmed)).toEqual({ DEFERRED: 12 });
      expect(w.started).toEqual([]);
      // Act 2: their watches look again a minute later.
      w.time.t = T0 + 6 * MIN;
      w.restarting(twelve, T0);
      const held = await w.all(twelve.map(w.sweep));
      // Assess 2
      const open = await ledger.currentFleetIncident();
      expect(open?.members.map((m) => m.applicationName).sort()).toEqual(twelve);
      expect(open?.firstFailureMs).toBe(T0);
      expect(open?.shared).toEqual({
        sources: ['bootstrap servers b-1.kafka:9092,b-2.kafka:9092', 'topic orders'],
        sinks: ['stream enriched-orders'],
        vpcs: [],
        runtime: 'FLINK-1_20',
      });
      expect(held.every((r) => r.result === 'DEFERRED' && r.fleetIncidentId === open?.id)).toBe(true);
      expect(held[0]?.reason).toMatch(
        new RegExp(
          `^Held by fleet incident ${open?.id}: 12 applications failing since 14:00 UTC .*automatic FORCE_STOP_AND_RESTART held until they recover\\.$`,
        ),
      );
      expect(w.started).toEqual([]);
      expect(await ledger.remediationSlots(w.time.t)).toEqual([]);
      expect(w.notifier.sent).toHaveLength(1);
      const page = w.notifier.sent[0];
      expect(page?.event).toBe('ESCALATED');
      expect(page?.title).toBe(
        `Correlated failure: 12 applications failing at once (12 in a restart loop), automatic restarts held [${open?.id}]`,
      );
      expect(page?.fleet?.id).toBe(open?.id);
      expect(open?.held.every((h) => h.remediation === 'FORCE_STOP_AND_RESTART')).toBe(true);
      // Act 3: the source is back at T0 + 8 min, but app-01 restarts once more at T0 + 15 min (its loop finding has
      // lapsed, its restarts have not): the fleet incident stays open until it is quiet for the whole window too.
      w.time.t = T0 + 20 * MIN;
      w.restarting(twelve, T0, T0 + 8 * MIN);
      const late = restarts(T0, w.time.t, T0 + 8 * MIN);
      w.metrics.set(name(1), {
        ...late,
        points: late.points.map((p) => (p.timestampMs >= T0 + 15 * MIN ? { ...p, value: p.value + 1 } : p)),
      });
      await w.all(twelve.map(w.sweep));
      expect((await ledger.currentFleetIncident())?.members.filter((m) => m.recoveredMs === undefined)).toHaveLength(1);
      expect(w.notifier.sent).toHaveLength(1);
      w.time.t = T0 + 26 * MIN;
      w.restarting(twelve, T0, T0 + 8 * MIN);
      const recovered = await w.all(twelve.map(w.sweep));
      // Assess 3: resolved once, told once.
      expect(byResult(recovered)).toEqual({ HEALTHY: 12 });
      expect(await ledger.currentFleetIncident()).toBeUndefined();
      expect((await ledger.listFleetIncidents()).map((f) => f.status)).toEqual(['RESOLVED']);
      expect(w.notifier.sent.map((n) => [n.event, n.title])).toEqual([
        ['ESCALATED', page?.title],
        ['RESOLVED', `Correlated failure resolved: all 12 applications healthy again [${open?.id}]`],
      ]);
      // Its time to recovery runs from the signal that opened it.
      expect(w.notifier.sent[1]?.incident.trigger.atMs).toBe(open?.openedMs);
      expect(await ledger.listSightings()).toEqual([]);
    });

    it('still rolls back an application whose own recent change started its loop', async () => {
      // Prepare: app-05 was updated to version 7 a minute before its restarts began.
      const w = fleet(ledger);
      const changed = w.msf.apps.get(name(5)) as ApplicationState;
      w.msf.setApp(
        { ...changed, versionCreatedMs: T0 - MIN, lastUpdateMs: T0 - MIN },
        {
          operations: [
            op({
              operation: 'UpdateApplication',
              status: 'SUCCESSFUL',
              versionFrom: 6,
              versionTo: 7,
              startMs: T0 - 2 * MIN,
              endMs: T0 - MIN,
            }),
          ],
          snapshots: [snapshot(`${name(5)}-v6`, 6, T0 - 60 * MIN)],
        },
      );
      await firstRestarts(w);
      w.time.t = T0 + 5 * MIN;
      w.restarting(twelve, T0);
      await w.all(twelve.filter((a) => a !== name(5)).map(w.alarm));
      w.time.t = T0 + 6 * MIN;
      w.restarting(twelve, T0);
      await w.all(twelve.filter((a) => a !== name(5)).map(w.sweep));
      expect(await ledger.currentFleetIncident()).toBeDefined();
      // Act
      const rollback = await detect(w.alarm(name(5)), w.deps);
      // Assess
      expect(rollback.result).toBe('REMEDIATING');
      expect(rollback.decision?.remediation?.kind).toBe('ROLLBACK');
      expect(w.started).toHaveLength(1);
      expect((await ledger.currentFleetIncident())?.members.map((m) => m.applicationName)).toContain(name(5));
    });

    it('keeps a sighting when the restart counter cannot be read, and drops it once seen without restarts', async () => {
      const w = fleet(ledger);
      w.time.t = T0 + 2 * MIN;
      w.restarting([name(1)], T0);
      await detect(w.alarm(name(1)), w.deps);
      const failing = {
        ...w.deps,
        metrics: {
          getSeries: async () => {
            throw new Error('Rate exceeded');
          },
        },
      };
      await detect(w.sweep(name(1)), failing);
      expect((await ledger.listSightings()).map((s) => s.applicationName)).toEqual([name(1)]);
      w.time.t = T0 + 30 * MIN;
      w.restarting([name(1)], T0, T0 + 3 * MIN);
      await detect(w.sweep(name(1)), w.deps);
      expect(await ledger.listSightings()).toEqual([]);
    });

    it('does not delay a lone loop at all', async () => {
      const w = fleet(ledger);
      w.time.t = T0 + 6 * MIN;
      w.restarting([name(20)], T0);
      const result = await detect(w.alarm(name(20)), w.deps);
      expect(result.result).toBe('REMEDIATING');
      expect(await ledger.currentFleetIncident()).toBeUndefined();
    });

    it('holds a loop among many restarting applications for one check only, when the others do not loop', async () => {
      // Prepare: six applications restart (more than the limit of 5), only app-01 goes on to loop.
      const w = fleet(ledger);
      const six = twelve.slice(0, 6);
      w.time.t = T0 + 2 * MIN;
      w.restarting(six, T0);
      await w.all(six.map(w.alarm));
      w.time.t = T0 + 5 * MIN;
      w.restarting([name(1)], T0);
      // Act
      const suspected = await detect(w.alarm(name(1)), w.deps);
      w.time.t = T0 + 6 * MIN;
      w.restarting([name(1)], T0);
      const next = await detect(w.sweep(name(1)), w.deps);
      // Assess
      expect(suspected.result).toBe('DEFERRED');
      expect(suspected.reason).toBe(
        'Suspected correlated failure: 6 applications restarting within 10 min (limit 5); looking again at the next check before restarting it.',
      );
      expect(next.result).toBe('REMEDIATING');
      expect(await ledger.currentFleetIncident()).toBeUndefined();
      expect(w.notifier.sent.map((n) => n.event)).toEqual(['OPENED']);
    });

    /** The twelve's loops confirmed (T0 + 5 min) and held (T0 + 6 min): the fleet incident is open, told once. */
    async function openedFleetIncident(w: ReturnType<typeof fleet>) {
      await firstRestarts(w);
      w.time.t = T0 + 5 * MIN;
      w.restarting(twelve, T0);
      await w.all(twelve.map(w.alarm));
      w.time.t = T0 + 6 * MIN;
      w.restarting(twelve, T0);
      await w.all(twelve.map(w.sweep));
      const open = await ledger.currentFleetIncident();
      expect(open?.members).toHaveLength(12);
      expect(w.notifier.sent).toHaveLength(1);
      return open as NonNullable<typeof open>;
    }

    it('sends the fleet page through the fan-out: a channel that fails is dead-lettered, the others still get it', async () => {
      // Prepare: the detector's notifier is the fan-out of every notification (Slack failing, SNS recorded).
      const w = fleet(ledger);
      const deadLettered: UndeliveredNotification[] = [];
      w.deps.notifier = new FanOutNotifier({
        channels: [
          { name: 'slack', notifier: { notify: async () => Promise.reject(new Error('HTTP 500 from Slack')) } },
          { name: 'sns', notifier: w.notifier },
        ],
        ledger,
        deadLetter: async (u) => void deadLettered.push(u),
        log: new CapturingLog(),
      });
      // Act
      const open = await openedFleetIncident(w);
      // Assess
      expect(deadLettered).toEqual([
        expect.objectContaining({
          channel: 'slack',
          event: 'ESCALATED',
          incidentId: open.id,
          error: 'HTTP 500 from Slack',
        }),
      ]);
      expect(w.notifier.sent.map((n) => n.fleet?.id)).toEqual([open.id]);
    });

    it('drops a member that left the watched set or was deleted, and resolves once the others recovered', async () => {
      // Prepare
      const w = fleet(ledger);
      const open = await openedFleetIncident(w);
      // app-12 was untagged (the sweep's fleet memory no longer has it); app-11 was deleted.
      await ledger.saveFleetMemory({
        atMs: T0 + 20 * MIN,
        applications: Array.from({ length: 40 }, (_, i) => name(i + 1))
          .filter((a) => a !== name(12))
          .map((key) => ({ key, source: 'listed' as const, firstSeenMs: T0 - 60 * MIN })),
      });
      w.msf.apps.delete(name(11));
      // Act: the source is back at T0 + 8 min; the ten others are seen quiet at T0 + 26 min, and app-11 is looked at.
      w.time.t = T0 + 26 * MIN;
      w.restarting(twelve, T0, T0 + 8 * MIN);
      for (const a of twelve.slice(0, 11)) await detect(w.sweep(a), w.deps);
      // Assess: resolved with the ten, told once; the two left with the reason on its timeline.
      expect(await ledger.currentFleetIncident()).toBeUndefined();
      const [closed] = await ledger.listFleetIncidents();
      expect(closed?.id).toBe(open.id);
      expect(closed?.status).toBe('RESOLVED');
      expect(closed?.members.map((m) => m.applicationName).sort()).toEqual(twelve.slice(0, 10));
      expect(closed?.held.some((h) => h.applicationName === name(11) || h.applicationName === name(12))).toBe(false);
      expect(closed?.events.filter((e) => e.kind === 'LEFT').map((e) => e.message)).toEqual([
        `${name(12)} left the watched set: no longer a member.`,
        `${name(11)} was deleted: no longer a member.`,
      ]);
      // (app-11's own detection tells people it cannot be observed: that is its own notification, not the fleet's.)
      expect(w.notifier.sent.filter((n) => n.fleet !== undefined).map((n) => [n.event, n.title])).toEqual([
        ['ESCALATED', w.notifier.sent[0]?.title],
        ['RESOLVED', `Correlated failure resolved: all 10 applications healthy again [${open.id}]`],
      ]);
    });

    it('closes a fleet incident open longer than maxOpenMinutes as escalated, told once; its held restarts go back to normal handling', async () => {
      // Prepare: the shared source never comes back.
      const w = fleet(ledger, { correlatedFailure: { maxOpenMinutes: 30 } });
      const open = await openedFleetIncident(w);
      w.time.t = T0 + 20 * MIN;
      w.restarting(twelve, T0);
      const stillHeld = await w.all(twelve.map(w.sweep));
      expect(byResult(stillHeld)).toEqual({ DEFERRED: 12 });
      // Act: 31 minutes after it opened, every application is looked at again (all at once).
      w.time.t = open.openedMs + 31 * MIN;
      w.restarting(twelve, T0);
      const after = await w.all(twelve.map(w.sweep));
      // Assess: closed as ESCALATED once; each loop is handled on its own again, within the remediation slots.
      expect(await ledger.currentFleetIncident()).toBeUndefined();
      expect((await ledger.listFleetIncidents()).map((f) => [f.id, f.status])).toEqual([[open.id, 'ESCALATED']]);
      expect(byResult(after)).toEqual({ REMEDIATING: 3, DEFERRED: 9 });
      expect(after.filter((r) => r.result === 'DEFERRED').every((r) => /remediation slot/.test(r.reason ?? ''))).toBe(
        true,
      );
      expect(w.started).toHaveLength(3);
      const escalation = w.notifier.sent.filter((n) => n.fleet !== undefined).at(-1);
      expect(w.notifier.sent.filter((n) => n.fleet !== undefined).map((n) => n.event)).toEqual([
        'ESCALATED',
        'ESCALATED',
      ]);
      expect(escalation?.title).toBe(
        `Correlated failure not over after 31 min: 12 of 12 applications still failing, automatic restarts no longer held [${open.id}]`,
      );
      const failing = /Still failing: ([^.]+)\./.exec(escalation?.text ?? '')?.[1]?.split(', ');
      expect(failing?.sort()).toEqual(twelve);
      expect(escalation?.nextSteps).toContain(
        `aws kinesisanalyticsv2 describe-application --application-name ${name(1)}`,
      );
      expect(escalation?.fleet?.status).toBe('ESCALATED');
      expect(escalation && fleetSummary(escalation)?.held).toBe(
        'none now (12 applications were held while it was open)',
      );
      // Nothing holds them any longer: a later look does not open a new fleet incident for the same (old) loops.
      w.time.t += MIN;
      w.restarting(twelve, T0);
      await w.all(twelve.map(w.sweep));
      expect(await ledger.currentFleetIncident()).toBeUndefined();
    });
  });
});
