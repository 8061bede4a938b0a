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
 * - Environment property values are never written in a report's fields, not even as a hash (an unkeyed hash of a
 *   low-entropy secret can be confirmed by guessing): each side shows `***`, and `changedKeys` names the keys. The
 *   fingerprint still changes when a value does: it takes a digest of the values that is kept out of the report (held
 *   in a module-private WeakMap, so it is never serialised). Only a caller that asks (`context.showValues`, the CLI's
 *   `--show-values`) gets the values, in `attributes[]`, and never those at a path Terraform marks sensitive: those
 *   show `(sensitive)`, whatever is asked, in every display string.
 * - A desired state read from Terraform gets its differences in Terraform's terms: each one's attribute path of
 *   `aws_kinesisanalyticsv2_application` (hashicorp/aws provider schema), which side moved (MSF changed outside
 *   Terraform, or the state declares what MSF does not run) from the application versions on each side, and the
 *   commands that settle it (`terraform apply -refresh-only` to accept, `terraform apply` to put the declared
 *   configuration back, with what that re-deploys after a rollback).
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
  'serviceExecutionRole',
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
 * How much a drift matters: `informational` (log and metrics level), `configuration` (service execution role,
 * parallelism, autoscaling, snapshots, system rollback, environment properties), `code/version` (application version, code location, runtime
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
  serviceExecutionRole: 'configuration',
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

/**
 * One difference in Terraform's terms: a Terraform attribute path of `aws_kinesisanalyticsv2_application` and the
 * value on each side.
 */
export interface AttributeDifference {
  /**
   * The attribute path in the resource, as Terraform's state and `terraform console` spell it, e.g. `start_application`,
   * `application_configuration[0].flink_application_configuration[0].parallelism_configuration[0].parallelism`,
   * `application_configuration[0].environment_properties[0].property_group[1].property_map["auth.token"]`.
   * `property_group` is a set: N is the group's index in the state's list (`[*]` for a group only MSF has).
   */
  path: string;
  /**
   * `changed`: both sides have a value; `missing in MSF`: declared, MSF has none; `only in MSF`: MSF has a value the
   * state does not declare (a property key or group).
   */
  change: 'changed' | 'missing in MSF' | 'only in MSF';
  /**
   * The declared value for display: the value itself; `***` for a property value unless values are shown;
   * `(sensitive)` at a path Terraform marks sensitive; `(absent)` for a property the state does not declare;
   * `(not set)` for a field with no value.
   */
  desired: string;
  /** MSF's value for display, with the same rules (DescribeApplication). */
  actual: string;
  /** `property_group_id` of a property difference. */
  propertyGroupId?: string;
  /** True when Terraform marks the path (or a path above or below it) sensitive: both values are masked. */
  sensitive?: boolean;
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
  /**
   * When the desired state was read from Terraform: each Terraform attribute that differs (one for most fields; one
   * per S3 location part for `code`; one per property key for `environmentProperties`).
   */
  attributes?: AttributeDifference[];
}

/**
 * Which side moved, when the desired state is a Terraform state:
 * - `msf`: changed outside Terraform: MSF runs a later application version than the state's `version_id` (a console
 *   or CLI edit, another pipeline, an MSF rollback), or its ApplicationStatus differs from `start_application`
 *   (which the provider never reads back, so Terraform does not see it);
 * - `declared`: the state declares what MSF does not run at the same application version (an apply that did not
 *   finish, a state edited by hand or restored from a backup);
 * - `unknown`: the state has no `version_id` to tell.
 */
export type DriftSide = 'msf' | 'declared' | 'unknown';

/** A command that settles a drift, and what it does. */
export interface DriftNextStep {
  /** `accept`: make Terraform agree with what MSF runs; `restore`: make MSF run what Terraform declares. */
  intent: 'accept' | 'restore';
  /** The command, e.g. `terraform apply -refresh-only`, `flink-watchdog remediate orders --action start`. */
  command: string;
  /** What it changes and what else to do, in one or two sentences (after a rollback: what re-applying re-deploys). */
  effect: string;
}

/** A drift read in Terraform's terms (reports whose desired state comes from a Terraform state). */
export interface TerraformDriftAdvice {
  /** Terraform resource address of the application, e.g. `module.streaming.aws_kinesisanalyticsv2_application.app["orders"]`. */
  address?: string;
  /** `version_id` in the state: the ApplicationVersionId Terraform saw at its last apply or refresh. */
  stateVersionId?: number;
  /** `ApplicationVersionId` MSF runs (DescribeApplication). */
  msfVersionId: number;
  /** Which side moved, see {@link DriftSide}. */
  changed: DriftSide;
  /** One sentence saying why `changed` is what it is. */
  why: string;
  /** What to run: accepting what MSF runs first, then putting the declared configuration back. */
  nextSteps: DriftNextStep[];
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
  /** Set when something drifts and the desired state was read from Terraform: which side moved, what to run. */
  terraform?: TerraformDriftAdvice;
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
  /**
   * Show environment property values in `attributes[]` (the CLI's `--show-values`), except at paths Terraform marks
   * sensitive. Never set by the reconciler: notifications and the ledger never carry a property value.
   * @default false
   */
  showValues?: boolean;
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
  serviceExecutionRole: {
    terraform: 'service_execution_role',
    other: 'service execution role',
    msf: 'ServiceExecutionRole',
  },
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

/** Terraform attribute paths of `application_configuration[0]`'s blocks (hashicorp/aws, aws_kinesisanalyticsv2_application). */
const AC = 'application_configuration[0]';
const FLINK = `${AC}.flink_application_configuration[0]`;
const S3_LOCATION = `${AC}.application_code_configuration[0].code_content[0].s3_content_location[0]`;
/** `property_group` of `environment_properties`: a set block. */
const PROPERTY_GROUP = `${AC}.environment_properties[0].property_group`;

/** The Terraform attribute path of each simply compared field. */
const ATTRIBUTE_PATHS: Record<keyof typeof TERMS, string> = {
  status: 'start_application',
  applicationVersion: 'version_id',
  runtimeEnvironment: 'runtime_environment',
  serviceExecutionRole: 'service_execution_role',
  parallelism: `${FLINK}.parallelism_configuration[0].parallelism`,
  parallelismPerKPU: `${FLINK}.parallelism_configuration[0].parallelism_per_kpu`,
  autoScaling: `${FLINK}.parallelism_configuration[0].auto_scaling_enabled`,
  snapshotsEnabled: `${AC}.application_snapshot_configuration[0].snapshots_enabled`,
  systemRollbackEnabled: `${AC}.application_system_rollback_configuration[0].rollback_enabled`,
  logLevel: `${FLINK}.monitoring_configuration[0].log_level`,
  metricsLevel: `${FLINK}.monitoring_configuration[0].metrics_level`,
};

/** The Terraform attribute path of each S3 code location part. */
const CODE_PATHS: Record<'BucketARN' | 'FileKey' | 'ObjectVersion', string> = {
  BucketARN: `${S3_LOCATION}.bucket_arn`,
  FileKey: `${S3_LOCATION}.file_key`,
  ObjectVersion: `${S3_LOCATION}.object_version`,
};

/**
 * The Terraform attribute path of every field compareDesired compares, for documentation and tests: the simple
 * fields, the S3 code location parts, and the property map of a property group (`N` the group's index in the state).
 */
export const TERRAFORM_ATTRIBUTE_PATHS: Readonly<Record<string, string>> = {
  ...ATTRIBUTE_PATHS,
  'code.BucketARN': CODE_PATHS.BucketARN,
  'code.FileKey': CODE_PATHS.FileKey,
  'code.ObjectVersion': CODE_PATHS.ObjectVersion,
  environmentProperties: `${PROPERTY_GROUP}[N].property_map["KEY"]`,
};

/** What a report shows for a value at a path Terraform marks sensitive, on both sides, whatever is asked. */
export const SENSITIVE = '(sensitive)';

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

/** A step of an attribute path: an attribute or map key (string), a list index (number), or `*` (any element). */
type PathStep = string | number;

/** Splits `a[0].b["k.x"]` into `['a', 0, 'b', 'k.x']`; `[*]` is `'*'`. `.k` and `["k"]` are the same step. */
function pathSteps(path: string): PathStep[] {
  const steps: PathStep[] = [];
  const re = /\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+|\*|"(?:[^"\\]|\\.)*")\]/g;
  for (let m = re.exec(path); m !== null; m = re.exec(path)) {
    if (m[1] !== undefined) steps.push(m[1]);
    else if (m[2] === '*') steps.push('*');
    else if (m[2]?.startsWith('"')) steps.push(JSON.parse(m[2]) as string);
    else steps.push(Number(m[2]));
  }
  return steps;
}

