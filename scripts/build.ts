/**
 * `npm run build` (also the `prepare` script, so `npm ci` in a fresh clone leaves a built tree): compiles the package
 * into `dist/`.
 *
 * - `dist/lambda/<fn>/index.mjs` (+ `chunks/`, + source maps) for fn in {@link LAMBDA_FUNCTIONS}: each handler bundled
 *   with everything it imports (the AWS SDK included: the functions ship the SDK version they are tested with), ESM,
 *   Node 22, minified, split so that a dynamic `import()` (a client of a channel that is not configured) is a chunk
 *   loaded only when used. The FlinkWatchdog construct deploys these directories as they are.
 *   `dist/meta/<fn>.json` is esbuild's metafile of each, output paths relative to `dist/lambda/<fn>/` (which chunk
 *   imports which: `npm run bench` reads it; which sources went in: {@link staleParts} reads it).
 * - `dist/cli.js`: the `flink-watchdog` command (entry `cli/bin.ts`), executable, npm dependencies left as imports.
 * - `dist/index.js`: the library (entry `infra/index.ts`), npm dependencies left as imports.
 * - `dist/types/`: type declarations of the library (`dist/types/infra/index.d.ts`), emitted by `tsc -p
 *   tsconfig.build.json`, their `#shared/....ts` and `./x.ts` specifiers rewritten to relative `.js` ones so that
 *   consumers resolve them with moduleResolution NodeNext, Node16, Bundler and node10 alike.
 *
 * Everything is built into a staging directory first and moved into `dist/` only when every part built, so a failed
 * build leaves the previous one in place.
 *
 * Run `tsx scripts/build.ts [--lambda-only]`. {@link ensureBuilt} builds only when `dist/` is older than its sources:
 * the tests' global setup (test/global-setup.ts) and `npm run bench` call it.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build as esbuild, type Metafile } from 'esbuild';
import { isMainModule } from '#shared/json-schema-file.ts';

/** The repository root (this file is `scripts/build.ts`). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The build output directory. */
export const DIST = join(ROOT, 'dist');

/** The Lambda functions the construct deploys: name → handler entry, relative to the repository root. */
export const LAMBDA_FUNCTIONS = {
  detector: 'functions/detector/handler.ts',
  remediation: 'functions/remediation/handler.ts',
  reconciler: 'functions/reconciler/handler.ts',
  runbook: 'functions/runbook/handler.ts',
  'slack-interactions': 'functions/slack-interactions/handler.ts',
} as const;

/** A Lambda function's name: a key of {@link LAMBDA_FUNCTIONS}. */
export type LambdaFunctionName = keyof typeof LAMBDA_FUNCTIONS;

/**
 * esbuild options of the Lambda bundles: the whole handler in one directory, nothing external, ESM for Node 22
 * (the functions' runtime), module-first main fields (the SDK's ESM builds), minified with a source map, code reached
 * only through `import()` split into `chunks/`. The banner gives CommonJS dependencies bundled into ESM a `require`.
 */
export const LAMBDA_BUILD_OPTIONS: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  mainFields: ['module', 'main'],
  minify: true,
  // Stack traces mapped to file and line (the functions run with --enable-source-maps); the sources themselves are
  // not embedded: that would triple the deployment package for no gain in a trace.
  sourcemap: true,
  sourcesContent: false,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  entryNames: 'index',
  outExtension: { '.js': '.mjs' },
  external: [],
  banner: {
    js: "import { createRequire as __watchdogCreateRequire } from 'node:module'; const require = __watchdogCreateRequire(import.meta.url);",
  },
  metafile: true,
  logLevel: 'warning',
};

