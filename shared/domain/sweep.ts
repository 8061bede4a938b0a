import { PrefetchedMetrics } from '#shared/adapters/prefetched-metrics.ts';
import { fleetSettings, policyFor, runtimeEnvironmentOf, type WatchdogConfig } from '#shared/config/schema.ts';
import type { SeriesRequest } from '#shared/ports/metrics.ts';
import { type AlarmReconciliation, reconcileAlarms } from './alarm-manager.ts';
import { checkpointWindow } from './checkpoints.ts';
import { type DetectionResult, type DetectorDeps, detect } from './detector.ts';
import { cellName, cellOfKey, discoverFleet, type FleetCell, type FleetDiscovery } from './fleet.ts';
import type { FleetIncident } from './fleet-incident.ts';
import type { FleetMember } from './fleet-memory.ts';
import { type ApplicationStatus, isTransient, restartMetricName } from './model.ts';

const MINUTE_MS = 60_000;

/** How the sweep reaches the fleet: the watchdog instance and its cells. */
export interface FleetWiring {
  /** The watchdog instance (env WATCHDOG_INSTANCE): its alarm prefix and tag. */
  instance: string;
  /** The home cell first, then the member cells (`fleet.accounts`). */
  cells: readonly FleetCell[];
}

/** What the sweep uses: the detector's dependencies and the fleet. */
export interface SweepDeps extends DetectorDeps {
  fleet: FleetWiring;
}

/** One batch of the look phase: application keys looked at by one detector invocation. */
export interface SweepBatch {
  applications: string[];
}

/** Figures of one plan, for the log and the state machine's output. */
export interface SweepSummary {
  /** Watched applications (listed ∪ tagged, with those kept while missing), count. */
  watched: number;
  /** Applications carrying the opt-in tag, count. */
  tagged: number;
  /** Watched now, not at the previous sweep, count. */
  added: number;
  /** Watched at the previous sweep, not now, count. */
  removed: number;
  /** Watched but not found by this sweep (kept until a second successful sweep agrees), count. */
  missing: number;
  alarmsCreated: number;
  alarmsDeleted: number;
  /** Applications flagged for a closer look (something off, see {@link flagReasons}), count. */
  flagged: number;
  /**
   * Applications given a close look by rotation though nothing was off (see {@link rotationOf}), count. The look
   * phase's batches hold `flagged + rotated` applications.
   */
  rotated: number;
  /** MSF calls of the plan (ListApplications pages), count. */
  msfCalls: number;
}

/** The plan: what the `Look` Map state fans out over. */
export interface SweepPlan {
  /** The flagged applications first, then the rotation's, `fleet.sweep.batchSize` per batch. */
  batches: SweepBatch[];
  summary: SweepSummary;
  /** Why each flagged application is looked at, by key. */
  reasons: Record<string, string[]>;
  /** Keys given a close look by rotation (not flagged), the longest unlooked first. */
  rotation: string[];
  /** Discovery and alarm problems (logged). */
  problems: string[];
}

/**
 * Why a member needs a closer look, from what the plan read anyway (ListApplications, DescribeAlarms, the open fleet
 * incident): not in MSF, a status other than its desired one or transient, a new application version since the fleet
 * memory, a watchdog alarm not OK or missing (except the downtime alarm of an application stopped on purpose), an
 * alarm with a wanted name that is not this instance's (its state says nothing the watchdog defined), new in the
 * watched set, a member of the open fleet incident that has not recovered (so that each is checked every sweep until
 * it is, and the fleet incident can close). Empty: nothing is off.
 * Without alarm states (`alarms` undefined: no alarm port), every member is looked at.
 *
 * @param fleetIncident the open fleet incident (Ledger.currentFleetIncident), if any.
 */
