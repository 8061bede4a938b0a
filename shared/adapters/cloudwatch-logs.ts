import type { CloudWatchLogsClient, CloudWatchLogsClientConfig } from '@aws-sdk/client-cloudwatch-logs';
import type { LogEvent, LogsCallOptions, LogsPort, LogsQueryResults } from '#shared/ports/logs.ts';
import { type Cell, type CellClients, cellId, type FleetCells } from './accounts.ts';
import { WATCHDOG_USER_AGENT } from './msf.ts';
import { onFirstUse } from './on-first-use.ts';

/** Options of {@link CloudWatchLogsReader}. */
export interface CloudWatchLogsReaderOptions {
  /** A ready client (tests, the drill); else one is made with {@link logsClientConfig}(`clientConfig`) at the first call. */
  client?: CloudWatchLogsClient;
  clientConfig?: CloudWatchLogsClientConfig;
}

/**
 * Client settings of the root-cause reads, made to fit their wall-clock budget (ROOT_CAUSE_BUDGET_MS, 4 s): a request
 * gets 1.5 s (`requestTimeout`) and 0.5 s to connect (`connectionTimeout`), 2 attempts at most (`maxAttempts`; the SDK
 * retries throttling and transient errors once), and the watchdog's user agent as every adapter sends. `clientConfig`
 * (Region, credentials, the sandbox's endpoint, …) comes on top.
 */
export function logsClientConfig(clientConfig: CloudWatchLogsClientConfig = {}): CloudWatchLogsClientConfig {
  return {
    customUserAgent: [WATCHDOG_USER_AGENT],
    maxAttempts: LOGS_MAX_ATTEMPTS,
    requestHandler: { requestTimeout: LOGS_REQUEST_TIMEOUT_MS, connectionTimeout: LOGS_CONNECTION_TIMEOUT_MS },
    ...clientConfig,
  };
}

/** Attempts per CloudWatch Logs call, the first included (SDK `maxAttempts`). */
export const LOGS_MAX_ATTEMPTS = 2;
/** Time a CloudWatch Logs request may take once sent, ms (SDK `requestHandler.requestTimeout`). */
export const LOGS_REQUEST_TIMEOUT_MS = 1_500;
/** Time to open the connection, ms (SDK `requestHandler.connectionTimeout`). */
export const LOGS_CONNECTION_TIMEOUT_MS = 500;

/** Pages FilterLogEvents reads at most (each up to `limit` events): the search is bounded, never a full scan. */
const MAX_FILTER_PAGES = 5;

/**
 * LogsPort over the CloudWatch Logs API (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/):
 * StartQuery / GetQueryResults (CloudWatch Logs Insights) and FilterLogEvents. The client module is loaded at the
 * first call, not at cold start: only a restart loop reads logs. Errors of the API are thrown as the SDK raises them
 * (ResourceNotFoundException, AccessDeniedException, MalformedQueryException, …).
 */
export class CloudWatchLogsReader implements LogsPort {
  readonly #client: () => Promise<CloudWatchLogsClient>;

