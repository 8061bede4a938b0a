/**
 * What the Terraform state reader loads for an `s3://` source (shared/desired/terraform-source.ts): the client and the
 * one command used, named so that the bundle's chunk for this dynamic `import()` keeps only them, not every S3 command
 * (about 48 kB less in the reconciler's bundle); see sns.ts.
 */
export { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
