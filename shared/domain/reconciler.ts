import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import type { Clock } from '#shared/clock.ts';
import { listedKey, policyFor, type WatchdogConfig } from '#shared/config/schema.ts';
import { type Ledger, saveOwnedIncident } from '#shared/ports/ledger.ts';
import type { Log } from '#shared/ports/log.ts';
import type { ApplicationSummary, MsfPort } from '#shared/ports/msf.ts';
import type { Notifier } from '#shared/ports/notifier.ts';
import type { RemediationStarter } from '#shared/ports/remediation-starter.ts';
import { parseApplicationKey } from './app-key.ts';
import { type AutomationPause, describePause } from './automation.ts';
import { admitAutomaticRemediation, releaseRemediationSlot } from './blast-radius.ts';
import type { RemediationAction } from './decision.ts';
import type { DesiredApplicationState } from './desired.ts';
import { compareDesired, type DriftReport, type DriftSeverity, driftFingerprint } from './drift.ts';
import type { FleetMemory } from './fleet-memory.ts';
import { addEvent, type Incident, incidentId } from './incident.ts';
import type { ApplicationOperation, ApplicationState } from './model.ts';
import type { ReconcilerAppMemory, ReconcilerMemory } from './reconciler-memory.ts';
import { initialRemediationState, tell } from './remediation.ts';

/** A desired-state source that could not be read (a corrupt Terraform state, a missing S3 object, …). */
export interface DesiredStateProblem {
  /** The file or `s3://` location. */
  location: string;
  /** The resource address or application, when the problem is about one. */
  address?: string;
  message: string;
}

/** The desired states of the watched applications, and what could not be read. */
export interface DesiredStates {
  states: DesiredApplicationState[];
  problems: DesiredStateProblem[];
}

/**
 * One account × Region the reconciler lists on its own, so that a cell that cannot be read (AccessDenied, throttling,
 * a missing member role) does not stop the others from being reconciled.
 */
export interface ReconcilerCell {
  /** 12-digit account id; absent for the home cell (the watchdog's own account and Region). */
  accountId?: string;
  /** AWS Region; absent for the home cell. */
  region?: string;
  /** ListApplications in this cell, every page; each summary's `name` is the application KEY. Throws on API errors. */
  listApplications(): Promise<ApplicationSummary[]>;
}

/** A cell whose ListApplications failed: its applications were not looked at this cycle. */
export interface SkippedCell {
  /** `ACCOUNT.REGION`, or `home`. */
  cell: string;
  /** The error, `Name: message` (e.g. `MsfApiError: ListApplications *@111122223333.eu-west-1: AccessDeniedException: …`). */
  error: string;
}

/** What the reconciler uses. */
export interface ReconcilerDeps {
  msf: MsfPort;
  ledger: Ledger;
  notifier: Notifier;
  starter: RemediationStarter;
  config: WatchdogConfig;
  clock: Clock;
  log: Log;
  /** Reads the desired states (config, Terraform state files). */
  desired: () => Promise<DesiredStates>;
  /**
   * The watched cells, each listed on its own (the home cell and every `fleet.accounts` account × Region).
   * @default one cell listed with `msf.listApplications()`
   */
  cells?: readonly ReconcilerCell[];
}

/** What the reconciler did with one application. */
export type ReconcileVerdict =
  /** ListApplications showed no change since the last cycle: not described. */
  | 'UNCHANGED'
  | 'NO_DRIFT'
  /** Drift seen once; reported only if the next cycle agrees (status drift is not debounced). */
  | 'PENDING'
  | 'REPORTED'
  /** The same drift was reported before. */
  | 'ALREADY_REPORTED'
  /** Status drift reconciled: the remediation workflow starts the application. */
  | 'RECONCILING'
  /**
   * Status drift to reconcile, held back by the fleet's blast radius (every remediation slot in use, or an open fleet
   * incident holding the application's automatic restarts): nothing started, nobody paged; looked at again next cycle.
   */
  | 'DEFERRED'
  /** Drift whose kind the policy ignores. */
  | 'IGNORED'
  /** Declared, but not an application in this account and region. */
  | 'MISSING'
  | 'ERROR';

