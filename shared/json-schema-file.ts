import { spawnSync } from 'node:child_process';
import { realpathSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Writes `value` to `file` as pretty JSON with a trailing newline, then lets Biome lay it out the way `npm run lint`
 * expects (skipped with a note when Biome is not installed; the content is the same either way). Used for the JSON
 * Schemas generated into the repository.
 */
export function writeFormattedJson(file: string, value: unknown): void {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
  let biome: string;
  try {
    biome = createRequire(import.meta.url).resolve('@biomejs/biome/bin/biome');
  } catch {
    console.error('note: @biomejs/biome not installed; the schema file is not formatted');
    return;
  }
  const formatted = spawnSync(process.execPath, [biome, 'format', '--write', file], { encoding: 'utf8' });
  if (formatted.status !== 0) console.error(`note: biome format failed: ${formatted.stderr || formatted.stdout}`);
}

/**
 * Whether the module at `moduleUrl` (its `import.meta.url`) is the one node or tsx was asked to run. Only a TypeScript
 * source counts: in a bundle (dist/cli.js and its chunks) many modules share one URL, which may be the entry's.
 */
export function isMainModule(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (entry === undefined || !moduleUrl.endsWith('.ts')) return false;
  try {
    return realpathSync(resolve(entry)) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}
