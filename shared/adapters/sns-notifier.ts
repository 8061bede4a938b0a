import { PublishCommand, SNSClient, type SNSClientConfig } from '@aws-sdk/client-sns';
import type { Notification, Notifier } from '#shared/ports/notifier.ts';

/** Options of {@link SnsNotifier}. */
export interface SnsNotifierOptions {
  /** ARN of the topic (the construct's encrypted topic, or `notifications.snsTopicArn`). */
  topicArn: string;
  client?: SNSClient;
  clientConfig?: SNSClientConfig;
}

/** SNS Publish `Subject` limit, characters. */
const SUBJECT_MAX = 100;

/**
 * Publishes each notification to an SNS topic as JSON (`schemaVersion` 1: event, title, text, nextSteps and the
 * incident), with message attributes `application`, `event` and `incidentId` for subscription filter policies.
 * Errors are thrown to the caller (the domain's `tell` logs them and carries on).
 */
export class SnsNotifier implements Notifier {
  readonly #client: SNSClient;
  readonly #topicArn: string;

  constructor(options: SnsNotifierOptions) {
    this.#client = options.client ?? new SNSClient(options.clientConfig ?? {});
    this.#topicArn = options.topicArn;
  }

  async notify(n: Notification): Promise<void> {
    const message = {
      schemaVersion: 1,
      event: n.event,
      at: new Date(n.atMs).toISOString(),
      title: n.title,
      text: n.text,
      nextSteps: n.nextSteps,
      incident: n.incident,
    };
    await this.#client.send(
      new PublishCommand({
        TopicArn: this.#topicArn,
        Subject: n.title.replace(/[^\x20-\x7e]/g, '-').slice(0, SUBJECT_MAX),
        Message: JSON.stringify(message),
        MessageAttributes: {
          application: { DataType: 'String', StringValue: n.incident.applicationName },
          event: { DataType: 'String', StringValue: n.event },
          incidentId: { DataType: 'String', StringValue: n.incident.id },
        },
      }),
    );
  }
}
