import { describe, expect, it } from 'vitest';
import type { SweepRun } from '#sandbox/drill.ts';
import {
  costTableRows,
  DEFAULT_COST_ASSUMPTIONS,
  fleetMonthlyCost,
  PRICES,
  type SweepUsage,
} from '../../bench/cost-model.ts';
import { fleetFigures, sweepUsage } from '../../bench/fleet.ts';

const sweep: SweepUsage = {
  getMetricDataMetrics: 2000,
  cloudWatchRequests: 30,
  lambdaInvocations: 51,
  lambdaDurationMs: 20_000,
  standardTransitions: 55,
  expressExecutions: 50,
  expressDurationMs: 18_000,
  dynamoReadUnits: 30,
  dynamoWriteUnits: 120,
};
const line = (cost: ReturnType<typeof fleetMonthlyCost>, item: string) =>
  cost.lines.find((l) => l.item.startsWith(item))?.monthlyUsd;

describe('Function: fleetMonthlyCost', () => {
  it('charges every alarm metric of every application at the list price', () => {
    // Act
    const cost = fleetMonthlyCost(1000, 9, sweep, { ...DEFAULT_COST_ASSUMPTIONS, alarmMetricsPerApplication: 3 });
    // Assess
    expect(line(cost, 'CloudWatch alarms')).toBeCloseTo(1000 * 3 * PRICES.alarmMetric.usd, 6);
  });

  it('bills GetMetricData per metric requested, not per call', () => {
    // Prepare
    const month = DEFAULT_COST_ASSUMPTIONS.sweepsPerMonth;
    // Act
    const cost = fleetMonthlyCost(1000, 0, sweep);
    // Assess: 8,640 sweeps × 2,000 metrics × $0.01 per 1,000 = $172.80
    expect(month).toBe(8640);
    expect(line(cost, 'GetMetricData')).toBeCloseTo((month * 2000 * 0.01) / 1000, 6);
  });

  it('scales the sweep-driven lines with the sweeps a month and leaves the alarms alone', () => {
    // Act
    const base = fleetMonthlyCost(100, 0, sweep);
    const twice = fleetMonthlyCost(100, 0, sweep, {
      ...DEFAULT_COST_ASSUMPTIONS,
      sweepsPerMonth: 2 * DEFAULT_COST_ASSUMPTIONS.sweepsPerMonth,
    });
    // Assess
    for (const item of [
      'GetMetricData',
      'Lambda',
      'Step Functions Standard (sweep)',
      'Step Functions Express',
      'DynamoDB',
    ]) {
      expect(line(twice, item)).toBeCloseTo(2 * (line(base, item) ?? Number.NaN), 9);
    }
    expect(line(twice, 'CloudWatch alarms')).toBe(line(base, 'CloudWatch alarms'));
  });

  it('charges cross-account events only when there are member accounts', () => {
    expect(line(fleetMonthlyCost(100, 0, sweep), 'EventBridge')).toBe(0);
    expect(line(fleetMonthlyCost(100, 9, sweep), 'EventBridge')).toBeGreaterThan(0);
  });

  it('gives the total and its share per application', () => {
    // Act
    const cost = fleetMonthlyCost(1000, 9, sweep);
    // Assess
    const sum = cost.lines.reduce((s, l) => s + l.monthlyUsd, 0);
    expect(cost.monthlyUsd).toBeCloseTo(sum, 9);
    expect(cost.perApplicationMonthUsd).toBeCloseTo(sum / 1000, 9);
  });

  it('refuses a fleet without applications, naming the field', () => {
    expect(() => fleetMonthlyCost(0, 0, sweep)).toThrow(/applications must be a positive whole number/);
  });
});

describe('Function: costTableRows', () => {
  it('prints one Markdown row per bill line and the total, in USD with 2 decimals', () => {
    // Prepare
    const cost = fleetMonthlyCost(1000, 9, sweep);
    // Act
    const rows = costTableRows(cost);
    // Assess
    expect(rows).toHaveLength(cost.lines.length + 3);
    expect(rows[2]).toBe(`| CloudWatch alarms | 1,000 × 2 alarm metrics × $0.1 | 200.00 | 0.20 |`);
    expect(rows.at(-1)).toBe(
      `| **total** | | **${cost.monthlyUsd.toFixed(2)}** | **${cost.perApplicationMonthUsd.toFixed(2)}** |`,
    );
  });
});

