import { describe, expect, it } from 'vitest';
import { fleetNotification } from '#shared/domain/blast-radius.ts';
import {
  commonShares,
  describeShares,
  dropMember,
  expireFleetIncident,
  type FleetSighting,
  joinFleetIncident,
  newFleetIncident,
  recordHeld,
  recoverMember,
  sharesOf,
  stillFailing,
} from '#shared/domain/fleet-incident.ts';
import { ChatbotNotification, renderChatbot } from '#shared/notify/chatbot.ts';
import { renderEventBridge } from '#shared/notify/eventbridge.ts';
import { renderSlack } from '#shared/notify/slack.ts';
import { renderSnsMessage, WatchdogEventV1 } from '#shared/notify/sns-message.ts';
import { app, MIN, T0 } from '../support/builders.ts';

const KAFKA = { 'bootstrap.servers': 'b-2:9092, b-1:9092', 'input.topic': 'orders' };

function sighting(applicationName: string, onsetMs: number, sources = ['topic orders']): FleetSighting {
  return {
    schemaVersion: 1,
    applicationName,
    restartingSinceMs: onsetMs,
    loopSinceMs: onsetMs + 3 * MIN,
    loopOnsetMs: onsetMs,
    lastSeenMs: onsetMs + 3 * MIN,
    shares: { sources, sinks: [], vpcs: [], runtime: 'FLINK-1_20' },
  };
}

describe('Function: sharesOf', () => {
  it('takes stream, topic, bootstrap servers and bucket names, sources and sinks apart, and never a secret', () => {
    // Prepare
    const application = app({
      environmentProperties: {
        'consumer.config.0': KAFKA,
        'producer.config.0': { 'output.stream.name': 'enriched', 'aws.region': 'eu-west-1' },
        FlinkApplicationProperties: { 'checkpoint.bucket': 'ckpt', 'kafka.sasl.jaas.config': 'password=hunter2' },
        Secrets: { 'topic.api.key': 'not-a-topic' },
      },
    });
    // Act
    const shares = sharesOf(application);
    // Assess
    expect(shares).toEqual({
      sources: ['bootstrap servers b-1:9092,b-2:9092', 'bucket ckpt', 'topic orders'],
      sinks: ['stream enriched'],
      vpcs: [],
      runtime: 'FLINK-1_20',
    });
    expect(JSON.stringify(shares)).not.toContain('hunter2');
  });

  it('reads a bootstrap property of any name as the Kafka cluster', () => {
    const application = app({
      environmentProperties: {
        FlinkApplicationProperties: { 'source.bootstrap': 'kafka-orders', 'sink.stream': 'out' },
      },
    });
    expect(sharesOf(application)).toMatchObject({ sources: ['bootstrap servers kafka-orders'], sinks: ['stream out'] });
  });

  it('is empty for an application without dependency properties, or none observed', () => {
    expect(sharesOf(app({ environmentProperties: { g: { parallelism: '4' } } }))).toEqual({
      sources: [],
      sinks: [],
      vpcs: [],
      runtime: 'FLINK-1_20',
    });
    expect(sharesOf(undefined)).toEqual({ sources: [], sinks: [], vpcs: [] });
  });
});

describe('Function: commonShares', () => {
  it('keeps only the values at least two applications share', () => {
    const common = commonShares([
      { sources: ['topic orders', 'topic a'], sinks: ['stream out'], vpcs: ['vpc-1'], runtime: 'FLINK-1_20' },
      { sources: ['topic orders'], sinks: [], vpcs: ['vpc-1'], runtime: 'FLINK-1_20' },
      { sources: ['topic b'], sinks: ['stream out'], vpcs: [], runtime: 'FLINK-2_2' },
    ]);
    expect(common).toEqual({
      sources: ['topic orders'],
      sinks: ['stream out'],
      vpcs: ['vpc-1'],
      runtime: 'FLINK-1_20',
    });
    expect(describeShares(common)).toBe('source topic orders; sink stream out; VPC vpc-1; runtime FLINK-1_20');
    expect(describeShares(commonShares([{ sources: ['x'], sinks: [], vpcs: [] }]))).toBe(
      'nothing in common found in their configuration',
    );
  });
});

