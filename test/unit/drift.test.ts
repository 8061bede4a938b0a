import { describe, expect, it } from 'vitest';
import type { DesiredApplicationState, DesiredStateSource } from '#shared/domain/desired.ts';
import {
  compareDesired,
  compareSeverity,
  currentRollback,
  DRIFT_SEVERITIES,
  type DriftField,
  type DriftSeverity,
  driftFingerprint,
  foldSeverity,
  SENSITIVE,
  TERRAFORM_ATTRIBUTE_PATHS,
} from '#shared/domain/drift.ts';
import type { ApplicationOperation, ApplicationState } from '#shared/domain/model.ts';
import { app, CODE_6, CODE_7, MIN, op, systemRollback, T0, UID_ERROR } from '../support/builders.ts';

const TF: DesiredStateSource = {
  kind: 'terraform',
  location: 's3://tf-state/streaming/terraform.tfstate',
  address: 'module.streaming.aws_kinesisanalyticsv2_application.app["orders"]',
};

/** A desired state read from Terraform, declaring only what `o` sets. */
function desired(o: Partial<DesiredApplicationState> = {}): DesiredApplicationState {
  return { applicationName: 'orders', source: TF, ...o };
}

function ctx(operations: ApplicationOperation[] = [], nowMs = T0 + 10 * MIN, timeZone?: string) {
  return timeZone === undefined ? { operations, nowMs } : { operations, nowMs, timeZone };
}

