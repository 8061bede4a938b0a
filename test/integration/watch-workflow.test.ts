import { describe, expect, it } from 'vitest';
import type { DetectorOutput } from '#functions/detector/handler.ts';
import { runScenario } from '#sandbox/drill.ts';
import { loadScenario } from '#sandbox/scenario.ts';
import { LocalWorkflow } from '#sandbox/workflow.ts';
import { synthesizedWatchWorkflow } from '#sandbox/workflow-definition.ts';
import { parseConfig } from '#shared/config/schema.ts';
import { type WatchInput, type WatchState, watchName } from '#shared/domain/watch.ts';
import { MIN, T0 } from '../support/builders.ts';

const CONFIG = parseConfig({ schemaVersion: 1, applications: [{ name: 'orders', policy: { mode: 'remediate' } }] });
const SEC = 1000;

type Step = DetectorOutput & WatchInput;

const WATCH: WatchState = {
  schemaVersion: 1,
  applicationName: 'orders',
  kind: 'restarts',
  name: watchName('orders', 'restarts', 'v7:1'),
  startedMs: T0,
  untilMs: T0 + 20 * MIN,
  checks: 0,
  sawRestart: true,
  sawFailedCheckpoint: false,
  trigger: { source: 'alarm', detail: 'flink-watchdog-orders-restart-loop' },
};

/** The synthesized watch workflow, its Check bound to `check`, with a hand-moved clock. */
function harness(check: (input: Step, atMs: number) => Step) {
  const time = { t: T0 };
  const checks: number[] = [];
  const workflow = new LocalWorkflow<Step>({
    workflow: synthesizedWatchWorkflow(CONFIG),
    step: async (event) => {
      checks.push(time.t);
      return check(event as Step, time.t);
    },
    clock: { now: () => time.t },
    nameOf: (input) => input.watch.name,
  });
  const advanceTo = async (ms: number) => {
    for (let t = time.t; t <= ms; t += 5 * SEC) {
      time.t = t;
      await workflow.settle();
    }
  };
  return { workflow, time, checks, advanceTo };
}

describe('Workflow: the synthesized watch state machine, run locally', () => {
  it('waits as asked before each check and ends when a check says done', async () => {
    // Prepare: the detector goes on twice a minute apart, then ends the watch.
    const h = harness((input, atMs) => {
      const checks = input.watch.checks + 1;
      const done = checks === 3;
      return {
        status: 'OK',
        results: [],
        watch: { ...input.watch, checks },
        done,
        waitSeconds: done ? 0 : 60,
        ...(done ? { outcome: 'QUIET' as const } : {}),
        summary: `check ${checks} at ${atMs}`,
      };
    });
    // Act
    expect(await h.workflow.tryStart({ status: 'OK', results: [], watch: WATCH, done: false, waitSeconds: 65 })).toBe(
      true,
    );
    await h.advanceTo(T0 + 5 * MIN);
    // Assess
    expect(h.checks).toEqual([T0 + 65 * SEC, T0 + 125 * SEC, T0 + 185 * SEC]);
    const [x] = h.workflow.executions;
    expect(x?.status).toBe('SUCCEEDED');
    expect(x?.lastState.outcome).toBe('QUIET');
    expect(x?.path).toEqual([
      'WaitForData',
      'Check',
      'Done',
      'WaitForData',
      'Check',
      'Done',
      'WaitForData',
      'Check',
      'Done',
      'WatchEnded',
    ]);
  });

  it('refuses a second execution of the same watch name, as Step Functions does', async () => {
    const h = harness((input) => ({ ...input, status: 'OK', results: [], done: true, waitSeconds: 0 }));
    const input = { status: 'OK' as const, results: [], watch: WATCH, done: false, waitSeconds: 0 };
    expect(await h.workflow.tryStart(input)).toBe(true);
    expect(await h.workflow.tryStart(input)).toBe(false);
    await h.advanceTo(T0);
    expect(h.workflow.executions).toHaveLength(1);
    expect(h.checks).toHaveLength(1);
  });

  it('fails the execution as CHECK_REJECTED when the detector rejects the watch state', async () => {
    const h = harness(() => ({ status: 'REJECTED', error: 'malformed watch check', results: [] }) as unknown as Step);
    await h.workflow.tryStart({ status: 'OK', results: [], watch: WATCH, done: false, waitSeconds: 0 });
    await h.advanceTo(T0 + MIN);
    const [x] = h.workflow.executions;
    expect(x?.status).toBe('FAILED');
    expect(x?.error).toBe('CHECK_REJECTED');
  });
});

describe('Drill: watches on the emulator', () => {
  it('follows a bad deploy with a change watch and decides on the loop at a check, recording the watch as trigger', async () => {
    // Act
    const report = await runScenario(loadScenario('bad-config-change'));
    // Assess
    const watchLines = report.timeline.filter((l) => l.actor === 'watch').map((l) => l.text);
    expect(watchLines.some((t) => /change watch \S+ started/.test(t))).toBe(true);
    expect(watchLines.some((t) => t.includes('SUCCEEDED FOUND'))).toBe(true);
    const loop = report.incidents.find((i) => i.finding?.kind === 'RESTART_LOOP');
    expect(loop?.trigger.detail).toMatch(/(change|restarts) watch/);
    expect(report.outcome).toBe('RECOVERED');
  });

  it('finds a stuck transition with the watch timed to its limit, never before the limit', async () => {
    // Act
    const report = await runScenario(loadScenario('stuck-updating'));
    // Assess
    const stuck = report.incidents.find((i) => i.finding?.kind === 'STUCK_TRANSITION');
    expect(stuck?.trigger.detail).toContain('transition watch');
    const finding = stuck?.finding as { sinceMs: number; limitMinutes: number } | undefined;
    expect(stuck?.openedMs).toBeGreaterThan((finding?.sinceMs ?? 0) + (finding?.limitMinutes ?? 0) * MIN);
    expect(
      report.timeline.some((l) => l.actor === 'watch' && l.text.includes('transition watch SUCCEEDED FOUND')),
    ).toBe(true);
  });
});
