/**
 * Drift: what someone declared an MSF application should be (DesiredApplicationState, from the watchdog config, a
 * Terraform state file or tags) compared field by field with what MSF runs (ApplicationState, from
 * DescribeApplication), explained in the declarer's terms. Pure: no I/O, no AWS SDK, the clock is passed in.
 *
 * Decisions:
 * - Only fields declared in the desired state are compared.
 * - A transient ApplicationStatus (STARTING, UPDATING, AUTOSCALING, ROLLING_BACK, ...) is not drift: it is listed in
 *   `ignoredDifferences` and leaves the fingerprint unchanged, so debounce waits for it to settle. ROLLED_BACK against a
 *   declared RUNNING/READY is informational (the version drift says what the rollback changed).
 * - Declared `Parallelism` is compared, never `CurrentParallelism` (autoscaling moves it): that goes to
 *   `ignoredDifferences`.
 * - Environment property values are never written anywhere in a report, not even as a hash (an unkeyed hash of a
 *   low-entropy secret can be confirmed by guessing): each side shows `***`, and `changedKeys` names the keys. The
 *   fingerprint still changes when a value does: it takes a digest of the values that is kept out of the report (held
 *   in a module-private WeakMap, so it is never serialised).
 */
import { createHash } from 'node:crypto';
import type { DesiredApplicationState, DesiredStateSource } from './desired.ts';
import {
  type ApplicationOperation,
  type ApplicationState,
  type CodeLocation,
  isTransient,
  type OperationStatus,
} from './model.ts';

/** The fields drift is reported on, in report order within a severity. */
export const DRIFT_FIELDS = [
  'status',
  'applicationVersion',
  'code',
  'runtimeEnvironment',
  'parallelism',
  'parallelismPerKPU',
  'autoScaling',
  'snapshotsEnabled',
  'systemRollbackEnabled',
  'environmentProperties',
  'logLevel',
  'metricsLevel',
] as const;
/** A compared field: ApplicationStatus, ApplicationVersionId, S3 code location, RuntimeEnvironment, ... */
export type DriftField = (typeof DRIFT_FIELDS)[number];

/** Drift severities, weakest first (like the Flink Kubernetes operator's ordered DiffType). */
export const DRIFT_SEVERITIES = ['informational', 'configuration', 'code/version', 'status'] as const;
/**
 * How much a drift matters: `informational` (log and metrics level), `configuration` (parallelism, autoscaling,
 * snapshots, system rollback, environment properties), `code/version` (application version, code location, runtime
 * environment), `status` (declared RUNNING, found READY, or the reverse).
 */
export type DriftSeverity = (typeof DRIFT_SEVERITIES)[number];
/** A report's severity: the strongest of its fields, or `none` when nothing drifts. */
export type DriftReportSeverity = DriftSeverity | 'none';

/** The severity of each field's drift (ROLLED_BACK status is the one exception: informational). */
const FIELD_SEVERITY: Record<DriftField, DriftSeverity> = {
  status: 'status',
  applicationVersion: 'code/version',
  code: 'code/version',
  runtimeEnvironment: 'code/version',
  parallelism: 'configuration',
  parallelismPerKPU: 'configuration',
  autoScaling: 'configuration',
  snapshotsEnabled: 'configuration',
  systemRollbackEnabled: 'configuration',
  environmentProperties: 'configuration',
  logLevel: 'informational',
  metricsLevel: 'informational',
};

function rank(s: DriftReportSeverity): number {
  return s === 'none' ? -1 : DRIFT_SEVERITIES.indexOf(s);
}

/**
 * Orders severities, `none` < informational < configuration < code/version < status.
 * @returns negative when `a` is weaker than `b`, 0 when equal, positive when stronger (a sort comparator, ascending).
 */
export function compareSeverity(a: DriftReportSeverity, b: DriftReportSeverity): number {
  return rank(a) - rank(b);
}

