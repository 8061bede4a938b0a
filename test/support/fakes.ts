import type { StartOptions } from '#shared/domain/decision.ts';
import type {
  ApplicationOperation,
  ApplicationSnapshot,
  ApplicationState,
  MetricSeries,
} from '#shared/domain/model.ts';
import type { Log } from '#shared/ports/log.ts';
import type { MetricsPort } from '#shared/ports/metrics.ts';
import { type ApplicationUpdate, MsfApiError, type MsfPort } from '#shared/ports/msf.ts';

/**
 * A hand-written MSF fake with setters (no mocking library): applications by name, a call log, and every mutating
 * call recorded in `mutations`.
 */
export class FakeMsf implements MsfPort {
  readonly apps = new Map<string, ApplicationState>();
  readonly operations = new Map<string, ApplicationOperation[]>();
  readonly snapshots = new Map<string, ApplicationSnapshot[]>();
  readonly tags = new Map<string, Record<string, string>>();
  readonly calls: string[] = [];
  readonly mutations: Array<{ call: string; applicationName: string; args: unknown }> = [];

  setApp(
    state: ApplicationState,
    extra: {
      operations?: ApplicationOperation[];
      snapshots?: ApplicationSnapshot[];
      tags?: Record<string, string>;
    } = {},
  ): this {
    this.apps.set(state.name, state);
    this.operations.set(state.name, extra.operations ?? []);
    this.snapshots.set(state.name, extra.snapshots ?? []);
    this.tags.set(state.arn, extra.tags ?? {});
    return this;
  }

  #get(name: string, call: string): ApplicationState {
    this.calls.push(`${call} ${name}`);
    const a = this.apps.get(name);
    if (!a) throw new MsfApiError(name, call, 'ResourceNotFoundException', `Application ${name} not found`);
    return a;
  }

  async listApplications() {
    this.calls.push('ListApplications');
    return [...this.apps.values()].map((a) => ({
      name: a.name,
      arn: a.arn,
      status: a.status,
      versionId: a.versionId,
      runtimeEnvironment: a.runtimeEnvironment,
    }));
  }
  async describeApplication(name: string) {
    return structuredClone(this.#get(name, 'DescribeApplication'));
  }
  async describeApplicationVersion(name: string, _versionId: number) {
    return structuredClone(this.#get(name, 'DescribeApplicationVersion'));
  }
  async listOperations(name: string) {
    this.#get(name, 'ListApplicationOperations');
    return [...(this.operations.get(name) ?? [])];
  }
  async describeOperation(name: string, id: string) {
    this.#get(name, 'DescribeApplicationOperation');
    const o = this.operations.get(name)?.find((x) => x.operationId === id);
    if (!o) throw new MsfApiError(name, 'DescribeApplicationOperation', 'ResourceNotFoundException', id);
    return o;
  }
  async listSnapshots(name: string) {
    this.#get(name, 'ListApplicationSnapshots');
    return [...(this.snapshots.get(name) ?? [])];
  }
  async listTags(arn: string) {
    this.calls.push(`ListTagsForResource ${arn}`);
    return { ...(this.tags.get(arn) ?? {}) };
  }
  async startApplication(name: string, start: StartOptions) {
    this.#get(name, 'StartApplication');
    this.mutations.push({ call: 'StartApplication', applicationName: name, args: start });
    return { operationId: `start-${this.mutations.length}` };
  }
  async stopApplication(name: string, force: boolean) {
    this.#get(name, 'StopApplication');
    this.mutations.push({ call: 'StopApplication', applicationName: name, args: { force } });
    return { operationId: `stop-${this.mutations.length}` };
  }
  async rollbackApplication(name: string, currentVersionId: number) {
    this.#get(name, 'RollbackApplication');
    this.mutations.push({ call: 'RollbackApplication', applicationName: name, args: { currentVersionId } });
    return { operationId: `rollback-${this.mutations.length}` };
  }
  async createApplicationSnapshot(name: string, snapshotName: string) {
    this.#get(name, 'CreateApplicationSnapshot');
    this.mutations.push({ call: 'CreateApplicationSnapshot', applicationName: name, args: { snapshotName } });
  }
  async updateApplication(name: string, update: ApplicationUpdate) {
    this.#get(name, 'UpdateApplication');
    this.mutations.push({ call: 'UpdateApplication', applicationName: name, args: update });
    return { operationId: `update-${this.mutations.length}` };
  }
}

/** Metrics fake: a fixed series per application and metric name. */
export class FakeMetrics implements MetricsPort {
  readonly series = new Map<string, MetricSeries>();

  set(applicationName: string, series: MetricSeries): this {
    this.series.set(`${applicationName}/${series.metricName}`, series);
    return this;
  }

  async getSeries(applicationName: string, metricNames: readonly string[]) {
    const out: Record<string, MetricSeries> = {};
    for (const n of metricNames)
      out[n] = this.series.get(`${applicationName}/${n}`) ?? { metricName: n, periodSeconds: 60, points: [] };
    return out;
  }
}

/** A logger that keeps what was logged. */
export class CapturingLog implements Log {
  readonly lines: Array<{ level: string; message: string; extra: unknown[] }> = [];
  debug(message: string, ...extra: unknown[]) {
    this.lines.push({ level: 'debug', message, extra });
  }
  info(message: string, ...extra: unknown[]) {
    this.lines.push({ level: 'info', message, extra });
  }
  warn(message: string, ...extra: unknown[]) {
    this.lines.push({ level: 'warn', message, extra });
  }
  error(message: string, ...extra: unknown[]) {
    this.lines.push({ level: 'error', message, extra });
  }
}
