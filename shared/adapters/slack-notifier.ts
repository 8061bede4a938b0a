import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { IncomingWebhook } from '@slack/webhook';
import { renderSlack } from '#shared/notify/slack.ts';
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
    this.#webhook ??= this.#options.webhookUrl().then(
      (url) =>
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

/**
 * The Slack webhook URL from a Secrets Manager secret: its SecretString is the URL itself, or JSON with a `url` or
 * `webhookUrl` field. The value is never logged or put in an error message.
 * @throws Error naming the secret (not its value) when it is missing or holds no https URL.
 */
export async function slackWebhookUrlFromSecret(
  secretName: string,
  client: SecretsManagerClient = new SecretsManagerClient({}),
): Promise<string> {
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretName }));
  const raw = out.SecretString?.trim() ?? '';
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
