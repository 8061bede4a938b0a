import type { ApplicationStatus, CodeLocation } from './model.ts';

/** Where a desired state was read from. */
export interface DesiredStateSource {
  /** `config`: the watchdog config; `terraform`: a Terraform state file; `tag`: opt-in tags. */
  kind: 'config' | 'terraform' | 'tag';
  /** The file path or `s3://bucket/key` of the source, or the tag key. */
  location: string;
  /** Terraform resource address, e.g. `module.streaming.aws_kinesisanalyticsv2_application.app["orders"]`. */
  address?: string;
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
