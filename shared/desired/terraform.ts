/**
 * Desired state from a Terraform state file (pure: no SDK, no file system; see terraform-source.ts for reading).
 *
 * Reads state format version 4 (Terraform 0.12 and later): `{ version: 4, terraform_version, serial, lineage,
 * resources[] }`, each resource `{ module?, mode, type, name, provider, instances[] }` and each instance
 * `{ index_key?, attributes, sensitive_attributes }`. Only managed resources of type
 * `aws_kinesisanalyticsv2_application` (hashicorp/aws provider) are read; every instance becomes one
 * {@link DesiredApplicationState} whose `source.address` is the Terraform resource address, e.g.
 * `module.streaming.aws_kinesisanalyticsv2_application.app["orders"]` (for_each), `...sessionizer[0]` (count) or
 * `aws_kinesisanalyticsv2_application.clickstream` (neither).
 *
 * In a state file every nested block is an array of objects (a `MaxItems: 1` block is a one-element array), so the
 * paths below read `block[0]`.
 *
 * | Terraform attribute                         | DesiredApplicationState         | MSF field (DescribeApplication) |
 * | ------------------------------------------- | ------------------------------- | ------------------------------- |
 * | `name`                                      | `applicationName`               | `ApplicationName`               |
 * | `start_application` true / false / null     | `status` RUNNING / READY / none | `ApplicationStatus`             |
 * | `version_id`                                | `versionId`                     | `ApplicationVersionId`          |
 * | `runtime_environment`                       | `runtimeEnvironment`            | `RuntimeEnvironment`            |
 * | `S3L.bucket_arn`                            | `code.bucketArn`                | `S3D.BucketARN`                 |
 * | `S3L.file_key`                              | `code.fileKey`                  | `S3D.FileKey`                   |
 * | `S3L.object_version` (`""`: none)           | `code.objectVersion`            | `S3D.ObjectVersion`             |
 * | `EP.property_group[*].property_group_id`    | `environmentProperties` key     | `EPD[*].PropertyGroupId`        |
 * | `EP.property_group[*].property_map`         | `environmentProperties[id]`     | `EPD[*].PropertyMap`            |
 * | `PC.parallelism` (CUSTOM only)              | `parallelism`                   | `PD.Parallelism`                |
 * | `PC.parallelism_per_kpu` (CUSTOM only)      | `parallelismPerKPU`             | `PD.ParallelismPerKPU`          |
 * | `PC.auto_scaling_enabled` (CUSTOM only)     | `autoScalingEnabled`            | `PD.AutoScalingEnabled`         |
 * | `MC.log_level` (CUSTOM only)                | `logLevel`                      | `MD.LogLevel`                   |
 * | `MC.metrics_level` (CUSTOM only)            | `metricsLevel`                  | `MD.MetricsLevel`               |
 * | `SC.snapshots_enabled`                      | `snapshotsEnabled`              | `SD.SnapshotsEnabled`           |
 * | `RC.rollback_enabled` (when present, below) | `systemRollbackEnabled`         | `RD.RollbackEnabled`            |
 *
 * Abbreviations (Terraform, in the state): `AC` = `application_configuration[0]`,
 * `S3L` = `AC.application_code_configuration[0].code_content[0].s3_content_location[0]`,
 * `EP` = `AC.environment_properties[0]`, `PC` / `MC` = `AC.flink_application_configuration[0]` then
 * `.parallelism_configuration[0]` / `.monitoring_configuration[0]`, `SC` = `AC.application_snapshot_configuration[0]`,
 * `RC` = `AC.application_system_rollback_configuration[0]`.
 * (MSF, in `ApplicationDetail`): `ACD` = `ApplicationConfigurationDescription`,
 * `S3D` = `ACD.ApplicationCodeConfigurationDescription.CodeContentDescription.S3ApplicationCodeLocationDescription`,
 * `EPD` = `ACD.EnvironmentPropertyDescriptions.PropertyGroupDescriptions`, `PD` / `MD` =
 * `ACD.FlinkApplicationConfigurationDescription` then `.ParallelismConfigurationDescription` /
 * `.MonitoringConfigurationDescription`, `SD` = `ACD.ApplicationSnapshotConfigurationDescription`,
 * `RD` = `ACD.ApplicationSystemRollbackConfigurationDescription`.
 *
 * Choices and limits:
 * - `configuration_type`: when a `parallelism_configuration` or `monitoring_configuration` block says `DEFAULT`, MSF
 *   uses its own defaults and ignores the block's other values (the provider's documentation says the values are only
 *   effective with `CUSTOM`); the state still holds the numbers MSF reported at the last refresh. So those fields are
 *   declared only when `configuration_type` is `CUSTOM`; with `DEFAULT` (or none) they are left undeclared and not
 *   compared.
 * - `start_application` is the only declaration of a status: true → RUNNING, false → READY, absent or null → no
 *   desired status. The `status` attribute is not mapped: it is what MSF reported at the last refresh, not a wish.
 * - `version_id` is computed: the `ApplicationVersionId` Terraform saw at its last apply or refresh (what the declarer
 *   last saw). Likewise optional-and-computed values (snapshots enabled, parallelism, log level...) hold MSF's value
 *   at the last refresh when the configuration leaves them out: a state file cannot tell the two apart. A
 *   `terraform apply -refresh-only` after a rollback therefore moves the "desired" state to what MSF runs.
 * - `application_system_rollback_configuration` is not in the hashicorp/aws provider's schema at the time of
 *   writing (hashicorp/terraform-provider-aws issue #41895 asks for it); it is read when present, for later provider
 *   versions, and otherwise `systemRollbackEnabled` is left undeclared.
 * - Not mapped: `status`, `arn`, `application_mode`, `service_execution_role`, `description`, `force_stop`,
 *   `cloudwatch_logging_options`, `checkpoint_configuration`, `run_configuration` (start parameters, not state),
 *   `vpc_configuration`, `sql_application_configuration`, tags and timestamps.
 * - Property values are kept as they are (secrets included): the drift reporter masks them. Paths Terraform marks
 *   sensitive (`sensitive_attributes`) are returned per address in {@link TerraformReadResult.sensitivePaths}.
 * - Deposed objects (`deposed`, left by create_before_destroy) are skipped: they are being replaced. Tainted
 *   instances are read like any other.
 * - Nothing here throws for bad content: a corrupt file, another format version, a missing `resources` array or an
 *   instance without attributes or name each become a {@link TerraformProblem}.
 */
