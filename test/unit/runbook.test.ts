import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRunbookHandler, RunbookEnv } from '#functions/runbook/handler.ts';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import { RecordingNotifier } from '#shared/adapters/recording-notifier.ts';
import { parseConfig } from '#shared/config/schema.ts';
import type { ApplicationOperation, ApplicationSnapshot, ApplicationState } from '#shared/domain/model.ts';
import type { RemediationState } from '#shared/domain/remediation.ts';
import {
  type AutomationSwitch,
  authorise,
  planRunbookCommand,
  type RunbookDeps,
  runbookIncidentId,
  runCommand,
  type SnapshotCreator,
} from '#shared/domain/runbook.ts';
import {
  APPLICATION_COMMANDS,
  type ApplicationCommand,
  parseRunbookEvent,
  RUNBOOK_COMMANDS,
  RunbookCommand,
} from '#shared/events/runbook-command.ts';
import type { Ledger } from '#shared/ports/ledger.ts';
import { MUTATING_MSF_OPERATIONS } from '#shared/ports/msf.ts';
import { app, MIN, observation, op, policy, snapshot, T0 } from '../support/builders.ts';
import { CapturingLog, FakeMsf } from '../support/fakes.ts';

const now = T0 + 30 * MIN;
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:flink-watchdog-commands';
const OTHER_TOPIC = 'arn:aws:sns:eu-west-1:123456789012:someone-elses-topic';

/** The ledger's pause flag as the runbook's AutomationSwitch, recording every change made through it. */
class RecordingAutomationSwitch implements AutomationSwitch {
  readonly calls: string[] = [];
  readonly #ledger: Ledger;
  constructor(ledger: Ledger) {
    this.#ledger = ledger;
  }
  async automationPause(app: string) {
    return this.#ledger.automationPause(app);
  }
  async pauseAutomation(app: string, by: string, reason: string, atMs: number) {
    this.calls.push(`pause ${app}`);
    await this.#ledger.pauseAutomation(app, by, reason, atMs);
  }
  async resumeAutomation(app: string) {
    this.calls.push(`resume ${app}`);
    await this.#ledger.resumeAutomation(app);
  }
}

/** A recording SnapshotCreator that can be told to fail (the Lambda wires the MSF adapter instead). */
class FakeSnapshotCreator implements SnapshotCreator {
  readonly created: Array<{ app: string; name: string }> = [];
  failWith?: Error;
  async createApplicationSnapshot(app: string, name: string) {
    if (this.failWith) throw this.failWith;
    this.created.push({ app, name });
  }
}

interface SetupOptions {
  config?: unknown;
  app?: Partial<ApplicationState>;
  operations?: ApplicationOperation[];
  snapshots?: ApplicationSnapshot[];
  tags?: Record<string, string>;
  automation?: boolean;
  snapshotCreator?: boolean;
  starterFails?: boolean;
}

const WATCHED = { schemaVersion: 1, defaults: { mode: 'remediate' }, applications: [{ name: 'orders' }] };

function setup(o: SetupOptions = {}) {
  const msf = new FakeMsf().setApp(app(o.app), {
    operations: o.operations ?? [],
    snapshots: o.snapshots ?? [snapshot('orders-v7-a', 7, now - 60 * MIN)],
    tags: o.tags ?? {},
  });
  const ledger = new MemoryLedger();
  const notifier = new RecordingNotifier();
  const log = new CapturingLog();
  const started: RemediationState[] = [];
  const automation = new RecordingAutomationSwitch(ledger);
  const snapshots = new FakeSnapshotCreator();
  const deps: RunbookDeps = {
    msf,
    ledger,
    notifier,
    log,
    config: parseConfig(o.config ?? WATCHED),
    clock: { now: () => now },
    starter: {
      start: async (s) => {
        if (o.starterFails) throw new Error('StartExecution denied');
        started.push(s);
      },
    },
    ...(o.automation ? { automation } : {}),
    ...(o.snapshotCreator ? { snapshots } : {}),
  };
  const handler = createRunbookHandler({ ...deps, commandTopicArn: TOPIC });
  return { msf, ledger, notifier, log, started, automation, snapshots, deps, handler };
}

type Fakes = ReturnType<typeof setup>;

function command(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    command: 'force-stop',
    application: 'orders',
    requestedBy: 'alice@example.com',
    reason: 'job stuck since the deploy',
    dryRun: false,
    ...fields,
  };
}

/** An SNS Lambda event of one record whose Message is `message` (JSON-encoded unless already a string). */
function snsEvent(
  message: unknown,
  options: { topicArn?: string; messageId?: string; attributes?: Record<string, string> } = {},
) {
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: `${options.topicArn ?? TOPIC}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55`,
        Sns: {
          Type: 'Notification',
          MessageId: options.messageId ?? '95df01b4-ee98-5cb9-9903-4c221d41eb5e',
          TopicArn: options.topicArn ?? TOPIC,
          Subject: null,
          Message: typeof message === 'string' ? message : JSON.stringify(message),
          Timestamp: '2026-03-02T14:30:00.000Z',
          SignatureVersion: '1',
          Signature: 'EXAMPLE',
          SigningCertUrl: 'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem',
          UnsubscribeUrl: 'https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe',
          MessageAttributes: Object.fromEntries(
            Object.entries(options.attributes ?? {}).map(([k, v]) => [k, { Type: 'String', Value: v }]),
          ),
        },
      },
    ],
  };
}

/** MSF calls that change an application, from the fake's call log. */
function mutatingCalls(msf: FakeMsf): string[] {
  return msf.calls.filter((c) => MUTATING_MSF_OPERATIONS.has(c.split(' ')[0] ?? ''));
}

function expectNothingChanged(f: Fakes) {
  expect(f.msf.mutations).toEqual([]);
  expect(mutatingCalls(f.msf)).toEqual([]);
  expect(f.started).toEqual([]);
  expect(f.snapshots.created).toEqual([]);
  expect(f.automation.calls).toEqual([]);
}

