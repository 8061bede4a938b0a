import { describe, expect, it } from 'vitest';
import { createRunbookHandler } from '#functions/runbook/handler.ts';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import { RecordingNotifier } from '#shared/adapters/recording-notifier.ts';
import { parseConfig } from '#shared/config/schema.ts';
import type { Incident } from '#shared/domain/incident.ts';
import { incidentId } from '#shared/domain/incident.ts';
import type { RunbookDeps, RunbookResult } from '#shared/domain/runbook.ts';
import { parseRunbookRecord, RunbookCommand } from '#shared/events/runbook-command.ts';
import { TaskTokenGoneError, type TaskTokenPort } from '#shared/ports/task-tokens.ts';
import { app, MIN, T0 } from '../support/builders.ts';
import { CapturingLog, FakeMsf } from '../support/fakes.ts';

const now = T0 + 30 * MIN;
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:flink-watchdog-commands';
const ALICE = 'arn:aws:iam::123456789012:user/alice';
const ID = incidentId('orders', 'restart-loop:7');
const TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAT-task-token';

/** Records each SendTaskSuccess; fails as told. */
class FakeTokens implements TaskTokenPort {
  readonly sent: Array<{ token: string; output: Record<string, unknown> }> = [];
  failWith?: Error;
  async sendTaskSuccess(token: string, output: Record<string, unknown>) {
    if (this.failWith) throw this.failWith;
    this.sent.push({ token, output });
  }
}

/** An incident of `orders` whose remediation (a rollback from version 7 to 6) awaits approval until now + 20 min. */
function pending(overrides: Partial<Incident> = {}): Incident {
  return {
    schemaVersion: 1,
    id: ID,
    applicationName: 'orders',
    trigger: { source: 'alarm', detail: 'restart alarm', atMs: now - 10 * MIN },
    openedMs: now - 10 * MIN,
    status: 'REMEDIATING',
    decision: { verdict: 'REMEDIATE', reason: 'restart loop after a deploy', guards: [], nextSteps: [] },
    remediation: { kind: 'ROLLBACK', expectVersionId: 7, toVersionId: 6 },
    attempts: 1,
    actions: [],
    events: [],
    approval: {
      action: { kind: 'ROLLBACK', expectVersionId: 7, toVersionId: 6 },
      requestedMs: now - 10 * MIN,
      timeoutMs: now + 20 * MIN,
      onTimeout: 'escalate',
      taskToken: TOKEN,
      state: 'PENDING',
    },
    ...overrides,
  };
}

async function setup(o: { incident?: Incident | null; tokens?: boolean } = {}) {
  const msf = new FakeMsf().setApp(app());
  const ledger = new MemoryLedger();
  if (o.incident !== null) await ledger.createIncident(o.incident ?? pending());
  const notifier = new RecordingNotifier();
  const log = new CapturingLog();
  const tokens = new FakeTokens();
  const started: unknown[] = [];
  const deps: RunbookDeps = {
    msf,
    ledger,
    notifier,
    log,
    config: parseConfig({ schemaVersion: 1, defaults: { mode: 'approve' }, applications: [{ name: 'orders' }] }),
    clock: { now: () => now },
    starter: { start: async (s) => void started.push(s) },
    ...(o.tokens === false ? {} : { tokens }),
  };
  const handler = createRunbookHandler({ ...deps, commandTopicArn: TOPIC });
  const send = async (fields: Record<string, unknown>, topicArn = TOPIC, messageId = 'm-1'): Promise<RunbookResult> => {
    const out = await handler({
      Records: [
        {
          EventSource: 'aws:sns',
          Sns: {
            MessageId: messageId,
            TopicArn: topicArn,
            Message: JSON.stringify({
              command: 'approve',
              incidentId: ID,
              requestedBy: ALICE,
              dryRun: false,
              ...fields,
            }),
          },
        },
      ],
    });
    expect(out.status).toBe('OK');
    const result = out.results[0];
    if (!result) throw new Error('no result');
    return result;
  };
  return { msf, ledger, notifier, tokens, started, send };
}

type Fakes = Awaited<ReturnType<typeof setup>>;

/** No MSF call at all, no workflow started: approve / reject only answer the waiting one. */
function expectNoMsfCall(f: Fakes) {
  expect(f.msf.calls).toEqual([]);
  expect(f.msf.mutations).toEqual([]);
  expect(f.started).toEqual([]);
}

