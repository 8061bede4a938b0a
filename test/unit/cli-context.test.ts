import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  awsClientConfig,
  colorWanted,
  EXIT_CODES,
  exitCodeOf,
  requireOutput,
  resolveOutput,
  StackOutputsError,
  selectWatchdog,
  textLine,
  UsageError,
  watchdogOutputsByPrefix,
} from '#cli/context.ts';
import { initialConfig, parseTagFilters } from '#cli/init.ts';
import { runCli } from '#cli/program.ts';
import { formatPlan, type RemediatePlan, resolveLastKnownGood } from '#cli/remediate.ts';
import { jsonErrorOffset, modeCounts, parseJsonWithPosition } from '#cli/validate.ts';
import { parseConfig } from '#shared/config/schema.ts';
import type { ApplicationObservation, ApplicationSnapshot } from '#shared/domain/model.ts';

/** Outputs of a stack with one watchdog, as the FlinkWatchdog construct with id `Watchdog` exports them. */
const ONE_WATCHDOG = [
  { OutputKey: 'WatchdogLedgerTableName', OutputValue: 'ledger-1' },
  { OutputKey: 'WatchdogNotificationTopicArn', OutputValue: 'arn:aws:sns:eu-west-1:123456789012:notify' },
  { OutputKey: 'WatchdogDashboardName', OutputValue: 'flink-watchdog' },
  { OutputKey: 'WatchdogInstance', OutputValue: 'wd' },
  { OutputKey: 'SomethingElse', OutputValue: 'x' },
];

afterEach(() => {
  vi.restoreAllMocks();
});

describe('Function: resolveOutput', () => {
  it.each([
    [{}, 'table'],
    [{ json: true }, 'json'],
    [{ output: 'text' }, 'text'],
    [{ output: 'json', json: true }, 'json'],
  ] as const)('resolves %j to %s', (opts, expected) => {
    expect(resolveOutput(opts)).toBe(expected);
  });

  it('refuses --json with another --output and an unknown format, as usage errors', () => {
    expect(() => resolveOutput({ json: true, output: 'table' })).toThrow(UsageError);
    expect(() => resolveOutput({ output: 'yaml' })).toThrow(/--output yaml: expected one of table, json, text/);
  });
});

describe('Function: colorWanted', () => {
  const tty = { isTTY: true };
  it('colours a terminal table unless --no-color or NO_COLOR says otherwise', () => {
    expect(colorWanted({}, 'table', tty, {})).toBe(true);
    expect(colorWanted({ color: false }, 'table', tty, {})).toBe(false);
    expect(colorWanted({}, 'table', tty, { NO_COLOR: '1' })).toBe(false);
    expect(colorWanted({}, 'table', tty, { NO_COLOR: '' })).toBe(true);
  });

  it('never colours a pipe, JSON or text', () => {
    expect(colorWanted({}, 'table', { isTTY: false }, {})).toBe(false);
    expect(colorWanted({}, 'json', tty, {})).toBe(false);
    expect(colorWanted({}, 'text', tty, {})).toBe(false);
  });
});

describe('Function: awsClientConfig', () => {
  it('passes --region and --profile to the SDK client settings, nothing when absent', () => {
    expect(awsClientConfig({})).toEqual({});
    expect(awsClientConfig({ region: 'eu-west-1', profile: 'prod-ops' })).toEqual({
      region: 'eu-west-1',
      profile: 'prod-ops',
    });
  });

  it('refuses a Region that cannot be one, naming the flag', () => {
    expect(() => awsClientConfig({ region: 'Ireland' })).toThrow(/--region Ireland: expected an AWS Region name/);
    expect(() => awsClientConfig({ profile: 'has space' })).toThrow(UsageError);
  });
});

describe('Function: exitCodeOf', () => {
  it('gives 64 for a usage problem over 1 for other problems, else the fallback', () => {
    expect(exitCodeOf([])).toBe(EXIT_CODES.ok);
    expect(exitCodeOf([], EXIT_CODES.found)).toBe(2);
    expect(exitCodeOf([{ kind: 'aws' }], EXIT_CODES.found)).toBe(1);
    expect(exitCodeOf([{ kind: 'aws' }, { kind: 'usage' }])).toBe(64);
  });
});

