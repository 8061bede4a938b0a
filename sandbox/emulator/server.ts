import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { type DrivableClock, isDrivableClock, isSandboxSpeed, MAX_SANDBOX_SPEED } from '#sandbox/clock.ts';
import { cloudWatchQueryErrorCode } from '#sandbox/emulator/cloudwatch-wire.ts';
import { EmulatorServiceError } from '#sandbox/emulator/errors.ts';
import { LOGS_TARGET_PREFIX } from '#sandbox/emulator/logs.ts';
import { SSM_TARGET_PREFIX } from '#sandbox/emulator/ssm.ts';
import { accessKeyIdOf, type Caller, stsErrorXml } from '#sandbox/emulator/sts.ts';
import { TAGGING_TARGET_PREFIX } from '#sandbox/emulator/tagging.ts';
import type { ThrottledService } from '#sandbox/emulator/throttle.ts';
import type { Clock } from '#shared/clock.ts';

/**
 * The emulator's HTTP front: one node:http server on 127.0.0.1 that speaks the AWS protocols the watchdog's SDK v3
 * clients use, routed by the `X-Amz-Target` header:
 * - `KinesisAnalytics_20180523.<Operation>`: Kinesis Analytics V2 (MSF), awsJson1_1;
 * - `GraniteServiceVersion20100801.<Operation>`: CloudWatch, awsJson1_0 in query-compatible mode;
 * - `ResourceGroupsTaggingAPI_20170126.<Operation>`: the Resource Groups Tagging API, awsJson1_1;
 * - `Logs_20140328.<Operation>`: CloudWatch Logs, awsJson1_1 (logs.ts);
 * - `AmazonSSM.<Operation>`: AWS Systems Manager (GetCalendarState only), awsJson1_1 (ssm.ts);
 * - no X-Amz-Target, `POST /` with a form-encoded body `Action=<Operation>&Version=2011-06-15`: STS (awsQuery, XML).
 * JSON errors are HTTP 400 (500 for ServiceUnavailableException and internal faults; the error's own status when it
 * has one) with a JSON body `{"__type": "<ExceptionName>", "message": "..."}`; CloudWatch errors also carry
 * `x-amzn-query-error: <Code>;Sender`. STS errors are the awsQuery XML `<ErrorResponse>`.
 *
 * Every request is answered for a caller ({@link Caller}: the account whose world answers), resolved from the access key
 * id of its SigV4 `Authorization` header (see sts.ts), and may be throttled per account and service first.
 *
 * Besides AWS, one sandbox route, `/sandbox/clock` (see {@link SANDBOX_CLOCK_PATH}), served only when the clock is a
 * {@link DrivableClock} (as in `flink-watchdog sandbox`; the drill's clock is driven by the drill alone). A request is
 * an AWS request when it carries `X-Amz-Target` (the SDKs and the AWS CLI send `POST /` with it), whatever its path;
 * without it, `/sandbox/...` paths are sandbox routes and any other path but `/` is 404.
 */

/** X-Amz-Target prefix of Kinesis Analytics V2 (awsJson1_1). */
export const KINESIS_ANALYTICS_TARGET_PREFIX = 'KinesisAnalytics_20180523.';
/** X-Amz-Target prefix of CloudWatch (awsJson1_0, query-compatible). */
export const CLOUDWATCH_TARGET_PREFIX = 'GraniteServiceVersion20100801.';

/** One API request the emulator received, in arrival order. */
export interface RecordedCall {
  /** Virtual time (epoch ms, from the shared clock) at which the request arrived. */
  atMs: number;
  /**
   * `kinesisanalytics` (MSF), `monitoring` (CloudWatch), `tagging` (Resource Groups Tagging API) or `sts`, as in
   * their endpoint prefixes.
   */
  service: 'kinesisanalytics' | 'monitoring' | 'tagging' | 'sts' | 'logs' | 'ssm';
  /** 12-digit account the request was answered in (the caller's); absent when the caller could not be resolved. */
  accountId?: string;
  /** Access key id of the request's SigV4 signature ('' when unsigned). */
  accessKeyId?: string;
  /** Operation name from X-Amz-Target, e.g. `UpdateApplication`. */
  operation: string;
  /** Decoded JSON request body (`{}` when empty or not JSON). */
  input: unknown;
  /** The `user-agent` header: SDK clients add their `customUserAgent` to it. */
  userAgent: string;
  /**
   * Exception name when the call failed, e.g. `ResourceInUseException`; a throttled request has the service's
   * throttling error (`ThrottlingException`, or `ThrottledException` for the Tagging API, `Throttling` for STS).
   */
  errorType?: string;
}

