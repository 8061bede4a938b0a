import type { SFNClient, SFNClientConfig } from '@aws-sdk/client-sfn';
import type { RemediationState } from '#shared/domain/remediation.ts';
import type { Log } from '#shared/ports/log.ts';
import type { RemediationStarter } from '#shared/ports/remediation-starter.ts';
import { sfnClient, startNamedExecution } from './sfn-execution.ts';

/** Options of {@link StepFunctionsStarter}. */
export interface StepFunctionsStarterOptions {
  /** ARN of the remediation workflow (the construct's state machine). */
  stateMachineArn: string;
  /** A ready client (tests), or a config for a new one. */
  client?: SFNClient;
  clientConfig?: SFNClientConfig;
  log: Log;
}

/**
 * Starts the remediation workflow with Step Functions StartExecution, the execution `name` being the incident id
 * (Step Functions refuses a second execution of that name for 90 days). `ExecutionAlreadyExists` — a duplicate
 * start after at-least-once delivery — is logged and ignored; any other error is thrown.
 */
export class StepFunctionsStarter implements RemediationStarter {
  readonly #client: () => Promise<SFNClient>;
  readonly #arn: string;
  readonly #log: Log;

  constructor(options: StepFunctionsStarterOptions) {
    this.#client = sfnClient(options.client, options.clientConfig);
    this.#arn = options.stateMachineArn;
    this.#log = options.log;
  }

  async start(state: RemediationState): Promise<void> {
    const out = await startNamedExecution(this.#client, this.#arn, state.incidentId, state);
    if (out.started) {
      this.#log.info('remediation workflow started', { incidentId: state.incidentId, executionArn: out.executionArn });
    } else {
      this.#log.info('remediation workflow already started', { incidentId: state.incidentId });
    }
  }
}
