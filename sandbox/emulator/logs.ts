import { EmulatorServiceError } from '#sandbox/emulator/errors.ts';
import type { Clock } from '#shared/clock.ts';

/**
 * The emulator's CloudWatch Logs (API version 2014-03-28, awsJson1_1, X-Amz-Target `Logs_20140328.<Operation>`):
 * the three operations the watchdog reads a restart loop's root cause with — StartQuery and GetQueryResults
 * (CloudWatch Logs Insights) and FilterLogEvents — over log groups whose events the MSF emulator writes (a job's
 * failures, see msf.ts). Shapes and errors follow the botocore `logs` model; the API reference is
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/.
 *
 * Assumptions (docs/emulator-fidelity.md, "CloudWatch Logs"):
 * - a query is run when StartQuery is called; its first `queryRunningPolls` GetQueryResults (default
 *   {@link DEFAULT_QUERY_RUNNING_POLLS}) answer `Running` with no results, the next ones `Complete` (AWS runs it
 *   asynchronously, typically for a second or more; while Running it "returns only partial results");
 * - Logs Insights is a subset: `fields`, `filter` (terms joined by `or`: `FIELD like /regex/`, `FIELD like "text"`,
 *   `FIELD = "text"`, `ispresent(FIELD)`), `sort FIELD asc|desc` and `limit N`; any other command is a
 *   MalformedQueryException; a JSON message's fields are discovered (nested objects as `a.b`, arrays as `a.0`), values
 *   as text;
 * - FilterLogEvents' filter pattern is a subset of the unstructured-log syntax: terms (all must appear), `?term`s (one
 *   must appear) and `"quoted phrases"`, case-sensitive; a JSON (`{ … }`) or space-delimited (`[ … ]`) pattern is an
 *   InvalidParameterException naming the limitation;
 * - an event is ingested at its timestamp (no delivery delay).
 */

/** X-Amz-Target prefix of CloudWatch Logs (awsJson1_1), from the model's `metadata.targetPrefix`. */
export const LOGS_TARGET_PREFIX = 'Logs_20140328.';

/** Where the MSF emulator writes an application's log lines. */
export interface ApplicationLogSink {
  /** Creates the log group and stream if missing (what the MSF console does for a new application). */
  ensureStream(logGroupName: string, logStreamName: string): void;
  /**
   * Appends one event at `timestampMs` (epoch ms). Dropped when the group or stream does not exist: MSF cannot
   * deliver to a log stream that is not there.
   */
  put(logGroupName: string, logStreamName: string, timestampMs: number, message: string): void;
}

interface StoredEvent {
  readonly logStreamName: string;
  readonly timestamp: number;
  readonly ingestionTime: number;
  readonly message: string;
  readonly eventId: string;
}

interface LogGroup {
  readonly name: string;
  readonly streams: Map<string, StoredEvent[]>;
}

interface QueryRecord {
  /** GetQueryResults calls that still answer Running. */
  runningPolls: number;
  readonly results: Array<Array<{ field: string; value: string }>>;
  readonly statistics: { recordsMatched: number; recordsScanned: number; bytesScanned: number };
}

/** One parsed Logs Insights command of the supported subset. */
type Command =
  | { kind: 'fields'; fields: string[] }
  | { kind: 'filter'; test: (row: Record<string, string>) => boolean }
  | { kind: 'sort'; field: string; descending: boolean }
  | { kind: 'limit'; n: number };

type Obj = Record<string, unknown>;

/** Most events one FilterLogEvents or GetQueryResults returns: EventsLimit max 10000 (model). */
const MAX_EVENTS = 10_000;

/**
 * GetQueryResults calls that answer `Running` before a query is `Complete`, by default: one, so a reader that polls
 * is exercised as in AWS, where a query over a few minutes of one log group typically completes in about a second
 * (assumption, docs/emulator-fidelity.md).
 */
