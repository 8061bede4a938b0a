import { EmulatorServiceError } from '#sandbox/emulator/errors.ts';

/**
 * The configuration of an MSF application version in the emulator (AppConfig) and its parsing from the
 * CreateApplication and UpdateApplication requests: member names, defaults and the InvalidArgumentException for a
 * malformed member follow the Kinesis Analytics V2 API model (ApplicationConfiguration,
 * ApplicationConfigurationUpdate). Pure: no clock, no state.
 */

/** `ApplicationRestoreType` values (API model enum). */
export type ApplicationRestoreType =
  | 'SKIP_RESTORE_FROM_SNAPSHOT'
  | 'RESTORE_FROM_LATEST_SNAPSHOT'
  | 'RESTORE_FROM_CUSTOM_SNAPSHOT';

/** Every ApplicationRestoreType, in API model order. */
export const RESTORE_TYPES: readonly ApplicationRestoreType[] = [
  'SKIP_RESTORE_FROM_SNAPSHOT',
  'RESTORE_FROM_LATEST_SNAPSHOT',
  'RESTORE_FROM_CUSTOM_SNAPSHOT',
];

/** ParallelismConfiguration of a version (API model member names, camel-cased). */
export interface ParallelismConfig {
  configurationType: string;
  parallelism: number;
  parallelismPerKPU: number;
  autoScalingEnabled: boolean;
}

/**
 * Everything one application version holds: the API model's ApplicationConfiguration plus RuntimeEnvironment,
 * ServiceExecutionRole and the run configuration of its last start. Times in ms, as the API model has them.
 */
export interface AppConfig {
  description?: string;
  runtimeEnvironment: string;
  serviceExecutionRole: string;
  codeContentType: string;
  code: { bucketArn: string; fileKey: string; objectVersion?: string };
  /** Property group id → key → value, in insertion order. */
  propertyGroups: Record<string, Record<string, string>>;
  parallelism: ParallelismConfig;
  monitoring: { configurationType: string; metricsLevel: string; logLevel: string };
  checkpoint: {
    configurationType: string;
    checkpointingEnabled: boolean;
    checkpointInterval: number;
    minPauseBetweenCheckpoints: number;
  };
  snapshotsEnabled: boolean;
  systemRollbackEnabled: boolean;
  restore: { type: ApplicationRestoreType; snapshotName?: string };
  allowNonRestoredState: boolean;
}

/** A decoded awsJson request body (or part of one). */
export type Obj = Readonly<Record<string, unknown>>;
/** The shared empty object `asObj` returns for an absent member. */
export const EMPTY: Obj = {};

/** @throws EmulatorServiceError InvalidArgumentException with `message`, always. */
export function invalidArgument(message: string): never {
  throw new EmulatorServiceError('InvalidArgumentException', message);
}

/**
 * `value` as a structure; absent (undefined/null) gives {@link EMPTY}.
 * @throws EmulatorServiceError InvalidArgumentException when it is not an object.
 */
export function asObj(value: unknown, what: string): Obj {
  if (value === undefined || value === null) return EMPTY;
  if (typeof value !== 'object' || Array.isArray(value)) invalidArgument(`${what} must be an object`);
  return value as Obj;
}

/** Optional string member `key`. @throws EmulatorServiceError InvalidArgumentException when not a string. */
export function optStr(o: Obj, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') invalidArgument(`${key} must be a string`);
  return v;
}

/** Required, non-empty string member `key`. @throws EmulatorServiceError InvalidArgumentException naming it. */
export function reqStr(o: Obj, key: string): string {
  const v = optStr(o, key);
  if (v === undefined || v === '') invalidArgument(`${key} is required`);
  return v;
}

/** Optional finite number member `key`. @throws EmulatorServiceError InvalidArgumentException otherwise. */
export function optNum(o: Obj, key: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) invalidArgument(`${key} must be a number`);
  return v;
}

/** Optional boolean member `key`. @throws EmulatorServiceError InvalidArgumentException otherwise. */
export function optBool(o: Obj, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') invalidArgument(`${key} must be a boolean`);
  return v;
}

/** Optional list member `key` ([] when absent). @throws EmulatorServiceError InvalidArgumentException otherwise. */
export function optArray(o: Obj, key: string): readonly unknown[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) invalidArgument(`${key} must be a list`);
  return v;
}

/** A deep copy of `config`. */
export function cloneConfig(config: AppConfig): AppConfig {
  return structuredClone(config);
}

/**
 * ApplicationRestoreType from a request (undefined when absent).
 * @throws EmulatorServiceError InvalidArgumentException for a value outside the enum.
 */
export function parseRestoreType(value: string | undefined): ApplicationRestoreType | undefined {
  if (value === undefined) return undefined;
  const found = RESTORE_TYPES.find((t) => t === value);
  if (!found) invalidArgument(`ApplicationRestoreType must be one of ${RESTORE_TYPES.join(', ')}`);
  return found;
}

