import { describe, expect, it } from 'vitest';
import { createDetectorHandler } from '#functions/detector/handler.ts';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import { RecordingNotifier } from '#shared/adapters/recording-notifier.ts';
import { parseConfig } from '#shared/config/schema.ts';
import type { RemediationState } from '#shared/domain/remediation.ts';
import { app, loopingRestarts, MIN, snapshot, T0 } from '../support/builders.ts';
import { CapturingLog, FakeMetrics, FakeMsf } from '../support/fakes.ts';

const now = T0 + 30 * MIN;

function alarmEvent(overrides: { dimensions?: Record<string, string>; state?: string; alarmName?: string } = {}) {
  return {
    version: '0',
    id: 'c4c1c1c9-6542-e61b-6ef0-8c4d36933a92',
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: '123456789012',
    time: '2026-03-02T14:30:00Z',
    region: 'eu-west-1',
    resources: ['arn:aws:cloudwatch:eu-west-1:123456789012:alarm:flink-watchdog-orders-restart-loop'],
    detail: {
      alarmName: overrides.alarmName ?? 'flink-watchdog-orders-restart-loop',
      configuration: {
        metrics: [
          {
            id: 'restarts',
            metricStat: {
              metric: {
                namespace: 'AWS/KinesisAnalytics',
                name: 'fullRestarts',
                dimensions: overrides.dimensions ?? { Application: 'orders' },
              },
              period: 60,
              stat: 'Maximum',
            },
            returnData: false,
          },
          { id: 'newRestarts', expression: 'DIFF(restarts)', returnData: true },
        ],
      },
      previousState: { value: 'OK', reason: 'Threshold Crossed', timestamp: '2026-03-02T14:20:00.000+0000' },
      state: {
        value: overrides.state ?? 'ALARM',
        reason: 'Threshold Crossed',
        timestamp: '2026-03-02T14:30:00.000+0000',
      },
    },
  };
}

function cloudTrailEvent(detail: Record<string, unknown> = {}) {
  return {
    version: '0',
    id: '6f87d04b-9f74-4f04-a780-7acf4b0a9b38',
    'detail-type': 'AWS API Call via CloudTrail',
    source: 'aws.kinesisanalytics',
    account: '123456789012',
    time: '2026-03-02T14:30:00Z',
    region: 'eu-west-1',
    resources: [],
    detail: {
      eventSource: 'kinesisanalytics.amazonaws.com',
      eventName: 'UpdateApplication',
      userAgent: 'aws-cli/2.27.0 md/command#kinesisanalyticsv2.update-application',
      requestParameters: { applicationName: 'orders', currentApplicationVersionId: 7 },
      ...detail,
    },
  };
}

function setup(
  config: unknown = { schemaVersion: 1, defaults: { mode: 'remediate' }, applications: [{ name: 'orders' }] },
) {
  const msf = new FakeMsf().setApp(app(), { snapshots: [snapshot('orders-v7-a', 7, now - 60 * MIN)] });
  const metrics = new FakeMetrics().set('orders', loopingRestarts(now));
  const ledger = new MemoryLedger();
  const notifier = new RecordingNotifier();
  const log = new CapturingLog();
  const started: RemediationState[] = [];
  const handler = createDetectorHandler({
    msf,
    metrics,
    ledger,
    notifier,
    log,
    config: parseConfig(config),
    clock: { now: () => now },
    starter: { start: async (s) => void started.push(s) },
  });
  return { msf, ledger, notifier, log, started, handler };
}

