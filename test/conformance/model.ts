import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

/**
 * A small checker of JSON wire values against an official AWS API model (botocore's `service-2.json`, the same
 * model the AWS SDKs and the AWS CLI are generated from). It knows the JSON protocols the emulator speaks
 * (awsJson1_0 / awsJson1_1): members keyed by their model name, timestamps as epoch seconds, blobs as base64.
 *
 * Rules checked (botocore shape keys): `type`, `required`, `enum`, `min`/`max` (string length in code points, list and
 * map sizes, number ranges), `pattern`, `union` (exactly one member set), and no member that is not in the model.
 * A `pattern` must match the WHOLE value. Smithy's `@pattern` is a search (not implicitly anchored), but the API
 * reference pages print these patterns as the form of the whole value (e.g. ApplicationName `[a-zA-Z0-9_.-]+`), and a
 * value the service accepted as input has that form; the stricter reading is the one that catches emulator mistakes.
 */

/** One shape of a botocore model (only the keys the checker uses). */
export interface ModelShape {
  readonly type:
    | 'structure'
    | 'list'
    | 'map'
    | 'string'
    | 'integer'
    | 'long'
    | 'double'
    | 'float'
    | 'boolean'
    | 'timestamp'
    | 'blob';
  readonly members?: Readonly<Record<string, { readonly shape: string }>>;
  readonly required?: readonly string[];
  readonly member?: { readonly shape: string };
  readonly key?: { readonly shape: string };
  readonly value?: { readonly shape: string };
  readonly enum?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  readonly pattern?: string;
  readonly union?: boolean;
  readonly exception?: boolean;
  /** Server-side fault (Smithy `@error("server")`): HTTP 500 unless `error.httpStatusCode` says otherwise. */
  readonly fault?: boolean;
  /** Query-protocol error code, HTTP status and sender/receiver fault (`awsQueryError` trait). */
  readonly error?: { readonly code?: string; readonly httpStatusCode?: number; readonly senderFault?: boolean };
}

/** One operation of a botocore model. */
export interface ModelOperation {
  readonly name: string;
  readonly input?: { readonly shape: string };
  readonly output?: { readonly shape: string };
  readonly errors?: ReadonlyArray<{ readonly shape: string }>;
}

/** A botocore `service-2.json`: metadata, operations and shapes. */
export interface ServiceModel {
  readonly metadata: {
    readonly apiVersion: string;
    /** X-Amz-Target prefix of the JSON protocols; absent in an awsQuery model (STS). */
    readonly targetPrefix: string;
    /** `json`, `query`, ... (the wire protocol the SDKs use). */
    readonly protocol?: string;
    readonly jsonVersion?: string;
    readonly awsQueryCompatible?: object;
  };
  readonly operations: Readonly<Record<string, ModelOperation>>;
  readonly shapes: Readonly<Record<string, ModelShape>>;
}

/** The vendored models: file names under test/fixtures/aws-models/ (see the README there). */
export const MODEL_FILES = {
  kinesisanalyticsv2: 'kinesisanalyticsv2-2018-05-23.service-2.json.gz',
  cloudwatch: 'cloudwatch-2010-08-01.service-2.json.gz',
  resourcegroupstaggingapi: 'resourcegroupstaggingapi-2017-01-26.service-2.json.gz',
  sts: 'sts-2011-06-15.service-2.json.gz',
  logs: 'logs-2014-03-28.service-2.json.gz',
  ssm: 'ssm-2014-11-06.service-2.json.gz',
} as const;

/** Directory of the vendored models. */
export const MODEL_DIR = fileURLToPath(new URL('../fixtures/aws-models/', import.meta.url));

/** The model could not be read or is not a botocore service model: the conformance suite fails, never skips. */
export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError';
  constructor(
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`API model ${file}: ${message}`, options);
  }
}

/**
 * Reads a botocore model (`.json` or `.json.gz`).
 * @param file absolute path, or a file name relative to {@link MODEL_DIR}.
 * @throws ModelLoadError when the file is missing, not gzip/JSON, or has no `operations`/`shapes`.
 */
