import { CloudWatchClient, GetMetricDataCommand, PutMetricAlarmCommand } from '@aws-sdk/client-cloudwatch';
import {
  type ApplicationDetail,
  CreateApplicationCommand,
  CreateApplicationSnapshotCommand,
  DescribeApplicationCommand,
  DescribeApplicationOperationCommand,
  DescribeApplicationSnapshotCommand,
  DescribeApplicationVersionCommand,
  KinesisAnalyticsV2Client,
  ListApplicationOperationsCommand,
  ListApplicationSnapshotsCommand,
  ListApplicationsCommand,
  ListApplicationVersionsCommand,
  ListTagsForResourceCommand,
  RollbackApplicationCommand,
  type RunConfigurationUpdate,
  StartApplicationCommand,
  StopApplicationCommand,
  TagResourceCommand,
  UpdateApplicationCommand,
} from '@aws-sdk/client-kinesis-analytics-v2';
import { afterEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { VirtualClock } from '#sandbox/clock.ts';
import { type Emulator, startEmulator } from '#sandbox/emulator/index.ts';
import { Fault, JobRule, ScenarioApplication } from '#sandbox/scenario.ts';
import { MsfAdapter } from '#shared/adapters/msf.ts';
import type { AlarmStateChangeEvent } from '#shared/events/alarm-state-change.ts';
import { MsfApiError } from '#shared/ports/msf.ts';

const START = '2026-03-02T14:00:00Z';
const START_MS = Date.parse(START);
const MINUTE = 60_000;
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };
const WATCHDOG_USER_AGENT = 'flink-watchdog/test';

/** Job model shared by the tests: which code or property makes a job misbehave. */
const RULES: z.input<typeof JobRule>[] = [
  {
    when: { codeKey: 'wrong-main-class.jar' },
    behaviour: { kind: 'fails-at-submit', error: 'java.lang.ClassNotFoundException: com.example.OrdersJob' },
  },
  {
    when: { codeKey: 'removed-operator.jar' },
    behaviour: {
      kind: 'incompatible-state',
      reason: 'removed-operator',
      error:
        'java.lang.IllegalStateException: Failed to rollback to checkpoint/savepoint. Cannot map state for operator',
    },
  },
  {
    when: { property: { group: 'kafka', key: 'topic', value: 'ordres' } },
    behaviour: { kind: 'crash-loop', failAfterSeconds: 20, error: 'UnknownTopicOrPartitionException: ordres' },
  },
  { when: { codeKey: 'stuck.jar' }, behaviour: { kind: 'hangs' } },
];

interface Harness {
  readonly clock: VirtualClock;
  readonly emulator: Emulator;
  readonly msf: KinesisAnalyticsV2Client;
  readonly cloudwatch: CloudWatchClient;
  /** Moves the virtual clock and the emulator forward. */
  advanceMinutes(minutes: number): void;
}

const running: Emulator[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((emulator) => emulator.close()));
});

function orders(name: string, extra: Partial<z.input<typeof ScenarioApplication>> = {}) {
  return {
    name,
    code: { bucket: 'artifacts', fileKey: 'orders-1.jar' },
    environmentProperties: { kafka: { topic: 'orders' } },
    ...extra,
  };
}

async function harness(
  applications: z.input<typeof ScenarioApplication>[],
  faults: z.input<typeof Fault>[] = [],
): Promise<Harness> {
  const clock = new VirtualClock(START_MS);
  const emulator = await startEmulator({
    clock,
    world: {
      startTime: START,
      applications: applications.map((a) => ScenarioApplication.parse(a)),
      jobModel: RULES.map((r) => JobRule.parse(r)),
      faults: faults.map((f) => Fault.parse(f)),
    },
  });
  running.push(emulator);
  const config = { endpoint: emulator.endpoint, region: 'eu-west-1', credentials: CREDENTIALS };
  return {
    clock,
    emulator,
    msf: new KinesisAnalyticsV2Client({ ...config, customUserAgent: WATCHDOG_USER_AGENT }),
    cloudwatch: new CloudWatchClient(config),
    advanceMinutes(minutes) {
      clock.advance(minutes * MINUTE);
      emulator.advanceTo(clock.now());
    },
  };
}

function defined<T>(value: T | undefined, what = 'value'): T {
  if (value === undefined) throw new Error(`${what} is undefined`);
  return value;
}

async function describeApp(h: Harness, name: string): Promise<ApplicationDetail> {
  const out = await h.msf.send(new DescribeApplicationCommand({ ApplicationName: name }));
  return defined(out.ApplicationDetail, 'ApplicationDetail');
}

async function describeOperation(h: Harness, name: string, operationId: string | undefined) {
  const out = await h.msf.send(
    new DescribeApplicationOperationCommand({
      ApplicationName: name,
      OperationId: defined(operationId, 'OperationId'),
    }),
  );
  return defined(out.ApplicationOperationInfoDetails, 'ApplicationOperationInfoDetails');
}

async function snapshots(h: Harness, name: string) {
  const out = await h.msf.send(new ListApplicationSnapshotsCommand({ ApplicationName: name }));
  return out.SnapshotSummaries ?? [];
}

