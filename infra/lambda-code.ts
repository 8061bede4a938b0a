import { createHash } from 'node:crypto';
import { cpSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AssetHashType, DockerImage, FileSystem, Stack } from 'aws-cdk-lib';
import { Code } from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { PACKAGE_NAME, packageRoot } from '#shared/package-root.ts';
import { FlinkWatchdogPropsError } from './errors.ts';

/** The watchdog's Lambda functions, each built into `dist/lambda/<name>/index.mjs` by `npm run build`. */
export const LAMBDA_FUNCTIONS = ['detector', 'remediation', 'reconciler', 'runbook', 'slack-interactions'] as const;
/** One of {@link LAMBDA_FUNCTIONS}. */
export type LambdaFunctionName = (typeof LAMBDA_FUNCTIONS)[number];

/** `<package root>/dist/lambda/<fn>`: where `npm run build` writes the function's bundle (index.mjs, chunks, maps). */
export function lambdaDistDir(fn: LambdaFunctionName, root: string = packageRoot()): string {
  return join(root, 'dist', 'lambda', fn);
}

/** Options of {@link prebuiltCode}. */
export interface PrebuiltCodeOptions {
  /** The function's directory under `dist/lambda/`. */
  readonly fn: LambdaFunctionName;
  /** The config file's content, written next to the handler as `fileName`. */
  readonly configJson: string;
  /** Name of the config file in the deployment package, e.g. `watchdog.config.json`. */
  readonly fileName: string;
  /**
   * The package root to take `dist/lambda/<fn>` from.
   * @default - the root of the package this module belongs to (`packageRoot()`, shared/package-root.ts: the
   *   repository from infra/*.ts, `node_modules/flink-watchdog/` from the built library)
   */
  readonly root?: string;
}

/**
 * The deployment package of one watchdog function: a copy of the prebuilt `dist/lambda/<fn>/` (index.mjs, its chunks
 * and source maps) plus the config file, as a Lambda code asset. No esbuild, TypeScript or lock file is needed at
 * synth: the copy is made by the asset's local bundling (never Docker). The asset hash is the fingerprint of the built
 * directory and the config, so a rebuild or a config change makes a new asset, and nothing else does.
 *
 * A stack whose bundling is skipped (`aws:cdk:bundling-stacks` context, e.g. `cdk synth OtherStack`, or the drill that
 * only reads the state machine definitions) needs no build: its assets are never uploaded.
 * @throws FlinkWatchdogPropsError `dist/lambda/<fn> not found: run npm run build` when the stack is bundled and the build
 *   output is missing.
 */
export function prebuiltCode(scope: Construct, options: PrebuiltCodeOptions): Code {
  const root = options.root ?? packageRoot();
  const dir = lambdaDistDir(options.fn, root);
  const built = existsSync(join(dir, 'index.mjs'));
  if (!built && Stack.of(scope).bundlingRequired) {
    throw new FlinkWatchdogPropsError(
      `dist/lambda/${options.fn} not found: run npm run build (looked in ${dir}; the construct deploys the prebuilt Lambda code of the ${PACKAGE_NAME} package)`,
    );
  }
  const fingerprint = built ? FileSystem.fingerprint(dir) : 'not-built';
  const assetHash = createHash('sha256')
    .update(`${fingerprint}\n${options.fileName}\n${options.configJson}`)
    .digest('hex');
  return Code.fromAsset(built ? dir : root, {
    assetHashType: AssetHashType.CUSTOM,
    assetHash,
    bundling: {
      // Required by the type, never pulled or run: the local copy below always succeeds (or throws).
      image: DockerImage.fromRegistry('scratch'),
      local: {
        tryBundle(outputDir: string): boolean {
          cpSync(dir, outputDir, { recursive: true });
          writeFileSync(join(outputDir, options.fileName), options.configJson);
          return true;
        },
      },
    },
  });
}
