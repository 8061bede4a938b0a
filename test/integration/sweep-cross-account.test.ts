import { afterEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { fleetWiring } from '#functions/detector/handler.ts';
import { VirtualClock } from '#sandbox/clock.ts';
import { type Emulator, startEmulator } from '#sandbox/emulator/index.ts';
import { ScenarioApplication } from '#sandbox/scenario.ts';
import { CloudWatchAlarms } from '#shared/adapters/cloudwatch-alarms.ts';
import { fleetAdapters } from '#shared/adapters/fleet-adapters.ts';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import { RecordingNotifier } from '#shared/adapters/recording-notifier.ts';
import { parseConfig } from '#shared/config/schema.ts';
import { lookBatch, planSweep, type SweepDeps } from '#shared/domain/sweep.ts';
import { CapturingLog } from '../support/fakes.ts';

/**
 * The sweep of a central watchdog over its own account and a member account of the emulator: discovery and the alarm
 * manager act in the member account through the member role (STS AssumeRole with the ExternalId), the member's
 * applications are named by key, and their alarms live in the member account.
 */

const START = '2026-03-02T14:00:00Z';
const HOME = '123456789012';
const MEMBER = '222222222222';
const EXTERNAL_ID = 'central-watchdog-7f3a';
const OPT_IN = { key: 'flink-watchdog', value: 'enabled' };

const running: Emulator[] = [];
afterEach(async () => {
  for (const emulator of running.splice(0)) await emulator.close();
});

function app(name: string, extra: Partial<z.input<typeof ScenarioApplication>> = {}) {
  return ScenarioApplication.parse({ name, code: { bucket: 'artifacts', fileKey: `${name}-1.jar` }, ...extra });
}

async function central() {
  const clock = new VirtualClock(Date.parse(START));
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
      },
    ],
  });
  running.push(emulator);
  const config = parseConfig({
    schemaVersion: 1,
    optInTag: OPT_IN,
    applications: [{ name: 'payments' }],
    fleet: { accounts: [{ accountId: MEMBER, externalId: EXTERNAL_ID }] },
  });
  const adapters = fleetAdapters({
    config,
    home: { accountId: HOME, region: emulator.region },
    instance: 'central',
    clientOptions: {
      endpoint: emulator.endpoint,
      credentials: { accessKeyId: 'drill', secretAccessKey: 'drill' },
      clock,
    },
  });
  const deps: SweepDeps = {
    msf: adapters.msf,
    metrics: adapters.metrics,
    ledger: new MemoryLedger(),
    notifier: new RecordingNotifier(),
    starter: { start: async () => undefined },
    config,
    clock,
    log: new CapturingLog(),
    fleet: fleetWiring(adapters, 'central'),
  };
  const alarmsIn = (accountId: string) =>
    new CloudWatchAlarms({ client: adapters.clients.cloudWatch({ accountId, region: emulator.region }) });
  return { emulator, deps, alarmsIn };
}

describe('Sweep across accounts against the emulator', () => {
  it("finds the member's tagged application by key and makes its alarms in the member account", async () => {
    // Prepare
    const h = await central();
    // Act
    const plan = await planSweep(h.deps);
    const home = await h.alarmsIn(HOME).describeAlarms('flink-watchdog-central-');
    const member = await h.alarmsIn(MEMBER).describeAlarms('flink-watchdog-central-');
    // Assess
    expect(plan.batches).toEqual([{ applications: ['payments', `orders@${MEMBER}.eu-west-1`] }]);
    expect(home.map((a) => a.alarmName).sort()).toEqual([
      'flink-watchdog-central-payments-failed-checkpoints',
      'flink-watchdog-central-payments-restart-loop',
    ]);
    expect(member.map((a) => [a.alarmName, a.applicationName]).sort()).toEqual([
      ['flink-watchdog-central-orders-failed-checkpoints', 'orders'],
      ['flink-watchdog-central-orders-restart-loop', 'orders'],
    ]);
    expect(h.emulator.calls.some((c) => c.operation === 'AssumeRole')).toBe(true);
  });

  it('looks at both cells’ applications with one GetMetricData per account', async () => {
    // Prepare
    const h = await central();
    const plan = await planSweep(h.deps);
    const before = h.emulator.calls.length;
    // Act
    const results = await lookBatch(plan.batches[0]?.applications ?? [], h.deps);
    // Assess
    const reads = h.emulator.calls.slice(before).filter((c) => c.operation === 'GetMetricData');
    expect(reads.map((c) => c.accountId).sort()).toEqual([HOME, MEMBER]);
    expect(results.map((r) => [r.applicationName, r.result])).toEqual([
      ['payments', 'HEALTHY'],
      [`orders@${MEMBER}.eu-west-1`, 'HEALTHY'],
    ]);
  });
});
