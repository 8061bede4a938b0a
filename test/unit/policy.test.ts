import { describe, expect, it } from 'vitest';
import type { PolicyOverride } from '#shared/config/schema.ts';
import type { Decision } from '#shared/domain/decision.ts';
import { evaluate } from '#shared/domain/detect.ts';
import type { ApplicationObservation } from '#shared/domain/model.ts';
import { decide, type RemediationHistory, type Scope } from '#shared/domain/policy.ts';
import { app, loopingRestarts, MIN, observation, op, policy, snapshot, T0 } from '../support/builders.ts';

const now = T0 + 30 * MIN;
const inScope: Scope = { inScope: true, reason: 'listed in the watchdog config' };
const fresh: RemediationHistory = { attemptsInWindow: 0 };

const looping = (o: Partial<ApplicationObservation> = {}) => observation({ restarts: loopingRestarts(now), ...o }, now);
const afterChange = (o: Partial<ApplicationObservation> = {}) =>
  looping({
    application: app({ versionCreatedMs: now - 9 * MIN, versionUpdatedFrom: 6 }),
    operations: [
      op({
        operation: 'UpdateApplication',
        status: 'SUCCESSFUL',
        startMs: now - 10 * MIN,
        endMs: now - 9 * MIN,
        versionFrom: 6,
        versionTo: 7,
      }),
    ],
    ...o,
  });
const failedDeploy = (errorString: string, o: Partial<ApplicationObservation> = {}) =>
  observation(
    {
      application: app({ status: 'READY', versionId: 8, versionUpdatedFrom: 7 }),
      operations: [
        op({
          operation: 'UpdateApplication',
          status: 'FAILED',
          startMs: now - 6 * MIN,
          versionFrom: 7,
          versionTo: 8,
          errorString,
        }),
      ],
      snapshots: [snapshot('orders-v7-b', 7, now - 6 * MIN), snapshot('orders-v7-a', 7, now - 60 * MIN)],
      ...o,
    },
    now,
  );

interface Row {
  situation: string;
  obs: ApplicationObservation;
  policy?: PolicyOverride;
  history?: RemediationHistory;
  scope?: Scope;
  verdict: Decision['verdict'];
  action?: Partial<NonNullable<Decision['remediation']>>;
  wouldHave?: Partial<NonNullable<Decision['wouldHave']>>;
  failedGuard?: string;
}