describe('Function: compareDesired', () => {
  describe('one drift per field', () => {
    it.each<[DriftField, Partial<DesiredApplicationState>, Partial<ApplicationState>, DriftSeverity, string]>([
      [
        'status',
        { status: 'RUNNING' },
        { status: 'READY' },
        'status',
        'Terraform declares start_application true (RUNNING); MSF reports ApplicationStatus READY: the job is not running.',
      ],
      [
        'applicationVersion',
        { versionId: 7 },
        { versionId: 9 },
        'code/version',
        'Terraform declares version_id 7; MSF runs ApplicationVersionId 9: the application was updated outside Terraform since it was last applied.',
      ],
      [
        'code',
        { code: CODE_7 },
        { code: { ...CODE_7, fileKey: 'jobs/orders-hotfix.jar' } },
        'code/version',
        'Terraform declares code file_key jobs/orders-1.3.0.jar; MSF runs FileKey jobs/orders-hotfix.jar.',
      ],
      [
        'runtimeEnvironment',
        { runtimeEnvironment: 'FLINK-2_2' },
        { runtimeEnvironment: 'FLINK-1_20' },
        'code/version',
        'Terraform declares runtime_environment FLINK-2_2; MSF runs RuntimeEnvironment FLINK-1_20.',
      ],
      [
        'parallelism',
        { parallelism: 4 },
        { parallelism: 8 },
        'configuration',
        'Terraform declares parallelism 4; MSF runs with Parallelism 8.',
      ],
      [
        'parallelismPerKPU',
        { parallelismPerKPU: 1 },
        { parallelismPerKPU: 2 },
        'configuration',
        'Terraform declares parallelism_per_kpu 1; MSF runs with ParallelismPerKPU 2.',
      ],
      [
        'autoScaling',
        { autoScalingEnabled: false },
        { autoScalingEnabled: true },
        'configuration',
        'Terraform declares auto_scaling_enabled false; MSF has AutoScalingEnabled true.',
      ],
      [
        'snapshotsEnabled',
        { snapshotsEnabled: true },
        { snapshotsEnabled: false },
        'configuration',
        'Terraform declares snapshots_enabled true; MSF has SnapshotsEnabled false: updates and rollbacks cannot restore state without snapshots.',
      ],
      [
        'systemRollbackEnabled',
        { systemRollbackEnabled: true },
        { systemRollbackEnabled: false },
        'configuration',
        'Terraform declares system rollback (rollback_enabled) true; MSF has ApplicationSystemRollbackConfiguration.RollbackEnabled false: MSF will not revert a failed update.',
      ],
      [
        'environmentProperties',
        { environmentProperties: { FlinkApplicationProperties: { 'input.stream.name': 'orders-in-prod-4711' } } },
        { environmentProperties: { FlinkApplicationProperties: { 'input.stream.name': 'orders-in-test-0815' } } },
        'configuration',
        "Terraform declares environment_properties that differ from MSF's EnvironmentPropertyDescriptions in 1 key: FlinkApplicationProperties.input.stream.name (changed); values are masked.",
      ],
      [
        'logLevel',
        { logLevel: 'INFO' },
        { logLevel: 'DEBUG' },
        'informational',
        'Terraform declares log_level INFO; MSF has LogLevel DEBUG.',
      ],
      [
        'metricsLevel',
        { metricsLevel: 'APPLICATION' },
        { metricsLevel: 'OPERATOR' },
        'informational',
        'Terraform declares metrics_level APPLICATION; MSF has MetricsLevel OPERATOR.',
      ],
    ])('reports %s drift', (field, declared, running, severity, explanation) => {
      // Prepare
      const actual = app(running);

      // Act
      const report = compareDesired(desired(declared), actual, ctx());

      // Assess
      expect(report.fields).toHaveLength(1);
      expect(report.fields[0]).toMatchObject({ field, severity, explanation });
      expect(report.severity).toBe(severity);
      expect(report.summary).toContain(explanation);
      expect(report.rollback).toBeUndefined();
    });

    it('compares only declared fields', () => {
      const actual = app({ parallelism: 8, logLevel: 'DEBUG', code: CODE_6, status: 'READY' });
      const report = compareDesired(desired(), actual, ctx());
      expect(report.fields).toEqual([]);
    });

    it('uses the watchdog config terms when the desired state comes from the config', () => {
      const config: DesiredStateSource = { kind: 'config', location: 'watchdog.yaml' };
      const report = compareDesired(desired({ source: config, parallelism: 4 }), app({ parallelism: 8 }), ctx());
      expect(report.fields[0]?.explanation).toBe(
        'The watchdog config declares parallelism 4; MSF runs with Parallelism 8.',
      );
      expect(report.source).toBe(config);
    });
  });

  describe('status', () => {
    it('names the failed deploy when a desired RUNNING application sits in READY', () => {
      const ops = [
        op({ operation: 'UpdateApplication', status: 'FAILED', startMs: T0, errorString: 'wrong main class.' }),
      ];
      const report = compareDesired(desired({ status: 'RUNNING' }), app({ status: 'READY' }), ctx(ops));
      expect(report.fields[0]?.explanation).toBe(
        'Terraform declares start_application true (RUNNING); MSF reports ApplicationStatus READY: the job is not running since UpdateApplication failed: wrong main class.',
      );
    });

    it('reports a running application declared stopped', () => {
      const report = compareDesired(desired({ status: 'READY' }), app({ status: 'RUNNING' }), ctx());
      expect(report.fields[0]).toMatchObject({
        field: 'status',
        severity: 'status',
        desired: 'READY',
        actual: 'RUNNING',
      });
    });

    it.each(['STARTING', 'UPDATING', 'AUTOSCALING', 'ROLLING_BACK', 'STOPPING'] as const)(
      'does not report transient %s as drift, only as an ignored difference',
      (status) => {
        const report = compareDesired(desired({ status: 'RUNNING' }), app({ status }), ctx());
        expect(report.fields).toEqual([]);
        expect(report.severity).toBe('none');
        expect(report.ignoredDifferences).toEqual([
          `ApplicationStatus ${status} ≠ declared RUNNING: transient, not drift until it settles`,
        ]);
        expect(driftFingerprint(report)).toBe('drift:none');
      },
    );

    it('reports ROLLED_BACK as informational', () => {
      const report = compareDesired(desired({ status: 'RUNNING' }), app({ status: 'ROLLED_BACK' }), ctx());
      expect(report.fields[0]).toMatchObject({ field: 'status', severity: 'informational' });
    });
  });

  describe('code location', () => {
    it.each([
      ['BucketARN', { bucketArn: 'arn:aws:s3:::other-artifacts' }],
      ['FileKey', { fileKey: 'jobs/orders-1.2.0.jar' }],
      ['ObjectVersion', { objectVersion: 'obj-v6' }],
    ])('compares %s on its own', (part, change) => {
      const report = compareDesired(desired({ code: CODE_7 }), app({ code: { ...CODE_7, ...change } }), ctx());
      expect(report.fields[0]).toMatchObject({ field: 'code', severity: 'code/version', changedKeys: [part] });
      expect(report.fields[0]?.desired).toBe(
        'arn:aws:s3:::orders-artifacts/jobs/orders-1.3.0.jar (ObjectVersion obj-v7)',
      );
    });

    it('does not compare ObjectVersion when none is declared', () => {
      const declared = { bucketArn: CODE_7.bucketArn, fileKey: CODE_7.fileKey };
      expect(compareDesired(desired({ code: declared }), app({ code: CODE_7 }), ctx()).fields).toEqual([]);
    });

    it('reports a missing code location', () => {
      const report = compareDesired(desired({ code: CODE_7 }), app(), ctx());
      expect(report.fields[0]).toMatchObject({
        actual: '(not set)',
        changedKeys: ['BucketARN', 'FileKey', 'ObjectVersion'],
      });
      expect(report.fields[0]?.explanation).toContain('MSF runs no S3 code location.');
    });
  });

  describe('environment properties', () => {
    const declared = {
      FlinkApplicationProperties: {
        'input.stream.name': 'orders-in-prod-4711',
        'sink.password': 'hunter2-Sup3rS3cret!',
        'window.size': 'window-size-unchanged-60s',
      },
      Removed: { 'only.declared': 'declared-only-value-abc' },
    };
    const running = {
      FlinkApplicationProperties: {
        'input.stream.name': 'orders-in-test-0815',
        'sink.password': 'hunter2-Sup3rS3cret!',
        'window.size': 'window-size-unchanged-60s',
        'debug.enabled': 'debug-flag-value-true',
      },
    };
    const values = [
      'orders-in-prod-4711',
      'orders-in-test-0815',
      'hunter2-Sup3rS3cret!',
      'window-size-unchanged-60s',
      'declared-only-value-abc',
      'debug-flag-value-true',
    ];

    it('lists changed, missing and added keys and never shows a value', () => {
      // Prepare
      const actual = app({ environmentProperties: running });

      // Act
      const report = compareDesired(desired({ environmentProperties: declared }), actual, ctx());

      // Assess
      const field = report.fields[0];
      expect(field?.changedKeys).toEqual([
        'FlinkApplicationProperties.debug.enabled',
        'FlinkApplicationProperties.input.stream.name',
        'Removed.only.declared',
      ]);
      expect(field?.explanation).toContain('FlinkApplicationProperties.debug.enabled (only in MSF)');
      expect(field?.explanation).toContain('Removed.only.declared (missing in MSF)');
      const json = JSON.stringify(report) + driftFingerprint(report);
      for (const v of values) expect(json).not.toContain(v);
    });

    it('shows neither the values nor a hash of them, and still sees a value change again', () => {
      const report = compareDesired(
        desired({ environmentProperties: { G: { k: 'first-secret-value' } } }),
        app({ environmentProperties: { G: { k: 'second-secret-value' } } }),
        ctx(),
      );
      const again = compareDesired(
        desired({ environmentProperties: { G: { k: 'first-secret-value' } } }),
        app({ environmentProperties: { G: { k: 'third-secret-value' } } }),
        ctx(),
      );
      expect(report.fields[0]).toMatchObject({ desired: 'G.k=***', actual: 'G.k=***', changedKeys: ['G.k'] });
      expect(JSON.stringify(report)).not.toMatch(/sha256|[0-9a-f]{16}/);
      expect(driftFingerprint(again)).not.toBe(driftFingerprint(report));
    });

    it('reports nothing when the property groups match', () => {
      const report = compareDesired(
        desired({ environmentProperties: running }),
        app({ environmentProperties: running }),
        ctx(),
      );
      expect(report.fields).toEqual([]);
    });
  });

  describe('parallelism and autoscaling', () => {
    it('does not report autoscaling moving CurrentParallelism', () => {
      // Prepare
      const declared = desired({ parallelism: 4, autoScalingEnabled: true });
      const at8 = app({ parallelism: 4, currentParallelism: 8, autoScalingEnabled: true });
      const at12 = app({ parallelism: 4, currentParallelism: 12, autoScalingEnabled: true });

      // Act
      const first = compareDesired(declared, at8, ctx());
      const second = compareDesired(declared, at12, ctx());

      // Assess
      expect(first.fields).toEqual([]);
      expect(first.severity).toBe('none');
      expect(first.ignoredDifferences).toEqual(['CurrentParallelism 8 ≠ declared 4: autoscaling, not drift']);
      expect(driftFingerprint(first)).toBe(driftFingerprint(second));
    });
  });

  describe('application version and rollbacks', () => {
    it('explains a system rollback with versions, time, ErrorInfo and the Terraform code key (scenario 6)', () => {
      // Prepare
      const { actual, operations } = systemRollback();
      const declared = desired({ status: 'RUNNING', versionId: 7, code: CODE_7, systemRollbackEnabled: true });

      // Act
      const report = compareDesired(declared, actual, ctx(operations));

      // Assess
      expect(report.severity).toBe('code/version');
      expect(report.fields.map((f) => f.field)).toEqual(['applicationVersion', 'code']);
      expect(report.rollback).toEqual({
        kind: 'system',
        fromVersionId: 7,
        toVersionId: 6,
        atMs: T0 + 2 * MIN,
        operationId: 'rb-1',
        status: 'SUCCESSFUL',
        failedOperation: 'UpdateApplication',
        errorString: UID_ERROR,
      });
      expect(report.summary).toBe(
        `MSF rolled back from version 7 to 6 at 14:02 UTC after UpdateApplication failed: ${UID_ERROR}. Terraform still declares code key jobs/orders-1.3.0.jar of version 7, so the next terraform apply redeploys the failing code.`,
      );
      expect(report.fields[0]?.explanation).toBe(
        'Terraform declares version_id 7, the version MSF rolled back from; MSF runs the configuration of version 6 as version 8 after a system rollback.',
      );
    });

    it('reports the classic case: Terraform declares a newer version than the one MSF rolled back to', () => {
      // Prepare: MSF reports the rolled-back-to version id itself.
      const operations = [
        op({
          operation: 'UpdateApplication',
          status: 'FAILED',
          startMs: T0,
          versionFrom: 6,
          versionTo: 7,
          errorString: UID_ERROR,
          rollbackOperationId: 'rb-2',
        }),
        op({
          operationId: 'rb-2',
          operation: 'RollbackApplication',
          status: 'SUCCESSFUL',
          startMs: T0 + MIN,
          endMs: T0 + 3 * MIN,
          versionFrom: 7,
          versionTo: 6,
        }),
      ];

      // Act
      const report = compareDesired(desired({ versionId: 7 }), app({ versionId: 6 }), ctx(operations));

      // Assess
      expect(report.rollback).toMatchObject({ kind: 'system', fromVersionId: 7, toVersionId: 6, atMs: T0 + 3 * MIN });
      expect(report.fields[0]).toMatchObject({ field: 'applicationVersion', desired: '7', actual: '6' });
      expect(report.summary).toBe(
        `MSF rolled back from version 7 to 6 at 14:03 UTC after UpdateApplication failed: ${UID_ERROR}. Terraform still declares version 7, so the next terraform apply redeploys the failing configuration.`,
      );
    });

    it('says so when the system rollback itself failed and left the application READY', () => {
      // Prepare
      const { actual, operations } = systemRollback();
      const failedRollback = operations.map((o) =>
        o.operationId === 'rb-1' ? { ...o, status: 'FAILED' as const, versionTo: undefined } : o,
      );

      // Act
      const report = compareDesired(
        desired({ status: 'RUNNING', code: CODE_7 }),
        { ...actual, status: 'READY' },
        ctx(failedRollback),
      );

      // Assess
      expect(report.severity).toBe('status');
      expect(report.rollback).toMatchObject({
        kind: 'system',
        status: 'FAILED',
        operationId: 'rb-1',
        atMs: T0 + 2 * MIN,
      });
      expect(report.summary).toMatch(
        /^MSF tried to roll back from version 7 to 6 at 14:02 UTC after UpdateApplication failed: .*; the rollback failed too, leaving the application READY\. Terraform still declares code key jobs\/orders-1\.3\.0\.jar of version 7/,
      );
    });

    it('reports a system rollback still in progress without calling ROLLING_BACK status drift', () => {
      const { actual, operations } = systemRollback();
      const running = operations.map((o) =>
        o.operationId === 'rb-1' ? { ...o, status: 'IN_PROGRESS' as const, endMs: undefined, versionTo: undefined } : o,
      );
      const report = compareDesired(
        desired({ status: 'RUNNING', versionId: 7 }),
        { ...actual, status: 'ROLLING_BACK' },
        ctx(running),
      );
      expect(report.fields.map((f) => f.field)).toEqual(['applicationVersion']);
      expect(report.summary).toMatch(
        /^MSF is rolling back from version 7 to 6 since 14:01 UTC after UpdateApplication/,
      );
    });

    it('explains a manual rollback', () => {
      // Prepare
      const operations = [
        op({
          operation: 'UpdateApplication',
          status: 'SUCCESSFUL',
          startMs: T0 - 30 * MIN,
          versionFrom: 6,
          versionTo: 7,
        }),
        op({
          operation: 'RollbackApplication',
          status: 'SUCCESSFUL',
          startMs: T0 - 10 * MIN,
          endMs: T0 - 8 * MIN,
          versionFrom: 7,
          versionTo: 8,
        }),
      ];
      const actual = app({ versionId: 8, versionRolledBackFrom: 7, versionRolledBackTo: 6, code: CODE_6 });

      // Act
      const report = compareDesired(desired({ versionId: 7, code: CODE_7 }), actual, ctx(operations));

      // Assess
      expect(report.rollback).toMatchObject({ kind: 'manual', fromVersionId: 7, toVersionId: 6, atMs: T0 - 8 * MIN });
      expect(report.rollback?.failedOperation).toBeUndefined();
      expect(report.summary).toBe(
        'orders was rolled back (RollbackApplication) from version 7 to 6 at 13:52 UTC. Terraform still declares code key jobs/orders-1.3.0.jar of version 7, so the next terraform apply redeploys the version that was rolled back.',
      );
    });

    it('appends other drifted fields to the rollback summary', () => {
      const { actual, operations } = systemRollback();
      const report = compareDesired(desired({ versionId: 7, logLevel: 'WARN' }), actual, ctx(operations));
      expect(report.summary).toContain('so the next terraform apply redeploys the failing configuration.');
      expect(report.summary).toMatch(/ Terraform declares log_level WARN; MSF has LogLevel \(not set\)\.$/);
    });

    it('shows times in the requested time zone, with the date when not today', () => {
      const { actual, operations } = systemRollback();
      const declared = desired({ versionId: 7 });
      expect(compareDesired(declared, actual, ctx(operations, T0 + 10 * MIN, 'Europe/Berlin')).summary).toContain(
        'at 15:02 Europe/Berlin after',
      );
      expect(compareDesired(declared, actual, ctx(operations, T0 + 30 * 60 * MIN)).summary).toContain(
        'at 2026-03-02 14:02 UTC after',
      );
    });

    it('reports no drift once the declared state matches the rolled-back version', () => {
      const { actual, operations } = systemRollback();
      const report = compareDesired(desired({ versionId: 8, code: CODE_6 }), actual, ctx(operations));
      expect(report.severity).toBe('none');
      expect(report.rollback).toBeUndefined();
      expect(report.ignoredDifferences).toEqual([
        'version 8 came from a system rollback from version 7 to 6, and Terraform already matches it',
      ]);
    });

    it('names the failed update when the declared version never reached MSF', () => {
      const ops = [op({ operation: 'UpdateApplication', status: 'FAILED', startMs: T0, versionFrom: 7, versionTo: 8 })];
      const report = compareDesired(desired({ versionId: 8 }), app({ versionId: 7 }), ctx(ops));
      expect(report.fields[0]?.explanation).toBe(
        'Terraform declares version_id 8; MSF runs ApplicationVersionId 7: UpdateApplication to version 8 failed: (no ErrorInfo).',
      );
      expect(report.rollback).toBeUndefined();
    });
  });

  describe('severity folding and the summary', () => {
    it('folds many drifts to the strongest and lists them strongest first', () => {
      const report = compareDesired(
        desired({ logLevel: 'INFO', parallelism: 4, status: 'RUNNING', code: CODE_7 }),
        app({ logLevel: 'DEBUG', parallelism: 8, status: 'READY', code: CODE_6 }),
        ctx(),
      );
      expect(report.severity).toBe('status');
      expect(report.fields.map((f) => f.field)).toEqual(['status', 'code', 'parallelism', 'logLevel']);
      expect(report.summary).toMatch(
        /^orders differs from what Terraform declares in 4 fields \(strongest: status\)\./,
      );
    });

    it('reports severity none, no fields and a no-drift summary when everything matches', () => {
      const actual = app({ code: CODE_7, parallelism: 4, logLevel: 'INFO', metricsLevel: 'APPLICATION' });
      const declared = desired({
        status: 'RUNNING',
        versionId: 7,
        code: CODE_7,
        runtimeEnvironment: 'FLINK-1_20',
        parallelism: 4,
        snapshotsEnabled: true,
        systemRollbackEnabled: false,
        environmentProperties: {},
        logLevel: 'INFO',
        metricsLevel: 'APPLICATION',
      });
      const report = compareDesired(declared, actual, ctx());
      expect(report).toMatchObject({ severity: 'none', fields: [], ignoredDifferences: [] });
      expect(report.summary).toBe('orders matches what Terraform declares: no drift.');
    });
  });
});

