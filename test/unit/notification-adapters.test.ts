/**
 * The notification and workflow adapters whose SDK client is made at first use (shared/adapters/on-first-use.ts): the
 * SNS runbook topic, the Amazon Q Developer chat topic, EventBridge, the notification dead-letter queue. Without a
 * client given they make their own at the first call (intercepted here by aws-sdk-client-mock, which mocks the client
 * class); with one given they use it.
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBridgeNotifier } from '#shared/adapters/eventbridge-notifier.ts';
import { onFirstUse } from '#shared/adapters/on-first-use.ts';
import { ChatbotNotifier, SnsNotifier } from '#shared/adapters/sns-notifier.ts';
import { sqsDeadLetter } from '#shared/adapters/sqs-dead-letter.ts';
import type { Incident } from '#shared/domain/incident.ts';
import type { Notification } from '#shared/ports/notifier.ts';

const T0 = Date.parse('2026-03-02T14:00:00Z');
const APP = 'orders-enrichment';
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:flink-watchdog-notifications';
const CHAT_TOPIC = 'arn:aws:sns:eu-west-1:123456789012:flink-watchdog-chat';
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/flink-watchdog-undelivered';

const INCIDENT: Incident = {
  schemaVersion: 1,
  id: 'orders-enrichment-3f9c2a7b1d4e5f60',
  applicationName: APP,
  trigger: { source: 'alarm', detail: `flink-watchdog-${APP}-restart-loop`, atMs: T0 },
  openedMs: T0,
  attempts: 0,
  actions: [],
  events: [],
  status: 'NOTIFIED',
  decision: { verdict: 'NOTIFY', reason: 'restart loop', guards: [], nextSteps: ['aws kinesisanalyticsv2 ...'] },
};

const NOTIFICATION: Notification = {
  event: 'NOTIFIED',
  atMs: T0,
  title: `${APP}: restart loop`,
  text: 'orders-enrichment restarted 14 times in 15 min.',
  nextSteps: ['aws kinesisanalyticsv2 describe-application --application-name orders-enrichment'],
  incident: INCIDENT,
};

const sns = mockClient(SNSClient);
const eventBridge = mockClient(EventBridgeClient);
const sqs = mockClient(SQSClient);

afterEach(() => {
  sns.reset();
  eventBridge.reset();
  sqs.reset();
});

describe('Function: onFirstUse', () => {
  it('returns the value given without calling make', async () => {
    // Arrange
    let made = 0;
    const get = onFirstUse('given', async () => {
      made++;
      return 'made';
    });

    // Act
    const value = await get();

    // Assess
    expect(value).toBe('given');
    expect(made).toBe(0);
  });

  it('makes the value once for concurrent first calls and keeps it', async () => {
    // Arrange
    let made = 0;
    const get = onFirstUse<{ n: number }>(undefined, async () => ({ n: ++made }));

    // Act
    const [a, b] = await Promise.all([get(), get()]);
    const c = await get();

    // Assess
    expect(made).toBe(1);
    expect(a).toBe(b);
    expect(c).toBe(a);
  });

  it('tries make again at the next call after it failed', async () => {
    // Arrange
    let calls = 0;
    const get = onFirstUse(undefined, async () => {
      calls++;
      if (calls === 1) throw new Error('module not loadable');
      return 'made';
    });

    // Act
    const first = get();

    // Assess
    await expect(first).rejects.toThrow('module not loadable');
    expect(await get()).toBe('made');
    expect(calls).toBe(2);
  });
});

describe('Class: SnsNotifier', () => {
  it('publishes the runbook message to the topic with a client it makes at the first notification', async () => {
    // Arrange
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const notifier = new SnsNotifier({ topicArn: TOPIC, clientConfig: { region: 'eu-west-1' } });

    // Act
    await notifier.notify(NOTIFICATION);

    // Assess
    const calls = sns.commandCalls(PublishCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]?.args[0].input;
    expect(input?.TopicArn).toBe(TOPIC);
    expect(JSON.parse(input?.Message ?? '')).toMatchObject({
      schemaVersion: 1,
      event: 'NOTIFIED',
      application: APP,
      incidentId: INCIDENT.id,
    });
    expect(input?.MessageAttributes?.application).toEqual({ DataType: 'String', StringValue: APP });
  });

  it('uses the client given', async () => {
    // Arrange
    sns.on(PublishCommand).resolves({ MessageId: 'm-2' });
    const client = new SNSClient({ region: 'eu-west-1' });
    const notifier = new SnsNotifier({ topicArn: TOPIC, client });

    // Act
    await notifier.notify(NOTIFICATION);

    // Assess
    expect(sns.commandCalls(PublishCommand)[0]?.thisValue).toBe(client);
  });

  it('throws what SNS answers (the fan-out records it)', async () => {
    // Arrange
    sns.on(PublishCommand).rejects(Object.assign(new Error('Topic does not exist'), { name: 'NotFoundException' }));
    const notifier = new SnsNotifier({ topicArn: TOPIC, clientConfig: { region: 'eu-west-1' } });

    // Act
    const sent = notifier.notify(NOTIFICATION);

    // Assess
    await expect(sent).rejects.toThrow('Topic does not exist');
  });
});

describe('Class: ChatbotNotifier', () => {
  it('publishes the custom notification, threaded by incident id, to the chat topic', async () => {
    // Arrange
    sns.on(PublishCommand).resolves({ MessageId: 'm-3' });
    const notifier = new ChatbotNotifier({
      topicArn: CHAT_TOPIC,
      region: 'eu-west-1',
      clientConfig: { region: 'eu-west-1' },
    });

    // Act
    await notifier.notify(NOTIFICATION);

    // Assess
    const input = sns.commandCalls(PublishCommand)[0]?.args[0].input;
    expect(input?.TopicArn).toBe(CHAT_TOPIC);
    expect(JSON.parse(input?.Message ?? '')).toMatchObject({
      version: '1.0',
      source: 'custom',
      metadata: { threadId: INCIDENT.id },
    });
  });

  it('puts the command topic into a waiting approval request, for the Amazon Q custom actions', async () => {
    // Arrange
    sns.on(PublishCommand).resolves({ MessageId: 'm-4' });
    const commandTopic = 'arn:aws:sns:eu-central-1:123456789012:flink-watchdog-commands';
    const notifier = new ChatbotNotifier({
      topicArn: CHAT_TOPIC,
      region: 'eu-west-1',
      commandTopicArn: commandTopic,
      clientConfig: { region: 'eu-west-1' },
    });
    const action = { kind: 'ROLLBACK', expectVersionId: 7, toVersionId: 6 } as const;
    const waiting: Notification = {
      ...NOTIFICATION,
      event: 'APPROVAL_REQUESTED',
      incident: {
        ...INCIDENT,
        status: 'REMEDIATING',
        approval: {
          action,
          requestedMs: T0,
          timeoutMs: T0 + 1_800_000,
          onTimeout: 'escalate',
          state: 'PENDING',
          taskToken: 't',
        },
      },
    };

    // Act
    await notifier.notify(waiting);

    // Assess
    const message = JSON.parse(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message ?? '');
    expect(message.metadata.additionalContext).toMatchObject({
      approvalState: 'PENDING',
      commandTopicArn: commandTopic,
      commandRegion: 'eu-central-1',
    });
    expect(JSON.parse(message.metadata.additionalContext.approveCommand)).toMatchObject({
      command: 'approve',
      incidentId: INCIDENT.id,
    });
  });
});

describe('Class: EventBridgeNotifier', () => {
  it('puts the event on the bus named, with a client it makes at the first notification', async () => {
    // Arrange
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    const notifier = new EventBridgeNotifier({ eventBusName: 'watchdog-bus' });

    // Act
    await notifier.notify(NOTIFICATION);

    // Assess
    const entries = eventBridge.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries ?? [];
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ EventBusName: 'watchdog-bus', Source: 'flink-watchdog' });
    expect(JSON.parse(entries[0]?.Detail ?? '')).toMatchObject({ application: APP, event: 'NOTIFIED' });
  });

  it('throws with the error code when PutEvents reports the entry failed', async () => {
    // Arrange
    eventBridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }],
    });
    const notifier = new EventBridgeNotifier();

    // Act
    const sent = notifier.notify(NOTIFICATION);

    // Assess
    await expect(sent).rejects.toThrow('PutEvents refused the event: InternalFailure try again');
  });
});

describe('Function: sqsDeadLetter', () => {
  it('sends the undelivered notification as JSON to the queue, with a client it makes at the first message', async () => {
    // Arrange
    sqs.on(SendMessageCommand).resolves({ MessageId: 'q-1' });
    const deadLetter = sqsDeadLetter(QUEUE);
    const undelivered = {
      channel: 'slack',
      error: 'Slack answered 500',
      incidentId: INCIDENT.id,
      applicationName: APP,
      event: 'NOTIFIED' as const,
      atMs: T0,
      title: NOTIFICATION.title,
    };

    // Act
    await deadLetter(undelivered);
    await deadLetter({ ...undelivered, channel: 'sns' });

    // Assess
    const calls = sqs.commandCalls(SendMessageCommand);
    expect(calls).toHaveLength(2);
    expect(calls[0]?.args[0].input.QueueUrl).toBe(QUEUE);
    expect(JSON.parse(calls[0]?.args[0].input.MessageBody ?? '')).toEqual(undelivered);
    expect(calls[1]?.thisValue).toBe(calls[0]?.thisValue);
  });
});