import { z } from 'zod';
import type { DesiredApplicationState } from '#shared/domain/desired.ts';

/** The only state format version read (Terraform 0.12 and later write version 4). */
export const SUPPORTED_STATE_VERSION = 4;

/** Resource type read from the state (hashicorp/aws provider). */
export const MSF_RESOURCE_TYPE = 'aws_kinesisanalyticsv2_application';

/** A finding about a state file: which file, which resource instance if any, and what is wrong with it. */
export interface TerraformProblem {
  /** The file path or `s3://bucket/key` the state was read from. */
  location: string;
  /** Terraform resource address of the instance concerned, when the problem is about one instance. */
  address?: string;
  /** A sentence for the user; it names the file (and the address, when there is one). */
  message: string;
}

/** What a state file declares about MSF applications, and what could not be read. */
export interface TerraformReadResult {
  /** The file path or `s3://bucket/key` the state was read from. */
  location: string;
  /** One entry per instance of `aws_kinesisanalyticsv2_application`, in state file order. */
  applications: DesiredApplicationState[];
  /** Findings about the file; empty when everything was read. */
  problems: TerraformProblem[];
  /**
   * Attribute paths Terraform marks sensitive (`sensitive_attributes`), by resource address, rendered like
   * `application_configuration[0].environment_properties[0].property_group`. Only addresses with at least one path.
   */
  sensitivePaths: Record<string, string[]>;
  /** `terraform_version` of the Terraform that wrote the state, when given. */
  terraformVersion?: string;
  /** `serial`: increases with every state write (useful to skip re-reading an unchanged state). */
  serial?: number;
  /** `lineage`: a UUID fixed when the state was created. */
  lineage?: string;
}

/** Parts of a Terraform resource instance address. */
export interface TerraformAddressParts {
  /** Module path as written in the state, e.g. `module.streaming` or `module.a.module.b`; absent at the root. */
  module?: string;
  /** `managed` (default) or `data`. */
  mode?: string;
  type: string;
  name: string;
  /** `index_key`: a number for `count`, a string for `for_each`, absent for neither. */
  indexKey?: number | string;
}

