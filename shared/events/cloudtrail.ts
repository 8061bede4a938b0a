import * as z from '#shared/zod.ts';

/** `detail-type` of the API call events CloudTrail puts on the default EventBridge bus. */
export const CLOUDTRAIL_API_CALL_DETAIL_TYPE = 'AWS API Call via CloudTrail';
/** EventBridge `source` of Managed Service for Apache Flink (Kinesis Analytics V2) API call events. */
export const MSF_EVENT_SOURCE = 'aws.kinesisanalytics';

/**
 * The MSF API calls that change what an application runs or whether it runs: a CloudTrail event for one of them makes
 * the detector look at the application at once instead of at the next sweep (Kinesis Analytics V2 API operation names).
 */
export const MSF_CHANGE_EVENT_NAMES = [
  'StartApplication',
  'StopApplication',
  'UpdateApplication',
  'RollbackApplication',
  'CreateApplication',
] as const;

/**
 * An "AWS API Call via CloudTrail" event for MSF (the fields the detector reads). `requestParameters.applicationName`
 * is the MSF `ApplicationName` of the call; `userAgent` tells the watchdog's own calls apart.
 */
export const MsfCloudTrailEvent = z.object({
  'detail-type': z.literal(CLOUDTRAIL_API_CALL_DETAIL_TYPE),
  source: z.literal(MSF_EVENT_SOURCE),
  time: z.string(),
  detail: z.object({
    eventSource: z.literal('kinesisanalytics.amazonaws.com'),
    eventName: z.string(),
    userAgent: z.optional(z.string()),
    errorCode: z.optional(z.string()),
    requestParameters: z.nullable(z.object({ applicationName: z.string().check(z.minLength(1), z.maxLength(128)) })),
  }),
});
export type MsfCloudTrailEvent = z.infer<typeof MsfCloudTrailEvent>;
