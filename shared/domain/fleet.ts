import { listedKey, runtimeEnvironmentOf, type WatchdogConfig } from '#shared/config/schema.ts';
import type { AlarmsPort } from '#shared/ports/alarms.ts';
import type { Ledger } from '#shared/ports/ledger.ts';
import type { Log } from '#shared/ports/log.ts';
import type { ApplicationSummary, MsfPort } from '#shared/ports/msf.ts';
import type { TaggingPort } from '#shared/ports/tagging.ts';
import { applicationKey, parseApplicationKey } from './app-key.ts';
import type { FleetMember, FleetMemory } from './fleet-memory.ts';

/** ListApplications returns at most 50 summaries per call (`Limit` maximum, Kinesis Analytics V2 API model). */
export const LIST_APPLICATIONS_PAGE = 50;

/**
 * One account × Region the watchdog watches, with its ports. The ports speak bare MSF ApplicationNames of that cell;
 * the fleet functions turn them into application keys (shared/domain/app-key.ts).
 */
export interface FleetCell {
  /** 12-digit account id; absent for the home cell (the watchdog's own account). */
  accountId?: string;
  /** AWS Region; absent for the home cell. */
  region?: string;
  msf: MsfPort;
  /** Tag discovery (`optInTag`). Absent: no application is found by tag in this cell. */
  tagging?: TaggingPort;
  /** The alarm manager's port. Absent: alarms are neither read nor managed in this cell. */
  alarms?: AlarmsPort;
}

/** What discovery reads (it writes nothing). */
export interface FleetDeps {
  config: WatchdogConfig;
  ledger: Pick<Ledger, 'loadFleetMemory'>;
  log: Log;
  /** The home cell first, then member cells (`fleet.accounts`). */
  cells: readonly FleetCell[];
}

/** Text of a cell for logs and problems: `ACCOUNT.REGION`, or `home`. */
export function cellName(cell: Pick<FleetCell, 'accountId' | 'region'>): string {
  return cell.accountId === undefined ? 'home' : `${cell.accountId}.${cell.region ?? ''}`;
}

/** The key of the application `name` in `cell`: the bare name at home, else `NAME@ACCOUNT.REGION`. */
export function keyInCell(cell: Pick<FleetCell, 'accountId' | 'region'>, name: string): string {
  return cell.accountId === undefined || cell.region === undefined
    ? name
    : applicationKey({ name, accountId: cell.accountId, region: cell.region });
}

/**
 * The cell an application key is in: a bare name is the home cell (the one without an account id);
 * `NAME@ACCOUNT.REGION` the cell of that account and Region. Undefined when that cell is not in `cells` (not watched,
 * or left out because it could not be read): a key never falls back to another cell, so nothing of the home cell is
 * ever written into a member account.
 */
export function cellOfKey<C extends Pick<FleetCell, 'accountId' | 'region'>>(
  cells: readonly C[],
  key: string,
): C | undefined {
  const ref = parseApplicationKey(key);
  if (ref.accountId === undefined) return cells.find((c) => c.accountId === undefined);
  return cells.find((c) => c.accountId === ref.accountId && c.region === ref.region);
}

/** What one discovery found. */
export interface FleetDiscovery {
  /** The watched set now (listed ∪ tagged ∪ kept while missing once), as the fleet memory will hold it. */
  members: FleetMember[];
  /** Keys watched now and not at the previous sweep. */
  added: string[];
  /**
   * Members of the previous sweep no longer watched: unlisted in the config (at once), or a tagged application missing
   * from GetResources or ListApplications at two successful sweeps of its cell in a row.
   */
  removed: FleetMember[];
  /** Keys of members kept although this sweep did not find them (`missingSinceMs` set): see {@link discoverFleet}. */
  missing: string[];
  /** Applications found by the opt-in tag, count (also listed ones). */
  tagged: number;
  /** ListApplications summaries of this sweep, by key. */
  summaries: Map<string, ApplicationSummary>;
  /** The fleet memory of the previous sweep (undefined before the first). */
  previous?: FleetMemory;
  /**
   * Cells that could not be read (their members kept as the previous sweep saw them, so that nothing is let go
   * because of a failed call), by {@link cellName}.
   */
  unreadCells: string[];
  /** Problems for the log: a listed application that is not in MSF, a cell that could not be read. */
  problems: string[];
  /** MSF calls made: ListApplications pages (50 summaries per call), count. */
  msfCalls: number;
}

/**
 * Discovery: the watched set is the applications listed in the config (by key) ∪ the applications carrying the
 * opt-in tag (`optInTag`, Resource Groups Tagging API GetResources), per cell; the runtime of each from ListApplications
 * (`ApplicationSummary.RuntimeEnvironment`). Merged with the fleet memory of the previous sweep (`firstSeenMs`,
 * `lastCloseLookMs` kept). Only read calls; nothing is saved (the sweep's plan saves the memory once it knows which
 * applications it looks at closely).
 *
 * Missing applications are let go only when two successful sweeps agree:
 * - a listed application that ListApplications does not show stays watched while it is listed (the look at it reports
 *   it), marked `missingSinceMs` and named in `problems`;
 * - a member opted in by tag that GetResources (with the tag) or ListApplications does not show is kept once, marked
 *   `missingSinceMs` (its alarms kept, named in `missing` and `problems`), and let go (`removed`) when the next
 *   successful read of its cell misses it again; found again, the mark is cleared. A tagged application never watched
 *   before and not shown by ListApplications (deleted between the two calls) is not taken in;
 * - a member unlisted from the config and not tagged is let go at once (a deliberate change).
 * A cell whose calls fail keeps its previous members unchanged (marks included) and is named in `unreadCells` and
 * `problems`: a failed call never lets an application go and does not count as a sweep that missed it.
 *
 * @param nowMs the sweep's clock, epoch ms.
 */