/** One application's line of a reconcile cycle. */
export interface ReconcileLine {
  applicationName: string;
  verdict: ReconcileVerdict;
  report?: DriftReport;
  incidentId?: string;
  reason?: string;
}

/** The result of one reconcile cycle. */
export interface ReconcileResult {
  lines: ReconcileLine[];
  problems: DesiredStateProblem[];
  /** Cells that could not be listed (their applications have an ERROR line); the other cells were reconciled. */
  skippedCells: SkippedCell[];
  /** MSF API calls the cycle made (ListApplications pages included), count. */
  msfCalls: number;
}

/** Options of one cycle. */
export interface ReconcileOptions {
  /** Describe these applications even if ListApplications shows no change (e.g. after a CloudTrail event). */
  force?: readonly string[];
  /** Only these applications. */
  only?: readonly string[];
}

/**
 * Tag on an MSF application declaring its desired status (`RUNNING` or `READY`): the third desired-state source, for
 * teams that declare intent on the resource. It overrides the config's desired status, never a Terraform state's.
 */
export const DESIRED_STATUS_TAG = 'flink-watchdog:desired-status';

function withDesiredStatusTag(desired: DesiredApplicationState, tags: Record<string, string>): DesiredApplicationState {
  const value = tags[DESIRED_STATUS_TAG];
  if (desired.source.kind !== 'config' || (value !== 'RUNNING' && value !== 'READY')) return desired;
  return { ...desired, status: value, source: { kind: 'tag', location: `${DESIRED_STATUS_TAG}=${value}` } };
}

/**
 * The desired state of the applications opted in by tag that the sweep found (fleet memory, source `tag`) and no
 * other source declares: the config's policy for them (`defaults`: desired status), so that a tagged application is
 * reconciled as a listed one is. The desired-status tag still overrides it.
 */
export function optedInStates(
  config: WatchdogConfig,
  declared: readonly DesiredApplicationState[],
  fleet: FleetMemory | undefined,
): DesiredApplicationState[] {
  const known = new Set(declared.map((d) => d.applicationName));
  const tag = config.optInTag;
  return (fleet?.applications ?? [])
    .filter((m) => m.source === 'tag' && !known.has(m.key))
    .map((m) => ({
      applicationName: m.key,
      source: {
        kind: 'config' as const,
        location: `watchdog config defaults (opted in by tag${tag ? ` ${tag.key}=${tag.value}` : ''})`,
      },
      status: policyFor(config, m.key).desiredStatus,
    }));
}

/** Applications looked at concurrently in one cycle, count. */
export const DESCRIBE_CONCURRENCY = 8;

/** The policy key of each drift severity. */
const POLICY_KEY: Record<DriftSeverity, 'status' | 'version' | 'configuration' | 'informational'> = {
  informational: 'informational',
  configuration: 'configuration',
  'code/version': 'version',
  status: 'status',
};

/** Counts the MSF calls made through it (ListApplications excepted: its pages are counted per cell). */
function countingMsf(msf: MsfPort): { msf: MsfPort; calls: () => number } {
  let calls = 0;
  const proxy = new Proxy(msf, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const out = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (prop !== 'listApplications') calls += 1;
        return out;
      };
    },
  });
  return { msf: proxy, calls: () => calls };
}

/** The name of a cell in logs and results: `ACCOUNT.REGION`, or `home`. */
function cellNameOf(cell: Pick<ReconcilerCell, 'accountId' | 'region'>): string {
  return cell.accountId === undefined ? 'home' : `${cell.accountId}.${cell.region ?? ''}`;
}

/** The name of the cell of an application key (`home` for a bare ApplicationName). */
function cellNameOfKey(key: string): string {
  const ref = parseApplicationKey(key);
  return cellNameOf(ref.accountId === undefined ? {} : { accountId: ref.accountId, region: ref.region ?? '' });
}

/** What listing every cell gave: the summaries by key, the cells skipped, and the ListApplications calls made. */
interface Listing {
  summaries: Map<string, ApplicationSummary>;
  skipped: SkippedCell[];
  /** ListApplications calls (50 summaries per page; a failed cell counts its one failed call), count. */
  pages: number;
}