export const DEFAULT_QUERY_RUNNING_POLLS = 1;

/** CloudWatch Logs of one account. */
export class LogsEmulator implements ApplicationLogSink {
  readonly #clock: Clock;
  readonly #region: string;
  readonly #accountId: string;
  readonly #groups = new Map<string, LogGroup>();
  readonly #queries = new Map<string, QueryRecord>();
  readonly #queryRunningPolls: number;
  #seq = 0;

  /**
   * @param opts.queryRunningPolls GetQueryResults calls of each query that answer `Running` before it is `Complete`
   *   (count, 0 = Complete at once). @default {@link DEFAULT_QUERY_RUNNING_POLLS}
   * @throws RangeError when queryRunningPolls is not a whole number ≥ 0.
   */
  constructor(opts: { clock: Clock; region: string; accountId: string; queryRunningPolls?: number }) {
    this.#clock = opts.clock;
    this.#region = opts.region;
    this.#accountId = opts.accountId;
    const polls = opts.queryRunningPolls ?? DEFAULT_QUERY_RUNNING_POLLS;
    if (!Number.isInteger(polls) || polls < 0) {
      throw new RangeError(`queryRunningPolls must be a whole number of 0 or more (got ${polls})`);
    }
    this.#queryRunningPolls = polls;
  }

  ensureStream(logGroupName: string, logStreamName: string): void {
    const group = this.#groups.get(logGroupName) ?? { name: logGroupName, streams: new Map() };
    this.#groups.set(logGroupName, group);
    if (!group.streams.has(logStreamName)) group.streams.set(logStreamName, []);
  }

