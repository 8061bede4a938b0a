import { Logger } from '@aws-lambda-powertools/logger';
import { CloudWatchAlarms } from '#shared/adapters/cloudwatch-alarms.ts';
import { CloudWatchLogsReader, logsReadersByCell } from '#shared/adapters/cloudwatch-logs.ts';
import { DynamoDbLedger } from '#shared/adapters/dynamodb-ledger.ts';
import { type FleetAdapters, fleetAdaptersFromEnv } from '#shared/adapters/fleet-adapters.ts';
import { type ApiCallCounter, MsfAdapter } from '#shared/adapters/msf.ts';
import { PowertoolsWatchdogMetrics } from '#shared/adapters/powertools-metrics.ts';
import { StepFunctionsStarter } from '#shared/adapters/sfn-starter.ts';
import { StepFunctionsWatchStarter } from '#shared/adapters/sfn-watch-starter.ts';
import { systemClock } from '#shared/adapters/system-clock.ts';
import { TaggingAdapter } from '#shared/adapters/tagging.ts';
import { alarmPrefix, DEFAULT_INSTANCE } from '#shared/alarms.ts';
import type { HomeCell } from '#shared/domain/app-key.ts';
import { checkWatch, type DetectionResult, type DetectorDeps, detect } from '#shared/domain/detector.ts';
import { closeAbandonedIncident } from '#shared/domain/remediation.ts';
import { type FleetWiring, lookBatch, planSweep, type SweepBatch, type SweepSummary } from '#shared/domain/sweep.ts';
import type { WatchOutcome, WatchState } from '#shared/domain/watch.ts';
import { parseDetectorEvent } from '#shared/events/detector-input.ts';
import { noopWatchdogMetrics, type WatchdogMetrics } from '#shared/ports/watchdog-metrics.ts';
import { DetectorEnv, loadConfigFromEnv, readEnv } from '../common/env.ts';
import { notifierFromEnv } from '../common/notifier.ts';

/** What the detector returns for one event. */
export interface DetectorOutput {
  /** REJECTED: the event was malformed or not about one MSF application; nothing was called. */
  status: 'OK' | 'REJECTED';
  error?: string;
  results: DetectionResult[];
  /** For a watch check: the watch as it goes on (the watch workflow's next input). */
  watch?: WatchState;
  /** For a watch check: the watch is over (the workflow's Choice ends the execution). */
  done?: boolean;
  /** For a watch check: seconds the workflow's Wait state waits before the next check. */
  waitSeconds?: number;
  /** For a watch check that ended: how. */
  outcome?: WatchOutcome;
  /** For a watch check: why it goes on or ended. */
  summary?: string;
  /**
   * For the sweep's Plan step: the batches the `Look` Map fans out over (ItemsPath `$.sweep.batches`): the flagged
   * applications, then the rotation's (`fleet.sweep.closeLookMinutes`); the summary counts both (`flagged`, `rotated`)
   * and the applications kept though missing once (`missing`).
   */
  sweep?: { batches: SweepBatch[]; summary: SweepSummary };
}

/** What the detector handler uses: the detector's dependencies, plus the fleet and the home cell. */
export interface DetectorHandlerDeps extends DetectorDeps {
  /**
   * The instance and the cells the sweep discovers, manages alarms in and lists applications of.
   * @default instance 'default' and one home cell with `msf` only: no tag discovery, no alarm management, and every
   *   watched application is looked at closely by each sweep (no alarm states to tell which are fine)
   */
  fleet?: FleetWiring;
  /** The watchdog's own account and Region: alarm events from elsewhere name their application by key. */
  home?: HomeCell;
}

/**
 * The detector: CloudWatch Alarm State Change (or CloudTrail event) → observe → evaluate → decide →
 * record the incident → start remediation, or start a watch when a closer look is due; each check of a watch
 * (`{"watch": …}` from the watch workflow), answered with the watch's next step (`watch`, `done`, `waitSeconds`);
 * the sweep state machine's steps: `{"sweep":{"phase":"plan"}}` → `{"status":"OK","results":[],"sweep":{"batches":
 * [{"applications":[KEY,...]}],"summary":{...}}}` (shared/domain/sweep.ts `planSweep`) and `{"sweep":{"phase":"look",
 * "applications":[KEY,...]}}` → `{"status":"OK","results":[...]}` (`lookBatch`). A Scheduled Event (callers without
 * the sweep state machine) runs the plan and every batch in one invocation.
 * Bad events are logged as errors and answered REJECTED, without any MSF call.
 */
