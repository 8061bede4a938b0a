/**
 * What a member account's credentials load at their first use (accounts.ts): STS AssumeRole credentials, without the
 * package's other providers (Cognito, SSO, ...); see sns.ts.
 */
export { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
