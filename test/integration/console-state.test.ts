import { setTimeout as sleep } from 'node:timers/promises';
import { KinesisAnalyticsV2Client, ListApplicationSnapshotsCommand } from '@aws-sdk/client-kinesis-analytics-v2';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveScenario } from '#cli/drill.ts';
import { consoleInjection } from '#sandbox/console-actions.ts';
import type { ConsoleState } from '#sandbox/console-state.ts';
import { type LiveSandbox, SANDBOX_ACCESS_KEY_ID, startLiveSandbox } from '#sandbox/live.ts';

let sandbox: LiveSandbox | undefined;

afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
});

async function advanceMinutes(endpoint: string, minutes: number): Promise<void> {
  const answer = await fetch(`${endpoint}/sandbox/clock`, {
    method: 'POST',
    body: JSON.stringify({ advanceSeconds: minutes * 60 }),
  });
  expect(answer.status).toBe(200);
}

async function state(endpoint: string): Promise<ConsoleState> {
  const answer = await fetch(`${endpoint}/sandbox/state`);
  expect(answer.headers.get('content-type')).toBe('application/json');
  return (await answer.json()) as ConsoleState;
}

describe('GET /sandbox/state', () => {
  it('bad-config-change: the restart loop in the metrics at T+9, then the incident RESOLVED with its timeline and the Slack messages as sent', async () => {
    // Prepare
    sandbox = await startLiveSandbox({ scenario: resolveScenario('bad-config-change'), speed: 0 });

    // Act
    await advanceMinutes(sandbox.endpoint, 9);
    const looping = await state(sandbox.endpoint);
    await advanceMinutes(sandbox.endpoint, 16);
    const after = await state(sandbox.endpoint);

    // Assess
    expect(looping).toMatchObject({ now: '2026-03-02T14:09:00.000Z', speed: 0, scenario: 'bad-config-change' });
    const [app] = looping.applications;
    expect(app).toMatchObject({ name: 'orders-enrichment', status: 'RUNNING', versionId: 7 });
    expect(Math.max(...(app?.restarts ?? []).map((p) => p.restarts))).toBeGreaterThanOrEqual(3);
    expect(app?.restarts.every((p) => p.atMs >= Date.parse('2026-03-02T13:39:00Z'))).toBe(true);
    expect(app?.statuses.map((s) => s.status)).toEqual(['RUNNING', 'UPDATING', 'RUNNING']);
    expect(app?.alarms.map((a) => a.name)).toContain('flink-watchdog-drill-orders-enrichment-restart-loop');

    const [incident] = after.incidents;
    expect(after.incidents).toHaveLength(1);
    expect(incident).toMatchObject({
      applicationName: 'orders-enrichment',
      status: 'RESOLVED',
      finding: 'RESTART_LOOP',
    });
    expect(incident?.events.map((e) => e.kind)).toEqual(expect.arrayContaining(['OPENED', 'ACTION', 'RESOLVED']));
    expect(after.applications[0]).toMatchObject({ status: 'RUNNING', versionId: 8 });
    expect(after.applications[0]?.statuses.map((s) => s.status)).toContain('ROLLING_BACK');
    const resolved = after.notifications.find((n) => n.html.includes('RESOLVED'));
    expect(resolved?.answer).toBe(200);
    expect(resolved?.html).toContain('orders-enrichment');
  }, 120_000);
});

describe('GET / and POST /sandbox/actions', () => {
  it('serves one self-contained page; a bad action is refused with its field named and deploys nothing', async () => {
    // Prepare
    sandbox = await startLiveSandbox({ scenario: { ...resolveScenario('bad-config-change'), timeline: [] }, speed: 0 });
    const act = (body: unknown) =>
      fetch(`${sandbox?.endpoint}/sandbox/actions`, { method: 'POST', body: JSON.stringify(body) });

    // Act
    const page = await (await fetch(`${sandbox.endpoint}/`)).text();
    const unknownAction = await act({ action: 'delete-everything' });
    const otherApplication = await act({ action: 'inject-failure', application: 'payments' });
    const after = await state(sandbox.endpoint);

    // Assess
    expect(page).toMatch(/^<!doctype html>/);
    expect(page).not.toMatch(/<(script|link)[^>]+(src|href)=/i);
    expect(page).toContain('id="inject" data-application="orders-enrichment"');
    expect(unknownAction.status).toBe(400);
    expect(((await unknownAction.json()) as { message: string }).message).toBe(
      'action "delete-everything": expected one of inject-failure, inject-source-outage, inject-stuck-update, force-stop, restart-from-snapshot, rollback, start, stop, snapshot, pause-automation, resume-automation, approve, reject',
    );
    expect(otherApplication.status).toBe(400);
    expect(((await otherApplication.json()) as { message: string }).message).toBe(
      'application "payments": expected an application of the scenario (orders-enrichment)',
    );
    expect(after.applications[0]).toMatchObject({ status: 'RUNNING', versionId: 6 });
  }, 60_000);
});