/** Folds many drifts to the strongest severity; `none` for an empty list. */
export function foldSeverity(fields: readonly Pick<FieldDrift, 'severity'>[]): DriftReportSeverity {
  let strongest: DriftReportSeverity = 'none';
  for (const f of fields) if (compareSeverity(f.severity, strongest) > 0) strongest = f.severity;
  return strongest;
}

/** One drifted field. Display strings never contain an environment property value. */
export interface FieldDrift {
  field: DriftField;
  severity: DriftSeverity;
  /** The declared value, for display (e.g. `4`, `RUNNING`, `arn:aws:s3:::bucket/key (ObjectVersion 3)`). */
  desired: string;
  /** What MSF runs, for display; `(not set)` when DescribeApplication has no value. */
  actual: string;
  /** One sentence in the declarer's terms, e.g. "Terraform declares parallelism 4; MSF runs with Parallelism 8." */
  explanation: string;
  /**
   * `environmentProperties`: the keys that differ as `GroupId.key` (declared but missing in MSF, only in MSF, or
   * changed), sorted. `code`: the S3 location parts that differ: `BucketARN`, `FileKey`, `ObjectVersion`.
   */
  changedKeys?: string[];
}

/** The rollback that produced the version MSF runs now. */
export interface RollbackInfo {
  /**
   * `system`: MSF reverted a FAILED update by itself (the failed operation's `OperationFailureDetails.RollbackOperationId`
   * names the rollback); `manual`: a RollbackApplication call (by a person, a pipeline or the watchdog).
   */
  kind: 'system' | 'manual';
  /** `ApplicationVersionRolledBackFrom`: the version that was rolled back. */
  fromVersionId: number;
  /** `ApplicationVersionRolledBackTo`: the version whose configuration MSF runs again. */
  toVersionId: number;
  /** When the rollback finished (operation end, else start, else `ApplicationVersionCreateTimestamp`), ms. */
  atMs?: number;
  /** `OperationId` of the rollback operation, when the history lists it. */
  operationId?: string;
  /**
   * `OperationStatus` of the rollback operation, when the history lists it: IN_PROGRESS while MSF is ROLLING_BACK;
   * FAILED when the rollback itself failed (MSF then leaves the application READY).
   */
  status?: OperationStatus;
  /** The operation whose failure triggered a system rollback, e.g. UpdateApplication. */
  failedOperation?: string;
  /** The failed operation's `ErrorInfo.ErrorString`. */
  errorString?: string;
}

/** The result of comparing a desired state with what MSF runs. */
export interface DriftReport {
  /** MSF `ApplicationName`. */
  applicationName: string;
  /** Where the desired state came from. */
  source: DesiredStateSource;
  /** The strongest field severity, or `none`. */
  severity: DriftReportSeverity;
  /** Drifted fields, strongest first, then in DRIFT_FIELDS order; empty when nothing drifts. */
  fields: FieldDrift[];
  /** Set when something drifts and the running version was produced by a rollback. */
  rollback?: RollbackInfo;
  /** The user-facing explanation: what happened, what is declared, what the next apply would do. */
  summary: string;
  /** Differences seen and deliberately not reported, e.g. "CurrentParallelism 8 ≠ declared 4: autoscaling, not drift". */
  ignoredDifferences: string[];
}

/** What compareDesired needs besides the two states. */
export interface DriftContext {
  /** The application's operation history (ListApplicationOperations), any order. */
  operations: readonly ApplicationOperation[];
  /** Now, ms: times on a day other than today are shown with their date. */
  nowMs: number;
  /** IANA time zone for times in explanations. @default 'UTC' */
  timeZone?: string;
}

/** How a field is called by the declarer (Terraform attribute, or config wording) and by MSF (API field). */
interface FieldTerms {
  terraform: string;
  other: string;
  msf: string;
}