describe('Function: textLine', () => {
  it('joins fields with tabs, flattens tabs and newlines inside a field, writes - for a missing one', () => {
    expect(textLine(['a\tb', 3, null, 'x\ny', undefined])).toBe('a b\t3\t-\tx y\t-');
  });
});

describe('Function: watchdogOutputsByPrefix', () => {
  it('groups Outputs by construct id prefix, ignoring other Outputs and the CDK hash suffix', () => {
    const found = watchdogOutputsByPrefix([
      ...ONE_WATCHDOG,
      { OutputKey: 'SecondLedgerTableNameA1B2C3D4', OutputValue: 'ledger-2' },
      { OutputKey: 'SecondInstanceA1B2C3D4', OutputValue: 'second' },
    ]);
    expect([...found.keys()]).toEqual(['Watchdog', 'Second']);
    expect(found.get('Watchdog')).toEqual({
      LedgerTableName: 'ledger-1',
      NotificationTopicArn: 'arn:aws:sns:eu-west-1:123456789012:notify',
      DashboardName: 'flink-watchdog',
      Instance: 'wd',
    });
    expect(found.get('Second')).toEqual({ LedgerTableName: 'ledger-2', Instance: 'second' });
  });

  it("ignores other constructs' Outputs that end like a watchdog's (a prefix needs LedgerTableName and Instance)", () => {
    const foreign = [
      { OutputKey: 'OpsDashboardName', OutputValue: 'ops' },
      { OutputKey: 'BastionInstance', OutputValue: 'i-0123456789abcdef0' },
      { OutputKey: 'AuditLedgerTableName', OutputValue: 'audit' },
    ];
    expect([...watchdogOutputsByPrefix([...ONE_WATCHDOG, ...foreign]).keys()]).toEqual(['Watchdog']);
    expect(selectWatchdog('S', [...ONE_WATCHDOG, ...foreign])).toMatchObject({
      prefix: 'Watchdog',
      values: { LedgerTableName: 'ledger-1', Instance: 'wd' },
    });
    expect(() => selectWatchdog('S', foreign)).toThrow(/stack S has no flink-watchdog Outputs/);
  });
});

