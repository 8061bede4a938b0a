import type { Ledger } from '#shared/ports/ledger.ts';
import type { Log } from '#shared/ports/log.ts';
import type { Notifier } from '#shared/ports/notifier.ts';
import type { Decision } from './decision.ts';
import type { Finding } from './findings.ts';
import type { Incident, IncidentTrigger } from './incident.ts';
import { addEvent, incidentId, TERMINAL_STATUSES } from './incident.ts';
import { escalateCommands, LOCK_TTL_MS, tell } from './remediation.ts';

const MINUTE_MS = 60_000;

/** The application's latest recorded recovery: its newest RESOLVED incident and when it was closed (epoch ms). */
export interface RecordedRecovery {
  incidentId: string;
  atMs: number;
}

/**
 * The application's latest recorded recovery (newest RESOLVED incident by `closedMs`), from the ledger; undefined
 * when none is stored (TTL deletes closed incidents after the retention).
 * @throws the ledger's error when the incidents cannot be listed.
 */
export async function lastRecovery(ledger: Ledger, applicationName: string): Promise<RecordedRecovery | undefined> {
  let latest: RecordedRecovery | undefined;
  for (const i of await ledger.listIncidents({ applicationName })) {
    if (i.status !== 'RESOLVED') continue;
    const atMs = i.closedMs ?? i.openedMs;
    if (!latest || atMs > latest.atMs) latest = { incidentId: i.id, atMs };
  }
  return latest;
}

/** What {@link recordLockDeferral} uses. */
export interface DeferralDeps {
  ledger: Ledger;
  notifier: Notifier;
  log: Log;
}

/** A detection held back behind another incident's lock: what was found and what blocks it. */
export interface LockDeferralInput {
  applicationName: string;
  /** The incident holding the application's lock (ledger `lockHolder`). */
  lockHolder: string;
  trigger: IncidentTrigger;
  finding: Finding;
  /** The decision the lock held back (verdict NONE, guard `lock-free` failed). */
  decision: Decision;
  /** Policy `cooldownMinutes`: how long a deferral may last before people are told, minutes. */
  cooldownMinutes: number;
  nowMs: number;
}

/** What {@link recordLockDeferral} did: the deferral record's incident id, how often deferred, and whether it told. */
export interface LockDeferralResult {
  incidentId: string;
  count: number;
  told: boolean;
}

/**
 * Records a detection deferred because another incident holds the application's lock, so it is never lost: one
 * OBSERVED incident per blocking incident (id from the application and `lockHolder`), carrying a
 * {@link Incident.deferral} that every later deferral updates (count, latest time) and a DEFERRED timeline event the
 * first time. Once the deferral has lasted `cooldownMinutes`, people are told, once: what was found, which incident
 * holds the lock, whether that incident is already closed (then its lock was left held), and how to release it by hand.
 * The blocking incident itself is never written: its workflow may be writing it.
 * @throws the ledger's error when the record cannot be read or written.
 */
