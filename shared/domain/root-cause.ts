import type { Clock } from '#shared/clock.ts';
import type { Log } from '#shared/ports/log.ts';
import type { LogEvent, LogsPort } from '#shared/ports/logs.ts';
import { addEvent, type Incident, type RootCause } from './incident.ts';
import { parseLogStreamArn } from './model.ts';

/**
 * The root cause of a restart loop: AWS's guidance for an application that keeps restarting is that recent logs show a
 * side effect, and the cause is the first failure's exception at the loop's onset ("Application is restarting",
 * https://docs.aws.amazon.com/managed-flink/latest/java/troubleshooting-rt-restarts.html). This module reads the
 * application's CloudWatch Logs log group around the onset (a CloudWatch Logs Insights query, FilterLogEvents as the
 * fallback) and takes the earliest exception there: its class, message and top frames.
 */

/** Minutes before the loop's onset the search starts: the failure precedes the restart it causes (restart backoff). */
export const ROOT_CAUSE_LOOKBACK_MINUTES = 2;
/** Log lines read at most (Logs Insights `limit`, FilterLogEvents `limit`). */
export const ROOT_CAUSE_LIMIT = 20;
/** GetQueryResults polls at most, {@link ROOT_CAUSE_POLL_INTERVAL_MS} apart: about 3 s in all, then FilterLogEvents. */
export const ROOT_CAUSE_POLLS = 4;
/** Wait between two GetQueryResults polls, ms. */
export const ROOT_CAUSE_POLL_INTERVAL_MS = 1_000;
/** Stack frames kept, at most (RootCause.frames). */
export const ROOT_CAUSE_MAX_FRAMES = 5;

/**
 * The Logs Insights query: the log lines that carry an exception, oldest first. `@logStream` narrows it to the
 * application's own stream when several applications share a log group. Query syntax:
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html.
 */
export function rootCauseQuery(logStreamName?: string): string {
  const stream = logStreamName === undefined ? '' : ` | filter @logStream = ${JSON.stringify(logStreamName)}`;
  return `fields @timestamp, @message, @logStream${stream} | filter @message like /Exception|Error|Throwable/ | sort @timestamp asc | limit ${ROOT_CAUSE_LIMIT}`;
}

/**
 * The FilterLogEvents pattern of the fallback: any of the terms (`?term`, unstructured-log filter pattern syntax,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html).
 */
export const ROOT_CAUSE_FILTER_PATTERN = '?Exception ?Error ?Throwable';

/** What {@link findRootCause} looks at. Times are epoch ms. */
export interface RootCauseInput {
  /** The application key (`NAME`, or `NAME@ACCOUNT.REGION` for a member account's application). */
  applicationKey: string;
  /** The log group the watchdog may read (`configuredLogGroupName(config, key)`: its IAM allows only that one). */
  logGroupName: string;
  /**
   * The application's `CloudWatchLoggingOptionDescriptions[].LogStreamARN` (ApplicationState.logStreamArns): `[]` when
   * it has no logging option; undefined when unknown (DescribeApplication not read), then the log group is read.
   */
  logStreamArns?: string[];
  /** The loop's onset (RestartLoopFinding.onsetMs: start of the first period with a restart), ms. */
  onsetMs: number;
}

/** Ports {@link findRootCause} uses. */
export interface RootCauseDeps {
  /** CloudWatch Logs of the application's account; absent → no root cause (the note says so). */
  logs?: LogsPort;
  clock: Clock;
  log: Log;
  /** Waits between GetQueryResults polls. @default setTimeout (real time; the polls last about 3 s at most) */
  sleep?: (ms: number) => Promise<void>;
}

/** The root cause found, or a note saying why none was. Exactly one of the two is set. */
export interface RootCauseOutcome {
  rootCause?: RootCause;
  note?: string;
}

/**
 * Finds a restart loop's first failure's exception in the application's log group, from
 * {@link ROOT_CAUSE_LOOKBACK_MINUTES} before `onsetMs` to now: a Logs Insights query (StartQuery, then GetQueryResults
 * polled {@link ROOT_CAUSE_POLLS} times at most); when it is not Complete by then (or fails to start), FilterLogEvents
 * over the same window. The earliest line with an exception wins; see {@link parseException} for what is taken.
 *
 * Never throws: an error of CloudWatch Logs, a log group the watchdog may not read, no exception in the window: each
 * becomes the outcome's `note`, so detection goes on.
 */
