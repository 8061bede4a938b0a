/**
 * Cells of a fleet: where the watchdog's applications live (an AWS account × a Region) and how the watchdog reaches
 * each of them.
 *
 * The HOME cell is the watchdog's own account and Region: its SDK clients use the default credential chain (the Lambda
 * function's role) or the base credentials given. A MEMBER cell is an account and Region listed in `fleet.accounts`:
 * its clients use temporary credentials from STS AssumeRole of the role the member stack creates there
 * (infra/member-stack.ts, `FlinkWatchdogMember` by default), with the account's ExternalId. Any other cell is refused
 * before a call is made ({@link CellNotWatchedError}).
 *
 * Application keys (shared/domain/app-key.ts) say which cell an application is in: a bare name is the home cell,
 * `NAME@ACCOUNT.REGION` is that account and Region.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { KinesisAnalyticsV2Client } from '@aws-sdk/client-kinesis-analytics-v2';
import { ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import type { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { Clock } from '#shared/clock.ts';
import type { WatchdogConfig } from '#shared/config/schema.ts';
import { applicationKey, parseApplicationKey } from '#shared/domain/app-key.ts';
import { WATCHDOG_USER_AGENT } from './msf.ts';
import { systemClock } from './system-clock.ts';

/** A credentials provider as the SDK clients take it (what `fromTemporaryCredentials` returns). */
export type AwsCredentialIdentityProvider = ReturnType<typeof fromTemporaryCredentials>;
/** Credentials: access key id, secret, session token, expiration. */
export type AwsCredentialIdentity = Awaited<ReturnType<AwsCredentialIdentityProvider>>;

/** Name of the role the member stack creates and the central watchdog assumes, unless `fleet.accounts[].roleName`. */
export const DEFAULT_MEMBER_ROLE_NAME = 'FlinkWatchdogMember';

/**
 * How long a member session lasts, seconds: AssumeRole `DurationSeconds`. One hour is both STS's default and the member
 * role's `MaxSessionDuration` (infra/member-stack.ts); the AssumeRole API allows 900 s up to the role's maximum
 * (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html).
 */
export const MEMBER_SESSION_SECONDS = 3600;

/**
 * Temporary credentials are renewed when they have less than this left, ms. Five minutes, as the AWS SDK for
 * JavaScript v3 does for the credentials it caches (`EXPIRATION_MS` in @smithy/core), so that a call signed just before
 * the renewal still reaches AWS before its credentials expire.
 */
export const CREDENTIALS_REFRESH_MARGIN_MS = 5 * 60_000;

/** One account × Region the watchdog watches. */
export interface Cell {
  /** 12-digit AWS account id. */
  accountId: string;
  /** AWS Region, e.g. `eu-west-1`. */
  region: string;
}

/** The watchdog's own account and Region; the account may be unknown when no member account is configured. */
export interface HomeCellInput {
  /** 12-digit account id (env `WATCHDOG_ACCOUNT_ID`); required when `fleet.accounts` is set. */
  accountId?: string;
  /** The Region the watchdog runs in (env `AWS_REGION`). */
  region: string;
}

/** A cell as text, `ACCOUNT.REGION` (`home` when the home account is unknown), for logs, maps and messages. */
export function cellId(cell: Cell): string {
  return `${cell.accountId || 'home'}.${cell.region}`;
}

/**
 * The AWS partition of a Region: `aws-cn` for `cn-*`, `aws-us-gov` for `us-gov-*`, `aws-iso` for `us-iso-*`,
 * `aws-iso-b` for `us-isob-*`, else `aws` (the partitions of https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/partitions.html
 * and their Region prefixes). A role can only be assumed from its own partition.
 */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  return 'aws';
}

/** `arn:<partition>:iam::<accountId>:role/<roleName>`: the member role of an account (IAM roles are global). */
export function memberRoleArn(accountId: string, region: string, roleName: string = DEFAULT_MEMBER_ROLE_NAME): string {
  return `arn:${partitionOf(region)}:iam::${accountId}:role/${roleName}`;
}

/**
 * AssumeRole `RoleSessionName` of a watchdog instance: `flink-watchdog-<instance>`. It shows in the member account's
 * CloudTrail as the caller of every call the watchdog makes there. The API allows 2–64 characters of `[\w+=,.@-]`
 * (STS API model, `roleSessionNameType`); an instance id is 1–32 letters and digits, so it always fits.
 */
export function roleSessionName(instance: string): string {
  return `flink-watchdog-${instance}`.slice(0, 64);
}