describe('Events: approve and reject commands', () => {
  const parse = (fields: Record<string, unknown>) =>
    parseRunbookRecord({
      Sns: {
        MessageId: 'm',
        TopicArn: TOPIC,
        Message: JSON.stringify({ command: 'approve', incidentId: ID, requestedBy: ALICE, ...fields }),
      },
    });

  it('takes an approve without application or reason, dry run by default, via cli unless told', () => {
    const r = parse({});
    expect(r).toMatchObject({ ok: true, command: { command: 'approve', incidentId: ID, dryRun: true } });
    expect(r.ok && 'application' in r.command).toBe(false);
    expect(parse({ via: 'amazon-q' })).toMatchObject({ ok: true, command: { via: 'amazon-q' } });
  });

  it('refuses a reject without a reason, naming the field', () => {
    expect(parse({ command: 'reject' })).toEqual(
      expect.objectContaining({
        ok: false,
        error: expect.stringMatching(/Sns\.Message\.reason: required with command reject/),
      }),
    );
    expect(parse({ command: 'reject', reason: '   ' })).toMatchObject({ ok: false });
    expect(parse({ command: 'reject', reason: 'x'.repeat(1025) })).toEqual(
      expect.objectContaining({ error: expect.stringMatching(/reason: must be at most 1024 characters/) }),
    );
    expect(parse({ command: 'reject', reason: 'the deploy is being fixed' })).toMatchObject({
      ok: true,
      command: { reason: 'the deploy is being fixed' },
    });
  });

  it('refuses a missing or malformed incident id, naming the field', () => {
    expect(parse({ incidentId: undefined })).toEqual(
      expect.objectContaining({ error: expect.stringMatching(/incidentId: required with command approve/) }),
    );
    for (const bad of ['orders', 'orders-XYZ', `orders/${'0'.repeat(16)}`, `${'a'.repeat(51)}-0123456789abcdef`]) {
      expect(parse({ incidentId: bad })).toEqual(
        expect.objectContaining({ ok: false, error: expect.stringMatching(/incidentId: expected an incident id/) }),
      );
    }
  });

  it('keeps incidentId and via to approve and reject, and application to the other commands', () => {
    const other = { command: 'force-stop', application: 'orders', reason: 'stuck' };
    expect(parse({ ...other })).toMatchObject({ ok: false, error: expect.stringMatching(/incidentId: only allowed/) });
    expect(parse({ ...other, incidentId: undefined, via: 'cli' })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/via: only allowed/),
    });
    expect(parse({ ...other, incidentId: undefined, application: undefined })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/application: required/),
    });
    expect(parse({ via: 'slack' })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/via: expected one of cli, amazon-q/),
    });
  });

  it('parses to the approval command type', () => {
    const c = RunbookCommand.parse({ command: 'reject', incidentId: ID, requestedBy: ' bob ', reason: ' no ' });
    expect(c).toEqual({ command: 'reject', incidentId: ID, requestedBy: 'bob', reason: 'no', dryRun: true });
  });
});

