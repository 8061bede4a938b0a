import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DriftJson } from '#cli/drift.ts';
import { VirtualClock } from '#sandbox/clock.ts';
import { type Emulator, startEmulator } from '#sandbox/emulator/index.ts';
import { ScenarioApplication } from '#sandbox/scenario.ts';

/**
 * `flink-watchdog drift` in Terraform's terms, run as a user runs it (node + tsx, the repository as working
 * directory) against the MSF emulator on 127.0.0.1: attribute paths, which side changed, the commands to run, values
 * with --show-values except sensitive ones, the formats read (state v4, `terraform show -json`, stdin), and the
 * states that cannot be read ("not compared", never "no drift").
 */

const MINUTE = 60_000;
const START_MS = Date.UTC(2026, 10, 30, 9, 0);
const SECRET = 's3cr3t-token';
const ROTATED = 'rotated-s3cr3t-token';
const CONFIG = 'test/fixtures/config/cli-watched.json';
const ORDERS = 'module.streaming.aws_kinesisanalyticsv2_application.app["orders"]';
const TF = {
  consoleEdit: 'test/fixtures/tfstate/cli-console-edit.tfstate.json',
  drifted: 'test/fixtures/tfstate/cli-drifted.tfstate.json',
  driftedShowJson: 'test/fixtures/tfstate/cli-drifted.show.json',
  missingApp: 'test/fixtures/tfstate/cli-missing-app.tfstate.json',
  version3: 'test/fixtures/tfstate/version3.tfstate.json',
  missing: 'test/fixtures/tfstate/no-such-file.tfstate',
};
const PARALLELISM =
  'application_configuration[0].flink_application_configuration[0].parallelism_configuration[0].parallelism';
const PROPERTY_GROUP = 'application_configuration[0].environment_properties[0].property_group';
const FILE_KEY =
  'application_configuration[0].application_code_configuration[0].code_content[0].s3_content_location[0].file_key';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

let emulator: Emulator;
let runs: Record<
  | 'consoleEdit'
  | 'consoleEditValues'
  | 'consoleEditJson'
  | 'consoleEditText'
  | 'sensitiveValues'
  | 'showJsonStdin'
  | 'missingFile'
  | 'version3'
  | 'appAbsent'
  | 'stdinTwice',
  Promise<CliRun>
>;

/** Runs `flink-watchdog drift --config CONFIG ARGS` against the emulator, `stdin` piped in when given. */
function drift(args: string[], stdin?: string): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/bin.ts', 'drift', '--config', CONFIG, ...args], {
      env: {
        ...process.env,
        AWS_ENDPOINT_URL: emulator.endpoint,
        AWS_REGION: emulator.region,
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        NO_COLOR: '1',
        WATCHDOG_CONFIG: undefined,
        WATCHDOG_CONFIG_PATH: undefined,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
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
      ],
      jobModel: [],
      faults: [],
    },
  });
  clock.advanceTo(START_MS + 5 * MINUTE);
  emulator.advanceTo(clock.now());
  runs = {
    consoleEdit: drift(['--tfstate', TF.consoleEdit]),
    consoleEditValues: drift(['--tfstate', TF.consoleEdit, '--show-values']),
    consoleEditJson: drift(['--tfstate', TF.consoleEdit, '--output', 'json']),
    consoleEditText: drift(['--tfstate', TF.consoleEdit, '--output', 'text']),
    sensitiveValues: drift(['--tfstate', TF.drifted, '--show-values', '--json']),
    showJsonStdin: drift(['--tfstate', '-', '--json'], readFileSync(TF.driftedShowJson, 'utf8')),
    missingFile: drift(['--tfstate', TF.missing]),
    version3: drift(['--tfstate', TF.version3]),
    appAbsent: drift(['--tfstate', TF.missingApp]),
    stdinTwice: drift(['--tfstate', '-', '-']),
  };
  await Promise.all(Object.values(runs));
}, 90_000);

afterAll(async () => {
  await emulator?.close();
});

