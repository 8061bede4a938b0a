import type { ActionsBlock, Button, ContextBlock, HeaderBlock, KnownBlock, SectionBlock } from '@slack/web-api';
import type { Notification } from '#shared/ports/notifier.ts';
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
  isObserveMode,
  isoTime,
  rootCauseSummary,
  STATUS_LABEL,
  TRUNCATED_SUFFIX,
  timeToRecoverySeconds,
  truncate,
  truncateMrkdwn,
  wouldHave,
  wouldHaveSentence,
} from './common.ts';
import { type incidentLinks, notificationLinks } from './links.ts';

/**
 * Slack Block Kit rendering of one lifecycle notification, for both delivery modes:
 * - Web API (`chat.postMessage` with a bot token): pass the incident's first message `ts` as `threadTs` and every
 *   update of the incident is posted in that thread;
 * - incoming webhook (no threads): the incident id is in the message `text` and in the context block, so updates of
 *   one incident can be correlated by searching for it.
 */

/**
 * `action_id` of the Approve button on a message whose incident awaits approval; its `value` is the incident id. The
 * Slack interactivity endpoint (functions/slack-interactions/handler.ts) answers the click.
 */
export const SLACK_APPROVE_ACTION_ID = 'flink-watchdog-approve';
/** `action_id` of the Reject button (see {@link SLACK_APPROVE_ACTION_ID}). */
export const SLACK_REJECT_ACTION_ID = 'flink-watchdog-reject';

/**
 * Block Kit limits the rendering enforces. Sources: @slack/types 3.2 doc comments (Slack's Block Kit reference): header
 * text ≤ 150 characters, section text and mrkdwn/plain_text objects ≤ 3,000, button text ≤ 75, button url ≤ 3,000,
 * context elements ≤ 10, actions elements ≤ 25; Slack's blocks reference: ≤ 50 blocks in a message.
 */
export const SLACK_LIMITS = {
  blocks: 50,
  headerText: 150,
  sectionText: 3_000,
  buttonText: 75,
  buttonUrl: 3_000,
  contextElements: 10,
  actionsElements: 25,
  /** Confirmation dialog (`confirm` object): title ≤ 100, text ≤ 300, confirm and deny button texts ≤ 30. */
  confirmTitle: 100,
  confirmText: 300,
  /** Button `value` ≤ 2,000 characters (the incident id, ≤ 80). */
  buttonValue: 2_000,
  /**
   * The watchdog's own cap on the top-level `text` (Slack truncates it far later, at 40,000 characters): it is the
   * notification and fallback text, one line is enough.
   */
  messageText: 3_000,
  /**
   * The watchdog's own cap on all block texts together, characters. Not a documented limit: Slack has rejected
   * messages with `msg_blocks_too_long` at about 13,000 characters in total although each block was within its limit
   * (slackapi/bolt-js#2509), so the rendering stays below that.
   */
  totalBlockText: 12_000,
  /**
   * The watchdog's own cap on each free text inside a section (headline, finding summary, decision reason,
   * explanation), characters, so that together they leave room for the actions within {@link totalBlockText}.
   */
  partText: 1_500,
  /** The watchdog's own cap on the next-steps section, characters. */
  nextStepsText: 2_500,
} as const;

/** Context of {@link renderSlack}. */
export interface SlackContext {
  /** AWS Region of the application, for console links. */
  region: string;
  /** `ts` of the incident's first message (Web API mode): the message is posted as a reply in that thread. */
  threadTs?: string;
  /** Ledger table name, for the incident's console link (else only the `flink-watchdog history` command is shown). */
  ledgerTableName?: string;
}

/** A `chat.postMessage` / incoming-webhook payload without the channel. */
export interface SlackMessage {
  /** Notification and fallback text (mrkdwn); carries the incident id. */
  text: string;
  blocks: KnownBlock[];
  thread_ts?: string;
}

