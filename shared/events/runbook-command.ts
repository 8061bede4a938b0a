import { APPLICATION_KEY_MAX_LENGTH } from '#shared/domain/app-key.ts';
import * as z from '#shared/zod.ts';

/**
 * Runbook commands: what a person (or a runbook) publishes to the watchdog's command topic (SNS) to have it act on one
 * MSF application through the same remediation workflow and guards as automatic remediation.
 */

/** The commands that act on one MSF application (`application` names it). */
export const APPLICATION_COMMANDS = [
  'force-stop',
  'restart-from-snapshot',
  'rollback',
  'start',
  'stop',
  'snapshot',
  'pause-automation',
  'resume-automation',
] as const;
export type ApplicationCommandName = (typeof APPLICATION_COMMANDS)[number];

/**
 * The commands that answer an approval request (approve mode): they name the incident awaiting approval
 * (`incidentId`), whose record names its application; they make no MSF call.
 */
export const APPROVAL_COMMANDS = ['approve', 'reject'] as const;
export type ApprovalCommandName = (typeof APPROVAL_COMMANDS)[number];

/** The commands the command topic accepts. */
export const RUNBOOK_COMMANDS = [...APPLICATION_COMMANDS, ...APPROVAL_COMMANDS] as const;
export type RunbookCommandName = (typeof RUNBOOK_COMMANDS)[number];

/** Whether `name` answers an approval request (`approve`, `reject`). */
export function isApprovalCommandName(name: string): name is ApprovalCommandName {
  return (APPROVAL_COMMANDS as readonly string[]).includes(name);
}

/**
 * An incident id as the ledger makes them (shared/domain/incident.ts `incidentId`): the ApplicationName with every
 * character outside `[A-Za-z0-9-_]` replaced by `-`, cut to 50, then `-` and 16 lowercase hex digits.
 */
export const INCIDENT_ID_PATTERN = /^[A-Za-z0-9_-]{1,50}-[0-9a-f]{16}$/;

/** Who relayed an approval answer sent as a command: the CLI (`flink-watchdog approve`) or an Amazon Q custom action. */
export const APPROVAL_COMMAND_CHANNELS = ['cli', 'amazon-q'] as const;

/** Longest `reason`, characters as sent. */
export const MAX_REASON_CHARS = 1024;

/** `snapshot` keywords of `restart-from-snapshot`; any other value names a snapshot (`SnapshotName`). */
export const SNAPSHOT_KEYWORDS = ['latest', 'last-known-good'] as const;

/** Longest `Sns.Message` read, characters: a command is well under 2 KB, anything bigger is not one. */
export const MAX_COMMAND_MESSAGE_CHARS = 8192;

/** A type error message: `required` when the field is missing, else what was expected. */
function expected(what: string): (issue: { input?: unknown }) => string {
  return (issue) => (issue.input === undefined ? 'required' : `expected ${what}`);
}

/**
 * An application key (shared/domain/app-key.ts): an MSF `ApplicationName` (1-128 of `[a-zA-Z0-9_.-]`), or
 * `NAME@ACCOUNT.REGION` for an application in a member account.
 */
const ApplicationName = z
  .string({ error: expected('an MSF application name (a string)') })
  .check(
    z.minLength(1, 'must not be empty'),
    z.maxLength(
      APPLICATION_KEY_MAX_LENGTH,
      'must be at most 128 characters (MSF ApplicationName) plus @ACCOUNT.REGION',
    ),
    z.regex(
      /^[a-zA-Z0-9_.-]{1,128}(?:@\d{12}\.[a-z]{2}(?:-[a-z]+)+-\d+)?$/,
      'MSF application names use [a-zA-Z0-9_.-] (at most 128; NAME@ACCOUNT.REGION for an application in a member account)',
    ),
  );

