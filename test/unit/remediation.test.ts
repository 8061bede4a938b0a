import { describe, expect, it } from 'vitest';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import { RecordingNotifier } from '#shared/adapters/recording-notifier.ts';
import { parseConfig } from '#shared/config/schema.ts';
import type { RemediationAction, StartOptions } from '#shared/domain/decision.ts';
import type { ActionRecord, Incident } from '#shared/domain/incident.ts';
import type { ApplicationOperation, ApplicationState, ApplicationStatus } from '#shared/domain/model.ts';
import {
  closeAbandonedIncident,
  IncidentNotFoundError,
  initialRemediationState,
  LOCK_TTL_MS,
  type RemediationDeps,
  type RemediationState,
  remediationStep,
} from '#shared/domain/remediation.ts';
import type { Ledger } from '#shared/ports/ledger.ts';
import { MsfApiError, MUTATING_MSF_OPERATIONS } from '#shared/ports/msf.ts';
import type { Notification, Notifier } from '#shared/ports/notifier.ts';
import { app, counter, loopingRestarts, MIN, snapshot, T0 } from '../support/builders.ts';
import { CapturingLog, FakeMetrics, FakeMsf } from '../support/fakes.ts';

const START: StartOptions = { restoreType: 'RESTORE_FROM_LATEST_SNAPSHOT', allowNonRestoredState: false };
const FORCE_STOP_AND_RESTART: RemediationAction = { kind: 'FORCE_STOP_AND_RESTART', expectVersionId: 7, start: START };
const STOP: RemediationAction = { kind: 'STOP', expectVersionId: 7 };
const INCIDENT_ID = 'orders-0123456789abcdef';
const OPENED_MS = T0 + 30 * MIN;

function incident(remediation: RemediationAction, id = INCIDENT_ID): Incident {
  return {
    schemaVersion: 1,
    id,
    applicationName: 'orders',
    trigger: { source: 'alarm', detail: 'flink-watchdog-orders-restart-loop', atMs: OPENED_MS },
    openedMs: OPENED_MS,
    status: 'REMEDIATING',
    decision: { verdict: 'REMEDIATE', reason: 'restart loop', remediation, guards: [], nextSteps: [] },
    remediation,
    attempts: 1,
    actions: [],
    events: [],
  };
}

/** The application the fake holds, so a test can move it through MSF statuses between steps. */
function appIn(msf: FakeMsf, name = 'orders'): ApplicationState {
  const a = msf.apps.get(name);
  if (!a) throw new Error(`FakeMsf has no application ${name}`);
  return a;
}

function setStatus(msf: FakeMsf, status: ApplicationStatus, patch: Partial<ApplicationState> = {}): void {
  Object.assign(appIn(msf), { status, ...patch });
}

/** Puts (or replaces) an operation that DescribeApplicationOperation returns. */
function setOperation(
  msf: FakeMsf,
  operationId: string,
  operation: string,
  status: ApplicationOperation['status'],
  errorString?: string,
): void {
  const ops = (msf.operations.get('orders') ?? []).filter((o) => o.operationId !== operationId);
  ops.unshift({ operationId, operation, status, ...(errorString ? { errorString } : {}) });
  msf.operations.set('orders', ops);
}

/** A notifier that always fails to deliver. */
class BrokenNotifier implements Notifier {
  attempts = 0;
  async notify(_notification: Notification): Promise<void> {
    this.attempts += 1;
    throw new Error('Slack webhook returned 500');
  }
}

/** Reads the incident from the ledger while StopApplication is in flight. */
class LedgerPeekingMsf extends FakeMsf {
  readonly #ledger: Ledger;
  actionsDuringStop: ActionRecord[] | undefined;

  constructor(ledger: Ledger) {
    super();
    this.#ledger = ledger;
  }

  override async stopApplication(name: string, force: boolean) {
    this.actionsDuringStop = (await this.#ledger.getIncident(INCIDENT_ID))?.actions;
    return super.stopApplication(name, force);
  }
}

/** StopApplication fails with `code` for the first `failures` calls, then behaves. */
class FailingStopMsf extends FakeMsf {
  readonly #code: string;
  #failures: number;

  constructor(code: string, failures: number) {
    super();
    this.#code = code;
    this.#failures = failures;
  }

  override async stopApplication(name: string, force: boolean) {
    if (this.#failures > 0) {
      this.#failures -= 1;
      this.calls.push(`StopApplication ${name}`);
      throw new MsfApiError(name, 'StopApplication', this.#code, `simulated ${this.#code}`);
    }
    return super.stopApplication(name, force);
  }
}

/** A MemoryLedger whose releaseLock fails (DynamoDB throttling past the SDK's retries) for the first `failures` calls. */
class FailingReleaseLedger extends MemoryLedger {
  releaseCalls = 0;
  #failures: number;

  constructor(failures: number) {
    super();
    this.#failures = failures;
  }

  override async releaseLock(applicationName: string, incidentId: string) {
    this.releaseCalls += 1;
    if (this.#failures > 0) {
      this.#failures -= 1;
      throw Object.assign(new Error('Rate of requests exceeds the allowed throughput'), {
        name: 'ProvisionedThroughputExceededException',
      });
    }
    return super.releaseLock(applicationName, incidentId);
  }
}

/** A MemoryLedger whose next `failReads` getIncident calls are throttled. */
class ThrottledReadsLedger extends MemoryLedger {
  failReads = 0;

  override async getIncident(id: string) {
    if (this.failReads > 0) {
      this.failReads -= 1;
      throw Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' });
    }
    return super.getIncident(id);
  }
}

/**
 * StopApplication is carried out (the application goes to FORCE_STOPPING, and MSF lists the operation when `listed`),
 * but its answer is lost: the client times out, with no HTTP response, as the SDK's TimeoutError has none.
 */
class LostAnswerStopMsf extends FakeMsf {
  readonly #startMs: number;
  readonly #listed: boolean;

  constructor(startMs: number, listed: boolean) {
    super();
    this.#startMs = startMs;
    this.#listed = listed;
  }

  override async stopApplication(name: string, force: boolean): Promise<{ operationId: string }> {
    const { operationId } = await super.stopApplication(name, force);
    setStatus(this, force ? 'FORCE_STOPPING' : 'STOPPING');
    if (this.#listed) {
      const op: ApplicationOperation = {
        operationId,
        operation: 'StopApplication',
        status: 'IN_PROGRESS',
        startMs: this.#startMs,
      };
      this.operations.set(name, [op, ...(this.operations.get(name) ?? [])]);
    }
    const timeout = Object.assign(new Error('Connection timed out after 30000 ms'), {
      name: 'TimeoutError',
      $metadata: {},
    });
    throw new MsfApiError(name, 'StopApplication', 'TimeoutError', timeout.message, { cause: timeout });
  }
}

/**
 * The first StopApplication times out before MSF shows anything; it lands while the second try is made, which MSF
 * refuses (ResourceInUseException, an answer with an HTTP status) as the application is already FORCE_STOPPING.
 */
class LateLandingStopMsf extends FakeMsf {
  readonly #startMs: number;
  #tries = 0;

  constructor(startMs: number) {
    super();
    this.#startMs = startMs;
  }

