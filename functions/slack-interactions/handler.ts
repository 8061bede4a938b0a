/**
 * The Slack interactivity endpoint (a Lambda function URL, auth NONE: Slack cannot sign with SigV4, so the request is
 * authenticated by Slack's own signature instead). A click on an incident message's Approve / Reject button
 * (shared/notify/slack.ts) arrives here as a `block_actions` interaction payload; the signature is verified with the
 * Slack app's signing secret, then the answer is recorded on the incident and handed to the waiting remediation
 * workflow ({@link answerApproval}: ledger write + SendTaskSuccess), and the clicker is told the outcome.
 *
 * Slack's rules followed here:
 * - Verifying requests from Slack (https://api.slack.com/authentication/verifying-requests-from-slack):
 *   `X-Slack-Signature` is `v0=` + hex HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{raw request body}` keyed with
 *   the signing secret, compared in constant time; a timestamp more than five minutes from the local clock is refused
 *   (replay protection).
 * - Handling user interaction (https://api.slack.com/interactivity/handling): the payload is POSTed as
 *   `application/x-www-form-urlencoded` with one `payload` parameter holding JSON; the app acknowledges with HTTP 200
 *   within 3 seconds; for `block_actions` a message to the user is sent to the payload's `response_url`
 *   (https://api.slack.com/interactivity/handling#message_responses: `response_type: ephemeral`,
 *   `replace_original: false` keeps the incident message and shows the reply to the clicker only).
 * - Lambda function URL payload format 2.0 (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html):
 *   header names in lower case, `body` base64-encoded when `isBase64Encoded` is true; the signature is checked over
 *   the exact bytes Slack sent.
 *
 * Refused (nothing read from the ledger, nothing recorded, no SendTaskSuccess): anything but POST (405), a body larger
 * than {@link SLACK_MAX_BODY_BYTES} (413, before any hashing or secret read), a missing or wrong signature, a missing or
 * old timestamp (401), a payload that is not a watchdog button click (400).
 *
 * The 3-second budget: Slack shows the clicker an error when the 200 takes longer than 3 s. The answer (ledger GetItem
 * + conditional PutItem, SendTaskSuccess) is made first; the reply to `response_url` (≤ 1 s) is skipped when less than
 * {@link SLACK_REPLY_MIN_REMAINING_MS} of the budget remains (the outcome is then in the HTTP body, which Slack
 * ignores, and in the APPROVAL_ANSWERED notification the channel gets). The budget is counted from the handler's
 * start: a cold start's initialisation before it (and the signing secret's first read) is not seen, so a cold click
 * can still exceed 3 s; the answer stands and a second click is told it was already answered.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDbLedger } from '#shared/adapters/dynamodb-ledger.ts';
import { StepFunctionsTaskTokens } from '#shared/adapters/sfn-task-tokens.ts';
import { cachedSlackSigningSecret, type SigningSecretSource } from '#shared/adapters/slack-signing-secret.ts';
import { systemClock } from '#shared/adapters/system-clock.ts';
import type { Clock } from '#shared/clock.ts';
import { type AnswerResult, type ApprovalAnswer, answerApproval } from '#shared/domain/approval.ts';
import { INCIDENT_ID_PATTERN } from '#shared/events/runbook-command.ts';
import { SLACK_APPROVE_ACTION_ID, SLACK_REJECT_ACTION_ID } from '#shared/notify/slack.ts';
import type { Log } from '#shared/ports/log.ts';
import * as z from '#shared/zod.ts';
import { readEnv, SlackInteractionsEnv } from '../common/env.ts';

export { SLACK_APPROVE_ACTION_ID, SLACK_REJECT_ACTION_ID, SlackInteractionsEnv };

/** Slack's replay window: a request whose timestamp is further than this from the local clock is refused, ms (5 minutes). */
export const SLACK_MAX_SKEW_MS = 5 * 60_000;

/**
 * Largest request body taken, bytes (256 KiB; checked before hashing): a `block_actions` payload carries the clicked
 * message (Block Kit, at most 50 blocks) form-encoded, far below this; anything larger is not a click.
 */
