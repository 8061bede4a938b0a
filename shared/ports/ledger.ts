import type { AutomationPause } from '#shared/domain/automation.ts';
import type { FleetIncident, FleetSighting } from '#shared/domain/fleet-incident.ts';
import type { FleetMemory } from '#shared/domain/fleet-memory.ts';
import { type Incident, mergeIncident } from '#shared/domain/incident.ts';
import type { ReconcilerMemory } from '#shared/domain/reconciler-memory.ts';

/** What {@link Ledger.releaseLock} did: deleted the caller's lock, or found it not (or no longer) held by the caller. */
export type LockRelease = 'RELEASED' | 'NOT_HELD';

/** Releasing a lock failed although the caller still holds it; retrying is safe. */
export class LockReleaseError extends Error {
  override readonly name = 'LockReleaseError';
  constructor(
    readonly applicationName: string,
    readonly incidentId: string,
    options?: { cause?: unknown },
  ) {
    super(`the lock of ${applicationName} is still held by ${incidentId} after trying to release it`, options);
  }
}

/**
 * A save of an incident was refused because the stored incident changed since the copy was read: its `revision` is no
 * longer the one the copy carries (another writer saved in between). Nothing was written. Read the incident again and
 * re-apply the change ({@link Ledger.updateIncident} does that), or merge ({@link saveOwnedIncident}).
 */
export class IncidentConflictError extends Error {
  override readonly name = 'IncidentConflictError';
  constructor(
    readonly incidentId: string,
    /** The application the incident is about. */
    readonly applicationName: string,
    /** The revision the refused copy was read at (0: never saved since it was created, or an older record). */
    readonly expectedRevision: number,
    options?: { cause?: unknown },
  ) {
    super(
      `incident ${incidentId} of ${applicationName} was saved by another writer (or deleted) since it was read at revision ${expectedRevision}; nothing was written: read it again and re-apply the change`,
      options,
    );
  }
}

/** One taken remediation slot: which automatic remediation holds it and until when (epoch ms). */
export interface RemediationSlot {
  incidentId: string;
  applicationName: string;
  /** When the slot frees itself should its release be lost, epoch ms. */
  expiresMs: number;
}

/** What {@link Ledger.acquireRemediationSlot} did. */
export interface SlotAcquisition {
  /** True when `incidentId` holds a slot now (newly, or already: see `reentered`). */
  acquired: boolean;
  /** True when `incidentId` already held a slot (a repeated delivery): then only its expiry was extended. */
  reentered: boolean;
  /** The slots in use after the call (unexpired), oldest first. */
  holders: RemediationSlot[];
}

/** A change to a fleet incident for {@link Ledger.updateFleetIncident}; undefined stores nothing. */
export type FleetIncidentMutation = (current: FleetIncident) => FleetIncident | undefined;

/** A change to an incident for {@link Ledger.updateIncident}: given a fresh copy, the incident to store, or undefined to store nothing. */
export type IncidentMutation = (current: Incident) => Incident | undefined;

/** How many times {@link Ledger.updateIncident} reads and writes before giving up on a contended incident. */
export const UPDATE_INCIDENT_TRIES = 5;

/**
 * The watchdog's memory: incidents with their recorded actions, the per-application lock and attempt counters, and
 * whether automatic remediation of an application is paused.
 * In memory for tests and the drill; DynamoDB in AWS. Conditional writes make duplicates harmless.
 *
 * Concurrent writers of one incident (optimistic concurrency). Several writers change the same incident at once: the
 * remediation workflow's steps, the notifiers recording a failed delivery or a Slack thread, deferral records, the
 * detector, the runbook and the reconciler. So that none erases another's record:
 * - every stored incident carries a `revision` (count of saves; absent, read as 0, on a new incident and on records
 *   written before revisions existed);
 * - {@link Ledger.saveIncident} writes only if the stored revision is still the one the copy was read at, and raises
 *   {@link IncidentConflictError} otherwise (writing nothing);
 * - a writer that only adds or sets something (an event, a delivery failure, a deferral count, a Slack thread) uses
 *   {@link Ledger.updateIncident}: read, apply the mutation, conditional write, and on a conflict read and re-apply;
 * - the remediation workflow (and the writer that just created an incident and closes it) owns the incident's
 *   lifecycle fields while it holds the lock: it saves its copy with {@link saveOwnedIncident}, which on a conflict
 *   merges the stored incident into its copy ({@link mergeIncident}: its fields win, the append-only timeline and
 *   action list are unions), so what others appended is kept.
 */
