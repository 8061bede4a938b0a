import type { AutomationPause } from '#shared/domain/automation.ts';
import type { FleetIncident, FleetSighting } from '#shared/domain/fleet-incident.ts';
import type { FleetMemory } from '#shared/domain/fleet-memory.ts';
import { type Incident, TERMINAL_STATUSES } from '#shared/domain/incident.ts';
import type { ReconcilerMemory } from '#shared/domain/reconciler-memory.ts';
import {
  type FleetIncidentMutation,
  IncidentConflictError,
  type IncidentMutation,
  type Ledger,
  type LockRelease,
  liveSlots,
  type RemediationSlot,
  type SlotAcquisition,
  updateIncidentByRetrying,
} from '#shared/ports/ledger.ts';

/**
 * In-memory Ledger with the same conditional semantics as the DynamoDB one: creating an existing incident is refused,
 * the lock is held by one incident at a time until released or expired, a save of an incident is refused
 * (IncidentConflictError) when its stored revision is not the copy's. Stored values are deep copies, so callers cannot
 * change the ledger behind its back.
 */
export class MemoryLedger implements Ledger {
  readonly #incidents = new Map<string, Incident>();
  readonly #locks = new Map<string, { holder: string; expiresMs: number }>();
  readonly #attempts = new Map<string, Array<{ incidentId: string; atMs: number }>>();
  readonly #pauses = new Map<string, AutomationPause>();
  readonly #notices = new Set<string>();
  #reconciler: ReconcilerMemory | undefined;
  #fleet: FleetMemory | undefined;
  #slots: RemediationSlot[] = [];
  readonly #sightings = new Map<string, FleetSighting>();
  #openFleet: FleetIncident | undefined;
  readonly #closedFleet: FleetIncident[] = [];

