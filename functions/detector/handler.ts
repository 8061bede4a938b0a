import { Logger } from '@aws-lambda-powertools/logger';
import { CloudWatchMetrics } from '#shared/adapters/cloudwatch.ts';
import { DynamoDbLedger } from '#shared/adapters/dynamodb-ledger.ts';
import { MsfAdapter } from '#shared/adapters/msf.ts';
import { PowertoolsWatchdogMetrics } from '#shared/adapters/powertools-metrics.ts';
import { StepFunctionsStarter } from '#shared/adapters/sfn-starter.ts';
import { StepFunctionsWatchStarter } from '#shared/adapters/sfn-watch-starter.ts';
import { systemClock } from '#shared/adapters/system-clock.ts';
import { checkWatch, type DetectionResult, type DetectorDeps, detect } from '#shared/domain/detector.ts';
import { closeAbandonedIncident } from '#shared/domain/remediation.ts';
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
}

/**
 * The detector: CloudWatch Alarm State Change (or Scheduled Event, CloudTrail event) → observe → evaluate → decide →
 * record the incident → start remediation, or start a watch when a closer look is due; and each check of a watch
 * (`{"watch": …}` from the watch workflow), answered with the watch's next step (`watch`, `done`, `waitSeconds`).
 * Bad events are logged as errors and answered REJECTED, without any MSF call.
 */
export function createDetectorHandler(deps: DetectorDeps): (event: unknown) => Promise<DetectorOutput> {
  return async (event) => {
    const parsed = parseDetectorEvent(event);
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
    if (parsed.kind === 'cloudtrail' && parsed.ignored) deps.log.info('event ignored', { reason: parsed.ignored });
    const signals =
      parsed.kind === 'schedule'
        ? deps.config.applications.map((a) => ({
            source: 'schedule' as const,
            applicationName: a.name,
            rule: parsed.rule,
          }))
        : parsed.signals;
    const results: DetectionResult[] = [];
    for (const signal of signals) {
      const r = await detect(signal, deps);
      if (r.result === 'OUT_OF_SCOPE' && r.reason.startsWith('cannot resolve scope')) deps.log.error(r.reason);
      results.push(r);
    }
    return { status: 'OK', results };
  };
}

let lambdaHandler: ((event: unknown) => Promise<DetectorOutput>) | undefined;
let telemetry: WatchdogMetrics = noopWatchdogMetrics;

/**
 * Lambda entry point, wired from the environment ({@link DetectorEnv}): the DynamoDB ledger, the Step Functions
 * remediation workflow, the watch workflow (when `WATCH_STATE_MACHINE_ARN` is set), the SNS topic, Powertools metrics.
 * @throws Error naming the variable when the environment is incomplete (the invocation fails; nothing is called).
 */
export async function handler(event: unknown): Promise<DetectorOutput> {
  if (!lambdaHandler) {
    const env = readEnv(DetectorEnv);
    const ledger = new DynamoDbLedger({ tableName: env.LEDGER_TABLE_NAME });
    const log = new Logger({ serviceName: 'flink-watchdog-detector' });
    telemetry = new PowertoolsWatchdogMetrics({ serviceName: 'flink-watchdog-detector' });
    lambdaHandler = createDetectorHandler({
      msf: new MsfAdapter(),
      metrics: new CloudWatchMetrics(),
      ledger,
      notifier: notifierFromEnv(env, { ledger, log }),
      starter: new StepFunctionsStarter({ stateMachineArn: env.STATE_MACHINE_ARN, log }),
      ...(env.WATCH_STATE_MACHINE_ARN
        ? { watches: new StepFunctionsWatchStarter({ stateMachineArn: env.WATCH_STATE_MACHINE_ARN, log }) }
        : {}),
      config: loadConfigFromEnv(),
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
