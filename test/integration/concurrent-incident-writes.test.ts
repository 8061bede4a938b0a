import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startLedgerTable } from '#sandbox/dynalite.ts';
import { DynamoDbLedger } from '#shared/adapters/dynamodb-ledger.ts';
import { FanOutNotifier } from '#shared/adapters/fan-out-notifier.ts';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import { addEvent, type Incident } from '#shared/domain/incident.ts';
import { type Ledger, saveOwnedIncident, updateIncidentByRetrying } from '#shared/ports/ledger.ts';
import { silentLog } from '#shared/ports/log.ts';
import type { Notification } from '#shared/ports/notifier.ts';
import { MIN, T0 } from '../support/builders.ts';

/** A REMEDIATING incident of `orders`, opened at T0 with its OPENED event. */
function incident(): Incident {
  return {
    schemaVersion: 1,
    id: 'orders-1',
    applicationName: 'orders',
    trigger: { source: 'alarm', detail: 'flink-watchdog-orders-restart-loop', atMs: T0 },
    openedMs: T0,
    status: 'REMEDIATING',
    decision: { verdict: 'REMEDIATE', reason: 'restart loop', guards: [], nextSteps: [] },
    remediation: { kind: 'ROLLBACK', expectVersionId: 7, toVersionId: 6 },
    attempts: 0,
    actions: [],
    events: [{ atMs: T0, kind: 'OPENED', message: 'restart loop' }],
  };
}

/**
 * `ledger`, except that the next `updateIncident` runs `hook` right after its first read: another writer saving
 * between the notifier's read of the incident and its write.
 */
function interleaved(ledger: Ledger): { ledger: Ledger; afterNextRead(hook: () => Promise<void>): void } {
  let pending: (() => Promise<void>) | undefined;
  const reads: Pick<Ledger, 'getIncident' | 'saveIncident'> = {
    getIncident: async (id) => {
      const read = await ledger.getIncident(id);
      const run = pending;
      pending = undefined;
      await run?.();
      return read;
    },
    saveIncident: (i) => ledger.saveIncident(i),
  };
  const wrapped = Object.create(ledger) as Ledger;
  wrapped.updateIncident = (id, mutate) => updateIncidentByRetrying(reads, id, mutate);
  return {
    ledger: wrapped,
    afterNextRead: (hook) => {
      pending = hook;
    },
  };
}

/** A notifier whose only channel, Slack, always fails (after its own retries). */
function failingSlack(ledger: Ledger): FanOutNotifier {
  return new FanOutNotifier({
    channels: [{ name: 'slack', notifier: { notify: async () => Promise.reject(new Error('slack answered 503')) } }],
    ledger,
    log: silentLog,
  });
}

function notification(copy: Incident, atMs: number): Notification {
  return {
    event: 'OPENED',
    atMs,
    title: 'orders: restart loop → roll back',
    text: 'rolling back',
    nextSteps: [],
    incident: copy,
  };
}

const subjects = [
  { name: 'MemoryLedger', open: async () => ({ ledger: new MemoryLedger() as Ledger, close: async () => {} }) },
  {
    name: 'DynamoDbLedger on dynalite',
    open: async () => {
      const table = await startLedgerTable();
      const ledger: Ledger = new DynamoDbLedger({ tableName: table.tableName, client: table.client });
      return { ledger, close: table.close };
    },
  },
];

describe.each(subjects)('Class: FanOutNotifier with a remediation step saving at the same time ($name)', ({ open }) => {
  let ledger: Ledger;
  let close: () => Promise<void>;

  beforeEach(async () => {
    ({ ledger, close } = await open());
    await ledger.createIncident(incident());
  });
  afterEach(async () => {
    await close();
  });

  it('keeps a failed delivery recorded after the step read the incident, when the step then saves its state', async () => {
    // Prepare: the step reads the incident; the detector's copy (read earlier) is what the notification carries.
    const step = await ledger.getIncident('orders-1');
    const detectorCopy = await ledger.getIncident('orders-1');
    if (!(step && detectorCopy)) throw new Error('incident not found');

    // Act: the failed delivery is recorded, then the step records its action and saves the copy it read before.
    await failingSlack(ledger).notify(notification(detectorCopy, T0 + MIN));
    step.actions.push({ seq: 1, call: 'UpdateApplication', input: {}, recordedMs: T0 + 2 * MIN, state: 'RECORDED' });
    addEvent(step, T0 + 2 * MIN, 'ACTION', 'UpdateApplication recorded');
    await saveOwnedIncident(ledger, step);

    // Assess
    const stored = await ledger.getIncident('orders-1');
    expect(stored?.events.map((e) => [e.kind, e.message])).toEqual([
      ['OPENED', 'restart loop'],
      ['ERROR', 'OPENED notification to slack not delivered: slack answered 503'],
      ['ACTION', 'UpdateApplication recorded'],
    ]);
    expect(stored?.actions).toHaveLength(1);
  });

  it('keeps a failed delivery when the step saves between the notifier reading the incident and writing it', async () => {
    // Prepare
    const hooked = interleaved(ledger);
    const step = await ledger.getIncident('orders-1');
    if (!step) throw new Error('incident not found');
    hooked.afterNextRead(async () => {
      step.status = 'RESOLVED';
      step.closedMs = T0 + 3 * MIN;
      addEvent(step, T0 + 3 * MIN, 'RESOLVED', 'orders is RUNNING on version 6');
      await saveOwnedIncident(ledger, step);
    });

    // Act
    await failingSlack(hooked.ledger).notify(notification(structuredClone(step), T0 + 2 * MIN));

    // Assess: the step's outcome and the notifier's record, both.
    const stored = await ledger.getIncident('orders-1');
    expect(stored?.status).toBe('RESOLVED');
    expect(stored?.events.map((e) => e.kind).sort()).toEqual(['ERROR', 'OPENED', 'RESOLVED']);
  });

  it('keeps the failed delivery the notifier also put in the step copy once, when the step saves after it', async () => {
    // Prepare: a later read by another writer moves the stored revision on.
    const step = await ledger.getIncident('orders-1');
    if (!step) throw new Error('incident not found');
    await ledger.updateIncident('orders-1', (i) => ({ ...i, slackThread: { channel: 'C0ONCALL', ts: '1.1' } }));

    // Act: the notification carries the step's own copy, as the workflow's `tell` does.
    await failingSlack(ledger).notify(notification(step, T0 + MIN));
    await saveOwnedIncident(ledger, step);

    // Assess
    const stored = await ledger.getIncident('orders-1');
    expect(stored?.events.filter((e) => e.kind === 'ERROR')).toHaveLength(1);
    expect(stored?.slackThread).toEqual({ channel: 'C0ONCALL', ts: '1.1' });
    expect(step).toStrictEqual(stored);
  });
});
