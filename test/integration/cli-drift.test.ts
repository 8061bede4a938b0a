import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DriftJson, readDesiredStates } from '#cli/drift.ts';
import type { StatusJson } from '#cli/status.ts';
import { VirtualClock } from '#sandbox/clock.ts';
import { type LocalLedgerTable, startLedgerTable } from '#sandbox/dynalite.ts';
import { type Emulator, startEmulator } from '#sandbox/emulator/index.ts';
import { Fault, ScenarioApplication } from '#sandbox/scenario.ts';
import { DynamoDbLedger } from '#shared/adapters/dynamodb-ledger.ts';
import { parseConfig } from '#shared/config/schema.ts';

const MINUTE = 60_000;
/**
 * The world has run 15 virtual minutes ending at the current wall-clock minute, so the restart window of `status`
 * (wall clock) covers the restarts the emulator published.
 */
const NOW_MS = Math.floor(Date.now() / MINUTE) * MINUTE;
const START_MS = NOW_MS - 15 * MINUTE;
const SECRET = 's3cr3t-token';
const CONFIG = 'test/fixtures/config/cli-watched.json';
const TFSTATE = {
  matching: 'test/fixtures/tfstate/cli-matching.tfstate.json',
  drifted: 'test/fixtures/tfstate/cli-drifted.tfstate.json',
  missingApp: 'test/fixtures/tfstate/cli-missing-app.tfstate.json',
  corrupt: 'test/fixtures/tfstate/corrupt.tfstate',
};

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

let emulator: Emulator;
let ledger: LocalLedgerTable;
/** Every CLI run of this file, started together once the emulator is up (each spawn costs about 2 s). */
let runs: Record<
  'matching' | 'drifted' | 'json' | 'corrupt' | 'missingApp' | 'oneApp' | 'status' | 'statusJson' | 'badConfig',
  Promise<CliRun>
>;

