import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ALARM_PREFIX } from '#shared/alarms.ts';

// The CDK app (infra/bin/app.ts) run as `cdk synth` runs it: a child process with the context in CDK_CONTEXT_JSON and
// the cloud assembly directory in CDK_OUTDIR. A bad config file must fail synth, naming the field, before any
// construct is built; a good one must synthesize. Each run costs a few seconds (loading aws-cdk-lib), so the runs are
// few and concurrent.

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/config/', import.meta.url));
const outDirs: string[] = [];

interface SynthRun {
  code: number | null;
  stderr: string;
  outDir: string;
}

/** Runs the CDK app on `fixture` with extra context; resolves when the process exits. */
function synth(fixture: string, context: Record<string, unknown> = {}): Promise<SynthRun> {
  return runApp(REPO_ROOT, { configFile: join(FIXTURES, fixture), ...context });
}

/** tsx's loader, by absolute URL: the app also runs from directories without node_modules. */
const TSX_LOADER = pathToFileURL(join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

/** Runs the CDK app (infra/bin/app.ts) in `cwd` with this context, as `cdk synth` would; resolves on exit. */
function runApp(cwd: string, context: Record<string, unknown>): Promise<SynthRun> {
  const outDir = mkdtempSync(join(tmpdir(), 'flink-watchdog-synth-'));
  outDirs.push(outDir);
  const child = spawn(process.execPath, ['--import', TSX_LOADER, join(REPO_ROOT, 'infra', 'bin', 'app.ts')], {
    cwd,
    env: {
      ...process.env,
      CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:bundling-stacks': [], ...context }),
      CDK_OUTDIR: outDir,
      CDK_DISABLE_VERSION_CHECK: '1',
      // Built-in CloudFormation validation adds ~2 s and nothing to these assertions.
      CDK_VALIDATION: 'false',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr, outDir }));
  });
}

afterAll(() => {
  for (const dir of outDirs) rmSync(dir, { recursive: true, force: true });
});

describe('CDK app: synth with a config file', () => {
  describe.concurrent('fails, naming the field, on a bad config', () => {
    it.each([
      ['unknown-policy-key.json', 'applications[0].policy.restartloop', 'unknown key (did you mean "restartLoop"?)'],
      [
        'unknown-mode.json',
        'applications[0].policy.mode',
        'must be one of "remediate", "approve", "observe" (got "aggressive")',
      ],
      ['negative-threshold.json', 'applications[0].policy.restartLoop.threshold', 'must be at least 1 (got -1)'],
      ['duplicate-application.json', 'applications[1].name', 'duplicate application "orders-enrichment"'],
      ['slack-url-in-config.json', 'notifications.slackWebhookUrl', 'Secrets Manager'],
    ])(
      '%s → %s',
      async (fixture, path, problem) => {
        // Act
        const run = await synth(fixture);

        // Assess
        expect(run.code, run.stderr).not.toBe(0);
        expect(run.stderr).toContain(`invalid watchdog configuration in test/fixtures/config/${fixture}`);
        expect(run.stderr).toContain(`${path}: `);
        expect(run.stderr).toContain(problem);
        expect(run.stderr, 'a config error is reported without a stack trace').not.toMatch(/\n\s+at /);
        expect(existsSync(join(run.outDir, 'manifest.json')), 'nothing synthesized').toBe(false);
      },
      60_000,
    );
  });

  it('synthesizes a valid config, runtime environments from the config with the context override on top', async () => {
    // Act
    const run = await synth('valid.json', { runtimeEnvironments: { 'fraud-scoring': 'FLINK-1_20' } });

    // Assess
    expect(run.code, run.stderr).toBe(0);
    const templateFile = join(run.outDir, 'FlinkWatchdog.template.json');
    expect(existsSync(templateFile), `a template in ${run.outDir}`).toBe(true);
    const template = JSON.parse(readFileSync(templateFile, 'utf8')) as {
      Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
      Outputs: Record<string, { Value: unknown }>;
    };
    // The alarms of the applications are the alarm manager's, at runtime: none is in the template.
    const alarmNames = Object.values(template.Resources)
      .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
      .map((r) => r.Properties?.AlarmName as string);
    expect(alarmNames.filter((n) => n.startsWith(ALARM_PREFIX))).toEqual([]);
    expect(template.Outputs.FlinkWatchdogInstance?.Value).toBe('FlinkWatchdog');
    // The runtime environments pick each application's restart metric on its dashboard row.
    const dashboard = Object.values(template.Resources).find((r) => r.Type === 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard?.Properties?.DashboardBody);
    /** The restart metric graphed for an application: fullRestarts before Flink 2, numRestarts on FLINK-2_x. */
    const restartMetric = (application: string) =>
      ['fullRestarts', 'numRestarts'].filter((m) => body.includes(`\\"${m}\\",\\"Application\\",\\"${application}\\"`));
    expect(restartMetric('orders-enrichment')).toEqual(['fullRestarts']); // default FLINK-1_20
    expect(restartMetric('payments-aggregation')).toEqual(['numRestarts']); // FLINK-2_2 in the config
    expect(restartMetric('fraud-scoring')).toEqual(['fullRestarts']); // FLINK-2_2, overridden by the context
  }, 60_000);

  describe.concurrent('without flink-watchdog.config.json', () => {
    /** An empty working directory: no flink-watchdog.config.json in it. */
    const emptyDir = (): string => {
      const dir = mkdtempSync(join(tmpdir(), 'flink-watchdog-cwd-'));
      outDirs.push(dir);
      return dir;
    };

    it('refuses (exit 1) and says how to make one: create it, flink-watchdog init, or -c example=true', async () => {
      // Act
      const run = await runApp(emptyDir(), {});

      // Assess
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('flink-watchdog.config.json not found');
      expect(run.stderr).toContain('flink-watchdog init');
      expect(run.stderr).toContain('-c example=true');
      expect(run.stderr, 'no stack trace').not.toMatch(/\n\s+at /);
      expect(existsSync(join(run.outDir, 'manifest.json')), 'nothing synthesized').toBe(false);
    }, 60_000);

    it('synthesizes the example, all observe (no MSF mutation granted), when asked with -c example=true', async () => {
      // Act
      const run = await runApp(emptyDir(), { example: 'true' });

      // Assess
      expect(run.code, run.stderr).toBe(0);
      const template = readFileSync(join(run.outDir, 'FlinkWatchdog.template.json'), 'utf8');
      expect(template).not.toMatch(/kinesisanalytics:(Start|Stop|Update|Rollback|CreateApplicationSnapshot)/);
    }, 60_000);

    it('uses flink-watchdog.config.json of the working directory (where cdk.json is)', async () => {
      // Prepare
      const cwd = emptyDir();
      copyFileSync(join(FIXTURES, 'valid.json'), join(cwd, 'flink-watchdog.config.json'));

      // Act
      const run = await runApp(cwd, {});

      // Assess
      expect(run.code, run.stderr).toBe(0);
      expect(readFileSync(join(run.outDir, 'FlinkWatchdog.template.json'), 'utf8')).toContain('fraud-scoring');
    }, 60_000);
  });
});
