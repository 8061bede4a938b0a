import { fileURLToPath } from 'node:url';
import { DEFAULT_POLICY, DEFAULT_STUCK_MINUTES, WatchdogConfig } from '#shared/config/schema.ts';
import { isMainModule, writeFormattedJson } from '#shared/json-schema-file.ts';
import * as z from '#shared/zod.ts';

/**
 * The JSON Schema of the watchdog config file, generated from the zod schema in `schema.ts` so editors can validate
 * and complete `flink-watchdog.config.json` (point its `"$schema"` at the committed file).
 *
 * Regenerate after changing `schema.ts`: `npm run schema` (runs this file), which writes
 * {@link CONFIG_JSON_SCHEMA_FILE}. A unit test fails when the committed file is stale.
 */

/** Path of the committed, generated JSON Schema (next to this file). */
export const CONFIG_JSON_SCHEMA_FILE = fileURLToPath(new URL('./flink-watchdog.config.schema.json', import.meta.url));

/** `$id` of the generated schema: names the config format and its schemaVersion, not a download location. */
export const CONFIG_JSON_SCHEMA_ID = 'urn:flink-watchdog:config:schema-version-1';

/**
 * The config's JSON Schema (draft 2020-12) as a plain object. Built from the zod schema's input side, so keys that
 * have defaults are optional. Checks zod runs in code (duplicate application names, the Slack-URL check) are not in it:
 * the watchdog validates again with `parseConfig` before acting.
 */
export function configJsonSchema(): Record<string, unknown> {
  const { $schema, description, ...rest } = z.toJSONSchema(WatchdogConfig, { io: 'input', target: 'draft-2020-12' });
  annotatePolicyDefaults(rest.$defs?.PolicyOverride as JsonSchemaNode | undefined);
  return {
    $schema,
    $id: CONFIG_JSON_SCHEMA_ID,
    title: 'Flink Watchdog configuration',
    description:
      description ??
      'Flink Watchdog configuration: which Amazon Managed Service for Apache Flink applications are watched, and how.',
    ...rest,
  };
}

type JsonSchemaNode = { properties?: Record<string, JsonSchemaNode>; default?: unknown } & Record<string, unknown>;

/**
 * Shows the built-in default of every policy knob (DEFAULT_POLICY, DEFAULT_STUCK_MINUTES) as its JSON Schema
 * `default`, which editors display on hover and insert on completion. Mutates `policy`.
 * @throws Error when a knob of DEFAULT_POLICY is missing from the generated schema (the two drifted apart).
 */
function annotatePolicyDefaults(policy: JsonSchemaNode | undefined): void {
  const knobs = policy?.properties;
  if (knobs === undefined) throw new Error('generated JSON Schema has no $defs.PolicyOverride.properties');
  const set = (node: JsonSchemaNode | undefined, name: string, value: unknown): void => {
    if (node === undefined) throw new Error(`generated JSON Schema has no policy knob ${name}`);
    node.default = value;
  };
  for (const [name, value] of Object.entries(DEFAULT_POLICY)) {
    if (name === 'restartLoop' || name === 'stuckTransitionMinutes') continue;
    set(knobs[name], name, value);
  }
  for (const [name, value] of Object.entries(DEFAULT_POLICY.restartLoop)) {
    set(knobs.restartLoop?.properties?.[name], `restartLoop.${name}`, value);
  }
  for (const [name, value] of Object.entries(DEFAULT_STUCK_MINUTES)) {
    set(knobs.stuckTransitionMinutes?.properties?.[name], `stuckTransitionMinutes.${name}`, value);
  }
}

/**
 * Writes {@link configJsonSchema} to `file` as pretty JSON with a trailing newline, then lets Biome lay it out the way
 * `npm run lint` expects (skipped with a note when Biome is not installed; the content is the same either way).
 */
export function writeConfigJsonSchema(file: string = CONFIG_JSON_SCHEMA_FILE): void {
  writeFormattedJson(file, configJsonSchema());
}

if (isMainModule(import.meta.url)) {
  writeConfigJsonSchema();
  console.log(`wrote ${CONFIG_JSON_SCHEMA_FILE}`);
}
