import { ALARM_TAG_KEY, type AlarmSpec, alarmPrefix, alarmsFor } from '#shared/alarms.ts';
import { policyFor, runtimeEnvironmentOf, type WatchdogConfig } from '#shared/config/schema.ts';
import type { AlarmDefinition, AlarmsPort, ExistingAlarm } from '#shared/ports/alarms.ts';
import type { Log } from '#shared/ports/log.ts';
import { cellName, cellOfKey, type FleetCell } from './fleet.ts';
import type { FleetMember } from './fleet-memory.ts';

/** What the alarm manager uses: the cells (with their AlarmsPort) and the config (policies, `fleet.alarms`). */
export interface AlarmManagerDeps {
  config: WatchdogConfig;
  log: Log;
  /** Cells whose alarms are managed; a cell without `alarms` is skipped. */
  cells: readonly FleetCell[];
  /**
   * PutMetricAlarm calls per cell in one reconciliation, at most; the rest waits for the next sweep (its applications
   * are flagged for a closer look meanwhile: "alarm missing").
   * @default {@link DEFAULT_ALARM_WRITES_PER_CELL}
   */
  alarmWritesPerCell?: number;
}

/**
 * Default of {@link AlarmManagerDeps.alarmWritesPerCell}: 100 PutMetricAlarm calls per account × Region per sweep
 * (the alarms of 50 applications). Stated assumption, no AWS figure behind it: it keeps the first sweep over a large
 * account inside the detector's 2-minute timeout even when CloudWatch throttles alarm writes to a few per second and
 * the adaptive retry slows down; the cells are reconciled at the same time.
 */
export const DEFAULT_ALARM_WRITES_PER_CELL = 100;

/** What one reconciliation did, alarm names by what happened to them. */
export interface AlarmReconciliation {
  /** PutMetricAlarm of an alarm that did not exist. */
  created: string[];
  /** PutMetricAlarm over one of ours whose definition differed (e.g. the runtime changed, so the restart metric). */
  updated: string[];
  /** DeleteAlarms of ours whose application left the watched set (or whose kind is no longer wanted). */
  deleted: string[];
  /**
   * Under the prefix but not carrying `flink-watchdog:instance` = this instance (another stack's, or made by hand):
   * never changed or deleted. Known only for alarms whose tags were read: those about to be rewritten (definition
   * differs) or deleted (no longer wanted). One bearing a wanted name is also a problem line.
   */
  foreign: string[];
  /** `StateValue` of every wanted alarm that existed before this reconciliation, by alarm name. */
  states: Map<string, ExistingAlarm['stateValue']>;
  /** The wanted alarms of each member, by application key. */
  wanted: Map<string, AlarmSpec[]>;
  /** Wanted alarms not written this time because the cell's write budget was spent (the next sweep writes them). */
  postponed: string[];
  /** Calls that failed, for the log (the next sweep tries again). */
  problems: string[];
}

/** The definition of a spec as PutMetricAlarm sets it. */
function definitionOf(spec: AlarmSpec): AlarmDefinition {
  const {
    description,
    queries,
    threshold,
    comparisonOperator,
    evaluationPeriods,
    datapointsToAlarm,
    treatMissingData,
  } = spec;
  return {
    description,
    queries,
    threshold,
    comparisonOperator,
    evaluationPeriods,
    datapointsToAlarm,
    treatMissingData,
  };
}

/** A definition as comparable text: keys sorted, absent optional fields and `undefined` dropped. */
function canonical(d: AlarmDefinition): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.entries(v)
          .filter(([, x]) => x !== undefined)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, x]) => [k, sort(x)]),
      );
    }
    return v;
  };
  return JSON.stringify(sort(d));
}

/** Whether an existing alarm is defined as `spec` wants it. */
export function sameDefinition(existing: ExistingAlarm, spec: AlarmSpec): boolean {
  return canonical(existing.definition) === canonical(definitionOf(spec));
}

/**
 * The wanted alarms of the watched members: {@link alarmsFor} each member's key with its runtime (ListApplications,
 * else the config's), its policy, the instance and `fleet.alarms.downtime`.
 */
export function wantedAlarms(
  config: WatchdogConfig,
  members: readonly FleetMember[],
  instance: string,
): Map<string, AlarmSpec[]> {
  const downtime = config.fleet?.alarms?.downtime ?? false;
  return new Map(
    members.map((m) => [
      m.key,
      alarmsFor(m.key, m.runtimeEnvironment ?? runtimeEnvironmentOf(config, m.key), policyFor(config, m.key), {
        instance,
        downtime,
      }),
    ]),
  );
}

/**
 * The alarm manager: keeps exactly the alarms of the watched set, per cell. DescribeAlarms with the instance's prefix
 * (`flink-watchdog-<instance>-`); creates the missing alarms (tagged `flink-watchdog:instance` = instance), puts again
 * those of ours whose definition differs, and deletes those under the prefix that no watched application wants. An
 * alarm is rewritten or deleted ONLY when it carries this instance's tag (ListTagsForResource, asked only for the
 * alarms about to change): the prefix of instance `a` also covers instance `a-b`'s alarms, and anyone may create an
 * alarm under any name. Such a foreign alarm bearing a wanted name is a problem line at each reconciliation (it is left
 * alone; the sweep's plan looks at its application closely instead, its state being no watchdog rule's). Its tags are
 * read only when its definition differs from the wanted one: an exact copy (same metric, threshold and periods) is
 * taken as the watchdog's, since its state means what the watchdog's alarm would, saving one ListTagsForResource per
 * alarm and sweep. Each failed call is a problem line, not an error: the next sweep tries again. The cells are
 * reconciled at the same time; at most `alarmWritesPerCell` PutMetricAlarm calls per cell, the rest `postponed`.
 *
 * @param members the watched set (discovery's `members`); members of cells not in `deps.cells` are ignored, and so are
 *   the alarms of those cells (a cell that could not be read is left as it is).
 * @param instance the watchdog instance (env WATCHDOG_INSTANCE).
 * @throws InvalidInstanceError when the instance cannot name alarms (a configuration fault; nothing was called).
 */