  override async stopApplication(name: string, _force: boolean): Promise<{ operationId: string }> {
    this.#tries += 1;
    this.calls.push(`StopApplication ${name}`);
    if (this.#tries === 1) {
      throw new MsfApiError(name, 'StopApplication', 'TimeoutError', 'Connection timed out after 30000 ms');
    }
    setStatus(this, 'FORCE_STOPPING');
    this.operations.set(name, [
      { operationId: 'stop-landed', operation: 'StopApplication', status: 'IN_PROGRESS', startMs: this.#startMs },
    ]);
    const refusal = Object.assign(new Error('Application orders is in FORCE_STOPPING status'), {
      name: 'ResourceInUseException',
      $metadata: { httpStatusCode: 400 },
    });
    throw new MsfApiError(name, 'StopApplication', 'ResourceInUseException', refusal.message, { cause: refusal });
  }
}

/** StopApplication never reaches MSF: the connection is reset before the request is read (nothing changes). */
class UnsentStopMsf extends FakeMsf {
  #failures = 1;

  override async stopApplication(name: string, force: boolean) {
    if (this.#failures > 0) {
      this.#failures -= 1;
      this.calls.push(`StopApplication ${name}`);
      throw new MsfApiError(name, 'StopApplication', 'Error', 'read ECONNRESET');
    }
    return super.stopApplication(name, force);
  }
}

async function setup(
  options: {
    action?: RemediationAction;
    app?: Partial<ApplicationState>;
    msf?: (ledger: Ledger) => FakeMsf;
    /** The ledger to use (e.g. one whose lock release fails). @default a fresh MemoryLedger */
    ledger?: MemoryLedger;
    notifier?: Notifier;
    /** Policy defaults merged into the config (e.g. a long verify window). */
    defaults?: Record<string, unknown>;
  } = {},
) {
  const action = options.action ?? FORCE_STOP_AND_RESTART;
  const ledger = options.ledger ?? new MemoryLedger();
  const msf = (options.msf ? options.msf(ledger) : new FakeMsf()).setApp(app(options.app));
  const metrics = new FakeMetrics();
  const notifier = options.notifier ?? new RecordingNotifier();
  const log = new CapturingLog();
  const time = { t: OPENED_MS };
  const deps: RemediationDeps = {
    msf,
    metrics,
    ledger,
    notifier,
    log,
    config: parseConfig({
      schemaVersion: 1,
      defaults: { mode: 'remediate', ...options.defaults },
      applications: [{ name: 'orders' }],
    }),
    clock: { now: () => time.t },
  };
  const inc = incident(action);
  await ledger.createIncident(inc);
  const advance = (ms: number) => {
    time.t += ms;
  };
  /** One step, then the clock moves on by the wait the step asked for. */
  const step = async (state: RemediationState) => {
    const next = await remediationStep(state, deps);
    advance(next.waitSeconds * 1000);
    return next;
  };
  /** Runs the closing phases (RELEASE → NOTIFY) of a state whose outcome is recorded, up to DONE. */
  const close = async (state: RemediationState) => {
    let next = state;
    for (let i = 0; i < 3 && (next.phase === 'RELEASE' || next.phase === 'NOTIFY'); i++) next = await step(next);
    return next;
  };
  const stored = async () => {
    const i = await ledger.getIncident(INCIDENT_ID);
    if (!i) throw new Error('incident vanished from the ledger');
    return i;
  };
  return {
    msf,
    metrics,
    ledger,
    notifier,
    log,
    deps,
    advance,
    step,
    close,
    stored,
    now: () => time.t,
    initial: initialRemediationState(inc, action),
  };
}

type Setup = Awaited<ReturnType<typeof setup>>;

/** LOCK, then StopApplication accepted and awaited: the state is back in ACT for StartApplication. */
async function stopAndReady(s: Setup): Promise<RemediationState> {
  const act = await s.step(s.initial); // LOCK
  const awaiting = await s.step(act); // StopApplication
  setOperation(s.msf, 'stop-1', 'StopApplication', 'SUCCESSFUL');
  setStatus(s.msf, 'READY');
  return s.step(awaiting); // READY → ACT (StartApplication)
}

/** Runs FORCE_STOP_AND_RESTART up to VERIFY (Stop → READY → Start → RUNNING). */
async function runToVerify(s: Setup): Promise<RemediationState> {
  const startAct = await stopAndReady(s);
  const awaiting = await s.step(startAct); // StartApplication
  setOperation(s.msf, 'start-2', 'StartApplication', 'SUCCESSFUL');
  setStatus(s.msf, 'RUNNING');
  return s.step(awaiting); // RUNNING → VERIFY
}

function mutatingCalls(msf: FakeMsf): string[] {
  return msf.calls.filter((c) => MUTATING_MSF_OPERATIONS.has(c.split(' ')[0] ?? ''));
}

describe('Function: remediationStep', () => {
  describe('LOCK', () => {
    it('takes the lock and moves to ACT without calling MSF', async () => {
      // Prepare
      const s = await setup();
      // Act
      const next = await remediationStep(s.initial, s.deps);
      // Assess
      expect(next.phase).toBe('ACT');
      expect(next.waitSeconds).toBe(0);
      expect(await s.ledger.lockHolder('orders', s.now())).toBe(INCIDENT_ID);
      expect((await s.ledger.attemptsSince('orders', 0)).count).toBe(1);
      expect(s.msf.calls).toEqual([]);
    });

    it('ends a second incident for the same application as DUPLICATE without calling MSF', async () => {
      // Prepare
      const s = await setup();
      await s.ledger.acquireLock('orders', 'orders-other-incident', s.now(), LOCK_TTL_MS);
      // Act
      const next = await remediationStep(s.initial, s.deps);
      // Assess
      expect(next.phase).toBe('DONE');
      expect(next.outcome).toBe('DUPLICATE');
      expect(s.msf.calls).toEqual([]);
      expect(s.msf.mutations).toEqual([]);
      const inc = await s.stored();
      expect(inc.status).toBe('OBSERVED');
      expect(inc.outcomeReason).toContain('orders-other-incident');
      expect(inc.events.map((e) => e.kind)).toEqual(['DUPLICATE']);
      expect(await s.ledger.lockHolder('orders', s.now())).toBe('orders-other-incident');
    });
  });

  describe('ACT', () => {
    it('records the action in the ledger as RECORDED before the MSF call, then marks it SUCCEEDED', async () => {
      // Prepare
      let peeking: LedgerPeekingMsf | undefined;
      const s = await setup({
        msf: (ledger) => {
          peeking = new LedgerPeekingMsf(ledger);
          return peeking;
        },
      });
      const act = await s.step(s.initial);
      // Act
      const next = await s.step(act);
      // Assess
      expect(peeking?.actionsDuringStop).toEqual([
        expect.objectContaining({ seq: 1, call: 'StopApplication', input: { Force: true }, state: 'RECORDED' }),
      ]);
      const actions = (await s.stored()).actions;
      expect(actions).toHaveLength(1);
      expect(actions[0]).toMatchObject({ seq: 1, call: 'StopApplication', state: 'SUCCEEDED', operationId: 'stop-1' });
      expect(actions[0]?.completedMs).toBeTypeOf('number');
      expect(next.phase).toBe('AWAIT');
      expect(next.operationId).toBe('stop-1');
    });

    it('makes a fresh DescribeApplication before every mutating call', async () => {
      // Prepare
      const s = await setup();
      // Act
      const verifying = await runToVerify(s);
      // Assess
      expect(verifying.phase).toBe('VERIFY');
      expect(mutatingCalls(s.msf)).toEqual(['StopApplication orders', 'StartApplication orders']);
      s.msf.calls.forEach((call, i) => {
        if (!MUTATING_MSF_OPERATIONS.has(call.split(' ')[0] ?? '')) return;
        expect(s.msf.calls[i - 1]).toBe('DescribeApplication orders');
      });
    });

    it('escalates without acting when the version differs from the decided one, and releases the lock', async () => {
      // Prepare
      const s = await setup({ app: { versionId: 8, conditionalToken: 'token-8' } });
      const act = await s.step(s.initial);
      // Act
      const recorded = await s.step(act);
      const next = await s.close(recorded);
      // Assess
      expect(recorded.phase).toBe('RELEASE');
      expect(next.phase).toBe('DONE');
      expect(next.outcome).toBe('ESCALATED');
      expect(s.msf.mutations).toEqual([]);
      expect(mutatingCalls(s.msf)).toEqual([]);
      const inc = await s.stored();
      expect(inc.status).toBe('ESCALATED');
      expect(inc.outcomeReason).toContain('version 8, not 7');
      expect(inc.outcomeReason).toContain('someone else changed it');
      expect(inc.actions).toEqual([]);
      expect(await s.ledger.lockHolder('orders', s.now())).toBeUndefined();
    });

    it('escalates before the second call when someone changes the version between the steps', async () => {
      // Prepare
      const s = await setup();
      const startAct = await stopAndReady(s);
      setStatus(s.msf, 'READY', { versionId: 9 });
      // Act
      const next = await s.step(startAct);
      // Assess
      expect(next.outcome).toBe('ESCALATED');
      expect(s.msf.mutations.map((m) => m.call)).toEqual(['StopApplication']);
      expect((await s.stored()).outcomeReason).toContain('someone else changed it');
    });

    it('does not act when another incident took the lock meanwhile, and leaves that lock alone', async () => {
      // Prepare
      const s = await setup();
      const act = await s.step(s.initial);
      s.advance(LOCK_TTL_MS + MIN); // our lock lapsed...
      await s.ledger.acquireLock('orders', 'orders-other-incident', s.now(), LOCK_TTL_MS); // ...and was taken
      // Act
      const next = await s.step(act);
      // Assess
      expect(next.outcome).toBe('ESCALATED');
      expect(s.msf.mutations).toEqual([]);
      const inc = await s.stored();
      expect(inc.actions).toEqual([]);
      expect(inc.outcomeReason).toContain('orders-other-incident');
      expect(await s.ledger.lockHolder('orders', s.now())).toBe('orders-other-incident');
    });

    it('escalates without calling StartApplication on a RUNNING application', async () => {
      // Prepare
      const s = await setup({ action: { kind: 'START', expectVersionId: 7, start: START } });
      const act = await s.step(s.initial);
      // Act
      const next = await s.close(await s.step(act));
      // Assess
      expect(next.phase).toBe('DONE');
      expect(next.outcome).toBe('ESCALATED');
      expect(s.msf.mutations).toEqual([]);
      const inc = await s.stored();
      expect(inc.status).toBe('ESCALATED');
      expect(inc.outcomeReason).toContain('RUNNING, from which StartApplication is not allowed');
      expect(await s.ledger.lockHolder('orders', s.now())).toBeUndefined();
    });

    it('sends RollbackApplication with the current version id', async () => {
      // Prepare
      const s = await setup({ action: { kind: 'ROLLBACK', expectVersionId: 7, toVersionId: 6 } });
      const act = await s.step(s.initial);
      // Act
      const next = await s.step(act);
      // Assess
      expect(next.phase).toBe('AWAIT');
      expect(s.msf.mutations).toEqual([
        { call: 'RollbackApplication', applicationName: 'orders', args: { currentVersionId: 7 } },
      ]);
      expect((await s.stored()).actions[0]?.input).toEqual({ CurrentApplicationVersionId: 7 });
    });

    it('sends UpdateApplication with the ConditionalToken of the fresh DescribeApplication', async () => {
      // Prepare
      const s = await setup({
        action: { kind: 'REAPPLY_PREVIOUS_VERSION', expectVersionId: 7, goodVersionId: 6, start: START },
        app: { status: 'READY', conditionalToken: 'token-at-decision' },
      });
      const act = await s.step(s.initial);
      setStatus(s.msf, 'READY', { conditionalToken: 'token-fresh' });
      // Act
      const next = await s.step(act);
      // Assess
      expect(next.phase).toBe('AWAIT');
      expect(s.msf.mutations.map((m) => m.call)).toEqual(['UpdateApplication']);
      expect(s.msf.mutations[0]?.args).toMatchObject({ conditionalToken: 'token-fresh' });
      expect((await s.stored()).actions[0]?.input).toEqual({ ConditionalToken: 'token-fresh', ReapplyVersionId: 6 });
    });

    it('retries a throttled call after a wait, then carries it out once', async () => {
      // Prepare
      const s = await setup({ msf: () => new FailingStopMsf('ThrottlingException', 1) });
      const act = await s.step(s.initial);
      // Act
      const retry = await s.step(act);
      const next = await s.step(retry);
      // Assess
      expect(retry.phase).toBe('ACT');
      expect(retry.retries).toBe(1);
      expect(retry.waitSeconds).toBe(15);
      expect(next.phase).toBe('AWAIT');
      expect(next.retries).toBe(0);
      expect(s.msf.mutations.map((m) => m.call)).toEqual(['StopApplication']);
      const inc = await s.stored();
      expect(inc.status).toBe('REMEDIATING');
      expect(inc.actions.map((a) => a.state)).toEqual(['FAILED', 'SUCCEEDED']);
      expect(inc.actions[0]?.error).toContain('ThrottlingException');
      expect(inc.events.some((e) => e.kind === 'ERROR' && e.message.includes('retrying'))).toBe(true);
    });

    it('backs off on repeated throttling and escalates once the retries are used up', async () => {
      // Prepare
      const s = await setup({ msf: () => new FailingStopMsf('ThrottlingException', 100) });
      let state = await s.step(s.initial);
      const waits: number[] = [];
      // Act
      while (state.phase !== 'RELEASE' && waits.length < 20) {
        state = await s.step(state);
        waits.push(state.waitSeconds);
      }
      state = await s.close(state);
      // Assess
      expect(waits).toEqual([15, 30, 60, 120, 240, 0]);
      expect(state.outcome).toBe('ESCALATED');
      expect((await s.stored()).outcomeReason).toContain('ThrottlingException');
      expect(await s.ledger.lockHolder('orders', s.now())).toBeUndefined();
    });

    it('forgets earlier throttling once a poll succeeds: occasional throttling never escalates a healthy transition', async () => {
      // Prepare: DescribeApplication is throttled on every other AWAIT poll.
      class FlakyDescribeMsf extends FakeMsf {
        polls = 0;
        throttle = false;
        override async describeApplication(name: string) {
          if (this.throttle && this.polls++ % 2 === 0) {
            throw new MsfApiError(name, 'DescribeApplication', 'ThrottlingException', 'Rate exceeded');
          }
          return super.describeApplication(name);
        }
      }
      const s = await setup({ msf: () => new FlakyDescribeMsf() });
      const msf = s.msf as FlakyDescribeMsf;
      let state = await s.step(await s.step(s.initial)); // LOCK, ACT (StopApplication)
      setStatus(msf, 'FORCE_STOPPING');
      setOperation(msf, 'stop-1', 'StopApplication', 'IN_PROGRESS');
      msf.throttle = true;
      // Act: 12 polls, half of them throttled, well inside the 15-minute transition timeout.
      const retries: number[] = [];
      for (let i = 0; i < 12; i++) {
        state = await s.step(state);
        retries.push(state.retries);
      }
      // Assess
      expect(state.phase).toBe('AWAIT');
      expect(Math.max(...retries)).toBe(1);
      expect((await s.stored()).status).toBe('REMEDIATING');
    });

    it.each(['ResourceInUseException', 'ConcurrentModificationException'])(
      'retries a %s after a fresh DescribeApplication, and carries the call out once MSF accepts it',
      async (code) => {
        // Prepare
        const s = await setup({ msf: () => new FailingStopMsf(code, 1) });
        const act = await s.step(s.initial);
        // Act
        const retry = await s.step(act);
        const next = await s.step(retry);
        // Assess
        expect(retry.phase).toBe('ACT');
        expect(retry.retries).toBe(1);
        expect(next.phase).toBe('AWAIT');
        expect(s.msf.mutations.map((m) => m.call)).toEqual(['StopApplication']);
        const inc = await s.stored();
        expect(inc.actions.map((a) => a.state)).toEqual(['FAILED', 'SUCCEEDED']);
        expect(inc.actions[0]?.error).toContain(code);
      },
    );

    it('escalates instead of retrying a ConcurrentModificationException when the version moved meanwhile', async () => {
      // Prepare
      const s = await setup({ msf: () => new FailingStopMsf('ConcurrentModificationException', 1) });
      const act = await s.step(s.initial);
      const retry = await s.step(act);
      setStatus(s.msf, 'RUNNING', { versionId: 8 });
      // Act
      const next = await s.close(await s.step(retry));
      // Assess
      expect(next.outcome).toBe('ESCALATED');
      expect(s.msf.mutations).toEqual([]);
      expect((await s.stored()).outcomeReason).toContain('someone else changed it');
      expect(await s.ledger.lockHolder('orders', s.now())).toBeUndefined();
    });

    it('does not retry a precondition failure (InvalidApplicationConfigurationException): it escalates', async () => {
      // Prepare
      const s = await setup({ msf: () => new FailingStopMsf('InvalidApplicationConfigurationException', 1) });
      const act = await s.step(s.initial);
      // Act
      const next = await s.close(await s.step(act));
      // Assess
      expect(next.phase).toBe('DONE');
      expect(next.outcome).toBe('ESCALATED');
      expect(s.msf.mutations).toEqual([]);
      const inc = await s.stored();
      expect(inc.status).toBe('ESCALATED');
      expect(inc.outcomeReason).toContain('InvalidApplicationConfigurationException');
      expect(inc.actions).toEqual([expect.objectContaining({ call: 'StopApplication', state: 'FAILED' })]);
      expect(await s.ledger.lockHolder('orders', s.now())).toBeUndefined();
    });
  });

  describe('AWAIT', () => {
    it('polls again after pollIntervalSeconds while the status is transient', async () => {
      // Prepare
      const s = await setup();
      const awaiting = await s.step(await s.step(s.initial));
      setStatus(s.msf, 'FORCE_STOPPING');
      setOperation(s.msf, 'stop-1', 'StopApplication', 'IN_PROGRESS');
      // Act
      const next = await s.step(awaiting);
      // Assess
      expect(next.phase).toBe('AWAIT');
      expect(next.stepIndex).toBe(0);
      expect(next.waitSeconds).toBe(15);
      expect(s.msf.mutations).toHaveLength(1);
    });

    it('keeps waiting while the operation succeeded but the status is not there yet', async () => {
      // Prepare
      const s = await setup();
      const awaiting = await s.step(await s.step(s.initial));
      setStatus(s.msf, 'STOPPING');
      setOperation(s.msf, 'stop-1', 'StopApplication', 'SUCCESSFUL');
      // Act
      const next = await s.step(awaiting);
      // Assess
      expect(next.phase).toBe('AWAIT');
      expect(next.waitSeconds).toBe(15);
    });

    it('escalates with the ErrorInfo when the operation FAILED', async () => {
      // Prepare
      const s = await setup();
      const awaiting = await s.step(await s.step(s.initial));
      setStatus(s.msf, 'RUNNING');
      setOperation(s.msf, 'stop-1', 'StopApplication', 'FAILED', 'Flink job failed to stop: TaskManager lost');
      // Act
      const next = await s.close(await s.step(awaiting));
      // Assess
      expect(next.phase).toBe('DONE');
      expect(next.outcome).toBe('ESCALATED');
      const inc = await s.stored();
      expect(inc.status).toBe('ESCALATED');
      expect(inc.outcomeReason).toContain('stop-1 FAILED');
      expect(inc.outcomeReason).toContain('Flink job failed to stop: TaskManager lost');
      expect(s.msf.mutations.map((m) => m.call)).toEqual(['StopApplication']);
      expect(await s.ledger.lockHolder('orders', s.now())).toBeUndefined();
    });

    it('waits up to transitionTimeoutMinutes and escalates once past it', async () => {
      // Prepare
      const s = await setup();
      const act = await s.step(s.initial);
      const actedAt = s.now();
      const awaiting = await s.step(act);
      setStatus(s.msf, 'FORCE_STOPPING');
      setOperation(s.msf, 'stop-1', 'StopApplication', 'IN_PROGRESS');
      s.advance(actedAt + 15 * MIN - s.now());
      // Act
      const atDeadline = await remediationStep(awaiting, s.deps);
      s.advance(1000);
      const pastDeadline = await s.close(await remediationStep(atDeadline, s.deps));
      // Assess
      expect(atDeadline.phase).toBe('AWAIT');
      expect(pastDeadline.phase).toBe('DONE');
      expect(pastDeadline.outcome).toBe('ESCALATED');
      const inc = await s.stored();
      expect(inc.outcomeReason).toContain('did not finish within 15 min');
      expect(inc.outcomeReason).toContain('FORCE_STOPPING');
      expect(await s.ledger.lockHolder('orders', s.now())).toBeUndefined();
    });
  });

  describe('FORCE_STOP_AND_RESTART', () => {
    it('stops, waits for READY, starts, waits for RUNNING, then verifies for verifyMinutes', async () => {
      // Prepare
      const s = await setup();
      const act = await s.step(s.initial);
      // Act
      const stopping = await s.step(act);
      setStatus(s.msf, 'FORCE_STOPPING');
      setOperation(s.msf, 'stop-1', 'StopApplication', 'IN_PROGRESS');
      const stillStopping = await s.step(stopping);
      setStatus(s.msf, 'READY');
      setOperation(s.msf, 'stop-1', 'StopApplication', 'SUCCESSFUL');
      const startAct = await s.step(stillStopping);
      const starting = await s.step(startAct);
      setStatus(s.msf, 'RUNNING');
      setOperation(s.msf, 'start-2', 'StartApplication', 'SUCCESSFUL');
      const runningAt = s.now();
      const verifying = await s.step(starting);
      // Assess
      expect([stopping, stillStopping, startAct, starting, verifying].map((x) => [x.phase, x.stepIndex])).toEqual([
        ['AWAIT', 0],
        ['AWAIT', 0],
        ['ACT', 1],
        ['AWAIT', 1],
        ['VERIFY', 2],
      ]);
      expect(s.msf.mutations).toEqual([
        { call: 'StopApplication', applicationName: 'orders', args: { force: true } },
        { call: 'StartApplication', applicationName: 'orders', args: START },
      ]);
      expect(verifying.waitSeconds).toBe(5 * 60);
      expect(verifying.verifyFromMs).toBe(runningAt);
      const inc = await s.stored();
      expect(inc.actions.map((a) => [a.call, a.state])).toEqual([
        ['StopApplication', 'SUCCEEDED'],
        ['StartApplication', 'SUCCEEDED'],
      ]);
      expect(inc.actions[1]?.input).toEqual({
        ApplicationRestoreType: 'RESTORE_FROM_LATEST_SNAPSHOT',
        AllowNonRestoredState: false,
      });
      expect(inc.status).toBe('REMEDIATING');
    });

    it('resolves as soon as the application is READY when there is nothing to start', async () => {
      // Prepare
      const s = await setup({ action: { kind: 'FORCE_STOP_AND_RESTART', expectVersionId: 7 } });
      const awaiting = await s.step(await s.step(s.initial));
      setStatus(s.msf, 'READY');
      setOperation(s.msf, 'stop-1', 'StopApplication', 'SUCCESSFUL');
      // Act
      const next = await s.step(awaiting);
      // Assess
      expect(next.outcome).toBe('RECOVERED');
      expect(s.msf.mutations.map((m) => m.call)).toEqual(['StopApplication']);
      expect((await s.stored()).status).toBe('RESOLVED');
    });
  });

  describe('STOP (runbook stop: StopApplication without Force)', () => {
    it('records Force false before calling, stops without Force and resolves once READY', async () => {
      // Prepare
      let peeking: LedgerPeekingMsf | undefined;
      const s = await setup({
        action: STOP,
        msf: (ledger) => {
          peeking = new LedgerPeekingMsf(ledger);
          return peeking;
        },
      });
      const act = await s.step(s.initial);
      // Act
      const awaiting = await s.step(act);
      setStatus(s.msf, 'STOPPING');
      setOperation(s.msf, 'stop-1', 'StopApplication', 'IN_PROGRESS');
      const stillStopping = await s.step(awaiting);
      setStatus(s.msf, 'READY');
      setOperation(s.msf, 'stop-1', 'StopApplication', 'SUCCESSFUL');
      const recorded = await s.step(stillStopping);
      const done = await s.close(recorded);
      // Assess
      expect(s.initial.steps).toEqual([{ call: 'StopApplication', force: false, awaitStatus: 'READY' }]);
      expect(peeking?.actionsDuringStop).toEqual([
        expect.objectContaining({ call: 'StopApplication', input: { Force: false }, state: 'RECORDED' }),
      ]);
      expect(s.msf.mutations).toEqual([{ call: 'StopApplication', applicationName: 'orders', args: { force: false } }]);
      expect([awaiting.phase, stillStopping.phase]).toEqual(['AWAIT', 'AWAIT']);
      expect(done).toMatchObject({ phase: 'DONE', outcome: 'RECOVERED' });
      const inc = await s.stored();
      expect(inc.status).toBe('RESOLVED');
      expect(inc.outcomeReason).toContain('orders is READY as desired after stop (StopApplication without Force');
      expect(inc.actions.map((a) => [a.call, a.input, a.state])).toEqual([
        ['StopApplication', { Force: false }, 'SUCCEEDED'],
      ]);
      expect(await s.ledger.lockHolder('orders', s.now())).toBeUndefined();
    });

    it.each(['STARTING', 'UPDATING', 'AUTOSCALING'] as const)(
      'is refused from %s (only a forced stop is allowed there): escalates without calling MSF',
      async (status) => {
        // Prepare
        const s = await setup({ action: STOP, app: { status } });
        const act = await s.step(s.initial);
        // Act
        const next = await s.close(await s.step(act));
        // Assess
        expect(next).toMatchObject({ phase: 'DONE', outcome: 'ESCALATED' });
        expect(s.msf.mutations).toEqual([]);
        expect(mutatingCalls(s.msf)).toEqual([]);
        const inc = await s.stored();
        expect(inc.actions).toEqual([]);
        expect(inc.outcomeReason).toContain(
          `the application is ${status}, from which StopApplication without Force is not allowed`,
        );
      },
    );

    it('still force-stops from STARTING when the stop is forced', async () => {
      const s = await setup({
        action: { kind: 'FORCE_STOP_AND_RESTART', expectVersionId: 7 },
        app: { status: 'STARTING' },
      });
      const next = await s.step(await s.step(s.initial));
      expect(next.phase).toBe('AWAIT');
      expect(s.msf.mutations).toEqual([{ call: 'StopApplication', applicationName: 'orders', args: { force: true } }]);
      expect((await s.stored()).actions[0]?.input).toEqual({ Force: true });
    });
  });

  describe('REDECIDE', () => {
    /** Runs FORCE_STOP_AND_RESTART to VERIFY, then lets the job loop again so the verify window fails. */
    async function loopingAgain(s: Setup): Promise<RemediationState> {
      const verifying = await runToVerify(s);
      s.msf.snapshots.set('orders', [snapshot('orders-v7-a', 7, OPENED_MS - 60 * MIN)]);
      s.advance((verifying.waitSeconds ?? 0) * 1000);
      s.metrics.set('orders', loopingRestarts(s.now()));
      const redeciding = await s.step(verifying);
      expect(redeciding.phase).toBe('REDECIDE');
      return redeciding;
    }

    it('starts another attempt when the remediation did not hold', async () => {
      // Prepare
      const s = await setup();
      const redeciding = await loopingAgain(s);
      // Act
      const next = await s.step(redeciding);
      // Assess
      expect(next).toMatchObject({ phase: 'ACT', stepIndex: 0 });
      expect((await s.stored()).attempts).toBe(2);
    });

    it('escalates instead of starting another attempt while automation is paused', async () => {
      // Prepare
      const s = await setup();
      const redeciding = await loopingAgain(s);
      await s.ledger.pauseAutomation('orders', 'alice@example.com', 'release freeze', s.now());
      const mutationsBefore = s.msf.mutations.length;
      // Act
      const next = await s.close(await s.step(redeciding));
      // Assess
      expect(next).toMatchObject({ phase: 'DONE', outcome: 'ESCALATED' });
      expect(s.msf.mutations).toHaveLength(mutationsBefore);
      const inc = await s.stored();
      expect(inc.status).toBe('ESCALATED');
      expect(inc.attempts).toBe(1);
      expect(inc.outcomeReason).toContain('automation paused by alice@example.com: release freeze');
      expect(inc.outcomeReason).toContain('not starting another attempt (would have force-stop, then start');
      expect(inc.decision).toMatchObject({ verdict: 'ESCALATE', wouldHave: { kind: 'FORCE_STOP_AND_RESTART' } });
      expect(inc.decision.remediation).toBeUndefined();
      expect(inc.decision.guards.at(-1)).toMatchObject({ name: 'automation-active', passed: false });
      expect((await s.ledger.attemptsSince('orders', 0)).count).toBe(1);
      expect(await s.ledger.lockHolder('orders', s.now())).toBeUndefined();
      expect((s.notifier as RecordingNotifier).sent.at(-1)?.event).toBe('ESCALATED');
    });
  });

  describe('VERIFY', () => {
    it('resolves when no restart happened since the verify window started', async () => {
      // Prepare
      const s = await setup();
      const verifying = await runToVerify(s);
      const from = verifying.verifyFromMs ?? 0;
      // the old job's loop before the window, the new job's counter from 0 inside it
      s.metrics.set('orders', {
        metricName: 'fullRestarts',
        periodSeconds: 60,
        points: counter(from - 5 * MIN, [1, 2, 3, 4, 5, 0, 0, 0, 0, 0]),
      });
      // Act
      const recorded = await s.step(verifying);
      const released = await s.step(recorded);
      const next = await s.step(released);
      // Assess: the outcome is recorded, then the lock released, then people told.
      expect([recorded.phase, released.phase, next.phase]).toEqual(['RELEASE', 'NOTIFY', 'DONE']);
      expect(recorded.outcome).toBe('RECOVERED');
      expect(next.outcome).toBe('RECOVERED');
      const inc = await s.stored();
      expect(inc.status).toBe('RESOLVED');
      expect(inc.closedMs).toBe(s.now());
      expect(inc.events.map((e) => e.kind)).toContain('RESOLVED');
      expect(await s.ledger.lockHolder('orders', s.now())).toBeUndefined();
      const notifier = s.notifier as RecordingNotifier;
      expect(notifier.sent.map((n) => n.event)).toEqual(['ACTION_TAKEN', 'ACTION_TAKEN', 'RESOLVED']);
    });

    it('moves to REDECIDE when the application restarted during the verify window', async () => {
      // Prepare
      const s = await setup();
      const verifying = await runToVerify(s);
      const from = verifying.verifyFromMs ?? 0;
      s.metrics.set('orders', {
        metricName: 'fullRestarts',
        periodSeconds: 60,
        points: counter(from - 5 * MIN, [1, 2, 3, 4, 5, 0, 1, 2, 3, 3]),
      });
      // Act
      const next = await s.step(verifying);
      // Assess
      expect(next.phase).toBe('REDECIDE');
      expect(next.verifyRounds).toBe(1);
      const inc = await s.stored();
      expect(inc.status).toBe('REMEDIATING');
      expect(inc.events.at(-1)).toMatchObject({ kind: 'VERIFY' });
      expect(inc.events.at(-1)?.message).toContain('3 restart(s)');
      expect(await s.ledger.lockHolder('orders', s.now())).toBe(INCIDENT_ID);
    });

    it('resolves when the cumulative restart counter was already high before the window and did not move', async () => {
      // Prepare
      const s = await setup();
      const verifying = await runToVerify(s);
      const from = verifying.verifyFromMs ?? 0;
      s.metrics.set('orders', {
        metricName: 'fullRestarts',
        periodSeconds: 60,
        points: counter(
          from - 5 * MIN,
          Array.from({ length: 10 }, () => 42),
        ),
      });
      // Act
      const next = await s.step(verifying);
      // Assess
      expect(next.outcome).toBe('RECOVERED');
      expect((await s.stored()).status).toBe('RESOLVED');
    });

    it('moves to REDECIDE when the application is not RUNNING at the end of the window', async () => {
      // Prepare
      const s = await setup();
      const verifying = await runToVerify(s);
      setStatus(s.msf, 'READY');
      // Act
      const next = await s.step(verifying);
      // Assess
      expect(next.phase).toBe('REDECIDE');
      expect((await s.stored()).status).toBe('REMEDIATING');
    });
  });

  describe('notifications', () => {
    it('carries a remediation through to RESOLVED when every notification fails', async () => {
      // Prepare
      const notifier = new BrokenNotifier();
      const s = await setup({ notifier });
      // Act
      const verifying = await runToVerify(s);
      const done = await s.close(await s.step(verifying));
      // Assess
      expect(done.outcome).toBe('RECOVERED');
      expect((await s.stored()).status).toBe('RESOLVED');
      expect(s.msf.mutations.map((m) => m.call)).toEqual(['StopApplication', 'StartApplication']);
      expect(notifier.attempts).toBe(3);
      expect(s.log.lines.filter((l) => l.level === 'warn' && l.message === 'notification failed')).toHaveLength(3);
      expect(await s.ledger.lockHolder('orders', s.now())).toBeUndefined();
    });
  });

  describe('safety limits', () => {
    it('never acts on an incident already closed elsewhere, and frees the lock it holds', async () => {
      // Prepare: the run holds the lock; meanwhile the incident was closed (e.g. the detector escalated it).
      const s = await setup();
      const act = await s.step(s.initial);
      await s.deps.ledger.saveIncident({ ...(await s.stored()), status: 'ESCALATED', closedMs: s.now() });
      // Act
      const next = await s.step(act);
      // Assess
      expect(next).toMatchObject({ phase: 'DONE', outcome: 'ESCALATED' });
      expect(s.msf.calls).toEqual([]);
      expect(await s.ledger.lockHolder('orders', s.now())).toBeUndefined();
    });

    it('does not even take the lock for a closed incident', async () => {
      // Prepare
      const s = await setup();
      await s.deps.ledger.saveIncident({ ...(await s.stored()), status: 'ESCALATED', closedMs: s.now() });
      // Act
      const next = await s.step(s.initial);
      // Assess
      expect(next.phase).toBe('DONE');
      expect(await s.ledger.lockHolder('orders', s.now())).toBeUndefined();
      expect((await s.ledger.attemptsSince('orders', 0)).count).toBe(0);
    });

    it('waits out a verify window longer than the lock in several waits, and only then verifies', async () => {
      // Prepare: a 2-hour verify window (the most the config allows); no wait may exceed an hour (the lock lives two).
      const s = await setup({ defaults: { verifyMinutes: 120 } });
      const verifying = await runToVerify(s);
      const from = verifying.verifyFromMs ?? 0;
      // Act
      const waits = [verifying.waitSeconds];
      let state = verifying;
      while (state.phase === 'VERIFY' && waits.length < 10) {
        state = await s.step(state);
        waits.push(state.waitSeconds);
      }
      // Assess
      expect(waits).toEqual([3600, 3600, 0]);
      expect(s.now() - from).toBe(120 * MIN);
      expect(state.outcome).toBe('RECOVERED');
      expect(await s.ledger.lockHolder('orders', s.now())).toBe(INCIDENT_ID);
    });

    it('retries a throttled GetMetricData while verifying instead of escalating a remediation that worked', async () => {
      // Prepare
      const s = await setup();
      const verifying = await runToVerify(s);
      let throttled = 0;
      const real = s.metrics.getSeries.bind(s.metrics);
      s.metrics.getSeries = async (...args: Parameters<typeof real>) => {
        if (throttled++ === 0) {
          throw Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $retryable: { throttling: true } });
        }
        return real(...args);
      };
      // Act
      const retry = await s.step(verifying);
      const next = await s.step(retry);
      // Assess
      expect(retry).toMatchObject({ phase: 'VERIFY', retries: 1 });
      expect(next.outcome).toBe('RECOVERED');
    });
  });

