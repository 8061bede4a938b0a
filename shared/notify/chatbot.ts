import type { Notification } from '#shared/ports/notifier.ts';
import * as z from '#shared/zod.ts';
import {
  actionLine,
  approvalSummary,
  escapeMrkdwn,
  extraText,
  findingOf,
  fleetSummary,
  formatDuration,
  headline,
  holdSentence,
  isCommand,
  rootCauseSummary,
  SEVERITY_BY_EVENT,
  timeToRecoverySeconds,
  truncate,
  truncateMrkdwn,
  wouldHaveSentence,
} from './common.ts';
import { notificationLinks } from './links.ts';

/**
 * Amazon Q Developer in chat applications (formerly AWS Chatbot) custom notifications, published to the SNS topic a
 * chat channel is configured with. Format: "Custom notifications using Amazon Q Developer in chat applications",
 * https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html (event schema and parameter details).
 */

/**
 * The documented event schema. Required: `version` (must be `1.0`) and `source` (must be `custom`); `id` is a unique
 * event identifier; `textType` supports only `client-markdown` (rendered as the chat platform's markdown, i.e. Slack
 * mrkdwn in Slack); `metadata.threadId` threads notifications that share it (when the channel's preferences allow
 * notification updates in a thread). `description` is required here because the watchdog always sends one.
 */
export const ChatbotNotification = z.object({
  version: z.literal('1.0'),
  source: z.literal('custom'),
  id: z.optional(z.string()),
  content: z.object({
    textType: z.optional(z.literal('client-markdown')),
    title: z.optional(z.string()),
    description: z.string(),
    nextSteps: z.optional(z.array(z.string())),
    keywords: z.optional(z.array(z.string())),
  }),
  metadata: z.optional(
    z.object({
      threadId: z.optional(z.string()),
      summary: z.optional(z.string()),
      eventType: z.optional(z.string()),
      relatedResources: z.optional(z.array(z.string())),
      additionalContext: z.optional(z.record(z.string(), z.string())),
    }),
  ),
});
export type ChatbotNotification = z.infer<typeof ChatbotNotification>;

/**
 * Caps the watchdog applies, characters or items. The custom-notification page documents the shape and the fixed values
 * but (in the copies consulted) no per-field lengths, so these are the watchdog's own, taken from the Slack Block Kit
 * limits the notification is rendered into (@slack/types: section text ≤ 3,000 characters, header text ≤ 150) and
 * kept small enough that the whole SNS message stays far below SNS's 256 KiB.
 */
export const CHATBOT_LIMITS = {
  /** Slack header text limit. */
  title: 150,
  /** Slack section text limit. */
  description: 3_000,
  nextSteps: 10,
  nextStep: 1_000,
  keywords: 10,
  keyword: 75,
  summary: 300,
  /** Longest finding summary, decision reason or explanation inside the description, before the actions. */
  descriptionPart: 800,
} as const;

/**
 * The Amazon Q Developer custom action that approves from the notification (infra/approval-endpoints.ts creates it):
 * its button text, and the notification variables it reads, by name → path in the custom notification. The button is
 * attached to a custom notification whose `metadata.additionalContext` has `approvalState` PENDING and the command
 * variables (renderChatbot sets them only while the workflow waits for an answer).
 */
export const CHATBOT_APPROVE_BUTTON = 'Approve';
/** The Reject button of the custom action (rejects with a fixed reason: Amazon Q passes no free text). */
export const CHATBOT_REJECT_BUTTON = 'Reject';

/** The approval commands an Amazon Q custom action can send. */
export type ChatbotApprovalCommand = 'approve' | 'reject';

/**
 * The longest custom action `CommandText` the Amazon Q Developer API accepts, characters: the API model
 * (`CustomActionDefinitionCommandTextString`: min 1, max 100) and the API reference
 * (https://docs.aws.amazon.com/chatbot/latest/APIReference/API_CustomActionDefinition.html). The CloudFormation
 * reference of AWS::Chatbot::CustomAction says 5,000; the watchdog keeps to the smaller (docs/slack-approvals.md).
 */
export const CHATBOT_COMMAND_TEXT_MAX = 100;

/** The `additionalContext` key holding the runbook command message of `command` (a pending, answerable request). */
export function chatbotCommandKey(command: ChatbotApprovalCommand): 'approveCommand' | 'rejectCommand' {
  return command === 'approve' ? 'approveCommand' : 'rejectCommand';
}

/**
 * The custom action's `CommandText`: an AWS CLI command (without the leading `aws`) whose every long part is a
 * notification variable, so the text stays within {@link CHATBOT_COMMAND_TEXT_MAX} whatever the topic's ARN or the
 * incident id: `sns publish --topic-arn $commandTopicArn --region $commandRegion --message '$approveCommand'` (92
 * characters; the reject one 91). The message is single-quoted so that it stays one argument.
 */