/** What the server needs from the emulator behind it. */
export interface EmulatorServerHandlers {
  readonly clock: Clock;
  /** Called at the start of every request, before routing: brings the world up to `clock.now()`. */
  advance(): void;
  /** Runs one Kinesis Analytics V2 operation for `caller`; throws EmulatorServiceError. */
  kinesisAnalytics(operation: string, input: unknown, caller: Caller): unknown;
  /** Runs one CloudWatch operation for `caller`; throws EmulatorServiceError. */
  cloudWatch(operation: string, input: unknown, caller: Caller): unknown;
  /** Runs one Resource Groups Tagging API operation for `caller`. @default UnknownOperationException */
  tagging?(operation: string, input: unknown, caller: Caller): unknown;
  /** Runs one CloudWatch Logs operation for `caller`. @default UnknownOperationException */
  logs?(operation: string, input: unknown, caller: Caller): unknown;
  /** Runs one AWS Systems Manager operation for `caller`. @default UnknownOperationException */
  ssm?(operation: string, input: unknown, caller: Caller): unknown;
  /** Runs one STS action (awsQuery) for `caller`, returning the XML document. @default InvalidAction */
  sts?(params: URLSearchParams, caller: Caller, requestId: string): string;
  /**
   * The caller of a request signed with `accessKeyId` ('' when unsigned); throws EmulatorServiceError
   * (ExpiredTokenException) for an expired session. @default every request is one anonymous caller of account ''
   */
  callerOf?(accessKeyId: string): Caller;
  /** Whether a request of `caller` to `service` may proceed (false: throttled). @default always */
  admit?(caller: Caller, service: ThrottledService): boolean;
  /** Receives every request as it arrives; `errorType` is filled in once the request has been answered. */
  record(call: RecordedCall): void;
}

/** A listening emulator server. */
export interface EmulatorServer {
  /** Base URL for SDK clients, e.g. `http://127.0.0.1:41234`. */
  readonly endpoint: string;
  /** Stops listening and closes open (keep-alive) connections. */
  close(): Promise<void>;
}

/** Path of the sandbox clock: `GET` reads it, `POST` advances it or changes its speed. */
export const SANDBOX_CLOCK_PATH = '/sandbox/clock';

/**
 * Largest `advanceSeconds` one `POST /sandbox/clock` accepts: 86,400 s (one virtual day). Assumption, not an AWS
 * rule: the emulator steps through every virtual second of a request before it answers (and answers nothing else
 * meanwhile), so a step is capped at a day, which takes a few wall-clock seconds (a scenario application with nine
 * alarms: about 3 s); advance a longer span in several requests.
 */
export const MAX_ADVANCE_SECONDS = 86_400;

/** Body of every answer of `/sandbox/clock`: the virtual clock after the request. */
export interface SandboxClockState {
  /** Virtual now, ISO-8601 UTC with milliseconds, e.g. `2026-03-02T14:05:00.000Z`. */
  now: string;
  /** Virtual seconds per wall-clock second; 0 = paused. */
  speed: number;
}

/** Body of a sandbox route's error answer (HTTP 400, 404 or 405). */
export interface SandboxErrorBody {
  /** `InvalidClockRequest` (400), `NotFound` (404) or `MethodNotAllowed` (405). */
  error: 'InvalidClockRequest' | 'NotFound' | 'MethodNotAllowed';
  /** The request body field at fault, for a 400. */
  field?: string;
  /** What is wrong and how to fix it. */
  message: string;
}

/** A sandbox route's answer, before it is written. */
export interface SandboxAnswer {
  readonly status: number;
  readonly body: SandboxClockState | SandboxErrorBody;
  readonly headers?: Record<string, string>;
}

