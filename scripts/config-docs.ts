import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MEMBER_ROLE_NAME } from '#shared/adapters/accounts.ts';
import { CONFIG_JSON_SCHEMA_FILE } from '#shared/config/json-schema.ts';
import {
  DEFAULT_RUNTIME_ENVIRONMENT,
  detectionSettings,
  fleetSettings,
  parseConfig,
  type WatchdogConfig,
} from '#shared/config/schema.ts';
import { isMainModule } from '#shared/json-schema-file.ts';

/**
 * Generates `docs/configuration.md`, the reference of every config field, from the config's JSON Schema
 * (`shared/config/flink-watchdog.config.schema.json`, itself generated from the zod schema by `npm run schema`).
 *
 * Run `npm run docs` (this file) after `npm run schema`; a unit test fails while the committed document differs from
 * what this generator writes. No JSON-Schema-to-Markdown package fits: they write one page per sub-schema, or mark
 * optional sections as required, and none prints a field's full path; the schema here uses no combinators
 * (`anyOf`, `oneOf`, `allOf`), so a small walker suffices.
 */

/** Path of the generated document. */
export const CONFIG_DOCS_FILE = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));

/** The command that regenerates {@link CONFIG_DOCS_FILE} (printed by the staleness test). */
export const CONFIG_DOCS_COMMAND = 'npm run docs';

