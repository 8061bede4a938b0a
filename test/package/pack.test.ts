import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, LAMBDA_FUNCTIONS, ROOT } from '../../scripts/build.ts';
import { consumerLock, type PackageLock, type PackedDependency } from './consumer-lock.ts';

/**
 * The package as a new user gets it: `npm pack`, then a fresh CDK app in an empty directory that installs the tarball
 * (with aws-cdk-lib, constructs and TypeScript at the repository's versions) from the npm cache, type-checks
 * `new FlinkWatchdog(stack, 'Watchdog', { config })` against the shipped declarations, synthesizes it with the
 * shipped prebuilt Lambda code, and runs the shipped `flink-watchdog` command there. The same app is also built as
 * CommonJS, the way `cdk init app --language typescript` sets one up, in a subdirectory that shares the installed
 * node_modules.
 *
 * Offline: the install is `npm ci --offline` on a lock made from the repository's own package-lock.json (see
 * consumer-lock.ts), so the packages come from the npm cache that the repository's `npm ci` filled. A package missing
 * from the cache fails the test with npm's ENOTCACHED message and the fix.
 */

/** Minutes: packing and installing ~200 packages from the cache on a loaded 2-core machine. */
const SLOW = 8 * 60_000;

const repoLock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as PackageLock;
const repoManifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  devDependencies: Record<string, string>;
};
/** The consumer app's own dependencies, at the versions the repository is tested with. */
const CONSUMER_DEPENDENCIES = Object.fromEntries(
  ['aws-cdk-lib', 'constructs', 'typescript', '@types/node'].map((name) => [name, repoManifest.devDependencies[name]]),
) as Record<string, string>;

/**
 * An observe-mode config as a user writes it (defaults left out), with runbook commands so that all four functions
 * (detector, remediation, reconciler, runbook) are deployed.
 */
const CONFIG = {
  schemaVersion: 1,
  defaults: { mode: 'observe' },
  applications: [{ name: 'orders-enrichment' }, { name: 'payments-aggregation', runtimeEnvironment: 'FLINK-1_20' }],
  runbooks: { publishers: ['arn:aws:iam::111111111111:role/flink-oncall'] },
  // Deploys the Slack interactivity function too: every prebuilt function is in the app.
  notifications: { slackSigningSecretName: 'flink-watchdog/slack-signing' },
};

