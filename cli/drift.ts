import { MsfAdapter } from '#shared/adapters/msf.ts';
import { systemClock } from '#shared/adapters/system-clock.ts';
import type { Clock } from '#shared/clock.ts';
import type { WatchdogConfig } from '#shared/config/schema.ts';
import { loadDesiredStates, type TerraformReader } from '#shared/desired/sources.ts';
import { readTerraformState, STDIN_SOURCE, TerraformStateReadError } from '#shared/desired/terraform-source.ts';
import { parseApplicationKey } from '#shared/domain/app-key.ts';
import type { DesiredApplicationState } from '#shared/domain/desired.ts';
import {
  type AttributeDifference,
  compareDesired,
  type DriftReport,
  type DriftReportSeverity,
  type DriftSide,
} from '#shared/domain/drift.ts';
import type { ApplicationState } from '#shared/domain/model.ts';
import type { ApplicationSummary, MsfPort } from '#shared/ports/msf.ts';
import {
  type AwsClientConfig,
  awsClientConfig,
  awsProblem,
  type CliProblem,
  exitCodeOf,
  formatProblem,
  loadConfig,
  mapLimit,
  type OutputFormat,
  resolveOutput,
  terraformReader,
  textLine,
  UsageError,
  usageProblem,
} from './context.ts';
import { bold, dim, green, red } from './format.ts';

/**
 * Exit codes of `flink-watchdog drift`, as `terraform plan -detailed-exitcode`: 0 nothing drifts, 1 an error (the
 * config, a desired-state source that cannot be read, an application not compared, an AWS call), 2 drift found,
 * 64 a usage error (a bad option). An error wins over drift, a usage error over both.
 */
export const DRIFT_EXIT_CODES = { noDrift: 0, error: 1, drift: 2, usage: 64 } as const;

/** Applications described at the same time (each costs DescribeApplication, ListApplicationOperations, ...). */
const CONCURRENCY = 4;

/** A watched application that was not compared, and why. */
export interface NotCompared {
  /** The application key (MSF ApplicationName, or `NAME@ACCOUNT.REGION`). */
  applicationName: string;
  /** The Terraform state (path, `s3://BUCKET/KEY` or `stdin`) whose problem kept it from being compared. */
  location: string;
  /** Why, in one sentence naming the source and what to do (e.g. `... absent from STATE: ...`). */
  reason: string;
}

/**
 * The `--output json` (`--json`) output of `flink-watchdog drift`. Field names are documented in docs/terraform.md.
 */
export interface DriftJson {
  /**
   * One report per compared application, in config order: `severity`, `fields[]` (each with `attributes[]`: the
   * Terraform attribute `path`, `change`, `desired`, `actual`, `sensitive`), `terraform` (`changed` side,
   * `stateVersionId`, `msfVersionId`, `why`, `nextSteps[]`), `rollback`, `summary`. Property values show `***`
   * unless `--show-values`, and `(sensitive)` at paths Terraform marks sensitive.
   */
  applications: DriftReport[];
  /** Watched applications not compared (their desired state could not be read); non-empty means exit code 1. */
  notCompared: NotCompared[];
  /** What could not be read or compared; non-empty means exit code 1. */
  problems: CliProblem[];
}

/** Options of `flink-watchdog drift` (commander's parsed flags). */
export interface DriftOptions {
  /** Only this watched application (MSF ApplicationName). */
  app?: string;
  /**
   * Terraform state sources: local paths (a state file, `terraform state pull` or `terraform show -json` output),
   * `-` for standard input, or `s3://BUCKET/KEY`; they replace the config's `drift.terraformState`.
   */
  tfstate?: string[];
  /**
   * Path of the watchdog config.
   * @default WATCHDOG_CONFIG (JSON) or WATCHDOG_CONFIG_PATH, else ./flink-watchdog.config.json
   */
  config?: string;
  /** `--output`: table (readable, the default), json ({@link DriftJson}) or text (tab-separated). */
  output?: string;
  /** Same as `output: 'json'`. */
  json?: boolean;
  /** Print property values on both sides, except those Terraform marks sensitive (`(sensitive)`). */
  showValues?: boolean;
  /** AWS Region of the MSF and S3 calls (`--region`). */
  region?: string;
  /** Named profile (`--profile`). */
  profile?: string;
}

