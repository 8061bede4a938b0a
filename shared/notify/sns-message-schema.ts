/**
 * The JSON Schema of the runbook message ({@link WatchdogEventV1}, shared/notify/sns-message.ts), generated from its
 * zod schema for runbook authors and subscribers, and committed as `sns-message.schema.json` next to this file.
 * Regenerate after changing the message: `npx tsx shared/notify/sns-message-schema.ts --write-schema`. A unit test
 * fails when the committed file is stale.
 *
 * Kept apart from sns-message.ts so that the Lambda bundles, which render messages, do not carry the JSON Schema
 * generator.
 */
import { fileURLToPath } from 'node:url';
import { isMainModule, writeFormattedJson } from '#shared/json-schema-file.ts';
import * as z from '#shared/zod.ts';
import { WatchdogEventV1 } from './sns-message.ts';

/** Path of the committed, generated JSON Schema of {@link WatchdogEventV1} (next to this file). */
export const WATCHDOG_EVENT_JSON_SCHEMA_FILE = fileURLToPath(new URL('./sns-message.schema.json', import.meta.url));

/** `$id` of the generated schema: names the message format and its schemaVersion, not a download location. */
export const WATCHDOG_EVENT_JSON_SCHEMA_ID = 'urn:flink-watchdog:event:schema-version-1';

/** The JSON Schema (draft 2020-12) of {@link WatchdogEventV1}, for runbook authors and subscribers. */
export function watchdogEventJsonSchema(): Record<string, unknown> {
  const { $schema, description, ...rest } = z.toJSONSchema(WatchdogEventV1, { io: 'output', target: 'draft-2020-12' });
  return {
    $schema,
    $id: WATCHDOG_EVENT_JSON_SCHEMA_ID,
    title: 'Flink Watchdog event',
    description,
    ...rest,
  };
}

/**
 * Writes {@link watchdogEventJsonSchema} to `file` as pretty JSON with a trailing newline, then lets Biome lay it out
 * the way `npm run lint` expects (skipped with a note when Biome is not installed; the content is the same either way).
 */
export function writeWatchdogEventJsonSchema(file: string = WATCHDOG_EVENT_JSON_SCHEMA_FILE): void {
  writeFormattedJson(file, watchdogEventJsonSchema());
}

if (isMainModule(import.meta.url) && process.argv.includes('--write-schema')) {
  writeWatchdogEventJsonSchema();
  console.log(`wrote ${WATCHDOG_EVENT_JSON_SCHEMA_FILE}`);
}