  constructor(options: CloudWatchLogsReaderOptions = {}) {
    this.#client = onFirstUse(options.client, async () => {
      const { CloudWatchLogsClient: Client } = await import('./lazy/cloudwatch-logs.ts');
      return new Client(logsClientConfig(options.clientConfig));
    });
  }

  /** StartQuery: `startTime`/`endTime` are epoch SECONDS in the API (StartQueryRequest), so ms are rounded outwards. */
  async startQuery(
    logGroupName: string,
    startMs: number,
    endMs: number,
    queryString: string,
    limit: number,
    options: LogsCallOptions = {},
  ): Promise<string> {
    const { StartQueryCommand } = await import('./lazy/cloudwatch-logs.ts');
    const out = await (await this.#client()).send(
      new StartQueryCommand({
        logGroupName,
        startTime: Math.floor(startMs / 1000),
        endTime: Math.ceil(endMs / 1000),
        queryString,
        limit,
      }),
      sendOptions(options),
    );
    if (!out.queryId) throw new Error(`StartQuery on ${logGroupName} returned no queryId`);
    return out.queryId;
  }

  /** GetQueryResults: each result row (a list of `field`/`value` pairs) becomes a field → value record. */
  async getQueryResults(queryId: string, options: LogsCallOptions = {}): Promise<LogsQueryResults> {
    const { GetQueryResultsCommand } = await import('./lazy/cloudwatch-logs.ts');
    const out = await (await this.#client()).send(new GetQueryResultsCommand({ queryId }), sendOptions(options));
    return {
      status: out.status ?? 'Unknown',
      results: (out.results ?? []).map((row) => {
        const record: Record<string, string> = {};
        for (const f of row) if (f.field !== undefined) record[f.field] = f.value ?? '';
        return record;
      }),
    };
  }

  /**
   * FilterLogEvents (`startTime`/`endTime` epoch ms), following `nextToken` until `limit` events or
   * {@link MAX_FILTER_PAGES} pages; events oldest first.
   */
  async filterLogEvents(
    logGroupName: string,
    startMs: number,
    endMs: number,
    filterPattern: string,
    limit: number,
    logStreamNames?: string[],
    options: LogsCallOptions = {},
  ): Promise<LogEvent[]> {
    const { FilterLogEventsCommand } = await import('./lazy/cloudwatch-logs.ts');
    const client = await this.#client();
    const events: LogEvent[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_FILTER_PAGES && events.length < limit; page++) {
      const out = await client.send(
        new FilterLogEventsCommand({
          logGroupName,
          startTime: startMs,
          endTime: endMs,
          filterPattern,
          limit: limit - events.length,
          ...(logStreamNames && logStreamNames.length > 0 ? { logStreamNames } : {}),
          ...(nextToken ? { nextToken } : {}),
        }),
        sendOptions(options),
      );
      for (const e of out.events ?? []) {
        if (e.timestamp === undefined) continue;
        events.push({
          timestampMs: e.timestamp,
          message: e.message ?? '',
          ...(e.logStreamName ? { logStreamName: e.logStreamName } : {}),
        });
      }
      nextToken = out.nextToken;
      if (!nextToken) break;
    }
    return events.sort((a, b) => a.timestampMs - b.timestampMs).slice(0, limit);
  }
}

/** The SDK's per-call options: the caller's abort signal, if any. */
function sendOptions(options: LogsCallOptions): { abortSignal?: AbortSignal } {
  return options.abortSignal ? { abortSignal: options.abortSignal } : {};
}

/**
 * The CloudWatch Logs reader of each watched cell, by application key (`logsFor` of the detector): the home cell with
 * `home` (the function's own credentials), a member account's application through its member role (the credentials
 * of `clients.credentialsFor(cell)`, STS AssumeRole), in the cell's Region. One reader per cell, made at its first
 * use. A key of a cell that is not watched has no reader (undefined).
 * @param base client settings of every member reader (the sandbox's endpoint, …), on top of {@link logsClientConfig}'s
 *   timeouts, attempts and user agent; credentials and Region come from the cell.
 */
export function logsReadersByCell(
  cells: Pick<FleetCells, 'cellOf' | 'isHome'>,
  clients: Pick<CellClients, 'credentialsFor'>,
  home: LogsPort,
  base: CloudWatchLogsClientConfig = {},
): (applicationKey: string) => LogsPort | undefined {
  const readers = new Map<string, LogsPort>();
  return (applicationKey) => {
    let cell: Cell;
    try {
      cell = cells.cellOf(applicationKey);
    } catch {
      return undefined;
    }
    if (cells.isHome(cell)) return home;
    const id = cellId(cell);
    let reader = readers.get(id);
    if (!reader) {
      const credentials = clients.credentialsFor(cell);
      reader = new CloudWatchLogsReader({
        clientConfig: { ...base, region: cell.region, ...(credentials !== undefined ? { credentials } : {}) },
      });
      readers.set(id, reader);
    }
    return reader;
  };
}
