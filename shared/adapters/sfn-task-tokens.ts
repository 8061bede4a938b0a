import type { SFNClient, SFNClientConfig } from '@aws-sdk/client-sfn';
import { TaskTokenGoneError, type TaskTokenPort } from '#shared/ports/task-tokens.ts';
import { sfnClient } from './sfn-execution.ts';

/** Options of {@link StepFunctionsTaskTokens}. */
export interface StepFunctionsTaskTokensOptions {
  /** A ready client (tests), or a config for a new one made at the first answer. */
  client?: SFNClient;
  clientConfig?: SFNClientConfig;
}

/**
 * SendTaskSuccess errors meaning Step Functions no longer waits on the token: the task timed out (`TaskTimedOut`),
 * was already answered or its execution ended (`TaskDoesNotExist`), or the token is not one of a waiting task
 * (`InvalidToken`). Error names from the Step Functions API reference
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html#API_SendTaskSuccess_Errors).
 */
const GONE = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);

/**
 * Answers the remediation workflow's `.waitForTaskToken` state (approve mode) with Step Functions SendTaskSuccess.
 * The client is made, and its module loaded, at the first answer: most invocations answer nothing.
 * IAM: `states:SendTaskSuccess` on the remediation state machine (`FlinkWatchdog.grantApprovalAnswer`).
 */
export class StepFunctionsTaskTokens implements TaskTokenPort {
  readonly #client: () => Promise<SFNClient>;

  constructor(options: StepFunctionsTaskTokensOptions = {}) {
    this.#client = sfnClient(options.client, options.clientConfig);
  }

  /**
   * Sends `output` (serialised as the task's JSON output) for `taskToken`.
   * @throws TaskTokenGoneError for TaskTimedOut, TaskDoesNotExist or InvalidToken; any other error as the SDK raised it.
   */
  async sendTaskSuccess(taskToken: string, output: Record<string, unknown>): Promise<void> {
    const { SendTaskSuccessCommand } = await import('./lazy/sfn.ts');
    const sfn = await this.#client();
    try {
      await sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) }));
    } catch (e) {
      const name = (e as Error).name;
      if (GONE.has(name)) {
        throw new TaskTokenGoneError(
          `Step Functions no longer waits on this task token (${name}): ${(e as Error).message}`,
        );
      }
      throw e;
    }
  }
}
