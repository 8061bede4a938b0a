/**
 * The domain model: what the watchdog knows about an MSF application, in MSF's own terms.
 * Plain data, no AWS SDK types: adapters (shared/adapters) map API responses onto these.
 * Times are epoch milliseconds (`...Ms`) unless a name says otherwise.
 */

/** ApplicationStatus values (Kinesis Analytics V2 API, `ApplicationDetail.ApplicationStatus`). */
export const APPLICATION_STATUSES = [
  'DELETING',
  'STARTING',
  'STOPPING',
  'READY',
  'RUNNING',
  'UPDATING',
  'AUTOSCALING',
  'FORCE_STOPPING',
  'ROLLING_BACK',
  'MAINTENANCE',
  'ROLLED_BACK',
] as const;
export type ApplicationStatus = (typeof APPLICATION_STATUSES)[number];

/** Restore types of `RunConfiguration.ApplicationRestoreConfiguration.ApplicationRestoreType`. */
export type ApplicationRestoreType =
  | 'SKIP_RESTORE_FROM_SNAPSHOT'
  | 'RESTORE_FROM_LATEST_SNAPSHOT'
  | 'RESTORE_FROM_CUSTOM_SNAPSHOT';

/** S3 code location (`S3ApplicationCodeLocationDescription`). */
export interface CodeLocation {
  bucketArn: string;
  fileKey: string;
  objectVersion?: string;
}

/** The application as DescribeApplication (or DescribeApplicationVersion) returns it, reduced to what we use. */
export interface ApplicationState {
  name: string;
  arn: string;
  status: ApplicationStatus;
  /** `ApplicationVersionId`. */
  versionId: number;
  /** e.g. FLINK-1_20, FLINK-2_2. */
  runtimeEnvironment: string;
  /** `ServiceExecutionRole`: the IAM role ARN MSF runs the application with. */
  serviceExecutionRole?: string;
  /** `ApplicationVersionUpdatedFrom`: the version the last update started from. */
  versionUpdatedFrom?: number;
  /** `ApplicationVersionRolledBackFrom` / `ApplicationVersionRolledBackTo`. */
  versionRolledBackFrom?: number;
  versionRolledBackTo?: number;
  /** `ApplicationVersionCreateTimestamp`, ms. */
  versionCreatedMs?: number;
  /** `LastUpdateTimestamp`, ms. */
  lastUpdateMs?: number;
  /** `ConditionalToken`, sent back on UpdateApplication. */
  conditionalToken?: string;
  code?: CodeLocation;
  environmentProperties: Record<string, Record<string, string>>;
  /** Declared `Parallelism` (not `CurrentParallelism`, which autoscaling moves). */
  parallelism?: number;
  parallelismPerKPU?: number;
  currentParallelism?: number;
  autoScalingEnabled?: boolean;
  snapshotsEnabled: boolean;
  systemRollbackEnabled: boolean;
  /** `MonitoringConfigurationDescription.LogLevel`: INFO, WARN, ERROR or DEBUG. */
  logLevel?: string;
  /** `MonitoringConfigurationDescription.MetricsLevel`: APPLICATION, TASK, OPERATOR or PARALLELISM. */
  metricsLevel?: string;
  /** `FlinkRunConfigurationDescription.AllowNonRestoredState` of the last run. */
  allowNonRestoredState?: boolean;
  /** `FlinkApplicationConfigurationDescription.CheckpointConfigurationDescription`; undefined when not returned. */
  checkpointConfiguration?: CheckpointConfiguration;
  /**
   * `CloudWatchLoggingOptionDescriptions[].LogStreamARN` (ApplicationDetail): the log streams the application writes
   * to, e.g. `arn:aws:logs:eu-west-1:123456789012:log-group:/aws/kinesis-analytics/orders:log-stream:kinesis-analytics-log-stream`.
   * Empty when the application has no CloudWatch logging option; undefined when not read.
   */
  logStreamArns?: string[];
}

/** Log group and log stream of a CloudWatch Logs log stream ARN (`arn:aws:logs:REGION:ACCOUNT:log-group:GROUP:log-stream:STREAM`). */
export interface LogStreamLocation {
  logGroupName: string;
  logStreamName: string;
}

/**
 * Parses a log stream ARN (`LogStreamARN` of CloudWatchLoggingOptionDescription), whose form is
 * `arn:PARTITION:logs:REGION:ACCOUNT:log-group:GROUP:log-stream:STREAM` (CloudWatch Logs resource types in the Service
 * Authorization Reference, https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html).
 * @returns undefined when `arn` has another form.
 */
export function parseLogStreamArn(arn: string): LogStreamLocation | undefined {
  const m = /^arn:[^:]+:logs:[^:]*:\d*:log-group:([^:]+):log-stream:(.+)$/.exec(arn);
  return m?.[1] && m[2] ? { logGroupName: m[1], logStreamName: m[2] } : undefined;
}

/**
 * An application's checkpointing (`CheckpointConfigurationDescription`). With `ConfigurationType` DEFAULT, MSF uses
 * CheckpointingEnabled true and CheckpointInterval 60000 ms whatever the other fields say
 * (https://docs.aws.amazon.com/managed-flink/latest/apiv2/API_CheckpointConfigurationDescription.html).
 */
