/** One log event (FilterLogEvents `events[]`). */
export interface LogEvent {
  /** `timestamp`, ms. */
  timestampMs: number;
  message: string;
  logStreamName?: string;
}

/** Result of GetQueryResults: `status` and the rows as field → value (`@timestamp`, `@message`, …). */
export interface LogsQueryResults {
  /** `status`: Scheduled, Running, Complete, Failed, Cancelled, Timeout or Unknown. */
  status: string;
  results: Record<string, string>[];
}

/** Per-call options of {@link LogsPort}. */
export interface LogsCallOptions {
  /** Aborts the call (the SDK's `abortSignal`): the root-cause read's budget is spent. */
  abortSignal?: AbortSignal;
}

/**
 * Reads an application's CloudWatch Logs (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/):
 * CloudWatch Logs Insights (StartQuery, GetQueryResults) and FilterLogEvents.
 */
export interface LogsPort {
  /**
   * StartQuery over `logGroupName` from `startMs` to `endMs` (the API takes epoch seconds).
   * @returns the `queryId`.
   * @throws Error from CloudWatch Logs (ResourceNotFoundException for a missing log group, AccessDeniedException, …).
   */
  startQuery(
    logGroupName: string,
    startMs: number,
    endMs: number,
    queryString: string,
    limit: number,
    options?: LogsCallOptions,
  ): Promise<string>;
  /** GetQueryResults of `queryId`. */
  getQueryResults(queryId: string, options?: LogsCallOptions): Promise<LogsQueryResults>;
  /**
   * FilterLogEvents of `logGroupName` from `startMs` to `endMs` (epoch ms, as the API takes them) matching
   * `filterPattern`, oldest first, at most `limit`; only `logStreamNames` when given.
   */
  filterLogEvents(
    logGroupName: string,
    startMs: number,
    endMs: number,
    filterPattern: string,
    limit: number,
    logStreamNames?: string[],
    options?: LogsCallOptions,
  ): Promise<LogEvent[]>;
}
