import { Command, CommanderError, Option } from 'commander';
import pkg from '../package.json' with { type: 'json' };
import type { ApproveOptions } from './approve.ts';
import {
  type AwsOptions,
  applyOutputOptions,
  awsClientConfig,
  EXIT_CODES,
  EXIT_CODES_HELP,
  formatProblem,
  OUTPUT_FORMATS,
  type OutputOptions,
  StackOutputsError,
  UsageError,
} from './context.ts';
import type { HistoryOptions } from './history.ts';
import type { InitOptions } from './init.ts';
import type { RemediateOptions } from './remediate.ts';
import type { SandboxOptions } from './sandbox.ts';
import type { StatusOptions } from './status.ts';
import type { ValidateOptions } from './validate.ts';

// Each command's module is imported when the command runs: `validate` and `--help` load no AWS SDK client, and
// `drift`, `status`, `history` and `remediate` start without loading the drill's emulator and workflow runner.

const GLOBAL = 'Global options:';
/** `drill --output`: its timelines (table) or JSON; it has no tab-separated form. */
const DRILL_OUTPUT_FORMATS = ['table', 'json'] as const;
const CONFIG_HELP = 'watchdog config (default: $WATCHDOG_CONFIG_PATH, else ./flink-watchdog.config.json)';

/** `--output`, `--json` and `--no-color`, under the "Global options" heading of the command's help. */
function outputOptions(cmd: Command, jsonHelp: string): Command {
  return cmd
    .addOption(
      new Option('--output <format>', 'output format: table (readable, the default), json, or text (tab-separated)')
        .choices(OUTPUT_FORMATS)
        .helpGroup(GLOBAL),
    )
    .addOption(new Option('--json', `same as --output json: ${jsonHelp}`).helpGroup(GLOBAL))
    .addOption(
      new Option('--no-color', 'no ANSI colours (also NO_COLOR=1, or stdout not a terminal)').helpGroup(GLOBAL),
    );
}

/** `--region` and `--profile`, as the AWS CLI has them, plus the output options. */
function awsOptions(cmd: Command, jsonHelp: string): Command {
  return outputOptions(
    cmd
      .addOption(
        new Option(
          '--region <region>',
          'AWS Region, e.g. eu-west-1 (default: AWS_REGION, else the profile’s)',
        ).helpGroup(GLOBAL),
      )
      .addOption(
        new Option(
          '--profile <name>',
          'named profile of ~/.aws/config and ~/.aws/credentials (default: AWS_PROFILE)',
        ).helpGroup(GLOBAL),
      ),
    jsonHelp,
  );
}

/** `--stack` and `--watchdog`. */
function stackOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--stack <name>',
        'CloudFormation stack of the watchdog: the ledger table and topics come from its Outputs (explicit flags win)',
      ).helpGroup(GLOBAL),
    )
    .addOption(
      new Option(
        '--watchdog <prefix>',
        'which watchdog of --stack, when it holds several (its construct id)',
      ).helpGroup(GLOBAL),
    );
}

/** The option names (commander attribute names) every global option has, on the program and on the commands. */
const GLOBAL_OPTION_KEYS = ['region', 'profile', 'output', 'json', 'color', 'stack', 'watchdog'] as const;

/**
 * Gives `command` the global options typed before its name (the program's), unless typed after it too (the
 * command's win), then checks the pair `--watchdog` / `--stack`.
 * @throws CommanderError (exit 64, via `command.error`) for a global option the command does not take (e.g.
 *   `--region` before `validate`), or `--watchdog` without `--stack`, before the command runs.
 */
function applyGlobalOptions(program: Command, command: Command): void {
  for (const key of GLOBAL_OPTION_KEYS) {
    if (program.getOptionValueSource(key) !== 'cli') continue;
    const flag = program.options.find((o) => o.attributeName() === key)?.long ?? key;
    if (!command.options.some((o) => o.attributeName() === key)) {
      command.error(`error: ${flag} does not apply to ${command.name()}`, { exitCode: EXIT_CODES.usage });
    }
    if (command.getOptionValueSource(key) !== 'cli') {
      command.setOptionValueWithSource(key, program.getOptionValue(key), 'cli');
    }
  }
  const opts = command.opts();
  // A string: `--watchdog PREFIX` (sandbox's `--no-watchdog` is a boolean of the same name).
  if (typeof opts.watchdog === 'string' && opts.stack === undefined) {
    command.error('error: --watchdog PREFIX chooses a watchdog of --stack NAME: pass --stack', {
      exitCode: EXIT_CODES.usage,
    });
  }
}