export interface CheckpointConfiguration {
  /** `ConfigurationType`: DEFAULT or CUSTOM. */
  configurationType: string;
  /** `CheckpointingEnabled`. */
  checkpointingEnabled?: boolean;
  /** `CheckpointInterval`, ms. */
  checkpointIntervalMs?: number;
}

/** Operation names as MSF reports them in ListApplicationOperations (`Operation`). */
export type OperationName = string;

/**
 * Whether a ListApplicationOperations `Operation` is MSF's own maintenance. The developer guide says maintenance shows
 * there ("You can find out if Managed Service for Apache Flink has performed a maintenance action on your application
 * using the ListApplicationOperations API", https://docs.aws.amazon.com/managed-flink/latest/java/maintenance.html) but
 * names no value, and the API model types `Operation` as a free string. Assumption (docs/emulator-fidelity.md): an
 * operation whose name contains "maintenance" (any case), except the customer's own API call that moves the
 * maintenance window, UpdateApplicationMaintenanceConfiguration
 * (https://docs.aws.amazon.com/managed-flink/latest/apiv2/API_UpdateApplicationMaintenanceConfiguration.html).
 */
export function isMaintenanceOperation(operation: OperationName): boolean {
  return /maintenance/i.test(operation) && operation !== 'UpdateApplicationMaintenanceConfiguration';
}

/** `OperationStatus`. */
export type OperationStatus = 'IN_PROGRESS' | 'CANCELLED' | 'SUCCESSFUL' | 'FAILED';

/** One entry of the application's operation history (ListApplicationOperations / DescribeApplicationOperation). */
export interface ApplicationOperation {
  operationId: string;
  operation: OperationName;
  status: OperationStatus;
  startMs?: number;
  endMs?: number;
  /** `ApplicationVersionChangeDetails.ApplicationVersionUpdatedFrom/To`. */
  versionFrom?: number;
  versionTo?: number;
  /** `OperationFailureDetails.ErrorInfo.ErrorString`. */
  errorString?: string;
  /** `OperationFailureDetails.RollbackOperationId`: the system rollback that followed this failure. */
  rollbackOperationId?: string;
}

/** SnapshotStatus. */
export type SnapshotStatus = 'CREATING' | 'READY' | 'DELETING' | 'FAILED';

/** One snapshot (`SnapshotDetails`). */
export interface ApplicationSnapshot {
  name: string;
  status: SnapshotStatus;
  /** Application version the snapshot was taken of. */
  versionId: number;
  /** `SnapshotCreationTimestamp`, ms. */
  createdMs?: number;
}

/** One datapoint at a 1-minute period; `timestampMs` is the period start. */
export interface MetricPoint {
  timestampMs: number;
  value: number;
}

/** A metric read from CloudWatch (namespace AWS/KinesisAnalytics, dimension Application), ascending by time. */
export interface MetricSeries {
  /** fullRestarts, numRestarts, downtime, uptime, numberOfFailedCheckpoints. */
  metricName: string;
  periodSeconds: number;
  points: MetricPoint[];
}

/** A read that failed while observing: a finding of its own, never a crash. */
export interface ObservationError {
  source: string;
  message: string;
}

/**
 * Everything observed about one application at one instant: DescribeApplication, the restart, downtime and
 * checkpoint series, recent operations and snapshots.
 */
export interface ApplicationObservation {
  applicationName: string;
  /** When the observation was made, ms. */
  atMs: number;
  /** Undefined when DescribeApplication failed (see `errors`). */
  application?: ApplicationState;
  /** fullRestarts, or numRestarts on Flink 2.x runtimes; undefined when not read. */
  restarts?: MetricSeries;
  downtime?: MetricSeries;
  failedCheckpoints?: MetricSeries;
  /** `lastCheckpointDuration` (ms) and `lastCheckpointSize` (bytes): gauges of the last completed checkpoint. */
  lastCheckpointDuration?: MetricSeries;
  lastCheckpointSize?: MetricSeries;
  /** Newest first. */
  operations: ApplicationOperation[];
  snapshots: ApplicationSnapshot[];
  errors: ObservationError[];
}

/**
 * Name of the restart counter for a runtime: Flink 2.x publishes `numRestarts`, earlier runtimes `fullRestarts`
 * (MSF developer guide, metrics table).
 */
export function restartMetricName(runtimeEnvironment: string | undefined): 'fullRestarts' | 'numRestarts' {
  const m = /^FLINK-(\d+)_/.exec(runtimeEnvironment ?? '');
  return m && Number(m[1]) >= 2 ? 'numRestarts' : 'fullRestarts';
}

/** Whether a status is transient (anything but READY, RUNNING and ROLLED_BACK per the ApplicationStatus values of https://docs.aws.amazon.com/managed-flink/latest/apiv2/API_ApplicationDetail.html). */
export function isTransient(status: ApplicationStatus): boolean {
  return status !== 'READY' && status !== 'RUNNING' && status !== 'ROLLED_BACK';
}
