import type { STSClient } from '@aws-sdk/client-sts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ApproveJson, approveCommand } from '#cli/approve.ts';
import type { CommandPublisher } from '#cli/remediate.ts';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import type { Incident } from '#shared/domain/incident.ts';
import { incidentId } from '#shared/domain/incident.ts';
import { MIN, T0 } from '../support/builders.ts';

const now = T0 + 30 * MIN;
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:flink-watchdog-commands';
const ID = incidentId('orders', 'restart-loop:7');
const ENV = { COMMAND_TOPIC_ARN: TOPIC, LEDGER_TABLE_NAME: 'ledger' };
const ALICE = 'arn:aws:sts::123456789012:assumed-role/OnCall/alice';

/** STS answering GetCallerIdentity with `arn`, or failing with `error`; counts the calls. */
function fakeSts(arn: string | Error = ALICE) {
  const sts = {
    calls: 0,
    send: async () => {
      sts.calls++;
      if (arn instanceof Error) throw arn;
      return { Arn: arn, Account: '123456789012', UserId: 'AROAEXAMPLE:alice' };
    },
  };
  return sts;
}

/** Records each Publish; the fake watchdog may answer it on the ledger. */
class FakePublisher implements CommandPublisher {
  readonly published: Array<{
    topicArn: string;
    message: Record<string, unknown>;
    attributes: Record<string, string>;
  }> = [];
  onPublish?: (message: Record<string, unknown>) => Promise<void>;
  async publish(topicArn: string, message: string, attributes: Record<string, string>) {
    const body = JSON.parse(message) as Record<string, unknown>;
    this.published.push({ topicArn, message: body, attributes });
    await this.onPublish?.(body);
    return 'msg-1';
  }
}

function pending(overrides: Partial<NonNullable<Incident['approval']>> = {}): Incident {
  return {
    schemaVersion: 1,
    id: ID,
    applicationName: 'orders',
    trigger: { source: 'alarm', detail: 'restart alarm', atMs: now - 10 * MIN },
    openedMs: now - 10 * MIN,
    status: 'REMEDIATING',
    decision: { verdict: 'REMEDIATE', reason: 'restart loop', guards: [], nextSteps: [] },
    attempts: 1,
    actions: [],
    events: [],
    approval: {
      action: { kind: 'ROLLBACK', expectVersionId: 7, toVersionId: 6 },
      requestedMs: now - 10 * MIN,
      timeoutMs: now + 20 * MIN,
      onTimeout: 'escalate',
      taskToken: 'token',
      state: 'PENDING',
      ...overrides,
    },
  };
}

