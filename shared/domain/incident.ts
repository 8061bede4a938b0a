import { createHash } from 'node:crypto';
import type { Decision, RemediationAction } from './decision.ts';
import type { Finding } from './findings.ts';

/** Lifecycle of an incident. Terminal: RESOLVED, ESCALATED, NOTIFIED, OBSERVED. */
export type IncidentStatus = 'REMEDIATING' | 'RESOLVED' | 'ESCALATED' | 'NOTIFIED' | 'OBSERVED';

export const TERMINAL_STATUSES: ReadonlySet<IncidentStatus> = new Set([
  'RESOLVED',
  'ESCALATED',
  'NOTIFIED',
  'OBSERVED',
]);

/** What raised the incident. */
export interface IncidentTrigger {
  source: 'alarm' | 'schedule' | 'cloudtrail' | 'runbook';
  /** Alarm name, schedule rule, MSF API call (CloudTrail eventName), or runbook requester. */
  detail: string;
  atMs: number;
}

/** One MSF mutating call, recorded before it is made (`RECORDED`) and completed after. */
export interface ActionRecord {
  seq: number;
  /** MSF operation, e.g. StopApplication. */
  call: string;
  input: Record<string, unknown>;
  recordedMs: number;
  state: 'RECORDED' | 'SUCCEEDED' | 'FAILED';
  completedMs?: number;
  operationId?: string;
  error?: string;
  /**
   * True when the call failed without an answer from MSF (a timeout or network error): MSF may have carried it out.
   * The next step looks for the call's own operation (ListApplicationOperations) before doing anything else.
   */
  outcomeUnknown?: boolean;
}

/** One line of the incident's own timeline. */
export interface IncidentEvent {
  atMs: number;
  kind:
    | 'OPENED'
    | 'DECISION'
    | 'ACTION'
    | 'STATUS'
    | 'VERIFY'
    | 'RESOLVED'
    | 'ESCALATED'
    | 'NOTIFIED'
    | 'OBSERVED'
    | 'DUPLICATE'
    /** A detection held back because another incident holds the application's lock (see {@link LockDeferral}). */
    | 'DEFERRED'
    | 'ERROR';
  message: string;
}

/** An incident as stored in the ledger (schema version 1). */
export interface Incident {
  schemaVersion: 1;
  id: string;
  applicationName: string;
  trigger: IncidentTrigger;
  openedMs: number;
  status: IncidentStatus;
  finding?: Finding;
  decision: Decision;
  /** The remediation in progress or last taken. */
  remediation?: RemediationAction;
  /** Remediation attempts made by this incident, count. */
  attempts: number;
  actions: ActionRecord[];
  events: IncidentEvent[];
  closedMs?: number;
  /** Final explanation, for RESOLVED/ESCALATED. */
  outcomeReason?: string;
  /** Exact commands a human should run next (ESCALATED). */
  nextSteps?: string[];
  /** The Slack message that opened this incident's thread (Web API token mode): later updates reply in it. */
  slackThread?: { channel: string; ts: string };
  /** Set on a deferral record: detections of the application held back behind another incident's lock. */
  deferral?: LockDeferral;
}

/**
 * Detections of an application held back because another incident (`lockHolder`) holds its lock. Kept on one
 * OBSERVED incident per blocking incident (its id is derived from `lockHolder`), so `history` shows it and every
 * later sweep updates the same record instead of adding one.
 */
export interface LockDeferral {
  /** The incident holding the application's lock. */
  lockHolder: string;
  /** The first and the latest deferred detection, epoch ms. */
  firstMs: number;
  lastMs: number;
  /** Deferred detections so far, count. */
  count: number;
  /** When people were told (once the deferral lasted `cooldownMinutes`), epoch ms; absent until then. */
  toldMs?: number;
}

/**
 * A stable incident id from what identifies the situation, so at-least-once delivery of the same event maps to the
 * same incident. Safe as a Step Functions execution name (≤ 80 chars, [A-Za-z0-9-_]).
 */
export function incidentId(applicationName: string, fingerprint: string): string {
  const hash = createHash('sha256').update(`${applicationName}\n${fingerprint}`).digest('hex').slice(0, 16);
  const safe = applicationName.replace(/[^A-Za-z0-9-_]/g, '-').slice(0, 50);
  return `${safe}-${hash}`;
}

/** Appends a timeline event (mutates and returns the incident). */
export function addEvent(incident: Incident, atMs: number, kind: IncidentEvent['kind'], message: string): Incident {
  incident.events.push({ atMs, kind, message });
  return incident;
}
