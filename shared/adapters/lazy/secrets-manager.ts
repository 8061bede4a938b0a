/** What the Slack notifiers load to read their secret (slack-notifier.ts); see sns.ts. */
export { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
