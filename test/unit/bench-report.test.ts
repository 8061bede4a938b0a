import { describe, expect, it } from 'vitest';
import { peerDetection } from '#sandbox/peers.ts';
import { staticClosure } from '../../bench/bundles.ts';
import { fleetMonthlyCost } from '../../bench/cost-model.ts';
import type { FleetFigures } from '../../bench/fleet.ts';
import {
  type BenchFigures,
  type BenchScenarioRun,
  bundleTableLines,
  scenarioTableRow,
  toBenchJson,
} from '../../bench/report.ts';

/** 2026-03-02T14:00:00Z. */
const T0 = Date.UTC(2026, 2, 2, 14, 0, 0);

function run(over: Partial<BenchScenarioRun> = {}): BenchScenarioRun {
  return {
    name: 'bad-config-change',
    expected: 'RECOVERED',
    outcome: 'RECOVERED',
    passed: true,
    detectionOnset: { rule: 'first-restart', atMs: T0, incidentId: 'orders-enrichment-1' },
    detectionSeconds: 135,
    firstActionSeconds: 140,
    recoverySeconds: 525,
    peers: {
      operatorHealthCheck: peerDetection('operator', null, T0),
      awsDowntimeAlarm: peerDetection('aws', T0 + 65_000, T0),
    },
    restartLoop: {
      threshold: 3,
      thresholdPeriodStartMs: T0 + 120_000,
      thresholdVisibleMs: T0 + 240_000,
      decisionAfterVisibleSeconds: 5,
      restartsAtFirstAction: 4,
    },
    detectorCpuMs: [2, 4, 3],
    wallMs: 400,
    executions: [{ stateTransitions: 35, steps: 9 }],
    ...over,
  };
}

function figures(scenarios: BenchScenarioRun[]): BenchFigures {
  return {
    cloudwatchDefaults: { metricsDelaySeconds: 60, alarmEvaluationOffsetSeconds: 5 },
    scenarios: scenarios.map((r) => ({
      run: r,
      cloudwatch: { metricsDelaySeconds: 60, alarmEvaluationOffsetSeconds: 5 },
    })),
    decision: { events: 20_000, meanWallMicros: 3.2, cpuMedianMs: 0.003 },
    bundles: {
      node: 'v22.23.3',
      bundles: [
        { name: 'detector', kB: 550.4, initKb: 310.2, coldInitMs: 80.5 },
        { name: 'reconciler', kB: 640.9, initKb: 420.1, coldInitMs: 120.25 },
      ],
    },
    reconcile: [{ cycle: 'nothing changed', msfCalls: 10, described: 0, wallMs: 120 }],
    fleet: { ...fleet, cost: fleetMonthlyCost(1000, 9, usage) },
  };
}

const fleet: FleetFigures = {
  applications: 1000,
  accounts: 10,
  sweepVirtualSeconds: 12.5,
  sweepTimedOut: false,
  msfCallsPerSweep: { max: 3, mean: 2.1 },
  getMetricDataCallsPerSweep: 0,
  getMetricDataMetricsPerSweep: 0,
  throttledPerSweep: 0,
  batches: 0,
  flagged: 0,
  rotated: 84,
  maxConcurrentRemediations: 0,
  costPerApplicationMonthUsd: 0.21,
  firstSweep: { msfCallsMax: 700, cloudWatchCalls: 2200, flagged: 1000 },
  flaggedBySweep: [3, 0],
  worstCaseSweep: {
    virtualSeconds: 41.5,
    timedOut: false,
    msfCalls: { max: 24, mean: 22.4 },
    getMetricDataCalls: 20,
    getMetricDataMetrics: 3000,
    throttled: 7,
    batches: 20,
    flagged: 1000,
    rotated: 0,
  },
  wallMs: 90_000,
};
const usage = {
  getMetricDataMetrics: 0,
  cloudWatchRequests: 10,
  lambdaInvocations: 1,
  lambdaDurationMs: 900,
  standardTransitions: 3,
  expressExecutions: 0,
  expressDurationMs: 0,
  dynamoReadUnits: 30,
  dynamoWriteUnits: 100,
};

