import type { WatchdogConfig } from '#shared/config/schema.ts';
import { type CellClientOptions, CellClients, FleetAccountsError, FleetCells, type HomeCellInput } from './accounts.ts';
import { CloudWatchMetrics } from './cloudwatch.ts';
import { MsfAdapter, WATCHDOG_USER_AGENT } from './msf.ts';
import { RoutedMetrics } from './routed-metrics.ts';
import { RoutedMsf } from './routed-msf.ts';

/** What {@link fleetAdapters} builds from. */
export interface FleetAdaptersOptions {
  /** The validated watchdog config: `fleet.accounts` names the member cells. */
  config: WatchdogConfig;
  /** The watchdog's own account (env `WATCHDOG_ACCOUNT_ID`) and Region (env `AWS_REGION`). */
  home: HomeCellInput;
  /**
   * The watchdog instance (env `WATCHDOG_INSTANCE`): the member sessions' RoleSessionName `flink-watchdog-<instance>`.
   * @default 'default'
   */
  instance?: string;
  /** Endpoint, base credentials, attempts and clock of every cell's clients (tests, drill, sandbox). */
  clientOptions?: CellClientOptions;
}

/** The routed ports of a fleet and what they are built on. */
export interface FleetAdapters {
  /** The watched cells (home first) and the cell of a key. */
  cells: FleetCells;
  /** SDK clients per cell (member cells through STS AssumeRole). */
  clients: CellClients;
  /** MSF by application key, every cell. */
  msf: RoutedMsf;
  /** CloudWatch metrics by application key, every cell. */
  metrics: RoutedMetrics;
}

/**
 * The watchdog's MSF and metrics ports for every watched cell: the home cell with the function's own credentials,
 * each `fleet.accounts` account and Region through its member role. With no `fleet.accounts` there is one cell, the
 * home cell, and the ports behave exactly as a plain MsfAdapter / CloudWatchMetrics (keys are bare names).
 * The handlers call it once per Lambda container and keep the result.
 * @throws FleetAccountsError when `fleet.accounts` is set but `home.accountId` is not, or an account is listed twice.
 */
export function fleetAdapters(options: FleetAdaptersOptions): FleetAdapters {
  const cells = new FleetCells(options.config, options.home);
  const clients = new CellClients(cells, options.instance ?? 'default', options.clientOptions ?? {});
  return {
    cells,
    clients,
    msf: new RoutedMsf(cells, (cell) => new MsfAdapter({ client: clients.msf(cell) })),
    metrics: new RoutedMetrics(cells, (cell) => new CloudWatchMetrics({ client: clients.cloudWatch(cell) })),
  };
}

/**
 * The watchdog's own cell from a function's environment: `AWS_REGION` (set by Lambda; `AWS_DEFAULT_REGION` for local
 * runs) and `WATCHDOG_ACCOUNT_ID` (set by the stack). When the account id is not set and the config has member
 * accounts, it is learnt with STS GetCallerIdentity (the function's own account); with no member accounts it is not
 * needed (every key is a bare name).
 * @throws FleetAccountsError naming the variable when no Region is set.
 */
export async function homeCellFromEnv(
  config: WatchdogConfig,
  env: NodeJS.ProcessEnv = process.env,
  clientOptions: CellClientOptions = {},
): Promise<HomeCellInput> {
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (!region) throw new FleetAccountsError('set AWS_REGION: the Region the watchdog runs in (Lambda sets it)');
  const accountId = env.WATCHDOG_ACCOUNT_ID || undefined;
  if (accountId !== undefined || (config.fleet?.accounts ?? []).length === 0) {
    return accountId === undefined ? { region } : { accountId, region };
  }
  // Loaded only here: a watchdog without member accounts, or told its account id, never loads the STS client.
  const { GetCallerIdentityCommand, STSClient } = await import('./lazy/sts.ts');
  const sts = new STSClient({
    region,
    customUserAgent: [WATCHDOG_USER_AGENT],
    ...(clientOptions.endpoint !== undefined ? { endpoint: clientOptions.endpoint } : {}),
    ...(clientOptions.credentials !== undefined ? { credentials: clientOptions.credentials } : {}),
  });
  const identity = await sts.send(new GetCallerIdentityCommand({}));
  if (!identity.Account)
    throw new FleetAccountsError('STS GetCallerIdentity returned no Account: set WATCHDOG_ACCOUNT_ID');
  return { accountId: identity.Account, region };
}

/**
 * {@link fleetAdapters} for a Lambda function: home cell from {@link homeCellFromEnv}, instance from
 * `WATCHDOG_INSTANCE` (default `default`), the SDK's default credential chain and AWS endpoints.
 * @throws FleetAccountsError as {@link homeCellFromEnv} and {@link fleetAdapters} do.
 */
export async function fleetAdaptersFromEnv(
  config: WatchdogConfig,
  env: NodeJS.ProcessEnv = process.env,
  clientOptions: CellClientOptions = {},
): Promise<FleetAdapters> {
  return fleetAdapters({
    config,
    home: await homeCellFromEnv(config, env, clientOptions),
    instance: env.WATCHDOG_INSTANCE || 'default',
    clientOptions,
  });
}
