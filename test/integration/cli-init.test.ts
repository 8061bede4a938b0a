import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InitJson } from '#cli/init.ts';
import { VirtualClock } from '#sandbox/clock.ts';
import { type Emulator, startEmulator } from '#sandbox/emulator/index.ts';
import { ScenarioApplication } from '#sandbox/scenario.ts';
import { parseConfig } from '#shared/config/schema.ts';

const REPO = resolve(import.meta.dirname, '../..');
/** The repository's tsx, run by absolute path: the CLI runs from a directory that is not the repository. */
const TSX = join(REPO, 'node_modules/.bin/tsx');
const BIN = join(REPO, 'cli/bin.ts');
const TFSTATE = join(REPO, 'test/fixtures/tfstate/cli-matching.tfstate.json');
/** More than one ListApplications page (the adapter asks for 50 at a time). */
const FILLER_APPS = 52;

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

let emulator: Emulator;
let cwd: string;

/** Runs `tsx cli/bin.ts ARGS` in `cwd` (a fresh temporary directory) against the emulator; never rejects. */
function cli(args: string[]): Promise<CliRun> {
  return new Promise((done) => {
    execFile(
      TSX,
      [BIN, ...args],
      {
        cwd,
        env: {
          ...process.env,
          AWS_ENDPOINT_URL: emulator.endpoint,
          AWS_REGION: undefined,
          AWS_DEFAULT_REGION: undefined,
          AWS_PROFILE: undefined,
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          NO_COLOR: '1',
          WATCHDOG_CONFIG: undefined,
          WATCHDOG_CONFIG_PATH: undefined,
        },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

beforeAll(async () => {
  cwd = mkdtempSync(join(tmpdir(), 'flink-watchdog-init-'));
  const startMs = Date.now();
  const app = (name: string, extra: Record<string, unknown> = {}) =>
    ScenarioApplication.parse({ name, code: { bucket: 'artifacts', fileKey: `${name}.jar` }, ...extra });
  emulator = await startEmulator({
    clock: new VirtualClock(startMs),
    world: {
      startTime: new Date(startMs).toISOString(),
      applications: [
        app('orders-enrichment', { tags: { team: 'streaming', env: 'prod' } }),
        app('payments-aggregation', { runtimeEnvironment: 'FLINK-2_2', tags: { team: 'streaming' } }),
        app('legacy-sql', { runtimeEnvironment: 'SQL-1_0', tags: { team: 'streaming' } }),
        ...Array.from({ length: FILLER_APPS }, (_, i) =>
          app(`batch-${String(i + 1).padStart(2, '0')}`, { initialStatus: 'READY', tags: { team: 'batch' } }),
        ),
      ],
      jobModel: [],
      faults: [],
    },
  });
}, 60_000);

afterAll(async () => {
  await emulator?.close();
  if (cwd) rmSync(cwd, { recursive: true, force: true });
});

describe('Command: init', { timeout: 60_000 }, () => {
  it('writes a valid config of every Flink application of the Region (all pages), in observe mode, and says what next', async () => {
    // Act
    const run = await cli(['init', '--region', emulator.region, '--out', 'all.json', '--output', 'table']);

    // Assess
    expect(run.code, run.stderr).toBe(0);
    const config = parseConfig(JSON.parse(readFileSync(join(cwd, 'all.json'), 'utf8')));
    expect(config.applications).toHaveLength(FILLER_APPS + 2);
    expect(config.applications.find((a) => a.name === 'payments-aggregation')?.runtimeEnvironment).toBe('FLINK-2_2');
    expect(config.applications.every((a) => a.policy.mode === 'observe')).toBe(true);
    expect(config.defaults.mode).toBe('observe');
    expect(config.applications.map((a) => a.name)).not.toContain('legacy-sql');
    expect(run.stdout).toContain(`wrote all.json: ${FILLER_APPS + 2} Apache Flink applications in ${emulator.region}`);
    expect(run.stdout).toContain('skipped legacy-sql: runtime SQL-1_0');
    expect(run.stdout).toContain('1. flink-watchdog validate --config all.json');
    expect(run.stdout).toMatch(/every application is in observe mode/);
    expect(run.stdout).toContain('cdk deploy');
  });

  it('keeps only applications with every --tag, and names their Terraform resource with --tfstate (JSON output)', async () => {
    // Act
    const run = await cli([
      'init',
      '--region',
      emulator.region,
      '--tag',
      'team=streaming',
      '--tfstate',
      TFSTATE,
      '--out',
      'streaming.json',
      '--json',
    ]);

    // Assess
    expect(run.code, run.stderr).toBe(0);
    const json = JSON.parse(run.stdout) as InitJson;
    expect(json.written).toBe(true);
    expect(json.problems).toEqual([]);
    expect(json.applications.map((a) => [a.name, a.runtimeEnvironment, a.terraformAddress])).toEqual([
      ['orders-enrichment', 'FLINK-1_20', 'module.streaming.aws_kinesisanalyticsv2_application.app["orders"]'],
      ['payments-aggregation', 'FLINK-2_2', 'module.streaming.aws_kinesisanalyticsv2_application.app["payments"]'],
    ]);
    expect(json.applications[0]?.tags).toEqual({ team: 'streaming', env: 'prod' });
    expect(json.skipped.filter((s) => s.reason === 'not tagged team=streaming')).toHaveLength(FILLER_APPS);
    // A local path is read now, but only s3:// sources go to drift.terraformState (the reconciler Lambda reads those).
    const config = parseConfig(JSON.parse(readFileSync(join(cwd, 'streaming.json'), 'utf8')));
    expect(config.drift).toBeUndefined();
    expect(json.nextSteps).toContain(
      `--tfstate ${TFSTATE} was read now but not written to streaming.json: put your S3 backend key in drift.terraformState (s3://BUCKET/KEY) so the deployed reconciler can read it.`,
    );
    expect(json.nextSteps).toContain(
      `Compare with Terraform: flink-watchdog drift --config streaming.json --tfstate ${TFSTATE}`,
    );
  });

  it('writes nothing and exits 1 when no Flink application carries the --tag, saying so (no "Deploy" step)', async () => {
    // Act
    const run = await cli(['init', '--region', emulator.region, '--tag', 'team=nobody', '--out', 'none.json']);

    // Assess
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `error: no Flink applications found in ${emulator.region} (${FILLER_APPS + 3} applications skipped: runtime SQL-1_0: the watchdog watches Apache Flink applications (FLINK-*); not tagged team=nobody): nothing written to none.json`,
    );
    expect(run.stdout).not.toContain('Deploy');
    expect(() => readFileSync(join(cwd, 'none.json'))).toThrow(/ENOENT/);
  });

  it('refuses to overwrite an existing file without --force (exit 1, file unchanged), overwrites with it', async () => {
    // Prepare
    writeFileSync(join(cwd, 'mine.json'), '{"keep": true}\n');

    // Act
    const refused = await cli(['init', '--region', emulator.region, '--out', 'mine.json']);
    const kept = readFileSync(join(cwd, 'mine.json'), 'utf8');
    const forced = await cli([
      'init',
      '--region',
      emulator.region,
      '--out',
      'mine.json',
      '--force',
      '--output',
      'text',
    ]);

    // Assess
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('mine.json exists: pass --force to overwrite it, or --out FILE');
    expect(kept).toBe('{"keep": true}\n');
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout.split('\n')).toContain('orders-enrichment\tFLINK-1_20\tRUNNING\t-');
    expect(parseConfig(JSON.parse(readFileSync(join(cwd, 'mine.json'), 'utf8'))).applications).toHaveLength(
      FILLER_APPS + 2,
    );
  });

  it('writes nothing when a Terraform state cannot be read, and says which', async () => {
    // Act
    const run = await cli(['init', '--region', emulator.region, '--tfstate', 'missing.tfstate', '--out', 'no.json']);

    // Assess
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('missing.tfstate');
    expect(run.stderr).toContain('nothing written to no.json');
    expect(() => readFileSync(join(cwd, 'no.json'))).toThrow(/ENOENT/);
  });
});

describe('Command: validate', { timeout: 60_000 }, () => {
  it('accepts the config init wrote, offline, from another directory', async () => {
    // Prepare
    const wrote = await cli(['init', '--region', emulator.region, '--out', 'checked.json', '--tag', 'env=prod']);
    expect(wrote.code, wrote.stderr).toBe(0);
    const callsBefore = emulator.calls.length;

    // Act
    const run = await cli(['validate', '--config', 'checked.json']);

    // Assess
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('valid: 1 application, 0 in remediate mode, 1 in observe mode (checked.json)');
    expect(emulator.calls.length).toBe(callsBefore);
  });

  it('prints the warnings synth reports (a local Terraform state path) and still exits 0, in JSON as warnings', async () => {
    // Prepare
    writeFileSync(
      join(cwd, 'local-state.json'),
      JSON.stringify({
        schemaVersion: 1,
        applications: [{ name: 'a' }],
        drift: { terraformState: ['s3://acme-state/flink.tfstate', 'local.tfstate'] },
      }),
    );
    const expected =
      'drift.terraformState "local.tfstate" is a local path: the reconciler Lambda cannot read it (use the S3 backend object, s3://BUCKET/KEY). The CLI can.';

    // Act
    const [table, json] = await Promise.all([
      cli(['validate', '--config', 'local-state.json']),
      cli(['validate', '--config', 'local-state.json', '--output', 'json']),
    ]);

    // Assess
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toContain('valid: 1 application');
    expect(table.stderr).toBe(`warning: ${expected}\n`);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      valid: true,
      warnings: [{ code: 'flink-watchdog:terraform-state-local-path', level: 'warning', message: expected }],
    });
  });

  it('exits 1 with the JSON error line and column, or each invalid field as synth prints it', async () => {
    // Prepare
    writeFileSync(
      join(cwd, 'broken.json'),
      '{\n  "schemaVersion": 1,\n  "applications": [\n    {"name": "a"}\n    {"name": "b"}\n  ]\n}\n',
    );
    writeFileSync(
      join(cwd, 'invalid.json'),
      JSON.stringify({ schemaVersion: 1, applications: [{ name: 'a', policy: { mode: 'fix' } }] }),
    );

    // Act
    const [broken, invalid] = await Promise.all([
      cli(['validate', '--config', 'broken.json']),
      cli(['validate', '--config', 'invalid.json']),
    ]);

    // Assess
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('broken.json:5:5: not valid JSON (line 5, column 5)');
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('invalid watchdog configuration in invalid.json:');
    expect(invalid.stderr).toContain(
      '  - applications[0].policy.mode: must be one of "remediate", "approve", "observe" (got "fix")',
    );
  });
});
