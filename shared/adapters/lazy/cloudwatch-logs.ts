/**
 * What the detector loads at its first root-cause search (cloudwatch-logs.ts): the client and the three commands used,
 * named so that the bundle's chunk for this dynamic `import()` keeps only them; see sns.ts.
 */
export {
  CloudWatchLogsClient,
  FilterLogEventsCommand,
  GetQueryResultsCommand,
  StartQueryCommand,
} from '@aws-sdk/client-cloudwatch-logs';
