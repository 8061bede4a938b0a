import type { AutomationPause } from '#shared/domain/automation.ts';
import type { Incident } from '#shared/domain/incident.ts';
import type { ReconcilerMemory } from '#shared/domain/reconciler-memory.ts';

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
  /** Releases the lock if `incidentId` holds it. */
  releaseLock(applicationName: string, incidentId: string): Promise<void>;
  /** The incident holding the lock, if it has not expired at `nowMs`. */
  lockHolder(applicationName: string, nowMs: number): Promise<string | undefined>;
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