describe('Function: runCommand approve / reject (through the runbook handler)', () => {
  it('approve hands the answer to the waiting workflow and records who approved, with no MSF call', async () => {
    const f = await setup();
    const r = await f.send({});
    expect(r).toMatchObject({ status: 'DONE', command: 'approve', incidentId: ID, applicationName: 'orders' });
    expect(f.tokens.sent).toEqual([{ token: TOKEN, output: { decision: 'APPROVED', by: ALICE, via: 'cli' } }]);
    const stored = await f.ledger.getIncident(ID);
    // With the SNS MessageId of the command, to match CloudTrail's record of who published it.
    expect(stored?.approval).toMatchObject({
      state: 'APPROVED',
      answer: { decision: 'APPROVED', by: ALICE, via: 'cli', messageId: 'm-1' },
    });
    expect(stored?.approval?.taskToken).toBeUndefined();
    expectNoMsfCall(f);
  });

  it('reject sends the reason, and an Amazon Q custom action is recorded as such', async () => {
    const f = await setup();
    const r = await f.send({ command: 'reject', reason: 'a fix is being deployed', via: 'amazon-q' });
    expect(r.status).toBe('DONE');
    expect(f.tokens.sent[0]?.output).toEqual({
      decision: 'REJECTED',
      by: ALICE,
      via: 'amazon-q',
      reason: 'a fix is being deployed',
    });
    expect((await f.ledger.getIncident(ID))?.approval?.state).toBe('REJECTED');
    expectNoMsfCall(f);
  });

  it('a dry run (the default) says what it would do and changes nothing', async () => {
    const f = await setup();
    const r = await f.send({ dryRun: undefined });
    expect(r.status).toBe('DRY_RUN');
    expect(r.reason).toMatch(/would have approved RollbackApplication of orders \(version 7 to 6\)/);
    expect(f.tokens.sent).toEqual([]);
    expect((await f.ledger.getIncident(ID))?.approval?.state).toBe('PENDING');
    expect(f.notifier.sent.map((n) => [n.event, n.title])).toEqual([
      ['NOTIFIED', `orders: runbook approve by ${ALICE}: dry run`],
    ]);
    expectNoMsfCall(f);
  });

  it('refuses a message that did not come through the command topic: nothing read, told or answered', async () => {
    const f = await setup();
    const r = await f.send({}, 'arn:aws:sns:eu-west-1:123456789012:someone-elses-topic');
    expect(r.status).toBe('REJECTED');
    expect(r.reason).toMatch(/not authorised/);
    expect(f.tokens.sent).toEqual([]);
    expect(f.notifier.sent).toEqual([]);
    expect((await f.ledger.getIncident(ID))?.approval?.state).toBe('PENDING');
  });

  it('refuses an unknown incident', async () => {
    const f = await setup({ incident: null });
    const r = await f.send({});
    expect(r).toMatchObject({ status: 'REJECTED', incidentId: ID });
    expect(r.reason).toMatch(/not in the ledger/);
    expect(f.tokens.sent).toEqual([]);
  });

  it('refuses when the named application is not the incident’s, and tells it', async () => {
    const f = await setup();
    const r = await f.send({ application: 'payments' });
    expect(r.status).toBe('REJECTED');
    expect(r.reason).toMatch(/about orders, not payments/);
    expect(f.tokens.sent).toEqual([]);
    expect(f.notifier.sent.map((n) => n.title)).toEqual([`orders: runbook approve by ${ALICE}: refused`]);
  });

  it('refuses when this deployment has no task-token access', async () => {
    const f = await setup({ tokens: false });
    const r = await f.send({});
    expect(r.status).toBe('REJECTED');
    expect(r.reason).toMatch(/not supported/);
    expect((await f.ledger.getIncident(ID))?.approval?.state).toBe('PENDING');
  });

  it('refuses an incident not awaiting approval, already answered or timed out, and tells why', async () => {
    const cases: Array<[Incident, RegExp]> = [
      [pending({ approval: undefined }), /not awaiting approval|no approval request/],
      [
        pending({
          approval: {
            ...(pending().approval as NonNullable<Incident['approval']>),
            state: 'REJECTED',
            answer: { decision: 'REJECTED', by: 'bob', via: 'slack', atMs: now - MIN, reason: 'no' },
          },
        }),
        /already REJECTED/,
      ],
      [
        pending({
          approval: { ...(pending().approval as NonNullable<Incident['approval']>), timeoutMs: now - MIN },
        }),
        /timed out/,
      ],
    ];
    for (const [incident, why] of cases) {
      for (const dryRun of [true, false]) {
        const f = await setup({ incident });
        const r = await f.send({ dryRun });
        expect(r.status, `${why} dryRun ${dryRun}`).toBe('REJECTED');
        expect(r.reason).toMatch(why);
        expect(f.tokens.sent).toEqual([]);
        expect(f.notifier.sent.map((n) => n.event)).toEqual(['NOTIFIED']);
      }
    }
  });

  it('a redelivered approve is a duplicate: the workflow is answered once', async () => {
    const f = await setup();
    expect((await f.send({})).status).toBe('DONE');
    const again = await f.send({});
    expect(again.status).toBe('DUPLICATE');
    expect(f.tokens.sent).toHaveLength(1);
  });

  it('the workflow no longer waiting is told as a refusal', async () => {
    const f = await setup();
    f.tokens.failWith = new TaskTokenGoneError('TaskTimedOut');
    const r = await f.send({});
    expect(r.status).toBe('REJECTED');
    expect(r.reason).toMatch(/no longer waits/);
    expectNoMsfCall(f);
  });
});