/**
 * Renders a notification as Block Kit: header "<application> · <STATUS>", the headline (and, prominently, what would
 * have been done in observe mode), the finding, the decision and its reason, the explanation, time to recovery
 * (RESOLVED), what holds automation (maintenance, change freeze), the root cause (a restart loop's first exception), the
 * approval request or its answer (with Approve / Reject buttons while the workflow waits on it: from
 * APPROVAL_REQUESTED on, not on the detector's OPENED message), the actions with their times, next
 * steps (commands as code blocks), link buttons (MSF console, CloudWatch metrics, the incident) and a context line with
 * the incident id. Within {@link SLACK_LIMITS}: long texts
 * end with "… (truncated)", actions that do not fit are counted. User-derived text is mrkdwn-escaped. Pure.
 */
export function renderSlack(n: Notification, ctx: SlackContext): SlackMessage {
  const i = n.incident;
  const finding = findingOf(n);
  const links = notificationLinks(n, ctx);
  const status = `${STATUS_LABEL[n.event]}${n.event === 'OBSERVED' && wouldHave(n) && isObserveMode(n) ? ' (observe mode)' : ''}`;
  const title = headline(n);

  const part = (text: string) => truncateMrkdwn(escapeMrkdwn(text), SLACK_LIMITS.partText);
  const fleet = fleetSummary(n);
  const top: KnownBlock[] = [header(`${fleet ? 'Fleet incident' : i.applicationName} · ${status}`)];
  const held = wouldHaveSentence(n);
  top.push(section(`*${part(title)}*${held ? `\n*${part(held)}*` : ''}`));
  if (fleet) {
    top.push(
      section(
        [
          `*${part(fleet.label)}*`,
          `*Applications* ${part(fleet.applications)}`,
          `*Shared* ${part(fleet.shared)}`,
          `*First failure* ${fleet.firstFailure}`,
          `*Held* ${fleet.held}`,
        ].join('\n'),
      ),
    );
  }
  if (finding) top.push(section(`*Finding* \`${finding.kind}\`\n${part(finding.summary)}`));
  top.push(section(`*Decision* \`${i.decision.verdict}\`\n${part(i.decision.reason)}`));
  const extra = extraText(n);
  if (extra) top.push(section(part(extra)));
  const ttr = timeToRecoverySeconds(n);
  if (ttr !== undefined) top.push(section(`*Time to recovery:* ${formatDuration(ttr)} (${ttr} s)`));
  const hold = holdSentence(n);
  if (hold) top.push(section(`*Held* ${part(hold)}`));
  const cause = rootCauseSummary(n);
  if (cause) top.push(section(rootCauseText(cause)));
  const approval = approvalSummary(n);
  if (approval) {
    top.push(
      section(
        [
          `*Approval* ${part(approval.headline)}`,
          ...approval.lines.map((l) => part(l)),
          ...(approval.commands.length > 0 ? [`\`\`\`${approval.commands.map(escapeMrkdwn).join('\n')}\`\`\``] : []),
        ].join('\n'),
      ),
    );
  }

  const bottom: KnownBlock[] = [];
  if (approval?.answerable) bottom.push(approvalButtons(i.id, approval.headline));
  if (n.nextSteps.length > 0) bottom.push(section(nextStepsText(n.nextSteps)));
  bottom.push(linkButtons(links));
  bottom.push(contextLine(`Incident \`${i.id}\` · ${n.event} at ${isoTime(n.atMs)} · \`${links.historyCommand}\``));

  const used = [...top, ...bottom].reduce((sum, b) => sum + blockTextLength(b), 0);
  const actionBlocks = actionSections(
    i.actions.map((a) => `• ${escapeMrkdwn(actionLine(a))}`),
    SLACK_LIMITS.blocks - top.length - bottom.length,
    SLACK_LIMITS.totalBlockText - used,
  );

  // The headline is cut on its own so the incident id (webhook mode correlates updates by it) always survives.
  const text = truncateMrkdwn(
    `${escapeMrkdwn(`${i.applicationName} · ${status}: `)}${part(title)} (incident ${escapeMrkdwn(i.id)})`,
    SLACK_LIMITS.messageText,
  );
  return {
    text,
    blocks: [...top, ...actionBlocks, ...bottom],
    ...(ctx.threadTs ? { thread_ts: ctx.threadTs } : {}),
  };
}