/**
 * Builds a resource instance address the way Terraform prints it: `module.streaming.TYPE.NAME["orders"]`,
 * `TYPE.NAME[0]`, `data.TYPE.NAME`. String keys are quoted JSON-style (same as Terraform for ordinary keys).
 */
export function resourceAddress(parts: TerraformAddressParts): string {
  const segments: string[] = [];
  if (parts.module) segments.push(parts.module);
  if (parts.mode === 'data') segments.push('data');
  segments.push(parts.type, parts.name);
  const base = segments.join('.');
  if (parts.indexKey === undefined) return base;
  return typeof parts.indexKey === 'number'
    ? `${base}[${parts.indexKey}]`
    : `${base}[${JSON.stringify(parts.indexKey)}]`;
}

/** A nested block in a state file: an array of objects, or null / absent when the block is not set. */
const blocks = <T extends z.ZodType>(item: T) => z.array(item).nullish();

const S3ContentLocationSchema = z.looseObject({
  bucket_arn: z.string(),
  file_key: z.string(),
  object_version: z.string().nullish(),
});

const ApplicationCodeConfigurationSchema = z.looseObject({
  code_content: blocks(z.looseObject({ s3_content_location: blocks(S3ContentLocationSchema) })),
});

const PropertyGroupSchema = z.looseObject({
  property_group_id: z.string(),
  property_map: z.record(z.string(), z.string()).nullish(),
});

const MonitoringConfigurationSchema = z.looseObject({
  configuration_type: z.string().nullish(),
  log_level: z.string().nullish(),
  metrics_level: z.string().nullish(),
});

const ParallelismConfigurationSchema = z.looseObject({
  configuration_type: z.string().nullish(),
  parallelism: z.number().int().nullish(),
  parallelism_per_kpu: z.number().int().nullish(),
  auto_scaling_enabled: z.boolean().nullish(),
});

const ApplicationConfigurationSchema = z.looseObject({
  application_code_configuration: blocks(ApplicationCodeConfigurationSchema),
  application_snapshot_configuration: blocks(z.looseObject({ snapshots_enabled: z.boolean().nullish() })),
  application_system_rollback_configuration: blocks(z.looseObject({ rollback_enabled: z.boolean().nullish() })),
  environment_properties: blocks(z.looseObject({ property_group: blocks(PropertyGroupSchema) })),
  flink_application_configuration: blocks(
    z.looseObject({
      monitoring_configuration: blocks(MonitoringConfigurationSchema),
      parallelism_configuration: blocks(ParallelismConfigurationSchema),
    }),
  ),
});

/** The attributes of `aws_kinesisanalyticsv2_application` read here (others are ignored). */
const ApplicationAttributesSchema = z.looseObject({
  name: z.string(),
  runtime_environment: z.string().nullish(),
  start_application: z.boolean().nullish(),
  version_id: z.number().int().nullish(),
  application_configuration: blocks(ApplicationConfigurationSchema),
});
type ApplicationAttributes = z.infer<typeof ApplicationAttributesSchema>;

const ResourceSchema = z.looseObject({
  module: z.string().nullish(),
  mode: z.string(),
  type: z.string(),
  name: z.string(),
  provider: z.string().nullish(),
  instances: z.array(z.unknown()),
});

const InstanceSchema = z.looseObject({
  index_key: z.union([z.number().int(), z.string()]).nullish(),
  deposed: z.string().nullish(),
  attributes: z.unknown().optional(),
  attributes_flat: z.unknown().optional(),
  sensitive_attributes: z.unknown().optional(),
});

/**
 * Reads the MSF applications a Terraform state file declares.
 *
 * @param text the state file's content (JSON, state format version 4).
 * @param location the file path or `s3://bucket/key`, used in findings and in each `source.location`.
 * @returns the applications and the problems found; never throws for bad content.
 */
