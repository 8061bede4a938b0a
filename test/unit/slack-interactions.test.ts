/**
 * The Slack interactivity endpoint (functions/slack-interactions/handler.ts): a signed click on Approve / Reject
 * answers the incident's approval; a forged, tampered or old request is refused with 401 and changes nothing (the
 * answer function, which records on the ledger and calls SendTaskSuccess, is never reached). Requests are built by
 * signedSlackRequest, the same helper the drill clicks with. Nothing leaves the process.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createSlackInteractionHandler,
  type FunctionUrlRequest,
  postToResponseUrl,
  SLACK_ACK_BUDGET_MS,
  SLACK_APPROVE_ACTION_ID,
  SLACK_MAX_BODY_BYTES,
  SLACK_REPLY_MIN_REMAINING_MS,
  type SlackResponseMessage,
  signedSlackRequest,
  slackSignature,
} from '#functions/slack-interactions/handler.ts';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import {
  cachedSlackSigningSecret,
  SIGNING_SECRET_MIN_REFRESH_MS,
  SIGNING_SECRET_TTL_MS,
  slackSigningSecretFromSecret,
} from '#shared/adapters/slack-signing-secret.ts';
import { type AnswerResult, type ApprovalAnswer, answerApproval } from '#shared/domain/approval.ts';
import type { Incident } from '#shared/domain/incident.ts';
import type { TaskTokenPort } from '#shared/ports/task-tokens.ts';
import { MIN, T0 } from '../support/builders.ts';
import { CapturingLog } from '../support/fakes.ts';

const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const INCIDENT = 'orders-enricher-0123456789abcdef';
const RESPONSE_URL = 'https://hooks.slack.com/actions/T0/1/abc';

function harness(
  options: {
    now?: number;
    result?: AnswerResult;
    respondFails?: boolean;
    /** The secret a plain read gives, and the one a `refresh: true` read gives (rotation). @default SECRET, both */
    secret?: string;
    refreshedSecret?: string;
    /** How long the answer (ledger + SendTaskSuccess) takes on the clock, ms. @default 0 */
    answerTakesMs?: number;
  } = {},
) {
  const answers: Array<{ incidentId: string; answer: ApprovalAnswer }> = [];
  const replies: Array<{ url: string; message: SlackResponseMessage }> = [];
  let secretReads = 0;
  let refreshes = 0;
  let nowMs = options.now ?? T0;
  const log = new CapturingLog();
  const handle = createSlackInteractionHandler({
    signingSecret: async ({ refresh = false } = {}) => {
      secretReads++;
      if (refresh) refreshes++;
      return refresh ? (options.refreshedSecret ?? options.secret ?? SECRET) : (options.secret ?? SECRET);
    },
    answer: async (incidentId, answer) => {
      answers.push({ incidentId, answer });
      nowMs += options.answerTakesMs ?? 0;
      return options.result ?? { accepted: true, message: `Approved by ${answer.by}: the workflow acts now.` };
    },
    clock: { now: () => nowMs },
    log,
    respond: async (url, message) => {
      if (options.respondFails) throw new Error('Slack unreachable');
      replies.push({ url, message });
    },
  });
  return { handle, answers, replies, log, secretReads: () => secretReads, refreshes: () => refreshes };
}

const click = (overrides: Partial<Parameters<typeof signedSlackRequest>[0]> = {}): FunctionUrlRequest =>
  signedSlackRequest({
    secret: SECRET,
    nowMs: T0,
    incidentId: INCIDENT,
    decision: 'APPROVED',
    userId: 'U0123ABC',
    userName: 'jane.doe',
    responseUrl: RESPONSE_URL,
    ...overrides,
  });

