/** An MSF application found by its tags (Resource Groups Tagging API `ResourceTagMapping`). */
export interface TaggedApplication {
  /** `ResourceARN`: `arn:<partition>:kinesisanalytics:<region>:<account>:application/<name>`. */
  arn: string;
  /** The MSF ApplicationName, the last segment of the ARN. */
  name: string;
}

/**
 * Finds MSF applications by tag in one account and Region (one cell). Implemented by shared/adapters/tagging.ts over
 * the Resource Groups Tagging API; a router for member accounts implements it per cell. Throws on API errors.
 */
export interface TaggingPort {
  /**
   * GetResources with ResourceTypeFilters ['kinesisanalytics:application'] and TagFilters [{Key: tag.key, Values:
   * [tag.value]}], every page (ResourcesPerPage 100, the API's maximum).
   * https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html
   */
  taggedApplications(tag: { key: string; value: string }): Promise<TaggedApplication[]>;
}