export function chatbotCommandText(command: ChatbotApprovalCommand): string {
  return `sns publish --topic-arn $commandTopicArn --region $commandRegion --message '$${chatbotCommandKey(command)}'`;
}

/**
 * The runbook command message (shared/events/runbook-command.ts) an Amazon Q button publishes to the command topic:
 * compact JSON without spaces, e.g. `{"command":"approve","incidentId":"orders-0123456789abcdef","via":"amazon-q",
 * "requestedBy":"amazon-q-custom-action","dryRun":false}`; reject carries the fixed reason
 * `rejected-in-Amazon-Q-Developer` (Amazon Q passes no free text). Pure.
 */
export function chatbotCommandMessage(command: ChatbotApprovalCommand, incidentId: string): string {
  return JSON.stringify({
    command,
    incidentId,
    via: 'amazon-q',
    requestedBy: 'amazon-q-custom-action',
    ...(command === 'reject' ? { reason: 'rejected-in-Amazon-Q-Developer' } : {}),
    dryRun: false,
  });
}

/**
 * Custom action variables (CustomActionAttachment `Variables`, at most 5) of the `command` button: name → where in
 * the notification its value is. The path form `event.metadata.additionalContext.<key>` is an assumption (see
 * docs/slack-approvals.md): the API reference documents the map but not the path syntax.
 */
export function chatbotActionVariables(command: ChatbotApprovalCommand): Record<string, string> {
  const key = chatbotCommandKey(command);
  return {
    approvalState: 'event.metadata.additionalContext.approvalState',
    commandTopicArn: 'event.metadata.additionalContext.commandTopicArn',
    commandRegion: 'event.metadata.additionalContext.commandRegion',
    [key]: `event.metadata.additionalContext.${key}`,
  };
}

/** Context of {@link renderChatbot}. */
export interface ChatbotContext {
  /** AWS Region of the application, for console links. */
  region: string;
  /** The application's ARN (`relatedResources`); the application name is used when unknown. */
  applicationArn?: string;
  /** Ledger table name, for the incident's console link. */
  ledgerTableName?: string;
  /**
   * ARN of the runbook command topic (`runbooks` configured): with it, a request the workflow waits on carries the
   * Amazon Q custom actions' variables (`commandTopicArn`, `commandRegion`, `approveCommand`, `rejectCommand`).
   */
  commandTopicArn?: string;
}

/**
 * The custom notification of one lifecycle notification: title = headline (the "would have" in observe mode),
 * description = finding, decision and reason, explanation, time to recovery, what holds automation, the root cause,
 * the approval request or answer, actions with times, links; nextSteps = the exact commands (as code; a pending
 * approval's `flink-watchdog approve` / `reject` first); additionalContext carries `incidentId` and, with an approval,
 * `approvalState` (REQUESTED while the workflow is not waiting yet) and, while the workflow waits and
 * `ctx.commandTopicArn` is known, the custom actions' variables (their buttons show on PENDING); threadId = incident id, so every update of one incident lands in one thread.
 * User-derived text is mrkdwn-escaped (&, <, >) and every field is capped ({@link CHATBOT_LIMITS}). Pure.
 */
