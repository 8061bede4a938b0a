import { type DetectionJson, detectionJson } from '#sandbox/detection-json.ts';
import type { ScenarioReport } from '#sandbox/drill.ts';
import { AWS_DOWNTIME_RULE_DESCRIPTION, OPERATOR_RULE_DESCRIPTION } from '#sandbox/peers.ts';
import { BUNDLE_GOALS, type BundleFigures, type BundleRun } from './bundles.ts';
import type { FleetCost } from './cost-model.ts';
import type { FleetFigures } from './fleet.ts';
import type { ReconcileFigures } from './reconcile.ts';

/**
 * The figures of `npm run bench`, and their two renderings: the text tables and the one JSON object of
 * `npm run bench -- --json`. Pure: measuring is bench/run.ts's job.
 */

/** The emulator's CloudWatch timing a scenario ran with, whole seconds (the scenario's `cloudwatch` setting). */
export interface CloudWatchTiming {
  /** A minute's MSF datapoints are stored this long after the minute ends. */
  metricsDelaySeconds: number;
  /** Alarms are evaluated this long after each minute boundary. */
  alarmEvaluationOffsetSeconds: number;
}

/** What the bench keeps of one drill run (a subset of ScenarioReport, so a test can build one by hand). */
export type BenchScenarioRun = Pick<
  ScenarioReport,
  | 'name'
  | 'expected'
  | 'outcome'
  | 'passed'
  | 'detectionOnset'
  | 'detectionSeconds'
  | 'firstActionSeconds'
  | 'recoverySeconds'
  | 'peers'
  | 'restartLoop'
  | 'detectorCpuMs'
  | 'wallMs'
> & {
  /** Per remediation workflow execution. */
  executions: ReadonlyArray<{ stateTransitions: number; steps: number }>;
};

/** One scenario's figures, as measured. */
export interface BenchScenario {
  run: BenchScenarioRun;
  cloudwatch: CloudWatchTiming;
}

/** The decision's own CPU time (evaluate + decide, no I/O) over many synthetic alarm events. */
export interface DecisionFigures {
  /** Events decided, count. */
  events: number;
  /** Mean wall time per event, µs. */
  meanWallMicros: number;
  /** Median of process.cpuUsage per event, ms (limited by cpuUsage's granularity). */
  cpuMedianMs: number;
}

/** Everything `npm run bench` measured. */
export interface BenchFigures {
  /** The emulator's default CloudWatch timing (sandbox/emulator/index.ts), for scenarios that set none. */
  cloudwatchDefaults: CloudWatchTiming;
  scenarios: BenchScenario[];
  decision: DecisionFigures;
  /** The built Lambda bundles and the Node that imported them, or why they could not be measured. */
  bundles: BundleRun | { error: string };
  reconcile: ReconcileFigures[];
  /** The fleet bench (bench/fleet.ts) with its bill, or why it could not be measured. */
  fleet: (FleetFigures & { cost: FleetCost }) | { error: string };
}

/** Median, 95th percentile and maximum of a sample (0 for an empty one). */
export function stats(xs: readonly number[]): { median: number; p95: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  return { median: at(0.5), p95: at(0.95), max: s.at(-1) ?? 0 };
}

/** One scenario in `bench --json` (its detection figures as in `drill --json`). */
export interface BenchScenarioJson extends DetectionJson {
  name: string;
  expected: string;
  outcome: string;
  passed: boolean;
  /** The CloudWatch timing this scenario ran with. */
  cloudwatch: CloudWatchTiming;
  /** Detector invocations (alarm events and sweeps), count, and their CPU time per event, ms. */
  detector: { events: number; cpuMedianMs: number; cpuP95Ms: number };
  /** Per remediation workflow execution: state transitions (Step Functions bills these) and steps (Lambda calls). */
  workflowExecutions: Array<{ stateTransitions: number; steps: number }>;
  /** Wall time of the scenario, ms. */
  wallMs: number;
}