describe('POST /sandbox/actions pause-automation', () => {
  it('publishes the runbook command through the endpoint: the pause shows in the state, and the injected restart loop is not rolled back', async () => {
    // Prepare
    sandbox = await startLiveSandbox({ scenario: { ...resolveScenario('bad-config-change'), timeline: [] }, speed: 0 });
    const endpoint = sandbox.endpoint;
    const act = (body: unknown) => fetch(`${endpoint}/sandbox/actions`, { method: 'POST', body: JSON.stringify(body) });

    // Act
    const paused = await act({ action: 'pause-automation', application: 'orders-enrichment' });
    let seen = await state(endpoint);
    while (seen.applications[0]?.automationPaused === null) seen = await state(endpoint);
    const injected = await act({ action: 'inject-failure', application: 'orders-enrichment' });
    await advanceMinutes(endpoint, 20);
    const after = await state(endpoint);

    // Assess
    expect(paused.status).toBe(200);
    expect(seen.applications[0]?.automationPaused).toMatchObject({
      by: 'sandbox console',
      reason: 'paused from the sandbox console',
    });
    expect(injected.status).toBe(200);
    expect(await injected.json()).toMatchObject({ application: 'orders-enrichment', applicationVersion: 7 });
    expect(after.applications[0]).toMatchObject({ status: 'RUNNING', versionId: 7 });
    expect(Math.max(...(after.applications[0]?.restarts ?? []).map((p) => p.restarts))).toBeGreaterThanOrEqual(3);
    // The pause command's own record is RESOLVED (DONE); the restart loop's incident is held back, not resolved.
    const loops = after.incidents.filter((i) => i.finding === 'RESTART_LOOP');
    expect(loops.length).toBeGreaterThan(0);
    expect(loops.map((i) => i.status)).not.toContain('RESOLVED');
    expect(
      after.incidents.flatMap((i) => i.events).some((e) => e.message.includes('automation paused by sandbox console')),
    ).toBe(true);
  }, 120_000);
});

describe('POST /sandbox/actions snapshot (Run a runbook command)', () => {
  it('publishes the snapshot command as remediate --execute does: its incident shows the CreateApplicationSnapshot, and MSF has the snapshot READY', async () => {
    // Prepare
    sandbox = await startLiveSandbox({ scenario: { ...resolveScenario('bad-config-change'), timeline: [] }, speed: 0 });
    const endpoint = sandbox.endpoint;
    const msf = new KinesisAnalyticsV2Client({
      endpoint,
      region: sandbox.region,
      credentials: { accessKeyId: SANDBOX_ACCESS_KEY_ID, secretAccessKey: SANDBOX_ACCESS_KEY_ID },
      maxAttempts: 1,
    });

    // Act
    const answer = await fetch(`${endpoint}/sandbox/actions`, {
      method: 'POST',
      body: JSON.stringify({ action: 'snapshot', application: 'orders-enrichment' }),
    });
    let seen = await state(endpoint);
    while (seen.incidents.length === 0) {
      await sleep(100);
      seen = await state(endpoint);
    }
    await advanceMinutes(endpoint, 2);
    const { SnapshotSummaries: snapshots } = await msf.send(
      new ListApplicationSnapshotsCommand({ ApplicationName: 'orders-enrichment' }),
    );
    msf.destroy();

    // Assess
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ application: 'orders-enrichment', command: 'snapshot' });
    const [incident] = seen.incidents;
    expect(seen.incidents).toHaveLength(1);
    expect(incident).toMatchObject({ applicationName: 'orders-enrichment', status: 'RESOLVED' });
    expect(incident?.events[0]?.message).toBe(
      'runbook: snapshot by sandbox console: snapshot requested from the sandbox console',
    );
    const action = incident?.events.find((e) => e.kind === 'ACTION')?.message ?? '';
    const name = /"SnapshotName":"([^"]+)"/.exec(action)?.[1];
    expect(action).toMatch(/^CreateApplicationSnapshot /);
    expect(snapshots?.map((s) => [s.SnapshotName, s.SnapshotStatus])).toContainEqual([name, 'READY']);
  }, 120_000);
});

