import { createHash } from 'node:crypto';
import type { IncidentTrigger } from './incident.ts';
import type { ApplicationState } from './model.ts';

/**
 * Correlated failures: when many applications enter a restart loop at once (a shared Kafka cluster, Kinesis stream or
 * VPC endpoint failed), they are one FLEET INCIDENT, not many. The types and pure rules live here; the detector's
 * steps that record sightings, open, hold and close are in blast-radius.ts. Times are epoch milliseconds.
 */

/**
 * What an application depends on that others may share, from its configuration (DescribeApplication):
 * - `sources` / `sinks`: names from its environment properties (`EnvironmentPropertyDescriptions.PropertyGroupDescriptions`),
 *   by the rule of {@link sharesOf}, each as `<kind> <value>`, e.g. `topic orders`, `bootstrap servers b-1:9092`;
 * - `vpcs`: VPC ids (`VpcConfigurationDescriptions[].VpcId`); empty while the observation does not carry them;
 * - `runtime`: `RuntimeEnvironment`, e.g. FLINK-1_20.
 */
export interface FleetShares {
  sources: string[];
  sinks: string[];
  vpcs: string[];
  runtime?: string;
}

/**
 * One application seen restarting by the detector, kept in the ledger while its restarts last (one item per
 * application, overwritten by each detection, deleted once it is seen without restarts in the window).
 */
export interface FleetSighting {
  schemaVersion: 1;
  /** The application key. */
  applicationName: string;
  /** Start of the first period with a restart in the policy's restart-loop window, ms. */
  restartingSinceMs: number;
  /** When the detector first found a RESTART_LOOP for it (kept while the sighting lives), ms. */
  loopSinceMs?: number;
  /** Start of the loop's first restart period (RestartLoopFinding.onsetMs), ms. */
  loopOnsetMs?: number;
  /** When its loop was held once as a suspected correlated failure (the early signal), ms. */
  suspectedMs?: number;
  /** The latest detection that saw it restarting, ms. */
  lastSeenMs: number;
  shares: FleetShares;
}

/** One application of a fleet incident. */
export interface FleetIncidentMember {
  applicationName: string;
  /** Start of its first restart period, ms. */
  firstFailureMs: number;
  /** When it was added to the fleet incident, ms. */
  joinedMs: number;
  /** When the detector first found its restart loop, ms; absent while it was only seen restarting. */
  loopSinceMs?: number;
  /**
   * When a detection saw it recovered (its restart counter read, no restart in its restart-loop window, and RUNNING or
   * no finding at all), ms; cleared should it loop again.
   */
  recoveredMs?: number;
  shares: FleetShares;
}

/**
 * An application's automatic restart held by the fleet incident: recorded once per application and remediation (the
 * first held decision; later ones of the same kind write nothing, so a burst does not contend for the record), never
 * paged.
 */
export interface HeldRestart {
  applicationName: string;
  /** The held remediation (RemediationAction kind): FORCE_STOP_AND_RESTART or START. */
  remediation: string;
  /** When it was first held, ms. */
  firstMs: number;
}

/** One line of the fleet incident's timeline. */
export interface FleetIncidentEvent {
  atMs: number;
  kind: 'OPENED' | 'JOINED' | 'HELD' | 'RECOVERED' | 'RELAPSED' | 'LEFT' | 'RESOLVED' | 'ESCALATED';
  message: string;
}

/**
 * A correlated failure: more applications entered a restart loop within the window than the limit
 * (`correlatedFailureLimit`). At most one is OPEN at a time (the ledger's conditional write). While it is OPEN the
 * automatic restarts (FORCE_STOP_AND_RESTART, START) of its members are held; a ROLLBACK of a member whose own recent
 * change started its loop is not. RESOLVED once every member was seen healthy again (a member that left the watched
 * set or was deleted is dropped first); ESCALATED when still open after `fleet.correlatedFailure.maxOpenMinutes`:
 * its held applications then go back to normal handling and people are told what is still failing.
 */
