import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '#sandbox/clock.ts';
import { type Emulator, startEmulator } from '#sandbox/emulator/index.ts';
import { checkOutput, loadServiceModel, MODEL_FILES } from './model.ts';
import { queryError, queryOutput } from './query.ts';
import { type CapturedResponse, captureResponses, lastResponse } from './wire.ts';

/**
 * Conformance of the emulator's STS with the official STS API model (awsQuery): AssumeRole and GetCallerIdentity
 * through the real SDK v3 client, the raw XML read by the model and checked against the output shape, and the
 * refusals checked as the awsQuery error document with the documented code and HTTP status.
 */

const MODEL = loadServiceModel(MODEL_FILES.sts);
const HOME = '123456789012';
const MEMBER = '222222222222';
const ROLE_ARN = `arn:aws:iam::${MEMBER}:role/FlinkWatchdogMember`;

let emulator: Emulator;
let sts: STSClient;
let wire: CapturedResponse[];

beforeAll(async () => {
  emulator = await startEmulator({
    clock: new VirtualClock(Date.parse('2026-03-02T14:00:00Z')),
    roles: [{ roleArn: ROLE_ARN, trustedAccountId: HOME, externalId: 'conformance' }],
  });
  sts = new STSClient({
    endpoint: emulator.endpoint,
    region: emulator.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  wire = captureResponses(sts);
});

afterAll(async () => {
  sts?.destroy();
  await emulator?.close();
});

/** Asserts that the last response is a 200 whose XML conforms to `operation`'s output shape; returns its value. */
function expectConformingQueryOutput(operation: string): Record<string, unknown> {
  const response = lastResponse(wire);
  expect(response.operation).toBe(operation);
  expect(response.status).toBe(200);
  const { value, problems } = queryOutput(MODEL, operation, String(response.body));
  expect(problems).toEqual([]);
  expect(checkOutput(MODEL, operation, value)).toEqual([]);
  return value;
}

describe('Conformance: STS responses match the API model', () => {
  it('AssumeRole: credentials and the assumed role user', async () => {
    const out = await sts.send(
      new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: 'conformance', ExternalId: 'conformance' }),
    );
    const value = expectConformingQueryOutput('AssumeRole');
    expect(value.AssumedRoleUser).toMatchObject({
      Arn: `arn:aws:sts::${MEMBER}:assumed-role/FlinkWatchdogMember/conformance`,
    });
    expect(out.Credentials?.AccessKeyId).toMatch(/^ASIA/);
  });

  it('GetCallerIdentity: the account of the caller', async () => {
    await sts.send(new GetCallerIdentityCommand({}));
    const value = expectConformingQueryOutput('GetCallerIdentity');
    expect(value.Account).toBe(HOME);
  });

  it('AssumeRole refused: the awsQuery error AccessDenied, HTTP 403, Sender', async () => {
    await expect(
      sts.send(new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: 'conformance', ExternalId: 'wrong' })),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
    const response = lastResponse(wire);
    expect(response.status).toBe(403);
    expect(queryError(String(response.body))).toMatchObject({ type: 'Sender', code: 'AccessDenied' });
  });

  it('AssumeRole with a DurationSeconds out of range: ValidationError, HTTP 400', async () => {
    await expect(
      sts.send(
        new AssumeRoleCommand({
          RoleArn: ROLE_ARN,
          RoleSessionName: 'conformance',
          ExternalId: 'conformance',
          DurationSeconds: 60,
        }),
      ),
    ).rejects.toMatchObject({ name: 'ValidationError' });
    const response = lastResponse(wire);
    expect(response.status).toBe(400);
    expect(queryError(String(response.body))).toMatchObject({ type: 'Sender', code: 'ValidationError' });
  });
});
