/**
 * What the SNS notifiers load at their first notification (sns-notifier.ts): the client and the one command used,
 * named so that the bundle's chunk for this dynamic `import()` keeps only them, not every SNS command.
 */
export { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
