import { describe, expect, it } from 'vitest';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import { RecordingNotifier } from '#shared/adapters/recording-notifier.ts';
import { parseConfig } from '#shared/config/schema.ts';
import type { RemediationAction, StartOptions } from '#shared/domain/decision.ts';
import { evaluate } from '#shared/domain/detect.ts';
import { checkHolds } from '#shared/domain/holds.ts';
import type { Incident } from '#shared/domain/incident.ts';
import type { ApplicationState } from '#shared/domain/model.ts';
import {
  initialRemediationState,
  type RemediationDeps,
  type RemediationState,
  remediationStep,
} from '#shared/domain/remediation.ts';
import { type RunbookDeps, runCommand } from '#shared/domain/runbook.ts';
import { RunbookCommand } from '#shared/events/runbook-command.ts';
import type { CalendarState, ChangeCalendarPort } from '#shared/ports/change-calendar.ts';
import { MUTATING_MSF_OPERATIONS } from '#shared/ports/msf.ts';
import { app, counter, MIN, observation, op, policy, T0 } from '../support/builders.ts';
import { CapturingLog, FakeMetrics, FakeMsf } from '../support/fakes.ts';

const START: StartOptions = { restoreType: 'RESTORE_FROM_LATEST_SNAPSHOT', allowNonRestoredState: false };
const ACTION: RemediationAction = { kind: 'FORCE_STOP_AND_RESTART', expectVersionId: 7, start: START };
const ID = 'orders-0123456789abcdef';
const OPENED_MS = T0 + 30 * MIN;
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:flink-watchdog-commands';

/** A change calendar whose state a test sets; `error` makes GetCalendarState fail. */
class FakeCalendars implements ChangeCalendarPort {
  state: CalendarState = { state: 'OPEN' };
  error: Error | undefined;
  readonly asked: string[][] = [];
  async getCalendarState(names: string[]): Promise<CalendarState> {
    this.asked.push(names);
    if (this.error) throw this.error;
    return { ...this.state };
  }
}

function config(changeFreeze?: Record<string, unknown>) {
  return parseConfig({
    schemaVersion: 1,
    defaults: { mode: 'remediate' },
    applications: [{ name: 'orders' }],
    ...(changeFreeze ? { changeFreeze } : {}),
  });
}

async function setup(
  options: { source?: Incident['trigger']['source']; app?: Partial<ApplicationState>; calendars?: boolean } = {},
) {
  const ledger = new MemoryLedger();
  const msf = new FakeMsf().setApp(app(options.app));
  const notifier = new RecordingNotifier();
  const calendars = new FakeCalendars();
  const time = { t: OPENED_MS };
  const deps: RemediationDeps = {
    msf,
    metrics: new FakeMetrics(),
    ledger,
    notifier,
    log: new CapturingLog(),
    config: config({ calendars: ['prod-freeze'], recheckMinutes: 5, maxHoldMinutes: 60 }),
    clock: { now: () => time.t },
    ...(options.calendars === false ? {} : { calendars }),
  };
  const incident: Incident = {
    schemaVersion: 1,
    id: ID,
    applicationName: 'orders',
    trigger: { source: options.source ?? 'alarm', detail: 'flink-watchdog-orders-restart-loop', atMs: OPENED_MS },
    openedMs: OPENED_MS,
    status: 'REMEDIATING',
    decision: { verdict: 'REMEDIATE', reason: 'restart loop', remediation: ACTION, guards: [], nextSteps: [] },
    remediation: ACTION,
    attempts: 1,
    actions: [],
    events: [],
  };
  await ledger.createIncident(incident);
  const step = async (state: RemediationState) => {
    const next = await remediationStep(state, deps);
    time.t += next.waitSeconds * 1000;
    return next;
  };
  const stored = async () => {
    const i = await ledger.getIncident(ID);
    if (!i) throw new Error('incident vanished');
    return i;
  };
  const mutating = () => msf.calls.filter((c) => MUTATING_MSF_OPERATIONS.has(c.split(' ')[0] ?? ''));
  const held = () => notifier.sent.filter((n) => n.event === 'HELD');
  // A person's runbook command, through the real runbook path; the workflows it starts are kept in `started`.
  const started: RemediationState[] = [];
  const runbookDeps: RunbookDeps = { ...deps, starter: { start: async (st) => void started.push(st) } };
  let messages = 0;
  const runbook = (cmd: string) =>
    runCommand(
      RunbookCommand.parse({
        command: cmd,
        application: 'orders',
        requestedBy: 'alice@example.com',
        reason: 'stop it by hand during the freeze',
        dryRun: false,
      }),
      runbookDeps,
      { topicArn: TOPIC, authorizedTopics: [TOPIC], messageId: `m-${++messages}` },
    );
  return {
    started,
    runbook,
    msf,
    calendars,
    deps,
    step,
    stored,
    mutating,
    held,
    now: () => time.t,
    initial: initialRemediationState(incident, ACTION),
  };
}

