import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { compactTimeline, formatRow, MAX_WIDTH } from '#cli/drill-output.ts';
import { runScenario, type ScenarioReport } from '#sandbox/drill.ts';
import { listScenarios, loadScenario } from '#sandbox/scenario.ts';
import { MUTATING_MSF_OPERATIONS } from '#shared/ports/msf.ts';

const run = promisify(execFile);
const reports = new Map<string, ScenarioReport>();
async function report(name: string): Promise<ScenarioReport> {
  let r = reports.get(name);
  if (!r) {
    r = await runScenario(loadScenario(name));
    reports.set(name, r);
  }
  return r;
}

describe('Drill: every bundled scenario meets its expected outcome', () => {
  // A fleet scenario (40 applications, sweeps through the local state machine) takes tens of seconds of wall time on
  // a loaded 2-core machine: its own timeout, not the suite's 30 s.
  it.each(listScenarios())(
    '%s',
    async (name) => {
      const r = await report(name);
      expect(r.failures).toEqual([]);
      expect(r.passed).toBe(true);
    },
    240_000,
  );

  it('covers failure modes 1, 2, 3, 4, 5, 7 and 9', () => {
    const covered = new Set(listScenarios().map((n) => loadScenario(n).designScenario));
    for (const n of [1, 2, 3, 4, 5, 7, 9]) expect(covered.has(n)).toBe(true);
  });
});

describe('Drill: safety properties over every scenario', () => {
  it.each(listScenarios())(
    '%s: every mutating call follows a fresh DescribeApplication of that application',
    async (name) => {
      const r = await report(name);
      // Per application: concurrent remediations (remediation-slots) interleave their describe/mutate pairs.
      const describedSinceLastMutation = new Set<string>();
      for (const c of r.watchdogCalls) {
        if (c.operation === 'DescribeApplication') describedSinceLastMutation.add(c.application);
        if (MUTATING_MSF_OPERATIONS.has(c.operation)) {
          expect(
            describedSinceLastMutation.has(c.application),
            `${c.operation} without a fresh DescribeApplication`,
          ).toBe(true);
          describedSinceLastMutation.delete(c.application);
        }
      }
    },
  );

  it.each(listScenarios())(
    '%s: UpdateApplication and RollbackApplication carry a ConditionalToken or version id',
    async (name) => {
      const r = await report(name);
      for (const a of r.actions) {
        const input = a.input as Record<string, unknown>;
        if (a.operation === 'UpdateApplication')
          expect(input.ConditionalToken ?? input.CurrentApplicationVersionId).toBeDefined();
        if (a.operation === 'RollbackApplication') expect(typeof input.CurrentApplicationVersionId).toBe('number');
      }
    },
  );

  it.each(listScenarios())('%s: every action of an incident was recorded and completed', async (name) => {
    const r = await report(name);
    const recorded = r.incidents.flatMap((i) => i.actions);
    expect(recorded.map((a) => a.call)).toEqual(r.actions.map((a) => a.operation));
    for (const a of recorded) {
      expect(a.state).toBe('SUCCEEDED');
      expect(a.recordedMs).toBeLessThanOrEqual(a.completedMs ?? 0);
    }
  });
});

