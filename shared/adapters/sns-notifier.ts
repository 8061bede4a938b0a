import { PublishCommand, SNSClient, type SNSClientConfig } from '@aws-sdk/client-sns';
import { renderChatbot } from '#shared/notify/chatbot.ts';
import { renderSnsMessage } from '#shared/notify/sns-message.ts';
import type { Notification, Notifier } from '#shared/ports/notifier.ts';

/** Options of {@link SnsNotifier} and {@link ChatbotNotifier}. */
export interface SnsNotifierOptions {
  /** ARN of the topic. */
  topicArn: string;
  client?: SNSClient;
  clientConfig?: SNSClientConfig;
}

/**
 * Publishes each notification to the runbook topic as the versioned {@link renderSnsMessage} JSON (WatchdogEventV1,
 * schema in shared/notify/sns-message.schema.json), with message attributes severity, application, findingKind,
 * action, outcome, event and incidentId for subscription filter policies. Errors are thrown (the fan-out records them).
 */
export class SnsNotifier implements Notifier {
  readonly #client: SNSClient;
  readonly #topicArn: string;

  constructor(options: SnsNotifierOptions) {
    this.#client = options.client ?? new SNSClient(options.clientConfig ?? {});
    this.#topicArn = options.topicArn;
  }

  async notify(n: Notification): Promise<void> {
    const { message, subject, attributes } = renderSnsMessage(n);
    await this.#client.send(
      new PublishCommand({
        TopicArn: this.#topicArn,
        Subject: subject,
        Message: JSON.stringify(message),
        MessageAttributes: attributes,
      }),
    );
  }
}

/**
 * Publishes each notification to the chat topic in the Amazon Q Developer in chat applications custom-notification
 * format (shared/notify/chatbot.ts), `threadId` = the incident id, so one incident's updates thread together.
 */
export class ChatbotNotifier implements Notifier {
  readonly #client: SNSClient;
  readonly #topicArn: string;
  readonly #region: string;

  constructor(options: SnsNotifierOptions & { region: string }) {
    this.#client = options.client ?? new SNSClient(options.clientConfig ?? {});
    this.#topicArn = options.topicArn;
    this.#region = options.region;
  }

  async notify(n: Notification): Promise<void> {
    await this.#client.send(
      new PublishCommand({
        TopicArn: this.#topicArn,
        Message: JSON.stringify(renderChatbot(n, { region: this.#region })),
      }),
    );
  }
}