describe('Function: checkHolds', () => {
  const log = new CapturingLog();
  const clock = { now: () => T0 };

  it('finds nothing for a RUNNING application with no maintenance and no calendar configured', async () => {
    // Prepare
    const msf = new FakeMsf().setApp(app());
    // Act
    const hold = await checkHolds('orders', { msf, config: config(), clock, log });
    // Assess
    expect(hold).toBeUndefined();
  });

  it('holds for a Maintenance operation IN_PROGRESS, naming it', async () => {
    // Prepare
    const msf = new FakeMsf().setApp(app(), {
      operations: [{ operationId: 'op-9', operation: 'Maintenance', status: 'IN_PROGRESS', startMs: T0 - MIN }],
    });
    // Act
    const hold = await checkHolds('orders', { msf, config: config(), clock, log });
    // Assess
    expect(hold).toMatchObject({ kind: 'MAINTENANCE' });
    expect(hold?.detail).toContain('Maintenance op-9 IN_PROGRESS');
  });

  it('does not hold for the customer moving the maintenance window (UpdateApplicationMaintenanceConfiguration)', async () => {
    // Prepare
    const msf = new FakeMsf().setApp(app(), {
      operations: [
        { operationId: 'op-8', operation: 'UpdateApplicationMaintenanceConfiguration', status: 'IN_PROGRESS' },
      ],
    });
    // Act
    const hold = await checkHolds('orders', { msf, config: config(), clock, log });
    // Assess
    expect(hold).toBeUndefined();
  });

  it('does not hold for a finished Maintenance operation', async () => {
    // Prepare
    const msf = new FakeMsf().setApp(app(), {
      operations: [{ operationId: 'op-9', operation: 'Maintenance', status: 'SUCCESSFUL', startMs: T0 - MIN }],
    });
    // Act
    const hold = await checkHolds('orders', { msf, config: config(), clock, log });
    // Assess
    expect(hold).toBeUndefined();
  });

  it('holds for ApplicationStatus MAINTENANCE even when no operation is listed', async () => {
    // Prepare
    const msf = new FakeMsf().setApp(app({ status: 'MAINTENANCE' }));
    // Act
    const hold = await checkHolds('orders', { msf, config: config(), clock, log });
    // Assess
    expect(hold).toEqual({ kind: 'MAINTENANCE', detail: 'MSF maintenance: ApplicationStatus MAINTENANCE' });
  });

  it('holds while a configured calendar is CLOSED, until its NextTransitionTime', async () => {
    // Prepare
    const msf = new FakeMsf().setApp(app());
    const calendars = new FakeCalendars();
    calendars.state = { state: 'CLOSED', nextTransitionMs: T0 + 60 * MIN };
    // Act
    const hold = await checkHolds('orders', {
      msf,
      calendars,
      config: config({ calendars: ['prod-freeze', 'payments-freeze'] }),
      clock,
      log,
    });
    // Assess
    expect(calendars.asked).toEqual([['prod-freeze', 'payments-freeze']]);
    expect(hold).toEqual({
      kind: 'CHANGE_FREEZE',
      detail: 'one of the change calendars prod-freeze, payments-freeze is CLOSED until 2026-03-02T15:00:00.000Z',
      untilMs: T0 + 60 * MIN,
    });
  });

  it('does not hold while the calendars are OPEN', async () => {
    // Prepare
    const msf = new FakeMsf().setApp(app());
    const calendars = new FakeCalendars();
    // Act
    const hold = await checkHolds('orders', {
      msf,
      calendars,
      config: config({ calendars: ['prod-freeze'] }),
      clock,
      log,
    });
    // Assess
    expect(hold).toBeUndefined();
  });

  it('holds (fail safe) when the calendar cannot be read, naming the error and the fix', async () => {
    // Prepare
    const msf = new FakeMsf().setApp(app());
    const calendars = new FakeCalendars();
    calendars.error = Object.assign(new Error('The specified SSM document does not exist.'), {
      name: 'InvalidDocument',
    });
    // Act
    const hold = await checkHolds('orders', {
      msf,
      calendars,
      config: config({ calendars: ['prod-freez'] }),
      clock,
      log,
    });
    // Assess
    expect(hold?.kind).toBe('CHANGE_FREEZE');
    expect(hold?.detail).toContain('change calendar prod-freez could not be read (InvalidDocument:');
    expect(hold?.fix).toContain('changeFreeze.calendars');
  });

  it('holds (fail safe) when calendars are configured but no reader is wired', async () => {
    // Prepare
    const msf = new FakeMsf().setApp(app());
    // Act
    const hold = await checkHolds('orders', { msf, config: config({ calendars: ['prod-freeze'] }), clock, log });
    // Assess
    expect(hold?.kind).toBe('CHANGE_FREEZE');
    expect(hold?.detail).toContain('could not be read');
  });
});

