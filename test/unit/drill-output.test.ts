import { describe, expect, it } from 'vitest';
import {
  alarmParts,
  compactTimeline,
  elapsed,
  formatHeading,
  formatRow,
  MAX_WIDTH,
  truncate,
  whyNoAction,
  wrap,
} from '#cli/drill-output.ts';
import type { TimelineLine } from '#sandbox/drill.ts';

const START = Date.parse('2026-03-02T14:00:00Z');
/** A timeline line at `m` minutes and `s` seconds after the start. */
const at = (m: number, s: number, actor: string, text: string): TimelineLine => ({
  atMs: START + (m * 60 + s) * 1000,
  actor,
  text,
});
const ALARM = 'flink-watchdog-drill-orders-enrichment-restart-loop';
const INCIDENT = 'orders-enrichment-64c75701cf082af8';
const width = (s: string) => [...s].length;

/** A restart loop rolled back, then its alarm firing again four times while the incident is open. */
function loopTimeline(): TimelineLine[] {
  return [
    at(0, 0, 'sweep', '1 watched (0 by tag); 1 flagged for a closer look'),
    at(5, 0, 'user', 'UpdateApplication orders-enrichment: code orders/orders-enrichment-2.0.0.jar'),
    at(5, 0, 'watch', 'orders-enrichment: change watch orders-enrichment-change-bf38 started (first check in 5 s)'),
    at(5, 5, 'msf', 'orders-enrichment: RUNNING → UPDATING (version 7)'),
    at(5, 5, 'msf', 'unrelated-app: RUNNING → UPDATING (version 3)'),
    at(6, 45, 'job', 'orders-enrichment: the job is restarting (restart 1)'),
    at(8, 5, 'alarm', `${ALARM} OK → ALARM`),
    at(8, 5, 'ignored', `${ALARM} HEALTHY: orders-enrichment looks healthy: no finding. (watch started: w-1)`),
    at(9, 5, 'alarm', `${ALARM} OK → ALARM`),
    at(9, 5, 'detect', 'orders-enrichment: Restart loop: 3 restarts (fullRestarts) in the last 10 min.'),
    at(9, 5, 'decide', `orders-enrichment: REMEDIATING [${INCIDENT}] — Restart loop: roll back to version 6.`),
    at(9, 5, 'peer', 'AWS recommended alarm: downtime > 0: OK → ALARM'),
    at(9, 5, 'workflow', `execution ${INCIDENT} started`),
    at(9, 5, 'call', 'RollbackApplication {"ApplicationName":"orders-enrichment","CurrentApplicationVersionId":7}'),
    at(9, 5, 'notify', 'OPENED: orders-enrichment: RESTART_LOOP → roll back  [sns ✓, slack ✓]'),
    at(9, 5, '', '  next: aws kinesisanalyticsv2 describe-application --application-name orders-enrichment'),
    ...[12, 15, 18, 21].flatMap((m) => [
      at(m, 5, 'alarm', `${ALARM} OK → ALARM`),
      at(m, 5, 'ignored', `${ALARM} DUPLICATE: incident ${INCIDENT} is already REMEDIATING`),
    ]),
    at(15, 35, 'workflow', `execution ${INCIDENT} SUCCEEDED: 43 state transitions, 11 steps`),
    at(15, 35, 'notify', 'RESOLVED: orders-enrichment: recovered in 7 min  [sns ✓, slack ✓]'),
  ];
}

const loopReport = () => ({
  timeline: loopTimeline(),
  startMs: START,
  detectionOnset: { rule: 'first-restart' as const, atMs: START + (6 * 60 + 45) * 1000, incidentId: INCIDENT },
  recoverySeconds: 530,
});

describe('Function: elapsed', () => {
  it('says minutes and seconds since the scenario start as T+MM:SS', () => {
    expect(elapsed(START + 5 * 60_000, START)).toBe('T+05:00');
    expect(elapsed(START + 65 * 60_000 + 5_000, START)).toBe('T+65:05');
    expect(elapsed(START - 1_000, START)).toBe('T+00:00');
  });
});

