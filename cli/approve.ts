import { SNSClient } from '@aws-sdk/client-sns';
import type { STSClient } from '@aws-sdk/client-sts';
import type { Clock } from '#shared/clock.ts';
import { describeRemediation } from '#shared/domain/decision.ts';
import { type Incident, TERMINAL_STATUSES } from '#shared/domain/incident.ts';
import {
  type ApprovalCommand,
  type ApprovalCommandName,
  INCIDENT_ID_PATTERN,
  RunbookCommand,
} from '#shared/events/runbook-command.ts';
import type { Ledger } from '#shared/ports/ledger.ts';
import {
  type AwsClientConfig,
  type AwsOptions,
  awsClientConfig,
  awsProblem,
  type CliProblem,
  callerIdentityArn,
  commandClock,
  EXIT_CODES,
  exitCodeOf,
  formatProblem,
  ledgerFor,
  type OutputOptions,
  pickResource,
  resolveOutput,
  type StackOptions,
  stackOf,
  stackProblem,
  textLine,
  usageProblem,
} from './context.ts';
import { bold, dim, green, red, utcTime, yellow } from './format.ts';
import { type CommandPublisher, SnsCommandPublisher } from './remediate.ts';

/** Seconds `approve` / `reject` wait for the watchdog to record the answer when `--wait-seconds` is not given. */
export const DEFAULT_WAIT_SECONDS = 30;
/** Seconds between two reads of the incident while waiting. */
const POLL_SECONDS = 2;
/** An SNS topic ARN (`arn:PARTITION:sns:REGION:ACCOUNT:NAME`). */
const SNS_TOPIC_ARN = /^arn:[^:]+:sns:[^:]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;

/** Options of `flink-watchdog approve` / `reject` (commander's parsed flags; numbers arrive as strings). */
export interface ApproveOptions extends OutputOptions, AwsOptions, StackOptions {
  /** Why; required to reject (1-1024 characters), optional to approve. */
  reason?: string;
  /** The command topic. @default the `--stack`'s CommandTopicArn Output, else env COMMAND_TOPIC_ARN */
  topic?: string;
  /**
   * The ledger table, to refuse early (unknown incident, not awaiting approval) and to wait for the answer to be
   * recorded. @default the `--stack`'s LedgerTableName Output, else env LEDGER_TABLE_NAME; without one, neither
   */
  table?: string;
  /** Seconds to wait for the watchdog to record the answer (0: do not wait). @default {@link DEFAULT_WAIT_SECONDS} */
  waitSeconds?: string;
}

/** The `--output json` of `flink-watchdog approve` / `reject`. */
export interface ApproveJson {
  command: ApprovalCommandName;
  incidentId: string;
  /** The incident's application, when the ledger was read. */
  application?: string;
  /** The remediation awaiting approval (`describeRemediation`), when the ledger was read. */
  action?: string;
  /** What was published to the command topic. */
  published?: {
    topicArn: string;
    /** SNS `MessageId`. */
    messageId: string;
    /** The message body: an {@link ApprovalCommand} with `dryRun: false`. */
    message: ApprovalCommand;
    /** Message attributes (String) for the topic's filter policies: `command`, and `application` when known. */
    attributes: Record<string, string>;
  };
  /**
   * What the ledger said after publishing: `recorded` (the answer is on the incident: `answeredBy`), `other` (someone
   * else's answer, a timeout or a stale approval was recorded first), `pending` (not recorded within
   * `--wait-seconds`, or not waited for), `unknown` (no ledger table to read).
   */
  outcome?: 'recorded' | 'other' | 'pending' | 'unknown';
  /** The incident's approval state as last read (PENDING, APPROVED, REJECTED, TIMED_OUT, STALE). */
  approvalState?: string;
  /** Who the recorded answer is from, and via what. */
  answeredBy?: string;
  /** Caveats: what could not be checked. */
  notes: string[];
  /** What went wrong; non-empty means exit code 1 (64 for a usage problem). */
  problems: CliProblem[];
}

