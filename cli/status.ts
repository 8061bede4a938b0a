import { CloudWatchMetrics } from '#shared/adapters/cloudwatch.ts';
import { MsfAdapter } from '#shared/adapters/msf.ts';
import type { Clock } from '#shared/clock.ts';
import { policyFor } from '#shared/config/schema.ts';
import { countRestarts } from '#shared/domain/detect.ts';
import type { DriftReportSeverity } from '#shared/domain/drift.ts';
import type { Incident } from '#shared/domain/incident.ts';
import { type ApplicationStatus, restartMetricName } from '#shared/domain/model.ts';
import type { Ledger } from '#shared/ports/ledger.ts';
import type { MetricsPort } from '#shared/ports/metrics.ts';
import type { MsfPort } from '#shared/ports/msf.ts';
import {
  type AwsOptions,
  awsClientConfig,
  awsProblem,
  type CliProblem,
  commandClock,
  exitCodeOf,
  formatProblem,
  ledgerFor,
  loadConfig,
  mapLimit,
  type OutputOptions,
  pickResource,
  resolveOutput,
  type StackOptions,
  stackOf,
  stackProblem,
  terraformReader,
  textLine,
  type WatchdogStackOutputs,
} from './context.ts';
import { type Observed, observeApplications, paintSeverity, readDesiredStates } from './drift.ts';
import { bold, dim } from './format.ts';

const MINUTE_MS = 60_000;

/** Options of `flink-watchdog status` (commander's parsed flags). */
export interface StatusOptions extends OutputOptions, AwsOptions, StackOptions {
  /** Path of the watchdog config (same lookup as `flink-watchdog drift`). */
  config?: string;
  /** Terraform state sources for the drift column; they replace the config's `drift.terraformState`. */
  tfstate?: string[];
  /**
   * The ledger's DynamoDB table, for the open incident column.
   * @default the `--stack`'s LedgerTableName Output, else env LEDGER_TABLE_NAME; without any, `-`
   */
  table?: string;
}

/** The open incident of an application, as the ledger holds it. */
export interface StatusIncident {
  /** Incident id (also the remediation workflow's execution name). */
  id: string;
  /** REMEDIATING, or another non-terminal status. */
  status: Incident['status'];
  /** The finding's kind, e.g. RESTART_LOOP, when the incident has one. */
  finding?: string;
  /** When the incident was opened, ISO 8601. */
  openedAt: string;
}

/** One watched application's line. */
export interface StatusLine {
  /** MSF `ApplicationName`. */
  applicationName: string;
  /** `ApplicationStatus` (ListApplications); null when the application is not in this account and region. */
  status: ApplicationStatus | null;
  /** `ApplicationVersionId`; null when the application is not found. */
  applicationVersion: number | null;
  /**
   * Restarts in the last `windowMinutes` (policy `restartLoop.windowMinutes`), counted from the cumulative
   * `fullRestarts` (`numRestarts` on FLINK-2_x) in namespace AWS/KinesisAnalytics; null when not found or when
   * GetMetricData failed.
   */
  restarts: { count: number; metricName: 'fullRestarts' | 'numRestarts'; windowMinutes: number } | null;
  /** The ledger's open incident, null when none is open; absent when no ledger table was given. */
  openIncident?: StatusIncident | null;
  /** The drift severity against the desired state (`none` for no drift); null when it could not be compared. */
  drift: DriftReportSeverity | null;
}

/** The `--json` output of `flink-watchdog status`. */
export interface StatusJson {
  /** The watchdog of `--stack`: its stack, OutputKey prefix and Output values; absent without `--stack`. */
  watchdog?: WatchdogStackOutputs;
  applications: StatusLine[];
  /** What could not be read; non-empty means exit code 1. */
  problems: CliProblem[];
}

/** Adapters {@link statusCommand} uses; each defaults to the AWS SDK one with `--region` / `--profile`. */
export interface StatusDeps {
  msf?: MsfPort;
  metrics?: MetricsPort;
  /** Built from `--table` / the stack's Output / LEDGER_TABLE_NAME when absent. */
  ledger?: Ledger;
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
}

/**
 * Restarts in `[nowMs - windowMinutes, nowMs]` from a cumulative counter: the newest datapoint before the window is
 * the baseline of the first increase inside it (as the detector counts).
 */