  put(logGroupName: string, logStreamName: string, timestampMs: number, message: string): void {
    const stream = this.#groups.get(logGroupName)?.streams.get(logStreamName);
    if (!stream) return;
    this.#seq += 1;
    stream.push({
      logStreamName,
      timestamp: timestampMs,
      ingestionTime: timestampMs,
      message,
      eventId: String(this.#seq).padStart(56, '0'),
    });
  }

  /** The events of a log group (every stream), oldest first: for tests and the drill. */
  eventsOf(logGroupName: string): Array<{ logStreamName: string; timestamp: number; message: string }> {
    return this.#events(this.#groups.get(logGroupName));
  }

  /**
   * Runs one operation.
   * @throws EmulatorServiceError with the model's exception name (InvalidParameterException, ResourceNotFoundException,
   *   MalformedQueryException), or UnknownOperationException for an operation the emulator does not serve.
   */
  handle(operation: string, input: unknown): unknown {
    const body = (typeof input === 'object' && input !== null ? input : {}) as Obj;
    switch (operation) {
      case 'StartQuery':
        return this.#startQuery(body);
      case 'GetQueryResults':
        return this.#getQueryResults(body);
      case 'FilterLogEvents':
        return this.#filterLogEvents(body);
      default:
        throw new EmulatorServiceError(
          'UnknownOperationException',
          `The emulator's CloudWatch Logs serves StartQuery, GetQueryResults and FilterLogEvents, not ${operation}`,
        );
    }
  }

  /**
   * StartQuery (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartQuery.html): exactly one
   * of logGroupName, logGroupNames, logGroupIdentifiers; startTime and endTime in epoch SECONDS, the range inclusive
   * ("the specified end time is included in the query"); `limit` 1–10000 (EventsLimit). The query runs now.
   */
  #startQuery(body: Obj): unknown {
    const names = this.#queryGroups(body);
    const startTime = requiredInteger(body, 'startTime');
    const endTime = requiredInteger(body, 'endTime');
    if (endTime < startTime) invalidParameter('endTime must not be before startTime');
    const queryString = body.queryString;
    if (typeof queryString !== 'string') invalidParameter('queryString is required');
    if (queryString.length > 10_000) invalidParameter('queryString must be at most 10000 characters');
    const limit = optionalLimit(body);
    const commands = parseQuery(queryString);
    const groups = names.map((name) => {
      const group = this.#groups.get(name);
      if (!group)
        throw new EmulatorServiceError('ResourceNotFoundException', 'The specified log group does not exist.');
      return group;
    });
    const fromMs = startTime * 1000;
    const toMs = endTime * 1000 + 999;
    const scanned = groups.flatMap((g) =>
      this.#events(g)
        .filter((e) => e.timestamp >= fromMs && e.timestamp <= toMs)
        .map((e) => this.#fieldsOf(g.name, e)),
    );
    let rows = scanned;
    let shown: string[] | undefined;
    let max = limit ?? MAX_EVENTS;
    for (const c of commands) {
      if (c.kind === 'fields') shown = [...(shown ?? []), ...c.fields];
      else if (c.kind === 'filter') rows = rows.filter((r) => c.test(r));
      else if (c.kind === 'sort') rows = [...rows].sort((a, b) => compareField(a, b, c.field, c.descending));
      else max = Math.min(max, c.n);
    }
    const matched = rows.length;
    const results = rows.slice(0, max).map((r) => {
      const names = shown ?? ['@timestamp', '@message'];
      return [...names.map((field) => ({ field, value: r[field] ?? '' })), { field: '@ptr', value: r['@ptr'] ?? '' }];
    });
    this.#seq += 1;
    const queryId = `${String(this.#seq).padStart(8, '0')}-emulator-query-${this.#clock.now().toString(16)}`;
    this.#queries.set(queryId, {
      runningPolls: this.#queryRunningPolls,
      results,
      statistics: {
        recordsMatched: matched,
        recordsScanned: scanned.length,
        bytesScanned: scanned.reduce((n, r) => n + Buffer.byteLength(r['@message'] ?? ''), 0),
      },
    });
    return { queryId };
  }

  /** StartQuery's log groups: exactly one of the three parameters (the model's note on StartQueryRequest). */
  #queryGroups(body: Obj): string[] {
    const given = ['logGroupName', 'logGroupNames', 'logGroupIdentifiers'].filter((k) => body[k] !== undefined);
    if (given.length !== 1) {
      invalidParameter(
        'A StartQuery operation must include exactly one of logGroupName, logGroupNames or logGroupIdentifiers',
      );
    }
    if (typeof body.logGroupName === 'string') return [body.logGroupName];
    const list = body.logGroupNames ?? body.logGroupIdentifiers;
    if (!Array.isArray(list) || list.length === 0 || list.some((v) => typeof v !== 'string')) {
      invalidParameter(`${given[0]} must be a non-empty list of log group names`);
    }
    return (list as string[]).map((v) => this.#groupName(v));
  }

  /** A log group name from a name or a log group ARN (`arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]`). */
  #groupName(identifier: string): string {
    const m = /^arn:[^:]+:logs:[^:]*:\d*:log-group:([^:]+)(?::\*)?$/.exec(identifier);
    return m?.[1] ?? identifier;
  }

  /**
   * GetQueryResults (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetQueryResults.html):
   * `results` (rows of field/value pairs), `statistics`, `status`. An unknown queryId is ResourceNotFoundException.
   * While the query is Running, no rows yet (the API returns "only partial results" then).
   */
  #getQueryResults(body: Obj): unknown {
    const queryId = body.queryId;
    if (typeof queryId !== 'string' || queryId === '') invalidParameter('queryId is required');
    const query = this.#queries.get(queryId);
    if (!query) throw new EmulatorServiceError('ResourceNotFoundException', `Query ${queryId} does not exist.`);
    if (query.runningPolls > 0) {
      query.runningPolls -= 1;
      return {
        queryLanguage: 'CWLI',
        results: [],
        statistics: { recordsMatched: 0, recordsScanned: 0, bytesScanned: 0 },
        status: 'Running',
      };
    }
    return { queryLanguage: 'CWLI', results: query.results, statistics: query.statistics, status: 'Complete' };
  }

  /**
   * FilterLogEvents (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html):
   * logGroupName or logGroupIdentifier, not both; logStreamNames or logStreamNamePrefix, not both; startTime/endTime
   * epoch MS; `limit` 1–10000 (default 10000); `nextToken` pages. Events oldest first.
   */
  #filterLogEvents(body: Obj): unknown {
    const hasName = body.logGroupName !== undefined;
    const hasIdentifier = body.logGroupIdentifier !== undefined;
    if (hasName === hasIdentifier) {
      invalidParameter('You must include either logGroupIdentifier or logGroupName, but not both');
    }
    const raw = hasName ? body.logGroupName : body.logGroupIdentifier;
    if (typeof raw !== 'string') invalidParameter('logGroupName must be a string');
    if (body.logStreamNames !== undefined && body.logStreamNamePrefix !== undefined) {
      invalidParameter('logStreamNames and logStreamNamePrefix cannot both be specified');
    }
    const group = this.#groups.get(this.#groupName(raw));
    if (!group) throw new EmulatorServiceError('ResourceNotFoundException', 'The specified log group does not exist.');
    const streams = body.logStreamNames;
    if (streams !== undefined && (!Array.isArray(streams) || streams.some((s) => typeof s !== 'string'))) {
      invalidParameter('logStreamNames must be a list of log stream names');
    }
    const prefix = typeof body.logStreamNamePrefix === 'string' ? body.logStreamNamePrefix : undefined;
    const startTime = optionalInteger(body, 'startTime');
    const endTime = optionalInteger(body, 'endTime');
    const pattern = typeof body.filterPattern === 'string' ? body.filterPattern : '';
    const matches = filterPatternTest(pattern);
    const limit = optionalLimit(body) ?? MAX_EVENTS;
    const offset = this.#offsetOf(body.nextToken);
    const matched = this.#events(group).filter(
      (e) =>
        (startTime === undefined || e.timestamp >= startTime) &&
        (endTime === undefined || e.timestamp <= endTime) &&
        (streams === undefined || (streams as string[]).includes(e.logStreamName)) &&
        (prefix === undefined || e.logStreamName.startsWith(prefix)) &&
        matches(e.message),
    );
    const page = matched.slice(offset, offset + limit);
    const next = offset + page.length;
    return {
      events: page,
      ...(next < matched.length ? { nextToken: Buffer.from(`offset:${next}`).toString('base64') } : {}),
    };
  }

  #offsetOf(token: unknown): number {
    if (token === undefined) return 0;
    const m = typeof token === 'string' ? /^offset:(\d+)$/.exec(Buffer.from(token, 'base64').toString('utf8')) : null;
    if (!m?.[1]) invalidParameter('The specified nextToken is not valid');
    return Number(m[1]);
  }

  #events(group: LogGroup | undefined): StoredEvent[] {
    if (!group) return [];
    return [...group.streams.values()]
      .flat()
      .sort((a, b) => a.timestamp - b.timestamp || (a.eventId < b.eventId ? -1 : 1));
  }

  /**
   * The discovered fields of an event (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_AnalyzeLogData-discoverable-fields.html):
   * `@timestamp` as `yyyy-MM-dd HH:mm:ss.SSS` (UTC, as GetQueryResults shows it), `@message`, `@logStream`,
   * `@log` (`ACCOUNT:GROUP`), `@ingestionTime`, `@ptr`; and, of a JSON message, its fields (nested objects flattened
   * with dots, arrays with their index: `a.b`, `a.0`), values as text.
   */
  #fieldsOf(groupName: string, e: StoredEvent): Record<string, string> {
    const time = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
    return {
      ...jsonFields(e.message),
      '@timestamp': time(e.timestamp),
      '@message': e.message,
      '@logStream': e.logStreamName,
      '@log': `${this.#accountId}:${groupName}`,
      '@ingestionTime': time(e.ingestionTime),
      '@ptr': Buffer.from(`${this.#region}/${groupName}/${e.eventId}`).toString('base64'),
    };
  }
}