/** UpdateApplication with the current ConditionalToken, as a deploy pipeline would. */
async function deploy(
  h: Harness,
  name: string,
  change: { fileKey?: string; topic?: string },
  runConfigurationUpdate?: RunConfigurationUpdate,
) {
  const detail = await describeApp(h, name);
  return h.msf.send(
    new UpdateApplicationCommand({
      ApplicationName: name,
      ConditionalToken: detail.ConditionalToken,
      ApplicationConfigurationUpdate: {
        ...(change.fileKey
          ? {
              ApplicationCodeConfigurationUpdate: {
                CodeContentUpdate: { S3ContentLocationUpdate: { FileKeyUpdate: change.fileKey } },
              },
            }
          : {}),
        ...(change.topic
          ? {
              EnvironmentPropertyUpdates: {
                PropertyGroups: [{ PropertyGroupId: 'kafka', PropertyMap: { topic: change.topic } }],
              },
            }
          : {}),
      },
      ...(runConfigurationUpdate ? { RunConfigurationUpdate: runConfigurationUpdate } : {}),
    }),
  );
}

function fileKey(detail: ApplicationDetail): string | undefined {
  return detail.ApplicationConfigurationDescription?.ApplicationCodeConfigurationDescription?.CodeContentDescription
    ?.S3ApplicationCodeLocationDescription?.FileKey;
}