async function restartsInWindow(
  metrics: MetricsPort,
  name: string,
  runtimeEnvironment: string,
  windowMinutes: number,
  nowMs: number,
): Promise<NonNullable<StatusLine['restarts']>> {
  const metricName = restartMetricName(runtimeEnvironment);
  const windowStart = nowMs - windowMinutes * MINUTE_MS;
  // Two more periods before the window, for a baseline.
  const series = (await metrics.getSeries(name, [metricName], windowStart - 2 * MINUTE_MS, nowMs))[metricName];
  const points = series?.points ?? [];
  const before = points.filter((p) => p.timestampMs < windowStart).at(-1);
  const inside = points.filter((p) => p.timestampMs >= windowStart);
  const counted = countRestarts(series && { ...series, points: before ? [before, ...inside] : inside });
  return { count: counted.restarts, metricName, windowMinutes };
}

function toStatusIncident(i: Incident | undefined): StatusIncident | null {
  if (!i) return null;
  return {
    id: i.id,
    status: i.status,
    ...(i.finding ? { finding: i.finding.kind } : {}),
    openedAt: new Date(i.openedMs).toISOString(),
  };
}

async function statusLine(
  o: Observed,
  deps: { metrics: MetricsPort; ledger: Ledger | undefined; windowMinutes: number; nowMs: number },
): Promise<{ line: StatusLine; problems: CliProblem[] }> {
  const name = o.desired.applicationName;
  const problems: CliProblem[] = o.problem ? [o.problem] : [];
  const line: StatusLine = {
    applicationName: name,
    status: o.summary?.status ?? null,
    applicationVersion: o.summary?.versionId ?? null,
    restarts: null,
    drift: o.report?.severity ?? null,
  };
  const [restarts, incident] = await Promise.allSettled([
    o.summary
      ? restartsInWindow(
          deps.metrics,
          name,
          o.actual?.runtimeEnvironment ?? o.summary.runtimeEnvironment,
          deps.windowMinutes,
          deps.nowMs,
        )
      : Promise.resolve(null),
    deps.ledger ? deps.ledger.openIncident(name) : Promise.resolve(undefined),
  ]);
  if (restarts.status === 'fulfilled') line.restarts = restarts.value;
  else problems.push(awsProblem('cloudwatch', name, restarts.reason));
  if (deps.ledger) {
    if (incident.status === 'fulfilled') line.openIncident = toStatusIncident(incident.value);
    else problems.push(awsProblem('ledger', name, incident.reason));
  }
  return { line, problems };
}

