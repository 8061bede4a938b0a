import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AssumeRoleError,
  type AwsCredentialIdentity,
  CellClients,
  CellNotWatchedError,
  CREDENTIALS_REFRESH_MARGIN_MS,
  FleetAccountsError,
  FleetCells,
  memberRoleArn,
  partitionOf,
  refreshingCredentials,
  roleSessionName,
} from '#shared/adapters/accounts.ts';
import { fleetAdapters, fleetAdaptersFromEnv, homeCellFromEnv } from '#shared/adapters/fleet-adapters.ts';
import { parseConfig, type WatchdogConfig } from '#shared/config/schema.ts';
import { MsfApiError } from '#shared/ports/msf.ts';
import { MIN, T0 } from '../support/builders.ts';

const HOME = { accountId: '123456789012', region: 'eu-west-1' };
const MEMBER = '111122223333';
const OTHER = '444455556666';

function config(fleet?: WatchdogConfig['fleet']): WatchdogConfig {
  return parseConfig({ schemaVersion: 1, applications: [{ name: 'orders' }], ...(fleet ? { fleet } : {}) });
}

const FLEET = config({
  accounts: [
    { accountId: MEMBER, externalId: 'ext-member-1' },
    { accountId: OTHER, regions: ['us-east-1', 'eu-west-1'], roleName: 'WatchdogRole', externalId: 'ext-other-2' },
  ],
});

