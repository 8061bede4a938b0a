import { Logger } from '@aws-lambda-powertools/logger';
import { CloudWatchMetrics } from '#shared/adapters/cloudwatch.ts';
import { MemoryLedger } from '#shared/adapters/memory-ledger.ts';
import { MsfAdapter } from '#shared/adapters/msf.ts';
import { RecordingNotifier } from '#shared/adapters/recording-notifier.ts';
import { systemClock } from '#shared/adapters/system-clock.ts';
import { type DetectionResult, type DetectorDeps, detect } from '#shared/domain/detector.ts';
import { parseDetectorEvent } from '#shared/events/detector-input.ts';
import { loadConfigFromEnv } from '../common/env.ts';

/** What the detector returns for one event. */
export interface DetectorOutput {
  /** REJECTED: the event was malformed or not about one MSF application; nothing was called. */
  status: 'OK' | 'REJECTED';
  error?: string;
  results: DetectionResult[];
}

/**
 * The detector: CloudWatch Alarm State Change (or Scheduled Event) → observe → evaluate → decide → record the
 * incident → start remediation. Bad events are logged as errors and answered REJECTED, without any MSF call.
 */
export function createDetectorHandler(deps: DetectorDeps): (event: unknown) => Promise<DetectorOutput> {
  return async (event) => {
    const parsed = parseDetectorEvent(event);
    if (!parsed.ok) {
      deps.log.error('rejected event', { error: parsed.error });
      return { status: 'REJECTED', error: parsed.error, results: [] };
    }
    const signals =
      parsed.kind === 'alarm'
        ? parsed.signals
        : deps.config.applications.map((a) => ({
            source: 'schedule' as const,
            applicationName: a.name,
            rule: parsed.rule,
          }));
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

/**
 * Lambda entry point, wired from the environment (see functions/common/env.ts). The ledger here is in memory until
 * the DynamoDB ledger lands (README, "What does not work yet").
 */
export async function handler(event: unknown): Promise<DetectorOutput> {
  lambdaHandler ??= createDetectorHandler({
    msf: new MsfAdapter(),
    metrics: new CloudWatchMetrics(),
    ledger: new MemoryLedger(),
    notifier: new RecordingNotifier(),
    starter: { start: async () => {} },
    config: loadConfigFromEnv(),
    clock: systemClock,
    log: new Logger({ serviceName: 'flink-watchdog-detector' }),
  });
  return lambdaHandler(event);
}