const table: Row[] = [
  {
    situation: 'restart loop within recentChangeMinutes after a version change → rollback',
    obs: afterChange(),
    verdict: 'REMEDIATE',
    action: { kind: 'ROLLBACK', expectVersionId: 7, toVersionId: 6 },
  },
  {
    situation: 'restart loop after a change, policy onRestartLoopAfterChange=NOTIFY → notify',
    obs: afterChange(),
    policy: { onRestartLoopAfterChange: 'NOTIFY' },
    verdict: 'NOTIFY',
  },
  {
    situation: 'restart loop, no recent change → force-stop + start from last-known-good snapshot',
    obs: looping({
      snapshots: [snapshot('orders-v7-late', 7, now - 1 * MIN), snapshot('orders-v7-good', 7, now - 60 * MIN)],
    }),
    verdict: 'REMEDIATE',
    action: {
      kind: 'FORCE_STOP_AND_RESTART',
      start: {
        restoreType: 'RESTORE_FROM_CUSTOM_SNAPSHOT',
        snapshotName: 'orders-v7-good',
        allowNonRestoredState: false,
      },
    },
  },
  {
    situation: 'restart loop, no recent change, restoreFrom=latest → RESTORE_FROM_LATEST_SNAPSHOT',
    obs: looping({
      snapshots: [snapshot('orders-v7-late', 7, now - 1 * MIN), snapshot('orders-v7-good', 7, now - 60 * MIN)],
    }),
    policy: { restoreFrom: 'latest' },
    verdict: 'REMEDIATE',
    action: {
      kind: 'FORCE_STOP_AND_RESTART',
      start: { restoreType: 'RESTORE_FROM_LATEST_SNAPSHOT', allowNonRestoredState: false },
    },
  },
  {
    situation: 'restart loop on a version that is itself a rollback → force-stop, never a second rollback',
    obs: afterChange({
      operations: [
        op({
          operation: 'RollbackApplication',
          status: 'SUCCESSFUL',
          startMs: now - 10 * MIN,
          endMs: now - 9 * MIN,
          versionFrom: 6,
          versionTo: 7,
        }),
      ],
    }),
    verdict: 'REMEDIATE',
    action: { kind: 'FORCE_STOP_AND_RESTART' },
  },
  {
    situation: 'restart loop without any READY snapshot → escalate (restart would lose state)',
    obs: looping({ snapshots: [snapshot('orders-v7-x', 7, now - 60 * MIN, 'FAILED')] }),
    verdict: 'ESCALATE',
    failedGuard: 'snapshot-exists',
  },
  {
    situation: 'rollback wanted but no snapshot → escalate (RollbackApplication is rejected without one)',
    obs: afterChange({ snapshots: [] }),
    verdict: 'ESCALATE',
    failedGuard: 'snapshot-exists',
  },
  {
    situation: 'observe mode → nothing done, says what it would have done',
    obs: looping(),
    policy: { mode: 'observe' },
    verdict: 'NONE',
    wouldHave: { kind: 'FORCE_STOP_AND_RESTART' },
    failedGuard: 'mode-remediate',
  },
  {
    situation: 'not in scope → never touched',
    obs: looping(),
    scope: { inScope: false, reason: 'not listed' },
    verdict: 'NONE',
    failedGuard: 'in-scope',
  },
  {
    situation: 'attempts exhausted in the window → escalate',
    obs: looping(),
    history: { attemptsInWindow: 3, lastAttemptMs: now - 20 * MIN },
    verdict: 'ESCALATE',
    failedGuard: 'attempts-left',
  },
  {
    situation: 'cooldown not passed → wait',
    obs: looping(),
    history: { attemptsInWindow: 1, lastAttemptMs: now - 2 * MIN },
    verdict: 'NONE',
    failedGuard: 'cooldown-passed',
  },
  {
    situation: 'another incident holds the lock → do not act twice',
    obs: looping(),
    history: { attemptsInWindow: 0, lockedBy: 'orders-abc' },
    verdict: 'NONE',
    failedGuard: 'lock-free',
  },
  {
    situation: 'a foreign operation IN_PROGRESS → wait for it',
    obs: looping({
      operations: [op({ operation: 'UpdateApplication', status: 'IN_PROGRESS', startMs: now - 1 * MIN })],
    }),
    verdict: 'NONE',
    failedGuard: 'no-foreign-operation',
  },
  {
    situation: 'MAINTENANCE → no action',
    obs: looping({ application: app({ status: 'MAINTENANCE' }) }),
    verdict: 'NONE',
  },
  {
    situation: 'READY after failed deploy (wrong main class), default policy → notify with ErrorInfo',
    obs: failedDeploy("The program's entry point class 'com.acme.Jobb' was not found in the jar file."),
    verdict: 'NOTIFY',
  },
  {
    situation: 'READY after failed deploy, restoreLastGoodVersion → re-apply previous version, start from its snapshot',
    obs: failedDeploy("The program's entry point class 'com.acme.Jobb' was not found in the jar file."),
    policy: { restoreLastGoodVersion: true },
    verdict: 'REMEDIATE',
    action: {
      kind: 'REAPPLY_PREVIOUS_VERSION',
      goodVersionId: 7,
      start: { restoreType: 'RESTORE_FROM_CUSTOM_SNAPSHOT', snapshotName: 'orders-v7-b', allowNonRestoredState: false },
    },
  },
  {
    situation: 'READY after failed deploy but desired READY → notify only',
    obs: failedDeploy('boom'),
    policy: { desiredStatus: 'READY', restoreLastGoodVersion: true },
    verdict: 'NOTIFY',
  },
  {
    situation: 'removed operator, allowNonRestoredState=false → notify with the exact fix',
    obs: failedDeploy(
      'Cannot map checkpoint/savepoint state for operator 7df1 ... set the --allowNonRestoredState option',
    ),
    verdict: 'NOTIFY',
  },
  {
    situation: 'removed operator, allowNonRestoredState=true → start with AllowNonRestoredState',
    obs: failedDeploy(
      'Cannot map checkpoint/savepoint state for operator 7df1 ... set the --allowNonRestoredState option',
    ),
    policy: { allowNonRestoredState: true },
    verdict: 'REMEDIATE',
    action: { kind: 'START', start: { restoreType: 'RESTORE_FROM_LATEST_SNAPSHOT', allowNonRestoredState: true } },
  },
  {
    situation: 'update failed for a snapshot while looping → force-stop + start from latest snapshot',
    obs: looping({
      operations: [
        op({
          operation: 'UpdateApplication',
          status: 'FAILED',
          startMs: now - 3 * MIN,
          errorString: 'Failed to take snapshot for the application',
        }),
      ],
    }),
    verdict: 'REMEDIATE',
    action: {
      kind: 'FORCE_STOP_AND_RESTART',
      start: { restoreType: 'RESTORE_FROM_LATEST_SNAPSHOT', allowNonRestoredState: false },
    },
  },
  {
    situation: 'update failed for a snapshot but the job is healthy again → notify (re-run the deploy)',
    obs: observation(
      {
        operations: [
          op({
            operation: 'UpdateApplication',
            status: 'FAILED',
            startMs: now - 3 * MIN,
            errorString: 'Failed to take snapshot',
          }),
        ],
      },
      now,
    ),
    verdict: 'NOTIFY',
  },
  {
    situation: 'stuck UPDATING past its limit → force-stop + start (foreign operation allowed: it is the stuck one)',
    obs: observation(
      {
        application: app({ status: 'UPDATING' }),
        operations: [op({ operation: 'UpdateApplication', status: 'IN_PROGRESS', startMs: now - 25 * MIN })],
      },
      now,
    ),
    verdict: 'REMEDIATE',
    action: { kind: 'FORCE_STOP_AND_RESTART' },
  },
  {
    situation: 'stuck ROLLING_BACK (Force stop not allowed) → escalate',
    obs: observation(
      {
        application: app({ status: 'ROLLING_BACK' }),
        operations: [op({ operation: 'RollbackApplication', status: 'IN_PROGRESS', startMs: now - 25 * MIN })],
      },
      now,
    ),
    verdict: 'ESCALATE',
  },
  {
    situation: 'system rollback seen → notify about drift, never fight it',
    obs: observation(
      {
        application: app({ versionId: 8, versionRolledBackFrom: 7, versionRolledBackTo: 6 }),
        operations: [
          op({ operation: 'RollbackApplication', status: 'SUCCESSFUL', startMs: now - 4 * MIN, operationId: 'rb-1' }),
          op({
            operation: 'UpdateApplication',
            status: 'FAILED',
            startMs: now - 6 * MIN,
            versionFrom: 6,
            versionTo: 7,
            errorString: 'uid',
            rollbackOperationId: 'rb-1',
          }),
        ],
      },
      now,
    ),
    verdict: 'NOTIFY',
  },
  {
    situation: 'READY while desired RUNNING, no failed operation → notify',
    obs: observation({ application: app({ status: 'READY' }) }, now),
    verdict: 'NOTIFY',
  },
  {
    situation: 'DescribeApplication failed → notify, no action on partial information',
    obs: observation(
      { application: undefined, errors: [{ source: 'DescribeApplication', message: 'AccessDenied' }] },
      now,
    ),
    verdict: 'NOTIFY',
  },
  { situation: 'healthy → nothing', obs: observation({}, now), verdict: 'NONE' },
];