/**
 * PropertyGroups as group id → key → value.
 * @throws EmulatorServiceError InvalidArgumentException for a group without PropertyGroupId or a non-string value.
 */
export function parsePropertyGroups(list: readonly unknown[]): Record<string, Record<string, string>> {
  const groups: Record<string, Record<string, string>> = {};
  for (const item of list) {
    const group = asObj(item, 'PropertyGroup');
    const id = reqStr(group, 'PropertyGroupId');
    const map = asObj(group.PropertyMap, 'PropertyMap');
    const properties: Record<string, string> = {};
    for (const [key, value] of Object.entries(map)) {
      if (typeof value !== 'string') invalidArgument(`PropertyMap value of ${key} must be a string`);
      properties[key] = value;
    }
    groups[id] = properties;
  }
  return groups;
}

/** UpdateApplication's ApplicationConfigurationUpdate etc. applied to a copy of `previous`. */
export function applyUpdate(previous: AppConfig, body: Obj): AppConfig {
  const next = cloneConfig(previous);
  const update = asObj(body.ApplicationConfigurationUpdate, 'ApplicationConfigurationUpdate');
  const code = asObj(update.ApplicationCodeConfigurationUpdate, 'ApplicationCodeConfigurationUpdate');
  const contentType = optStr(code, 'CodeContentTypeUpdate');
  if (contentType !== undefined) next.codeContentType = contentType;
  const s3 = asObj(
    asObj(code.CodeContentUpdate, 'CodeContentUpdate').S3ContentLocationUpdate,
    'S3ContentLocationUpdate',
  );
  const bucketArn = optStr(s3, 'BucketARNUpdate');
  const fileKey = optStr(s3, 'FileKeyUpdate');
  const objectVersion = optStr(s3, 'ObjectVersionUpdate');
  if (bucketArn !== undefined || fileKey !== undefined || objectVersion !== undefined) {
    next.code = {
      bucketArn: bucketArn ?? previous.code.bucketArn,
      fileKey: fileKey ?? previous.code.fileKey,
      // A new object without a new version id no longer refers to the old object version.
      ...(objectVersion !== undefined
        ? { objectVersion }
        : bucketArn === undefined && fileKey === undefined && previous.code.objectVersion !== undefined
          ? { objectVersion: previous.code.objectVersion }
          : {}),
    };
  }
  const env = update.EnvironmentPropertyUpdates;
  if (env !== undefined && env !== null) {
    // The update replaces all property groups.
    next.propertyGroups = parsePropertyGroups(optArray(asObj(env, 'EnvironmentPropertyUpdates'), 'PropertyGroups'));
  }
  const flink = asObj(update.FlinkApplicationConfigurationUpdate, 'FlinkApplicationConfigurationUpdate');
  const par = asObj(flink.ParallelismConfigurationUpdate, 'ParallelismConfigurationUpdate');
  next.parallelism = {
    configurationType: optStr(par, 'ConfigurationTypeUpdate') ?? previous.parallelism.configurationType,
    parallelism: optNum(par, 'ParallelismUpdate') ?? previous.parallelism.parallelism,
    parallelismPerKPU: optNum(par, 'ParallelismPerKPUUpdate') ?? previous.parallelism.parallelismPerKPU,
    autoScalingEnabled: optBool(par, 'AutoScalingEnabledUpdate') ?? previous.parallelism.autoScalingEnabled,
  };
  const mon = asObj(flink.MonitoringConfigurationUpdate, 'MonitoringConfigurationUpdate');
  next.monitoring = {
    configurationType: optStr(mon, 'ConfigurationTypeUpdate') ?? previous.monitoring.configurationType,
    metricsLevel: optStr(mon, 'MetricsLevelUpdate') ?? previous.monitoring.metricsLevel,
    logLevel: optStr(mon, 'LogLevelUpdate') ?? previous.monitoring.logLevel,
  };
  const cp = asObj(flink.CheckpointConfigurationUpdate, 'CheckpointConfigurationUpdate');
  next.checkpoint = {
    configurationType: optStr(cp, 'ConfigurationTypeUpdate') ?? previous.checkpoint.configurationType,
    checkpointingEnabled: optBool(cp, 'CheckpointingEnabledUpdate') ?? previous.checkpoint.checkpointingEnabled,
    checkpointInterval: optNum(cp, 'CheckpointIntervalUpdate') ?? previous.checkpoint.checkpointInterval,
    minPauseBetweenCheckpoints:
      optNum(cp, 'MinPauseBetweenCheckpointsUpdate') ?? previous.checkpoint.minPauseBetweenCheckpoints,
  };
  const snap = asObj(update.ApplicationSnapshotConfigurationUpdate, 'ApplicationSnapshotConfigurationUpdate');
  next.snapshotsEnabled = optBool(snap, 'SnapshotsEnabledUpdate') ?? previous.snapshotsEnabled;
  const rollback = asObj(
    update.ApplicationSystemRollbackConfigurationUpdate,
    'ApplicationSystemRollbackConfigurationUpdate',
  );
  next.systemRollbackEnabled = optBool(rollback, 'RollbackEnabledUpdate') ?? previous.systemRollbackEnabled;
  next.serviceExecutionRole = optStr(body, 'ServiceExecutionRoleUpdate') ?? previous.serviceExecutionRole;
  next.runtimeEnvironment = optStr(body, 'RuntimeEnvironmentUpdate') ?? previous.runtimeEnvironment;
  if (!Number.isInteger(next.parallelism.parallelism) || next.parallelism.parallelism < 1) {
    invalidArgument('Parallelism must be a positive integer');
  }
  return next;
}