describe('Function: toBenchJson', () => {
  it('gives one JSON object that parses back whole, with every section', () => {
    // Prepare
    const f = figures([run(), run({ name: 'autoscaling-not-drift', outcome: 'NO_INCIDENT', detectionOnset: null })]);
    // Act
    const parsed = JSON.parse(JSON.stringify(toBenchJson(f)));
    // Assess
    expect(Object.keys(parsed)).toEqual([
      'schemaVersion',
      'cloudwatchDefaults',
      'peerRules',
      'scenarios',
      'decision',
      'bundles',
      'bundleNode',
      'bundleGoals',
      'reconcile',
      'fleet',
    ]);
    expect(parsed.cloudwatchDefaults).toEqual({ metricsDelaySeconds: 60, alarmEvaluationOffsetSeconds: 5 });
    expect(parsed.peerRules.operatorHealthCheck).toMatch(/64 within 2 min/);
    expect(parsed.decision.events).toBe(20_000);
    expect(parsed.bundles[0]).toEqual({ name: 'detector', kB: 550.4, initKb: 310.2, coldInitMs: 80.5 });
    expect(parsed.bundleNode).toBe('v22.23.3');
    expect(parsed.bundleGoals).toEqual({ kB: 600, coldInitMs: 100 });
    expect(parsed.reconcile[0].msfCalls).toBe(10);
  });

  it('carries per scenario the name, outcome, detection, recovery and both peers (null = not detected)', () => {
    const [s] = JSON.parse(JSON.stringify(toBenchJson(figures([run()])))).scenarios;
    expect(s).toMatchObject({
      name: 'bad-config-change',
      outcome: 'RECOVERED',
      detectionOnset: { rule: 'first-restart', at: '2026-03-02T14:00:00.000Z', incidentId: 'orders-enrichment-1' },
      detectionSeconds: 135,
      firstActionSeconds: 140,
      recoverySeconds: 525,
      peers: {
        operatorHealthCheck: { firedAt: null, detectionSeconds: null },
        awsDowntimeAlarm: { firedAt: '2026-03-02T14:01:05.000Z', detectionSeconds: 65 },
      },
      restartLoop: {
        threshold: 3,
        thresholdPeriodStart: '2026-03-02T14:02:00.000Z',
        thresholdVisibleAt: '2026-03-02T14:04:00.000Z',
        decisionAfterVisibleSeconds: 5,
        restartsAtFirstAction: 4,
      },
      cloudwatch: { metricsDelaySeconds: 60, alarmEvaluationOffsetSeconds: 5 },
      detector: { events: 3, cpuMedianMs: 3 },
      workflowExecutions: [{ stateTransitions: 35, steps: 9 }],
      wallMs: 400,
    });
  });

  it('gives restartLoop null for a scenario that is not a restart loop', () => {
    const json = toBenchJson(figures([run({ restartLoop: null, detectionOnset: null })]));
    expect(json.scenarios[0]?.restartLoop).toBeNull();
  });

  it('keeps a bundle failure as an error in its section rather than dropping the section', () => {
    const f = { ...figures([run()]), bundles: { error: 'esbuild failed for detector' } };
    expect(toBenchJson(f).bundles).toEqual({ error: 'esbuild failed for detector' });
    expect(toBenchJson(f).bundleNode).toBeNull();
  });
});

