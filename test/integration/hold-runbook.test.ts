import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveScenario } from '#cli/drill.ts';
import type { TimelineLine } from '#sandbox/drill.ts';
import { type LiveSandbox, startLiveSandbox } from '#sandbox/live.ts';

const MINUTE_MS = 60_000;

let sandbox: LiveSandbox | undefined;

afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
});

/** Moves the paused sandbox clock `minutes` virtual minutes forward, one minute at a time, and waits for the run. */
async function advance(s: LiveSandbox, clockUrl: string, minutes: number): Promise<void> {
  for (let i = 0; i < minutes; i++) {
    const answer = await fetch(clockUrl, { method: 'POST', body: JSON.stringify({ advanceSeconds: 60 }) });
    expect(answer.status).toBe(200);
  }
  await s.caughtUp();
}

describe('A runbook command during a change freeze (change-freeze scenario, live)', () => {
  it('acts while the calendar is CLOSED; the held remediation then stops without acting on its earlier decision', async () => {
    // Prepare: the restart loop starts at minute 5, the rollback is decided and held (calendar CLOSED until minute 20).
    const lines: TimelineLine[] = [];
    sandbox = await startLiveSandbox({
      scenario: resolveScenario('change-freeze'),
      speed: 0,
      onLine: (l) => lines.push(l),
    });
    const live = sandbox;
    const clockUrl = Object.fromEntries(live.environment).FLINK_WATCHDOG_CLOCK_URL ?? '';
    await advance(live, clockUrl, 13);
    const sns = new SNSClient({
      endpoint: live.endpoint,
      region: live.region,
      credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
      maxAttempts: 1,
    });

    // Act: a person rolls back by hand during the freeze, through the command topic.
    await sns.send(
      new PublishCommand({
        TopicArn: live.commandTopicArn,
        Message: JSON.stringify({
          command: 'rollback',
          application: 'payments-scoring',
          reason: 'roll the hotfix back now, freeze or not',
          requestedBy: 'alice@example.com',
          dryRun: false,
        }),
        MessageAttributes: {
          command: { DataType: 'String', StringValue: 'rollback' },
          application: { DataType: 'String', StringValue: 'payments-scoring' },
        },
      }),
    );
    sns.destroy();
    await live.caughtUp();
    await advance(live, clockUrl, 15);
    sandbox = undefined;
    const report = await live.stop();

    // Assess
    expect(lines.map((l) => `${l.actor} ${l.text}`)).toContainEqual(
      expect.stringMatching(/^runbook rollback payments-scoring: STARTED/),
    );
    // One rollback, the person's, made while the calendar was still CLOSED; the held remediation made none.
    expect(report.actions.map((a) => a.operation)).toEqual(['RollbackApplication']);
    expect(report.actions[0]?.atMs).toBeLessThan(report.startMs + 20 * MINUTE_MS);
    const person = report.incidents.find((i) => i.trigger.source === 'runbook');
    const held = report.incidents.find((i) => i.trigger.source !== 'runbook');
    expect(person?.status).toBe('RESOLVED');
    expect(held?.hold?.kind).toBe('CHANGE_FREEZE');
    expect(held?.actions).toEqual([]);
    expect(held?.status).toBe('ESCALATED');
    expect(held?.events.map((e) => e.message)).toContainEqual(
      expect.stringContaining(
        `A person acted on payments-scoring while this incident was held: change calendar prod-change-freeze is CLOSED`,
      ),
    );
    expect(held?.outcomeReason).toMatch(/holds the lock on payments-scoring|remediation attempt\(s\) were made/);
  }, 180_000);
});