describe('Function: truncate and wrap', () => {
  it('cuts a long text to the width with an ellipsis, and leaves a short one alone', () => {
    // Prepare
    const long = `Failed: ${'x'.repeat(700)}`;

    // Act
    const cut = truncate(long, 40);

    // Assess
    expect(width(cut)).toBe(40);
    expect(cut.endsWith('…')).toBe(true);
    expect(truncate('short', 40)).toBe('short');
  });

  it('wraps words to lines no wider than the width, continuation lines indented', () => {
    const lines = wrap('one two three four five six seven eight nine ten', 15, '  ');
    expect(lines.every((l) => width(l) <= 15)).toBe(true);
    expect(lines.slice(1).every((l) => l.startsWith('  '))).toBe(true);
    expect(lines.join(' ').replace(/\s+/g, ' ').trim()).toBe('one two three four five six seven eight nine ten');
  });
});

describe('Function: alarmParts', () => {
  it('reads the application and the kind from a watchdog alarm name', () => {
    expect(alarmParts(ALARM)).toEqual({ application: 'orders-enrichment', kind: 'restart-loop' });
    expect(alarmParts('someone-elses-alarm')).toEqual({ application: 'someone-elses-alarm', kind: 'alarm' });
  });
});

describe('Function: whyNoAction', () => {
  it("says why an alarm was ignored with the detector's reason, the incident id said as its incident", () => {
    expect(whyNoAction('DUPLICATE', `incident ${INCIDENT} is already ESCALATED`, 'orders-enrichment')).toBe(
      'ignored: its incident is already ESCALATED',
    );
    expect(whyNoAction('DEFERRED', 'Held by fleet incident fleet-ee38d3ba44f7367a: restarts held', 'orders-01')).toBe(
      'ignored: Held by fleet incident fleet-ee38d3ba44f7367a: restarts held',
    );
  });

  it('says a healthy look found nothing yet, and whether it started a watch', () => {
    expect(whyNoAction('HEALTHY', 'x looks healthy: no finding. (watch started: w-1)', 'x')).toBe(
      'no finding yet, watch started',
    );
    expect(whyNoAction('HEALTHY', 'x looks healthy: no finding.', 'x')).toBe('no finding yet');
  });
});

