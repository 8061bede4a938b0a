import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { MsfAdapter } from '#shared/adapters/msf.ts';
import { systemClock } from '#shared/adapters/system-clock.ts';
import type { Clock } from '#shared/clock.ts';
import { ConfigError, parseConfig, type WatchdogConfig } from '#shared/config/schema.ts';
import { loadDesiredStates, type TerraformReader } from '#shared/desired/sources.ts';
import { readTerraformState, TerraformStateReadError } from '#shared/desired/terraform-source.ts';
import type { DesiredApplicationState } from '#shared/domain/desired.ts';
import { compareDesired, type DriftReport, type DriftReportSeverity } from '#shared/domain/drift.ts';
import type { ApplicationState } from '#shared/domain/model.ts';
import { packageRoot } from '#shared/package-root.ts';
import { type ApplicationSummary, MsfApiError, type MsfPort } from '#shared/ports/msf.ts';
import { bold, dim, green, red } from './format.ts';

/**
 * Exit codes of `flink-watchdog drift`, as `terraform plan -detailed-exitcode`: 0 nothing drifts, 1 an error (the
 * config, a desired-state source or an AWS call), 2 drift found. An error wins over drift.
 */
export const DRIFT_EXIT_CODES = { noDrift: 0, error: 1, drift: 2 } as const;

/** The config file looked for in the working directory when neither `--config` nor the environment names one. */
export const DEFAULT_CONFIG_FILE = 'flink-watchdog.config.json';
/** The bundled example config, used (with a note on stderr) when {@link DEFAULT_CONFIG_FILE} is absent. */
export const EXAMPLE_CONFIG_FILE = 'flink-watchdog.config.example.json';
const PACKAGE_ROOT = packageRoot();

/** Applications described at the same time (each costs DescribeApplication, ListApplicationOperations, ...). */
const CONCURRENCY = 4;

/** Something that kept the CLI from giving a complete answer; each one makes the exit code 1. */
export interface CliProblem {
  /**
   * `config`: the watchdog config could not be read or does not validate; `desired-state`: a Terraform state file
   * (corrupt, missing, another format version) or a watched application absent from it; `aws`: an MSF, CloudWatch or
   * DynamoDB call failed, or a watched application is not in this account and region.
   */
  kind: 'config' | 'desired-state' | 'aws';
  /** The config file, the Terraform state path or `s3://BUCKET/KEY`, or the service (`msf`, `cloudwatch`, `ledger`). */
  location: string;
  /** The application concerned, or the Terraform resource address. */
  address?: string;
  /** A sentence naming the file or the application and what is wrong. */
  message: string;
}

/** The `--json` output of `flink-watchdog drift`. */
export interface DriftJson {
  /** One report per compared application, in config order; environment property values are masked (`***`). */
  applications: DriftReport[];
  /** What could not be read or compared; non-empty means exit code 1. */
  problems: CliProblem[];
}

/** Options of `flink-watchdog drift` (commander's parsed flags). */
export interface DriftOptions {
  /** Only this watched application (MSF ApplicationName). */
  app?: string;
  /** Terraform state sources (local paths or `s3://BUCKET/KEY`); they replace the config's `drift.terraformState`. */
  tfstate?: string[];
  /**
   * Path of the watchdog config.
   * @default WATCHDOG_CONFIG (JSON) or WATCHDOG_CONFIG_PATH, else ./flink-watchdog.config.json, else the example
   */
  config?: string;
  /** Print {@link DriftJson} instead of readable blocks. */
  json?: boolean;
}

/** A loaded watchdog config and where it came from (a path relative to the working directory, or a variable name). */
export type LoadedConfig =
  | { ok: true; config: WatchdogConfig; source: string }
  | { ok: false; source: string; problem: CliProblem };

/**
 * Finds and validates the watchdog config: `path` (the `--config` flag), else the environment (`WATCHDOG_CONFIG` as
 * JSON, then `WATCHDOG_CONFIG_PATH`), else `./flink-watchdog.config.json`, else the bundled example config, in which
 * case `note` receives a sentence saying so (the CLI writes it to stderr).
 * @returns the config, or a `config` problem naming the file (unreadable, not JSON, or each invalid field).
 */
