import { createHash } from 'node:crypto';
import { EmulatorServiceError } from '#sandbox/emulator/errors.ts';
import type { Clock } from '#shared/clock.ts';

/**
 * AWS Security Token Service in the emulator (API version 2011-06-15, awsQuery protocol: a form-encoded
 * `Action=...&Version=2011-06-15` POST answered in XML; model botocore sts/2011-06-15): AssumeRole and
 * GetCallerIdentity, and the callers' identities every other request is answered for.
 *
 * Who calls: the emulator reads the access key id of the SigV4 `Authorization` header
 * (`Credential=<AccessKeyId>/<date>/<region>/<service>/aws4_request`,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html). An access key id issued by
 * {@link StsEmulator.assumeRole} is that role session (its account, until it expires); a 12-digit access key id is
 * ASSUMPTION a person acting in that account (a sandbox convention: real access key ids are never 12 digits); any other
 * key ('drill', 'sandbox', AKIA...) or no Authorization header is the home account.
 */

/** The XML namespace of STS responses (model metadata `xmlNamespace`). */
export const STS_XML_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';

/** A role the emulator's STS lets callers assume: the member stack's role in a member account. */
export interface EmulatorRole {
  /** `arn:aws:iam::<12-digit account>:role/<name>`: the account is the one the session acts in. */
  readonly roleArn: string;
  /** The account the role's trust policy trusts (`Principal: {AWS: arn:aws:iam::<trusted>:root}`). */
  readonly trustedAccountId: string;
  /** The trust policy's `sts:ExternalId` condition; AssumeRole must send exactly this value. @default none required */
  readonly externalId?: string;
  /** The role's MaxSessionDuration, seconds (3600-43200). @default 3600 */
  readonly maxSessionDurationSeconds?: number;
  /** Limits of the role's permissions policy the emulator enforces. @default none: every emulated action is allowed */
  readonly permissions?: {
    /**
     * The MSF mutating actions (StartApplication, StopApplication, UpdateApplication, RollbackApplication,
     * CreateApplicationSnapshot) are allowed only on applications carrying this tag, as an IAM condition
     * `"StringEquals": {"aws:ResourceTag/<key>": "<value>"}` would allow them.
     */
    readonly msfMutateOnlyTag?: { readonly key: string; readonly value: string };
  };
}

/** The identity a request is answered for. */
export interface Caller {
  /** 12-digit account whose world answers the request. */
  readonly accountId: string;
  /** The access key id the request was signed with ('' when unsigned). */
  readonly accessKeyId: string;
  /** ARN of the caller, as GetCallerIdentity returns it and as AccessDenied messages name it. */
  readonly arn: string;
  /** GetCallerIdentity's UserId. */
  readonly userId: string;
  /** The assumed role, when the key comes from AssumeRole. */
  readonly role?: EmulatorRole;
}

interface Session {
  readonly caller: Caller;
  /** Epoch ms at which the credentials expire. */
  readonly expiresAtMs: number;
}

/** Options of {@link StsEmulator}. */
export interface StsEmulatorOptions {
  readonly clock: Clock;
  /** The account of callers that are neither role sessions nor 12-digit keys. */
  readonly homeAccountId: string;
  readonly roles?: readonly EmulatorRole[];
}

const ROLE_ARN = /^arn:aws:iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]{1,64})$/;
/** AssumeRole DurationSeconds default: "By default, the value is set to 3600 seconds" (model, AssumeRoleRequest). */
const DEFAULT_DURATION_SECONDS = 3600;

/**
 * Parses a role ARN.
 * @throws RangeError naming the field when `arn` is not `arn:aws:iam::<12 digits>:role/<name>`.
 */
export function parseRoleArn(arn: string, field = 'roleArn'): { accountId: string; roleName: string } {
  const match = ROLE_ARN.exec(arn);
  if (!match?.[1] || !match[2]) {
    throw new RangeError(`${field} must be an IAM role ARN arn:aws:iam::<12-digit account>:role/<name> (got ${arn})`);
  }
  return { accountId: match[1], roleName: match[2] };
}

/**
 * The access key id of a SigV4 `Authorization` header, or '' when there is none.
 * Header form: `AWS4-HMAC-SHA256 Credential=AKID/20260302/eu-west-1/kinesisanalytics/aws4_request, SignedHeaders=..., Signature=...`.
 */
export function accessKeyIdOf(authorization: string | undefined): string {
  const match = /Credential=([^/,\s]+)\//.exec(authorization ?? '');
  return match?.[1] ?? '';
}