/** The discovered fields of a JSON object message, flattened (`a.b`, `a.0`); {} for any other message. */
function jsonFields(message: string): Record<string, string> {
  if (!message.trimStart().startsWith('{')) return {};
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return {};
  }
  const out: Record<string, string> = {};
  const walk = (v: unknown, path: string) => {
    if (Array.isArray(v)) {
      for (const [i, item] of v.entries()) walk(item, `${path}.${i}`);
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, item] of Object.entries(v)) walk(item, path === '' ? k : `${path}.${k}`);
    } else if (path !== '') out[path] = v === null ? '' : String(v);
  };
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) walk(value, '');
  return out;
}

function invalidParameter(message: string): never {
  throw new EmulatorServiceError('InvalidParameterException', message);
}

function requiredInteger(body: Obj, field: string): number {
  const value = body[field];
  if (value === undefined) invalidParameter(`${field} is required`);
  return integer(value, field);
}

function optionalInteger(body: Obj, field: string): number | undefined {
  return body[field] === undefined ? undefined : integer(body[field], field);
}

function integer(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    invalidParameter(`${field} must be a non-negative whole number (got ${JSON.stringify(value)})`);
  }
  return value;
}

function optionalLimit(body: Obj): number | undefined {
  const limit = optionalInteger(body, 'limit');
  if (limit !== undefined && (limit < 1 || limit > MAX_EVENTS)) {
    invalidParameter(`limit must be from 1 to ${MAX_EVENTS} (got ${limit})`);
  }
  return limit;
}

