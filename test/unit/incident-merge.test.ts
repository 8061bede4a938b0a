import { describe, expect, it } from 'vitest';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import type { Finding } from '#shared/domain/findings.ts';
import { type Incident, type IncidentEvent, mergeIncident } from '#shared/domain/incident.ts';
import { recordLockDeferral } from '#shared/domain/incident-history.ts';
import { silentLog } from '#shared/ports/log.ts';
import { MIN, T0 } from '../support/builders.ts';

function incident(overrides: Partial<Incident> = {}): Incident {
  return {
    schemaVersion: 1,
    id: 'orders-1',
    applicationName: 'orders',
    trigger: { source: 'alarm', detail: 'flink-watchdog-orders-restart-loop', atMs: T0 },
    openedMs: T0,
    status: 'REMEDIATING',
    decision: { verdict: 'REMEDIATE', reason: 'restart loop', guards: [], nextSteps: [] },
    attempts: 0,
    actions: [],
    events: [],
    ...overrides,
  };
}

const ev = (atMs: number, kind: IncidentEvent['kind'], message: string): IncidentEvent => ({ atMs, kind, message });

describe('Function: mergeIncident', () => {
  it("takes the owner's fields, and the stored revision", () => {
    // Prepare
    const stored = incident({ revision: 3, outcomeReason: 'stored', nextSteps: ['stored step'] });
    const mine = incident({ revision: 1, status: 'RESOLVED', closedMs: T0 + MIN, attempts: 1 });

    // Act
    const merged = mergeIncident(stored, mine);

    // Assess: a field the owner does not have (it cleared it) stays cleared.
    expect(merged).toMatchObject({ status: 'RESOLVED', closedMs: T0 + MIN, attempts: 1, revision: 3 });
    expect(merged).not.toHaveProperty('outcomeReason');
    expect(merged).not.toHaveProperty('nextSteps');
  });

  it('has no revision when the stored incident has none (an older record)', () => {
    expect(mergeIncident(incident(), incident({ revision: 2 }))).not.toHaveProperty('revision');
  });

  it.each([
    {
      case: 'an event appended by another writer is kept, in time order',
      stored: [ev(T0, 'OPENED', 'o'), ev(T0 + 2, 'ERROR', 'slack')],
      mine: [ev(T0, 'OPENED', 'o'), ev(T0 + 1, 'ACTION', 'a'), ev(T0 + 3, 'STATUS', 's')],
      merged: [
        ev(T0, 'OPENED', 'o'),
        ev(T0 + 1, 'ACTION', 'a'),
        ev(T0 + 2, 'ERROR', 'slack'),
        ev(T0 + 3, 'STATUS', 's'),
      ],
    },
    {
      case: 'an event both hold counts once',
      stored: [ev(T0, 'OPENED', 'o'), ev(T0 + 2, 'ERROR', 'slack')],
      mine: [ev(T0, 'OPENED', 'o'), ev(T0 + 2, 'ERROR', 'slack')],
      merged: [ev(T0, 'OPENED', 'o'), ev(T0 + 2, 'ERROR', 'slack')],
    },
    {
      case: 'the same event recorded twice by one side stays twice',
      stored: [ev(T0, 'ERROR', 'slack')],
      mine: [ev(T0, 'ERROR', 'slack'), ev(T0, 'ERROR', 'slack')],
      merged: [ev(T0, 'ERROR', 'slack'), ev(T0, 'ERROR', 'slack')],
    },
    {
      case: 'events of equal time keep the order they were appended in (stored first)',
      stored: [ev(T0, 'ERROR', 'b')],
      mine: [ev(T0, 'ACTION', 'a')],
      merged: [ev(T0, 'ERROR', 'b'), ev(T0, 'ACTION', 'a')],
    },
  ])('events: $case', ({ stored, mine, merged }) => {
    expect(mergeIncident(incident({ events: stored }), incident({ events: mine })).events).toEqual(merged);
  });

  it("unites action records by seq, the owner's record of a seq winning", () => {
    // Prepare
    const recorded = { seq: 1, call: 'RollbackApplication', input: {}, recordedMs: T0, state: 'RECORDED' as const };
    const stored = incident({ actions: [recorded] });
    const mine = incident({ actions: [{ ...recorded, state: 'SUCCEEDED', completedMs: T0 + 1 }] });
    mine.actions.push({ seq: 2, call: 'StartApplication', input: {}, recordedMs: T0 + 2, state: 'RECORDED' });

    // Act
    const merged = mergeIncident(stored, mine);

    // Assess
    expect(merged.actions.map((a) => [a.seq, a.state])).toEqual([
      [1, 'SUCCEEDED'],
      [2, 'RECORDED'],
    ]);
  });

  it('keeps the Slack thread and the deferral another writer set', () => {
    // Prepare
    const deferral = { lockHolder: 'orders-0', firstMs: T0, lastMs: T0 + MIN, count: 2 };
    const stored = incident({ slackThread: { channel: 'C0ONCALL', ts: '1.1' }, deferral });

    // Act
    const merged = mergeIncident(stored, incident());

    // Assess
    expect(merged.slackThread).toEqual({ channel: 'C0ONCALL', ts: '1.1' });
    expect(merged.deferral).toEqual(deferral);
  });

  it('changes neither argument, and shares no object with them', () => {
    // Prepare
    const stored = incident({ events: [ev(T0, 'OPENED', 'o')], revision: 1 });
    const mine = incident({ events: [ev(T0 + 1, 'ACTION', 'a')] });
    const before = structuredClone({ stored, mine });

    // Act
    const merged = mergeIncident(stored, mine);
    for (const e of merged.events) e.message = 'changed';

    // Assess
    expect({ stored, mine }).toEqual(before);
  });
});

describe('Function: recordLockDeferral', () => {
  const finding: Finding = {
    kind: 'RESTART_LOOP',
    summary: 'orders restarted 6 times in 10 minutes',
    restarts: 6,
    windowMinutes: 10,
    metricName: 'fullRestarts',
    onsetMs: T0 - 6 * MIN,
  };

  it('counts every one of several deferrals recorded at the same time', async () => {
    // Prepare
    const ledger = new MemoryLedger();
    const deps = { ledger, notifier: { notify: async () => {} }, log: silentLog };
    const defer = (nowMs: number) =>
      recordLockDeferral(
        {
          applicationName: 'orders',
          lockHolder: 'orders-0',
          trigger: { source: 'schedule', detail: 'flink-watchdog-sweep', atMs: nowMs },
          finding,
          decision: { verdict: 'NONE', reason: 'lock held', guards: [], nextSteps: [] },
          cooldownMinutes: 60,
          nowMs,
        },
        deps,
      );
    const first = await defer(T0);

    // Act
    await Promise.all([defer(T0 + MIN), defer(T0 + MIN), defer(T0 + 2 * MIN)]);

    // Assess
    expect((await ledger.getIncident(first.incidentId))?.deferral?.count).toBe(4);
  });
});
