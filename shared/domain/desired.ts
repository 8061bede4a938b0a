import type { ApplicationStatus, CodeLocation } from './model.ts';

/** Where a desired state was read from. */
export interface DesiredStateSource {
  /** `config`: the watchdog config; `terraform`: a Terraform state file; `tag`: opt-in tags. */
  kind: 'config' | 'terraform' | 'tag';
  /** The file path or `s3://bucket/key` of the source, or the tag key. */
  location: string;
  /** Terraform resource address, e.g. `module.streaming.aws_kinesisanalyticsv2_application.app["orders"]`. */
  address?: string;
  /**
   * Terraform only: how the state was read. `state`: a state file of format version 4 (`terraform state pull`, a
   * `.tfstate` file, the S3 backend's object); `show-json`: the output of `terraform show -json`.
   */
  format?: 'state' | 'show-json';
  /**
   * Terraform only: attribute paths of this resource instance that Terraform marks sensitive (a state's
   * `sensitive_attributes`, `terraform show -json`'s `sensitive_values`), rendered like
   * `application_configuration[0].environment_properties[0].property_group` (`[*]` for a set element). A value at or
   * below one of these paths is never shown, not even with `flink-watchdog drift --show-values`.
   */
  sensitivePaths?: string[];
  /**
   * Terraform only: the index of each property group in the state's
   * `application_configuration[0].environment_properties[0].property_group` list, by `property_group_id`, so that a
   * difference can be named by its attribute path (`property_group[N].property_map["KEY"]`).
   */
  propertyGroupIndexes?: Record<string, number>;
}

/**
 * What someone declared an MSF application should be: every field is optional, and only declared fields are
 * compared (shared/domain/drift.ts). Field names follow the domain's ApplicationState, which follows the MSF API.
 */
export interface DesiredApplicationState {
  /** MSF `ApplicationName`. */
  applicationName: string;
  source: DesiredStateSource;
  /** RUNNING or READY (Terraform `start_application`; config `desiredStatus`). */
  status?: Extract<ApplicationStatus, 'RUNNING' | 'READY'>;
  /** `ApplicationVersionId` the declarer last saw (Terraform `version_id`). */
  versionId?: number;
  /** S3 code location (bucket ARN, key, object version). */
  code?: CodeLocation;
  /** `RuntimeEnvironment`, e.g. FLINK-1_20. */
  runtimeEnvironment?: string;
  /** `ServiceExecutionRole`: the IAM role ARN MSF runs the application with (Terraform `service_execution_role`). */
  serviceExecutionRole?: string;
  /** Declared `Parallelism` (never compared with CurrentParallelism, which autoscaling moves). */
  parallelism?: number;
  parallelismPerKPU?: number;
  autoScalingEnabled?: boolean;
  snapshotsEnabled?: boolean;
  systemRollbackEnabled?: boolean;
  /** Property groups: group id → key → value. Values may be secrets: drift reports mask them. */
  environmentProperties?: Record<string, Record<string, string>>;
  /** Monitoring `LogLevel` and `MetricsLevel`. */
  logLevel?: string;
  metricsLevel?: string;
}
