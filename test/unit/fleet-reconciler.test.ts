import { describe, expect, it } from 'vitest';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import { RecordingNotifier } from '#shared/adapters/recording-notifier.ts';
import { parseConfig } from '#shared/config/schema.ts';
import { loadDesiredStates } from '#shared/desired/sources.ts';
import { type ReconcilerDeps, reconcile } from '#shared/domain/reconciler.ts';
import { app, MIN, T0 } from '../support/builders.ts';
import { CapturingLog, FakeMsf } from '../support/fakes.ts';

const TAG = { key: 'flink-watchdog', value: 'on' };
const arn = (name: string) => `arn:aws:kinesisanalytics:eu-west-1:123456789012:application/${name}`;

async function setup(taggedInMemory: string[]) {
  const msf = new FakeMsf()
    .setApp(app({ name: 'orders', arn: arn('orders') }))
    .setApp(app({ name: 'clicks', arn: arn('clicks'), status: 'READY' }))
    .setApp(app({ name: 'other', arn: arn('other'), status: 'READY' }));
  const ledger = new MemoryLedger();
  await ledger.saveFleetMemory({
    atMs: T0,
    applications: [
      { key: 'orders', source: 'listed', firstSeenMs: T0 },
      ...taggedInMemory.map((key) => ({ key, source: 'tag' as const, firstSeenMs: T0 })),
    ],
  });
  const config = parseConfig({ schemaVersion: 1, optInTag: TAG, applications: [{ name: 'orders' }] });
  const deps: ReconcilerDeps = {
    msf,
    ledger,
    notifier: new RecordingNotifier(),
    starter: { start: async () => undefined },
    config,
    clock: { now: () => T0 + 10 * MIN },
    log: new CapturingLog(),
    desired: () =>
      loadDesiredStates(config, async () => ({ location: '', applications: [], problems: [], sensitivePaths: {} })),
  };
  return { deps };
}

describe('Function: reconcile (the watched set of the fleet)', () => {
  it('reconciles an application the sweep found by its opt-in tag, with the default desired status', async () => {
    // Prepare: clicks is opted in by tag and READY; the default desired status is RUNNING
    const { deps } = await setup(['clicks']);
    // Act
    const result = await reconcile(deps);
    // Assess
    const clicks = result.lines.find((l) => l.applicationName === 'clicks');
    expect(clicks?.verdict).toBe('REPORTED');
    expect(clicks?.report?.fields.map((f) => f.field)).toContain('status');
    expect(result.lines.map((l) => l.applicationName).sort()).toEqual(['clicks', 'orders']);
  });

  it('leaves alone an application that is neither listed nor found by tag', async () => {
    // Prepare
    const { deps } = await setup([]);
    // Act
    const result = await reconcile(deps);
    // Assess
    expect(result.lines.map((l) => l.applicationName)).toEqual(['orders']);
  });
});