/** `npm run bench -- --json`: one object. */
export interface BenchJson {
  schemaVersion: 1;
  /** Units: seconds of virtual time for detection/recovery, ms for CPU and wall time, kB for bundles. */
  cloudwatchDefaults: CloudWatchTiming;
  /** The peer rules and the settings they ran with. */
  peerRules: { operatorHealthCheck: string; awsDowntimeAlarm: string };
  scenarios: BenchScenarioJson[];
  decision: DecisionFigures;
  /** Per built Lambda function (dist/lambda/<name>/): kB (all code), initKb (loaded at cold import), coldInitMs. */
  bundles: BundleFigures[] | { error: string };
  /** The Node version the cold imports ran on (`v22.x` when Node 22 could be had), null when bundles failed. */
  bundleNode: string | null;
  /** The goals per function the bundles are compared with: kB ≤ 600, coldInitMs ≤ 100. */
  bundleGoals: typeof BUNDLE_GOALS;
  reconcile: ReconcileFigures[];
  /**
   * 1,000 applications in 10 accounts, steady state (bench/fleet.ts): sweep duration in virtual seconds, calls per
   * sweep, and the monthly cost per application with its bill (USD, bench/cost-model.ts, priced at the steady-state
   * sweep's measured usage); `worstCaseSweep`: the same figures for a sweep that flags every application.
   */
  fleet: (FleetFigures & { monthlyUsd: number; bill: Array<{ item: string; monthlyUsd: number }> }) | { error: string };
}

/** The figures as the one JSON object of `bench --json` (plain data: JSON.stringify keeps all of it). */
export function toBenchJson(f: BenchFigures): BenchJson {
  return {
    schemaVersion: 1,
    cloudwatchDefaults: { ...f.cloudwatchDefaults },
    peerRules: { operatorHealthCheck: OPERATOR_RULE_DESCRIPTION, awsDowntimeAlarm: AWS_DOWNTIME_RULE_DESCRIPTION },
    scenarios: f.scenarios.map(({ run: r, cloudwatch }) => {
      const cpu = stats(r.detectorCpuMs);
      return {
        name: r.name,
        expected: r.expected,
        outcome: r.outcome,
        passed: r.passed,
        ...detectionJson(r),
        cloudwatch: { ...cloudwatch },
        detector: { events: r.detectorCpuMs.length, cpuMedianMs: round(cpu.median), cpuP95Ms: round(cpu.p95) },
        workflowExecutions: r.executions.map((x) => ({ stateTransitions: x.stateTransitions, steps: x.steps })),
        wallMs: r.wallMs,
      };
    }),
    decision: { ...f.decision },
    bundles: 'error' in f.bundles ? { error: f.bundles.error } : f.bundles.bundles.map((b) => ({ ...b })),
    bundleNode: 'error' in f.bundles ? null : f.bundles.node,
    bundleGoals: { ...BUNDLE_GOALS },
    reconcile: f.reconcile.map((c) => ({ ...c })),
    fleet: 'error' in f.fleet ? { error: f.fleet.error } : fleetJson(f.fleet),
  };
}

function fleetJson({ cost, ...figures }: FleetFigures & { cost: FleetCost }): BenchJson['fleet'] {
  return {
    ...figures,
    msfCallsPerSweep: { ...figures.msfCallsPerSweep },
    firstSweep: { ...figures.firstSweep },
    flaggedBySweep: [...figures.flaggedBySweep],
    worstCaseSweep: { ...figures.worstCaseSweep, msfCalls: { ...figures.worstCaseSweep.msfCalls } },
    monthlyUsd: round(cost.monthlyUsd, 2),
    bill: cost.lines.map((l) => ({ item: l.item, monthlyUsd: round(l.monthlyUsd, 4) })),
  };
}