describe('Fleet incident lifecycle', () => {
  const opened = () =>
    newFleetIncident({
      sightings: [sighting('a', T0 + MIN), sighting('b', T0), sighting('c', T0 + 2 * MIN, ['topic other'])],
      limit: 2,
      watched: 10,
      windowMinutes: 10,
      trigger: { source: 'alarm', detail: 'flink-watchdog-drill-a-restart-loop', atMs: T0 + 5 * MIN },
      nowMs: T0 + 5 * MIN,
    });

  it('opens with the applications, what at least two share and the first failure time', () => {
    const f = opened();
    expect(f.status).toBe('OPEN');
    expect(f.id).toMatch(/^fleet-[0-9a-f]{16}$/);
    expect(f.members.map((m) => m.applicationName)).toEqual(['a', 'b', 'c']);
    expect(f.firstFailureMs).toBe(T0);
    expect(f.shared).toEqual({ sources: ['topic orders'], sinks: [], vpcs: [], runtime: 'FLINK-1_20' });
  });

  it('records a held restart once per application and remediation', () => {
    const f = opened();
    recordHeld(f, 'a', 'FORCE_STOP_AND_RESTART', T0 + 6 * MIN);
    recordHeld(f, 'a', 'FORCE_STOP_AND_RESTART', T0 + 7 * MIN);
    recordHeld(f, 'a', 'START', T0 + 8 * MIN);
    expect(f.held).toEqual([
      { applicationName: 'a', remediation: 'FORCE_STOP_AND_RESTART', firstMs: T0 + 6 * MIN },
      { applicationName: 'a', remediation: 'START', firstMs: T0 + 8 * MIN },
    ]);
  });

  it('resolves only when every member recovered; a relapse re-opens the member', () => {
    const f = opened();
    expect(recoverMember(f, 'a', T0 + 20 * MIN)?.status).toBe('OPEN');
    expect(recoverMember(f, 'a', T0 + 21 * MIN)).toBeUndefined();
    expect(recoverMember(f, 'nobody', T0 + 21 * MIN)).toBeUndefined();
    joinFleetIncident(f, sighting('a', T0 + 22 * MIN), T0 + 25 * MIN);
    expect(f.events.at(-1)?.kind).toBe('RELAPSED');
    recoverMember(f, 'b', T0 + 26 * MIN);
    recoverMember(f, 'c', T0 + 27 * MIN);
    expect(f.status).toBe('OPEN');
    const resolved = recoverMember(f, 'a', T0 + 30 * MIN);
    expect(resolved?.status).toBe('RESOLVED');
    expect(resolved?.closedMs).toBe(T0 + 30 * MIN);
  });

  it('drops a member with its held restarts, and resolves when the members left have all recovered', () => {
    const f = opened();
    recordHeld(f, 'c', 'FORCE_STOP_AND_RESTART', T0 + 6 * MIN);
    recoverMember(f, 'a', T0 + 20 * MIN);
    recoverMember(f, 'b', T0 + 21 * MIN);
    expect(dropMember(f, 'nobody', 'was deleted', T0 + 22 * MIN)).toBeUndefined();
    const out = dropMember(f, 'c', 'left the watched set', T0 + 22 * MIN);
    expect(out?.status).toBe('RESOLVED');
    expect(out?.closedMs).toBe(T0 + 22 * MIN);
    expect(out?.members.map((m) => m.applicationName)).toEqual(['a', 'b']);
    expect(out?.held).toEqual([]);
    expect(out?.events.slice(-2).map((e) => [e.kind, e.message])).toEqual([
      ['LEFT', 'c left the watched set: no longer a member.'],
      ['RESOLVED', 'All 2 remaining applications are healthy again.'],
    ]);
    expect(dropMember(f, 'a', 'was deleted', T0 + 23 * MIN)).toBeUndefined();
  });

  it('stays open while a member still fails after one leaves; escalates only past maxOpenMinutes', () => {
    const f = opened();
    expect(dropMember(f, 'a', 'was deleted', T0 + 6 * MIN)?.status).toBe('OPEN');
    // Opened at T0 + 5 min: due after T0 + 125 min with 120.
    expect(expireFleetIncident(f, 120, T0 + 125 * MIN)).toBeUndefined();
    recoverMember(f, 'b', T0 + 30 * MIN);
    const out = expireFleetIncident(f, 120, T0 + 125 * MIN + 1);
    expect(out?.status).toBe('ESCALATED');
    expect(out?.closedMs).toBe(T0 + 125 * MIN + 1);
    expect(out?.events.at(-1)?.message).toBe(
      'Open for more than 120 min: closed, automatic restarts no longer held. Still failing: c.',
    );
    expect(stillFailing(f).map((m) => m.applicationName)).toEqual(['c']);
    expect(expireFleetIncident(f, 120, T0 + 200 * MIN)).toBeUndefined();
  });

  it('joins a new member and recomputes what they share', () => {
    const f = opened();
    joinFleetIncident(f, sighting('d', T0 - MIN, ['topic other']), T0 + 6 * MIN);
    expect(f.members).toHaveLength(4);
    expect(f.firstFailureMs).toBe(T0 - MIN);
    expect(f.shared.sources).toEqual(['topic orders', 'topic other']);
  });
});

