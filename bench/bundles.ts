/**
 * Lambda bundle figures: each handler bundled as the FlinkWatchdog construct bundles it (infra/flink-watchdog.ts,
 * `watchdogFunction()`), its minified size, and the time a fresh Node process takes to import it (the module part of
 * a Lambda cold start, without the runtime's own start-up).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type BuildOptions, build } from 'esbuild';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The functions the construct deploys: name → entry, relative to the repository root. */
const FUNCTIONS = {
  detector: 'functions/detector/handler.ts',
  remediation: 'functions/remediation/handler.ts',
  reconciler: 'functions/reconciler/handler.ts',
  runbook: 'functions/runbook/handler.ts',
} as const;

/**
 * The construct's NodejsFunction `bundling` as esbuild options (ESM, node22, module-first main fields, minified, source
 * map, nothing external, the createRequire banner). Keep in step with `watchdogFunction()` in infra/flink-watchdog.ts.
 */
const CONSTRUCT_BUNDLING: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  mainFields: ['module', 'main'],
  minify: true,
  sourcemap: true,
  external: [],
  banner: {
    js: "import { createRequire as __watchdogCreateRequire } from 'node:module'; const require = __watchdogCreateRequire(import.meta.url);",
  },
  logLevel: 'silent',
};

/** Imports of each bundle timed, in fresh processes; the median is reported. */
const COLD_INIT_RUNS = 5;

/** A minimal valid config (shared/config/schema.ts) for `WATCHDOG_CONFIG`. */
const BENCH_CONFIG = { schemaVersion: 1, applications: [{ name: 'bench-app' }] };

/**
 * The environment of the child that imports a bundle: what the construct sets on the functions
 * (WATCHDOG_CONFIG, NODE_OPTIONS=--enable-source-maps, the SDK notice switch) plus a region and dummy credentials as
 * Lambda provides them. Nothing else from this process leaks in (tsx's loader in particular).
 */
const CHILD_ENV: NodeJS.ProcessEnv = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  NODE_OPTIONS: '--enable-source-maps',
  WATCHDOG_CONFIG: JSON.stringify(BENCH_CONFIG),
};

/** Runs in the child: time of `await import(url)` in ms, printed alone on stdout. */
const CHILD_SCRIPT = [
  'const t0 = performance.now();',
  'await import(process.argv[1]);',
  'process.stdout.write(String(performance.now() - t0));',
].join('\n');

/** One function's figures. */
export interface BundleFigures {
  /** Function name: `detector`, `remediation`, `reconciler` or `runbook`. */
  fn: string;
  /** Size of the minified bundle (`index.mjs`, without its source map), kB (1024 bytes), one decimal. */
  bundleKb: number;
  /** Median over 5 fresh `node` processes of the bundle's import time measured inside the child, ms, two decimals. */
  coldInitMs: number;
}

/** Raised when a handler does not bundle, or its bundle does not import cleanly in a fresh process. */
export class BundleBenchError extends Error {
  override readonly name = 'BundleBenchError';
}

/**
 * Bundles the detector, remediation, reconciler and runbook handlers (functions/NAME/handler.ts) with the
 * construct's esbuild options into a temporary directory (removed afterwards), and measures each bundle's size and
 * cold import time. The child
 * runs on this process's Node (`process.execPath`), which may be older than the Lambda runtime (Node 22).
 * @throws BundleBenchError naming the function when esbuild fails or the import exits non-zero.
 */
export async function measureBundles(): Promise<BundleFigures[]> {
  const outRoot = await mkdtemp(join(tmpdir(), 'flink-watchdog-bundles-'));
  try {
    const figures: BundleFigures[] = [];
    for (const [fn, entry] of Object.entries(FUNCTIONS)) {
      const outfile = join(outRoot, fn, 'index.mjs');
      try {
        await build({
          ...CONSTRUCT_BUNDLING,
          absWorkingDir: REPO_ROOT,
          entryPoints: [join(REPO_ROOT, entry)],
          outfile,
        });
      } catch (e) {
        throw new BundleBenchError(`${fn}: esbuild failed on ${entry}: ${(e as Error).message}`, { cause: e });
      }
      const bytes = (await stat(outfile)).size;
      const runs: number[] = [];
      for (let i = 0; i < COLD_INIT_RUNS; i++) runs.push(await importTimeMs(fn, outfile));
      figures.push({ fn, bundleKb: round(bytes / 1024, 1), coldInitMs: round(median(runs), 2) });
    }
    return figures;
  } finally {
    await rm(outRoot, { recursive: true, force: true });
  }
}

/** Imports `bundle` in a fresh `node` and returns the import time the child measured, ms. */
function importTimeMs(fn: string, bundle: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '--eval', CHILD_SCRIPT, pathToFileURL(bundle).href], {
      env: CHILD_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', (e) => reject(new BundleBenchError(`${fn}: cannot start node: ${e.message}`, { cause: e })));
    child.on('close', (code) => {
      const ms = Number(out.trim());
      if (code !== 0 || !Number.isFinite(ms)) {
        reject(new BundleBenchError(`${fn}: importing the bundle failed (exit ${code}): ${err.trim() || out.trim()}`));
      } else {
        resolve(ms);
      }
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
