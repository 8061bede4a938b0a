/**
 * The functions' notification fan-out as wired from the environment (functions/common/notifier.ts): SNS and
 * EventBridge always, Slack only when SLACK_WEBHOOK_SECRET_NAME is set (its notifier, Secrets Manager and Slack
 * clients loaded at the first notification), undelivered notifications to the SQS dead-letter queue. AWS is mocked
 * with aws-sdk-client-mock; nothing leaves the process.
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { notifierFromEnv } from '#functions/common/notifier.ts';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import type { Incident } from '#shared/domain/incident.ts';
import type { Notification } from '#shared/ports/notifier.ts';
import { T0 } from '../support/builders.ts';
import { CapturingLog } from '../support/fakes.ts';

const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:flink-watchdog-notifications';
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/flink-watchdog-undelivered';
const SECRET = 'flink-watchdog/slack-webhook';

const sns = mockClient(SNSClient);
const eventBridge = mockClient(EventBridgeClient);
const sqs = mockClient(SQSClient);
const secrets = mockClient(SecretsManagerClient);

afterEach(() => {
  sns.reset();
  eventBridge.reset();
  sqs.reset();
  secrets.reset();
});

function incident(): Incident {
  return {
    schemaVersion: 1,
    id: 'orders-0123456789abcdef',
    applicationName: 'orders',
    trigger: { source: 'alarm', detail: 'flink-watchdog-orders-restart-loop', atMs: T0 },
    openedMs: T0,
    status: 'NOTIFIED',
    decision: { verdict: 'NOTIFY', reason: 'restart loop', guards: [], nextSteps: [] },
    attempts: 0,
    actions: [],
    events: [],
  };
}

async function notified(env: Parameters<typeof notifierFromEnv>[0]): Promise<MemoryLedger> {
  const ledger = new MemoryLedger();
  const i = incident();
  await ledger.createIncident(i);
  const n: Notification = {
    event: 'NOTIFIED',
    atMs: T0,
    title: 'orders: restart loop',
    text: 'x',
    nextSteps: [],
    incident: i,
  };
  await notifierFromEnv(env, { ledger, log: new CapturingLog() }).notify(n);
  return ledger;
}

describe('Function: notifierFromEnv', () => {
  it('publishes to the SNS topic and EventBridge, and reads no Slack secret when Slack is not configured', async () => {
    // Arrange
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });

    // Act
    await notified({ AWS_REGION: 'eu-west-1', NOTIFICATION_TOPIC_ARN: TOPIC, NOTIFICATION_DLQ_URL: QUEUE });

    // Assess
    expect(sns.commandCalls(PublishCommand).map((c) => c.args[0].input.TopicArn)).toEqual([TOPIC]);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(1);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(0);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('reads the Slack secret at the first notification and dead-letters Slack when the secret holds no webhook', async () => {
    // Arrange
    sns.on(PublishCommand).resolves({ MessageId: 'm-2' });
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-2' }] });
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'not a webhook' });
    sqs.on(SendMessageCommand).resolves({ MessageId: 'q-1' });

    // Act
    await notified({
      AWS_REGION: 'eu-west-1',
      NOTIFICATION_TOPIC_ARN: TOPIC,
      SLACK_WEBHOOK_SECRET_NAME: SECRET,
      NOTIFICATION_DLQ_URL: QUEUE,
    });

    // Assess
    expect(secrets.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input.SecretId)).toEqual([SECRET]);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(1);
    const dead = sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    expect(dead).toHaveLength(1);
    expect(dead[0]?.QueueUrl).toBe(QUEUE);
    expect(JSON.parse(dead[0]?.MessageBody ?? '')).toMatchObject({
      channel: 'slack',
      incidentId: 'orders-0123456789abcdef',
      error: expect.stringContaining(`secret ${SECRET}`),
    });
  });
});