function header(text: string): HeaderBlock {
  return { type: 'header', text: { type: 'plain_text', text: truncate(text, SLACK_LIMITS.headerText) } };
}

/** A mrkdwn section; `text` must already be escaped. */
function section(text: string): SectionBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: truncateMrkdwn(text, SLACK_LIMITS.sectionText) } };
}

function contextLine(text: string): ContextBlock {
  return { type: 'context', elements: [{ type: 'mrkdwn', text: truncateMrkdwn(text, SLACK_LIMITS.sectionText) }] };
}

function linkButtons(links: ReturnType<typeof incidentLinks>): ActionsBlock {
  const button = (actionId: string, label: string, url: string): Button => ({
    type: 'button',
    action_id: actionId,
    text: { type: 'plain_text', text: truncate(label, SLACK_LIMITS.buttonText) },
    url,
  });
  const buttons = [
    button('flink-watchdog-msf-console', 'MSF console', links.msfConsole),
    button('flink-watchdog-metrics', 'CloudWatch metrics', links.metrics),
    ...(links.incident ? [button('flink-watchdog-incident', 'Incident', links.incident)] : []),
  ].filter((b) => (b.url ?? '').length <= SLACK_LIMITS.buttonUrl);
  return { type: 'actions', elements: buttons.slice(0, SLACK_LIMITS.actionsElements) };
}

/**
 * The Approve / Reject buttons of a pending approval request the workflow waits on: `value` is the incident id, `action_id`
 * {@link SLACK_APPROVE_ACTION_ID} / {@link SLACK_REJECT_ACTION_ID}; Approve asks for confirmation first (a Block Kit
 * `confirm` dialog naming what will be done).
 */
function approvalButtons(incidentId: string, what: string): ActionsBlock {
  const plain = (text: string, max: number) => ({ type: 'plain_text' as const, text: truncate(text, max) });
  const approve: Button = {
    type: 'button',
    action_id: SLACK_APPROVE_ACTION_ID,
    style: 'primary',
    text: plain('Approve', SLACK_LIMITS.buttonText),
    value: truncate(incidentId, SLACK_LIMITS.buttonValue),
    confirm: {
      title: plain('Approve this remediation?', SLACK_LIMITS.confirmTitle),
      text: plain(
        `${what.replace(/^Approval requested: /, '')}. Every guard is checked again before acting.`,
        SLACK_LIMITS.confirmText,
      ),
      confirm: plain('Approve', 30),
      deny: plain('Cancel', 30),
    },
  };
  const reject: Button = {
    type: 'button',
    action_id: SLACK_REJECT_ACTION_ID,
    style: 'danger',
    text: plain('Reject', SLACK_LIMITS.buttonText),
    value: truncate(incidentId, SLACK_LIMITS.buttonValue),
  };
  return { type: 'actions', block_id: 'flink-watchdog-approval', elements: [approve, reject] };
}