/** The table: a header, then one line per application. */
export function formatStatusTable(lines: readonly StatusLine[]): string {
  const rows = lines.map((l) => [
    l.applicationName,
    l.status ?? 'NOT FOUND',
    l.applicationVersion === null ? '-' : String(l.applicationVersion),
    l.restarts === null ? '?' : `${l.restarts.count} in ${l.restarts.windowMinutes} min`,
    l.openIncident === undefined
      ? '-'
      : l.openIncident === null
        ? 'none'
        : `${l.openIncident.id} ${l.openIncident.status}${l.openIncident.finding ? ` (${l.openIncident.finding})` : ''}`,
    l.drift ?? '?',
  ]);
  const header = ['APPLICATION', 'STATUS', 'VERSION', 'RESTARTS', 'INCIDENT', 'DRIFT'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  // Pads every cell but the last (the drift severity), which may be coloured.
  const pad = (cells: string[]) => cells.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ');
  return [
    bold(`${pad(header.slice(0, -1))}  DRIFT`),
    ...rows.map((r, i) => {
      const drift = lines[i]?.drift;
      return `${pad(r.slice(0, -1))}  ${drift === undefined || drift === null ? '?' : paintSeverity(drift)}`;
    }),
  ].join('\n');
}

/**
 * `--output text`: one tab-separated line per application: name, ApplicationStatus (`NOT_FOUND`), version, restarts
 * in the window, the window in minutes, the open incident id (`none`; `-` without a ledger table), drift severity.
 */
export function formatStatusText(lines: readonly StatusLine[]): string {
  return lines
    .map((l) =>
      textLine([
        l.applicationName,
        l.status ?? 'NOT_FOUND',
        l.applicationVersion,
        l.restarts?.count ?? '?',
        l.restarts?.windowMinutes,
        l.openIncident === undefined ? '-' : (l.openIncident?.id ?? 'none'),
        l.drift ?? '?',
      ]),
    )
    .join('\n');
}

/**
 * `flink-watchdog status [--config PATH] [--tfstate PATH|s3://BUCKET/KEY ...] [--table NAME] [--stack NAME
 * [--watchdog PREFIX]] [--region R] [--profile P] [--output table|json|text]`: one line per watched application:
 * ApplicationStatus and ApplicationVersionId (ListApplications), restarts in the last `restartLoop.windowMinutes`
 * (CloudWatch GetMetricData on fullRestarts / numRestarts), the open incident (the ledger table of `--table`, else the
 * stack's LedgerTableName Output, else LEDGER_TABLE_NAME; `-` without one) and the drift severity (compareDesired
 * against the config and the Terraform state files, as `flink-watchdog drift`). Prints a table,
 * {@link StatusJson} with `--output json`, or {@link formatStatusText} lines with `--output text`; errors go to
 * stderr.
 * @returns the exit code: 0; 1 when anything could not be read (config, state file, the stack or its Outputs, an
 *   AWS call, an application missing from the account); 64 for a bad option.
 */
export async function statusCommand(opts: StatusOptions, deps: StatusDeps = {}): Promise<number> {
  const env = deps.env ?? process.env;
  const clock = deps.clock ?? (await commandClock(env));
  const output = resolveOutput(opts);
  const aws = awsClientConfig(opts);
  const problems: CliProblem[] = [];
  const lines: StatusLine[] = [];
  let watchdog: WatchdogStackOutputs | undefined;
  const finish = (): number => {
    if (output === 'json') {
      const json: StatusJson = { ...(watchdog ? { watchdog } : {}), applications: lines, problems };
      console.log(JSON.stringify(json, null, 2));
    } else if (output === 'text') {
      if (lines.length > 0) console.log(formatStatusText(lines));
    } else if (lines.length > 0) console.log(formatStatusTable(lines));
    for (const p of problems) console.error(formatProblem(p));
    return exitCodeOf(problems);
  };

  const loaded = loadConfig(opts.config, env);
  if (!loaded.ok) {
    problems.push(loaded.problem);
    return finish();
  }
  const { config } = loaded;
  let table: string | undefined;
  try {
    watchdog = await stackOf(opts, aws);
    table = pickResource(opts.table, watchdog, 'LedgerTableName', '--table', env.LEDGER_TABLE_NAME, true);
  } catch (e) {
    problems.push(stackProblem(e, opts.stack));
    return finish();
  }
  const desired = await readDesiredStates(config, opts.tfstate, terraformReader(aws));
  problems.push(...desired.problems);
  const ledger = deps.ledger ?? (table ? await ledgerFor(table, aws) : undefined);
  const metrics = deps.metrics ?? new CloudWatchMetrics({ clientConfig: aws });

  let observed: Observed[];
  try {
    observed = await observeApplications(deps.msf ?? new MsfAdapter({ clientConfig: aws }), desired.states, clock);
  } catch (e) {
    problems.push(awsProblem('msf', undefined, e));
    return finish();
  }
  const nowMs = clock.now();
  const results = await mapLimit(observed, 4, (o) =>
    statusLine(o, {
      metrics,
      ledger,
      windowMinutes: policyFor(config, o.desired.applicationName).restartLoop.windowMinutes,
      nowMs,
    }),
  );
  for (const r of results) {
    lines.push(r.line);
    problems.push(...r.problems);
  }
  if (output === 'table') {
    const from = [`watchdog config ${loaded.source}`, ...desired.sources.map((s) => `Terraform state ${s}`)];
    if (watchdog) {
      const v = watchdog.values;
      const parts = [
        `stack ${watchdog.stackName}${watchdog.prefix ? ` (${watchdog.prefix})` : ''}`,
        ...(table ? [`ledger table ${table}`] : []),
        ...(v.DashboardName ? [`dashboard ${v.DashboardName}`] : []),
      ];
      console.log(dim(`Watchdog: ${parts.join(', ')}`));
    }
    console.log(
      dim(
        `Desired state: ${from.join(' + ')}${ledger ? '' : '; no ledger table (--table or --stack), incidents not shown'}`,
      ),
    );
  }
  return finish();
}
