import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { type DrivableClock, isDrivableClock, isSandboxSpeed, MAX_SANDBOX_SPEED } from '#sandbox/clock.ts';
import { cloudWatchQueryErrorCode } from '#sandbox/emulator/cloudwatch-wire.ts';
import { EmulatorServiceError } from '#sandbox/emulator/errors.ts';
import type { Clock } from '#shared/clock.ts';

/**
 * The emulator's HTTP front: one node:http server on 127.0.0.1 that speaks the two AWS JSON protocols the watchdog's
 * SDK v3 clients use, routed by the `X-Amz-Target` header:
 * - `KinesisAnalytics_20180523.<Operation>`: Kinesis Analytics V2 (MSF), awsJson1_1;
 * - `GraniteServiceVersion20100801.<Operation>`: CloudWatch, awsJson1_0 in query-compatible mode.
 * Errors are HTTP 400 (500 for ServiceUnavailableException and internal faults) with a JSON body
 * `{"__type": "<ExceptionName>", "message": "..."}`; CloudWatch errors also carry `x-amzn-query-error: <Code>;Sender`.
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
  /** `kinesisanalytics` (MSF) or `monitoring` (CloudWatch), as in IAM action prefixes. */
  service: 'kinesisanalytics' | 'monitoring';
  /** Operation name from X-Amz-Target, e.g. `UpdateApplication`. */
  operation: string;
  /** Decoded JSON request body (`{}` when empty or not JSON). */
  input: unknown;
  /** The `user-agent` header: SDK clients add their `customUserAgent` to it. */
  userAgent: string;
  /** Exception name when the call failed, e.g. `ResourceInUseException`. */
  errorType?: string;
}

/** What the server needs from the emulator behind it. */
export interface EmulatorServerHandlers {
  readonly clock: Clock;
  /** Called at the start of every request, before routing: brings the world up to `clock.now()`. */
  advance(): void;
  /** Runs one Kinesis Analytics V2 operation; throws EmulatorServiceError. */
  kinesisAnalytics(operation: string, input: unknown): unknown;
  /** Runs one CloudWatch operation; throws EmulatorServiceError. */
  cloudWatch(operation: string, input: unknown): unknown;
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
interface SandboxAnswer {
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
function answerSandbox(
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
    const operation = isCloudWatch
      ? target.slice(CLOUDWATCH_TARGET_PREFIX.length)
      : isMsf
        ? target.slice(KINESIS_ANALYTICS_TARGET_PREFIX.length)
        : target;
    let input: unknown = {};
    let parseError: string | undefined;
    if (raw.trim() !== '') {
      try {
        input = JSON.parse(raw);
      } catch (cause) {
        parseError = (cause as Error).message;
      }
    }
    const call: RecordedCall = {
      atMs: handlers.clock.now(),
      service: isCloudWatch ? 'monitoring' : 'kinesisanalytics',
      operation,
      input,
      userAgent: header(req, 'user-agent') ?? '',
    };
    handlers.record(call);
    requestSeq += 1;
    const contentType = isCloudWatch ? 'application/x-amz-json-1.0' : 'application/x-amz-json-1.1';
    const requestId = `emulator-${String(requestSeq).padStart(8, '0')}`;
    try {
      handlers.advance();
      if (parseError !== undefined) throw new EmulatorServiceError('SerializationException', parseError);
      let output: unknown;
      if (isMsf) output = handlers.kinesisAnalytics(operation, input);
      else if (isCloudWatch) output = handlers.cloudWatch(operation, input);
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
