import { stripVTControlCharacters } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { formatIncident, type HistoryJson, historyCommand, MASK, redactIncident } from '#cli/history.ts';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import type { Incident } from '#shared/domain/incident.ts';
import { MIN, T0 } from '../support/builders.ts';

/**
 * `flink-watchdog history` shows what issue 13 adds to an incident: the restart loop's root cause (class, message,
 * frames), the approval's state and answer, and a hold.
 */

const REMEDIATION = {
  kind: 'ROLLBACK' as const,
  expectVersionId: 3,
  toVersionId: 2,
};

function incident(overrides: Partial<Incident> = {}): Incident {
  return {
    schemaVersion: 1,
    id: 'orders-00000000000000aa',
    applicationName: 'orders',
    trigger: { source: 'alarm', detail: 'orders-restart-loop', atMs: T0 },
    openedMs: T0,
    status: 'REMEDIATING',
    finding: {
      kind: 'RESTART_LOOP',
      summary: '5 restarts in 10 minutes',
      restarts: 5,
      windowMinutes: 10,
      metricName: 'fullRestarts',
      onsetMs: T0 - 6 * MIN,
    },
    decision: { verdict: 'REMEDIATE', reason: 'restart loop after a deploy', guards: [], nextSteps: [] },
    attempts: 1,
    actions: [],
    events: [],
    ...overrides,
  } as Incident;
}

const ROOT_CAUSE = {
  exceptionClass: 'software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException',
  message: 'Stream arn:aws:kinesis:eu-west-1:123456789012:stream/orders-v2 under account 123456789012 not found.',
  frames: ['at org.apache.flink.streaming.runtime.tasks.StreamTask.invoke(StreamTask.java)'],
  logGroupName: '/aws/kinesis-analytics/orders',
  atMs: T0 - 5 * MIN,
  source: 'logs-insights' as const,
};

/** Text without ANSI colours. */
const plain = (s: string) => stripVTControlCharacters(s);

describe('Function: formatIncident (root cause, approval, hold)', () => {
  it('shows the root cause as Class: message, where and when it was logged, and its frames', () => {
    // Act
    const text = plain(formatIncident(incident({ rootCause: ROOT_CAUSE })));

    // Assess
    expect(text).toContain(
      'root cause: software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException: Stream arn:aws:kinesis:eu-west-1:123456789012:stream/orders-v2 under account 123456789012 not found.',
    );
    expect(text).toContain('logged 13:55:00Z in /aws/kinesis-analytics/orders (logs-insights)');
    expect(text).toContain('     at org.apache.flink.streaming.runtime.tasks.StreamTask.invoke(StreamTask.java)');
  });

  it('shows the note when no root cause was found', () => {
    // Act
    const text = plain(
      formatIncident(incident({ rootCauseNote: 'No exception found in /aws/kinesis-analytics/orders' })),
    );

    // Assess
    expect(text).toContain('root cause: No exception found in /aws/kinesis-analytics/orders');
  });

  it('shows an approval awaited until its timeout, and one answered with who, how and why', () => {
    // Arrange
    const approval = {
      action: REMEDIATION,
      requestedMs: T0,
      timeoutMs: T0 + 30 * MIN,
      onTimeout: 'escalate' as const,
      taskToken: 'AQB-token',
      state: 'PENDING' as const,
    };

    // Act
    const pending = plain(formatIncident(incident({ approval })));
    const rejected = plain(
      formatIncident(
        incident({
          approval: {
            ...approval,
            state: 'REJECTED',
            answer: {
              decision: 'REJECTED',
              by: 'slack:U123 (ana)',
              via: 'slack',
              atMs: T0 + 4 * MIN,
              reason: 'deploy fix',
            },
          },
        }),
      ),
    );

    const approvedByCli = plain(
      formatIncident(
        incident({
          approval: {
            ...approval,
            state: 'APPROVED',
            answer: {
              decision: 'APPROVED',
              by: 'arn:aws:sts::123456789012:assumed-role/OnCall/ana',
              via: 'cli',
              atMs: T0 + 3 * MIN,
              messageId: '95df01b4-ee98-5cb9-9903-4c221d41eb5e',
            },
          },
        }),
      ),
    );

    // Assess
    expect(pending).toMatch(/approval: awaiting approval of .+ until 14:30:00Z \(then: escalate\)/);
    expect(rejected).toMatch(/approval: rejected .+ by slack:U123 \(ana\) via slack at 14:04:00Z: deploy fix/);
    // A runbook command's answer names its SNS MessageId, to find who published it in CloudTrail.
    expect(approvedByCli).toContain(
      'by arn:aws:sts::123456789012:assumed-role/OnCall/ana via cli at 14:03:00Z (SNS MessageId 95df01b4-ee98-5cb9-9903-4c221d41eb5e)',
    );
  });

  it('shows a hold: what holds it, since when, and whether it still holds', () => {
    // Act
    const text = plain(
      formatIncident(
        incident({
          hold: {
            kind: 'CHANGE_FREEZE',
            detail: 'change calendar prod-freeze is CLOSED',
            sinceMs: T0,
            lastCheckedMs: T0 + 5 * MIN,
            toldMs: T0,
          },
        }),
      ),
    );

    // Assess
    expect(text).toContain(
      'held: CHANGE_FREEZE — change calendar prod-freeze is CLOSED (since 14:00:00Z, still held, told 14:00:00Z)',
    );
  });
});

describe('Function: redactIncident', () => {
  it('masks the approval task token (it answers the waiting workflow)', () => {
    // Act
    const safe = redactIncident(
      incident({
        approval: {
          action: REMEDIATION,
          requestedMs: T0,
          timeoutMs: T0 + 30 * MIN,
          onTimeout: 'escalate',
          taskToken: 'AQB-token',
          state: 'PENDING',
        },
      }),
    );

    // Assess
    expect(safe.approval?.taskToken).toBe(MASK);
  });
});

describe('Command: history --output json', () => {
  let out: string[];
  beforeEach(() => {
    out = [];
    vi.spyOn(console, 'log').mockImplementation((s: string) => void out.push(s));
  });
  afterEach(() => vi.restoreAllMocks());

  it('carries the root cause of each incident', async () => {
    // Arrange
    const ledger = new MemoryLedger();
    await ledger.createIncident(incident({ rootCause: ROOT_CAUSE }));

    // Act
    const code = await historyCommand({ output: 'json' }, { ledger, env: {} });

    // Assess
    expect(code).toBe(0);
    const json = JSON.parse(out.join('\n')) as HistoryJson;
    expect(json.incidents[0]?.rootCause).toEqual(ROOT_CAUSE);
  });
});