describe('Drill: what users see', () => {
  it('bad-config-change rolls back the failing version and reports the IaC drift', async () => {
    const r = await report('bad-config-change');
    expect(r.actions[0]).toMatchObject({ operation: 'RollbackApplication', input: { CurrentApplicationVersionId: 7 } });
    const incident = r.incidents.find((i) => i.applicationName === 'orders-enrichment');
    expect(incident?.status).toBe('RESOLVED');
    expect(incident?.outcomeReason).toContain('Terraform/CDK still declares version 7');
    expect(r.timeline.some((l) => l.actor === 'alarm' && l.text.includes('restart-loop OK → ALARM'))).toBe(true);
    expect(r.detectionSeconds).toBeGreaterThan(0);
  });

  it('external-outage-escalates stops acting after its attempts and tells humans what to run', async () => {
    const r = await report('external-outage-escalates');
    const escalated = r.incidents.filter((i) => i.status === 'ESCALATED');
    expect(escalated).toHaveLength(1);
    expect(escalated[0]?.outcomeReason).toMatch(/did not hold/);
    const lastAction = r.actions.at(-1)?.atMs ?? 0;
    expect(escalated[0]?.closedMs ?? 0).toBeGreaterThanOrEqual(lastAction);
  });

  it('not-opted-in never touches the out-of-scope application or the observe-mode one', async () => {
    const r = await report('not-opted-in');
    expect(r.mutatingCalls).toBe(0);
    const observeMode = r.incidents.find((i) => i.applicationName === 'audit-trail');
    expect(observeMode?.decision.wouldHave?.kind).toBe('FORCE_STOP_AND_RESTART');
    // Not in the watched set: no alarm is made for it, so nothing about it reaches the detector.
    expect(r.incidents.filter((i) => i.applicationName === 'ledger-replay')).toHaveLength(0);
    expect(r.timeline.some((l) => l.actor === 'alarm' && l.text.includes('ledger-replay'))).toBe(false);
  });

  it('checkpoint-stall tells what stalls, since when, the window and its derivation, and touches nothing', async () => {
    const r = await report('checkpoint-stall');
    expect(r.mutatingCalls).toBe(0);
    const incident = r.incidents.find((i) => i.applicationName === 'sessions-enricher');
    expect(incident?.finding?.kind).toBe('CHECKPOINT_STALL');
    expect(incident?.decision.reason).toContain(
      'max(interval 60 s [MSF DEFAULT], timeout 600 s) × (0 tolerable failed checkpoints + 2) = 20 min',
    );
    expect(incident?.decision.nextSteps.some((s) => s.includes('--metric-name numberOfFailedCheckpoints'))).toBe(true);
    expect(r.detectionOnset).toMatchObject({ rule: 'first-failed-checkpoint' });
  });

  it('checkpoint-stall-restart counts as recovered only once the fresh job completed a checkpoint', async () => {
    const r = await report('checkpoint-stall-restart');
    const incident = r.incidents.find((i) => i.applicationName === 'sessions-enricher');
    expect(incident?.status).toBe('RESOLVED');
    const verified = incident?.events.filter((e) => e.kind === 'VERIFY').map((e) => e.message);
    expect(verified?.at(-1)).toContain('0 failed checkpoint(s), a checkpoint completed');
  });

  it('slack-outage: the remediation completes while Slack fails; each delivery retried, recorded, dead-lettered', async () => {
    const r = await report('slack-outage');
    expect(r.outcome).toBe('RECOVERED');
    const slack = r.notifications.filter((d) => d.channel === 'slack');
    const sns = r.notifications.filter((d) => d.channel === 'sns');
    expect(slack.length).toBeGreaterThan(0);
    expect(slack.every((d) => !d.delivered)).toBe(true);
    expect(sns.every((d) => d.delivered)).toBe(true);
    expect(sns.map((d) => d.event)).toEqual(slack.map((d) => d.event));
    // Every notification reached the receiver three times: the first try and two retries.
    expect(r.slackRequests).toBe(3 * slack.length);
    expect(r.deadLetters.map((d) => d.event)).toEqual(slack.map((d) => d.event));
    const incident = r.incidents.find((i) => i.status === 'RESOLVED');
    const failures = incident?.events.filter((e) => e.kind === 'ERROR' && e.message.includes('to slack not delivered'));
    expect(failures?.map((e) => e.message.split(' ')[0])).toEqual(['OPENED', 'ACTION_TAKEN', 'RESOLVED']);
  });

  it('tells every lifecycle event of a remediation to Slack and SNS when both are healthy', async () => {
    const r = await report('bad-config-change');
    const byChannel = (c: string) =>
      r.notifications.filter((d) => d.channel === c).map((d) => `${d.event}:${d.delivered}`);
    expect(byChannel('slack')).toEqual(['OPENED:true', 'ACTION_TAKEN:true', 'RESOLVED:true']);
    expect(byChannel('sns')).toEqual(byChannel('slack'));
    expect(r.snsMessages.map((m) => m.attributes.event?.StringValue)).toEqual(['OPENED', 'ACTION_TAKEN', 'RESOLVED']);
    expect(r.deadLetters).toEqual([]);
  });

  it.each(listScenarios())(
    '%s: an incident gets a detection time from its onset to the decision, whatever the outcome',
    async (name) => {
      const r = await report(name);
      if (r.outcome === 'NO_INCIDENT') {
        expect(r.detectionSeconds).toBeNull();
        expect(r.detectionOnset).toBeNull();
        return;
      }
      expect(r.detectionOnset).not.toBeNull();
      expect(r.detectionSeconds).toEqual(expect.any(Number));
      expect(r.detectionSeconds).toBeGreaterThanOrEqual(0);
      // The decision comes before (or with) the first remediation call and the recovery.
      if (r.firstActionSeconds !== null) expect(r.firstActionSeconds).toBeGreaterThanOrEqual(r.detectionSeconds ?? 0);
      if (r.recoverySeconds !== null) expect(r.recoverySeconds).toBeGreaterThan(r.detectionSeconds ?? 0);
      // A restart loop says when its threshold-th restart could first be seen in CloudWatch.
      if (r.detectionOnset?.rule === 'first-restart') {
        expect(r.restartLoop?.thresholdVisibleMs).toBeGreaterThan(r.detectionOnset.atMs);
        expect(r.restartLoop?.decisionAfterVisibleSeconds).toEqual(expect.any(Number));
      } else expect(r.restartLoop).toBeNull();
    },
  );

  it('reports detection for NOTIFIED and OBSERVED outcomes, by the onset rule of their finding', async () => {
    const notified = await report('wrong-main-class');
    expect(notified.outcome).toBe('NOTIFIED');
    expect(notified.detectionOnset?.rule).toBe('failed-operation-end');
    expect(notified.firstActionSeconds).toBeNull();
    const observed = await report('not-opted-in');
    expect(observed.outcome).toBe('OBSERVED');
    expect(observed.detectionOnset?.rule).toBe('first-restart');
    const rolledBack = await report('system-rollback-drift');
    expect(rolledBack.detectionOnset?.rule).toBe('failed-operation-end');
    const stuck = await report('stuck-updating');
    // UPDATING began at minute 5 with a 10-minute limit: the onset is the limit, not the update.
    expect(stuck.detectionOnset).toMatchObject({ rule: 'transition-limit', atMs: stuck.startMs + 15 * 60_000 });
  });

  it('runs the peer rules beside the watchdog without waking it, and reports not detected as null', async () => {
    const r = await report('external-outage-recovers');
    // The AWS recommended alarm is a real alarm of the emulator; its events never reach the detector.
    expect(r.timeline.some((l) => l.actor === 'alarm' && l.text.startsWith('peer-'))).toBe(false);
    for (const p of [r.peers.operatorHealthCheck, r.peers.awsDowntimeAlarm]) {
      expect(p.rule).not.toBe('');
      if (p.firedMs === null) expect(p.detectionSeconds).toBeNull();
      else expect(r.timeline.some((l) => l.actor === 'peer' && l.atMs === p.firedMs)).toBe(true);
    }
    // A loop of a few restarts a minute never reaches the operator's 65 restarts in 2 minutes.
    expect(r.peers.operatorHealthCheck).toMatchObject({ firedMs: null, detectionSeconds: null });
  });

  it('says why an alarm that fired was ignored, and folds its repeats into one row per alarm', async () => {
    // Prepare: the outage goes on after the escalation; the alarms keep firing on an application already escalated.
    const r = await report('external-outage-escalates');

    // Act
    const rows = compactTimeline(r);

    // Assess
    const ignored = r.timeline.filter((l) => l.actor === 'ignored' && / DUPLICATE: /.test(l.text));
    expect(ignored.length).toBeGreaterThan(2);
    const folded = rows.filter((row) => row.actor === 'alarm' && / ×\d+ folded until T\+\d\d:\d\d — /.test(row.text));
    expect(folded.map((row) => row.text.replace(/ ×.*/, ''))).toEqual([
      'clickstream-sessions failed-checkpoints: OK → ALARM',
      'clickstream-sessions restart-loop: OK → ALARM',
    ]);
    for (const row of folded) expect(row.text).toMatch(/ — ignored: its incident is already (REMEDIATING|ESCALATED)/);
    expect(rows.length).toBeLessThan(r.timeline.length / 2);
    for (const row of rows) expect([...formatRow(row, r.startMs)].length).toBeLessThanOrEqual(MAX_WIDTH);
  });

  it('is deterministic: the same scenario gives the same timeline', async () => {
    const a = await runScenario(loadScenario('wrong-main-class'));
    const b = await runScenario(loadScenario('wrong-main-class'));
    expect(b.timeline.map((l) => `${l.atMs} ${l.actor} ${l.text}`)).toEqual(
      a.timeline.map((l) => `${l.atMs} ${l.actor} ${l.text}`),
    );
  });
});

