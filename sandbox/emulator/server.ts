import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EmulatorServiceError } from '#sandbox/emulator/errors.ts';
import type { Clock } from '#shared/clock.ts';

/**
 * The emulator's HTTP front: one node:http server on 127.0.0.1 that speaks the two AWS JSON protocols the watchdog's
 * SDK v3 clients use, routed by the `X-Amz-Target` header:
 * - `KinesisAnalytics_20180523.<Operation>`: Kinesis Analytics V2 (MSF), awsJson1_1;
 * - `GraniteServiceVersion20100801.<Operation>`: CloudWatch, awsJson1_0 in query-compatible mode.
 * Errors are HTTP 400 (500 for ServiceUnavailableException and internal faults) with a JSON body
 * `{"__type": "<ExceptionName>", "message": "..."}`; CloudWatch errors also carry `x-amzn-query-error: <Code>;Sender`.
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

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
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
        headers['x-amzn-query-error'] = `${serviceError.type};${status >= 500 ? 'Receiver' : 'Sender'}`;
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