export async function recordLockDeferral(input: LockDeferralInput, deps: DeferralDeps): Promise<LockDeferralResult> {
  const { applicationName: name, lockHolder, nowMs: now, finding } = input;
  const id = incidentId(name, `DEFERRED:${lockHolder}`);
  const blocked = `${finding.summary} Deferred: incident ${lockHolder} holds the lock on ${name}.`;
  const fresh: Incident = {
    schemaVersion: 1,
    id,
    applicationName: name,
    trigger: input.trigger,
    openedMs: now,
    status: 'OBSERVED',
    finding,
    decision: input.decision,
    attempts: 0,
    actions: [],
    events: [{ atMs: now, kind: 'DEFERRED', message: blocked }],
    closedMs: now,
    outcomeReason: blocked,
    deferral: { lockHolder, firstMs: now, lastMs: now, count: 1 },
  };
  let record = fresh;
  if (!(await deps.ledger.createIncident(fresh))) {
    // Counted on a fresh read, written conditionally and counted again on a conflict: racing deferrals all count.
    const count = (stored: Incident): Incident => {
      const before = stored.deferral ?? { lockHolder, firstMs: stored.openedMs, lastMs: stored.openedMs, count: 0 };
      stored.deferral = { ...before, lastMs: now, count: before.count + 1 };
      // The latest finding, so the record says what is deferred now, and how long it has been (`history` prints it).
      stored.finding = finding;
      stored.decision = input.decision;
      stored.outcomeReason = `${blocked} Deferred ${stored.deferral.count} times over ${Math.floor((now - before.firstMs) / MINUTE_MS)} min.`;
      return stored;
    };
    const updated = await deps.ledger.updateIncident(id, count);
    record = updated ?? count(fresh);
    if (!updated) await deps.ledger.saveIncident(record);
  }
  const deferral = record.deferral ?? fresh.deferral;
  if (!deferral) throw new Error('deferral record without deferral (bug)');
  deps.log.info('remediation deferred behind a lock', {
    applicationName: name,
    lockHolder,
    deferralIncidentId: id,
    count: deferral.count,
  });
  const deferredMs = now - deferral.firstMs;
  if (deferral.toldMs !== undefined || deferredMs < input.cooldownMinutes * MINUTE_MS) {
    return { incidentId: id, count: deferral.count, told: false };
  }
  // One notice per deferral record, even when detections race (a sweep, an alarm and a watch check at once).
  if (!(await deps.ledger.claimNotice(`${id}#${deferral.firstMs}`, now))) {
    return { incidentId: id, count: deferral.count, told: false };
  }
  const holder = await deps.ledger.getIncident(lockHolder);
  const closed = holder !== undefined && TERMINAL_STATUSES.has(holder.status);
  const command = deps.ledger.manualLockRelease(name, lockHolder);
  const minutes = Math.floor(deferredMs / MINUTE_MS);
  const why = closed
    ? `Incident ${lockHolder} is ${holder.status} but still holds the lock: releasing it failed. The lock expires on its own at most ${LOCK_TTL_MS / (60 * MINUTE_MS)} h after that incident's last step; to act sooner, release it by hand.`
    : holder
      ? `Incident ${lockHolder} is ${holder.status} and holds the lock; this detection is looked at again when it ends.`
      : `Incident ${lockHolder} holds the lock but is not in the ledger; the lock expires on its own at most ${LOCK_TTL_MS / (60 * MINUTE_MS)} h after it was taken.`;
  const text = `${finding.summary} It has been deferred for ${minutes} min (${deferral.count} detection(s)). ${why}`;
  const nextSteps = closed || !holder ? [command, ...escalateCommands(name)] : escalateCommands(name);
  const told = (r: Incident): Incident => {
    r.deferral = { ...(r.deferral ?? deferral), toldMs: now };
    r.nextSteps = nextSteps;
    addEvent(r, now, 'NOTIFIED', `Told after ${minutes} min of deferral. ${why}`);
    return r;
  };
  // On a fresh read (a deferral counted meanwhile is kept), written conditionally.
  record = (await deps.ledger.updateIncident(id, told)) ?? told(record);
  await tell(
    deps,
    record,
    'NOTIFIED',
    now,
    `${name}: ${finding.kind} deferred for ${minutes} min — incident ${lockHolder} holds the lock`,
    text,
    record.nextSteps,
  );
  return { incidentId: id, count: deferral.count, told: true };
}

/** A detection whose remediation waits for a remediation slot (every slot held by other automatic remediations). */
export interface SlotDeferralInput {
  applicationName: string;
  /** The situation's fingerprint (detector `findingFingerprint`): one record per situation. */
  fingerprint: string;
  trigger: IncidentTrigger;
  finding: Finding;
  /** The REMEDIATE decision that waits. */
  decision: Decision;
  /** The DetectionResult reason: "3 of 3 remediation slots in use: …; waiting for a remediation slot." */
  reason: string;
  nowMs: number;
}

/**
 * Records, once per situation, that its remediation waits for a remediation slot: an OBSERVED incident (closed at
 * once, so it never blocks the application's later incidents), id from the application and `<fingerprint>:slot-wait`,
 * with a DEFERRED event. Later deferrals of the same situation write nothing, and nobody is paged: the watch looks
 * again every minute and the remediation goes ahead, as its own incident, once a slot is free.
 * @returns the record's incident id.
 * @throws the ledger's error when the record cannot be written.
 */
export async function recordSlotDeferral(input: SlotDeferralInput, deps: { ledger: Ledger }): Promise<string> {
  const id = incidentId(input.applicationName, `${input.fingerprint}:slot-wait`);
  const reason = `${input.finding.summary} Deferred: ${input.reason}`;
  await deps.ledger.createIncident({
    schemaVersion: 1,
    id,
    applicationName: input.applicationName,
    trigger: input.trigger,
    openedMs: input.nowMs,
    status: 'OBSERVED',
    finding: input.finding,
    decision: input.decision,
    attempts: 0,
    actions: [],
    events: [{ atMs: input.nowMs, kind: 'DEFERRED', message: reason }],
    closedMs: input.nowMs,
    outcomeReason: reason,
  });
  return id;
}
