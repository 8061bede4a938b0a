import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, describe, expect, it } from 'vitest';
import {
  listScenarios,
  loadScenario,
  loadScenarioFile,
  parseScenario,
  SCENARIO_DIR,
  ScenarioError,
} from '#sandbox/scenario.ts';
import {
  SCENARIO_JSON_SCHEMA_FILE,
  scenarioJsonSchema,
  WATCHDOG_CONFIG_SCHEMA_REF,
} from '#sandbox/scenario-json-schema.ts';
import { configJsonSchema } from '#shared/config/json-schema.ts';

const code = { bucket: 'artifacts', fileKey: 'orders-v1.jar' };

/** A valid scenario with one application, `orders`, to which each test adds its mistake. */
function scenario(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'my-scenario',
    title: 'A test scenario',
    description: 'One application, nothing happens.',
    durationMinutes: 30,
    applications: [{ name: 'orders', code }],
    watchdog: { schemaVersion: 1, applications: [{ name: 'orders' }] },
    expected: { outcome: 'NO_INCIDENT' },
    ...overrides,
  };
}

/** The problems parseScenario reports for `raw` (fails the test when it parses). */
function issuesOf(raw: unknown): readonly string[] {
  try {
    parseScenario(raw, 'my-scenario.json');
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return (e as ScenarioError).issues;
  }
  expect.fail('expected a ScenarioError');
}

