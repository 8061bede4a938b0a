import { describe, expect, it } from 'vitest';
import { formatVerdict } from '#cli/drill-output.ts';
import { SLACK_APPROVE_ACTION_ID, signedSlackRequest } from '#functions/slack-interactions/handler.ts';
import { type LiveHarness, runScenario, type ScenarioReport } from '#sandbox/drill.ts';
import { loadScenario, loadScenarioFile, type Scenario } from '#sandbox/scenario.ts';
import type { Incident } from '#shared/domain/incident.ts';
import { MUTATING_MSF_OPERATIONS } from '#shared/ports/msf.ts';

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

/** The incident of `application` that asked for approval. */
function asked(r: ScenarioReport, application: string): Incident {
  const incident = r.incidents.find((i) => i.applicationName === application && i.approval !== undefined);
  expect(incident, `an incident of ${application} with an approval request`).toBeDefined();
  return incident as Incident;
}

/** Every interactive element (button) of the Slack messages the receiver got: action_id, value, when. */
function buttons(r: Pick<ScenarioReport, 'slackMessages'>): Array<{ action_id: string; value: string; atMs: number }> {
  const found: Array<{ action_id: string; value: string; atMs: number }> = [];
  for (const m of r.slackMessages) {
    const visit = (node: unknown): void => {
      if (Array.isArray(node)) for (const n of node) visit(n);
      else if (typeof node === 'object' && node !== null) {
        const o = node as Record<string, unknown>;
        if (typeof o.action_id === 'string' && typeof o.value === 'string') {
          found.push({ action_id: o.action_id, value: o.value, atMs: m.atMs });
        }
        for (const v of Object.values(o)) visit(v);
      }
    };
    visit(m.body.blocks);
  }
  return found;
}

const mutating = (r: ScenarioReport) => r.watchdogCalls.filter((c) => MUTATING_MSF_OPERATIONS.has(c.operation));

describe('Drill: approve mode', () => {
  it('approval-granted: asked in Slack with buttons, approved by the Slack user through the signed endpoint, then rolled back and RECOVERED', async () => {
    // Act
    const r = await report('approval-granted');

    // Assess
    expect(r.failures).toEqual([]);
    expect(r.outcome).toBe('RECOVERED');
    const incident = asked(r, 'orders-enrichment');
    expect(incident.status).toBe('RESOLVED');
    expect(incident.approval).toMatchObject({
      state: 'APPROVED',
      answer: { decision: 'APPROVED', via: 'slack', by: 'slack:U024BE7LH (jane.doe)' },
    });
    const approval = incident.approval as NonNullable<Incident['approval']>;
    const answeredMs = approval.answer?.atMs ?? 0;
    // The Slack message carried the Approve button for this incident before anyone answered.
    const approve = buttons(r).find((b) => b.action_id === SLACK_APPROVE_ACTION_ID && b.value === incident.id);
    expect(approve?.atMs).toBeLessThanOrEqual(answeredMs);
    // Nothing was done before the approval; the rollback came after it, on a fresh DescribeApplication.
    expect(mutating(r).map((c) => c.operation)).toEqual(['RollbackApplication']);
    const rollback = mutating(r)[0];
    expect(rollback?.atMs).toBeGreaterThanOrEqual(answeredMs);
    const describedAfterAnswer = r.watchdogCalls.filter(
      (c) => c.operation === 'DescribeApplication' && c.atMs >= answeredMs && c.atMs <= (rollback?.atMs ?? 0),
    );
    expect(describedAfterAnswer.length).toBeGreaterThan(0);
    // The timeline says who answered, through what, and that it was accepted.
    expect(
      r.timeline.some(
        (l) =>
          l.actor === 'approval' &&
          l.text.startsWith('approve orders-enrichment via slack by U024BE7LH (jane.doe)') &&
          l.text.includes('accepted'),
      ),
    ).toBe(true);
    expect(r.timeline.some((l) => l.actor === 'notify' && l.text.startsWith('APPROVAL_REQUESTED'))).toBe(true);
    expect(formatVerdict(r)).toContain(
      `approval: APPROVED by slack:U024BE7LH (jane.doe) via slack, ${Math.round((answeredMs - approval.requestedMs) / 1000)} s after the request`,
    );
  }, 240_000);

  it('approval-timeout: nobody answers → TIMED_OUT after approvalTimeoutMinutes, ESCALATED, zero mutating MSF calls', async () => {
    // Act
    const r = await report('approval-timeout');

    // Assess
    expect(r.failures).toEqual([]);
    expect(r.outcome).toBe('ESCALATED');
    expect(r.mutatingCalls).toBe(0);
    expect(mutating(r)).toEqual([]);
    const incident = asked(r, 'clickstream-sessions');
    expect(incident.status).toBe('ESCALATED');
    expect(incident.approval?.state).toBe('TIMED_OUT');
    expect(incident.approval?.answer).toBeUndefined();
    const approval = incident.approval as NonNullable<Incident['approval']>;
    expect(approval.timeoutMs - approval.requestedMs).toBe(15 * MINUTE_MS);
    // Escalated once the timeout passed, not before.
    expect(incident.closedMs ?? 0).toBeGreaterThanOrEqual(approval.timeoutMs);
    expect(formatVerdict(r)).toContain('approval: TIMED_OUT: no answer within 15 min');
  }, 240_000);

  it('a rejection through flink-watchdog reject ends ESCALATED with the reason and no MSF call; a later Approve click is refused', async () => {
    // Act
    const r = await report('fixture:approval-rejected');

    // Assess
    expect(r.failures).toEqual([]);
    expect(r.outcome).toBe('ESCALATED');
    expect(mutating(r)).toEqual([]);
    const incident = asked(r, 'orders-enrichment');
    expect(incident.approval).toMatchObject({
      state: 'REJECTED',
      answer: {
        decision: 'REJECTED',
        via: 'cli',
        by: 'arn:aws:iam::123456789012:user/sam.lee',
        reason: 'a fix-forward 1.5.1 is being built; do not roll back',
      },
    });
    const later = r.timeline.find((l) => l.actor === 'approval' && l.text.startsWith('approve orders-enrichment'));
    expect(later?.text).toContain('refused');
    // The refused click changed nothing.
    expect(incident.approval?.answer?.by).toBe('arn:aws:iam::123456789012:user/sam.lee');
  }, 240_000);

  it('an approval given after someone deployed is stale: refused and said so, ESCALATED, no watchdog MSF call', async () => {
    // Act
    const r = await report('fixture:approval-stale');

    // Assess
    expect(r.failures).toEqual([]);
    expect(r.outcome).toBe('ESCALATED');
    expect(mutating(r)).toEqual([]);
    const incident = asked(r, 'orders-enrichment');
    expect(incident.approval).toMatchObject({ state: 'STALE', answer: { decision: 'APPROVED', via: 'console' } });
    expect(incident.status).toBe('ESCALATED');
    // People were told the approval was refused.
    expect(
      r.timeline.some((l) => l.actor === 'notify' && /APPROVAL_ANSWERED|ESCALATED/.test(l.text.split(':')[0] ?? '')),
    ).toBe(true);
  }, 240_000);
});

