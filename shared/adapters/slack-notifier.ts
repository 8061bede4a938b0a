/**
 * Slack notifiers. The Slack clients (@slack/webhook, @slack/web-api) and the Secrets Manager client are loaded by
 * dynamic `import()` at the first notification, so a function whose Slack channel is not configured, or that sends
 * nothing, never loads them (in the Lambda bundles they are separate chunks).
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { WebClient } from '@slack/web-api';
import type { IncomingWebhook } from '@slack/webhook';
import { renderSlack } from '#shared/notify/slack.ts';
import type { Ledger } from '#shared/ports/ledger.ts';
import type { Notification, Notifier } from '#shared/ports/notifier.ts';

/** Options of {@link SlackWebhookNotifier}. */
export interface SlackWebhookNotifierOptions {
  /** Resolves the incoming-webhook URL (from Secrets Manager in AWS); called once, then cached. Never logged. */
  webhookUrl: () => Promise<string>;
  /** AWS region, for the console links in the message. */
  region: string;
  /** Per-request timeout, ms. @default 3000 */
  timeoutMs?: number;
  /** Retries of a 5xx answer or a network error/timeout (4xx, incl. 429, are not retried by @slack/webhook). @default 2 */
  retries?: number;
  /** First retry delay, ms, doubling after. @default 500 */
  minRetryDelayMs?: number;
}

/**
 * Posts each notification to a Slack incoming webhook as Block Kit (shared/notify/slack.ts), with @slack/webhook's
 * timeout and retry policy. Webhook mode cannot thread replies: every message carries the incident id so one incident's
 * updates can be found together. Throws when delivery fails after the retries (the fan-out records it).
 */
export class SlackWebhookNotifier implements Notifier {
  readonly #options: SlackWebhookNotifierOptions;
  #webhook: Promise<IncomingWebhook> | undefined;

  constructor(options: SlackWebhookNotifierOptions) {
    this.#options = options;
  }

  async notify(n: Notification): Promise<void> {
    this.#webhook ??= Promise.all([this.#options.webhookUrl(), import('./lazy/slack-webhook.ts')]).then(
      ([url, { IncomingWebhook }]) =>
        new IncomingWebhook(url, {
          timeout: this.#options.timeoutMs ?? 3000,
          retryConfig: {
            retries: this.#options.retries ?? 2,
            factor: 2,
            minTimeout: this.#options.minRetryDelayMs ?? 500,
            randomize: false,
          },
        }),
    );
    let webhook: IncomingWebhook;
    try {
      webhook = await this.#webhook;
    } catch (e) {
      this.#webhook = undefined;
      throw e;
    }
    const { text, blocks } = renderSlack(n, { region: this.#options.region });
    await webhook.send({ text, blocks });
  }
}

/** The Slack credentials a secret holds: an incoming-webhook URL, or a bot token and a channel (Web API mode). */
export type SlackCredentials = { mode: 'webhook'; url: string } | { mode: 'web-api'; token: string; channel: string };

/** Options of {@link SlackWebApiNotifier}. */
export interface SlackWebApiNotifierOptions {
  /** Resolves the bot token and channel (from Secrets Manager in AWS); called once, then cached. Never logged. */
  credentials: () => Promise<{ token: string; channel: string }>;
  region: string;
  /** Where the thread of each incident is kept (the incident's `slackThread`, saved at once). */
  ledger: Ledger;
  /** Slack Web API base URL. @default https://slack.com/api/ */
  slackApiUrl?: string;
  /** Per-request timeout, ms. @default 3000 */
  timeoutMs?: number;
  /** Retries of a failed request (network, 5xx, rate limits per @slack/web-api). @default 2 */
  retries?: number;
  /** First retry delay, ms. @default 500 */
  minRetryDelayMs?: number;
}

/**
 * Posts each notification with the Slack Web API (chat.postMessage, Block Kit from shared/notify/slack.ts): the
 * first message of an incident opens a thread, and every later update of that incident replies in it (`thread_ts`,
 * kept on the incident in the ledger). Throws when Slack refuses or delivery fails after the retries.
 */
export class SlackWebApiNotifier implements Notifier {
  readonly #options: SlackWebApiNotifierOptions;
  #client: Promise<{ client: WebClient; channel: string }> | undefined;

  constructor(options: SlackWebApiNotifierOptions) {
    this.#options = options;
  }

