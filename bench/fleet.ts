import { DRILL_INSTANCE, runScenario, type SweepAccountCalls, type SweepRun } from '#sandbox/drill.ts';
import type { Emulator } from '#sandbox/emulator/index.ts';
import { groupApplicationNames, parseScenario, type Scenario } from '#sandbox/scenario.ts';
import { alarmPrefix } from '#shared/alarms.ts';
import { type CostAssumptions, DEFAULT_COST_ASSUMPTIONS, type FleetCost, fleetMonthlyCost } from './cost-model.ts';

/**
 * The fleet bench: 1,000 emulated applications in 10 accounts (the watchdog's own and 9 member accounts, 100 each),
 * all healthy, all opted in by tag, watched by one central watchdog through the drill (the synthesized sweep state
 * machine, the real detector, member accounts through STS AssumeRole). Sweeps every 5 minutes: the one before the
 * scenario finds the applications and creates their alarms, the next ones catch up with what it could not finish
 * (throttled calls are left to the next sweep), the last but one is the steady state that is measured, and the last
 * ({@link FLEET_BENCH_SWEEPS} in all) is the worst case: just before it every restart alarm of the fleet is set to
 * ALARM with SetAlarmState (see {@link setEveryRestartAlarm}), so its plan flags every
 * application and its Look judges all of them (one LookBatch per batch: GetMetricData, detect()). The two measured
 * sweeps run with the virtual clock moving at wall-clock speed, and so do the others (not measured), against the emulator's throttling at {@link FLEET_BENCH_THROTTLE}, with the SDK's adaptive retry mode
 * (3 attempts). The alarm events those SetAlarmState calls send reach no detector: the run ends with the worst-case
 * sweep (in AWS they would wake it once per application; that is not part of a sweep's cost).
 */

/** Sweeps of the bench, count: catch-up ones, then the steady state (measured), then the worst case (measured). */
export const FLEET_BENCH_SWEEPS = 4;
/** Index of the steady-state sweep (0: the sweep before the scenario). */
const STEADY_INDEX = FLEET_BENCH_SWEEPS - 2;
/** Index of the worst-case sweep: every application flagged. */
const WORST_CASE_INDEX = FLEET_BENCH_SWEEPS - 1;
/**
 * Virtual ms per wall ms of the sweeps before the measured one: 1, like the measured ones. Faster, the minutes a
 * catch-up sweep (or a reconcile cycle) spends on 1,000 applications became tens of virtual minutes between sweeps,
 * and the rotation then caught up with them, so the "steady state" measured a backlog instead.
 */
const CATCH_UP_SPEED = 1;

/** Accounts of the bench, count: the watchdog's own (home) and 9 member accounts. */
export const FLEET_BENCH_ACCOUNTS = 10;
/** Applications per account, count (MSF's default quota of applications per account and Region is 100). */
export const FLEET_BENCH_APPLICATIONS_PER_ACCOUNT = 100;

/**
 * Request rates the bench's emulator enforces per account and service (token buckets on the virtual clock).
 * The emulator has no default: these are this bench's assumptions, stated as they are used.
 * - cloudwatch: 50 requests/s, burst 50: CloudWatch's published GetMetricData quota is 50 transactions per second per
 *   account and Region (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html); the
 *   emulator buckets per service, not per API, so DescribeAlarms (published 9 TPS) and PutMetricAlarm (3 TPS) get the
 *   same rate here: the first sweep's alarm creation is faster than AWS would allow.
 * - kinesisanalytics: 5 requests/s, burst 10: AWS publishes no request rate for the Managed Service for Apache Flink
 *   control plane; 5/s is a conservative guess of a control-plane API's rate.
 * - tagging: 5 requests/s, burst 10: no published rate for GetResources either; the same guess.
 * - sts: not throttled (one AssumeRole per member account per hour).
 */
export const FLEET_BENCH_THROTTLE = {
  cloudwatch: { ratePerSecond: 50, burst: 50 },
  kinesisanalytics: { ratePerSecond: 5, burst: 10 },
  tagging: { ratePerSecond: 5, burst: 10 },
} as const;