/**
 * Restricts a config to one listed application (`--app`), so that desired-state checks (e.g. "absent from the state
 * file") concern only it.
 * @returns the narrowed config, or a `config` problem when `app` is not listed.
 */
export function narrowConfig(
  config: WatchdogConfig,
  source: string,
  app: string | undefined,
): { config: WatchdogConfig } | { problem: CliProblem } {
  if (app === undefined) return { config };
  const listed = config.applications.filter((a) => a.name === app);
  if (listed.length > 0) return { config: { ...config, applications: listed } };
  const names = config.applications.map((a) => a.name).join(', ') || '(none)';
  return {
    problem: {
      kind: 'config',
      location: source,
      address: app,
      message: `${app} is not a watched application in ${source} (watched: ${names})`,
    },
  };
}

/**
 * The desired state of every application listed in `config`: the config's own declarations, then each Terraform state
 * of `tfstate` (or of the config's `drift.terraformState` when `tfstate` is undefined or empty). A watched application
 * declared in none of them is a problem (loadDesiredStates). Never throws: a read fault (network, throttling) becomes
 * a `desired-state` problem naming the source.
 * @returns the states, the problems (a problem's `address` is the application key when it concerns one application,
 *   absent when it concerns a whole source), and the sources read.
 */
export async function readDesiredStates(
  config: WatchdogConfig,
  tfstate: readonly string[] | undefined,
  readTerraform: TerraformReader = (source) => readTerraformState(source),
): Promise<{ states: DesiredApplicationState[]; problems: CliProblem[]; sources: readonly string[] }> {
  const sources = tfstate && tfstate.length > 0 ? tfstate : (config.drift?.terraformState ?? []);
  const safeReader: TerraformReader = async (source) => {
    try {
      return await readTerraform(source);
    } catch (e) {
      const message = e instanceof TerraformStateReadError ? e.message : `Terraform state ${source}: ${String(e)}`;
      return { location: source, applications: [], problems: [{ location: source, message }], sensitivePaths: {} };
    }
  };
  const desired = await loadDesiredStates(config, safeReader, sources);
  const problems: CliProblem[] = desired.problems.map((p) => ({
    kind: 'desired-state',
    location: p.location,
    ...(p.address === undefined ? {} : { address: p.address }),
    message: p.message,
  }));
  return { states: desired.states, problems, sources };
}

/**
 * The watched applications that cannot be compared because of `problems`: a problem about a whole Terraform state
 * (no `address`) concerns every application of the watchdog's own account and Region (a state declares applications
 * by name, so any of them may be in it); one whose `address` is an application key concerns that application.
 * @returns the reason per application key (the first problem), in the order of `states`.
 */
export function notComparable(
  states: readonly DesiredApplicationState[],
  problems: readonly CliProblem[],
): Map<string, NotCompared> {
  const out = new Map<string, NotCompared>();
  for (const s of states) {
    const name = s.applicationName;
    const home = parseApplicationKey(name).accountId === undefined;
    const p = problems.find(
      (x) => x.kind === 'desired-state' && (x.address === name || (x.address === undefined && home)),
    );
    if (p) out.set(name, { applicationName: name, location: p.location, reason: withFix(p.message) });
  }
  return out;
}

/** A desired-state problem with what to do, when the message does not say it already. */
function withFix(message: string): string {
  if (/ is watched but absent from /.test(message)) {
    return `${message}: declare it in the Terraform configuration (or \`terraform import\` it), or check that the state is the right one (workspace, backend key)`;
  }
  return message;
}

/** One application as observed for the CLI: the summary, and the comparison when it could be made. */
export interface Observed {
  desired: DesiredApplicationState;
  /** From ListApplications; undefined when the application is not in this account and region, or not compared. */
  summary?: ApplicationSummary;
  /** From DescribeApplication. */
  actual?: ApplicationState;
  report?: DriftReport;
  problem?: CliProblem;
  /** Set when the application was not compared (its desired state could not be read): no MSF call was made for it. */
  notCompared?: NotCompared;
}

/** Options of {@link observeApplications}. */
export interface ObserveOptions {
  /** Applications not to compare, by application key, and why (see {@link notComparable}). */
  skip?: ReadonlyMap<string, NotCompared>;
  /** Show property values in each difference (`--show-values`), except those Terraform marks sensitive. */
  showValues?: boolean;
}