async function run(f: Fakes, fields: Record<string, unknown> = {}, options: Parameters<typeof snsEvent>[1] = {}) {
  const out = await f.handler(snsEvent(command(fields), options));
  expect(out.status).toBe('OK');
  expect(out.results).toHaveLength(1);
  const result = out.results[0];
  if (!result) throw new Error('no result');
  return result;
}

describe('Events: runbook command', () => {
  describe('Function: parseRunbookEvent', () => {
    it('reads a command, defaulting dryRun to true (safe by default)', () => {
      // Prepare
      const { dryRun: _omitted, ...withoutDryRun } = command();
      // Act
      const parsed = parseRunbookEvent(snsEvent(withoutDryRun));
      // Assess
      expect(parsed).toEqual({
        ok: true,
        records: [
          {
            ok: true,
            messageId: '95df01b4-ee98-5cb9-9903-4c221d41eb5e',
            topicArn: TOPIC,
            command: {
              command: 'force-stop',
              application: 'orders',
              requestedBy: 'alice@example.com',
              reason: 'job stuck since the deploy',
              dryRun: true,
            },
          },
        ],
      });
    });

    it.each([
      ['malformed JSON', '{"command": "force-stop",', 'Records[0].Sns.Message: not JSON'],
      ['a JSON array', '[1, 2]', 'Records[0].Sns.Message: expected a JSON object'],
      [
        'an unknown command',
        command({ command: 'reboot' }),
        'Records[0].Sns.Message.command: unknown command "reboot"',
      ],
      ['a missing application', command({ application: undefined }), 'Records[0].Sns.Message.application: required'],
      ['a missing requestedBy', command({ requestedBy: undefined }), 'Records[0].Sns.Message.requestedBy: required'],
      ['a blank requestedBy', command({ requestedBy: '   ' }), 'Records[0].Sns.Message.requestedBy: must not be empty'],
      ['an empty reason', command({ reason: '' }), 'Records[0].Sns.Message.reason: must not be empty'],
      [
        'a reason over 1024 characters',
        command({ reason: 'x'.repeat(1025) }),
        'Sns.Message.reason: must be at most 1024',
      ],
      ['a requestedBy over 256 characters', command({ requestedBy: 'x'.repeat(257) }), 'Message.requestedBy: must be'],
      ['a bad application name', command({ application: 'orders app' }), 'Message.application: MSF application names'],
      ['a non-boolean dryRun', command({ dryRun: 'false' }), 'Records[0].Sns.Message.dryRun: expected true or false'],
      ['an unknown key', command({ dryrun: false }), 'Records[0].Sns.Message.dryrun: unknown key'],
      [
        'a snapshot with another command',
        command({ command: 'start', snapshot: 'latest' }),
        'Records[0].Sns.Message.snapshot: only allowed with command restart-from-snapshot',
      ],
    ])('rejects %s, naming the field', (_label, message, error) => {
      // Act
      const parsed = parseRunbookEvent(snsEvent(message));
      // Assess
      expect(parsed.ok).toBe(true);
      const record = parsed.ok ? parsed.records[0] : undefined;
      expect(record?.ok).toBe(false);
      expect(record && !record.ok ? record.error : '').toContain(error);
    });

    it('rejects a message attribute that disagrees with the body', () => {
      const parsed = parseRunbookEvent(snsEvent(command(), { attributes: { application: 'payments' } }));
      const record = parsed.ok ? parsed.records[0] : undefined;
      expect(record && !record.ok ? record.error : '').toContain('Records[0].Sns.MessageAttributes.application');
    });

    it('accepts the key of an application in a member account (NAME@ACCOUNT.REGION), not a malformed one', () => {
      const member = parseRunbookEvent(snsEvent(command({ application: 'orders@111122223333.eu-west-1' })));
      const malformed = parseRunbookEvent(snsEvent(command({ application: 'orders@1111.eu-west-1' })));
      expect(member.ok && member.records[0]?.ok && member.records[0].command.application).toBe(
        'orders@111122223333.eu-west-1',
      );
      expect(malformed.ok && malformed.records[0]?.ok).toBe(false);
    });

    it('accepts message attributes that agree with the body', () => {
      const parsed = parseRunbookEvent(
        snsEvent(command(), { attributes: { application: 'orders', command: 'force-stop', source: 'pagerduty' } }),
      );
      expect(parsed.ok && parsed.records[0]?.ok).toBe(true);
    });

    it.each([
      ['null', null],
      ['no Records', {}],
      ['empty Records', { Records: [] }],
    ])('rejects %s as not an SNS event', (_label, event) => {
      expect(parseRunbookEvent(event)).toMatchObject({ ok: false, error: expect.stringContaining('not an SNS event') });
    });
  });
});

describe('Function: authorise', () => {
  it('accepts a command from the command topic that names who asks', () => {
    expect(authorise({ requestedBy: 'alice' }, { topicArn: TOPIC, authorizedTopics: [TOPIC], messageId: 'm' })).toBe(
      undefined,
    );
  });

  it.each([
    ['another topic', { topicArn: OTHER_TOPIC, authorizedTopics: [TOPIC] }, 'not the command topic'],
    ['no configured topic', { topicArn: TOPIC, authorizedTopics: [] }, 'no command topic is configured'],
  ])('rejects a message from %s', (_label, ctx, reason) => {
    expect(authorise({ requestedBy: 'alice' }, { ...ctx, messageId: 'm' })).toContain(reason);
  });

  it('rejects an empty requestedBy (runCommand called without the parser)', () => {
    expect(authorise({ requestedBy: ' ' }, { topicArn: TOPIC, authorizedTopics: [TOPIC], messageId: 'm' })).toContain(
      'requestedBy is empty',
    );
  });
});