export interface FleetIncident {
  schemaVersion: 1;
  /** Optimistic concurrency, as on incidents (see the Ledger port): saves since created; absent = 0. */
  revision?: number;
  /** `fleet-<hash>`, safe as an execution name and in a ledger key. */
  id: string;
  /** OPEN while it holds restarts; closed as RESOLVED (every member healthy) or ESCALATED (open too long). */
  status: 'OPEN' | 'RESOLVED' | 'ESCALATED';
  /** The signal of the detection that opened it (an alarm, the sweep, a watch check). */
  trigger: IncidentTrigger;
  openedMs: number;
  closedMs?: number;
  /** The earliest restart period of any member, ms. */
  firstFailureMs: number;
  /** The limit it exceeded (correlatedFailureLimit), the watched applications it was computed from, the window. */
  limit: number;
  watched: number;
  windowMinutes: number;
  members: FleetIncidentMember[];
  /** What at least two members share (see {@link commonShares}). */
  shared: FleetShares;
  held: HeldRestart[];
  events: FleetIncidentEvent[];
}

/** Keys of environment properties naming something an application reads or writes (case-insensitive). */
const DEPENDENCY_KEY: ReadonlyArray<{ kind: string; pattern: RegExp }> = [
  { kind: 'bootstrap servers', pattern: /bootstrap|brokers?/i },
  { kind: 'topic', pattern: /topic/i },
  { kind: 'stream', pattern: /stream/i },
  { kind: 'bucket', pattern: /bucket/i },
];
/** Keys that may hold secrets: never read, whatever else they match. */
const SECRET_KEY = /pass|secret|token|credential|sasl|jaas|auth|private|key$/i;
/** Group ids or keys saying the property is written to. */
const SINK_WORD = /sink|output|producer|destination|target|write/i;

/**
 * What an application shares with others, from its configuration. The rule for environment properties: a property
 * names a dependency when its key (in any property group) contains `bootstrap` (as in Kafka's `bootstrap.servers`),
 * `broker`, `topic`, `stream` or `bucket` (case-insensitive) and does not look like a secret (`pass`, `secret`, `token`,
 * `credential`, `sasl`, `jaas`, `auth`, `private`, or ending in `key`); it is a sink when its group id or key says so
 * (`sink`, `output`, `producer`, `destination`, `target`, `write`), else a source. Its value is kept as is (trimmed),
 * as `<kind> <value>`; a comma-separated bootstrap server list is sorted, so the same cluster compares equal.
 */
export function sharesOf(application: ApplicationState | undefined): FleetShares {
  const sources = new Set<string>();
  const sinks = new Set<string>();
  for (const [groupId, properties] of Object.entries(application?.environmentProperties ?? {})) {
    for (const [key, raw] of Object.entries(properties)) {
      if (SECRET_KEY.test(key)) continue;
      const kind = DEPENDENCY_KEY.find((k) => k.pattern.test(key))?.kind;
      const value = raw.trim();
      if (kind === undefined || value === '') continue;
      const normalised =
        kind === 'bootstrap servers'
          ? value
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
              .sort()
              .join(',')
          : value;
      (SINK_WORD.test(groupId) || SINK_WORD.test(key) ? sinks : sources).add(`${kind} ${normalised}`);
    }
  }
  return {
    sources: [...sources].sort(),
    sinks: [...sinks].sort(),
    vpcs: [],
    ...(application?.runtimeEnvironment ? { runtime: application.runtimeEnvironment } : {}),
  };
}

/** The values common to at least two of `shares` (each list sorted; `runtime` when two or more have the same one). */
export function commonShares(shares: readonly FleetShares[]): FleetShares {
  const common = (values: Array<readonly string[]>): string[] => {
    const counts = new Map<string, number>();
    for (const list of values) for (const v of new Set(list)) counts.set(v, (counts.get(v) ?? 0) + 1);
    return [...counts]
      .filter(([, n]) => n >= 2)
      .map(([v]) => v)
      .sort();
  };
  const runtimes = common(shares.map((s) => (s.runtime ? [s.runtime] : [])));
  return {
    sources: common(shares.map((s) => s.sources)),
    sinks: common(shares.map((s) => s.sinks)),
    vpcs: common(shares.map((s) => s.vpcs)),
    ...(runtimes.length > 0 ? { runtime: runtimes.join(', ') } : {}),
  };
}