/**
 * The `flink-watchdog` program. Every action resolves to an exit code ({@link EXIT_CODES}); commander's own errors
 * (unknown command or option, missing or bad value) are turned into {@link CommanderError}s by `exitOverride`.
 */
function buildProgram(setCode: (code: number) => void): Command {
  const program = new Command()
    .name('flink-watchdog')
    .description('Detects and recovers Amazon Managed Service for Apache Flink failure modes by policy.')
    .version(pkg.version)
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', EXIT_CODES_HELP)
    // Global options go before the command too (`flink-watchdog --region eu-west-1 status`), like the AWS CLI's:
    // the program parses those before the command's name, the command those after it (the command's win).
    .enablePositionalOptions();
  stackOptions(awsOptions(program, 'the command’s documented JSON'));
  program.hook('preAction', (_program, command) => applyGlobalOptions(program, command));

  /** Runs a command: applies the output options, maps thrown usage and stack errors to their exit codes. */
  const run =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
    async (...args: A): Promise<void> => {
      try {
        setCode(await fn(...args));
      } catch (e) {
        if (e instanceof UsageError) {
          console.error(formatProblem(e));
          setCode(EXIT_CODES.usage);
        } else if (e instanceof StackOutputsError) {
          console.error(formatProblem(e));
          setCode(e.usage ? EXIT_CODES.usage : EXIT_CODES.error);
        } else {
          throw e;
        }
      }
    };

  program
    .command('drill')
    .description('Run drill scenarios on the embedded MSF + CloudWatch emulator (no AWS account needed)')
    .argument(
      '[scenario...]',
      'scenario names, or paths to scenario .json files (default: every scenario in sandbox/scenarios)',
    )
    .addOption(
      new Option('--output <format>', 'output format: table (timelines and a summary, the default) or json')
        .choices(DRILL_OUTPUT_FORMATS)
        .helpGroup(GLOBAL),
    )
    .addOption(new Option('--json', 'same as --output json: print {scenarios: [...]}').helpGroup(GLOBAL))
    .addOption(
      new Option('--no-color', 'no ANSI colours (also NO_COLOR=1, or stdout not a terminal)').helpGroup(GLOBAL),
    )
    .option('--report <file>', 'also write a self-contained HTML report (summary, charts, notifications) to FILE')
    .option('--verbose', "print each scenario's full timeline as it happens (default: one line per event that matters)")
    .action(
      run(async (names: string[], opts: OutputOptions & { report?: string; verbose?: boolean }) => {
        const output = applyOutputOptions(opts);
        if (output === 'text')
          throw new UsageError('drill --output: expected table or json (drill has no text output)');
        const { drillCommand } = await import('./drill.ts');
        const report = {
          ...(opts.report === undefined ? {} : { report: opts.report }),
          verbose: opts.verbose === true,
        };
        return drillCommand(names, output === 'json' ? { json: true, ...report } : report);
      }),
    );

  program
    .command('sandbox')
    .description(
      'Run the watchdog on the MSF + CloudWatch emulator in the foreground (with --scenario; its timeline replays in virtual time), for flink-watchdog, any AWS SDK or the AWS CLI',
    )
    .option(
      '--scenario <name>',
      'load the applications and faults of a drill scenario (a name, or a path to its .json file)',
    )
    .option(
      '--speed <factor>',
      'virtual seconds per wall-clock second, 0 to 3600; 0 starts the clock paused (drive it with POST /sandbox/clock)',
      '1',
    )
    .option(
      '--start <iso8601>',
      'virtual start time, e.g. 2026-03-02T14:00:00Z (default: now; with --scenario, its own)',
    )
    .option('--metrics-delay <seconds>', 'MSF datapoints stored this long after each minute ends, 0 to 3600')
    .option('--alarm-evaluation-offset <seconds>', 'alarms evaluated this long after each minute boundary, 0 to 59')
    .option('--no-watchdog', 'the emulator only: no watchdog, ledger, topics or timeline replay (with --scenario)')
    .option('--log-requests', 'print each API call served: service, operation, HTTP status')
    .action(
      run(async (opts: SandboxOptions) => {
        const { sandboxCommand } = await import('./sandbox.ts');
        return sandboxCommand(opts);
      }),
    );

  awsOptions(
    program
      .command('drift')
      .description(
        'Compare what each watched MSF application runs with its desired state (watchdog config, Terraform state), ' +
          "in Terraform's terms. Exit code 0: no drift, 2: drift found, 1: error or not compared, 64: usage error " +
          '(like terraform plan -detailed-exitcode)',
      )
      .option('--app <name>', 'only this watched application')
      .option(
        '--tfstate <source...>',
        "Terraform states: local paths (a .tfstate, `terraform state pull` or `terraform show -json` output), - for stdin, or s3://BUCKET/KEY (replace the config's drift.terraformState)",
      )
      .option('--show-values', 'print the values on both sides, except those the state marks sensitive')
      .option('--config <path>', CONFIG_HELP),
    'print {applications: [DriftReport...], notCompared: [...], problems: [...]}',
  ).action(
    run(
      async (
        opts: OutputOptions & AwsOptions & { app?: string; tfstate?: string[]; config?: string; showValues?: boolean },
      ) => {
        const output = applyOutputOptions(opts);
        const aws = awsClientConfig(opts);
        const [{ driftCommand }, { MsfAdapter }] = await Promise.all([
          import('./drift.ts'),
          import('#shared/adapters/msf.ts'),
        ]);
        return driftCommand({ ...opts, json: output === 'json' }, { msf: new MsfAdapter({ clientConfig: aws }) });
      },
    ),
  );

  stackOptions(
    awsOptions(
      program
        .command('status')
        .description(
          'One line per watched MSF application: status, version, restarts in the last window, open incident, drift',
        )
        .option('--config <path>', CONFIG_HELP)
        .option('--tfstate <source...>', 'Terraform state files for the drift column: local paths or s3://BUCKET/KEY')
        .option(
          '--table <name>',
          'the ledger DynamoDB table, for the open incident column (default: the stack’s, else $LEDGER_TABLE_NAME)',
        ),
      'print {applications: [...], problems: [...]}',
    ),
  ).action(
    run(async (opts: StatusOptions) => {
      applyOutputOptions(opts);
      const { statusCommand } = await import('./status.ts');
      return statusCommand(opts);
    }),
  );

  stackOptions(
    awsOptions(
      program
        .command('history')
        .description('Incidents and the MSF calls recorded for them in the ledger, newest first')
        .option('--app <name>', 'only incidents of this MSF application')
        .option('--table <name>', 'the ledger DynamoDB table (default: the stack’s, else $LEDGER_TABLE_NAME)')
        .option('--limit <n>', 'at most this many incidents', '20'),
      'print {incidents: [Incident...], problems: [...]} (property values in action inputs masked)',
    ),
  ).action(
    run(async (opts: HistoryOptions) => {
      applyOutputOptions(opts);
      const { historyCommand } = await import('./history.ts');
      return historyCommand(opts);
    }),
  );

  stackOptions(
    awsOptions(
      program
        .command('remediate')
        .description(
          'Plan a runbook command against the live application (dry run), or publish it to the watchdog command ' +
            'topic with --execute and follow the application status. Exit code 0: would act / target reached, ' +
            '2: dry run would be rejected, 1: error, rejected or timeout, 64: usage error',
        )
        .argument('<app>', 'MSF application name')
        .requiredOption(
          '--action <command>',
          'force-stop | restart-from-snapshot | rollback | start | stop | snapshot | pause-automation | resume-automation',
        )
        .option('--snapshot <name>', 'restart-from-snapshot only: latest, last-known-good or a snapshot name')
        .option('--reason <text>', 'why (required with --execute)')
        .option(
          '--requested-by <who>',
          'who asks, recorded on the incident (default: your identity, STS GetCallerIdentity Arn)',
        )
        .option('--execute', 'publish the command (default: dry run, nothing changed or published)')
        .option('--topic <arn>', 'the watchdog SNS command topic (default: the stack’s, else $COMMAND_TOPIC_ARN)')
        .option('--config <path>', CONFIG_HELP)
        .option(
          '--table <name>',
          'the ledger DynamoDB table, for the lock guard and the answer (default: the stack’s, else $LEDGER_TABLE_NAME)',
        )
        .option('--poll-seconds <s>', 'seconds between DescribeApplication calls while waiting', '5')
        .option('--timeout-minutes <m>', 'how long --execute waits for the target status', '20'),
      'print {plan, published, progress, problems} (progress lines on stderr)',
    ),
  ).action(
    run(async (app: string, opts: RemediateOptions) => {
      applyOutputOptions(opts);
      const { remediateCommand } = await import('./remediate.ts');
      return remediateCommand(app, opts);
    }),
  );

  for (const name of ['approve', 'reject'] as const) {
    const approve = name === 'approve';
    stackOptions(
      awsOptions(
        program
          .command(name)
          .description(
            `${approve ? 'Approve' : 'Reject'} the remediation an incident awaits (approve mode): publish ${name} to the watchdog ` +
              `command topic as yourself: the approver recorded is always your STS caller identity (GetCallerIdentity Arn; ` +
              `there is no --requested-by), with the SNS MessageId${approve ? '; the watchdog checks every guard again before acting' : '; the incident is escalated, no MSF call'}. ` +
              'Exit code 0: published, 1: refused or failed, 64: usage error',
          )
          .argument('<incident>', 'the incident id (in the Slack message, or flink-watchdog history)')
          .option(
            '--reason <text>',
            approve ? 'why (optional), recorded on the incident' : 'why (required), recorded on the incident and told',
          )
          .option('--topic <arn>', 'the watchdog SNS command topic (default: the stack’s, else $COMMAND_TOPIC_ARN)')
          .option(
            '--table <name>',
            'the ledger DynamoDB table, to check the incident first and see the answer recorded (default: the stack’s, else $LEDGER_TABLE_NAME)',
          )
          .option('--wait-seconds <s>', 'how long to wait for the answer to be recorded, 0 to not wait', '30'),
        'print {command, incidentId, application, action, published, outcome, approvalState, answeredBy, notes, problems}',
      ),
    ).action(
      run(async (incident: string, opts: ApproveOptions) => {
        applyOutputOptions(opts);
        const { approveCommand } = await import('./approve.ts');
        return approveCommand(name, incident, opts);
      }),
    );
  }

  awsOptions(
    program
      .command('init')
      .description(
        'Write a watchdog config from what runs: every MSF application of the account and Region (ListApplications, ' +
          'their tags), in observe mode; then say what to do next',
      )
      .option('--tfstate <source...>', 'Terraform state files (local paths or s3://BUCKET/KEY) to compare drift with')
      .option('--tag <key=value...>', 'only applications carrying this tag (repeat for several: all must match)')
      .option('--out <file>', 'where to write the config', 'flink-watchdog.config.json')
      .option('--force', 'overwrite --out when it exists'),
    'print {file, written, applications, skipped, problems, nextSteps}',
  ).action(
    run(async (opts: InitOptions) => {
      applyOutputOptions(opts);
      const { initCommand } = await import('./init.ts');
      return initCommand(opts);
    }),
  );

  outputOptions(
    program
      .command('validate')
      .description(
        'Check a watchdog config offline (no AWS call): JSON syntax with line and column, then every field, with ' +
          'the same messages as cdk synth and the FlinkWatchdog construct',
      )
      .option('--config <path>', CONFIG_HELP),
    'print {source, valid, applications, remediate, observe, problems}',
  ).action(
    run(async (opts: ValidateOptions) => {
      applyOutputOptions(opts);
      const { validateCommand } = await import('./validate.ts');
      return validateCommand(opts);
    }),
  );

  return program;
}

/**
 * Runs `flink-watchdog` with `argv` (the arguments after the program name, e.g. `['status', '--region',
 * 'eu-west-1']`).
 * @returns the exit code ({@link EXIT_CODES}): commander's usage errors become 64, `--help` and `--version` 0, an
 *   unexpected error 1 (its message on stderr).
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  let code: number = EXIT_CODES.ok;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage;
    console.error(formatProblem({ message: e instanceof Error ? e.message : String(e) }));
    return EXIT_CODES.error;
  }
}
