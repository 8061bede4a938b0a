/**
 * What the sweep remembers of the fleet between cycles (one ledger item): the watched applications it found, listed
 * in the config or opted in by tag, so that an application opted in by tag keeps its alarms, its place in the sweep and
 * reconciliation from one cycle to the next, and one that lost its tag is let go (its alarms deleted) exactly once.
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
}
