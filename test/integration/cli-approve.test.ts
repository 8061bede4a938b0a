import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApproveJson } from '#cli/approve.ts';
import { resolveScenario } from '#cli/drill.ts';
import type { ConsoleIncident, ConsoleState } from '#sandbox/console-state.ts';
import type { TimelineLine } from '#sandbox/drill.ts';
import { type LiveSandbox, startLiveSandbox } from '#sandbox/live.ts';

/** Runs `flink-watchdog ARGS` as a user would in a shell with the sandbox's exports (node + tsx, from the repository). */
function cli(
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/bin.ts', ...args], {
      cwd: process.cwd(),
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', NO_COLOR: '1', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function advanceMinutes(endpoint: string, minutes: number): Promise<void> {
  const answer = await fetch(`${endpoint}/sandbox/clock`, {
    method: 'POST',
    body: JSON.stringify({ advanceSeconds: minutes * 60 }),
  });
  expect(answer.status).toBe(200);
}

async function incidents(endpoint: string): Promise<ConsoleIncident[]> {
  return ((await (await fetch(`${endpoint}/sandbox/state`)).json()) as ConsoleState).incidents;
}

let sandbox: LiveSandbox | undefined;

afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
});

describe('CLI: flink-watchdog approve / reject against the live sandbox', () => {
  it('approve-mode loop: reject without --reason is refused (64), approve publishes with the caller identity and leads to the rollback', async () => {
    // Prepare: approval-granted without its scripted answer: the CLI's is the only one.
    const scenario = resolveScenario('approval-granted');
    const lines: TimelineLine[] = [];
    sandbox = await startLiveSandbox({
      scenario: { ...scenario, timeline: scenario.timeline.filter((step) => step.action === 'update') },
      speed: 0,
      onLine: (l) => lines.push(l),
    });
    const env = Object.fromEntries(sandbox.environment);
    let minutes = 0;
    let pending: ConsoleIncident | undefined;
    while (minutes < 30 && !pending) {
      await advanceMinutes(sandbox.endpoint, 1);
      minutes += 1;
      pending = (await incidents(sandbox.endpoint)).find((i) => i.approval?.state === 'PENDING');
    }
    const id = pending?.id ?? 'no-incident-awaiting-approval';

    // Act
    const rejectWithoutReason = await cli(['reject', id], env);
    const malformed = await cli(['approve', 'orders enrichment'], env);
    const unknown = await cli(['approve', 'orders-enrichment-0000000000000000', '--output', 'json'], env);
    const afterRefusals = (await incidents(sandbox.endpoint)).find((i) => i.id === id);
    const approve = await cli(['approve', id, '--reason', 'the deploy is bad, roll back', '--output', 'json'], env);
    for (let m = 0; m < 30 && !(await incidents(sandbox.endpoint)).some((i) => i.status === 'RESOLVED'); m += 5) {
      await advanceMinutes(sandbox.endpoint, 5);
    }
    const [resolved] = await incidents(sandbox.endpoint);

    // Assess
    expect(pending).toBeDefined();
    expect(rejectWithoutReason.code).toBe(64);
    expect(rejectWithoutReason.stderr).toContain('--reason TEXT is required to reject');
    expect(malformed.code).toBe(64);
    expect(malformed.stderr).toContain('INCIDENT "orders enrichment": expected an incident id');
    expect(unknown.code).toBe(1);
    expect((JSON.parse(unknown.stdout) as ApproveJson).published).toBeUndefined();
    expect(afterRefusals?.approval?.state).toBe('PENDING');

    expect(approve.code).toBe(0);
    const out = JSON.parse(approve.stdout) as ApproveJson;
    expect(out).toMatchObject({
      command: 'approve',
      incidentId: id,
      application: 'orders-enrichment',
      outcome: 'recorded',
      approvalState: 'APPROVED',
      problems: [],
    });
    expect(out.published?.topicArn).toBe(env.COMMAND_TOPIC_ARN);
    expect(out.published?.attributes).toEqual({ command: 'approve', application: 'orders-enrichment' });
    // The approver is the caller's identity (STS GetCallerIdentity), as with remediate --execute.
    expect(out.published?.message).toMatchObject({
      command: 'approve',
      incidentId: id,
      requestedBy: expect.stringMatching(/^arn:aws:(iam|sts)::\d{12}:/),
      via: 'cli',
      dryRun: false,
    });
    expect(out.answeredBy).toBe(`${out.published?.message.requestedBy} via cli`);
    expect(resolved).toMatchObject({ id, status: 'RESOLVED' });
    expect(resolved?.approval?.answer).toMatchObject({
      decision: 'APPROVED',
      via: 'cli',
      reason: 'the deploy is bad, roll back',
    });
    expect(lines.some((l) => l.actor === 'call' && l.text.startsWith('RollbackApplication'))).toBe(true);
  }, 240_000);
});
