/**
 * The Slack app's signing secret from Secrets Manager (config `notifications.slackSigningSecretName`), for the Slack
 * interactivity endpoint (functions/slack-interactions/handler.ts). The Secrets Manager client is loaded at the first
 * read, not at cold start.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

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

/** How long a read signing secret is used before it is read again, ms (5 minutes). */
export const SIGNING_SECRET_TTL_MS = 5 * 60_000;
/** At most one re-read per this long when a signature does not match (rotation), ms (1 minute). */
export const SIGNING_SECRET_MIN_REFRESH_MS = 60_000;

/** Reads the signing secret; `refresh: true` asks for a re-read (after a signature mismatch: the secret may be rotated). */
export type SigningSecretSource = (options?: { refresh?: boolean }) => Promise<string>;

/**
 * {@link slackSigningSecretFromSecret} cached per container: read again after `ttlMs`, and on `refresh: true` (a
 * signature that did not match) at most once per `minRefreshMs`, so a rotated secret (Slack "Regenerate", then the
 * new value in Secrets Manager) is taken within `ttlMs`, or at the first genuine click `minRefreshMs` after the last
 * read, without a flood of forged requests reading Secrets Manager more than once per `minRefreshMs`. A failed first
 * read is tried again at the next request; a failed re-read keeps the value read before (and counts as a read).
 * @param options.now epoch ms @default Date.now
 */
export function cachedSlackSigningSecret(
  secretName: string,
  client?: SecretsManagerClient,
  options: { ttlMs?: number; minRefreshMs?: number; now?: () => number } = {},
): SigningSecretSource {
  const ttlMs = options.ttlMs ?? SIGNING_SECRET_TTL_MS;
  const minRefreshMs = options.minRefreshMs ?? SIGNING_SECRET_MIN_REFRESH_MS;
  const now = options.now ?? Date.now;
  let value: string | undefined;
  let readMs = 0;
  let attemptMs = 0;
  let reading: Promise<string> | undefined;
  const read = (): Promise<string> => {
    attemptMs = now();
    reading ??= slackSigningSecretFromSecret(secretName, client)
      .then((v) => {
        value = v;
        readMs = now();
        return v;
      })
      .finally(() => {
        reading = undefined;
      });
    return reading;
  };
  return async ({ refresh = false } = {}) => {
    if (value === undefined) return read();
    // Re-read when stale or asked to, but never more than once per minRefreshMs (also when re-reads fail).
    if ((now() - readMs >= ttlMs || refresh) && now() - attemptMs >= minRefreshMs) {
      const kept = value;
      return read().catch(() => kept);
    }
    return value;
  };
}
