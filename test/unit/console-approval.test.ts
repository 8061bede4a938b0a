import { describe, expect, it } from 'vitest';
import { buildCommand } from '#cli/remediate.ts';
import { answerConsoleAction, type ConsoleActionContext } from '#sandbox/console-actions.ts';
import { slackBlocksHtml } from '#sandbox/console-state.ts';
import type { AnswerResult, ApprovalAnswer } from '#shared/domain/approval.ts';

const ID = 'orders-enrichment-0123456789abcdef';

/** A console context whose answerApproval records each call and answers `result`. */
function context(result: AnswerResult) {
  const calls: Array<[string, ApprovalAnswer]> = [];
  const ctx: ConsoleActionContext = {
    endpoint: 'http://127.0.0.1:1',
    region: 'us-east-1',
    credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
    commandTopicArn: 'arn:aws:sns:us-east-1:123456789012:commands',
    applications: ['orders-enrichment'],
    answerApproval: async (id, answer) => {
      calls.push([id, answer]);
      return result;
    },
  };
  return { ctx, calls };
}

describe('POST /sandbox/actions approve / reject', () => {
  it('approve answers the incident as the sandbox console, via console', async () => {
    const { ctx, calls } = context({ accepted: true, message: 'Approved by sandbox console' });
    const out = await answerConsoleAction(JSON.stringify({ action: 'approve', incidentId: ID }), ctx);
    expect(out).toEqual({
      status: 200,
      body: { incidentId: ID, decision: 'APPROVED', message: 'Approved by sandbox console' },
    });
    expect(calls).toEqual([[ID, { decision: 'APPROVED', by: 'sandbox console', via: 'console' }]]);
  });

  it('reject needs a reason; a bad incident id or reason is refused (400) naming the field, before any call', async () => {
    const { ctx, calls } = context({ accepted: true, message: 'ok' });
    const post = (body: unknown) => answerConsoleAction(JSON.stringify(body), ctx);
    expect(await post({ action: 'reject', incidentId: ID })).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/^reason: required to reject/) },
    });
    expect(await post({ action: 'reject', incidentId: ID, reason: '   ' })).toMatchObject({ status: 400 });
    expect(await post({ action: 'approve', incidentId: 'orders' })).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/^incidentId "orders": expected the id of an incident/) },
    });
    expect(await post({ action: 'approve' })).toMatchObject({ status: 400, body: { message: /^incidentId/ } });
    expect(await post({ action: 'approve', incidentId: ID, reason: 'x'.repeat(1025) })).toMatchObject({
      status: 400,
      body: { message: /^reason: expected text of at most 1024/ },
    });
    expect(calls).toEqual([]);
    expect(await post({ action: 'reject', incidentId: ID, reason: ' not now ' })).toMatchObject({ status: 200 });
    expect(calls).toEqual([[ID, { decision: 'REJECTED', by: 'sandbox console', via: 'console', reason: 'not now' }]]);
  });

  it('a refused answer (not awaiting approval) is a 409 with the reason', async () => {
    const { ctx } = context({ accepted: false, message: `Incident ${ID}'s approval request is already APPROVED` });
    expect(await answerConsoleAction(JSON.stringify({ action: 'approve', incidentId: ID }), ctx)).toEqual({
      status: 409,
      body: { error: 'ApprovalRefused', message: `Incident ${ID}'s approval request is already APPROVED` },
    });
  });
});

describe('Function: slackBlocksHtml', () => {
  it('renders the Approve / Reject buttons of an approval request as console buttons, other blocks as blocksHtml does', () => {
    const html = slackBlocksHtml(
      [
        { type: 'section', text: { type: 'mrkdwn', text: 'Approval requested <b>' } },
        {
          type: 'actions',
          elements: [
            {
              type: 'button',
              action_id: 'flink-watchdog-approve',
              text: { type: 'plain_text', text: 'Approve' },
              value: ID,
            },
            {
              type: 'button',
              action_id: 'flink-watchdog-reject',
              text: { type: 'plain_text', text: 'Reject' },
              value: '"><x',
            },
            {
              type: 'button',
              action_id: 'flink-watchdog-msf-console',
              text: { type: 'plain_text', text: 'MSF console' },
              url: 'https://console.aws.amazon.com/',
            },
          ],
        },
      ],
      'fallback',
    );
    expect(html).toContain(
      `<button type="button" class="button slack-approval" data-approval="approve" data-incident="${ID}">Approve</button>`,
    );
    expect(html).toContain('data-approval="reject" data-incident="&#34;&#62;&#60;x"');
    expect(html).toContain('<a class="button" href="https://console.aws.amazon.com/"');
    expect(html).not.toContain('<b>');
    const confirmed = slackBlocksHtml(
      [
        {
          type: 'actions',
          elements: [
            {
              type: 'button',
              action_id: 'flink-watchdog-approve',
              text: { type: 'plain_text', text: 'Approve' },
              value: ID,
              confirm: {
                title: { type: 'plain_text', text: 'Approve?' },
                text: { type: 'plain_text', text: 'Roll <back>' },
              },
            },
          ],
        },
      ],
      '',
    );
    expect(confirmed).toContain('data-confirm="Approve?\nRoll &#60;back&#62;"');
  });

  it('remediate --action approve points to the approve command', () => {
    const built = buildCommand('orders', { action: 'approve' });
    expect(built).toMatchObject({
      problems: [{ kind: 'usage', message: expect.stringContaining('flink-watchdog approve INCIDENT') }],
    });
  });
});
