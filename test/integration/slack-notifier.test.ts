import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { startSlackReceiver } from '#sandbox/slack-receiver.ts';
import { FanOutNotifier, type UndeliveredNotification } from '#shared/adapters/fan-out-notifier.ts';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import {
  SlackWebApiNotifier,
  SlackWebhookNotifier,
  slackCredentialsFromSecret,
} from '#shared/adapters/slack-notifier.ts';
import type { Incident } from '#shared/domain/incident.ts';
import type { Notification, Notifier } from '#shared/ports/notifier.ts';
import { MIN, T0 } from '../support/builders.ts';
import { CapturingLog } from '../support/fakes.ts';

const WEBHOOK = 'https://hooks.slack.com/services/T000/B000/NOT-A-REAL-SECRET';

function incident(): Incident {
  return {
    schemaVersion: 1,
    id: 'orders-0123456789abcdef',
    applicationName: 'orders',
    trigger: { source: 'alarm', detail: 'flink-watchdog-orders-restart-loop', atMs: T0 },
    openedMs: T0,
    status: 'REMEDIATING',
    decision: { verdict: 'REMEDIATE', reason: 'restart loop after version 7', guards: [], nextSteps: [] },
    attempts: 1,
    actions: [],
    events: [],
  };
}

function notification(i: Incident, event: Notification['event'] = 'OPENED', atMs = T0): Notification {
  return { event, atMs, title: `orders: ${event}`, text: 'restart loop', nextSteps: [], incident: i };
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

/** A stand-in for the Slack Web API's chat.postMessage on 127.0.0.1. */
async function startSlackApi() {
  const posts: Array<Record<string, string>> = [];
  let seq = 0;
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const body: Record<string, string> = (req.headers['content-type'] ?? '').includes('json')
        ? (JSON.parse(raw) as Record<string, string>)
        : Object.fromEntries(new URLSearchParams(raw));
      posts.push({ path: req.url ?? '', authorization: req.headers.authorization ?? '', ...body });
      seq += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, channel: body.channel, ts: `1772460000.00010${seq}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`, posts };
}

describe('Adapter: SlackWebhookNotifier', () => {
  it('posts Block Kit with the incident id to the webhook', async () => {
    // Prepare
    const receiver = await startSlackReceiver({ clock: { now: () => T0 } });
    closers.push(receiver.close);
    const slack = new SlackWebhookNotifier({ webhookUrl: async () => receiver.url, region: 'eu-west-1' });
    // Act
    await slack.notify(notification(incident()));
    // Assess
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]?.body.text).toContain('orders-0123456789abcdef');
    expect(receiver.received[0]?.body.blocks?.length).toBeGreaterThan(0);
  });

  it.each([
    ['http-500', 'statusCode = 500'],
    ['timeout', 'timeout'],
  ] as const)('retries a Slack that answers %s, then gives up with the reason', async (mode, reason) => {
    // Prepare
    const receiver = await startSlackReceiver({ clock: { now: () => T0 }, outages: [{ fromMs: 0, mode }] });
    closers.push(receiver.close);
    const slack = new SlackWebhookNotifier({
      webhookUrl: async () => receiver.url,
      region: 'eu-west-1',
      timeoutMs: 100,
      retries: 2,
      minRetryDelayMs: 5,
    });
    // Act
    const sent = slack.notify(notification(incident()));
    // Assess
    await expect(sent).rejects.toThrow(reason);
    expect(receiver.received).toHaveLength(3);
  });
});

describe('Adapter: SlackWebApiNotifier (token mode)', () => {
  it('opens a thread with the first message of an incident and replies in it with every later update', async () => {
    // Prepare
    const api = await startSlackApi();
    const ledger = new MemoryLedger();
    const i = incident();
    await ledger.createIncident(i);
    const slack = new SlackWebApiNotifier({
      credentials: async () => ({ token: 'xoxb-test-token', channel: 'C0ONCALL' }),
      region: 'eu-west-1',
      ledger,
      slackApiUrl: api.url,
    });
    // Act
    await slack.notify(notification(i, 'OPENED'));
    await slack.notify(notification(i, 'ACTION_TAKEN', T0 + MIN));
    await slack.notify(notification(i, 'RESOLVED', T0 + 8 * MIN));
    // Assess
    expect(api.posts.map((p) => p.path)).toEqual(Array(3).fill('/api/chat.postMessage'));
    expect(api.posts.map((p) => p.thread_ts)).toEqual([undefined, '1772460000.000101', '1772460000.000101']);
    expect(api.posts[0]?.authorization).toBe('Bearer xoxb-test-token');
    expect((await ledger.getIncident(i.id))?.slackThread).toEqual({ channel: 'C0ONCALL', ts: '1772460000.000101' });
  });
});

describe('Function: slackCredentialsFromSecret', () => {
  const secrets = mockClient(SecretsManagerClient);
  afterEach(() => {
    secrets.reset();
  });

  it.each([
    ['the URL itself', WEBHOOK, { mode: 'webhook', url: WEBHOOK }],
    ['JSON with url', JSON.stringify({ url: WEBHOOK }), { mode: 'webhook', url: WEBHOOK }],
    [
      'JSON with a bot token and a channel',
      JSON.stringify({ token: 'xoxb-1', channel: 'C1' }),
      { mode: 'web-api', token: 'xoxb-1', channel: 'C1' },
    ],
  ])('reads %s', async (_label, secretString, expected) => {
    // Prepare
    secrets.on(GetSecretValueCommand).resolves({ SecretString: secretString });
    // Act
    const credentials = await slackCredentialsFromSecret('flink-watchdog/slack', new SecretsManagerClient({}));
    // Assess
    expect(credentials).toEqual(expected);
  });

  it('names the secret, never its value, when it holds neither', async () => {
    // Prepare
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '{"token":"xoxb-secret-value"}' });
    // Act
    const read = slackCredentialsFromSecret('flink-watchdog/slack', new SecretsManagerClient({}));
    // Assess
    await expect(read).rejects.toThrow('secret flink-watchdog/slack');
    await expect(read).rejects.not.toThrow('xoxb-secret-value');
  });
});

describe('Adapter: FanOutNotifier', () => {
  it('delivers to the healthy channels, records the failed one on the incident and dead-letters it, never throwing', async () => {
    // Prepare
    const ledger = new MemoryLedger();
    const i = incident();
    await ledger.createIncident(i);
    const log = new CapturingLog();
    const delivered: string[] = [];
    const deadLetters: UndeliveredNotification[] = [];
    const broken: Notifier = {
      notify: async () => {
        throw new Error(`request to ${WEBHOOK} failed, reason: connect ECONNREFUSED`);
      },
    };
    const fanOut = new FanOutNotifier({
      channels: [
        { name: 'slack', notifier: broken },
        { name: 'sns', notifier: { notify: async (n) => void delivered.push(n.event) } },
      ],
      ledger,
      log,
      deadLetter: async (u) => void deadLetters.push(u),
    });
    // Act
    await fanOut.notify(notification(i, 'ESCALATED'));
    // Assess
    expect(delivered).toEqual(['ESCALATED']);
    expect(deadLetters).toEqual([expect.objectContaining({ channel: 'slack', event: 'ESCALATED', incidentId: i.id })]);
    const stored = await ledger.getIncident(i.id);
    const recorded = stored?.events.find((e) => e.kind === 'ERROR');
    expect(recorded?.message).toContain('ESCALATED notification to slack not delivered');
    const everything = JSON.stringify({ stored, deadLetters, log: log.lines });
    expect(everything).not.toContain('NOT-A-REAL-SECRET');
    expect(everything).toContain('[redacted]');
  });
});
