import type { SFNClient, SFNClientConfig } from '@aws-sdk/client-sfn';
import { onFirstUse } from './on-first-use.ts';

/**
 * The Step Functions client of a starter: `client` when given (tests), else a new SFNClient with `clientConfig` made at
 * the first start. The client module is loaded then, not at cold start: most invocations start nothing.
 */
export function sfnClient(client?: SFNClient, clientConfig?: SFNClientConfig): () => Promise<SFNClient> {
  return onFirstUse(client, async () => {
    const { SFNClient: Client } = await import('./lazy/sfn.ts');
    return new Client(clientConfig ?? {});
  });
}

/**
 * Starts an execution of a Step Functions state machine under a name of the caller's (an incident id, a watch name).
 * Step Functions refuses a second execution of that name for 90 days with `ExecutionAlreadyExists`
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html): that is answered
 * `{ started: false }`, the situation being handled already.
 * @param client the client, or a function that gives it (see {@link sfnClient}).
 * @param input serialised as the execution's JSON input.
 * @returns `{ started: true, executionArn }` for a new execution, `{ started: false }` when the name was taken.
 * @throws any other StartExecution error (throttling, access denied, an invalid name).
 */
export async function startNamedExecution(
  client: SFNClient | (() => Promise<SFNClient>),
  stateMachineArn: string,
  name: string,
  input: unknown,
): Promise<{ started: true; executionArn: string | undefined } | { started: false }> {
  try {
    const { StartExecutionCommand } = await import('./lazy/sfn.ts');
    const sfn = typeof client === 'function' ? await client() : client;
    const out = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
    return { started: true, executionArn: out.executionArn };
  } catch (e) {
    if ((e as Error).name === 'ExecutionAlreadyExists') return { started: false };
    throw e;
  }
}