describe('CLI: flink-watchdog drill', () => {
  const cli = ['tsx', 'cli/bin.ts', 'drill'];

  it('prints the documented JSON and exits 0 when scenarios pass', async () => {
    const { stdout } = await run('npx', [...cli, 'wrong-main-class', 'removed-operator', '--json']);
    const json = JSON.parse(stdout) as { scenarios: Array<Record<string, unknown>> };
    expect(json.scenarios.map((s) => s.name)).toEqual(['wrong-main-class', 'removed-operator']);
    for (const s of json.scenarios) {
      expect(Object.keys(s)).toEqual(
        expect.arrayContaining([
          'name',
          'expected',
          'outcome',
          'passed',
          'detectionOnset',
          'detectionSeconds',
          'firstActionSeconds',
          'recoverySeconds',
          'peers',
          'restartLoop',
          'actions',
          'mutatingCalls',
          'workflowExecutions',
          'notifications',
        ]),
      );
    }
    expect(json.scenarios[1]).toMatchObject({ outcome: 'RECOVERED', passed: true, mutatingCalls: 1 });
  });

  it('exits 1 when a scenario misses its expected outcome (--output json, as other commands take it)', async () => {
    const failed = await run('npx', [
      ...cli,
      'test/fixtures/scenarios/wrong-expectation.json',
      '--output',
      'json',
    ]).then(
      () => undefined,
      (e: { code: number; stdout: string }) => e,
    );
    expect(failed?.code).toBe(1);
    expect(JSON.parse(failed?.stdout ?? '{}').scenarios[0]).toMatchObject({
      passed: false,
      outcome: 'NOTIFIED',
      expected: 'RECOVERED',
    });
  });

  it('prints one line per event that matters, at most 120 columns, T+MM:SS, one recovery figure; --verbose all', async () => {
    // Act
    const { stdout } = await run('npx', [...cli, 'removed-operator', '--no-color']);
    const verbose = await run('npx', [...cli, 'removed-operator', '--no-color', '--verbose']);

    // Assess
    const lines = stdout.split('\n');
    for (const l of lines) expect([...l].length).toBeLessThanOrEqual(120);
    const rows = lines.filter((l) => /^ {2}T\+\d\d:\d\d {2}/.test(l));
    expect(rows.length).toBeGreaterThan(5);
    expect(stdout).not.toMatch(/(^|\s)\+\d\d:\d\d/);
    expect(stdout).not.toContain('recovered in');
    const recovery = /recovery (\d+) s: onset T\+\d\d:\d\d \(failed-operation-end\) → RESOLVED T\+\d\d:\d\d/.exec(
      stdout,
    );
    expect(recovery).not.toBeNull();
    expect(stdout).toContain(`recovery ${recovery?.[1]} s, 1 mutating call(s)`);
    expect(stdout).not.toMatch(/ watch /);
    // --verbose: the full timeline as it happens, the clock time beside T+MM:SS, watches included.
    expect(verbose.stdout).toMatch(/^ {2}14:07:05 T\+07:05 {2}decide /m);
    expect(verbose.stdout).toMatch(/ watch {3}fraud-scoring: /);
    expect(verbose.stdout.split('\n').length).toBeGreaterThan(lines.length);
  });

  it('names the known scenarios when asked for an unknown one (a usage error, exit 64)', async () => {
    const failed = await run('npx', [...cli, 'no-such-scenario']).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed?.code).toBe(64);
    expect(failed?.stderr).toContain(
      'error: unknown scenario "no-such-scenario"; known scenarios: approval-granted, approval-timeout, autoscaling-not-drift, bad-config-change',
    );
  });
});