describe('Function: planRunbookCommand', () => {
  const cmd = (fields: Record<string, unknown>) => RunbookCommand.parse(command(fields)) as ApplicationCommand;

  it('restores the newest READY snapshot of the running version for last-known-good', () => {
    // Prepare: the newest snapshot is of another version (taken before a rollback)
    const obs = observation(
      { snapshots: [snapshot('orders-v7-a', 7, now - 60 * MIN), snapshot('orders-v8', 8, now - 10 * MIN)] },
      now,
    );
    // Act
    const plan = planRunbookCommand(
      cmd({ command: 'restart-from-snapshot', snapshot: 'last-known-good' }),
      obs,
      policy(),
      {},
    );
    // Assess
    expect(plan).toMatchObject({
      kind: 'workflow',
      action: {
        kind: 'FORCE_STOP_AND_RESTART',
        expectVersionId: 7,
        start: { restoreType: 'RESTORE_FROM_CUSTOM_SNAPSHOT', snapshotName: 'orders-v7-a' },
      },
    });
  });

  it("uses the policy's restoreFrom when the command names no snapshot", () => {
    const obs = observation({}, now);
    const plan = planRunbookCommand(
      cmd({ command: 'restart-from-snapshot' }),
      obs,
      policy({ restoreFrom: 'latest' }),
      {},
    );
    expect(plan).toMatchObject({
      kind: 'workflow',
      action: { start: { restoreType: 'RESTORE_FROM_LATEST_SNAPSHOT', allowNonRestoredState: false } },
    });
  });

  it('records every guard it checked, attempts and cooldown as not applied', () => {
    const plan = planRunbookCommand(cmd({}), observation({}, now), policy(), {});
    expect(plan.guards.map((g) => `${g.name}:${g.passed}`)).toEqual([
      'status-actionable:true',
      'no-foreign-operation:true',
      'lock-free:true',
      'attempts-left:true',
      'cooldown-passed:true',
    ]);
    expect(plan.guards.find((g) => g.name === 'attempts-left')?.detail).toContain('not applied');
  });

  it('rejects when DescribeApplication could not be read', () => {
    const obs = observation({ errors: [{ source: 'DescribeApplication', message: 'throttled' }] }, now);
    delete obs.application;
    expect(planRunbookCommand(cmd({}), obs, policy(), {})).toMatchObject({
      kind: 'rejected',
      reason: expect.stringContaining('throttled'),
    });
  });
});

