/**
 * The Slack app's signing secret from Secrets Manager (config `notifications.slackSigningSecretName`), for the Slack
 * interactivity endpoint (functions/slack-interactions/handler.ts). The Secrets Manager client is loaded at the first
 * read, not at cold start.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { onFirstUse } from './on-first-use.ts';

/**
 * The signing secret a Secrets Manager secret holds (GetSecretValue, SecretString): the secret itself, or JSON
 * `{"signingSecret": "…"}`. The value is never logged or put in an error message.
 * @param client @default a new SecretsManagerClient with the default credential chain and Region
 * @throws Error naming the secret (not its value) when its SecretString is empty or is JSON without `signingSecret`.
 */
export async function slackSigningSecretFromSecret(secretName: string, client?: SecretsManagerClient): Promise<string> {
  const { GetSecretValueCommand, SecretsManagerClient: Client } = await import('./lazy/secrets-manager.ts');
  const out = await (client ?? new Client({})).send(new GetSecretValueCommand({ SecretId: secretName }));
  const raw = out.SecretString?.trim() ?? '';
  let secret = raw;
  if (raw.startsWith('{')) {
    try {
      const parsed = JSON.parse(raw) as { signingSecret?: unknown };
      secret = typeof parsed.signingSecret === 'string' ? parsed.signingSecret.trim() : '';
    } catch {
      secret = '';
    }
  }
  if (secret === '' || /\s/.test(secret)) {
    throw new Error(
      `secret ${secretName}: expected the Slack app's signing secret (Basic Information → App Credentials → Signing Secret), or JSON {"signingSecret": ...}, as its SecretString`,
    );
  }
  return secret;
}

/**
 * {@link slackSigningSecretFromSecret} read once per container and kept (a failed read is tried again at the next
 * request). Rotating the secret takes effect in new containers.
 */
export function cachedSlackSigningSecret(secretName: string, client?: SecretsManagerClient): () => Promise<string> {
  return onFirstUse(undefined, () => slackSigningSecretFromSecret(secretName, client));
}