describe('Emulator: MSF preconditions', () => {
  it('rejects RollbackApplication from READY with ResourceInUseException', async () => {
    // Prepare
    const h = await harness([orders('orders', { initialStatus: 'READY', initialVersion: 2 })]);

    // Act
    const rollback = h.msf.send(
      new RollbackApplicationCommand({ ApplicationName: 'orders', CurrentApplicationVersionId: 2 }),
    );

    // Assess
    await expect(rollback).rejects.toMatchObject({ name: 'ResourceInUseException' });
  });

  it('rejects StopApplication without Force while UPDATING with ResourceInUseException', async () => {
    // Prepare
    const h = await harness([orders('orders')]);
    await deploy(h, 'orders', { fileKey: 'orders-2.jar' });

    // Act
    const stop = h.msf.send(new StopApplicationCommand({ ApplicationName: 'orders' }));

    // Assess
    await expect(stop).rejects.toMatchObject({ name: 'ResourceInUseException' });
    expect((await describeApp(h, 'orders')).ApplicationStatus).toBe('UPDATING');
  });

  it('rejects UpdateApplication with a stale ConditionalToken or version id', async () => {
    // Prepare
    const h = await harness([orders('orders')]);
    const before = await describeApp(h, 'orders');
    await deploy(h, 'orders', { fileKey: 'orders-2.jar' });
    h.advanceMinutes(3);
    const update = (token: { ConditionalToken?: string; CurrentApplicationVersionId?: number }) =>
      h.msf.send(
        new UpdateApplicationCommand({
          ApplicationName: 'orders',
          ...token,
          ApplicationConfigurationUpdate: {
            ApplicationCodeConfigurationUpdate: {
              CodeContentUpdate: { S3ContentLocationUpdate: { FileKeyUpdate: 'orders-3.jar' } },
            },
          },
        }),
      );

    // Act & Assess
    await expect(update({ ConditionalToken: before.ConditionalToken })).rejects.toMatchObject({
      name: 'ConcurrentModificationException',
    });
    await expect(update({ CurrentApplicationVersionId: 1 })).rejects.toMatchObject({
      name: 'ConcurrentModificationException',
    });
    await expect(update({})).rejects.toMatchObject({ name: 'InvalidArgumentException' });
    const after = await describeApp(h, 'orders');
    expect(after.ApplicationVersionId).toBe(2);
    expect(after.ConditionalToken).not.toBe(before.ConditionalToken);
  });

  it('rejects RollbackApplication when the application has no snapshot', async () => {
    // Prepare: snapshots disabled, so the seeded history has none
    const h = await harness([orders('orders', { initialVersion: 2, snapshotsEnabled: false })]);
    expect(await snapshots(h, 'orders')).toEqual([]);

    // Act
    const rollback = h.msf.send(
      new RollbackApplicationCommand({ ApplicationName: 'orders', CurrentApplicationVersionId: 2 }),
    );

    // Assess
    await expect(rollback).rejects.toMatchObject({ name: 'InvalidRequestException' });
    expect((await describeApp(h, 'orders')).ApplicationStatus).toBe('RUNNING');
  });

  it('answers ResourceNotFoundException for unknown applications, versions, operations and snapshots', async () => {
    // Prepare
    const h = await harness([orders('orders')]);

    // Act & Assess
    await expect(h.msf.send(new DescribeApplicationCommand({ ApplicationName: 'nope' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
    await expect(
      h.msf.send(new DescribeApplicationVersionCommand({ ApplicationName: 'orders', ApplicationVersionId: 9 })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(
      h.msf.send(new DescribeApplicationOperationCommand({ ApplicationName: 'orders', OperationId: 'nope' })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(
      h.msf.send(new DescribeApplicationSnapshotCommand({ ApplicationName: 'orders', SnapshotName: 'nope' })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});

describe('Emulator: StartApplication restore types', () => {
  it('starts with each ApplicationRestoreType and shows it in RunConfigurationDescription', async () => {
    // Prepare
    const h = await harness([orders('orders', { initialStatus: 'READY' })]);
    const seeded = defined((await snapshots(h, 'orders'))[0], 'seeded snapshot');
    const cases = [
      { ApplicationRestoreType: 'SKIP_RESTORE_FROM_SNAPSHOT' as const },
      { ApplicationRestoreType: 'RESTORE_FROM_LATEST_SNAPSHOT' as const },
      { ApplicationRestoreType: 'RESTORE_FROM_CUSTOM_SNAPSHOT' as const, SnapshotName: seeded.SnapshotName },
    ];

    for (const restore of cases) {
      // Act
      const started = await h.msf.send(
        new StartApplicationCommand({
          ApplicationName: 'orders',
          RunConfiguration: { ApplicationRestoreConfiguration: restore },
        }),
      );
      const during = await describeApp(h, 'orders');
      h.advanceMinutes(3);

      // Assess
      expect(during.ApplicationStatus).toBe('STARTING');
      const detail = await describeApp(h, 'orders');
      expect(detail.ApplicationStatus).toBe('RUNNING');
      expect(
        detail.ApplicationConfigurationDescription?.RunConfigurationDescription
          ?.ApplicationRestoreConfigurationDescription,
      ).toEqual(restore);
      expect(await describeOperation(h, 'orders', started.OperationId)).toMatchObject({
        Operation: 'StartApplication',
        OperationStatus: 'SUCCESSFUL',
      });
      expect(h.emulator.inspect('orders')).toMatchObject({
        status: 'RUNNING',
        versionId: 1,
        jobRunning: true,
        restarts: 0,
      });

      await h.msf.send(new StopApplicationCommand({ ApplicationName: 'orders' }));
      h.advanceMinutes(1);
    }
  });

  it('rejects RESTORE_FROM_CUSTOM_SNAPSHOT without a snapshot name or with an unknown one', async () => {
    // Prepare
    const h = await harness([orders('orders', { initialStatus: 'READY' })]);
    const start = (SnapshotName?: string) =>
      h.msf.send(
        new StartApplicationCommand({
          ApplicationName: 'orders',
          RunConfiguration: {
            ApplicationRestoreConfiguration: { ApplicationRestoreType: 'RESTORE_FROM_CUSTOM_SNAPSHOT', SnapshotName },
          },
        }),
      );

    // Act & Assess
    await expect(start()).rejects.toMatchObject({ name: 'InvalidArgumentException' });
    await expect(start('nope')).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    expect((await describeApp(h, 'orders')).ApplicationStatus).toBe('READY');
  });

  it('restores incompatible state only with AllowNonRestoredState; SKIP_RESTORE_FROM_SNAPSHOT always works', async () => {
    // Prepare: version 2 removes an operator; the only snapshot is of version 1
    const h = await harness([orders('orders', { initialStatus: 'READY' })]);
    await deploy(h, 'orders', { fileKey: 'removed-operator.jar' });
    h.advanceMinutes(1);
    expect(await describeApp(h, 'orders')).toMatchObject({ ApplicationStatus: 'READY', ApplicationVersionId: 2 });
    const start = async (
      ApplicationRestoreType: 'SKIP_RESTORE_FROM_SNAPSHOT' | 'RESTORE_FROM_LATEST_SNAPSHOT',
      AllowNonRestoredState?: boolean,
    ) => {
      const out = await h.msf.send(
        new StartApplicationCommand({
          ApplicationName: 'orders',
          RunConfiguration: {
            ApplicationRestoreConfiguration: { ApplicationRestoreType },
            ...(AllowNonRestoredState === undefined ? {} : { FlinkRunConfiguration: { AllowNonRestoredState } }),
          },
        }),
      );
      h.advanceMinutes(2);
      return {
        op: await describeOperation(h, 'orders', out.OperationId),
        status: h.emulator.inspect('orders')?.status,
      };
    };

    // Act
    const latest = await start('RESTORE_FROM_LATEST_SNAPSHOT');
    const allowed = await start('RESTORE_FROM_LATEST_SNAPSHOT', true);
    await h.msf.send(new StopApplicationCommand({ ApplicationName: 'orders', Force: true }));
    h.advanceMinutes(1);
    const skipped = await start('SKIP_RESTORE_FROM_SNAPSHOT');

    // Assess
    expect(latest.status).toBe('READY');
    expect(latest.op).toMatchObject({
      OperationStatus: 'FAILED',
      OperationFailureDetails: { ErrorInfo: { ErrorString: expect.stringContaining('Cannot map state') } },
    });
    expect(allowed).toMatchObject({ status: 'RUNNING', op: { OperationStatus: 'SUCCESSFUL' } });
    expect(skipped).toMatchObject({ status: 'RUNNING', op: { OperationStatus: 'SUCCESSFUL' } });
  });
});

describe('Emulator: StopApplication with Force', () => {
  it('force-stops an application stuck in UPDATING without taking a snapshot', async () => {
    // Prepare
    const h = await harness([orders('orders')]);
    const update = await deploy(h, 'orders', { fileKey: 'stuck.jar' });
    h.advanceMinutes(30);
    const stuck = await describeApp(h, 'orders');
    const snapshotsBefore = (await snapshots(h, 'orders')).length;

    // Act
    const stop = await h.msf.send(new StopApplicationCommand({ ApplicationName: 'orders', Force: true }));
    const during = await describeApp(h, 'orders');
    h.advanceMinutes(1);

    // Assess
    expect(stuck.ApplicationStatus).toBe('UPDATING');
    expect(during.ApplicationStatus).toBe('FORCE_STOPPING');
    expect(await describeApp(h, 'orders')).toMatchObject({ ApplicationStatus: 'READY', ApplicationVersionId: 2 });
    expect(await describeOperation(h, 'orders', update.OperationId)).toMatchObject({
      Operation: 'UpdateApplication',
      OperationStatus: 'CANCELLED',
    });
    expect(await describeOperation(h, 'orders', stop.OperationId)).toMatchObject({
      Operation: 'StopApplication',
      OperationStatus: 'SUCCESSFUL',
    });
    expect(await snapshots(h, 'orders')).toHaveLength(snapshotsBefore);
  });

  it('rejects Force from READY with ResourceInUseException', async () => {
    // Prepare
    const h = await harness([orders('orders', { initialStatus: 'READY' })]);

    // Act
    const stop = h.msf.send(new StopApplicationCommand({ ApplicationName: 'orders', Force: true }));

    // Assess
    await expect(stop).rejects.toMatchObject({ name: 'ResourceInUseException' });
  });
});

describe('Emulator: failed deploys', () => {
  it('ends READY on the new version with ErrorInfo when the job fails at submit', async () => {
    // Prepare
    const h = await harness([orders('orders')]);

    // Act
    const update = await deploy(h, 'orders', { fileKey: 'wrong-main-class.jar' });
    h.advanceMinutes(2);

    // Assess
    expect(await describeApp(h, 'orders')).toMatchObject({ ApplicationStatus: 'READY', ApplicationVersionId: 2 });
    const op = await describeOperation(h, 'orders', update.OperationId);
    expect(op).toMatchObject({
      Operation: 'UpdateApplication',
      OperationStatus: 'FAILED',
      ApplicationVersionChangeDetails: { ApplicationVersionUpdatedFrom: 1, ApplicationVersionUpdatedTo: 2 },
      OperationFailureDetails: { ErrorInfo: { ErrorString: expect.stringContaining('ClassNotFoundException') } },
    });
    expect(op.OperationFailureDetails?.RollbackOperationId).toBeUndefined();
    expect(h.emulator.inspect('orders')?.jobRunning).toBe(false);
  });

  it('rolls back to the previous version by itself when system rollback is enabled', async () => {
    // Prepare
    const h = await harness([orders('orders', { systemRollbackEnabled: true })]);

    // Act
    const update = await deploy(h, 'orders', { fileKey: 'wrong-main-class.jar' });
    h.advanceMinutes(2);
    const rollingBack = await describeApp(h, 'orders');
    h.advanceMinutes(2);

    // Assess
    expect(rollingBack.ApplicationStatus).toBe('ROLLING_BACK');
    const detail = await describeApp(h, 'orders');
    expect(detail).toMatchObject({
      ApplicationStatus: 'RUNNING',
      ApplicationVersionId: 3,
      ApplicationVersionUpdatedFrom: 2,
      ApplicationVersionRolledBackFrom: 2,
      ApplicationVersionRolledBackTo: 1,
    });
    expect(fileKey(detail)).toBe('orders-1.jar');
    const failed = await describeOperation(h, 'orders', update.OperationId);
    expect(failed).toMatchObject({
      OperationStatus: 'FAILED',
      OperationFailureDetails: { ErrorInfo: { ErrorString: expect.stringContaining('ClassNotFoundException') } },
    });
    const rollback = await describeOperation(h, 'orders', failed.OperationFailureDetails?.RollbackOperationId);
    expect(rollback).toMatchObject({
      Operation: 'RollbackApplication',
      OperationStatus: 'SUCCESSFUL',
      ApplicationVersionChangeDetails: { ApplicationVersionUpdatedFrom: 2, ApplicationVersionUpdatedTo: 3 },
    });
    expect(h.emulator.inspect('orders')).toMatchObject({
      status: 'RUNNING',
      versionId: 3,
      jobRunning: true,
      restarts: 0,
    });
  });

  it('fails an update with incompatible state unless AllowNonRestoredState is sent', async () => {
    // Prepare
    const h = await harness([orders('strict'), orders('lenient'), orders('fresh')]);

    // Act
    const strict = await deploy(h, 'strict', { fileKey: 'removed-operator.jar' });
    await deploy(
      h,
      'lenient',
      { fileKey: 'removed-operator.jar' },
      { FlinkRunConfiguration: { AllowNonRestoredState: true } },
    );
    await deploy(
      h,
      'fresh',
      { fileKey: 'removed-operator.jar' },
      { ApplicationRestoreConfiguration: { ApplicationRestoreType: 'SKIP_RESTORE_FROM_SNAPSHOT' } },
    );
    h.advanceMinutes(2);

    // Assess
    expect(h.emulator.inspect('strict')?.status).toBe('READY');
    expect(await describeOperation(h, 'strict', strict.OperationId)).toMatchObject({
      OperationStatus: 'FAILED',
      OperationFailureDetails: { ErrorInfo: { ErrorString: expect.stringContaining('Cannot map state') } },
    });
    const lenient = await describeApp(h, 'lenient');
    expect(lenient.ApplicationStatus).toBe('RUNNING');
    expect(
      lenient.ApplicationConfigurationDescription?.RunConfigurationDescription?.FlinkRunConfigurationDescription,
    ).toEqual({ AllowNonRestoredState: true });
    expect(h.emulator.inspect('fresh')?.status).toBe('RUNNING');
  });
});

describe('Emulator: restart loops', () => {
  it('grows the restart counter in a crash loop and resets it on a new submission (rollback)', async () => {
    // Prepare
    const h = await harness([orders('orders')]);
    await deploy(h, 'orders', { topic: 'ordres' });
    h.advanceMinutes(2);
    expect(h.emulator.inspect('orders')?.status).toBe('RUNNING');

    // Act
    h.advanceMinutes(5);
    const early = defined(h.emulator.inspect('orders'));
    h.advanceMinutes(10);
    const later = defined(h.emulator.inspect('orders'));
    const rollback = await h.msf.send(
      new RollbackApplicationCommand({ ApplicationName: 'orders', CurrentApplicationVersionId: 2 }),
    );
    h.advanceMinutes(3);

    // Assess
    expect(early.restarts).toBeGreaterThanOrEqual(4);
    expect(later.restarts).toBeGreaterThan(early.restarts);
    expect(h.emulator.inspect('orders')).toMatchObject({
      status: 'RUNNING',
      versionId: 3,
      jobRunning: true,
      restarts: 0,
    });
    const detail = await describeApp(h, 'orders');
    expect(detail).toMatchObject({ ApplicationVersionRolledBackFrom: 2, ApplicationVersionRolledBackTo: 1 });
    expect(
      detail.ApplicationConfigurationDescription?.EnvironmentPropertyDescriptions?.PropertyGroupDescriptions,
    ).toEqual([{ PropertyGroupId: 'kafka', PropertyMap: { topic: 'orders' } }]);
    expect(await describeOperation(h, 'orders', rollback.OperationId)).toMatchObject({
      Operation: 'RollbackApplication',
      OperationStatus: 'SUCCESSFUL',
    });
  });

  it('fails snapshot-taking calls while the job loops, and force stop still works', async () => {
    // Prepare
    const h = await harness([orders('orders')]);
    await deploy(h, 'orders', { topic: 'ordres' });
    h.advanceMinutes(7);

    // Act & Assess
    await expect(deploy(h, 'orders', { topic: 'orders' })).rejects.toMatchObject({
      name: 'InvalidApplicationConfigurationException',
      message: expect.stringContaining('Failed to take snapshot for the application orders'),
    });
    await expect(
      h.msf.send(new CreateApplicationSnapshotCommand({ ApplicationName: 'orders', SnapshotName: 'manual-1' })),
    ).rejects.toMatchObject({ name: 'InvalidApplicationConfigurationException' });
    await expect(h.msf.send(new StopApplicationCommand({ ApplicationName: 'orders' }))).rejects.toMatchObject({
      name: 'InvalidApplicationConfigurationException',
    });
    expect(await describeApp(h, 'orders')).toMatchObject({ ApplicationStatus: 'RUNNING', ApplicationVersionId: 2 });
    await h.msf.send(new StopApplicationCommand({ ApplicationName: 'orders', Force: true }));
    h.advanceMinutes(1);
    expect(h.emulator.inspect('orders')?.status).toBe('READY');
  });

  it('keeps failing during an outage; the first restart after it ends succeeds', async () => {
    // Prepare
    const h = await harness(
      [orders('orders')],
      [{ kind: 'outage', application: 'orders', fromMinute: 2, toMinute: 6 }],
    );

    // Act
    h.advanceMinutes(5);
    const during = defined(h.emulator.inspect('orders'));
    h.advanceMinutes(5);
    const after = defined(h.emulator.inspect('orders'));
    h.advanceMinutes(20);

    // Assess
    expect(during.restarts).toBeGreaterThanOrEqual(3);
    expect(after.jobRunning).toBe(true);
    expect(h.emulator.inspect('orders')).toMatchObject({ ...after, jobRunning: true });
  });
});

describe('Emulator: snapshots', () => {
  it('takes a snapshot on UpdateApplication from RUNNING and on a non-forced stop', async () => {
    // Prepare
    const h = await harness([orders('orders')]);
    const seeded = (await snapshots(h, 'orders')).length;

    // Act
    await deploy(h, 'orders', { fileKey: 'orders-2.jar' });
    const afterUpdate = await snapshots(h, 'orders');
    h.advanceMinutes(5);
    const stopAtMs = h.clock.now();
    await h.msf.send(new StopApplicationCommand({ ApplicationName: 'orders' }));
    h.advanceMinutes(1);
    const afterStop = await snapshots(h, 'orders');

    // Assess
    expect(afterUpdate).toHaveLength(seeded + 1);
    expect(afterUpdate.at(-1)).toMatchObject({ SnapshotStatus: 'CREATING', ApplicationVersionId: 1 });
    expect(afterStop).toHaveLength(seeded + 2);
    const stopSnapshot = defined(afterStop.at(-1));
    expect(stopSnapshot).toMatchObject({
      SnapshotStatus: 'READY',
      ApplicationVersionId: 2,
      RuntimeEnvironment: 'FLINK-1_20',
    });
    expect(stopSnapshot.SnapshotCreationTimestamp?.getTime()).toBe(stopAtMs);
    expect(afterStop.every((s) => s.SnapshotStatus === 'READY')).toBe(true);
    expect(h.emulator.inspect('orders')?.status).toBe('READY');
  });

  it('creates a named snapshot on request while RUNNING', async () => {
    // Prepare
    const h = await harness([orders('orders')]);

    // Act
    await h.msf.send(
      new CreateApplicationSnapshotCommand({ ApplicationName: 'orders', SnapshotName: 'before-deploy' }),
    );
    h.advanceMinutes(1);
    const out = await h.msf.send(
      new DescribeApplicationSnapshotCommand({ ApplicationName: 'orders', SnapshotName: 'before-deploy' }),
    );

    // Assess
    expect(out.SnapshotDetails).toMatchObject({
      SnapshotName: 'before-deploy',
      SnapshotStatus: 'READY',
      ApplicationVersionId: 1,
    });
  });

  it('creates a snapshot through MsfAdapter, and reports a refused one as MsfApiError', async () => {
    // Prepare
    const h = await harness([orders('orders'), orders('stopped', { initialStatus: 'READY' })]);
    const adapter = new MsfAdapter({ client: h.msf });

    // Act
    await adapter.createApplicationSnapshot('orders', 'runbook-1');
    const refused = await adapter.createApplicationSnapshot('stopped', 'runbook-2').catch((e: unknown) => e);
    h.advanceMinutes(1);

    // Assess
    expect((await adapter.listSnapshots('orders')).find((s) => s.name === 'runbook-1')).toMatchObject({
      status: 'READY',
      versionId: 1,
    });
    expect(refused).toBeInstanceOf(MsfApiError);
    expect(refused).toMatchObject({
      applicationName: 'stopped',
      operation: 'CreateApplicationSnapshot',
      code: 'ResourceInUseException',
    });
    expect((await snapshots(h, 'stopped')).map((s) => s.SnapshotName)).not.toContain('runbook-2');
  });
});

describe('Emulator: history, metadata and wire format', () => {
  it('seeds a healthy-looking history for a scenario application', async () => {
    // Prepare
    const h = await harness([orders('orders', { initialVersion: 3, versionAgeMinutes: 120 })]);

    // Act
    const detail = await describeApp(h, 'orders');
    const versions = await h.msf.send(new ListApplicationVersionsCommand({ ApplicationName: 'orders' }));
    const operations = await h.msf.send(new ListApplicationOperationsCommand({ ApplicationName: 'orders' }));
    const older = await h.msf.send(
      new DescribeApplicationVersionCommand({ ApplicationName: 'orders', ApplicationVersionId: 2 }),
    );
    const snaps = await snapshots(h, 'orders');

    // Assess
    expect(detail).toMatchObject({
      ApplicationVersionId: 3,
      ApplicationVersionUpdatedFrom: 2,
      ApplicationMode: 'STREAMING',
    });
    expect(detail.ApplicationVersionCreateTimestamp?.getTime()).toBe(START_MS - 120 * MINUTE);
    expect(versions.ApplicationVersionSummaries?.map((v) => v.ApplicationVersionId)).toEqual([3, 2, 1]);
    expect(older.ApplicationVersionDetail).toMatchObject({ ApplicationVersionId: 2, ApplicationVersionUpdatedFrom: 1 });
    expect(snaps.filter((s) => s.SnapshotStatus === 'READY').map((s) => s.ApplicationVersionId)).toEqual([2, 3]);
    expect(operations.ApplicationOperationInfoList?.map((o) => [o.Operation, o.OperationStatus])).toEqual([
      ['UpdateApplication', 'SUCCESSFUL'],
      ['UpdateApplication', 'SUCCESSFUL'],
      ['StartApplication', 'SUCCESSFUL'],
    ]);
  });

  it('creates, lists and tags applications and records every call with its user agent', async () => {
    // Prepare
    const h = await harness([]);

    // Act
    const created = await h.msf.send(
      new CreateApplicationCommand({
        ApplicationName: 'payments',
        RuntimeEnvironment: 'FLINK-1_20',
        ServiceExecutionRole: 'arn:aws:iam::123456789012:role/payments',
        ApplicationConfiguration: {
          ApplicationCodeConfiguration: {
            CodeContentType: 'ZIPFILE',
            CodeContent: { S3ContentLocation: { BucketARN: 'arn:aws:s3:::artifacts', FileKey: 'payments-1.jar' } },
          },
          FlinkApplicationConfiguration: {
            ParallelismConfiguration: {
              ConfigurationType: 'CUSTOM',
              Parallelism: 4,
              ParallelismPerKPU: 2,
              AutoScalingEnabled: true,
            },
          },
          ApplicationSystemRollbackConfiguration: { RollbackEnabled: true },
        },
        Tags: [{ Key: 'team', Value: 'payments' }],
      }),
    );
    const arn = defined(created.ApplicationDetail?.ApplicationARN);
    await h.msf.send(
      new TagResourceCommand({ ResourceARN: arn, Tags: [{ Key: 'flink-watchdog', Value: 'remediate' }] }),
    );
    const tags = await h.msf.send(new ListTagsForResourceCommand({ ResourceARN: arn }));
    const list = await h.msf.send(new ListApplicationsCommand({}));
    const raw = await fetch(h.emulator.endpoint, {
      method: 'POST',
      headers: { 'x-amz-target': 'KinesisAnalytics_20180523.Bogus', 'content-type': 'application/x-amz-json-1.1' },
      body: '{}',
    });

    // Assess
    expect(created.ApplicationDetail).toMatchObject({
      ApplicationStatus: 'READY',
      ApplicationVersionId: 1,
      ApplicationConfigurationDescription: {
        FlinkApplicationConfigurationDescription: {
          ParallelismConfigurationDescription: {
            Parallelism: 4,
            ParallelismPerKPU: 2,
            CurrentParallelism: 4,
            AutoScalingEnabled: true,
          },
        },
        ApplicationSnapshotConfigurationDescription: { SnapshotsEnabled: true },
        ApplicationSystemRollbackConfigurationDescription: { RollbackEnabled: true },
      },
    });
    expect(tags.Tags).toEqual([
      { Key: 'team', Value: 'payments' },
      { Key: 'flink-watchdog', Value: 'remediate' },
    ]);
    expect(list.ApplicationSummaries?.map((a) => a.ApplicationName)).toEqual(['payments']);
    expect(raw.status).toBe(400);
    expect(await raw.json()).toMatchObject({ __type: 'UnknownOperationException' });
    expect(h.emulator.calls.map((c) => [c.service, c.operation, c.errorType])).toEqual([
      ['kinesisanalytics', 'CreateApplication', undefined],
      ['kinesisanalytics', 'TagResource', undefined],
      ['kinesisanalytics', 'ListTagsForResource', undefined],
      ['kinesisanalytics', 'ListApplications', undefined],
      ['kinesisanalytics', 'Bogus', 'UnknownOperationException'],
    ]);
    expect(h.emulator.calls[0]?.userAgent).toContain(WATCHDOG_USER_AGENT);
    expect(h.emulator.calls[0]?.atMs).toBe(START_MS);
  });
});

describe('Emulator: metrics and alarms', () => {
  it('publishes per-minute AWS/KinesisAnalytics metrics and delivers alarm state changes', async () => {
    // Prepare
    const h = await harness([
      orders('orders'),
      orders('flink2', { runtimeEnvironment: 'FLINK-2_2' }),
      orders('stopped', { initialStatus: 'READY' }),
    ]);
    const events: AlarmStateChangeEvent[] = [];
    h.emulator.onAlarmEvent((e) => events.push(e));
    await h.cloudwatch.send(
      new PutMetricAlarmCommand({
        AlarmName: 'orders-restart-loop',
        Namespace: 'AWS/KinesisAnalytics',
        MetricName: 'fullRestarts',
        Dimensions: [{ Name: 'Application', Value: 'orders' }],
        Statistic: 'Maximum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 3,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      }),
    );

    // Act
    await deploy(h, 'orders', { topic: 'ordres' });
    h.advanceMinutes(12);
    const query = (id: string, application: string, metricName: string) => ({
      Id: id,
      MetricStat: {
        Metric: {
          Namespace: 'AWS/KinesisAnalytics',
          MetricName: metricName,
          Dimensions: [{ Name: 'Application', Value: application }],
        },
        Period: 60,
        Stat: 'Maximum',
      },
    });
    const data = await h.cloudwatch.send(
      new GetMetricDataCommand({
        StartTime: new Date(START_MS),
        EndTime: new Date(h.clock.now()),
        MetricDataQueries: [
          query('restarts', 'orders', 'fullRestarts'),
          query('downtime', 'orders', 'downtime'),
          query('numRestarts', 'flink2', 'numRestarts'),
          query('uptime2', 'flink2', 'uptime'),
          query('stopped', 'stopped', 'downtime'),
        ],
      }),
    );
    const values = (id: string) => data.MetricDataResults?.find((r) => r.Id === id)?.Values ?? [];

    // Assess
    expect(Math.max(...values('restarts'))).toBeGreaterThan(3);
    expect(values('downtime').length).toBeGreaterThanOrEqual(10);
    expect(values('numRestarts').length).toBeGreaterThan(0);
    // FLINK-2_2 still publishes uptime/downtime: deprecated, not removed (MSF metrics page, "Flink 2.2 metric changes").
    expect(values('uptime2').length).toBeGreaterThan(0);
    expect(values('stopped')).toEqual([]);
    const alarm = events.find((e) => e.detail.alarmName === 'orders-restart-loop' && e.detail.state.value === 'ALARM');
    expect(alarm).toBeDefined();
  });
});

describe('Emulator: RollbackApplication target', () => {
  it('goes back to the previous running version, skipping a version that never ran', async () => {
    // Prepare: v2 fails at submit (READY on v2), v3 is configured from READY and started: it runs, in a crash loop
    const h = await harness([orders('orders')]);
    await deploy(h, 'orders', { fileKey: 'wrong-main-class.jar' });
    h.advanceMinutes(2);
    await deploy(h, 'orders', { fileKey: 'orders-1.jar', topic: 'ordres' });
    h.advanceMinutes(1);
    await h.msf.send(new StartApplicationCommand({ ApplicationName: 'orders' }));
    h.advanceMinutes(2);
    expect(await describeApp(h, 'orders')).toMatchObject({ ApplicationStatus: 'RUNNING', ApplicationVersionId: 3 });

    // Act
    await h.msf.send(new RollbackApplicationCommand({ ApplicationName: 'orders', CurrentApplicationVersionId: 3 }));
    h.advanceMinutes(2);

    // Assess: version 1 ran, version 2 never did
    const detail = await describeApp(h, 'orders');
    expect(detail).toMatchObject({
      ApplicationStatus: 'RUNNING',
      ApplicationVersionId: 4,
      ApplicationVersionRolledBackFrom: 3,
      ApplicationVersionRolledBackTo: 1,
    });
    expect(fileKey(detail)).toBe('orders-1.jar');
    expect(
      detail.ApplicationConfigurationDescription?.EnvironmentPropertyDescriptions?.PropertyGroupDescriptions,
    ).toEqual([{ PropertyGroupId: 'kafka', PropertyMap: { topic: 'orders' } }]);
  });
});

describe('Emulator: maintenance and autoscaling operations', () => {
  async function operations(h: Harness, name: string, operation?: string) {
    const out = await h.msf.send(
      new ListApplicationOperationsCommand({ ApplicationName: name, ...(operation ? { Operation: operation } : {}) }),
    );
    return out.ApplicationOperationInfoList ?? [];
  }

  it('shows maintenance as MAINTENANCE and a Maintenance operation; the job restarts once', async () => {
    // Prepare
    const h = await harness(
      [orders('orders')],
      [{ kind: 'maintenance', application: 'orders', atMinute: 2, durationSeconds: 30 }],
    );

    // Act
    h.advanceMinutes(2);
    const during = await describeApp(h, 'orders');
    const inProgress = await operations(h, 'orders', 'Maintenance');
    const jobDuring = h.emulator.inspect('orders');
    h.advanceMinutes(1);

    // Assess
    expect(during.ApplicationStatus).toBe('MAINTENANCE');
    expect(inProgress).toMatchObject([{ Operation: 'Maintenance', OperationStatus: 'IN_PROGRESS' }]);
    expect(jobDuring).toMatchObject({ jobRunning: false, restarts: 1 });
    expect(await operations(h, 'orders', 'Maintenance')).toMatchObject([
      { Operation: 'Maintenance', OperationStatus: 'SUCCESSFUL' },
    ]);
    expect(h.emulator.inspect('orders')).toMatchObject({
      status: 'RUNNING',
      versionId: 1,
      jobRunning: true,
      restarts: 1,
    });
  });

  it('rejects RollbackApplication during maintenance with ResourceInUseException', async () => {
    // Prepare
    const h = await harness(
      [orders('orders', { initialVersion: 2 })],
      [{ kind: 'maintenance', application: 'orders', atMinute: 1, durationSeconds: 30 }],
    );
    h.advanceMinutes(1);

    // Act
    const error = await h.msf
      .send(new RollbackApplicationCommand({ ApplicationName: 'orders', CurrentApplicationVersionId: 2 }))
      .catch((e: Error) => e);

    // Assess
    expect(error).toMatchObject({ name: 'ResourceInUseException' });
  });

  it('records a successful autoscale as an Autoscaling operation with the new CurrentParallelism', async () => {
    // Prepare
    const h = await harness(
      [orders('orders', { parallelism: 2, autoScalingEnabled: true })],
      [{ kind: 'autoscale', application: 'orders', atMinute: 1, toParallelism: 4, durationSeconds: 60 }],
    );

    // Act
    h.advanceMinutes(1);
    const during = await describeApp(h, 'orders');
    h.advanceMinutes(2);

    // Assess
    expect(during.ApplicationStatus).toBe('AUTOSCALING');
    const detail = await describeApp(h, 'orders');
    expect(detail.ApplicationStatus).toBe('RUNNING');
    expect(
      detail.ApplicationConfigurationDescription?.FlinkApplicationConfigurationDescription
        ?.ParallelismConfigurationDescription,
    ).toMatchObject({ Parallelism: 2, CurrentParallelism: 4 });
    expect(await operations(h, 'orders', 'Autoscaling')).toMatchObject([
      { Operation: 'Autoscaling', OperationStatus: 'SUCCESSFUL' },
    ]);
  });

  it('rolls back to the running version by itself after a failed autoscale when system rollback is enabled', async () => {
    // Prepare
    const h = await harness(
      [orders('orders', { parallelism: 2, autoScalingEnabled: true, systemRollbackEnabled: true })],
      [{ kind: 'autoscale', application: 'orders', atMinute: 1, toParallelism: 4, durationSeconds: 60, fails: true }],
    );

    // Act
    h.advanceMinutes(2);
    const rollingBack = await describeApp(h, 'orders');
    h.advanceMinutes(2);

    // Assess
    expect(rollingBack.ApplicationStatus).toBe('ROLLING_BACK');
    const [scaling] = await operations(h, 'orders', 'Autoscaling');
    const failed = await describeOperation(h, 'orders', scaling?.OperationId);
    expect(failed).toMatchObject({
      Operation: 'Autoscaling',
      OperationStatus: 'FAILED',
      OperationFailureDetails: { ErrorInfo: { ErrorString: expect.stringContaining('JobException') } },
    });
    expect(await describeOperation(h, 'orders', failed.OperationFailureDetails?.RollbackOperationId)).toMatchObject({
      Operation: 'RollbackApplication',
      OperationStatus: 'SUCCESSFUL',
    });
    const detail = await describeApp(h, 'orders');
    expect(detail).toMatchObject({ ApplicationStatus: 'RUNNING', ApplicationVersionRolledBackTo: 1 });
    expect(
      detail.ApplicationConfigurationDescription?.FlinkApplicationConfigurationDescription
        ?.ParallelismConfigurationDescription,
    ).toMatchObject({ Parallelism: 2, CurrentParallelism: 2 });
  });

  it('leaves the application READY after a failed autoscale without system rollback', async () => {
    // Prepare
    const h = await harness(
      [orders('orders', { parallelism: 2, autoScalingEnabled: true })],
      [{ kind: 'autoscale', application: 'orders', atMinute: 1, toParallelism: 4, durationSeconds: 60, fails: true }],
    );

    // Act
    h.advanceMinutes(3);

    // Assess
    expect(h.emulator.inspect('orders')).toMatchObject({ status: 'READY', jobRunning: false });
    const [latest] = await operations(h, 'orders');
    expect(latest).toMatchObject({ Operation: 'Autoscaling', OperationStatus: 'FAILED' });
  });
});
