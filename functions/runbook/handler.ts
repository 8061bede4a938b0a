import { Logger } from '@aws-lambda-powertools/logger';
import { z } from 'zod';
import { DynamoDbLedger } from '#shared/adapters/dynamodb-ledger.ts';
import { MsfAdapter } from '#shared/adapters/msf.ts';
import { StepFunctionsStarter } from '#shared/adapters/sfn-starter.ts';
import { SnsNotifier } from '#shared/adapters/sns-notifier.ts';
import { systemClock } from '#shared/adapters/system-clock.ts';
import { type RunbookDeps, type RunbookResult, runCommand } from '#shared/domain/runbook.ts';
import { parseRunbookEvent } from '#shared/events/runbook-command.ts';
import { loadConfigFromEnv, readEnv } from '../common/env.ts';

/**
 * Environment of the runbook function (functions/runbook/handler.ts): the detector's (it starts the same workflow)
 * plus the command topic. Defined here rather than in functions/common/env.ts until the construct wires the function.
 */
export const RunbookEnv = z
  .object({
    /** The watchdog config as JSON (what the CDK construct sets). */
    WATCHDOG_CONFIG: z.string().min(2).optional(),
    /** A path to the watchdog config file (local runs). */
    WATCHDOG_CONFIG_PATH: z.string().min(1).optional(),
    AWS_REGION: z.string().min(1).optional(),
    /** ARN of the SNS topic incidents are published to (answers to commands go there too). */
    NOTIFICATION_TOPIC_ARN: z.string().startsWith('arn:'),
    /** Name of the Secrets Manager secret holding the Slack webhook URL (the URL itself is never in the environment). */
    SLACK_WEBHOOK_SECRET_NAME: z.string().min(1).optional(),
    /** Name of the ledger's DynamoDB table. */
    LEDGER_TABLE_NAME: z.string().min(3),
    /** ARN of the remediation workflow (Step Functions state machine) commands are carried out by. */
    STATE_MACHINE_ARN: z.string().startsWith('arn:'),
    /** ARN of the command topic: only messages published to it are accepted. */
    COMMAND_TOPIC_ARN: z
      .string()
      .regex(
        /^arn:aws(?:-[a-z]+)*:sns:[a-z]{2}(?:-[a-z]+)+-\d+:\d{12}:[A-Za-z0-9_-]{1,256}$/,
        'expected an SNS topic ARN',
      ),
  })
  .refine((e) => e.WATCHDOG_CONFIG !== undefined || e.WATCHDOG_CONFIG_PATH !== undefined, {
    message: 'set WATCHDOG_CONFIG (the config JSON) or WATCHDOG_CONFIG_PATH (a config file)',
  });
export type RunbookEnv = z.infer<typeof RunbookEnv>;

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
 * ledger (also the automation pause flag the detector, reconciler and workflow read), the MSF adapter (also the
 * snapshot creator), the Step Functions remediation workflow, the SNS notification topic.
 * @throws Error naming the variable when the environment is incomplete (the invocation fails; nothing is called).
 */
export async function handler(event: unknown): Promise<RunbookOutput> {
  if (!lambdaHandler) {
    const env = readEnv(RunbookEnv);
    const log = new Logger({ serviceName: 'flink-watchdog-runbook' });
    const msf = new MsfAdapter();
    const ledger = new DynamoDbLedger({ tableName: env.LEDGER_TABLE_NAME });
    lambdaHandler = createRunbookHandler({
      msf,
      ledger,
      notifier: new SnsNotifier({ topicArn: env.NOTIFICATION_TOPIC_ARN }),
      starter: new StepFunctionsStarter({ stateMachineArn: env.STATE_MACHINE_ARN, log }),
      config: loadConfigFromEnv(),
      clock: systemClock,
      log,
      automation: ledger,
      snapshots: msf,
      commandTopicArn: env.COMMAND_TOPIC_ARN,
    });
  }
  return lambdaHandler(event);
}