function hashed(text: string, length: number, alphabet: string): string {
  const digest = createHash('sha256').update(text).digest();
  let out = '';
  for (let i = 0; out.length < length; i++) out += alphabet[(digest[i % digest.length] ?? 0) % alphabet.length];
  return out;
}

const UPPER_ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const BASE64ISH = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** ISO-8601 UTC without milliseconds, as STS writes timestamps (e.g. `2026-03-02T15:00:00Z`). */
function isoSeconds(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

/** AWS STS of the emulator: role sessions and the identity of every request. */
export class StsEmulator {
  readonly #clock: Clock;
  readonly #home: string;
  readonly #roles: readonly EmulatorRole[];
  readonly #sessions = new Map<string, Session>();
  #issued = 0;

  /** @throws RangeError when a role's ARN, trusted account or MaxSessionDuration is invalid (naming the role). */
  constructor(opts: StsEmulatorOptions) {
    this.#clock = opts.clock;
    this.#home = opts.homeAccountId;
    this.#roles = opts.roles ?? [];
    for (const role of this.#roles) {
      parseRoleArn(role.roleArn, 'roles[].roleArn');
      if (!/^\d{12}$/.test(role.trustedAccountId)) {
        throw new RangeError(
          `roles[].trustedAccountId of ${role.roleArn} must be a 12-digit account id (got ${role.trustedAccountId})`,
        );
      }
      const max = role.maxSessionDurationSeconds;
      // IAM role MaxSessionDuration: 3600 to 43200 seconds (IAM API reference, CreateRole).
      if (max !== undefined && (!Number.isInteger(max) || max < 3600 || max > 43_200)) {
        throw new RangeError(
          `roles[].maxSessionDurationSeconds of ${role.roleArn} must be whole seconds from 3600 to 43200 (got ${max})`,
        );
      }
    }
  }

  /** Accounts of the configured roles (each role's own account). */
  roleAccounts(): string[] {
    return this.#roles.map((r) => parseRoleArn(r.roleArn).accountId);
  }

  /**
   * The caller a request signed with `accessKeyId` is answered for.
   * @throws EmulatorServiceError ExpiredTokenException (HTTP 403) when the key is a role session that has expired:
   *   "The security token included in the request is expired" (common errors of the AWS APIs, e.g.
   *   https://docs.aws.amazon.com/managed-flink/latest/apiv2/CommonErrors.html).
   */
  callerOf(accessKeyId: string): Caller {
    const session = this.#sessions.get(accessKeyId);
    if (session) {
      if (this.#clock.now() >= session.expiresAtMs) {
        throw new EmulatorServiceError(
          'ExpiredTokenException',
          'The security token included in the request is expired',
          403,
        );
      }
      return session.caller;
    }
    const accountId = /^\d{12}$/.test(accessKeyId) ? accessKeyId : this.#home;
    const name = accessKeyId === '' ? 'anonymous' : accessKeyId;
    return {
      accountId,
      accessKeyId,
      arn: `arn:aws:iam::${accountId}:user/${name}`,
      userId: `AIDA${hashed(`${accountId}:${name}`, 17, UPPER_ALNUM)}`,
    };
  }

  /**
   * Runs one STS action (awsQuery) for `caller` and returns the XML response document.
   * @throws EmulatorServiceError: AccessDenied (403) when the role is unknown, its trust policy does not trust the
   *   caller's account or the ExternalId differs; ValidationError (400) for a missing or malformed parameter;
   *   InvalidAction (400) for an action the emulator does not serve.
   */
  handle(params: URLSearchParams, caller: Caller, requestId: string): string {
    const action = params.get('Action') ?? '';
    let result: string;
    switch (action) {
      case 'AssumeRole':
        result = this.#assumeRole(params, caller);
        break;
      case 'GetCallerIdentity':
        result = `<UserId>${xmlEscape(caller.userId)}</UserId><Account>${caller.accountId}</Account><Arn>${xmlEscape(caller.arn)}</Arn>`;
        break;
      default:
        // Common errors of the AWS Query APIs: InvalidAction, "The action or operation requested is invalid", 400
        // (https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html).
        throw new EmulatorServiceError('InvalidAction', `The action ${action} is not valid for this web service.`);
    }
    return (
      `<${action}Response xmlns="${STS_XML_NAMESPACE}"><${action}Result>${result}</${action}Result>` +
      `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`
    );
  }

  #assumeRole(params: URLSearchParams, caller: Caller): string {
    const roleArn = required(params, 'RoleArn');
    const sessionName = required(params, 'RoleSessionName');
    // AssumeRoleRequest.RoleSessionName: 2-64 characters of [\w+=,.@-] (model roleSessionNameType).
    if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) {
      validation(`RoleSessionName must be 2-64 characters of letters, digits and +=,.@_- (got ${sessionName})`);
    }
    const durationText = params.get('DurationSeconds');
    const duration = durationText === null ? DEFAULT_DURATION_SECONDS : Number(durationText);
    // DurationSeconds: 900 to 43200 (model roleDurationSecondsType); "If you specify a value higher than this setting
    // [the role's maximum session duration] ..., the operation fails" (model, AssumeRoleRequest.DurationSeconds).
    if (!Number.isInteger(duration) || duration < 900 || duration > 43_200) {
      validation(
        `1 validation error detected: Value '${durationText}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200`,
      );
    }
    const denied = (): never => {
      // The documented refusal: "An error occurred (AccessDenied) when calling the AssumeRole operation: User: <caller
      // arn> is not authorized to perform: sts:AssumeRole on resource: <role arn>", HTTP 403
      // (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_roles.html). AccessDenied is not in the model:
      // it is a common error of every AWS API.
      throw new EmulatorServiceError(
        'AccessDenied',
        `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
        403,
      );
    };
    const role = this.#roles.find((r) => r.roleArn === roleArn);
    if (!role || role.trustedAccountId !== caller.accountId) return denied();
    // The external ID is a condition of the trust policy ("sts:ExternalId"): a missing or different value does not
    // match it, and the request is denied like any other unmatched trust policy
    // (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-user_externalid.html).
    if (role.externalId !== undefined && params.get('ExternalId') !== role.externalId) return denied();
    const maxSeconds = role.maxSessionDurationSeconds ?? 3600;
    if (duration > maxSeconds) {
      validation('The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
    }
    const { accountId, roleName } = parseRoleArn(roleArn);
    this.#issued += 1;
    const seed = `${roleArn}:${sessionName}:${this.#issued}`;
    // Temporary credentials' access key ids begin with ASIA
    // (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-unique-ids).
    const accessKeyId = `ASIA${hashed(seed, 16, UPPER_ALNUM)}`;
    const expiresAtMs = this.#clock.now() + duration * 1000;
    const roleId = `AROA${hashed(roleArn, 17, UPPER_ALNUM)}`;
    const arn = `arn:aws:sts::${accountId}:assumed-role/${roleName}/${sessionName}`;
    this.#sessions.set(accessKeyId, {
      caller: { accountId, accessKeyId, arn, userId: `${roleId}:${sessionName}`, role },
      expiresAtMs,
    });
    return (
      `<Credentials><AccessKeyId>${accessKeyId}</AccessKeyId>` +
      `<SecretAccessKey>${hashed(`${seed}:secret`, 40, BASE64ISH)}</SecretAccessKey>` +
      `<SessionToken>${hashed(`${seed}:token`, 120, BASE64ISH)}</SessionToken>` +
      `<Expiration>${isoSeconds(expiresAtMs)}</Expiration></Credentials>` +
      `<AssumedRoleUser><AssumedRoleId>${roleId}:${xmlEscape(sessionName)}</AssumedRoleId><Arn>${xmlEscape(arn)}</Arn></AssumedRoleUser>`
    );
  }
}

function validation(message: string): never {
  // Common errors of the AWS Query APIs: ValidationError, "The input fails to satisfy the constraints specified by an
  // AWS service", HTTP 400 (https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html).
  throw new EmulatorServiceError('ValidationError', message);
}

function required(params: URLSearchParams, name: string): string {
  const value = params.get(name);
  if (value === null || value === '') {
    // Common errors: MissingParameter, "A required parameter for the specified action is not supplied", 400.
    throw new EmulatorServiceError('MissingParameter', `The request must contain the parameter ${name}`);
  }
  return value;
}

/** The XML error document of an awsQuery error (`<ErrorResponse><Error><Type/><Code/><Message/></Error>...`). */
export function stsErrorXml(code: string, message: string, status: number, requestId: string): string {
  return (
    `<ErrorResponse xmlns="${STS_XML_NAMESPACE}"><Error><Type>${status >= 500 ? 'Receiver' : 'Sender'}</Type>` +
    `<Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error>` +
    `<RequestId>${requestId}</RequestId></ErrorResponse>`
  );
}