  async createIncident(incident: Incident): Promise<boolean> {
    if (this.#incidents.has(incident.id)) return false;
    const stored = structuredClone(incident);
    delete stored.revision;
    this.#incidents.set(incident.id, stored);
    return true;
  }

  async getIncident(id: string): Promise<Incident | undefined> {
    const i = this.#incidents.get(id);
    return i ? structuredClone(i) : undefined;
  }

  /** @throws IncidentConflictError when the stored revision is not `incident.revision` (absent: 0). */
  async saveIncident(incident: Incident): Promise<void> {
    const expected = incident.revision ?? 0;
    const stored = this.#incidents.get(incident.id);
    if ((stored?.revision ?? 0) !== expected)
      throw new IncidentConflictError(incident.id, incident.applicationName, expected);
    const revision = expected + 1;
    this.#incidents.set(incident.id, { ...structuredClone(incident), revision });
    incident.revision = revision;
  }

  async updateIncident(id: string, mutate: IncidentMutation): Promise<Incident | undefined> {
    return updateIncidentByRetrying(this, id, mutate);
  }

  async listIncidents(filter: { applicationName?: string } = {}): Promise<Incident[]> {
    return [...this.#incidents.values()]
      .filter((i) => filter.applicationName === undefined || i.applicationName === filter.applicationName)
      .sort((a, b) => b.openedMs - a.openedMs)
      .map((i) => structuredClone(i));
  }

  async openIncident(applicationName: string): Promise<Incident | undefined> {
    return (await this.listIncidents({ applicationName })).find((i) => !TERMINAL_STATUSES.has(i.status));
  }

  async acquireLock(
    applicationName: string,
    incidentId: string,
    nowMs: number,
    ttlMs: number,
  ): Promise<{ acquired: boolean; holder?: string }> {
    const lock = this.#locks.get(applicationName);
    if (lock && lock.holder !== incidentId && lock.expiresMs > nowMs) return { acquired: false, holder: lock.holder };
    this.#locks.set(applicationName, { holder: incidentId, expiresMs: nowMs + ttlMs });
    return { acquired: true, holder: incidentId };
  }

  async releaseLock(applicationName: string, incidentId: string): Promise<LockRelease> {
    if (this.#locks.get(applicationName)?.holder !== incidentId) return 'NOT_HELD';
    this.#locks.delete(applicationName);
    return 'RELEASED';
  }

  /** Nothing outlives the process: the lock goes away with it (or once it expires). */
  manualLockRelease(applicationName: string, incidentId: string): string {
    return `in-memory ledger: the lock of ${applicationName} held by ${incidentId} ends with the process or when it expires`;
  }

  async lockHolder(applicationName: string, nowMs: number): Promise<string | undefined> {
    const lock = this.#locks.get(applicationName);
    return lock && lock.expiresMs > nowMs ? lock.holder : undefined;
  }

  async claimNotice(key: string, _atMs: number): Promise<boolean> {
    if (this.#notices.has(key)) return false;
    this.#notices.add(key);
    return true;
  }

  async recordAttempt(applicationName: string, incidentId: string, atMs: number): Promise<void> {
    const list = this.#attempts.get(applicationName) ?? [];
    list.push({ incidentId, atMs });
    this.#attempts.set(applicationName, list);
  }

  async attemptsSince(applicationName: string, sinceMs: number): Promise<{ count: number; lastMs?: number }> {
    const list = this.#attempts.get(applicationName) ?? [];
    const last = list.at(-1)?.atMs;
    return { count: list.filter((a) => a.atMs >= sinceMs).length, ...(last === undefined ? {} : { lastMs: last }) };
  }

  async loadReconcilerMemory(): Promise<ReconcilerMemory | undefined> {
    return this.#reconciler ? structuredClone(this.#reconciler) : undefined;
  }

  async saveReconcilerMemory(memory: ReconcilerMemory): Promise<void> {
    this.#reconciler = structuredClone(memory);
  }

  async loadFleetMemory(): Promise<FleetMemory | undefined> {
    return this.#fleet ? structuredClone(this.#fleet) : undefined;
  }

  async saveFleetMemory(memory: FleetMemory): Promise<void> {
    this.#fleet = structuredClone(memory);
  }

  async automationPause(applicationName: string): Promise<AutomationPause | undefined> {
    const pause = this.#pauses.get(applicationName);
    return pause ? { ...pause } : undefined;
  }

  async pauseAutomation(applicationName: string, by: string, reason: string, atMs: number): Promise<void> {
    this.#pauses.set(applicationName, { pausedBy: by, reason, atMs });
  }

  async resumeAutomation(applicationName: string): Promise<void> {
    this.#pauses.delete(applicationName);
  }

  /** Atomic: no await between reading and writing the slots. */
  async acquireRemediationSlot(slot: RemediationSlot, limit: number, nowMs: number): Promise<SlotAcquisition> {
    const live = liveSlots(this.#slots, nowMs);
    const mine = live.find((s) => s.incidentId === slot.incidentId);
    if (!mine && live.length >= limit) {
      this.#slots = live;
      return { acquired: false, reentered: false, holders: structuredClone(live) };
    }
    this.#slots = liveSlots([...live.filter((s) => s.incidentId !== slot.incidentId), { ...slot }], nowMs);
    return { acquired: true, reentered: mine !== undefined, holders: structuredClone(this.#slots) };
  }

  async renewRemediationSlot(incidentId: string, expiresMs: number, nowMs: number): Promise<boolean> {
    const live = liveSlots(this.#slots, nowMs);
    const mine = live.find((s) => s.incidentId === incidentId);
    if (!mine) return false;
    this.#slots = liveSlots([...live.filter((s) => s !== mine), { ...mine, expiresMs }], nowMs);
    return true;
  }

  async releaseRemediationSlot(incidentId: string): Promise<LockRelease> {
    const before = this.#slots.length;
    this.#slots = this.#slots.filter((s) => s.incidentId !== incidentId);
    return this.#slots.length < before ? 'RELEASED' : 'NOT_HELD';
  }

  async remediationSlots(nowMs: number): Promise<RemediationSlot[]> {
    return structuredClone(liveSlots(this.#slots, nowMs));
  }

  async saveSighting(sighting: FleetSighting): Promise<void> {
    this.#sightings.set(sighting.applicationName, structuredClone(sighting));
  }

  async clearSighting(applicationName: string): Promise<void> {
    this.#sightings.delete(applicationName);
  }

  async listSightings(): Promise<FleetSighting[]> {
    return [...this.#sightings.values()].map((s) => structuredClone(s));
  }

  async openFleetIncident(incident: FleetIncident): Promise<{ opened: boolean; incident: FleetIncident }> {
    if (this.#openFleet) return { opened: false, incident: structuredClone(this.#openFleet) };
    const stored = structuredClone(incident);
    delete stored.revision;
    this.#openFleet = stored;
    return { opened: true, incident: structuredClone(stored) };
  }

  async currentFleetIncident(): Promise<FleetIncident | undefined> {
    return this.#openFleet ? structuredClone(this.#openFleet) : undefined;
  }

  /** Atomic here (no await between read and write), so it never meets a conflict. */
  async updateFleetIncident(id: string, mutate: FleetIncidentMutation): Promise<FleetIncident | undefined> {
    const current = this.#openFleet;
    if (!current || current.id !== id) return undefined;
    const next = mutate(structuredClone(current));
    if (!next) return structuredClone(current);
    const stored = { ...structuredClone(next), revision: (current.revision ?? 0) + 1 };
    if (stored.status === 'OPEN') this.#openFleet = stored;
    else {
      this.#openFleet = undefined;
      this.#closedFleet.push(stored);
    }
    return structuredClone(stored);
  }

  async listFleetIncidents(): Promise<FleetIncident[]> {
    return [...(this.#openFleet ? [this.#openFleet] : []), ...this.#closedFleet]
      .sort((a, b) => b.openedMs - a.openedMs)
      .map((f) => structuredClone(f));
  }
}