/**
 * Lists the applications once (ListApplications), then for each desired state not skipped describes the application
 * (DescribeApplication, ListApplicationOperations) and compares it with compareDesired, up to 4 at a time. One-shot:
 * no debounce, no ledger. No MSF call is made when every application is skipped.
 * @returns one entry per desired state, in order; `problem` is set when the application is missing from the account
 *   or a call failed for it, `notCompared` when it was skipped.
 * @throws MsfApiError when ListApplications itself fails (credentials, region, endpoint).
 */
export async function observeApplications(
  msf: MsfPort,
  states: readonly DesiredApplicationState[],
  clock: Clock = systemClock,
  options: ObserveOptions = {},
): Promise<Observed[]> {
  const skip = options.skip ?? new Map<string, NotCompared>();
  const toCompare = states.filter((s) => !skip.has(s.applicationName));
  const summaries =
    toCompare.length === 0 ? new Map() : new Map((await msf.listApplications()).map((s) => [s.name, s]));
  return mapLimit(states, CONCURRENCY, async (desired): Promise<Observed> => {
    const name = desired.applicationName;
    const skipped = skip.get(name);
    if (skipped) return { desired, notCompared: skipped };
    const summary = summaries.get(name);
    if (!summary) {
      return {
        desired,
        problem: {
          kind: 'aws',
          location: 'msf',
          address: name,
          message: `${name} is watched but is not an MSF application in this account and region (ListApplications)`,
        },
      };
    }
    try {
      const [actual, operations] = await Promise.all([msf.describeApplication(name), msf.listOperations(name)]);
      const report = compareDesired(desired, actual, {
        operations,
        nowMs: clock.now(),
        ...(options.showValues ? { showValues: true } : {}),
      });
      return { desired, summary, actual, report };
    } catch (e) {
      return { desired, summary, problem: awsProblem('msf', name, e) };
    }
  });
}

/** Colours a severity for a terminal: none green, status red, the rest bold. */
export function paintSeverity(s: DriftReportSeverity): string {
  if (s === 'none') return green(s);
  return s === 'status' || s === 'code/version' ? red(s) : bold(s);
}

/** Where a desired state was read, for a header line: `Terraform state PATH (ADDRESS)` or `watchdog config`. */
function describeSource(report: DriftReport): string {
  const s = report.source;
  if (s.kind === 'terraform') {
    const format = s.format === 'show-json' ? ', terraform show -json' : '';
    return `Terraform state ${s.location}${s.address ? ` (${s.address}${format})` : ''}`;
  }
  if (s.kind === 'tag') return `tag ${s.location}`;
  return s.location;
}

/** The readable name of a changed side (see {@link DriftSide}). */
export function sideLabel(side: DriftSide): string {
  if (side === 'msf') return 'changed outside Terraform';
  if (side === 'declared') return 'declared, not what MSF runs';
  return 'which side changed is unknown';
}

/** `state` / `MSF` value lines of one Terraform attribute, with the application version on each side when known. */
function attributeLines(a: AttributeDifference, report: DriftReport): string[] {
  const stateVersion = report.terraform?.stateVersionId;
  const msfVersion = report.terraform?.msfVersionId;
  const change = a.change === 'changed' ? '' : dim(` (${a.change})`);
  const group = a.propertyGroupId === undefined ? '' : dim(` property_group_id ${JSON.stringify(a.propertyGroupId)}`);
  const stateLabel = `state${stateVersion === undefined ? '' : ` (version ${stateVersion})`}:`;
  const msfLabel = `MSF${msfVersion === undefined ? '' : ` (version ${msfVersion})`}:`;
  const width = Math.max(stateLabel.length, msfLabel.length);
  return [
    `     ~ ${a.path}${change}${group}`,
    `         ${stateLabel.padEnd(width)} ${a.desired}`,
    `         ${msfLabel.padEnd(width)} ${a.actual}`,
  ];
}