export async function findRootCause(input: RootCauseInput, deps: RootCauseDeps): Promise<RootCauseOutcome> {
  try {
    return await search(input, deps);
  } catch (e) {
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    deps.log.warn('root cause not read', { applicationName: input.applicationKey, error: message });
    return { note: `Root cause not read: ${message}.` };
  }
}

async function search(input: RootCauseInput, deps: RootCauseDeps): Promise<RootCauseOutcome> {
  const group = input.logGroupName;
  if (!deps.logs) {
    return {
      note: `Root cause not read: this watchdog has no CloudWatch Logs client for the account of ${input.applicationKey}.`,
    };
  }
  const streams = (input.logStreamArns ?? []).map(parseLogStreamArn).filter((s) => s !== undefined);
  if (input.logStreamArns !== undefined && input.logStreamArns.length === 0) {
    return {
      note: `Root cause not read: the application has no CloudWatch logging option (CloudWatchLoggingOptionDescriptions is empty), so its exceptions are not in CloudWatch Logs. Add one (AddApplicationCloudWatchLoggingOption) with a log stream in ${group}.`,
    };
  }
  const own = streams.find((s) => s.logGroupName === group);
  if (streams.length > 0 && !own) {
    const elsewhere = streams.map((s) => s.logGroupName).join(', ');
    return {
      note: `Root cause not read: the application logs to ${elsewhere}, but the watchdog may read only ${group}. Set applications[].logGroupName to ${streams[0]?.logGroupName} and deploy the watchdog again.`,
    };
  }
  const now = deps.clock.now();
  const startMs = Math.min(input.onsetMs - ROOT_CAUSE_LOOKBACK_MINUTES * 60_000, now);
  const window = `${new Date(startMs).toISOString()} to ${new Date(now).toISOString()}`;
  const fromInsights = await queryInsights(deps.logs, group, startMs, now, own?.logStreamName, deps);
  const lines =
    fromInsights ??
    (
      await deps.logs.filterLogEvents(
        group,
        startMs,
        now,
        ROOT_CAUSE_FILTER_PATTERN,
        ROOT_CAUSE_LIMIT,
        own ? [own.logStreamName] : undefined,
      )
    ).sort((a, b) => a.timestampMs - b.timestampMs);
  const source: RootCause['source'] = fromInsights ? 'logs-insights' : 'filter-log-events';
  for (const line of lines) {
    const found = parseException(line.message);
    if (found) {
      return { rootCause: { ...found, logGroupName: group, atMs: line.timestampMs, source } };
    }
  }
  return { note: `No exception found in ${group} from ${window} (${source}).` };
}

/**
 * The Logs Insights attempt: the lines of a Complete query, oldest first, or undefined when the query does not
 * complete within the polls (then FilterLogEvents is read).
 */
async function queryInsights(
  logs: LogsPort,
  group: string,
  startMs: number,
  endMs: number,
  stream: string | undefined,
  deps: RootCauseDeps,
): Promise<LogEvent[] | undefined> {
  const queryId = await logs.startQuery(group, startMs, endMs, rootCauseQuery(stream), ROOT_CAUSE_LIMIT);
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let poll = 0; poll < ROOT_CAUSE_POLLS; poll++) {
    if (poll > 0) await sleep(ROOT_CAUSE_POLL_INTERVAL_MS);
    const out = await logs.getQueryResults(queryId);
    if (out.status === 'Complete') {
      return out.results
        .map((row) => ({ timestampMs: insightsTimestampMs(row['@timestamp']), message: row['@message'] ?? '' }))
        .sort((a, b) => a.timestampMs - b.timestampMs);
    }
    if (out.status !== 'Scheduled' && out.status !== 'Running') {
      deps.log.warn('Logs Insights query did not complete; reading FilterLogEvents', { queryId, status: out.status });
      return undefined;
    }
  }
  deps.log.info('Logs Insights query still running; reading FilterLogEvents', { queryId });
  return undefined;
}

/**
 * `@timestamp` of a Logs Insights result row, `yyyy-MM-dd HH:mm:ss.SSS` in UTC (as GetQueryResults returns it), in ms;
 * NaN sorts last and is never taken as the onset's line.
 */
