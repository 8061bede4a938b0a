import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type LocalLedgerTable, startLedgerTable } from '#sandbox/dynalite.ts';
import { DynamoDbLedger } from '#shared/adapters/dynamodb-ledger.ts';
import { DEFAULT_CLOSED_INCIDENT_RETENTION_DAYS, LEDGER_TABLE } from '#shared/adapters/ledger-table.ts';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import type { RemediationAction } from '#shared/domain/decision.ts';
import type { FleetIncident, FleetSighting } from '#shared/domain/fleet-incident.ts';
import type { Incident, IncidentEvent } from '#shared/domain/incident.ts';
import {
  IncidentConflictError,
  type Ledger,
  saveOwnedIncident,
  UPDATE_INCIDENT_TRIES,
  updateIncidentByRetrying,
} from '#shared/ports/ledger.ts';
import { MIN, T0 } from '../support/builders.ts';

const ROLLBACK: RemediationAction = { kind: 'ROLLBACK', expectVersionId: 7, toVersionId: 6 };

/** A client of the local table (dummy credentials, as the dynalite harness uses). */
function localClientConfig(endpoint: string) {
  return {
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  };
}

/**
 * A client of the local table that refuses the first DeleteItem with ConditionalCheckFailedException, whatever the
 * item holds: the fault the fault-injection run put on a lock release (a middleware, the SDK's own extension point).
 */
function refusesFirstDelete(endpoint: string): { client: DynamoDBClient; refused: () => number } {
  const client = new DynamoDBClient(localClientConfig(endpoint));
  let refused = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'DeleteItemCommand' && refused === 0) {
        refused += 1;
        throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
      }
      return next(args);
    },
    { step: 'initialize', name: 'refuseFirstDelete' },
  );
  return { client, refused: () => refused };
}