export const SLACK_MAX_BODY_BYTES = 256 * 1024;

/** Slack's acknowledgement budget, ms (https://api.slack.com/interactivity/handling: 200 within 3 seconds). */
export const SLACK_ACK_BUDGET_MS = 3_000;

/** Least time left of {@link SLACK_ACK_BUDGET_MS} to still reply to `response_url`, ms (the reply waits ≤ 1 s). */
export const SLACK_REPLY_MIN_REMAINING_MS = 1_200;

/** The part of a Lambda function URL request (payload format 2.0) the endpoint reads. */
export interface FunctionUrlRequest {
  /** Request headers; Lambda gives their names in lower case (looked up case-insensitively anyway). */
  headers?: Record<string, string | undefined>;
  /** The raw request body, base64-encoded when `isBase64Encoded`. */
  body?: string;
  isBase64Encoded?: boolean;
  requestContext?: { http?: { method?: string } };
}

/** What a function URL returns (Lambda maps it to the HTTP response). */
export interface FunctionUrlResponse {
  /**
   * 200 acknowledged (the answer's outcome goes to `response_url`), 400 malformed, 401 not from Slack, 405 not POST,
   * 413 body too large, 500 the answer could not be recorded.
   */
  statusCode: number;
  headers?: Record<string, string>;
  body: string;
}

/** A reply to the clicker, POSTed to the interaction's `response_url`. */
export interface SlackResponseMessage {
  response_type: 'ephemeral';
  replace_original: false;
  text: string;
}

/** What {@link createSlackInteractionHandler} uses. */
export interface SlackInteractionDeps {
  /**
   * The Slack app's signing secret (Basic Information → App Credentials), cached by the caller; called again with
   * `refresh: true` once when a signature does not match (the secret may have been rotated). Never logged.
   */
  signingSecret: SigningSecretSource;
  /** Records the answer and hands it to the waiting workflow: {@link answerApproval} with its deps bound. */
  answer: (incidentId: string, answer: ApprovalAnswer) => Promise<AnswerResult>;
  clock: Clock;
  log: Log;
  /**
   * Sends the reply for the clicker to the interaction's `response_url` (a Slack URL; an https POST of JSON).
   * @default {@link postToResponseUrl}
   */
  respond?: (responseUrl: string, message: SlackResponseMessage) => Promise<void>;
}

/** The interaction payload fields the endpoint reads (https://api.slack.com/reference/interaction-payloads/block-actions). */
const BlockActionsPayload = z.object({
  type: z.literal('block_actions'),
  user: z.object({
    id: z.string().check(z.minLength(1)),
    username: z.optional(z.string()),
    name: z.optional(z.string()),
  }),
  team: z.optional(z.nullable(z.object({ id: z.optional(z.string()) }))),
  response_url: z.optional(z.string()),
  actions: z.array(z.object({ action_id: z.string(), value: z.optional(z.string()) })).check(z.minLength(1)),
});

const JSON_HEADERS = { 'content-type': 'application/json' };

function reply(statusCode: number, message: string): FunctionUrlResponse {
  return { statusCode, headers: JSON_HEADERS, body: JSON.stringify({ message }) };
}

