import { ScaledClock } from '#sandbox/clock.ts';
import { startEmulator } from '#sandbox/emulator/index.ts';
import { loadScenario } from '#sandbox/scenario.ts';

/**
 * `flink-watchdog sandbox [--scenario NAME] [--speed N]`: runs the emulator in the foreground and prints the
 * endpoint and the environment to point any AWS SDK or the AWS CLI at it. Virtual time runs `speed` times faster
 * than the wall clock. Stops on Ctrl-C.
 */
export async function sandboxCommand(opts: { scenario?: string; speed: string; port?: string }): Promise<number> {
  const speed = Number(opts.speed);
  if (!Number.isFinite(speed) || speed <= 0 || speed > 3600) {
    console.error(`--speed must be a number between 0 and 3600 (got "${opts.speed}")`);
    return 2;
  }
  const scenario = opts.scenario ? loadScenario(opts.scenario) : undefined;
  const start = scenario ? Date.parse(scenario.startTime) : Date.now();
  const clock = new ScaledClock(start, speed);
  const emulator = await startEmulator({ clock, ...(scenario ? { world: scenario } : {}) });
  const tick = setInterval(() => emulator.advanceTo(clock.now()), 250);
  emulator.onAlarmEvent((e) =>
    console.log(
      `[${new Date(clock.now()).toISOString()}] alarm ${e.detail.alarmName}: ${e.detail.previousState.value} → ${e.detail.state.value}`,
    ),
  );
  console.log(`Flink Watchdog sandbox (MSF + CloudWatch emulator) listening on ${emulator.endpoint}`);
  console.log(
    `  scenario: ${scenario ? `${scenario.name} (${scenario.applications.map((a) => a.name).join(', ')})` : 'none (empty: create applications with CreateApplication)'}`,
  );
  console.log(`  virtual time runs ${speed}x; region ${emulator.region}, account ${emulator.accountId}`);
  console.log('\nPoint the AWS CLI or any SDK at it:');
  console.log(
    `  export AWS_ENDPOINT_URL=${emulator.endpoint} AWS_REGION=${emulator.region} AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox`,
  );
  console.log('  aws kinesisanalyticsv2 list-applications');
  console.log('\nCtrl-C to stop.');
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  clearInterval(tick);
  await emulator.close();
  return 0;
}
