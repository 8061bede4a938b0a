/** What the home cell loads when it must learn its account id (fleet-adapters.ts); see sns.ts. */
export { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
