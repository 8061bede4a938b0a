import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScenarioFile, parseScenario, SCENARIO_DIR, type ScenarioError } from '#sandbox/scenario.ts';
import {
  readScenarioSchema,
  SCENARIO_DOCS_FILE,
  scenarioReference,
  withReference,
} from '../../scripts/scenario-docs.ts';

type Node = {
  properties?: Record<string, Node>;
  items?: Node;
  oneOf?: Node[];
  anyOf?: Node[];
  type?: string;
  $ref?: string;
};

/** Every field path of the schema, walked independently of the generator (a union's variants share their path). */
function schemaPaths(node: Node, path: string): string[] {
  const options = node.oneOf ?? node.anyOf;
  if (options !== undefined) return [path, ...options.flatMap((o) => schemaPaths(o, path).slice(1))];
  if (node.$ref !== undefined) return [path];
  const fields = node.type === 'array' ? node.items : node;
  if (node.type === 'array' && (fields?.oneOf ?? fields?.anyOf) !== undefined) {
    return [path, ...schemaPaths(fields as Node, `${path}[]`).slice(1)];
  }
  const prefix = node.type === 'array' ? `${path}[]` : path;
  return [
    path,
    ...Object.entries(fields?.properties ?? {}).flatMap(([name, child]) =>
      schemaPaths(child, prefix === '' ? name : `${prefix}.${name}`),
    ),
  ].filter((p) => p !== '');
}

/** The parts of a raw scenario the tests change. */
interface RawScenario {
  name: string;
  applications: Array<Record<string, unknown>>;
  jobModel: Array<{ when: Record<string, unknown>; behaviour: unknown }>;
  timeline: Array<Record<string, unknown>>;
}

/** The bundled bad-config-change scenario as raw JSON, to break on purpose. */
function badConfigChange(): RawScenario {
  return JSON.parse(readFileSync(join(SCENARIO_DIR, 'bad-config-change.json'), 'utf8'));
}

/** The walkthrough's scenario: bad-config-change with a new jar that crash-loops. */
function myBadJar(): RawScenario {
  const s = badConfigChange();
  const jar = 'orders-enrichment/orders-enrichment-1.5.0.jar';
  s.name = 'my-bad-jar';
  s.jobModel = [{ when: { codeKey: jar }, behaviour: { kind: 'crash-loop', failAfterSeconds: 30, error: 'NPE' } }];
  s.timeline = [{ atMinute: 5, application: 'orders-enrichment', action: 'update', change: { codeKey: jar } }];
  return s;
}

describe('Script: scenario-docs', () => {
  const schema = readScenarioSchema();
  const committed = readFileSync(SCENARIO_DOCS_FILE, 'utf8');

  it('the reference in docs/scenarios.md is what the generator writes', () => {
    // Act
    const regenerated = withReference(committed, scenarioReference(schema));

    // Assess
    expect(
      regenerated === committed,
      'docs/scenarios.md reference is stale: npx tsx sandbox/scenario-json-schema.ts && npx tsx scripts/scenario-docs.ts',
    ).toBe(true);
  });

  it('has a row for every field of the schema, every variant of a union included', () => {
    // Arrange
    const rows = new Set(committed.split('\n').flatMap((l) => /^\| `([^`]+)` \|/.exec(l)?.[1] ?? []));

    // Act
    const missing = schemaPaths(schema as Node, '').filter((p) => !rows.has(p));

    // Assess
    expect(missing).toEqual([]);
  });

  it('shows each variant of the unions under its own heading', () => {
    // Assess
    for (const heading of [
      '#### `jobModel[].behaviour` with `kind: "crash-loop"`',
      '#### `faults[]` with `kind: "outage"` and `source`',
      '#### `timeline[]` with `action: "create"`',
    ]) {
      expect(committed).toContain(heading);
    }
  });

  describe('the walkthrough', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scenario-docs-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('its scenario is valid', () => {
      // Arrange
      const file = join(dir, 'my-bad-jar.json');
      writeFileSync(file, JSON.stringify(myBadJar()));

      // Act
      const s = loadScenarioFile(file);

      // Assess
      expect(s.jobModel[0]?.behaviour.kind).toBe('crash-loop');
    });

    it('quotes the messages the loader gives for its mistakes', () => {
      // Arrange: the file renamed without its name, a step on a misspelt application, a step after the end, a job
      // rule on a jar nothing deploys.
      const s = myBadJar();
      s.timeline[0] = { ...s.timeline[0], application: 'order-enrichment' };
      s.timeline.push({ atMinute: 40, application: 'orders-enrichment', action: 'stop' });
      s.jobModel[0] = {
        behaviour: s.jobModel[0]?.behaviour,
        when: { codeKey: 'orders-enrichment/orders-enrichment-1.5.jar' },
      };
      const file = join(dir, 'names.json');
      writeFileSync(file, JSON.stringify(s));
      const typo = myBadJar();
      typo.applications[0] = { ...typo.applications[0], parallelizm: 4 };

      // Act
      const issues = [
        ...(() => {
          try {
            loadScenarioFile(file);
          } catch (e) {
            return (e as ScenarioError).issues;
          }
          return [];
        })(),
        ...(() => {
          try {
            parseScenario(typo, 'my-bad-jar.json');
          } catch (e) {
            return (e as ScenarioError).issues;
          }
          return [];
        })(),
      ];

      // Assess
      expect(issues).toHaveLength(5);
      for (const issue of issues) expect(committed).toContain(issue);
    });
  });
});