/** Runs `tsx cli/bin.ts ARGS` against the emulator (and the local ledger table); never rejects. */
function cli(args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      'npx',
      ['tsx', 'cli/bin.ts', ...args],
      {
        env: {
          ...process.env,
          AWS_ENDPOINT_URL: emulator.endpoint,
          AWS_ENDPOINT_URL_DYNAMODB: ledger.endpoint,
          AWS_REGION: emulator.region,
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          NO_COLOR: '1',
          WATCHDOG_CONFIG: undefined,
          WATCHDOG_CONFIG_PATH: undefined,
          LEDGER_TABLE_NAME: undefined,
        },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

beforeAll(async () => {
  const clock = new VirtualClock(START_MS);
  emulator = await startEmulator({
    clock,
    world: {
      startTime: new Date(START_MS).toISOString(),
      applications: [
        ScenarioApplication.parse({
          name: 'orders-enrichment',
          code: { bucket: 'artifacts', fileKey: 'orders-1.jar' },
          environmentProperties: { kafka: { topic: 'orders', 'auth.token': SECRET } },
          parallelism: 2,
          initialVersion: 3,
        }),
        ScenarioApplication.parse({
          name: 'payments-aggregation',
          runtimeEnvironment: 'FLINK-2_2',
          code: { bucket: 'artifacts', fileKey: 'payments-4.jar' },
          environmentProperties: { kafka: { topic: 'payments' } },
        }),
        ScenarioApplication.parse({ name: 'not-watched', code: { bucket: 'artifacts', fileKey: 'x.jar' } }),
      ],
      jobModel: [],
      // A dependency down the whole time: the payments job keeps restarting while MSF says RUNNING.
      faults: [Fault.parse({ kind: 'outage', application: 'payments-aggregation', fromMinute: 0 })],
    },
  });
  clock.advanceTo(NOW_MS);
  emulator.advanceTo(clock.now());
  ledger = await startLedgerTable();
  await new DynamoDbLedger({ tableName: ledger.tableName, client: ledger.client }).createIncident({
    schemaVersion: 1,
    id: 'orders-enrichment-0123456789abcdef',
    applicationName: 'orders-enrichment',
    trigger: { source: 'alarm', detail: 'orders-enrichment-restart-loop', atMs: NOW_MS - 5 * MINUTE },
    openedMs: NOW_MS - 5 * MINUTE,
    status: 'REMEDIATING',
    decision: { verdict: 'REMEDIATE', reason: 'restart loop', guards: [], nextSteps: [] },
    attempts: 0,
    actions: [],
    events: [],
  });
  const drift = (...args: string[]) => cli(['drift', '--config', CONFIG, ...args]);
  runs = {
    matching: drift('--tfstate', TFSTATE.matching),
    drifted: drift('--tfstate', TFSTATE.drifted),
    json: drift('--tfstate', TFSTATE.drifted, '--json'),
    corrupt: drift('--tfstate', TFSTATE.corrupt),
    missingApp: drift('--tfstate', TFSTATE.missingApp),
    oneApp: drift('--app', 'orders-enrichment', '--tfstate', TFSTATE.missingApp),
    status: cli(['status', '--config', CONFIG, '--tfstate', TFSTATE.drifted, '--table', ledger.tableName]),
    statusJson: cli(['status', '--config', CONFIG, '--json']),
    badConfig: cli(['status', '--config', 'test/fixtures/config/negative-threshold.json']),
  };
  // Settle them all before the first test, so each test's time is its own.
  await Promise.all(Object.values(runs));
}, 60_000);

afterAll(async () => {
  await Promise.all([emulator?.close(), ledger?.close()]);
});

describe('Command: drift', { timeout: 60_000 }, () => {
  it('exits 0 when every watched application matches the Terraform state', async () => {
    const run = await runs.matching;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('orders-enrichment — no drift');
    expect(run.stdout).toContain('payments-aggregation — no drift');
    expect(run.stdout).not.toContain('not-watched');
  });

  it('exits 2 and shows each drifted field (desired vs actual) for another code key and parallelism', async () => {
    const run = await runs.drifted;
    expect(run.code, run.stderr).toBe(2);
    expect(run.stdout).toContain('orders-enrichment — drift: code/version');
    expect(run.stdout).toMatch(/~ code \[code\/version\]/);
    expect(run.stdout).toMatch(
      /s3_content_location\[0\]\.file_key\n\s+state \(version 3\): orders-2\.jar\n\s+MSF \(version 3\):\s+orders-1\.jar/,
    );
    expect(run.stdout).toMatch(/~ parallelism \[configuration\]/);
    expect(run.stdout).toContain('Terraform declares parallelism 4; MSF runs with Parallelism 2.');
    expect(run.stdout).toContain('property_group[0].property_map["auth.token"]');
    expect(run.stdout).toContain('payments-aggregation — no drift');
  });

  it('prints {applications: [DriftReport...], problems: []} with --json', async () => {
    const run = await runs.json;
    expect(run.code, run.stderr).toBe(2);
    const json = JSON.parse(run.stdout) as DriftJson;
    expect(json.problems).toEqual([]);
    expect(json.applications.map((r) => [r.applicationName, r.severity])).toEqual([
      ['orders-enrichment', 'code/version'],
      ['payments-aggregation', 'none'],
    ]);
    const orders = json.applications[0];
    expect(orders?.source).toMatchObject({
      kind: 'terraform',
      location: TFSTATE.drifted,
      address: 'module.streaming.aws_kinesisanalyticsv2_application.app["orders"]',
    });
    expect(orders?.fields.map((f) => f.field)).toEqual(['code', 'parallelism', 'environmentProperties']);
    expect(orders?.fields[0]).toMatchObject({ severity: 'code/version', changedKeys: ['FileKey'] });
    expect(orders?.fields.find((f) => f.field === 'environmentProperties')).toMatchObject({
      desired: 'kafka.auth.token=***',
      actual: 'kafka.auth.token=***',
      changedKeys: ['kafka.auth.token'],
    });
    expect(orders?.summary).toContain('orders-enrichment differs from what Terraform declares in 3 fields');
    expect(orders?.ignoredDifferences).toEqual(expect.any(Array));
  });

  it('never prints an environment property value', async () => {
    for (const run of await Promise.all([runs.matching, runs.drifted, runs.json])) {
      expect(run.stdout + run.stderr).not.toContain(SECRET);
    }
  });

  it('exits 1 naming the file when the Terraform state is corrupt', async () => {
    const run = await runs.corrupt;
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`error: Terraform state ${TFSTATE.corrupt}`);
  });

  it('exits 1 naming the application when a watched application is absent from the state', async () => {
    const run = await runs.missingApp;
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`payments-aggregation is watched but absent from ${TFSTATE.missingApp}`);
  });

  it('compares only the application of --app', async () => {
    const run = await runs.oneApp;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('orders-enrichment — no drift');
    expect(run.stdout).not.toContain('payments-aggregation');
  });
});