function compareField(a: Record<string, string>, b: Record<string, string>, field: string, desc: boolean): number {
  const x = a[field] ?? '';
  const y = b[field] ?? '';
  const order = x < y ? -1 : x > y ? 1 : 0;
  return desc ? -order : order;
}

function malformed(message: string): never {
  throw new EmulatorServiceError('MalformedQueryException', message);
}

/** Splits a query on `|` outside `/regex/` and `"strings"`. */
function splitCommands(query: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quote: string | undefined;
  for (const ch of query) {
    if (quote) {
      if (ch === quote) quote = undefined;
      current += ch;
    } else if (ch === '"' || ch === "'" || ch === '/') {
      quote = ch;
      current += ch;
    } else if (ch === '|') {
      parts.push(current.trim());
      current = '';
    } else {
      current += ch;
    }
  }
  if (quote) malformed(`unterminated ${quote} in the query`);
  parts.push(current.trim());
  return parts.filter((p) => p !== '');
}

const FIELD = String.raw`@?[A-Za-z_][\w.]*`;

/**
 * Parses the supported subset of the Logs Insights query language
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html).
 * @throws EmulatorServiceError MalformedQueryException for anything else.
 */
export function parseQuery(query: string): Command[] {
  const commands = splitCommands(query);
  if (commands.length === 0) malformed('the query is empty');
  return commands.map((text): Command => {
    let m = /^fields\s+(.+)$/s.exec(text);
    if (m?.[1]) {
      const fields = m[1].split(',').map((f) => f.trim());
      if (fields.some((f) => !new RegExp(`^${FIELD}$`).test(f))) malformed(`unsupported fields list: ${text}`);
      return { kind: 'fields', fields };
    }
    m = /^filter\s+(.+)$/s.exec(text);
    if (m?.[1]) {
      const terms = splitOr(m[1]).map((term) => filterTerm(term, text));
      return { kind: 'filter', test: (row) => terms.some((t) => t(row)) };
    }
    m = new RegExp(`^sort\\s+(${FIELD})(?:\\s+(asc|desc))?$`, 'i').exec(text);
    if (m?.[1]) return { kind: 'sort', field: m[1], descending: (m[2] ?? 'desc').toLowerCase() === 'desc' };
    m = /^limit\s+(\d+)$/.exec(text);
    if (m?.[1]) {
      const n = Number(m[1]);
      if (n < 1 || n > MAX_EVENTS) malformed(`limit must be from 1 to ${MAX_EVENTS}`);
      return { kind: 'limit', n };
    }
    return malformed(
      `the emulator's Logs Insights supports fields, filter (like /regex/, like "text", = "text", ispresent(FIELD), or), sort and limit; not: ${text}`,
    );
  });
}