describe('Drill: approval steps that find nothing to answer', () => {
  it('an approve step before any approval request is recorded as refused and the run goes on', async () => {
    // Prepare: the granted scenario with its Slack approval moved before the deploy.
    const base = loadScenario('approval-granted');
    const scenario: Scenario = {
      ...base,
      name: 'approval-too-early',
      durationMinutes: 12,
      timeline: [
        { atMinute: 1, application: 'orders-enrichment', action: 'approve', via: 'console' },
        ...base.timeline.filter((e) => e.action !== 'approve'),
      ],
      expected: { ...base.expected, outcome: 'NO_INCIDENT', actions: [], untouched: [], runningAtEnd: [] },
    };

    // Act
    const r = await runScenario(scenario);

    // Assess
    const step = r.timeline.find((l) => l.actor === 'approval');
    expect(step?.text).toBe(
      'approve orders-enrichment via console by sandbox console: refused — orders-enrichment has no incident awaiting approval',
    );
    expect(r.timeline.filter((l) => l.actor === 'error')).toEqual([]);
    expect(r.mutatingCalls).toBe(0);
  }, 240_000);
});

describe('Drill: LiveHarness.answerApproval (the sandbox console)', () => {
  it('a forged Slack click is refused with 401 and changes nothing; approving from the console between two steps leads to the rollback', async () => {
    // Prepare: approval-granted without its Slack step; the "console" answers once the Approve button was sent.
    const base = loadScenario('approval-granted');
    const scenario: Scenario = { ...base, timeline: base.timeline.filter((e) => e.action !== 'approve') };
    const endMs = Date.parse(scenario.startTime) + 40 * MINUTE_MS;
    let harness: LiveHarness | undefined;
    let answered: Promise<unknown> | undefined;
    let forged: Promise<{ statusCode: number }> | undefined;

    // Act
    const r = await runScenario(scenario, {
      live: {
        ready: (h) => {
          harness = h;
        },
        waitFor: async (atMs) => atMs <= endMs,
        stepped: (atMs) => {
          const h = harness;
          if (!h || answered) return;
          const button = buttons({ slackMessages: [...h.slackMessages] }).find(
            (b) => b.action_id === SLACK_APPROVE_ACTION_ID,
          );
          // Not awaited: each waits for this step to end, as the console's request does.
          if (button) {
            forged = h.slackInteraction(
              signedSlackRequest({
                // Sent now (within Slack's 5-minute window), signed with another secret.
                secret: 'not-the-signing-secret',
                nowMs: atMs,
                incidentId: button.value,
                decision: 'APPROVED',
                userId: 'U0FORGED1',
                userName: 'mallory',
              }),
            );
            answered = forged.then(() =>
              h.answerApproval(button.value, { decision: 'APPROVED', by: 'sandbox console', via: 'console' }),
            );
          }
        },
      },
    });

    // Assess
    expect((await forged)?.statusCode).toBe(401);
    // The forged click recorded nothing: the console's answer, after it, was the one taken.
    expect(await answered).toMatchObject({ accepted: true });
    expect(r.outcome).toBe('RECOVERED');
    expect(mutating(r).map((c) => c.operation)).toEqual(['RollbackApplication']);
    expect(asked(r, 'orders-enrichment').approval).toMatchObject({
      state: 'APPROVED',
      answer: { via: 'console', by: 'sandbox console' },
    });
    expect(r.timeline.some((l) => l.actor === 'approval' && l.text.includes('via console by sandbox console'))).toBe(
      true,
    );
  }, 240_000);
});