describe('Function: readDesiredStates', () => {
  it('names a watched application declared in none of several Terraform states', async () => {
    // Prepare
    const config = parseConfig(JSON.parse(readFileSync(CONFIG, 'utf8')), CONFIG);

    // Act
    const desired = await readDesiredStates(config, [TFSTATE.missingApp, TFSTATE.missingApp]);

    // Assess
    expect(desired.problems).toEqual([
      {
        kind: 'desired-state',
        location: `${TFSTATE.missingApp}, ${TFSTATE.missingApp}`,
        address: 'payments-aggregation',
        message: `payments-aggregation is watched but absent from every Terraform state (${TFSTATE.missingApp}, ${TFSTATE.missingApp})`,
      },
    ]);
    expect(desired.states.find((d) => d.applicationName === 'orders-enrichment')?.source.kind).toBe('terraform');
  });
});

describe('Command: status', { timeout: 60_000 }, () => {
  it('prints one line per watched application: status, version, restarts, open incident, drift', async () => {
    const run = await runs.status;
    expect(run.code, run.stderr).toBe(0);
    const rows = run.stdout
      .split('\n')
      .filter((l) => /^(orders-enrichment|payments-aggregation|not-watched)\s/.test(l));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(
      /^orders-enrichment\s+RUNNING\s+3\s+0 in 10 min\s+orders-enrichment-0123456789abcdef REMEDIATING\s+code\/version$/,
    );
    expect(rows[1]).toMatch(/^payments-aggregation\s+RUNNING\s+1\s+[1-9]\d* in 10 min\s+none\s+none$/);
  });

  it('prints the same as objects with --json; the incident is left out without a ledger table', async () => {
    const run = await runs.statusJson;
    expect(run.code, run.stderr).toBe(0);
    const json = JSON.parse(run.stdout) as StatusJson;
    expect(json.problems).toEqual([]);
    expect(json.applications).toEqual([
      {
        applicationName: 'orders-enrichment',
        status: 'RUNNING',
        applicationVersion: 3,
        restarts: { count: 0, metricName: 'fullRestarts', windowMinutes: 10 },
        drift: 'none',
      },
      {
        applicationName: 'payments-aggregation',
        status: 'RUNNING',
        applicationVersion: 1,
        restarts: { count: expect.any(Number), metricName: 'numRestarts', windowMinutes: 10 },
        drift: 'none',
      },
    ]);
    expect(json.applications[1]?.restarts?.count).toBeGreaterThan(0);
  });

  it('exits 1 naming the config file and the field when the config does not validate', async () => {
    const run = await runs.badConfig;
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('invalid watchdog configuration in test/fixtures/config/negative-threshold.json');
    expect(run.stderr).toContain('restartLoop.threshold');
  });
});