const TERMS: Record<Exclude<DriftField, 'code' | 'environmentProperties'>, FieldTerms> = {
  status: { terraform: 'start_application', other: 'desired status', msf: 'ApplicationStatus' },
  applicationVersion: { terraform: 'version_id', other: 'application version', msf: 'ApplicationVersionId' },
  runtimeEnvironment: { terraform: 'runtime_environment', other: 'runtime environment', msf: 'RuntimeEnvironment' },
  parallelism: { terraform: 'parallelism', other: 'parallelism', msf: 'Parallelism' },
  parallelismPerKPU: { terraform: 'parallelism_per_kpu', other: 'parallelism per KPU', msf: 'ParallelismPerKPU' },
  autoScaling: { terraform: 'auto_scaling_enabled', other: 'autoscaling enabled', msf: 'AutoScalingEnabled' },
  snapshotsEnabled: { terraform: 'snapshots_enabled', other: 'snapshots enabled', msf: 'SnapshotsEnabled' },
  systemRollbackEnabled: {
    terraform: 'system rollback (rollback_enabled)',
    other: 'system rollback enabled',
    msf: 'ApplicationSystemRollbackConfiguration.RollbackEnabled',
  },
  logLevel: { terraform: 'log_level', other: 'log level', msf: 'LogLevel' },
  metricsLevel: { terraform: 'metrics_level', other: 'metrics level', msf: 'MetricsLevel' },
};

const CODE_TERMS: Record<'BucketARN' | 'FileKey' | 'ObjectVersion', { terraform: string; other: string }> = {
  BucketARN: { terraform: 'code bucket_arn', other: 'code bucket' },
  FileKey: { terraform: 'code file_key', other: 'code key' },
  ObjectVersion: { terraform: 'code object_version', other: 'code object version' },
};

const NOT_SET = '(not set)';
const ROLLBACK_OPERATION = /rollback/i;

/** Who declared the state, as a sentence subject. */
function declarer(source: DesiredStateSource): string {
  if (source.kind === 'terraform') return 'Terraform';
  if (source.kind === 'tag') return `The tag ${source.location}`;
  return 'The watchdog config';
}

function term(source: DesiredStateSource, t: { terraform: string; other: string }): string {
  return source.kind === 'terraform' ? t.terraform : t.other;
}

function show(v: string | number | boolean | undefined): string {
  return v === undefined ? NOT_SET : String(v);
}

function newestFirst(ops: readonly ApplicationOperation[]): ApplicationOperation[] {
  return [...ops].sort((a, b) => (b.startMs ?? 0) - (a.startMs ?? 0));
}

/**
 * The rollback that produced the version MSF runs now, if any, from DescribeApplication
 * (`ApplicationVersionRolledBackFrom/To`) and the operation history (a SUCCESSFUL RollbackApplication whose
 * `ApplicationVersionChangeDetails.ApplicationVersionUpdatedTo` is the current version, or the newest version change).
 *
 * It is a system rollback when a FAILED operation names the rollback in `OperationFailureDetails.RollbackOperationId`,
 * or, when the history does not list the rollback itself, when a FAILED operation to the rolled-back-from version has a
 * RollbackOperationId or ran with system rollback enabled. Otherwise it is manual.
 *
 * @returns undefined when the current version was not produced by a rollback, or its from-version is unknown.
 */