  async notify(n: Notification): Promise<void> {
    this.#client ??= Promise.all([this.#options.credentials(), import('./lazy/slack-web-api.ts')]).then(
      ([{ token, channel }, { WebClient, LogLevel }]) => ({
        channel,
        client: new WebClient(token, {
          ...(this.#options.slackApiUrl ? { slackApiUrl: this.#options.slackApiUrl } : {}),
          timeout: this.#options.timeoutMs ?? 3000,
          retryConfig: {
            retries: this.#options.retries ?? 2,
            factor: 2,
            minTimeout: this.#options.minRetryDelayMs ?? 500,
            randomize: false,
          },
          logLevel: LogLevel.ERROR,
          // A rate-limited call fails at once (the fan-out records it) instead of sleeping Retry-After inside a step.
          rejectRateLimitedCalls: true,
        }),
      }),
    );
    let connection: { client: WebClient; channel: string };
    try {
      connection = await this.#client;
    } catch (e) {
      this.#client = undefined;
      throw e;
    }
    const thread = n.incident.slackThread;
    const { text, blocks } = renderSlack(n, {
      region: this.#options.region,
      ...(thread && thread.channel === connection.channel ? { threadTs: thread.ts } : {}),
    });
    const out = await connection.client.chat.postMessage({
      channel: connection.channel,
      text,
      blocks,
      ...(thread && thread.channel === connection.channel ? { thread_ts: thread.ts } : {}),
    });
    if (!thread && out.ts) {
      const slackThread = { channel: out.channel ?? connection.channel, ts: out.ts };
      // Into the step's copy (its later saves keep it) and into the stored incident, read fresh: a stale copy must
      // never overwrite what the workflow recorded since.
      n.incident.slackThread = slackThread;
      await this.#options.ledger.updateIncident(n.incident.id, (stored) => ({ ...stored, slackThread }));
    }
  }
}

/**
 * The SecretString of a Secrets Manager secret (GetSecretValue), trimmed; `''` when it has none. The client module is
 * loaded on first use.
 * @param client @default a new SecretsManagerClient with the default credential chain and Region
 */
async function secretString(secretName: string, client?: SecretsManagerClient): Promise<string> {
  const { GetSecretValueCommand, SecretsManagerClient: Client } = await import('./lazy/secrets-manager.ts');
  const out = await (client ?? new Client({})).send(new GetSecretValueCommand({ SecretId: secretName }));
  return out.SecretString?.trim() ?? '';
}

/**
 * What a Slack secret holds: the incoming-webhook URL itself (or JSON `{"url": …}`), or JSON
 * `{"token": "xoxb-…", "channel": "C…"}` for Web API mode (threads). Values are never logged or put in errors.
 * @param client @default a new SecretsManagerClient with the default credential chain and Region
 * @throws Error naming the secret (not its value) when it holds neither.
 */
export async function slackCredentialsFromSecret(
  secretName: string,
  client?: SecretsManagerClient,
): Promise<SlackCredentials> {
  const raw = await secretString(secretName, client);
  if (raw.startsWith('{')) {
    let parsed: { token?: unknown; channel?: unknown } = {};
    try {
      parsed = JSON.parse(raw) as typeof parsed;
    } catch {
      // Handled below as "neither".
    }
    if (typeof parsed.token === 'string' && typeof parsed.channel === 'string' && parsed.token && parsed.channel) {
      return { mode: 'web-api', token: parsed.token, channel: parsed.channel };
    }
  }
  return { mode: 'webhook', url: await slackWebhookUrlFromSecret(secretName, client, raw) };
}

/**
 * The Slack webhook URL from a Secrets Manager secret: its SecretString is the URL itself, or JSON with a `url` or
 * `webhookUrl` field. The value is never logged or put in an error message.
 * @param client @default a new SecretsManagerClient with the default credential chain and Region
 * @param knownSecretString the SecretString when already read (then nothing is called)
 * @throws Error naming the secret (not its value) when it is missing or holds no https URL.
 */
export async function slackWebhookUrlFromSecret(
  secretName: string,
  client?: SecretsManagerClient,
  knownSecretString?: string,
): Promise<string> {
  const raw = knownSecretString ?? (await secretString(secretName, client));
  let url = raw;
  if (raw.startsWith('{')) {
    try {
      const parsed = JSON.parse(raw) as { url?: unknown; webhookUrl?: unknown };
      url = String(parsed.url ?? parsed.webhookUrl ?? '');
    } catch {
      url = '';
    }
  }
  if (!/^https:\/\/\S+$/.test(url)) {
    throw new Error(
      `secret ${secretName}: expected the Slack incoming-webhook URL (or JSON {"url": ...}) as its SecretString`,
    );
  }
  return url;
}

/**
 * Slack from a Secrets Manager secret: webhook mode or Web API mode (threads), whichever the secret holds
 * ({@link slackCredentialsFromSecret}); the secret is read once, on the first notification.
 */
export class SlackSecretNotifier implements Notifier {
  readonly #options: { secretName: string; region: string; ledger: Ledger; secrets?: SecretsManagerClient };
  #inner: Promise<Notifier> | undefined;

  constructor(options: { secretName: string; region: string; ledger: Ledger; secrets?: SecretsManagerClient }) {
    this.#options = options;
  }

  async notify(n: Notification): Promise<void> {
    const { secretName, region, ledger, secrets } = this.#options;
    this.#inner ??= slackCredentialsFromSecret(secretName, secrets).then((c) =>
      c.mode === 'webhook'
        ? new SlackWebhookNotifier({ webhookUrl: async () => c.url, region })
        : new SlackWebApiNotifier({
            credentials: async () => ({ token: c.token, channel: c.channel }),
            region,
            ledger,
          }),
    );
    let inner: Notifier;
    try {
      inner = await this.#inner;
    } catch (e) {
      this.#inner = undefined;
      throw e;
    }
    await inner.notify(n);
  }
}
