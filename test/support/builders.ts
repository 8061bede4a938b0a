import { mergePolicy, type PolicyOverride, type PolicySettings } from '#shared/config/schema.ts';
import type {
  ApplicationObservation,
  ApplicationOperation,
  ApplicationSnapshot,
  ApplicationState,
  CodeLocation,
  MetricPoint,
} from '#shared/domain/model.ts';

/** 2026-03-02T14:00:00Z, the drill's usual start. */
export const T0 = Date.parse('2026-03-02T14:00:00Z');
export const MIN = 60_000;

/** A RUNNING FLINK-1_20 application at version 7, created from version 6 at `versionCreatedMs`. */
export function app(overrides: Partial<ApplicationState> = {}): ApplicationState {
  return {
    name: 'orders',
    arn: 'arn:aws:kinesisanalytics:eu-west-1:123456789012:application/orders',
    status: 'RUNNING',
    versionId: 7,
    runtimeEnvironment: 'FLINK-1_20',
    versionUpdatedFrom: 6,
    versionCreatedMs: T0 - 240 * MIN,
    lastUpdateMs: T0 - 240 * MIN,
    conditionalToken: 'token-7',
    environmentProperties: {},
    snapshotsEnabled: true,
    systemRollbackEnabled: false,
    ...overrides,
  };
}

export function snapshot(
  name: string,
  versionId: number,
  createdMs: number,
  status: ApplicationSnapshot['status'] = 'READY',
): ApplicationSnapshot {
  return { name, versionId, createdMs, status };
}

export function op(
  partial: Partial<ApplicationOperation> & Pick<ApplicationOperation, 'operation' | 'status'>,
): ApplicationOperation {
  return { operationId: `op-${partial.operation}-${partial.startMs ?? 0}`, ...partial };
}

/** Cumulative counter points, one per minute from `startMs`, `undefined` entries are missing datapoints. */
export function counter(startMs: number, values: Array<number | undefined>): MetricPoint[] {
  return values.flatMap((v, i) => (v === undefined ? [] : [{ timestampMs: startMs + i * MIN, value: v }]));
}

/** An observation of `app()` at `atMs` with a snapshot of the current version taken an hour before. */
export function observation(overrides: Partial<ApplicationObservation> = {}, atMs = T0): ApplicationObservation {
  return {
    applicationName: 'orders',
    atMs,
    application: app(),
    operations: [],
    snapshots: [snapshot('orders-v7-a', 7, atMs - 60 * MIN)],
    errors: [],
    ...overrides,
  };
}

/** A restart series looping during the last `minutes` minutes before `nowMs` (one restart per minute). */
export function loopingRestarts(nowMs: number, minutes = 6, metricName = 'fullRestarts') {
  const start = nowMs - 12 * MIN;
  const values = Array.from({ length: 12 }, (_, i) => Math.max(0, i - (12 - minutes)));
  return { metricName, periodSeconds: 60, points: counter(start, values) };
}

export function policy(o: PolicyOverride = {}): PolicySettings {
  return mergePolicy({ mode: 'remediate' }, o);
}

/** Code of version 6 in the rollback scenario (failure mode 6). */
export const CODE_6: CodeLocation = {
  bucketArn: 'arn:aws:s3:::orders-artifacts',
  fileKey: 'jobs/orders-1.2.0.jar',
  objectVersion: 'obj-v6',
};
/** Code of version 7, the one that fails, in the rollback scenario. */
export const CODE_7: CodeLocation = {
  bucketArn: 'arn:aws:s3:::orders-artifacts',
  fileKey: 'jobs/orders-1.3.0.jar',
  objectVersion: 'obj-v7',
};
/** The ErrorInfo of the failed UpdateApplication in the rollback scenario (an operator UID changed). */
export const UID_ERROR =
  'Cannot map checkpoint/savepoint state for operator 4f2a9c to the new program, because the operator is not available in the new program';

/**
 * Failure mode 6: UpdateApplication 6 → 7 fails at T0 (changed operator UID), MSF's system rollback
 * finishes at T0 + 2 min and runs the configuration of version 6 as version 8.
 */
export function systemRollback(overrides: Partial<ApplicationState> = {}): {
  actual: ApplicationState;
  operations: ApplicationOperation[];
} {
  return {
    actual: app({
      versionId: 8,
      versionUpdatedFrom: 7,
      versionRolledBackFrom: 7,
      versionRolledBackTo: 6,
      versionCreatedMs: T0 + MIN,
      code: CODE_6,
      systemRollbackEnabled: true,
      ...overrides,
    }),
    operations: [
      op({
        operation: 'UpdateApplication',
        status: 'FAILED',
        startMs: T0,
        endMs: T0 + MIN,
        versionFrom: 6,
        versionTo: 7,
        errorString: UID_ERROR,
        rollbackOperationId: 'rb-1',
      }),
      op({
        operationId: 'rb-1',
        operation: 'RollbackApplication',
        status: 'SUCCESSFUL',
        startMs: T0 + MIN,
        endMs: T0 + 2 * MIN,
        versionFrom: 7,
        versionTo: 8,
      }),
    ],
  };
}