export function flagReasons(
  member: FleetMember,
  config: WatchdogConfig,
  discovery: Pick<FleetDiscovery, 'summaries' | 'previous'>,
  alarms: Pick<AlarmReconciliation, 'states' | 'wanted' | 'foreign'> | undefined,
  fleetIncident?: Pick<FleetIncident, 'id' | 'members'>,
): string[] {
  const reasons: string[] = [];
  const summary = discovery.summaries.get(member.key);
  const before = discovery.previous?.applications.find((m) => m.key === member.key);
  if (!before) reasons.push('new in the watched set');
  const incidentMember = fleetIncident?.members.find((m) => m.applicationName === member.key);
  if (fleetIncident && incidentMember && incidentMember.recoveredMs === undefined) {
    reasons.push(`member of fleet incident ${fleetIncident.id}, not recovered`);
  }
  if (!summary) {
    reasons.push('not found by ListApplications');
    return reasons;
  }
  const desired = policyFor(config, member.key).desiredStatus;
  if (summary.status !== desired || isTransient(summary.status as ApplicationStatus)) {
    reasons.push(`ApplicationStatus ${summary.status} (desired ${desired})`);
  }
  if (before?.versionId !== undefined && before.versionId !== summary.versionId) {
    reasons.push(`application version ${before.versionId} → ${summary.versionId}`);
  }
  if (!alarms) {
    reasons.push('no alarm states to read');
    return reasons;
  }
  // An application stopped on purpose (READY, desired READY) publishes nothing: its downtime alarm (missing data
  // breaching) stays in ALARM, which says nothing new.
  const stoppedOnPurpose = summary.status === 'READY' && desired === 'READY';
  for (const spec of alarms.wanted.get(member.key) ?? []) {
    const state = alarms.states.get(spec.alarmName);
    if (alarms.foreign.includes(spec.alarmName)) reasons.push(`alarm ${spec.alarmName} not this instance's`);
    else if (state === undefined) reasons.push(`alarm ${spec.alarmName} missing`);
    else if (state !== 'OK' && !(spec.kind === 'downtime' && stoppedOnPurpose)) {
      reasons.push(`alarm ${spec.alarmName} ${state}`);
    }
  }
  return reasons;
}

/**
 * The rotation: which of the members with nothing off get a close look this sweep anyway, so that every watched
 * application gets one (one batched GetMetricData and `detect()`) at least every `closeLookMinutes`, whatever its
 * alarms say (they treat missing data as not breaching, so a job that stops publishing, or a checkpoint stall without a
 * failed checkpoint, leaves them OK). Ordered by their last close look, oldest first (never looked at: first). It takes
 * every member due (not looked at for `closeLookMinutes`), and at least the steady pace, the share of the members that
 * the time since the previous sweep is of `closeLookMinutes` (rounded down), so that the looks spread over the sweeps
 * instead of coming due all at once.
 *
 * @param candidates members not flagged, in cells that could be read.
 * @param nowMs this sweep, epoch ms; `previousSweepMs` the previous one (the fleet memory's `atMs`), if any.
 * @returns keys, oldest look first.
 */
export function rotationOf(
  candidates: readonly FleetMember[],
  nowMs: number,
  closeLookMinutes: number,
  previousSweepMs?: number,
): string[] {
  const periodMs = closeLookMinutes * MINUTE_MS;
  const last = (m: FleetMember) => m.lastCloseLookMs ?? Number.NEGATIVE_INFINITY;
  const ordered = [...candidates].sort((a, b) => (last(a) === last(b) ? 0 : last(a) < last(b) ? -1 : 1));
  const due = ordered.filter((m) => nowMs - last(m) >= periodMs).length;
  const sinceMs = previousSweepMs === undefined ? 0 : Math.min(Math.max(0, nowMs - previousSweepMs), periodMs);
  const pace = Math.floor((candidates.length * sinceMs) / periodMs);
  return ordered.slice(0, Math.max(due, pace)).map((m) => m.key);
}

/** Splits keys into batches of `size` (the last one shorter). */
export function batchesOf(keys: readonly string[], size: number): SweepBatch[] {
  const out: SweepBatch[] = [];
  for (let at = 0; at < keys.length; at += size) out.push({ applications: keys.slice(at, at + size) });
  return out;
}

/**
 * The sweep's Plan step: discovery ({@link discoverFleet}), the alarm manager ({@link reconcileAlarms}) over the cells
 * discovery could read, then the cheap pass ({@link flagReasons}, with the open fleet incident) over their members,
 * the rotation ({@link rotationOf}, `fleet.sweep.closeLookMinutes`) over the others, and the batches of both
 * (`fleet.sweep.batchSize` each, flagged first). Saves the fleet memory once, with `lastCloseLookMs` = now for every
 * application put in a batch. Per cell it calls GetResources, ListApplications and DescribeAlarms, plus the alarm
 * writes; no DescribeApplication and no GetMetricData. Nothing is created, deleted, flagged or rotated in a cell that
 * could not be read (its alarms still wake the detector, and the next sweep tries again).
 */