describe('Function: bundleTableLines', () => {
  it('says per function whether the size and the Node 22 cold import meet their goals', () => {
    // Prepare
    const { bundles } = figures([run()]);

    // Act
    const lines = bundleTableLines(bundles as Exclude<BenchFigures['bundles'], { error: string }>);

    // Assess
    expect(lines[0]).toContain('v22.23.3');
    expect(lines.find((l) => l.includes('detector'))).toMatch(/550\.4\s+310\.2\s+80\.5\s+met\s+met$/);
    expect(lines.find((l) => l.includes('reconciler'))).toMatch(/640\.9\s+420\.1\s+120\.3\s+NOT MET\s+NOT MET$/);
  });

  it('does not judge the time goal when the imports ran on another Node than 22', () => {
    // Act
    const lines = bundleTableLines({
      node: 'v20.20.2',
      bundles: [{ name: 'detector', kB: 550.4, initKb: 310.2, coldInitMs: 80.5 }],
    });

    // Assess
    expect(lines[0]).toContain('not Node 22');
    expect(lines.find((l) => l.includes('detector'))).toMatch(/met\s+not judged$/);
  });
});

describe('Function: staticClosure', () => {
  it('counts the entry and the chunks it imports statically, transitively, not those loaded by import()', () => {
    // Prepare
    const outputs = {
      'index.mjs': {
        imports: [
          { path: 'chunks/a.mjs', kind: 'import-statement' as const },
          { path: 'chunks/slack.mjs', kind: 'dynamic-import' as const },
          { path: 'node:fs', kind: 'import-statement' as const, external: true },
        ],
      },
      'chunks/a.mjs': { imports: [{ path: 'chunks/b.mjs', kind: 'import-statement' as const }] },
      'chunks/b.mjs': { imports: [] },
      'chunks/slack.mjs': { imports: [{ path: 'chunks/b.mjs', kind: 'import-statement' as const }] },
    };

    // Act
    const loaded = staticClosure({ outputs } as unknown as Parameters<typeof staticClosure>[0], 'index.mjs');

    // Assess
    expect(loaded.sort()).toEqual(['chunks/a.mjs', 'chunks/b.mjs', 'index.mjs']);
  });
});

describe('Function: scenarioTableRow', () => {
  it('shows the onset rule, the figures, the peers and the CloudWatch timing, with - for no figure', () => {
    const row = scenarioTableRow(figures([run()]).scenarios[0] as NonNullable<BenchFigures['scenarios'][0]>);
    expect(row).toContain('first-restart');
    expect(row).toMatch(/135\s+140\s+525\s+5\s+4\s+-\s+65\s+60\/5 s/);
  });
});

describe('Function: toBenchJson (fleet)', () => {
  it('carries the fleet figures the README and the issue name, and the bill whose lines add up to the total', () => {
    // Act
    const parsed = JSON.parse(JSON.stringify(toBenchJson(figures([run()])))).fleet;
    // Assess
    expect(parsed).toMatchObject({
      applications: 1000,
      accounts: 10,
      sweepVirtualSeconds: 12.5,
      msfCallsPerSweep: { max: 3, mean: 2.1 },
      getMetricDataCallsPerSweep: 0,
      maxConcurrentRemediations: 0,
      costPerApplicationMonthUsd: 0.21,
      worstCaseSweep: {
        virtualSeconds: 41.5,
        msfCalls: { max: 24, mean: 22.4 },
        getMetricDataCalls: 20,
        flagged: 1000,
      },
    });
    const sum = parsed.bill.reduce((s: number, l: { monthlyUsd: number }) => s + l.monthlyUsd, 0);
    expect(sum).toBeCloseTo(parsed.monthlyUsd, 1);
    expect(parsed.bill.map((l: { item: string }) => l.item)).toContain('CloudWatch alarms');
  });

  it('says why the fleet could not be measured instead of figures', () => {
    // Prepare
    const f = { ...figures([run()]), fleet: { error: 'fleet bench: expected at least 2 sweeps, got 1' } };
    // Act
    const parsed = JSON.parse(JSON.stringify(toBenchJson(f)));
    // Assess
    expect(parsed.fleet).toEqual({ error: 'fleet bench: expected at least 2 sweeps, got 1' });
  });
});
