/**
 * What every `flink-watchdog` command shares, as the AWS CLI's commands share one session and one formatter: the
 * exit codes, the global options (`--region`, `--profile`, `--output`, `--json`, `--no-color`), the AWS client
 * settings built from them, the watchdog config loader, problems and how they are printed, the caller identity
 * (STS GetCallerIdentity) and the watchdog's resources read from a CloudFormation stack's Outputs (`--stack`).
 *
 * This module imports no AWS SDK client statically: STS and CloudFormation are loaded by dynamic `import()` when a
 * command needs them, so `flink-watchdog validate` and `--help` start without loading the SDK.
 */
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { S3Client } from '@aws-sdk/client-s3';
import type { STSClient } from '@aws-sdk/client-sts';
import { systemClock } from '#shared/adapters/system-clock.ts';
import type { Clock } from '#shared/clock.ts';
import { ConfigError, parseConfig, type WatchdogConfig } from '#shared/config/schema.ts';
import type { TerraformReader } from '#shared/desired/sources.ts';
import type { Ledger } from '#shared/ports/ledger.ts';
import { red, setColor } from './format.ts';

// ---------------------------------------------------------------------------------------------------------------
// Exit codes

/**
 * Exit codes of every command: 0 success; 1 an error (a file, a setting, an AWS call); 2 the command found what it
 * looks for (drift found, a dry run the watchdog would reject); 64 a usage error (unknown command, option or scenario, a
 * missing or bad option value), EX_USAGE of BSD sysexits. An error wins over "found", a usage error over both.
 */
export const EXIT_CODES = { ok: 0, error: 1, found: 2, usage: 64 } as const;
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** The exit code table printed at the end of `flink-watchdog --help`. */
export const EXIT_CODES_HELP = `
Exit codes (the same for every command):
  0   success
  1   error: a file, a setting or an AWS call failed (stderr says which)
  2   found: drift found (drift), the dry run would be rejected (remediate)
  64  usage error: unknown command, option or scenario, missing or bad option value

Global options of the commands that call AWS: --region, --profile, --output json|table|text
(--json = --output json), --no-color (also NO_COLOR, and no colour when stdout is not a terminal), before or
after the command (flink-watchdog --region eu-west-1 status = flink-watchdog status --region eu-west-1).
Credentials and Region come from the AWS SDK's default chain (AWS_PROFILE, AWS_REGION, ~/.aws/config and
~/.aws/credentials, SSO, instance roles); --profile and --region override them for the command.
--stack NAME (status, history, remediate) reads the ledger table and the command topic from the Outputs of the
CloudFormation stack holding the watchdog; --table and --topic win over it.`;

/** A usage error: the command line is wrong. The CLI prints `error: MESSAGE` and exits {@link EXIT_CODES}.usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

// ---------------------------------------------------------------------------------------------------------------
// Problems

/** Something that kept a command from giving a complete answer. */
export interface CliProblem {
  /**
   * `usage`: an option is missing or has a bad value (exit 64); `config`: the watchdog config could not be read or
   * does not validate; `desired-state`: a Terraform state; `aws`: an AWS call failed, or an application is not in
   * this account and Region; `stack`: the CloudFormation stack or one of its Outputs (exit 1 for all but `usage`).
   */
  kind: 'usage' | 'config' | 'desired-state' | 'aws' | 'stack';
  /** The flag, the config file, the Terraform state, the stack, or the service (`msf`, `cloudwatch`, `ledger`). */
  location: string;
  /** The application concerned, or the Terraform resource address. */
  address?: string;
  /** A sentence naming the file, option or application, what is wrong and how to fix it. */
  message: string;
}

/** A problem for stderr: `error: MESSAGE`. */
export function formatProblem(p: Pick<CliProblem, 'message'>): string {
  return `${red('error:')} ${p.message}`;
}

/**
 * The exit code for a command's problems: 64 when any is a usage problem, else 1 when there is any, else `otherwise`.
 */
