import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDbLedger } from '#shared/adapters/dynamodb-ledger.ts';
import { fleetAdaptersFromEnv } from '#shared/adapters/fleet-adapters.ts';
import { StepFunctionsStarter } from '#shared/adapters/sfn-starter.ts';
import { StepFunctionsTaskTokens } from '#shared/adapters/sfn-task-tokens.ts';
import { systemClock } from '#shared/adapters/system-clock.ts';
import { type RunbookDeps, type RunbookResult, runCommand } from '#shared/domain/runbook.ts';
import { parseRunbookEvent } from '#shared/events/runbook-command.ts';
import { loadConfigFromEnv, RunbookEnv, readEnv } from '../common/env.ts';
import { notifierFromEnv } from '../common/notifier.ts';

export { RunbookEnv } from '../common/env.ts';

/** What the runbook function returns for one SNS event. */
export interface RunbookOutput {
  /** REJECTED: not an SNS event at all; nothing was read or called. */
  status: 'OK' | 'REJECTED';
  error?: string;
  /** One per record, in order; malformed records are REJECTED with the field named in `reason`. */
  results: RunbookResult[];
}

/** What the runbook handler needs: the domain's dependencies and the one topic commands are accepted from. */
export type RunbookHandlerDeps = RunbookDeps & {
  /** ARN of the command topic (`Sns.TopicArn` must equal it). */
  commandTopicArn: string;
};

/**
 * The runbook function: SNS notifications of the command topic → parse each record (JSON message, zod) → run the
 * command ({@link runCommand}: authorised by topic and requester, scope-checked, guarded, recorded, carried out by the
 * remediation workflow). Malformed records are logged as errors and answered REJECTED without any MSF call.
 * @throws when the ledger fails (the invocation fails and SNS retries it; the MessageId makes the retry safe).
 */
export function createRunbookHandler(deps: RunbookHandlerDeps): (event: unknown) => Promise<RunbookOutput> {
  const { commandTopicArn, ...domain } = deps;
  return async (event) => {
    const parsed = parseRunbookEvent(event);
    if (!parsed.ok) {
      domain.log.error('rejected event', { error: parsed.error });
      return { status: 'REJECTED', error: parsed.error, results: [] };
    }
    const results: RunbookResult[] = [];
    for (const record of parsed.records) {
      if (!record.ok) {
        domain.log.error('rejected runbook command', {
          error: record.error,
          ...(record.messageId ? { messageId: record.messageId } : {}),
          ...(record.topicArn ? { topicArn: record.topicArn } : {}),
        });
        results.push({ status: 'REJECTED', reason: record.error });
        continue;
      }
      results.push(
        await runCommand(record.command, domain, {
          topicArn: record.topicArn,
          authorizedTopics: [commandTopicArn],
          messageId: record.messageId,
        }),
      );
    }
    return { status: 'OK', results };
  };
}

let lambdaHandler: ((event: unknown) => Promise<RunbookOutput>) | undefined;

/**
 * Lambda entry point (subscribed to the command topic), wired from the environment ({@link RunbookEnv}): the DynamoDB
 * ledger (also the automation pause flag the detector, reconciler and workflow read), MSF routed by application key
 * (shared/adapters/fleet-adapters.ts: the function's own account, or a member account of `fleet.accounts` through its
 * assumed member role; also the snapshot creator), the Step Functions remediation workflow (StartExecution; and
 * SendTaskSuccess for `approve` / `reject`, which answer its waiting approval state), the SNS notification topic.
 * @throws Error naming the variable when the environment is incomplete (the invocation fails; nothing is called).
 */
export async function handler(event: unknown): Promise<RunbookOutput> {
  if (!lambdaHandler) {
    const env = readEnv(RunbookEnv);
    const log = new Logger({ serviceName: 'flink-watchdog-runbook' });
    const config = loadConfigFromEnv();
    const { msf } = await fleetAdaptersFromEnv(config);
    const ledger = new DynamoDbLedger({ tableName: env.LEDGER_TABLE_NAME });
    lambdaHandler = createRunbookHandler({
      msf,
      ledger,
      notifier: notifierFromEnv(env, { ledger, log }),
      starter: new StepFunctionsStarter({ stateMachineArn: env.STATE_MACHINE_ARN, log }),
      config,
      clock: systemClock,
      log,
      automation: ledger,
      snapshots: msf,
      tokens: new StepFunctionsTaskTokens(),
      commandTopicArn: env.COMMAND_TOPIC_ARN,
    });
  }
  return lambdaHandler(event);
}