describe('Function: compareSeverity', () => {
  it('orders informational < configuration < code/version < status', () => {
    expect(DRIFT_SEVERITIES).toEqual(['informational', 'configuration', 'code/version', 'status']);
    const shuffled: DriftSeverity[] = ['status', 'informational', 'code/version', 'configuration'];
    expect(shuffled.sort(compareSeverity)).toEqual([...DRIFT_SEVERITIES]);
    expect(compareSeverity('none', 'informational')).toBeLessThan(0);
    expect(compareSeverity('status', 'status')).toBe(0);
  });
});

describe('Function: foldSeverity', () => {
  it('folds to the strongest severity', () => {
    expect(
      foldSeverity([{ severity: 'informational' }, { severity: 'code/version' }, { severity: 'configuration' }]),
    ).toBe('code/version');
    expect(foldSeverity([{ severity: 'informational' }])).toBe('informational');
  });

  it('is none for no drift', () => {
    expect(foldSeverity([])).toBe('none');
  });
});

describe('Function: driftFingerprint', () => {
  const declared = desired({ parallelism: 4, logLevel: 'INFO' });

  it('is stable across observations, times and time zones', () => {
    const { actual, operations } = systemRollback();
    const withRollback = desired({ versionId: 7, code: CODE_7 });
    const a = compareDesired(withRollback, actual, ctx(operations, T0 + 10 * MIN));
    const b = compareDesired(withRollback, actual, ctx(operations, T0 + 40 * 60 * MIN, 'America/New_York'));
    expect(a.summary).not.toBe(b.summary);
    expect(driftFingerprint(a)).toBe(driftFingerprint(b));
    expect(driftFingerprint(a)).toMatch(/^drift:v1:[0-9a-f]{64}$/);
  });

  it('does not depend on field order', () => {
    const report = compareDesired(declared, app({ parallelism: 8, logLevel: 'DEBUG' }), ctx());
    const reversed = { ...report, fields: [...report.fields].reverse() };
    expect(driftFingerprint(reversed)).toBe(driftFingerprint(report));
  });

  it('changes when a value changes', () => {
    const at8 = compareDesired(declared, app({ parallelism: 8 }), ctx());
    const at12 = compareDesired(declared, app({ parallelism: 12 }), ctx());
    expect(driftFingerprint(at8)).not.toBe(driftFingerprint(at12));
  });

  it('changes when a masked property value changes', () => {
    const props = desired({ environmentProperties: { G: { k: 'declared-value' } } });
    const one = compareDesired(props, app({ environmentProperties: { G: { k: 'first-value' } } }), ctx());
    const two = compareDesired(props, app({ environmentProperties: { G: { k: 'second-value' } } }), ctx());
    expect(driftFingerprint(one)).not.toBe(driftFingerprint(two));
  });
});

