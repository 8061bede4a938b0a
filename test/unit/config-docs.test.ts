import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MEMBER_ROLE_NAME } from '#shared/adapters/accounts.ts';
import { DEFAULT_METRICS_DELAY_SECONDS, DEFAULT_SWEEP_BATCH_SIZE, parseConfig } from '#shared/config/schema.ts';
import {
  anchor,
  CONFIG_DOCS_COMMAND,
  CONFIG_DOCS_FILE,
  cell,
  configDocs,
  fieldRows,
  fieldTable,
  readConfigSchema,
  type SchemaNode,
} from '../../scripts/config-docs.ts';

/** The table row of a field, split into its 5 cells (field, type, default, allowed, description). */
function rowOf(doc: string, path: string): string[] {
  const line = doc.split('\n').find((l) => l.startsWith(`| \`${path}\` |`));
  if (line === undefined) throw new Error(`no row for ${path}`);
  // Cells are separated by pipes that are not escaped (`\|` stays inside a cell).
  return line
    .slice(2, -2)
    .split(/(?<!\\) \| /)
    .map((c) => c.trim());
}

/** Every field path of the schema, walked independently of the generator (policy knobs as `policy.`). */
function schemaPaths(node: SchemaNode, path: string, defs: Record<string, SchemaNode>): string[] {
  if (node.$ref !== undefined) return [path];
  const fields = node.type === 'array' ? node.items : node;
  const prefix = node.type === 'array' ? `${path}[]` : path;
  return [
    path,
    ...Object.entries(fields?.properties ?? {}).flatMap(([name, child]) =>
      schemaPaths(child, prefix === '' ? name : `${prefix}.${name}`, defs),
    ),
  ].filter((p) => p !== '');
}

describe('Script: config-docs', () => {
  const schema = readConfigSchema();
  const doc = configDocs(schema);

  describe('Method: configDocs', () => {
    it('matches the committed docs/configuration.md', () => {
      // Prepare
      const committed = readFileSync(CONFIG_DOCS_FILE, 'utf8');

      // Assess
      expect(committed === doc, `docs/configuration.md is stale: run ${CONFIG_DOCS_COMMAND}`).toBe(true);
    });

    it('has a row for every field of the schema, the policy knobs under policy.', () => {
      // Prepare
      const defs = schema.$defs ?? {};
      const paths = [
        ...schemaPaths(schema, '', defs),
        ...schemaPaths(defs.PolicyOverride ?? {}, 'policy', defs).slice(1),
      ];

      // Assess
      expect(paths.length).toBeGreaterThan(60);
      for (const path of paths) expect(() => rowOf(doc, path), path).not.toThrow();
    });

    it('shows type, default and range of a policy knob', () => {
      // Act
      const [, type, defaultValue, allowed, description] = rowOf(doc, 'policy.restartLoop.threshold');

      // Assess
      expect([type, defaultValue, allowed]).toEqual(['`integer`', '`3`', '1–1000']);
      expect(description).toContain('Restarts within the window');
    });

    it('shows the defaults the code applies for fields whose schema has none', () => {
      // Assess
      expect(rowOf(doc, 'detection.metricsDelaySeconds')[2]).toBe(`\`${DEFAULT_METRICS_DELAY_SECONDS}\``);
      expect(rowOf(doc, 'fleet.sweep.batchSize')[2]).toBe(`\`${DEFAULT_SWEEP_BATCH_SIZE}\``);
      expect(rowOf(doc, 'fleet.accounts[].roleName')[2]).toBe(`\`${DEFAULT_MEMBER_ROLE_NAME}\``);
    });

    it('marks required fields and lists enum values', () => {
      // Assess
      expect(rowOf(doc, 'schemaVersion')[2]).toBe('**required**');
      expect(rowOf(doc, 'fleet.accounts[].externalId')[2]).toBe('**required**');
      expect(rowOf(doc, 'runbooks')[2]).toBe('–');
      expect(rowOf(doc, 'policy.mode').slice(2, 4)).toEqual(['`observe`', '`remediate`, `approve`, `observe`']);
    });

    it('keeps a pattern holding a pipe inside its cell', () => {
      // Act
      const cells = rowOf(doc, 'runbooks.publishers');

      // Assess
      expect(cells).toHaveLength(5);
      expect(cells[3]).toContain('(role\\|user)');
    });

    it('starts with an example config that validates, every application in observe mode', () => {
      // Prepare
      const example = /```json\n([\s\S]*?)\n```/.exec(doc)?.[1];

      // Act
      const config = parseConfig(JSON.parse(example ?? 'null'));

      // Assess
      expect(config.defaults.mode).toBe('observe');
      expect(config.applications.every((a) => a.policy.mode === undefined)).toBe(true);
    });

    it('links every section from its contents list', () => {
      // Prepare
      const headings = [...doc.matchAll(/^## (.+)$/gm)].map((m) => m[1] ?? '').filter((h) => h !== 'Contents');

      // Assess
      expect(headings).toContain('fleet');
      for (const heading of headings) expect(doc.includes(`(#${anchor(heading)})`), heading).toBe(true);
    });
  });

  describe('Method: fieldRows', () => {
    it('walks objects, arrays of objects and inherited defaults, in schema order', () => {
      // Prepare
      const node: SchemaNode = {
        type: 'object',
        required: ['items'],
        properties: {
          items: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } },
          limits: {
            type: 'object',
            default: { low: 1 },
            properties: { low: { type: 'integer', minimum: 0 }, high: { type: 'integer', exclusiveMinimum: 0 } },
          },
        },
      };

      // Act
      const rows = fieldRows(node, 'x');

      // Assess
      expect(rows.map((r) => [r.path, r.type, r.required, r.defaultValue, r.allowed])).toEqual([
        ['x', 'object', false, undefined, ''],
        ['x.items', 'object[]', true, undefined, ''],
        ['x.items[].id', 'string', true, undefined, ''],
        ['x.limits', 'object', false, { low: 1 }, ''],
        ['x.limits.low', 'integer', false, 1, '≥ 0'],
        ['x.limits.high', 'integer', false, undefined, '> 0'],
      ]);
    });

    it('refuses a $ref that names no definition', () => {
      // Assess
      expect(() => fieldRows({ $ref: '#/$defs/Missing' }, 'x')).toThrow('$ref #/$defs/Missing names no $defs entry');
    });
  });

  describe('Method: fieldTable', () => {
    it('shows a field without default or description with dashes and an empty cell', () => {
      // Act
      const table = fieldTable(fieldRows({ type: 'string', enum: ['a', 'b'] }, 'kind'));

      // Assess
      expect(table.split('\n')[2]).toBe('| `kind` | `string` | – | `a`, `b` |  |');
    });
  });

  describe('Method: cell', () => {
    it('escapes pipes everywhere and angle brackets outside code spans', () => {
      // Assess
      expect(cell('a|b `<c>|d` <e>')).toBe('a\\|b `<c>\\|d` &lt;e>');
    });
  });
});
