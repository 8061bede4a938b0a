import type { AutomationPause } from '#shared/domain/automation.ts';
import type { Incident } from '#shared/domain/incident.ts';
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
 * The watchdog's memory: incidents with their recorded actions, the per-application lock and attempt counters, and
 * whether automatic remediation of an application is paused.
 * In memory for tests and the drill; DynamoDB in AWS. Conditional writes make duplicates harmless.
 */
export interface Ledger {
  /** Stores a new incident; false (and nothing written) when one with this id exists. */
  createIncident(incident: Incident): Promise<boolean>;
  getIncident(id: string): Promise<Incident | undefined>;
  /** Overwrites the stored incident. */
  saveIncident(incident: Incident): Promise<void>;
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