const memberAccount = (i: number) => `2100000000${String(i).padStart(2, '0')}`;
const EXTERNAL_ID = 'fleet-bench-external-id';

/** The bench's world and watchdog as a scenario (no fault, no timeline: a steady state). */
export function fleetBenchScenario(
  accounts = FLEET_BENCH_ACCOUNTS,
  perAccount = FLEET_BENCH_APPLICATIONS_PER_ACCOUNT,
): Scenario {
  const members = Array.from({ length: accounts - 1 }, (_, i) => memberAccount(i + 1));
  const group = (accountId: string | undefined, index: number) => ({
    namePrefix: `acct${String(index).padStart(2, '0')}`,
    count: perAccount,
    ...(accountId ? { accountId } : {}),
    code: { bucket: 'fleet-bench', fileKey: 'pipeline-1.0.0.jar' },
    tags: { 'flink-watchdog': 'enabled' },
  });
  return parseScenario(
    {
      name: 'fleet-bench',
      title: 'Fleet bench',
      description: `${accounts * perAccount} healthy applications in ${accounts} accounts`,
      durationMinutes: (FLEET_BENCH_SWEEPS - 1) * 5,
      accounts: members.map((accountId) => ({ accountId, externalId: EXTERNAL_ID })),
      applicationGroups: [group(undefined, 0), ...members.map((m, i) => group(m, i + 1))],
      throttle: FLEET_BENCH_THROTTLE,
      watchdog: {
        schemaVersion: 1,
        optInTag: { key: 'flink-watchdog', value: 'enabled' },
        defaults: { mode: 'remediate' },
        fleet: { accounts: members.map((accountId) => ({ accountId, externalId: EXTERNAL_ID })) },
      },
      expected: {
        outcome: 'NO_INCIDENT',
        // The first application of the home account's group (acct00-001 for 1,000 per account, acct00-1 for 4).
        application: groupApplicationNames(group(undefined, 0))[0],
        runningAtEnd: ['*'],
      },
    },
    'fleet-bench',
  );
}

/** `bench --json`'s `fleet` object. */
export interface FleetFigures {
  /** Watched applications, count. */
  applications: number;
  /** Accounts, count (home included). */
  accounts: number;
  /** Virtual seconds from the steady-state sweep's start to its last LookBatch's end. */
  sweepVirtualSeconds: number;
  /** Whether the steady-state sweep was ended by the state machine's timeout. */
  sweepTimedOut: boolean;
  /** MSF requests per account in the steady-state sweep: the most in one account and the mean, count. */
  msfCallsPerSweep: { max: number; mean: number };
  /** GetMetricData requests of the steady-state sweep over all accounts, count, and the metrics they requested. */
  getMetricDataCallsPerSweep: number;
  getMetricDataMetricsPerSweep: number;
  /** Requests answered with a throttling error in the steady-state sweep, count (retried by the SDK). */
  throttledPerSweep: number;
  /** LookBatch child executions of the steady-state sweep, count. */
  batches: number;
  /** Applications flagged for a closer look by the steady-state plan (something off), count. */
  flagged: number;
  /**
   * Applications the steady-state plan gave a close look by rotation (every application at least every
   * `fleet.sweep.closeLookMinutes`), count: with `flagged`, what its LookBatches judged.
   */
  rotated: number;
  /** Remediation workflow executions RUNNING at once, the most seen (0 in a healthy fleet). */
  maxConcurrentRemediations: number;
  /** The monthly cost per application from bench/cost-model.ts, USD. */
  costPerApplicationMonthUsd: number;
  /**
   * The first sweep (discovery and alarm creation of every application; run at a faster clock, so no duration): MSF
   * calls in the busiest account, CloudWatch calls other than GetMetricData over all accounts, applications flagged
   * (new ones are), counts; and the applications flagged by each sweep after it, the measured one last.
   */
  firstSweep: { msfCallsMax: number; cloudWatchCalls: number; flagged: number };
  flaggedBySweep: number[];
  /**
   * The worst-case sweep: every restart alarm set to ALARM just before it, so the plan flags every application and
   * Look judges them all. Virtual seconds from its start to its last LookBatch's end; MSF requests per account (the
   * most in one account and the mean); GetMetricData requests and their metrics over all accounts; requests answered
   * with a throttling error; LookBatch executions; applications flagged (counts).
   */
  worstCaseSweep: SweepFigures;
  /** Wall time of the whole bench run, ms. */
  wallMs: number;
}