/**
 * esbuild options shared by the CLI and the library: Node ESM, npm dependencies stay imports (they are dependencies).
 *
 * The library is ESM, and a CommonJS app (what `cdk init app --language typescript` generates) loads it with
 * `require()` through the `default` condition of `exports["."]`: Node 20.19+ and 22.12+ load ES modules with
 * `require()`, but only a module graph without top-level `await` (else ERR_REQUIRE_ASYNC_MODULE). `dist/index.js` and
 * the chunks it imports statically have none, and must keep it that way: code that needs an `await` at load goes
 * behind a function or a dynamic `import()`. The package test requires the library from a CommonJS app.
 *
 * Source maps: built at the depth of `dist/` (see {@link build}), so `sources` are the repository's files relative to
 * the map (from `dist/index.js.map`, one level up to the repository's `shared/config/schema.ts`; two from a chunk's). The TypeScript
 * sources are not shipped, so those paths resolve only in a clone; the maps embed the sources (`sourcesContent`),
 * so a consumer's trace with `--enable-source-maps` names the original file and line (under
 * `node_modules/flink-watchdog/`) and a debugger shows the code. (The Lambda bundles do not embed them: see
 * {@link LAMBDA_BUILD_OPTIONS}.)
 */
const PACKAGE_BUILD_OPTIONS: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  packages: 'external',
  sourcemap: true,
  sourcesContent: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  metafile: true,
  logLevel: 'warning',
};

/** Raised when a part of the build fails; the message names the part and what failed. */
export class BuildError extends Error {
  override readonly name = 'BuildError';
}

/** What {@link build} builds: both parts unless told otherwise. */
export interface BuildParts {
  /**
   * `dist/lambda`: the Lambda functions (what a synth needs).
   * @default true
   */
  lambda?: boolean;
  /**
   * `dist/cli.js`, `dist/index.js` (+ `dist/chunks/`) and `dist/types/`: the CLI, the library and its declarations.
   * @default true
   */
  package?: boolean;
}

/**
 * Builds `dist/` (see the module comment): the Lambda functions and/or the CLI, the library and the declarations.
 * Nothing in `dist/` is replaced unless every part asked for built; a part not asked for is left as it is.
 * @throws BuildError naming the function or part that failed (esbuild errors, tsc errors in the declarations).
 */