export function parseTerraformState(text: string, location: string): TerraformReadResult {
  const result: TerraformReadResult = { location, applications: [], problems: [], sensitivePaths: {} };
  const fileProblem = (message: string): TerraformReadResult => {
    result.problems.push({ location, message: `Terraform state ${location}: ${message}` });
    return result;
  };

  if (text.trim() === '') return fileProblem('the file is empty (no state written, or an interrupted write)');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    return fileProblem(`not valid JSON, the file is corrupt or truncated (${detail})`);
  }
  if (!isRecord(raw)) return fileProblem('not a Terraform state file (expected a JSON object)');

  const version = raw.version;
  if (version === undefined) return fileProblem('not a Terraform state file (no format "version" field)');
  if (version !== SUPPORTED_STATE_VERSION) {
    const which =
      typeof version === 'number' && version < SUPPORTED_STATE_VERSION
        ? ' (written by Terraform 0.11 or earlier; run a current Terraform against it to upgrade it)'
        : typeof version === 'number'
          ? ' (newer than this reader)'
          : '';
    return fileProblem(
      `unsupported state format version ${JSON.stringify(version)}${which}; only format version ` +
        `${SUPPORTED_STATE_VERSION} (Terraform 0.12 and later) is supported`,
    );
  }
  if (typeof raw.terraform_version === 'string') result.terraformVersion = raw.terraform_version;
  if (typeof raw.serial === 'number') result.serial = raw.serial;
  if (typeof raw.lineage === 'string') result.lineage = raw.lineage;

  if (!Array.isArray(raw.resources)) return fileProblem('no "resources" array (not a complete version 4 state)');

  raw.resources.forEach((rawResource, i) => {
    if (!isRecord(rawResource) || rawResource.type !== MSF_RESOURCE_TYPE) return;
    const resource = ResourceSchema.safeParse(rawResource);
    if (!resource.success) {
      result.problems.push({
        location,
        message:
          `Terraform state ${location}: resources[${i}] (${MSF_RESOURCE_TYPE}) is malformed: ` +
          issuesOf(resource.error),
      });
      return;
    }
    const r = resource.data;
    if (r.mode !== 'managed') return;
    r.instances.forEach((rawInstance, j) => {
      readInstance(result, r, rawInstance, j);
    });
  });
  return result;
}

/** Reads one instance of an MSF resource into `result` (an application, sensitive paths, or a problem). */
function readInstance(
  result: TerraformReadResult,
  r: z.infer<typeof ResourceSchema>,
  rawInstance: unknown,
  j: number,
): void {
  const { location } = result;
  const parsed = InstanceSchema.safeParse(rawInstance);
  const indexKey = parsed.success ? (parsed.data.index_key ?? undefined) : undefined;
  const address = resourceAddress({
    module: r.module ?? undefined,
    mode: r.mode,
    type: r.type,
    name: r.name,
    indexKey,
  });
  const problem = (message: string): void => {
    result.problems.push({ location, address, message: `Terraform state ${location}, ${address}: ${message}` });
  };
  if (!parsed.success) {
    problem(`instance ${j} is malformed: ${issuesOf(parsed.error)}`);
    return;
  }
  const instance = parsed.data;
  if (instance.deposed) return;
  if (!isRecord(instance.attributes)) {
    problem(
      instance.attributes_flat !== undefined
        ? 'the instance has only legacy flat attributes ("attributes_flat"); ' +
            'an apply or refresh with a current Terraform rewrites them'
        : 'the instance has no attributes',
    );
    return;
  }
  const name = instance.attributes.name;
  if (typeof name !== 'string' || name === '') {
    problem('the instance has no "name" attribute (the MSF ApplicationName)');
    return;
  }
  const attrs = ApplicationAttributesSchema.safeParse(instance.attributes);
  if (!attrs.success) {
    problem(`attributes of application ${name} do not match the ${MSF_RESOURCE_TYPE} schema: ${issuesOf(attrs.error)}`);
    return;
  }
  result.applications.push(toDesired(attrs.data, { kind: 'terraform', location, address }));
  const sensitive = renderPaths(instance.sensitive_attributes);
  if (sensitive.length > 0) result.sensitivePaths[address] = sensitive;
}