/** The figures of one measured sweep. */
export interface SweepFigures {
  /** Virtual seconds from the sweep's start to its last LookBatch's end. */
  virtualSeconds: number;
  /** Whether the sweep state machine's timeout (80% of the sweep interval) ended it before its Look did. */
  timedOut: boolean;
  /** MSF requests per account: the most in one account and the mean over every account, count. */
  msfCalls: { max: number; mean: number };
  /** GetMetricData requests over all accounts, count, and the metrics they requested. */
  getMetricDataCalls: number;
  getMetricDataMetrics: number;
  /** Requests answered with a throttling error (any service, retried by the SDK), count. */
  throttled: number;
  /** LookBatch child executions, count. */
  batches: number;
  /** Applications the plan flagged for a closer look, and those it looked at by rotation, count. */
  flagged: number;
  rotated: number;
}

/** The figures of one sweep; `accounts` counts the accounts without a call too (for the mean). */
export function sweepFigures(sweep: SweepRun, accounts: number): SweepFigures {
  const all = Object.values(sweep.calls);
  const msf = all.map((c) => c.msf);
  while (msf.length < accounts) msf.push(0);
  const sum = (f: (c: SweepAccountCalls) => number) => all.reduce((s, c) => s + f(c), 0);
  return {
    virtualSeconds: (sweep.lastLookEndMs - sweep.atMs) / 1000,
    timedOut: sweep.timedOut,
    msfCalls: { max: Math.max(0, ...msf), mean: msf.reduce((a, b) => a + b, 0) / Math.max(1, accounts) },
    getMetricDataCalls: sum((c) => c.getMetricData),
    getMetricDataMetrics: sum((c) => c.getMetricDataMetrics),
    throttled: sum((c) => c.throttled),
    batches: sweep.batches,
    flagged: sweep.flagged,
    rotated: sweep.rotated,
  };
}

/** The usage of one sweep for the cost model. */
export function sweepUsage(sweep: SweepRun): Parameters<typeof fleetMonthlyCost>[2] {
  const all = Object.values(sweep.calls);
  const sum = (f: (c: SweepAccountCalls) => number) => all.reduce((s, c) => s + f(c), 0);
  // DynamoDB: the fleet memory is read and written whole (1 KB per write unit, 4 KB per strongly consistent read
  // unit, DynamoDB Developer Guide "Read/write capacity mode"); every other ledger call counts as one unit (items
  // under 1 KB, an assumption).
  const memoryKb = sweep.ledger.fleetMemoryBytes / 1024;
  return {
    getMetricDataMetrics: sum((c) => c.getMetricDataMetrics),
    cloudWatchRequests: sum((c) => c.cloudWatchOther),
    lambdaInvocations: sweep.invocations,
    lambdaDurationMs: sweep.invocationWallMs,
    standardTransitions: sweep.standardTransitions,
    expressExecutions: sweep.batches,
    expressDurationMs: sweep.lookWallMs,
    dynamoReadUnits: sweep.ledger.reads + Math.ceil(memoryKb / 4),
    dynamoWriteUnits: sweep.ledger.writes + Math.ceil(memoryKb),
  };
}

/**
 * The fleet figures from a run's sweeps: the first (discovery), the last but one (the steady state, priced by the
 * cost model: its close looks, the rotation's share of the fleet included, are measured, not assumed) and the last
 * (the worst case).
 * @throws Error when the run has fewer than 3 sweeps.
 */