export function loadCliConfig(
  path: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  note: (line: string) => void = (line) => console.error(line),
): LoadedConfig {
  let source: string;
  let text: string;
  if (path === undefined && env.WATCHDOG_CONFIG !== undefined) {
    source = 'WATCHDOG_CONFIG';
    text = env.WATCHDOG_CONFIG;
  } else {
    const file = path ?? env.WATCHDOG_CONFIG_PATH ?? defaultConfigFile(note);
    source = displayPath(file);
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'a directory' : (code ?? String(e));
      const message = `watchdog config ${source}: cannot read it (${why})`;
      return { ok: false, source, problem: { kind: 'config', location: source, message } };
    }
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return {
      ok: false,
      source,
      problem: {
        kind: 'config',
        location: source,
        message: `watchdog config ${source}: not readable JSON (${(e as Error).message})`,
      },
    };
  }
  try {
    return { ok: true, config: parseConfig(raw, source), source };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const message = `invalid watchdog configuration in ${source}:\n${e.issues.map((i) => `  - ${i}`).join('\n')}`;
    return { ok: false, source, problem: { kind: 'config', location: source, message } };
  }
}

/** A path relative to the working directory when it lies below it, else absolute. */
function displayPath(file: string): string {
  const rel = relative(process.cwd(), resolve(file));
  return rel === '' || rel.startsWith('..') ? resolve(file) : rel;
}

function defaultConfigFile(note: (line: string) => void): string {
  if (existsSync(DEFAULT_CONFIG_FILE)) return DEFAULT_CONFIG_FILE;
  note(
    `note: ${DEFAULT_CONFIG_FILE} not found in ${process.cwd()}; using ${EXAMPLE_CONFIG_FILE}. Pass --config PATH (or set WATCHDOG_CONFIG_PATH) to watch your own applications.`,
  );
  return join(PACKAGE_ROOT, EXAMPLE_CONFIG_FILE);
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
 * of `tfstate` (or of the config's `drift.terraformState` when `tfstate` is undefined or empty). With more than one
 * state file, a listed application declared in none of them is a problem too (with one file, loadDesiredStates says
 * so itself). Never throws: a read fault (network, throttling) becomes a `desired-state` problem naming the source.
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
  if (sources.length > 1 && problems.length === 0) {
    for (const s of desired.states) {
      if (s.source.kind !== 'terraform') {
        problems.push({
          kind: 'desired-state',
          location: sources.join(', '),
          address: s.applicationName,
          message: `${s.applicationName} is watched but absent from every Terraform state (${sources.join(', ')})`,
        });
      }
    }
  }
  return { states: desired.states, problems, sources };
}

/** One application as observed for the CLI: the summary, and the comparison when it could be made. */
export interface Observed {
  desired: DesiredApplicationState;
  /** From ListApplications; undefined when the application is not in this account and region. */
  summary?: ApplicationSummary;
  /** From DescribeApplication. */
  actual?: ApplicationState;
  report?: DriftReport;
  problem?: CliProblem;
}

/**
 * Lists the applications once (ListApplications), then for each desired state describes the application
 * (DescribeApplication, ListApplicationOperations) and compares it with compareDesired, up to 4 at a time. One-shot:
 * no debounce, no ledger.
 * @returns one entry per desired state, in order; `problem` is set when the application is missing from the account
 *   or a call failed for it.
 * @throws MsfApiError when ListApplications itself fails (credentials, region, endpoint).
 */
export async function observeApplications(
  msf: MsfPort,
  states: readonly DesiredApplicationState[],
  clock: Clock = systemClock,
): Promise<Observed[]> {
  const summaries = new Map((await msf.listApplications()).map((s) => [s.name, s]));
  return mapLimit(states, CONCURRENCY, async (desired): Promise<Observed> => {
    const name = desired.applicationName;
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
      const report = compareDesired(desired, actual, { operations, nowMs: clock.now() });
      return { desired, summary, actual, report };
    } catch (e) {
      return { desired, summary, problem: awsProblem('msf', name, e) };
    }
  });
}

/** A hint for the usual causes of a first call failing: no region, no credentials, no endpoint. */
function hint(message: string): string {
  if (/region is missing/i.test(message)) return ' (set AWS_REGION or a profile with a region)';
  if (/credential/i.test(message)) return ' (no AWS credentials found by the default credential chain)';
  if (/ECONNREFUSED/.test(message)) return ' (is AWS_ENDPOINT_URL pointing at a running `flink-watchdog sandbox`?)';
  return '';
}