export interface Ledger {
  /**
   * Stores a new incident at revision 0 (any `revision` the copy carries is ignored); false (and nothing written) when
   * one with this id exists.
   */
  createIncident(incident: Incident): Promise<boolean>;
  /** A fresh copy of the stored incident, with its `revision` (absent when 0); undefined when there is none. */
  getIncident(id: string): Promise<Incident | undefined>;
  /**
   * Overwrites the stored incident if its revision is still `incident.revision` (absent: 0, i.e. never saved since it
   * was created, an older record without a revision, or no incident yet: then it is created). On success the stored
   * revision is one more, and `incident.revision` is set to it, so the caller may save the same copy again.
   * @throws IncidentConflictError when another writer saved the incident since the copy was read (nothing written).
   */
  saveIncident(incident: Incident): Promise<void>;
  /**
   * Changes the stored incident without losing a concurrent change: reads it, applies `mutate` to a fresh copy, saves
   * conditionally on the revision read, and on a conflict reads and applies again, up to {@link UPDATE_INCIDENT_TRIES}
   * times. `mutate` must be pure apart from changing its argument: it may run several times.
   * @returns the incident as stored (with its new revision); the incident read when `mutate` returned undefined;
   *   undefined, with nothing written, when there is no incident with this id.
   * @throws IncidentConflictError when every try met a conflict; the store's error as is.
   */
  updateIncident(id: string, mutate: IncidentMutation): Promise<Incident | undefined>;
  /** Incidents, newest first, optionally of one application. */
  listIncidents(filter?: { applicationName?: string }): Promise<Incident[]>;
  /** The newest non-terminal incident of the application. */
  openIncident(applicationName: string): Promise<Incident | undefined>;
  /** Takes the application's lock for `incidentId` until `nowMs + ttlMs`; re-entrant for the same holder. */
  acquireLock(
    applicationName: string,
    incidentId: string,
    nowMs: number,
    ttlMs: number,
  ): Promise<{ acquired: boolean; holder?: string }>;
  /**
   * Releases the lock if `incidentId` holds it (expired or not); idempotent: a lock held by another incident, or none,
   * is left as it is and reported `NOT_HELD` (a success: the caller no longer holds it).
   * @returns `RELEASED` when this call deleted the lock of `incidentId`, `NOT_HELD` otherwise.
   * @throws the store's error (e.g. DynamoDB throttling) when the lock could not be read or deleted; safe to retry.
   */
  releaseLock(applicationName: string, incidentId: string): Promise<LockRelease>;
  /**
   * A command a person can run to release the lock by hand when releasing failed (e.g. the AWS CLI DeleteItem of the
   * lock item, conditional on the holder). Pure: reads nothing.
   */
  manualLockRelease(applicationName: string, incidentId: string): string;
  /** The incident holding the lock, if it has not expired at `nowMs`. */
  lockHolder(applicationName: string, nowMs: number): Promise<string | undefined>;
  /**
   * Claims the one-time notice named `key` at `atMs` (epoch ms), e.g. telling people that detections are deferred
   * behind a lock: true for the first claim only, so the notice goes out once however many detections race for it.
   */
  claimNotice(key: string, atMs: number): Promise<boolean>;
  /** Counts a remediation attempt on the application. */
  recordAttempt(applicationName: string, incidentId: string, atMs: number): Promise<void>;
  /** Attempts since `sinceMs`, and when the last one (ever) started. */
  attemptsSince(applicationName: string, sinceMs: number): Promise<{ count: number; lastMs?: number }>;
  /** The reconciler's memory from its last cycle; undefined before the first. */
  loadReconcilerMemory(): Promise<ReconcilerMemory | undefined>;
  /** Overwrites the reconciler's memory. */
  saveReconcilerMemory(memory: ReconcilerMemory): Promise<void>;
  /** The sweep's memory of the watched fleet from its last cycle; undefined before the first. */
  loadFleetMemory(): Promise<FleetMemory | undefined>;
  /** Overwrites the sweep's memory of the watched fleet. */
  saveFleetMemory(memory: FleetMemory): Promise<void>;
  /**
   * Takes one of the fleet's `limit` remediation slots for `slot.incidentId` (a semaphore: expired slots are pruned
   * first, so a lost release frees itself at `slot.expiresMs`). Re-entrant: a slot the incident already holds is kept
   * (its expiry extended) and reported `reentered`. Atomic: racing callers never hold more than `limit` slots.
   * @returns `acquired: false` with the holders when `limit` unexpired slots are held by other incidents.
   */
  acquireRemediationSlot(slot: RemediationSlot, limit: number, nowMs: number): Promise<SlotAcquisition>;
  /**
   * Extends the slot `incidentId` holds to `expiresMs` (epoch ms), as a re-entrant {@link Ledger.acquireLock} extends a
   * lock: the remediation workflow calls it whenever it renews its lock. Never takes a slot: an incident that holds none
   * (a runbook command, a slot already released, or one that expired unrenewed and was pruned) is left without.
   * @returns true when the slot was extended, false when `incidentId` holds no unexpired slot at `nowMs`.
   */
  renewRemediationSlot(incidentId: string, expiresMs: number, nowMs: number): Promise<boolean>;
  /** Frees the slot of `incidentId`; idempotent (`NOT_HELD` when it holds none). */
  releaseRemediationSlot(incidentId: string): Promise<LockRelease>;
  /** The unexpired slots at `nowMs`, oldest first. */
  remediationSlots(nowMs: number): Promise<RemediationSlot[]>;
  /** Stores (overwrites) the application's sighting. */
  saveSighting(sighting: FleetSighting): Promise<void>;
  /** Deletes the application's sighting; a no-op when there is none. */
  clearSighting(applicationName: string): Promise<void>;
  /** Every stored sighting (strongly consistent). */
  listSightings(): Promise<FleetSighting[]>;
  /**
   * Opens `incident` as THE open fleet incident unless one is open already (a conditional write: one burst, one fleet
   * incident, however many detectors race).
   * @returns `opened: true` and the incident as stored, or `opened: false` and the one already open.
   */
  openFleetIncident(incident: FleetIncident): Promise<{ opened: boolean; incident: FleetIncident }>;
  /** The open fleet incident, if any. */
  currentFleetIncident(): Promise<FleetIncident | undefined>;
  /**
   * Changes the open fleet incident `id` as {@link Ledger.updateIncident} does (fresh read, conditional write on its
   * revision, again on a conflict). When the stored result is closed (RESOLVED or ESCALATED) it is archived and
   * no longer open; a close that loses a race to another writer archives nothing.
   * @returns the incident as stored; the one read when `mutate` returned undefined; undefined when `id` is not open.
   * @throws IncidentConflictError when every try met a conflict.
   */
  updateFleetIncident(id: string, mutate: FleetIncidentMutation): Promise<FleetIncident | undefined>;
  /** Every fleet incident, open and resolved, newest first. */
  listFleetIncidents(): Promise<FleetIncident[]>;
  /** The pause of automatic remediation of the application (runbook `pause-automation`); undefined when active. */
  automationPause(applicationName: string): Promise<AutomationPause | undefined>;
  /**
   * Pauses automatic remediation of the application, recording who (`by`), why (`reason`) and when (`atMs`, epoch ms).
   * Overwrites an existing pause. Never expires: only {@link Ledger.resumeAutomation} ends it.
   */
  pauseAutomation(applicationName: string, by: string, reason: string, atMs: number): Promise<void>;
  /** Resumes automatic remediation of the application; a no-op when it is not paused. */
  resumeAutomation(applicationName: string): Promise<void>;
}