export function fleetFigures(
  run: { sweeps: SweepRun[]; maxConcurrentRemediations: number; wallMs: number },
  accounts: number,
  assumptions: CostAssumptions = DEFAULT_COST_ASSUMPTIONS,
): FleetFigures & { cost: FleetCost } {
  const first = run.sweeps[0];
  const steady = run.sweeps.at(-2);
  const worst = run.sweeps.at(-1);
  if (!first || !steady || !worst || run.sweeps.length < 3) {
    throw new Error(`fleet bench: expected at least 3 sweeps, got ${run.sweeps.length}`);
  }
  const s = sweepFigures(steady, accounts);
  const cost = fleetMonthlyCost(steady.watched, accounts - 1, sweepUsage(steady), assumptions);
  return {
    applications: steady.watched,
    accounts,
    sweepVirtualSeconds: s.virtualSeconds,
    sweepTimedOut: s.timedOut,
    msfCallsPerSweep: s.msfCalls,
    getMetricDataCallsPerSweep: s.getMetricDataCalls,
    getMetricDataMetricsPerSweep: s.getMetricDataMetrics,
    throttledPerSweep: s.throttled,
    batches: s.batches,
    flagged: s.flagged,
    rotated: s.rotated,
    maxConcurrentRemediations: run.maxConcurrentRemediations,
    costPerApplicationMonthUsd: Number(cost.perApplicationMonthUsd.toFixed(4)),
    firstSweep: {
      msfCallsMax: Math.max(0, ...Object.values(first.calls).map((c) => c.msf)),
      cloudWatchCalls: Object.values(first.calls).reduce((s, c) => s + c.cloudWatchOther, 0),
      flagged: first.flagged,
    },
    flaggedBySweep: run.sweeps.slice(1, -1).map((x) => x.flagged),
    worstCaseSweep: sweepFigures(worst, accounts),
    wallMs: run.wallMs,
    cost,
  };
}

/**
 * Sets every restart-loop alarm of the drill's watchdog to ALARM in every account of the emulator, with CloudWatch's
 * SetAlarmState (through the emulator's CloudWatch API, as the application's team could from the console: not a
 * watchdog call, so not counted, and not throttled). In AWS a metric alarm set this way "returns to its actual state
 * quickly, often within seconds" ("SetAlarmState", CloudWatch API Reference,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_SetAlarmState.html); the emulator keeps it
 * until the alarm's next evaluation (the minute's evaluation offset, an emulator simplification), so the sweep that
 * starts right after, whose plan reads DescribeAlarms first, sees ALARM and flags the application. The bench reports
 * how many the plan flagged (`worstCaseSweep.flagged`), so a state that did not last shows as fewer than the fleet.
 * @returns the alarms set, count.
 */
export function setEveryRestartAlarm(emulator: Emulator): number {
  let set = 0;
  for (const accountId of emulator.accounts()) {
    const cloudwatch = emulator.cloudwatchOf(accountId);
    let nextToken: string | undefined;
    do {
      const page = cloudwatch.handle('DescribeAlarms', {
        AlarmNamePrefix: alarmPrefix(DRILL_INSTANCE),
        AlarmTypes: ['MetricAlarm'],
        MaxRecords: 100,
        ...(nextToken ? { NextToken: nextToken } : {}),
      }) as { MetricAlarms?: Array<{ AlarmName?: string }>; NextToken?: string };
      for (const alarm of page.MetricAlarms ?? []) {
        if (!alarm.AlarmName?.endsWith('-restart-loop')) continue;
        cloudwatch.handle('SetAlarmState', {
          AlarmName: alarm.AlarmName,
          StateValue: 'ALARM',
          StateReason: 'fleet bench: worst case, every application flagged for a closer look',
        });
        set += 1;
      }
      nextToken = page.NextToken;
    } while (nextToken);
  }
  return set;
}

/**
 * Runs the fleet bench (several minutes of wall time: two sweeps of 1,000 applications at wall-clock speed, the
 * second judging every application, and the emulated minutes between them).
 * @throws Error when the run does not yield its sweeps.
 */
export async function measureFleet(
  accounts = FLEET_BENCH_ACCOUNTS,
  perAccount = FLEET_BENCH_APPLICATIONS_PER_ACCOUNT,
): Promise<FleetFigures & { cost: FleetCost }> {
  const run = await runScenario(fleetBenchScenario(accounts, perAccount), {
    sweepSpeed: (index) => (index < STEADY_INDEX ? CATCH_UP_SPEED : 1),
    beforeSweep: (index, emulator) => {
      if (index === WORST_CASE_INDEX) setEveryRestartAlarm(emulator);
    },
  });
  return fleetFigures(run, accounts);
}