/** Splits a filter's expression on ` or ` outside `/regex/`, `"strings"` and parentheses. */
function splitOr(expression: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quote: string | undefined;
  let depth = 0;
  for (let i = 0; i < expression.length; i++) {
    const ch = expression[i] as string;
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'" || ch === '/') {
      quote = ch;
    } else if (ch === '(') {
      depth += 1;
    } else if (ch === ')') {
      depth -= 1;
    } else if (depth === 0 && /^\s+or\s+/i.test(expression.slice(i)) && /\s/.test(ch)) {
      const sep = /^\s+or\s+/i.exec(expression.slice(i))?.[0] ?? ' ';
      parts.push(current.trim());
      current = '';
      i += sep.length - 1;
      continue;
    }
    current += ch;
  }
  parts.push(current.trim());
  return parts;
}

/** One term of a filter: `FIELD like /re/`, `FIELD like "text"`, `FIELD = "text"` or `ispresent(FIELD)`. */
function filterTerm(term: string, command: string): (row: Record<string, string>) => boolean {
  let m = new RegExp(`^(${FIELD})\\s+like\\s+/(.*)/([i]?)$`, 's').exec(term);
  if (m?.[1] && m[2] !== undefined) {
    const field = m[1];
    let re: RegExp;
    try {
      re = new RegExp(m[2], m[3] ?? '');
    } catch (e) {
      malformed(`invalid regular expression in ${command}: ${(e as Error).message}`);
    }
    return (row) => re.test(row[field] ?? '');
  }
  m = new RegExp(`^(${FIELD})\\s+(like|=)\\s+(?:"([^"]*)"|'([^']*)')$`, 's').exec(term);
  if (m?.[1]) {
    const field = m[1];
    const value = m[3] ?? m[4] ?? '';
    return m[2] === 'like' ? (row) => (row[field] ?? '').includes(value) : (row) => row[field] === value;
  }
  m = new RegExp(`^ispresent\\(\\s*(${FIELD})\\s*\\)$`, 'i').exec(term);
  if (m?.[1]) {
    const field = m[1];
    return (row) => row[field] !== undefined;
  }
  return malformed(
    `the emulator's Logs Insights supports filter terms like /regex/, like "text", = "text" and ispresent(FIELD), joined by or; not: ${command}`,
  );
}

/**
 * A matcher for a FilterLogEvents filter pattern of the supported subset (unstructured-log terms,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html): every plain term must occur,
 * and at least one `?term` when there are any. Empty matches every event.
 * @throws EmulatorServiceError InvalidParameterException for a JSON or space-delimited pattern.
 */
export function filterPatternTest(pattern: string): (message: string) => boolean {
  const trimmed = pattern.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    invalidParameter(
      `the emulator's FilterLogEvents supports term patterns only (terms, ?terms, "phrases"), not: ${pattern}`,
    );
  }
  const tokens = trimmed.match(/\??"[^"]*"|\S+/g) ?? [];
  const all: string[] = [];
  const any: string[] = [];
  for (const token of tokens) {
    const optional = token.startsWith('?');
    const term = (optional ? token.slice(1) : token).replace(/^"(.*)"$/, '$1');
    (optional ? any : all).push(term);
  }
  return (message) =>
    all.every((t) => message.includes(t)) && (any.length === 0 || any.some((t) => message.includes(t)));
}