/**
 * {@link Ledger.updateIncident} in terms of `getIncident` and `saveIncident`, as both ledgers implement it.
 * @throws IncidentConflictError after `tries` conflicts; the store's error as is.
 */
export async function updateIncidentByRetrying(
  ledger: Pick<Ledger, 'getIncident' | 'saveIncident'>,
  id: string,
  mutate: IncidentMutation,
  tries = UPDATE_INCIDENT_TRIES,
): Promise<Incident | undefined> {
  let conflict: IncidentConflictError | undefined;
  for (let attempt = 0; attempt < tries; attempt++) {
    const current = await ledger.getIncident(id);
    if (!current) return undefined;
    const revision = current.revision;
    const next = mutate(structuredClone(current));
    if (!next) return current;
    if (next.id !== id) throw new Error(`updateIncident of ${id}: the mutation returned incident ${next.id} (bug)`);
    // The write is conditional on what was read, whatever the mutation did to the revision.
    if (revision === undefined) delete next.revision;
    else next.revision = revision;
    try {
      await ledger.saveIncident(next);
      return next;
    } catch (error) {
      if (!(error instanceof IncidentConflictError)) throw error;
      conflict = error;
    }
  }
  throw new IncidentConflictError(id, conflict?.applicationName ?? '?', conflict?.expectedRevision ?? 0, {
    cause: conflict,
  });
}

/**
 * Saves the copy of an incident its owner holds (the remediation workflow holding the application's lock, or the
 * writer that created the incident and now closes it) without erasing what others appended since the copy was read:
 * a conditional save; on {@link IncidentConflictError}, the stored incident is merged into the copy
 * ({@link mergeIncident}: the copy's fields win, timeline events and action records are unions) and saved again,
 * conditionally, via {@link Ledger.updateIncident}. The copy is brought up to date (merged timeline, new revision), so
 * the owner can go on changing and saving it.
 * @throws IncidentConflictError when the incident stayed contended for every try; the store's error as is.
 */
export async function saveOwnedIncident(
  ledger: Pick<Ledger, 'saveIncident' | 'updateIncident'>,
  incident: Incident,
): Promise<void> {
  try {
    await ledger.saveIncident(incident);
    return;
  } catch (error) {
    if (!(error instanceof IncidentConflictError)) throw error;
  }
  const mine = structuredClone(incident);
  const stored = await ledger.updateIncident(incident.id, (current) => mergeIncident(current, mine));
  // Gone meanwhile (never in practice: incidents are not deleted but by TTL, long after they closed): store the copy.
  if (!stored) {
    delete incident.revision;
    await ledger.saveIncident(incident);
    return;
  }
  Object.assign(incident, stored);
}

/** Drops expired slots and sorts the rest oldest first (by expiry): the slot rule both ledgers share. Pure. */
export function liveSlots(slots: readonly RemediationSlot[], nowMs: number): RemediationSlot[] {
  return slots.filter((s) => s.expiresMs > nowMs).sort((a, b) => a.expiresMs - b.expiresMs);
}
