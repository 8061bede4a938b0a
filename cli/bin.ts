#!/usr/bin/env -S npx tsx
import { Command } from 'commander';
import { drillCommand } from './drill.ts';
import { sandboxCommand } from './sandbox.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const program = new Command()
  .name('flink-watchdog')
  .description('Detects and recovers Amazon Managed Service for Apache Flink failure modes by policy.')
  .version('0.1.0');

program
  .command('drill')
  .description('Run drill scenarios on the embedded MSF + CloudWatch emulator (no AWS account needed)')
  .argument(
    '[scenario...]',
    'scenario names, or paths to scenario .json files (default: every scenario in sandbox/scenarios)',
  )
  .option('--json', 'print {scenarios: [...]} as JSON instead of timelines')
  .action(async (names: string[], opts: { json?: boolean }) => {
    process.exitCode = await drillCommand(names, opts);
  });

program
  .command('sandbox')
  .description('Run the MSF + CloudWatch emulator in the foreground, for any AWS SDK or CLI')
  .option('--scenario <name>', 'load the applications and faults of a drill scenario')
  .option('--speed <factor>', 'virtual seconds per wall-clock second', '1')
  .action(async (opts: { scenario?: string; speed: string }) => {
    process.exitCode = await sandboxCommand(opts);
  });

program.parseAsync().catch((e: unknown) => {
  console.error(`flink-watchdog: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
