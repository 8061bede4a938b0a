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
/**
 * Log lines read at most (Logs Insights `limit`, FilterLogEvents `limit` over its pages): the lines are already the
 * failure records (see {@link rootCauseQuery}), so a few dozen leave room for ERROR noise before the failure.
 */
export const ROOT_CAUSE_LIMIT = 50;
/**
 * The whole root-cause read's wall-clock budget, ms: every CloudWatch Logs call is cancelled (AbortSignal) when it is
 * spent, and the incident is recorded without a root cause (the note says so). The read sits before the incident is
 * first saved, so it must never hold detection up for long.
 */
export const ROOT_CAUSE_BUDGET_MS = 4_000;
/**
 * The Logs Insights part of {@link ROOT_CAUSE_BUDGET_MS}, ms: StartQuery and the GetQueryResults polls; past it the
 * query is given up and FilterLogEvents reads the same window with what is left of the budget.
 */
export const ROOT_CAUSE_INSIGHTS_BUDGET_MS = 2_500;
/** GetQueryResults polls at most, {@link ROOT_CAUSE_POLL_INTERVAL_MS} apart (within {@link ROOT_CAUSE_INSIGHTS_BUDGET_MS}). */
export const ROOT_CAUSE_POLLS = 3;
/** Wait between two GetQueryResults polls, ms. */
export const ROOT_CAUSE_POLL_INTERVAL_MS = 1_000;
/** Stack frames kept, at most (RootCause.frames). */
export const ROOT_CAUSE_MAX_FRAMES = 5;

/**
 * The Logs Insights query: MSF's log records of a failure, oldest first. MSF writes JSON records
 * (https://docs.aws.amazon.com/managed-flink/latest/java/cloudwatch-logs-writing.html) whose fields Logs Insights
 * discovers (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_AnalyzeLogData-discoverable-fields.html; a
 * JSON array is flattened to `field.0`, `field.1`, …): a record is a failure when its `messageType` is ERROR or it
 * carries a stack trace (`throwableInformation`, a string or an array) — Flink logs a job's failure at INFO with the
 * throwable, so the level alone would miss it. WARN/INFO lines that merely name an exception are not read.
 * `@logStream` narrows it to the application's own stream when several applications share a log group. Query syntax:
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html (`ispresent`:
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-operations-functions.html).
 */
export function rootCauseQuery(logStreamName?: string): string {
  const stream = logStreamName === undefined ? '' : ` | filter @logStream = ${JSON.stringify(logStreamName)}`;
  return `fields @timestamp, @message, @logStream${stream} | filter messageType = "ERROR" or ispresent(throwableInformation) or ispresent(throwableInformation.0) | sort @timestamp asc | limit ${ROOT_CAUSE_LIMIT}`;
}

/**
 * The FilterLogEvents pattern of the fallback: a record at ERROR or one with a stack trace (`?term`s, unstructured-log
 * filter pattern syntax, https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html). The
 * terms also match other lines that contain them; {@link isFailureRecord} drops those before an exception is taken.
 */
export const ROOT_CAUSE_FILTER_PATTERN = '?ERROR ?throwableInformation';

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
  /**
   * Waits between GetQueryResults polls: `ms` of wall-clock time, or rejects with the signal's reason once `signal` is
   * aborted. @default {@link abortableSleep} (setTimeout)
   */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /**
   * Resolves when a budget of `ms` is spent (wall clock), or rejects once `signal` is aborted (the read is over).
   * @default {@link abortableSleep} (setTimeout)
   */
  deadline?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** The whole read's wall-clock budget, ms. @default {@link ROOT_CAUSE_BUDGET_MS} */
  budgetMs?: number;
}

/** The root cause found, or a note saying why none was. Exactly one of the two is set. */
export interface RootCauseOutcome {
  rootCause?: RootCause;
  note?: string;
}

/**
 * Finds a restart loop's first failure's exception in the application's log group, from
 * {@link ROOT_CAUSE_LOOKBACK_MINUTES} before `onsetMs` to now, within one wall-clock budget
 * ({@link ROOT_CAUSE_BUDGET_MS}): a Logs Insights query (StartQuery, then GetQueryResults polled
 * {@link ROOT_CAUSE_POLLS} times at most, all within {@link ROOT_CAUSE_INSIGHTS_BUDGET_MS}); when it is not Complete by
 * then (or fails to start), FilterLogEvents over the same window with the rest of the budget. The earliest failure
 * record with an exception wins; see {@link isFailureRecord} and {@link parseException} for what is taken.
 *
 * Never throws and never takes longer than the budget: an error of CloudWatch Logs, a log group the watchdog may not
 * read, no exception in the window, the budget spent (every call still running is aborted): each becomes the
 * outcome's `note`, so detection goes on.
 */
