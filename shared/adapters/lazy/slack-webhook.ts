/** What the Slack webhook notifier loads at its first notification (slack-notifier.ts); see sns.ts. */
export { IncomingWebhook } from '@slack/webhook';
