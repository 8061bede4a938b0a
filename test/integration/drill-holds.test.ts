import { describe, expect, it } from 'vitest';
import { runScenario, type ScenarioReport } from '#sandbox/drill.ts';
import { loadScenario, loadScenarioFile } from '#sandbox/scenario.ts';
import type { Incident } from '#shared/domain/incident.ts';

const MINUTE_MS = 60_000;
const reports = new Map<string, Promise<ScenarioReport>>();
/** Runs a bundled scenario, or a fixture of test/fixtures/scenarios/ (`fixture:NAME`), once per file. */
function report(name: string): Promise<ScenarioReport> {
  let r = reports.get(name);
  if (!r) {
    const scenario = name.startsWith('fixture:')
      ? loadScenarioFile(`test/fixtures/scenarios/${name.slice('fixture:'.length)}.json`)
      : loadScenario(name);
    r = runScenario(scenario);
    reports.set(name, r);
  }
  return r;
}

function only(r: ScenarioReport): Incident {
  expect(r.incidents).toHaveLength(1);
  return r.incidents[0] as Incident;
}

/** The events notified on one channel, in order. */
function told(r: ScenarioReport, channel = 'sns'): string[] {
  return r.notifications.filter((n) => n.channel === channel).map((n) => n.event);
}

describe('Drill: change freezes and MSF maintenance', () => {
  it('change-freeze: held while the calendar is CLOSED, told once, rolled back once it opens', async () => {
    const r = await report('change-freeze');
    const incident = only(r);
    expect(r.actions.map((a) => a.operation)).toEqual(['RollbackApplication']);
    expect(r.actions[0]?.atMs).toBeGreaterThanOrEqual(r.startMs + 20 * MINUTE_MS);
    expect(incident.hold).toMatchObject({
      kind: 'CHANGE_FREEZE',
      detail: 'change calendar prod-change-freeze is CLOSED until 2026-03-02T14:20:00.000Z',
      releasedMs: r.startMs + 20 * MINUTE_MS,
    });
    expect(incident.status).toBe('RESOLVED');
    // Told of the hold once (however many re-checks), once of its release, then of the action and the outcome.
    expect(told(r)).toEqual(['OPENED', 'HELD', 'HELD', 'ACTION_TAKEN', 'RESOLVED']);
    expect(told(r, 'slack')).toEqual(told(r));
  });

  it('an unreadable calendar holds (fail safe), says why, and escalates after maxHoldMinutes without an MSF call', async () => {
    const r = await report('fixture:change-freeze-unreadable');
    const incident = only(r);
    expect(r.mutatingCalls).toBe(0);
    expect(incident.status).toBe('ESCALATED');
    expect(incident.outcomeReason).toContain('Held for 10 min (changeFreeze.maxHoldMinutes 10)');
    expect(incident.outcomeReason).toContain('could not be read (InvalidDocument:');
    expect(incident.outcomeReason).toContain('ssm:GetCalendarState');
    expect(told(r)).toEqual(['OPENED', 'HELD', 'ESCALATED']);
  });

  it('maintenance-window: the restart alarm fires on the maintenance restart, yet no incident and no MSF call', async () => {
    const r = await report('maintenance-window');
    expect(r.timeline.some((l) => l.actor === 'alarm' && l.text.includes('restart-loop OK → ALARM'))).toBe(true);
    expect(r.incidents).toEqual([]);
    expect(r.mutatingCalls).toBe(0);
    expect(r.notifications).toEqual([]);
  });
});
