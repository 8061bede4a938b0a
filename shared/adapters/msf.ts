import {
  type ApplicationDetail,
  CreateApplicationSnapshotCommand,
  DescribeApplicationCommand,
  DescribeApplicationOperationCommand,
  DescribeApplicationVersionCommand,
  KinesisAnalyticsV2Client,
  type KinesisAnalyticsV2ClientConfig,
  ListApplicationOperationsCommand,
  ListApplicationSnapshotsCommand,
  ListApplicationsCommand,
  ListTagsForResourceCommand,
  RollbackApplicationCommand,
  StartApplicationCommand,
  StopApplicationCommand,
  UpdateApplicationCommand,
} from '@aws-sdk/client-kinesis-analytics-v2';
import type { StartOptions } from '#shared/domain/decision.ts';
import type {
  ApplicationOperation,
  ApplicationSnapshot,
  ApplicationState,
  ApplicationStatus,
  OperationStatus,
  SnapshotStatus,
} from '#shared/domain/model.ts';
import { type ApplicationSummary, type ApplicationUpdate, MsfApiError, type MsfPort } from '#shared/ports/msf.ts';

/** User agent suffix of every watchdog call, so MSF's CloudTrail (and the emulator) can tell who called. */
export const WATCHDOG_USER_AGENT: [string, string] = ['flink-watchdog', '0.1.0'];

/** How many of the newest operations get a DescribeApplicationOperation for ErrorInfo and version details. */
const DESCRIBED_OPERATIONS = 5;

/**
 * API calls an adapter made, by operation name (`ListApplications`, `GetMetricData`, …), count. One call is one
 * request of the adapter; the SDK's own retries of it are not counted again. For the bench and the sweep's summary.
 */
export type ApiCallCounter = Record<string, number>;

/** Adds one call of `operation` to `counter`, if any. */
export function countCall(counter: ApiCallCounter | undefined, operation: string): void {
  if (counter) counter[operation] = (counter[operation] ?? 0) + 1;
}

/** The SDK retry settings of every client an adapter constructs itself. */
export interface AdaptiveRetryOptions {
  /**
   * Attempts per call, the first included (SDK `maxAttempts`). The client retries throttling errors with the SDK's
   * `adaptive` retry mode, which also paces requests on the client side once throttled
   * (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html).
   * @default 3 (the SDK's default)
   */
  maxAttempts?: number;
}

/** Client settings of an adapter's own client: adaptive retries, the watchdog's user agent, then `clientConfig`. */
export function adaptiveClientConfig<C extends object>(options: AdaptiveRetryOptions & { clientConfig?: C }): C {
  return {
    customUserAgent: [WATCHDOG_USER_AGENT],
    retryMode: 'adaptive',
    ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
    ...(options.clientConfig ?? {}),
  } as C;
}

/** Either a ready client or a client config (with adaptive retries), never both; optionally a call counter. */
export type MsfAdapterOptions = (
  | { client: KinesisAnalyticsV2Client }
  | ({ clientConfig?: KinesisAnalyticsV2ClientConfig } & AdaptiveRetryOptions)
) & { calls?: ApiCallCounter };