/** An `aws` problem from a failed call; MsfApiError messages already name the operation and the application. */
export function awsProblem(location: string, application: string | undefined, e: unknown): CliProblem {
  if (application === undefined && e instanceof MsfApiError) {
    const cause = e.cause instanceof Error ? e.cause.message : e.message;
    const message = `MSF ${e.operation} failed: ${e.code}: ${cause}${hint(cause)}`;
    return { kind: 'aws', location, message };
  }
  const message = e instanceof Error ? e.message + hint(e.message) : String(e);
  const named = application === undefined || message.includes(application) ? message : `${application}: ${message}`;
  return { kind: 'aws', location, ...(application === undefined ? {} : { address: application }), message: named };
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Colours a severity for a terminal: none green, status red, the rest bold. */
export function paintSeverity(s: DriftReportSeverity): string {
  if (s === 'none') return green(s);
  return s === 'status' || s === 'code/version' ? red(s) : bold(s);
}

/** Where a desired state was read, for a header line: `Terraform state PATH (ADDRESS)` or `watchdog config`. */
function describeSource(report: DriftReport): string {
  const s = report.source;
  if (s.kind === 'terraform') return `Terraform state ${s.location}${s.address ? ` (${s.address})` : ''}`;
  if (s.kind === 'tag') return `tag ${s.location}`;
  return s.location;
}

/**
 * A readable block for one report: the name and severity, the source, each drifted field (desired, actual, the
 * explanation, the changed keys), the ignored differences and the summary. Never contains a property value: the
 * report's display strings are masked by compareDesired.
 */
export function formatDriftReport(report: DriftReport): string {
  const lines = [
    `${bold(`━━ ${report.applicationName}`)} — ${report.severity === 'none' ? green('no drift') : `drift: ${paintSeverity(report.severity)}`}`,
    dim(`   declared by ${describeSource(report)}`),
  ];
  for (const f of report.fields) {
    lines.push(`   ~ ${bold(f.field)} [${paintSeverity(f.severity)}]`);
    lines.push(`       desired: ${f.desired}`);
    lines.push(`       actual:  ${f.actual}`);
    if (f.changedKeys?.length) lines.push(`       changed: ${f.changedKeys.join(', ')}`);
    lines.push(`       ${f.explanation}`);
  }
  for (const i of report.ignoredDifferences) lines.push(dim(`   ignored: ${i}`));
  lines.push(`   ${report.summary}`);
  return lines.join('\n');
}

/** A problem for stderr: `error: MESSAGE`. */
export function formatProblem(p: CliProblem): string {
  return `${red('error:')} ${p.message}`;
}

/**
 * `flink-watchdog drift [--app NAME] [--tfstate PATH|s3://BUCKET/KEY ...] [--config PATH] [--json]`: a one-shot
 * comparison (no debounce, no ledger) of each watched application's desired state (the config, then the Terraform
 * state files) with what MSF runs, against the AWS account and region of the default credential chain (or the
 * sandbox, via AWS_ENDPOINT_URL). Prints a readable block per application and the errors on stderr, or
 * {@link DriftJson} with `--json`.
 * @returns the exit code, see {@link DRIFT_EXIT_CODES}: 0 no drift, 2 drift found, 1 an error.
 */
export async function driftCommand(
  opts: DriftOptions,
  deps: { msf?: MsfPort; clock?: Clock; env?: NodeJS.ProcessEnv } = {},
): Promise<number> {
  const problems: CliProblem[] = [];
  const reports: DriftReport[] = [];
  const finish = (): number => {
    if (opts.json) console.log(JSON.stringify({ applications: reports, problems } satisfies DriftJson, null, 2));
    for (const p of problems) console.error(formatProblem(p));
    if (problems.length > 0) return DRIFT_EXIT_CODES.error;
    return reports.some((r) => r.severity !== 'none') ? DRIFT_EXIT_CODES.drift : DRIFT_EXIT_CODES.noDrift;
  };

  const loaded = loadCliConfig(opts.config, deps.env);
  if (!loaded.ok) {
    problems.push(loaded.problem);
    return finish();
  }
  const narrowed = narrowConfig(loaded.config, loaded.source, opts.app);
  if ('problem' in narrowed) {
    problems.push(narrowed.problem);
    return finish();
  }
  const desired = await readDesiredStates(narrowed.config, opts.tfstate);
  problems.push(...desired.problems);
  if (!opts.json) {
    const from = [`watchdog config ${loaded.source}`, ...desired.sources.map((s) => `Terraform state ${s}`)];
    console.log(dim(`Desired state: ${from.join(' + ')}`));
  }

  let observed: Observed[];
  try {
    observed = await observeApplications(deps.msf ?? new MsfAdapter(), desired.states, deps.clock);
  } catch (e) {
    problems.push(awsProblem('msf', undefined, e));
    return finish();
  }
  for (const o of observed) {
    if (o.report) reports.push(o.report);
    if (o.problem) problems.push(o.problem);
  }

  if (!opts.json) {
    for (const r of reports) console.log(`\n${formatDriftReport(r)}`);
    const drifted = reports.filter((r) => r.severity !== 'none').length;
    const errors = problems.length === 0 ? '' : `, ${problems.length} error${problems.length === 1 ? '' : 's'}`;
    console.log(
      `\n${bold('Drift')}: ${reports.length} application${reports.length === 1 ? '' : 's'} compared, ${drifted === 0 ? green('no drift') : red(`${drifted} drifted`)}${errors}.`,
    );
  }
  return finish();
}
