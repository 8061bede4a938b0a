/**
 * Desired state from Terraform (pure: no SDK, no file system; see terraform-source.ts for reading).
 *
 * Two formats are read, told apart by their top-level fields:
 * - a state file of format version 4 (Terraform 0.12 and later; what `terraform state pull` prints, a `.tfstate` file,
 *   the S3 backend's object): `{ version: 4, terraform_version, serial, lineage, resources[] }`, each resource
 *   `{ module?, mode, type, name, provider, instances[] }` and each instance
 *   `{ index_key?, attributes, sensitive_attributes }`;
 * - the output of `terraform show -json` (the JSON output format, `format_version` 1.x):
 *   `{ format_version, terraform_version, values: { root_module: { resources[], child_modules[] } } }`, each resource
 *   `{ address, mode, type, name, index?, values, sensitive_values, deposed_key? }`, child modules nested recursively
 *   (https://developer.hashicorp.com/terraform/internals/json-format#state-representation).
 *
 * Any other `version` (1 to 3 were written by Terraform 0.11 and earlier) and a plan's JSON are refused with the reason
 * and the command that fixes it. Only managed resources of type `aws_kinesisanalyticsv2_application` (hashicorp/aws
 * provider) are read; every instance becomes one {@link DesiredApplicationState} whose `source.address` is the
 * Terraform resource address, e.g. `module.streaming.aws_kinesisanalyticsv2_application.app["orders"]` (for_each),
 * `...sessionizer[0]` (count) or `aws_kinesisanalyticsv2_application.clickstream` (neither).
 *
 * In both formats every nested block is an array of objects (a `MaxItems: 1` block is a one-element array), so the
 * paths below read `block[0]`. `property_group` is a set in the provider's schema: its elements are a list in the
 * JSON, in the order Terraform wrote them; `source.propertyGroupIndexes` keeps each group's index.
 *
 * | Terraform attribute                         | DesiredApplicationState         | MSF field (DescribeApplication) |
 * | ------------------------------------------- | ------------------------------- | ------------------------------- |
 * | `name`                                      | `applicationName`               | `ApplicationName`               |
 * | `start_application` true / false / null     | `status` RUNNING / READY / none | `ApplicationStatus`             |
 * | `version_id`                                | `versionId`                     | `ApplicationVersionId`          |
 * | `runtime_environment`                       | `runtimeEnvironment`            | `RuntimeEnvironment`            |
 * | `service_execution_role`                    | `serviceExecutionRole`          | `ServiceExecutionRole`          |
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
 *   The provider never reads `start_application` back from MSF, so a refresh does not change it.
 * - `version_id` is computed: the `ApplicationVersionId` Terraform saw at its last apply or refresh (what the declarer
 *   last saw). Likewise optional-and-computed values (snapshots enabled, parallelism, log level...) hold MSF's value
 *   at the last refresh when the configuration leaves them out: a state file cannot tell the two apart. A
 *   `terraform apply -refresh-only` after a rollback therefore moves the "desired" state to what MSF runs.
 * - `application_system_rollback_configuration` is not in the hashicorp/aws provider's schema at the time of
 *   writing (hashicorp/terraform-provider-aws issue #41895 asks for it); it is read when present, for later provider
 *   versions, and otherwise `systemRollbackEnabled` is left undeclared.
 * - Not mapped: `status`, `arn`, `application_mode`, `description`, `force_stop`, `cloudwatch_logging_options`,
 *   `checkpoint_configuration`, `run_configuration` (start parameters, not state), `vpc_configuration`,
 *   `sql_application_configuration`, tags and timestamps.
 * - Property values are kept as they are (secrets included): the drift reporter masks them. Paths Terraform marks
 *   sensitive are returned per instance in `source.sensitivePaths` and per address in
 *   {@link TerraformReadResult.sensitivePaths}.
 * - Deposed objects (`deposed`, `deposed_key`: left by create_before_destroy) are skipped: they are being replaced.
 *   Tainted instances are read like any other.
 * - Nothing here throws for bad content: a corrupt file, another format version, a missing `resources` array or an
 *   instance without attributes or name each become a {@link TerraformProblem}.
 */