export function currentRollback(
  actual: ApplicationState,
  operations: readonly ApplicationOperation[],
): RollbackInfo | undefined {
  const ops = newestFirst(operations);
  const isRollback = (o: ApplicationOperation) => ROLLBACK_OPERATION.test(o.operation);
  const hasFields = actual.versionRolledBackFrom !== undefined || actual.versionRolledBackTo !== undefined;
  const producer = ops.find((o) => o.status === 'SUCCESSFUL' && o.versionTo === actual.versionId);
  let rollbackOp: ApplicationOperation | undefined;
  if (producer) {
    if (!isRollback(producer)) return undefined;
    rollbackOp = producer;
  } else if (hasFields) {
    // DescribeApplication says the current version is a rollback's (it may still be running, or have failed).
    rollbackOp = ops.find((o) => isRollback(o) && o.status !== 'CANCELLED');
  } else {
    // No version numbers on the operations: the newest successful version change decides.
    const lastChange = ops.find(
      (o) => o.status === 'SUCCESSFUL' && (isRollback(o) || o.operation === 'UpdateApplication'),
    );
    if (!lastChange || !isRollback(lastChange)) return undefined;
    rollbackOp = lastChange;
  }
  const rollbackId = rollbackOp?.operationId;
  let failed = rollbackId === undefined ? undefined : ops.find((o) => o.rollbackOperationId === rollbackId);
  if (!failed && !rollbackOp && actual.versionRolledBackFrom !== undefined) {
    failed = ops.find(
      (o) =>
        o.status === 'FAILED' &&
        o.versionTo === actual.versionRolledBackFrom &&
        (o.rollbackOperationId !== undefined || actual.systemRollbackEnabled),
    );
    const named = failed?.rollbackOperationId;
    if (named !== undefined) rollbackOp = ops.find((o) => o.operationId === named);
  }
  const fromVersionId =
    actual.versionRolledBackFrom ?? failed?.versionTo ?? rollbackOp?.versionFrom ?? actual.versionUpdatedFrom;
  if (fromVersionId === undefined) return undefined;
  const toVersionId = actual.versionRolledBackTo ?? failed?.versionFrom ?? actual.versionId;
  const atMs = rollbackOp?.endMs ?? rollbackOp?.startMs ?? actual.versionCreatedMs;
  return {
    kind: failed ? 'system' : 'manual',
    fromVersionId,
    toVersionId,
    ...(atMs === undefined ? {} : { atMs }),
    ...(rollbackOp ? { operationId: rollbackOp.operationId, status: rollbackOp.status } : {}),
    ...(failed ? { failedOperation: failed.operation } : {}),
    ...(failed?.errorString ? { errorString: failed.errorString } : {}),
  };
}

/** `14:02 UTC`, or `2026-03-01 14:02 UTC` when not on the same day as `nowMs` in `timeZone`. */
function formatTime(atMs: number, nowMs: number, timeZone: string): string {
  const fmt = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
  const parts = (ms: number) => {
    const p = Object.fromEntries(fmt.formatToParts(ms).map((x) => [x.type, x.value]));
    return { day: `${p.year}-${p.month}-${p.day}`, time: `${p.hour}:${p.minute}` };
  };
  const at = parts(atMs);
  const now = parts(nowMs);
  return `${at.day === now.day ? '' : `${at.day} `}${at.time} ${timeZone}`;
}

/** What a report shows for a property value: never the value, nor a hash of it. */
const MASKED = '***';

/** Digests of masked values per reported field, for {@link driftFingerprint} only (never serialised). */
const VALUE_DIGESTS = new WeakMap<FieldDrift, string>();

function codeDisplay(c: CodeLocation | undefined): string {
  if (!c) return NOT_SET;
  return `${c.bucketArn}/${c.fileKey}${c.objectVersion === undefined ? '' : ` (ObjectVersion ${c.objectVersion})`}`;
}

function stripPeriod(s: string): string {
  return s.trim().replace(/\.+$/, '');
}

/** Accumulates drifts and ignored differences for one comparison. */
class Comparison {
  readonly fields: FieldDrift[] = [];
  readonly ignored: string[] = [];
  constructor(readonly source: DesiredStateSource) {}

  add(drift: Omit<FieldDrift, 'severity'> & { severity?: DriftSeverity }, valueDigest?: string): void {
    const field: FieldDrift = { ...drift, severity: drift.severity ?? FIELD_SEVERITY[drift.field] };
    if (valueDigest !== undefined) VALUE_DIGESTS.set(field, valueDigest);
    this.fields.push(field);
  }

