import { describe, expect, it } from 'vitest';
import { VirtualClock } from '#sandbox/clock.ts';
import { accessKeyIdOf, StsEmulator } from '#sandbox/emulator/sts.ts';
import { handleTagging, matchesResourceTypes, matchesTagFilters } from '#sandbox/emulator/tagging.ts';
import { RequestThrottle } from '#sandbox/emulator/throttle.ts';

const T0 = Date.parse('2026-03-02T14:00:00Z');
const HOME = '123456789012';
const MEMBER = '222222222222';

describe('Class: RequestThrottle', () => {
  describe('Method: admit', () => {
    it('admits a burst, then refuses until the virtual clock refills a token', () => {
      // Prepare
      const clock = new VirtualClock(T0);
      const throttle = new RequestThrottle(clock, { kinesisanalytics: { ratePerSecond: 2, burst: 3 } });
      // Act
      const burst = [1, 2, 3, 4].map(() => throttle.admit(HOME, 'kinesisanalytics'));
      clock.advance(500);
      const afterHalfSecond = [1, 2].map(() => throttle.admit(HOME, 'kinesisanalytics'));
      // Assess
      expect(burst).toEqual([true, true, true, false]);
      expect(afterHalfSecond).toEqual([true, false]);
    });

    it('keeps one bucket per account and per service, and never throttles a service without a limit', () => {
      // Prepare
      const clock = new VirtualClock(T0);
      const throttle = new RequestThrottle(clock, { kinesisanalytics: { ratePerSecond: 1, burst: 1 } });
      // Act
      const first = throttle.admit(HOME, 'kinesisanalytics');
      const second = throttle.admit(HOME, 'kinesisanalytics');
      const otherAccount = throttle.admit(MEMBER, 'kinesisanalytics');
      const unlimited = Array.from({ length: 50 }, () => throttle.admit(HOME, 'cloudwatch'));
      // Assess
      expect([first, second, otherAccount]).toEqual([true, false, true]);
      expect(unlimited.every(Boolean)).toBe(true);
    });

    it('refuses a limit that is not a positive rate with a burst of at least one, naming the field', () => {
      const clock = new VirtualClock(T0);
      expect(() => new RequestThrottle(clock, { tagging: { ratePerSecond: 0, burst: 1 } })).toThrow(
        /throttle\.tagging\.ratePerSecond/,
      );
      expect(() => new RequestThrottle(clock, { sts: { ratePerSecond: 1, burst: 0.5 } })).toThrow(
        /throttle\.sts\.burst/,
      );
    });
  });
});

describe('Module: tagging', () => {
  const tags = new Map([
    ['flink-watchdog', 'watch'],
    ['team', 'b'],
  ]);

  it.each([
    ['a key and its value', [{ key: 'flink-watchdog', values: ['watch'] }], true],
    ['any of several values', [{ key: 'team', values: ['a', 'b'] }], true],
    ['a key with no values (any value)', [{ key: 'team', values: [] }], true],
    ['a value the tag does not have', [{ key: 'team', values: ['a'] }], false],
    [
      'every filter (AND) when one misses',
      [
        { key: 'team', values: ['b'] },
        { key: 'owner', values: [] },
      ],
      false,
    ],
    ['no filter at all', [], true],
  ])('matchesTagFilters: %s → %s', (_case, filters, expected) => {
    expect(matchesTagFilters(tags, filters)).toBe(expected);
  });

  it.each([
    [['kinesisanalytics:application'], true],
    [['kinesisanalytics'], true],
    [['kinesisanalytics:other'], false],
    [['ec2:instance', 'kinesisanalytics:application'], true],
    [[], true],
  ])('matchesResourceTypes(MSF application ARN, %j) → %s', (types, expected) => {
    expect(matchesResourceTypes(`arn:aws:kinesisanalytics:eu-west-1:${HOME}:application/orders`, types)).toBe(expected);
  });

  it('refuses a PaginationToken that was issued for other filters', () => {
    // Prepare
    const resources = ['a', 'b'].map((name) => ({
      arn: `arn:aws:kinesisanalytics:eu-west-1:${HOME}:application/${name}`,
      tags: new Map([['k', name]]),
      everTagged: true,
    }));
    const first = handleTagging('GetResources', { ResourcesPerPage: 1 }, resources) as { PaginationToken: string };
    // Act
    const call = () =>
      handleTagging(
        'GetResources',
        { ResourcesPerPage: 1, PaginationToken: first.PaginationToken, TagFilters: [{ Key: 'k' }] },
        resources,
      );
    // Assess
    expect(call).toThrow(expect.objectContaining({ type: 'PaginationTokenExpiredException' }));
  });
});

describe('Class: StsEmulator', () => {
  describe('Method: callerOf', () => {
    it.each([
      ['a 12-digit key: that account', MEMBER, MEMBER],
      ['the drill key: home', 'drill', HOME],
      ['a long-term AKIA key: home', 'AKIAIOSFODNN7EXAMPLE', HOME],
      ['no signature: home', '', HOME],
    ])('%s', (_case, key, account) => {
      const sts = new StsEmulator({ clock: new VirtualClock(T0), homeAccountId: HOME });
      expect(sts.callerOf(key).accountId).toBe(account);
    });
  });

  it('reads the access key id from a SigV4 Authorization header', () => {
    expect(
      accessKeyIdOf(
        'AWS4-HMAC-SHA256 Credential=ASIAXAEZRZWRV7QJQIQQ/20261130/eu-west-1/kinesisanalytics/aws4_request, SignedHeaders=host, Signature=00',
      ),
    ).toBe('ASIAXAEZRZWRV7QJQIQQ');
    expect(accessKeyIdOf(undefined)).toBe('');
  });

  it('refuses a role whose ARN is not an IAM role ARN, naming the field', () => {
    expect(
      () =>
        new StsEmulator({
          clock: new VirtualClock(T0),
          homeAccountId: HOME,
          roles: [{ roleArn: 'arn:aws:iam::1:role/x', trustedAccountId: HOME }],
        }),
    ).toThrow(/roles\[\]\.roleArn/);
  });

  it('refuses a DurationSeconds above the role MaxSessionDuration (ValidationError)', () => {
    // Prepare
    const sts = new StsEmulator({
      clock: new VirtualClock(T0),
      homeAccountId: HOME,
      roles: [{ roleArn: `arn:aws:iam::${MEMBER}:role/FlinkWatchdogMember`, trustedAccountId: HOME }],
    });
    const params = new URLSearchParams({
      Action: 'AssumeRole',
      RoleArn: `arn:aws:iam::${MEMBER}:role/FlinkWatchdogMember`,
      RoleSessionName: 'long',
      DurationSeconds: '7200',
    });
    // Act
    const call = () => sts.handle(params, sts.callerOf('drill'), 'r-1');
    // Assess
    expect(call).toThrow(expect.objectContaining({ type: 'ValidationError' }));
  });
});
