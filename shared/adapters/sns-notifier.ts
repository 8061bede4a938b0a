import type { SNSClient, SNSClientConfig } from '@aws-sdk/client-sns';
import { renderChatbot } from '#shared/notify/chatbot.ts';
import { renderSnsMessage } from '#shared/notify/sns-message.ts';
import type { Notification, Notifier } from '#shared/ports/notifier.ts';
import { onFirstUse } from './on-first-use.ts';

/** Options of {@link SnsNotifier} and {@link ChatbotNotifier}. */
export interface SnsNotifierOptions {
  /** ARN of the topic. */
  topicArn: string;
  /** A ready client (tests); else one is made with `clientConfig` at the first notification. */
  client?: SNSClient;
  clientConfig?: SNSClientConfig;
}

/**
 * Publishes `message` (SNS Publish) with the client of `client()`. The SNS client module is loaded at the first
 * notification, not at cold start: most invocations send none.
 */
async function publish(
  client: () => Promise<SNSClient>,
  input: { TopicArn: string; Message: string; Subject?: string; MessageAttributes?: SnsMessageAttributes },
): Promise<void> {
  const { PublishCommand } = await import('./lazy/sns.ts');
  await (await client()).send(new PublishCommand(input));
}

type SnsMessageAttributes = ReturnType<typeof renderSnsMessage>['attributes'];

/** The client of {@link SnsNotifierOptions}: the one given, else a new SNSClient made on first use. */
function snsClient(options: SnsNotifierOptions): () => Promise<SNSClient> {
  return onFirstUse(options.client, async () => {
    const { SNSClient: Client } = await import('./lazy/sns.ts');
    return new Client(options.clientConfig ?? {});
  });
}

/**
 * Publishes each notification to the runbook topic as the versioned {@link renderSnsMessage} JSON (WatchdogEventV1,
 * schema in shared/notify/sns-message.schema.json), with message attributes severity, application, findingKind,
 * action, outcome, event and incidentId for subscription filter policies. Errors are thrown (the fan-out records them).
 */
export class SnsNotifier implements Notifier {
  readonly #client: () => Promise<SNSClient>;
  readonly #topicArn: string;

  constructor(options: SnsNotifierOptions) {
    this.#client = snsClient(options);
    this.#topicArn = options.topicArn;
  }

  async notify(n: Notification): Promise<void> {
    const { message, subject, attributes } = renderSnsMessage(n);
    await publish(this.#client, {
      TopicArn: this.#topicArn,
      Subject: subject,
      Message: JSON.stringify(message),
      MessageAttributes: attributes,
    });
  }
}

/**
 * Publishes each notification to the chat topic in the Amazon Q Developer in chat applications custom-notification
 * format (shared/notify/chatbot.ts), `threadId` = the incident id, so one incident's updates thread together.
 */
export class ChatbotNotifier implements Notifier {
  readonly #client: () => Promise<SNSClient>;
  readonly #topicArn: string;
  readonly #region: string;
  readonly #commandTopicArn: string | undefined;

  /**
   * @param options.region the Region of the console links
   * @param options.commandTopicArn the runbook command topic the Amazon Q custom actions publish approve / reject to
   *   (carried by a pending request's notification); absent: no Approve / Reject buttons in Amazon Q
   */
  constructor(options: SnsNotifierOptions & { region: string; commandTopicArn?: string }) {
    this.#client = snsClient(options);
    this.#topicArn = options.topicArn;
    this.#region = options.region;
    this.#commandTopicArn = options.commandTopicArn;
  }

  async notify(n: Notification): Promise<void> {
    await publish(this.#client, {
      TopicArn: this.#topicArn,
      Message: JSON.stringify(
        renderChatbot(n, {
          region: this.#region,
          ...(this.#commandTopicArn ? { commandTopicArn: this.#commandTopicArn } : {}),
        }),
      ),
    });
  }
}