/** `latest`, `last-known-good`, or an MSF `SnapshotName` (1-256 of `[a-zA-Z0-9_.-]`). */
const SnapshotChoice = z
  .string({ error: expected('"latest", "last-known-good" or a snapshot name (a string)') })
  .check(
    z.minLength(1, 'must not be empty'),
    z.maxLength(256, 'must be at most 256 characters (MSF SnapshotName)'),
    z.regex(/^[a-zA-Z0-9_.-]+$/, 'MSF snapshot names use [a-zA-Z0-9_.-]'),
  );

/** `requestedBy` and `reason` are trimmed after their length is checked: the limit counts what was sent. */
const RequestedBy = z
  .string({ error: expected('who requests the command (a string)') })
  .check(z.maxLength(256, 'must be at most 256 characters'), z.trim(), z.minLength(1, 'must not be empty'));
const Reason = z
  .string({ error: expected('why the command is requested (a string)') })
  .check(
    z.maxLength(MAX_REASON_CHARS, `must be at most ${MAX_REASON_CHARS} characters`),
    z.trim(),
    z.minLength(1, 'must not be empty'),
  );
const IncidentId = z
  .string({ error: expected('an incident id (a string)') })
  .check(
    z.regex(
      INCIDENT_ID_PATTERN,
      'expected an incident id as the watchdog gives them, e.g. orders-enrichment-0123456789abcdef (flink-watchdog history lists them)',
    ),
  );

/** The message as parsed, before it is narrowed to {@link ApplicationCommand} or {@link ApprovalCommand}. */
const CommandMessage = z
  .strictObject({
    command: z.enum(RUNBOOK_COMMANDS, {
      error: (issue) =>
        issue.input === undefined
          ? `required: one of ${RUNBOOK_COMMANDS.join(', ')}`
          : `unknown command ${JSON.stringify(issue.input)}: expected one of ${RUNBOOK_COMMANDS.join(', ')}`,
    }),
    application: z.optional(ApplicationName),
    incidentId: z.optional(IncidentId),
    via: z.optional(
      z.enum(APPROVAL_COMMAND_CHANNELS, { error: `expected one of ${APPROVAL_COMMAND_CHANNELS.join(', ')}` }),
    ),
    snapshot: z.optional(SnapshotChoice),
    requestedBy: RequestedBy,
    reason: z.optional(Reason),
    dryRun: z._default(z.boolean({ error: expected('true or false') }), true),
  })
  .check(
    z.superRefine((c, ctx) => {
      const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
      if (c.snapshot !== undefined && c.command !== 'restart-from-snapshot') {
        issue('snapshot', `only allowed with command restart-from-snapshot (got command ${c.command})`);
      }
      if (isApprovalCommandName(c.command)) {
        if (c.incidentId === undefined) {
          issue('incidentId', `required with command ${c.command}: the id of the incident awaiting approval`);
        }
        if (c.command === 'reject' && c.reason === undefined) {
          issue('reason', 'required with command reject: why the remediation is rejected');
        }
      } else {
        if (c.application === undefined) issue('application', 'required');
        if (c.reason === undefined) issue('reason', 'required');
        if (c.incidentId !== undefined) {
          issue('incidentId', `only allowed with command approve or reject (got command ${c.command})`);
        }
        if (c.via !== undefined) issue('via', `only allowed with command approve or reject (got command ${c.command})`);
      }
    }),
  );

/** What every command carries. */
interface CommandCommon {
  /** Who asks (at most 256 characters as sent, not blank; trimmed), recorded on the incident and told. */
  requestedBy: string;
  /** Only report what would be done. @default true */
  dryRun: boolean;
}

/** A command that acts on one application (see {@link APPLICATION_COMMANDS}). */
export interface ApplicationCommand extends CommandCommon {
  command: ApplicationCommandName;
  /** The MSF `ApplicationName` (or `NAME@ACCOUNT.REGION`). */
  application: string;
  /** `restart-from-snapshot` only: `latest`, `last-known-good` or a `SnapshotName`. */
  snapshot?: string;
  /** Why (at most 1024 characters as sent, not blank; trimmed). */
  reason: string;
}