  /** Simple equality: "Terraform declares parallelism 4; MSF runs with Parallelism 8[: note]." */
  simple(
    field: keyof typeof TERMS,
    desired: string | number | boolean | undefined,
    actual: string | number | boolean | undefined,
    msfVerb: string,
    note?: string,
  ): void {
    if (desired === undefined || desired === actual) return;
    const t = TERMS[field];
    this.add({
      field,
      desired: show(desired),
      actual: show(actual),
      explanation: `${declarer(this.source)} declares ${term(this.source, t)} ${show(desired)}; MSF ${msfVerb} ${t.msf} ${show(actual)}${note ? `: ${note}` : ''}.`,
    });
  }
}

function compareStatus(
  c: Comparison,
  desired: DesiredApplicationState,
  actual: ApplicationState,
  ops: ApplicationOperation[],
) {
  const want = desired.status;
  if (want === undefined || want === actual.status) return;
  if (isTransient(actual.status)) {
    c.ignored.push(`ApplicationStatus ${actual.status} ≠ declared ${want}: transient, not drift until it settles`);
    return;
  }
  const who = declarer(c.source);
  const declared =
    c.source.kind === 'terraform' ? `start_application ${want === 'RUNNING'} (${want})` : `desired status ${want}`;
  if (actual.status === 'ROLLED_BACK') {
    c.add({
      field: 'status',
      severity: 'informational',
      desired: want,
      actual: actual.status,
      explanation: `${who} declares ${declared}; MSF reports ApplicationStatus ROLLED_BACK: a rollback finished, see the version drift for what it changed.`,
    });
    return;
  }
  let why: string;
  if (want === 'RUNNING') {
    const lastDeploy = ops.find(
      (o) => (o.operation === 'UpdateApplication' || o.operation === 'StartApplication') && o.status !== 'IN_PROGRESS',
    );
    why =
      lastDeploy?.status === 'FAILED'
        ? `the job is not running since ${lastDeploy.operation} failed: ${stripPeriod(lastDeploy.errorString ?? '') || '(no ErrorInfo)'}`
        : 'the job is not running';
  } else {
    why = 'the job runs although it is declared stopped';
  }
  c.add({
    field: 'status',
    desired: want,
    actual: actual.status,
    explanation: `${who} declares ${declared}; MSF reports ApplicationStatus ${actual.status}: ${why}.`,
  });
}

function compareVersion(
  c: Comparison,
  desired: DesiredApplicationState,
  actual: ApplicationState,
  ops: ApplicationOperation[],
  rollback: RollbackInfo | undefined,
) {
  const want = desired.versionId;
  const have = actual.versionId;
  if (want === undefined || want === have) return;
  const who = declarer(c.source);
  const declared = `${who} declares ${term(c.source, TERMS.applicationVersion)} ${want}`;
  let explanation: string;
  if (rollback) {
    const runsAs = have === rollback.toVersionId ? '' : ` as version ${have}`;
    explanation =
      want === rollback.fromVersionId
        ? `${declared}, the version MSF rolled back from; MSF runs the configuration of version ${rollback.toVersionId}${runsAs} after a ${rollback.kind} rollback.`
        : `${declared}; MSF runs ApplicationVersionId ${have} after a ${rollback.kind} rollback from version ${rollback.fromVersionId} to ${rollback.toVersionId}.`;
  } else if (want < have) {
    explanation = `${declared}; MSF runs ApplicationVersionId ${have}: the application was updated outside ${declarerObject(c.source)} since it was last applied.`;
  } else {
    const failed = ops.find((o) => o.status === 'FAILED' && o.versionTo === want);
    explanation = failed
      ? `${declared}; MSF runs ApplicationVersionId ${have}: ${failed.operation} to version ${want} failed: ${stripPeriod(failed.errorString ?? '') || '(no ErrorInfo)'}.`
      : `${declared}; MSF runs ApplicationVersionId ${have}: the declared update has not reached MSF.`;
  }
  c.add({ field: 'applicationVersion', desired: String(want), actual: String(have), explanation });
}

/** The declarer as an object ("outside Terraform"). */
function declarerObject(s: DesiredStateSource): string {
  if (s.kind === 'terraform') return 'Terraform';
  if (s.kind === 'tag') return 'the tags';
  return 'the watchdog config';
}