export async function findRootCause(input: RootCauseInput, deps: RootCauseDeps): Promise<RootCauseOutcome> {
  const budgetMs = deps.budgetMs ?? ROOT_CAUSE_BUDGET_MS;
  const searchDeps: SearchDeps = {
    ...deps,
    sleep: deps.sleep ?? abortableSleep,
    deadline: deps.deadline ?? abortableSleep,
  };
  const done = new AbortController();
  try {
    const outcome = await Promise.race([
      search(input, searchDeps, done.signal),
      searchDeps.deadline(budgetMs, done.signal).then((): typeof TIMED_OUT => TIMED_OUT),
    ]);
    if (outcome !== TIMED_OUT) return outcome;
    deps.log.warn('root cause not read within its budget', {
      applicationName: input.applicationKey,
      budgetMs,
    });
    return {
      note: `Root cause not read: CloudWatch Logs did not answer within ${budgetMs / 1000} s, and the watchdog does not hold the incident up for it. Look in ${input.logGroupName} around ${new Date(input.onsetMs).toISOString()}.`,
    };
  } catch (e) {
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    deps.log.warn('root cause not read', { applicationName: input.applicationKey, error: message });
    return { note: `Root cause not read: ${message}.` };
  } finally {
    // Cancels the budget's timer, and every CloudWatch Logs call still running after the budget (abortSignal).
    done.abort(new RootCauseBudgetError(budgetMs));
  }
}

const TIMED_OUT = Symbol('timed out');

/** The reason a root-cause read's calls are aborted with: its budget is spent (or the read is over). */
export class RootCauseBudgetError extends Error {
  constructor(budgetMs: number) {
    super(`the root-cause read's ${budgetMs} ms budget is over`);
    this.name = 'RootCauseBudgetError';
  }
}

/**
 * Waits `ms` of wall-clock time (setTimeout); rejects with `signal.reason` as soon as `signal` is aborted (the timer
 * is then cleared, so nothing keeps the process alive).
 */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

type SearchDeps = RootCauseDeps & Required<Pick<RootCauseDeps, 'sleep' | 'deadline'>>;

async function search(input: RootCauseInput, deps: SearchDeps, signal: AbortSignal): Promise<RootCauseOutcome> {
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
  const logs = deps.logs;
  const stream = own?.logStreamName;
  const fromInsights = await withinBudget(
    ROOT_CAUSE_INSIGHTS_BUDGET_MS,
    signal,
    deps,
    (insights) => queryInsights(logs, group, startMs, now, stream, deps, insights),
    () => {
      deps.log.info('Logs Insights query not complete within its budget; reading FilterLogEvents', {
        logGroupName: group,
        budgetMs: ROOT_CAUSE_INSIGHTS_BUDGET_MS,
      });
      return undefined;
    },
  );
  const lines =
    fromInsights ??
    (
      await logs.filterLogEvents(
        group,
        startMs,
        now,
        ROOT_CAUSE_FILTER_PATTERN,
        ROOT_CAUSE_LIMIT,
        stream ? [stream] : undefined,
        { abortSignal: signal },
      )
    ).sort((a, b) => a.timestampMs - b.timestampMs);
  const source: RootCause['source'] = fromInsights ? 'logs-insights' : 'filter-log-events';
  // Every line is looked at: a line that is not a failure record, or names no exception class, does not end the search.
  for (const line of lines) {
    if (!isFailureRecord(line.message)) continue;
    const found = parseException(line.message);
    if (found) {
      return { rootCause: { ...found, logGroupName: group, atMs: line.timestampMs, source } };
    }
  }
  return { note: `No exception found in ${group} from ${window} (${source}).` };
}

/**
 * Runs `work` with a signal aborted after `ms` (or when `outer` is aborted); past `ms`, `onTimeout`'s value is
 * returned and `work`'s calls are aborted.
 */
async function withinBudget<T>(
  ms: number,
  outer: AbortSignal,
  deps: SearchDeps,
  work: (signal: AbortSignal) => Promise<T>,
  onTimeout: () => T,
): Promise<T> {
  const phase = new AbortController();
  const stop = () => phase.abort(outer.reason);
  outer.addEventListener('abort', stop, { once: true });
  try {
    const out = await Promise.race([
      work(phase.signal),
      deps.deadline(ms, phase.signal).then((): typeof TIMED_OUT => TIMED_OUT),
    ]);
    return out === TIMED_OUT ? onTimeout() : (out as T);
  } finally {
    outer.removeEventListener('abort', stop);
    phase.abort(new RootCauseBudgetError(ms));
  }
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
  deps: SearchDeps,
  signal: AbortSignal,
): Promise<LogEvent[] | undefined> {
  const call = { abortSignal: signal };
  const queryId = await logs.startQuery(group, startMs, endMs, rootCauseQuery(stream), ROOT_CAUSE_LIMIT, call);
  for (let poll = 0; poll < ROOT_CAUSE_POLLS; poll++) {
    if (poll > 0) await deps.sleep(ROOT_CAUSE_POLL_INTERVAL_MS, signal);
    const out = await logs.getQueryResults(queryId, call);
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
 * Whether a log line may hold the failure: an MSF JSON record whose `messageType` is ERROR or that carries
 * `throwableInformation`; any line that is not such a JSON record (a plain-text line, a record cut short) is looked at
 * too, by {@link parseException}. A WARN/INFO record without a stack trace is not (a handled exception, a class named
 * `…ErrorHandler`).
 */
export function isFailureRecord(line: string): boolean {
  const record = parseJson(line);
  if (!record || typeof record.messageType !== 'string') return true;
  return record.messageType === 'ERROR' || record.throwableInformation !== undefined;
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
