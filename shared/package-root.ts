import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The `name` in the package's package.json: the directory holding that file is the package root. */
export const PACKAGE_NAME = 'flink-watchdog';

/** Raised when no package.json named {@link PACKAGE_NAME} is found above a file (a module copied out of the package). */
export class PackageRootError extends Error {
  override readonly name = 'PackageRootError';
}

/**
 * The root directory of the flink-watchdog package: the nearest directory, walking up from `from`, whose package.json
 * is named {@link PACKAGE_NAME}. Files the package ships beside its code (the drill scenarios, the example config)
 * are found from it, the same from the sources (`shared/*.ts` run by tsx), from the bundles in `dist/` and from an
 * install in `node_modules/flink-watchdog/`; a path relative to one module's `import.meta.url` would not survive
 * bundling, which moves modules into `dist/` and its chunks.
 * @param from a file to start from (default: this module's own file).
 * @throws PackageRootError when there is none up to the file system root.
 */
export function packageRoot(from: string = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === PACKAGE_NAME) return dir;
      } catch {
        // Not readable JSON: not ours; keep walking up.
      }
    }
    if (dirname(dir) === dir) {
      throw new PackageRootError(`no package.json named "${PACKAGE_NAME}" above ${from}: is the package installed?`);
    }
  }
}
