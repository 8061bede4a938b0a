/**
 * Types for dynalite 4 (ships none): an in-process DynamoDB implementation on LevelDB, in memory unless `path` is set.
 * The module is CommonJS; `module.exports` is the factory below.
 */
declare module 'dynalite' {
  import type { Server } from 'node:http';

  /** Options of the dynalite factory (see dynalite's index.js). */
  export interface DynaliteOptions {
    /** Directory of a LevelDB store; in memory when omitted. */
    path?: string;
    /** Serve HTTPS with dynalite's bundled self-signed certificate (or `key`/`cert`/`ca`). */
    ssl?: boolean;
    key?: string | Buffer;
    cert?: string | Buffer;
    ca?: string | Buffer;
    /** How long new tables stay CREATING, ms (default 500). */
    createTableMs?: number;
    /** How long deleted tables stay DELETING, ms (default 500). */
    deleteTableMs?: number;
    /** How long updated tables stay UPDATING, ms (default 500). */
    updateTableMs?: number;
    /** Largest item accepted, KB (default 400). */
    maxItemSizeKb?: number;
    /** Log requests to the console. Process-wide: once set, stays on for every dynalite server. */
    verbose?: boolean;
    /** Log debug output. Process-wide, like `verbose`. */
    debug?: boolean;
  }

  /**
   * Creates (does not start) a DynamoDB-compatible HTTP(S) server; call `listen`. Its `close` also closes the store
   * once pending operations finish (up to 30 s).
   */
  function dynalite(options?: DynaliteOptions): Server;
  export default dynalite;
}