describe('Fleet notifications', () => {
  const f = recordHeld(
    newFleetIncident({
      sightings: [sighting('orders-2', T0 + MIN), sighting('orders-1', T0)],
      limit: 1,
      watched: 3,
      windowMinutes: 10,
      trigger: { source: 'alarm', detail: 'flink-watchdog-drill-a-restart-loop', atMs: T0 + 5 * MIN },
      nowMs: T0 + 5 * MIN,
    }),
    'orders-1',
    'FORCE_STOP_AND_RESTART',
    T0 + 5 * MIN,
  );
  const n = fleetNotification(f, 'ESCALATED', T0 + 5 * MIN);

  it('says what happened and lists the applications earliest failure first', () => {
    expect(n.title).toBe(
      `Correlated failure: 2 applications failing at once (2 in a restart loop), automatic restarts held [${f.id}]`,
    );
    expect(n.text).toContain('2 are restarting, the first at 14:00 UTC: orders-1, orders-2.');
    expect(n.text).toContain('Shared: source topic orders; runtime FLINK-1_20.');
    expect(n.incident).toMatchObject({ id: f.id, applicationName: 'orders-1', status: 'ESCALATED' });
  });

  it('tells what is still failing, and the commands to run, when closed as escalated (open too long)', () => {
    // Prepare: orders-2 and pay (a member application in another account, copied from orders-2) still fail 121 min after it opened.
    const closed = recoverMember(structuredClone(f), 'orders-1', T0 + 30 * MIN) as typeof f;
    closed.members.push({
      ...(closed.members[0] as (typeof f.members)[number]),
      applicationName: 'pay@111122223333.eu-west-1',
    });
    expireFleetIncident(closed, 120, T0 + 126 * MIN);
    // Act
    const e = fleetNotification(closed, 'ESCALATED', T0 + 126 * MIN);
    // Assess
    expect(e.title).toBe(
      `Correlated failure not over after 121 min: 2 of 3 applications still failing, automatic restarts no longer held [${f.id}]`,
    );
    expect(e.text).toContain('Still failing: orders-2, pay@111122223333.eu-west-1.');
    expect(e.nextSteps).toContain('aws kinesisanalyticsv2 list-application-operations --application-name orders-2');
    expect(e.nextSteps).toContain(
      'aws kinesisanalyticsv2 describe-application --application-name pay --region eu-west-1 # in account 111122223333',
    );
    expect(e.incident).toMatchObject({ status: 'ESCALATED', applicationName: 'orders-2', closedMs: T0 + 126 * MIN });
    expect(WatchdogEventV1.parse(renderSnsMessage(e).message).fleet?.status).toBe('ESCALATED');
    expect(JSON.stringify(renderSlack(e, { region: 'eu-west-1' }).blocks)).toContain(
      '*Held* none now (1 application was held while it was open)',
    );
  });

  it('shows the list, what they share and the first failure in Slack and chat', () => {
    const slack = JSON.stringify(renderSlack(n, { region: 'eu-west-1' }).blocks);
    expect(slack).toContain('Fleet incident · ESCALATED');
    expect(slack).toContain('*Applications* orders-1, orders-2');
    expect(slack).toContain('*Shared* source topic orders; runtime FLINK-1_20');
    expect(slack).toContain('*First failure* 14:00 UTC');
    const chat = renderChatbot(n, { region: 'eu-west-1' });
    expect(ChatbotNotification.parse(chat)).toBeDefined();
    expect(chat.content.description).toContain('*Applications* orders-1, orders-2');
  });

  it('carries the fleet incident in the SNS message and the EventBridge detail, valid against the schema', () => {
    const { message } = renderSnsMessage(n);
    expect(WatchdogEventV1.parse(message).fleet).toEqual({
      status: 'OPEN',
      applications: [
        { application: 'orders-1', firstFailureAt: '2026-03-02T14:00:00.000Z' },
        { application: 'orders-2', firstFailureAt: '2026-03-02T14:01:00.000Z' },
      ],
      shared: { sources: ['topic orders'], sinks: [], vpcs: [], runtime: 'FLINK-1_20' },
      firstFailureAt: '2026-03-02T14:00:00.000Z',
      heldRestarts: 1,
      limit: 1,
      watched: 3,
      windowMinutes: 10,
    });
    const entry = renderEventBridge(n);
    expect(entry.DetailType).toBe('Flink Watchdog Incident Escalated');
    expect(JSON.parse(entry.Detail ?? '{}').fleet.applications).toHaveLength(2);
  });

  it('leaves ordinary notifications without a fleet part', () => {
    const plain = { ...n, fleet: undefined };
    delete plain.fleet;
    expect(renderSnsMessage(plain).message.fleet).toBeUndefined();
  });
});