/** A REMEDIATING incident of `orders` opened at T0, with only the required fields. */
function incident(id: string, overrides: Partial<Incident> = {}): Incident {
  return {
    schemaVersion: 1,
    id,
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

/** An incident with every optional field set and nested values of each kind the ledger must keep. */
function fullIncident(id: string): Incident {
  return incident(id, {
    status: 'RESOLVED',
    finding: {
      kind: 'RESTART_LOOP',
      summary: 'orders restarted 6 times in 10 minutes',
      restarts: 6,
      windowMinutes: 10,
      metricName: 'fullRestarts',
      onsetMs: T0 - 6 * MIN,
      recentChange: { fromVersionId: 6, toVersionId: 7, atMs: T0 - 20 * MIN, byRollback: false },
    },
    decision: {
      verdict: 'REMEDIATE',
      reason: 'restart loop after a deploy',
      remediation: ROLLBACK,
      guards: [
        { name: 'lock-free', passed: true, detail: '' },
        { name: 'attempts-left', passed: true, detail: '0 of 2 used' },
      ],
      nextSteps: ['aws kinesisanalyticsv2 describe-application --application-name orders'],
    },
    remediation: ROLLBACK,
    attempts: 1,
    actions: [
      {
        seq: 1,
        call: 'RollbackApplication',
        input: { ApplicationName: 'orders', CurrentApplicationVersionId: 7, nested: { list: [1, 'two', true] } },
        recordedMs: T0 + 1,
        state: 'SUCCEEDED',
        completedMs: T0 + 2,
        operationId: 'op-1',
      },
    ],
    events: [
      { atMs: T0, kind: 'OPENED', message: 'restart loop' },
      { atMs: T0 + 5 * MIN, kind: 'RESOLVED', message: 'running at version 6' },
    ],
    closedMs: T0 + 5 * MIN,
    outcomeReason: 'rolled back to version 6',
  });
}

/**
 * `ledger`'s getIncident and saveIncident, where `hook` runs once, right after the first read returns: another writer
 * saving between a read and the write that follows it.
 */
function afterFirstRead(ledger: Ledger, hook: () => Promise<void>): Pick<Ledger, 'getIncident' | 'saveIncident'> {
  let pending: (() => Promise<void>) | undefined = hook;
  return {
    getIncident: async (id) => {
      const read = await ledger.getIncident(id);
      const run = pending;
      pending = undefined;
      await run?.();
      return read;
    },
    saveIncident: (i) => ledger.saveIncident(i),
  };
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

describe.each(subjects)('Ledger contract: $name', ({ open }) => {
  let ledger: Ledger;
  let close: () => Promise<void>;

  beforeEach(async () => {
    ({ ledger, close } = await open());
  });
  afterEach(async () => {
    await close();
  });

  describe('incidents', () => {
    it('refuses to create an incident whose id exists, and writes nothing', async () => {
      const first = incident('orders-1');
      expect(await ledger.createIncident(first)).toBe(true);
      const other = incident('orders-1', { status: 'ESCALATED', openedMs: T0 + MIN, applicationName: 'payments' });
      expect(await ledger.createIncident(other)).toBe(false);
      expect(await ledger.getIncident('orders-1')).toStrictEqual(first);
      expect(await ledger.listIncidents({ applicationName: 'payments' })).toEqual([]);
      expect(await ledger.listIncidents()).toHaveLength(1);
    });

    it('round-trips an incident with every field set', async () => {
      const full = fullIncident('orders-full');
      await ledger.createIncident(full);
      expect(await ledger.getIncident('orders-full')).toStrictEqual(full);
    });

    it('round-trips an incident whose optional fields are undefined', async () => {
      const sparse = incident('orders-sparse', {
        finding: undefined,
        remediation: undefined,
        closedMs: undefined,
        outcomeReason: undefined,
        actions: [
          {
            seq: 1,
            call: 'StopApplication',
            input: { Force: true },
            recordedMs: T0,
            state: 'RECORDED',
            error: undefined,
          },
        ],
      });
      expect(await ledger.createIncident(sparse)).toBe(true);
      const read = await ledger.getIncident('orders-sparse');
      expect(read).toEqual(sparse);
      expect(read?.closedMs).toBeUndefined();
      expect(read?.actions[0]?.error).toBeUndefined();
    });

    it('returns copies: changing what was stored or read does not change the ledger', async () => {
      const original = incident('orders-1');
      await ledger.createIncident(original);
      original.events.push({ atMs: T0, kind: 'ERROR', message: 'changed after create' });
      const read = await ledger.getIncident('orders-1');
      if (!read) throw new Error('incident not found');
      read.status = 'RESOLVED';
      read.events.push({ atMs: T0, kind: 'ERROR', message: 'changed after get' });
      const listed = await ledger.listIncidents();
      listed[0]?.actions.push({ seq: 9, call: 'X', input: {}, recordedMs: T0, state: 'FAILED' });
      expect(await ledger.getIncident('orders-1')).toStrictEqual(incident('orders-1'));
    });

    it('returns undefined for an unknown id', async () => {
      expect(await ledger.getIncident('nope')).toBeUndefined();
    });

    it('saveIncident overwrites, and creates when missing, one revision up', async () => {
      await ledger.createIncident(incident('orders-1'));
      const resolved = incident('orders-1', { status: 'RESOLVED', closedMs: T0 + MIN, attempts: 1 });
      await ledger.saveIncident(resolved);
      expect(resolved.revision).toBe(1);
      expect(await ledger.getIncident('orders-1')).toStrictEqual(resolved);
      await ledger.saveIncident(incident('orders-2'));
      expect(await ledger.getIncident('orders-2')).toStrictEqual(incident('orders-2', { revision: 1 }));
      expect(await ledger.createIncident(incident('orders-2'))).toBe(false);
    });

    it('lists newest first, optionally of one application', async () => {
      const created = [
        incident('orders-a', { openedMs: T0 + 1 * MIN }),
        incident('payments-a', { applicationName: 'payments', openedMs: T0 + 2 * MIN }),
        incident('orders-c', { openedMs: T0 + 5 * MIN, status: 'RESOLVED', closedMs: T0 + 6 * MIN }),
        incident('orders-b', { openedMs: T0 + 3 * MIN }),
        incident('payments-b', { applicationName: 'payments', openedMs: T0 + 4 * MIN }),
      ];
      for (const i of created) await ledger.createIncident(i);
      const ids = (list: Incident[]) => list.map((i) => i.id);
      expect(ids(await ledger.listIncidents())).toEqual([
        'orders-c',
        'payments-b',
        'orders-b',
        'payments-a',
        'orders-a',
      ]);
      expect(ids(await ledger.listIncidents({}))).toHaveLength(5);
      expect(ids(await ledger.listIncidents({ applicationName: 'orders' }))).toEqual([
        'orders-c',
        'orders-b',
        'orders-a',
      ]);
      expect(ids(await ledger.listIncidents({ applicationName: 'payments' }))).toEqual(['payments-b', 'payments-a']);
      expect(await ledger.listIncidents({ applicationName: 'unknown' })).toEqual([]);
      expect(await ledger.listIncidents({ applicationName: 'orders' })).toContainEqual(created[2]);
    });

    it('lists every incident when there are more than one page would hold', async () => {
      const big = 'x'.repeat(60_000);
      const many = Array.from({ length: 24 }, (_, n) =>
        incident(`orders-${n}`, { openedMs: T0 + n, outcomeReason: big }),
      );
      await Promise.all(many.map((i) => ledger.createIncident(i)));
      const all = await ledger.listIncidents();
      expect(all.map((i) => i.openedMs)).toEqual(many.map((i) => i.openedMs).reverse());
      expect(await ledger.listIncidents({ applicationName: 'orders' })).toHaveLength(24);
    });

    it('openIncident returns the newest non-terminal incident of the application', async () => {
      expect(await ledger.openIncident('orders')).toBeUndefined();
      await ledger.createIncident(incident('orders-old', { openedMs: T0 }));
      await ledger.createIncident(incident('orders-mid', { openedMs: T0 + MIN }));
      for (const [n, status] of (['RESOLVED', 'ESCALATED', 'NOTIFIED', 'OBSERVED'] as const).entries()) {
        await ledger.createIncident(incident(`orders-${status}`, { openedMs: T0 + (2 + n) * MIN, status }));
      }
      await ledger.createIncident(incident('payments-new', { applicationName: 'payments', openedMs: T0 + 9 * MIN }));
      expect((await ledger.openIncident('orders'))?.id).toBe('orders-mid');
      await ledger.saveIncident(incident('orders-mid', { openedMs: T0 + MIN, status: 'RESOLVED', closedMs: T0 }));
      expect((await ledger.openIncident('orders'))?.id).toBe('orders-old');
      await ledger.saveIncident(incident('orders-old', { status: 'ESCALATED', closedMs: T0 }));
      expect(await ledger.openIncident('orders')).toBeUndefined();
      expect(await ledger.openIncident('payments')).toStrictEqual(
        incident('payments-new', { applicationName: 'payments', openedMs: T0 + 9 * MIN }),
      );
    });
  });

  describe('concurrent writers of an incident (revision)', () => {
    const event = (message: string): IncidentEvent => ({ atMs: T0, kind: 'ERROR', message });

    it('creates at revision 0 whatever revision the copy carries, and counts every save', async () => {
      await ledger.createIncident(incident('orders-1', { revision: 7 }));
      const read = await ledger.getIncident('orders-1');
      expect(read?.revision).toBeUndefined();
      if (!read) throw new Error('incident not found');
      await ledger.saveIncident(read);
      await ledger.saveIncident(read);
      expect(read.revision).toBe(2);
      expect((await ledger.getIncident('orders-1'))?.revision).toBe(2);
      expect((await ledger.listIncidents())[0]?.revision).toBe(2);
    });

    it('refuses a stale save with IncidentConflictError naming the incident, and writes nothing', async () => {
      await ledger.createIncident(incident('orders-1'));
      const first = await ledger.getIncident('orders-1');
      const stale = await ledger.getIncident('orders-1');
      if (!(first && stale)) throw new Error('incident not found');
      first.events.push(event('saved first'));
      await ledger.saveIncident(first);
      stale.status = 'ESCALATED';
      const refused = await ledger.saveIncident(stale).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(IncidentConflictError);
      expect(refused).toMatchObject({
        name: 'IncidentConflictError',
        incidentId: 'orders-1',
        applicationName: 'orders',
        expectedRevision: 0,
      });
      expect(stale.revision).toBeUndefined();
      expect(await ledger.getIncident('orders-1')).toStrictEqual(first);
      // A copy one save behind is refused as well.
      const behind = structuredClone(first);
      await ledger.saveIncident(first);
      await expect(ledger.saveIncident(behind)).rejects.toMatchObject({ expectedRevision: 1 });
    });

    it('keeps both of two concurrent updates, and all of four', async () => {
      await ledger.createIncident(incident('orders-1'));
      const add = (message: string) =>
        ledger.updateIncident('orders-1', (i) => {
          i.events.push(event(message));
          return i;
        });
      await Promise.all([add('a'), add('b')]);
      expect((await ledger.getIncident('orders-1'))?.events.map((e) => e.message).sort()).toEqual(['a', 'b']);
      await Promise.all(['c', 'd', 'e', 'f'].map(add));
      const stored = await ledger.getIncident('orders-1');
      expect(stored?.events.map((e) => e.message).sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
      expect(stored?.revision).toBe(6);
    });

    it('re-applies an update on a fresh read when another writer saved in between', async () => {
      await ledger.createIncident(incident('orders-1'));
      const seen: Array<number | undefined> = [];
      const hooked = afterFirstRead(ledger, async () => {
        const other = await ledger.getIncident('orders-1');
        if (!other) throw new Error('incident not found');
        other.status = 'RESOLVED';
        await ledger.saveIncident(other);
      });
      const updated = await updateIncidentByRetrying(hooked, 'orders-1', (i) => {
        seen.push(i.revision);
        i.events.push(event('delivery failed'));
        return i;
      });
      expect(seen).toEqual([undefined, 1]);
      expect(updated).toMatchObject({ status: 'RESOLVED', revision: 2 });
      expect(await ledger.getIncident('orders-1')).toStrictEqual(updated);
    });

    it('gives up with IncidentConflictError after every try met a conflict', async () => {
      await ledger.createIncident(incident('orders-1'));
      let interferences = 0;
      const contended: Pick<Ledger, 'getIncident' | 'saveIncident'> = {
        getIncident: async (id) => {
          const read = await ledger.getIncident(id);
          interferences += 1;
          await ledger.updateIncident(id, (i) => ({ ...i, attempts: i.attempts + 1 }));
          return read;
        },
        saveIncident: (i) => ledger.saveIncident(i),
      };
      const outcome = await updateIncidentByRetrying(contended, 'orders-1', (i) => i).catch((e: unknown) => e);
      expect(outcome).toBeInstanceOf(IncidentConflictError);
      expect(interferences).toBe(UPDATE_INCIDENT_TRIES);
      expect((await ledger.getIncident('orders-1'))?.attempts).toBe(UPDATE_INCIDENT_TRIES);
    });

    it('updates nothing for an unknown id, and writes nothing when the mutation returns undefined', async () => {
      expect(await ledger.updateIncident('nope', (i) => i)).toBeUndefined();
      expect(await ledger.getIncident('nope')).toBeUndefined();
      await ledger.createIncident(incident('orders-1'));
      expect(await ledger.updateIncident('orders-1', () => undefined)).toStrictEqual(incident('orders-1'));
      expect((await ledger.getIncident('orders-1'))?.revision).toBeUndefined();
    });

    it('saveOwnedIncident keeps what others appended since the owner read the incident', async () => {
      await ledger.createIncident(incident('orders-1', { events: [{ atMs: T0, kind: 'OPENED', message: 'opened' }] }));
      const owner = await ledger.getIncident('orders-1');
      if (!owner) throw new Error('incident not found');
      await ledger.updateIncident('orders-1', (i) => {
        i.events.push({ atMs: T0 + 2, kind: 'ERROR', message: 'OPENED notification to slack not delivered' });
        return { ...i, slackThread: { channel: 'C0ONCALL', ts: '1.2' } };
      });
      owner.status = 'RESOLVED';
      owner.actions.push({ seq: 1, call: 'StopApplication', input: {}, recordedMs: T0 + 1, state: 'SUCCEEDED' });
      owner.events.push({ atMs: T0 + 3, kind: 'RESOLVED', message: 'recovered' });
      await saveOwnedIncident(ledger, owner);
      const stored = await ledger.getIncident('orders-1');
      expect(stored?.events.map((e) => e.kind)).toEqual(['OPENED', 'ERROR', 'RESOLVED']);
      expect(stored).toMatchObject({
        status: 'RESOLVED',
        slackThread: { channel: 'C0ONCALL', ts: '1.2' },
        revision: 2,
      });
      expect(stored?.actions).toHaveLength(1);
      // The owner's copy is brought up to date: its next save goes through without a conflict and loses nothing.
      expect(owner).toStrictEqual(stored);
      owner.outcomeReason = 'done';
      await ledger.saveIncident(owner);
      expect((await ledger.getIncident('orders-1'))?.events).toHaveLength(3);
    });
  });

  describe('reconciler memory', () => {
    it('has none before the first cycle, then returns what was saved, optional fields included or not', async () => {
      // Prepare
      const memory = {
        schemaVersion: 1 as const,
        apps: {
          orders: {
            status: 'RUNNING',
            versionId: 7,
            desiredFingerprint: 'd1',
            pendingFingerprint: 'p1',
            describedMs: 5,
          },
          payments: { status: 'READY', versionId: 3, desiredFingerprint: 'd2', pendingFingerprint: undefined },
        },
      };
      // Act
      const before = await ledger.loadReconcilerMemory();
      await ledger.saveReconcilerMemory(memory);
      const after = await ledger.loadReconcilerMemory();
      // Assess
      expect(before).toBeUndefined();
      expect(after?.apps.orders).toEqual(memory.apps.orders);
      expect(after?.apps.payments).toMatchObject({ status: 'READY', versionId: 3, desiredFingerprint: 'd2' });
      expect(after?.apps.payments?.pendingFingerprint).toBeUndefined();
    });
  });

  describe('automation pause', () => {
    it('is absent until paused, then holds who paused it, why and when, per application', async () => {
      // Act
      const before = await ledger.automationPause('orders');
      await ledger.pauseAutomation('orders', 'alice@example.com', 'release freeze', T0);
      // Assess
      expect(before).toBeUndefined();
      expect(await ledger.automationPause('orders')).toStrictEqual({
        pausedBy: 'alice@example.com',
        reason: 'release freeze',
        atMs: T0,
      });
      expect(await ledger.automationPause('payments')).toBeUndefined();
    });

    it('overwrites an earlier pause, and is cleared by resume (a no-op when not paused)', async () => {
      await ledger.resumeAutomation('orders');
      await ledger.pauseAutomation('orders', 'alice@example.com', 'release freeze', T0);
      await ledger.pauseAutomation('orders', 'bob@example.com', 'incident 42', T0 + MIN);
      expect(await ledger.automationPause('orders')).toStrictEqual({
        pausedBy: 'bob@example.com',
        reason: 'incident 42',
        atMs: T0 + MIN,
      });
      await ledger.resumeAutomation('orders');
      expect(await ledger.automationPause('orders')).toBeUndefined();
    });

    it('is not an incident, a lock or an attempt', async () => {
      await ledger.pauseAutomation('orders', 'alice@example.com', 'release freeze', T0);
      expect(await ledger.listIncidents()).toEqual([]);
      expect(await ledger.listIncidents({ applicationName: 'orders' })).toEqual([]);
      expect(await ledger.openIncident('orders')).toBeUndefined();
      expect(await ledger.lockHolder('orders', T0)).toBeUndefined();
      expect(await ledger.attemptsSince('orders', 0)).toEqual({ count: 0 });
    });

    it('returns a copy: changing what was read does not change the pause', async () => {
      await ledger.pauseAutomation('orders', 'alice@example.com', 'release freeze', T0);
      const read = await ledger.automationPause('orders');
      if (read) read.pausedBy = 'mallory';
      expect((await ledger.automationPause('orders'))?.pausedBy).toBe('alice@example.com');
    });
  });

  describe('lock', () => {
    it('is held by one incident at a time, per application', async () => {
      expect(await ledger.acquireLock('orders', 'inc-a', T0, MIN)).toEqual({ acquired: true, holder: 'inc-a' });
      expect(await ledger.acquireLock('orders', 'inc-b', T0 + 1, MIN)).toEqual({ acquired: false, holder: 'inc-a' });
      expect(await ledger.lockHolder('orders', T0 + 2)).toBe('inc-a');
      expect(await ledger.acquireLock('payments', 'inc-b', T0, MIN)).toEqual({ acquired: true, holder: 'inc-b' });
      expect(await ledger.lockHolder('payments', T0)).toBe('inc-b');
    });

    it('is re-entrant for the holder, which extends it', async () => {
      await ledger.acquireLock('orders', 'inc-a', T0, MIN);
      expect(await ledger.acquireLock('orders', 'inc-a', T0 + 30_000, MIN)).toEqual({
        acquired: true,
        holder: 'inc-a',
      });
      expect(await ledger.lockHolder('orders', T0 + 80_000)).toBe('inc-a');
      expect(await ledger.acquireLock('orders', 'inc-b', T0 + 80_000, MIN)).toEqual({
        acquired: false,
        holder: 'inc-a',
      });
      expect(await ledger.lockHolder('orders', T0 + 90_000)).toBeUndefined();
    });

    it('can be taken over once expired (at expiry exactly)', async () => {
      await ledger.acquireLock('orders', 'inc-a', T0, MIN);
      expect(await ledger.acquireLock('orders', 'inc-b', T0 + MIN - 1, MIN)).toEqual({
        acquired: false,
        holder: 'inc-a',
      });
      expect(await ledger.acquireLock('orders', 'inc-b', T0 + MIN, MIN)).toEqual({ acquired: true, holder: 'inc-b' });
      expect(await ledger.lockHolder('orders', T0 + MIN)).toBe('inc-b');
      expect(await ledger.acquireLock('orders', 'inc-a', T0 + MIN + 1, MIN)).toEqual({
        acquired: false,
        holder: 'inc-b',
      });
    });

    it('is released only by its holder; releasing otherwise is a no-op', async () => {
      await ledger.releaseLock('orders', 'inc-a');
      await ledger.acquireLock('orders', 'inc-a', T0, MIN);
      await ledger.releaseLock('orders', 'inc-b');
      await ledger.releaseLock('payments', 'inc-a');
      expect(await ledger.lockHolder('orders', T0)).toBe('inc-a');
      await ledger.releaseLock('orders', 'inc-a');
      expect(await ledger.lockHolder('orders', T0)).toBeUndefined();
      expect(await ledger.acquireLock('orders', 'inc-b', T0, MIN)).toEqual({ acquired: true, holder: 'inc-b' });
    });

    it('releases idempotently: RELEASED for its own lock, NOT_HELD when another incident holds it or none is left', async () => {
      expect(await ledger.releaseLock('orders', 'inc-a')).toBe('NOT_HELD');
      await ledger.acquireLock('orders', 'inc-a', T0, MIN);
      expect(await ledger.releaseLock('orders', 'inc-b')).toBe('NOT_HELD');
      expect(await ledger.lockHolder('orders', T0)).toBe('inc-a');
      expect(await ledger.releaseLock('orders', 'inc-a')).toBe('RELEASED');
      expect(await ledger.releaseLock('orders', 'inc-a')).toBe('NOT_HELD');
      expect(await ledger.lockHolder('orders', T0)).toBeUndefined();
    });

    it('names the lock and the holder in the command to release it by hand', () => {
      const command = ledger.manualLockRelease('orders', 'orders-0123456789abcdef');
      expect(command).toContain('orders');
      expect(command).toContain('orders-0123456789abcdef');
    });

    it('can be released by its holder after it expired', async () => {
      await ledger.acquireLock('orders', 'inc-a', T0, MIN);
      await ledger.releaseLock('orders', 'inc-a');
      expect(await ledger.acquireLock('orders', 'inc-b', T0 + 1, MIN)).toEqual({ acquired: true, holder: 'inc-b' });
    });

    it('lockHolder respects expiry', async () => {
      expect(await ledger.lockHolder('orders', T0)).toBeUndefined();
      await ledger.acquireLock('orders', 'inc-a', T0, MIN);
      expect(await ledger.lockHolder('orders', T0 - MIN)).toBe('inc-a');
      expect(await ledger.lockHolder('orders', T0 + MIN - 1)).toBe('inc-a');
      expect(await ledger.lockHolder('orders', T0 + MIN)).toBeUndefined();
    });
  });

  describe('remediation slots', () => {
    const slot = (incidentId: string, expiresMs = T0 + 120 * MIN) => ({
      incidentId,
      applicationName: incidentId.split('-')[0] ?? incidentId,
      expiresMs,
    });

    it('never grants more than the limit, even to concurrent callers', async () => {
      const out = await Promise.all(
        Array.from({ length: 12 }, (_, i) => ledger.acquireRemediationSlot(slot(`app${i}-inc`), 3, T0)),
      );
      expect(out.filter((o) => o.acquired)).toHaveLength(3);
      expect(await ledger.remediationSlots(T0)).toHaveLength(3);
      const refused = out.find((o) => !o.acquired);
      expect(refused?.holders).toHaveLength(3);
    });

    it('is re-entrant for its holder, and frees a slot on release, idempotently', async () => {
      await ledger.acquireRemediationSlot(slot('a-1'), 2, T0);
      await ledger.acquireRemediationSlot(slot('b-1'), 2, T0);
      const again = await ledger.acquireRemediationSlot(slot('a-1', T0 + 200 * MIN), 2, T0 + MIN);
      expect(again).toMatchObject({ acquired: true, reentered: true });
      expect((await ledger.acquireRemediationSlot(slot('c-1'), 2, T0 + MIN)).acquired).toBe(false);
      expect(await ledger.releaseRemediationSlot('a-1')).toBe('RELEASED');
      expect(await ledger.releaseRemediationSlot('a-1')).toBe('NOT_HELD');
      expect(await ledger.acquireRemediationSlot(slot('c-1'), 2, T0 + MIN)).toMatchObject({
        acquired: true,
        reentered: false,
      });
      expect((await ledger.remediationSlots(T0 + MIN)).map((s) => s.incidentId).sort()).toEqual(['b-1', 'c-1']);
    });

    it('lets an expired slot go, so a lost release never blocks the fleet', async () => {
      await ledger.acquireRemediationSlot(slot('a-1', T0 + 10 * MIN), 1, T0);
      expect((await ledger.acquireRemediationSlot(slot('b-1'), 1, T0 + 5 * MIN)).acquired).toBe(false);
      expect((await ledger.acquireRemediationSlot(slot('b-1'), 1, T0 + 10 * MIN)).acquired).toBe(true);
      expect(await ledger.remediationSlots(T0 + 10 * MIN)).toEqual([slot('b-1')]);
    });

    it('renews only a slot its incident holds: extended past its first expiry, never taken by renewing', async () => {
      await ledger.acquireRemediationSlot(slot('a-1', T0 + 10 * MIN), 1, T0);
      expect(await ledger.renewRemediationSlot('a-1', T0 + 20 * MIN, T0 + 9 * MIN)).toBe(true);
      // Past the first expiry the slot is still a-1's, so b-1 waits.
      expect((await ledger.acquireRemediationSlot(slot('b-1'), 1, T0 + 15 * MIN)).acquired).toBe(false);
      expect(await ledger.remediationSlots(T0 + 15 * MIN)).toEqual([slot('a-1', T0 + 20 * MIN)]);
      // An incident without a slot (a runbook command, or one released) is not given one by renewing.
      expect(await ledger.renewRemediationSlot('r-1', T0 + 30 * MIN, T0 + 15 * MIN)).toBe(false);
      expect(await ledger.releaseRemediationSlot('a-1')).toBe('RELEASED');
      expect(await ledger.renewRemediationSlot('a-1', T0 + 30 * MIN, T0 + 16 * MIN)).toBe(false);
      expect(await ledger.remediationSlots(T0 + 16 * MIN)).toEqual([]);
    });
  });

  describe('sightings', () => {
    const sighting = (applicationName: string, loop: boolean): FleetSighting => ({
      schemaVersion: 1,
      applicationName,
      restartingSinceMs: T0,
      ...(loop ? { loopSinceMs: T0 + 3 * MIN, loopOnsetMs: T0 } : {}),
      lastSeenMs: T0 + 3 * MIN,
      shares: { sources: ['topic orders'], sinks: [], vpcs: [], runtime: 'FLINK-1_20' },
    });

    it('keeps one sighting per application, overwritten, and deletes it on clear', async () => {
      await ledger.saveSighting(sighting('a', false));
      await ledger.saveSighting(sighting('a', true));
      await ledger.saveSighting(sighting('b', false));
      const stored = await ledger.listSightings();
      expect(stored.sort((x, y) => x.applicationName.localeCompare(y.applicationName))).toEqual([
        sighting('a', true),
        sighting('b', false),
      ]);
      await ledger.clearSighting('a');
      await ledger.clearSighting('nobody');
      expect((await ledger.listSightings()).map((x) => x.applicationName)).toEqual(['b']);
    });
  });

  describe('fleet incidents', () => {
    const fleet = (id: string): FleetIncident => ({
      schemaVersion: 1,
      id,
      status: 'OPEN',
      trigger: { source: 'alarm', detail: 'flink-watchdog-drill-a-restart-loop', atMs: T0 },
      openedMs: T0,
      firstFailureMs: T0 - 5 * MIN,
      limit: 5,
      watched: 40,
      windowMinutes: 10,
      members: [
        {
          applicationName: 'a',
          firstFailureMs: T0 - 5 * MIN,
          joinedMs: T0,
          shares: { sources: [], sinks: [], vpcs: [] },
        },
      ],
      shared: { sources: [], sinks: [], vpcs: [] },
      held: [],
      events: [],
    });

    it('opens exactly one fleet incident for concurrent openers; the others get the open one', async () => {
      const out = await Promise.all(
        Array.from({ length: 12 }, (_, i) => ledger.openFleetIncident(fleet(`fleet-${i}`))),
      );
      expect(out.filter((o) => o.opened)).toHaveLength(1);
      const id = out.find((o) => o.opened)?.incident.id;
      expect(new Set(out.map((o) => o.incident.id))).toEqual(new Set([id]));
      expect((await ledger.currentFleetIncident())?.id).toBe(id);
    });

    it('applies concurrent updates without losing one, and archives it once RESOLVED', async () => {
      await ledger.openFleetIncident(fleet('fleet-1'));
      await Promise.all(
        Array.from({ length: 4 }, (_, i) =>
          ledger.updateFleetIncident('fleet-1', (f) => {
            f.held.push({ applicationName: `app${i}`, remediation: 'START', firstMs: T0 });
            return f;
          }),
        ),
      );
      expect((await ledger.currentFleetIncident())?.held).toHaveLength(4);
      expect(await ledger.updateFleetIncident('fleet-other', (f) => f)).toBeUndefined();
      const closed = await ledger.updateFleetIncident('fleet-1', (f) => ({
        ...f,
        status: 'RESOLVED',
        closedMs: T0 + 30 * MIN,
      }));
      expect(closed?.status).toBe('RESOLVED');
      expect(await ledger.currentFleetIncident()).toBeUndefined();
      expect(await ledger.updateFleetIncident('fleet-1', (f) => f)).toBeUndefined();
      const listed = await ledger.listFleetIncidents();
      expect(listed.map((f) => [f.id, f.status])).toEqual([['fleet-1', 'RESOLVED']]);
      expect((await ledger.openFleetIncident(fleet('fleet-2'))).opened).toBe(true);
    });
  });

  describe('one-time notices', () => {
    it('grants a notice to its first claim only, one per key, even to concurrent claims', async () => {
      const claims = await Promise.all(Array.from({ length: 10 }, () => ledger.claimNotice('orders-deferral#1', T0)));
      expect(claims.filter(Boolean)).toHaveLength(1);
      expect(await ledger.claimNotice('orders-deferral#1', T0 + MIN)).toBe(false);
      expect(await ledger.claimNotice('orders-deferral#2', T0 + MIN)).toBe(true);
    });

    it('is not an incident or a lock', async () => {
      await ledger.claimNotice('orders', T0);
      expect(await ledger.listIncidents()).toEqual([]);
      expect(await ledger.lockHolder('orders', T0)).toBeUndefined();
    });
  });

  describe('attempts', () => {
    it('reports no attempts and no lastMs for an application without any', async () => {
      expect(await ledger.attemptsSince('orders', 0)).toStrictEqual({ count: 0 });
    });

    it('counts attempts at or after sinceMs, and the last one ever', async () => {
      await ledger.recordAttempt('orders', 'inc-a', T0);
      await ledger.recordAttempt('orders', 'inc-a', T0 + MIN);
      await ledger.recordAttempt('orders', 'inc-b', T0 + MIN);
      await ledger.recordAttempt('orders', 'inc-b', T0 + 2 * MIN);
      await ledger.recordAttempt('payments', 'inc-c', T0 + 10 * MIN);
      expect(await ledger.attemptsSince('orders', 0)).toStrictEqual({ count: 4, lastMs: T0 + 2 * MIN });
      expect(await ledger.attemptsSince('orders', T0 - 1)).toStrictEqual({ count: 4, lastMs: T0 + 2 * MIN });
      expect(await ledger.attemptsSince('orders', T0 + MIN)).toStrictEqual({ count: 3, lastMs: T0 + 2 * MIN });
      expect(await ledger.attemptsSince('orders', T0 + MIN + 1)).toStrictEqual({ count: 1, lastMs: T0 + 2 * MIN });
      expect(await ledger.attemptsSince('orders', T0 + 3 * MIN)).toStrictEqual({ count: 0, lastMs: T0 + 2 * MIN });
      expect(await ledger.attemptsSince('payments', T0)).toStrictEqual({ count: 1, lastMs: T0 + 10 * MIN });
      expect(await ledger.attemptsSince('inventory', T0)).toStrictEqual({ count: 0 });
    });
  });

  it('agrees with MemoryLedger on random sequences of lock and attempt operations', async () => {
    const holders = ['inc-a', 'inc-b', 'inc-c'];
    const apps = ['orders', 'payments'];
    const operation = fc.oneof(
      fc.record({
        op: fc.constant('acquire' as const),
        app: fc.constantFrom(...apps),
        holder: fc.constantFrom(...holders),
        atMs: fc.integer({ min: 0, max: 10 * MIN }),
        ttlMs: fc.integer({ min: 1, max: 3 * MIN }),
      }),
      fc.record({
        op: fc.constant('release' as const),
        app: fc.constantFrom(...apps),
        holder: fc.constantFrom(...holders),
      }),
      fc.record({
        op: fc.constant('holder' as const),
        app: fc.constantFrom(...apps),
        atMs: fc.integer({ min: 0, max: 10 * MIN }),
      }),
      fc.record({
        op: fc.constant('attempts' as const),
        app: fc.constantFrom(...apps),
        atMs: fc.integer({ min: 0, max: 10 * MIN }),
      }),
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 12 }), async (ops) => {
        // Fresh application names per run, so runs sharing this ledger cannot see each other's locks.
        const prefix = `run${run++}-`;
        const model = new MemoryLedger();
        let attemptMs = T0;
        for (const o of ops) {
          const app = prefix + o.app;
          switch (o.op) {
            case 'acquire': {
              const args = [app, o.holder, T0 + o.atMs, o.ttlMs] as const;
              expect(await ledger.acquireLock(...args)).toEqual(await model.acquireLock(...args));
              break;
            }
            case 'release':
              await ledger.releaseLock(app, o.holder);
              await model.releaseLock(app, o.holder);
              break;
            case 'holder':
              expect(await ledger.lockHolder(app, T0 + o.atMs)).toBe(await model.lockHolder(app, T0 + o.atMs));
              break;
            case 'attempts':
              // Attempts recorded in time order, as the watchdog does; query a random window.
              attemptMs += 1 + (o.atMs % 1000);
              await ledger.recordAttempt(app, 'inc-a', attemptMs);
              await model.recordAttempt(app, 'inc-a', attemptMs);
              expect(await ledger.attemptsSince(app, T0 + o.atMs)).toEqual(await model.attemptsSince(app, T0 + o.atMs));
              break;
          }
        }
      }),
      { numRuns: 20 },
    );
  });
});

describe('DynamoDbLedger on dynalite', () => {
  let table: LocalLedgerTable;
  let ledger: DynamoDbLedger;

  beforeAll(async () => {
    table = await startLedgerTable({ tableName: 'ledger-contract' });
    ledger = new DynamoDbLedger({ tableName: table.tableName, client: table.client });
  });
  afterAll(async () => {
    await table?.close();
  });

  it('serves the table on the loopback interface', () => {
    expect(table.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(table.tableName).toBe('ledger-contract');
  });

  it('lets exactly one of 50 concurrent creates of the same incident win', async () => {
    const same = incident('concurrent-create', { applicationName: 'concurrent-create' });
    const results = await Promise.all(Array.from({ length: 50 }, () => ledger.createIncident(structuredClone(same))));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await ledger.getIncident('concurrent-create')).toStrictEqual(same);
    expect(await ledger.listIncidents({ applicationName: 'concurrent-create' })).toHaveLength(1);
  });

  it('gives the lock to exactly one of two incidents racing for it', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.stringMatching(/^[A-Za-z0-9_-]{1,24}$/), { minLength: 2, maxLength: 2 }),
        fc.integer({ min: T0, max: T0 + 30 * 24 * 60 * MIN }),
        fc.integer({ min: 1, max: 60 * MIN }),
        fc.tuple(fc.nat({ max: 4 }), fc.nat({ max: 4 })),
        fc.boolean(),
        async (ids, nowMs, ttlMs, delays, expiredLockFirst) => {
          const [a = '', b = ''] = ids;
          const app = `race-${run++}`;
          // Optionally a third incident's lock that has expired by nowMs, so both racers take the takeover path.
          if (expiredLockFirst) await ledger.acquireLock(app, 'stale-holder', nowMs - ttlMs - 1, ttlMs);
          const race = async (id: string, delayMs: number) => {
            await new Promise((resolve) => setTimeout(resolve, delayMs));
            return { id, result: await ledger.acquireLock(app, id, nowMs, ttlMs) };
          };
          const outcomes = await Promise.all([race(a, delays[0]), race(b, delays[1])]);
          const winners = outcomes.filter((o) => o.result.acquired);
          expect(winners).toHaveLength(1);
          const winner = winners[0]?.id;
          for (const o of outcomes) expect(o.result.holder).toBe(winner);
          expect(await ledger.lockHolder(app, nowMs)).toBe(winner);
        },
      ),
      { numRuns: 20 },
    );
  });

  it('updates an incident item written before revisions existed, then refuses a copy read before that', async () => {
    // As the ledger wrote incident items before revisions: no revision attribute.
    const old = incident('old-item', { applicationName: 'old-item' });
    await table.client.send(
      new PutCommand({
        TableName: table.tableName,
        Item: {
          pk: 'INCIDENT#old-item',
          sk: 'INCIDENT',
          applicationName: 'old-item',
          openedMs: T0,
          status: 'REMEDIATING',
          incident: old,
        },
      }),
    );
    const stale = await ledger.getIncident('old-item');
    expect(stale).toStrictEqual(old);
    const updated = await ledger.updateIncident('old-item', (i) => {
      i.events.push({ atMs: T0, kind: 'ERROR', message: 'RESOLVED notification to slack not delivered' });
      return i;
    });
    expect(updated?.revision).toBe(1);
    const item = (
      await table.client.send(
        new GetCommand({
          TableName: table.tableName,
          Key: { pk: 'INCIDENT#old-item', sk: 'INCIDENT' },
          ConsistentRead: true,
        }),
      )
    ).Item;
    expect(item?.[LEDGER_TABLE.revisionAttribute]).toBe(1);
    expect(item?.incident).not.toHaveProperty('revision');
    if (!stale) throw new Error('incident not found');
    await expect(ledger.saveIncident(stale)).rejects.toBeInstanceOf(IncidentConflictError);
    const cause = await ledger.saveIncident(stale).catch((e: unknown) => (e as Error).cause);
    expect(cause).toBeInstanceOf(ConditionalCheckFailedException);
    expect((await ledger.getIncident('old-item'))?.events).toHaveLength(1);
  });

  it('sets the TTL attribute only on terminal incidents, closedMs plus the retention', async () => {
    const raw = async (pk: string, sk: string) =>
      (await table.client.send(new GetCommand({ TableName: table.tableName, Key: { pk, sk }, ConsistentRead: true })))
        .Item;
    await ledger.createIncident(incident('ttl-open', { applicationName: 'ttl' }));
    expect(await raw('INCIDENT#ttl-open', 'INCIDENT')).not.toHaveProperty(LEDGER_TABLE.ttlAttribute);
    const closedMs = T0 + 10 * MIN;
    await ledger.saveIncident(incident('ttl-open', { applicationName: 'ttl', status: 'RESOLVED', closedMs }));
    const item = await raw('INCIDENT#ttl-open', 'INCIDENT');
    expect(item?.[LEDGER_TABLE.ttlAttribute]).toBe(
      Math.floor((closedMs + DEFAULT_CLOSED_INCIDENT_RETENTION_DAYS * 24 * 60 * MIN) / 1000),
    );
    expect(item).toMatchObject({ applicationName: 'ttl', openedMs: T0, status: 'RESOLVED' });
    await ledger.acquireLock('ttl', 'inc-a', T0, MIN);
    expect(await raw('LOCK#ttl', 'LOCK')).toMatchObject({
      holder: 'inc-a',
      expiresMs: T0 + MIN,
      [LEDGER_TABLE.ttlAttribute]: (T0 + MIN) / 1000,
    });
  });

  it('keeps an automation pause as one AUTOMATION#<app> item without TTL, deleted on resume', async () => {
    const raw = async () =>
      (
        await table.client.send(
          new GetCommand({
            TableName: table.tableName,
            Key: { pk: 'AUTOMATION#paused-app', sk: 'AUTOMATION' },
            ConsistentRead: true,
          }),
        )
      ).Item;
    await ledger.pauseAutomation('paused-app', 'alice@example.com', 'release freeze', T0);
    const item = await raw();
    expect(item).toStrictEqual({
      pk: 'AUTOMATION#paused-app',
      sk: 'AUTOMATION',
      schemaVersion: 1,
      pausedBy: 'alice@example.com',
      reason: 'release freeze',
      atMs: T0,
    });
    expect(item).not.toHaveProperty(LEDGER_TABLE.ttlAttribute);
    await ledger.resumeAutomation('paused-app');
    expect(await raw()).toBeUndefined();
  });

  it('counts a pause item with missing attributes as a pause', async () => {
    await table.client.send(
      new PutCommand({ TableName: table.tableName, Item: { pk: 'AUTOMATION#odd-app', sk: 'AUTOMATION' } }),
    );
    expect(await ledger.automationPause('odd-app')).toStrictEqual({ pausedBy: 'unknown', reason: 'unknown', atMs: 0 });
  });

  it('wraps a plain DynamoDBClient, dropping undefined values on write', async () => {
    const plain = new DynamoDBClient({
      endpoint: table.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    try {
      const viaPlain = new DynamoDbLedger({ tableName: table.tableName, client: plain });
      const sparse = incident('plain-client', { applicationName: 'plain', closedMs: undefined });
      expect(await viaPlain.createIncident(sparse)).toBe(true);
      expect(await ledger.getIncident('plain-client')).toEqual(sparse);
    } finally {
      plain.destroy();
    }
  });

  it('retries a delete refused by a ConditionalCheckFailed while the lock is still its own, and releases it', async () => {
    // Prepare: DynamoDB refuses the first conditional delete (as a fault injector does), though inc-a holds the lock.
    const { client, refused } = refusesFirstDelete(table.endpoint);
    const faulty = new DynamoDbLedger({ tableName: table.tableName, client });
    await faulty.acquireLock('release-ccf', 'inc-a', T0, MIN);
    // Act
    const result = await faulty.releaseLock('release-ccf', 'inc-a');
    // Assess
    expect(refused()).toBe(1);
    expect(result).toBe('RELEASED');
    expect(await ledger.lockHolder('release-ccf', T0)).toBeUndefined();
    client.destroy();
  });

  it('gives an AWS CLI command that releases the lock by hand, and only while the incident holds it', async () => {
    // Prepare: run the command's DeleteItem as the AWS CLI would send it.
    const run = async (command: string) => {
      const m =
        /^aws dynamodb delete-item --table-name (\S+) --key '([^']+)' --condition-expression '([^']+)' --expression-attribute-names '([^']+)' --expression-attribute-values '([^']+)'$/.exec(
          command,
        );
      expect(m, command).not.toBeNull();
      const [, tableName, key, condition, names, values] = m as unknown as string[];
      const raw = new DynamoDBClient(localClientConfig(table.endpoint));
      try {
        await raw.send(
          new DeleteItemCommand({
            TableName: tableName,
            Key: JSON.parse(key as string),
            ConditionExpression: condition,
            ExpressionAttributeNames: JSON.parse(names as string),
            ExpressionAttributeValues: JSON.parse(values as string),
          }),
        );
        return 'deleted';
      } catch (e) {
        return (e as Error).name;
      } finally {
        raw.destroy();
      }
    };
    await ledger.acquireLock('release-by-hand', 'inc-b', T0, MIN);
    // Act
    const other = await run(ledger.manualLockRelease('release-by-hand', 'inc-a'));
    const own = await run(ledger.manualLockRelease('release-by-hand', 'inc-b'));
    // Assess
    expect(other).toBe('ConditionalCheckFailedException');
    expect(own).toBe('deleted');
    expect(await ledger.lockHolder('release-by-hand', T0)).toBeUndefined();
  });

  it('propagates other DynamoDB errors unchanged', async () => {
    const missing = new DynamoDbLedger({ tableName: 'no-such-table', client: table.client });
    await expect(missing.getIncident('x')).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(missing.createIncident(incident('x'))).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(missing.acquireLock('orders', 'inc-a', T0, MIN)).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(missing.releaseLock('orders', 'inc-a')).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('archives nothing when closing a fleet incident loses a race: a member relapsed meanwhile keeps it open', async () => {
    // Prepare: a fleet incident of a (recovered) and b (not yet); a second ledger (another detector) relapses a just
    // before the first one's conditional delete of OPEN reaches the table.
    const own = await startLedgerTable({ tableName: 'fleet-close-race' });
    try {
      const other = new DynamoDbLedger({ tableName: own.tableName, client: own.client });
      const raced = DynamoDBDocumentClient.from(own.client);
      let relapsed = false;
      raced.middlewareStack.add(
        (next, context) => async (args) => {
          if (!relapsed && /Delete/.test(context.commandName ?? '')) {
            relapsed = true;
            await other.updateFleetIncident('fleet-race', (f) => {
              f.members = f.members.map((m) => (m.applicationName === 'a' ? { ...m, recoveredMs: undefined } : m));
              return f;
            });
          }
          return next(args);
        },
        { step: 'initialize', name: 'relapseBeforeDelete' },
      );
      const closing = new DynamoDbLedger({ tableName: own.tableName, client: raced });
      const member = (applicationName: string, recoveredMs?: number) => ({
        applicationName,
        firstFailureMs: T0,
        joinedMs: T0,
        loopSinceMs: T0,
        ...(recoveredMs === undefined ? {} : { recoveredMs }),
        shares: { sources: [], sinks: [], vpcs: [] },
      });
      await other.openFleetIncident({
        schemaVersion: 1,
        id: 'fleet-race',
        status: 'OPEN',
        trigger: { source: 'alarm', detail: 'x', atMs: T0 },
        openedMs: T0,
        firstFailureMs: T0,
        limit: 1,
        watched: 2,
        windowMinutes: 10,
        members: [member('a', T0 + 10 * MIN), member('b')],
        shared: { sources: [], sinks: [], vpcs: [] },
        held: [],
        events: [],
      });
      // Act: b recovers; the mutation closes the fleet incident only while every member is recovered.
      const stored = await closing.updateFleetIncident('fleet-race', (f) => {
        f.members = f.members.map((m) => (m.applicationName === 'b' ? { ...m, recoveredMs: T0 + 20 * MIN } : m));
        if (f.members.every((m) => m.recoveredMs !== undefined)) {
          f.status = 'RESOLVED';
          f.closedMs = T0 + 20 * MIN;
        }
        return f;
      });
      // Assess: the close lost the race and was re-applied on the relapsed copy: still OPEN, and no RESOLVED archive.
      expect(relapsed).toBe(true);
      expect(stored?.status).toBe('OPEN');
      expect((await other.listFleetIncidents()).map((f) => [f.id, f.status])).toEqual([['fleet-race', 'OPEN']]);
    } finally {
      await own.close();
    }
  });

  it('rejects attempt times that do not fit the sort key', async () => {
    await expect(ledger.recordAttempt('orders', 'inc-a', -1)).rejects.toBeInstanceOf(RangeError);
    await expect(ledger.recordAttempt('orders', 'inc-a', 1.5)).rejects.toBeInstanceOf(RangeError);
    await expect(ledger.recordAttempt('orders', 'inc-a', 1e15)).rejects.toBeInstanceOf(RangeError);
  });
});
