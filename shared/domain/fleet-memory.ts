/**
 * What the sweep remembers of the fleet between cycles (one ledger item): the watched applications it found, listed
 * in the config or opted in by tag, so that an application opted in by tag keeps its alarms, its place in the sweep and
 * reconciliation from one cycle to the next, and one that lost its tag is let go (its alarms deleted) exactly once,
 * after two successful sweeps in a row without it (a single missing answer of GetResources or ListApplications lets
 * nothing go).
 */
export interface FleetMemory {
  /** When this memory was written (epoch ms, the sweep's clock). */
  atMs: number;
  /** Every watched application, by application key (the MSF ApplicationName in the watchdog's own account). */
  applications: FleetMember[];
}

/** One watched application as the sweep last saw it. */
export interface FleetMember {
  /** The application key: the MSF ApplicationName (in another account: see shared/domain/app-key.ts). */
  key: string;
  /** Why it is watched: listed in the config, or carrying the opt-in tag (Resource Groups Tagging API GetResources). */
  source: 'listed' | 'tag';
  /** MSF `RuntimeEnvironment` (e.g. FLINK-1_20), from ListApplications; picks the restart metric of its alarms. */
  runtimeEnvironment?: string;
  /** First seen by the sweep (epoch ms). */
  firstSeenMs: number;
  /** `ApplicationStatus` at the last sweep (ListApplications); absent when not found in MSF. */
  status?: string;
  /** `ApplicationVersionId` at the last sweep (ListApplications): a new version gets a closer look. */
  versionId?: number;
  /**
   * Since when (epoch ms, the first successful sweep of its cell that missed it) it is missing: not shown by
   * ListApplications, or (opted in by tag) not returned by GetResources with the opt-in tag. A tagged application
   * still missing at the next successful sweep of its cell is let go; a listed one stays watched while it is listed.
   * Absent: found by the last successful sweep of its cell.
   */
  missingSinceMs?: number;
  /**
   * When it was last put in a batch of the sweep's look phase (epoch ms): one GetMetricData prefetch and `detect()`.
   * The sweep's rotation gives a close look to every application not looked at for `fleet.sweep.closeLookMinutes`.
   * Absent: never looked at closely by the sweep (a memory written before the rotation existed).
   */
  lastCloseLookMs?: number;
}