export async function build(parts: BuildParts = {}): Promise<void> {
  const withLambda = parts.lambda !== false;
  const withPackage = parts.package !== false;
  const startedS = Date.now() / 1000;
  const staging = join(ROOT, `.dist-staging-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  try {
    const meta = join(staging, 'meta');
    mkdirSync(meta, { recursive: true });
    if (withLambda) await buildLambdas(join(staging, 'lambda'), meta);
    if (withPackage) {
      // Into the staging directory's root, the depth of dist/: the source maps' relative paths stay right after the move.
      await buildPackage(staging, meta);
      buildDeclarations(join(staging, 'types'));
    }
    mkdirSync(join(DIST, 'meta'), { recursive: true });
    if (withLambda) replace(join(staging, 'lambda'), join(DIST, 'lambda'));
    if (withPackage) {
      replace(join(staging, 'types'), join(DIST, 'types'));
      for (const name of readdirSync(DIST)) {
        if (name === 'chunks' || /\.js(\.map)?$/.test(name)) rmSync(join(DIST, name), { recursive: true, force: true });
      }
      for (const name of readdirSync(staging)) {
        if (name === 'chunks' || /\.js(\.map)?$/.test(name)) renameSync(join(staging, name), join(DIST, name));
      }
      chmodSync(join(DIST, 'cli.js'), 0o755);
    }
    // The metafiles last: they mark their part as built (see staleParts), as of the build's start, so a source saved
    // while the build ran makes the part stale.
    for (const name of readdirSync(meta)) {
      renameSync(join(meta, name), join(DIST, 'meta', name));
      utimesSync(join(DIST, 'meta', name), startedS, startedS);
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The parts of `dist/` older than their sources, and why. */
export interface Staleness {
  /** `dist/lambda` needs building: the reason (a missing metafile, or the newest source file). */
  lambda?: string;
  /** `dist/cli.js`, `dist/index.js` or `dist/types` need building: the reason. */
  package?: string;
}

/** Files whose change makes every part stale: the dependencies installed, the build itself. */
const BUILD_INPUTS = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts/build.ts'];

/**
 * Which parts of `dist/` are missing or older than their sources. A part's sources are the input files its esbuild
 * metafile (`dist/meta/<part>.json`) lists, plus {@link BUILD_INPUTS}; a part is stale when a metafile is missing, or
 * one of those files is newer than it or gone. Dependencies inside node_modules count through package-lock.json.
 */
export function staleParts(): Staleness {
  const check = (names: readonly string[]): string | undefined => {
    for (const name of names) {
      const metaFile = join(DIST, 'meta', `${name}.json`);
      if (!existsSync(metaFile)) return `dist/meta/${name}.json is missing`;
      const builtMs = statSync(metaFile).mtimeMs;
      const { inputs } = JSON.parse(readFileSync(metaFile, 'utf8')) as Metafile;
      const sources = [...Object.keys(inputs).filter((f) => !f.includes('node_modules/')), ...BUILD_INPUTS];
      for (const source of sources) {
        const file = join(ROOT, source);
        if (!existsSync(file)) return `${source} (an input of ${name}) is gone`;
        if (statSync(file).mtimeMs > builtMs) return `${source} changed after the last build of ${name}`;
      }
    }
    return undefined;
  };
  const lambda = check(Object.keys(LAMBDA_FUNCTIONS));
  const pkg = existsSync(join(DIST, 'types', 'infra', 'index.d.ts'))
    ? check(['cli', 'index'])
    : 'dist/types is missing';
  return { ...(lambda === undefined ? {} : { lambda }), ...(pkg === undefined ? {} : { package: pkg }) };
}

/**
 * Builds the parts asked for (both by default) that {@link staleParts} finds stale, saying why on stderr; leaves
 * fresh parts alone (a test reading `dist/lambda` in another process is not disturbed by a build of the CLI). Used by
 * the tests' global setup, the package test and the bench.
 * @returns whether a build ran.
 * @throws BuildError as {@link build}.
 */
export async function ensureBuilt(parts: BuildParts = {}): Promise<boolean> {
  const stale = staleParts();
  const lambda = parts.lambda !== false && stale.lambda !== undefined;
  const pkg = parts.package !== false && stale.package !== undefined;
  if (!lambda && !pkg) return false;
  const started = performance.now();
  const reasons = [lambda ? stale.lambda : undefined, pkg ? stale.package : undefined].filter((r) => r !== undefined);
  process.stderr.write(`building dist/ (${reasons.join('; ')}) ...\n`);
  await build({ lambda, package: pkg });
  process.stderr.write(`built dist/ in ${Math.round(performance.now() - started)} ms\n`);
  return true;
}

/** Bundles each Lambda function into `outRoot/<fn>/` and writes its metafile to `metaRoot/<fn>.json`. */
async function buildLambdas(outRoot: string, metaRoot: string): Promise<void> {
  mkdirSync(metaRoot, { recursive: true });
  await Promise.all(
    Object.entries(LAMBDA_FUNCTIONS).map(async ([fn, entry]) => {
      let metafile: Metafile | undefined;
      try {
        ({ metafile } = await esbuild({
          ...LAMBDA_BUILD_OPTIONS,
          absWorkingDir: ROOT,
          entryPoints: [join(ROOT, entry)],
          outdir: join(outRoot, fn),
        }));
      } catch (e) {
        throw new BuildError(`lambda ${fn}: esbuild failed on ${entry}: ${(e as Error).message}`, { cause: e });
      }
      writeFileSync(join(metaRoot, `${fn}.json`), JSON.stringify(relativeOutputs(metafile, join(outRoot, fn))));
    }),
  );
}

/**
 * The metafile with its output paths relative to the function's directory (`index.mjs`, `chunks/chunk-X.mjs`)
 * instead of the staging directory the build wrote them to; inputs stay relative to the repository root.
 */
function relativeOutputs(metafile: Metafile | undefined, outDir: string): Metafile {
  if (metafile === undefined) throw new BuildError(`esbuild returned no metafile for ${outDir}`);
  const prefix = `${relative(ROOT, outDir).split(sep).join('/')}/`;
  const strip = (path: string) => (path.startsWith(prefix) ? path.slice(prefix.length) : path);
  const outputs: Metafile['outputs'] = {};
  for (const [path, output] of Object.entries(metafile.outputs)) {
    outputs[strip(path)] = { ...output, imports: output.imports.map((i) => ({ ...i, path: strip(i.path) })) };
  }
  return { ...metafile, outputs };
}

/** Bundles `cli.js` (with the `#!/usr/bin/env node` line) and `index.js` into `outDir`, metafiles into `metaRoot`. */
async function buildPackage(outDir: string, metaRoot: string): Promise<void> {
  const parts: { name: string; entry: string; what: string; banner: Record<string, string> }[] = [
    { name: 'cli', entry: 'cli/bin.ts', what: 'cli', banner: { js: '#!/usr/bin/env node' } },
    { name: 'index', entry: 'infra/index.ts', what: 'library', banner: {} },
  ];
  for (const part of parts) {
    let metafile: Metafile | undefined;
    try {
      ({ metafile } = await esbuild({
        ...PACKAGE_BUILD_OPTIONS,
        absWorkingDir: ROOT,
        entryPoints: { [part.name]: join(ROOT, part.entry) },
        outdir: outDir,
        banner: part.banner,
      }));
    } catch (e) {
      throw new BuildError(`${part.what}: esbuild failed on ${part.entry}: ${(e as Error).message}`, { cause: e });
    }
    writeFileSync(join(metaRoot, `${part.name}.json`), JSON.stringify(metafile));
  }
}

/**
 * Emits the library's declarations with `tsc -p tsconfig.build.json` into `outDir`, then rewrites their module
 * specifiers (see {@link rewriteDeclarationSpecifiers}).
 */
function buildDeclarations(outDir: string): void {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const run = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', outDir], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (run.status !== 0) {
    throw new BuildError(`declarations: tsc -p tsconfig.build.json failed:\n${run.stdout}${run.stderr}`);
  }
  for (const file of listFiles(outDir)) {
    if (!file.endsWith('.d.ts')) continue;
    const text = readFileSync(file, 'utf8');
    const rewritten = rewriteDeclarationSpecifiers(text, relative(outDir, file).split(sep).join('/'));
    if (rewritten !== text) writeFileSync(file, rewritten);
  }
}

/** The package.json `imports` the sources use (`#shared/x.ts` → `shared/x.ts`), as folders of the repository. */
const SUBPATH_IMPORTS: Readonly<Record<string, string>> = {
  '#shared/': 'shared/',
  '#sandbox/': 'sandbox/',
  '#functions/': 'functions/',
  '#cli/': 'cli/',
};

/**
 * Rewrites the module specifiers of one emitted declaration file so that it resolves outside the repository: a
 * subpath import (`#shared/config/schema.ts`) becomes a path relative to the declaration file, ending in `.js` (e.g. `shared/config/schema.js` one level up),
 * and a relative `.ts` specifier gets `.js`. Bare package specifiers (`aws-cdk-lib`) are left alone.
 * @param text the declaration file's content.
 * @param file its path relative to the declarations root, `/`-separated (e.g. `infra/index.d.ts`).
 * @returns the content with `from '…'`, `import '…'` and `import('…')` specifiers rewritten.
 */
export function rewriteDeclarationSpecifiers(text: string, file: string): string {
  const fromDir = posix.dirname(file);
  const rewrite = (spec: string): string => {
    let target = spec;
    for (const [prefix, folder] of Object.entries(SUBPATH_IMPORTS)) {
      if (spec.startsWith(prefix)) {
        const rel = posix.relative(fromDir, folder + spec.slice(prefix.length));
        target = rel.startsWith('.') ? rel : `./${rel}`;
      }
    }
    if (!target.startsWith('.')) return spec;
    return target.replace(/\.(m|c)?ts$/, (_m, kind: string | undefined) => `.${kind ?? ''}js`);
  };
  return text.replace(
    /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"\n]+)\2/g,
    (_m, lead: string, quote: string, spec: string) => `${lead}${quote}${rewrite(spec)}${quote}`,
  );
}

/** Replaces `to` by `from` (both directories): removes `to`, then renames. */
function replace(from: string, to: string): void {
  rmSync(to, { recursive: true, force: true });
  renameSync(from, to);
}

/** Every file under `dir`, recursively, as absolute paths. */
function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile());
}

if (isMainModule(import.meta.url)) {
  const started = performance.now();
  const lambdaOnly = process.argv.includes('--lambda-only');
  build({ package: !lambdaOnly }).then(
    () => console.log(`built dist/${lambdaOnly ? 'lambda' : ''} in ${Math.round(performance.now() - started)} ms`),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : String(e));
      process.exitCode = 1;
    },
  );
}