describe('Slack interactivity endpoint: signed clicks', () => {
  it('an Approve click answers the approval as the Slack user and tells the clicker, ephemerally', async () => {
    // Arrange
    const h = harness();

    // Act
    const res = await h.handle(click());

    // Assess
    expect(res.statusCode).toBe(200);
    expect(h.answers).toEqual([
      { incidentId: INCIDENT, answer: { decision: 'APPROVED', by: 'slack:U0123ABC (jane.doe)', via: 'slack' } },
    ]);
    expect(h.replies).toEqual([
      {
        url: RESPONSE_URL,
        message: {
          response_type: 'ephemeral',
          replace_original: false,
          text: 'Approved by slack:U0123ABC (jane.doe): the workflow acts now.',
        },
      },
    ]);
  });

  it('a Reject click answers REJECTED with a reason', async () => {
    // Arrange
    const h = harness({ result: { accepted: true, message: 'Rejected.' } });

    // Act
    const res = await h.handle(click({ decision: 'REJECTED', userId: 'U9', userName: 'sre.bob' }));

    // Assess
    expect(res.statusCode).toBe(200);
    expect(h.answers).toEqual([
      {
        incidentId: INCIDENT,
        answer: { decision: 'REJECTED', by: 'slack:U9 (sre.bob)', via: 'slack', reason: 'rejected in Slack' },
      },
    ]);
  });

  it('verifies a base64-encoded function URL body over the bytes Slack sent', async () => {
    // Arrange
    const h = harness();

    // Act
    const res = await h.handle(click({ base64: true }));

    // Assess
    expect(res.statusCode).toBe(200);
    expect(h.answers).toHaveLength(1);
  });

  it('accepts a request within 5 minutes of the local clock and reads the secret through the injected source', async () => {
    // Arrange
    const h = harness({ now: T0 + 5 * MIN });

    // Act
    const res = await h.handle(click());

    // Assess
    expect(res.statusCode).toBe(200);
    expect(h.secretReads()).toBe(1);
  });

  it('takes a click signed with a rotated secret: re-reads the secret on the mismatch', async () => {
    // Arrange: the container still holds the old secret; Slack signs with the new one.
    const h = harness({ secret: 'the-old-signing-secret', refreshedSecret: SECRET });

    // Act
    const res = await h.handle(click());

    // Assess
    expect(res.statusCode).toBe(200);
    expect(h.refreshes()).toBe(1);
    expect(h.answers).toHaveLength(1);
  });

  it('skips the response_url reply when too little of the 3 s budget is left, the outcome in the 200 body', async () => {
    // Arrange: the answer (ledger + SendTaskSuccess) took 2 s.
    const h = harness({ answerTakesMs: SLACK_ACK_BUDGET_MS - SLACK_REPLY_MIN_REMAINING_MS + 200 });

    // Act
    const res = await h.handle(click());

    // Assess
    expect(res.statusCode).toBe(200);
    expect(h.answers).toHaveLength(1);
    expect(h.replies).toEqual([]);
    expect(JSON.parse(res.body)).toEqual({ message: 'Approved by slack:U0123ABC (jane.doe): the workflow acts now.' });
  });

  it('still replies through response_url when enough of the budget is left', async () => {
    // Arrange
    const h = harness({ answerTakesMs: SLACK_ACK_BUDGET_MS - SLACK_REPLY_MIN_REMAINING_MS - 200 });

    // Act
    const res = await h.handle(click());

    // Assess
    expect(res).toEqual({ statusCode: 200, body: '' });
    expect(h.replies).toHaveLength(1);
  });

  it('a refused answer (already answered, not awaiting approval) is still acknowledged and its reason told', async () => {
    // Arrange
    const h = harness({ result: { accepted: false, message: 'Already approved by slack:U1 (amy).' } });

    // Act
    const res = await h.handle(click());

    // Assess
    expect(res.statusCode).toBe(200);
    expect(h.replies.map((r) => r.message.text)).toEqual(['Already approved by slack:U1 (amy).']);
  });

  it('a reply that cannot be delivered to response_url is logged; the answer stands', async () => {
    // Arrange
    const h = harness({ respondFails: true });

    // Act
    const res = await h.handle(click());

    // Assess
    expect(res.statusCode).toBe(200);
    expect(h.answers).toHaveLength(1);
    expect(h.log.lines.some((l) => l.level === 'warn' && l.message.includes('response_url'))).toBe(true);
  });
});