describe('Command: drift, in Terraform terms', { timeout: 90_000 }, () => {
  describe('an application changed outside Terraform (state version_id 2, MSF version 3)', () => {
    it('names each difference by its Terraform attribute path, with the version on each side', async () => {
      const run = await runs.consoleEdit;
      expect(run.code, run.stderr).toBe(2);
      expect(run.stdout).toContain('application version: state version_id 2, MSF ApplicationVersionId 3');
      expect(run.stdout).toContain(`~ ${PARALLELISM}`);
      expect(run.stdout).toMatch(/state \(version 2\): 4\n\s+MSF \(version 3\):\s+2/);
      expect(run.stdout).toContain('~ service_execution_role');
      expect(run.stdout).toContain(`~ ${PROPERTY_GROUP}[0].property_map["topic"]`);
      expect(run.stdout).not.toContain(FILE_KEY);
    });

    it('says MSF changed outside Terraform and what to run, accepting first', async () => {
      const run = await runs.consoleEdit;
      expect(run.stdout).toContain(
        'changed outside Terraform: MSF runs ApplicationVersionId 3; Terraform last recorded version 2 (version_id)',
      );
      const accept = run.stdout.indexOf('→ to accept what MSF runs: terraform apply -refresh-only');
      const restore = run.stdout.indexOf('→ to put the declared configuration back: terraform apply');
      expect(accept).toBeGreaterThan(0);
      expect(restore).toBeGreaterThan(accept);
      expect(run.stdout).toContain('payments-aggregation — no drift');
    });

    it('masks property values without --show-values', async () => {
      const run = await runs.consoleEdit;
      expect(run.stdout).toMatch(
        /property_map\["topic"\][^\n]*\n\s+state \(version 2\): \*\*\*\n\s+MSF \(version 3\):\s+\*\*\*/,
      );
      expect(run.stdout).not.toContain('orders-v1');
    });

    it('prints both values of a property the state does not mark sensitive with --show-values', async () => {
      const run = await runs.consoleEditValues;
      expect(run.code, run.stderr).toBe(2);
      expect(run.stdout).toMatch(
        /property_map\["topic"\][^\n]*\n\s+state \(version 2\): "orders-v1"\n\s+MSF \(version 3\):\s+"orders"/,
      );
      expect(run.stdout + run.stderr).not.toContain(SECRET);
    });

    it('gives the same in --output json: attributes, the changed side, versions and next steps', async () => {
      const run = await runs.consoleEditJson;
      expect(run.code, run.stderr).toBe(2);
      const json = JSON.parse(run.stdout) as DriftJson;
      expect(json.notCompared).toEqual([]);
      const orders = json.applications.find((r) => r.applicationName === 'orders-enrichment');
      expect(orders?.terraform).toMatchObject({
        address: ORDERS,
        stateVersionId: 2,
        msfVersionId: 3,
        changed: 'msf',
        nextSteps: [
          { intent: 'accept', command: 'terraform apply -refresh-only' },
          { intent: 'restore', command: 'terraform apply' },
        ],
      });
      const attributes = orders?.fields.flatMap((f) => f.attributes ?? []);
      expect(attributes).toEqual(
        expect.arrayContaining([
          { path: 'version_id', change: 'changed', desired: '2', actual: '3' },
          { path: PARALLELISM, change: 'changed', desired: '4', actual: '2' },
          {
            path: 'service_execution_role',
            change: 'changed',
            desired: 'arn:aws:iam::123456789012:role/orders-enrichment-old-role',
            actual: 'arn:aws:iam::123456789012:role/orders-enrichment-msf-role',
          },
          {
            path: `${PROPERTY_GROUP}[0].property_map["topic"]`,
            change: 'changed',
            desired: '***',
            actual: '***',
            propertyGroupId: 'kafka',
          },
        ]),
      );
    });

    it('prints one tab-separated line per difference with --output text', async () => {
      const run = await runs.consoleEditText;
      expect(run.code, run.stderr).toBe(2);
      const lines = run.stdout.trim().split('\n');
      expect(lines).toContain(['orders-enrichment', 'drift', 'configuration', PARALLELISM, '4', '2', 'msf'].join('\t'));
      expect(lines).toContain('payments-aggregation\tnone');
    });
  });

  describe('values Terraform marks sensitive', () => {
    it('stay (sensitive) with --show-values, on both sides', async () => {
      const run = await runs.sensitiveValues;
      expect(run.code, run.stderr).toBe(2);
      const json = JSON.parse(run.stdout) as DriftJson;
      const orders = json.applications.find((r) => r.applicationName === 'orders-enrichment');
      const token = orders?.fields
        .flatMap((f) => f.attributes ?? [])
        .find((a) => a.path === `${PROPERTY_GROUP}[0].property_map["auth.token"]`);
      expect(token).toEqual({
        path: `${PROPERTY_GROUP}[0].property_map["auth.token"]`,
        change: 'changed',
        desired: '(sensitive)',
        actual: '(sensitive)',
        propertyGroupId: 'kafka',
        sensitive: true,
      });
      expect(run.stdout + run.stderr).not.toContain(SECRET);
      expect(run.stdout + run.stderr).not.toContain(ROTATED);
    });
  });

  describe('terraform show -json output on stdin (--tfstate -)', () => {
    it('reads it like the state: the same attribute paths, the source marked show-json and stdin', async () => {
      const run = await runs.showJsonStdin;
      expect(run.code, run.stderr).toBe(2);
      const json = JSON.parse(run.stdout) as DriftJson;
      const orders = json.applications.find((r) => r.applicationName === 'orders-enrichment');
      expect(orders?.source).toMatchObject({
        kind: 'terraform',
        location: 'stdin',
        address: ORDERS,
        format: 'show-json',
      });
      expect(orders?.fields.flatMap((f) => (f.attributes ?? []).map((a) => a.path))).toEqual([
        FILE_KEY,
        PARALLELISM,
        `${PROPERTY_GROUP}[0].property_map["auth.token"]`,
      ]);
      // version_id 3 in the state, 3 in MSF: the state declares what MSF does not run.
      expect(orders?.terraform).toMatchObject({ stateVersionId: 3, msfVersionId: 3, changed: 'declared' });
      expect(run.stdout).not.toContain(ROTATED);
    });
  });

  describe('a state that cannot be read: not compared, never "no drift"', () => {
    it('a missing file: every application not compared, exit 1', async () => {
      const run = await runs.missingFile;
      expect(run.code).toBe(1);
      expect(run.stdout).toContain(`orders-enrichment — not compared: Terraform state ${TF.missing}: file not found`);
      expect(run.stdout).toContain(
        `payments-aggregation — not compared: Terraform state ${TF.missing}: file not found`,
      );
      expect(run.stdout).not.toContain('no drift');
      expect(run.stdout).toContain('Drift: 0 applications compared, 0 drifted, 2 not compared, 1 error.');
    });

    it('a version 3 state: the reason and the fix', async () => {
      const run = await runs.version3;
      expect(run.code).toBe(1);
      expect(run.stdout).toContain(
        `orders-enrichment — not compared: Terraform state ${TF.version3}: state format version 3, written by Terraform 0.11 or earlier`,
      );
      expect(run.stdout).toContain('`terraform show -json > state.json`');
      expect(run.stdout).not.toContain('no drift');
    });

    it('an application absent from the state: that one not compared, the other compared', async () => {
      const run = await runs.appAbsent;
      expect(run.code).toBe(1);
      expect(run.stdout).toContain(
        `payments-aggregation — not compared: payments-aggregation is watched but absent from ${TF.missingApp}: declare it in the Terraform configuration`,
      );
      expect(run.stdout).toContain('orders-enrichment — no drift');
      expect(run.stdout).toContain('Drift: 1 application compared, 0 drifted, 1 not compared, 1 error.');
    });

    it('refuses - twice as a usage error (exit 64)', async () => {
      const run = await runs.stdinTwice;
      expect(run.code).toBe(64);
      expect(run.stderr).toContain('error: --tfstate -: standard input can be read once');
    });
  });
});
