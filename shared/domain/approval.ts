import type { Clock } from '#shared/clock.ts';
import type { Ledger } from '#shared/ports/ledger.ts';
import type { Log } from '#shared/ports/log.ts';
import type { Notifier } from '#shared/ports/notifier.ts';
import { TaskTokenGoneError, type TaskTokenPort } from '#shared/ports/task-tokens.ts';
import type { RemediationAction } from './decision.ts';
import type { ApprovalChannel, ApprovalRecord, Incident } from './incident.ts';
import { addEvent, TERMINAL_STATUSES } from './incident.ts';

/** A person's answer to an approval request (approve mode). */
export interface ApprovalAnswer {
  decision: 'APPROVED' | 'REJECTED';
  /** Who answered: `slack:U123ABC (jane.doe)`, an IAM caller ARN (CLI, Amazon Q), or `sandbox console`. */
  by: string;
  via: ApprovalChannel;
  /** Why (a rejection's reason, as given). */
  reason?: string;
  /** The SNS `MessageId` of the runbook command that carried the answer (CLI, Amazon Q), recorded with it. */
  messageId?: string;
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
  /** Unused: telling people of an answer is the workflow's (its APPROVAL_ANSWERED step, one place for every channel). */
  notifier?: Notifier;
}

/**
 * The answer the remediation workflow's AwaitApproval state receives (the SendTaskSuccess output, in the state at
 * `approvalAnswer`), or `TIMEOUT` set by the workflow when no answer came within `approvalTimeoutMinutes`
 * (the `States.Timeout` Catch).
 */
export interface WorkflowApprovalAnswer {
  decision: 'APPROVED' | 'REJECTED' | 'TIMEOUT';
  by?: string;
  via?: ApprovalChannel;
  reason?: string;
}

/** Longest `by` and `reason` kept from an answer, characters (a Slack user, an IAM ARN; a free-text reason). */
export const ANSWER_TEXT_MAX = 500;

/** "approved by slack:U1 (jane) via slack" / "rejected by arn:... via cli: too risky" */
export function describeAnswer(answer: Pick<WorkflowApprovalAnswer, 'decision' | 'by' | 'via' | 'reason'>): string {
  const verb = answer.decision === 'APPROVED' ? 'approved' : answer.decision === 'REJECTED' ? 'rejected' : 'timed out';
  const who = answer.by ? ` by ${answer.by}${answer.via ? ` via ${answer.via}` : ''}` : '';
  return `${verb}${who}${answer.reason ? `: ${answer.reason}` : ''}`;
}

/** Why a pending request cannot take an answer now, or undefined when it can. */
function refusal(incident: Incident, nowMs: number): string | undefined {
  const approval = incident.approval;
  if (!approval)
    return `Incident ${incident.id} is not awaiting approval (its application is not in approve mode, or nothing was decided to do).`;
  if (approval.state !== 'PENDING')
    return `Incident ${incident.id}'s approval request is already ${stateText(approval)}: nothing changed.`;
  if (TERMINAL_STATUSES.has(incident.status))
    return `Incident ${incident.id} is already ${incident.status}: nothing changed.`;
  if (nowMs > approval.timeoutMs) {
    return `Incident ${incident.id}'s approval request timed out at ${new Date(approval.timeoutMs).toISOString()} (it then ends in ${approval.onTimeout === 'proceed' ? 'acting, every guard checked again' : 'ESCALATED'}): the answer came too late, nothing changed.`;
  }
  if (!approval.taskToken) {
    return `Incident ${incident.id}'s remediation workflow is not waiting for an answer yet (it asks within seconds of opening the incident): try again in a moment.`;
  }
  return undefined;
}

