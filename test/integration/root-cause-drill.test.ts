import { describe, expect, it } from 'vitest';
import { toDrillJson } from '#cli/drill.ts';
import { runScenario } from '#sandbox/drill.ts';
import { loadScenario } from '#sandbox/scenario.ts';
import { ROOT_CAUSE_POLLS } from '#shared/domain/root-cause.ts';

/**
 * The root cause end to end: in the drill, the detector reads the emulator's CloudWatch Logs (the job model writes
 * each failure of the looping job there), and the restart-loop incident carries the first failure's exception from
 * its first notification on; `drill --json` gives it.
 */
describe('Drill: root cause of a restart loop', () => {
  it('bad-config-change: the missing-stream exception, from a Logs Insights query, on the incident and in --json', async () => {
    // Act
    const report = await runScenario(loadScenario('bad-config-change'));
    const json = toDrillJson([report]).scenarios[0];

    // Assess
    expect(json?.rootCause).toMatchObject({
      exceptionClass: 'software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException',
      message: expect.stringMatching(/^Stream arn:aws:kinesis:.+ not found\.$/),
      source: 'logs-insights',
      logGroupName: '/aws/kinesis-analytics/orders-enrichment',
    });
    expect(json?.rootCause?.frames.length).toBeGreaterThan(0);
    const incident = report.incidents.find((i) => i.id === json?.rootCause?.incidentId);
    expect(incident?.finding?.kind).toBe('RESTART_LOOP');
    // Logged at or after the loop's onset lookback, before the decision.
    const at = Date.parse(json?.rootCause?.at ?? '');
    expect(at).toBeLessThanOrEqual(incident?.openedMs ?? 0);
    // Recorded before the incident was first told: the OPENED notification's incident already carries it.
    const kinds = incident?.events.map((e) => e.kind) ?? [];
    expect(kinds.indexOf('ROOT_CAUSE')).toBeGreaterThanOrEqual(0);
    const firstPage = report.slackMessages[0];
    expect(JSON.stringify(firstPage)).toContain(
      'software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException',
    );
  });

  it('bad-config-change with a Logs Insights query that stays Running: the same exception, from FilterLogEvents', async () => {
    // Arrange: the query answers Running to more GetQueryResults than the watchdog makes (ROOT_CAUSE_POLLS).
    const scenario = loadScenario('bad-config-change');
    const slow = { ...scenario, cloudwatchLogs: { queryRunningPolls: ROOT_CAUSE_POLLS + 5 } };

    // Act
    const report = await runScenario(slow);
    const json = toDrillJson([report]).scenarios[0];

    // Assess
    expect(report.passed).toBe(true);
    expect(json?.rootCause).toMatchObject({
      exceptionClass: 'software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException',
      source: 'filter-log-events',
      logGroupName: '/aws/kinesis-analytics/orders-enrichment',
    });
    const incident = report.incidents.find((i) => i.id === json?.rootCause?.incidentId);
    const event = incident?.events.find((e) => e.kind === 'ROOT_CAUSE');
    expect(event?.message).toMatch(/ResourceNotFoundException: Stream .+ \(filter-log-events\)$/);
  });
});