/** A validated `POST /sandbox/clock` body. */
interface ClockChange {
  /** Milliseconds to advance by. */
  readonly advanceMs?: number;
  readonly speed?: number;
}

const CLOCK_FIELDS = ['advanceSeconds', 'speed'] as const;
const CLOCK_EXAMPLE = `e.g. {"advanceSeconds": 60} or {"speed": 0}`;

function invalid(field: string, message: string): SandboxAnswer {
  return { status: 400, body: { error: 'InvalidClockRequest', field, message: `${message}; ${CLOCK_EXAMPLE}` } };
}

/**
 * Validates a `POST /sandbox/clock` body: a JSON object with `advanceSeconds` (seconds, 0 to
 * {@link MAX_ADVANCE_SECONDS}), `speed` (0 to MAX_SANDBOX_SPEED) or both, and nothing else.
 * @returns the change, or the 400 answer naming the field at fault.
 */
function parseClockChange(raw: string): ClockChange | SandboxAnswer {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch (cause) {
    return invalid('body', `the body must be a JSON object (${(cause as Error).message})`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return invalid('body', 'the body must be a JSON object');
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).find((key) => !(CLOCK_FIELDS as readonly string[]).includes(key));
  if (unknown !== undefined) {
    return invalid(unknown, `unknown field "${unknown}": the clock accepts only advanceSeconds and speed`);
  }
  if (!('advanceSeconds' in fields) && !('speed' in fields)) {
    return invalid('advanceSeconds', 'advanceSeconds is missing: give the seconds to advance the virtual clock by');
  }
  const change: { advanceMs?: number; speed?: number } = {};
  if ('advanceSeconds' in fields) {
    const seconds = fields.advanceSeconds;
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0 || seconds > MAX_ADVANCE_SECONDS) {
      const why =
        typeof seconds === 'number' && seconds > MAX_ADVANCE_SECONDS
          ? ': advance a longer span in several requests'
          : typeof seconds === 'number' && seconds < 0
            ? ': the virtual clock never goes back'
            : '';
      return invalid(
        'advanceSeconds',
        `advanceSeconds must be a JSON number of seconds from 0 to ${MAX_ADVANCE_SECONDS} (got ${JSON.stringify(seconds)})${why}`,
      );
    }
    change.advanceMs = Math.round(seconds * 1000);
  }
  if ('speed' in fields) {
    const speed = fields.speed;
    if (!isSandboxSpeed(speed)) {
      return invalid(
        'speed',
        `speed must be a JSON number of virtual seconds per wall-clock second from 0 (paused) to ${MAX_SANDBOX_SPEED} (got ${JSON.stringify(speed)})`,
      );
    }
    change.speed = speed;
  }
  return change;
}

function clockState(clock: DrivableClock): SandboxClockState {
  return { now: new Date(clock.now()).toISOString(), speed: clock.speed };
}

/**
 * Answers a sandbox route. `POST /sandbox/clock` changes the speed first, then advances the clock and calls
 * `bringWorldToNow`, which runs every event due up to the new now in order (the emulator steps 1 s at a time).
 * An invalid body changes nothing.
 */
export function answerSandbox(
  method: string,
  path: string,
  raw: string,
  clock: Clock,
  bringWorldToNow: () => void,
): SandboxAnswer {
  if (path !== SANDBOX_CLOCK_PATH) {
    return {
      status: 404,
      body: { error: 'NotFound', message: `no sandbox route ${path}: the sandbox serves ${SANDBOX_CLOCK_PATH}` },
    };
  }
  if (!isDrivableClock(clock)) {
    return {
      status: 404,
      body: {
        error: 'NotFound',
        message: `${SANDBOX_CLOCK_PATH} is not served here: this emulator's clock is driven by its owner (the drill or a test); run \`flink-watchdog sandbox\` for a clock you can drive`,
      },
    };
  }
  if (method === 'GET') {
    bringWorldToNow();
    return { status: 200, body: clockState(clock) };
  }
  if (method !== 'POST') {
    return {
      status: 405,
      headers: { allow: 'GET, POST' },
      body: { error: 'MethodNotAllowed', message: `${method} ${SANDBOX_CLOCK_PATH} is not allowed: use GET or POST` },
    };
  }
  const change = parseClockChange(raw);
  if ('status' in change) return change;
  bringWorldToNow();
  if (change.speed !== undefined) clock.setSpeed(change.speed);
  if (change.advanceMs !== undefined) clock.advance(change.advanceMs);
  bringWorldToNow();
  return { status: 200, body: clockState(clock) };
}

