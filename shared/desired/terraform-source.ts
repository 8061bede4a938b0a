/**
 * Reads a Terraform state file from a local path or from S3 (the object the S3 backend writes), then parses it with
 * {@link parseTerraformState}. A file or object that is missing or cannot be read for lack of permission is a
 * finding, not an exception; other faults (network, throttling, a service error) are thrown.
 */
import { readFile } from 'node:fs/promises';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parseTerraformState, type TerraformReadResult } from '#shared/desired/terraform.ts';

/** Adapters {@link readTerraformState} uses. */
export interface TerraformSourceDeps {
  /**
   * Client for `s3://` sources.
   * @default a new S3Client with the default credential chain and `followRegionRedirects` (the state bucket may be
   *   in another region)
   */
  s3?: S3Client;
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
 * Reads and parses a Terraform state file.
 *
 * @param source a local path, or `s3://BUCKET/KEY` for the S3 backend's object (with workspaces the key is
 *   `env:/WORKSPACE/KEY`, or under the backend's `workspace_key_prefix`). Read with S3 GetObject.
 * @param deps the S3 client to use (see {@link TerraformSourceDeps}).
 * @returns the parse result; a missing file, a missing S3 object or bucket (NoSuchKey, NoSuchBucket), access denied
 *   (EACCES, AccessDenied / HTTP 403), a directory or a malformed `s3://` address is a single problem naming `source`.
 * @throws TerraformStateReadError for any other failure to read (the `cause` is the original error).
 */
export async function readTerraformState(source: string, deps: TerraformSourceDeps = {}): Promise<TerraformReadResult> {
  if (source.startsWith('s3://')) {
    const target = parseS3Location(source);
    if (!target) return unreadable(source, 'not an s3://BUCKET/KEY address (the bucket or the key is missing)');
    return readFromS3(source, target, deps.s3 ?? new S3Client({ followRegionRedirects: true }));
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

async function readFromS3(
  source: string,
  target: { bucket: string; key: string },
  s3: S3Client,
): Promise<TerraformReadResult> {
  let text: string | undefined;
  try {
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
