import type { SFNClient, SFNClientConfig } from '@aws-sdk/client-sfn';
import type { WatchInput } from '#shared/domain/watch.ts';
import type { Log } from '#shared/ports/log.ts';
import type { WatchStarter } from '#shared/ports/watch-starter.ts';
import { sfnClient, startNamedExecution } from './sfn-execution.ts';

/** Options of {@link StepFunctionsWatchStarter}: a ready client (tests) or a config for a new one, never both. */
export type StepFunctionsWatchStarterOptions = {
  /** ARN of the watch workflow (infra/watch-workflow.ts). */
  stateMachineArn: string;
  log: Log;
} & ({ client: SFNClient; clientConfig?: never } | { client?: never; clientConfig?: SFNClientConfig });

/**
 * Starts watches with Step Functions StartExecution, the execution `name` being the watch's name. A second start of
 * the same name is answered `ExecutionAlreadyExists` by Step Functions (names are unique per state machine for 90 days,
 * https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html): that means the situation is
 * already watched, and is returned as false. Any other error is thrown.
 */
export class StepFunctionsWatchStarter implements WatchStarter {
  readonly #client: () => Promise<SFNClient>;
  readonly #arn: string;
  readonly #log: Log;

  constructor(options: StepFunctionsWatchStarterOptions) {
    this.#client = sfnClient(options.client, options.clientConfig);
    this.#arn = options.stateMachineArn;
    this.#log = options.log;
  }

  async start(input: WatchInput): Promise<boolean> {
    const name = input.watch.name;
    const out = await startNamedExecution(this.#client, this.#arn, name, input);
    if (out.started)
      this.#log.info('watch started', { watch: name, kind: input.watch.kind, executionArn: out.executionArn });
    return out.started;
  }
}
