import type { StartOptions } from '#shared/domain/decision.ts';
import type {
  ApplicationOperation,
  ApplicationSnapshot,
  ApplicationState,
  ApplicationStatus,
  CodeLocation,
} from '#shared/domain/model.ts';

/** What an UpdateApplication call of the watchdog may change (re-applying an earlier version's configuration). */
export interface ApplicationUpdate {
  /** `ConditionalToken` from a fresh DescribeApplication: MSF rejects the call if anything changed since. */
  conditionalToken: string;
  code?: CodeLocation;
  /** Full replacement of the environment property groups. */
  environmentProperties?: Record<string, Record<string, string>>;
  parallelism?: { parallelism: number; parallelismPerKPU?: number; autoScalingEnabled?: boolean };
}

/** One entry of ListApplications (`ApplicationSummary`): enough to tell whether an application changed. */
export interface ApplicationSummary {
  name: string;
  arn: string;
  status: ApplicationStatus;
  /** `ApplicationVersionId`. */
  versionId: number;
  runtimeEnvironment: string;
}

/**
 * The MSF (Kinesis Analytics V2) API as the watchdog uses it. Implemented by `shared/adapters/msf.ts` over the AWS
 * SDK v3 client; domain tests use a hand-written fake. Methods throw {@link MsfApiError} on API errors.
 */
export interface MsfPort {
  /** ListApplications, every page (50 applications per call, the API's maximum `Limit`). */
  listApplications(): Promise<ApplicationSummary[]>;
  describeApplication(applicationName: string): Promise<ApplicationState>;
  /** DescribeApplicationVersion: the full configuration of an earlier version. */
  describeApplicationVersion(applicationName: string, versionId: number): Promise<ApplicationState>;
  /** ListApplicationOperations, newest first (one page of up to 50). */
  listOperations(applicationName: string): Promise<ApplicationOperation[]>;
  describeOperation(applicationName: string, operationId: string): Promise<ApplicationOperation>;
  listSnapshots(applicationName: string): Promise<ApplicationSnapshot[]>;
  listTags(applicationArn: string): Promise<Record<string, string>>;
  /** StartApplication from READY. Returns the OperationId. */
  startApplication(applicationName: string, start: StartOptions): Promise<{ operationId?: string }>;
  /** StopApplication; `force` skips the snapshot and is allowed from transient statuses. */
  stopApplication(applicationName: string, force: boolean): Promise<{ operationId?: string }>;
  /** RollbackApplication, guarded by `CurrentApplicationVersionId`. */
  rollbackApplication(applicationName: string, currentVersionId: number): Promise<{ operationId?: string }>;
  /**
   * CreateApplicationSnapshot named `snapshotName`. MSF allows it only while the application is RUNNING with
   * `SnapshotsEnabled` (else ResourceInUseException / InvalidRequestException); the snapshot is CREATING when the call
   * returns and READY once taken (ListApplicationSnapshots `SnapshotStatus`).
   */
  createApplicationSnapshot(applicationName: string, snapshotName: string): Promise<void>;
  /** UpdateApplication, guarded by `ConditionalToken`. */
  updateApplication(
    applicationName: string,
    update: ApplicationUpdate,
  ): Promise<{ operationId?: string; versionId?: number }>;
}

/** MSF call names that change an application. */
export const MUTATING_MSF_OPERATIONS: ReadonlySet<string> = new Set([
  'StartApplication',
  'StopApplication',
  'UpdateApplication',
  'RollbackApplication',
  'CreateApplicationSnapshot',
  'DeleteApplication',
  'DeleteApplicationSnapshot',
  'TagResource',
  'UntagResource',
  'CreateApplication',
]);

/** An MSF API call failed. `code` is the exception name (e.g. ResourceInUseException). */
export class MsfApiError extends Error {
  override readonly name = 'MsfApiError';
  constructor(
    readonly applicationName: string,
    readonly operation: string,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${operation} ${applicationName}: ${code}: ${message}`, options);
  }

  /** Throttling and service-side faults are worth retrying; precondition failures are not. */
  get retryable(): boolean {
    return /Throttl|ServiceUnavailable|TooManyRequests|InternalFailure|TimeoutError|ECONNRESET/i.test(this.code);
  }
}