/** Runs the command with fakes; stdout (JSON) and stderr captured. */
async function run(
  command: 'approve' | 'reject',
  id: string,
  opts: Record<string, unknown>,
  setup: {
    incident?: Incident;
    answer?: (ledger: MemoryLedger) => Promise<void>;
    sts?: ReturnType<typeof fakeSts>;
  } = {},
) {
  const ledger = new MemoryLedger();
  if (setup.incident) await ledger.createIncident(setup.incident);
  const publisher = new FakePublisher();
  if (setup.answer) publisher.onPublish = () => (setup.answer as (l: MemoryLedger) => Promise<void>)(ledger);
  const stdout: string[] = [];
  const stderr: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((s: unknown) => void stdout.push(String(s)));
  vi.spyOn(console, 'error').mockImplementation((s: unknown) => void stderr.push(String(s)));
  const code = await approveCommand(
    command,
    id,
    { output: 'json', ...opts },
    {
      ledger,
      publisher,
      sts: (setup.sts ?? fakeSts()) as unknown as STSClient,
      clock: { now: () => now },
      sleep: async () => {},
      env: ENV,
    },
  );
  const json = stdout.length > 0 ? (JSON.parse(stdout.join('\n')) as ApproveJson) : undefined;
  return { code, json, stderr: stderr.join('\n'), publisher, ledger };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('CLI: approveCommand', () => {
  it('publishes approve with the incident’s application and waits for it to be recorded', async () => {
    const r = await run(
      'approve',
      ID,
      {},
      {
        incident: pending(),
        answer: async (ledger) => {
          await ledger.updateIncident(ID, (i) => {
            i.approval = {
              ...(i.approval as NonNullable<Incident['approval']>),
              state: 'APPROVED',
              answer: { decision: 'APPROVED', by: ALICE, via: 'cli', atMs: now, messageId: 'msg-1' },
            };
            return i;
          });
        },
      },
    );
    expect(r.code).toBe(0);
    expect(r.publisher.published).toEqual([
      {
        topicArn: TOPIC,
        message: {
          command: 'approve',
          incidentId: ID,
          application: 'orders',
          requestedBy: ALICE,
          via: 'cli',
          dryRun: false,
        },
        attributes: { command: 'approve', application: 'orders' },
      },
    ]);
    expect(r.json).toMatchObject({ outcome: 'recorded', approvalState: 'APPROVED', application: 'orders' });
    expect(r.json?.action).toMatch(/roll ?back/i);
  });

  it('records the caller’s STS identity, never a name given by hand, and refuses when it cannot be looked up', async () => {
    // A programmatic caller passing a requestedBy option (there is no --requested-by flag) does not change who is recorded.
    const given = await run('approve', ID, { requestedBy: 'someone-else' }, { incident: pending() });
    expect(given.publisher.published[0]?.message.requestedBy).toBe(ALICE);
    const sts = fakeSts(new Error('ExpiredToken: the security token included in the request is expired'));
    const noIdentity = await run('approve', ID, {}, { incident: pending(), sts });
    expect(sts.calls).toBe(1);
    expect(noIdentity.code).toBe(1);
    expect(noIdentity.json?.problems[0]?.message).toContain(
      'your identity could not be looked up (STS GetCallerIdentity',
    );
    expect(noIdentity.json?.problems[0]?.message).toContain('nothing was published');
    expect(noIdentity.publisher.published).toEqual([]);
  });

  it('reject without --reason, or a malformed incident id, is a usage error: nothing read or published', async () => {
    const noReason = await run('reject', ID, {}, { incident: pending() });
    expect(noReason.code).toBe(64);
    expect(noReason.stderr).toContain('--reason TEXT is required to reject');
    expect(noReason.publisher.published).toEqual([]);
    const blank = await run('reject', ID, { reason: '  ' }, { incident: pending() });
    expect(blank.code).toBe(64);
    expect(blank.stderr).toContain('--reason: must not be empty');
    const malformed = await run('approve', 'orders', {}, { incident: pending() });
    expect(malformed.code).toBe(64);
    expect(malformed.stderr).toContain('INCIDENT "orders": expected an incident id');
    expect(malformed.publisher.published).toEqual([]);
  });

  it('refuses, publishing nothing, an unknown incident and one not awaiting approval', async () => {
    const unknown = await run('approve', ID, {});
    expect(unknown.code).toBe(1);
    expect(unknown.json?.problems[0]?.message).toContain(`incident ${ID} is not in the ledger`);
    expect(unknown.publisher.published).toEqual([]);
    const answered = await run(
      'approve',
      ID,
      {},
      {
        incident: pending({
          state: 'REJECTED',
          answer: { decision: 'REJECTED', by: 'bob', via: 'slack', atMs: now - MIN, reason: 'no' },
        }),
      },
    );
    expect(answered.code).toBe(1);
    expect(answered.json?.problems[0]?.message).toContain('already REJECTED by bob via slack: nothing published');
    expect(answered.publisher.published).toEqual([]);
    const late = await run('approve', ID, {}, { incident: pending({ timeoutMs: now - MIN }) });
    expect(late.code).toBe(1);
    expect(late.json?.problems[0]?.message).toContain('timed out');
    expect(late.publisher.published).toEqual([]);
  });

  it('someone else’s answer recorded first is an error; no answer within --wait-seconds is not', async () => {
    const beaten = await run(
      'reject',
      ID,
      { reason: 'not now' },
      {
        incident: pending(),
        answer: async (ledger) => {
          await ledger.updateIncident(ID, (i) => {
            i.approval = {
              ...(i.approval as NonNullable<Incident['approval']>),
              state: 'APPROVED',
              answer: { decision: 'APPROVED', by: 'slack:U1 (jane)', via: 'slack', atMs: now },
            };
            return i;
          });
        },
      },
    );
    expect(beaten.code).toBe(1);
    expect(beaten.json).toMatchObject({
      outcome: 'other',
      approvalState: 'APPROVED',
      answeredBy: 'slack:U1 (jane) via slack',
    });
    expect(beaten.publisher.published[0]?.message).toMatchObject({ command: 'reject', reason: 'not now' });
    const quiet = await run('approve', ID, { waitSeconds: '4' }, { incident: pending() });
    expect(quiet.code).toBe(0);
    expect(quiet.json?.outcome).toBe('pending');
  });

  it('without a command topic it says how to name one (64)', async () => {
    const ledger = new MemoryLedger();
    vi.spyOn(console, 'log').mockImplementation(() => {});
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((s: unknown) => void errors.push(String(s)));
    const code = await approveCommand(
      'approve',
      ID,
      {},
      { ledger, publisher: new FakePublisher(), clock: { now: () => now }, env: {} },
    );
    expect(code).toBe(64);
    expect(errors.join('\n')).toContain('no command topic: pass --topic ARN or --stack NAME');
  });
});
