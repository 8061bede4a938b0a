#!/usr/bin/env -S npx tsx
import { Command } from 'commander';
import type { RemediateOptions } from './remediate.ts';
import type { SandboxOptions } from './sandbox.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// Each command's module is imported when the command runs: `drift`, `status`, `history` and `remediate` start without
// loading the drill's emulator and workflow runner.

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
    const { drillCommand } = await import('./drill.ts');
    process.exitCode = await drillCommand(names, opts);
  });

program
  .command('sandbox')
  .description('Run the MSF + CloudWatch emulator in the foreground, for any AWS SDK or CLI')
  .option('--scenario <name>', 'load the applications and faults of a drill scenario')
  .option(
    '--speed <factor>',
    'virtual seconds per wall-clock second, 0 to 3600; 0 starts the clock paused (drive it with POST /sandbox/clock)',
    '1',
  )
  .option('--start <iso8601>', 'virtual start time, e.g. 2026-03-02T14:00:00Z (default: now; with --scenario, its own)')
  .option('--metrics-delay <seconds>', 'MSF datapoints stored this long after each minute ends, 0 to 3600')
  .option('--alarm-evaluation-offset <seconds>', 'alarms evaluated this long after each minute boundary, 0 to 59')
  .action(async (opts: SandboxOptions) => {
    const { sandboxCommand } = await import('./sandbox.ts');
    process.exitCode = await sandboxCommand(opts);
  });

program
  .command('drift')
  .description(
    'Compare what each watched MSF application runs with its desired state (watchdog config, Terraform state). ' +
      'Exit code 0: no drift, 2: drift found, 1: error (like terraform plan -detailed-exitcode)',
  )
  .option('--app <name>', 'only this watched application')
  .option(
    '--tfstate <source...>',
    "Terraform state files: local paths or s3://BUCKET/KEY (replace the config's drift.terraformState)",
  )
  .option('--config <path>', 'watchdog config (default: $WATCHDOG_CONFIG_PATH, else ./flink-watchdog.config.json)')
  .option('--json', 'print {applications: [DriftReport...], problems: [...]} as JSON')
  .action(async (opts: { app?: string; tfstate?: string[]; config?: string; json?: boolean }) => {
    const { driftCommand } = await import('./drift.ts');
    process.exitCode = await driftCommand(opts);
  });

program
  .command('status')
  .description(
    'One line per watched MSF application: status, version, restarts in the last window, open incident, drift',
  )
  .option('--config <path>', 'watchdog config (default: $WATCHDOG_CONFIG_PATH, else ./flink-watchdog.config.json)')
  .option('--tfstate <source...>', 'Terraform state files for the drift column: local paths or s3://BUCKET/KEY')
  .option('--table <name>', 'the ledger DynamoDB table, for the open incident column (default: $LEDGER_TABLE_NAME)')
  .option('--json', 'print {applications: [...], problems: [...]} as JSON')
  .action(async (opts: { config?: string; tfstate?: string[]; table?: string; json?: boolean }) => {
    const { statusCommand } = await import('./status.ts');
    process.exitCode = await statusCommand(opts);
  });

program
  .command('history')
  .description('Incidents and the MSF calls recorded for them in the ledger, newest first')
  .option('--app <name>', 'only incidents of this MSF application')
  .option('--table <name>', 'the ledger DynamoDB table (default: $LEDGER_TABLE_NAME)')
  .option('--limit <n>', 'at most this many incidents', '20')
  .option('--json', 'print {incidents: [Incident...], problems: [...]} (property values in action inputs masked)')
  .action(async (opts: { app?: string; table?: string; limit?: string; json?: boolean }) => {
    const { historyCommand } = await import('./history.ts');
    process.exitCode = await historyCommand(opts);
  });

program
  .command('remediate')
  .description(
    'Plan a runbook command against the live application (dry run), or publish it to the watchdog command topic ' +
      'with --execute and follow the application status. Exit code 0: would act / target reached, 2: dry run ' +
      'would be rejected, 1: error, rejected or timeout',
  )
  .argument('<app>', 'MSF application name')
  .requiredOption(
    '--action <command>',
    'force-stop | restart-from-snapshot | rollback | start | stop | snapshot | pause-automation | resume-automation',
  )
  .option('--snapshot <name>', 'restart-from-snapshot only: latest, last-known-good or a snapshot name')
  .option('--reason <text>', 'why (required with --execute)')
  .option('--requested-by <who>', 'who asks, recorded on the incident (required with --execute)')
  .option('--execute', 'publish the command (default: dry run, nothing changed or published)')
  .option('--topic <arn>', 'the watchdog SNS command topic (default: $COMMAND_TOPIC_ARN)')
  .option('--config <path>', 'watchdog config (default: $WATCHDOG_CONFIG_PATH, else ./flink-watchdog.config.json)')
  .option(
    '--table <name>',
    'the ledger DynamoDB table, for the lock guard and the answer (default: $LEDGER_TABLE_NAME)',
  )
  .option('--poll-seconds <s>', 'seconds between DescribeApplication calls while waiting', '5')
  .option('--timeout-minutes <m>', 'how long --execute waits for the target status', '20')
  .option('--json', 'print {plan, published, progress, problems} as JSON (progress lines on stderr)')
  .action(async (app: string, opts: RemediateOptions) => {
    const { remediateCommand } = await import('./remediate.ts');
    process.exitCode = await remediateCommand(app, opts);
  });

program.parseAsync().catch((e: unknown) => {
  console.error(`flink-watchdog: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