describe('Class: FleetCells', () => {
  describe('Method: cells', () => {
    it('lists the home cell first, then each member account in each of its Regions (default: the home Region)', () => {
      // Act
      const cells = new FleetCells(FLEET, HOME).cells();
      // Assess
      expect(cells).toEqual([
        HOME,
        { accountId: MEMBER, region: 'eu-west-1' },
        { accountId: OTHER, region: 'us-east-1' },
        { accountId: OTHER, region: 'eu-west-1' },
      ]);
    });

    it('is the home cell alone without fleet.accounts, even when the home account is unknown', () => {
      // Act
      const cells = new FleetCells(config(), { region: 'eu-west-1' }).cells();
      // Assess
      expect(cells).toEqual([{ accountId: '', region: 'eu-west-1' }]);
    });

    it('refuses fleet.accounts when the home account is unknown, naming WATCHDOG_ACCOUNT_ID', () => {
      // Act / Assess
      expect(() => new FleetCells(FLEET, { region: 'eu-west-1' })).toThrow(FleetAccountsError);
      expect(() => new FleetCells(FLEET, { region: 'eu-west-1' })).toThrow(/WATCHDOG_ACCOUNT_ID/);
    });

    it('refuses an account listed twice, naming its index', () => {
      // Prepare
      const twice = config({
        accounts: [
          { accountId: MEMBER, externalId: 'ext-member-1' },
          { accountId: MEMBER, regions: ['us-east-1'], externalId: 'ext-member-1' },
        ],
      });
      // Act / Assess
      expect(() => new FleetCells(twice, HOME)).toThrow(/fleet\.accounts\[1\]: account 111122223333 is listed twice/);
    });
  });

  describe('Method: cellOf', () => {
    const cells = new FleetCells(FLEET, HOME);

    it.each([
      ['orders', HOME],
      [`orders@${MEMBER}.eu-west-1`, { accountId: MEMBER, region: 'eu-west-1' }],
      [`orders@${OTHER}.us-east-1`, { accountId: OTHER, region: 'us-east-1' }],
      [`orders@${HOME.accountId}.${HOME.region}`, HOME],
    ])('%s is in %o', (key, cell) => {
      expect(cells.cellOf(key)).toEqual(cell);
    });

    it.each([
      ['an account not in fleet.accounts', 'orders@999988887777.eu-west-1'],
      ['a Region not listed for the member account', `orders@${MEMBER}.us-east-1`],
      ['another Region of the home account', `orders@${HOME.accountId}.us-east-1`],
    ])('refuses %s, naming the key and the fix', (_what, key) => {
      // Act
      const error = (() => {
        try {
          cells.cellOf(key);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      // Assess
      expect(error).toBeInstanceOf(CellNotWatchedError);
      expect((error as Error).message).toMatch(new RegExp(`^${key.replace(/\./g, '\\.')}: account \\d{12} Region`));
      expect((error as Error).message).toContain('add it to fleet.accounts');
    });

    it('reads the cell of an MSF application ARN', () => {
      expect(cells.cellOfArn(`arn:aws:kinesisanalytics:us-east-1:${OTHER}:application/orders`)).toEqual({
        accountId: OTHER,
        region: 'us-east-1',
      });
      expect(() => cells.cellOfArn('arn:aws:kinesisanalytics:eu-west-1:999988887777:application/x')).toThrow(
        CellNotWatchedError,
      );
    });
  });

  describe('Method: keyOf', () => {
    it('names a home application by its bare name and a member one NAME@ACCOUNT.REGION, which cellOf reads back', () => {
      // Prepare
      const cells = new FleetCells(FLEET, HOME);
      const member = { accountId: OTHER, region: 'us-east-1' };
      // Act
      const key = cells.keyOf(member, 'orders');
      // Assess
      expect(cells.keyOf(HOME, 'orders')).toBe('orders');
      expect(key).toBe(`orders@${OTHER}.us-east-1`);
      expect(cells.cellOf(key)).toEqual(member);
    });
  });

  describe('Method: assumeRoleFor', () => {
    const cells = new FleetCells(FLEET, HOME);

    it('is undefined for the home cell (its own credentials)', () => {
      expect(cells.assumeRoleFor(HOME, 'prod')).toBeUndefined();
    });

    it('assumes FlinkWatchdogMember with the account ExternalId and the instance session name for one hour', () => {
      expect(cells.assumeRoleFor({ accountId: MEMBER, region: 'eu-west-1' }, 'prod')).toEqual({
        RoleArn: `arn:aws:iam::${MEMBER}:role/FlinkWatchdogMember`,
        RoleSessionName: 'flink-watchdog-prod',
        ExternalId: 'ext-member-1',
        DurationSeconds: 3600,
      });
    });

    it('assumes the configured roleName', () => {
      expect(cells.assumeRoleFor({ accountId: OTHER, region: 'us-east-1' }, 'prod')?.RoleArn).toBe(
        `arn:aws:iam::${OTHER}:role/WatchdogRole`,
      );
    });
  });
});

describe('Function: memberRoleArn / partitionOf / roleSessionName', () => {
  it.each([
    ['eu-west-1', 'aws'],
    ['cn-north-1', 'aws-cn'],
    ['us-gov-west-1', 'aws-us-gov'],
    ['us-iso-east-1', 'aws-iso'],
    ['us-isob-east-1', 'aws-iso-b'],
  ])('%s is in partition %s', (region, partition) => {
    expect(partitionOf(region)).toBe(partition);
    expect(memberRoleArn(MEMBER, region)).toBe(`arn:${partition}:iam::${MEMBER}:role/FlinkWatchdogMember`);
  });

  it('keeps the session name within the 64 characters of [\\w+=,.@-] STS allows', () => {
    const longest = roleSessionName('a'.repeat(32));
    expect(longest).toMatch(/^[\w+=,.@-]{2,64}$/);
    expect(longest).toBe(`flink-watchdog-${'a'.repeat(32)}`);
  });
});

describe('Function: refreshingCredentials', () => {
  /** A provider that hands out numbered credentials valid for one hour from `clock`. */
  function counting(clock: { now(): number }) {
    let calls = 0;
    const provider = async (): Promise<AwsCredentialIdentity> => {
      calls += 1;
      return {
        accessKeyId: `ASIA${calls}`,
        secretAccessKey: 'secret',
        sessionToken: 'token',
        expiration: new Date(clock.now() + 60 * MIN),
      };
    };
    return { provider, calls: () => calls };
  }

  it('calls the provider once for many callers, concurrent or not, while the credentials are fresh', async () => {
    // Prepare
    const clock = { now: () => T0 };
    const source = counting(clock);
    const credentials = refreshingCredentials(source.provider, clock);
    // Act
    const [a, b] = await Promise.all([credentials(), credentials()]);
    const c = await credentials();
    // Assess
    expect(source.calls()).toBe(1);
    expect([a?.accessKeyId, b?.accessKeyId, c?.accessKeyId]).toEqual(['ASIA1', 'ASIA1', 'ASIA1']);
  });

  it('renews the credentials once less than the margin is left, by the clock it is given', async () => {
    // Prepare
    let now = T0;
    const clock = { now: () => now };
    const source = counting(clock);
    const credentials = refreshingCredentials(source.provider, clock);
    await credentials();
    // Act
    now = T0 + 60 * MIN - CREDENTIALS_REFRESH_MARGIN_MS - 1;
    const before = await credentials();
    now = T0 + 60 * MIN - CREDENTIALS_REFRESH_MARGIN_MS;
    const after = await credentials();
    // Assess
    expect(before.accessKeyId).toBe('ASIA1');
    expect(after.accessKeyId).toBe('ASIA2');
    expect(source.calls()).toBe(2);
  });

  it('does not keep a failure: the next caller tries again', async () => {
    // Prepare
    let fail = true;
    const credentials = refreshingCredentials(
      async () => {
        if (fail) throw new Error('AccessDenied');
        return { accessKeyId: 'ASIA9', secretAccessKey: 's' };
      },
      { now: () => T0 },
    );
    // Act / Assess
    await expect(credentials()).rejects.toThrow('AccessDenied');
    fail = false;
    await expect(credentials()).resolves.toMatchObject({ accessKeyId: 'ASIA9' });
  });

  it('is marked memoized, so an SDK client uses it as it is instead of keeping its own copy', () => {
    const credentials = refreshingCredentials(async () => ({ accessKeyId: 'a', secretAccessKey: 's' }), {
      now: () => T0,
    });
    expect((credentials as { memoized?: boolean }).memoized).toBe(true);
  });
});

/**
 * A stand-in for STS (Query protocol, AssumeRole) and MSF (JSON 1.1, DescribeApplication) on 127.0.0.1: it records
 * each request's action, parameters, Region and signing access key id, and issues credentials whose access key id
 * names the account of the assumed role. AssumeRole with an ExternalId other than `EXPECTED_EXTERNAL_ID` is refused
 * with AccessDenied (https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html), as the member role's trust
 * policy does.
 */
const EXPECTED_EXTERNAL_ID = 'ext-member-1';
interface SeenRequest {
  action: string;
  accessKeyId: string;
  region: string;
  params: Record<string, string>;
}
const seen: SeenRequest[] = [];
let server: Server;
let endpoint: string;
let issued = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    req.on('end', () => {
      const auth = req.headers.authorization ?? '';
      const m = /Credential=([^/]+)\/\d{8}\/([^/]+)\//.exec(auth);
      const accessKeyId = m?.[1] ?? '';
      const region = m?.[2] ?? '';
      const target = String(req.headers['x-amz-target'] ?? '');
      if (target.endsWith('.DescribeApplication')) {
        const input = JSON.parse(body) as { ApplicationName: string };
        seen.push({ action: 'DescribeApplication', accessKeyId, region, params: input });
        const account = accessKeyId.startsWith('ASIA') ? accessKeyId.slice(4, 16) : HOME.accountId;
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(
          JSON.stringify({
            ApplicationDetail: {
              ApplicationARN: `arn:aws:kinesisanalytics:${region}:${account}:application/${input.ApplicationName}`,
              ApplicationName: input.ApplicationName,
              ApplicationStatus: 'RUNNING',
              ApplicationVersionId: 4,
              RuntimeEnvironment: 'FLINK-1_20',
            },
          }),
        );
        return;
      }
      const params = Object.fromEntries(new URLSearchParams(body));
      seen.push({ action: params.Action ?? '', accessKeyId, region, params });
      if (params.Action === 'GetCallerIdentity') {
        res.writeHead(200, { 'content-type': 'text/xml' });
        res.end(
          `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>` +
            `<Arn>arn:aws:sts::${HOME.accountId}:assumed-role/detector/x</Arn><UserId>AROA:x</UserId>` +
            `<Account>${HOME.accountId}</Account></GetCallerIdentityResult>` +
            `<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
        );
        return;
      }
      if (params.Action === 'AssumeRole' && params.ExternalId === EXPECTED_EXTERNAL_ID) {
        issued += 1;
        const account = /iam::(\d{12}):role/.exec(params.RoleArn ?? '')?.[1] ?? '';
        res.writeHead(200, { 'content-type': 'text/xml' });
        res.end(
          `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>` +
            `<AccessKeyId>ASIA${account}${String(issued).padStart(4, '0')}</AccessKeyId><SecretAccessKey>s</SecretAccessKey>` +
            `<SessionToken>t</SessionToken><Expiration>${new Date(Date.now() + 3_600_000).toISOString()}</Expiration>` +
            `</Credentials><AssumedRoleUser><AssumedRoleId>AROA:${params.RoleSessionName}</AssumedRoleId>` +
            `<Arn>arn:aws:sts::${account}:assumed-role/x/${params.RoleSessionName}</Arn></AssumedRoleUser>` +
            `</AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>`,
        );
        return;
      }
      res.writeHead(403, { 'content-type': 'text/xml' });
      res.end(
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>' +
          '<Code>AccessDenied</Code><Message>User is not authorized to perform: sts:AssumeRole</Message></Error>' +
          '<RequestId>r</RequestId></ErrorResponse>',
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen.length = 0;
});

describe('Class: CellClients (against a local STS and MSF stand-in)', () => {
  const base = { accessKeyId: 'AKIDHOME', secretAccessKey: 'home-secret' };

  it("calls MSF in a member cell with the member role's credentials, assumed once with the ExternalId", async () => {
    // Prepare
    const { msf } = fleetAdapters({
      config: FLEET,
      home: HOME,
      instance: 'prod',
      clientOptions: { endpoint, credentials: base, maxAttempts: 1 },
    });
    // Act
    const first = await msf.describeApplication(`orders@${MEMBER}.eu-west-1`);
    await msf.describeApplication(`payments@${MEMBER}.eu-west-1`);
    // Assess
    const assumes = seen.filter((r) => r.action === 'AssumeRole');
    expect(assumes).toHaveLength(1);
    expect(assumes[0]).toMatchObject({
      accessKeyId: 'AKIDHOME',
      region: 'eu-west-1',
      params: {
        RoleArn: `arn:aws:iam::${MEMBER}:role/FlinkWatchdogMember`,
        RoleSessionName: 'flink-watchdog-prod',
        ExternalId: 'ext-member-1',
        DurationSeconds: '3600',
      },
    });
    const describes = seen.filter((r) => r.action === 'DescribeApplication');
    expect(describes.map((r) => r.params.ApplicationName)).toEqual(['orders', 'payments']);
    expect(describes.every((r) => r.accessKeyId.startsWith(`ASIA${MEMBER}`))).toBe(true);
    expect(first).toMatchObject({
      name: `orders@${MEMBER}.eu-west-1`,
      arn: `arn:aws:kinesisanalytics:eu-west-1:${MEMBER}:application/orders`,
    });
  });

  it('calls MSF in the home cell with the base credentials and no AssumeRole', async () => {
    // Prepare
    const { msf } = fleetAdapters({ config: FLEET, home: HOME, clientOptions: { endpoint, credentials: base } });
    // Act
    const state = await msf.describeApplication('orders');
    // Assess
    expect(seen.map((r) => `${r.action} ${r.accessKeyId} ${r.region}`)).toEqual([
      'DescribeApplication AKIDHOME eu-west-1',
    ]);
    expect(state.name).toBe('orders');
  });

  it("shares one session between a member account's Regions; each cell's client signs for its own Region", async () => {
    // Prepare
    const clients = new CellClients(new FleetCells(FLEET, HOME), 'prod', { endpoint, credentials: base });
    const east = { accountId: OTHER, region: 'us-east-1' };
    const west = { accountId: OTHER, region: 'eu-west-1' };
    // Act
    const eastCredentials = clients.credentialsFor(east);
    const westCredentials = clients.credentialsFor(west);
    // Assess
    expect(eastCredentials).toBe(westCredentials);
    expect(clients.credentialsFor(HOME)).toBe(base);
    expect(await clients.msf(east).config.region()).toBe('us-east-1');
    expect(await clients.msf(west).config.region()).toBe('eu-west-1');
    expect(clients.msf(east)).toBe(clients.msf(east));
    expect(seen).toEqual([]);
  });

  it('refuses a wrong ExternalId at AssumeRole: AssumeRoleError naming the role and the fix, no MSF call', async () => {
    // Prepare
    const wrong = config({ accounts: [{ accountId: MEMBER, externalId: 'not-the-one' }] });
    const { msf } = fleetAdapters({
      config: wrong,
      home: HOME,
      clientOptions: { endpoint, credentials: base, maxAttempts: 1 },
    });
    // Act
    const error = (await msf
      .stopApplication(`orders@${MEMBER}.eu-west-1`, true)
      .catch((e: unknown) => e)) as MsfApiError;
    // Assess
    expect(error).toBeInstanceOf(MsfApiError);
    expect(error.code).toBe('AssumeRoleError');
    expect(error.cause).toBeInstanceOf(AssumeRoleError);
    expect((error.cause as AssumeRoleError).code).toBe('AccessDenied');
    expect(error.message).toContain(`arn:aws:iam::${MEMBER}:role/FlinkWatchdogMember`);
    expect(error.message).toContain('ExternalId = fleet.accounts[].externalId');
    expect(seen.map((r) => r.action)).toEqual(['AssumeRole']);
  });

  it('refuses a cell that is not watched before creating any client', () => {
    // Prepare
    const clients = new CellClients(new FleetCells(FLEET, HOME), 'prod', { endpoint, credentials: base });
    // Act / Assess
    expect(() => clients.msf({ accountId: '999988887777', region: 'eu-west-1' })).toThrow(CellNotWatchedError);
    expect(seen).toEqual([]);
  });
});

describe('Function: homeCellFromEnv / fleetAdaptersFromEnv', () => {
  const base = { accessKeyId: 'AKIDHOME', secretAccessKey: 'home-secret' };

  it('takes the Region from AWS_REGION and the account from WATCHDOG_ACCOUNT_ID, with no call', async () => {
    // Act
    const home = await homeCellFromEnv(FLEET, { AWS_REGION: 'eu-west-1', WATCHDOG_ACCOUNT_ID: HOME.accountId });
    // Assess
    expect(home).toEqual(HOME);
    expect(seen).toEqual([]);
  });

  it('needs no account id without member accounts', async () => {
    expect(await homeCellFromEnv(config(), { AWS_REGION: 'eu-west-1' })).toEqual({ region: 'eu-west-1' });
    expect(seen).toEqual([]);
  });

  it('learns its own account with GetCallerIdentity when member accounts are set and WATCHDOG_ACCOUNT_ID is not', async () => {
    // Act
    const home = await homeCellFromEnv(FLEET, { AWS_REGION: 'eu-west-1' }, { endpoint, credentials: base });
    // Assess
    expect(home).toEqual(HOME);
    expect(seen.map((r) => r.action)).toEqual(['GetCallerIdentity']);
  });

  it('refuses to start without a Region, naming AWS_REGION', async () => {
    await expect(homeCellFromEnv(config(), {})).rejects.toThrow(/set AWS_REGION/);
  });

  it('builds the routers with the instance of WATCHDOG_INSTANCE as the session name', async () => {
    // Prepare
    const { msf } = await fleetAdaptersFromEnv(
      FLEET,
      { AWS_REGION: 'eu-west-1', WATCHDOG_ACCOUNT_ID: HOME.accountId, WATCHDOG_INSTANCE: 'teama' },
      { endpoint, credentials: base, maxAttempts: 1 },
    );
    // Act
    await msf.describeApplication(`orders@${MEMBER}.eu-west-1`);
    // Assess
    expect(seen.find((r) => r.action === 'AssumeRole')?.params.RoleSessionName).toBe('flink-watchdog-teama');
  });
});

describe('Class: FleetCells (listed applications in other cells)', () => {
  const home = { accountId: '999999999999', region: 'eu-west-1' };
  const base = { schemaVersion: 1, fleet: { accounts: [{ accountId: '111122223333', externalId: 'ext-1' }] } };

  it("refuses an application listed with the watchdog's own account and Region, naming the fix", () => {
    // Prepare
    const config = parseConfig({
      ...base,
      applications: [{ name: 'orders', accountId: '999999999999', region: 'eu-west-1' }],
    });
    // Act / Assess
    expect(() => new FleetCells(config, home)).toThrow(/applications\[0\] \(orders\).*listed by name only/);
  });

  it('refuses an application in an account that is not among fleet.accounts', () => {
    // Prepare
    const config = parseConfig({
      ...base,
      applications: [{ name: 'orders', accountId: '444455556666', region: 'eu-west-1' }],
    });
    // Act / Assess
    expect(() => new FleetCells(config, home)).toThrow(/not among fleet\.accounts/);
  });

  it("accepts an application in a member account's watched Region", () => {
    // Prepare
    const config = parseConfig({
      ...base,
      applications: [{ name: 'orders', accountId: '111122223333', region: 'eu-west-1' }],
    });
    // Act / Assess
    expect(new FleetCells(config, home).cells()).toHaveLength(2);
  });
});