/** The AssumeRole request for a member account (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html). */
export interface MemberAssumeRole {
  RoleArn: string;
  RoleSessionName: string;
  /** The member account's `fleet.accounts[].externalId`: the role's trust policy requires it (`sts:ExternalId`). */
  ExternalId: string;
  /** Seconds, {@link MEMBER_SESSION_SECONDS}. */
  DurationSeconds: number;
}

/** A key names a cell the watchdog does not watch: nothing was called. */
export class CellNotWatchedError extends Error {
  override readonly name = 'CellNotWatchedError';
  constructor(
    /** The application key (or ARN) that named the cell. */
    readonly key: string,
    readonly accountId: string,
    readonly region: string,
  ) {
    super(
      `${key}: account ${accountId} Region ${region} is not watched by this watchdog: add it to fleet.accounts in the ` +
        `watchdog config ({"accountId": "${accountId}", "regions": ["${region}"], "externalId": "..."}) and deploy the ` +
        `member stack (infra/member-stack.ts) in that account and Region`,
    );
  }
}

/** The fleet's accounts cannot be set up as configured (a configuration fault, found before any call). */
export class FleetAccountsError extends Error {
  override readonly name = 'FleetAccountsError';
}

/** One entry of `fleet.accounts`. */
type MemberAccount = NonNullable<NonNullable<WatchdogConfig['fleet']>['accounts']>[number];

/**
 * Which cells the watchdog watches and which cell a key is in. Pure: no SDK client, no call.
 * The cells are the home cell, then every `fleet.accounts[]` account in each of its `regions` (default: the home
 * Region), in config order, each once.
 */
export class FleetCells {
  readonly home: Cell;
  readonly #cells: Cell[];
  readonly #members = new Map<string, MemberAccount>();

  /**
   * @throws FleetAccountsError when `fleet.accounts` is set but the home account is unknown (set WATCHDOG_ACCOUNT_ID),
   * when an account is listed twice, or when a listed application names the watchdog's own account and Region (list
   * it by name only) or an account and Region not in `fleet.accounts`.
   */
  constructor(config: WatchdogConfig, home: HomeCellInput) {
    const accounts = config.fleet?.accounts ?? [];
    if (accounts.length > 0 && home.accountId === undefined) {
      throw new FleetAccountsError(
        "fleet.accounts is set but the watchdog's own account id is unknown: set WATCHDOG_ACCOUNT_ID (the stack sets it) so that its own applications are told apart from the member accounts'",
      );
    }
    this.home = { accountId: home.accountId ?? '', region: home.region };
    config.applications.forEach((app, i) => {
      // Its key would be NAME@ACCOUNT.REGION while everything the home cell reports names it by its bare name.
      if (app.accountId !== undefined && app.accountId === home.accountId && app.region === home.region) {
        throw new FleetAccountsError(
          `applications[${i}] (${app.name}): accountId ${app.accountId} and region ${app.region} are the watchdog's own; remove both (applications in the watchdog's own account and Region are listed by name only)`,
        );
      }
      if (app.accountId !== undefined && app.accountId !== home.accountId) {
        const member = accounts.find((a) => a.accountId === app.accountId);
        if (!member || !(member.regions ?? [home.region]).includes(app.region ?? '')) {
          throw new FleetAccountsError(
            `applications[${i}] (${app.name}): account ${app.accountId} region ${app.region} is not among fleet.accounts; add it there (and deploy the member stack in that account and Region)`,
          );
        }
      }
    });
    this.#cells = [this.home];
    const seen = new Set([cellId(this.home)]);
    accounts.forEach((account, i) => {
      if (this.#members.has(account.accountId)) {
        throw new FleetAccountsError(
          `fleet.accounts[${i}]: account ${account.accountId} is listed twice: list it once with all its regions`,
        );
      }
      this.#members.set(account.accountId, account);
      for (const region of account.regions ?? [home.region]) {
        const cell = { accountId: account.accountId, region };
        if (seen.has(cellId(cell))) continue;
        seen.add(cellId(cell));
        this.#cells.push(cell);
      }
    });
  }

  /** Every watched cell, the home cell first. */
  cells(): readonly Cell[] {
    return this.#cells;
  }

  /** Whether the cell is the watchdog's own account and Region. */
  isHome(cell: Cell): boolean {
    return cell.accountId === this.home.accountId && cell.region === this.home.region;
  }

  /**
   * The cell of an application key: a bare name is the home cell, `NAME@ACCOUNT.REGION` that account and Region.
   * @throws CellNotWatchedError naming the key and the fix when the cell is neither home nor in `fleet.accounts`.
   */
  cellOf(key: string): Cell {
    const ref = parseApplicationKey(key);
    if (ref.accountId === undefined || ref.region === undefined) return this.home;
    return this.#watched(key, { accountId: ref.accountId, region: ref.region });
  }