describe('Function: currentRollback', () => {
  it('is undefined when a later update replaced the rolled-back version', () => {
    const { operations } = systemRollback();
    const later = op({
      operation: 'UpdateApplication',
      status: 'SUCCESSFUL',
      startMs: T0 + 5 * MIN,
      versionFrom: 8,
      versionTo: 9,
    });
    expect(currentRollback(app({ versionId: 9, versionUpdatedFrom: 8 }), [...operations, later])).toBeUndefined();
  });

  it('reads a rollback from DescribeApplication alone, as manual without a failed operation', () => {
    const actual = app({ versionId: 8, versionRolledBackFrom: 7, versionRolledBackTo: 6, versionCreatedMs: T0 });
    expect(currentRollback(actual, [])).toEqual({ kind: 'manual', fromVersionId: 7, toVersionId: 6, atMs: T0 });
  });

  it('is system when the failed update is listed but the rollback operation is not', () => {
    const actual = app({ versionId: 8, versionRolledBackFrom: 7, versionRolledBackTo: 6, systemRollbackEnabled: true });
    const failed = op({ operation: 'UpdateApplication', status: 'FAILED', startMs: T0, versionFrom: 6, versionTo: 7 });
    expect(currentRollback(actual, [failed])).toMatchObject({ kind: 'system', failedOperation: 'UpdateApplication' });
  });

  it('is undefined for a version produced by an update', () => {
    const update = op({
      operation: 'UpdateApplication',
      status: 'SUCCESSFUL',
      startMs: T0,
      versionFrom: 6,
      versionTo: 7,
    });
    expect(currentRollback(app(), [update])).toBeUndefined();
  });
});