/**
 * A readable block for one report: the name and severity, the source; for a Terraform state the application version
 * on each side and which side changed, then each drifted field with its Terraform attribute paths and both values, and
 * the commands to run; for the watchdog config each field's desired and actual value. Ends with the ignored
 * differences and the summary. Never contains a property value unless the report was made with `showValues`, and
 * never one Terraform marks sensitive.
 */
export function formatDriftReport(report: DriftReport): string {
  const lines = [
    `${bold(`━━ ${report.applicationName}`)} — ${report.severity === 'none' ? green('no drift') : `drift: ${paintSeverity(report.severity)}`}`,
    dim(`   declared by ${describeSource(report)}`),
  ];
  const tf = report.terraform;
  if (tf) {
    const state =
      tf.stateVersionId === undefined ? 'no version_id in the state' : `state version_id ${tf.stateVersionId}`;
    lines.push(`   application version: ${state}, MSF ApplicationVersionId ${tf.msfVersionId}`);
    lines.push(`   ${bold(`${sideLabel(tf.changed)}:`)} ${tf.why}`);
  }
  for (const f of report.fields) {
    lines.push(`   ~ ${bold(f.field)} [${paintSeverity(f.severity)}]`);
    if (f.attributes && f.attributes.length > 0) {
      for (const a of f.attributes) lines.push(...attributeLines(a, report));
    } else {
      lines.push(`       desired: ${f.desired}`);
      lines.push(`       actual:  ${f.actual}`);
      if (f.changedKeys?.length) lines.push(`       changed: ${f.changedKeys.join(', ')}`);
    }
    lines.push(`       ${f.explanation}`);
  }
  for (const step of tf?.nextSteps ?? []) {
    const label = step.intent === 'accept' ? 'to accept what MSF runs' : 'to put the declared configuration back';
    lines.push(`   → ${label}: ${bold(step.command)}`);
    lines.push(dim(`       ${step.effect}`));
  }
  for (const i of report.ignoredDifferences) lines.push(dim(`   ignored: ${i}`));
  lines.push(`   ${report.summary}`);
  return lines.join('\n');
}

/** The block of an application that was not compared: never "no drift". */
export function formatNotCompared(n: NotCompared): string {
  return `${bold(`━━ ${n.applicationName}`)} — ${red('not compared')}: ${n.reason}`;
}

/**
 * `--output text`: one tab-separated line per difference, `APP drift SEVERITY PATH DESIRED ACTUAL SIDE` (PATH the
 * Terraform attribute path, or the field for the watchdog config), `APP none` for an application that matches, and
 * `APP not-compared REASON` for one that was not compared.
 */
export function driftTextLines(reports: readonly DriftReport[], notCompared: readonly NotCompared[]): string[] {
  const lines: string[] = [];
  for (const r of reports) {
    if (r.fields.length === 0) lines.push(textLine([r.applicationName, 'none']));
    for (const f of r.fields) {
      const attributes = f.attributes ?? [{ path: f.field, desired: f.desired, actual: f.actual }];
      for (const a of attributes) {
        lines.push(
          textLine([r.applicationName, 'drift', f.severity, a.path, a.desired, a.actual, r.terraform?.changed]),
        );
      }
    }
  }
  for (const n of notCompared) lines.push(textLine([n.applicationName, 'not-compared', n.reason]));
  return lines;
}

/**
 * The closing line: `Drift: N applications compared, no drift.`, `..., M drifted`, and `K not compared` and the error
 * count when there are any; "no drift" only when every watched application was compared.
 */
export function driftTotals(
  reports: readonly DriftReport[],
  notCompared: readonly NotCompared[],
  problems: readonly CliProblem[],
): string {
  const drifted = reports.filter((r) => r.severity !== 'none').length;
  const verdict =
    drifted > 0
      ? red(`${drifted} drifted`)
      : notCompared.length === 0 && reports.length > 0
        ? green('no drift')
        : '0 drifted';
  const skipped = notCompared.length === 0 ? '' : `, ${red(`${notCompared.length} not compared`)}`;
  const errors = problems.length === 0 ? '' : `, ${problems.length} error${problems.length === 1 ? '' : 's'}`;
  const n = reports.length;
  return `${bold('Drift')}: ${n} application${n === 1 ? '' : 's'} compared, ${verdict}${skipped}${errors}.`;
}