  /**
   * The cell of an MSF application ARN (`arn:<partition>:kinesisanalytics:<region>:<account>:application/<name>`); an
   * ARN that does not read so is taken as the home cell's (the home adapter then calls MSF with it as given).
   * @throws CellNotWatchedError when the ARN's account and Region are not watched.
   */
  cellOfArn(arn: string): Cell {
    const m = /^arn:[\w-]+:kinesisanalytics:([a-z0-9-]+):(\d{12}):/.exec(arn);
    if (!m) return this.home;
    return this.#watched(arn, { accountId: m[2] as string, region: m[1] as string });
  }

  /** The key of the application `name` in `cell`: the bare name at home, else `NAME@ACCOUNT.REGION`. */
  keyOf(cell: Cell, name: string): string {
    if (this.isHome(cell)) return name;
    return applicationKey({ name, accountId: cell.accountId, region: cell.region });
  }

  /**
   * The AssumeRole request for a member cell; undefined for the home cell (its own credentials).
   * @throws CellNotWatchedError when the cell is not watched.
   */
  assumeRoleFor(cell: Cell, instance: string): MemberAssumeRole | undefined {
    if (this.isHome(cell)) return undefined;
    const member = this.#members.get(cell.accountId);
    if (!member) throw new CellNotWatchedError(cellId(cell), cell.accountId, cell.region);
    return {
      RoleArn: memberRoleArn(cell.accountId, cell.region, member.roleName),
      RoleSessionName: roleSessionName(instance),
      ExternalId: member.externalId,
      DurationSeconds: MEMBER_SESSION_SECONDS,
    };
  }

  #watched(named: string, cell: Cell): Cell {
    const found = this.#cells.find((c) => c.accountId === cell.accountId && c.region === cell.region);
    if (!found) throw new CellNotWatchedError(named, cell.accountId, cell.region);
    return found;
  }
}

/**
 * A credentials provider that calls `provider` once and again only when the credentials have less than
 * {@link CREDENTIALS_REFRESH_MARGIN_MS} left by `clock` (concurrent callers share one call). Marked `memoized`, so the
 * SDK clients sharing it do not each keep their own copy and renew on the wall clock: one AssumeRole per account serves
 * every client of that account, and a virtual clock (the drill) decides when a session is renewed.
 */
export function refreshingCredentials(
  provider: AwsCredentialIdentityProvider,
  clock: Clock,
  marginMs: number = CREDENTIALS_REFRESH_MARGIN_MS,
): AwsCredentialIdentityProvider {
  let current: AwsCredentialIdentity | undefined;
  let pending: Promise<AwsCredentialIdentity> | undefined;
  const fresh = (c: AwsCredentialIdentity | undefined): c is AwsCredentialIdentity =>
    c !== undefined && (c.expiration === undefined || c.expiration.getTime() - clock.now() > marginMs);
  const refreshing: AwsCredentialIdentityProvider = async (options) => {
    if (fresh(current)) return current;
    pending ??= provider(options).then(
      (c) => {
        current = c;
        pending = undefined;
        return c;
      },
      (e: unknown) => {
        pending = undefined;
        throw e;
      },
    );
    return pending;
  };
  return Object.assign(refreshing, { memoized: true });
}

/** AssumeRole of a member account failed: the central watchdog cannot act there. */
export class AssumeRoleError extends Error {
  override readonly name = 'AssumeRoleError';
  constructor(
    readonly accountId: string,
    readonly roleArn: string,
    /** The STS error name, e.g. AccessDenied. */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(
      `AssumeRole ${roleArn} (account ${accountId}) failed: ${code}: ${message}. Check that the member stack is deployed in ` +
        `account ${accountId} with CentralAccountId = this watchdog's account and ExternalId = fleet.accounts[].externalId`,
      options,
    );
  }
}

/** How the SDK clients of every cell reach AWS (or the emulator). */
export interface CellClientOptions {
  /**
   * One endpoint for every service (the sandbox's emulator); absent: each service's AWS endpoint.
   * @default - AWS endpoints
   */
  endpoint?: string;
  /**
   * Base credentials: the home cell's, and the ones STS AssumeRole is called with.
   * @default - the AWS SDK's default credential chain (a Lambda function's role)
   */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /**
   * Attempts per call, the first included, with the SDK's `adaptive` retry mode (client-side rate limiting that slows
   * down on throttling errors).
   * @default 3 (the SDK's default)
   */
  maxAttempts?: number;
  /**
   * Decides when member credentials are renewed.
   * @default systemClock
   */
  clock?: Clock;
}