/** Maps DescribeApplication's ApplicationDetail onto the domain's ApplicationState. */
export function toApplicationState(d: ApplicationDetail): ApplicationState {
  const cfg = d.ApplicationConfigurationDescription;
  const s3 = cfg?.ApplicationCodeConfigurationDescription?.CodeContentDescription?.S3ApplicationCodeLocationDescription;
  const par = cfg?.FlinkApplicationConfigurationDescription?.ParallelismConfigurationDescription;
  const mon = cfg?.FlinkApplicationConfigurationDescription?.MonitoringConfigurationDescription;
  const env: Record<string, Record<string, string>> = {};
  for (const g of cfg?.EnvironmentPropertyDescriptions?.PropertyGroupDescriptions ?? []) {
    if (g.PropertyGroupId) env[g.PropertyGroupId] = { ...(g.PropertyMap ?? {}) };
  }
  const allowNonRestored = cfg?.RunConfigurationDescription?.FlinkRunConfigurationDescription?.AllowNonRestoredState;
  const cp = cfg?.FlinkApplicationConfigurationDescription?.CheckpointConfigurationDescription;
  const ms = (t: Date | undefined) => (t ? t.getTime() : undefined);
  const state: ApplicationState = {
    name: d.ApplicationName ?? '',
    arn: d.ApplicationARN ?? '',
    status: (d.ApplicationStatus ?? 'READY') as ApplicationStatus,
    versionId: d.ApplicationVersionId ?? 0,
    runtimeEnvironment: d.RuntimeEnvironment ?? '',
    environmentProperties: env,
    snapshotsEnabled: cfg?.ApplicationSnapshotConfigurationDescription?.SnapshotsEnabled ?? false,
    systemRollbackEnabled: cfg?.ApplicationSystemRollbackConfigurationDescription?.RollbackEnabled ?? false,
  };
  const optional: Partial<ApplicationState> = {
    logStreamArns:
      d.CloudWatchLoggingOptionDescriptions?.flatMap((o) => (o.LogStreamARN ? [o.LogStreamARN] : [])) ?? [],
    versionUpdatedFrom: d.ApplicationVersionUpdatedFrom,
    versionRolledBackFrom: d.ApplicationVersionRolledBackFrom,
    versionRolledBackTo: d.ApplicationVersionRolledBackTo,
    versionCreatedMs: ms(d.ApplicationVersionCreateTimestamp),
    lastUpdateMs: ms(d.LastUpdateTimestamp),
    conditionalToken: d.ConditionalToken,
    serviceExecutionRole: d.ServiceExecutionRole,
    parallelism: par?.Parallelism,
    parallelismPerKPU: par?.ParallelismPerKPU,
    currentParallelism: par?.CurrentParallelism,
    autoScalingEnabled: par?.AutoScalingEnabled,
    logLevel: mon?.LogLevel,
    metricsLevel: mon?.MetricsLevel,
    allowNonRestoredState: allowNonRestored,
    checkpointConfiguration: cp?.ConfigurationType
      ? {
          configurationType: cp.ConfigurationType,
          ...(cp.CheckpointingEnabled === undefined ? {} : { checkpointingEnabled: cp.CheckpointingEnabled }),
          ...(cp.CheckpointInterval === undefined ? {} : { checkpointIntervalMs: cp.CheckpointInterval }),
        }
      : undefined,
    code:
      s3?.BucketARN && s3.FileKey
        ? {
            bucketArn: s3.BucketARN,
            fileKey: s3.FileKey,
            ...(s3.ObjectVersion ? { objectVersion: s3.ObjectVersion } : {}),
          }
        : undefined,
  };
  for (const [k, v] of Object.entries(optional))
    if (v !== undefined) (state as unknown as Record<string, unknown>)[k] = v;
  return state;
}

/**
 * MsfPort over the AWS SDK v3 Kinesis Analytics V2 client. Errors become {@link MsfApiError} with the exception
 * name as `code`. UpdateApplication always carries the ConditionalToken, RollbackApplication the
 * CurrentApplicationVersionId. A client it constructs itself retries adaptively ({@link AdaptiveRetryOptions}).
 */
export class MsfAdapter implements MsfPort {
  readonly #client: KinesisAnalyticsV2Client;
  readonly #calls: ApiCallCounter | undefined;

  constructor(options: MsfAdapterOptions = {}) {
    this.#client = 'client' in options ? options.client : new KinesisAnalyticsV2Client(adaptiveClientConfig(options));
    this.#calls = options.calls;
  }

  async #call<T>(applicationName: string, operation: string, fn: () => Promise<T>): Promise<T> {
    countCall(this.#calls, operation);
    try {
      return await fn();
    } catch (e) {
      const err = e as { name?: string; message?: string };
      throw new MsfApiError(applicationName, operation, err.name ?? 'Error', err.message ?? String(e), { cause: e });
    }
  }

