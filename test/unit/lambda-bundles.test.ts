/**
 * What the Lambda bundles (`dist/lambda/<fn>/`, built by `npm run build`; the tests' global setup rebuilds them when
 * stale) carry, read from esbuild's metafile of each (`dist/meta/<fn>.json`): the validator is zod/mini with only the
 * English messages, and the clients of channels and features not needed at every cold start are in chunks loaded by
 * `import()` when first used, not in the code a cold start imports.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));
const FUNCTIONS = ['detector', 'remediation', 'reconciler', 'runbook', 'slack-interactions'] as const;

/** Packages (and their node_modules path prefix) loaded only when first used: none may be imported at cold start. */
const LAZY_PACKAGES = [
  '@slack/web-api',
  '@slack/webhook',
  '@aws-sdk/client-secrets-manager',
  '@aws-sdk/client-sqs',
  '@aws-sdk/client-sts',
  '@aws-sdk/credential-providers',
  '@aws-sdk/client-sns',
  '@aws-sdk/client-eventbridge',
  '@aws-sdk/client-sfn',
  '@aws-sdk/client-s3',
  '@aws-sdk/client-ssm',
  '@aws-sdk/client-cloudwatch-logs',
];

function metafile(fn: string): Metafile {
  return JSON.parse(readFileSync(`${DIST}meta/${fn}.json`, 'utf8')) as Metafile;
}

/** The output files a cold start reads: the entry `index.mjs` and what it imports statically, transitively. */
function coldOutputs(meta: Metafile, fn: string): Set<string> {
  const handler = `functions/${fn}/handler.ts`;
  const entry = Object.keys(meta.outputs).find((o) => meta.outputs[o]?.entryPoint === handler);
  if (entry === undefined) throw new Error(`dist/meta/${fn}.json has no output for ${handler} (index.mjs)`);
  const seen = new Set<string>();
  const visit = (output: string): void => {
    if (seen.has(output)) return;
    const out = meta.outputs[output];
    if (out === undefined) throw new Error(`dist/meta/${fn}.json: ${output} is imported but not an output`);
    seen.add(output);
    for (const i of out.imports) {
      if (i.kind === 'import-statement' && !i.external) visit(i.path);
    }
  };
  visit(entry);
  return seen;
}

/** Input files with code in `outputs`, e.g. `node_modules/@slack/web-api/dist/WebClient.js`. */
function inputsOf(meta: Metafile, outputs: Iterable<string>): string[] {
  return [...outputs].flatMap((o) =>
    Object.entries(meta.outputs[o]?.inputs ?? {})
      .filter(([, i]) => i.bytesInOutput > 0)
      .map(([input]) => input),
  );
}

function packagesOf(inputs: readonly string[]): Set<string> {
  return new Set(inputs.flatMap((i) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(i)?.[1] ?? []));
}

describe.each(FUNCTIONS)('Lambda bundle: %s', (fn) => {
  const meta = metafile(fn);
  const all = inputsOf(meta, Object.keys(meta.outputs));

  it('validates with zod/mini and carries zod English messages only', () => {
    // Assess
    expect(all.filter((i) => i.includes('node_modules/zod/v4/classic/'))).toEqual([]);
    expect(all.filter((i) => i.includes('node_modules/zod/v4/locales/'))).toEqual([
      'node_modules/zod/v4/locales/en.js',
    ]);
    expect(
      all.filter((i) => /node_modules\/zod\/v4\/core\/(to-json-schema|json-schema-processors)\.js$/.test(i)),
    ).toEqual([]);
  });

  it('imports no client of an optional channel or feature at cold start', () => {
    // Act
    const cold = packagesOf(inputsOf(meta, coldOutputs(meta, fn)));

    // Assess
    expect(LAZY_PACKAGES.filter((p) => cold.has(p))).toEqual([]);
  });

  it('still ships the lazily loaded clients, as chunks of their own', () => {
    // Act
    const shipped = packagesOf(all);

    // Assess
    // The Slack interactivity endpoint sends no notification: it loads the signing secret's and the task token's clients.
    const lazy =
      fn === 'slack-interactions'
        ? ['@aws-sdk/client-secrets-manager', '@aws-sdk/client-sfn']
        : ['@slack/web-api', '@slack/webhook', '@aws-sdk/client-secrets-manager', '@aws-sdk/client-sqs'];
    for (const p of lazy) {
      expect(shipped, p).toContain(p);
    }
  });
});