/** "source topic orders; VPC vpc-1; runtime FLINK-1_20", or "nothing in common found" when empty. */
export function describeShares(s: FleetShares): string {
  const parts = [
    ...s.sources.map((v) => `source ${v}`),
    ...s.sinks.map((v) => `sink ${v}`),
    ...s.vpcs.map((v) => `VPC ${v}`),
    ...(s.runtime ? [`runtime ${s.runtime}`] : []),
  ];
  return parts.length > 0 ? parts.join('; ') : 'nothing in common found in their configuration';
}

/** A fleet incident id from its first members and opening time: `fleet-<16 hex>`. */
export function fleetIncidentId(applicationNames: readonly string[], openedMs: number): string {
  const hash = createHash('sha256')
    .update(`${[...applicationNames].sort().join('\n')}\n${openedMs}`)
    .digest('hex')
    .slice(0, 16);
  return `fleet-${hash}`;
}

/** Input of {@link newFleetIncident}. */
export interface NewFleetIncident {
  /**
   * The sightings of every application seen restarting within the window, more than `limit` of them in a restart loop
   * (`loopSinceMs` within the window): all of them are members, so the one notification lists every application
   * failing at once, not only those whose loop was confirmed first.
   */
  sightings: readonly FleetSighting[];
  limit: number;
  watched: number;
  windowMinutes: number;
  /** The signal of the detection that opens it. */
  trigger: IncidentTrigger;
  nowMs: number;
}

/** A fresh OPEN fleet incident of the given looping applications. Pure. */
export function newFleetIncident(input: NewFleetIncident): FleetIncident {
  const members = input.sightings.map((s) => memberOf(s, input.nowMs));
  const names = members.map((m) => m.applicationName);
  const incident: FleetIncident = {
    schemaVersion: 1,
    id: fleetIncidentId(names, input.nowMs),
    status: 'OPEN',
    trigger: input.trigger,
    openedMs: input.nowMs,
    firstFailureMs: Math.min(...members.map((m) => m.firstFailureMs)),
    limit: input.limit,
    watched: input.watched,
    windowMinutes: input.windowMinutes,
    members,
    shared: commonShares(members.map((m) => m.shares)),
    held: [],
    events: [],
  };
  const loops = members.filter((m) => m.loopSinceMs !== undefined).length;
  incident.events.push({
    atMs: input.nowMs,
    kind: 'OPENED',
    message: `${loops} applications entered a restart loop within ${input.windowMinutes} min (more than ${input.limit} of ${input.watched} watched), ${members.length} restarting in all: ${names.join(', ')}. Shared: ${describeShares(incident.shared)}.`,
  });
  return incident;
}

/** A member from a sighting. */
export function memberOf(s: FleetSighting, nowMs: number): FleetIncidentMember {
  return {
    applicationName: s.applicationName,
    firstFailureMs: Math.min(s.restartingSinceMs, s.loopOnsetMs ?? s.restartingSinceMs),
    joinedMs: nowMs,
    ...(s.loopSinceMs !== undefined ? { loopSinceMs: s.loopSinceMs } : {}),
    shares: s.shares,
  };
}

/**
 * Adds a member (or, for one that recovered earlier, re-opens it; for one seen only restarting, records its loop);
 * recomputes what members share. Mutates and returns.
 */
export function joinFleetIncident(incident: FleetIncident, s: FleetSighting, nowMs: number): FleetIncident {
  const existing = incident.members.find((m) => m.applicationName === s.applicationName);
  if (existing) {
    if (existing.recoveredMs !== undefined) {
      delete existing.recoveredMs;
      incident.events.push({
        atMs: nowMs,
        kind: 'RELAPSED',
        message: `${s.applicationName} is in a restart loop again.`,
      });
    }
    if (existing.loopSinceMs === undefined && s.loopSinceMs !== undefined) existing.loopSinceMs = s.loopSinceMs;
    return incident;
  }
  const member = memberOf(s, nowMs);
  incident.members.push(member);
  incident.firstFailureMs = Math.min(incident.firstFailureMs, member.firstFailureMs);
  incident.shared = commonShares(incident.members.map((m) => m.shares));
  incident.events.push({ atMs: nowMs, kind: 'JOINED', message: `${s.applicationName} entered a restart loop too.` });
  return incident;
}