/** "APPROVED (approved by X via slack at 2026-...)" */
function stateText(approval: ApprovalRecord): string {
  const a = approval.answer;
  const answered = a ? ` (${describeAnswer(a)} at ${new Date(a.atMs).toISOString()})` : '';
  switch (approval.state) {
    case 'APPROVED':
    case 'REJECTED':
      return `${approval.state}${answered}`;
    case 'TIMED_OUT':
      return `TIMED_OUT (no answer by ${new Date(approval.timeoutMs).toISOString()})${answered}`;
    case 'STALE':
      return `STALE (approved, then refused because the situation changed)${answered}`;
    case 'PENDING':
      return 'PENDING';
  }
}

/**
 * Answers incident `incidentId`'s approval request: refused (nothing changed, `accepted: false`) when the incident does
 * not exist, is not awaiting approval, was already answered, timed out, or its workflow is not waiting yet; otherwise
 * records the answer on the incident FIRST (approval.state APPROVED / REJECTED, `answer`, event APPROVAL, the task
 * token removed; a conditional save, so of two concurrent answers exactly one is recorded and the other is refused),
 * THEN sends it to the waiting workflow (TaskTokenPort.sendTaskSuccess with `{decision, by, via, reason?}`). The
 * workflow's ApprovalAnswered step tells people and, for an approval, checks every guard again on a fresh
 * DescribeApplication before acting. Used by the Slack interactivity endpoint, the runbook handler (CLI
 * `approve`/`reject`, Amazon Q custom action) and the sandbox console.
 * When Step Functions no longer waits on the token (TaskTokenGoneError) the request is recorded TIMED_OUT and the
 * answer refused; any other SendTaskSuccess error puts the request back to PENDING (with its token) and is refused
 * with the error, so the person can try again.
 * @throws the ledger's error when the incident cannot be read or written.
 */
export async function answerApproval(
  incidentId: string,
  answer: ApprovalAnswer,
  deps: AnswerDeps,
): Promise<AnswerResult> {
  const by = answer.by.trim().slice(0, ANSWER_TEXT_MAX);
  if (!by) return { accepted: false, message: 'The answer names no one (`by` is empty): nothing changed.' };
  const reason = answer.reason?.trim().slice(0, ANSWER_TEXT_MAX);
  const now = deps.clock.now();
  let refused: string | undefined;
  let token: string | undefined;
  const recorded = {
    decision: answer.decision,
    by,
    via: answer.via,
    atMs: now,
    ...(reason ? { reason } : {}),
    ...(answer.messageId ? { messageId: answer.messageId.slice(0, ANSWER_TEXT_MAX) } : {}),
  };
  const stored = await deps.ledger.updateIncident(incidentId, (current) => {
    // Runs again on a conflict: only the last run counts.
    token = undefined;
    refused = refusal(current, now);
    if (refused || !current.approval?.taskToken) return undefined;
    token = current.approval.taskToken;
    const { taskToken: _, ...rest } = current.approval;
    current.approval = { ...rest, state: answer.decision, answer: recorded };
    addEvent(current, now, 'APPROVAL', `Approval request ${describeAnswer(recorded)}.`);
    return current;
  });
  if (!stored) return { accepted: false, message: `No incident ${incidentId}: nothing changed.` };
  if (refused || token === undefined) {
    deps.log.info('approval answer refused', { incidentId, by, decision: answer.decision, reason: refused });
    return { accepted: false, message: refused ?? 'Refused.', incident: stored };
  }
  deps.log.info('approval answer recorded', { incidentId, by, via: answer.via, decision: answer.decision });
  try {
    await deps.tokens.sendTaskSuccess(token, {
      decision: answer.decision,
      by,
      via: answer.via,
      ...(reason ? { reason } : {}),
    });
  } catch (e) {
    const gone = e instanceof TaskTokenGoneError;
    const error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    deps.log.warn('the answer did not reach the workflow', { incidentId, error });
    const undone = await undo(deps, incidentId, recorded, token, gone, error).catch((u: unknown) => {
      deps.log.error('could not correct the recorded answer', { incidentId, error: (u as Error).message });
      return undefined;
    });
    return {
      accepted: false,
      message: gone
        ? `The approval request of incident ${incidentId} already timed out or ended: the workflow no longer waits for an answer, so your answer changed nothing.`
        : `Your answer could not be handed to the remediation workflow (${error}); it is not taken: try again.`,
      ...(undone ? { incident: undone } : { incident: stored }),
    };
  }
  const message =
    answer.decision === 'APPROVED'
      ? `Approved by ${by}: the workflow now checks every guard again on a fresh DescribeApplication and acts only if nothing changed (${describeAction(stored)}).`
      : `Rejected by ${by}: the incident is escalated; no MSF call is made.`;
  return { accepted: true, message, incident: stored };
}

