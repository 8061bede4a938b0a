import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** One entry of a package-lock.json v3 `packages` map (the fields this module reads or writes). */
export interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  optional?: boolean;
  dev?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  inBundle?: boolean;
  [field: string]: unknown;
}

/** A package-lock.json, lockfileVersion 3. */
export interface PackageLock {
  name: string;
  version: string;
  lockfileVersion: 3;
  requires: true;
  packages: Record<string, LockEntry>;
}

/** The packed tarball as a dependency of the consumer app. */
export interface PackedDependency {
  /** The package's name, e.g. `flink-watchdog`. */
  name: string;
  /** The tarball, relative to the consumer app's directory, e.g. `flink-watchdog-0.2.0.tgz`. */
  tarball: string;
  /** Its absolute path (read to compute the lock's integrity). */
  tarballPath: string;
  /** The package.json inside the tarball. */
  manifest: {
    version: string;
    dependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
    bin?: Record<string, string>;
    engines?: Record<string, string>;
    license?: string;
  };
}

/** Raised when the repository's lock file cannot supply a package the consumer app needs. */
export class ConsumerLockError extends Error {
  override readonly name = 'ConsumerLockError';
}

/**
 * A package-lock.json for a fresh consumer app that depends on the packed tarball and on `direct` (name → exact
 * version), made from the repository's own lock: every package the consumer needs is already resolved there (the
 * tarball's dependencies are the repository's, pinned), so `npm ci --offline` can install the app from the npm cache
 * that the repository's `npm ci` filled, without asking the registry for package metadata (which `npm ci` does not
 * cache; `npm install --offline` would need it).
 *
 * The entries reachable from the consumer's root are copied with their layout (`node_modules/a/node_modules/b`),
 * flags of the repository's dev tree dropped.
 * @throws ConsumerLockError naming a package the repository's lock lacks or holds at another version.
 */
export function consumerLock(
  repoLock: PackageLock,
  packed: PackedDependency,
  direct: Readonly<Record<string, string>>,
): PackageLock {
  const source = repoLock.packages;
  const packages: Record<string, LockEntry> = {};
  const rootDeps = { [packed.name]: `file:${packed.tarball}`, ...direct };
  packages[''] = { name: 'consumer', version: '0.0.0', dependencies: rootDeps };
  const packedPath = `node_modules/${packed.name}`;
  packages[packedPath] = {
    version: packed.manifest.version,
    resolved: `file:${packed.tarball}`,
    integrity: `sha512-${createHash('sha512').update(readFileSync(packed.tarballPath)).digest('base64')}`,
    ...(packed.manifest.license !== undefined ? { license: packed.manifest.license } : {}),
    ...(packed.manifest.dependencies !== undefined ? { dependencies: packed.manifest.dependencies } : {}),
    ...(packed.manifest.bin !== undefined ? { bin: packed.manifest.bin } : {}),
    ...(packed.manifest.engines !== undefined ? { engines: packed.manifest.engines } : {}),
    ...(packed.manifest.peerDependencies !== undefined ? { peerDependencies: packed.manifest.peerDependencies } : {}),
  };

  const queue: { from: string; name: string; spec: string; optional: boolean }[] = [];
  const need = (from: string, entry: LockEntry) => {
    for (const [name, spec] of Object.entries(entry.dependencies ?? {}))
      queue.push({ from, name, spec, optional: false });
    for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
      queue.push({ from, name, spec, optional: true });
    }
    for (const [name, spec] of Object.entries(entry.peerDependencies ?? {})) {
      queue.push({ from, name, spec, optional: entry.peerDependenciesMeta?.[name]?.optional === true });
    }
  };
  for (const [name, version] of Object.entries(direct)) {
    queue.push({ from: '', name, spec: version, optional: false });
  }
  need(packedPath, packages[packedPath] as LockEntry);

  while (queue.length > 0) {
    const { from, name, spec, optional } = queue.shift() as (typeof queue)[number];
    if (name === packed.name) continue;
    const at = locate(source, from, name);
    if (at === undefined) {
      if (optional) continue;
      throw new ConsumerLockError(
        `${name}@${spec} (needed by ${from || 'the consumer app'}) is not in package-lock.json: run npm install in the repository`,
      );
    }
    if (packages[at] !== undefined) continue;
    const entry = source[at] as LockEntry;
    if (/^\d+\.\d+\.\d+$/.test(spec) && entry.version !== spec) {
      throw new ConsumerLockError(
        `${name}: package-lock.json has ${entry.version}, ${from || 'the consumer app'} asks for ${spec}: run npm install in the repository`,
      );
    }
    const { dev: _dev, devOptional, peer: _peer, ...kept } = entry;
    packages[at] = devOptional === true ? { ...kept, optional: true } : kept;
    need(at, entry);
  }
  return { name: 'consumer', version: '0.0.0', lockfileVersion: 3, requires: true, packages };
}

/**
 * Where Node would find package `name` required from the package at `from` (a lock key such as
 * `node_modules/a/node_modules/b`, `''` for the root): the nearest `node_modules/name` walking up that the
 * repository's lock (`source`) has.
 */
function locate(source: Record<string, LockEntry>, from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    if (source[candidate] !== undefined) return candidate;
    if (dir === '') return undefined;
    const cut = dir.lastIndexOf('/node_modules/');
    dir = cut < 0 ? '' : dir.slice(0, cut);
  }
}
