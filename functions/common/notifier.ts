import { EventBridgeNotifier } from '#shared/adapters/eventbridge-notifier.ts';
import { FanOutNotifier, type NotificationChannel } from '#shared/adapters/fan-out-notifier.ts';
import { onFirstUse } from '#shared/adapters/on-first-use.ts';
import { ChatbotNotifier, SnsNotifier } from '#shared/adapters/sns-notifier.ts';
import { sqsDeadLetter } from '#shared/adapters/sqs-dead-letter.ts';
import type { Ledger } from '#shared/ports/ledger.ts';
import type { Log } from '#shared/ports/log.ts';
import type { Notifier } from '#shared/ports/notifier.ts';

/** The notification variables every function's environment carries (see functions/common/env.ts). */
export interface NotificationEnv {
  AWS_REGION?: string | undefined;
  NOTIFICATION_TOPIC_ARN: string;
  SLACK_WEBHOOK_SECRET_NAME?: string | undefined;
  CHATBOT_TOPIC_ARN?: string | undefined;
  CHATBOT_COMMAND_TOPIC_ARN?: string | undefined;
  EVENT_BUS_NAME?: string | undefined;
  NOTIFICATION_DLQ_URL?: string | undefined;
}

/**
 * Every configured channel behind one fan-out: the SNS runbook topic (always), EventBridge custom events (always),
 * the Amazon Q Developer chat topic and Slack (when configured). A channel that fails after its retries is recorded on
 * the incident and sent to the notification dead-letter queue; delivery never blocks or undoes a remediation.
 * The clients of Slack, Secrets Manager and the dead-letter queue (SQS) are loaded only when first used.
 */
export function notifierFromEnv(env: NotificationEnv, deps: { ledger: Ledger; log: Log }): Notifier {
  const region = env.AWS_REGION ?? 'us-east-1';
  const channels: NotificationChannel[] = [
    { name: 'sns', notifier: new SnsNotifier({ topicArn: env.NOTIFICATION_TOPIC_ARN }) },
    {
      name: 'eventbridge',
      notifier: new EventBridgeNotifier(env.EVENT_BUS_NAME ? { eventBusName: env.EVENT_BUS_NAME } : {}),
    },
  ];
  if (env.CHATBOT_TOPIC_ARN) {
    channels.push({
      name: 'chatbot',
      notifier: new ChatbotNotifier({
        topicArn: env.CHATBOT_TOPIC_ARN,
        region,
        ...(env.CHATBOT_COMMAND_TOPIC_ARN ? { commandTopicArn: env.CHATBOT_COMMAND_TOPIC_ARN } : {}),
      }),
    });
  }
  const secretName = env.SLACK_WEBHOOK_SECRET_NAME;
  if (secretName) {
    // Webhook mode or Web API mode (threads), whichever the secret holds.
    channels.push({
      name: 'slack',
      // The Slack notifier and its renderer are loaded, the secret read and the Slack client made, at the first
      // notification.
      notifier: loadedOnFirstUse(async () => {
        const { SlackSecretNotifier } = await import('#shared/adapters/slack-notifier.ts');
        return new SlackSecretNotifier({ secretName, region, ledger: deps.ledger });
      }),
    });
  }
  return new FanOutNotifier({
    channels,
    ledger: deps.ledger,
    log: deps.log,
    ...(env.NOTIFICATION_DLQ_URL ? { deadLetter: sqsDeadLetter(env.NOTIFICATION_DLQ_URL) } : {}),
  });
}

/** A notifier whose module `load` imports at the first notification (a failed load is tried again at the next). */
function loadedOnFirstUse(load: () => Promise<Notifier>): Notifier {
  const notifier = onFirstUse(undefined, load);
  return { notify: async (n) => (await notifier()).notify(n) };
}