  async describeApplication(applicationName: string): Promise<ApplicationState> {
    const out = await this.#call(applicationName, 'DescribeApplication', () =>
      this.#client.send(new DescribeApplicationCommand({ ApplicationName: applicationName })),
    );
    if (!out.ApplicationDetail)
      throw new MsfApiError(applicationName, 'DescribeApplication', 'EmptyResponse', 'no ApplicationDetail');
    return toApplicationState(out.ApplicationDetail);
  }

  async describeApplicationVersion(applicationName: string, versionId: number): Promise<ApplicationState> {
    const out = await this.#call(applicationName, 'DescribeApplicationVersion', () =>
      this.#client.send(
        new DescribeApplicationVersionCommand({ ApplicationName: applicationName, ApplicationVersionId: versionId }),
      ),
    );
    if (!out.ApplicationVersionDetail) {
      throw new MsfApiError(
        applicationName,
        'DescribeApplicationVersion',
        'EmptyResponse',
        `no detail for version ${versionId}`,
      );
    }
    return toApplicationState(out.ApplicationVersionDetail);
  }

  async listApplications(): Promise<ApplicationSummary[]> {
    const out: ApplicationSummary[] = [];
    let token: string | undefined;
    do {
      const page = await this.#call('*', 'ListApplications', () =>
        this.#client.send(new ListApplicationsCommand({ Limit: 50, ...(token ? { NextToken: token } : {}) })),
      );
      for (const s of page.ApplicationSummaries ?? []) {
        out.push({
          name: s.ApplicationName ?? '',
          arn: s.ApplicationARN ?? '',
          status: (s.ApplicationStatus ?? 'READY') as ApplicationStatus,
          versionId: s.ApplicationVersionId ?? 0,
          runtimeEnvironment: s.RuntimeEnvironment ?? '',
        });
      }
      token = page.NextToken;
    } while (token);
    return out;
  }

  async listOperations(applicationName: string): Promise<ApplicationOperation[]> {
    const out = await this.#call(applicationName, 'ListApplicationOperations', () =>
      this.#client.send(new ListApplicationOperationsCommand({ ApplicationName: applicationName, Limit: 50 })),
    );
    const summaries = [...(out.ApplicationOperationInfoList ?? [])].sort(
      (a, b) => (b.StartTime?.getTime() ?? 0) - (a.StartTime?.getTime() ?? 0),
    );
    const described = await Promise.all(
      summaries
        .slice(0, DESCRIBED_OPERATIONS)
        .map((s) => (s.OperationId ? this.describeOperation(applicationName, s.OperationId) : undefined)),
    );
    return summaries.map((s, i) => {
      const d = described[i];
      if (d) return d;
      const op: ApplicationOperation = {
        operationId: s.OperationId ?? '',
        operation: s.Operation ?? '',
        status: (s.OperationStatus ?? 'IN_PROGRESS') as OperationStatus,
      };
      if (s.StartTime) op.startMs = s.StartTime.getTime();
      if (s.EndTime) op.endMs = s.EndTime.getTime();
      return op;
    });
  }

  async describeOperation(applicationName: string, operationId: string): Promise<ApplicationOperation> {
    const out = await this.#call(applicationName, 'DescribeApplicationOperation', () =>
      this.#client.send(
        new DescribeApplicationOperationCommand({ ApplicationName: applicationName, OperationId: operationId }),
      ),
    );
    const d = out.ApplicationOperationInfoDetails;
    const op: ApplicationOperation = {
      operationId,
      operation: d?.Operation ?? '',
      status: (d?.OperationStatus ?? 'IN_PROGRESS') as OperationStatus,
    };
    if (d?.StartTime) op.startMs = d.StartTime.getTime();
    if (d?.EndTime) op.endMs = d.EndTime.getTime();
    const change = d?.ApplicationVersionChangeDetails;
    if (change?.ApplicationVersionUpdatedFrom !== undefined) op.versionFrom = change.ApplicationVersionUpdatedFrom;
    if (change?.ApplicationVersionUpdatedTo !== undefined) op.versionTo = change.ApplicationVersionUpdatedTo;
    const failure = d?.OperationFailureDetails;
    if (failure?.ErrorInfo?.ErrorString) op.errorString = failure.ErrorInfo.ErrorString;
    if (failure?.RollbackOperationId) op.rollbackOperationId = failure.RollbackOperationId;
    return op;
  }

  async listSnapshots(applicationName: string): Promise<ApplicationSnapshot[]> {
    const snapshots: ApplicationSnapshot[] = [];
    let next: string | undefined;
    do {
      const out = await this.#call(applicationName, 'ListApplicationSnapshots', () =>
        this.#client.send(
          new ListApplicationSnapshotsCommand({ ApplicationName: applicationName, Limit: 50, NextToken: next }),
        ),
      );
      for (const s of out.SnapshotSummaries ?? []) {
        const snap: ApplicationSnapshot = {
          name: s.SnapshotName ?? '',
          status: (s.SnapshotStatus ?? 'FAILED') as SnapshotStatus,
          versionId: s.ApplicationVersionId ?? 0,
        };
        if (s.SnapshotCreationTimestamp) snap.createdMs = s.SnapshotCreationTimestamp.getTime();
        snapshots.push(snap);
      }
      next = out.NextToken;
    } while (next);
    return snapshots;
  }

  async listTags(applicationArn: string): Promise<Record<string, string>> {
    const out = await this.#call(applicationArn, 'ListTagsForResource', () =>
      this.#client.send(new ListTagsForResourceCommand({ ResourceARN: applicationArn })),
    );
    return Object.fromEntries((out.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
  }

  async startApplication(applicationName: string, start: StartOptions): Promise<{ operationId?: string }> {
    const out = await this.#call(applicationName, 'StartApplication', () =>
      this.#client.send(
        new StartApplicationCommand({
          ApplicationName: applicationName,
          RunConfiguration: {
            ApplicationRestoreConfiguration: {
              ApplicationRestoreType: start.restoreType,
              ...(start.snapshotName ? { SnapshotName: start.snapshotName } : {}),
            },
            FlinkRunConfiguration: { AllowNonRestoredState: start.allowNonRestoredState },
          },
        }),
      ),
    );
    return out.OperationId ? { operationId: out.OperationId } : {};
  }

  async stopApplication(applicationName: string, force: boolean): Promise<{ operationId?: string }> {
    const out = await this.#call(applicationName, 'StopApplication', () =>
      this.#client.send(new StopApplicationCommand({ ApplicationName: applicationName, Force: force })),
    );
    return out.OperationId ? { operationId: out.OperationId } : {};
  }

  async rollbackApplication(applicationName: string, currentVersionId: number): Promise<{ operationId?: string }> {
    const out = await this.#call(applicationName, 'RollbackApplication', () =>
      this.#client.send(
        new RollbackApplicationCommand({
          ApplicationName: applicationName,
          CurrentApplicationVersionId: currentVersionId,
        }),
      ),
    );
    return out.OperationId ? { operationId: out.OperationId } : {};
  }

  async createApplicationSnapshot(applicationName: string, snapshotName: string): Promise<void> {
    await this.#call(applicationName, 'CreateApplicationSnapshot', () =>
      this.#client.send(
        new CreateApplicationSnapshotCommand({ ApplicationName: applicationName, SnapshotName: snapshotName }),
      ),
    );
  }

  async updateApplication(
    applicationName: string,
    update: ApplicationUpdate,
  ): Promise<{ operationId?: string; versionId?: number }> {
    const out = await this.#call(applicationName, 'UpdateApplication', () =>
      this.#client.send(
        new UpdateApplicationCommand({
          ApplicationName: applicationName,
          ConditionalToken: update.conditionalToken,
          ApplicationConfigurationUpdate: {
            ...(update.code
              ? {
                  ApplicationCodeConfigurationUpdate: {
                    CodeContentUpdate: {
                      S3ContentLocationUpdate: {
                        BucketARNUpdate: update.code.bucketArn,
                        FileKeyUpdate: update.code.fileKey,
                        ...(update.code.objectVersion ? { ObjectVersionUpdate: update.code.objectVersion } : {}),
                      },
                    },
                  },
                }
              : {}),
            ...(update.environmentProperties
              ? {
                  EnvironmentPropertyUpdates: {
                    PropertyGroups: Object.entries(update.environmentProperties).map(([id, map]) => ({
                      PropertyGroupId: id,
                      PropertyMap: map,
                    })),
                  },
                }
              : {}),
            ...(update.parallelism
              ? {
                  FlinkApplicationConfigurationUpdate: {
                    ParallelismConfigurationUpdate: {
                      ConfigurationTypeUpdate: 'CUSTOM',
                      ParallelismUpdate: update.parallelism.parallelism,
                      ...(update.parallelism.parallelismPerKPU === undefined
                        ? {}
                        : { ParallelismPerKPUUpdate: update.parallelism.parallelismPerKPU }),
                      ...(update.parallelism.autoScalingEnabled === undefined
                        ? {}
                        : { AutoScalingEnabledUpdate: update.parallelism.autoScalingEnabled }),
                    },
                  },
                }
              : {}),
          },
        }),
      ),
    );
    return {
      ...(out.OperationId ? { operationId: out.OperationId } : {}),
      ...(out.ApplicationDetail?.ApplicationVersionId === undefined
        ? {}
        : { versionId: out.ApplicationDetail.ApplicationVersionId }),
    };
  }
}
