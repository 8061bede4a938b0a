import type { RemediationState } from '#shared/domain/remediation.ts';

/**
 * Starts the remediation workflow for an incident. In AWS: a Step Functions execution named after the incident id
 * (a duplicate start is refused by Step Functions). In the drill: the local workflow runner.
 */
export interface RemediationStarter {
  start(state: RemediationState): Promise<void>;
}
