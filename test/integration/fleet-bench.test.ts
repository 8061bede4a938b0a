import { describe, expect, it } from 'vitest';
import { fleetMonthlyCost } from '../../bench/cost-model.ts';
import { fleetBenchScenario, measureFleet, sweepUsage } from '../../bench/fleet.ts';

describe('Bench: the fleet (small: 2 accounts × 5 applications)', () => {
  it('watches every application of both accounts; its steady-state sweep is timed, counted and priced, and its worst case looks at all', async () => {
    // Act
    const f = await measureFleet(2, 5);
    // Assess: the first sweep found the 10 applications by tag and created their alarms (2 per application)
    expect(f.applications).toBe(10);
    expect(f.accounts).toBe(2);
    expect(f.firstSweep.cloudWatchCalls).toBeGreaterThanOrEqual(2 * 10);
    // A healthy fleet: nothing flagged, nothing remediated; the sweep took virtual time (the clock ran with it)
    expect(f.flagged).toBe(0);
    expect(f.maxConcurrentRemediations).toBe(0);
    expect(f.sweepVirtualSeconds).toBeGreaterThan(0);
    // Both accounts were asked (ListApplications at least); the member account through its assumed role
    expect(f.msfCallsPerSweep.max).toBeGreaterThanOrEqual(1);
    expect(f.msfCallsPerSweep.mean).toBeGreaterThanOrEqual(1);
    // The worst case: every restart alarm in ALARM before the sweep, so every application is looked at closely,
    // each account's metrics fetched by GetMetricData (at least one call per account), every application in a batch
    const w = f.worstCaseSweep;
    expect(w.flagged).toBe(10);
    expect(w.timedOut).toBe(false);
    expect(w.batches).toBeGreaterThanOrEqual(1);
    expect(w.getMetricDataCalls).toBeGreaterThanOrEqual(2);
    expect(w.getMetricDataMetrics).toBeGreaterThanOrEqual(10);
    expect(w.virtualSeconds).toBeGreaterThan(0);
    expect(w.msfCalls.max).toBeGreaterThanOrEqual(1);
    // The price is the cost model's, for these applications and the member account
    expect(f.costPerApplicationMonthUsd).toBeCloseTo(f.cost.perApplicationMonthUsd, 4);
    expect(f.cost.applications).toBe(10);
  }, 600_000);

  it('builds its world from groups: one per account, opted in by tag, members reached with their ExternalId', () => {
    // Act
    const s = fleetBenchScenario(3, 4);
    // Assess
    expect(s.applications).toHaveLength(12);
    expect(new Set(s.applications.map((a) => a.accountId ?? 'home')).size).toBe(3);
    expect(s.applications.every((a) => a.tags['flink-watchdog'] === 'enabled')).toBe(true);
    expect(s.accounts.map((a) => a.accountId)).toEqual(['210000000001', '210000000002']);
    const watchdog = s.watchdog as { fleet: { accounts: Array<{ accountId: string; externalId: string }> } };
    expect(watchdog.fleet.accounts.map((a) => a.externalId)).toEqual(s.accounts.map((a) => a.externalId));
    // The sweep's usage feeds the cost model without losing a line
    expect(
      fleetMonthlyCost(
        12,
        2,
        sweepUsage({
          atMs: 0,
          lastLookEndMs: 0,
          timedOut: false,
          batches: 0,
          watched: 12,
          flagged: 0,
          rotated: 0,
          invocations: 1,
          invocationWallMs: 100,
          lookWallMs: 0,
          standardTransitions: 3,
          calls: {},
          ledger: { reads: 1, writes: 1, fleetMemoryBytes: 0 },
        }),
      ).lines.length,
    ).toBe(10);
  });
});