  describe('a pause set after the decision', () => {
    it('stops before the next MSF call and says who paused', async () => {
      // Prepare: the run took the lock; then someone paused automation of the application.
      const s = await setup();
      const act = await s.step(s.initial);
      await s.ledger.pauseAutomation('orders', 'alice@example.com', 'release freeze', s.now());
      // Act
      const next = await s.close(await s.step(act));
      // Assess
      expect(next).toMatchObject({ phase: 'DONE', outcome: 'ESCALATED' });
      expect(s.msf.mutations).toEqual([]);
      expect((await s.stored()).outcomeReason).toContain('automation paused by alice@example.com: release freeze');
      expect(await s.ledger.lockHolder('orders', s.now())).toBeUndefined();
    });

    it('does not hold a runbook command: a person decided', async () => {
      // Prepare
      const s = await setup();
      await s.deps.ledger.saveIncident({
        ...(await s.stored()),
        trigger: { source: 'runbook', detail: 'bob: force-stop', atMs: s.now() },
      });
      await s.ledger.pauseAutomation('orders', 'alice@example.com', 'release freeze', s.now());
      const act = await s.step(s.initial);
      // Act
      const next = await s.step(act);
      // Assess
      expect(next.phase).toBe('AWAIT');
      expect(s.msf.mutations.map((m) => m.call)).toEqual(['StopApplication']);
    });
  });