/**
 * The throttling error each service answers with (HTTP 400 for all four):
 * - MSF: `ThrottlingException`, a common error of the Kinesis Analytics V2 API ("The request was denied due to request
 *   throttling", https://docs.aws.amazon.com/managed-flink/latest/apiv2/CommonErrors.html; not in the model);
 * - CloudWatch: query code `Throttling` (CommonErrors of the CloudWatch API,
 *   https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CommonErrors.html), sent as
 *   `__type: ThrottlingException` with `x-amzn-query-error: Throttling;Sender`, so the SDK names it `Throttling`;
 * - Tagging API: `ThrottledException`, declared by GetResources in the model ("The request failed because it exceeded
 *   the allowed frequency of submitted requests");
 * - STS: query code `Throttling` (https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html).
 * The SDK's retry strategy treats all of them as throttling (its list of throttling error codes).
 */
function throttled(service: RecordedCall['service']): EmulatorServiceError {
  const message = 'Rate exceeded';
  switch (service) {
    case 'tagging':
      return new EmulatorServiceError('ThrottledException', message);
    case 'sts':
      return new EmulatorServiceError('Throttling', message);
    default:
      return new EmulatorServiceError('ThrottlingException', message);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      // SDK v3 CloudWatch clients gzip PutMetricData bodies of 10 KB or more (API model: requestcompression gzip).
      try {
        const body = Buffer.concat(chunks);
        resolve((header(req, 'content-encoding') === 'gzip' ? gunzipSync(body) : body).toString('utf8'));
      } catch (error) {
        reject(error);
      }
    });
    req.on('error', reject);
  });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Starts the HTTP server on 127.0.0.1 on a free port.
 * @throws Error when the server cannot listen.
 */