function header(request: FunctionUrlRequest, name: string): string | undefined {
  const headers = request.headers ?? {};
  const direct = headers[name];
  if (direct !== undefined) return direct;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/**
 * Whether `signature` is Slack's signature of `rawBody` sent at `timestamp` (seconds), checked in constant time.
 * Pure apart from the HMAC.
 */
export function isSlackSignatureValid(secret: string, timestamp: string, rawBody: Buffer, signature: string): boolean {
  const expected = Buffer.from(slackSignature(secret, timestamp, rawBody), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** `v0=` + hex HMAC-SHA256(secret, `v0:{timestamp}:{raw body}`): Slack's request signature. */
export function slackSignature(secret: string, timestamp: string, rawBody: Buffer | string): string {
  const hmac = createHmac('sha256', secret);
  hmac.update(`v0:${timestamp}:`, 'utf8');
  hmac.update(rawBody);
  return `v0=${hmac.digest('hex')}`;
}

/**
 * POSTs `message` as JSON to a Slack `response_url` (https, a slack.com host), waiting at most `timeoutMs` (the whole
 * click must be acknowledged within Slack's 3 s).
 * @throws Error when the URL is not a Slack https URL, or Slack answers other than 2xx, or the time runs out.
 */
export async function postToResponseUrl(
  responseUrl: string,
  message: SlackResponseMessage,
  timeoutMs = 1000,
): Promise<void> {
  const url = new URL(responseUrl);
  if (url.protocol !== 'https:' || !(url.hostname === 'slack.com' || url.hostname.endsWith('.slack.com'))) {
    throw new Error(`response_url is not a Slack https URL (host ${url.hostname})`);
  }
  const res = await fetch(url, {
    method: 'POST',
    headers: JSON_HEADERS,
    body: JSON.stringify(message),
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) throw new Error(`response_url answered HTTP ${res.status}`);
}

/**
 * The Slack interactivity endpoint as a function of a function URL request: verifies Slack's signature over the raw
 * body, refuses forged and old requests with 401 before anything else is read, parses the `block_actions` payload,
 * and for a click on {@link SLACK_APPROVE_ACTION_ID} / {@link SLACK_REJECT_ACTION_ID} calls `answer(incidentId,
 * {decision, by: 'slack:<user.id> (<user.username>)', via: 'slack'})`, then tells the clicker the outcome through
 * `response_url` (ephemeral) and acknowledges with 200 (empty body; the outcome as JSON `{message}` when the reply was
 * skipped: no `response_url`, or too little of the 3 s budget left). A failed reply to `response_url` is logged: the
 * answer stands. When `answer` throws (the ledger failed), the error is logged, the clicker told to try again, and the
 * answer is 500.
 * @throws the signing secret's read error (Secrets Manager): Lambda answers 502, nothing is changed.
 */
export function createSlackInteractionHandler(
  deps: SlackInteractionDeps,
): (request: FunctionUrlRequest) => Promise<FunctionUrlResponse> {
  const respond = deps.respond ?? ((url: string, message: SlackResponseMessage) => postToResponseUrl(url, message));
  return async (request) => {
    const startMs = deps.clock.now();
    const method = request.requestContext?.http?.method;
    if (method !== undefined && method.toUpperCase() !== 'POST') return reply(405, 'POST only');

    // Not even decoded when surely too large (a character is at most 4 bytes of UTF-8; base64 decodes smaller).
    if ((request.body ?? '').length > 4 * SLACK_MAX_BODY_BYTES) {
      deps.log.warn('slack interaction refused: body too large', { characters: (request.body ?? '').length });
      return reply(413, `request body larger than ${SLACK_MAX_BODY_BYTES} bytes`);
    }
    const rawBody = Buffer.from(request.body ?? '', request.isBase64Encoded ? 'base64' : 'utf8');
    if (rawBody.length > SLACK_MAX_BODY_BYTES) {
      deps.log.warn('slack interaction refused: body too large', { bytes: rawBody.length });
      return reply(413, `request body larger than ${SLACK_MAX_BODY_BYTES} bytes`);
    }
    const timestamp = header(request, 'x-slack-request-timestamp');
    const signature = header(request, 'x-slack-signature');
    if (timestamp === undefined || signature === undefined) {
      deps.log.warn('slack interaction refused: no signature', {});
      return reply(401, 'missing X-Slack-Signature or X-Slack-Request-Timestamp');
    }
    const sentMs = /^\d{1,12}$/.test(timestamp) ? Number(timestamp) * 1000 : Number.NaN;
    if (!Number.isFinite(sentMs) || Math.abs(deps.clock.now() - sentMs) > SLACK_MAX_SKEW_MS) {
      deps.log.warn('slack interaction refused: timestamp outside the 5-minute window', { timestamp });
      return reply(401, 'X-Slack-Request-Timestamp is more than 5 minutes from now');
    }
    const secret = await deps.signingSecret();
    if (!isSlackSignatureValid(secret, timestamp, rawBody, signature)) {
      // The secret may have been rotated: re-read it (the source limits how often) and check once more.
      const fresh = await deps.signingSecret({ refresh: true });
      if (fresh === secret || !isSlackSignatureValid(fresh, timestamp, rawBody, signature)) {
        deps.log.warn('slack interaction refused: bad signature', {});
        return reply(401, 'X-Slack-Signature does not match');
      }
    }

    const payloadJson = new URLSearchParams(rawBody.toString('utf8')).get('payload');
    let raw: unknown;
    try {
      raw = payloadJson === null ? undefined : JSON.parse(payloadJson);
    } catch {
      raw = undefined;
    }
    const parsed = BlockActionsPayload.safeParse(raw);
    if (!parsed.success) {
      deps.log.warn('slack interaction ignored: not a block_actions payload', {});
      return reply(400, 'expected a block_actions interaction payload in the form field "payload"');
    }
    const payload = parsed.data;
    const action = payload.actions.find(
      (a) => a.action_id === SLACK_APPROVE_ACTION_ID || a.action_id === SLACK_REJECT_ACTION_ID,
    );
    if (action === undefined) {
      deps.log.warn('slack interaction ignored: not a watchdog button', {
        actions: payload.actions.map((a) => a.action_id),
      });
      return reply(400, `expected action_id ${SLACK_APPROVE_ACTION_ID} or ${SLACK_REJECT_ACTION_ID}`);
    }
    const incidentId = action.value ?? '';
    if (!INCIDENT_ID_PATTERN.test(incidentId)) {
      return reply(400, 'the button value is not an incident id (NAME-0123456789abcdef)');
    }

    const who = payload.user.username ?? payload.user.name;
    const answer: ApprovalAnswer = {
      decision: action.action_id === SLACK_APPROVE_ACTION_ID ? 'APPROVED' : 'REJECTED',
      by: `slack:${payload.user.id}${who ? ` (${who})` : ''}`,
      via: 'slack',
      ...(action.action_id === SLACK_REJECT_ACTION_ID ? { reason: 'rejected in Slack' } : {}),
    };
    /** Replies to the clicker through response_url; false when skipped (no URL, or too little of the 3 s left). */
    const tell = async (text: string): Promise<boolean> => {
      if (!payload.response_url) return false;
      const remainingMs = SLACK_ACK_BUDGET_MS - (deps.clock.now() - startMs);
      if (remainingMs < SLACK_REPLY_MIN_REMAINING_MS) {
        deps.log.warn('no reply through response_url: too little of the 3 s acknowledgement budget left', {
          remainingMs,
        });
        return false;
      }
      try {
        await respond(payload.response_url, { response_type: 'ephemeral', replace_original: false, text });
      } catch (e) {
        deps.log.warn('could not reply to the clicker through response_url', { error: (e as Error).message });
      }
      return true;
    };
    let result: AnswerResult;
    try {
      result = await deps.answer(incidentId, answer);
    } catch (e) {
      // The ledger (or Step Functions) failed: nothing was taken. The clicker is told to try again.
      const error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      deps.log.error('slack approval answer failed', { incidentId, decision: answer.decision, by: answer.by, error });
      await tell(
        `Your ${answer.decision === 'APPROVED' ? 'approval' : 'rejection'} of incident ${incidentId} could not be recorded (${error}): try again, or use flink-watchdog ${answer.decision === 'APPROVED' ? 'approve' : 'reject'} ${incidentId}.`,
      );
      return reply(500, 'the answer could not be recorded: try again');
    }
    deps.log.info('slack approval answer', {
      incidentId,
      decision: answer.decision,
      by: answer.by,
      accepted: result.accepted,
      ...(payload.team?.id ? { team: payload.team.id } : {}),
    });
    if (await tell(result.message)) return { statusCode: 200, body: '' };
    // Slack ignores a block_actions acknowledgement's body; it keeps the outcome visible in the function URL's logs.
    return { statusCode: 200, headers: JSON_HEADERS, body: JSON.stringify({ message: result.message }) };
  };
}

/** What {@link signedSlackRequest} builds a click from. */
export interface SignedSlackRequestInput {
  /** The Slack app's signing secret the endpoint verifies with. */
  secret: string;
  /** When Slack sends it, epoch ms (the timestamp header is its whole seconds). */
  nowMs: number;
  incidentId: string;
  decision: 'APPROVED' | 'REJECTED';
  /** Slack user id, e.g. `U0123ABC`. */
  userId: string;
  /** Slack username, e.g. `jane.doe`. */
  userName: string;
  /** Slack workspace id. @default `T0WATCHDOG` */
  teamId?: string;
  /** The payload's response_url. @default none (no reply is sent) */
  responseUrl?: string;
  /** Deliver the body base64-encoded, as a function URL may. @default false */
  base64?: boolean;
}

/**
 * A function URL request exactly as Slack sends a click on an approval message's Approve / Reject button: a
 * `block_actions` payload form-encoded in `payload`, with `X-Slack-Request-Timestamp` and a valid `X-Slack-Signature`
 * for `secret`. The drill and the tests click through the real endpoint with it.
 */
export function signedSlackRequest(input: SignedSlackRequestInput): FunctionUrlRequest {
  const payload = {
    type: 'block_actions',
    user: { id: input.userId, username: input.userName, name: input.userName, team_id: input.teamId ?? 'T0WATCHDOG' },
    api_app_id: 'A0WATCHDOG',
    team: { id: input.teamId ?? 'T0WATCHDOG', domain: 'watchdog' },
    container: { type: 'message' },
    trigger_id: `${Math.floor(input.nowMs / 1000)}.trigger`,
    ...(input.responseUrl ? { response_url: input.responseUrl } : {}),
    actions: [
      {
        type: 'button',
        action_id: input.decision === 'APPROVED' ? SLACK_APPROVE_ACTION_ID : SLACK_REJECT_ACTION_ID,
        block_id: 'approval',
        value: input.incidentId,
        action_ts: `${(input.nowMs / 1000).toFixed(6)}`,
      },
    ],
  };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const timestamp = String(Math.floor(input.nowMs / 1000));
  return {
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': slackSignature(input.secret, timestamp, body),
    },
    body: input.base64 ? Buffer.from(body, 'utf8').toString('base64') : body,
    isBase64Encoded: input.base64 ?? false,
    requestContext: { http: { method: 'POST' } },
  };
}

let lambdaHandler: ((request: FunctionUrlRequest) => Promise<FunctionUrlResponse>) | undefined;

/**
 * Lambda entry point (the function URL Slack's Interactivity Request URL points at), wired from the environment
 * ({@link SlackInteractionsEnv}): the signing secret read from Secrets Manager and cached (5 minutes; re-read on a
 * signature mismatch, at most once a minute), the DynamoDB ledger,
 * Step Functions SendTaskSuccess for the waiting remediation workflow. Reads no watchdog config: the incident names
 * everything the answer needs.
 * @throws Error naming the variable when the environment is incomplete (Lambda answers 502; nothing is changed).
 */
export async function handler(request: FunctionUrlRequest): Promise<FunctionUrlResponse> {
  if (!lambdaHandler) {
    const env = readEnv(SlackInteractionsEnv);
    const log = new Logger({ serviceName: 'flink-watchdog-slack-interactions' });
    const deps = {
      ledger: new DynamoDbLedger({ tableName: env.LEDGER_TABLE_NAME }),
      tokens: new StepFunctionsTaskTokens(),
      clock: systemClock,
      log,
    };
    lambdaHandler = createSlackInteractionHandler({
      signingSecret: cachedSlackSigningSecret(env.SLACK_SIGNING_SECRET_NAME),
      answer: (incidentId, answer) => answerApproval(incidentId, answer, deps),
      clock: systemClock,
      log,
    });
  }
  return lambdaHandler(request);
}