describe('Function: runCommand (through the runbook handler)', () => {
  describe('force-stop', () => {
    it('records the incident first, then starts the workflow with a forced stop and no start', async () => {
      // Prepare
      const f = setup();
      // Act
      const result = await run(f);
      // Assess
      expect(result).toMatchObject({
        status: 'STARTED',
        applicationName: 'orders',
        command: 'force-stop',
        action: { kind: 'FORCE_STOP_AND_RESTART', expectVersionId: 7 },
      });
      expect(f.started).toHaveLength(1);
      expect(f.started[0]).toMatchObject({
        incidentId: result.incidentId,
        phase: 'LOCK',
        expectVersionId: 7,
        steps: [{ call: 'StopApplication', force: true, awaitStatus: 'READY' }],
      });
      const incident = await f.ledger.getIncident(result.incidentId ?? '');
      expect(incident).toMatchObject({
        status: 'REMEDIATING',
        trigger: { source: 'runbook', detail: 'alice@example.com: job stuck since the deploy', atMs: now },
        remediation: { kind: 'FORCE_STOP_AND_RESTART', expectVersionId: 7 },
        decision: { verdict: 'REMEDIATE' },
      });
      expect(f.notifier.sent.map((n) => n.event)).toEqual(['OPENED']);
      expect(f.notifier.sent[0]?.text).toContain(
        'runbook: force-stop by alice@example.com: job stuck since the deploy',
      );
      expect(f.msf.mutations).toEqual([]); // the workflow makes the calls, not the runbook
      expect(f.msf.calls).toContain('DescribeApplication orders');
    });

    it('is allowed while an operation is in progress: a forced stop clears a stuck transition', async () => {
      const f = setup({
        app: { status: 'UPDATING' },
        operations: [op({ operation: 'UpdateApplication', status: 'IN_PROGRESS', startMs: now - 40 * MIN })],
      });
      const result = await run(f);
      expect(result.status).toBe('STARTED');
      expect(f.started).toHaveLength(1);
    });

    it('is rejected from READY: the application is already stopped', async () => {
      const f = setup({ app: { status: 'READY' } });
      const result = await run(f);
      expect(result).toMatchObject({ status: 'REJECTED', reason: expect.stringContaining('already stopped') });
      expectNothingChanged(f);
      expect(await f.ledger.getIncident(result.incidentId ?? '')).toMatchObject({ status: 'NOTIFIED' });
      expect(f.notifier.sent.map((n) => n.event)).toEqual(['NOTIFIED']);
      expect(f.notifier.sent[0]?.text).toContain('Rejected: force-stop is not allowed while orders is READY');
    });
  });

  describe('dry run', () => {
    it('is the default: reports what it would have done after a fresh DescribeApplication, and starts nothing', async () => {
      // Prepare
      const f = setup();
      const { dryRun: _omitted, ...withoutDryRun } = command({ command: 'restart-from-snapshot', snapshot: 'latest' });
      // Act
      const out = await f.handler(snsEvent(withoutDryRun));
      // Assess
      const result = out.results[0];
      expect(result).toMatchObject({
        status: 'DRY_RUN',
        reason: expect.stringContaining('would have force-stop orders'),
        action: { kind: 'FORCE_STOP_AND_RESTART', start: { restoreType: 'RESTORE_FROM_LATEST_SNAPSHOT' } },
      });
      expectNothingChanged(f);
      expect(f.msf.calls).toContain('DescribeApplication orders');
      expect(await f.ledger.getIncident(result?.incidentId ?? '')).toMatchObject({
        status: 'NOTIFIED',
        trigger: { source: 'runbook' },
        decision: { verdict: 'NONE', wouldHave: { kind: 'FORCE_STOP_AND_RESTART' } },
      });
      expect(f.notifier.sent.map((n) => n.event)).toEqual(['NOTIFIED']);
      expect(f.notifier.sent[0]?.text).toMatch(/Would have: force-stop orders/);
    });

    it('applies the same guards as a real run', async () => {
      const f = setup({ app: { status: 'READY' } });
      const result = await run(f, { command: 'rollback', dryRun: true });
      expect(result.status).toBe('REJECTED');
      expectNothingChanged(f);
    });
  });

  describe('restart-from-snapshot', () => {
    it.each([
      ['latest', { restoreType: 'RESTORE_FROM_LATEST_SNAPSHOT' }],
      ['orders-v6', { restoreType: 'RESTORE_FROM_CUSTOM_SNAPSHOT', snapshotName: 'orders-v6' }],
    ])('force-stops, then starts from %s', async (choice, start) => {
      const f = setup({
        snapshots: [snapshot('orders-v6', 6, now - 300 * MIN), snapshot('orders-v7-a', 7, now - 60 * MIN)],
      });
      const result = await run(f, { command: 'restart-from-snapshot', snapshot: choice });
      expect(result.status).toBe('STARTED');
      expect(f.started[0]?.steps).toEqual([
        { call: 'StopApplication', force: true, awaitStatus: 'READY' },
        { call: 'StartApplication', start: { allowNonRestoredState: false, ...start }, awaitStatus: 'RUNNING' },
      ]);
    });

    it('starts from READY without a stop (StopApplication Force is not allowed from READY)', async () => {
      const f = setup({ app: { status: 'READY' } });
      const result = await run(f, { command: 'restart-from-snapshot', snapshot: 'orders-v7-a' });
      expect(result.action).toMatchObject({
        kind: 'START',
        start: { restoreType: 'RESTORE_FROM_CUSTOM_SNAPSHOT', snapshotName: 'orders-v7-a' },
      });
      expect(f.started[0]?.steps.map((s) => s.call)).toEqual(['StartApplication']);
    });

    it.each([
      ['a snapshot that does not exist', 'orders-v1', 'no snapshot named orders-v1'],
      ['a snapshot that is not READY', 'orders-v7-b', 'orders-v7-b of orders is FAILED, not READY'],
    ])('rejects %s', async (_label, choice, reason) => {
      const f = setup({
        snapshots: [snapshot('orders-v7-a', 7, now - 60 * MIN), snapshot('orders-v7-b', 7, now - 5 * MIN, 'FAILED')],
      });
      const result = await run(f, { command: 'restart-from-snapshot', snapshot: choice });
      expect(result).toMatchObject({ status: 'REJECTED', reason: expect.stringContaining(reason) });
      expectNothingChanged(f);
    });

    it('rejects when there is no READY snapshot to restore', async () => {
      const f = setup({ snapshots: [] });
      const result = await run(f, { command: 'restart-from-snapshot', snapshot: 'latest' });
      expect(result).toMatchObject({ status: 'REJECTED', reason: expect.stringContaining('no READY snapshot') });
      expectNothingChanged(f);
    });
  });

  describe('rollback', () => {
    it('rolls back to ApplicationVersionUpdatedFrom through the workflow', async () => {
      const f = setup();
      const result = await run(f, { command: 'rollback' });
      expect(result).toMatchObject({
        status: 'STARTED',
        action: { kind: 'ROLLBACK', expectVersionId: 7, toVersionId: 6 },
      });
      expect(f.started[0]?.steps).toEqual([{ call: 'RollbackApplication', awaitStatus: 'RUNNING' }]);
    });

    it.each([
      ['the application is READY', { app: { status: 'READY' as const } }, 'not allowed while orders is READY'],
      [
        'the current version is itself a rollback',
        {
          operations: [
            op({ operation: 'RollbackApplication', status: 'SUCCESSFUL', versionFrom: 6, versionTo: 7, startMs: T0 }),
          ],
        },
        'itself a rollback',
      ],
      ['there is no earlier version', { app: { versionUpdatedFrom: undefined } }, 'no ApplicationVersionUpdatedFrom'],
      ['there is no READY snapshot', { snapshots: [] }, 'MSF rejects RollbackApplication without one'],
      [
        'an update is in progress',
        { operations: [op({ operation: 'UpdateApplication', status: 'IN_PROGRESS', startMs: now - MIN })] },
        'UpdateApplication op-UpdateApplication',
      ],
    ])('is rejected when %s', async (_label, options, reason) => {
      const f = setup(options);
      const result = await run(f, { command: 'rollback' });
      expect(result).toMatchObject({ status: 'REJECTED', reason: expect.stringContaining(reason) });
      expectNothingChanged(f);
    });
  });

  describe('start', () => {
    it('starts a READY application from its latest snapshot', async () => {
      const f = setup({ app: { status: 'READY' } });
      const result = await run(f, { command: 'start' });
      expect(result).toMatchObject({
        status: 'STARTED',
        action: { kind: 'START', start: { restoreType: 'RESTORE_FROM_LATEST_SNAPSHOT', allowNonRestoredState: false } },
      });
    });

    it('starts without state an application that has no snapshot', async () => {
      const f = setup({ app: { status: 'READY' }, snapshots: [] });
      const result = await run(f, { command: 'start' });
      expect(result.action).toMatchObject({ start: { restoreType: 'SKIP_RESTORE_FROM_SNAPSHOT' } });
    });

    it.each([
      ['RUNNING', {}, 'already running'],
      ['READY with only a CREATING snapshot', { snapshots: [snapshot('s', 7, now, 'CREATING')] }, 'none is READY'],
    ])('is rejected when %s', async (_label, options, reason) => {
      const f = setup({ app: { status: _label === 'RUNNING' ? 'RUNNING' : 'READY' }, ...options });
      const result = await run(f, { command: 'start' });
      expect(result).toMatchObject({ status: 'REJECTED', reason: expect.stringContaining(reason) });
      expectNothingChanged(f);
    });
  });

  describe('stop', () => {
    it('records the incident, then starts the workflow with a stop without Force (MSF takes a snapshot)', async () => {
      // Prepare
      const f = setup();
      // Act
      const result = await run(f, { command: 'stop' });
      // Assess
      expect(result).toMatchObject({
        status: 'STARTED',
        command: 'stop',
        action: { kind: 'STOP', expectVersionId: 7 },
        reason: expect.stringContaining('MSF takes a snapshot first'),
      });
      expect(f.started).toHaveLength(1);
      expect(f.started[0]).toMatchObject({
        incidentId: result.incidentId,
        phase: 'LOCK',
        expectVersionId: 7,
        steps: [{ call: 'StopApplication', force: false, awaitStatus: 'READY' }],
      });
      expect(await f.ledger.getIncident(result.incidentId ?? '')).toMatchObject({
        status: 'REMEDIATING',
        trigger: { source: 'runbook' },
        remediation: { kind: 'STOP', expectVersionId: 7 },
        decision: { verdict: 'REMEDIATE' },
      });
      expect(f.notifier.sent.map((n) => n.event)).toEqual(['OPENED']);
      expect(f.msf.mutations).toEqual([]); // the workflow makes the call, not the runbook
    });

    it('says no snapshot is taken when SnapshotsEnabled is false', async () => {
      const f = setup({ app: { snapshotsEnabled: false } });
      const result = await run(f, { command: 'stop', dryRun: true });
      expect(result).toMatchObject({
        status: 'DRY_RUN',
        reason: expect.stringContaining('SnapshotsEnabled=false, so no snapshot is taken'),
        action: { kind: 'STOP', expectVersionId: 7 },
      });
      expectNothingChanged(f);
    });

    it.each([
      ['READY', { app: { status: 'READY' as const } }, 'not allowed while orders is READY: it is already stopped'],
      [
        'UPDATING (a plain stop needs RUNNING)',
        {
          app: { status: 'UPDATING' as const },
          operations: [op({ operation: 'UpdateApplication', status: 'IN_PROGRESS', startMs: now - MIN })],
        },
        'use force-stop to stop it from UPDATING',
      ],
      [
        'RUNNING with an operation in progress',
        { operations: [op({ operation: 'UpdateApplication', status: 'IN_PROGRESS', startMs: now - MIN })] },
        'UpdateApplication op-UpdateApplication',
      ],
    ])('is rejected from %s', async (_label, options, reason) => {
      const f = setup(options);
      const result = await run(f, { command: 'stop' });
      expect(result).toMatchObject({ status: 'REJECTED', reason: expect.stringContaining(reason) });
      expectNothingChanged(f);
    });
  });

  describe('snapshot', () => {
    it('is rejected as not supported without a snapshot creator', async () => {
      const f = setup();
      const result = await run(f, { command: 'snapshot' });
      expect(result).toMatchObject({ status: 'REJECTED', reason: expect.stringContaining('not supported yet') });
      expectNothingChanged(f);
    });

    it('takes a snapshot named after the incident, under the lock, recorded before and after', async () => {
      // Prepare
      const f = setup({ snapshotCreator: true });
      // Act
      const result = await run(f, { command: 'snapshot' });
      // Assess
      const name = `runbook-${result.incidentId}`;
      expect(result).toMatchObject({ status: 'DONE', reason: expect.stringContaining(name) });
      expect(f.snapshots.created).toEqual([{ app: 'orders', name }]);
      expect(f.started).toEqual([]);
      const incident = await f.ledger.getIncident(result.incidentId ?? '');
      expect(incident).toMatchObject({
        status: 'RESOLVED',
        actions: [{ seq: 1, call: 'CreateApplicationSnapshot', input: { SnapshotName: name }, state: 'SUCCEEDED' }],
      });
      expect(await f.ledger.lockHolder('orders', now)).toBeUndefined();
      expect(f.notifier.sent.map((n) => n.event)).toEqual(['ACTION_TAKEN']);
      expect(f.notifier.sent[0]?.text).toContain('runbook: snapshot by alice@example.com');
    });

    it('calls CreateApplicationSnapshot through the MSF port when the MSF adapter is the snapshot creator', async () => {
      // Prepare: wired as the Lambda wires it (snapshots: msf)
      const f = setup();
      const handler = createRunbookHandler({ ...f.deps, snapshots: f.msf, commandTopicArn: TOPIC });
      // Act
      const out = await handler(snsEvent(command({ command: 'snapshot' })));
      // Assess
      const result = out.results[0];
      expect(result).toMatchObject({ status: 'DONE' });
      expect(f.msf.mutations).toEqual([
        {
          call: 'CreateApplicationSnapshot',
          applicationName: 'orders',
          args: { snapshotName: `runbook-${result?.incidentId}` },
        },
      ]);
    });

    it('records a failed CreateApplicationSnapshot and answers REJECTED', async () => {
      const f = setup({ snapshotCreator: true });
      f.snapshots.failWith = new Error('ResourceInUseException');
      const result = await run(f, { command: 'snapshot' });
      expect(result).toMatchObject({ status: 'REJECTED', reason: expect.stringContaining('ResourceInUseException') });
      expect((await f.ledger.getIncident(result.incidentId ?? ''))?.actions[0]?.state).toBe('FAILED');
      expect(await f.ledger.lockHolder('orders', now)).toBeUndefined();
    });

    it.each([
      ['the application is not RUNNING', { app: { status: 'READY' as const } }, 'not allowed while orders is READY'],
      ['snapshots are disabled', { app: { snapshotsEnabled: false } }, 'SnapshotsEnabled=false'],
    ])('is rejected when %s', async (_label, options, reason) => {
      const f = setup({ snapshotCreator: true, ...options });
      const result = await run(f, { command: 'snapshot' });
      expect(result).toMatchObject({ status: 'REJECTED', reason: expect.stringContaining(reason) });
      expectNothingChanged(f);
    });
  });

  describe('pause-automation and resume-automation', () => {
    it.each(['pause-automation', 'resume-automation'])('rejects %s without an automation switch', async (c) => {
      const f = setup();
      const result = await run(f, { command: c });
      expect(result).toMatchObject({ status: 'REJECTED', reason: expect.stringContaining('not supported yet') });
      expectNothingChanged(f);
    });

    it('pauses, then resumes, recording who asked and why in the ledger, without any MSF call', async () => {
      // Prepare
      const f = setup({ automation: true });
      // Act
      const paused = await run(f, { command: 'pause-automation' }, { messageId: 'm-1' });
      const flag = await f.ledger.automationPause('orders');
      const resumed = await run(f, { command: 'resume-automation' }, { messageId: 'm-2' });
      // Assess
      expect(paused).toMatchObject({ status: 'DONE', reason: expect.stringContaining('is paused') });
      expect(flag).toEqual({ pausedBy: 'alice@example.com', reason: 'job stuck since the deploy', atMs: now });
      expect(resumed).toMatchObject({ status: 'DONE', reason: expect.stringContaining('is resumed') });
      expect(await f.ledger.automationPause('orders')).toBeUndefined();
      expect(f.automation.calls).toEqual(['pause orders', 'resume orders']);
      expect(f.msf.mutations).toEqual([]);
      expect(f.notifier.sent.map((n) => n.event)).toEqual(['ACTION_TAKEN', 'ACTION_TAKEN']);
      expect((await f.ledger.listIncidents()).map((i) => i.status)).toEqual(['RESOLVED', 'RESOLVED']);
    });

    it('changes nothing when automation is already paused, and says by whom', async () => {
      const f = setup({ automation: true });
      await f.ledger.pauseAutomation('orders', 'bob@example.com', 'release freeze', now - MIN);
      const result = await run(f, { command: 'pause-automation' });
      expect(result).toMatchObject({
        status: 'DONE',
        reason: expect.stringContaining('was already paused (by bob@example.com: release freeze): nothing to change'),
      });
      expect(f.automation.calls).toEqual([]);
      expect(await f.ledger.automationPause('orders')).toMatchObject({ pausedBy: 'bob@example.com' });
    });

    it('does not block other runbook commands: a person decided', async () => {
      // Prepare
      const f = setup({ automation: true });
      await run(f, { command: 'pause-automation' }, { messageId: 'm-1' });
      // Act
      const stopped = await run(f, { command: 'force-stop' }, { messageId: 'm-2' });
      // Assess
      expect(stopped).toMatchObject({ status: 'STARTED', action: { kind: 'FORCE_STOP_AND_RESTART' } });
      expect(f.started).toHaveLength(1);
    });

    it('reports a dry run without flipping the switch', async () => {
      const f = setup({ automation: true });
      const result = await run(f, { command: 'pause-automation', dryRun: true });
      expect(result).toMatchObject({ status: 'DRY_RUN', reason: expect.stringContaining('would have paused') });
      expect(f.automation.calls).toEqual([]);
    });
  });

  describe('guards', () => {
    it('rejects while another incident holds the lock', async () => {
      const f = setup();
      await f.ledger.acquireLock('orders', 'orders-other', now - MIN, 60 * MIN);
      const result = await run(f);
      expect(result).toMatchObject({ status: 'REJECTED', reason: expect.stringContaining('orders-other') });
      expectNothingChanged(f);
    });

    it('rejects while another incident of the application is open', async () => {
      // Prepare: a first command is being carried out
      const f = setup();
      const first = await run(f, {}, { messageId: 'm-1' });
      // Act
      const second = await run(f, { command: 'rollback' }, { messageId: 'm-2' });
      // Assess
      expect(second).toMatchObject({ status: 'REJECTED', reason: expect.stringContaining(first.incidentId ?? '?') });
      expect(f.started).toHaveLength(1);
    });

    it('acts past an incident awaiting approval (no lock held then), and records on it that a person acted', async () => {
      // Prepare: an approve-mode incident waits for its answer (status REMEDIATING, approval PENDING, no lock)
      const f = setup();
      const action = { kind: 'ROLLBACK' as const, expectVersionId: 7, toVersionId: 6 };
      await f.ledger.createIncident({
        schemaVersion: 1,
        id: 'orders-awaiting',
        applicationName: 'orders',
        trigger: { source: 'alarm', detail: 'flink-watchdog-orders-restart-loop', atMs: now - 5 * MIN },
        openedMs: now - 5 * MIN,
        status: 'REMEDIATING',
        decision: { verdict: 'REMEDIATE', reason: 'restart loop', remediation: action, guards: [], nextSteps: [] },
        remediation: action,
        attempts: 0,
        actions: [],
        events: [],
        approval: {
          action,
          requestedMs: now - 5 * MIN,
          timeoutMs: now + 25 * MIN,
          onTimeout: 'escalate',
          taskToken: 'token-1',
          state: 'PENDING',
        },
      });
      // Act
      const result = await run(f);
      // Assess
      expect(result.status).toBe('STARTED');
      const mine = await f.ledger.getIncident(result.incidentId ?? '?');
      expect(mine?.decision?.guards.find((g) => g.name === 'lock-free')).toMatchObject({
        passed: true,
        detail: expect.stringContaining('incident orders-awaiting is open but not acting (awaiting approval until'),
      });
      expect(f.started).toHaveLength(1);
      const waiting = await f.ledger.getIncident('orders-awaiting');
      expect(waiting?.events.at(-1)).toMatchObject({
        kind: 'APPROVAL',
        message: expect.stringContaining(
          `runbook command force-stop by alice@example.com (incident ${result.incidentId}). The decision made before no longer stands`,
        ),
      });
      expect(waiting?.status).toBe('REMEDIATING');
    });

    it('is not blocked by exhausted attempts or the cooldown: a human decides', async () => {
      const f = setup();
      for (let i = 0; i < 5; i++) await f.ledger.recordAttempt('orders', `orders-earlier-${i}`, now - MIN);
      const result = await run(f);
      expect(result.status).toBe('STARTED');
    });

    it('is not blocked by observe mode', async () => {
      const f = setup({ config: { ...WATCHED, defaults: { mode: 'observe' } } });
      expect((await run(f)).status).toBe('STARTED');
    });

    it('escalates when the workflow cannot be started, and closes the incident', async () => {
      const f = setup({ starterFails: true });
      const result = await run(f);
      expect(result).toMatchObject({ status: 'REJECTED', reason: expect.stringContaining('StartExecution denied') });
      expect(await f.ledger.openIncident('orders')).toBeUndefined();
      // Not opened: the only answer says the command was not carried out.
      expect(f.notifier.sent.map((n) => n.event)).toEqual(['ESCALATED']);
    });
  });

  describe('idempotency', () => {
    it('handles an SNS redelivery (same MessageId) as a DUPLICATE without reading or acting again', async () => {
      // Prepare
      const f = setup();
      const first = await run(f);
      const callsBefore = f.msf.calls.length;
      // Act
      const again = await run(f);
      // Assess
      expect(again).toMatchObject({ status: 'DUPLICATE', incidentId: first.incidentId });
      expect(first.incidentId).toBe(runbookIncidentId('orders', '95df01b4-ee98-5cb9-9903-4c221d41eb5e'));
      // The incident has no action yet, so the start is repeated, under the same execution name: Step Functions runs
      // one execution. Nothing is read from MSF and nobody is told twice.
      expect(new Set(f.started.map((s) => s.incidentId))).toEqual(new Set([first.incidentId]));
      expect(f.notifier.sent).toHaveLength(1);
      expect(f.msf.calls).toHaveLength(callsBefore);
    });

    it('answers a redelivered rejected command once', async () => {
      const f = setup();
      expect((await run(f, { command: 'start' })).status).toBe('REJECTED'); // already running
      expect((await run(f, { command: 'start' })).status).toBe('DUPLICATE');
      expect(f.notifier.sent).toHaveLength(1);
    });
  });

  describe('authorisation and scope', () => {
    it('rejects a command from another topic: nothing read, recorded or told', async () => {
      const f = setup();
      const result = await run(f, {}, { topicArn: OTHER_TOPIC });
      expect(result).toMatchObject({ status: 'REJECTED', reason: expect.stringContaining('not authorised') });
      expect(result.incidentId).toBeUndefined();
      expect(f.msf.calls).toEqual([]);
      expect(await f.ledger.listIncidents()).toEqual([]);
      expect(f.notifier.sent).toEqual([]);
      expect(f.log.lines.some((l) => l.level === 'error')).toBe(true);
    });

    it('rejects an application that is not watched, recorded and told, without touching it', async () => {
      const f = setup({
        config: { schemaVersion: 1, defaults: { mode: 'remediate' }, applications: [{ name: 'payments' }] },
      });
      const result = await run(f);
      expect(result).toMatchObject({ status: 'REJECTED', reason: expect.stringContaining('not watched') });
      expectNothingChanged(f);
      expect(f.msf.calls).toEqual([]);
      expect(f.notifier.sent.map((n) => n.event)).toEqual(['NOTIFIED']);
    });

    it('accepts an application opted in by tag', async () => {
      const f = setup({
        config: { schemaVersion: 1, optInTag: { key: 'flink-watchdog', value: 'enabled' }, applications: [] },
        tags: { 'flink-watchdog': 'enabled' },
      });
      expect((await run(f)).status).toBe('STARTED');
    });
  });

  it('rejects a blank requestedBy even when called without the parser', async () => {
    // Prepare
    const f = setup();
    const cmd = { ...RunbookCommand.parse(command()), requestedBy: '' };
    // Act
    const result = await runCommand(cmd, f.deps, { topicArn: TOPIC, authorizedTopics: [TOPIC], messageId: 'm-1' });
    // Assess
    expect(result).toMatchObject({ status: 'REJECTED', reason: 'not authorised: requestedBy is empty' });
    expectNothingChanged(f);
    expect(f.msf.calls).toEqual([]);
  });

  it('answers each record of an event, a malformed one with its reason', async () => {
    const f = setup();
    const good = snsEvent(command(), { messageId: 'm-1' }).Records[0];
    const bad = snsEvent('not json', { messageId: 'm-2' }).Records[0];
    const out = await f.handler({ Records: [bad, good] });
    expect(out.results.map((r) => r.status)).toEqual(['REJECTED', 'STARTED']);
    expect(out.results[0]?.reason).toContain('Records[0].Sns.Message: not JSON');
  });
});

