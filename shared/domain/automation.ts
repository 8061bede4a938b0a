import type { Decision } from './decision.ts';
import { describeRemediation } from './decision.ts';

/**
 * A pause of automatic remediation of one application, set by the runbook command `pause-automation` and cleared by
 * `resume-automation` (kept in the ledger). While it holds, the detector, the reconciler and the remediation workflow
 * report what they would have done but start nothing new; runbook commands still act (a person decided).
 */
export interface AutomationPause {
  /** Who asked (`requestedBy` of the command). */
  pausedBy: string;
  /** Why (`reason` of the command). */
  reason: string;
  /** When the pause was set, epoch ms. */
  atMs: number;
}

/** "automation paused by alice@example.com: release freeze" — how every held-back decision names the pause. */
export function describePause(pause: AutomationPause): string {
  return `automation paused by ${pause.pausedBy}: ${pause.reason}`;
}

/**
 * Holds back a REMEDIATE decision while automation of the application is paused. Pure.
 *
 * With a pause and a REMEDIATE decision: `verdict` becomes `heldVerdict` (NONE: record and report only, as in observe
 * mode; ESCALATE: stop and page people), the remediation moves to `wouldHave`, a failed `automation-active` guard is
 * added, and the reason reads "automation paused by X: reason — would have …. <the original reason>". Any other
 * decision, or no pause, is returned unchanged.
 */
export function holdWhilePaused(
  decision: Decision,
  pause: AutomationPause | undefined,
  heldVerdict: 'NONE' | 'ESCALATE' = 'NONE',
): Decision {
  const action = decision.remediation;
  if (!pause || decision.verdict !== 'REMEDIATE' || !action) return decision;
  const { remediation: _held, ...rest } = decision;
  return {
    ...rest,
    verdict: heldVerdict,
    reason: `${describePause(pause)} — would have ${describeRemediation(action)}. ${decision.reason}`,
    wouldHave: action,
    guards: [...decision.guards, { name: 'automation-active', passed: false, detail: describePause(pause) }],
  };
}