/**
 * ListApplications in each cell on its own (the cells at once). A cell that fails is skipped and logged as a problem
 * naming the cell and the error; the others are used.
 * @throws the first cell's error when EVERY cell failed: nothing could be reconciled, an infrastructure fault the
 *   function reports as its own failure (and its next scheduled run tries again).
 */
async function listCells(deps: ReconcilerDeps): Promise<Listing> {
  const cells: readonly ReconcilerCell[] = deps.cells ?? [{ listApplications: () => deps.msf.listApplications() }];
  const outcomes = await Promise.allSettled(cells.map((cell) => cell.listApplications()));
  const listing: Listing = { summaries: new Map(), skipped: [], pages: 0 };
  outcomes.forEach((outcome, i) => {
    const cell = cellNameOf(cells[i] as ReconcilerCell);
    if (outcome.status === 'fulfilled') {
      // ListApplications returns at most 50 summaries per call (`Limit`, Kinesis Analytics V2 API model).
      listing.pages += Math.max(1, Math.ceil(outcome.value.length / 50));
      for (const s of outcome.value) listing.summaries.set(s.name, s);
      return;
    }
    const e = outcome.reason;
    const error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    listing.pages += 1;
    listing.skipped.push({ cell, error });
    deps.log.error('cell not listed: its applications are not reconciled this cycle', { cell, error });
  });
  if (listing.skipped.length === cells.length) {
    throw (outcomes[0] as PromiseRejectedResult).reason;
  }
  return listing;
}

/**
 * A stable fingerprint of a desired state (its source location excluded): a new declaration means a new look.
 * Environment property values are left out, keys kept: the fingerprint is stored in the reconciler's memory, and a
 * hash of a low-entropy secret can be confirmed by guessing (shared/domain/drift.ts keeps them out of reports too).
 */
export function desiredFingerprint(d: DesiredApplicationState): string {
  const { source: _source, environmentProperties, ...declared } = d;
  const rest = {
    ...declared,
    ...(environmentProperties === undefined
      ? {}
      : {
          environmentPropertyKeys: Object.fromEntries(
            Object.entries(environmentProperties).map(([group, map]) => [group, Object.keys(map).sort()]),
          ),
        }),
  };
  // Keys sorted at every depth (a replacer array would drop nested keys such as code.fileKey).
  const canonical = (v: unknown): unknown =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
        )
      : v;
  return createHash('sha256')
    .update(JSON.stringify(canonical(rest)))
    .digest('hex')
    .slice(0, 16);
}

function needsDescribe(
  summary: ApplicationSummary,
  memory: ReconcilerAppMemory | undefined,
  desired: string,
  forced: boolean,
): boolean {
  return (
    forced ||
    memory === undefined ||
    memory.status !== summary.status ||
    memory.versionId !== summary.versionId ||
    memory.desiredFingerprint !== desired ||
    memory.pendingFingerprint !== undefined
  );
}

/**
 * One reconcile cycle: desired states → one cheap ListApplications pass (50 applications per call) → describe only
 * the applications whose status or version changed since the last cycle (or whose desired state changed, or whose
 * drift awaits confirmation, or that a CloudTrail event named) → compare field by field → drift is reported once two
 * consecutive observations agree, except status drift, which counts at once → per drift kind, by policy: notify,
 * reconcile (status only: desired RUNNING, found READY with no failed operation → start from the latest snapshot,
 * through the remediation workflow and its guards), or ignore. Version drift is never reconciled: when MSF rolled
 * back (its own system rollback, or a person), redeploying would repeat the failure; it is reported.
 * The watched applications are reconciled, by APPLICATION KEY: those listed in the config (`listedKey`) and those the
 * sweep found by the opt-in tag (the ledger's fleet memory; see {@link optedInStates}).
 * Fleet rules: each cell (`deps.cells`) is listed on its own, and a cell that cannot be listed is skipped (see
 * `skippedCells`); an automatic START takes a remediation slot and is never made while an open fleet incident holds
 * the application (blast-radius.ts `admitAutomaticRemediation`), else it is DEFERRED to a later cycle.
 * @throws the ListApplications error when no cell at all can be listed, and the ledger's errors.
 */