describe('Function: decide (the default policy table)', () => {
  it.each(table)('$situation', (row) => {
    // Prepare
    const settings = policy(row.policy);
    const findings = evaluate(row.obs, settings, now);
    // Act
    const d = decide({
      observation: row.obs,
      findings,
      policy: settings,
      history: row.history ?? fresh,
      scope: row.scope ?? inScope,
      nowMs: now,
    });
    // Assess
    expect(d.verdict).toBe(row.verdict);
    if (row.action) expect(d.remediation).toMatchObject(row.action);
    else expect(d.remediation).toBeUndefined();
    if (row.wouldHave) expect(d.wouldHave).toMatchObject(row.wouldHave);
    if (row.failedGuard) expect(d.guards.filter((g) => !g.passed).map((g) => g.name)).toEqual([row.failedGuard]);
    if (d.verdict === 'REMEDIATE') expect(d.guards.every((g) => g.passed)).toBe(true);
    expect(d.reason.length).toBeGreaterThan(20);
  });

  it('gives exact AWS CLI next steps when it only notifies about unmappable state', () => {
    const obs = failedDeploy('Cannot map checkpoint/savepoint state for operator 7df1 ... --allowNonRestoredState');
    const settings = policy();
    const d = decide({
      observation: obs,
      findings: evaluate(obs, settings, now),
      policy: settings,
      history: fresh,
      scope: inScope,
      nowMs: now,
    });
    expect(d.nextSteps[0]).toContain('aws kinesisanalyticsv2 start-application --application-name orders');
    expect(d.nextSteps[0]).toContain('"AllowNonRestoredState":true');
  });

  it('records every guard it checked on a remediation, in order', () => {
    const obs = looping();
    const settings = policy();
    const d = decide({
      observation: obs,
      findings: evaluate(obs, settings, now),
      policy: settings,
      history: fresh,
      scope: inScope,
      nowMs: now,
    });
    expect(d.guards.map((g) => g.name)).toEqual([
      'in-scope',
      'status-actionable',
      'no-foreign-operation',
      'lock-free',
      'attempts-left',
      'cooldown-passed',
      'snapshot-exists',
      'mode-remediate',
    ]);
  });
});