describe('Function: compactTimeline', () => {
  it('folds the repeats of an alarm that led to no decision into one row, with the count, the end and the reason', () => {
    // Act
    const rows = compactTimeline(loopReport());

    // Assess
    const alarms = rows.filter((r) => r.actor === 'alarm').map((r) => r.text);
    expect(alarms).toEqual([
      'orders-enrichment restart-loop: OK → ALARM — no finding yet, watch started',
      'orders-enrichment restart-loop: OK → ALARM',
      'orders-enrichment restart-loop: OK → ALARM ×4 folded until T+21:05 — ignored: its incident is already REMEDIATING',
    ]);
    expect(rows.find((r) => r.text.includes('×4'))?.atMs).toBe(START + (12 * 60 + 5) * 1000);
  });

  it('keeps the events that matter and leaves watches, findings, peers, started workflows and texts out', () => {
    const rows = compactTimeline(loopReport());
    expect(rows.map((r) => r.actor)).toEqual([
      'user',
      'msf',
      'job',
      'alarm',
      'alarm',
      'decide',
      'call',
      'notify',
      'alarm',
      'notify',
      'recovery',
    ]);
    // Status changes only of an application someone dealt with.
    expect(rows.some((r) => r.text.startsWith('unrelated-app'))).toBe(false);
    expect(rows.find((r) => r.actor === 'decide')?.text).toBe(
      'orders-enrichment: REMEDIATING — Restart loop: roll back to version 6.',
    );
    expect(rows.find((r) => r.actor === 'call')?.text).toBe(
      'RollbackApplication orders-enrichment {"CurrentApplicationVersionId":7}',
    );
  });

  it('gives one recovery figure: the RESOLVED notification without its own, and the onset → RESOLVED row', () => {
    const rows = compactTimeline(loopReport());
    expect(rows.some((r) => /recovered in/.test(r.text))).toBe(false);
    expect(rows.find((r) => r.actor === 'notify' && r.text.startsWith('RESOLVED'))?.text).toBe(
      'RESOLVED: orders-enrichment',
    );
    expect(rows.at(-1)).toEqual({
      atMs: START + (15 * 60 + 35) * 1000,
      actor: 'recovery',
      text: '530 s: onset T+06:45 (first-restart) → RESOLVED T+15:35',
    });
  });

  it('has no recovery row when the incident did not recover', () => {
    const rows = compactTimeline({ ...loopReport(), recoverySeconds: null });
    expect(rows.some((r) => r.actor === 'recovery')).toBe(false);
  });

  it('lists a failed delivery on its notification, and the channels not at all when every one got it', () => {
    const rows = compactTimeline({
      ...loopReport(),
      recoverySeconds: null,
      timeline: [
        at(9, 5, 'notify', 'OPENED: a: RESTART_LOOP → roll back  [sns ✓, slack ✗ timeout]'),
        at(9, 5, 'warn', 'notification not delivered {"channel":"slack"}'),
        at(9, 5, 'notify', 'ACTION_TAKEN: a: RollbackApplication  [sns ✓, slack ✓]'),
      ],
    });
    expect(rows.map((r) => r.text)).toEqual([
      'OPENED: a: RESTART_LOOP → roll back  [sns ✓, slack ✗ timeout]',
      'ACTION_TAKEN: a: RollbackApplication',
    ]);
  });

  it('folds the same event of many applications at the same time into one row, but never two MSF calls', () => {
    // Prepare
    const apps = Array.from({ length: 12 }, (_, i) => `orders-${String(i + 1).padStart(2, '0')}`);
    const timeline = [
      ...apps.map((a) => at(6, 20, 'job', `${a}: the job is restarting (restart 1)`)),
      ...apps.map((a) => at(8, 5, 'alarm', `flink-watchdog-drill-${a}-restart-loop OK → ALARM`)),
      ...apps.slice(0, 2).map((a) => at(9, 5, 'call', `StopApplication {"ApplicationName":"${a}","Force":true}`)),
    ];

    // Act
    const rows = compactTimeline({ timeline, startMs: START, detectionOnset: null, recoverySeconds: null });

    // Assess
    expect(rows.map((r) => r.text)).toEqual([
      '12 applications (orders-01, …): the job is restarting (restart 1)',
      '12 applications (orders-01, …) restart-loop: OK → ALARM',
      'StopApplication orders-01 {"Force":true}',
      'StopApplication orders-02 {"Force":true}',
    ]);
  });
});

describe('Function: formatRow and formatHeading', () => {
  it('prints no line wider than 120 columns, however long the text', () => {
    // Prepare
    const row = { atMs: START + 9 * 60_000, actor: 'error', text: `detector rejected the event: ${'y'.repeat(700)}` };
    const heading = { name: 'n', title: 't '.repeat(200), description: 'd', designScenario: 3 };

    // Act
    const line = formatRow(row, START);
    const lines = formatHeading(heading, false).split('\n');

    // Assess
    expect(line.startsWith('  T+09:00  error    detector rejected the event: yyy')).toBe(true);
    expect(width(line)).toBe(MAX_WIDTH);
    expect(line.endsWith('…')).toBe(true);
    expect(lines.every((l) => width(l) <= MAX_WIDTH)).toBe(true);
    expect(lines.join(' ')).toContain('[failure mode 3]');
  });
});