/** Adapters {@link approveCommand} uses; each defaults to the AWS SDK one with `--region` / `--profile`. */
export interface ApproveDeps {
  /** @default a DynamoDbLedger on `--table` / the stack's Output / LEDGER_TABLE_NAME, when one is known */
  ledger?: Ledger;
  publisher?: CommandPublisher;
  /** STS, for the approver recorded: always the caller's GetCallerIdentity `Arn` (there is no `--requested-by`). */
  sts?: STSClient;
  clock?: Clock;
  /** Waits `ms` milliseconds. @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
  env?: NodeJS.ProcessEnv;
}

/** The flag a command field comes from, for error messages. */
const FLAG_OF: Record<string, string> = {
  incidentId: 'INCIDENT',
  reason: '--reason',
  requestedBy: 'your identity (STS GetCallerIdentity Arn)',
  application: 'INCIDENT',
};

/**
 * Builds the message with the command topic's own schema ({@link RunbookCommand}), so a published answer is never
 * malformed. @returns the command, or one usage problem per bad field, named by its flag.
 */
export function buildApprovalCommand(
  command: ApprovalCommandName,
  incidentId: string,
  fields: { reason?: string; requestedBy: string; application?: string },
): { command: ApprovalCommand } | { problems: CliProblem[] } {
  const parsed = RunbookCommand.safeParse({
    command,
    incidentId,
    ...(fields.application === undefined ? {} : { application: fields.application }),
    requestedBy: fields.requestedBy,
    ...(fields.reason === undefined ? {} : { reason: fields.reason }),
    via: 'cli',
    dryRun: false,
  });
  if (parsed.success) return { command: parsed.data as ApprovalCommand };
  return {
    problems: parsed.error.issues.map((issue) => {
      const field = String(issue.path[0] ?? '');
      const flag = FLAG_OF[field] ?? (field || 'options');
      const message =
        field === 'reason' && command === 'reject' && fields.reason === undefined
          ? '--reason TEXT is required to reject (it is recorded on the incident and told)'
          : `${flag}: ${issue.message}`;
      return usageProblem(flag, message);
    }),
  };
}

/** Why `incident` cannot take an answer now (as the watchdog would refuse it), or undefined. */
export function notAwaitingApproval(incident: Incident, nowMs: number): string | undefined {
  const a = incident.approval;
  if (!a) {
    return `incident ${incident.id} of ${incident.applicationName} (${incident.status}) has no approval request: its application is not in approve mode`;
  }
  if (a.state !== 'PENDING') {
    const by = a.answer ? ` by ${a.answer.by} via ${a.answer.via}` : '';
    return `the approval request of incident ${incident.id} is already ${a.state}${by}`;
  }
  if (TERMINAL_STATUSES.has(incident.status)) return `incident ${incident.id} is already ${incident.status}`;
  if (nowMs > a.timeoutMs)
    return `the approval request of incident ${incident.id} timed out at ${utcTime(a.timeoutMs)}`;
  return undefined;
}

/**
 * `flink-watchdog approve INCIDENT [--reason TEXT]` / `flink-watchdog reject INCIDENT --reason TEXT`: answers the
 * approval request of an incident (approve mode) by publishing an `approve` / `reject` runbook command (`dryRun:
 * false`, `via: cli`, `requestedBy` always the caller's STS identity ARN: an approval names who allowed a production
 * change, so it cannot be given by hand) to the command topic (`--topic`, else
 * the stack's CommandTopicArn, else COMMAND_TOPIC_ARN), exactly as `remediate --execute` publishes; the watchdog's
 * runbook function records the answer and hands it to the waiting remediation workflow, which, when approved, checks
 * every guard again on a fresh DescribeApplication before acting. This CLI makes no MSF call.
 *
 * Bad input (a malformed incident id, `reject` without `--reason`, a bad `--topic`) is a usage error (64) before
 * anything is read or published. With a ledger table (`--table`, the stack's LedgerTableName, LEDGER_TABLE_NAME) it
 * first reads the incident and refuses (1, nothing published) when it does not exist or is not awaiting approval;
 * after publishing it waits up to `--wait-seconds` for the answer to be recorded on the incident.
 * @returns the exit code: 0 published (recorded, or not yet seen), 1 refused, failed or answered otherwise first, 64
 *   usage error.
 */
export async function approveCommand(
  command: ApprovalCommandName,
  incidentId: string,
  opts: ApproveOptions,
  deps: ApproveDeps = {},
): Promise<number> {
  const env = deps.env ?? process.env;
  const output = resolveOutput(opts);
  const aws: AwsClientConfig = awsClientConfig(opts);
  const out: ApproveJson = { command, incidentId, notes: [], problems: [] };
  const say = (line: string) => {
    if (output === 'table') console.log(line);
  };
  const finish = (code: number = EXIT_CODES.ok): number => {
    if (output === 'json') console.log(JSON.stringify(out, null, 2));
    else if (output === 'text') {
      const lines: string[] = [];
      if (out.published) {
        lines.push(textLine(['PUBLISHED', out.published.topicArn, out.published.messageId, incidentId]));
      }
      if (out.outcome) lines.push(textLine(['OUTCOME', out.outcome, out.approvalState, out.answeredBy]));
      if (lines.length > 0) console.log(lines.join('\n'));
    }
    if (output === 'table') for (const n of out.notes) console.error(dim(`note: ${n}`));
    for (const p of out.problems) console.error(formatProblem(p));
    return exitCodeOf(out.problems, code);
  };

  // Options first: nothing is read or published when they are wrong.
  if (!INCIDENT_ID_PATTERN.test(incidentId)) {
    out.problems.push(
      usageProblem(
        'INCIDENT',
        `INCIDENT ${JSON.stringify(incidentId)}: expected an incident id as the watchdog gives them, e.g. orders-enrichment-0123456789abcdef (flink-watchdog history lists them; Slack messages name them)`,
      ),
    );
  }
  const waitSeconds = opts.waitSeconds === undefined ? DEFAULT_WAIT_SECONDS : Number(opts.waitSeconds);
  if (!Number.isFinite(waitSeconds) || waitSeconds < 0 || waitSeconds > 3600) {
    out.problems.push(
      usageProblem('--wait-seconds', `--wait-seconds ${opts.waitSeconds}: expected a number of seconds from 0 to 3600`),
    );
  }
  if (opts.topic !== undefined && !SNS_TOPIC_ARN.test(opts.topic)) {
    out.problems.push(usageProblem('--topic', `--topic ${opts.topic}: expected an SNS topic ARN`));
  }
  const preliminary = buildApprovalCommand(
    command,
    INCIDENT_ID_PATTERN.test(incidentId) ? incidentId : 'x-0000000000000000',
    {
      requestedBy: 'caller identity',
      ...(opts.reason === undefined ? {} : { reason: opts.reason }),
    },
  );
  if ('problems' in preliminary) out.problems.push(...preliminary.problems);
  if (out.problems.length > 0) return finish();

  let topicArn: string | undefined;
  let table: string | undefined;
  try {
    const stack = await stackOf(opts, aws);
    topicArn = pickResource(opts.topic, stack, 'CommandTopicArn', '--topic', env.COMMAND_TOPIC_ARN, true);
    table = pickResource(opts.table, stack, 'LedgerTableName', '--table', env.LEDGER_TABLE_NAME, false);
  } catch (e) {
    out.problems.push(stackProblem(e, opts.stack));
    return finish();
  }
  if (!topicArn) {
    out.problems.push(
      usageProblem(
        '--topic',
        'no command topic: pass --topic ARN or --stack NAME (the watchdog stack), or set COMMAND_TOPIC_ARN',
      ),
    );
    return finish();
  }
  if (!SNS_TOPIC_ARN.test(topicArn)) {
    out.problems.push(usageProblem('--topic', `command topic ${topicArn}: expected an SNS topic ARN`));
    return finish();
  }

  // The incident, when the ledger is known: refuse early what the watchdog would refuse.
  const clock = deps.clock ?? (await commandClock(env));
  const ledger = deps.ledger ?? (table ? await ledgerFor(table, aws) : undefined);
  let incident: Incident | undefined;
  if (ledger) {
    let read = true;
    try {
      incident = await ledger.getIncident(incidentId);
    } catch (e) {
      read = false;
      const p = awsProblem('ledger', undefined, e);
      out.notes.push(
        `the incident could not be read from the ledger (${p.message}); the watchdog checks it when it gets the answer`,
      );
    }
    if (read && incident === undefined) {
      out.problems.push({
        kind: 'aws',
        location: 'ledger',
        message: `incident ${incidentId} is not in the ledger${table ? ` table ${table}` : ''}: nothing published (flink-watchdog history lists the incidents)`,
      });
      return finish();
    }
  } else {
    out.notes.push(
      'no ledger table (--table, --stack or LEDGER_TABLE_NAME): the incident was not checked before publishing',
    );
  }
  if (incident) {
    out.application = incident.applicationName;
    const action = incident.approval?.action;
    if (action) out.action = describeRemediation(action);
    out.approvalState = incident.approval?.state;
    const why = notAwaitingApproval(incident, clock.now());
    if (why) {
      out.problems.push({
        kind: 'aws',
        location: 'ledger',
        address: incident.applicationName,
        message: `${why}: nothing published`,
      });
      return finish();
    }
  }

  // The approver recorded is always the caller's own identity, never a name given by hand.
  let requestedBy: string;
  try {
    requestedBy = await callerIdentityArn(aws, deps.sts);
  } catch (e) {
    const p = awsProblem('sts', undefined, e);
    out.problems.push({
      ...p,
      message: `your identity could not be looked up (STS GetCallerIdentity: ${p.message}): the approver recorded is always your own AWS identity, so nothing was published. Check your credentials, --profile and --region.`,
    });
    return finish();
  }
  const built = buildApprovalCommand(command, incidentId, {
    requestedBy,
    ...(opts.reason === undefined ? {} : { reason: opts.reason }),
    ...(incident ? { application: incident.applicationName } : {}),
  });
  if ('problems' in built) {
    out.problems.push(...built.problems);
    return finish();
  }
  const message = built.command;
  const attributes: Record<string, string> = {
    command: message.command,
    ...(message.application === undefined ? {} : { application: message.application }),
  };
  const verb = command === 'approve' ? 'Approve' : 'Reject';
  say(
    `${bold(`${verb}:`)} incident ${incidentId}${incident ? ` (${incident.applicationName}${out.action ? `: ${out.action}` : ''})` : ''}, by ${message.requestedBy}${message.reason ? `: ${message.reason}` : ''}`,
  );

  const publisher = deps.publisher ?? new SnsCommandPublisher(new SNSClient(aws));
  let messageId: string;
  try {
    messageId = await publisher.publish(topicArn, JSON.stringify(message), attributes);
  } catch (e) {
    const p = awsProblem('sns', undefined, e);
    out.problems.push({ ...p, message: `SNS Publish to ${topicArn} failed: ${p.message}` });
    return finish();
  }
  out.published = { topicArn, messageId, message, attributes };
  const follow = incident ? `flink-watchdog history --app ${incident.applicationName}` : 'flink-watchdog history';
  say(
    `Published ${command} to ${topicArn} (MessageId ${messageId}: recorded with the answer, to match CloudTrail's record of your Publish); follow the incident with: ${follow}`,
  );

  if (!ledger) {
    out.outcome = 'unknown';
    return finish();
  }
  if (waitSeconds === 0) {
    out.outcome = 'pending';
    return finish();
  }
  // Wait for the watchdog to record the answer (or someone else's first).
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const rounds = Math.max(1, Math.ceil(waitSeconds / POLL_SECONDS));
  const decision = command === 'approve' ? 'APPROVED' : 'REJECTED';
  for (let i = 0; i < rounds; i++) {
    await sleep(POLL_SECONDS * 1000);
    let seen: Incident | undefined;
    try {
      seen = await ledger.getIncident(incidentId);
    } catch {
      continue; // a read that fails while waiting is retried; the answer is published either way
    }
    const a = seen?.approval;
    if (!a || a.state === 'PENDING') continue;
    out.approvalState = a.state;
    if (a.answer) out.answeredBy = `${a.answer.by} via ${a.answer.via}`;
    const mine = a.state === decision && a.answer?.by === message.requestedBy && a.answer.via === 'cli';
    out.outcome = mine ? 'recorded' : 'other';
    if (mine) {
      say(
        `${green('✓')} ${decision} recorded on incident ${incidentId}${command === 'approve' ? ': the watchdog checks every guard again on a fresh DescribeApplication, then acts' : ': the incident is escalated, no MSF call is made'}.`,
      );
      return finish(EXIT_CODES.ok);
    }
    out.problems.push({
      kind: 'aws',
      location: 'ledger',
      address: seen?.applicationName ?? incidentId,
      message: `the approval request of incident ${incidentId} ended as ${a.state}${out.answeredBy ? ` (${out.answeredBy})` : ''} before your answer was taken`,
    });
    say(`${red('✗')} ${out.problems.at(-1)?.message}`);
    return finish();
  }
  out.outcome = 'pending';
  say(
    `${yellow('…')} ${dim(`the answer is not recorded on the incident yet (waited ${waitSeconds} s): the watchdog may still be handling it; ${follow}`)}`,
  );
  return finish(EXIT_CODES.ok);
}