const APP_TS = `import { App, Stack } from 'aws-cdk-lib';
import { FlinkWatchdog, type WatchdogConfigInput } from 'flink-watchdog';

const config: WatchdogConfigInput = ${JSON.stringify(CONFIG)};
const outdir = process.argv[2];
if (outdir === undefined) throw new Error('usage: node app.js OUTDIR');
const app = new App({ outdir });
const stack = new Stack(app, 'Consumer', { env: { account: '111111111111', region: 'eu-west-1' } });
new FlinkWatchdog(stack, 'Watchdog', { config });
app.synth();
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    rootDir: 'bin',
    outDir: 'build',
    types: ['node'],
    skipLibCheck: false,
  },
  include: ['bin'],
};

/** The same app checked with moduleResolution Bundler (as bundler-based toolchains resolve the package's exports). */
const TSCONFIG_BUNDLER = {
  extends: './tsconfig.json',
  compilerOptions: { module: 'ESNext', moduleResolution: 'Bundler', noEmit: true },
};

/**
 * A CommonJS app as `cdk init app --language typescript` generates it: a package.json without `"type"`, module
 * NodeNext, so tsc compiles `import { FlinkWatchdog } from 'flink-watchdog'` to `require('flink-watchdog')`.
 */
const CJS_PACKAGE = { name: 'consumer-cjs', version: '0.0.0', private: true };
const CJS_TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['es2022'],
    strict: true,
    rootDir: 'bin',
    outDir: 'build',
    types: ['node'],
    skipLibCheck: false,
  },
  include: ['bin'],
};

let work: string;
let app: string;
/** The CommonJS app: a subdirectory of `app`, so it resolves packages from the app's node_modules. */
let cjsApp: string;

function run(cmd: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' },
  });
}

function output(r: SpawnSyncReturns<string>): string {
  return `exit ${r.status}\n${r.stdout}\n${r.stderr}`;
}

/** Runs the consumer's TypeScript compiler on a project (a tsconfig file or a directory). */
function tsc(project: string, cwd: string): SpawnSyncReturns<string> {
  return run(process.execPath, [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], cwd);
}

type Template = {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, string> }>;
};

/** The watchdog functions of a synthesized template: those whose staged code asset holds a prebuilt `index.mjs`. */
function watchdogFunctionAssets(outdir: string): string[] {
  const template = JSON.parse(readFileSync(join(outdir, 'Consumer.template.json'), 'utf8')) as Template;
  // A function's code asset is staged in the cloud assembly as asset.<hash>/, uploaded as <hash>.zip (Code.S3Key).
  return Object.values(template.Resources)
    .filter((r) => r.Type === 'AWS::Lambda::Function')
    .map((f) => (f.Properties.Code as { S3Key?: unknown } | undefined)?.S3Key)
    .filter((key): key is string => typeof key === 'string' && key.endsWith('.zip'))
    .map((key) => join(outdir, `asset.${key.slice(0, -'.zip'.length)}`))
    .filter((dir) => existsSync(join(dir, 'index.mjs')));
}

beforeAll(async () => {
  await ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'flink-watchdog-pack-'));
  app = join(work, 'app');
  mkdirSync(join(app, 'bin'), { recursive: true });

  // Prepare: the tarball (dist/ is built above; the prepare script need not run again)
  const pack = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', app], ROOT);
  if (pack.status !== 0) throw new Error(`npm pack failed: ${output(pack)}`);
  const [packed] = JSON.parse(pack.stdout) as { filename: string }[];
  if (packed === undefined) throw new Error(`npm pack printed no file: ${pack.stdout}`);
  const tarballPath = join(app, packed.filename);
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackedDependency['manifest'];

  // Prepare: the consumer app, its lock made from the repository's
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'consumer',
      version: '0.0.0',
      private: true,
      type: 'module',
      dependencies: { 'flink-watchdog': `file:${packed.filename}`, ...CONSUMER_DEPENDENCIES },
    }),
  );
  const lock = consumerLock(
    repoLock,
    { name: 'flink-watchdog', tarball: packed.filename, tarballPath, manifest },
    CONSUMER_DEPENDENCIES,
  );
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify(lock, null, 2));
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
  writeFileSync(join(app, 'tsconfig.bundler.json'), JSON.stringify(TSCONFIG_BUNDLER, null, 2));
  writeFileSync(join(app, 'bin', 'app.ts'), APP_TS);
  cjsApp = join(app, 'cjs');
  mkdirSync(join(cjsApp, 'bin'), { recursive: true });
  writeFileSync(join(cjsApp, 'package.json'), JSON.stringify(CJS_PACKAGE));
  writeFileSync(join(cjsApp, 'tsconfig.json'), JSON.stringify(CJS_TSCONFIG, null, 2));
  writeFileSync(join(cjsApp, 'bin', 'app.ts'), APP_TS);
  writeFileSync(join(app, 'good.json'), JSON.stringify(CONFIG));
  writeFileSync(
    join(app, 'bad.json'),
    JSON.stringify({ ...CONFIG, applications: [{ name: 'orders-enrichment', policy: { mode: 'fix-it' } }] }),
  );

  const install = run('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], app);
  if (install.status !== 0) {
    throw new Error(
      'npm ci --offline of the consumer app failed. A package missing from the npm cache shows as ENOTCACHED: ' +
        `run npm ci in the repository (it fills the cache), then run this test again.\n${output(install)}`,
    );
  }
}, SLOW);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
}, SLOW);

describe('Package: flink-watchdog installed from its tarball into a fresh CDK app', { timeout: SLOW }, () => {
  it('ships the built code, the scenarios and the config schema, and no TypeScript sources', () => {
    // Act
    const installed = join(app, 'node_modules', 'flink-watchdog');
    const files = readdirSync(installed, { recursive: true, encoding: 'utf8' }).map((f) => f.split('\\').join('/'));

    // Assess
    expect(files).toEqual(
      expect.arrayContaining([
        'LICENSE',
        'README.md',
        'CHANGELOG.md',
        'dist/cli.js',
        'dist/index.js',
        'dist/types/infra/index.d.ts',
        'shared/config/flink-watchdog.config.schema.json',
        // The $schema that scenario files (and users' own) point at.
        'sandbox/scenario.schema.json',
        'docs/scenarios.md',
        ...Object.keys(LAMBDA_FUNCTIONS).map((fn) => `dist/lambda/${fn}/index.mjs`),
      ]),
    );
    expect(files.some((f) => f.startsWith('sandbox/scenarios/') && f.endsWith('.json'))).toBe(true);
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('dist/meta/'))).toEqual([]);
  });

  it('type-checks a consumer app against the shipped declarations (tsc, moduleResolution NodeNext and Bundler)', () => {
    // Act
    const nodeNext = tsc('tsconfig.json', app);
    const bundler = tsc('tsconfig.bundler.json', app);

    // Assess
    expect(nodeNext.status, output(nodeNext)).toBe(0);
    expect(bundler.status, output(bundler)).toBe(0);
  });

  it('names its declarations in `types` too, for resolvers that ignore `exports` (moduleResolution node10)', () => {
    // Prepare
    const installed = join(app, 'node_modules', 'flink-watchdog');
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { types: string };

    // Act
    const declarations = readFileSync(join(installed, manifest.types), 'utf8');

    // Assess: every relative specifier names a .js file whose .d.ts was shipped, no subpath import is left
    const specifiers = [...declarations.matchAll(/from '([^']+)'/g)].map((m) => m[1] as string);
    expect(specifiers.length).toBeGreaterThan(0);
    for (const spec of specifiers) {
      expect(spec.startsWith('#')).toBe(false);
      if (spec.startsWith('.')) {
        expect(existsSync(join(installed, manifest.types, '..', spec.replace(/\.js$/, '.d.ts'))), spec).toBe(true);
      }
    }
  });

  it('synthesizes the app with every function deployed from the prebuilt code and the config beside it', () => {
    // Prepare: the app compiled by the previous test's configuration
    const compile = tsc('.', app);
    expect(compile.status, output(compile)).toBe(0);
    const outdir = join(work, 'cdk.out');

    // Act
    const synth = run(process.execPath, [join(app, 'build', 'app.js'), outdir], app);

    // Assess
    expect(synth.status, output(synth)).toBe(0);
    const template = JSON.parse(readFileSync(join(outdir, 'Consumer.template.json'), 'utf8')) as Template;
    const functions = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    const watchdogAssets = watchdogFunctionAssets(outdir);
    expect(watchdogAssets).toHaveLength(Object.keys(LAMBDA_FUNCTIONS).length);
    for (const dir of watchdogAssets) {
      const config = JSON.parse(readFileSync(join(dir, 'watchdog.config.json'), 'utf8')) as { applications: unknown[] };
      expect(config.applications).toHaveLength(CONFIG.applications.length);
    }
    const handlers = functions.filter((f) => f.Properties.Handler === 'index.handler');
    expect(handlers).toHaveLength(Object.keys(LAMBDA_FUNCTIONS).length);
  });

  it('synthesizes a CommonJS app as `cdk init app --language typescript` makes it (require of the library)', () => {
    // Prepare: tsc compiles the app's import to require() (package.json without "type", module NodeNext)
    const compile = tsc('.', cjsApp);
    expect(compile.status, output(compile)).toBe(0);
    expect(readFileSync(join(cjsApp, 'build', 'app.js'), 'utf8')).toMatch(/require\("flink-watchdog"\)/);
    const outdir = join(work, 'cdk.out.cjs');

    // Act
    const synth = run(process.execPath, [join(cjsApp, 'build', 'app.js'), outdir], cjsApp);

    // Assess
    expect(synth.status, output(synth)).toBe(0);
    expect(watchdogFunctionAssets(outdir)).toHaveLength(Object.keys(LAMBDA_FUNCTIONS).length);
  });

  it("ships source maps of the library and the CLI whose sources are the repository's files, embedded", () => {
    // Prepare
    const installed = join(app, 'node_modules', 'flink-watchdog');
    const maps = readdirSync(join(installed, 'dist'), { recursive: true, encoding: 'utf8' })
      .map((f) => f.split('\\').join('/'))
      .filter((f) => f.endsWith('.js.map') && !f.startsWith('lambda/'))
      .map((f) => `dist/${f}`);
    expect(maps).toEqual(expect.arrayContaining(['dist/index.js.map', 'dist/cli.js.map']));

    for (const map of maps) {
      // Act
      const { sources, sourcesContent } = JSON.parse(readFileSync(join(installed, map), 'utf8')) as {
        sources: string[];
        sourcesContent?: (string | null)[];
      };

      // Assess: each source is a file of the repository at the same path relative to the map (so it resolves in a
      // clone), inside the package's own directory once installed (never a sibling such as node_modules/shared),
      // and its code is embedded (the TypeScript sources are not shipped)
      if (map === 'dist/index.js.map' || map === 'dist/cli.js.map') expect(sources.length, map).toBeGreaterThan(0);
      sources.forEach((source, i) => {
        expect(existsSync(join(ROOT, dirname(map), source)), `${map}: ${source}`).toBe(true);
        expect(relative(installed, join(installed, dirname(map), source)).startsWith('..'), `${map}: ${source}`).toBe(
          false,
        );
        expect(sourcesContent?.[i]?.length ?? 0, `${map}: ${source} embedded`).toBeGreaterThan(0);
      });
    }
  });

  it('refuses a config with a bad field at synth, naming the field', () => {
    // Prepare
    const bad = APP_TS.replace(JSON.stringify(CONFIG), JSON.stringify({ ...CONFIG, schemaVersion: 7 }));
    writeFileSync(join(app, 'bin', 'bad-app.ts'), bad.replace('const config: WatchdogConfigInput', 'const config'));
    const compile = tsc('.', app);
    expect(compile.status, output(compile)).toBe(0);

    // Act
    const synth = run(process.execPath, [join(app, 'build', 'bad-app.js'), join(work, 'cdk.out.bad')], app);

    // Assess
    expect(synth.status).not.toBe(0);
    expect(synth.stderr).toContain('schemaVersion');
  });

  it('runs `npx flink-watchdog --help` in the app directory', () => {
    // Act
    const help = run('npx', ['--no-install', 'flink-watchdog', '--help'], app);

    // Assess
    expect(help.status, output(help)).toBe(0);
    for (const command of ['drift', 'status', 'history', 'remediate', 'validate', 'init']) {
      expect(help.stdout).toContain(command);
    }
  });

  it('prints the package version with `npx flink-watchdog --version`', () => {
    // Act
    const version = run('npx', ['--no-install', 'flink-watchdog', '--version'], app);

    // Assess
    expect(version.status, output(version)).toBe(0);
    expect(version.stdout.trim()).toBe(
      (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    );
  });

  it('validates a good config (exit 0) and names the bad field of a bad one (non-zero exit)', () => {
    // Act
    const good = run('npx', ['--no-install', 'flink-watchdog', 'validate', '--config', 'good.json'], app);
    const bad = run('npx', ['--no-install', 'flink-watchdog', 'validate', '--config', 'bad.json'], app);

    // Assess
    expect(good.status, output(good)).toBe(0);
    expect(bad.status, output(bad)).not.toBe(0);
    expect(`${bad.stdout}${bad.stderr}`).toContain('applications[0].policy.mode');
  });

  it('runs a drill scenario from the shipped scenarios, outside the repository', () => {
    // Act
    const drill = run('npx', ['--no-install', 'flink-watchdog', 'drill', 'wrong-main-class', '--json'], app);

    // Assess
    expect(drill.status, output(drill)).toBe(0);
  });
});