describe('Function: selectWatchdog', () => {
  const two = [
    ...ONE_WATCHDOG,
    { OutputKey: 'BlueLedgerTableName', OutputValue: 'ledger-blue' },
    { OutputKey: 'BlueInstance', OutputValue: 'blue' },
  ];

  it('picks the only watchdog of a stack', () => {
    expect(selectWatchdog('wd', ONE_WATCHDOG)).toMatchObject({ stackName: 'wd', prefix: 'Watchdog' });
  });

  it('asks for --watchdog, listing the prefixes, when the stack holds several (a usage error)', () => {
    const error = (() => {
      try {
        selectWatchdog('wd', two);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(StackOutputsError);
    expect((error as StackOutputsError).usage).toBe(true);
    expect((error as Error).message).toBe(
      'stack wd holds 2 watchdogs (Watchdog, Blue): pass --watchdog PREFIX to choose one',
    );
    expect(selectWatchdog('wd', two, 'Blue').values).toEqual({ LedgerTableName: 'ledger-blue', Instance: 'blue' });
    expect(() => selectWatchdog('wd', two, 'Green')).toThrow('--watchdog Green: stack wd holds no such watchdog');
  });

  it('says how to fix a stack without watchdog Outputs (upgrade it, or pass the names)', () => {
    expect(() => selectWatchdog('old', [{ OutputKey: 'Other', OutputValue: 'x' }])).toThrow(
      /stack old has no flink-watchdog Outputs .*Upgrade it \(cdk deploy with this version\), or pass the names/,
    );
  });
});

describe('Function: requireOutput', () => {
  const w = selectWatchdog('wd', ONE_WATCHDOG);
  it('returns the value of a present Output', () => {
    expect(requireOutput(w, 'LedgerTableName', '--table')).toBe('ledger-1');
  });

  it('names the missing Output, what it is and the fix', () => {
    expect(() => requireOutput(w, 'CommandTopicArn', '--topic')).toThrow(
      'stack wd has no Output WatchdogCommandTopicArn (the runbook command SNS topic): the watchdog has no command topic: add runbooks.publishers to its config and deploy it; or pass --topic',
    );
    expect(() => requireOutput(w, 'SweepStateMachineArn', '--x')).toThrow(
      /upgrade it \(cdk deploy with this version\)/,
    );
  });
});

describe('Function: parseJsonWithPosition', () => {
  it.each([
    ['{\n  "a": 1,\n  "b" 2\n}', 3, 7],
    ['{\n "a": 1,\n}', 3, 1],
    ['{"a":tru}', 1, 6],
    ['[1,2', 1, 5],
    ['', 1, 1],
    ['{"a": 1} x', 1, 10],
  ])('locates the error in %j at line %i, column %i', (text, line, column) => {
    const result = parseJsonWithPosition(text);
    expect(result.ok).toBe(false);
    if (!result.ok) expect({ line: result.error.line, column: result.error.column }).toEqual({ line, column });
  });

  it('parses valid JSON, and the scanner agrees it is valid', () => {
    const text = '{"a": [1, -2.5e3, true, null, "x\\u00e9\\n"], "b": {}}';
    expect(parseJsonWithPosition(text)).toEqual({ ok: true, value: JSON.parse(text) });
    expect(jsonErrorOffset(text)).toBe(-1);
  });

  it('shows the offending line with a caret under the column', () => {
    const result = parseJsonWithPosition('{\n  "a": 1\n  "b": 2\n}');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.excerpt).toBe('  "b": 2\n  ^');
  });
});

describe('Function: modeCounts', () => {
  it('counts each listed application by its effective mode (defaults, then its own policy)', () => {
    const config = parseConfig({
      schemaVersion: 1,
      defaults: { mode: 'remediate' },
      applications: [
        { name: 'a' },
        { name: 'b', policy: { mode: 'observe' } },
        { name: 'c' },
        { name: 'd', policy: { mode: 'approve' } },
      ],
    });
    expect(modeCounts(config)).toEqual({ applications: 4, remediate: 2, observe: 1, approve: 1 });
  });
});

describe('Function: parseTagFilters', () => {
  it('reads KEY=VALUE pairs (the value may hold =) and refuses anything else as a usage problem', () => {
    expect(parseTagFilters(['team=streaming', 'expr=a=b', 'empty='])).toEqual({
      team: 'streaming',
      expr: 'a=b',
      empty: '',
    });
    expect(parseTagFilters(['team'])).toMatchObject({ kind: 'usage', location: '--tag' });
    expect(parseTagFilters(['=x'])).toMatchObject({ kind: 'usage' });
  });
});

describe('Function: initialConfig', () => {
  it('writes every application in observe mode with its runtime, and the Terraform states for drift', () => {
    const config = initialConfig(
      [
        { name: 'orders', runtimeEnvironment: 'FLINK-1_20' },
        { name: 'payments', runtimeEnvironment: 'FLINK-2_2' },
      ],
      ['s3://state-bucket/streaming.tfstate'],
    );
    const parsed = parseConfig(config);
    expect(modeCounts(parsed)).toEqual({ applications: 2, remediate: 0, observe: 2, approve: 0 });
    expect(parsed.applications.map((a) => a.runtimeEnvironment)).toEqual(['FLINK-1_20', 'FLINK-2_2']);
    expect(parsed.drift?.terraformState).toEqual(['s3://state-bucket/streaming.tfstate']);
  });
});

describe('Function: resolveLastKnownGood', () => {
  const snap = (name: string, versionId: number, createdMs: number, status = 'READY'): ApplicationSnapshot =>
    ({ name, versionId, createdMs, status }) as ApplicationSnapshot;
  const obs = (snapshots: ApplicationSnapshot[]): ApplicationObservation =>
    ({
      applicationName: 'orders',
      atMs: 10_000,
      application: { name: 'orders', status: 'RUNNING', versionId: 4 },
      operations: [],
      snapshots,
      errors: [],
    }) as unknown as ApplicationObservation;

  it('is the newest READY snapshot of the running version, even when a newer one is of another version', () => {
    const result = resolveLastKnownGood(
      obs([
        snap('v4-old', 4, 1_000),
        snap('v4-new', 4, 2_000),
        snap('v4-creating', 4, 3_000, 'CREATING'),
        snap('v5', 5, 4_000),
      ]),
    );
    expect(result).toMatchObject({ ok: true, snapshot: { name: 'v4-new' } });
  });

  it('is refused with the reason and the alternative when no READY snapshot of the running version exists', () => {
    const result = resolveLastKnownGood(obs([snap('v3', 3, 1_000)]));
    expect(result).toEqual({
      ok: false,
      reason:
        'orders has no READY snapshot of its running version 4, so there is no last-known-good snapshot (the latest READY snapshot, v3, is of version 3: pass --snapshot latest or --snapshot v3 to restore it)',
    });
  });
});

describe('Function: formatPlan', () => {
  it('shows a guard that was not checked as "? not checked", never with ✓', () => {
    const plan: RemediatePlan = {
      verdict: 'would-act',
      detail: 'force-stop orders',
      guards: [
        { name: 'in-scope', passed: true, status: 'passed', detail: 'listed' },
        { name: 'lock-free', passed: null, status: 'not checked', detail: 'not checked here: no ledger table' },
        { name: 'cooldown-passed', passed: null, status: 'not applied', detail: 'not applied: automation only' },
      ],
      nextSteps: [],
      notes: [],
    };
    const lines = formatPlan(plan, undefined).split('\n');
    expect(lines[0]).toMatch(/^ {2}✓ in-scope/);
    expect(lines[1]).toBe('  ? lock-free        not checked here: no ledger table');
    expect(lines[2]).toBe('  – cooldown-passed  not applied: automation only');
  });
});

describe('Function: runCli', () => {
  /** Runs the CLI in-process with stdout and stderr captured. */
  async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err += String(chunk);
      return true;
    });
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
      out += `${a.join(' ')}\n`;
    });
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => {
      err += `${a.join(' ')}\n`;
    });
    const code = await runCli(argv);
    vi.restoreAllMocks();
    return { code, out, err };
  }

  it.each([
    [['status', '--bogus'], /unknown option '--bogus'/],
    [['history', '--output', 'yaml'], /argument 'yaml' is invalid\. Allowed choices are table, json, text/],
    [['remediate', 'orders'], /required option '--action <command>' not specified/],
    [['nonsense'], /unknown command 'nonsense'/],
    [['history', '--json', '--output', 'table', '--table', 't'], /--json means --output json/],
    [['history', '--region', 'Ireland', '--table', 't'], /--region Ireland: expected an AWS Region name/],
    [['history', '--limit', '0', '--table', 't'], /--limit must be a positive integer, got 0/],
    [['history', '--watchdog', 'Blue', '--table', 't'], /--watchdog PREFIX chooses a watchdog of --stack NAME/],
    [['init', '--tag', 'nokey', '--out', '/nonexistent/x.json'], /--tag nokey: expected KEY=VALUE/],
    // before the config is read (it does not exist) or anything is called
    [['status', '--watchdog', 'Blue', '--config', '/nonexistent/c.json'], /--watchdog PREFIX chooses a watchdog/],
    [['--watchdog', 'Blue', 'status', '--config', '/nonexistent/c.json'], /--watchdog PREFIX chooses a watchdog/],
    [['--region', 'eu-west-1', 'validate', '--config', '/nonexistent/c.json'], /--region does not apply to validate/],
    [['--output', 'text', 'drill', 'wrong-main-class'], /drill --output: expected table or json/],
    [['drill', 'no-such-scenario'], /unknown scenario "no-such-scenario"; known scenarios: /],
  ])('exits 64 for the usage error of %j, saying what is wrong', async (argv, message) => {
    const { code, err } = await run(argv);
    expect(code).toBe(64);
    expect(err).toMatch(message);
  });

  it('prints the version of package.json and the exit code table in --help, with exit code 0', async () => {
    const { default: pkg } = await import('../../package.json', { with: { type: 'json' } });
    const version = await run(['--version']);
    expect(version).toMatchObject({ code: 0, out: `${pkg.version}\n` });
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('64  usage error: unknown command, option or scenario, missing or bad option value');
    expect(help.out).toContain('2   found: drift found (drift), the dry run would be rejected (remediate)');
    // the global options, accepted before the command too
    expect(help.out).toMatch(/--region <region> +AWS Region/);
    expect(help.out).toContain('flink-watchdog --region eu-west-1 status = flink-watchdog status --region eu-west-1');
  });
});
