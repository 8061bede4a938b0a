import { expect } from 'vitest';
import { type CommonErrors, checkError, checkOutput, type ServiceModel } from './model.ts';

/** One HTTP response as the SDK client received it, before deserialisation. */
export interface CapturedResponse {
  /** Operation name, from the SDK command (`DescribeApplicationCommand` → `DescribeApplication`). */
  readonly operation: string;
  /** HTTP status code. */
  readonly status: number;
  /** Response headers, names in lower case. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** Decoded JSON body; `{}` for an empty body; the raw text of an XML body (awsQuery: STS). */
  readonly body: unknown;
}

/** The part of an SDK v3 client this module needs: its middleware stack. */
interface ClientWithMiddleware {
  readonly middlewareStack: {
    add(middleware: unknown, options: { step: 'deserialize'; priority: 'low'; name: string }): void;
  };
}

interface RawHttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: unknown;
}

async function readBytes(body: unknown): Promise<Uint8Array> {
  if (body instanceof Uint8Array) return body;
  if (body === undefined || body === null) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
    chunks.push(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Adds a middleware to an SDK v3 client that records the raw HTTP response of every call (status, headers, JSON body)
 * before the SDK deserialises it, and hands the SDK the same bytes. Runs inside the SDK's deserializer (step
 * `deserialize`, priority `low`), so successful and failed calls are both recorded.
 * @returns the list the responses are appended to, in call order.
 */
export function captureResponses(client: ClientWithMiddleware): CapturedResponse[] {
  const captured: CapturedResponse[] = [];
  client.middlewareStack.add(
    (next: (args: unknown) => Promise<{ response: unknown }>, context: { commandName?: string }) =>
      async (args: unknown) => {
        const result = await next(args);
        const response = result.response as RawHttpResponse;
        const bytes = await readBytes(response.body);
        response.body = bytes;
        const text = Buffer.from(bytes).toString('utf8');
        const headers: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(response.headers ?? {})) headers[k.toLowerCase()] = v;
        captured.push({
          operation: (context.commandName ?? '').replace(/Command$/, ''),
          status: response.statusCode,
          headers,
          body: text.trim() === '' ? {} : text.trimStart().startsWith('<') ? text : (JSON.parse(text) as unknown),
        });
        return result;
      },
    { step: 'deserialize', priority: 'low', name: 'conformanceCaptureRawResponse' },
  );
  return captured;
}

/** The last captured response. @throws Error when nothing was captured. */
export function lastResponse(captured: readonly CapturedResponse[]): CapturedResponse {
  const last = captured[captured.length - 1];
  if (!last) throw new Error('no response was captured: did the SDK call reach the emulator?');
  return last;
}

/**
 * Asserts that the last captured response is a 200 whose body conforms to `operation`'s output shape in `model`.
 * @returns the body, for assertions of behaviour on top.
 */
export function expectConformingOutput(
  model: ServiceModel,
  captured: readonly CapturedResponse[],
  operation: string,
): Record<string, unknown> {
  const response = lastResponse(captured);
  expect(response.operation).toBe(operation);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  expect(checkOutput(model, operation, response.body)).toEqual([]);
  return response.body as Record<string, unknown>;
}

/**
 * Runs `call` (an SDK call expected to fail), then asserts that the wire error conforms to `operation`'s errors in
 * `model` and that its exception is `expected`.
 */
export async function expectConformingError(
  model: ServiceModel,
  captured: readonly CapturedResponse[],
  operation: string,
  expected: string,
  call: () => Promise<unknown>,
  common: CommonErrors = {},
): Promise<void> {
  const before = captured.length;
  await expect(call()).rejects.toMatchObject({ name: expected });
  expect(captured.length).toBe(before + 1);
  const response = lastResponse(captured);
  expect(response.operation).toBe(operation);
  expect(checkError(model, operation, response, common)).toEqual([]);
}
