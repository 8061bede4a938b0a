/** What the notification dead-letter queue loads at its first message (sqs-dead-letter.ts); see sns.ts. */
export { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