/** An answer to an approval request (see {@link APPROVAL_COMMANDS}). */
export interface ApprovalCommand extends CommandCommon {
  command: ApprovalCommandName;
  /** The incident awaiting approval (ledger incident id, {@link INCIDENT_ID_PATTERN}). */
  incidentId: string;
  /** When given, must be the incident's application: a check that the right incident is answered. */
  application?: string;
  /** Why; required to reject (at most 1024 characters as sent, not blank; trimmed). */
  reason?: string;
  /** Who relayed the answer. @default 'cli' */
  via?: (typeof APPROVAL_COMMAND_CHANNELS)[number];
}

/**
 * One command message (the JSON `Message` of an SNS notification on the command topic). Strict: unknown keys are
 * rejected, so a misspelt `dryrun` can never silently fall back to a default.
 *
 * - `command`: what to do (see {@link RUNBOOK_COMMANDS}).
 * - `application`: the MSF `ApplicationName`; required, except with `approve` / `reject` (the incident names its
 *   application; when given it must be that one).
 * - `incidentId`: only with `approve` / `reject`, and required there: the incident awaiting approval.
 * - `via`: only with `approve` / `reject`: `cli` (the default) or `amazon-q` (an Amazon Q Developer custom action).
 * - `snapshot`: only with `restart-from-snapshot`: `latest` (RESTORE_FROM_LATEST_SNAPSHOT), `last-known-good` (the
 *   newest READY snapshot of the running version), or a snapshot name (RESTORE_FROM_CUSTOM_SNAPSHOT; it must exist and
 *   be READY). A snapshot literally named `latest` or `last-known-good` is read as the keyword. When absent, the
 *   application's policy `restoreFrom` decides.
 * - `requestedBy`: who asks (at most 256 characters as sent, not blank), recorded on the incident and told in every
 *   notification; for `approve` / `reject`, recorded as the approver, with the message's SNS `MessageId`. It is what
 *   the publisher wrote (SNS does not tell the subscriber who published): `flink-watchdog approve` / `reject` always
 *   write the caller's STS identity, and CloudTrail's record of the Publish names the real publisher.
 * - `reason`: why (at most 1024 characters as sent, not blank); required, except with `approve` (optional there).
 * - `dryRun`: @default true — safe by default: a command that does not say `"dryRun": false` only reports what it
 *   would have done (after a fresh DescribeApplication and the same guards; for `approve` / `reject`, after reading
 *   the incident), and changes nothing.
 */
export const RunbookCommand = z.pipe(
  CommandMessage,
  z.transform((c): RunbookCommand => c as RunbookCommand),
);
/** A validated command; `dryRun` is always set. */
export type RunbookCommand = ApplicationCommand | ApprovalCommand;

/** Whether `command` answers an approval request. */
export function isApprovalCommand(command: RunbookCommand): command is ApprovalCommand {
  return isApprovalCommandName(command.command);
}

/** One SNS message attribute as Lambda delivers it (`Sns.MessageAttributes`). */
const SnsMessageAttribute = z.object({ Type: z.string(), Value: z.string() });

/** The part of an SNS Lambda event record the watchdog reads (`Records[].Sns`); other fields are ignored. */
const SnsRecord = z.object({
  EventSource: z.optional(z.literal('aws:sns')),
  Sns: z.object({
    MessageId: z.string().check(z.minLength(1)),
    TopicArn: z.string().check(z.minLength(1)),
    Message: z.string(),
    MessageAttributes: z.optional(z.record(z.string(), SnsMessageAttribute)),
  }),
});

/** An SNS Lambda event: one or more records. */
const SnsEvent = z.object({ Records: z.array(z.unknown()).check(z.minLength(1)) });

/**
 * Message attributes that, when present, must agree with the message body. They exist so subscribers of the command
 * topic can route with filter policies; an attribute saying one thing and the body another is rejected.
 */
