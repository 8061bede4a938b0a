import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { UndeliveredNotification } from './fan-out-notifier.ts';

/**
 * Sends undelivered notifications to the notification dead-letter queue (SQS SendMessage, JSON body), where an alarm
 * on ApproximateNumberOfMessagesVisible tells people that notifications are being lost.
 */
export function sqsDeadLetter(
  queueUrl: string,
  client: SQSClient = new SQSClient({}),
): (undelivered: UndeliveredNotification) => Promise<void> {
  return async (undelivered) => {
    await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(undelivered) }));
  };
}