describe('Function: decide (CHECKPOINT_STALL)', () => {
  /** RUNNING since a StartApplication 25 min ago, and no checkpoint completed since (-1; window 20 min by default). */
  const stalled = (o: Partial<ApplicationObservation> = {}) =>
    observation(
      {
        application: app({ checkpointConfiguration: { configurationType: 'DEFAULT' } }),
        operations: [
          op({ operation: 'StartApplication', status: 'SUCCESSFUL', startMs: now - 27 * MIN, endMs: now - 25 * MIN }),
        ],
        lastCheckpointDuration: {
          metricName: 'lastCheckpointDuration',
          periodSeconds: 60,
          points: Array.from({ length: 30 }, (_, i) => ({ timestampMs: now - 30 * MIN + i * MIN, value: -1 })),
        },
        ...o,
      },
      now,
    );
  const stallSince = now - 25 * MIN;
  const decideFor = (obs: ApplicationObservation, override: PolicyOverride = {}) => {
    const settings = policy(override);
    const findings = evaluate(obs, settings, now);
    return decide({ observation: obs, findings, policy: settings, history: fresh, scope: inScope, nowMs: now });
  };

  it('notifies by default: what stalled, since when, the window and its derivation, and next steps', () => {
    // Act
    const d = decideFor(stalled());
    // Assess
    expect(d.verdict).toBe('NOTIFY');
    expect(d.finding?.kind).toBe('CHECKPOINT_STALL');
    expect(d.remediation).toBeUndefined();
    expect(d.reason).toContain(new Date(stallSince).toISOString());
    expect(d.reason).toContain('20-min window');
    expect(d.reason).toContain(
      'max(interval 60 s [MSF DEFAULT], timeout 600 s) × (0 tolerable failed checkpoints + 2)',
    );
    expect(d.reason).toContain('onCheckpointStall=NOTIFY');
    expect(d.nextSteps.some((s) => s.includes('--metric-name numberOfFailedCheckpoints'))).toBe(true);
    expect(d.nextSteps.some((s) => s.includes('stop-application --application-name orders --force'))).toBe(true);
  });

  it('names the last-known-good snapshot in the restart command it suggests', () => {
    const d = decideFor(
      stalled({
        snapshots: [snapshot('orders-v7-late', 7, now - 5 * MIN), snapshot('orders-v7-good', 7, now - 60 * MIN)],
      }),
    );
    expect(d.nextSteps.at(-1)).toContain('"SnapshotName":"orders-v7-good"');
  });

  it.each([
    {
      situation: 'FORCE_STOP_AND_RESTART with a last-known-good snapshot (taken before the stall) → restore it',
      snapshots: [snapshot('orders-v7-late', 7, now - 5 * MIN), snapshot('orders-v7-good', 7, now - 60 * MIN)],
      verdict: 'REMEDIATE',
      start: {
        restoreType: 'RESTORE_FROM_CUSTOM_SNAPSHOT',
        snapshotName: 'orders-v7-good',
        allowNonRestoredState: false,
      },
    },
    {
      situation: 'FORCE_STOP_AND_RESTART without a last-known-good snapshot (only one taken during the stall) → latest',
      snapshots: [snapshot('orders-v7-late', 7, now - 5 * MIN)],
      verdict: 'REMEDIATE',
      start: { restoreType: 'RESTORE_FROM_LATEST_SNAPSHOT', allowNonRestoredState: false },
    },
    {
      situation: 'FORCE_STOP_AND_RESTART without any READY snapshot → escalate',
      snapshots: [snapshot('orders-v7-x', 7, now - 60 * MIN, 'FAILED')],
      verdict: 'ESCALATE',
      failedGuard: 'snapshot-exists',
    },
  ] as const)('$situation', ({ snapshots, verdict, ...expected }) => {
    // Act
    const d = decideFor(stalled({ snapshots: [...snapshots] }), { onCheckpointStall: 'FORCE_STOP_AND_RESTART' });
    // Assess
    expect(d.verdict).toBe(verdict);
    if ('start' in expected) {
      expect(d.remediation).toEqual({ kind: 'FORCE_STOP_AND_RESTART', expectVersionId: 7, start: expected.start });
      expect(d.reason).toContain('onCheckpointStall=FORCE_STOP_AND_RESTART');
    } else {
      expect(d.remediation).toBeUndefined();
      expect(d.guards.filter((g) => !g.passed).map((g) => g.name)).toEqual([expected.failedGuard]);
    }
  });

  it('force-stops without a restart when the desired status is READY', () => {
    const d = decideFor(stalled(), { onCheckpointStall: 'FORCE_STOP_AND_RESTART', desiredStatus: 'READY' });
    expect(d.verdict).toBe('REMEDIATE');
    expect(d.remediation).toEqual({ kind: 'FORCE_STOP_AND_RESTART', expectVersionId: 7 });
  });

  it('in observe mode says what it would have done', () => {
    const d = decideFor(stalled(), { onCheckpointStall: 'FORCE_STOP_AND_RESTART', mode: 'observe' });
    expect(d.verdict).toBe('NONE');
    expect(d.wouldHave).toMatchObject({ kind: 'FORCE_STOP_AND_RESTART' });
  });
});