export function renderChatbot(n: Notification, ctx: ChatbotContext): ChatbotNotification {
  const i = n.incident;
  const finding = findingOf(n);
  const links = notificationLinks(n, ctx);
  const part = (text: string) => truncateMrkdwn(escapeMrkdwn(text), CHATBOT_LIMITS.descriptionPart);

  const head: string[] = [];
  const fleet = fleetSummary(n);
  if (fleet) {
    head.push(
      `*${part(fleet.label)}*`,
      `*Applications* ${part(fleet.applications)}`,
      `*Shared* ${part(fleet.shared)}`,
      `*First failure* ${fleet.firstFailure} · *Held* ${fleet.held}`,
    );
  }
  const held = wouldHaveSentence(n);
  if (held) head.push(`*${part(held)}*`);
  if (finding) head.push(`*Finding* \`${finding.kind}\`: ${part(finding.summary)}`);
  head.push(`*Decision* \`${i.decision.verdict}\`: ${part(i.decision.reason)}`);
  const extra = extraText(n);
  if (extra) head.push(part(extra));
  const ttr = timeToRecoverySeconds(n);
  if (ttr !== undefined) head.push(`*Time to recovery:* ${formatDuration(ttr)}`);
  const hold = holdSentence(n);
  if (hold) head.push(`*Held* ${part(hold)}`);
  const cause = rootCauseSummary(n);
  if (cause?.exception !== undefined) {
    head.push(
      `*Root cause* ${part(cause.exception)}`,
      ...cause.frames.map((f) => `\`${truncateMrkdwn(escapeMrkdwn(f.replace(/`/g, "'")), 200)}\``),
      `_${escapeMrkdwn(cause.source ?? '')}_`,
    );
  } else if (cause?.note !== undefined) {
    head.push(`*Root cause* not found: ${part(cause.note)}`);
  }
  const approval = approvalSummary(n);
  if (approval) {
    head.push(`*Approval* ${part(approval.headline)}`, ...approval.lines.map((l) => part(l)));
    if (approval.answerable) {
      head.push(
        ctx.commandTopicArn
          ? `Approve with the *${CHATBOT_APPROVE_BUTTON}* button or a command below.`
          : 'Approve or reject with a command below.',
      );
    }
  }

  // In mrkdwn a link's URL is escaped like any text (`&` → `&amp;`); Slack decodes it before following the link.
  const link = (url: string, label: string) => `<${escapeMrkdwn(url)}|${label}>`;
  const linkLine = [
    link(links.msfConsole, 'MSF console'),
    link(links.metrics, 'CloudWatch metrics'),
    ...(links.incident ? [link(links.incident, 'Incident')] : []),
  ].join(' · ');
  const tail = [`*Links:* ${linkLine}`, `Incident \`${i.id}\` · history: \`${links.historyCommand}\``];

  const fixed = [...head, ...tail].join('\n').length + 2;
  const actions =
    i.actions.length === 0
      ? []
      : [
          truncateMrkdwn(
            ['*Actions*', ...i.actions.map((a) => `• ${escapeMrkdwn(actionLine(a))}`)].join('\n'),
            Math.max(100, CHATBOT_LIMITS.description - fixed),
          ),
        ];
  const description = truncateMrkdwn([...head, ...actions, ...tail].join('\n'), CHATBOT_LIMITS.description);

  const title = headline(n);
  // A pending approval's commands first (once), then the notification's own next steps.
  const steps = [...(approval?.commands ?? []).filter((c) => !n.nextSteps.includes(c)), ...n.nextSteps];
  return {
    version: '1.0',
    source: 'custom',
    id: `${i.id}:${n.event}:${n.atMs}`,
    content: {
      textType: 'client-markdown',
      title: truncateMrkdwn(escapeMrkdwn(title), CHATBOT_LIMITS.title),
      description,
      nextSteps:
        steps.length <= CHATBOT_LIMITS.nextSteps
          ? steps.map(nextStep)
          : [
              ...steps.slice(0, CHATBOT_LIMITS.nextSteps - 1).map(nextStep),
              `… ${steps.length - CHATBOT_LIMITS.nextSteps + 1} more steps not shown (truncated)`,
            ],
      keywords: [i.applicationName, n.event, ...(finding ? [finding.kind] : []), i.decision.verdict]
        .slice(0, CHATBOT_LIMITS.keywords)
        .map((k) => truncate(k, CHATBOT_LIMITS.keyword)),
    },
    metadata: {
      threadId: i.id,
      summary: truncate(title, CHATBOT_LIMITS.summary),
      eventType: n.event,
      relatedResources: [ctx.applicationArn ?? i.applicationName],
      additionalContext: {
        application: i.applicationName,
        incidentId: i.id,
        event: n.event,
        severity: SEVERITY_BY_EVENT[n.event],
        findingKind: finding?.kind ?? 'NONE',
        action: i.remediation?.kind ?? 'NONE',
        outcome: i.status,
        region: ctx.region,
        ...(i.approval ? { approvalState: chatbotApprovalState(i.approval.state, approval?.answerable ?? false) } : {}),
        ...(approval?.answerable && ctx.commandTopicArn ? commandVariables(i.id, ctx.commandTopicArn) : {}),
      },
    },
  };
}

/**
 * `approvalState` in `additionalContext`: the incident's approval state, except `REQUESTED` for a PENDING request the
 * workflow does not wait on yet (the detector's OPENED message), so the custom actions (criteria `approvalState`
 * EQUALS PENDING) show only where an answer can be taken.
 */
function chatbotApprovalState(state: string, answerable: boolean): string {
  return state === 'PENDING' && !answerable ? 'REQUESTED' : state;
}

/** The custom actions' variables of an answerable request: the command topic, its Region, the two messages. */
function commandVariables(incidentId: string, commandTopicArn: string): Record<string, string> {
  return {
    commandTopicArn,
    // arn:PARTITION:sns:REGION:ACCOUNT:NAME
    commandRegion: commandTopicArn.split(':')[3] ?? '',
    approveCommand: chatbotCommandMessage('approve', incidentId),
    rejectCommand: chatbotCommandMessage('reject', incidentId),
  };
}

/** One next step as client-markdown: a command as inline code (cut inside the backticks), prose escaped. */
function nextStep(step: string): string {
  const escaped = escapeMrkdwn(step);
  return isCommand(step) && !step.includes('`')
    ? `\`${truncateMrkdwn(escaped, CHATBOT_LIMITS.nextStep - 2)}\``
    : truncateMrkdwn(escaped, CHATBOT_LIMITS.nextStep);
}