export async function planSweep(
  deps: Pick<SweepDeps, 'config' | 'ledger' | 'log' | 'clock' | 'fleet'>,
): Promise<SweepPlan> {
  const now = deps.clock.now();
  const settings = fleetSettings(deps.config);
  const { cells, instance } = deps.fleet;
  const discovery = await discoverFleet({ config: deps.config, ledger: deps.ledger, log: deps.log, cells }, now);
  const readable = cells.filter((c) => !discovery.unreadCells.includes(cellName(c)));
  const managed = readable.some((c) => c.alarms);
  const alarms = managed
    ? await reconcileAlarms({ config: deps.config, log: deps.log, cells: readable }, discovery.members, instance)
    : undefined;
  const fleetIncident = await deps.ledger.currentFleetIncident();
  const reasons: Record<string, string[]> = {};
  const quiet: FleetMember[] = [];
  for (const m of discovery.members) {
    const cell = cellOfKey(readable, m.key);
    if (!cell) continue;
    const r = flagReasons(m, deps.config, discovery, cell.alarms ? alarms : undefined, fleetIncident);
    if (r.length > 0) reasons[m.key] = r;
    else quiet.push(m);
  }
  const flagged = Object.keys(reasons);
  const rotation = rotationOf(quiet, now, settings.sweep.closeLookMinutes, discovery.previous?.atMs);
  const looked = new Set([...flagged, ...rotation]);
  await deps.ledger.saveFleetMemory({
    atMs: now,
    applications: discovery.members.map((m) => (looked.has(m.key) ? { ...m, lastCloseLookMs: now } : m)),
  });
  const summary: SweepSummary = {
    watched: discovery.members.length,
    tagged: discovery.tagged,
    added: discovery.added.length,
    removed: discovery.removed.length,
    missing: discovery.missing.length,
    alarmsCreated: alarms?.created.length ?? 0,
    alarmsDeleted: alarms?.deleted.length ?? 0,
    flagged: flagged.length,
    rotated: rotation.length,
    msfCalls: discovery.msfCalls,
  };
  deps.log.info('sweep planned', { ...summary, reasons });
  return {
    batches: batchesOf([...flagged, ...rotation], settings.sweep.batchSize),
    summary,
    reasons,
    rotation,
    problems: [...discovery.problems, ...(alarms?.problems ?? [])],
  };
}

/** Metric names the detector reads for an application of `runtimeEnvironment` (see shared/domain/observe.ts). */
export function sweepMetricNames(runtimeEnvironment: string): string[] {
  return [
    restartMetricName(runtimeEnvironment),
    'downtime',
    'numberOfFailedCheckpoints',
    'lastCheckpointDuration',
    'lastCheckpointSize',
  ];
}

/**
 * What the look phase prefetches for a batch: per application, the metrics `observe` reads, over one range that
 * covers the longest look-back of the batch (restart window, or checkpoint-stall window at MSF's default checkpoint
 * interval, plus one minute for a baseline) and ends now. One range, so one GetMetricData call for up to 100
 * applications (5 metrics each, 500 queries). An application whose custom checkpoint interval needs a longer range
 * gets its own GetMetricData from the detector (the prefetch falls back).
 */
export function lookRequests(
  keys: readonly string[],
  config: WatchdogConfig,
  runtimes: ReadonlyMap<string, string>,
  nowMs: number,
): SeriesRequest[] {
  let minutes = 0;
  for (const key of keys) {
    const policy = policyFor(config, key);
    const checkpoint = checkpointWindow(undefined, policy.checkpointStall).windowMinutes;
    minutes = Math.max(minutes, policy.restartLoop.windowMinutes, checkpoint);
  }
  const startMs = nowMs - (minutes + 1) * MINUTE_MS;
  return keys.map((key) => ({
    applicationName: key,
    metricNames: sweepMetricNames(runtimes.get(key) ?? runtimeEnvironmentOf(config, key)),
    startMs,
    endMs: nowMs,
  }));
}

/**
 * The sweep's LookBatch step: one batched GetMetricData prefetch of the batch's metrics ({@link lookRequests}), then
 * `detect()` per application with a `schedule` signal, in order, reading metrics from the prefetch. A failed prefetch
 * is logged and each application then reads its own metrics. Results as the detector gives them.
 *
 * @param keys application keys (the plan's batch).
 * @param rule what the signal names as its origin (the schedule rule, or `sweep`).
 */
export async function lookBatch(
  keys: readonly string[],
  deps: DetectorDeps,
  rule = 'sweep',
): Promise<DetectionResult[]> {
  const now = deps.clock.now();
  const memory = await deps.ledger.loadFleetMemory();
  const runtimes = new Map<string, string>();
  for (const m of memory?.applications ?? []) if (m.runtimeEnvironment) runtimes.set(m.key, m.runtimeEnvironment);
  const metrics = new PrefetchedMetrics(deps.metrics);
  try {
    await metrics.prefetch(lookRequests(keys, deps.config, runtimes, now));
  } catch (e) {
    deps.log.warn('sweep prefetch failed; each application reads its own metrics', {
      error: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
    });
  }
  const results: DetectionResult[] = [];
  for (const key of keys) {
    const r = await detect({ source: 'schedule', applicationName: key, rule }, { ...deps, metrics });
    if (r.result === 'OUT_OF_SCOPE' && r.reason.startsWith('cannot resolve scope')) deps.log.error(r.reason);
    results.push(r);
  }
  deps.log.info('sweep batch looked at', { applications: keys.length, metrics: metrics.stats });
  return results;
}