export async function reconcile(deps: ReconcilerDeps, options: ReconcileOptions = {}): Promise<ReconcileResult> {
  const now = deps.clock.now();
  const counting = countingMsf(deps.msf);
  const msf = counting.msf;
  const { states, problems } = await deps.desired();
  const fleet = await deps.ledger.loadFleetMemory();
  // Application keys only: a listed member application is `NAME@ACCOUNT.REGION`, never the home application `NAME`.
  const watched = new Set([
    ...deps.config.applications.map((a) => listedKey(a)),
    ...(fleet?.applications ?? []).map((m) => m.key),
  ]);
  const wanted = [...states, ...optedInStates(deps.config, states, fleet)].filter(
    (d) => watched.has(d.applicationName) && (!options.only || options.only.includes(d.applicationName)),
  );
  const memory: ReconcilerMemory = (await deps.ledger.loadReconcilerMemory()) ?? { schemaVersion: 1, apps: {} };
  const { summaries, skipped, pages } = await listCells(deps);
  const lines: ReconcileLine[] = [];

  const look = async (desired: DesiredApplicationState): Promise<ReconcileLine> => {
    const name = desired.applicationName;
    const summary = summaries.get(name);
    const unlisted = skipped.find((c) => c.cell === cellNameOfKey(name));
    if (!summary && unlisted) {
      // Its cell could not be listed: not looked at, its memory kept for the next cycle.
      return {
        applicationName: name,
        verdict: 'ERROR',
        reason: `not looked at: its account and Region (${unlisted.cell}) could not be listed: ${unlisted.error}`,
      };
    }
    if (!summary) {
      return {
        applicationName: name,
        verdict: 'MISSING',
        reason: `${name} is declared (${desired.source.kind} ${desired.source.location}) but is not an application in this account and region`,
      };
    }
    const fingerprintOfDesired = desiredFingerprint(desired);
    const previous = memory.apps[name];
    const forced = options.force?.includes(name) ?? false;
    if (!needsDescribe(summary, previous, fingerprintOfDesired, forced)) {
      return { applicationName: name, verdict: previous?.reportedFingerprint ? 'ALREADY_REPORTED' : 'UNCHANGED' };
    }
    const entry: ReconcilerAppMemory = {
      status: summary.status,
      versionId: summary.versionId,
      desiredFingerprint: fingerprintOfDesired,
      describedMs: now,
      ...(previous?.reportedFingerprint ? { reportedFingerprint: previous.reportedFingerprint } : {}),
      ...(previous?.driftSinceMs !== undefined ? { driftSinceMs: previous.driftSinceMs } : {}),
    };
    memory.apps[name] = entry;
    // A desired state that could not be read completely is not a basis for comparing, let alone acting.
    const unreadable = problems.find((p) => p.address === undefined || p.address === name);
    if (unreadable) {
      delete memory.apps[name];
      return {
        applicationName: name,
        verdict: 'ERROR',
        reason: `desired state not compared, no action taken: ${unreadable.message}`,
      };
    }
    try {
      const app = await msf.describeApplication(name);
      const operations = await msf.listOperations(name);
      const wanted = withDesiredStatusTag(desired, await msf.listTags(app.arn));
      const report = compareDesired(wanted, app, { operations, nowMs: now });
      return await decideDrift(deps, { desired: wanted, app, operations, report, previous, entry, now });
    } catch (e) {
      // Look again next cycle.
      delete memory.apps[name];
      return { applicationName: name, verdict: 'ERROR', reason: e instanceof Error ? e.message : String(e) };
    }
  };
  // A few applications at a time: a first cycle over many applications fits the function's timeout, and MSF's
  // per-account API rate is not hammered.
  const limit = pLimit(DESCRIBE_CONCURRENCY);
  lines.push(...(await Promise.all(wanted.map((d) => limit(() => look(d))))));

  await deps.ledger.saveReconcilerMemory(memory);
  return { lines, problems, skippedCells: skipped, msfCalls: counting.calls() + pages };
}

interface DriftContext {
  desired: DesiredApplicationState;
  app: ApplicationState;
  /** ListApplicationOperations of this cycle. */
  operations: ApplicationOperation[];
  report: DriftReport;
  previous: ReconcilerAppMemory | undefined;
  entry: ReconcilerAppMemory;
  now: number;
}

