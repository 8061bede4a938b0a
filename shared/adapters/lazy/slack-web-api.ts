/** What the Slack Web API notifier loads at its first notification (slack-notifier.ts); see sns.ts. */
export { LogLevel, WebClient } from '@slack/web-api';