describe('Function: parseScenario', () => {
  describe('unknown keys', () => {
    it.each([
      [
        'an application field',
        { applications: [{ name: 'orders', code, parallelizm: 4 }] },
        'applications[0].parallelizm: unknown key (did you mean "parallelism"?); allowed keys: name, accountId,',
      ],
      [
        'the application code',
        { applications: [{ name: 'orders', code: { ...code, filekey: 'x.jar' } }] },
        'applications[0].code.filekey: unknown key (did you mean "fileKey"?); allowed keys: bucket, fileKey, objectVersion',
      ],
      [
        'a restart strategy',
        { applications: [{ name: 'orders', code, restartStrategy: { maxBackoff: 5 } }] },
        'applications[0].restartStrategy.maxBackoff: unknown key',
      ],
      [
        'a job rule condition',
        { jobModel: [{ when: { codekey: 'orders-v1.jar' }, behaviour: { kind: 'healthy' } }] },
        'jobModel[0].when.codekey: unknown key (did you mean "codeKey"?); allowed keys: application, codeKey, property, submittedBeforeMinute',
      ],
      [
        'a job behaviour',
        { jobModel: [{ when: {}, behaviour: { kind: 'crash-loop', error: 'boom', failAfterSecond: 5 } }] },
        'jobModel[0].behaviour.failAfterSecond: unknown key (did you mean "failAfterSeconds"?); allowed keys: kind, failAfterSeconds, error',
      ],
      [
        'an outage of one application',
        { faults: [{ kind: 'outage', application: 'orders', fromMinute: 5, toMinutes: 9 }] },
        'faults[0].toMinutes: unknown key (did you mean "toMinute"?); allowed keys: kind, application, fromMinute, toMinute, error',
      ],
      [
        'an outage of a source',
        { faults: [{ kind: 'outage', source: 'kafka', fromMinute: 5, untilMinute: 9 }] },
        'faults[0].untilMinute: unknown key; allowed keys: kind, source, fromMinute, toMinute, error',
      ],
      [
        'a timeline step',
        { timeline: [{ atMinute: 5, action: 'stop', application: 'orders', forced: true }] },
        'timeline[0].forced: unknown key (did you mean "force"?); allowed keys: atMinute, application, note, action, force',
      ],
      [
        'the expectation',
        { expected: { outcome: 'NO_INCIDENT', finalstatus: 'RUNNING' } },
        'expected.finalstatus: unknown key (did you mean "finalStatus"?)',
      ],
      ['the top level', { timelines: [] }, 'timelines: unknown key (did you mean "timeline"?)'],
    ])('refuses an unknown key in %s with its path and the key meant', (_where, overrides, expected) => {
      // Act
      const issues = issuesOf(scenario(overrides));

      // Assess
      expect(issues).toHaveLength(1);
      expect(issues[0]).toContain(expected);
    });

    it('reports every problem of the file at once', () => {
      // Act
      const issues = issuesOf(
        scenario({
          applications: [{ name: 'orders', code, parallelizm: 4 }],
          faults: [{ kind: 'outrage', application: 'orders', fromMinute: 1 }],
          expected: { outcome: 'RECOVERD' },
        }),
      );

      // Assess
      expect(issues).toEqual([
        expect.stringMatching(/^applications\[0\]\.parallelizm: unknown key/),
        'faults[0].kind: must be one of "outage", "autoscale", "maintenance", "metrics-delayed", "metrics-missing" (got "outrage")',
        'expected.outcome: must be one of "RECOVERED", "ESCALATED", "NOTIFIED", "OBSERVED", "NO_INCIDENT" (got "RECOVERD")',
      ]);
    });

    it('names the file and lists the problems one per line in its message', () => {
      // Act
      const error = (() => {
        try {
          parseScenario(scenario({ title: 1, durationMinutes: 0 }), 'my-scenario.json');
        } catch (e) {
          return e as Error;
        }
      })();

      // Assess
      expect(error?.message).toBe(
        'scenario my-scenario.json: 2 problems:\n' +
          '  title: expected a string, got 1\n' +
          '  durationMinutes: must be greater than 0 (got 0)',
      );
    });
  });

  describe('cross checks before the run', () => {
    it('refuses a timeline step on an application that does not exist, naming the known ones', () => {
      // Act
      const issues = issuesOf(scenario({ timeline: [{ atMinute: 5, action: 'update', application: 'order' }] }));

      // Assess
      expect(issues).toEqual([
        'timeline[0].application: no application "order" in the scenario; known applications: orders (did you mean "orders"?)',
      ]);
    });

    it('accepts a step on an application the timeline creates earlier, refuses one before its creation', () => {
      // Arrange
      const create = { atMinute: 10, action: 'create', application: 'payments', definition: { code } };

      // Act
      const ok = parseScenario(
        scenario({ timeline: [create, { atMinute: 15, action: 'stop', application: 'payments' }] }),
        'test',
      );
      const issues = issuesOf(
        scenario({ timeline: [{ atMinute: 5, action: 'stop', application: 'payments' }, create] }),
      );

      // Assess
      expect(ok.timeline).toHaveLength(2);
      expect(issues).toEqual([
        'timeline[0].application: "payments" is created at minute 10 (timeline[1].application), after this stop at minute 5: move one of them',
      ]);
    });

    it('refuses faults, job rules and expectations naming unknown applications', () => {
      // Act
      const issues = issuesOf(
        scenario({
          faults: [{ kind: 'maintenance', application: 'payments', atMinute: 3 }],
          jobModel: [{ when: { application: 'payments' }, behaviour: { kind: 'healthy' } }],
          expected: {
            outcome: 'NO_INCIDENT',
            application: 'payments',
            untouched: ['payments'],
            runningAtEnd: ['pay*'],
          },
        }),
      );

      // Assess
      const unknown = 'no application "payments" in the scenario; known applications: orders';
      expect(issues).toEqual([
        `faults[0].application: ${unknown}`,
        `jobModel[0].when.application: ${unknown}`,
        `expected.application: ${unknown}`,
        `expected.untouched[0]: ${unknown}`,
        'expected.runningAtEnd[0]: "pay*" matches no application; known applications: orders (a prefix ends in *)',
      ]);
    });

    it('refuses a job rule that can never match: a code key or property value nothing deploys', () => {
      // Act
      const issues = issuesOf(
        scenario({
          timeline: [{ atMinute: 5, action: 'update', application: 'orders', change: { codeKey: 'orders-v2.jar' } }],
          jobModel: [
            { when: { codeKey: 'orders-v2.jar' }, behaviour: { kind: 'healthy' } },
            { when: { codeKey: 'orders-v3.jar' }, behaviour: { kind: 'healthy' } },
            { when: { property: { group: 'Kafka', key: 'topic', value: 'x' } }, behaviour: { kind: 'healthy' } },
          ],
        }),
      );

      // Assess
      expect(issues).toEqual([
        'jobModel[1].when.codeKey: no application\'s code.fileKey and no timeline update\'s change.codeKey is "orders-v3.jar", so the rule never matches; known code keys: orders-v1.jar, orders-v2.jar',
        'jobModel[2].when.property: no application and no timeline update sets Kafka.topic to "x", so the rule never matches',
      ]);
    });

    it('refuses times after the end and windows that end before they start', () => {
      // Act
      const issues = issuesOf(
        scenario({
          timeline: [{ atMinute: 31, action: 'stop', application: 'orders' }],
          faults: [{ kind: 'outage', application: 'orders', fromMinute: 10, toMinute: 10 }],
          slack: { outages: [{ fromMinute: 40, mode: 'http-500' }] },
        }),
      );

      // Assess
      expect(issues).toEqual([
        'timeline[0].atMinute: minute 31 is after the scenario ends (durationMinutes 30): lower it or raise durationMinutes',
        'faults[0].toMinute: must be after fromMinute 10 (got 10); omit it for a window that lasts to the end',
        'slack.outages[0].fromMinute: minute 40 is after the scenario ends (durationMinutes 30): lower it or raise durationMinutes',
      ]);
    });

    it('accepts a step at the last minute (the drill runs it)', () => {
      // Act
      const s = parseScenario(scenario({ timeline: [{ atMinute: 30, action: 'stop', application: 'orders' }] }), 't');

      // Assess
      expect(s.timeline[0]?.atMinute).toBe(30);
    });

    it('refuses duplicate names and an application in an account the scenario does not list', () => {
      // Act
      const issues = issuesOf(
        scenario({
          applications: [
            { name: 'orders', code },
            { name: 'orders', code, accountId: '222222222222' },
          ],
        }),
      );

      // Assess
      expect(issues).toEqual([
        'applications[1].name: application "orders" is already defined (applications[0].name); names are unique in a scenario',
        "applications[1].accountId: account 222222222222 is not among the scenario's accounts ((none)): add it to accounts or remove accountId",
      ]);
    });

    it("reports the watchdog configuration's problems under watchdog", () => {
      // Act
      const issues = issuesOf(scenario({ watchdog: { schemaVersion: 1, aplications: [] } }));

      // Assess
      expect(issues).toEqual([
        expect.stringMatching(/^watchdog\.aplications: unknown key \(did you mean "applications"\?\)/),
      ]);
    });
  });

  it('accepts and drops the $schema editor hint', () => {
    // Act
    const s = parseScenario(scenario({ $schema: '../scenario.schema.json' }), 'test');

    // Assess
    expect(s).not.toHaveProperty('$schema');
    expect(s.applications.map((a) => a.name)).toEqual(['orders']);
  });
});

