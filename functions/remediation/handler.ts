import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDbLedger } from '#shared/adapters/dynamodb-ledger.ts';
import { fleetAdaptersFromEnv } from '#shared/adapters/fleet-adapters.ts';
import { PowertoolsWatchdogMetrics } from '#shared/adapters/powertools-metrics.ts';
import { SsmChangeCalendar } from '#shared/adapters/ssm-change-calendar.ts';
import { systemClock } from '#shared/adapters/system-clock.ts';
import { APPLICATION_KEY_MAX_LENGTH } from '#shared/domain/app-key.ts';
import { ANSWER_TEXT_MAX } from '#shared/domain/approval.ts';
import {
  REMEDIATION_PHASES,
  type RemediationDeps,
  type RemediationState,
  remediationStep,
  requestApproval,
} from '#shared/domain/remediation.ts';
import { noopWatchdogMetrics, type WatchdogMetrics } from '#shared/ports/watchdog-metrics.ts';
import * as z from '#shared/zod.ts';
import { loadConfigFromEnv, RemediationEnv, readEnv } from '../common/env.ts';
import { notifierFromEnv } from '../common/notifier.ts';

const StartOptionsSchema = z.object({
  restoreType: z.enum(['SKIP_RESTORE_FROM_SNAPSHOT', 'RESTORE_FROM_LATEST_SNAPSHOT', 'RESTORE_FROM_CUSTOM_SNAPSHOT']),
  snapshotName: z.optional(z.string()),
  allowNonRestoredState: z.boolean(),
});

/** A non-negative integer (a count, an index, an application version id). */
const count = () => z.number().check(z.int(), z.nonnegative());

const PlanStepSchema = z.discriminatedUnion('call', [
  z.object({ call: z.literal('RollbackApplication'), awaitStatus: z.literal('RUNNING') }),
  z.object({ call: z.literal('StopApplication'), force: z.boolean(), awaitStatus: z.literal('READY') }),
  z.object({ call: z.literal('StartApplication'), start: StartOptionsSchema, awaitStatus: z.literal('RUNNING') }),
  z.object({
    call: z.literal('UpdateApplication'),
    reapplyVersionId: z.number().check(z.int(), z.positive()),
    awaitStatus: z.literal('READY'),
  }),
]);

/** The workflow state between remediation steps (validated on every step). */
export const RemediationStateSchema = z.object({
  incidentId: z.string().check(z.minLength(1), z.maxLength(80)),
  /** The application key: the MSF ApplicationName at home, `NAME@ACCOUNT.REGION` in a member account. */
  applicationName: z.string().check(z.minLength(1), z.maxLength(APPLICATION_KEY_MAX_LENGTH)),
  phase: z.enum(REMEDIATION_PHASES),
  steps: z.array(PlanStepSchema),
  stepIndex: count(),
  expectVersionId: count(),
  operationId: z.optional(z.string()),
  deadlineMs: z.optional(z.number()),
  verifyFromMs: z.optional(z.number()),
  verifyRounds: count(),
  retries: count(),
  waitSeconds: z.number().check(z.nonnegative()),
  outcome: z.optional(z.enum(['RECOVERED', 'ESCALATED', 'DUPLICATE'])),
  error: z.optional(z.object({ Error: z.string(), Cause: z.optional(z.string()) })),
  /** approve mode: AwaitApproval's TimeoutSecondsPath, s (Step Functions wants a positive integer). */
  approvalTimeoutSeconds: z.optional(z.number().check(z.int(), z.positive())),
  /** approve mode: the SendTaskSuccess output (answerApproval), or `{ decision: "TIMEOUT" }` from the workflow. */
  approvalAnswer: z.optional(
    z.object({
      decision: z.enum(['APPROVED', 'REJECTED', 'TIMEOUT']),
      by: z.optional(z.string().check(z.maxLength(ANSWER_TEXT_MAX))),
      via: z.optional(z.enum(['slack', 'amazon-q', 'cli', 'console'])),
      reason: z.optional(z.string().check(z.maxLength(ANSWER_TEXT_MAX))),
    }),
  ),
});

/**
 * What the AwaitApproval state (`lambda:invoke.waitForTaskToken`) invokes the step function with: the state and the
 * task token Step Functions waits on (`$$.Task.Token`, 1–2048 characters as SendTaskSuccess takes it:
 * https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html).
 */
export const ApprovalRequestSchema = z.object({
  state: RemediationStateSchema,
  taskToken: z.string().check(z.minLength(1), z.maxLength(2048)),
});

/** Raised for a malformed workflow state: a bug in the workflow definition, never acted on. */
export class InvalidRemediationStateError extends Error {
  override readonly name = 'InvalidRemediationStateError';
}

/**
 * One remediation step: validate the state, run the step, return the next state. An event `{ state, taskToken }` is
 * AwaitApproval's (approve mode): the approval request is recorded with the token and told (requestApproval), and the
 * state is returned unchanged (Step Functions ignores it and waits for the token's answer).
 */
export function createRemediationHandler(deps: RemediationDeps): (event: unknown) => Promise<RemediationState> {
  return async (event) => {
    if (typeof event === 'object' && event !== null && 'taskToken' in event) {
      const request = ApprovalRequestSchema.safeParse(event);
      if (!request.success) {
        const error = request.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
        deps.log.error('rejected approval request', { error });
        throw new InvalidRemediationStateError(`invalid approval request: ${error}`);
      }
      return requestApproval(request.data.state as RemediationState, request.data.taskToken, deps);
    }
    const parsed = RemediationStateSchema.safeParse(event);
    if (!parsed.success) {
      const error = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      deps.log.error('rejected remediation state', { error });
      throw new InvalidRemediationStateError(`invalid remediation state: ${error}`);
    }
    return remediationStep(parsed.data as RemediationState, deps);
  };
}

let lambdaHandler: ((event: unknown) => Promise<RemediationState>) | undefined;
let telemetry: WatchdogMetrics = noopWatchdogMetrics;

/**
 * Lambda entry point, wired from the environment ({@link RemediationEnv}): the DynamoDB ledger, the SNS topic,
 * Powertools metrics, and MSF and CloudWatch routed by application key (shared/adapters/fleet-adapters.ts: the
 * function's own account, or a member account of `fleet.accounts` through its assumed member role). One invocation
 * runs one step of the remediation workflow.
 * @throws Error naming the variable when the environment is incomplete; InvalidRemediationStateError for a malformed
 * state (both end in the workflow's Catch path).
 */
export async function handler(event: unknown): Promise<RemediationState> {
  if (!lambdaHandler) {
    const env = readEnv(RemediationEnv);
    telemetry = new PowertoolsWatchdogMetrics({ serviceName: 'flink-watchdog-remediation' });
    const ledger = new DynamoDbLedger({ tableName: env.LEDGER_TABLE_NAME });
    const log = new Logger({ serviceName: 'flink-watchdog-remediation' });
    const config = loadConfigFromEnv();
    const { msf, metrics } = await fleetAdaptersFromEnv(config);
    lambdaHandler = createRemediationHandler({
      msf,
      metrics,
      ledger,
      notifier: notifierFromEnv(env, { ledger, log }),
      config,
      clock: systemClock,
      log,
      telemetry,
      // changeFreeze.calendars in the function's own account and Region (the SSM client is loaded at the first read).
      calendars: new SsmChangeCalendar(),
    });
  }
  try {
    return await lambdaHandler(event);
  } finally {
    telemetry.flush();
  }
}