describe('Slack interactivity endpoint: a failing ledger', () => {
  it('answers 500 and tells the clicker to try again when the answer cannot be recorded', async () => {
    // Arrange
    const replies: string[] = [];
    const log = new CapturingLog();
    const handle = createSlackInteractionHandler({
      signingSecret: async () => SECRET,
      answer: async () => {
        throw new Error('ProvisionedThroughputExceededException: rate exceeded');
      },
      clock: { now: () => T0 },
      log,
      respond: async (_url, message) => void replies.push(message.text),
    });

    // Act
    const res = await handle(click());

    // Assess
    expect(res.statusCode).toBe(500);
    expect(replies).toEqual([
      `Your approval of incident ${INCIDENT} could not be recorded (Error: ProvisionedThroughputExceededException: rate exceeded): try again, or use flink-watchdog approve ${INCIDENT}.`,
    ]);
    expect(log.lines.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([
      'slack approval answer failed',
    ]);
  });
});

describe('Slack interactivity endpoint: forged and old requests change nothing', () => {
  const refused = async (request: FunctionUrlRequest, now = T0) => {
    const h = harness({ now });
    const res = await h.handle(request);
    return { res, answers: h.answers, replies: h.replies };
  };

  it.each([
    ['signed with another secret', () => click({ secret: 'not-the-signing-secret' })],
    ['without X-Slack-Signature', () => withHeaders(click(), { 'x-slack-signature': undefined })],
    ['without X-Slack-Request-Timestamp', () => withHeaders(click(), { 'x-slack-request-timestamp': undefined })],
    ['with a signature of another body (another incident)', () => swapBody(click(), click({ incidentId: 'other-1' }))],
    [
      'with the signature of another timestamp',
      () => withHeaders(click(), { 'x-slack-request-timestamp': `${T0 / 1000 + 1}` }),
    ],
    ['with a v1 signature', () => withHeaders(click(), { 'x-slack-signature': `v1=${'0'.repeat(64)}` })],
    ['with a non-numeric timestamp', () => withHeaders(click(), { 'x-slack-request-timestamp': 'yesterday' })],
  ])('refuses a request %s with 401', async (_, make) => {
    // Act
    const { res, answers, replies } = await refused(make());

    // Assess
    expect(res.statusCode).toBe(401);
    expect(answers).toEqual([]);
    expect(replies).toEqual([]);
  });

  it('refuses a correctly signed request older than 5 minutes (a replay) with 401', async () => {
    // Act
    const { res, answers } = await refused(click(), T0 + 5 * MIN + 1000);

    // Assess
    expect(res.statusCode).toBe(401);
    expect(JSON.parse(res.body)).toEqual({ message: 'X-Slack-Request-Timestamp is more than 5 minutes from now' });
    expect(answers).toEqual([]);
  });

  it('refuses a correctly signed request stamped more than 5 minutes ahead with 401', async () => {
    // Act
    const { res, answers } = await refused(click({ nowMs: T0 + 6 * MIN }));

    // Assess
    expect(res.statusCode).toBe(401);
    expect(answers).toEqual([]);
  });

  it('refuses any change of a single byte of the body with 401', async () => {
    const original = click();
    const body = Buffer.from(original.body ?? '', 'utf8');
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: body.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, delta) => {
        // Arrange
        const tampered = Buffer.from(body);
        tampered[at] = ((tampered[at] ?? 0) + delta) % 256;
        const h = harness();

        // Act
        const res = await h.handle({ ...original, body: tampered.toString('base64'), isBase64Encoded: true });

        // Assess
        expect(res.statusCode).toBe(401);
        expect(h.answers).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });

  it.each([
    ['plain', false],
    ['base64', true],
  ])('answers 413 to a %s body larger than 256 KiB, before reading the secret or hashing', async (_, base64) => {
    // Arrange
    const h = harness();
    const big = `payload=${'x'.repeat(SLACK_MAX_BODY_BYTES)}`;
    const request = {
      ...click(),
      body: base64 ? Buffer.from(big, 'utf8').toString('base64') : big,
      isBase64Encoded: base64,
    };

    // Act
    const res = await h.handle(request);

    // Assess
    expect(res.statusCode).toBe(413);
    expect(h.secretReads()).toBe(0);
    expect(h.answers).toEqual([]);
  });

  it('re-reads the secret once on a mismatch and still refuses a forged request', async () => {
    // Arrange
    const h = harness();

    // Act
    const res = await h.handle(click({ secret: 'not-the-signing-secret' }));

    // Assess
    expect(res.statusCode).toBe(401);
    expect(h.refreshes()).toBe(1);
    expect(h.answers).toEqual([]);
  });

  it('answers 405 to anything but POST, before reading the secret', async () => {
    // Arrange
    const h = harness();

    // Act
    const res = await h.handle({ ...click(), requestContext: { http: { method: 'GET' } } });

    // Assess
    expect(res.statusCode).toBe(405);
    expect(h.secretReads()).toBe(0);
    expect(h.answers).toEqual([]);
  });
});

describe('Slack interactivity endpoint: signed requests that are not a watchdog button click', () => {
  const signed = (body: string): FunctionUrlRequest => {
    const timestamp = String(T0 / 1000);
    return {
      headers: { 'x-slack-request-timestamp': timestamp, 'x-slack-signature': slackSignature(SECRET, timestamp, body) },
      body,
      isBase64Encoded: false,
      requestContext: { http: { method: 'POST' } },
    };
  };
  const payload = (p: unknown) => new URLSearchParams({ payload: JSON.stringify(p) }).toString();

  it.each([
    ['no payload field', 'token=x'],
    ['a payload that is not JSON', 'payload=%7Bnot-json'],
    ['a view_submission', payload({ type: 'view_submission', user: { id: 'U1' }, actions: [] })],
    [
      'another button of the app',
      payload({ type: 'block_actions', user: { id: 'U1' }, actions: [{ action_id: 'other', value: INCIDENT }] }),
    ],
    [
      'a button whose value is not an incident id',
      payload({
        type: 'block_actions',
        user: { id: 'U1' },
        actions: [{ action_id: SLACK_APPROVE_ACTION_ID, value: '../../etc' }],
      }),
    ],
  ])('answers 400 to %s and answers no approval', async (_, body) => {
    // Arrange
    const h = harness();

    // Act
    const res = await h.handle(signed(body));

    // Assess
    expect(res.statusCode).toBe(400);
    expect(h.answers).toEqual([]);
  });
});

describe('Slack response_url replies', () => {
  it('refuses to POST anywhere but Slack (no request is made)', async () => {
    // Act / Assess
    await expect(
      postToResponseUrl('https://example.com/hook', { response_type: 'ephemeral', replace_original: false, text: 'x' }),
    ).rejects.toThrow('response_url is not a Slack https URL (host example.com)');
    await expect(
      postToResponseUrl('http://hooks.slack.com/actions/1', {
        response_type: 'ephemeral',
        replace_original: false,
        text: 'x',
      }),
    ).rejects.toThrow('not a Slack https URL');
  });
});

describe('Slack signing secret from Secrets Manager', () => {
  it.each([
    ['the secret itself', `  ${SECRET}\n`],
    ['JSON {"signingSecret": ...}', JSON.stringify({ signingSecret: SECRET })],
  ])('reads %s', async (_, SecretString) => {
    // Arrange
    const sm = mockClient(SecretsManagerClient);
    sm.on(GetSecretValueCommand, { SecretId: 'flink-watchdog/slack-signing' }).resolves({ SecretString });

    // Act
    const secret = await slackSigningSecretFromSecret('flink-watchdog/slack-signing', new SecretsManagerClient({}));

    // Assess
    expect(secret).toBe(SECRET);
    sm.restore();
  });

  it.each([
    ['empty', ''],
    ['JSON without signingSecret', JSON.stringify({ url: 'https://hooks.slack.com/x' })],
    ['two words', 'a b'],
  ])('refuses a secret that is %s, naming the secret and not its value', async (_, SecretString) => {
    // Arrange
    const sm = mockClient(SecretsManagerClient);
    sm.on(GetSecretValueCommand).resolves({ SecretString });

    // Act / Assess
    await expect(slackSigningSecretFromSecret('slack-signing', new SecretsManagerClient({}))).rejects.toThrow(
      /^secret slack-signing: expected the Slack app's signing secret/,
    );
    sm.restore();
  });

  it('reads the secret once while it is fresh (5 minutes), then again', async () => {
    // Arrange
    const sm = mockClient(SecretsManagerClient);
    sm.on(GetSecretValueCommand).resolvesOnce({ SecretString: SECRET }).resolves({ SecretString: 'rotated-secret' });
    let now = T0;
    const secret = cachedSlackSigningSecret('slack-signing', new SecretsManagerClient({}), { now: () => now });

    // Act
    const fresh = [await secret(), await secret(), await secret()];
    now += SIGNING_SECRET_TTL_MS;
    const later = await secret();

    // Assess
    expect(fresh).toEqual([SECRET, SECRET, SECRET]);
    expect(later).toBe('rotated-secret');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    sm.restore();
  });

  it('re-reads on request (a signature mismatch) at most once a minute, keeping the old value if the re-read fails', async () => {
    // Arrange
    const sm = mockClient(SecretsManagerClient);
    sm.on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: SECRET })
      .rejectsOnce(new Error('throttled'))
      .resolves({ SecretString: 'rotated-secret' });
    let now = T0;
    const secret = cachedSlackSigningSecret('slack-signing', new SecretsManagerClient({}), { now: () => now });
    await secret();

    // Act
    const tooSoon = await secret({ refresh: true });
    now += SIGNING_SECRET_MIN_REFRESH_MS;
    const failed = await secret({ refresh: true });
    now += SIGNING_SECRET_MIN_REFRESH_MS - 1;
    const stillTooSoon = await secret({ refresh: true });
    now += 1;
    const rotated = await secret({ refresh: true });

    // Assess
    expect([tooSoon, failed, stillTooSoon, rotated]).toEqual([SECRET, SECRET, SECRET, 'rotated-secret']);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(3);
    sm.restore();
  });
});