describe('Function: loadScenarioFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scenario-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a name that differs from the file name, saying how to fix it', () => {
    // Arrange
    const file = join(dir, 'other-name.json');
    writeFileSync(file, JSON.stringify(scenario()));

    // Act + Assess
    expect(() => loadScenarioFile(file)).toThrow(
      `scenario ${file}: name: "my-scenario" must match the file name: rename the file to my-scenario.json or set "name": "other-name"`,
    );
  });

  it("reports the file name's problem with the scenario's others", () => {
    // Arrange
    const file = join(dir, 'renamed.json');
    writeFileSync(file, JSON.stringify(scenario({ timeline: [{ atMinute: 1, action: 'stop', application: 'x' }] })));

    // Act
    const error = (() => {
      try {
        loadScenarioFile(file);
      } catch (e) {
        return e as ScenarioError;
      }
    })();

    // Assess
    expect(error).toBeInstanceOf(ScenarioError);
    expect(error?.issues).toEqual([
      'name: "my-scenario" must match the file name: rename the file to my-scenario.json or set "name": "renamed"',
      'timeline[0].application: no application "x" in the scenario; known applications: orders',
    ]);
  });

  it('refuses a file that is not JSON, naming it', () => {
    // Arrange
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{ "name": ');

    // Act + Assess
    expect(() => loadScenarioFile(file)).toThrow(new RegExp(`^scenario ${file}: not readable JSON`));
  });

  it('loads a copied scenario with its $schema', () => {
    // Arrange
    const file = join(dir, 'my-scenario.json');
    writeFileSync(file, JSON.stringify(scenario({ $schema: '../scenario.schema.json' })));

    // Act
    const s = loadScenarioFile(file);

    // Assess
    expect(s.name).toBe('my-scenario');
  });
});