async function decideDrift(deps: ReconcilerDeps, c: DriftContext): Promise<ReconcileLine> {
  const name = c.app.name;
  const { report } = c;
  if (report.severity === 'none') {
    if (c.previous?.reportedFingerprint) deps.log.info('drift resolved', { applicationName: name });
    delete c.entry.reportedFingerprint;
    delete c.entry.driftSinceMs;
    return { applicationName: name, verdict: 'NO_DRIFT', report };
  }
  const fp = driftFingerprint(report);
  if (c.previous?.reportedFingerprint === fp) return { applicationName: name, verdict: 'ALREADY_REPORTED', report };
  // The episode starts when this drift was first seen; it names the incident, so a drift that comes back is new.
  c.entry.driftSinceMs = c.previous?.pendingFingerprint === fp ? (c.previous.driftSinceMs ?? c.now) : c.now;
  // Debounce: everything but status drift must be seen twice in a row.
  if (report.severity !== 'status' && c.previous?.pendingFingerprint !== fp) {
    c.entry.pendingFingerprint = fp;
    return { applicationName: name, verdict: 'PENDING', report };
  }
  const latest = [...c.operations].sort((a, b) => (b.startMs ?? 0) - (a.startMs ?? 0))[0];
  if (report.severity === 'status' && c.app.status === 'READY' && latest?.status === 'FAILED') {
    // A failed operation left it READY: the detector reports (or remediates) that failed deploy with its ErrorInfo.
    c.entry.reportedFingerprint = fp;
    return {
      applicationName: name,
      verdict: 'IGNORED',
      report,
      reason: `${latest.operation} failed: the detector handles it`,
    };
  }
  const policy = policyFor(deps.config, name);
  const action = policy.onDrift[POLICY_KEY[report.severity]];
  if (action === 'ignore') {
    c.entry.reportedFingerprint = fp;
    return {
      applicationName: name,
      verdict: 'IGNORED',
      report,
      reason: `onDrift.${POLICY_KEY[report.severity]} is ignore`,
    };
  }
  if (action === 'reconcile') {
    const reconciling = await reconcileStatus(deps, c, fp);
    if (reconciling) return reconciling;
  }
  const id = incidentId(name, `drift:${fp}:${c.entry.driftSinceMs}`);
  const incident = driftIncident(id, c, 'NOTIFIED', { verdict: 'NOTIFY', reason: report.summary });
  c.entry.reportedFingerprint = fp;
  if (!(await deps.ledger.createIncident(incident))) {
    return { applicationName: name, verdict: 'ALREADY_REPORTED', report, incidentId: id };
  }
  await tell(deps, incident, 'NOTIFIED', c.now, `${name}: drift (${report.severity})`, report.summary, [
    `npx flink-watchdog drift --app ${name}`,
  ]);
  return { applicationName: name, verdict: 'REPORTED', report, incidentId: id };
}

/**
 * Status drift with `onDrift.status: reconcile`: desired RUNNING, found READY, and the last operation did not fail (a
 * failed deploy is the detector's business) → start from the latest snapshot through the remediation workflow, in
 * remediate mode, with no other incident open. Returns undefined when it does not apply (then the drift is reported).
 * In approve mode nothing is started and no approval is asked: a NOTIFIED incident says what to start and how.
 *
 * While automation of the application is paused (runbook `pause-automation`), nothing is started: an OBSERVED incident
 * says "automation paused by X: reason — would have started it …" (once per pause and drift episode), and the
 * application is looked at again every cycle, so it is started once automation is resumed.
 */
