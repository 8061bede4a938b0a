import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '#shared/config/schema.ts';
import { packageRoot } from '#shared/package-root.ts';
import { FlinkWatchdogPropsError } from '../../infra/errors.ts';
import { CONFIG_FILE_NAME } from '../../infra/flink-watchdog.ts';
import { LAMBDA_FUNCTIONS, lambdaDistDir, prebuiltCode } from '../../infra/lambda-code.ts';
import { WatchdogStack } from '../../infra/watchdog-stack.ts';

// The construct deploys the package's prebuilt code (dist/lambda/<fn>/, written by `npm run build`; the vitest global
// setup builds it when stale) with the config file beside the handler: no esbuild, TypeScript or lock file at synth.

const tempDirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** A package root with a fake build of the detector: dist/lambda/detector/index.mjs (+ a chunk). */
function fakePackage(handler = 'export const handler = async () => 1;\n'): string {
  const root = tempDir('flink-watchdog-pkg-');
  const dir = join(root, 'dist', 'lambda', 'detector');
  mkdirSync(join(dir, 'chunks'), { recursive: true });
  writeFileSync(join(dir, 'index.mjs'), handler);
  writeFileSync(join(dir, 'chunks', 'lazy-ABC.mjs'), 'export const lazy = 1;\n');
  return root;
}

describe('Function: prebuiltCode', () => {
  it('copies dist/lambda/<fn>/ and writes the config beside index.mjs', () => {
    // Prepare
    const root = fakePackage();
    const outdir = tempDir('flink-watchdog-asset-');
    const stack = new Stack(new App({ outdir }), 'S');

    // Act
    const code = prebuiltCode(stack, { fn: 'detector', configJson: '{"a":1}\n', fileName: CONFIG_FILE_NAME, root });
    const staged = code.bind(stack).s3Location;

    // Assess
    const dir = join(outdir, `asset.${staged?.objectKey.replace(/\.zip$/, '')}`);
    expect(readdirSync(dir).sort()).toEqual(['chunks', 'index.mjs', CONFIG_FILE_NAME]);
    expect(readFileSync(join(dir, CONFIG_FILE_NAME), 'utf8')).toBe('{"a":1}\n');
    expect(readdirSync(join(dir, 'chunks'))).toEqual(['lazy-ABC.mjs']);
  });

  it('makes a new asset when the config or the build changes, and the same one otherwise', () => {
    // Prepare
    const root = fakePackage();
    const other = fakePackage('export const handler = async () => 2;\n');
    const hashOf = (r: string, config: string): string => {
      const stack = new Stack(new App({ outdir: tempDir('flink-watchdog-asset-') }), 'S');
      const code = prebuiltCode(stack, { fn: 'detector', configJson: config, fileName: CONFIG_FILE_NAME, root: r });
      return code.bind(stack).s3Location?.objectKey ?? '';
    };

    // Act
    const first = hashOf(root, '{"a":1}\n');

    // Assess
    expect(hashOf(root, '{"a":1}\n')).toBe(first);
    expect(hashOf(root, '{"a":2}\n')).not.toBe(first);
    expect(hashOf(other, '{"a":1}\n')).not.toBe(first);
  });

  it('fails synth without the build, saying to run npm run build', () => {
    // Prepare
    const empty = tempDir('flink-watchdog-empty-');
    const stack = new Stack(new App({ outdir: tempDir('flink-watchdog-asset-') }), 'S');

    // Act / Assess
    expect(() =>
      prebuiltCode(stack, { fn: 'runbook', configJson: '{}', fileName: CONFIG_FILE_NAME, root: empty }),
    ).toThrow(FlinkWatchdogPropsError);
    expect(() =>
      prebuiltCode(stack, { fn: 'runbook', configJson: '{}', fileName: CONFIG_FILE_NAME, root: empty }),
    ).toThrow(/^dist\/lambda\/runbook not found: run npm run build/);
  });

  it('needs no build in a stack whose bundling is skipped (its assets are never uploaded)', () => {
    // Prepare
    const empty = tempDir('flink-watchdog-empty-');
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S');

    // Act / Assess
    expect(() =>
      prebuiltCode(stack, { fn: 'detector', configJson: '{}', fileName: CONFIG_FILE_NAME, root: empty }),
    ).not.toThrow();
  });
});

describe('Construct: FlinkWatchdog, deployed code', () => {
  it('deploys each function from the built dist/lambda/<fn>/: index.handler, Node 22, arm64, source maps, the config', () => {
    // Prepare
    const outdir = tempDir('flink-watchdog-synth-');
    const app = new App({ outdir });
    const raw = {
      schemaVersion: 1,
      applications: [{ name: 'orders-enrichment' }],
      runbooks: { publishers: ['arn:aws:iam::123456789012:role/flink-oncall'] },
    };
    const stack = new WatchdogStack(app, 'Built', {
      config: raw,
      env: { account: '123456789012', region: 'eu-west-1' },
    });

    // Act
    const template = app.synth().getStackArtifact(stack.artifactId).template as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const functions = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');

    // Assess
    expect(functions).toHaveLength(4);
    expect(LAMBDA_FUNCTIONS.every((fn) => existsSync(join(lambdaDistDir(fn, packageRoot()), 'index.mjs')))).toBe(true);
    for (const fn of functions) {
      expect(fn.Properties).toMatchObject({
        Handler: 'index.handler',
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
      });
      expect(fn.Properties.Environment).toMatchObject({ Variables: { NODE_OPTIONS: '--enable-source-maps' } });
      const key = (fn.Properties.Code as { S3Key: string }).S3Key.replace(/\.zip$/, '');
      const dir = join(outdir, `asset.${key}`);
      expect(existsSync(join(dir, 'index.mjs')), `${dir}/index.mjs`).toBe(true);
      expect(existsSync(join(dir, 'index.mjs.map')), `${dir}/index.mjs.map`).toBe(true);
      expect(JSON.parse(readFileSync(join(dir, CONFIG_FILE_NAME), 'utf8'))).toEqual(parseConfig(raw));
    }
  }, 120_000);
});
