import { afterEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { VirtualClock } from '#sandbox/clock.ts';
import { type Emulator, startEmulator } from '#sandbox/emulator/index.ts';
import { ScenarioApplication } from '#sandbox/scenario.ts';
import { AssumeRoleError } from '#shared/adapters/accounts.ts';
import { fleetAdapters } from '#shared/adapters/fleet-adapters.ts';
import { parseConfig, type WatchdogConfig } from '#shared/config/schema.ts';
import { MsfApiError } from '#shared/ports/msf.ts';

/**
 * The central watchdog's routed adapters against the emulator's accounts: a member account's application is read and
 * acted on through STS AssumeRole of the member role (ExternalId checked by the emulator's trust policy), the role's
 * tag limit holds, and the home account is reached with the watchdog's own credentials.
 */

const START = '2026-03-02T14:00:00Z';
const START_MS = Date.parse(START);
const HOME = '123456789012';
const MEMBER = '222222222222';
const EXTERNAL_ID = 'central-watchdog-7f3a';
const OPT_IN = { key: 'flink-watchdog', value: 'enabled' };
const MEMBER_ORDERS = `orders@${MEMBER}.eu-west-1`;

const running: Emulator[] = [];
afterEach(async () => {
  for (const emulator of running.splice(0)) await emulator.close();
});

function app(name: string, extra: Partial<z.input<typeof ScenarioApplication>> = {}) {
  return ScenarioApplication.parse({ name, code: { bucket: 'artifacts', fileKey: `${name}-1.jar` }, ...extra });
}

function config(externalId: string): WatchdogConfig {
  return parseConfig({
    schemaVersion: 1,
    optInTag: OPT_IN,
    applications: [{ name: 'payments' }],
    fleet: { accounts: [{ accountId: MEMBER, externalId }] },
  });
}

/** The emulator with a home and a member account, and the central watchdog's routed adapters (instance `central`). */
async function central(externalId = EXTERNAL_ID) {
  const clock = new VirtualClock(START_MS);
  const emulator = await startEmulator({
    clock,
    accountId: HOME,
    world: {
      startTime: START,
      applications: [
        app('payments'),
        app('orders', { accountId: MEMBER, tags: { [OPT_IN.key]: OPT_IN.value } }),
        app('clicks', { accountId: MEMBER }),
      ],
      jobModel: [],
      faults: [],
    },
    roles: [
      {
        roleArn: `arn:aws:iam::${MEMBER}:role/FlinkWatchdogMember`,
        trustedAccountId: HOME,
        externalId: EXTERNAL_ID,
        permissions: { msfMutateOnlyTag: OPT_IN },
      },
    ],
  });
  running.push(emulator);
  const adapters = fleetAdapters({
    config: config(externalId),
    home: { accountId: HOME, region: emulator.region },
    instance: 'central',
    clientOptions: {
      endpoint: emulator.endpoint,
      credentials: { accessKeyId: 'drill', secretAccessKey: 'drill' },
      maxAttempts: 1,
      clock,
    },
  });
  const calls = () =>
    emulator.calls.map(
      (c) => `${c.service} ${c.operation} ${c.accountId ?? '?'}${c.errorType ? ` ${c.errorType}` : ''}`,
    );
  return { clock, emulator, ...adapters, calls };
}

describe('Cross-account routing against the emulator', () => {
  it('describes a member application through AssumeRole with the ExternalId, naming it by its key', async () => {
    // Prepare
    const c = await central();
    // Act
    const state = await c.msf.describeApplication(MEMBER_ORDERS);
    // Assess
    expect(state).toMatchObject({
      name: MEMBER_ORDERS,
      arn: `arn:aws:kinesisanalytics:eu-west-1:${MEMBER}:application/orders`,
      status: 'RUNNING',
    });
    expect(c.calls()).toEqual([`sts AssumeRole ${HOME}`, `kinesisanalytics DescribeApplication ${MEMBER}`]);
    expect(c.emulator.calls[0]?.input).toMatchObject({
      RoleArn: `arn:aws:iam::${MEMBER}:role/FlinkWatchdogMember`,
      ExternalId: EXTERNAL_ID,
      RoleSessionName: 'flink-watchdog-central',
    });
  });

  it('is refused at AssumeRole with a wrong ExternalId: no MSF call is made in the member account', async () => {
    // Prepare
    const c = await central('not-the-member-external-id');
    // Act
    const error = (await c.msf.describeApplication(MEMBER_ORDERS).catch((e: unknown) => e)) as MsfApiError;
    // Assess
    expect(error).toBeInstanceOf(MsfApiError);
    expect(error.code).toBe('AssumeRoleError');
    expect(error.cause).toBeInstanceOf(AssumeRoleError);
    expect((error.cause as AssumeRoleError).code).toBe('AccessDenied');
    expect(error.message).toContain(MEMBER_ORDERS);
    expect(c.calls()).toEqual([`sts AssumeRole ${HOME} AccessDenied`]);
    expect(c.emulator.calls.some((call) => call.service === 'kinesisanalytics')).toBe(false);
  });

  it('reads a home application with its own credentials, without any AssumeRole', async () => {
    // Prepare
    const c = await central();
    // Act
    const state = await c.msf.describeApplication('payments');
    // Assess
    expect(state.name).toBe('payments');
    expect(c.calls()).toEqual([`kinesisanalytics DescribeApplication ${HOME}`]);
  });

  it("lists both accounts' applications by key, one AssumeRole for the member account", async () => {
    // Prepare
    const c = await central();
    // Act
    const summaries = await c.msf.listApplications();
    // Assess
    expect(summaries.map((s) => s.name)).toEqual(['payments', MEMBER_ORDERS, `clicks@${MEMBER}.eu-west-1`]);
    expect(c.calls().filter((call) => call.startsWith('sts'))).toEqual([`sts AssumeRole ${HOME}`]);
  });

  it('stops an opted-in member application through the role; the role refuses one without the opt-in tag', async () => {
    // Prepare
    const c = await central();
    // Act
    await c.msf.stopApplication(MEMBER_ORDERS, true);
    const refused = (await c.msf
      .stopApplication(`clicks@${MEMBER}.eu-west-1`, true)
      .catch((e: unknown) => e)) as MsfApiError;
    // Assess
    expect(c.emulator.inspect('orders', MEMBER)?.status).toBe('FORCE_STOPPING');
    expect(refused).toBeInstanceOf(MsfApiError);
    expect(refused).toMatchObject({ code: 'AccessDeniedException', applicationName: `clicks@${MEMBER}.eu-west-1` });
    expect(c.emulator.inspect('clicks', MEMBER)?.status).toBe('RUNNING');
  });

  it("reads a member application's metrics in the member account", async () => {
    // Prepare
    const c = await central();
    c.clock.advance(5 * 60_000);
    c.emulator.advanceTo(c.clock.now());
    const range = [START_MS - 30 * 60_000, c.clock.now()] as const;
    // Act
    const inMember = await c.metrics.getSeries(MEMBER_ORDERS, ['uptime'], ...range);
    const notThere = await c.metrics.getSeries(`payments@${MEMBER}.eu-west-1`, ['uptime'], ...range);
    // Assess
    expect(inMember.uptime?.points.length).toBeGreaterThan(0);
    expect(notThere.uptime?.points).toEqual([]);
    expect(c.calls().filter((call) => call.startsWith('monitoring'))).toEqual([
      `monitoring GetMetricData ${MEMBER}`,
      `monitoring GetMetricData ${MEMBER}`,
    ]);
  });

  it('renews the member session before it expires, by the virtual clock', async () => {
    // Prepare
    const c = await central();
    await c.msf.describeApplication(MEMBER_ORDERS);
    // Act: 50 minutes on, the 1-hour session has more than 5 minutes left; 56 minutes on, it has not.
    c.clock.advance(50 * 60_000);
    await c.msf.describeApplication(MEMBER_ORDERS);
    c.clock.advance(6 * 60_000);
    await c.msf.describeApplication(MEMBER_ORDERS);
    // Assess
    expect(c.calls()).toEqual([
      `sts AssumeRole ${HOME}`,
      `kinesisanalytics DescribeApplication ${MEMBER}`,
      `kinesisanalytics DescribeApplication ${MEMBER}`,
      `sts AssumeRole ${HOME}`,
      `kinesisanalytics DescribeApplication ${MEMBER}`,
    ]);
  });
});