/** Maps the attributes onto a desired state (see the table in this file's doc comment). */
function toDesired(a: ApplicationAttributes, source: DesiredApplicationState['source']): DesiredApplicationState {
  const desired: DesiredApplicationState = { applicationName: a.name, source };
  if (a.start_application === true) desired.status = 'RUNNING';
  else if (a.start_application === false) desired.status = 'READY';
  if (a.version_id != null && a.version_id > 0) desired.versionId = a.version_id;
  if (a.runtime_environment) desired.runtimeEnvironment = a.runtime_environment;

  const config = a.application_configuration?.[0];
  if (!config) return desired;

  const s3 = config.application_code_configuration?.[0]?.code_content?.[0]?.s3_content_location?.[0];
  if (s3) {
    desired.code = { bucketArn: s3.bucket_arn, fileKey: s3.file_key };
    if (s3.object_version) desired.code.objectVersion = s3.object_version;
  }

  const snapshots = config.application_snapshot_configuration?.[0]?.snapshots_enabled;
  if (snapshots != null) desired.snapshotsEnabled = snapshots;
  const rollback = config.application_system_rollback_configuration?.[0]?.rollback_enabled;
  if (rollback != null) desired.systemRollbackEnabled = rollback;

  const groups = config.environment_properties?.[0]?.property_group;
  if (groups) {
    desired.environmentProperties = Object.fromEntries(
      groups.map((g) => [g.property_group_id, { ...(g.property_map ?? {}) }]),
    );
  }

  const flink = config.flink_application_configuration?.[0];
  const parallelism = flink?.parallelism_configuration?.[0];
  if (parallelism?.configuration_type === 'CUSTOM') {
    if (parallelism.parallelism != null) desired.parallelism = parallelism.parallelism;
    if (parallelism.parallelism_per_kpu != null) desired.parallelismPerKPU = parallelism.parallelism_per_kpu;
    if (parallelism.auto_scaling_enabled != null) desired.autoScalingEnabled = parallelism.auto_scaling_enabled;
  }
  const monitoring = flink?.monitoring_configuration?.[0];
  if (monitoring?.configuration_type === 'CUSTOM') {
    if (monitoring.log_level) desired.logLevel = monitoring.log_level;
    if (monitoring.metrics_level) desired.metricsLevel = monitoring.metrics_level;
  }
  return desired;
}

/**
 * Renders `sensitive_attributes` (a list of paths, each a list of steps `{ type: 'get_attr', value: NAME }` or
 * `{ type: 'index', value: { value: KEY, type: 'number' | 'string' | ... } }`) as `a[0].b["k"]`. A path that does not
 * have this shape is skipped (these paths only inform; they never stop the read).
 */
function renderPaths(raw: unknown): string[] {
  if (!Array.isArray(raw)) return [];
  const out: string[] = [];
  for (const path of raw) {
    if (!Array.isArray(path)) continue;
    let rendered = '';
    let ok = path.length > 0;
    for (const step of path) {
      if (!isRecord(step)) {
        ok = false;
        break;
      }
      if (step.type === 'get_attr' && typeof step.value === 'string') {
        rendered += rendered === '' ? step.value : `.${step.value}`;
      } else if (step.type === 'index' && isRecord(step.value)) {
        const key = step.value.value;
        rendered += typeof key === 'number' ? `[${key}]` : typeof key === 'string' ? `[${JSON.stringify(key)}]` : '[*]';
      } else {
        ok = false;
        break;
      }
    }
    if (ok) out.push(rendered);
  }
  return out;
}

/** Outcome of {@link findApplication}: the application's desired state, or a problem saying why there is none. */
export type FindApplicationResult =
  | { found: true; desired: DesiredApplicationState }
  | { found: false; problem: TerraformProblem };

/**
 * The desired state of one MSF application (matched on `name`, i.e. `ApplicationName`, case-sensitive).
 *
 * @returns `found: false` with a problem naming the file and the application when no instance declares it
 *   ("resource absent from the state", with the file's own problems summarised if it could not be read), or when
 *   several instances declare the same name (e.g. one per region through provider aliases): then which one is desired
 *   cannot be told, and the problem lists their addresses.
 */
export function findApplication(result: TerraformReadResult, name: string): FindApplicationResult {
  const { location } = result;
  const matches = result.applications.filter((a) => a.applicationName === name);
  const [first, ...others] = matches;
  if (first && others.length === 0) return { found: true, desired: first };
  if (first) {
    const addresses = matches.map((m) => m.source.address ?? '?').join(', ');
    return {
      found: false,
      problem: {
        location,
        message:
          `Terraform state ${location}: application ${name} is declared by ${matches.length} resources ` +
          `(${addresses}); cannot tell which one is desired`,
      },
    };
  }
  const why =
    result.problems.length > 0
      ? `; the state has ${result.problems.length} problem(s), first: ${result.problems[0]?.message}`
      : '';
  return {
    found: false,
    problem: {
      location,
      message:
        `Terraform state ${location}: resource absent from the state: ` + `no ${MSF_RESOURCE_TYPE} named ${name}${why}`,
    },
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Zod issues as `path: message; ...` (paths like `application_configuration.0.version_id`). */
function issuesOf(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}