async function reconcileStatus(deps: ReconcilerDeps, c: DriftContext, fp: string): Promise<ReconcileLine | undefined> {
  const name = c.app.name;
  if (c.report.severity !== 'status' || c.desired.status !== 'RUNNING' || c.app.status !== 'READY') return undefined;
  if (await deps.ledger.openIncident(name)) return undefined;
  const stoppedOnRequest = await runbookStop(deps.ledger, name);
  if (stoppedOnRequest) {
    // A person stopped it through a runbook command: that is intent, not drift to undo. Reported, not restarted.
    c.entry.reportedFingerprint = fp;
    return {
      applicationName: name,
      verdict: 'IGNORED',
      report: c.report,
      reason: `stopped by runbook command (${stoppedOnRequest.trigger.detail}, incident ${stoppedOnRequest.id}): not restarted; send the start command to bring it back`,
    };
  }
  const policy = policyFor(deps.config, name);
  const action: RemediationAction = {
    kind: 'START',
    expectVersionId: c.app.versionId,
    start: { restoreType: 'RESTORE_FROM_LATEST_SNAPSHOT', allowNonRestoredState: false },
  };
  const id = incidentId(name, `drift:${fp}:${c.entry.driftSinceMs}:reconcile`);
  const remediate = policy.mode === 'remediate';
  let admission: Awaited<ReturnType<typeof admitAutomaticRemediation>> | undefined;
  if (remediate) {
    const pause = await deps.ledger.automationPause(name);
    if (pause) return reportPaused(deps, c, fp, action, pause);
    // Blast radius: a remediation slot (and no fleet incident holding it) before the incident is recorded.
    admission = await admitAutomaticRemediation({ incidentId: id, applicationName: name, remediation: action }, deps);
    if (!admission.admitted) return recordDeferred(deps, c, fp, action, admission.reason);
  }
  /** Frees the slot taken above when the workflow is not started, unless it was already this incident's. */
  const release = async () => {
    if (admission?.admitted && !admission.reentered) await releaseRemediationSlot(deps, id);
  };
  // approve mode: the reconciler asks no one (approval requests are the detector's, for restart loops and failed
  // operations); it tells people what it would start and how, and leaves the start to them (NOTIFIED).
  const approve = policy.mode === 'approve';
  const startCommand = `aws kinesisanalyticsv2 start-application --application-name ${name} --run-configuration '{"ApplicationRestoreConfiguration":{"ApplicationRestoreType":"RESTORE_FROM_LATEST_SNAPSHOT"}}'`;
  const reason = remediate
    ? `${c.report.summary} Reconciling by policy (onDrift.status: reconcile): start from the latest snapshot.`
    : approve
      ? `${c.report.summary} Approve mode: the reconciler does not start it by itself; start it from the latest snapshot if it should run (runbook \`start\`, or the AWS CLI).`
      : `${c.report.summary} Would have started it from the latest snapshot (observe mode).`;
  const incident = driftIncident(id, c, remediate ? 'REMEDIATING' : approve ? 'NOTIFIED' : 'OBSERVED', {
    verdict: remediate ? 'REMEDIATE' : approve ? 'NOTIFY' : 'NONE',
    reason,
    ...(remediate ? { remediation: action } : approve ? { wouldHave: action } : {}),
  });
  if (approve) incident.nextSteps = [startCommand];
  if (remediate) incident.remediation = action;
  c.entry.reportedFingerprint = fp;
  if (!(await deps.ledger.createIncident(incident))) {
    await release();
    return { applicationName: name, verdict: 'ALREADY_REPORTED', report: c.report, incidentId: id };
  }
  if (approve) {
    await tell(deps, incident, 'NOTIFIED', c.now, `${name}: stopped out of band (approve mode)`, reason, [
      startCommand,
    ]);
    return { applicationName: name, verdict: 'REPORTED', report: c.report, incidentId: id };
  }
  if (!remediate) {
    await tell(deps, incident, 'OBSERVED', c.now, `${name}: stopped out of band (observe mode)`, reason);
    return { applicationName: name, verdict: 'REPORTED', report: c.report, incidentId: id };
  }
  try {
    await deps.starter.start(initialRemediationState(incident, action));
  } catch (e) {
    // Nothing was done: close the incident (an open one would block the next try) and look again next cycle.
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    incident.status = 'ESCALATED';
    incident.closedMs = c.now;
    incident.outcomeReason = `The remediation workflow could not be started (${message}); no action was taken.`;
    addEvent(incident, c.now, 'ESCALATED', incident.outcomeReason);
    await saveOwnedIncident(deps.ledger, incident);
    await release();
    delete c.entry.reportedFingerprint;
    delete c.entry.driftSinceMs;
    // Described again next cycle, as a new episode.
    c.entry.pendingFingerprint = fp;
    return {
      applicationName: name,
      verdict: 'ERROR',
      report: c.report,
      incidentId: id,
      reason: incident.outcomeReason,
    };
  }
  await tell(deps, incident, 'OPENED', c.now, `${name}: stopped out of band → start from the latest snapshot`, reason);
  return { applicationName: name, verdict: 'RECONCILING', report: c.report, incidentId: id };
}