function compareCode(c: Comparison, desired: DesiredApplicationState, actual: ApplicationState) {
  const want = desired.code;
  if (!want) return;
  const have = actual.code;
  const parts: Array<{ key: keyof typeof CODE_TERMS; want: string; have: string | undefined }> = [
    { key: 'BucketARN', want: want.bucketArn, have: have?.bucketArn },
    { key: 'FileKey', want: want.fileKey, have: have?.fileKey },
  ];
  if (want.objectVersion !== undefined) {
    parts.push({ key: 'ObjectVersion', want: want.objectVersion, have: have?.objectVersion });
  }
  const changed = parts.filter((p) => p.want !== p.have);
  if (changed.length === 0) return;
  const declared = changed.map((p) => `${term(c.source, CODE_TERMS[p.key])} ${p.want}`).join(' and ');
  const running = have ? changed.map((p) => `${p.key} ${show(p.have)}`).join(' and ') : 'no S3 code location';
  c.add({
    field: 'code',
    desired: codeDisplay(want),
    actual: codeDisplay(have),
    explanation: `${declarer(c.source)} declares ${declared}; MSF runs ${running}.`,
    changedKeys: changed.map((p) => p.key),
  });
}

function compareProperties(c: Comparison, desired: DesiredApplicationState, actual: ApplicationState) {
  const want = desired.environmentProperties;
  if (!want) return;
  const have = actual.environmentProperties;
  const changes: Array<{ key: string; kind: 'changed' | 'missing in MSF' | 'only in MSF'; d: string; a: string }> = [];
  // The values' digest feeds the fingerprint only: a value that changes again must count as a new drift.
  const digest = createHash('sha256');
  const groups = [...new Set([...Object.keys(want), ...Object.keys(have)])].sort();
  for (const g of groups) {
    const dg = want[g];
    const ag = have[g];
    const keys = [...new Set([...Object.keys(dg ?? {}), ...Object.keys(ag ?? {})])].sort();
    if (keys.length === 0 && (dg === undefined || ag === undefined)) {
      changes.push({
        key: g,
        kind: dg ? 'missing in MSF' : 'only in MSF',
        d: dg ? '(empty group)' : '(absent)',
        a: ag ? '(empty group)' : '(absent)',
      });
      continue;
    }
    for (const k of keys) {
      const dv = dg?.[k];
      const av = ag?.[k];
      if (dv === av) continue;
      changes.push({
        key: `${g}.${k}`,
        kind: dv === undefined ? 'only in MSF' : av === undefined ? 'missing in MSF' : 'changed',
        d: dv === undefined ? '(absent)' : MASKED,
        a: av === undefined ? '(absent)' : MASKED,
      });
      digest.update(`${g}\0${k}\0${dv ?? '\u0001'}\0${av ?? '\u0001'}\0`);
    }
  }
  if (changes.length === 0) return;
  const t = { terraform: 'environment_properties', other: 'environment properties' };
  c.add(
    {
      field: 'environmentProperties',
      desired: changes.map((x) => `${x.key}=${x.d}`).join(', '),
      actual: changes.map((x) => `${x.key}=${x.a}`).join(', '),
      explanation: `${declarer(c.source)} declares ${term(c.source, t)} that differ from MSF's EnvironmentPropertyDescriptions in ${changes.length} key${changes.length === 1 ? '' : 's'}: ${changes.map((x) => `${x.key} (${x.kind})`).join(', ')}; values are masked.`,
      changedKeys: changes.map((x) => x.key),
    },
    digest.digest('hex'),
  );
}