  describe('ESCALATE (the workflow Catch path)', () => {
    it("escalates with the failed step's error, releases the lock and tells people what to run next", async () => {
      // Prepare: the Lambda of the AWAIT step failed; Step Functions caught it into $.error.
      const s = await setup();
      const awaiting = await s.step(await s.step(s.initial));
      const cause = JSON.stringify({
        errorType: 'ProvisionedThroughputExceededException',
        errorMessage: 'Rate exceeded',
      });
      const caught: RemediationState = {
        ...awaiting,
        phase: 'ESCALATE',
        error: { Error: 'ProvisionedThroughputExceededException', Cause: cause },
      };
      // Act
      const next = await s.close(await s.step(caught));
      // Assess
      expect(next).toMatchObject({ phase: 'DONE', outcome: 'ESCALATED' });
      const inc = await s.stored();
      expect(inc.status).toBe('ESCALATED');
      expect(inc.outcomeReason).toContain('ProvisionedThroughputExceededException: Rate exceeded');
      expect(inc.nextSteps?.[0]).toContain('aws kinesisanalyticsv2 describe-application --application-name orders');
      expect(await s.ledger.lockHolder('orders', s.now())).toBeUndefined();
      const notifier = s.notifier as RecordingNotifier;
      expect(notifier.sent.at(-1)).toMatchObject({ event: 'ESCALATED', nextSteps: inc.nextSteps });
      expect(s.msf.mutations.map((m) => m.call)).toEqual(['StopApplication']);
    });

    it('keeps an outcome that was already recorded when a later step fails', async () => {
      // Prepare: RESOLVED was recorded, then the RELEASE step's Lambda failed.
      const s = await setup();
      const verifying = await runToVerify(s);
      const recorded = await s.step(verifying);
      const caught: RemediationState = { ...recorded, phase: 'ESCALATE', error: { Error: 'States.Timeout' } };
      // Act
      const next = await s.close(await s.step(caught));
      // Assess
      expect(next).toMatchObject({ phase: 'DONE', outcome: 'RECOVERED' });
      expect((await s.stored()).status).toBe('RESOLVED');
      expect(await s.ledger.lockHolder('orders', s.now())).toBeUndefined();
    });
  });