export function loadServiceModel(file: string): ServiceModel {
  const path = file.startsWith('/') ? file : `${MODEL_DIR}${file}`;
  let text: string;
  try {
    const raw = readFileSync(path);
    text = (path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
  } catch (cause) {
    throw new ModelLoadError(
      path,
      `cannot be read (${(cause as Error).message}); see test/fixtures/aws-models/README.md`,
      {
        cause,
      },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new ModelLoadError(path, 'is not JSON', { cause });
  }
  const model = parsed as Partial<ServiceModel>;
  if (
    typeof model !== 'object' ||
    model === null ||
    typeof model.operations !== 'object' ||
    typeof model.shapes !== 'object' ||
    (typeof model.metadata?.targetPrefix !== 'string' && model.metadata?.protocol !== 'query')
  ) {
    throw new ModelLoadError(
      path,
      'is not a botocore service model (metadata.targetPrefix or protocol query, operations, shapes)',
    );
  }
  return model as ServiceModel;
}

/** Looks up an operation. @throws Error naming the operation when the model has no such operation. */
export function operationOf(model: ServiceModel, operation: string): ModelOperation {
  const op = model.operations[operation];
  if (!op) throw new Error(`The ${model.metadata.targetPrefix} model has no operation ${operation}`);
  return op;
}

function shapeOf(model: ServiceModel, name: string): ModelShape {
  const shape = model.shapes[name];
  if (!shape) throw new Error(`The ${model.metadata.targetPrefix} model has no shape ${name}`);
  return shape;
}

const codePoints = (s: string): number => [...s].length;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function checkLength(shape: ModelShape, size: number, what: string, path: string, out: string[]): void {
  if (shape.min !== undefined && size < shape.min) out.push(`${path}: ${what} ${size} < min ${shape.min}`);
  if (shape.max !== undefined && size > shape.max) out.push(`${path}: ${what} ${size} > max ${shape.max}`);
}

function checkValue(model: ServiceModel, shapeName: string, value: unknown, path: string, out: string[]): void {
  const shape = shapeOf(model, shapeName);
  const expect = (ok: boolean, what: string): boolean => {
    if (!ok) out.push(`${path}: expected ${what} (shape ${shapeName}), got ${describe(value)}`);
    return ok;
  };
  switch (shape.type) {
    case 'structure': {
      if (!expect(isObject(value), 'an object')) return;
      const record = value as Record<string, unknown>;
      const members = shape.members ?? {};
      for (const name of shape.required ?? []) {
        if (record[name] === undefined) out.push(`${path}: required member ${name} is missing (shape ${shapeName})`);
      }
      const present = Object.keys(record).filter((k) => record[k] !== undefined);
      if (shape.union && present.length !== 1) {
        out.push(`${path}: union ${shapeName} must have exactly one member set, has ${present.length}`);
      }
      for (const key of present) {
        const member = members[key];
        if (!member) {
          out.push(`${path}: member ${key} is not in the model (shape ${shapeName})`);
          continue;
        }
        checkValue(model, member.shape, record[key], `${path}.${key}`, out);
      }
      return;
    }
    case 'list': {
      if (!expect(Array.isArray(value), 'a list')) return;
      const items = value as unknown[];
      checkLength(shape, items.length, 'list size', path, out);
      const memberShape = shape.member?.shape;
      if (memberShape) {
        items.forEach((item, i) => {
          checkValue(model, memberShape, item, `${path}[${i}]`, out);
        });
      }
      return;
    }
    case 'map': {
      if (!expect(isObject(value), 'a map (JSON object)')) return;
      const entries = Object.entries(value as Record<string, unknown>);
      checkLength(shape, entries.length, 'map size', path, out);
      for (const [k, v] of entries) {
        if (shape.key) checkValue(model, shape.key.shape, k, `${path}{key ${describe(k)}}`, out);
        if (shape.value) checkValue(model, shape.value.shape, v, `${path}.${k}`, out);
      }
      return;
    }
    case 'string': {
      if (!expect(typeof value === 'string', 'a string')) return;
      const text = value as string;
      if (shape.enum && !shape.enum.includes(text)) {
        out.push(`${path}: ${describe(text)} is not one of the ${shapeName} enum values (${shape.enum.join(', ')})`);
      }
      checkLength(shape, codePoints(text), 'length', path, out);
      if (shape.pattern !== undefined && !new RegExp(`^(?:${shape.pattern})$`, 'u').test(text)) {
        out.push(`${path}: ${describe(text)} does not match the ${shapeName} pattern /${shape.pattern}/ (whole value)`);
      }
      return;
    }
    case 'integer':
    case 'long': {
      if (!expect(typeof value === 'number' && Number.isSafeInteger(value), `an ${shape.type}`)) return;
      if (shape.type === 'integer' && ((value as number) < -(2 ** 31) || (value as number) >= 2 ** 31)) {
        out.push(`${path}: ${value} is outside the 32-bit integer range`);
      }
      checkLength(shape, value as number, 'value', path, out);
      return;
    }
    case 'double':
    case 'float': {
      if (!expect(typeof value === 'number' && Number.isFinite(value), `a ${shape.type}`)) return;
      checkLength(shape, value as number, 'value', path, out);
      return;
    }
    case 'boolean':
      expect(typeof value === 'boolean', 'a boolean');
      return;
    case 'timestamp':
      // awsJson protocols: a timestamp is epoch seconds as a JSON number (fractions allowed), unless the shape has a
      // timestampFormat trait (none of the shapes these suites read has one).
      expect(typeof value === 'number' && Number.isFinite(value) && value >= 0, 'a timestamp (epoch seconds number)');
      return;
    case 'blob':
      expect(typeof value === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(value), 'a blob (base64 string)');
      return;
    default:
      out.push(`${path}: shape ${shapeName} has a type the checker does not know (${String(shape.type)})`);
  }
}

/**
 * Checks one JSON value against a named shape.
 * @returns one line per violation (`$.ApplicationDetail.ApplicationStatus: "X" is not one of ...`); empty if it conforms.
 * @throws Error when the model has no such shape.
 */
export function checkShape(model: ServiceModel, shapeName: string, value: unknown, path = '$'): string[] {
  const out: string[] = [];
  checkValue(model, shapeName, value, path, out);
  return out;
}

/**
 * Checks the decoded body of a successful (HTTP 200) response against the operation's output shape. An operation
 * without an output shape must answer an empty object.
 * @returns the violations; empty if the body conforms.
 * @throws Error when the model has no such operation.
 */
export function checkOutput(model: ServiceModel, operation: string, body: unknown): string[] {
  const op = operationOf(model, operation);
  if (!op.output) {
    return isObject(body) && Object.keys(body).length === 0
      ? []
      : [`$: ${operation} has no output in the model, expected {} , got ${describe(body)}`];
  }
  return checkShape(model, op.output.shape, body);
}

/** An error response as it came over the wire. */
export interface WireError {
  /** HTTP status code. */
  readonly status: number;
  /** Response headers, names in lower case. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** Decoded JSON body. */
  readonly body: unknown;
}

/**
 * Errors that the service documents as common to all its actions, allowed in addition to the operation's own `errors`:
 * a map from the exception shape name (as in the model) to the reason. Each must still be an exception shape of the
 * model (so the SDK can raise its class).
 */
export type CommonErrors = Readonly<Record<string, string>>;

/** The exception name in an awsJson `__type` (`ns#Name`, `Name:http://...` and `Name` all give `Name`). */
export function errorTypeName(type: string): string {
  const afterHash = type.includes('#') ? type.slice(type.indexOf('#') + 1) : type;
  return afterHash.split(':')[0] ?? afterHash;
}

/**
 * Checks an error response against the model: the body is `{"__type": <exception>, "message"?: string}`, the exception
 * is one of the operation's `errors` (or one of `common`), the HTTP status is the exception's `error.httpStatusCode`
 * (else 500 for a `fault`, else 400), and, for a query-compatible service (CloudWatch), the `x-amzn-query-error` header
 * is `<error.code>;Sender|Receiver` as the `awsQueryError` trait says.
 * @returns the violations; empty if the error conforms.
 */
export function checkError(
  model: ServiceModel,
  operation: string,
  response: WireError,
  common: CommonErrors = {},
): string[] {
  const op = operationOf(model, operation);
  const out: string[] = [];
  if (!isObject(response.body) || typeof response.body.__type !== 'string') {
    return [`$: an error body must be a JSON object with a string __type, got ${describe(response.body)}`];
  }
  const name = errorTypeName(response.body.__type);
  const message = response.body.message ?? response.body.Message;
  if (message !== undefined && typeof message !== 'string') out.push(`$.message: expected a string`);
  const shape = model.shapes[name];
  if (!shape?.exception) {
    return [...out, `$.__type: ${name} is not an exception of the ${model.metadata.targetPrefix} model`];
  }
  const allowed = (op.errors ?? []).map((e) => e.shape);
  if (!allowed.includes(name) && common[name] === undefined) {
    out.push(`$.__type: ${name} is not one of ${operation}'s errors (${allowed.join(', ') || 'none'})`);
  }
  const status = shape.error?.httpStatusCode ?? (shape.fault ? 500 : 400);
  if (response.status !== status) out.push(`HTTP status: ${name} is ${status} in the model, got ${response.status}`);
  if (model.metadata.awsQueryCompatible !== undefined) {
    const code = shape.error?.code ?? name;
    const fault = shape.error?.senderFault ? 'Sender' : 'Receiver';
    const header = response.headers['x-amzn-query-error'];
    if (header !== `${code};${fault}`) {
      out.push(`x-amzn-query-error: expected "${code};${fault}" (awsQueryError of ${name}), got ${describe(header)}`);
    }
  }
  return out;
}
