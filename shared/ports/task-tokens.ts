/**
 * Answers a Step Functions `.waitForTaskToken` state (approve mode). In AWS: SendTaskSuccess / SendTaskFailure
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html). In the drill and the
 * sandbox: the local workflow runner.
 */
export interface TaskTokenPort {
  /**
   * Sends the task's output (JSON) for `taskToken`.
   * @throws TaskTokenGoneError when Step Functions no longer waits on the token (TaskTimedOut, TaskDoesNotExist,
   * InvalidToken): the request was already answered or timed out.
   */
  sendTaskSuccess(taskToken: string, output: Record<string, unknown>): Promise<void>;
}

/** Step Functions no longer waits on the token (SendTaskSuccess answered TaskTimedOut, TaskDoesNotExist or InvalidToken). */
export class TaskTokenGoneError extends Error {
  override readonly name = 'TaskTokenGoneError';
}