function compareParallelism(c: Comparison, desired: DesiredApplicationState, actual: ApplicationState) {
  c.simple('parallelism', desired.parallelism, actual.parallelism, 'runs with');
  if (
    desired.parallelism !== undefined &&
    actual.parallelism === desired.parallelism &&
    actual.currentParallelism !== undefined &&
    actual.currentParallelism !== desired.parallelism
  ) {
    c.ignored.push(
      `CurrentParallelism ${actual.currentParallelism} ≠ declared ${desired.parallelism}: autoscaling, not drift`,
    );
  }
  c.simple('parallelismPerKPU', desired.parallelismPerKPU, actual.parallelismPerKPU, 'runs with');
  c.simple('autoScaling', desired.autoScalingEnabled, actual.autoScalingEnabled, 'has');
}

/** The lead sentences of a report whose running version came from a rollback. */
function rollbackSummary(
  desired: DesiredApplicationState,
  rb: RollbackInfo,
  fields: readonly FieldDrift[],
  nowMs: number,
  timeZone: string,
): string {
  const time = rb.atMs === undefined ? undefined : formatTime(rb.atMs, nowMs, timeZone);
  const at = time === undefined ? '' : ` at ${time}`;
  const since = time === undefined ? '' : ` since ${time}`;
  const fromTo = `from version ${rb.fromVersionId} to ${rb.toVersionId}`;
  let what: string;
  if (rb.kind === 'system') {
    const cause = `after ${rb.failedOperation ?? 'an update'} failed: ${stripPeriod(rb.errorString ?? '') || '(no ErrorInfo)'}`;
    if (rb.status === 'FAILED')
      what = `MSF tried to roll back ${fromTo}${at} ${cause}; the rollback failed too, leaving the application READY.`;
    else if (rb.status === 'IN_PROGRESS') what = `MSF is rolling back ${fromTo}${since} ${cause}.`;
    else what = `MSF rolled back ${fromTo}${at} ${cause}.`;
  } else {
    const name = desired.applicationName;
    if (rb.status === 'FAILED')
      what = `RollbackApplication of ${name} ${fromTo}${at} failed, leaving the application READY.`;
    else if (rb.status === 'IN_PROGRESS')
      what = `${name} is being rolled back (RollbackApplication) ${fromTo}${since}.`;
    else what = `${name} was rolled back (RollbackApplication) ${fromTo}${at}.`;
  }
  const stale = fields.some((f) => f.severity === 'code/version' || f.severity === 'configuration');
  if (!stale) return what;
  const codeDrift = fields.some((f) => f.field === 'code');
  const versionDrift = fields.some((f) => f.field === 'applicationVersion');
  let declared: string;
  if (codeDrift && desired.code) declared = `code key ${desired.code.fileKey} of version ${rb.fromVersionId}`;
  else if (versionDrift && desired.versionId === rb.fromVersionId) declared = `version ${rb.fromVersionId}`;
  else declared = `the configuration of version ${rb.fromVersionId}`;
  const next =
    desired.source.kind === 'terraform' ? 'the next terraform apply' : `re-applying ${declarerObject(desired.source)}`;
  const redeploys =
    rb.kind === 'system' ? `the failing ${codeDrift ? 'code' : 'configuration'}` : 'the version that was rolled back';
  return `${what} ${declarer(desired.source)} still declares ${declared}, so ${next} redeploys ${redeploys}.`;
}

/**
 * Compares a desired state with what MSF runs, field by field. Only fields declared in `desired` are compared:
 * - status (`ApplicationStatus`): RUNNING vs READY either way is `status` drift; a transient status is not drift
 *   (listed in `ignoredDifferences`); ROLLED_BACK is informational.
 * - application version (`ApplicationVersionId`): a different version is `code/version` drift; when the running
 *   version was produced by a rollback (`ApplicationVersionRolledBackFrom/To`, RollbackApplication operations) the
 *   report carries `rollback` (system or manual) and the summary says what the next apply would redeploy.
 * - code (S3 BucketARN, FileKey, ObjectVersion when declared), runtime environment: `code/version`.
 * - declared Parallelism (never CurrentParallelism), ParallelismPerKPU, AutoScalingEnabled, SnapshotsEnabled, system
 *   rollback RollbackEnabled, environment property groups (values masked): `configuration`.
 * - LogLevel, MetricsLevel: `informational`.
 *
 * Pure and deterministic: times come from the operations and `context.nowMs`, shown as HH:MM in `context.timeZone`.
 * @throws RangeError when `context.timeZone` is not a valid IANA time zone (a configuration bug).
 */
