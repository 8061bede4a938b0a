import { EmulatorServiceError } from '#sandbox/emulator/errors.ts';

/**
 * The Resource Groups Tagging API in the emulator (API version 2017-01-26, awsJson1_1, X-Amz-Target
 * `ResourceGroupsTaggingAPI_20170126.<Operation>`; model botocore resourcegroupstaggingapi/2017-01-26): GetResources
 * over the caller's account's MSF applications, the only taggable resources the emulator holds. Every rule below
 * quotes the model's documentation of GetResourcesInput
 * (https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html).
 */

/** X-Amz-Target prefix of the Resource Groups Tagging API (awsJson1_1). */
export const TAGGING_TARGET_PREFIX = 'ResourceGroupsTaggingAPI_20170126.';

/** One taggable resource of an account, as GetResources sees it. */
export interface TaggableResource {
  /** The resource ARN, e.g. `arn:aws:kinesisanalytics:eu-west-1:123456789012:application/orders`. */
  readonly arn: string;
  /** Current tags, key → value. */
  readonly tags: ReadonlyMap<string, string>;
  /** The resource has carried a tag at some time (GetResources without TagFilters lists it even with no tags now). */
  readonly everTagged: boolean;
}

/** One GetResources TagFilter: a key and, optionally, the values any of which matches. */
export interface TagFilter {
  readonly key: string;
  readonly values: readonly string[];
}

function invalidParameter(message: string): never {
  throw new EmulatorServiceError('InvalidParameterException', message);
}

/**
 * Whether `tags` satisfy every filter: "If you specify more than one filter in a single request, the response returns
 * only those resources that satisfy all filters. If you specify a filter that contains more than one value for a key,
 * the response returns resources that match any of the specified values for that key. If you don't specify a value for
 * a key, the response returns all resources that are tagged with that key, with any or no value."
 */
export function matchesTagFilters(tags: ReadonlyMap<string, string>, filters: readonly TagFilter[]): boolean {
  return filters.every((f) => {
    const value = tags.get(f.key);
    if (value === undefined) return false;
    return f.values.length === 0 || f.values.includes(value);
  });
}

/**
 * Whether a resource ARN is of one of `types` ("service[:resourceType]", "The string for each service name and
 * resource type is the same as that embedded in a resource's Amazon Resource Name (ARN)"); no types: every resource.
 * The MSF application ARN is `arn:aws:kinesisanalytics:<region>:<account>:application/<name>`, so its type string is
 * `kinesisanalytics:application`.
 */
export function matchesResourceTypes(arn: string, types: readonly string[]): boolean {
  if (types.length === 0) return true;
  const [, , service, , , resource = ''] = arn.split(':');
  const resourceType = resource.split('/')[0] ?? '';
  return types.some((t) => {
    const [s, r] = t.split(':');
    return s === service && (r === undefined || r === resourceType);
  });
}

/**
 * Runs one Tagging API operation on `resources` (the caller's account) and returns its JSON output.
 * @throws EmulatorServiceError InvalidParameterException (a bad ResourcesPerPage, TagFilter or parameter
 *   combination), PaginationTokenExpiredException (a PaginationToken the emulator did not issue for this request), or
 *   UnknownOperationException (an operation other than GetResources).
 */
