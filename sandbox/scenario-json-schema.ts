import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { Scenario } from '#sandbox/scenario.ts';
import { configJsonSchema } from '#shared/config/json-schema.ts';
import { isMainModule, writeFormattedJson } from '#shared/json-schema-file.ts';

/**
 * The JSON Schema of drill scenario files (sandbox/scenarios/*.json), generated from the zod schema in `scenario.ts`
 * so editors validate and complete a scenario while it is written. Every bundled scenario points its `"$schema"` at
 * the committed file (`../scenario.schema.json`).
 *
 * Regenerate after changing `scenario.ts`: `npx tsx sandbox/scenario-json-schema.ts` (writes
 * {@link SCENARIO_JSON_SCHEMA_FILE}). A unit test fails when the committed file is stale.
 */

/** Path of the committed, generated JSON Schema: `sandbox/scenario.schema.json`. */
export const SCENARIO_JSON_SCHEMA_FILE = fileURLToPath(new URL('./scenario.schema.json', import.meta.url));

/**
 * Where the watchdog configuration's JSON Schema sits inside the scenario schema: `$defs.WatchdogConfig`, a copy of
 * the config file's schema (`configJsonSchema()`), so a scenario's `watchdog` object is completed and checked like a
 * config file and the scenario schema stands alone (an editor needs no second file).
 */
export const WATCHDOG_CONFIG_SCHEMA_REF = '#/$defs/WatchdogConfig';

/**
 * The scenario format's JSON Schema (draft 2020-12) as a plain object. The watchdog configuration's schema is
 * embedded under {@link WATCHDOG_CONFIG_SCHEMA_REF}, its own `#/$defs/…` references rewritten to point inside it.
 * Built from the zod schema's input side (keys with defaults are optional). The cross checks `parseScenario` runs in
 * code (names a timeline step, fault, job rule or expectation uses; times within `durationMinutes`) are not in it:
 * the drill runs them before every scenario.
 */
export function scenarioJsonSchema(): Record<string, unknown> {
  const { $schema, ...rest } = z.toJSONSchema(Scenario, { io: 'input', target: 'draft-2020-12' });
  const properties = rest.properties as Record<string, Record<string, unknown>> | undefined;
  if (properties?.watchdog === undefined) throw new Error('generated JSON Schema has no properties.watchdog');
  properties.watchdog = {
    description: 'The watchdog configuration (the format of flink-watchdog.config.json), validated before the run.',
    $ref: WATCHDOG_CONFIG_SCHEMA_REF,
  };
  const { $schema: _configDraft, $id: _configId, ...config } = configJsonSchema() as Record<string, unknown>;
  rest.$defs = {
    ...(rest.$defs as Record<string, unknown> | undefined),
    WatchdogConfig: rebaseRefs(config) as typeof rest,
  };
  dropSafeIntegerBounds(rest);
  return {
    $schema,
    title: 'Flink Watchdog drill scenario',
    description:
      'A drill scenario: a world for the MSF and CloudWatch emulator, a timeline of what people do in it, the watchdog configuration and the expected outcome. Times are minutes after startTime.',
    ...rest,
  };
}

/** A copy of `node` whose `#/$defs/X` references point into `#/$defs/WatchdogConfig/$defs/X`. */
function rebaseRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rebaseRefs);
  if (typeof node !== 'object' || node === null) return node;
  return Object.fromEntries(
    Object.entries(node).map(([k, v]) => [
      k,
      k === '$ref' && typeof v === 'string' && v.startsWith('#/$defs/')
        ? `${WATCHDOG_CONFIG_SCHEMA_REF}/$defs/${v.slice('#/$defs/'.length)}`
        : rebaseRefs(v),
    ]),
  );
}

/**
 * Removes the bounds zod gives every integer (±Number.MAX_SAFE_INTEGER): they say nothing to a person writing a
 * scenario, and JSON numbers beyond them are refused by the loader anyway. Mutates `node`.
 */
function dropSafeIntegerBounds(node: unknown): void {
  if (typeof node !== 'object' || node === null) return;
  const n = node as Record<string, unknown>;
  if (n.minimum === Number.MIN_SAFE_INTEGER) delete n.minimum;
  if (n.maximum === Number.MAX_SAFE_INTEGER) delete n.maximum;
  for (const child of Object.values(n)) dropSafeIntegerBounds(child);
}

/** Writes {@link scenarioJsonSchema} to `file` as JSON laid out by Biome (see writeFormattedJson). */
export function writeScenarioJsonSchema(file: string = SCENARIO_JSON_SCHEMA_FILE): void {
  writeFormattedJson(file, scenarioJsonSchema());
}

if (isMainModule(import.meta.url)) {
  writeScenarioJsonSchema();
  console.log(`wrote ${SCENARIO_JSON_SCHEMA_FILE}`);
}