function describeAction(incident: Incident): string {
  const a = incident.approval?.action;
  return a ? a.kind.toLowerCase().replaceAll('_', ' ') : 'the approved remediation';
}

/**
 * The answer did not reach the workflow: when Step Functions no longer waits (`gone`), the request is recorded
 * TIMED_OUT (the workflow's timeout path records it too); otherwise it is PENDING again with its token, so the person
 * can answer again. Only if the record still holds this answer.
 */
async function undo(
  deps: AnswerDeps,
  incidentId: string,
  recorded: NonNullable<ApprovalRecord['answer']>,
  token: string,
  gone: boolean,
  error: string,
): Promise<Incident | undefined> {
  const now = deps.clock.now();
  return deps.ledger.updateIncident(incidentId, (current) => {
    const a = current.approval;
    if (!a?.answer || a.answer.atMs !== recorded.atMs || a.answer.by !== recorded.by) return undefined;
    if (gone) {
      current.approval = { ...a, state: 'TIMED_OUT' };
      addEvent(
        current,
        now,
        'APPROVAL',
        `The answer (${describeAnswer(recorded)}) came after the workflow stopped waiting (${error}): not taken.`,
      );
    } else {
      const { answer: _, ...rest } = a;
      current.approval = { ...rest, state: 'PENDING', taskToken: token };
      addEvent(
        current,
        now,
        'APPROVAL',
        `The answer (${describeAnswer(recorded)}) could not be handed to the workflow (${error}): not taken; the request is pending again.`,
      );
    }
    return current;
  });
}

/**
 * What differs between the remediation people approved and the one decided again on a fresh observation, in words
 * ("the application is at version 4, not 3"), or undefined when they are the same: same kind, same
 * ApplicationVersionId expected, same target (the version rolled back to or re-applied, the restore type and
 * snapshot). Pure.
 */
export function whatChanged(approved: RemediationAction, fresh: RemediationAction): string | undefined {
  if (approved.expectVersionId !== fresh.expectVersionId) {
    return `the application is at version ${fresh.expectVersionId}, not ${approved.expectVersionId} as when it was approved`;
  }
  if (approved.kind !== fresh.kind) {
    return `the decision is now to ${fresh.kind.toLowerCase().replaceAll('_', ' ')}, not to ${approved.kind.toLowerCase().replaceAll('_', ' ')}`;
  }
  if (approved.kind === 'ROLLBACK' && fresh.kind === 'ROLLBACK' && approved.toVersionId !== fresh.toVersionId) {
    return `the rollback would go to version ${fresh.toVersionId}, not ${approved.toVersionId}`;
  }
  if (
    approved.kind === 'REAPPLY_PREVIOUS_VERSION' &&
    fresh.kind === 'REAPPLY_PREVIOUS_VERSION' &&
    approved.goodVersionId !== fresh.goodVersionId
  ) {
    return `the version to re-apply is now ${fresh.goodVersionId}, not ${approved.goodVersionId}`;
  }
  const start = (a: RemediationAction) => ('start' in a && a.start ? a.start : undefined);
  const s1 = start(approved);
  const s2 = start(fresh);
  const text = (s: ReturnType<typeof start>) =>
    s ? `${s.restoreType}${s.snapshotName ? ` (${s.snapshotName})` : ''}` : 'no start';
  if (text(s1) !== text(s2)) return `the start would now be ${text(s2)}, not ${text(s1)} as approved`;
  return undefined;
}
