import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';

/**
 * Starts an execution of a Step Functions state machine under a name of the caller's (an incident id, a watch name).
 * Step Functions refuses a second execution of that name for 90 days with `ExecutionAlreadyExists`
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html): that is answered
 * `{ started: false }`, the situation being handled already.
 * @param input serialised as the execution's JSON input.
 * @returns `{ started: true, executionArn }` for a new execution, `{ started: false }` when the name was taken.
 * @throws any other StartExecution error (throttling, access denied, an invalid name).
 */
export async function startNamedExecution(
  client: SFNClient,
  stateMachineArn: string,
  name: string,
  input: unknown,
): Promise<{ started: true; executionArn: string | undefined } | { started: false }> {
  try {
    const out = await client.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
    return { started: true, executionArn: out.executionArn };
  } catch (e) {
    if ((e as Error).name === 'ExecutionAlreadyExists') return { started: false };
    throw e;
  }
}