export async function discoverFleet(deps: FleetDeps, nowMs: number): Promise<FleetDiscovery> {
  const previous = await deps.ledger.loadFleetMemory();
  const before = new Map((previous?.applications ?? []).map((m) => [m.key, m]));
  const tag = deps.config.optInTag;
  const summaries = new Map<string, ApplicationSummary>();
  const members = new Map<string, FleetMember>();
  const problems: string[] = [];
  const unreadCells: string[] = [];
  let tagged = 0;
  let msfCalls = 0;

  const listedByCell = new Map<FleetCell, string[]>();
  for (const app of deps.config.applications) {
    const key = listedKey(app);
    const cell = cellOfKey(deps.cells, key);
    if (!cell) {
      problems.push(
        `${key} is listed but its account and Region are not watched: add the account to fleet.accounts (with the Region in its regions)`,
      );
      continue;
    }
    listedByCell.set(cell, [...(listedByCell.get(cell) ?? []), key]);
  }

  // Every cell's reads at once (each account has its own API rates); merged in cell order below.
  const reads = await Promise.all(
    deps.cells.map(async (cell) => {
      try {
        const [found, byTag] = await Promise.all([
          cell.msf.listApplications(),
          tag && cell.tagging ? cell.tagging.taggedApplications(tag) : Promise.resolve([]),
        ]);
        return { ok: true as const, found, byTag };
      } catch (e) {
        return { ok: false as const, error: e };
      }
    }),
  );
  for (const [i, cell] of deps.cells.entries()) {
    const listed = listedByCell.get(cell) ?? [];
    const read = reads[i];
    if (!read?.ok) {
      const e = read?.error;
      const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      problems.push(`cell ${cellName(cell)} could not be read (${message}): its applications are kept as last seen`);
      unreadCells.push(cellName(cell));
      for (const m of before.values()) if (cellOfKey(deps.cells, m.key) === cell) members.set(m.key, m);
      continue;
    }
    const { found, byTag } = read;
    msfCalls += Math.max(1, Math.ceil(found.length / LIST_APPLICATIONS_PAGE));
    for (const s of found) summaries.set(keyInCell(cell, s.name), { ...s, name: keyInCell(cell, s.name) });
    /** The member `key` as this sweep sees it: what ListApplications says, or missing since the first miss. */
    const member = (key: string, source: FleetMember['source']): FleetMember => {
      const s = summaries.get(key);
      const old = before.get(key);
      return {
        key,
        source,
        runtimeEnvironment: s?.runtimeEnvironment || old?.runtimeEnvironment || runtimeEnvironmentOf(deps.config, key),
        firstSeenMs: old?.firstSeenMs ?? nowMs,
        ...(s ? { status: s.status, versionId: s.versionId } : { missingSinceMs: old?.missingSinceMs ?? nowMs }),
        ...(old?.lastCloseLookMs !== undefined ? { lastCloseLookMs: old.lastCloseLookMs } : {}),
      };
    };
    for (const key of listed) {
      if (!summaries.has(key)) {
        problems.push(`${key} is listed in the watchdog config but is not an application in ${cellName(cell)}`);
      }
      members.set(key, member(key, 'listed'));
    }
    for (const t of byTag) {
      const key = keyInCell(cell, t.name);
      tagged += 1;
      if (members.has(key) || !summaries.has(key)) continue;
      members.set(key, member(key, 'tag'));
    }
    // Members opted in by tag that this read did not find: kept once (marked), let go at the second miss in a row.
    for (const old of before.values()) {
      if (old.source !== 'tag' || members.has(old.key) || cellOfKey(deps.cells, old.key) !== cell) continue;
      if (old.missingSinceMs !== undefined) continue;
      const where = summaries.has(old.key) ? 'GetResources (the opt-in tag)' : 'ListApplications';
      const kept = member(old.key, 'tag');
      members.set(old.key, { ...kept, missingSinceMs: nowMs });
      problems.push(
        `${old.key} is not found by ${where} in ${cellName(cell)}: kept watched (its alarms too) until the next sweep confirms it is gone`,
      );
    }
  }

  const list = [...members.values()];
  const added = list.filter((m) => !before.has(m.key)).map((m) => m.key);
  const removed = [...before.values()].filter((m) => !members.has(m.key));
  const missing = list.filter((m) => m.missingSinceMs !== undefined).map((m) => m.key);
  for (const p of problems) deps.log.warn('fleet discovery', { problem: p });
  return {
    members: list,
    added,
    removed,
    missing,
    tagged,
    summaries,
    ...(previous ? { previous } : {}),
    unreadCells,
    problems,
    msfCalls,
  };
}