describe('Handler: detector', () => {
  describe('bad input', () => {
    it.each([
      ['a non-object', 'not an event'],
      ['null', null],
      ['an event of another kind', { 'detail-type': 'EC2 Instance State-change Notification', source: 'aws.ec2' }],
      ['an alarm event without detail', { ...alarmEvent(), detail: undefined }],
      [
        'an alarm event with a bad state value',
        {
          ...alarmEvent(),
          detail: { ...alarmEvent().detail, state: { value: 'BROKEN', reason: 'x', timestamp: 'x' } },
        },
      ],
    ])('rejects %s with a logged error and no MSF call', async (_label, event) => {
      // Prepare
      const { handler, msf, log, started } = setup();
      // Act
      const out = await handler(event);
      // Assess
      expect(out.status).toBe('REJECTED');
      expect(out.error).toBeTruthy();
      expect(log.lines.filter((l) => l.level === 'error')).toHaveLength(1);
      expect(msf.calls).toEqual([]);
      expect(msf.mutations).toEqual([]);
      expect(started).toEqual([]);
    });

    it('rejects an alarm without an Application dimension, naming the field', async () => {
      const { handler, msf, log } = setup();
      const out = await handler(alarmEvent({ dimensions: { InstanceId: 'i-123' } }));
      expect(out.status).toBe('REJECTED');
      expect(out.error).toContain('"Application" dimension');
      expect(out.error).toContain('detail.configuration.metrics[].metricStat.metric.dimensions');
      expect(log.lines.some((l) => l.level === 'error')).toBe(true);
      expect(msf.calls).toEqual([]);
    });

    it('names the missing field of a malformed alarm event', async () => {
      const { handler } = setup();
      const e = alarmEvent();
      const out = await handler({ ...e, detail: { ...e.detail, alarmName: 42 } });
      expect(out.error).toContain('detail.alarmName');
    });

    it('answers an alarm for an unknown application with a clear error and zero mutating calls', async () => {
      const { handler, msf, started, log } = setup({
        schemaVersion: 1,
        optInTag: { key: 'flink-watchdog', value: 'enabled' },
        defaults: { mode: 'remediate' },
        applications: [{ name: 'orders' }],
      });
      const out = await handler(alarmEvent({ dimensions: { Application: 'ghost-app' } }));
      expect(out.results[0]?.result).toBe('OUT_OF_SCOPE');
      expect(out.results[0]?.reason).toContain('ResourceNotFoundException');
      expect(log.lines.some((l) => l.level === 'error' && l.message.includes('ghost-app'))).toBe(true);
      expect(msf.mutations).toEqual([]);
      expect(started).toEqual([]);
    });
  });

  it('opens one incident and starts one remediation for a restart-loop alarm', async () => {
    const { handler, ledger, started, notifier, msf } = setup();
    const out = await handler(alarmEvent());
    expect(out.results[0]).toMatchObject({ result: 'REMEDIATING' });
    expect(started).toHaveLength(1);
    expect(started[0]?.steps.map((s) => s.call)).toEqual(['StopApplication', 'StartApplication']);
    expect((await ledger.listIncidents()).map((i) => i.status)).toEqual(['REMEDIATING']);
    expect(notifier.sent.map((n) => n.event)).toEqual(['OPENED']);
    expect(msf.mutations).toEqual([]); // the detector never calls a mutating API itself
  });

  it('handles the same alarm event delivered twice once: one incident, one execution name', async () => {
    const { handler, started, ledger, notifier } = setup();
    await handler(alarmEvent());
    const second = await handler(alarmEvent());
    expect(second.results[0]?.result).toBe('DUPLICATE');
    expect(await ledger.listIncidents()).toHaveLength(1);
    // A start repeated for an incident with no action yet carries the same execution name: Step Functions runs one.
    expect(new Set(started.map((s) => s.incidentId)).size).toBe(1);
    expect(notifier.sent.map((n) => n.event)).toEqual(['OPENED']);
  });

  it('starts the workflow of an incident that was recorded but never started (the recording invocation died)', async () => {
    // Prepare: the first invocation recorded the incident, then died before StartExecution.
    const { handler, started, ledger } = setup();
    const crashed = createDetectorHandler({
      msf: new FakeMsf().setApp(app(), { snapshots: [snapshot('orders-v7-a', 7, now - 60 * MIN)] }),
      metrics: new FakeMetrics().set('orders', loopingRestarts(now)),
      ledger,
      notifier: new RecordingNotifier(),
      log: new CapturingLog(),
      config: parseConfig({ schemaVersion: 1, defaults: { mode: 'remediate' }, applications: [{ name: 'orders' }] }),
      clock: { now: () => now },
      starter: {
        start: async () => {
          throw Object.assign(new Error('Task timed out'), { name: 'Sandbox.Timedout' });
        },
      },
    });
    await crashed(alarmEvent());
    // What the ledger holds when the invocation died between recording and starting: REMEDIATING, no action.
    const [escalated] = await ledger.listIncidents();
    const { closedMs: _closed, outcomeReason: _reason, ...recorded } = escalated as NonNullable<typeof escalated>;
    await ledger.saveIncident({ ...recorded, status: 'REMEDIATING', events: [] });
    // Act: the retried event arrives.
    const out = await handler(alarmEvent());
    // Assess
    expect(out.results[0]).toMatchObject({ result: 'DUPLICATE', incidentId: recorded.id });
    expect(started.map((s) => s.incidentId)).toEqual([recorded.id]);
  });

  describe('CloudTrail events (MSF API calls)', () => {
    it('looks at the application at once after someone changes it', async () => {
      // Prepare
      const { handler, started, ledger } = setup();
      // Act
      const out = await handler(cloudTrailEvent());
      // Assess
      expect(out.status).toBe('OK');
      expect(out.results[0]).toMatchObject({ applicationName: 'orders', result: 'REMEDIATING' });
      expect(started).toHaveLength(1);
      expect((await ledger.listIncidents())[0]?.trigger).toMatchObject({
        source: 'cloudtrail',
        detail: 'UpdateApplication',
      });
    });

    it.each([
      ["the watchdog's own call", { userAgent: 'aws-sdk-js/3.1112.0 flink-watchdog/0.1.0' }],
      ['a failed call', { errorCode: 'ResourceInUseException' }],
      ['a read-only call', { eventName: 'DescribeApplication' }],
    ])('ignores %s without reading MSF', async (_label, detail) => {
      // Prepare
      const { handler, msf, started } = setup();
      // Act
      const out = await handler(cloudTrailEvent(detail));
      // Assess
      expect(out).toEqual({ status: 'OK', results: [] });
      expect(msf.calls).toEqual([]);
      expect(started).toEqual([]);
    });

    it('rejects a CloudTrail event without the application name, naming the field', async () => {
      // Prepare
      const { handler, msf } = setup();
      // Act
      const out = await handler(cloudTrailEvent({ requestParameters: null }));
      // Assess
      expect(out.status).toBe('REJECTED');
      expect(out.error).toContain('requestParameters.applicationName');
      expect(msf.calls).toEqual([]);
    });
  });

  describe('remediation workflow ended abnormally (Step Functions Execution Status Change)', () => {
    const ended = (name: string, status = 'TIMED_OUT') => ({
      version: '0',
      id: '315c1398-40ff-a850-213b-158f73e60175',
      'detail-type': 'Step Functions Execution Status Change',
      source: 'aws.states',
      account: '123456789012',
      time: '2026-03-02T18:00:00Z',
      region: 'eu-west-1',
      resources: [`arn:aws:states:eu-west-1:123456789012:execution:Remediation:${name}`],
      detail: {
        executionArn: `arn:aws:states:eu-west-1:123456789012:execution:Remediation:${name}`,
        stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:Remediation',
        name,
        status,
        startDate: 1772474400000,
        stopDate: 1772488800000,
        input: '{}',
        output: null,
        error: null,
        cause: null,
      },
    });

    it('closes the incident the run left open, frees its lock and tells people', async () => {
      // Prepare: a remediation started and holds the lock; its execution then timed out.
      const { handler, ledger, notifier, msf } = setup();
      await handler(alarmEvent());
      const [open] = await ledger.listIncidents();
      await ledger.acquireLock('orders', open?.id ?? '', now, 60 * MIN);
      // Act
      const out = await handler(ended(open?.id ?? ''));
      // Assess
      expect(out.results[0]).toMatchObject({ result: 'ESCALATED', incidentId: open?.id });
      const closed = await ledger.getIncident(open?.id ?? '');
      expect(closed?.status).toBe('ESCALATED');
      expect(closed?.outcomeReason).toContain('ended TIMED_OUT before recording an outcome');
      expect(await ledger.lockHolder('orders', now)).toBeUndefined();
      expect(await ledger.openIncident('orders')).toBeUndefined();
      expect(notifier.sent.at(-1)?.event).toBe('ESCALATED');
      expect(msf.mutations).toEqual([]);
    });

    it('leaves an incident alone whose run recorded its outcome (the Escalated Fail state also ends FAILED)', async () => {
      // Prepare
      const { handler, ledger, notifier } = setup();
      await handler(alarmEvent());
      const [open] = await ledger.listIncidents();
      await ledger.saveIncident({ ...(open as NonNullable<typeof open>), status: 'ESCALATED', outcomeReason: 'x' });
      const sent = notifier.sent.length;
      // Act
      const out = await handler(ended(open?.id ?? '', 'FAILED'));
      // Assess
      expect(out).toEqual({ status: 'OK', results: [] });
      expect((await ledger.getIncident(open?.id ?? ''))?.outcomeReason).toBe('x');
      expect(notifier.sent).toHaveLength(sent);
    });

    it('rejects a status change it does not handle, naming the status', async () => {
      // Prepare
      const { handler } = setup();
      // Act
      const out = await handler(ended('orders-x', 'SUCCEEDED'));
      // Assess
      expect(out.status).toBe('REJECTED');
      expect(out.error).toContain('SUCCEEDED');
    });
  });

  it('escalates, closes the incident and acts on nothing when the workflow cannot be started', async () => {
    // Prepare
    const { msf, ledger, notifier, log } = setup();
    const handler = createDetectorHandler({
      msf,
      metrics: new FakeMetrics().set('orders', loopingRestarts(now)),
      ledger,
      notifier,
      log,
      config: parseConfig({ schemaVersion: 1, defaults: { mode: 'remediate' }, applications: [{ name: 'orders' }] }),
      clock: { now: () => now },
      starter: {
        start: async () => {
          throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
        },
      },
    });
    // Act
    const out = await handler(alarmEvent());
    // Assess
    expect(out.results[0]?.result).toBe('ESCALATED');
    const [incident] = await ledger.listIncidents();
    expect(incident?.status).toBe('ESCALATED');
    expect(incident?.outcomeReason).toContain('could not be started (ThrottlingException: Rate exceeded)');
    expect(await ledger.openIncident('orders')).toBeUndefined();
    // Nothing was opened: the only notification says why automation is not handling it.
    expect(notifier.sent.map((n) => n.event)).toEqual(['ESCALATED']);
    expect(msf.mutations).toEqual([]);
  });

  it('ignores OK and INSUFFICIENT_DATA transitions without reading MSF', async () => {
    const { handler, msf } = setup();
    const out = await handler(alarmEvent({ state: 'OK' }));
    expect(out.results[0]?.result).toBe('IGNORED');
    expect(msf.calls).toEqual([]);
  });

  it('never touches an application that is neither listed nor opted in', async () => {
    const { handler, msf, started, ledger } = setup({
      schemaVersion: 1,
      defaults: { mode: 'remediate' },
      applications: [{ name: 'other' }],
    });
    const out = await handler(alarmEvent());
    expect(out.results[0]?.result).toBe('OUT_OF_SCOPE');
    expect(msf.calls).toEqual([]);
    expect(started).toEqual([]);
    expect((await ledger.listIncidents())[0]?.status).toBe('OBSERVED');
  });

  it('watches an application that carries the opt-in tag', async () => {
    const { handler, msf, started } = setup({
      schemaVersion: 1,
      optInTag: { key: 'flink-watchdog', value: 'enabled' },
      defaults: { mode: 'remediate' },
    });
    msf.tags.set(app().arn, { 'flink-watchdog': 'enabled' });
    const out = await handler(alarmEvent());
    expect(out.results[0]?.result).toBe('REMEDIATING');
    expect(started).toHaveLength(1);
  });

  describe('automation paused (runbook pause-automation)', () => {
    it('records an OBSERVED incident saying who paused it and what it would have done, and starts nothing', async () => {
      // Prepare
      const { handler, ledger, started, notifier, msf } = setup();
      await ledger.pauseAutomation('orders', 'alice@example.com', 'release freeze', now - 10 * MIN);
      // Act
      const out = await handler(alarmEvent());
      // Assess
      const result = out.results[0];
      expect(result).toMatchObject({ result: 'OBSERVED' });
      expect(result?.reason).toMatch(
        /^automation paused by alice@example\.com: release freeze — would have force-stop, then start /,
      );
      expect(result?.decision).toMatchObject({ verdict: 'NONE', wouldHave: { kind: 'FORCE_STOP_AND_RESTART' } });
      expect(result?.decision?.guards.at(-1)).toMatchObject({ name: 'automation-active', passed: false });
      expect(started).toEqual([]);
      expect(msf.mutations).toEqual([]);
      const [incident] = await ledger.listIncidents();
      expect(incident).toMatchObject({ status: 'OBSERVED', decision: { verdict: 'NONE' } });
      expect(incident?.remediation).toBeUndefined();
      expect(incident?.closedMs).toBe(now);
      expect(await ledger.openIncident('orders')).toBeUndefined();
      expect(await ledger.attemptsSince('orders', 0)).toEqual({ count: 0 });
      expect(notifier.sent.map((n) => n.event)).toEqual(['OBSERVED']);
      expect(notifier.sent[0]?.title).toContain('(automation paused)');
    });

    it('tells a paused situation once, and remediates it once automation is resumed', async () => {
      // Prepare
      const { handler, ledger, started } = setup();
      await ledger.pauseAutomation('orders', 'alice@example.com', 'release freeze', now - 10 * MIN);
      // Act
      const first = await handler(alarmEvent());
      const again = await handler(alarmEvent());
      await ledger.resumeAutomation('orders');
      const resumed = await handler(alarmEvent());
      // Assess
      expect([first, again, resumed].map((o) => o.results[0]?.result)).toEqual([
        'OBSERVED',
        'DUPLICATE',
        'REMEDIATING',
      ]);
      expect(resumed.results[0]?.incidentId).not.toBe(first.results[0]?.incidentId);
      expect(started).toHaveLength(1);
    });

    it('pausing one application leaves the others to automation', async () => {
      const { handler, ledger, started } = setup();
      await ledger.pauseAutomation('payments', 'alice@example.com', 'release freeze', now - 10 * MIN);
      const out = await handler(alarmEvent());
      expect(out.results[0]?.result).toBe('REMEDIATING');
      expect(started).toHaveLength(1);
    });
  });

  describe('an application stopped out of band (READY, desired RUNNING, no failed operation)', () => {
    const stopped = (onDrift: Record<string, string>) => {
      const s = setup({
        schemaVersion: 1,
        defaults: { mode: 'remediate', onDrift },
        applications: [{ name: 'orders' }],
      });
      s.msf.setApp(app({ status: 'READY' }), { snapshots: [snapshot('orders-v7-a', 7, now - 60 * MIN)] });
      return s;
    };
    const downtime = alarmEvent({ alarmName: 'flink-watchdog-orders-downtime' });

    it('leaves it to the reconciler when onDrift.status is reconcile: no second incident, nobody paged twice', async () => {
      const { handler, ledger, notifier, started } = stopped({ status: 'reconcile' });
      const out = await handler(downtime);
      expect(out.results[0]).toMatchObject({ result: 'DEFERRED' });
      expect(out.results[0]?.reason).toContain('Left to the reconciler');
      expect(await ledger.listIncidents()).toEqual([]);
      expect(notifier.sent).toEqual([]);
      expect(started).toEqual([]);
    });

    it('tells people when onDrift.status is notify', async () => {
      const { handler, ledger, notifier } = stopped({ status: 'notify' });
      const out = await handler(downtime);
      expect(out.results[0]).toMatchObject({ result: 'NOTIFIED' });
      expect((await ledger.listIncidents()).map((i) => i.finding?.kind)).toEqual(['UNEXPECTED_STATUS']);
      expect(notifier.sent.map((n) => n.event)).toEqual(['NOTIFIED']);
    });
  });

  it('in observe mode records what it would have done and starts nothing', async () => {
    const { handler, started, notifier } = setup({
      schemaVersion: 1,
      defaults: { mode: 'observe' },
      applications: [{ name: 'orders' }],
    });
    const out = await handler(alarmEvent());
    expect(out.results[0]?.result).toBe('OBSERVED');
    expect(out.results[0]?.decision?.wouldHave?.kind).toBe('FORCE_STOP_AND_RESTART');
    expect(started).toEqual([]);
    expect(notifier.sent[0]?.text).toContain('Would have: force-stop');
  });
});