  describe('bookkeeping', () => {
    it('returns a DONE state unchanged without reading anything', async () => {
      // Prepare
      const s = await setup();
      const done: RemediationState = { ...s.initial, phase: 'DONE', outcome: 'RECOVERED' };
      // Act
      const next = await remediationStep(done, s.deps);
      // Assess
      expect(next).toBe(done);
      expect(s.msf.calls).toEqual([]);
    });

    it('throws IncidentNotFoundError for an incident that is not in the ledger', async () => {
      // Prepare
      const s = await setup();
      const lost: RemediationState = { ...s.initial, incidentId: 'orders-lost' };
      // Act
      const run = remediationStep(lost, s.deps);
      // Assess
      await expect(run).rejects.toBeInstanceOf(IncidentNotFoundError);
      expect(s.msf.calls).toEqual([]);
    });
  });
});

describe('Function: remediationStep — what the fault-injection run found', () => {
  /** Steps until DONE (at most `limit` steps), the clock moving by each wait. */
  async function runToDone(s: Setup, state: RemediationState, limit = 20): Promise<RemediationState[]> {
    const states: RemediationState[] = [];
    let next = state;
    for (let i = 0; i < limit && next.phase !== 'DONE'; i++) {
      next = await s.step(next);
      states.push(next);
    }
    return states;
  }

  describe('RELEASE', () => {
    it('retries a release that fails, with backoff, then frees the lock and tells the outcome', async () => {
      // Prepare: DynamoDB throttles the first two releases past the SDK's own retries.
      const ledger = new FailingReleaseLedger(2);
      const s = await setup({ ledger });
      const recorded = await s.step(await runToVerify(s)); // VERIFY → RESOLVED recorded, phase RELEASE
      expect(recorded.phase).toBe('RELEASE');
      // Act
      const states = await runToDone(s, recorded);
      // Assess
      expect(states.map((x) => x.phase)).toEqual(['RELEASE', 'RELEASE', 'NOTIFY', 'DONE']);
      expect(states[0]?.waitSeconds).toBeGreaterThan(0);
      expect(states[1]?.waitSeconds).toBeGreaterThan(states[0]?.waitSeconds ?? 0);
      expect(ledger.releaseCalls).toBe(3);
      expect(await s.ledger.lockHolder('orders', s.now())).toBeUndefined();
      const told = (s.notifier as RecordingNotifier).sent.at(-1);
      expect(told?.event).toBe('RESOLVED');
      expect(told?.title).not.toContain('lock not released');
      expect(states.at(-1)?.outcome).toBe('RECOVERED');
    });

    it('tells the outcome even when the lock cannot be released, with the command to release it by hand', async () => {
      // Prepare: every release fails.
      const ledger = new FailingReleaseLedger(Number.POSITIVE_INFINITY);
      const s = await setup({ ledger });
      const recorded = await s.step(await runToVerify(s));
      // Act
      const states = await runToDone(s, recorded);
      // Assess: retried, then on to NOTIFY: people are told RESOLVED, that the lock is still held, and how to free it.
      expect(states.at(-1)).toMatchObject({ phase: 'DONE', outcome: 'RECOVERED' });
      expect(ledger.releaseCalls).toBe(6);
      expect(await s.ledger.lockHolder('orders', s.now())).toBe(INCIDENT_ID);
      const told = (s.notifier as RecordingNotifier).sent.at(-1);
      expect(told?.event).toBe('RESOLVED');
      expect(told?.title).toContain('lock not released');
      expect(told?.text).toContain('could not be released');
      expect(told?.text).toContain('ProvisionedThroughputExceededException');
      expect(told?.nextSteps).toContain(ledger.manualLockRelease('orders', INCIDENT_ID));
      const inc = await s.stored();
      expect(inc.status).toBe('RESOLVED');
      expect(inc.events.at(-1)).toMatchObject({ kind: 'ERROR' });
      expect(inc.events.at(-1)?.message).toContain('could not be released');
    });

    it('tells the outcome when the release step itself failed (the workflow caught it into $.error)', async () => {
      // Prepare: the release Task failed for good and the workflow went on to Notify with the error.
      const s = await setup();
      const recorded = await s.step(await runToVerify(s));
      const caught: RemediationState = {
        ...recorded,
        phase: 'NOTIFY',
        error: { Error: 'Lambda.Unknown', Cause: 'The function timed out' },
      };
      // Act
      const done = await s.step(caught);
      // Assess
      expect(done).toMatchObject({ phase: 'DONE', outcome: 'RECOVERED' });
      const told = (s.notifier as RecordingNotifier).sent.at(-1);
      expect(told?.event).toBe('RESOLVED');
      expect(told?.text).toContain('The lock on orders could not be released (Lambda.Unknown: The function timed out)');
    });

    it('treats a lock already taken over by another incident as released, and leaves that lock alone', async () => {
      // Prepare: this run's lock expired during a wait and another incident took it.
      const s = await setup();
      const recorded = await s.step(await runToVerify(s));
      await s.ledger.acquireLock('orders', 'orders-other-incident', s.now() + LOCK_TTL_MS, LOCK_TTL_MS);
      // Act
      const states = await runToDone(s, recorded);
      // Assess
      expect(states.map((x) => x.phase)).toEqual(['NOTIFY', 'DONE']);
      expect(await s.ledger.lockHolder('orders', s.now())).toBe('orders-other-incident');
      expect((s.notifier as RecordingNotifier).sent.at(-1)?.title).not.toContain('lock not released');
    });
  });

  describe('NOTIFY', () => {
    it('retries reading the incident to tell the outcome, instead of ending without telling', async () => {
      // Prepare: the outcome is recorded and the lock released; then DynamoDB throttles the next two reads.
      const ledger = new ThrottledReadsLedger();
      const s = await setup({ ledger });
      const notifying = await s.step(await s.step(await runToVerify(s))); // VERIFY → RELEASE → NOTIFY
      expect(notifying.phase).toBe('NOTIFY');
      ledger.failReads = 2;
      // Act
      const states = await runToDone(s, notifying);
      // Assess
      expect(states.map((x) => x.phase)).toEqual(['NOTIFY', 'NOTIFY', 'DONE']);
      expect((s.notifier as RecordingNotifier).sent.at(-1)?.event).toBe('RESOLVED');
    });
  });

  describe('closeAbandonedIncident', () => {
    it('tells people of the escalation even when the lock cannot be released, with the command to release it', async () => {
      // Prepare: the execution timed out while the incident was open; DynamoDB throttles every release.
      const ledger = new FailingReleaseLedger(Number.POSITIVE_INFINITY);
      const s = await setup({ ledger });
      await s.step(s.initial); // LOCK: the incident holds the lock
      // Act
      const closed = await closeAbandonedIncident(INCIDENT_ID, 'TIMED_OUT', undefined, s.deps);
      // Assess
      expect(closed?.status).toBe('ESCALATED');
      const told = (s.notifier as RecordingNotifier).sent.at(-1);
      expect(told?.event).toBe('ESCALATED');
      expect(told?.text).toContain('could not be released');
      expect(told?.nextSteps).toContain(ledger.manualLockRelease('orders', INCIDENT_ID));
      expect((await s.stored()).nextSteps).toContain(ledger.manualLockRelease('orders', INCIDENT_ID));
    });
  });

  describe('ACT after a call that got no answer', () => {
    it("finds its own StopApplication in the operations and waits for it: the transition is the watchdog's own", async () => {
      // Prepare: MSF carried out the force stop, but the answer was lost.
      const s = await setup({ msf: () => new LostAnswerStopMsf(OPENED_MS, true) });
      const act = await s.step(s.initial); // LOCK
      // Act
      const retry = await s.step(act); // ACT: StopApplication times out
      const awaiting = await s.step(retry); // ACT again: looks before acting
      // Assess
      expect(retry).toMatchObject({ phase: 'ACT', retries: 1 });
      expect(awaiting).toMatchObject({ phase: 'AWAIT', operationId: 'stop-1', stepIndex: 0 });
      expect(s.msf.mutations.map((m) => m.call)).toEqual(['StopApplication']);
      const inc = await s.stored();
      expect(inc.status).toBe('REMEDIATING');
      expect(inc.actions).toHaveLength(1);
      expect(inc.actions[0]).toMatchObject({
        call: 'StopApplication',
        state: 'SUCCEEDED',
        operationId: 'stop-1',
        outcomeUnknown: true,
      });
      const message = inc.events.at(-1)?.message ?? '';
      expect(message).toContain('got no answer');
      expect(message).toContain('operation stop-1');
      expect(message).toContain("the watchdog's own, not someone else's");
      // … and the remediation goes on once the stop ends.
      setOperation(s.msf, 'stop-1', 'StopApplication', 'SUCCESSFUL');
      setStatus(s.msf, 'READY');
      const startAct = await s.step(awaiting);
      expect(startAct).toMatchObject({ phase: 'ACT', stepIndex: 1 });
    });

    it('finds its own unanswered stop even after a second try was refused because the first had landed', async () => {
      // Prepare
      const s = await setup({ msf: () => new LateLandingStopMsf(OPENED_MS + 1_000) });
      const act = await s.step(s.initial);
      // Act: timeout, then ResourceInUseException, then a look before acting.
      const first = await s.step(act);
      const second = await s.step(first);
      const third = await s.step(second);
      // Assess
      expect([first.phase, second.phase]).toEqual(['ACT', 'ACT']);
      expect(third).toMatchObject({ phase: 'AWAIT', operationId: 'stop-landed' });
      const inc = await s.stored();
      expect(inc.status).toBe('REMEDIATING');
      expect(inc.actions.map((a) => [a.state, a.outcomeUnknown ?? false, a.operationId])).toEqual([
        ['SUCCEEDED', true, 'stop-landed'],
        ['FAILED', false, undefined],
      ]);
      expect(inc.events.at(-1)?.message).toContain("the watchdog's own, not someone else's");
    });

    it('takes FORCE_STOPPING as its own stop when the operations do not list it yet', async () => {
      // Prepare
      const s = await setup({ msf: () => new LostAnswerStopMsf(OPENED_MS, false) });
      const act = await s.step(s.initial);
      // Act
      const awaiting = await s.step(await s.step(act));
      // Assess
      expect(awaiting.phase).toBe('AWAIT');
      expect(awaiting.operationId).toBeUndefined();
      expect(s.msf.mutations.map((m) => m.call)).toEqual(['StopApplication']);
      const inc = await s.stored();
      expect(inc.status).toBe('REMEDIATING');
      expect(inc.events.at(-1)?.message).toContain('MSF shows FORCE_STOPPING');
      expect(inc.events.at(-1)?.message).toContain("the watchdog's own");
    });

    it("does not take someone else's operation for its own: it escalates, saying its own call got no answer", async () => {
      // Prepare: the stop never reached MSF; meanwhile someone started a rollback.
      const s = await setup({ msf: () => new UnsentStopMsf() });
      const act = await s.step(s.initial);
      const retry = await s.step(act);
      setStatus(s.msf, 'ROLLING_BACK');
      s.msf.operations.set('orders', [
        {
          operationId: 'rollback-by-someone',
          operation: 'RollbackApplication',
          status: 'IN_PROGRESS',
          startMs: s.now(),
        },
      ]);
      // Act
      const next = await s.step(retry);
      // Assess
      expect(retry).toMatchObject({ phase: 'ACT', retries: 1 });
      expect(next).toMatchObject({ phase: 'RELEASE', outcome: 'ESCALATED' });
      expect(s.msf.mutations).toEqual([]);
      const inc = await s.stored();
      expect(inc.actions.map((a) => a.state)).toEqual(['FAILED']);
      expect(inc.outcomeReason).toContain('ROLLING_BACK');
      expect(inc.outcomeReason).toContain("The watchdog's own StopApplication at");
      expect(inc.outcomeReason).toContain('got no answer (StopApplication orders: Error: read ECONNRESET)');
    });

    it('calls again when the call never reached MSF (nothing changed, nothing listed)', async () => {
      // Prepare
      const s = await setup({ msf: () => new UnsentStopMsf() });
      const act = await s.step(s.initial);
      // Act
      const retry = await s.step(act);
      const awaiting = await s.step(retry);
      // Assess
      expect((await s.stored()).actions.map((a) => [a.state, a.outcomeUnknown])).toEqual([
        ['FAILED', true],
        ['SUCCEEDED', undefined],
      ]);
      expect(awaiting.phase).toBe('AWAIT');
      expect(s.msf.mutations.map((m) => m.call)).toEqual(['StopApplication']);
    });
  });
});