/**
 * The bundle table of the text output: per function all code kB, kB loaded at cold import, cold import ms, and
 * whether each meets its goal ({@link BUNDLE_GOALS}: ≤ 600 kB, ≤ 100 ms on Node 22; a figure from another Node says
 * so instead of met/not met for the time).
 */
export function bundleTableLines(run: BundleRun): string[] {
  const onNode22 = run.node.startsWith('v22.');
  const met = (ok: boolean) => (ok ? 'met' : 'NOT MET');
  const lines = [
    `  cold import on Node ${run.node}${onNode22 ? '' : " (not Node 22, the functions' runtime: the time goal is not judged)"}; goals: ≤ ${BUNDLE_GOALS.kB} kB, ≤ ${BUNDLE_GOALS.coldInitMs} ms`,
    `  ${'function'.padEnd(14)} ${'kB'.padStart(8)} ${'init kB'.padStart(8)} ${'cold init ms'.padStart(12)}  ${'size goal'.padEnd(9)} time goal`,
  ];
  for (const b of run.bundles) {
    const time = onNode22 ? met(b.coldInitMs <= BUNDLE_GOALS.coldInitMs) : 'not judged';
    lines.push(
      `  ${b.name.padEnd(14)} ${b.kB.toFixed(1).padStart(8)} ${b.initKb.toFixed(1).padStart(8)} ${b.coldInitMs.toFixed(1).padStart(12)}  ${met(b.kB <= BUNDLE_GOALS.kB).padEnd(9)} ${time}`,
    );
  }
  return lines;
}

/** The fleet bench's lines of the text output (goals beside the figures; never tuned to them). */
export function fleetTableLines(f: FleetFigures): string[] {
  return [
    `  applications ${f.applications} in ${f.accounts} accounts; steady-state sweep (the last; throttled, adaptive retries):`,
    `  ${'sweep, virtual s (goal ≤ 60)'.padEnd(44)} ${f.sweepVirtualSeconds.toFixed(1).padStart(8)}${f.sweepTimedOut ? ' TIMED OUT' : ''}`,
    `  ${'MSF calls per account, max / mean (goal ≤ 50)'.padEnd(44)} ${`${f.msfCallsPerSweep.max} / ${f.msfCallsPerSweep.mean.toFixed(1)}`.padStart(8)}`,
    `  ${'GetMetricData calls (metrics)'.padEnd(44)} ${`${f.getMetricDataCallsPerSweep} (${f.getMetricDataMetricsPerSweep})`.padStart(8)}`,
    `  ${'flagged + rotated / batches / throttled'.padEnd(44)} ${`${f.flagged} + ${f.rotated} / ${f.batches} / ${f.throttledPerSweep}`.padStart(8)}`,
    `  ${'remediations at once, max'.padEnd(44)} ${String(f.maxConcurrentRemediations).padStart(8)}`,
    `  ${'$ per application-month (goal ≤ 0.25)'.padEnd(44)} ${f.costPerApplicationMonthUsd.toFixed(3).padStart(8)}`,
    `  worst case: every restart alarm set to ALARM before the sweep, so every application is looked at closely:`,
    `  ${'sweep, virtual s (goal ≤ 60)'.padEnd(44)} ${f.worstCaseSweep.virtualSeconds.toFixed(1).padStart(8)}${f.worstCaseSweep.timedOut ? ' TIMED OUT (state machine timeout)' : ''}`,
    `  ${'MSF calls per account, max / mean'.padEnd(44)} ${`${f.worstCaseSweep.msfCalls.max} / ${f.worstCaseSweep.msfCalls.mean.toFixed(1)}`.padStart(8)}`,
    `  ${'GetMetricData calls (metrics)'.padEnd(44)} ${`${f.worstCaseSweep.getMetricDataCalls} (${f.worstCaseSweep.getMetricDataMetrics})`.padStart(8)}`,
    `  ${'flagged + rotated / batches / throttled'.padEnd(44)} ${`${f.worstCaseSweep.flagged} + ${f.worstCaseSweep.rotated} / ${f.worstCaseSweep.batches} / ${f.worstCaseSweep.throttled}`.padStart(8)}`,
    `  first sweep (discovery, alarms created): MSF calls in the busiest account ${f.firstSweep.msfCallsMax}, CloudWatch calls ${f.firstSweep.cloudWatchCalls}, ${f.firstSweep.flagged} flagged; flagged by the later sweeps: ${f.flaggedBySweep.join(', ')}; wall ${(f.wallMs / 1000).toFixed(0)} s`,
  ];
}

