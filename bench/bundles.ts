/**
 * Lambda bundle figures, measured on the BUILT functions as the FlinkWatchdog construct deploys them
 * (`npm run build` → `dist/lambda/<fn>/`, built first when missing or stale): the size of all their code, the part of
 * it a cold start loads, and the time a fresh Node process takes to import the handler (the module part of a Lambda
 * cold start, without the runtime's own start-up), on Node 22 (the functions' runtime) when it can be had.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Metafile } from 'esbuild';
import { DIST, ensureBuilt, LAMBDA_FUNCTIONS, ROOT } from '../scripts/build.ts';

/** The goals of issue 11 for each function: total code ≤ 600 kB, cold import ≤ 100 ms (median, Node 22). */
export const BUNDLE_GOALS = { kB: 600, coldInitMs: 100 } as const;

/** Imports of each bundle timed, in fresh processes; the median is reported. */
const COLD_INIT_RUNS = 5;

/** A minimal valid config (shared/config/schema.ts) for `WATCHDOG_CONFIG`. */
const BENCH_CONFIG = { schemaVersion: 1, applications: [{ name: 'bench-app' }] };

/**
 * The environment of the child that imports a bundle: what the construct sets on the functions (the config,
 * NODE_OPTIONS=--enable-source-maps, the SDK notice switch) plus a region and dummy credentials as Lambda provides
 * them. Nothing else from this process leaks in (tsx's loader in particular).
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
  name: string;
  /** All its code: `index.mjs` and every chunk (`.mjs`, without source maps), kB (1024 bytes), one decimal. */
  kB: number;
  /** The code a cold start loads: `index.mjs` and the chunks it imports statically, transitively; kB, one decimal. */
  initKb: number;
  /** Median over 5 fresh `node` processes of `import()` of `index.mjs` measured inside the child, ms, two decimals. */
  coldInitMs: number;
}

/** The bundles measured, and the Node that imported them. */
export interface BundleRun {
  /** The Node version that ran the imports, e.g. `v22.23.3`; the running Node's when Node 22 could not be had. */
  node: string;
  bundles: BundleFigures[];
}

/** Raised when a bundle is missing or does not import cleanly in a fresh process. */
export class BundleBenchError extends Error {
  override readonly name = 'BundleBenchError';
}

/**
 * Builds `dist/lambda` if stale, then measures each function's size (total and at cold import, from the build's
 * metafile `dist/meta/<fn>.json`) and cold import time on {@link lambdaNode}.
 * @throws BundleBenchError naming the function when its bundle is missing or its import exits non-zero;
 *   BuildError (scripts/build.ts) when the build fails.
 */
export async function measureBundles(): Promise<BundleRun> {
  await ensureBuilt({ package: false });
  const node = lambdaNode();
  const bundles: BundleFigures[] = [];
  for (const name of Object.keys(LAMBDA_FUNCTIONS)) {
    const dir = join(DIST, 'lambda', name);
    const entry = join(dir, 'index.mjs');
    if (!existsSync(entry)) throw new BundleBenchError(`${name}: ${entry} is missing: run npm run build`);
    const metafile = JSON.parse(readFileSync(join(DIST, 'meta', `${name}.json`), 'utf8')) as Metafile;
    const bytes = (file: string) => statSync(join(dir, file)).size;
    const all = mjsFiles(dir).reduce((n, f) => n + bytes(f), 0);
    const init = staticClosure(metafile, 'index.mjs').reduce((n, f) => n + bytes(f), 0);
    const runs: number[] = [];
    for (let i = 0; i < COLD_INIT_RUNS; i++) runs.push(await importTimeMs(name, node.path, entry));
    bundles.push({ name, kB: round(all / 1024, 1), initKb: round(init / 1024, 1), coldInitMs: round(median(runs), 2) });
  }
  return { node: node.version, bundles };
}

/**
 * The outputs a cold import of `entry` loads: `entry` and every output it imports with a static `import`
 * (`import-statement` in esbuild's metafile), transitively; chunks reached only through `import()` are left out.
 * @param metafile the build's metafile, output paths relative to the function's directory (scripts/build.ts).
 * @param entry an output path of it, e.g. `index.mjs`.
 * @returns output paths, `entry` first.
 * @throws BundleBenchError when `entry` or an imported chunk is not among the metafile's outputs.
 */
export function staticClosure(metafile: Pick<Metafile, 'outputs'>, entry: string): string[] {
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    const output = metafile.outputs[path];
    if (output === undefined) throw new BundleBenchError(`${path} is not an output of the build's metafile`);
    seen.add(path);
    for (const i of output.imports) {
      if (i.kind === 'import-statement' && i.external !== true) visit(i.path);
    }
  };
  visit(entry);
  return [...seen];
}

/** Every `.mjs` file under `dir`, relative to it. */
function mjsFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.mjs'));
}

/** Where the Node 22 found by {@link lambdaNode} is remembered between bench runs. */
const NODE22_CACHE = join(ROOT, 'node_modules', '.cache', 'flink-watchdog', 'bench-node22.json');

let node22: { path: string; version: string } | undefined;

/**
 * The Node that imports the bundles: Node 22, the functions' runtime, from the npm registry's `node@22` package
 * (`npx --yes -p node@22 node`, its path remembered in node_modules/.cache), else this process's Node (its version is
 * reported, so a figure from another Node is never mistaken for Node 22's).
 */
export function lambdaNode(): { path: string; version: string } {
  if (node22 !== undefined) return node22;
  if (existsSync(NODE22_CACHE)) {
    const cached = JSON.parse(readFileSync(NODE22_CACHE, 'utf8')) as { path: string; version: string };
    if (existsSync(cached.path)) {
      node22 = cached;
      return cached;
    }
  }
  const probe = spawnSync(
    'npx',
    ['--yes', '-p', 'node@22', 'node', '-p', 'JSON.stringify({ path: process.execPath, version: process.version })'],
    { encoding: 'utf8', timeout: 300_000 },
  );
  try {
    const found = JSON.parse(probe.stdout.trim().split('\n').at(-1) ?? '') as { path: string; version: string };
    if (probe.status === 0 && found.version.startsWith('v22.')) {
      mkdirSync(join(NODE22_CACHE, '..'), { recursive: true });
      writeFileSync(NODE22_CACHE, JSON.stringify(found));
      node22 = found;
      return found;
    }
  } catch {
    // No Node 22 from the registry: fall back below.
  }
  node22 = { path: process.execPath, version: process.version };
  return node22;
}

/** Imports `bundle` in a fresh `node` and returns the import time the child measured, ms. */
function importTimeMs(fn: string, node: string, bundle: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(node, ['--input-type=module', '--eval', CHILD_SCRIPT, pathToFileURL(bundle).href], {
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
    child.on('error', (e) => reject(new BundleBenchError(`${fn}: cannot start ${node}: ${e.message}`, { cause: e })));
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