describe('Remediation held before an automatic MSF call', () => {
  it('makes no MSF call while the calendar is CLOSED, tells people once, and acts after it opens', async () => {
    // Prepare
    const s = await setup();
    s.calendars.state = { state: 'CLOSED', nextTransitionMs: OPENED_MS + 12 * MIN };
    // Act
    const act = await s.step(s.initial); // LOCK
    const first = await s.step(act);
    const second = await s.step(first);
    const third = await s.step(second);
    const whileHeld = await s.stored();
    s.calendars.state = { state: 'OPEN' };
    const acted = await s.step(third);
    // Assess
    expect([first, second, third].map((x) => [x.phase, x.waitSeconds])).toEqual([
      ['ACT', 300],
      ['ACT', 300],
      ['ACT', 300],
    ]);
    expect(whileHeld.hold).toMatchObject({ kind: 'CHANGE_FREEZE', sinceMs: OPENED_MS, toldMs: OPENED_MS });
    expect(whileHeld.hold?.detail).toBe('change calendar prod-freeze is CLOSED until 2026-03-02T14:42:00.000Z');
    expect(whileHeld.status).toBe('REMEDIATING');
    expect(whileHeld.events.filter((e) => e.kind === 'HELD')).toHaveLength(1);
    expect(acted.phase).toBe('AWAIT');
    expect(s.mutating()).toEqual(['StopApplication orders']);
    const after = await s.stored();
    expect(after.hold?.releasedMs).toBe(OPENED_MS + 15 * MIN);
    expect(after.events.filter((e) => e.kind === 'HELD').map((e) => e.message)[1]).toContain(
      'Hold released after 15 min',
    );
    // Told once of the hold, once of its release.
    expect(s.held().map((n) => n.title)).toEqual([
      'orders: remediation held — change freeze',
      'orders: hold released — remediation goes on',
    ]);
  });

  it('finishes its own plan once begun: StartApplication is still made when the calendar CLOSES after StopApplication', async () => {
    // Prepare
    const s = await setup();
    // Act
    const act = await s.step(s.initial); // LOCK
    const awaiting = await s.step(act); // StopApplication, calendar OPEN
    s.msf.operations.set('orders', [{ operationId: 'stop-1', operation: 'StopApplication', status: 'SUCCESSFUL' }]);
    const app = s.msf.apps.get('orders');
    if (!app) throw new Error('no app');
    app.status = 'READY';
    const startAct = await s.step(awaiting); // READY → ACT (StartApplication)
    s.calendars.state = { state: 'CLOSED' };
    const asked = s.calendars.asked.length;
    const started = await s.step(startAct);
    // Assess: not held, so the application the watchdog stopped is not left stopped for the freeze.
    expect(started).toMatchObject({ phase: 'AWAIT', stepIndex: 1 });
    expect(s.mutating()).toEqual(['StopApplication orders', 'StartApplication orders']);
    expect(s.calendars.asked).toHaveLength(asked);
    expect((await s.stored()).hold).toBeUndefined();
    expect(s.held()).toEqual([]);
  });

  it('stops a held remediation and frees the lock when a person pauses automation, so their own command can act', async () => {
    // Prepare
    const s = await setup();
    s.calendars.state = { state: 'CLOSED' };
    const held = await s.step(await s.step(s.initial));
    // Act
    await s.deps.ledger.pauseAutomation('orders', 'alice@example.com', 'start it by hand during the freeze', s.now());
    let state = await s.step(held);
    for (let i = 0; i < 3 && state.phase !== 'DONE'; i++) state = await s.step(state);
    // Assess
    expect(state).toMatchObject({ phase: 'DONE', outcome: 'ESCALATED' });
    expect((await s.stored()).outcomeReason).toContain('automation paused by alice@example.com');
    expect(await s.deps.ledger.lockHolder('orders', s.now())).toBeUndefined();
    expect(s.mutating()).toEqual([]);
  });

  it('lets a runbook command act while held (calendar CLOSED), and the held remediation then stops without acting', async () => {
    // Prepare
    const s = await setup();
    s.calendars.state = { state: 'CLOSED' };
    const held = await s.step(await s.step(s.initial)); // LOCK, then held in ACT
    // Act: a person sends force-stop through the runbook path (SNS → runCommand → remediation workflow).
    const result = await s.runbook('force-stop');
    const person = s.started[0];
    if (!person) throw new Error('no workflow started for the runbook command');
    const personAct = await s.step(person); // LOCK (the person's attempt)
    const personAwait = await s.step(personAct); // StopApplication Force=true, not held: a person decided
    let state = await s.step(held); // the held remediation looks again while the person's workflow holds the lock
    for (let i = 0; i < 3 && state.phase !== 'DONE'; i++) state = await s.step(state);
    // Assess
    expect(result).toMatchObject({ status: 'STARTED' });
    expect(result.reason).toContain('force-stop orders');
    expect(personAwait.phase).toBe('AWAIT');
    expect(s.mutating()).toEqual(['StopApplication orders']);
    expect(state).toMatchObject({ phase: 'DONE', outcome: 'ESCALATED' });
    const incident = await s.stored();
    expect(incident.status).toBe('ESCALATED');
    expect(incident.outcomeReason).toContain(`Incident ${result.incidentId} holds the lock on orders`);
    expect(incident.events.filter((e) => e.kind === 'HELD').map((e) => e.message)).toContainEqual(
      expect.stringContaining(
        `A person acted on orders while this incident was held: change calendar prod-freeze is CLOSED: runbook command force-stop by alice@example.com (incident ${result.incidentId})`,
      ),
    );
    expect(await s.deps.ledger.lockHolder('orders', s.now())).toBe(result.incidentId);
  });

  it('stops a held remediation at its next look, calendar still CLOSED, when a person acted and freed the lock meanwhile', async () => {
    // Prepare
    const s = await setup();
    s.calendars.state = { state: 'CLOSED' };
    const held = await s.step(await s.step(s.initial));
    const result = await s.runbook('force-stop');
    const person = s.started[0];
    if (!person) throw new Error('no workflow started for the runbook command');
    await s.step(person); // LOCK: the person's attempt is counted
    // The person's workflow ends (here: its lock is freed as its RELEASE phase does).
    await s.deps.ledger.releaseLock('orders', result.incidentId ?? '');
    // Act
    let state = await s.step(held);
    for (let i = 0; i < 3 && state.phase !== 'DONE'; i++) state = await s.step(state);
    // Assess
    expect(state).toMatchObject({ phase: 'DONE', outcome: 'ESCALATED' });
    const incident = await s.stored();
    expect(incident.outcomeReason).toContain(
      '1 remediation attempt(s) were made on orders meanwhile (runbook commands)',
    );
    expect(incident.outcomeReason).toContain('does not act on it');
    expect(s.mutating()).toEqual([]);
    expect(await s.deps.ledger.lockHolder('orders', s.now())).toBeUndefined();
  });

  it('stops a held remediation even when the person’s workflow lost the lock to one of its looks and made no attempt', async () => {
    // Prepare
    const s = await setup();
    s.calendars.state = { state: 'CLOSED' };
    const held = await s.step(await s.step(s.initial));
    const result = await s.runbook('force-stop');
    const person = s.started[0];
    if (!person) throw new Error('no workflow started for the runbook command');
    // The held remediation looks again just as the person's workflow starts: the person's LOCK finds it taken.
    await s.deps.ledger.acquireLock('orders', ID, s.now(), 60 * MIN);
    const lost = await s.step(person);
    await s.deps.ledger.releaseLock('orders', ID);
    // Act
    let state = await s.step(held);
    for (let i = 0; i < 3 && state.phase !== 'DONE'; i++) state = await s.step(state);
    // Assess
    expect(result.status).toBe('STARTED');
    expect(lost).toMatchObject({ phase: 'DONE', outcome: 'DUPLICATE' });
    expect((await s.deps.ledger.attemptsSince('orders', OPENED_MS + 1)).count).toBe(0);
    expect(state).toMatchObject({ phase: 'DONE', outcome: 'ESCALATED' });
    expect((await s.stored()).outcomeReason).toContain('a person sent a runbook command for orders meanwhile');
    expect(s.mutating()).toEqual([]);
  });

  it('refuses a runbook command for the moment the held remediation holds the lock to look again', async () => {
    // Prepare
    const s = await setup();
    s.calendars.state = { state: 'CLOSED' };
    await s.step(await s.step(s.initial));
    await s.deps.ledger.acquireLock('orders', ID, s.now(), 60 * MIN); // as during a look
    // Act
    const result = await s.runbook('force-stop');
    // Assess
    expect(result.status).toBe('REJECTED');
    expect(result.reason).toContain('is looking again at orders right now');
    expect(s.started).toEqual([]);
  });

  it('escalates without acting once held for maxHoldMinutes, saying why', async () => {
    // Prepare
    const s = await setup();
    s.calendars.state = { state: 'CLOSED' };
    // Act
    let state = await s.step(s.initial);
    for (let i = 0; i < 20 && state.phase === 'ACT'; i++) state = await s.step(state);
    // Assess
    expect(state).toMatchObject({ phase: 'RELEASE', outcome: 'ESCALATED' });
    const incident = await s.stored();
    expect(incident.status).toBe('ESCALATED');
    expect(incident.outcomeReason).toContain(
      'Held for 60 min (changeFreeze.maxHoldMinutes 60): change calendar prod-freeze is CLOSED.',
    );
    expect(incident.outcomeReason).toContain('without acting');
    expect(incident.nextSteps).toContain('aws ssm get-calendar-state --calendar-names prod-freeze');
    expect(s.mutating()).toEqual([]);
    expect(s.held()).toHaveLength(1);
  });

  it('never holds a runbook command: a person decided', async () => {
    // Prepare
    const s = await setup({ source: 'runbook' });
    s.calendars.state = { state: 'CLOSED' };
    // Act
    const act = await s.step(s.initial);
    const next = await s.step(act);
    // Assess
    expect(next.phase).toBe('AWAIT');
    expect(s.mutating()).toEqual(['StopApplication orders']);
    expect(s.calendars.asked).toEqual([]);
    expect((await s.stored()).hold).toBeUndefined();
  });

  it('waits out MSF maintenance, then checks the version on a fresh DescribeApplication before acting', async () => {
    // Prepare
    const s = await setup({ calendars: false });
    s.deps.config = config();
    s.msf.operations.set('orders', [
      { operationId: 'op-m', operation: 'Maintenance', status: 'IN_PROGRESS', startMs: OPENED_MS },
    ]);
    const app = s.msf.apps.get('orders');
    if (!app) throw new Error('no app');
    app.status = 'MAINTENANCE';
    // Act
    const act = await s.step(s.initial);
    const held = await s.step(act);
    // Maintenance ends; meanwhile someone deployed version 8.
    s.msf.operations.set('orders', [
      { operationId: 'op-m', operation: 'Maintenance', status: 'SUCCESSFUL', startMs: OPENED_MS },
    ]);
    Object.assign(app, { status: 'RUNNING', versionId: 8 });
    const after = await s.step(held);
    // Assess
    expect(held).toMatchObject({ phase: 'ACT', waitSeconds: 300 });
    expect(s.held().map((n) => n.title)[0]).toBe('orders: remediation held — MSF maintenance');
    expect(after).toMatchObject({ phase: 'RELEASE', outcome: 'ESCALATED' });
    expect((await s.stored()).outcomeReason).toContain('at version 8, not 7');
    expect(s.mutating()).toEqual([]);
  });
});

