import { existsSync, readFileSync, writeSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError, parseConfig, runtimeEnvironmentOf, type WatchdogConfig } from '#shared/config/schema.ts';
import { packageRoot } from '#shared/package-root.ts';
import { FlinkWatchdogPropsError } from '../errors.ts';
import { WatchdogStack } from '../watchdog-stack.ts';

/**
 * The CDK app. Context:
 * - `configFile`: the watchdog config, relative to the working directory, where `cdk` runs the app: the directory of
 *   cdk.json, the repository root (default `flink-watchdog.config.json`). Without that file synth refuses (exit code 1) and says how to make one, unless `example=true` is given;
 * - `example`: `true` synthesizes `flink-watchdog.config.example.json` (every application in observe mode), to try
 *   the stack without a config of your own (`npx cdk synth -c example=true`);
 * - `runtimeEnvironments`: MSF RuntimeEnvironment per application name, e.g. `{"orders-enrichment":"FLINK-2_2"}`,
 *   merged on top of the config's `applications[].runtimeEnvironment` (which defaults to FLINK-1_20), for the
 *   dashboard's per-application rows (the functions read the runtime from ListApplications): an override for a
 *   one-off synth (`-c runtimeEnvironments='{"orders-enrichment":"FLINK-2_2"}'`); the config file is the place to
 *   keep it;
 * - `stackName`: default `FlinkWatchdog`;
 * - `instanceId`: the watchdog's instance id, 1-32 letters and digits (its alarms are named
 *   `flink-watchdog-<instance>-…`); default the stack name;
 * - `cloudTrailEvents`: `true` adds the rule for MSF API calls seen through CloudTrail (default false).
 * A config that does not validate fails synth (exit code 1, no stack trace) with each bad field named on stderr, e.g.
 * `applications[0].policy.restartLoop.threshold: must be at least 1 (got -1)`, the same lines as
 * `flink-watchdog validate --config FILE` prints.
 * The functions' code is the package's prebuilt `dist/lambda/` (`npm run build`).
 */
/** The package root: the example config ships there. */
const PACKAGE_ROOT = packageRoot(fileURLToPath(import.meta.url));
const DEFAULT_CONFIG_FILE = 'flink-watchdog.config.json';
const EXAMPLE_CONFIG_FILE = 'flink-watchdog.config.example.json';

const app = new App();

/** Writes to stderr and exits 1 (writeSync: process.exit does not wait for an asynchronous stderr, a pipe on macOS). */
function refuse(message: string): never {
  writeSync(2, message.endsWith('\n') ? message : `${message}\n`);
  process.exit(1);
}

function configPath(): string {
  const fromContext = app.node.tryGetContext('configFile') as string | undefined;
  if (fromContext !== undefined) return resolve(fromContext);
  if (String(app.node.tryGetContext('example') ?? 'false') === 'true') return join(PACKAGE_ROOT, EXAMPLE_CONFIG_FILE);
  const real = resolve(DEFAULT_CONFIG_FILE);
  if (existsSync(real)) return real;
  return refuse(
    [
      `error: ${DEFAULT_CONFIG_FILE} not found: the watchdog deploys only the applications a config names.`,
      `  - create ${DEFAULT_CONFIG_FILE} (see ${EXAMPLE_CONFIG_FILE}), or pass -c configFile=PATH;`,
      `  - or run \`flink-watchdog init\` to write one from the applications that run in the account (every one in observe mode);`,
      `  - or pass -c example=true to synthesize ${EXAMPLE_CONFIG_FILE} (every application in observe mode) as it is.`,
    ].join('\n'),
  );
}

/** The `runtimeEnvironments` context as a record, or undefined when not set. */
function runtimeEnvironmentsFromContext(): Record<string, string> | undefined {
  const raw = app.node.tryGetContext('runtimeEnvironments') as unknown;
  if (raw === undefined) return undefined;
  const value = typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw;
  if (typeof value !== 'object' || value === null || Object.values(value).some((v) => typeof v !== 'string')) {
    throw new Error('context runtimeEnvironments: expected an object of application name → RuntimeEnvironment');
  }
  return value as Record<string, string>;
}

const path = configPath();
const source = relative(process.cwd(), path) || path;
let raw: unknown;
try {
  raw = JSON.parse(readFileSync(path, 'utf8'));
} catch (e) {
  refuse(`error: ${source}: not readable JSON (${(e as Error).message})`);
}
let config: WatchdogConfig;
try {
  config = parseConfig(raw, source);
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  refuse(`error: invalid watchdog configuration in ${source}:\n${e.issues.map((i) => `  - ${i}\n`).join('')}`);
}
// The config's runtime environment of every listed application, then the context override on top.
const envs: Record<string, string> = {
  ...Object.fromEntries(config.applications.map((a) => [a.name, runtimeEnvironmentOf(config, a.name)])),
  ...runtimeEnvironmentsFromContext(),
};

/** `-c cloudTrailEvents=true`: also react to MSF API calls seen through CloudTrail (needs a trail). */
const cloudTrailEvents = String(app.node.tryGetContext('cloudTrailEvents') ?? 'false') === 'true';

const instanceId = app.node.tryGetContext('instanceId') as string | undefined;

try {
  new WatchdogStack(app, (app.node.tryGetContext('stackName') as string | undefined) ?? 'FlinkWatchdog', {
    config,
    ...(instanceId !== undefined ? { instanceId: String(instanceId) } : {}),
    runtimeEnvironments: envs,
    cloudTrailEvents,
    description: 'Flink Watchdog: detects and remediates failing Amazon Managed Service for Apache Flink applications',
  });
} catch (e) {
  // Props that cannot work (e.g. no `npm run build` yet): the message says what to do; a stack trace would hide it.
  if (!(e instanceof FlinkWatchdogPropsError)) throw e;
  refuse(`error: ${e.message}`);
}

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