describe('Function: fleetFigures', () => {
  const calls = (msf: number, getMetricData = 0, metrics = 0) => ({
    msf,
    getMetricData,
    getMetricDataMetrics: metrics,
    cloudWatchOther: 1,
    tagging: 1,
    sts: 0,
    throttled: 0,
  });
  const sweepRun = (atMs: number, endMs: number, perAccount: Record<string, ReturnType<typeof calls>>): SweepRun => ({
    atMs,
    lastLookEndMs: endMs,
    timedOut: false,
    batches: 1,
    watched: 300,
    flagged: 2,
    rotated: 25,
    invocations: 2,
    invocationWallMs: 400,
    lookWallMs: 300,
    standardTransitions: 4,
    calls: perAccount,
    ledger: { reads: 3, writes: 1, fleetMemoryBytes: 30_000 },
  });

  it('measures the last but one sweep as the steady state: its virtual duration, MSF calls over every account', () => {
    // Prepare: 3 accounts, one of them made no MSF call in the steady sweep
    const run = {
      sweeps: [
        sweepRun(0, 90_000, { a: calls(200), b: calls(150), c: calls(100) }),
        sweepRun(300_000, 312_500, { a: calls(4, 1, 40), b: calls(2) }),
        sweepRun(600_000, 645_000, { a: calls(30, 3, 900), b: calls(20, 2, 600), c: calls(10, 1, 300) }),
      ],
      maxConcurrentRemediations: 0,
      wallMs: 1000,
    };
    // Act
    const f = fleetFigures(run, 3);
    // Assess
    expect(f.sweepVirtualSeconds).toBe(12.5);
    expect(f.msfCallsPerSweep).toEqual({ max: 4, mean: 2 });
    expect(f.getMetricDataCallsPerSweep).toBe(1);
    expect(f.getMetricDataMetricsPerSweep).toBe(40);
    expect(f.firstSweep.msfCallsMax).toBe(200);
    expect(f.applications).toBe(300);
    expect(f.costPerApplicationMonthUsd).toBeCloseTo(f.cost.perApplicationMonthUsd, 4);
    expect(f.flaggedBySweep).toEqual([2]);
    // The rotation's close looks of the steady state are reported beside the flagged ones
    expect(f.rotated).toBe(25);
  });

  it('measures the last sweep as the worst case, and prices the steady state, not the worst case', () => {
    // Prepare: the steady sweep asks 40 metrics, the worst case 1,800 (every application looked at closely)
    const steady = sweepRun(300_000, 312_500, { a: calls(4, 1, 40), b: calls(2) });
    const worst = {
      ...sweepRun(600_000, 645_000, { a: calls(30, 3, 900), b: calls(21, 2, 900) }),
      flagged: 300,
      rotated: 0,
    };
    const run = {
      sweeps: [sweepRun(0, 90_000, { a: calls(200) }), steady, worst],
      maxConcurrentRemediations: 0,
      wallMs: 1,
    };
    // Act
    const f = fleetFigures(run, 3);
    // Assess
    expect(f.worstCaseSweep).toEqual({
      virtualSeconds: 45,
      timedOut: false,
      msfCalls: { max: 30, mean: 17 },
      getMetricDataCalls: 5,
      getMetricDataMetrics: 1800,
      throttled: 0,
      batches: 1,
      flagged: 300,
      rotated: 0,
    });
    expect(line(f.cost, 'GetMetricData')).toBeCloseTo(
      line(fleetMonthlyCost(300, 2, sweepUsage(steady)), 'GetMetricData') ?? Number.NaN,
      9,
    );
    expect(f.cost.monthlyUsd).toBeCloseTo(fleetMonthlyCost(300, 2, sweepUsage(steady)).monthlyUsd, 9);
  });

  it('sizes the fleet memory in DynamoDB units: 1 KB per write unit, 4 KB per read unit', () => {
    // Act
    const usage = sweepUsage(sweepRun(0, 1, { a: calls(1) }));
    // Assess: 30,000 bytes = 29.3 KB → 30 write units and 8 read units, plus one per other call
    expect(usage.dynamoWriteUnits).toBe(1 + 30);
    expect(usage.dynamoReadUnits).toBe(3 + 8);
  });

  it('refuses a run without a steady-state and a worst-case sweep', () => {
    const two = [sweepRun(0, 1, {}), sweepRun(2, 3, {})];
    expect(() => fleetFigures({ sweeps: two, maxConcurrentRemediations: 0, wallMs: 1 }, 1)).toThrow(
      /expected at least 3 sweeps, got 2/,
    );
  });
});