describe('Environment: RunbookEnv', () => {
  it('requires the command topic', () => {
    const base = {
      WATCHDOG_CONFIG: '{}',
      NOTIFICATION_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:alerts',
      LEDGER_TABLE_NAME: 'ledger',
      STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:remediation',
    };
    expect(RunbookEnv.safeParse(base).success).toBe(false);
    expect(RunbookEnv.safeParse({ ...base, COMMAND_TOPIC_ARN: TOPIC }).success).toBe(true);
  });
});

describe('Property: the runbook handler never acts on a bad command', () => {
  const validFields = {
    command: fc.constantFrom(...APPLICATION_COMMANDS),
    requestedBy: fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s.trim() !== ''),
    reason: fc.string({ minLength: 1, maxLength: 80 }).filter((s) => s.trim() !== ''),
  };
  const msfName = fc.stringMatching(/^[a-zA-Z0-9_.-]{1,128}$/);
  /** A command that would be accepted (executed, not a dry run) if it came from the right topic and were in scope. */
  const validCommand = (application: fc.Arbitrary<string>) =>
    fc.record({ ...validFields, application, dryRun: fc.constant(false) });
  const notAString = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string()), fc.object());

  /** Messages that are not a valid command: the Message string sent as is. */
  const malformedMessage: fc.Arbitrary<string> = fc.oneof(
    // Not JSON, or JSON that is not a command object.
    fc.string(),
    fc.json(),
    // A required field missing.
    fc
      .tuple(validCommand(fc.constant('orders')), fc.constantFrom('command', 'application', 'requestedBy', 'reason'))
      .map(([c, field]) => JSON.stringify({ ...c, [field]: undefined })),
    // A field of the wrong type.
    fc
      .tuple(
        validCommand(fc.constant('orders')),
        fc.oneof(
          fc.record({ field: fc.constantFrom('command', 'application', 'requestedBy', 'reason'), value: notAString }),
          fc.record({
            field: fc.constant('dryRun'),
            value: fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.object()),
          }),
        ),
      )
      .map(([c, { field, value }]) => JSON.stringify({ ...c, [field]: value })),
    // An unknown command.
    fc
      .tuple(
        validCommand(fc.constant('orders')),
        fc.string().filter((s) => !(RUNBOOK_COMMANDS as readonly string[]).includes(s)),
      )
      .map(([c, command]) => JSON.stringify({ ...c, command })),
    // Oversized or blank strings, and application names MSF would refuse.
    fc
      .tuple(
        validCommand(fc.constant('orders')),
        fc.oneof(
          fc.record({ field: fc.constant('requestedBy'), value: fc.string({ minLength: 257, maxLength: 400 }) }),
          fc.record({ field: fc.constant('reason'), value: fc.string({ minLength: 1025, maxLength: 1200 }) }),
          fc.record({ field: fc.constant('application'), value: fc.stringMatching(/^[a-z]{129,140}$/) }),
          fc.record({
            field: fc.constant('application'),
            value: fc.string({ minLength: 1 }).filter((s) => !/^[a-zA-Z0-9_.-]+$/.test(s)),
          }),
          fc.record({ field: fc.constantFrom('requestedBy', 'reason'), value: fc.stringMatching(/^\s{0,5}$/) }),
        ),
      )
      .map(([c, { field, value }]) => JSON.stringify({ ...c, [field]: value })),
    // An unknown key, or a snapshot on a command that takes none.
    fc
      .tuple(validCommand(fc.constant('orders')), fc.string({ minLength: 1 }))
      .filter(([, key]) => !['command', 'application', 'snapshot', 'requestedBy', 'reason', 'dryRun'].includes(key))
      .map(([c, key]) => JSON.stringify({ ...c, [key]: true })),
    validCommand(fc.constant('orders'))
      .filter((c) => c.command !== 'restart-from-snapshot')
      .map((c) => JSON.stringify({ ...c, snapshot: 'latest' })),
    // Oversized message.
    fc.integer({ min: 8193, max: 20_000 }).map((n) => JSON.stringify({ ...command(), reason: 'x'.repeat(n) })),
  );

  type Case =
    | { kind: 'malformed'; message: string }
    | { kind: 'unauthorised'; message: string; topicArn: string }
    | { kind: 'out-of-scope'; message: string; optIn: boolean }
    | { kind: 'not-an-event'; event: unknown };

  const badCase: fc.Arbitrary<Case> = fc.oneof(
    malformedMessage.map((message) => ({ kind: 'malformed' as const, message })),
    fc
      .tuple(
        validCommand(fc.constant('orders')),
        fc.oneof(
          fc.string(),
          msfName.map((n) => `arn:aws:sns:eu-west-1:123456789012:${n.slice(0, 200)}`),
        ),
      )
      .filter(([, topicArn]) => topicArn !== TOPIC)
      .map(([c, topicArn]) => ({ kind: 'unauthorised' as const, message: JSON.stringify(c), topicArn })),
    fc
      .tuple(
        validCommand(
          fc.oneof(
            fc.constant('untagged'),
            msfName.filter((n) => n !== 'orders'),
          ),
        ),
        fc.boolean(),
      )
      .map(([c, optIn]) => ({ kind: 'out-of-scope' as const, message: JSON.stringify(c), optIn })),
    fc.anything().map((event) => ({ kind: 'not-an-event' as const, event })),
  );

  it('rejects malformed, unauthorised and out-of-scope commands with a reason, with zero mutating MSF calls', async () => {
    await fc.assert(
      fc.asyncProperty(badCase, async (c) => {
        // Prepare: every optional capability wired, so nothing is rejected merely for being unsupported.
        const f = setup({
          automation: true,
          snapshotCreator: true,
          config:
            c.kind === 'out-of-scope' && c.optIn
              ? { ...WATCHED, optInTag: { key: 'flink-watchdog', value: 'enabled' } }
              : WATCHED,
        });
        f.msf.setApp(
          app({ name: 'untagged', arn: 'arn:aws:kinesisanalytics:eu-west-1:123456789012:application/untagged' }),
        );
        const event =
          c.kind === 'not-an-event'
            ? c.event
            : snsEvent(c.message, c.kind === 'unauthorised' ? { topicArn: c.topicArn } : {});
        // Act
        const out = await f.handler(event);
        // Assess
        const answers = out.status === 'REJECTED' ? [{ status: 'REJECTED', reason: out.error ?? '' }] : out.results;
        expect(answers.length).toBeGreaterThan(0);
        for (const a of answers) {
          expect(a.status).toBe('REJECTED');
          expect(a.reason.length).toBeGreaterThan(0);
        }
        expectNothingChanged(f);
        if (c.kind !== 'out-of-scope') {
          expect(f.msf.calls).toEqual([]);
          expect(await f.ledger.listIncidents()).toEqual([]);
        }
      }),
      { numRuns: 300 },
    );
  });
});