export function createDetectorHandler(deps: DetectorHandlerDeps): (event: unknown) => Promise<DetectorOutput> {
  const fleet: FleetWiring = deps.fleet ?? { instance: DEFAULT_INSTANCE, cells: [{ msf: deps.msf }] };
  const sweepDeps = { ...deps, fleet };
  return async (event) => {
    const parsed = parseDetectorEvent(event, deps.home);
    if (!parsed.ok) {
      deps.log.error('rejected event', { error: parsed.error });
      deps.telemetry?.count('DetectorEventRejected');
      return { status: 'REJECTED', error: parsed.error, results: [] };
    }
    if (parsed.kind === 'workflow-ended') {
      const closed = await closeAbandonedIncident(parsed.incidentId, parsed.status, parsed.error, deps);
      return {
        status: 'OK',
        results: closed
          ? [
              {
                applicationName: closed.applicationName,
                result: 'ESCALATED',
                incidentId: closed.id,
                reason: closed.outcomeReason ?? '',
              },
            ]
          : [],
      };
    }
    if (parsed.kind === 'watch') {
      const step = await checkWatch(parsed.input, deps);
      return {
        status: 'OK',
        results: [step.result],
        watch: step.watch,
        done: step.done,
        waitSeconds: step.waitSeconds,
        ...(step.outcome ? { outcome: step.outcome } : {}),
        summary: step.summary,
      };
    }
    if (parsed.kind === 'sweep-plan') {
      const plan = await planSweep(sweepDeps);
      return { status: 'OK', results: [], sweep: { batches: plan.batches, summary: plan.summary } };
    }
    if (parsed.kind === 'sweep-look') {
      return { status: 'OK', results: await lookBatch(parsed.applications, deps) };
    }
    if (parsed.kind === 'schedule') {
      const plan = await planSweep(sweepDeps);
      const results: DetectionResult[] = [];
      for (const batch of plan.batches) results.push(...(await lookBatch(batch.applications, deps, parsed.rule)));
      return { status: 'OK', results, sweep: { batches: plan.batches, summary: plan.summary } };
    }
    if (parsed.kind === 'cloudtrail' && parsed.ignored) deps.log.info('event ignored', { reason: parsed.ignored });
    const signals = parsed.signals;
    const results: DetectionResult[] = [];
    for (const signal of signals) {
      const r = await detect(signal, deps);
      if (r.result === 'OUT_OF_SCOPE' && r.reason.startsWith('cannot resolve scope')) deps.log.error(r.reason);
      results.push(r);
    }
    return { status: 'OK', results };
  };
}

/**
 * The sweep's cells from the fleet's adapters (shared/adapters/fleet-adapters.ts): per watched cell (home first, then
 * each `fleet.accounts` account × Region, through its member role) an MSF, a Tagging API and a CloudWatch alarms
 * adapter on that cell's SDK clients (adaptive retries), speaking bare application names of the cell.
 * @param calls counts every call of these adapters by operation (the bench).
 */
export function fleetWiring(adapters: FleetAdapters, instance: string, calls?: ApiCallCounter): FleetWiring {
  const counted = calls ? { calls } : {};
  return {
    instance,
    cells: adapters.cells.cells().map((cell) => ({
      ...(adapters.cells.isHome(cell) ? {} : { accountId: cell.accountId, region: cell.region }),
      msf: new MsfAdapter({ client: adapters.clients.msf(cell), ...counted }),
      tagging: new TaggingAdapter({ client: adapters.clients.tagging(cell), ...counted }),
      alarms: new CloudWatchAlarms({ client: adapters.clients.cloudWatch(cell), ...counted }),
    })),
  };
}

let lambdaHandler: ((event: unknown) => Promise<DetectorOutput>) | undefined;
let telemetry: WatchdogMetrics = noopWatchdogMetrics;

/**
 * Lambda entry point, wired from the environment ({@link DetectorEnv}): the DynamoDB ledger, the Step Functions
 * remediation workflow, the watch workflow (when `WATCH_STATE_MACHINE_ARN` is set), the SNS topic, Powertools metrics,
 * MSF and metrics routed by application key to every watched cell, the sweep's cells ({@link fleetWiring}), the
 * instance (`WATCHDOG_INSTANCE`, default `default`), the home cell (`WATCHDOG_ACCOUNT_ID`, `AWS_REGION`) and
 * CloudWatch Logs for a restart loop's root cause.
 * @throws Error naming the variable when the environment is incomplete (the invocation fails; nothing is called).
 */
export async function handler(event: unknown): Promise<DetectorOutput> {
  if (!lambdaHandler) {
    const env = readEnv(DetectorEnv);
    const ledger = new DynamoDbLedger({ tableName: env.LEDGER_TABLE_NAME });
    const log = new Logger({ serviceName: 'flink-watchdog-detector' });
    telemetry = new PowertoolsWatchdogMetrics({ serviceName: 'flink-watchdog-detector' });
    const instance = process.env.WATCHDOG_INSTANCE || DEFAULT_INSTANCE;
    alarmPrefix(instance); // fails now, naming WATCHDOG_INSTANCE, rather than at the first sweep
    const config = loadConfigFromEnv();
    const adapters = await fleetAdaptersFromEnv(config);
    const home = adapters.cells.home;
    lambdaHandler = createDetectorHandler({
      msf: adapters.msf,
      metrics: adapters.metrics,
      fleet: fleetWiring(adapters, instance),
      ...(home.accountId ? { home: { accountId: home.accountId, region: home.region } } : {}),
      ledger,
      notifier: notifierFromEnv(env, { ledger, log }),
      starter: new StepFunctionsStarter({ stateMachineArn: env.STATE_MACHINE_ARN, log }),
      ...(env.WATCH_STATE_MACHINE_ARN
        ? { watches: new StepFunctionsWatchStarter({ stateMachineArn: env.WATCH_STATE_MACHINE_ARN, log }) }
        : {}),
      // A restart loop's root cause: each account's log groups, a member's through its role (clients made at first use,
      // every one with logsClientConfig: 1.5 s request / 0.5 s connection timeouts, 2 attempts, the watchdog's user agent).
      logsFor: logsReadersByCell(adapters.cells, adapters.clients, new CloudWatchLogsReader()),
      config,
      clock: systemClock,
      log,
      telemetry,
    });
  }
  try {
    return await lambdaHandler(event);
  } finally {
    telemetry.flush();
  }
}