/** True when one path lies at or below the other (`*` matches any step): a sensitive value covers what it contains. */
function overlaps(a: readonly PathStep[], b: readonly PathStep[]): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i] && a[i] !== '*' && b[i] !== '*') return false;
  }
  return true;
}

/** Accumulates drifts and ignored differences for one comparison. */
class Comparison {
  readonly fields: FieldDrift[] = [];
  readonly ignored: string[] = [];
  /** Whether differences get Terraform attribute paths (the desired state is a Terraform state). */
  readonly terraform: boolean;
  private readonly sensitivePaths: PathStep[][];
  constructor(
    readonly source: DesiredStateSource,
    readonly showValues: boolean,
  ) {
    this.terraform = source.kind === 'terraform';
    this.sensitivePaths = (source.sensitivePaths ?? []).map(pathSteps);
  }

  add(drift: Omit<FieldDrift, 'severity'> & { severity?: DriftSeverity }, valueDigest?: string): void {
    const field: FieldDrift = { ...drift, severity: drift.severity ?? FIELD_SEVERITY[drift.field] };
    if (!this.terraform) delete field.attributes;
    if (valueDigest !== undefined) VALUE_DIGESTS.set(field, valueDigest);
    this.fields.push(field);
  }

  /** Whether Terraform marks `path` (or a path above or below it) sensitive. */
  isSensitive(path: string): boolean {
    if (this.sensitivePaths.length === 0) return false;
    const steps = pathSteps(path);
    return this.sensitivePaths.some((s) => overlaps(s, steps));
  }