describe('POST /sandbox/actions inject-source-outage', () => {
  it('adds the outage fault from the current virtual time: the job restarts while the source is down, then stops restarting; a source the application does not read is refused', async () => {
    // Prepare
    sandbox = await startLiveSandbox({ scenario: { ...resolveScenario('bad-config-change'), timeline: [] }, speed: 0 });
    const endpoint = sandbox.endpoint;
    const act = (body: unknown) => fetch(`${endpoint}/sandbox/actions`, { method: 'POST', body: JSON.stringify(body) });
    const restartsNow = (s: ConsoleState) => s.applications[0]?.restarts.at(-1)?.restarts ?? 0;
    const restartsBefore = (s: ConsoleState, atMs: number) =>
      s.applications[0]?.restarts.filter((p) => p.atMs <= atMs).at(-1)?.restarts ?? 0;

    // Act
    const unread = await act({
      action: 'inject-source-outage',
      application: 'orders-enrichment',
      source: 'kafka-orders',
      minutes: 10,
    });
    await advanceMinutes(endpoint, 2);
    const before = await state(endpoint);
    const injected = await act({
      action: 'inject-source-outage',
      application: 'orders-enrichment',
      source: 'orders',
      minutes: 10,
    });
    await advanceMinutes(endpoint, 10);
    const during = await state(endpoint);
    await advanceMinutes(endpoint, 10);
    const after = await state(endpoint);

    // Assess
    expect(unread.status).toBe(400);
    expect(((await unread.json()) as { message: string }).message).toBe(
      'source "kafka-orders": expected a source orders-enrichment reads (orders, orders-enriched)',
    );
    expect(injected.status).toBe(200);
    expect(await injected.json()).toEqual({
      source: 'orders',
      applications: ['orders-enrichment'],
      from: '2026-03-02T14:02:00.000Z',
      to: '2026-03-02T14:12:00.000Z',
    });
    expect(restartsNow(before)).toBe(0);
    expect(restartsNow(during)).toBeGreaterThanOrEqual(2);
    // Back after 14:12: the counter stands still from a few minutes after the outage ends.
    expect(restartsNow(after)).toBe(restartsBefore(after, Date.parse('2026-03-02T14:16:00Z')));
    expect(after.applications[0]).toMatchObject({ status: 'RUNNING', versionId: 6 });
  }, 120_000);
});

describe('POST /sandbox/actions inject-stuck-update', () => {
  it('stuck-updating: deploys the code the job model hangs on; the application sits in UPDATING (a second update gets ResourceInUseException from MSF), and from minute 10 it is refused', async () => {
    // Prepare
    sandbox = await startLiveSandbox({ scenario: { ...resolveScenario('stuck-updating'), timeline: [] }, speed: 0 });
    const endpoint = sandbox.endpoint;
    const act = (body: unknown) => fetch(`${endpoint}/sandbox/actions`, { method: 'POST', body: JSON.stringify(body) });
    const page = await (await fetch(`${endpoint}/`)).text();

    // Act
    await advanceMinutes(endpoint, 1);
    const injected = await act({ action: 'inject-stuck-update', application: 'session-windows' });
    await advanceMinutes(endpoint, 8);
    const stuck = await state(endpoint);
    const again = await act({ action: 'inject-stuck-update', application: 'session-windows' });
    await advanceMinutes(endpoint, 2);
    const late = await act({ action: 'inject-stuck-update', application: 'session-windows' });

    // Assess
    expect(page).toContain('id="inject-stuck" data-application="session-windows"');
    expect(injected.status).toBe(200);
    expect(await injected.json()).toEqual({
      application: 'session-windows',
      applicationVersion: 4,
      deployed: 'code sessions/session-windows-1.8.0.jar (the job model hangs on it before minute 10)',
    });
    expect(stuck.now).toBe('2026-03-02T14:09:00.000Z');
    expect(stuck.applications[0]).toMatchObject({ name: 'session-windows', status: 'UPDATING' });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: 'ResourceInUseException' });
    expect(late.status).toBe(400);
    expect(((await late.json()) as { message: string }).message).toBe(
      'the job model hangs sessions/session-windows-1.8.0.jar only when submitted before minute 10 (2026-03-02T14:10:00.000Z): it is 2026-03-02T14:11:00.000Z',
    );
  }, 120_000);

  it('bad-config-change has no code that hangs: refused, nothing deployed, no button', async () => {
    // Prepare
    sandbox = await startLiveSandbox({ scenario: { ...resolveScenario('bad-config-change'), timeline: [] }, speed: 0 });
    const endpoint = sandbox.endpoint;

    // Act
    const page = await (await fetch(`${endpoint}/`)).text();
    const refused = await fetch(`${endpoint}/sandbox/actions`, {
      method: 'POST',
      body: JSON.stringify({ action: 'inject-stuck-update', application: 'orders-enrichment' }),
    });
    const after = await state(endpoint);

    // Assess
    expect(page).not.toContain('id="inject-stuck"');
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { message: string }).message).toBe(
      "this scenario's job model has no code that hangs: there is no stuck update to inject",
    );
    expect(after.applications[0]).toMatchObject({ status: 'RUNNING', versionId: 6 });
  }, 60_000);
});

describe('consoleInjection', () => {
  it('takes the property a crash-loop rule matches, and nothing when the job model has none', () => {
    // Prepare
    const scenario = resolveScenario('bad-config-change');

    // Act
    const injection = consoleInjection(scenario);
    const none = consoleInjection({ ...scenario, jobModel: [] });

    // Assess
    expect(injection).toMatchObject({
      application: 'orders-enrichment',
      group: 'FlinkApplicationProperties',
      key: 'input.stream.name',
      value: 'orders-v2',
    });
    expect(none).toBeUndefined();
  });
});
