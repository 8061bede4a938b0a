/**
 * What the reconciler remembers between cycles, per application: the ListApplications summary it last saw, the
 * drift waiting for a second observation (debounce), and the drift already reported (so it is not reported again).
 * Stored as one ledger item.
 */
export interface ReconcilerMemory {
  schemaVersion: 1;
  /** By APPLICATION KEY (shared/domain/app-key.ts): a member application's entry never mixes with a home one's. */
  apps: Record<string, ReconcilerAppMemory>;
}

/** One application's entry in {@link ReconcilerMemory}. */
export interface ReconcilerAppMemory {
  /** `ApplicationStatus` and `ApplicationVersionId` from the last ListApplications. */
  status: string;
  versionId: number;
  /** A fingerprint of the desired state it was last compared with: a new Terraform state means a new comparison. */
  desiredFingerprint: string;
  /** Drift seen once and waiting for a second, agreeing observation (see `driftFingerprint`). */
  pendingFingerprint?: string;
  /** Drift already reported; cleared when the drift goes away. */
  reportedFingerprint?: string;
  /**
   * When the current drift was first seen, ms: one drift episode. The same drift coming back after it went away is
   * a new episode, reported (and reconciled) again.
   */
  driftSinceMs?: number;
  /** When the application was last described, ms. */
  describedMs?: number;
}
