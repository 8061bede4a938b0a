import type { Clock } from '#shared/clock.ts';
import type { Ledger } from '#shared/ports/ledger.ts';
import type { Log } from '#shared/ports/log.ts';
import type { Notifier } from '#shared/ports/notifier.ts';
import type { TaskTokenPort } from '#shared/ports/task-tokens.ts';
import type { ApprovalChannel, Incident } from './incident.ts';

/** A person's answer to an approval request (approve mode). */
export interface ApprovalAnswer {
  decision: 'APPROVED' | 'REJECTED';
  /** Who answered: `slack:U123ABC (jane.doe)`, an IAM caller ARN (CLI, Amazon Q), or `sandbox console`. */
  by: string;
  via: ApprovalChannel;
  /** Why (a rejection's reason, as given). */
  reason?: string;
}

/** What {@link answerApproval} did. */
export interface AnswerResult {
  /** True when the answer was recorded and handed to the waiting workflow. */
  accepted: boolean;
  /** What to tell the person who answered, e.g. "Approved by slack:U1 (jane): the workflow acts now after checking every guard again." or why it was refused. */
  message: string;
  /** The incident as saved, when it exists. */
  incident?: Incident;
}

/** What {@link answerApproval} uses. */
export interface AnswerDeps {
  ledger: Ledger;
  tokens: TaskTokenPort;
  clock: Clock;
  log: Log;
  notifier?: Notifier;
}

/**
 * Answers incident `incidentId`'s approval request: refused (nothing changed, `accepted: false`) when the incident does
 * not exist, is not awaiting approval, or was already answered or timed out; otherwise records the answer on the
 * incident and sends it to the waiting workflow (TaskTokenPort.sendTaskSuccess). Used by the Slack interactivity
 * endpoint, the runbook handler (CLI `approve`/`reject`, Amazon Q custom action) and the sandbox console.
 */
export async function answerApproval(
  incidentId: string,
  answer: ApprovalAnswer,
  deps: AnswerDeps,
): Promise<AnswerResult> {
  void incidentId;
  void answer;
  void deps;
  throw new Error('answerApproval: not implemented yet');
}