export const COMMAND_ATTRIBUTES = ['command', 'application'] as const;

/** One record of the event: a command with where it came from, or why it was rejected. */
export type ParsedRunbookRecord =
  | {
      ok: true;
      /** `Sns.MessageId`: SNS keeps it on redelivery, so it identifies the command. */
      messageId: string;
      /** `Sns.TopicArn`: the topic the command was published to (authorisation checks it). */
      topicArn: string;
      command: RunbookCommand;
    }
  | { ok: false; messageId?: string; topicArn?: string; error: string };

/** Result of reading an SNS event: its records, or why the whole event was rejected. */
export type ParsedRunbookEvent = { ok: true; records: ParsedRunbookRecord[] } | { ok: false; error: string };

/**
 * Reads an SNS Lambda event (`Records[].Sns`) of the command topic. Each record is read on its own: its `Message` must
 * be JSON matching {@link RunbookCommand}, and the `command`/`application` message attributes, when present, must agree
 * with it. Malformed JSON, unknown commands, missing or oversized fields give `ok: false` with an error naming the
 * field (e.g. `Records[0].Sns.Message.requestedBy: must not be empty`). Never throws; calls nothing.
 */
export function parseRunbookEvent(event: unknown): ParsedRunbookEvent {
  const envelope = SnsEvent.safeParse(event);
  if (!envelope.success) {
    return { ok: false, error: `not an SNS event: ${formatIssues(envelope.error, '')}` };
  }
  return { ok: true, records: envelope.data.Records.map((r, i) => parseRunbookRecord(r, i)) };
}

/** Reads one SNS record (see {@link parseRunbookEvent}); `index` only names the record in errors. */
export function parseRunbookRecord(record: unknown, index = 0): ParsedRunbookRecord {
  const at = `Records[${index}]`;
  const r = SnsRecord.safeParse(record);
  if (!r.success) return { ok: false, error: `malformed SNS record: ${formatIssues(r.error, at)}` };
  const { MessageId: messageId, TopicArn: topicArn, Message: message, MessageAttributes: attributes } = r.data.Sns;
  const from = { messageId, topicArn };
  if (message.length > MAX_COMMAND_MESSAGE_CHARS) {
    return {
      ok: false,
      ...from,
      error: `${at}.Sns.Message: ${message.length} characters, more than the ${MAX_COMMAND_MESSAGE_CHARS} a command may have`,
    };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(message);
  } catch (e) {
    return { ok: false, ...from, error: `${at}.Sns.Message: not JSON (${(e as Error).message})` };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return {
      ok: false,
      ...from,
      error: `${at}.Sns.Message: expected a JSON object with command and application (or incidentId)`,
    };
  }
  const c = RunbookCommand.safeParse(raw);
  if (!c.success) return { ok: false, ...from, error: formatIssues(c.error, `${at}.Sns.Message`) };
  for (const name of COMMAND_ATTRIBUTES) {
    const attribute = attributes?.[name];
    const body = name === 'command' ? c.data.command : c.data.application;
    if (attribute !== undefined && attribute.Value !== body) {
      return {
        ok: false,
        ...from,
        error: `${at}.Sns.MessageAttributes.${name}: ${JSON.stringify(attribute.Value)} disagrees with the message's ${name} ${body === undefined ? '(none)' : JSON.stringify(body)}`,
      };
    }
  }
  return { ok: true, ...from, command: c.data };
}

function formatIssues(error: z.core.$ZodError, prefix: string): string {
  return error.issues
    .map((i) => {
      const keys = i.code === 'unrecognized_keys' ? i.keys : [undefined];
      return keys
        .map((key) => {
          const path = [...i.path, ...(key === undefined ? [] : [key])]
            .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
            .join('');
          const where = `${prefix}${path}`.replace(/^\./, '') || '(root)';
          return key === undefined ? `${where}: ${i.message}` : `${where}: unknown key`;
        })
        .join('; ');
    })
    .join('; ');
}