describe('Function: compareDesired, in Terraform terms', () => {
  const AC = 'application_configuration[0]';
  const FLINK = `${AC}.flink_application_configuration[0]`;
  const S3 = `${AC}.application_code_configuration[0].code_content[0].s3_content_location[0]`;
  const GROUP = `${AC}.environment_properties[0].property_group`;
  /** The Terraform source of `desired()`, with where the property groups sit in the state. */
  const TF_GROUPS: DesiredStateSource = { ...TF, propertyGroupIndexes: { kafka: 0, sink: 1 } };

  describe('each difference by its attribute path of aws_kinesisanalyticsv2_application', () => {
    it.each<[string, Partial<DesiredApplicationState>, Partial<ApplicationState>, string, string, string]>([
      ['status', { status: 'RUNNING' }, { status: 'READY' }, 'start_application', 'true (RUNNING)', 'READY'],
      ['version', { versionId: 5 }, { versionId: 7 }, 'version_id', '5', '7'],
      ['runtime', { runtimeEnvironment: 'FLINK-2_2' }, {}, 'runtime_environment', 'FLINK-2_2', 'FLINK-1_20'],
      [
        'role',
        { serviceExecutionRole: 'arn:aws:iam::123456789012:role/old' },
        { serviceExecutionRole: 'arn:aws:iam::123456789012:role/new' },
        'service_execution_role',
        'arn:aws:iam::123456789012:role/old',
        'arn:aws:iam::123456789012:role/new',
      ],
      [
        'parallelism',
        { parallelism: 4 },
        { parallelism: 8 },
        `${FLINK}.parallelism_configuration[0].parallelism`,
        '4',
        '8',
      ],
      [
        'parallelism per KPU',
        { parallelismPerKPU: 1 },
        { parallelismPerKPU: 2 },
        `${FLINK}.parallelism_configuration[0].parallelism_per_kpu`,
        '1',
        '2',
      ],
      [
        'autoscaling',
        { autoScalingEnabled: false },
        { autoScalingEnabled: true },
        `${FLINK}.parallelism_configuration[0].auto_scaling_enabled`,
        'false',
        'true',
      ],
      [
        'snapshots',
        { snapshotsEnabled: true },
        { snapshotsEnabled: false },
        `${AC}.application_snapshot_configuration[0].snapshots_enabled`,
        'true',
        'false',
      ],
      [
        'system rollback',
        { systemRollbackEnabled: true },
        { systemRollbackEnabled: false },
        `${AC}.application_system_rollback_configuration[0].rollback_enabled`,
        'true',
        'false',
      ],
      [
        'log level',
        { logLevel: 'WARN' },
        { logLevel: 'INFO' },
        `${FLINK}.monitoring_configuration[0].log_level`,
        'WARN',
        'INFO',
      ],
      [
        'metrics level',
        { metricsLevel: 'TASK' },
        { metricsLevel: 'APPLICATION' },
        `${FLINK}.monitoring_configuration[0].metrics_level`,
        'TASK',
        'APPLICATION',
      ],
      [
        'code file key',
        { code: CODE_7 },
        { code: { ...CODE_7, fileKey: 'jobs/hotfix.jar' } },
        `${S3}.file_key`,
        'jobs/orders-1.3.0.jar',
        'jobs/hotfix.jar',
      ],
      [
        'code object version',
        { code: CODE_7 },
        { code: { ...CODE_7, objectVersion: 'obj-v8' } },
        `${S3}.object_version`,
        'obj-v7',
        'obj-v8',
      ],
    ])('%s: %j vs %j is %s', (_what, declared, running, path, want, have) => {
      // Act
      const report = compareDesired(desired(declared), app(running), ctx());

      // Assess
      expect(report.fields).toHaveLength(1);
      expect(report.fields[0]?.attributes).toEqual([{ path, change: 'changed', desired: want, actual: have }]);
    });

    it('documents the same paths it reports', () => {
      expect(TERRAFORM_ATTRIBUTE_PATHS).toMatchObject({
        parallelism: `${FLINK}.parallelism_configuration[0].parallelism`,
        'code.FileKey': `${S3}.file_key`,
        environmentProperties: `${GROUP}[N].property_map["KEY"]`,
      });
    });

    it('names a property by its group index in the state, and [*] for a group only MSF has', () => {
      // Prepare
      const declared = desired({
        source: TF_GROUPS,
        environmentProperties: { kafka: { topic: 'orders', 'auth.token': 'a' }, sink: { url: 'jdbc:x' } },
      });
      const running = app({
        environmentProperties: { kafka: { topic: 'orders-v2', 'auth.token': 'a' }, extra: { debug: 'true' } },
      });

      // Act
      const report = compareDesired(declared, running, ctx());

      // Assess
      expect(report.fields[0]?.attributes).toEqual([
        {
          path: `${GROUP}[*].property_map["debug"]`,
          change: 'only in MSF',
          desired: '(absent)',
          actual: '***',
          propertyGroupId: 'extra',
        },
        {
          path: `${GROUP}[0].property_map["topic"]`,
          change: 'changed',
          desired: '***',
          actual: '***',
          propertyGroupId: 'kafka',
        },
        {
          path: `${GROUP}[1].property_map["url"]`,
          change: 'missing in MSF',
          desired: '***',
          actual: '(absent)',
          propertyGroupId: 'sink',
        },
      ]);
    });

    it('gives no attribute paths, and no Terraform advice, when the watchdog config declares the state', () => {
      // Act
      const report = compareDesired(
        desired({ source: { kind: 'config', location: 'watchdog config' }, status: 'RUNNING' }),
        app({ status: 'READY' }),
        ctx(),
      );

      // Assess
      expect(report.fields[0]).not.toHaveProperty('attributes');
      expect(report).not.toHaveProperty('terraform');
    });
  });

  describe('values: --show-values, and paths Terraform marks sensitive', () => {
    const properties = { kafka: { topic: 'orders', 'auth.token': 'old-token' } };
    const running = app({ environmentProperties: { kafka: { topic: 'orders-v2', 'auth.token': 'new-token' } } });

    it('shows property values on both sides when asked, never in the fields nor the summary', () => {
      // Act
      const report = compareDesired(desired({ source: TF_GROUPS, environmentProperties: properties }), running, {
        ...ctx(),
        showValues: true,
      });

      // Assess
      expect(report.fields[0]?.attributes?.map((a) => [a.path, a.desired, a.actual])).toEqual([
        [`${GROUP}[0].property_map["auth.token"]`, '"old-token"', '"new-token"'],
        [`${GROUP}[0].property_map["topic"]`, '"orders"', '"orders-v2"'],
      ]);
      const elsewhere = JSON.stringify({ ...report, fields: report.fields.map(({ attributes: _a, ...f }) => f) });
      expect(elsewhere).not.toContain('old-token');
      expect(elsewhere).not.toContain('new-token');
    });

    it('keeps a value under a sensitive path (sensitive_attributes, [*] for a set element) masked even when asked', () => {
      // Prepare
      const source: DesiredStateSource = {
        ...TF_GROUPS,
        sensitivePaths: [`${GROUP}[*].property_map["auth.token"]`],
      };

      // Act
      const report = compareDesired(desired({ source, environmentProperties: properties }), running, {
        ...ctx(),
        showValues: true,
      });

      // Assess
      expect(report.fields[0]?.attributes).toEqual([
        {
          path: `${GROUP}[0].property_map["auth.token"]`,
          change: 'changed',
          desired: SENSITIVE,
          actual: SENSITIVE,
          propertyGroupId: 'kafka',
          sensitive: true,
        },
        {
          path: `${GROUP}[0].property_map["topic"]`,
          change: 'changed',
          desired: '"orders"',
          actual: '"orders-v2"',
          propertyGroupId: 'kafka',
        },
      ]);
      expect(JSON.stringify(report)).not.toMatch(/old-token|new-token/);
    });

    it('masks every value below a sensitive block (the whole property_group set, as Terraform marks it)', () => {
      // Act
      const report = compareDesired(
        desired({ source: { ...TF_GROUPS, sensitivePaths: [GROUP] }, environmentProperties: properties }),
        running,
        { ...ctx(), showValues: true },
      );

      // Assess
      expect(report.fields[0]?.attributes?.every((a) => a.desired === SENSITIVE && a.actual === SENSITIVE)).toBe(true);
    });

    it('masks a sensitive attribute that is not a property in every display string, and still sees it change', () => {
      // Prepare
      const source: DesiredStateSource = { ...TF, sensitivePaths: ['service_execution_role'] };
      const declared = desired({ source, serviceExecutionRole: 'arn:aws:iam::123456789012:role/old' });

      // Act
      const first = compareDesired(
        declared,
        app({ serviceExecutionRole: 'arn:aws:iam::123456789012:role/new' }),
        ctx(),
      );
      const second = compareDesired(
        declared,
        app({ serviceExecutionRole: 'arn:aws:iam::123456789012:role/newer' }),
        ctx(),
      );

      // Assess
      expect(first.fields[0]).toMatchObject({ desired: SENSITIVE, actual: SENSITIVE });
      expect(first.fields[0]?.attributes?.[0]).toMatchObject({ path: 'service_execution_role', sensitive: true });
      expect(JSON.stringify(first)).not.toContain('role/');
      expect(driftFingerprint(first)).not.toBe(driftFingerprint(second));
    });

    it('gives the same fingerprint with and without --show-values', () => {
      // Act
      const masked = compareDesired(desired({ source: TF_GROUPS, environmentProperties: properties }), running, ctx());
      const shown = compareDesired(desired({ source: TF_GROUPS, environmentProperties: properties }), running, {
        ...ctx(),
        showValues: true,
      });

      // Assess
      expect(driftFingerprint(shown)).toBe(driftFingerprint(masked));
    });
  });

  describe('which side changed, and the commands to run', () => {
    it('MSF ahead of the state version_id: changed outside Terraform; accept with -refresh-only, restore with apply', () => {
      // Act
      const report = compareDesired(
        desired({ versionId: 5, parallelism: 4 }),
        app({ versionId: 7, parallelism: 8 }),
        ctx(),
      );

      // Assess
      expect(report.terraform).toMatchObject({
        address: TF.address,
        stateVersionId: 5,
        msfVersionId: 7,
        changed: 'msf',
        why: expect.stringContaining('MSF runs ApplicationVersionId 7; Terraform last recorded version 5 (version_id)'),
      });
      expect(report.terraform?.nextSteps.map((n) => [n.intent, n.command])).toEqual([
        ['accept', 'terraform apply -refresh-only'],
        ['restore', 'terraform apply'],
      ]);
      expect(report.terraform?.nextSteps[0]?.effect).toContain(
        `change the configuration to match (${FLINK}.parallelism_configuration[0].parallelism)`,
      );
    });

    it('the same version on both sides: the state declares what MSF does not run', () => {
      // Act
      const report = compareDesired(
        desired({ versionId: 7, parallelism: 4 }),
        app({ versionId: 7, parallelism: 8 }),
        ctx(),
      );

      // Assess
      expect(report.terraform?.changed).toBe('declared');
    });

    it('no version_id in the state: unknown', () => {
      // Act
      const report = compareDesired(desired({ parallelism: 4 }), app({ parallelism: 8 }), ctx());

      // Assess
      expect(report.terraform).toMatchObject({ changed: 'unknown', msfVersionId: 7 });
      expect(report.terraform).not.toHaveProperty('stateVersionId');
    });

    it('stopped outside Terraform: start it with the runbook, terraform apply would not (start_application is not read back)', () => {
      // Act
      const report = compareDesired(desired({ versionId: 7, status: 'RUNNING' }), app({ status: 'READY' }), ctx());

      // Assess
      expect(report.terraform?.changed).toBe('msf');
      expect(report.terraform?.nextSteps.map((n) => [n.intent, n.command])).toEqual([
        ['accept', 'set start_application = false in the configuration, then terraform apply'],
        ['restore', 'flink-watchdog remediate orders --action start'],
      ]);
      expect(report.terraform?.nextSteps[1]?.effect).toContain('terraform apply would not');
    });

    it('after a system rollback: re-applying re-deploys what was rolled back, and the restart loop may come back', () => {
      // Prepare
      const { actual, operations } = systemRollback();

      // Act
      const report = compareDesired(desired({ versionId: 7, code: CODE_7 }), actual, ctx(operations));

      // Assess
      expect(report.terraform?.changed).toBe('msf');
      expect(report.terraform?.why).toBe(
        "MSF rolled back from application version 7 to 6 after Terraform's last apply or refresh (version_id 7): changed outside Terraform.",
      );
      const restore = report.terraform?.nextSteps.find((n) => n.intent === 'restore');
      expect(restore).toEqual({
        intent: 'restore',
        command: 'terraform apply',
        effect: `Re-applying re-deploys the configuration that was rolled back (version 7, code jobs/orders-1.3.0.jar): the restart loop may come back. MSF rolled it back because UpdateApplication failed: ${UID_ERROR}. Fix the cause in the configuration first, or accept what MSF runs.`,
      });
    });

    it('gives no advice when nothing drifts', () => {
      expect(compareDesired(desired({ versionId: 7 }), app(), ctx())).not.toHaveProperty('terraform');
    });
  });
});