import type { DesiredApplicationState, DesiredStateSource } from '#shared/domain/desired.ts';
import * as z from '#shared/zod.ts';

/** The only state format version read (Terraform 0.12 and later write version 4). */
export const SUPPORTED_STATE_VERSION = 4;

/** The major version of `terraform show -json`'s `format_version` read (`1.0`, `1.1`, ...). */
export const SUPPORTED_JSON_FORMAT_MAJOR = 1;

/** Resource type read from the state (hashicorp/aws provider). */
export const MSF_RESOURCE_TYPE = 'aws_kinesisanalyticsv2_application';

/** A finding about a state: which source, which resource instance if any, and what is wrong with it. */
export interface TerraformProblem {
  /** The file path, `s3://bucket/key` or `stdin` the state was read from. */
  location: string;
  /** Terraform resource address of the instance concerned, when the problem is about one instance. */
  address?: string;
  /** The MSF ApplicationName (`name` attribute) of that instance, when it could be read. */
  applicationName?: string;
  /** A sentence for the user; it names the source (and the address, when there is one) and, when known, the fix. */
  message: string;
}

/** What a state declares about MSF applications, and what could not be read. */
export interface TerraformReadResult {
  /** The file path, `s3://bucket/key` or `stdin` the state was read from. */
  location: string;
  /** One entry per instance of `aws_kinesisanalyticsv2_application`, in the order of the state. */
  applications: DesiredApplicationState[];
  /** Findings about the state; empty when everything was read. */
  problems: TerraformProblem[];
  /**
   * Attribute paths Terraform marks sensitive, by resource address, rendered like
   * `application_configuration[0].environment_properties[0].property_group`. Only addresses with at least one path.
   */
  sensitivePaths: Record<string, string[]>;
  /** `state` (format version 4) or `show-json` (`terraform show -json`), once the format was recognised. */
  format?: 'state' | 'show-json';
  /** `terraform_version` of the Terraform that wrote the state, when given. */
  terraformVersion?: string;
  /** `serial`: increases with every state write (state files only). */
  serial?: number;
  /** `lineage`: a UUID fixed when the state was created (state files only). */
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

/** A nested block in a state: an array of objects, or null / absent when the block is not set. */
const blocks = <T extends z.core.SomeType>(item: T) => z.nullish(z.array(item));

const S3ContentLocationSchema = z.looseObject({
  bucket_arn: z.string(),
  file_key: z.string(),
  object_version: z.nullish(z.string()),
});

const ApplicationCodeConfigurationSchema = z.looseObject({
  code_content: blocks(z.looseObject({ s3_content_location: blocks(S3ContentLocationSchema) })),
});

const PropertyGroupSchema = z.looseObject({
  property_group_id: z.string(),
  property_map: z.nullish(z.record(z.string(), z.string())),
});

const MonitoringConfigurationSchema = z.looseObject({
  configuration_type: z.nullish(z.string()),
  log_level: z.nullish(z.string()),
  metrics_level: z.nullish(z.string()),
});

const ParallelismConfigurationSchema = z.looseObject({
  configuration_type: z.nullish(z.string()),
  parallelism: z.nullish(z.int()),
  parallelism_per_kpu: z.nullish(z.int()),
  auto_scaling_enabled: z.nullish(z.boolean()),
});

const ApplicationConfigurationSchema = z.looseObject({
  application_code_configuration: blocks(ApplicationCodeConfigurationSchema),
  application_snapshot_configuration: blocks(z.looseObject({ snapshots_enabled: z.nullish(z.boolean()) })),
  application_system_rollback_configuration: blocks(z.looseObject({ rollback_enabled: z.nullish(z.boolean()) })),
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
  runtime_environment: z.nullish(z.string()),
  service_execution_role: z.nullish(z.string()),
  start_application: z.nullish(z.boolean()),
  version_id: z.nullish(z.int()),
  application_configuration: blocks(ApplicationConfigurationSchema),
});
type ApplicationAttributes = z.infer<typeof ApplicationAttributesSchema>;

const ResourceSchema = z.looseObject({
  module: z.nullish(z.string()),
  mode: z.string(),
  type: z.string(),
  name: z.string(),
  provider: z.nullish(z.string()),
  instances: z.array(z.unknown()),
});

const InstanceSchema = z.looseObject({
  index_key: z.nullish(z.union([z.int(), z.string()])),
  deposed: z.nullish(z.string()),
  attributes: z.optional(z.unknown()),
  attributes_flat: z.optional(z.unknown()),
  sensitive_attributes: z.optional(z.unknown()),
});

/** A resource of `terraform show -json`'s values representation. */
const JsonResourceSchema = z.looseObject({
  address: z.string(),
  mode: z.string(),
  type: z.string(),
  name: z.string(),
  index: z.optional(z.union([z.int(), z.string()])),
  values: z.optional(z.unknown()),
  sensitive_values: z.optional(z.unknown()),
  deposed_key: z.optional(z.string()),
});

/** One instance to read, from either format. */
interface InstanceInput {
  address: string;
  attributes: unknown;
  /** Attribute paths marked sensitive, rendered. */
  sensitivePaths: string[];
}

/**
 * Reads the MSF applications a Terraform state declares: a state file of format version 4 or the output of
 * `terraform show -json` (see this file's doc comment).
 *
 * @param text the content (JSON).
 * @param location the file path, `s3://bucket/key` or `stdin`, used in findings and in each `source.location`.
 * @returns the applications and the problems found; never throws for bad content. A state of another format version
 *   or a plan's JSON is one problem that says what to run instead.
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
  if (!isRecord(raw)) return fileProblem('not a Terraform state (expected a JSON object)');
  if (raw.format_version !== undefined) return readShowJson(result, raw, fileProblem);

  const version = raw.version;
  if (version === undefined) {
    return fileProblem(
      'not a Terraform state (neither a format "version" nor a "format_version"): pass the output of ' +
        '`terraform state pull` or `terraform show -json`, or a .tfstate file',
    );
  }
  if (version !== SUPPORTED_STATE_VERSION) return fileProblem(unsupportedVersion(version));
  result.format = 'state';
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
      readStateInstance(result, r, rawInstance, j);
    });
  });
  return result;
}

/** Why a state `version` other than 4 is refused, and what to run. */
function unsupportedVersion(version: unknown): string {
  const supported = `only state format version ${SUPPORTED_STATE_VERSION} (Terraform 0.12 and later) is read`;
  if (typeof version === 'number' && version < SUPPORTED_STATE_VERSION) {
    return (
      `state format version ${version}, written by Terraform 0.11 or earlier; ${supported}. ` +
      'Fix: with Terraform 0.12 or later (after `terraform init`), run `terraform show -json > state.json` and pass ' +
      'that file (or pipe it: `terraform show -json | flink-watchdog drift --tfstate -`): it reads the old state ' +
      'with the provider schema and changes nothing. `terraform apply -refresh-only` rewrites the stored state as ' +
      'version 4; `terraform state pull` alone only relabels it, keeping attributes in the old flat form'
    );
  }
  if (typeof version === 'number') {
    return `state format version ${version} is newer than this reader; ${supported}. Pass \`terraform show -json\` output instead`;
  }
  return `unsupported state format version ${JSON.stringify(version)}; ${supported}`;
}

/** Reads `terraform show -json` output: `values.root_module`, its `child_modules` recursively. */
function readShowJson(
  result: TerraformReadResult,
  raw: Record<string, unknown>,
  fileProblem: (message: string) => TerraformReadResult,
): TerraformReadResult {
  const formatVersion = raw.format_version;
  const major = typeof formatVersion === 'string' ? Number.parseInt(formatVersion.split('.')[0] ?? '', 10) : Number.NaN;
  if (major !== SUPPORTED_JSON_FORMAT_MAJOR) {
    return fileProblem(
      `\`terraform show -json\` format_version ${JSON.stringify(formatVersion)} is not supported ` +
        `(${SUPPORTED_JSON_FORMAT_MAJOR}.x is read); pass \`terraform state pull\` output instead`,
    );
  }
  if (raw.values === undefined && (raw.planned_values !== undefined || raw.resource_changes !== undefined)) {
    return fileProblem(
      "the JSON of a plan (`terraform show -json PLANFILE`), not of a state: a plan's values are what an apply " +
        'would make, not what Terraform last recorded. Pass `terraform show -json` without a plan file, or ' +
        '`terraform state pull`',
    );
  }
  result.format = 'show-json';
  if (typeof raw.terraform_version === 'string') result.terraformVersion = raw.terraform_version;
  // An empty state prints `{"format_version":"1.0"}` alone: no values, no resources.
  if (raw.values === undefined || raw.values === null) return result;
  if (!isRecord(raw.values)) return fileProblem('"values" is not an object (not `terraform show -json` output)');
  const root = raw.values.root_module;
  if (root === undefined || root === null) return result;
  readJsonModule(result, root, 'values.root_module');
  return result;
}

/** Reads one module of the values representation and its child modules (depth first, in the order given). */
function readJsonModule(result: TerraformReadResult, module: unknown, path: string): void {
  const { location } = result;
  if (!isRecord(module)) {
    result.problems.push({ location, message: `Terraform state ${location}: ${path} is not an object` });
    return;
  }
  const resources = module.resources ?? [];
  if (!Array.isArray(resources)) {
    result.problems.push({ location, message: `Terraform state ${location}: ${path}.resources is not an array` });
  } else {
    resources.forEach((rawResource, i) => {
      if (!isRecord(rawResource) || rawResource.type !== MSF_RESOURCE_TYPE) return;
      const parsed = JsonResourceSchema.safeParse(rawResource);
      if (!parsed.success) {
        result.problems.push({
          location,
          message: `Terraform state ${location}: ${path}.resources[${i}] (${MSF_RESOURCE_TYPE}) is malformed: ${issuesOf(parsed.error)}`,
        });
        return;
      }
      const r = parsed.data;
      if (r.mode !== 'managed' || r.deposed_key) return;
      readInstance(result, {
        address: r.address,
        attributes: r.values,
        sensitivePaths: sensitiveValuePaths(r.sensitive_values),
      });
    });
  }
  const children = module.child_modules ?? [];
  if (!Array.isArray(children)) {
    result.problems.push({ location, message: `Terraform state ${location}: ${path}.child_modules is not an array` });
    return;
  }
  children.forEach((child, i) => {
    readJsonModule(result, child, `${path}.child_modules[${i}]`);
  });
}

/** Reads one instance of a version 4 state into `result`. */
function readStateInstance(
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
  if (!parsed.success) {
    result.problems.push({
      location,
      address,
      message: `Terraform state ${location}, ${address}: instance ${j} is malformed: ${issuesOf(parsed.error)}`,
    });
    return;
  }
  const instance = parsed.data;
  if (instance.deposed) return;
  if (!isRecord(instance.attributes) && instance.attributes_flat !== undefined) {
    const name = isRecord(instance.attributes_flat) ? instance.attributes_flat.name : undefined;
    result.problems.push({
      location,
      address,
      ...(typeof name === 'string' && name !== '' ? { applicationName: name } : {}),
      message:
        `Terraform state ${location}, ${address}: the instance has only legacy flat attributes ("attributes_flat", ` +
        'from a state upgraded from Terraform 0.11); pass `terraform show -json` output instead (it reads them with ' +
        'the provider schema), or run `terraform apply -refresh-only` to rewrite them',
    });
    return;
  }
  readInstance(result, {
    address,
    attributes: instance.attributes,
    sensitivePaths: renderPaths(instance.sensitive_attributes),
  });
}

/** Reads one instance's attributes into `result` (an application, sensitive paths, or a problem). */
function readInstance(result: TerraformReadResult, input: InstanceInput): void {
  const { location } = result;
  const { address, attributes } = input;
  const problem = (message: string, applicationName?: string): void => {
    result.problems.push({
      location,
      address,
      ...(applicationName === undefined ? {} : { applicationName }),
      message: `Terraform state ${location}, ${address}: ${message}`,
    });
  };
  if (!isRecord(attributes)) {
    problem('the instance has no attributes');
    return;
  }
  const name = attributes.name;
  if (typeof name !== 'string' || name === '') {
    problem('the instance has no "name" attribute (the MSF ApplicationName)');
    return;
  }
  const attrs = ApplicationAttributesSchema.safeParse(attributes);
  if (!attrs.success) {
    problem(
      `attributes of application ${name} do not match the ${MSF_RESOURCE_TYPE} schema: ${issuesOf(attrs.error)}`,
      name,
    );
    return;
  }
  const source: DesiredStateSource = { kind: 'terraform', location, address };
  if (result.format) source.format = result.format;
  if (input.sensitivePaths.length > 0) {
    source.sensitivePaths = input.sensitivePaths;
    result.sensitivePaths[address] = input.sensitivePaths;
  }
  result.applications.push(toDesired(attrs.data, source));
}

/** Maps the attributes onto a desired state (see the table in this file's doc comment). */
function toDesired(a: ApplicationAttributes, source: DesiredStateSource): DesiredApplicationState {
  const desired: DesiredApplicationState = { applicationName: a.name, source };
  if (a.start_application === true) desired.status = 'RUNNING';
  else if (a.start_application === false) desired.status = 'READY';
  if (a.version_id != null && a.version_id > 0) desired.versionId = a.version_id;
  if (a.runtime_environment) desired.runtimeEnvironment = a.runtime_environment;
  if (a.service_execution_role) desired.serviceExecutionRole = a.service_execution_role;

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
    source.propertyGroupIndexes = Object.fromEntries(groups.map((g, i) => [g.property_group_id, i]));
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
 * Renders a version 4 state's `sensitive_attributes` (a list of paths, each a list of steps
 * `{ type: 'get_attr', value: NAME }` or `{ type: 'index', value: { value: KEY, type: 'number' | 'string' | ... } }`)
 * as `a[0].b["k"]`; an index whose key is neither a number nor a string (a set element, keyed by its value) renders
 * as `[*]`. A path that does not have this shape is skipped (these paths only inform; they never stop the read).
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

/**
 * Renders `terraform show -json`'s `sensitive_values` (the shape of `values`, with `true` for each sensitive value and
 * non-sensitive leaves omitted or `false`) as the paths of its `true` leaves: `{a: [{b: true}]}` → `a[0].b`; a map key
 * that is not an identifier renders as `["key"]`.
 */
function sensitiveValuePaths(raw: unknown): string[] {
  const out: string[] = [];
  const walk = (node: unknown, path: string): void => {
    if (node === true) {
      if (path !== '') out.push(path);
      return;
    }
    if (Array.isArray(node)) {
      node.forEach((child, i) => {
        walk(child, `${path}[${i}]`);
      });
      return;
    }
    if (isRecord(node)) {
      for (const [key, child] of Object.entries(node)) {
        const step = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)
          ? path === ''
            ? key
            : `${path}.${key}`
          : `${path}[${JSON.stringify(key)}]`;
        walk(child, step);
      }
    }
  };
  walk(raw, '');
  return out;
}

/** Outcome of {@link findApplication}: the application's desired state, or a problem saying why there is none. */
export type FindApplicationResult =
  | { found: true; desired: DesiredApplicationState }
  | { found: false; problem: TerraformProblem };

/**
 * The desired state of one MSF application (matched on `name`, i.e. `ApplicationName`, case-sensitive).
 *
 * @returns `found: false` with a problem naming the source and the application when no instance declares it
 *   ("resource absent from the state", with the source's own problems summarised if it could not be read), or when
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
        applicationName: name,
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
      applicationName: name,
      message:
        `Terraform state ${location}: resource absent from the state: ` + `no ${MSF_RESOURCE_TYPE} named ${name}${why}`,
    },
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validation issues as `path: message; ...` (paths like `application_configuration.0.version_id`), at most 3. */
function issuesOf(error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> }): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length > 0 ? i.path.map(String).join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}