export async function startEmulatorServer(handlers: EmulatorServerHandlers): Promise<EmulatorServer> {
  let requestSeq = 0;

  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const raw = await readBody(req);
    const target = header(req, 'x-amz-target') ?? '';
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (target === '' && path !== '/') {
      const method = req.method ?? 'GET';
      const sandbox = path.startsWith('/sandbox/')
        ? answerSandbox(method, path, raw, handlers.clock, () => handlers.advance())
        : {
            status: 404,
            body: {
              error: 'NotFound',
              message: `no route ${method} ${path}: AWS requests are POST / with X-Amz-Target; the sandbox clock is ${SANDBOX_CLOCK_PATH}`,
            } satisfies SandboxErrorBody,
          };
      res.writeHead(sandbox.status, { 'content-type': 'application/json', ...sandbox.headers });
      res.end(JSON.stringify(sandbox.body));
      return;
    }
    const isCloudWatch = target.startsWith(CLOUDWATCH_TARGET_PREFIX);
    const isMsf = target.startsWith(KINESIS_ANALYTICS_TARGET_PREFIX);
    const isTagging = target.startsWith(TAGGING_TARGET_PREFIX);
    const isLogs = target.startsWith(LOGS_TARGET_PREFIX);
    const isSsm = target.startsWith(SSM_TARGET_PREFIX);
    const isSts = target === '';
    const stsParams = isSts ? new URLSearchParams(raw) : undefined;
    const operation = isCloudWatch
      ? target.slice(CLOUDWATCH_TARGET_PREFIX.length)
      : isMsf
        ? target.slice(KINESIS_ANALYTICS_TARGET_PREFIX.length)
        : isTagging
          ? target.slice(TAGGING_TARGET_PREFIX.length)
          : isLogs
            ? target.slice(LOGS_TARGET_PREFIX.length)
            : isSsm
              ? target.slice(SSM_TARGET_PREFIX.length)
              : isSts
                ? (stsParams?.get('Action') ?? '')
                : target;
    let input: unknown = {};
    let parseError: string | undefined;
    if (isSts) {
      input = Object.fromEntries(stsParams ?? []);
    } else if (raw.trim() !== '') {
      try {
        input = JSON.parse(raw);
      } catch (cause) {
        parseError = (cause as Error).message;
      }
    }
    const accessKeyId = accessKeyIdOf(header(req, 'authorization'));
    const service: RecordedCall['service'] = isCloudWatch
      ? 'monitoring'
      : isTagging
        ? 'tagging'
        : isLogs
          ? 'logs'
          : isSsm
            ? 'ssm'
            : isSts
              ? 'sts'
              : 'kinesisanalytics';
    const call: RecordedCall = {
      atMs: handlers.clock.now(),
      service,
      operation,
      input,
      userAgent: header(req, 'user-agent') ?? '',
      accessKeyId,
    };
    handlers.record(call);
    requestSeq += 1;
    const contentType = isCloudWatch ? 'application/x-amz-json-1.0' : 'application/x-amz-json-1.1';
    const requestId = `emulator-${String(requestSeq).padStart(8, '0')}`;
    try {
      handlers.advance();
      const caller: Caller = handlers.callerOf
        ? handlers.callerOf(accessKeyId)
        : { accountId: '', accessKeyId, arn: '', userId: '' };
      call.accountId = caller.accountId;
      if (handlers.admit && !handlers.admit(caller, service === 'monitoring' ? 'cloudwatch' : service)) {
        throw throttled(service);
      }
      if (parseError !== undefined) throw new EmulatorServiceError('SerializationException', parseError);
      if (isSts && stsParams) {
        if (!handlers.sts) throw new EmulatorServiceError('InvalidAction', `The action ${operation} is not valid`);
        const xml = handlers.sts(stsParams, caller, requestId);
        res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
        res.end(xml);
        return;
      }
      let output: unknown;
      if (isMsf) output = handlers.kinesisAnalytics(operation, input, caller);
      else if (isCloudWatch) output = handlers.cloudWatch(operation, input, caller);
      else if (isTagging && handlers.tagging) output = handlers.tagging(operation, input, caller);
      else if (isLogs && handlers.logs) output = handlers.logs(operation, input, caller);
      else if (isSsm && handlers.ssm) output = handlers.ssm(operation, input, caller);
      else throw new EmulatorServiceError('UnknownOperationException', `Unknown X-Amz-Target "${target}"`);
      res.writeHead(200, { 'content-type': contentType, 'x-amzn-requestid': requestId });
      res.end(JSON.stringify(output ?? {}));
    } catch (error) {
      const serviceError =
        error instanceof EmulatorServiceError
          ? error
          : new EmulatorServiceError('InternalFailure', `emulator fault: ${(error as Error).message}`, 500);
      call.errorType = serviceError.type;
      const status = serviceError.type === 'ServiceUnavailableException' ? 500 : serviceError.status;
      if (isSts) {
        // STS's ExpiredTokenException is HTTP 400 in its model (`error.httpStatusCode`), not the 403 of JSON APIs.
        const stsStatus = serviceError.type === 'ExpiredTokenException' ? 400 : status;
        res.writeHead(stsStatus, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
        res.end(stsErrorXml(serviceError.type, serviceError.message, stsStatus, requestId));
        return;
      }
      const headers: Record<string, string> = {
        'content-type': contentType,
        'x-amzn-requestid': requestId,
        'x-amzn-errortype': serviceError.type,
      };
      if (isCloudWatch) {
        headers['x-amzn-query-error'] =
          `${cloudWatchQueryErrorCode(serviceError.type)};${status >= 500 ? 'Receiver' : 'Sender'}`;
      }
      res.writeHead(status, headers);
      res.end(JSON.stringify({ __type: serviceError.type, message: serviceError.message }));
    }
  };

  const server = await listenLocal(answer);
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/**
 * An HTTP server on 127.0.0.1 (a free port) that answers every request with `answer`; a rejected answer becomes a
 * 500 `InternalFailure` JSON error. Resolves once listening (read the port from `server.address()`).
 * @throws the listen error (e.g. no free port).
 */
export async function listenLocal(
  answer: (req: IncomingMessage, res: ServerResponse) => Promise<unknown>,
): Promise<ReturnType<typeof createServer>> {
  const server = createServer((req, res) => {
    answer(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ __type: 'InternalFailure', message: String(error) }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