/** The `--tfstate` sources are usable: `-` at most once. */
function checkSources(tfstate: readonly string[] | undefined): CliProblem | undefined {
  const stdin = (tfstate ?? []).filter((s) => s === STDIN_SOURCE).length;
  if (stdin > 1) {
    return usageProblem('--tfstate', '--tfstate -: standard input can be read once; pass `-` at most once');
  }
  return undefined;
}

/**
 * `flink-watchdog drift [--app NAME] [--tfstate PATH|-|s3://BUCKET/KEY ...] [--config PATH] [--show-values]
 * [--output table|json|text] [--region R] [--profile P]`: a one-shot comparison (no debounce, no ledger) of each
 * watched application's desired state (the config, then the Terraform states) with what MSF runs, against the AWS
 * account and Region of the default credential chain (or the sandbox, via AWS_ENDPOINT_URL). A Terraform state that
 * cannot be read, or a watched application absent from it, makes that application `not compared: WHY` (exit 1), never
 * "no drift". Prints a readable block per application and the errors on stderr, {@link DriftJson} with
 * `--output json`, or tab-separated lines with `--output text` ({@link driftTextLines}).
 * @returns the exit code, see {@link DRIFT_EXIT_CODES}: 0 no drift, 2 drift found, 1 an error, 64 a usage error.
 */
export async function driftCommand(
  opts: DriftOptions,
  deps: {
    msf?: MsfPort;
    clock?: Clock;
    env?: NodeJS.ProcessEnv;
    /** Reads one Terraform state source. @default cli/context.ts terraformReader with `--region` / `--profile` */
    readTerraform?: TerraformReader;
  } = {},
): Promise<number> {
  const problems: CliProblem[] = [];
  const reports: DriftReport[] = [];
  const notCompared: NotCompared[] = [];
  let output: OutputFormat = 'table';
  let aws: AwsClientConfig = {};
  const finish = (): number => {
    if (output === 'json') {
      console.log(JSON.stringify({ applications: reports, notCompared, problems } satisfies DriftJson, null, 2));
    } else if (output === 'text') {
      for (const line of driftTextLines(reports, notCompared)) console.log(line);
    }
    for (const p of problems) console.error(formatProblem(p));
    const drifted = reports.some((r) => r.severity !== 'none');
    return exitCodeOf(problems, drifted ? DRIFT_EXIT_CODES.drift : DRIFT_EXIT_CODES.noDrift);
  };

  try {
    output = resolveOutput(opts);
    aws = awsClientConfig(opts);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    problems.push(usageProblem('--output', e.message));
    return finish();
  }
  const bad = checkSources(opts.tfstate);
  if (bad) {
    problems.push(bad);
    return finish();
  }
  const loaded = loadConfig(opts.config, deps.env);
  if (!loaded.ok) {
    problems.push(loaded.problem);
    return finish();
  }
  const narrowed = narrowConfig(loaded.config, loaded.source, opts.app);
  if ('problem' in narrowed) {
    problems.push(narrowed.problem);
    return finish();
  }
  const desired = await readDesiredStates(narrowed.config, opts.tfstate, deps.readTerraform ?? terraformReader(aws));
  problems.push(...desired.problems);
  const skip = notComparable(desired.states, desired.problems);
  if (output === 'table') {
    const from = [`watchdog config ${loaded.source}`, ...desired.sources.map((s) => `Terraform state ${s}`)];
    console.log(dim(`Desired state: ${from.join(' + ')}`));
  }

  let observed: Observed[];
  try {
    observed = await observeApplications(
      deps.msf ?? new MsfAdapter({ clientConfig: aws }),
      desired.states,
      deps.clock,
      { skip, showValues: opts.showValues === true },
    );
  } catch (e) {
    problems.push(awsProblem('msf', undefined, e));
    return finish();
  }
  for (const o of observed) {
    if (o.report) reports.push(o.report);
    if (o.problem) problems.push(o.problem);
    if (o.notCompared) notCompared.push(o.notCompared);
  }

  if (output === 'table') {
    for (const o of observed) {
      if (o.report) console.log(`\n${formatDriftReport(o.report)}`);
      else if (o.notCompared) console.log(`\n${formatNotCompared(o.notCompared)}`);
    }
    console.log(`\n${driftTotals(reports, notCompared, problems)}`);
  }
  return finish();
}