/** SDK clients per cell, created on first use and kept (a Lambda container reuses them across invocations). */
export class CellClients {
  readonly cells: FleetCells;
  readonly #instance: string;
  readonly #options: CellClientOptions;
  readonly #credentials = new Map<string, AwsCredentialIdentityProvider>();
  readonly #msf = new Map<string, KinesisAnalyticsV2Client>();
  readonly #cloudWatch = new Map<string, CloudWatchClient>();
  readonly #tagging = new Map<string, ResourceGroupsTaggingAPIClient>();

  /**
   * @param instance the watchdog instance (env `WATCHDOG_INSTANCE`): the member sessions' RoleSessionName.
   */
  constructor(cells: FleetCells, instance: string, options: CellClientOptions = {}) {
    this.cells = cells;
    this.#instance = instance;
    this.#options = options;
  }

  /**
   * The credentials a cell's clients sign with: undefined for the home cell (base credentials or the default chain);
   * for a member cell, AssumeRole of its account's member role, one session per account shared by its Regions and
   * services, renewed {@link CREDENTIALS_REFRESH_MARGIN_MS} before it expires.
   * @throws CellNotWatchedError when the cell is not watched.
   */
  credentialsFor(cell: Cell): AwsCredentialIdentity | AwsCredentialIdentityProvider | undefined {
    const assume = this.cells.assumeRoleFor(cell, this.#instance);
    if (!assume) return this.#options.credentials;
    const existing = this.#credentials.get(cell.accountId);
    if (existing) return existing;
    // The provider (and the STS client under it) is loaded at the first call: a watchdog without member accounts
    // never loads it.
    let sts: AwsCredentialIdentityProvider | undefined;
    const named: AwsCredentialIdentityProvider = async (options) => {
      if (sts === undefined) {
        const { fromTemporaryCredentials: temporaryCredentials } = await import('./lazy/temporary-credentials.ts');
        sts = temporaryCredentials({
          params: assume,
          ...(this.#options.credentials ? { masterCredentials: this.#options.credentials } : {}),
          clientConfig: {
            // STS in the watchdog's own Region: regional STS endpoints are the recommended ones, and its session
            // tokens are valid in every Region (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_region-endpoints.html).
            region: this.cells.home.region,
            retryMode: 'adaptive',
            customUserAgent: [WATCHDOG_USER_AGENT],
            ...this.#common(),
          },
        });
      }
      try {
        return await sts(options);
      } catch (e) {
        const err = e as { name?: string; Code?: string; message?: string };
        throw new AssumeRoleError(
          cell.accountId,
          assume.RoleArn,
          err.Code ?? err.name ?? 'Error',
          err.message ?? String(e),
          { cause: e },
        );
      }
    };
    const provider = refreshingCredentials(named, this.#options.clock ?? systemClock);
    this.#credentials.set(cell.accountId, provider);
    return provider;
  }

  /** The MSF (Kinesis Analytics V2) client of a cell. @throws CellNotWatchedError */
  msf(cell: Cell): KinesisAnalyticsV2Client {
    return this.#client(this.#msf, cell, (config) => new KinesisAnalyticsV2Client(config));
  }

  /** The CloudWatch client of a cell (GetMetricData, alarms). @throws CellNotWatchedError */
  cloudWatch(cell: Cell): CloudWatchClient {
    return this.#client(this.#cloudWatch, cell, (config) => new CloudWatchClient(config));
  }

  /** The Resource Groups Tagging API client of a cell (GetResources). @throws CellNotWatchedError */
  tagging(cell: Cell): ResourceGroupsTaggingAPIClient {
    return this.#client(this.#tagging, cell, (config) => new ResourceGroupsTaggingAPIClient(config));
  }

  #common(): { endpoint?: string; maxAttempts?: number } {
    return {
      ...(this.#options.endpoint !== undefined ? { endpoint: this.#options.endpoint } : {}),
      ...(this.#options.maxAttempts !== undefined ? { maxAttempts: this.#options.maxAttempts } : {}),
    };
  }

  #client<C>(
    cache: Map<string, C>,
    cell: Cell,
    create: (config: {
      region: string;
      retryMode: 'adaptive';
      customUserAgent: [string, string][];
      credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
      endpoint?: string;
      maxAttempts?: number;
    }) => C,
  ): C {
    const id = cellId(cell);
    const existing = cache.get(id);
    if (existing) return existing;
    const credentials = this.credentialsFor(cell);
    const client = create({
      region: cell.region,
      retryMode: 'adaptive',
      customUserAgent: [WATCHDOG_USER_AGENT],
      ...(credentials !== undefined ? { credentials } : {}),
      ...this.#common(),
    });
    cache.set(id, client);
    return client;
  }
}
