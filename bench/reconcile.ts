import { KinesisAnalyticsV2Client, StopApplicationCommand } from '@aws-sdk/client-kinesis-analytics-v2';
import { VirtualClock } from '#sandbox/clock.ts';
import { startEmulator } from '#sandbox/emulator/index.ts';
import { parseScenario } from '#sandbox/scenario.ts';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import { MsfAdapter, WATCHDOG_USER_AGENT } from '#shared/adapters/msf.ts';
import { RecordingNotifier } from '#shared/adapters/recording-notifier.ts';
import { parseConfig } from '#shared/config/schema.ts';
import { loadDesiredStates } from '#shared/desired/sources.ts';
import { reconcile } from '#shared/domain/reconciler.ts';

/** One measured reconcile cycle. */
export interface ReconcileFigures {
  /** What the cycle faced. */
  cycle: string;
  /** MSF API calls the watchdog made in the cycle, as the emulator counted them. */
  msfCalls: number;
  /** Applications described. */
  described: number;
  /** Wall time of the cycle, ms (SDK round trips to the local emulator included). */
  wallMs: number;
}

const MINUTE_MS = 60_000;

/**
 * Reconcile cycles over `count` emulated applications, all watched: the first cycle (nothing remembered: every
 * application described), a second with nothing changed (the ListApplications pass only; the goal is ≤ 25 MSF calls
 * for 1,000 applications), and a third after `changed` applications were stopped out of band.
 */
export async function measureReconcile(count = 1000, changed = 10): Promise<ReconcileFigures[]> {
  const names = Array.from({ length: count }, (_, i) => `app-${String(i).padStart(4, '0')}`);
  const scenario = parseScenario(
    {
      name: 'bench-reconcile',
      title: 'bench',
      description: 'bench',
      durationMinutes: 60,
      applications: names.map((name) => ({ name, code: { bucket: 'bench', fileKey: `${name}.jar` } })),
      watchdog: { schemaVersion: 1 },
      expected: { outcome: 'NO_INCIDENT' },
    },
    'bench-reconcile',
  );
  const startMs = Date.parse(scenario.startTime);
  const clock = new VirtualClock(startMs);
  const emulator = await startEmulator({ clock, world: scenario });
  try {
    const base = {
      endpoint: emulator.endpoint,
      region: emulator.region,
      credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
      maxAttempts: 1,
    };
    const msf = new MsfAdapter({
      client: new KinesisAnalyticsV2Client({ ...base, customUserAgent: [WATCHDOG_USER_AGENT] }),
    });
    const user = new KinesisAnalyticsV2Client({ ...base, customUserAgent: [['bench-user', '1']] });
    const config = parseConfig({ schemaVersion: 1, applications: names.map((name) => ({ name })) });
    const deps = {
      msf,
      ledger: new MemoryLedger(),
      notifier: new RecordingNotifier(),
      starter: { start: async () => {} },
      config,
      clock,
      log: { debug() {}, info() {}, warn() {}, error() {} },
      // The config's desired status only: no Terraform state to read.
      desired: () =>
        loadDesiredStates(config, async () => {
          throw new Error('no Terraform state in this bench');
        }, []),
    };
    const figures: ReconcileFigures[] = [];
    const cycle = async (label: string) => {
      const before = emulator.calls.filter((c) => c.userAgent.includes('flink-watchdog')).length;
      const t0 = performance.now();
      const result = await reconcile(deps);
      const wallMs = performance.now() - t0;
      const after = emulator.calls.filter((c) => c.userAgent.includes('flink-watchdog')).length;
      figures.push({
        cycle: label,
        msfCalls: after - before,
        described: result.lines.filter((l) => l.verdict !== 'UNCHANGED' && l.verdict !== 'ALREADY_REPORTED').length,
        wallMs,
      });
    };
    clock.advanceTo(startMs + MINUTE_MS);
    emulator.advanceTo(clock.now());
    await cycle(`first cycle, ${count} applications`);
    clock.advanceTo(startMs + 5 * MINUTE_MS);
    // The emulator catches up first (as before the other cycles), so the wall time is the reconciler's, not the
    // emulator's own stepping of 1,000 applications through 4 virtual minutes.
    emulator.advanceTo(clock.now());
    await cycle(`${count} applications, nothing changed`);
    for (const name of names.slice(0, changed)) await user.send(new StopApplicationCommand({ ApplicationName: name }));
    clock.advanceTo(startMs + 10 * MINUTE_MS);
    emulator.advanceTo(clock.now());
    await cycle(`${count} applications, ${changed} stopped out of band`);
    return figures;
  } finally {
    await emulator.close();
  }
}