/** Records a held automatic restart of a member, once per application and remediation. Mutates and returns. */
export function recordHeld(
  incident: FleetIncident,
  applicationName: string,
  remediation: string,
  nowMs: number,
): FleetIncident {
  if (incident.held.some((h) => h.applicationName === applicationName && h.remediation === remediation))
    return incident;
  incident.held.push({ applicationName, remediation, firstMs: nowMs });
  incident.events.push({
    atMs: nowMs,
    kind: 'HELD',
    message: `Automatic ${remediation} of ${applicationName} held by the fleet incident.`,
  });
  return incident;
}

/**
 * Marks a member healthy again; when every member is, the incident is RESOLVED (`closedMs` set). Mutates and returns;
 * undefined when nothing changed (not a member, or already recovered).
 */
export function recoverMember(
  incident: FleetIncident,
  applicationName: string,
  nowMs: number,
): FleetIncident | undefined {
  const member = incident.members.find((m) => m.applicationName === applicationName);
  if (!member || member.recoveredMs !== undefined || incident.status !== 'OPEN') return undefined;
  member.recoveredMs = nowMs;
  incident.events.push({ atMs: nowMs, kind: 'RECOVERED', message: `${applicationName} is healthy again.` });
  if (incident.members.every((m) => m.recoveredMs !== undefined)) {
    incident.status = 'RESOLVED';
    incident.closedMs = nowMs;
    incident.events.push({
      atMs: nowMs,
      kind: 'RESOLVED',
      message: `All ${incident.members.length} applications are healthy again.`,
    });
  }
  return incident;
}

/**
 * Drops a member that is no longer the fleet incident's business: it left the watched set (not in the sweep's fleet
 * memory) or was deleted (DescribeApplication: ResourceNotFoundException). Its held restarts go with it. When every
 * member left is healthy again (or none is left), the incident is RESOLVED. Mutates and returns; undefined when it is
 * not a member or the incident is not OPEN.
 * @param why e.g. "left the watched set", "was deleted".
 */
export function dropMember(
  incident: FleetIncident,
  applicationName: string,
  why: string,
  nowMs: number,
): FleetIncident | undefined {
  if (incident.status !== 'OPEN' || !incident.members.some((m) => m.applicationName === applicationName))
    return undefined;
  incident.members = incident.members.filter((m) => m.applicationName !== applicationName);
  incident.held = incident.held.filter((h) => h.applicationName !== applicationName);
  incident.events.push({ atMs: nowMs, kind: 'LEFT', message: `${applicationName} ${why}: no longer a member.` });
  if (incident.members.every((m) => m.recoveredMs !== undefined)) {
    incident.status = 'RESOLVED';
    incident.closedMs = nowMs;
    incident.events.push({
      atMs: nowMs,
      kind: 'RESOLVED',
      message:
        incident.members.length > 0
          ? `All ${incident.members.length} remaining applications are healthy again.`
          : 'No member is left.',
    });
  }
  return incident;
}

/** The members not seen healthy again, in the order they failed. Pure. */
export function stillFailing(incident: FleetIncident): FleetIncidentMember[] {
  return incident.members
    .filter((m) => m.recoveredMs === undefined)
    .sort((a, b) => a.firstFailureMs - b.firstFailureMs);
}

/**
 * Closes an OPEN fleet incident as ESCALATED once it has been open longer than `maxOpenMinutes` (openedMs to
 * `nowMs`): it no longer holds anything, so its applications go back to normal handling (each one's own detection,
 * remediation slots, escalation). Mutates and returns; undefined when it is not due (or not OPEN).
 */
export function expireFleetIncident(
  incident: FleetIncident,
  maxOpenMinutes: number,
  nowMs: number,
): FleetIncident | undefined {
  if (incident.status !== 'OPEN' || nowMs - incident.openedMs <= maxOpenMinutes * 60_000) return undefined;
  const failing = stillFailing(incident).map((m) => m.applicationName);
  incident.status = 'ESCALATED';
  incident.closedMs = nowMs;
  incident.events.push({
    atMs: nowMs,
    kind: 'ESCALATED',
    message: `Open for more than ${maxOpenMinutes} min: closed, automatic restarts no longer held. Still failing: ${failing.length > 0 ? failing.join(', ') : 'none'}.`,
  });
  return incident;
}