export function exitCodeOf(problems: readonly Pick<CliProblem, 'kind'>[], otherwise: number = EXIT_CODES.ok): number {
  if (problems.some((p) => p.kind === 'usage')) return EXIT_CODES.usage;
  return problems.length > 0 ? EXIT_CODES.error : otherwise;
}

/** A `usage` problem for `flag` (e.g. `--limit`). */
export function usageProblem(flag: string, message: string): CliProblem {
  return { kind: 'usage', location: flag, message };
}

/** A hint for the usual causes of a first call failing: no Region, no credentials, no endpoint. */
function hint(message: string): string {
  if (/region is missing/i.test(message)) return ' (pass --region, set AWS_REGION, or use a profile with a region)';
  if (/credential/i.test(message)) {
    return ' (no AWS credentials found by the default credential chain: pass --profile, or set AWS_PROFILE)';
  }
  if (/ECONNREFUSED/.test(message)) return ' (is AWS_ENDPOINT_URL pointing at a running `flink-watchdog sandbox`?)';
  return '';
}

/**
 * An `aws` problem from a failed call. An error carrying `operation` and `code` (MsfApiError) names them; messages
 * get a hint for a missing Region, missing credentials or a refused connection.
 */
export function awsProblem(location: string, application: string | undefined, e: unknown): CliProblem {
  const err = e as { operation?: unknown; code?: unknown; cause?: unknown; message?: unknown } | undefined;
  if (application === undefined && typeof err?.operation === 'string' && typeof err.code === 'string') {
    const cause = err.cause instanceof Error ? err.cause.message : String(err.message);
    return { kind: 'aws', location, message: `MSF ${err.operation} failed: ${err.code}: ${cause}${hint(cause)}` };
  }
  const message = e instanceof Error ? e.message + hint(e.message) : String(e);
  const named = application === undefined || message.includes(application) ? message : `${application}: ${message}`;
  return { kind: 'aws', location, ...(application === undefined ? {} : { address: application }), message: named };
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Output and colour

/** `--output` values, as the AWS CLI names them (yaml is not offered). */
export const OUTPUT_FORMATS = ['table', 'json', 'text'] as const;
/**
 * `table`: readable, aligned, coloured on a terminal (the default); `json`: one JSON document on stdout (the
 * command's documented `...Json` shape); `text`: tab-separated fields, one record per line, no header, no colour,
 * for `cut`/`awk`.
 */
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The output and colour options every command takes (commander's parsed flags). */
export interface OutputOptions {
  /** `--output json|table|text`. @default table */
  output?: string;
  /** `--json`: a synonym of `--output json` (kept from earlier releases). */
  json?: boolean;
  /** false with `--no-color`. @default true */
  color?: boolean;
}

/**
 * The output format of `--output` / `--json`.
 * @throws UsageError for an unknown `--output`, or `--json` with another `--output`.
 */
export function resolveOutput(opts: OutputOptions): OutputFormat {
  const output = opts.output ?? (opts.json ? 'json' : 'table');
  if (!(OUTPUT_FORMATS as readonly string[]).includes(output)) {
    throw new UsageError(`--output ${output}: expected one of ${OUTPUT_FORMATS.join(', ')}`);
  }
  if (opts.json && output !== 'json') {
    throw new UsageError(`--json means --output json: it cannot be combined with --output ${output}`);
  }
  return output as OutputFormat;
}

/**
 * Whether to colour stdout: not with `--no-color`, not when NO_COLOR is set to anything but an empty string
 * (https://no-color.org), not when stdout is not a terminal, and not for `--output json|text`.
 */
export function colorWanted(
  opts: Pick<OutputOptions, 'color'>,
  output: OutputFormat,
  stream: { isTTY?: boolean } = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (opts.color === false || output !== 'table') return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true;
}

/** Settles the output format and switches colour on or off for the whole process (cli/format.ts). */
export function applyOutputOptions(opts: OutputOptions): OutputFormat {
  const output = resolveOutput(opts);
  setColor(colorWanted(opts, output));
  return output;
}

/** One tab-separated line of `--output text`: tabs and newlines inside a field become spaces, null/undefined `-`. */
export function textLine(fields: ReadonlyArray<string | number | boolean | null | undefined>): string {
  return fields.map((f) => (f === null || f === undefined ? '-' : String(f).replace(/[\t\r\n]+/g, ' '))).join('\t');
}

// ---------------------------------------------------------------------------------------------------------------
// AWS client settings

/** `--region` and `--profile` (commander's parsed flags). */
export interface AwsOptions {
  /** AWS Region of every call, e.g. eu-west-1. @default the SDK's chain: AWS_REGION, then the profile's region */
  region?: string;
  /** Named profile of ~/.aws/config and ~/.aws/credentials. @default AWS_PROFILE, else `default` */
  profile?: string;
}

/** Settings every AWS SDK v3 client of a command gets (`region`, `profile` of the client configuration). */
export interface AwsClientConfig {
  region?: string;
  profile?: string;
}

/** An AWS Region name such as eu-west-1 or us-gov-west-1. */
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d+$/;
/** A profile name as ~/.aws/config accepts it (no whitespace, no brackets). */
const PROFILE = /^[^\s[\]]{1,128}$/;

/**
 * The client settings of `--region` / `--profile`. With `profile`, the SDK reads credentials (and the Region, when
 * `--region` and AWS_REGION are absent) from that profile and ignores AWS_ACCESS_KEY_ID, as the AWS CLI does.
 * @throws UsageError for a Region or profile name that cannot be one.
 */
export function awsClientConfig(opts: AwsOptions): AwsClientConfig {
  if (opts.region !== undefined && !REGION.test(opts.region)) {
    throw new UsageError(`--region ${opts.region}: expected an AWS Region name such as eu-west-1`);
  }
  if (opts.profile !== undefined && !PROFILE.test(opts.profile)) {
    throw new UsageError(`--profile ${JSON.stringify(opts.profile)}: expected a profile name of ~/.aws/config`);
  }
  return {
    ...(opts.region === undefined ? {} : { region: opts.region }),
    ...(opts.profile === undefined ? {} : { profile: opts.profile }),
  };
}

/**
 * The caller's identity ARN (STS GetCallerIdentity `Arn`, e.g. `arn:aws:sts::123456789012:assumed-role/Ops/alice`),
 * the default of `remediate --requested-by`.
 * @throws the SDK's error (no credentials, expired token, ...).
 */
export async function callerIdentityArn(aws: AwsClientConfig, client?: STSClient): Promise<string> {
  const { STSClient: Client, GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
  const sts = client ?? new Client(aws);
  try {
    const out = await sts.send(new GetCallerIdentityCommand({}));
    if (!out.Arn) throw new Error('STS GetCallerIdentity returned no Arn');
    return out.Arn;
  } finally {
    if (!client) sts.destroy();
  }
}

/** The ledger (DynamoDB table `tableName`) through a DynamoDB client of `--region` / `--profile`. */
export async function ledgerFor(tableName: string, aws: AwsClientConfig): Promise<Ledger> {
  const [{ DynamoDBClient }, { DynamoDbLedger }] = await Promise.all([
    import('@aws-sdk/client-dynamodb'),
    import('#shared/adapters/dynamodb-ledger.ts'),
  ]);
  return new DynamoDbLedger({ tableName, client: new DynamoDBClient(aws) });
}

/**
 * A Terraform state reader whose `s3://` sources are read with an S3 client of `--region` / `--profile` (created on
 * the first `s3://` source, following region redirects: the state bucket may be in another Region).
 */
export function terraformReader(aws: AwsClientConfig): TerraformReader {
  let s3: Promise<S3Client> | undefined;
  return async (source) => {
    const { readTerraformState } = await import('#shared/desired/terraform-source.ts');
    if (!source.startsWith('s3://')) return readTerraformState(source);
    s3 ??= import('@aws-sdk/client-s3').then(
      ({ S3Client: Client }) => new Client({ ...aws, followRegionRedirects: true }),
    );
    return readTerraformState(source, { s3: await s3 });
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The clock

/** The variable `flink-watchdog sandbox` exports: its clock's URL (`http://127.0.0.1:PORT/sandbox/clock`). */
export const CLOCK_URL_VARIABLE = 'FLINK_WATCHDOG_CLOCK_URL';

/**
 * The clock a command reads "now" from: the wall clock, or, when FLINK_WATCHDOG_CLOCK_URL is set (the sandbox's
 * export lines set it), the sandbox's virtual clock: read once with `GET` (body `{now: ISO-8601, speed}`), then run
 * on at its speed (virtual seconds per wall second) from that reading. A clock moved by someone else meanwhile
 * (`POST /sandbox/clock`) is not seen until the next command.
 * @throws Error naming the variable when the sandbox clock cannot be read (sandbox stopped: unset the variable).
 */
export async function commandClock(env: NodeJS.ProcessEnv = process.env): Promise<Clock> {
  const url = env[CLOCK_URL_VARIABLE];
  if (url === undefined || url === '') return systemClock;
  let state: { now?: unknown; speed?: unknown };
  try {
    const answer = await fetch(url);
    state = (await answer.json()) as typeof state;
  } catch (e) {
    throw new Error(
      `${CLOCK_URL_VARIABLE}=${url}: cannot read the sandbox clock (${(e as Error).message}); start \`flink-watchdog sandbox\` or unset ${CLOCK_URL_VARIABLE}`,
      { cause: e },
    );
  }
  const virtualMs = typeof state.now === 'string' ? Date.parse(state.now) : Number.NaN;
  const speed = typeof state.speed === 'number' ? state.speed : Number.NaN;
  if (!Number.isFinite(virtualMs) || !Number.isFinite(speed)) {
    throw new Error(
      `${CLOCK_URL_VARIABLE}=${url}: expected {"now": ISO-8601, "speed": number}, got ${JSON.stringify(state)}`,
    );
  }
  const wallMs = performance.now();
  return { now: () => virtualMs + Math.floor((performance.now() - wallMs) * speed) };
}

// ---------------------------------------------------------------------------------------------------------------
// The watchdog config

/** The config file looked for in the working directory when neither `--config` nor the environment names one. */
export const DEFAULT_CONFIG_FILE = 'flink-watchdog.config.json';

/** A loaded watchdog config and where it came from (a path relative to the working directory, or a variable name). */
export type LoadedConfig =
  | { ok: true; config: WatchdogConfig; source: string }
  | { ok: false; source: string; problem: CliProblem };

/** A path relative to the working directory when it lies below it, else absolute. */
export function displayPath(file: string): string {
  const rel = relative(process.cwd(), resolve(file));
  return rel === '' || rel.startsWith('..') ? resolve(file) : rel;
}

/**
 * Where the config is: `path` (`--config`), else `WATCHDOG_CONFIG` (the JSON itself), else `WATCHDOG_CONFIG_PATH`,
 * else ./flink-watchdog.config.json. There is no fallback to an example: a missing file is a problem that says how to
 * make one (`flink-watchdog init`).
 */
export function configLocation(
  path: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): { kind: 'env'; name: 'WATCHDOG_CONFIG'; text: string } | { kind: 'file'; file: string } {
  if (path === undefined && env.WATCHDOG_CONFIG !== undefined) {
    return { kind: 'env', name: 'WATCHDOG_CONFIG', text: env.WATCHDOG_CONFIG };
  }
  return { kind: 'file', file: path ?? env.WATCHDOG_CONFIG_PATH ?? DEFAULT_CONFIG_FILE };
}

/** Reads the config text of {@link configLocation}; a missing or unreadable file is a `config` problem. */
export function readConfigText(
  path: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): { ok: true; text: string; source: string } | { ok: false; source: string; problem: CliProblem } {
  const where = configLocation(path, env);
  if (where.kind === 'env') return { ok: true, text: where.text, source: where.name };
  const source = displayPath(where.file);
  try {
    return { ok: true, text: readFileSync(where.file, 'utf8'), source };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'a directory' : (code ?? String(e));
    const fix =
      code === 'ENOENT'
        ? path === undefined && env.WATCHDOG_CONFIG_PATH === undefined
          ? `: pass --config PATH, set WATCHDOG_CONFIG_PATH, or write one from what runs with \`flink-watchdog init\``
          : ': check the path'
        : '';
    return {
      ok: false,
      source,
      problem: {
        kind: 'config',
        location: source,
        message: `watchdog config ${source}: cannot read it (${why})${fix}`,
      },
    };
  }
}

/**
 * Finds, parses and validates the watchdog config ({@link configLocation}) with `parseConfig`, the same validation as
 * the construct and `flink-watchdog validate`.
 * @returns the config, or a `config` problem naming the file (unreadable, not JSON, or each invalid field).
 */
export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const read = readConfigText(path, env);
  if (!read.ok) return read;
  const { text, source } = read;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const message = `watchdog config ${source}: not readable JSON (${(e as Error).message}); \`flink-watchdog validate --config ${source}\` shows the line and column`;
    return { ok: false, source, problem: { kind: 'config', location: source, message } };
  }
  try {
    return { ok: true, config: parseConfig(raw, source), source };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const message = `invalid watchdog configuration in ${source}:\n${e.issues.map((i) => `  - ${i}`).join('\n')}`;
    return { ok: false, source, problem: { kind: 'config', location: source, message } };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The watchdog's resources from a CloudFormation stack's Outputs

/**
 * The Outputs the FlinkWatchdog construct exports, by the end of their OutputKey: `<construct id, letters and
 * digits only><Name>`, e.g. `WatchdogLedgerTableName` for `new FlinkWatchdog(stack, 'Watchdog', ...)`.
 */
export const WATCHDOG_OUTPUT_NAMES = [
  'LedgerTableName',
  'NotificationTopicArn',
  'CommandTopicArn',
  'RemediationStateMachineArn',
  'SweepStateMachineArn',
  'DashboardName',
  'Instance',
] as const;
export type WatchdogOutputName = (typeof WATCHDOG_OUTPUT_NAMES)[number];

/** One watchdog's Outputs in a stack (CloudFormation DescribeStacks `Stacks[0].Outputs`). */
export interface WatchdogStackOutputs {
  /** The stack name as given to `--stack`. */
  stackName: string;
  /** The OutputKey prefix: the construct id, letters and digits only (`Watchdog`); empty when the keys have none. */
  prefix: string;
  /** OutputValue by name; a name is absent when the stack does not export it (an older version, or no runbooks). */
  values: Partial<Record<WatchdogOutputName, string>>;
}

/** Raised when the stack cannot be read or does not hold what a command needs; the message says how to fix it. */
export class StackOutputsError extends Error {
  override readonly name = 'StackOutputsError';
  /** true when the user must add or change an option (`--watchdog`): exit 64 instead of 1. */
  readonly usage: boolean;
  constructor(message: string, options: { usage?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.usage = options.usage ?? false;
  }
}

/**
 * Groups a stack's Outputs by watchdog: each OutputKey ending in a {@link WATCHDOG_OUTPUT_NAMES} name (optionally
 * followed by the 8-character hash CDK appends to nested logical ids) is split into its prefix and name. A prefix
 * counts as a watchdog only when it has both `<prefix>LedgerTableName` and `<prefix>Instance` (the construct always
 * exports both), so other constructs' Outputs that merely end the same way (`OpsDashboardName`, `BastionInstance`)
 * are ignored.
 * @returns prefix → values, in the order first seen.
 */
export function watchdogOutputsByPrefix(
  outputs: ReadonlyArray<{ OutputKey?: string; OutputValue?: string }>,
): Map<string, Partial<Record<WatchdogOutputName, string>>> {
  const pattern = new RegExp(`^([A-Za-z0-9]*?)(${WATCHDOG_OUTPUT_NAMES.join('|')})(?:[0-9A-F]{8})?$`);
  const found = new Map<string, Partial<Record<WatchdogOutputName, string>>>();
  for (const o of outputs) {
    const m = o.OutputKey ? pattern.exec(o.OutputKey) : null;
    if (!m || o.OutputValue === undefined) continue;
    const prefix = m[1] ?? '';
    const values = found.get(prefix) ?? {};
    values[m[2] as WatchdogOutputName] = o.OutputValue;
    found.set(prefix, values);
  }
  for (const [prefix, values] of found) {
    if (values.LedgerTableName === undefined || values.Instance === undefined) found.delete(prefix);
  }
  return found;
}

/**
 * The watchdog of `stackName` to use: the only one, or the one `watchdog` names (`--watchdog PREFIX`).
 * @throws StackOutputsError when the stack exports no watchdog Output (deployed by a version before the Outputs:
 *   upgrade it), or holds several and `watchdog` names none of them (usage: the message lists the prefixes).
 */
export function selectWatchdog(
  stackName: string,
  outputs: ReadonlyArray<{ OutputKey?: string; OutputValue?: string }>,
  watchdog?: string,
): WatchdogStackOutputs {
  const byPrefix = watchdogOutputsByPrefix(outputs);
  if (byPrefix.size === 0) {
    throw new StackOutputsError(
      `stack ${stackName} has no flink-watchdog Outputs (no pair of OutputKeys <prefix>LedgerTableName and <prefix>Instance): it was deployed by an earlier flink-watchdog version, or holds no watchdog. Upgrade it (cdk deploy with this version), or pass the names (--table, --topic)`,
    );
  }
  const list = [...byPrefix.keys()].map((p) => (p === '' ? '(empty prefix)' : p)).join(', ');
  if (watchdog !== undefined) {
    const values = byPrefix.get(watchdog);
    if (!values) {
      throw new StackOutputsError(
        `--watchdog ${watchdog}: stack ${stackName} holds no such watchdog (it holds ${list})`,
        {
          usage: true,
        },
      );
    }
    return { stackName, prefix: watchdog, values };
  }
  const [first, ...others] = byPrefix;
  if (!first || others.length > 0) {
    throw new StackOutputsError(
      `stack ${stackName} holds ${byPrefix.size} watchdogs (${list}): pass --watchdog PREFIX to choose one`,
      { usage: true },
    );
  }
  return { stackName, prefix: first[0], values: first[1] };
}

/**
 * Reads `stackName`'s Outputs (CloudFormation DescribeStacks) and selects the watchdog ({@link selectWatchdog}).
 * @param client a CloudFormation client to use (tests); @default one with `aws`
 * @throws StackOutputsError for a stack that does not exist in this account and Region, a failed call, or no
 *   (unique) watchdog in it.
 */
export async function readStackOutputs(
  stackName: string,
  options: { watchdog?: string; aws?: AwsClientConfig; client?: CloudFormationClient } = {},
): Promise<WatchdogStackOutputs> {
  const { CloudFormationClient: Client, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const cfn = options.client ?? new Client(options.aws ?? {});
  try {
    const out = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = out.Stacks?.[0];
    if (!stack) throw new StackOutputsError(`stack ${stackName}: DescribeStacks returned no stack`);
    return selectWatchdog(stackName, stack.Outputs ?? [], options.watchdog);
  } catch (e) {
    if (e instanceof StackOutputsError) throw e;
    const err = e as { name?: string; message?: string };
    if (err.name === 'ValidationError' && /does not exist/i.test(err.message ?? '')) {
      throw new StackOutputsError(
        `stack ${stackName} does not exist in this account and Region (CloudFormation DescribeStacks): check --stack, --region and --profile`,
        { cause: e },
      );
    }
    const message = e instanceof Error ? e.message : String(e);
    throw new StackOutputsError(`stack ${stackName}: DescribeStacks failed: ${message}${hint(message)}`, { cause: e });
  } finally {
    if (!options.client) cfn.destroy();
  }
}

/** What each Output is, for the error when a command needs one the stack lacks. */
const OUTPUT_MEANING: Record<WatchdogOutputName, string> = {
  LedgerTableName: 'the ledger DynamoDB table',
  NotificationTopicArn: 'the notification SNS topic',
  CommandTopicArn: 'the runbook command SNS topic',
  RemediationStateMachineArn: 'the remediation state machine',
  SweepStateMachineArn: 'the sweep state machine',
  DashboardName: 'the CloudWatch dashboard',
  Instance: 'the watchdog instance id',
};

/**
 * The value of Output `name` of a selected watchdog.
 * @throws StackOutputsError naming the missing Output (OutputKey `<prefix><name>`) and the fix: upgrade the stack, or
 *   for CommandTopicArn configure `runbooks` and deploy.
 */
export function requireOutput(w: WatchdogStackOutputs, name: WatchdogOutputName, flag: string): string {
  const value = w.values[name];
  if (value !== undefined) return value;
  const fix =
    name === 'CommandTopicArn'
      ? 'the watchdog has no command topic: add runbooks.publishers to its config and deploy it'
      : 'it was deployed by an earlier flink-watchdog version: upgrade it (cdk deploy with this version)';
  throw new StackOutputsError(
    `stack ${w.stackName} has no Output ${w.prefix}${name} (${OUTPUT_MEANING[name]}): ${fix}; or pass ${flag}`,
  );
}

/** `--stack` and `--watchdog` (commander's parsed flags). */
export interface StackOptions {
  /** CloudFormation stack holding the watchdog; its Outputs name the ledger table, topics, state machines, dashboard. */
  stack?: string;
  /** OutputKey prefix (the construct id) when the stack holds several watchdogs. */
  watchdog?: string;
}

/**
 * Reads the stack of `--stack` when given; `--watchdog` without `--stack` is a usage error.
 * @returns undefined without `--stack`.
 * @throws StackOutputsError (see {@link readStackOutputs}), UsageError.
 */
export async function stackOf(
  opts: StackOptions,
  aws: AwsClientConfig,
  client?: CloudFormationClient,
): Promise<WatchdogStackOutputs | undefined> {
  if (opts.stack === undefined) {
    if (opts.watchdog !== undefined)
      throw new UsageError('--watchdog PREFIX chooses a watchdog of --stack NAME: pass --stack');
    return undefined;
  }
  return readStackOutputs(opts.stack, {
    ...(opts.watchdog === undefined ? {} : { watchdog: opts.watchdog }),
    aws,
    ...(client ? { client } : {}),
  });
}

/**
 * A resource name by precedence: the explicit flag, else the stack's Output (when `--stack` was given; a missing
 * Output throws when `required`), else the environment variable.
 * @throws StackOutputsError when `required` and the stack lacks the Output.
 */
export function pickResource(
  flagValue: string | undefined,
  stack: WatchdogStackOutputs | undefined,
  output: WatchdogOutputName,
  flag: string,
  envValue: string | undefined,
  required: boolean,
): string | undefined {
  if (flagValue !== undefined) return flagValue;
  if (stack) return required ? requireOutput(stack, output, flag) : stack.values[output];
  return envValue;
}

/** A StackOutputsError or UsageError as a problem (usage → exit 64, else 1); anything else is rethrown. */
export function stackProblem(e: unknown, stackName: string | undefined): CliProblem {
  if (e instanceof UsageError) return usageProblem('--watchdog', e.message);
  if (e instanceof StackOutputsError) {
    return { kind: e.usage ? 'usage' : 'stack', location: stackName ?? '--stack', message: e.message };
  }
  throw e;
}