const round = (n: number, digits = 3) => Number(n.toFixed(digits));
const fmt = (n: number | null, digits = 0) => (n === null ? '-' : n.toFixed(digits));

/** Header lines of the scenario table. */
export function scenarioTableHeader(defaults: CloudWatchTiming): string[] {
  return [
    `Drill scenarios (virtual time; CloudWatch: metrics stored ${defaults.metricsDelaySeconds} s after their minute, alarms evaluated ${defaults.alarmEvaluationOffsetSeconds} s after it, unless a scenario says otherwise)`,
    '  detect = onset → decision; 1st act = onset → first mutating MSF call; recover = onset → RESOLVED;',
    '  after seen = decision − (end of the period whose datapoint shows the threshold-th restart + metrics delay);',
    "  restarts@act = the looping job's restart count at the first mutating call (both for restart loops only);",
    `  peers on the same run: operator = ${OPERATOR_RULE_DESCRIPTION};`,
    `  AWS = ${AWS_DOWNTIME_RULE_DESCRIPTION}; '-' = no incident / not detected`,
    `  ${'scenario'.padEnd(26)} ${'outcome'.padEnd(11)} ${'onset'.padEnd(20)} ${'detect s'.padStart(8)} ${'1st act s'.padStart(9)} ${'recover s'.padStart(9)} ${'after seen s'.padStart(12)} ${'restarts@act'.padStart(12)} ${'operator s'.padStart(10)} ${'AWS s'.padStart(6)} ${'cw delay/offset'.padStart(15)} ${'events'.padStart(6)} ${'cpu/event ms (median/p95)'.padStart(26)} ${'transitions'.padStart(11)} ${'steps'.padStart(5)} ${'wall ms'.padStart(8)}`,
  ];
}

/** One row of the scenario table. */
export function scenarioTableRow({ run: r, cloudwatch }: BenchScenario): string {
  const cpu = stats(r.detectorCpuMs);
  // Per remediation (workflow execution); a scenario without one shows '-'.
  const per = (f: (x: { stateTransitions: number; steps: number }) => number) =>
    r.executions.length ? r.executions.map(f).join('+') : '-';
  return `  ${r.name.padEnd(26)} ${r.outcome.padEnd(11)} ${(r.detectionOnset?.rule ?? '-').padEnd(20)} ${fmt(r.detectionSeconds).padStart(8)} ${fmt(r.firstActionSeconds).padStart(9)} ${fmt(r.recoverySeconds).padStart(9)} ${fmt(r.restartLoop?.decisionAfterVisibleSeconds ?? null).padStart(12)} ${fmt(r.restartLoop?.restartsAtFirstAction ?? null).padStart(12)} ${fmt(r.peers.operatorHealthCheck.detectionSeconds).padStart(10)} ${fmt(r.peers.awsDowntimeAlarm.detectionSeconds).padStart(6)} ${`${cloudwatch.metricsDelaySeconds}/${cloudwatch.alarmEvaluationOffsetSeconds} s`.padStart(15)} ${String(r.detectorCpuMs.length).padStart(6)} ${`${fmt(cpu.median, 2)} / ${fmt(cpu.p95, 2)}`.padStart(26)} ${per((x) => x.stateTransitions).padStart(11)} ${per((x) => x.steps).padStart(5)} ${String(r.wallMs).padStart(8)}`;
}