describe('File: sandbox/scenario.schema.json', () => {
  it('is what the generator writes (regenerate: npm run schema)', () => {
    // Act
    const committed = readFileSync(SCENARIO_JSON_SCHEMA_FILE, 'utf8');

    // Assess
    expect(
      JSON.parse(committed),
      'sandbox/scenario.schema.json is stale: npm run schema (npx tsx sandbox/scenario-json-schema.ts)',
    ).toEqual(scenarioJsonSchema());
    expect(committed.endsWith('}\n')).toBe(true);
  });

  it("carries the watchdog configuration's schema for the watchdog object, standing alone", () => {
    // Act
    const schema = scenarioJsonSchema() as {
      properties: { watchdog: { $ref: string } };
      $defs: { WatchdogConfig: { properties: unknown } };
    };

    // Assess
    expect(schema.properties.watchdog.$ref).toBe(WATCHDOG_CONFIG_SCHEMA_REF);
    expect(Object.keys(schema.$defs.WatchdogConfig.properties as object)).toEqual(
      Object.keys((configJsonSchema() as { properties: object }).properties),
    );
    expect(JSON.stringify(schema)).not.toMatch(/"\$ref":"(?!#)/);
  });

  it('describes every field for the editor (a variant discriminator excepted)', () => {
    // Arrange
    const bare: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (typeof node !== 'object' || node === null) return;
      const n = node as Record<string, unknown>;
      for (const [key, field] of Object.entries((n.properties ?? {}) as Record<string, Record<string, unknown>>)) {
        if (field.description === undefined && field.const === undefined) bare.push(`${path}.${key}`);
      }
      for (const [k, v] of Object.entries(n)) walk(v, `${path}/${k}`);
    };

    // Act
    walk(scenarioJsonSchema(), '#');

    // Assess
    expect(bare).toEqual([]);
  });

  it('refuses unknown keys in every object of the format', () => {
    // Arrange: every object schema with named properties must close itself (records have none).
    const open: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (typeof node !== 'object' || node === null) return;
      const n = node as Record<string, unknown>;
      if (n.type === 'object' && n.properties !== undefined && n.additionalProperties !== false) open.push(path);
      for (const [k, v] of Object.entries(n)) walk(v, `${path}/${k}`);
    };

    // Act
    walk(scenarioJsonSchema(), '#');

    // Assess
    expect(open).toEqual([]);
  });

  describe('bundled scenarios', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    const validate = ajv.compile({ ...scenarioJsonSchema(), $id: SCENARIO_JSON_SCHEMA_FILE });

    it.each(listScenarios())('%s starts with its $schema, validates against it and passes the checks', (name) => {
      // Arrange
      const file = join(SCENARIO_DIR, `${name}.json`);
      const text = readFileSync(file, 'utf8');

      // Act
      const valid = validate(JSON.parse(text));

      // Assess
      expect(text.startsWith('{\n  "$schema": "../scenario.schema.json",\n')).toBe(true);
      expect(resolve(dirname(file), '../scenario.schema.json')).toBe(SCENARIO_JSON_SCHEMA_FILE);
      expect(validate.errors ?? []).toEqual([]);
      expect(valid).toBe(true);
      expect(loadScenario(name).name).toBe(name);
    });

    it('the JSON Schema refuses an unknown key as the loader does', () => {
      // Arrange
      const raw = JSON.parse(readFileSync(join(SCENARIO_DIR, 'bad-config-change.json'), 'utf8'));
      raw.applications[0].parallelizm = 4;

      // Act
      const valid = validate(raw);

      // Assess
      expect(valid).toBe(false);
      expect(validate.errors).toContainEqual(
        expect.objectContaining({ keyword: 'additionalProperties', params: { additionalProperty: 'parallelizm' } }),
      );
    });
  });
});
