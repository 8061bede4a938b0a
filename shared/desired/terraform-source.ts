/**
 * Reads a Terraform state from a local path, from standard input (`-`, e.g. `terraform state pull | ...`) or from S3
 * (the object the S3 backend writes), then parses it with {@link parseTerraformState} (state format version 4, or
 * `terraform show -json` output). A source that is missing or cannot be read for lack of permission is a finding, not
 * an exception; other faults (network, throttling, a service error) are thrown.
 *
 * The S3 client is loaded by dynamic `import()` only when an `s3://` source is read, so a Lambda that reads no state
 * from S3 never loads it.
 */
import { readFile } from 'node:fs/promises';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { parseTerraformState, type TerraformReadResult } from '#shared/desired/terraform.ts';

/** The source that means standard input, as `terraform state pull | flink-watchdog drift --tfstate -`. */
export const STDIN_SOURCE = '-';
/** The `location` a state read from standard input is reported under. */
export const STDIN_LOCATION = 'stdin';

/** A readable stream of the state's bytes, and whether it is a terminal (then nothing was piped). */
export interface StdinLike extends AsyncIterable<string | Uint8Array> {
  isTTY?: boolean;
}

/** Adapters {@link readTerraformState} uses. */
export interface TerraformSourceDeps {
  /**
   * Client for `s3://` sources.
   * @default a new S3Client with `s3ClientConfig`, the default credential chain and `followRegionRedirects` (the
   *   state bucket may be in another Region)
   */
  s3?: S3Client;
  /** Settings of the default S3 client (e.g. `region`, `profile` from the CLI's `--region` / `--profile`). */
  s3ClientConfig?: S3ClientConfig;
  /** Standard input, for the source `-`. @default process.stdin */
  stdin?: StdinLike;
}

/** Reading a state file failed for a reason that is not the file's fault (network, throttling, S3 service error). */
export class TerraformStateReadError extends Error {
  override readonly name = 'TerraformStateReadError';
  constructor(
    /** The path or `s3://bucket/key` being read. */
    readonly source: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`Terraform state ${source}: ${message}`, options);
  }
}

/** Bucket and key of an `s3://BUCKET/KEY` address, or undefined when `source` is not one. */
export function parseS3Location(source: string): { bucket: string; key: string } | undefined {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(source);
  return m?.[1] && m[2] ? { bucket: m[1], key: m[2] } : undefined;
}

/**
 * Reads and parses a Terraform state.
 *
 * @param source a local path; `-` for standard input (reported as `stdin`); or `s3://BUCKET/KEY` for the S3
 *   backend's object (with workspaces the key is `env:/WORKSPACE/KEY`, or under the backend's
 *   `workspace_key_prefix`), read with S3 GetObject.
 * @param deps the S3 client or its settings, and standard input (see {@link TerraformSourceDeps}).
 * @returns the parse result; a missing file, a missing S3 object or bucket (NoSuchKey, NoSuchBucket), access denied
 *   (EACCES, AccessDenied / HTTP 403), a directory, a malformed `s3://` address or `-` with nothing piped (stdin is a
 *   terminal) is a single problem naming `source`.
 * @throws TerraformStateReadError for any other failure to read (the `cause` is the original error).
 */
export async function readTerraformState(source: string, deps: TerraformSourceDeps = {}): Promise<TerraformReadResult> {
  if (source === STDIN_SOURCE) return readFromStdin(deps.stdin ?? process.stdin);
  if (source.startsWith('s3://')) {
    const target = parseS3Location(source);
    if (!target) return unreadable(source, 'not an s3://BUCKET/KEY address (the bucket or the key is missing)');
    let s3 = deps.s3;
    if (!s3) {
      const { S3Client: Client } = await import('@aws-sdk/client-s3');
      s3 = new Client({ ...deps.s3ClientConfig, followRegionRedirects: true });
    }
    return readFromS3(source, target, s3);
  }
  let text: string;
  try {
    text = await readFile(source, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOENT') return unreadable(source, 'file not found');
    if (code === 'EACCES' || code === 'EPERM')
      return unreadable(source, 'access denied (no permission to read the file)');
    if (code === 'EISDIR') return unreadable(source, 'is a directory, not a state file');
    throw new TerraformStateReadError(source, `cannot read the file (${code ?? String(e)})`, { cause: e });
  }
  return parseTerraformState(text, source);
}

/** Reads the whole of standard input; a terminal (nothing piped) is a problem that says how to pipe the state. */
async function readFromStdin(stdin: StdinLike): Promise<TerraformReadResult> {
  if (stdin.isTTY) {
    return unreadable(
      STDIN_LOCATION,
      'nothing is piped to standard input (`-` reads the state from stdin); pipe it, e.g. ' +
        '`terraform state pull | flink-watchdog drift --tfstate -`',
    );
  }
  let text = '';
  try {
    const decoder = new TextDecoder('utf-8');
    for await (const chunk of stdin) {
      text += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    }
    text += decoder.decode();
  } catch (e) {
    throw new TerraformStateReadError(STDIN_LOCATION, `cannot read standard input (${String(e)})`, { cause: e });
  }
  if (text.trim() === '') {
    return unreadable(
      STDIN_LOCATION,
      'standard input is empty: did the command before the pipe fail (e.g. `terraform state pull` outside the ' +
        "configuration's directory, or before `terraform init`)?",
    );
  }
  return parseTerraformState(text, STDIN_LOCATION);
}

async function readFromS3(
  source: string,
  target: { bucket: string; key: string },
  s3: S3Client,
): Promise<TerraformReadResult> {
  let text: string | undefined;
  try {
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const out = await s3.send(new GetObjectCommand({ Bucket: target.bucket, Key: target.key }));
    text = await out.Body?.transformToString('utf-8');
  } catch (e) {
    const name = (e as { name?: string } | undefined)?.name ?? '';
    const status = (e as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
    if (name === 'NoSuchKey' || name === 'NotFound') {
      return unreadable(source, `S3 object not found (NoSuchKey: no key ${target.key} in bucket ${target.bucket})`);
    }
    if (name === 'NoSuchBucket') return unreadable(source, `S3 bucket ${target.bucket} does not exist (NoSuchBucket)`);
    if (name === 'AccessDenied' || status === 403) {
      return unreadable(source, `access denied reading the S3 object (${name || 'HTTP 403'}; needs s3:GetObject)`);
    }
    throw new TerraformStateReadError(source, `S3 GetObject failed (${name || String(e)})`, { cause: e });
  }
  if (text === undefined) return unreadable(source, 'S3 GetObject returned no body');
  return parseTerraformState(text, source);
}

/** A result with no application and one problem about the whole source. */
function unreadable(source: string, message: string): TerraformReadResult {
  return {
    location: source,
    applications: [],
    problems: [{ location: source, message: `Terraform state ${source}: ${message}` }],
    sensitivePaths: {},
  };
}