export async function reconcileAlarms(
  deps: AlarmManagerDeps,
  members: readonly FleetMember[],
  instance: string,
): Promise<AlarmReconciliation> {
  const prefix = alarmPrefix(instance);
  const wanted = wantedAlarms(deps.config, members, instance);
  const budget = deps.alarmWritesPerCell ?? DEFAULT_ALARM_WRITES_PER_CELL;
  const out: AlarmReconciliation = {
    created: [],
    updated: [],
    deleted: [],
    foreign: [],
    states: new Map(),
    wanted,
    postponed: [],
    problems: [],
  };
  // Every cell at once (each account has its own API rates); each cell's outcome merged in cell order.
  const perCell = await Promise.all(
    deps.cells.map(async (cell) => {
      const specs = new Map<string, AlarmSpec>();
      for (const [key, list] of wanted) {
        if (cellOfKey(deps.cells, key) !== cell) continue;
        for (const s of list) specs.set(s.alarmName, s);
      }
      return cell.alarms ? reconcileCell(cell, cell.alarms, specs, prefix, instance, budget) : undefined;
    }),
  );
  for (const c of perCell) {
    if (!c) continue;
    out.created.push(...c.created);
    out.updated.push(...c.updated);
    out.deleted.push(...c.deleted);
    out.foreign.push(...c.foreign);
    out.postponed.push(...c.postponed);
    out.problems.push(...c.problems);
    for (const [name, state] of c.states) out.states.set(name, state);
  }
  if (out.postponed.length > 0) {
    out.problems.push(`${out.postponed.length} alarm writes postponed to the next sweep (${budget} per cell a sweep)`);
  }
  if (out.created.length + out.updated.length + out.deleted.length > 0) {
    deps.log.info('alarms reconciled', { created: out.created, updated: out.updated, deleted: out.deleted });
  }
  for (const p of out.problems) deps.log.warn('alarm manager', { problem: p });
  return out;
}

/** One cell's reconciliation (see {@link reconcileAlarms}). */
async function reconcileCell(
  cell: FleetCell,
  alarms: AlarmsPort,
  specs: ReadonlyMap<string, AlarmSpec>,
  prefix: string,
  instance: string,
  budget: number,
): Promise<Omit<AlarmReconciliation, 'wanted'>> {
  const out: Omit<AlarmReconciliation, 'wanted'> = {
    created: [],
    updated: [],
    deleted: [],
    foreign: [],
    states: new Map(),
    postponed: [],
    problems: [],
  };
  const attempt = async (what: string, fn: () => Promise<void>): Promise<boolean> => {
    try {
      await fn();
      return true;
    } catch (e) {
      out.problems.push(`${what}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      return false;
    }
  };
  let existing: ExistingAlarm[] = [];
  const described = await attempt(`DescribeAlarms ${prefix}* in ${cellName(cell)}`, async () => {
    existing = await alarms.describeAlarms(prefix);
  });
  if (!described) return out;
  const ours = async (a: ExistingAlarm): Promise<boolean> => {
    let tags: Record<string, string> = {};
    const read = await attempt(`ListTagsForResource ${a.alarmName}`, async () => {
      tags = await alarms.alarmTags(a.alarmArn);
    });
    if (read && tags[ALARM_TAG_KEY] !== instance) out.foreign.push(a.alarmName);
    return read && tags[ALARM_TAG_KEY] === instance;
  };
  let writes = 0;
  const put = async (spec: AlarmSpec, into: string[]): Promise<void> => {
    if (writes >= budget) {
      out.postponed.push(spec.alarmName);
      return;
    }
    writes += 1;
    if (await attempt(`PutMetricAlarm ${spec.alarmName}`, () => alarms.putAlarm(spec, instance))) {
      into.push(spec.alarmName);
    }
  };
  const byName = new Map(existing.map((a) => [a.alarmName, a]));
  for (const spec of specs.values()) {
    const found = byName.get(spec.alarmName);
    if (!found) {
      await put(spec, out.created);
      continue;
    }
    out.states.set(spec.alarmName, found.stateValue);
    if (sameDefinition(found, spec)) continue;
    if (await ours(found)) {
      await put(spec, out.updated);
    } else if (out.foreign.includes(spec.alarmName)) {
      out.problems.push(
        `alarm ${spec.alarmName} in ${cellName(cell)} has a name this watchdog wants but not its tag ${ALARM_TAG_KEY}=${instance}: left alone, and its application is looked at closely every sweep; delete the alarm so that the watchdog makes its own`,
      );
    }
  }
  const unwanted: string[] = [];
  for (const a of existing) {
    if (!specs.has(a.alarmName) && (await ours(a))) unwanted.push(a.alarmName);
  }
  if (unwanted.length > 0) {
    if (await attempt(`DeleteAlarms ${unwanted.join(', ')}`, () => alarms.deleteAlarms(unwanted))) {
      out.deleted.push(...unwanted);
    }
  }
  return out;
}