/**
 * The AppConfig of a CreateApplication request (version 1). Defaults for absent members are MSF's documented ones:
 * ParallelismConfiguration DEFAULT with Parallelism 1, CheckpointConfiguration DEFAULT (60000 ms interval, 5000 ms
 * minimum pause), snapshots enabled, system rollback off (API model).
 * @throws EmulatorServiceError InvalidArgumentException naming the missing or malformed member.
 */
export function parseCreateConfig(body: Obj): AppConfig {
  const runtimeEnvironment = reqStr(body, 'RuntimeEnvironment');
  const serviceExecutionRole = reqStr(body, 'ServiceExecutionRole');
  const configuration = asObj(body.ApplicationConfiguration, 'ApplicationConfiguration');
  const codeConfig = asObj(configuration.ApplicationCodeConfiguration, 'ApplicationCodeConfiguration');
  const s3 = asObj(asObj(codeConfig.CodeContent, 'CodeContent').S3ContentLocation, 'S3ContentLocation');
  if (s3 === EMPTY) invalidArgument('ApplicationCodeConfiguration.CodeContent.S3ContentLocation is required');
  const flink = asObj(configuration.FlinkApplicationConfiguration, 'FlinkApplicationConfiguration');
  const par = asObj(flink.ParallelismConfiguration, 'ParallelismConfiguration');
  const mon = asObj(flink.MonitoringConfiguration, 'MonitoringConfiguration');
  const cp = asObj(flink.CheckpointConfiguration, 'CheckpointConfiguration');
  const objectVersion = optStr(s3, 'ObjectVersion');
  const description = optStr(body, 'ApplicationDescription');
  return {
    ...(description === undefined ? {} : { description }),
    runtimeEnvironment,
    serviceExecutionRole,
    codeContentType: optStr(codeConfig, 'CodeContentType') ?? 'ZIPFILE',
    code: {
      bucketArn: reqStr(s3, 'BucketARN'),
      fileKey: reqStr(s3, 'FileKey'),
      ...(objectVersion === undefined ? {} : { objectVersion }),
    },
    propertyGroups: parsePropertyGroups(
      optArray(asObj(configuration.EnvironmentProperties, 'EnvironmentProperties'), 'PropertyGroups'),
    ),
    parallelism: {
      configurationType: optStr(par, 'ConfigurationType') ?? 'DEFAULT',
      parallelism: optNum(par, 'Parallelism') ?? 1,
      parallelismPerKPU: optNum(par, 'ParallelismPerKPU') ?? 1,
      autoScalingEnabled: optBool(par, 'AutoScalingEnabled') ?? false,
    },
    monitoring: {
      configurationType: optStr(mon, 'ConfigurationType') ?? 'DEFAULT',
      metricsLevel: optStr(mon, 'MetricsLevel') ?? 'APPLICATION',
      logLevel: optStr(mon, 'LogLevel') ?? 'INFO',
    },
    checkpoint: {
      configurationType: optStr(cp, 'ConfigurationType') ?? 'DEFAULT',
      checkpointingEnabled: optBool(cp, 'CheckpointingEnabled') ?? true,
      checkpointInterval: optNum(cp, 'CheckpointInterval') ?? 60_000,
      minPauseBetweenCheckpoints: optNum(cp, 'MinPauseBetweenCheckpoints') ?? 5_000,
    },
    snapshotsEnabled:
      optBool(
        asObj(configuration.ApplicationSnapshotConfiguration, 'ApplicationSnapshotConfiguration'),
        'SnapshotsEnabled',
      ) ?? true,
    systemRollbackEnabled:
      optBool(
        asObj(configuration.ApplicationSystemRollbackConfiguration, 'ApplicationSystemRollbackConfiguration'),
        'RollbackEnabled',
      ) ?? false,
    restore: { type: 'RESTORE_FROM_LATEST_SNAPSHOT' },
    allowNonRestoredState: false,
  };
}