function withHeaders(request: FunctionUrlRequest, headers: Record<string, string | undefined>): FunctionUrlRequest {
  const merged: Record<string, string | undefined> = { ...request.headers };
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  return { ...request, headers: merged };
}

function swapBody(signedFor: FunctionUrlRequest, bodyFrom: FunctionUrlRequest): FunctionUrlRequest {
  return { ...signedFor, body: bodyFrom.body ?? '' };
}

describe('Slack interactivity endpoint with answerApproval and the ledger', () => {
  const TOKEN = 'task-token-of-the-approval-wait';
  const ROLLBACK = { kind: 'ROLLBACK', expectVersionId: 7, toVersionId: 6 } as const;

  /** A ledger holding one incident awaiting approval, a token port recording each SendTaskSuccess, the endpoint. */
  async function world() {
    const ledger = new MemoryLedger();
    const pending: Incident = {
      schemaVersion: 1,
      id: INCIDENT,
      applicationName: 'orders-enricher',
      trigger: { source: 'alarm', detail: 'flink-watchdog-orders-enricher-restart-loop', atMs: T0 - MIN },
      openedMs: T0 - MIN,
      status: 'REMEDIATING',
      decision: {
        verdict: 'REMEDIATE',
        reason: 'restart loop after the update to version 7',
        guards: [],
        nextSteps: [],
      },
      remediation: ROLLBACK,
      attempts: 0,
      actions: [],
      events: [],
      approval: {
        action: ROLLBACK,
        requestedMs: T0 - MIN,
        timeoutMs: T0 + 29 * MIN,
        onTimeout: 'escalate',
        taskToken: TOKEN,
        state: 'PENDING',
      },
    };
    await ledger.createIncident(pending);
    const before = await ledger.getIncident(INCIDENT);
    const sent: Array<{ token: string; output: Record<string, unknown> }> = [];
    const tokens: TaskTokenPort = { sendTaskSuccess: async (token, output) => void sent.push({ token, output }) };
    const clock = { now: () => T0 };
    const log = new CapturingLog();
    const handle = createSlackInteractionHandler({
      signingSecret: async () => SECRET,
      answer: (incidentId, answer) => answerApproval(incidentId, answer, { ledger, tokens, clock, log }),
      clock,
      log,
      respond: async () => {},
    });
    return { ledger, before, sent, handle };
  }

  it('a signed Approve click records the Slack user on the incident and answers the waiting workflow', async () => {
    // Arrange
    const w = await world();

    // Act
    const res = await w.handle(click());

    // Assess
    expect(res.statusCode).toBe(200);
    const after = await w.ledger.getIncident(INCIDENT);
    expect(after?.approval).toMatchObject({
      state: 'APPROVED',
      answer: { decision: 'APPROVED', by: 'slack:U0123ABC (jane.doe)', via: 'slack', atMs: T0 },
    });
    expect(after?.approval?.taskToken).toBeUndefined();
    expect(w.sent).toEqual([
      { token: TOKEN, output: { decision: 'APPROVED', by: 'slack:U0123ABC (jane.doe)', via: 'slack' } },
    ]);
  });

  it.each([
    ['a forged signature', () => click({ secret: 'forged' }), T0],
    ['an old timestamp (a replayed click)', () => click({ nowMs: T0 - 6 * MIN }), T0],
  ])('a click with %s is refused with 401: the incident and the workflow are untouched', async (_, make) => {
    // Arrange
    const w = await world();

    // Act
    const res = await w.handle(make());

    // Assess
    expect(res.statusCode).toBe(401);
    expect(await w.ledger.getIncident(INCIDENT)).toEqual(w.before);
    expect(w.sent).toEqual([]);
  });
});