export function handleTagging(operation: string, input: unknown, resources: readonly TaggableResource[]): unknown {
  if (operation !== 'GetResources') {
    throw new EmulatorServiceError(
      'UnknownOperationException',
      `The Tagging API emulator does not implement ${operation} (it serves GetResources).`,
    );
  }
  const body = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const perPage = body.ResourcesPerPage ?? 50;
  // "You can specify a minimum of 1 and a maximum value of 100." The default is not documented. ASSUMPTION: 50.
  if (typeof perPage !== 'number' || !Number.isInteger(perPage) || perPage < 1 || perPage > 100) {
    invalidParameter('ResourcesPerPage must be an integer from 1 to 100.');
  }
  const arnList = body.ResourceARNList;
  const typeFilters = body.ResourceTypeFilters ?? [];
  const rawFilters = body.TagFilters ?? [];
  if (arnList !== undefined && (body.TagFilters !== undefined || body.ResourceTypeFilters !== undefined)) {
    // "You can't specify both this parameter and the ResourceArnList parameter in the same request. If you do, you
    // get an Invalid Parameter exception."
    invalidParameter('ResourceARNList cannot be combined with TagFilters or ResourceTypeFilters.');
  }
  if (!Array.isArray(typeFilters) || typeFilters.length > 100 || !typeFilters.every((t) => typeof t === 'string')) {
    invalidParameter('ResourceTypeFilters must be a list of up to 100 strings "service[:resourceType]".');
  }
  // "A request can include up to 50 keys, and each key can include up to 20 values." (TagFilterList max 50,
  // TagValueList max 20 in the model.)
  if (!Array.isArray(rawFilters) || rawFilters.length > 50) {
    invalidParameter('TagFilters must be a list of up to 50 filters.');
  }
  const filters: TagFilter[] = rawFilters.map((f: unknown, i: number) => {
    const filter = (typeof f === 'object' && f !== null ? f : {}) as Record<string, unknown>;
    const values = filter.Values ?? [];
    if (typeof filter.Key !== 'string' || filter.Key === '') {
      invalidParameter(`TagFilters[${i}].Key is required: "Each TagFilter must contain a key with values optional".`);
    }
    if (!Array.isArray(values) || values.length > 20 || !values.every((v) => typeof v === 'string')) {
      invalidParameter(`TagFilters[${i}].Values must be a list of up to 20 strings.`);
    }
    return { key: filter.Key, values };
  });
  const arns = Array.isArray(arnList) ? arnList.filter((a): a is string => typeof a === 'string') : undefined;

  const matching = resources.filter((r) => {
    if (arns) return arns.includes(r.arn);
    // "GetResources does not return untagged resources"; "If you don't specify a TagFilter, the response includes all
    // resources that are currently tagged or ever had a tag."
    if (!r.everTagged && r.tags.size === 0) return false;
    return matchesResourceTypes(r.arn, typeFilters as string[]) && matchesTagFilters(r.tags, filters);
  });

  const fingerprint = JSON.stringify({ arns, typeFilters, filters });
  const token = body.PaginationToken;
  let offset = 0;
  if (typeof token === 'string' && token !== '') {
    const decoded = decodeToken(token, fingerprint);
    // PaginationTokenExpiredException: "A PaginationToken is either expired or not valid" (model).
    if (decoded === undefined || decoded > matching.length) {
      throw new EmulatorServiceError(
        'PaginationTokenExpiredException',
        'The PaginationToken is either expired or not valid for this request.',
      );
    }
    offset = decoded;
  }
  const end = offset + perPage;
  const page = matching.slice(offset, end);
  return {
    // "A null value for PaginationToken indicates that there are no more results"; AWS sends an empty string.
    // ASSUMPTION: the emulator sends "" on the last page, as the AWS CLI output of the real service shows.
    PaginationToken: end < matching.length ? encodeToken(end, fingerprint) : '',
    ResourceTagMappingList: page.map((r) => ({
      ResourceARN: r.arn,
      Tags: [...r.tags].map(([Key, Value]) => ({ Key, Value })),
    })),
  };
}

function encodeToken(offset: number, fingerprint: string): string {
  return Buffer.from(JSON.stringify({ o: offset, f: fingerprint })).toString('base64');
}

function decodeToken(token: string, fingerprint: string): number | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { o?: unknown; f?: unknown };
    if (parsed.f !== fingerprint || typeof parsed.o !== 'number' || !Number.isInteger(parsed.o) || parsed.o < 0) {
      return undefined;
    }
    return parsed.o;
  } catch {
    return undefined;
  }
}
