import { type DetectionJson, detectionJson } from '#sandbox/detection-json.ts';
import { runScenario, type ScenarioReport } from '#sandbox/drill.ts';
import { listScenarios, loadScenario, loadScenarioFile, type Scenario } from '#sandbox/scenario.ts';
import { UsageError } from './context.ts';
import {
  compactTimeline,
  formatHeading,
  formatRow,
  formatSummary,
  formatVerboseLine,
  formatVerdict,
  scenarioRootCause,
} from './drill-output.ts';

/** The `--json` report of `flink-watchdog drill`. */
export interface DrillJson {
  /** Per scenario: its detection figures (see DetectionJson) and what happened. */
  scenarios: Array<
    DetectionJson & {
      name: string;
      expected: string;
      outcome: string;
      passed: boolean;
      failures: string[];
      /** The watchdog's mutating MSF calls; `accountId`: the account that answered (a member's, through its role). */
      actions: Array<{
        at: string;
        application: string;
        accountId: string;
        operation: string;
        input: unknown;
        errorType?: string;
      }>;
      mutatingCalls: number;
      /** Remediation workflow executions (the synthesized Step Functions definition, run locally). */
      workflowExecutions: Array<{
        /** The execution name: the incident id. */
        name: string;
        status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
        /** The Fail state's error, e.g. CLOSE_FAILED (an escalation ends SUCCEEDED). */
        error?: string;
        /** States entered, as Step Functions bills them, count. */
        stateTransitions: number;
      }>;
      /** Every notification per channel (slack: the local receiver; sns: the capture), and whether it was delivered. */
      notifications: Array<{ channel: string; event: string; incidentId: string; delivered: boolean }>;
      /** Notifications that asked a person to act (ESCALATED, NOTIFIED; a fleet incident opens ESCALATED), count. */
      pages: number;
      /** Remediation workflow executions RUNNING at once, the most seen at any tick, count. */
      maxConcurrentRemediations: number;
      /**
       * The first failure's exception of the scenario's restart loop (the detected incident's `rootCause`, else the
       * first incident's that has one): class, message, top frames, how it was read and when it was logged; null when
       * none was found.
       */
      rootCause: {
        incidentId: string;
        exceptionClass: string;
        message: string;
        frames: string[];
        source: 'logs-insights' | 'filter-log-events';
        logGroupName: string;
        at: string;
      } | null;
      /** Fleet incidents (correlated restart loops): their applications (keys), status and times. */
      fleetIncidents: Array<{
        id: string;
        status: 'OPEN' | 'RESOLVED' | 'ESCALATED';
        applications: string[];
        openedAt: string;
        closedAt?: string;
      }>;
    }
  >;
}

function rootCauseJson(r: ScenarioReport): DrillJson['scenarios'][number]['rootCause'] {
  const incident = scenarioRootCause(r);
  const rc = incident?.rootCause;
  if (!incident || !rc) return null;
  return {
    incidentId: incident.id,
    exceptionClass: rc.exceptionClass,
    message: rc.message,
    frames: rc.frames,
    source: rc.source,
    logGroupName: rc.logGroupName,
    at: new Date(rc.atMs).toISOString(),
  };
}

/** Turns reports into the documented JSON shape. */
export function toDrillJson(reports: ScenarioReport[]): DrillJson {
  return {
    scenarios: reports.map((r) => ({
      name: r.name,
      expected: r.expected,
      outcome: r.outcome,
      passed: r.passed,
      failures: r.failures,
      ...detectionJson(r),
      actions: r.actions.map((a) => ({
        at: new Date(a.atMs).toISOString(),
        application: a.application,
        accountId: a.accountId,
        operation: a.operation,
        input: a.input,
        ...(a.errorType ? { errorType: a.errorType } : {}),
      })),
      mutatingCalls: r.mutatingCalls,
      workflowExecutions: r.executions.map((x) => ({
        name: x.name,
        status: x.status,
        ...(x.error ? { error: x.error } : {}),
        stateTransitions: x.stateTransitions,
      })),
      notifications: r.notifications.map((d) => ({
        channel: d.channel,
        event: d.event,
        incidentId: d.incidentId,
        delivered: d.delivered,
      })),
      pages: r.pages,
      maxConcurrentRemediations: r.maxConcurrentRemediations,
      rootCause: rootCauseJson(r),
      fleetIncidents: r.fleetIncidents.map((f) => ({
        id: f.id,
        status: f.status,
        applications: f.members.map((m) => m.applicationName),
        openedAt: new Date(f.openedMs).toISOString(),
        ...(f.closedMs === undefined ? {} : { closedAt: new Date(f.closedMs).toISOString() }),
      })),
    })),
  };
}

/**
 * A scenario by bundled name (sandbox/scenarios) or by path to a `.json` file.
 * @throws UsageError for a name that is no bundled scenario (the message lists the known ones): the CLI exits 64.
 * @throws Error for a `.json` file that cannot be read or is not a valid scenario (exit 1).
 */
export function resolveScenario(nameOrPath: string): Scenario {
  if (nameOrPath.endsWith('.json')) return loadScenarioFile(nameOrPath);
  const known = listScenarios();
  if (!known.includes(nameOrPath)) {
    throw new UsageError(
      `unknown scenario "${nameOrPath}"; known scenarios: ${known.join(', ')} (or pass a path to a scenario .json file)`,
    );
  }
  return loadScenario(nameOrPath);
}

/**
 * `flink-watchdog drill [SCENARIO...]`: runs scenarios by name or by path to a .json file (default: all bundled) and
 * prints per scenario the events that matter (one line each, at most 120 columns; `verbose`: the full timeline as it
 * happens) and a summary, or JSON. Returns the exit code: 0 when every scenario met its expected outcome, 1 otherwise.
 * @throws UsageError for an unknown scenario name, before any scenario runs.
 */
export async function drillCommand(
  names: string[],
  opts: { json?: boolean; report?: string; verbose?: boolean },
): Promise<number> {
  const selected = names.length > 0 ? names : listScenarios();
  const scenarios = selected.map(resolveScenario);
  const html = opts.report === undefined ? undefined : await import('./report-html.ts');
  html?.checkReportPath(opts.report as string);
  const wallStart = performance.now();
  const reports: ScenarioReport[] = [];
  for (const s of scenarios) {
    if (!opts.json) console.log(formatHeading(s, opts.verbose === true));
    const startMs = Date.parse(s.startTime);
    const live = !opts.json && opts.verbose;
    const report = await runScenario(s, live ? { onLine: (l) => console.log(formatVerboseLine(l, startMs)) } : {});
    reports.push(report);
    if (!opts.json) {
      // --verbose printed the timeline as it happened; the recovery row (onset → RESOLVED) is the drill's own.
      const rows = compactTimeline(report).filter((row) => !opts.verbose || row.actor === 'recovery');
      for (const row of rows) console.log((opts.verbose ? formatVerboseLine : formatRow)(row, report.startMs));
    }
    if (!opts.json) console.log(formatVerdict(report));
  }
  const wallMs = performance.now() - wallStart;
  if (opts.json) console.log(JSON.stringify(toDrillJson(reports), null, 2));
  else console.log(`\n${formatSummary(reports, wallMs)}`);
  if (html && opts.report) {
    const bytes = html.writeDrillReport(opts.report, reports, scenarios);
    console.error(`report: ${opts.report} (${Math.round(bytes / 1024)} kB)`);
  }
  return reports.every((r) => r.passed) ? 0 : 1;
}