  /** A value at `path` for display: `(sensitive)` when Terraform marks it so, else the value (`(not set)`). */
  display(path: string, v: string | number | boolean | undefined): string {
    return this.isSensitive(path) ? SENSITIVE : show(v);
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
    const path = ATTRIBUTE_PATHS[field];
    const sensitive = this.isSensitive(path);
    const d = this.display(path, desired);
    const a = this.display(path, actual);
    this.add(
      {
        field,
        desired: d,
        actual: a,
        explanation: `${declarer(this.source)} declares ${term(this.source, t)} ${d}; MSF ${msfVerb} ${t.msf} ${a}${note ? `: ${note}` : ''}.`,
        attributes: [
          {
            path,
            change: actual === undefined ? 'missing in MSF' : 'changed',
            desired: d,
            actual: a,
            ...(sensitive ? { sensitive: true } : {}),
          },
        ],
      },
      sensitive ? digestOf(desired, actual) : undefined,
    );
  }
}

/** A digest of masked values, so that the fingerprint changes when they do (never serialised). */
function digestOf(...values: ReadonlyArray<string | number | boolean | undefined>): string {
  const h = createHash('sha256');
  for (const v of values) h.update(`${v === undefined ? '\u0001' : JSON.stringify(v)}\0`);
  return h.digest('hex');
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
      attributes: [statusAttribute(c, want, actual.status)],
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
    attributes: [statusAttribute(c, want, actual.status)],
  });
}

/** `start_application` true/false against the ApplicationStatus MSF reports. */
function statusAttribute(c: Comparison, want: 'RUNNING' | 'READY', have: string): AttributeDifference {
  const path = ATTRIBUTE_PATHS.status;
  const sensitive = c.isSensitive(path);
  return {
    path,
    change: 'changed',
    desired: sensitive ? SENSITIVE : `${want === 'RUNNING'} (${want})`,
    actual: sensitive ? SENSITIVE : have,
    ...(sensitive ? { sensitive: true } : {}),
  };
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
  c.add({
    field: 'applicationVersion',
    desired: String(want),
    actual: String(have),
    explanation,
    attributes: [
      { path: ATTRIBUTE_PATHS.applicationVersion, change: 'changed', desired: String(want), actual: String(have) },
    ],
  });
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
  const sensitive = Object.values(CODE_PATHS).some((path) => c.isSensitive(path));
  const declared = changed
    .map((p) => `${term(c.source, CODE_TERMS[p.key])} ${sensitive ? SENSITIVE : p.want}`)
    .join(' and ');
  const running = have
    ? changed.map((p) => `${p.key} ${sensitive ? SENSITIVE : show(p.have)}`).join(' and ')
    : 'no S3 code location';
  c.add(
    {
      field: 'code',
      desired: sensitive ? SENSITIVE : codeDisplay(want),
      actual: sensitive ? SENSITIVE : codeDisplay(have),
      explanation: `${declarer(c.source)} declares ${declared}; MSF runs ${running}.`,
      changedKeys: changed.map((p) => p.key),
      attributes: changed.map((p) => ({
        path: CODE_PATHS[p.key],
        change: p.have === undefined ? 'missing in MSF' : 'changed',
        desired: sensitive ? SENSITIVE : p.want,
        actual: sensitive ? SENSITIVE : show(p.have),
        ...(sensitive ? { sensitive: true } : {}),
      })),
    },
    sensitive ? digestOf(...changed.flatMap((p) => [p.want, p.have])) : undefined,
  );
}