export function insightsTimestampMs(value: string | undefined): number {
  if (value === undefined) return Number.NaN;
  const iso = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?$/.test(value) ? `${value.replace(' ', 'T')}Z` : value;
  return Date.parse(iso);
}

/** A Java exception line: `fully.qualified.Class` or `fully.qualified.Class: message`, optionally after `Caused by: `. */
const EXCEPTION_LINE =
  /^(?:Caused by: )?((?:[a-zA-Z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error|Throwable|Failure)[\w$]*)(?::\s?(.*))?$/;
const FRAME_LINE = /^at\s+\S/;

/**
 * The exception of one log line: MSF's JSON log record (fields `message`, `messageType`, `throwableInformation`, …,
 * https://docs.aws.amazon.com/managed-flink/latest/java/cloudwatch-logs-writing.html), whose stack trace
 * (`throwableInformation`, an array of lines or one string) is read first, then `message`; or a plain text line
 * (a Java stack trace as printed). Of a chain, the deepest `Caused by:` is taken (the cause the others wrap), with the
 * `at …` frames that follow it (at most {@link ROOT_CAUSE_MAX_FRAMES}).
 * @returns undefined when the line names no exception class.
 */
export function parseException(line: string): Omit<RootCause, 'logGroupName' | 'atMs' | 'source'> | undefined {
  const texts: string[] = [];
  const record = parseJson(line);
  if (record) {
    const throwable = record.throwableInformation;
    if (Array.isArray(throwable)) texts.push(throwable.map(String).join('\n'));
    else if (typeof throwable === 'string') texts.push(throwable);
    if (typeof record.message === 'string') texts.push(record.message);
  } else {
    texts.push(line);
  }
  for (const text of texts) {
    const found = deepestException(text);
    if (found) return found;
  }
  return undefined;
}

function parseJson(line: string): Record<string, unknown> | undefined {
  if (!line.trimStart().startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function deepestException(text: string): Omit<RootCause, 'logGroupName' | 'atMs' | 'source'> | undefined {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  let found: { exceptionClass: string; message: string; frames: string[] } | undefined;
  for (const line of lines) {
    const m = EXCEPTION_LINE.exec(line);
    if (m?.[1] && (found === undefined || line.startsWith('Caused by: '))) {
      found = { exceptionClass: m[1], message: (m[2] ?? '').trim(), frames: [] };
      continue;
    }
    if (found && FRAME_LINE.test(line) && found.frames.length < ROOT_CAUSE_MAX_FRAMES) found.frames.push(line);
  }
  if (found) return found;
  // An exception named inside a sentence (e.g. "... failed: java.io.IOException: disk full"), without a stack trace.
  const inline = /((?:[a-zA-Z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error|Throwable))(?::\s?([^\n]*))?/.exec(text);
  return inline?.[1] ? { exceptionClass: inline[1], message: (inline[2] ?? '').trim(), frames: [] } : undefined;
}

/**
 * Looks for a restart loop's root cause ({@link findRootCause}) and records it on `incident` before it is first saved
 * and told, so every notification of the incident carries it: `rootCause`, or `rootCauseNote` saying why none was
 * found, and a ROOT_CAUSE timeline event either way. Never throws.
 */
export async function recordRootCause(incident: Incident, input: RootCauseInput, deps: RootCauseDeps): Promise<void> {
  const outcome = await findRootCause(input, deps);
  const now = deps.clock.now();
  if (outcome.rootCause) {
    incident.rootCause = outcome.rootCause;
    addEvent(incident, now, 'ROOT_CAUSE', `${describeRootCause(outcome.rootCause)} (${outcome.rootCause.source})`);
  } else {
    incident.rootCauseNote = outcome.note ?? 'Root cause not found.';
    addEvent(incident, now, 'ROOT_CAUSE', incident.rootCauseNote);
  }
}

/** One line for people: `Class: message` (the message cut at 300 characters). */
export function describeRootCause(rootCause: Pick<RootCause, 'exceptionClass' | 'message'>): string {
  const message = rootCause.message.length > 300 ? `${rootCause.message.slice(0, 299)}…` : rootCause.message;
  return message === '' ? rootCause.exceptionClass : `${rootCause.exceptionClass}: ${message}`;
}