export function compareDesired(
  desired: DesiredApplicationState,
  actual: ApplicationState,
  context: DriftContext,
): DriftReport {
  const timeZone = context.timeZone ?? 'UTC';
  const ops = newestFirst(context.operations);
  const c = new Comparison(desired.source);
  const rollback = currentRollback(actual, ops);

  compareStatus(c, desired, actual, ops);
  compareVersion(c, desired, actual, ops, rollback);
  compareCode(c, desired, actual);
  c.simple('runtimeEnvironment', desired.runtimeEnvironment, actual.runtimeEnvironment, 'runs');
  compareParallelism(c, desired, actual);
  c.simple(
    'snapshotsEnabled',
    desired.snapshotsEnabled,
    actual.snapshotsEnabled,
    'has',
    actual.snapshotsEnabled ? undefined : 'updates and rollbacks cannot restore state without snapshots',
  );
  c.simple(
    'systemRollbackEnabled',
    desired.systemRollbackEnabled,
    actual.systemRollbackEnabled,
    'has',
    actual.systemRollbackEnabled ? 'MSF reverts failed updates by itself' : 'MSF will not revert a failed update',
  );
  compareProperties(c, desired, actual);
  c.simple('logLevel', desired.logLevel, actual.logLevel, 'has');
  c.simple('metricsLevel', desired.metricsLevel, actual.metricsLevel, 'has');

  const fields = c.fields.sort(
    (a, b) => compareSeverity(b.severity, a.severity) || DRIFT_FIELDS.indexOf(a.field) - DRIFT_FIELDS.indexOf(b.field),
  );
  const severity = foldSeverity(fields);
  const ignoredDifferences = [...c.ignored];
  if (rollback && fields.length === 0) {
    ignoredDifferences.push(
      `version ${actual.versionId} came from a ${rollback.kind} rollback from version ${rollback.fromVersionId} to ${rollback.toVersionId}, and ${declarerObject(desired.source)} already matches it`,
    );
  }

  let summary: string;
  if (fields.length === 0) {
    summary = `${desired.applicationName} matches what ${declarerObject(desired.source)} declares: no drift.`;
  } else if (rollback) {
    const covered = new Set<DriftField>(['applicationVersion', 'code']);
    const rest = fields.filter((f) => !covered.has(f.field)).map((f) => f.explanation);
    summary = [rollbackSummary(desired, rollback, fields, context.nowMs, timeZone), ...rest].join(' ');
  } else {
    const n = fields.length;
    summary = [
      `${desired.applicationName} differs from what ${declarerObject(desired.source)} declares in ${n} field${n === 1 ? '' : 's'} (strongest: ${severity}).`,
      ...fields.map((f) => f.explanation),
    ].join(' ');
  }

  return {
    applicationName: desired.applicationName,
    source: desired.source,
    severity,
    fields,
    ...(rollback && fields.length > 0 ? { rollback } : {}),
    summary,
    ignoredDifferences,
  };
}

/**
 * A stable key of what drifts, for debounce (report drift once two consecutive observations agree): a hash of the
 * application name and each field's (field, desired, actual), independent of field order, times, explanations and
 * ignored differences. `drift:none` when nothing drifts; otherwise `drift:v1:<sha256 hex>`.
 */
export function driftFingerprint(report: Pick<DriftReport, 'applicationName' | 'fields'>): string {
  if (report.fields.length === 0) return 'drift:none';
  const entries = report.fields
    .map((f) => [f.field, f.desired, f.actual, VALUE_DIGESTS.get(f) ?? ''] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const hex = createHash('sha256')
    .update(JSON.stringify([report.applicationName, entries]))
    .digest('hex');
  return `drift:v1:${hex}`;
}
