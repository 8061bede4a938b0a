/** What the EventBridge notifier loads at its first notification (eventbridge-notifier.ts); see sns.ts. */
export { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