/**
 * Status drift that would be reconciled, refused by the blast radius (`reason`: the remediation slots in use, or the
 * fleet incident holding it; see admitAutomaticRemediation). As the detector does for a deferred remediation: logged,
 * and recorded once per drift episode as an OBSERVED incident (closed at once, so it blocks nothing) with a DEFERRED
 * event; nobody is paged. The drift is left pending, so the next cycle looks again and starts it once admitted.
 */
async function recordDeferred(
  deps: ReconcilerDeps,
  c: DriftContext,
  fp: string,
  action: RemediationAction,
  reason: string,
): Promise<ReconcileLine> {
  const name = c.app.name;
  const id = incidentId(name, `drift:${fp}:${c.entry.driftSinceMs}:reconcile:deferred`);
  const text = `${c.report.summary} Deferred: ${reason}`;
  deps.log.info('reconcile deferred by the blast radius', { applicationName: name, reason });
  c.entry.pendingFingerprint = fp;
  const incident = driftIncident(id, c, 'OBSERVED', { verdict: 'NONE', reason: text, wouldHave: action });
  addEvent(incident, c.now, 'DEFERRED', text);
  incident.outcomeReason = text;
  await deps.ledger.createIncident(incident);
  return { applicationName: name, verdict: 'DEFERRED', report: c.report, incidentId: id, reason };
}

/**
 * Status drift that would be reconciled, while automation is paused: recorded as OBSERVED with what would have been
 * done, told once. The drift is left pending rather than reported, so the next cycle looks again (and starts the
 * application once automation is resumed).
 */
async function reportPaused(
  deps: ReconcilerDeps,
  c: DriftContext,
  fp: string,
  action: RemediationAction,
  pause: AutomationPause,
): Promise<ReconcileLine> {
  const name = c.app.name;
  const id = incidentId(name, `drift:${fp}:${c.entry.driftSinceMs}:reconcile:paused:${pause.atMs}`);
  const reason = `${describePause(pause)} — would have started it from the latest snapshot. ${c.report.summary}`;
  const incident = driftIncident(id, c, 'OBSERVED', { verdict: 'NONE', reason, wouldHave: action });
  c.entry.pendingFingerprint = fp;
  if (!(await deps.ledger.createIncident(incident))) {
    return { applicationName: name, verdict: 'ALREADY_REPORTED', report: c.report, incidentId: id, reason };
  }
  await tell(deps, incident, 'OBSERVED', c.now, `${name}: stopped out of band (automation paused)`, reason);
  return { applicationName: name, verdict: 'REPORTED', report: c.report, incidentId: id, reason };
}

function driftIncident(
  id: string,
  c: DriftContext,
  status: Incident['status'],
  decision: {
    verdict: Incident['decision']['verdict'];
    reason: string;
    remediation?: RemediationAction;
    wouldHave?: RemediationAction;
  },
): Incident {
  const incident: Incident = {
    schemaVersion: 1,
    id,
    applicationName: c.app.name,
    trigger: {
      source: 'schedule',
      detail: `reconciler (${c.desired.source.kind} ${c.desired.source.location})`,
      atMs: c.now,
    },
    openedMs: c.now,
    status,
    decision: { ...decision, guards: [], nextSteps: [] },
    attempts: 0,
    actions: [],
    events: [],
  };
  if (status !== 'REMEDIATING') incident.closedMs = c.now;
  addEvent(incident, c.now, 'OPENED', c.report.summary);
  return incident;
}

/** The newest incident of the application, when it is a runbook command that stopped it (stop, or force-stop). */
async function runbookStop(ledger: ReconcilerDeps['ledger'], applicationName: string): Promise<Incident | undefined> {
  const [newest] = await ledger.listIncidents({ applicationName });
  const r = newest?.remediation;
  const stops = r?.kind === 'STOP' || (r?.kind === 'FORCE_STOP_AND_RESTART' && r.start === undefined);
  return newest?.trigger.source === 'runbook' && newest.status === 'RESOLVED' && stops ? newest : undefined;
}