/** The attribute path of a property key (or of a whole group, without `key`) in the state's `property_group` set. */
function propertyPath(source: DesiredStateSource, group: string, key?: string): string {
  const index = source.propertyGroupIndexes?.[group];
  const element = `${PROPERTY_GROUP}[${index === undefined ? '*' : index}]`;
  return key === undefined ? element : `${element}.property_map[${JSON.stringify(key)}]`;
}

function compareProperties(c: Comparison, desired: DesiredApplicationState, actual: ApplicationState) {
  const want = desired.environmentProperties;
  if (!want) return;
  const have = actual.environmentProperties;
  const changes: Array<{ key: string; kind: 'changed' | 'missing in MSF' | 'only in MSF'; d: string; a: string }> = [];
  const attributes: AttributeDifference[] = [];
  /** A property value for `attributes[]`: `(sensitive)`, the value when asked for, else `***`. */
  const reveal = (path: string, v: string | undefined): string => {
    if (v === undefined) return '(absent)';
    if (c.isSensitive(path)) return SENSITIVE;
    return c.showValues ? JSON.stringify(v) : MASKED;
  };
  // The values' digest feeds the fingerprint only: a value that changes again must count as a new drift.
  const digest = createHash('sha256');
  const groups = [...new Set([...Object.keys(want), ...Object.keys(have)])].sort();
  for (const g of groups) {
    const dg = want[g];
    const ag = have[g];
    const keys = [...new Set([...Object.keys(dg ?? {}), ...Object.keys(ag ?? {})])].sort();
    if (keys.length === 0 && (dg === undefined || ag === undefined)) {
      const kind = dg ? 'missing in MSF' : 'only in MSF';
      const d = dg ? '(empty group)' : '(absent)';
      const a = ag ? '(empty group)' : '(absent)';
      changes.push({ key: g, kind, d, a });
      attributes.push({ path: propertyPath(c.source, g), change: kind, desired: d, actual: a, propertyGroupId: g });
      continue;
    }
    for (const k of keys) {
      const dv = dg?.[k];
      const av = ag?.[k];
      if (dv === av) continue;
      const kind = dv === undefined ? 'only in MSF' : av === undefined ? 'missing in MSF' : 'changed';
      changes.push({
        key: `${g}.${k}`,
        kind,
        d: dv === undefined ? '(absent)' : MASKED,
        a: av === undefined ? '(absent)' : MASKED,
      });
      const path = propertyPath(c.source, g, k);
      const sensitive = c.isSensitive(path);
      attributes.push({
        path,
        change: kind,
        desired: reveal(path, dv),
        actual: reveal(path, av),
        propertyGroupId: g,
        ...(sensitive ? { sensitive: true } : {}),
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
      explanation: `${declarer(c.source)} declares ${term(c.source, t)} that differ from MSF's EnvironmentPropertyDescriptions in ${changes.length} key${changes.length === 1 ? '' : 's'}: ${changes.map((x) => `${x.key} (${x.kind})`).join(', ')}${c.showValues ? '' : '; values are masked'}.`,
      changedKeys: changes.map((x) => x.key),
      attributes,
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
  codeKeyShown = true,
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
  if (codeDrift && desired.code && codeKeyShown)
    declared = `code key ${desired.code.fileKey} of version ${rb.fromVersionId}`;
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
  const c = new Comparison(desired.source, context.showValues === true);
  const rollback = currentRollback(actual, ops);

  compareStatus(c, desired, actual, ops);
  compareVersion(c, desired, actual, ops, rollback);
  compareCode(c, desired, actual);
  c.simple('runtimeEnvironment', desired.runtimeEnvironment, actual.runtimeEnvironment, 'runs');
  c.simple('serviceExecutionRole', desired.serviceExecutionRole, actual.serviceExecutionRole, 'runs with');
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
    const codeKeyShown = !c.isSensitive(CODE_PATHS.FileKey);
    summary = [rollbackSummary(desired, rollback, fields, context.nowMs, timeZone, codeKeyShown), ...rest].join(' ');
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
    ...(c.terraform && fields.length > 0 ? { terraform: terraformAdvice(desired, actual, fields, rollback) } : {}),
    summary,
    ignoredDifferences,
  };
}

/**
 * Which side moved and what to run, for a drifted desired state read from Terraform (see {@link DriftSide} and
 * {@link DriftNextStep}). `start_application` is a special case: the provider never reads it back from MSF, so
 * `terraform apply` neither sees nor undoes a start or stop made elsewhere; the watchdog's runbook does.
 */
function terraformAdvice(
  desired: DesiredApplicationState,
  actual: ApplicationState,
  fields: readonly FieldDrift[],
  rollback: RollbackInfo | undefined,
): TerraformDriftAdvice {
  const state = desired.versionId;
  const msf = actual.versionId;
  const status = fields.find((f) => f.field === 'status' && f.severity === 'status');
  const others = fields.filter((f) => f.field !== 'status');
  let changed: DriftSide;
  let why: string;
  const recorded = state === undefined ? 'Terraform' : `Terraform's last apply or refresh (version_id ${state})`;
  if (rollback) {
    changed = 'msf';
    why =
      rollback.kind === 'system'
        ? `MSF rolled back from application version ${rollback.fromVersionId} to ${rollback.toVersionId} after ${recorded}: changed outside Terraform.`
        : `The application was rolled back (RollbackApplication) from application version ${rollback.fromVersionId} to ${rollback.toVersionId} after ${recorded}: changed outside Terraform.`;
  } else if (state !== undefined && msf > state) {
    changed = 'msf';
    why = `MSF runs ApplicationVersionId ${msf}; Terraform last recorded version ${state} (version_id): the application was changed outside Terraform since the last apply or refresh.`;
  } else if (others.length === 0 && status) {
    changed = 'msf';
    why = `MSF reports ApplicationStatus ${actual.status} while start_application declares ${desired.status}: the application was started or stopped outside Terraform, or failed (the provider never reads start_application back).`;
  } else if (state === undefined) {
    changed = 'unknown';
    why = 'The state has no version_id, so which side moved cannot be told.';
  } else if (msf === state) {
    changed = 'declared';
    why = `MSF runs ApplicationVersionId ${msf}, the version the state was written at, yet the state declares other values: an apply that did not finish, or a state edited or restored by hand.`;
  } else {
    changed = 'declared';
    why = `The state's version_id ${state} is later than MSF's ApplicationVersionId ${msf}: the state does not describe this application (was it deleted and created again, or is the state another account's or Region's?).`;
  }

  const nextSteps: DriftNextStep[] = [];
  if (others.length > 0) {
    const paths = others.flatMap((f) => (f.attributes ?? []).map((a) => a.path)).filter((p) => p !== 'version_id');
    const match = paths.length > 0 ? ` (${paths.join(', ')})` : '';
    nextSteps.push({
      intent: 'accept',
      command: 'terraform apply -refresh-only',
      effect: `Records what MSF runs (ApplicationVersionId ${msf}) in the state without calling MSF. Then change the configuration to match${match}, or the next terraform apply puts the declared values back.`,
    });
    let restore =
      'Puts the configuration back with UpdateApplication: a new application version, and the job restarts. Run terraform plan first to see the change.';
    if (rollback) {
      const what =
        desired.code && others.some((f) => f.field === 'code' && !f.attributes?.some((a) => a.sensitive))
          ? `version ${rollback.fromVersionId}, code ${desired.code.fileKey}`
          : `version ${rollback.fromVersionId}`;
      const cause =
        rollback.kind === 'system'
          ? ` MSF rolled it back because ${rollback.failedOperation ?? 'an update'} failed${rollback.errorString ? `: ${stripPeriod(rollback.errorString)}` : ''}.`
          : '';
      restore = `Re-applying re-deploys the configuration that was rolled back (${what}): the restart loop may come back.${cause} Fix the cause in the configuration first, or accept what MSF runs.`;
    }
    nextSteps.push({ intent: 'restore', command: 'terraform apply', effect: restore });
  }
  if (status && (desired.status === 'RUNNING' || desired.status === 'READY')) {
    const name = desired.applicationName;
    const wantRunning = desired.status === 'RUNNING';
    nextSteps.push({
      intent: 'accept',
      command: `set start_application = ${!wantRunning} in the configuration, then terraform apply`,
      effect: `The configuration then declares the application ${wantRunning ? 'stopped (READY)' : 'running'}, as MSF has it.`,
    });
    nextSteps.push({
      intent: 'restore',
      command: `flink-watchdog remediate ${name} --action ${wantRunning ? 'start' : 'stop'}`,
      effect: `${wantRunning ? 'Starts' : 'Stops'} the application through the watchdog's runbook and its guards (a dry run unless --execute). terraform apply would not: the provider never reads start_application back, so terraform plan shows no change.`,
    });
  }
  return {
    ...(desired.source.address === undefined ? {} : { address: desired.source.address }),
    ...(state === undefined ? {} : { stateVersionId: state }),
    msfVersionId: msf,
    changed,
    why,
    nextSteps,
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
