import {
  GetResourcesCommand,
  ResourceGroupsTaggingAPIClient,
  type ResourceGroupsTaggingAPIClientConfig,
} from '@aws-sdk/client-resource-groups-tagging-api';
import type { TaggedApplication, TaggingPort } from '#shared/ports/tagging.ts';
import { type AdaptiveRetryOptions, type ApiCallCounter, adaptiveClientConfig, countCall } from './msf.ts';

/** Resource type of an MSF application in the Tagging API (`service:resourceType`). */
export const MSF_APPLICATION_RESOURCE_TYPE = 'kinesisanalytics:application';

/** Either a ready client or a client config (with adaptive retries), never both; optionally a call counter. */
export type TaggingAdapterOptions = (
  | { client: ResourceGroupsTaggingAPIClient }
  | ({ clientConfig?: ResourceGroupsTaggingAPIClientConfig } & AdaptiveRetryOptions)
) & { calls?: ApiCallCounter };

/** The MSF ApplicationName of an application ARN (`…:application/<name>`); undefined for any other ARN. */
export function applicationNameFromArn(arn: string): string | undefined {
  const m = /^arn:[^:]+:kinesisanalytics:[^:]*:\d*:application\/([a-zA-Z0-9_.-]+)$/.exec(arn);
  return m?.[1];
}

/**
 * TaggingPort over the Resource Groups Tagging API GetResources
 * (https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html): every page, 100
 * resources per page (ResourcesPerPage: "a minimum of 1 and a maximum value of 100"); the last page has an empty
 * PaginationToken.
 */
export class TaggingAdapter implements TaggingPort {
  readonly #client: ResourceGroupsTaggingAPIClient;
  readonly #calls: ApiCallCounter | undefined;

  constructor(options: TaggingAdapterOptions = {}) {
    this.#client =
      'client' in options ? options.client : new ResourceGroupsTaggingAPIClient(adaptiveClientConfig(options));
    this.#calls = options.calls;
  }

  async taggedApplications(tag: { key: string; value: string }): Promise<TaggedApplication[]> {
    const out: TaggedApplication[] = [];
    let token: string | undefined;
    do {
      countCall(this.#calls, 'GetResources');
      const page = await this.#client.send(
        new GetResourcesCommand({
          ResourceTypeFilters: [MSF_APPLICATION_RESOURCE_TYPE],
          TagFilters: [{ Key: tag.key, Values: [tag.value] }],
          ResourcesPerPage: 100,
          ...(token ? { PaginationToken: token } : {}),
        }),
      );
      for (const r of page.ResourceTagMappingList ?? []) {
        const name = r.ResourceARN ? applicationNameFromArn(r.ResourceARN) : undefined;
        if (r.ResourceARN && name) out.push({ arn: r.ResourceARN, name });
      }
      token = page.PaginationToken || undefined;
    } while (token);
    return out;
  }
}