/** The root cause section: "*Root cause* `class`: message", the top frames as a code block, where it was read. */
function rootCauseText(cause: NonNullable<ReturnType<typeof rootCauseSummary>>): string {
  if (cause.exception === undefined)
    return `*Root cause* not found: ${truncateMrkdwn(escapeMrkdwn(cause.note ?? ''), SLACK_LIMITS.partText)}`;
  const frames = cause.frames.map((f) => truncateMrkdwn(escapeMrkdwn(f.replace(/```/g, "'''")), 300));
  return [
    `*Root cause* ${truncateMrkdwn(escapeMrkdwn(cause.exception), SLACK_LIMITS.partText)}`,
    ...(frames.length > 0 ? [`\`\`\`${frames.join('\n')}\`\`\``] : []),
    `_${escapeMrkdwn(cause.source ?? '')}_`,
  ].join('\n');
}

/**
 * "*Next steps*" followed by the steps: runs of commands as one code block, prose as bullets, in their order. The
 * code block always keeps its closing fence when the text is cut.
 */
function nextStepsText(steps: string[]): string {
  const parts: string[] = ['*Next steps*'];
  let commands: string[] = [];
  const flush = () => {
    if (commands.length > 0) parts.push(`\`\`\`${commands.join('\n')}\`\`\``);
    commands = [];
  };
  for (const step of steps) {
    if (isCommand(step) && !step.includes('```')) commands.push(escapeMrkdwn(step));
    else {
      flush();
      parts.push(`• ${escapeMrkdwn(step)}`);
    }
  }
  flush();
  const text = parts.join('\n');
  if (text.length <= SLACK_LIMITS.nextStepsText) return text;
  // Cut inside the text, then close an open code block so the rest of the message is not swallowed by it.
  const cut = truncateMrkdwn(text, SLACK_LIMITS.nextStepsText - 3);
  return (cut.match(/```/g) ?? []).length % 2 === 1
    ? `${cut.slice(0, -TRUNCATED_SUFFIX.length)}\`\`\`${TRUNCATED_SUFFIX}`
    : cut;
}

/**
 * Packs action lines into "*Actions*" sections of at most {@link SLACK_LIMITS.sectionText} characters, using at most
 * `maxBlocks` blocks and (softly) `maxChars` characters in total; when lines are left over, the last section says how
 * many were not shown.
 */
function actionSections(lines: string[], maxBlocks: number, maxChars: number): SectionBlock[] {
  if (lines.length === 0 || maxBlocks <= 0) return [];
  const limit = SLACK_LIMITS.sectionText;
  const reserve = 60; // room for the "… N more actions not shown (truncated)" line
  const more = (left: number) => `_… ${left} more action${left === 1 ? '' : 's'} not shown (truncated)_`;
  const sections: string[][] = [];
  let current = ['*Actions*'];
  let currentLength = current[0]?.length ?? 0;
  let total = 0;
  let shown = 0;
  for (const raw of lines) {
    const line = truncateMrkdwn(raw, limit - reserve - 20);
    const fitsHere = currentLength + 1 + line.length <= limit - reserve;
    const fitsTotal = total + currentLength + 1 + line.length <= maxChars - reserve;
    if (fitsHere && fitsTotal) {
      current.push(line);
      currentLength += 1 + line.length;
      shown++;
      continue;
    }
    if (!fitsTotal || sections.length + 2 > maxBlocks) break;
    sections.push(current);
    total += currentLength;
    current = [line];
    currentLength = line.length;
    shown++;
  }
  if (shown < lines.length) current.push(more(lines.length - shown));
  sections.push(current);
  return sections.map((part) => ({ type: 'section', text: { type: 'mrkdwn', text: part.join('\n') } }));
}

/** Characters of text a block carries (section text, header text, context elements, button labels). */
export function blockTextLength(block: KnownBlock): number {
  switch (block.type) {
    case 'header':
      return block.text.text.length;
    case 'section':
      return (block.text?.text.length ?? 0) + (block.fields ?? []).reduce((s, f) => s + f.text.length, 0);
    case 'context':
      return block.elements.reduce((s, e) => s + ('text' in e && typeof e.text === 'string' ? e.text.length : 0), 0);
    case 'actions':
      return block.elements.reduce(
        (s, e) =>
          s +
          (e.type === 'button'
            ? e.text.text.length + (e.confirm ? (e.confirm.title?.text.length ?? 0) + e.confirm.text.text.length : 0)
            : 0),
        0,
      );
    default:
      return 0;
  }
}