/** The subset of JSON Schema (draft 2020-12) keywords the generated config schema uses. */
export interface SchemaNode {
  type?: string;
  description?: string;
  default?: unknown;
  const?: unknown;
  enum?: unknown[];
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  required?: string[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  $ref?: string;
  $defs?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
}

/** A default that is not a JSON value but a rule, shown as prose (e.g. "the watchdog's own Region"). */
export interface ProseDefault {
  prose: string;
}

/** One row of a field table: a field's full path and what the schema (and the code's defaults) say about it. */
export interface FieldRow {
  /** Full path, e.g. `policy.restartLoop.threshold`, `applications[].name`. */
  path: string;
  /** JSON type, e.g. `integer`, `string[]`, `object[]`. */
  type: string;
  /** Whether the enclosing object requires the field. */
  required: boolean;
  /** The default applied when the field is absent, if any. */
  defaultValue?: unknown;
  /** Allowed values or range, as Markdown (code spans), or '' when anything of the type is allowed. */
  allowed: string;
  /** The schema's description, or '' when it has none. */
  description: string;
  /** Set for a field holding the policy knobs (`$ref` to the policy definition). */
  policyRef?: boolean;
  /** Set for an object whose fields have rows of their own (which show their defaults). */
  hasFields?: boolean;
}

/** Options of {@link fieldRows}. */
export interface FieldRowOptions {
  /** The schema's `$defs`, to resolve `$ref`s other than the policy's. */
  defs?: Record<string, SchemaNode>;
  /** Name of the `$defs` entry holding the policy knobs: a `$ref` to it is shown as a link, not expanded. */
  policyDef?: string;
  /** Defaults the schema does not carry (applied in code), by full path. */
  codeDefaults?: Record<string, unknown>;
}

/** Name of the policy knobs' definition in the generated schema (`$defs.PolicyOverride`). */
export const POLICY_DEF = 'PolicyOverride';

/** The path prefix that stands for both `defaults` and `applications[].policy` in the policy knob table. */
export const POLICY_PATH = 'policy';

/**
 * Every field under `node` as table rows, depth first in the schema's property order: an object's own row, then its
 * fields; an array's row, then (for an array of objects) its items' fields as `path[].field`. A `$ref` to the policy
 * definition is one row marked `policyRef` (the knobs have their own table). A child of an object whose `default` is
 * an object takes its default from there.
 * @throws Error for a `$ref` that names no `$defs` entry.
 */
export function fieldRows(
  node: SchemaNode,
  path: string,
  options: FieldRowOptions = {},
  required = false,
  inheritedDefault?: unknown,
): FieldRow[] {
  const policyRef = options.policyDef !== undefined && node.$ref === `#/$defs/${options.policyDef}`;
  const resolved = policyRef ? node : resolveRef(node, options.defs ?? {});
  const own = node.default !== undefined ? node.default : inheritedDefault;
  const codeDefault = options.codeDefaults?.[path];
  const defaultValue = own !== undefined ? own : codeDefault;
  const row: FieldRow = {
    path,
    type: policyRef ? 'object' : typeOf(resolved),
    required,
    ...(defaultValue !== undefined ? { defaultValue } : {}),
    allowed: policyRef ? '' : allowedOf(resolved),
    description: node.description ?? resolved.description ?? '',
    ...(policyRef ? { policyRef: true } : {}),
  };
  if (policyRef) return [row];
  const rows = [row];
  if (resolved.type === 'object' && resolved.properties !== undefined) row.hasFields = true;
  const fields =
    resolved.type === 'array' && resolved.items?.type === 'object' ? resolved.items : resolved.properties && resolved;
  if (fields?.properties) {
    const prefix = fields === resolved ? path : `${path}[]`;
    const parentDefault = fields === resolved ? defaultValue : undefined;
    for (const [name, child] of Object.entries(fields.properties)) {
      const childDefault = isRecord(parentDefault) ? parentDefault[name] : undefined;
      rows.push(
        ...fieldRows(
          child,
          prefix === '' ? name : `${prefix}.${name}`,
          options,
          fields.required?.includes(name) ?? false,
          childDefault,
        ),
      );
    }
  }
  return rows;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function resolveRef(node: SchemaNode, defs: Record<string, SchemaNode>): SchemaNode {
  if (node.$ref === undefined) return node;
  const name = node.$ref.replace(/^#\/\$defs\//, '');
  const target = defs[name];
  if (target === undefined) throw new Error(`config schema: $ref ${node.$ref} names no $defs entry`);
  return { ...target, ...node, $ref: undefined } as SchemaNode;
}

function typeOf(node: SchemaNode): string {
  if (node.type === 'array') return `${node.items ? typeOf(node.items) : 'any'}[]`;
  return node.type ?? 'any';
}

/** Allowed values and ranges of a field (or of an array's items), as Markdown. */
function allowedOf(node: SchemaNode): string {
  const parts: string[] = [];
  if (node.const !== undefined) parts.push(code(node.const));
  if (node.enum !== undefined) parts.push(node.enum.map(code).join(', '));
  const range = rangeOf(node.minimum, node.exclusiveMinimum, node.maximum, node.exclusiveMaximum);
  if (range) parts.push(range);
  const length = countRange(node.minLength, node.maxLength, 'characters');
  if (length) parts.push(length);
  if (node.format !== undefined) parts.push(`format ${code(node.format)}`);
  else if (node.pattern !== undefined) parts.push(`pattern ${code(node.pattern)}`);
  if (node.type === 'array') {
    const items = countRange(node.minItems, node.maxItems, 'items');
    if (items) parts.push(items);
    if (node.items && node.items.type !== 'object') {
      const each = allowedOf(node.items);
      if (each) parts.push(`each: ${each}`);
    }
  }
  return parts.join('; ');
}

function rangeOf(min?: number, exclusiveMin?: number, max?: number, exclusiveMax?: number): string {
  if (min !== undefined && max !== undefined) return `${min}–${max}`;
  const parts = [
    min !== undefined ? `≥ ${min}` : '',
    exclusiveMin !== undefined ? `> ${exclusiveMin}` : '',
    max !== undefined ? `≤ ${max}` : '',
    exclusiveMax !== undefined ? `< ${exclusiveMax}` : '',
  ].filter((p) => p !== '');
  return parts.join(', ');
}

function countRange(min: number | undefined, max: number | undefined, unit: string): string {
  if (min !== undefined && max !== undefined) return `${min}–${max} ${unit}`;
  if (min === 1 && unit === 'characters') return 'non-empty';
  if (min !== undefined) return `at least ${min} ${unit}`;
  if (max !== undefined) return `at most ${max} ${unit}`;
  return '';
}

/** A value as a Markdown code span: strings as written (no quotes), everything else as JSON. */
function code(value: unknown): string {
  const text = typeof value === 'string' ? value : inlineJson(value);
  return `\`${text}\``;
}

/**
 * Escapes text for a GitHub table cell: `|` everywhere (GitHub requires it inside code spans too), and `<` outside
 * code spans (so `<key>` is not taken for an HTML tag).
 */
export function cell(markdown: string): string {
  return markdown
    .split(/(`[^`]*`)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replaceAll('<', '&lt;')))
    .join('')
    .replaceAll('|', '\\|');
}

function defaultCell(row: FieldRow): string {
  if (row.hasFields) return '–';
  if (row.defaultValue !== undefined) {
    const value = row.defaultValue;
    return isProse(value) ? value.prose : code(value);
  }
  return row.required ? '**required**' : '–';
}

function isProse(value: unknown): value is ProseDefault {
  return isRecord(value) && Object.keys(value).length === 1 && typeof value.prose === 'string';
}

/** A Markdown table of rows: field, type, default, allowed, description. */
export function fieldTable(rows: readonly FieldRow[]): string {
  const lines = ['| field | type | default | allowed | description |', '|---|---|---|---|---|'];
  for (const row of rows) {
    const description = row.policyRef
      ? `${row.description} The knobs: [Policy knobs](#policy-knobs).`.trim()
      : row.description;
    lines.push(
      `| ${[code(row.path), code(row.type), defaultCell(row), row.allowed, description].map(cell).join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

/**
 * Defaults the watchdog applies in code rather than through the schema (`detection`, `fleet`, a listed application's
 * runtime, a member account's role and Regions), by full path: read from the functions that fill them in
 * (detectionSettings, fleetSettings on a config with no such section), so the document shows what runs.
 */
export function codeDefaults(): Record<string, unknown> {
  const empty: WatchdogConfig = parseConfig({ schemaVersion: 1 }, 'an empty config');
  const flat: Record<string, unknown> = {};
  const flatten = (value: unknown, prefix: string): void => {
    if (isRecord(value)) for (const [k, v] of Object.entries(value)) flatten(v, `${prefix}.${k}`);
    else flat[prefix] = value;
  };
  flatten(detectionSettings(empty), 'detection');
  flatten(fleetSettings(empty), 'fleet');
  return {
    ...flat,
    'fleet.alarms.downtime': false,
    'fleet.accounts[].regions': { prose: "the watchdog's own Region" } satisfies ProseDefault,
    'fleet.accounts[].roleName': DEFAULT_MEMBER_ROLE_NAME,
    'applications[].runtimeEnvironment': DEFAULT_RUNTIME_ENVIRONMENT,
    [`${POLICY_PATH}.checkpointStall.failedCheckpointsThreshold`]: {
      prose: '`tolerableFailedCheckpoints` + 2',
    } satisfies ProseDefault,
  };
}

/**
 * The example at the top of the document: observe first (every application in observe mode), one application of each
 * runtime, the opt-in tag, notifications. Validated with parseConfig when the document is generated.
 */
export const EXAMPLE_CONFIG = {
  schemaVersion: 1,
  optInTag: { key: 'flink-watchdog', value: 'enabled' },
  defaults: { mode: 'observe', restartLoop: { windowMinutes: 10, threshold: 3 } },
  applications: [
    { name: 'orders-enrichment', runtimeEnvironment: 'FLINK-1_20', policy: { restoreLastGoodVersion: true } },
    { name: 'payments-aggregation', runtimeEnvironment: 'FLINK-2_2', policy: { onDrift: { status: 'reconcile' } } },
  ],
  notifications: {
    emailSubscriptions: ['flink-oncall@example.com'],
    slackWebhookSecretName: 'flink-watchdog/slack-webhook',
  },
  drift: { terraformState: ['s3://example-terraform-state/flink/terraform.tfstate'] },
} as const;

/**
 * JSON laid out for reading: a value whose one-line form fits in `width` characters (after `indent` spaces) stays on
 * one line (`{ "key": "value" }`), larger objects and arrays are split one member per line.
 */
export function compactJson(value: unknown, indent = 0, width = 100): string {
  const inline = inlineJson(value);
  if (typeof value !== 'object' || value === null || indent + inline.length <= width) return inline;
  const pad = ' '.repeat(indent + 2);
  const members = Array.isArray(value)
    ? value.map((v) => `${pad}${compactJson(v, indent + 2, width)}`)
    : Object.entries(value).map(([k, v]) => `${pad}${JSON.stringify(k)}: ${compactJson(v, indent + 2, width)}`);
  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
  return `${open}\n${members.join(',\n')}\n${' '.repeat(indent)}${close}`;
}

function inlineJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(inlineJson).join(', ')}]`;
  if (isRecord(value)) {
    const members = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${inlineJson(v)}`);
    return members.length === 0 ? '{}' : `{ ${members.join(', ')} }`;
  }
  return JSON.stringify(value);
}

/** GitHub's heading anchor of a heading text (lower case, punctuation dropped, spaces as hyphens). */
export function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replaceAll(' ', '-');
}

/**
 * The whole document for `schema` (the parsed config JSON Schema).
 * @throws Error when {@link EXAMPLE_CONFIG} does not validate (ConfigError from parseConfig), or the schema has no
 *   policy definition.
 */
export function configDocs(schema: SchemaNode): string {
  parseConfig(EXAMPLE_CONFIG, 'the example of docs/configuration.md');
  const defs = schema.$defs ?? {};
  const policy = defs[POLICY_DEF];
  if (policy === undefined) throw new Error(`config schema: no $defs.${POLICY_DEF} (the policy knobs)`);
  const options: FieldRowOptions = { defs, policyDef: POLICY_DEF, codeDefaults: codeDefaults() };
  const properties = Object.entries(schema.properties ?? {});
  const isSection = (node: SchemaNode): boolean =>
    node.$ref !== undefined || node.type === 'object' || node.type === 'array';
  const topLevel = properties.filter(([, node]) => !isSection(node));
  const sections = properties.filter(([, node]) => isSection(node));
  const rowsOf = (name: string, node: SchemaNode): FieldRow[] =>
    fieldRows(node, name, options, schema.required?.includes(name) ?? false);
  const headings = ['Example', 'Top-level fields', ...sections.map(([name]) => name), 'Policy knobs'];

  const out: string[] = [
    '# Configuration reference',
    '',
    `<!-- Generated by scripts/config-docs.ts from shared/config/flink-watchdog.config.schema.json. Do not edit: change the zod schema (shared/config/schema.ts), then run \`npm run schema\` and \`${CONFIG_DOCS_COMMAND}\`. -->`,
    '',
    schema.description ?? '',
    '',
    'One JSON file, `flink-watchdog.config.json` by default; as a library, the same object is the `config` prop of',
    '`new FlinkWatchdog(stack, id, { config })`. It is validated before anything acts, by',
    '`flink-watchdog validate --config FILE` (offline), at synth and when a function loads it, with the same messages: each',
    'names the field and the fix, e.g. `applications[0].policy.restartLoop.threshold: must be at least 1 (got -1)`. Unknown',
    'fields are refused. For completion and checks in your editor, point `$schema` at the JSON Schema the package ships:',
    '`"$schema": "./node_modules/flink-watchdog/shared/config/flink-watchdog.config.schema.json"` (in this repository,',
    '`./shared/config/flink-watchdog.config.schema.json`); the watchdog ignores that field.',
    '',
    'Each table lists a field by its full path (`[]` is any element of an array), its JSON type, the default applied',
    'when it is absent (**required** when there is none), the values allowed, and what it does. Units are in the names:',
    '`…Minutes`, `…Seconds`, counts otherwise.',
    '',
    '## Example',
    '',
    'Every application in `observe` mode: the watchdog records and reports what it would do and makes no mutating MSF',
    'call. Switch one application at a time to `"mode": "remediate"` once its reports read right.',
    '',
    '```json',
    compactJson(EXAMPLE_CONFIG),
    '```',
    '',
    '## Contents',
    '',
    ...headings.map((h) => `- [${h}](#${anchor(h)})`),
    '',
    '## Top-level fields',
    '',
    fieldTable(topLevel.flatMap(([name, node]) => rowsOf(name, node))),
  ];
  for (const [name, node] of sections) {
    out.push('', `## ${name}`, '', fieldTable(rowsOf(name, node)));
  }
  out.push(
    '',
    '## Policy knobs',
    '',
    '`defaults` and each `applications[].policy` take these knobs; `policy.` below stands for either. An application',
    "gets the built-in defaults shown here, then the config's `defaults`, then its own `policy`, field by field.",
    '',
    fieldTable(fieldRows(policy, POLICY_PATH, options).slice(1)),
    '',
  );
  return out.join('\n');
}

/** Reads the committed config JSON Schema. */
export function readConfigSchema(file: string = CONFIG_JSON_SCHEMA_FILE): SchemaNode {
  return JSON.parse(readFileSync(file, 'utf8')) as SchemaNode;
}

if (isMainModule(import.meta.url)) {
  writeFileSync(CONFIG_DOCS_FILE, configDocs(readConfigSchema()));
  console.log(`wrote ${CONFIG_DOCS_FILE}`);
}
