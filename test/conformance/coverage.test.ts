import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '#sandbox/clock.ts';
import { type Emulator, startEmulator } from '#sandbox/emulator/index.ts';
import { loadServiceModel, MODEL_FILES, type ServiceModel } from './model.ts';

/**
 * The conformance suite covers every operation that matters: each operation the watchdog calls (an SDK Command of
 * the two clients imported by shared/, cli/ or functions/) and each operation the emulator serves (it does not
 * answer UnknownOperationException) has a successful call whose response the suite checks against the model.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HERE = fileURLToPath(new URL('./', import.meta.url));

const SERVICES = [
  {
    service: 'kinesisanalyticsv2',
    model: loadServiceModel(MODEL_FILES.kinesisanalyticsv2),
    sdkPackage: '@aws-sdk/client-kinesis-analytics-v2',
    suite: 'msf.conformance.test.ts',
    contentType: 'application/x-amz-json-1.1',
  },
  {
    service: 'cloudwatch',
    model: loadServiceModel(MODEL_FILES.cloudwatch),
    sdkPackage: '@aws-sdk/client-cloudwatch',
    suite: 'cloudwatch.conformance.test.ts',
    contentType: 'application/x-amz-json-1.0',
  },
  {
    service: 'resourcegroupstaggingapi',
    model: loadServiceModel(MODEL_FILES.resourcegroupstaggingapi),
    sdkPackage: '@aws-sdk/client-resource-groups-tagging-api',
    suite: 'tagging.conformance.test.ts',
    contentType: 'application/x-amz-json-1.1',
  },
  {
    service: 'logs',
    model: loadServiceModel(MODEL_FILES.logs),
    sdkPackage: '@aws-sdk/client-cloudwatch-logs',
    suite: 'logs.conformance.test.ts',
    contentType: 'application/x-amz-json-1.1',
  },
  {
    service: 'ssm',
    model: loadServiceModel(MODEL_FILES.ssm),
    sdkPackage: '@aws-sdk/client-ssm',
    suite: 'ssm.conformance.test.ts',
    contentType: 'application/x-amz-json-1.1',
  },
] as const;

/** STS speaks awsQuery (a form-encoded `Action=<Operation>` POST), so it is probed and checked on its own. */
const STS = {
  model: loadServiceModel(MODEL_FILES.sts),
  sdkPackage: '@aws-sdk/client-sts',
  suite: 'sts.conformance.test.ts',
} as const;

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => join(ROOT, dir, f));
}

/** Operations whose Command class a product file imports from `sdkPackage` (`import { XCommand } from '<pkg>'`). */
function operationsCalledByTheWatchdog(sdkPackage: string): string[] {
  const found = new Set<string>();
  // Re-exports count too: the lazily loaded clients (shared/adapters/lazy/*.ts) re-export the Commands they call.
  const importRe = /(?:import|export)\s*(?:type\s*)?\{([^}]*)\}\s*from\s*'([^']+)'/g;
  for (const file of ['shared', 'cli', 'functions'].flatMap(sourceFiles)) {
    for (const match of readFileSync(file, 'utf8').matchAll(importRe)) {
      if (match[2] !== sdkPackage) continue;
      for (const name of (match[1] ?? '').split(',').map((n) => n.trim().replace(/^type\s+/, ''))) {
        if (name.endsWith('Command')) found.add(name.slice(0, -'Command'.length));
      }
    }
  }
  return [...found].sort();
}

/**
 * Operations whose successful response a suite file checks (`expectConformingOutput(MODEL, wire, '<Op>')`, or
 * `expectConformingQueryOutput('<Op>')` for awsQuery).
 */
function operationsCheckedBy(suite: string): string[] {
  const text = readFileSync(join(HERE, suite), 'utf8');
  const re = /expectConforming(?:Output\(\s*MODEL,\s*wire,\s*|QueryOutput\(\s*)'(\w+)'/g;
  return [...new Set([...text.matchAll(re)].map((m) => m[1] ?? ''))].filter((op) => op !== '').sort();
}

let emulator: Emulator;

beforeAll(async () => {
  emulator = await startEmulator({ clock: new VirtualClock(Date.parse('2026-03-02T14:00:00Z')) });
});

afterAll(async () => {
  await emulator?.close();
});

/** Operations of `model` the emulator serves: a request with an empty body is not answered UnknownOperationException. */
async function operationsServed(model: ServiceModel, contentType: string): Promise<string[]> {
  const served: string[] = [];
  for (const operation of Object.keys(model.operations).sort()) {
    const response = await fetch(emulator.endpoint, {
      method: 'POST',
      headers: { 'content-type': contentType, 'x-amz-target': `${model.metadata.targetPrefix}.${operation}` },
      body: '{}',
    });
    const body = (await response.json()) as { __type?: string };
    if (body.__type !== 'UnknownOperationException') served.push(operation);
  }
  return served;
}

/** STS actions the emulator serves: a form-encoded request is not answered InvalidAction. */
async function stsActionsServed(model: ServiceModel): Promise<string[]> {
  const served: string[] = [];
  for (const operation of Object.keys(model.operations).sort()) {
    const response = await fetch(emulator.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `Action=${operation}&Version=${model.metadata.apiVersion}`,
    });
    if (!(await response.text()).includes('<Code>InvalidAction</Code>')) served.push(operation);
  }
  return served;
}

describe('Conformance suite coverage', () => {
  it('every STS action the watchdog calls or the emulator serves is checked by sts.conformance.test.ts', async () => {
    const served = await stsActionsServed(STS.model);
    expect(served.length).toBeGreaterThan(0);
    const called = operationsCalledByTheWatchdog(STS.sdkPackage);
    for (const op of called) expect(Object.keys(STS.model.operations)).toContain(op);
    const checked = operationsCheckedBy(STS.suite);
    expect([...new Set([...served, ...called])].filter((op) => !checked.includes(op))).toEqual([]);
  });

  it.each(SERVICES)(
    'every $service operation the watchdog calls is checked by $suite',
    ({ sdkPackage, suite, model }) => {
      const called = operationsCalledByTheWatchdog(sdkPackage);
      expect(called.length).toBeGreaterThan(0);
      for (const op of called) expect(Object.keys(model.operations)).toContain(op);
      const checked = operationsCheckedBy(suite);
      expect(called.filter((op) => !checked.includes(op))).toEqual([]);
    },
  );

  it.each(SERVICES)(
    'every $service operation the emulator serves is checked by $suite',
    async ({ model, suite, contentType }) => {
      const served = await operationsServed(model, contentType);
      expect(served.length).toBeGreaterThan(0);
      const checked = operationsCheckedBy(suite);
      expect(served.filter((op) => !checked.includes(op))).toEqual([]);
    },
  );
});
