import type { SQSClient } from '@aws-sdk/client-sqs';
import type { UndeliveredNotification } from './fan-out-notifier.ts';

/**
 * Sends undelivered notifications to the notification dead-letter queue (SQS SendMessage, JSON body), where an alarm
 * on ApproximateNumberOfMessagesVisible tells people that notifications are being lost. The SQS client module is
 * loaded by dynamic `import()` at the first undelivered notification: a function whose channels all deliver never
 * loads it.
 * @param client @default a new SQSClient with the default credential chain and Region, made on first use and kept
 */
export function sqsDeadLetter(
  queueUrl: string,
  client?: SQSClient,
): (undelivered: UndeliveredNotification) => Promise<void> {
  let sqs: SQSClient | undefined = client;
  return async (undelivered) => {
    const { SendMessageCommand, SQSClient: Client } = await import('./lazy/sqs.ts');
    sqs ??= new Client({});
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(undelivered) }));
  };
}