describe('Detection: a restart made by MSF maintenance is not a restart loop', () => {
  // A strict policy: one restart in 10 minutes is a loop.
  const strict = policy({ restartLoop: { threshold: 1, windowMinutes: 10 } });
  const NOW = T0 + 10 * MIN;
  /** The job restarted once at minute 7 (counter 0 → 1), and `more` further restarts at minutes 8 and 9. */
  const restarts = (more: number) => ({
    metricName: 'fullRestarts',
    periodSeconds: 60,
    points: counter(T0, [0, 0, 0, 0, 0, 0, 0, 1, 1 + Math.min(more, 1), 1 + more]),
  });
  const maintenance = op({
    operation: 'Maintenance',
    status: 'SUCCESSFUL',
    startMs: T0 + 7 * MIN,
    endMs: T0 + 7.5 * MIN,
  });

  it('finds no restart loop when the only restart falls in a Maintenance operation', () => {
    // Act
    const findings = evaluate(observation({ restarts: restarts(0), operations: [maintenance] }, NOW), strict, NOW);
    // Assess
    expect(findings.map((f) => f.kind)).toEqual([]);
  });

  it('still finds the loop without the maintenance operation', () => {
    // Act
    const findings = evaluate(observation({ restarts: restarts(0), operations: [] }, NOW), strict, NOW);
    // Assess
    expect(findings.map((f) => f.kind)).toEqual(['RESTART_LOOP']);
  });

  it('counts every restart beyond the one maintenance explains', () => {
    // Act
    const findings = evaluate(
      observation({ restarts: restarts(2), operations: [maintenance] }, NOW),
      policy({ restartLoop: { threshold: 2, windowMinutes: 10 } }),
      NOW,
    );
    // Assess
    expect(findings).toMatchObject([{ kind: 'RESTART_LOOP', restarts: 2 }]);
  });
});
