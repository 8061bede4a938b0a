import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { STSClient } from '@aws-sdk/client-sts';
import { MsfAdapter } from '#shared/adapters/msf.ts';
import type { Clock } from '#shared/clock.ts';
import { policyFor, type WatchdogConfig } from '#shared/config/schema.ts';
import { describeRemediation, type GuardResult, type RemediationAction } from '#shared/domain/decision.ts';
import { type Incident, TERMINAL_STATUSES } from '#shared/domain/incident.ts';
import type { ApplicationObservation, ApplicationSnapshot, ApplicationStatus } from '#shared/domain/model.ts';
import {
  planRunbookCommand,
  type RunbookHistory,
  runbookIncidentId,
  waitingNotActing,
} from '#shared/domain/runbook.ts';
import { resolveScope } from '#shared/domain/scope.ts';
import {
  APPLICATION_COMMANDS,
  type ApplicationCommand,
  isApprovalCommandName,
  RunbookCommand,
  type RunbookCommandName,
} from '#shared/events/runbook-command.ts';
import type { Ledger } from '#shared/ports/ledger.ts';
import { MsfApiError, type MsfPort } from '#shared/ports/msf.ts';
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
  loadConfig,
  type OutputOptions,
  pickResource,
  resolveOutput,
  type StackOptions,
  stackOf,
  stackProblem,
  textLine,
  usageProblem,
} from './context.ts';
import { bold, dim, green, red, utcTime } from './format.ts';

/**
 * Exit codes of `flink-watchdog remediate` (the CLI's {@link EXIT_CODES}): 0 the dry run would be carried out, or the
 * executed command reached its target; 1 an error (config, stack, an AWS call), or the executed command did not reach
 * its target (timeout, rejected by the watchdog, refused by the local preflight); 2 the dry run would be rejected by
 * the watchdog's guards; 64 a usage error (a bad or missing option: `--action`, `--reason` with `--execute`, no
 * command topic, ...), found before any AWS call.
 */
export const REMEDIATE_EXIT_CODES = {
  ok: EXIT_CODES.ok,
  error: EXIT_CODES.error,
  wouldReject: EXIT_CODES.found,
  usage: EXIT_CODES.usage,
} as const;

/** `--poll-seconds` when not given: seconds between two DescribeApplication calls while waiting. */
export const DEFAULT_POLL_SECONDS = 5;
/** `--timeout-minutes` when not given: how long `--execute` waits for the target status. */
export const DEFAULT_TIMEOUT_MINUTES = 20;

/**
 * The `ApplicationStatus` an executed command waits for. Commands absent here (snapshot, pause-automation,
 * resume-automation) change no status: the CLI waits for the watchdog's answer in the ledger instead, when it has a
 * ledger table.
 */
export const TARGET_STATUS: Readonly<Partial<Record<RunbookCommandName, ApplicationStatus>>> = {
  start: 'RUNNING',
  'restart-from-snapshot': 'RUNNING',
  rollback: 'RUNNING',
  stop: 'READY',
  'force-stop': 'READY',
};

/** Commands whose usual starting status is their target: reaching it counts only after a change was seen. */
const TRANSITION_REQUIRED: ReadonlySet<RunbookCommandName> = new Set(['restart-from-snapshot', 'rollback']);

/** Options of `flink-watchdog remediate` (commander's parsed flags; numbers arrive as strings). */
export interface RemediateOptions extends OutputOptions, AwsOptions, StackOptions {
  /** One of {@link APPLICATION_COMMANDS} (approve and reject have commands of their own). */
  action: string;
  /** Only with restart-from-snapshot: `latest`, `last-known-good` or a SnapshotName. @default the policy's restoreFrom */
  snapshot?: string;
  /** Why (1-1024 characters); required with `--execute`. */
  reason?: string;
  /**
   * Who asks, recorded on the incident and told in every notification.
   * @default with `--execute`, the caller's identity: STS GetCallerIdentity `Arn` with `--region` / `--profile`
   */
  requestedBy?: string;
  /** Publish the command instead of a dry run. @default false */
  execute?: boolean;
  /**
   * The watchdog's command topic (SNS).
   * @default the `--stack`'s CommandTopicArn Output, else env COMMAND_TOPIC_ARN; required with `--execute`
   */
  topic?: string;
  /** Watchdog config, for the scope and the policy's `restoreFrom` (same lookup as `flink-watchdog drift`). */
  config?: string;
  /**
   * The ledger table, for the lock guard and, with `--execute`, the watchdog's answer.
   * @default the `--stack`'s LedgerTableName Output, else env LEDGER_TABLE_NAME; without any, the lock guard is
   *   shown as not checked
   */
  table?: string;
  /** Seconds between two DescribeApplication calls while waiting (> 0, fractions allowed). @default 5 */
  pollSeconds?: string;
  /** How long to wait for the target status, minutes (> 0). @default 20 */
  timeoutMinutes?: string;
}

/**
 * One guard of the plan. `passed`: true or false when this preflight checked it; null when it did not (`status`
 * `not checked`: e.g. the lock without a ledger table, which the watchdog checks when it carries the command out) or
 * when the guard does not apply to a human command (`not applied`: attempts and cooldown limit automation only).
 * `detail` says what was seen, or why it was not checked.
 */
export interface PlanGuard {
  name: GuardResult['name'];
  passed: boolean | null;
  status: 'passed' | 'failed' | 'not checked' | 'not applied';
  detail: string;
}

/** A domain guard result as a plan guard: `not applied` when its detail says so (attempts, cooldown). */
function planGuard(g: GuardResult): PlanGuard {
  if (/^not applied\b/.test(g.detail)) return { name: g.name, passed: null, status: 'not applied', detail: g.detail };
  return { name: g.name, passed: g.passed, status: g.passed ? 'passed' : 'failed', detail: g.detail };
}

/** The plan, as the watchdog's runbook handler would make it from the same observation. */
export interface RemediatePlan {
  /** `would-act`: every guard passes; `rejected`: the watchdog would answer REJECTED (see `detail`). */
  verdict: 'would-act' | 'rejected';
  /** What would be done (`planRunbookCommand`'s detail), or why it would be rejected. */
  detail: string;
  /** The remediation workflow's action, for commands carried out by the workflow. */
  action?: RemediationAction;
  /** Guards in the handler's order: in-scope first, then `planRunbookCommand`'s. */
  guards: PlanGuard[];
  /**
   * `--snapshot last-known-good` resolved: the newest READY snapshot of the running application version, as the
   * watchdog's last-known-good rule picks it (`chooseRestore`); `--execute` publishes this SnapshotName so the
   * watchdog restores exactly the snapshot planned here.
   */
  lastKnownGood?: { snapshotName: string; versionId: number; createdAt?: string };
  /** Exact commands a human could run instead (AWS CLI), when rejected. */
  nextSteps: string[];
  /** Caveats: what this preflight could not check. */
  notes: string[];
}

/** What `--execute` published. */
export interface PublishedCommand {
  topicArn: string;
  /** SNS `MessageId`: the watchdog derives the incident id from it. */
  messageId: string;
  /** The ledger incident the watchdog records the command under (`runbookIncidentId(application, messageId)`). */
  incidentId: string;
  /** The message body (a {@link RunbookCommand} with `dryRun: false`). */
  message: ApplicationCommand;
  /** Message attributes `command` and `application` (String), for the topic's filter policies. */
  attributes: { command: string; application: string };
}

/** How waiting after `--execute` ended. */
export interface RemediateProgress {
  /** The awaited `ApplicationStatus`, or null for commands that change none (the ledger answer is awaited). */
  target: ApplicationStatus | null;
  /**
   * `reached`: the application is at `target`; `answered`: the watchdog recorded a RESOLVED answer; `published`:
   * nothing to wait for (no target and no ledger table); `rejected`: the watchdog's incident closed without success;
   * `timeout`; `failed`: DescribeApplication failed for good.
   */
  outcome: 'reached' | 'answered' | 'published' | 'rejected' | 'timeout' | 'failed';
  /** A sentence saying what happened. */
  reason: string;
  /** Last `ApplicationStatus` seen. */
  finalStatus?: ApplicationStatus;
  /** Every status (and incident status) change seen, epoch ms. */
  changes: Array<{ atMs: number; status: string }>;
}

/** The `--json` output of `flink-watchdog remediate`. */
export interface RemediateJson {
  application: string;
  command: string;
  dryRun: boolean;
  /** Absent when the options, the config or a read failed before planning. */
  plan?: RemediatePlan;
  published?: PublishedCommand;
  progress?: RemediateProgress;
  /** What went wrong; non-empty means exit code 1. */
  problems: CliProblem[];
}

/** Publishes one message to an SNS topic (SNS Publish). */
export interface CommandPublisher {
  /**
   * @returns the SNS `MessageId`.
   * @throws the SDK's error (AuthorizationErrorException, NotFoundException, ...).
   */
  publish(topicArn: string, message: string, attributes: Record<string, string>): Promise<string>;
}

/** Adapters {@link remediateCommand} uses; each defaults to the AWS SDK one with `--region` / `--profile`. */
export interface RemediateDeps {
  msf?: MsfPort;
  /** Built from `--table` / the stack's Output / LEDGER_TABLE_NAME when absent. */
  ledger?: Ledger;
  publisher?: CommandPublisher;
  /** For the default `--requested-by` (GetCallerIdentity). */
  sts?: STSClient;
  clock?: Clock;
  /** Waits `ms` milliseconds. @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
  env?: NodeJS.ProcessEnv;
  /** Where progress goes. @default stdout, or stderr with `--json` */
  progressStream?: NodeJS.WriteStream;
}

/** SNS Publish through @aws-sdk/client-sns, with String message attributes. */
export class SnsCommandPublisher implements CommandPublisher {
  readonly #client: SNSClient;

  constructor(client: SNSClient = new SNSClient({})) {
    this.#client = client;
  }

  async publish(topicArn: string, message: string, attributes: Record<string, string>): Promise<string> {
    const out = await this.#client.send(
      new PublishCommand({
        TopicArn: topicArn,
        Message: message,
        MessageAttributes: Object.fromEntries(
          Object.entries(attributes).map(([k, v]) => [k, { DataType: 'String', StringValue: v }]),
        ),
      }),
    );
    return out.MessageId ?? '';
  }
}

/** The flag a command field comes from, for error messages. */
const FLAG_OF: Record<string, string> = {
  command: '--action',
  application: 'APP',
  snapshot: '--snapshot',
  requestedBy: '--requested-by',
  reason: '--reason',
};

function optionProblem(message: string, location = 'options'): CliProblem {
  return usageProblem(location, message);
}

/** An SNS topic ARN (`arn:PARTITION:sns:REGION:ACCOUNT:NAME`). */
const SNS_TOPIC_ARN = /^arn:[^:]+:sns:[^:]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;

/** A positive finite number from a flag, or a problem naming it. */
function positive(raw: string | undefined, fallback: number, flag: string): number | CliProblem {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  return Number.isFinite(n) && n > 0 ? n : optionProblem(`${flag} must be a positive number, got ${raw}`, flag);
}

/**
 * Builds the command from the flags and validates it with the command topic's own schema ({@link RunbookCommand}),
 * so a published command is never malformed. A dry run fills `requestedBy` and `reason` when they are not given.
 * @returns the command, or one problem per invalid or missing flag (with `--execute`: `--reason`, `--requested-by`).
 */
export function buildCommand(
  app: string,
  opts: RemediateOptions,
): { command: ApplicationCommand } | { problems: CliProblem[] } {
  const problems: CliProblem[] = [];
  if (!(APPLICATION_COMMANDS as readonly string[]).includes(opts.action)) {
    problems.push(
      optionProblem(
        isApprovalCommandName(opts.action)
          ? `--action ${opts.action}: approval requests are answered with flink-watchdog ${opts.action} INCIDENT${opts.action === 'reject' ? ' --reason TEXT' : ''}`
          : `--action ${JSON.stringify(opts.action)}: expected one of ${APPLICATION_COMMANDS.join(', ')}`,
        '--action',
      ),
    );
    return { problems };
  }
  if (opts.execute) {
    if (opts.reason === undefined || opts.reason.trim() === '') {
      problems.push(
        optionProblem('--reason TEXT is required with --execute (it is recorded and notified)', '--reason'),
      );
    }
    if (opts.requestedBy === undefined || opts.requestedBy.trim() === '') {
      problems.push(
        optionProblem(
          '--requested-by WHO is required with --execute (flink-watchdog remediate fills it with your STS caller identity)',
          '--requested-by',
        ),
      );
    }
    if (problems.length > 0) return { problems };
  }
  const parsed = RunbookCommand.safeParse({
    command: opts.action,
    application: app,
    ...(opts.snapshot === undefined ? {} : { snapshot: opts.snapshot }),
    requestedBy: opts.requestedBy ?? 'flink-watchdog CLI (dry run)',
    reason: opts.reason ?? 'dry run',
    dryRun: !opts.execute,
  });
  // --action is an application command (checked above), so the message is one.
  if (parsed.success) return { command: parsed.data as ApplicationCommand };
  for (const issue of parsed.error.issues) {
    const field = String(issue.path[0] ?? '');
    const flag = FLAG_OF[field] ?? (field || 'options');
    problems.push(optionProblem(`${flag}: ${issue.message}`, flag));
  }
  return { problems };
}

/** READY snapshots of application version `versionId`, newest first. */
function readyOfVersion(snapshots: readonly ApplicationSnapshot[], versionId: number): ApplicationSnapshot[] {
  return snapshots
    .filter((s) => s.status === 'READY' && s.versionId === versionId)
    .sort((a, b) => (b.createdMs ?? 0) - (a.createdMs ?? 0));
}

/**
 * `--snapshot last-known-good` against an observation, by the watchdog's last-known-good rule (`chooseRestore` with
 * the command's time): the newest READY snapshot of the running `ApplicationVersionId`.
 * @returns the snapshot, or why it cannot be honoured: no READY snapshot of the running version (the watchdog would
 *   then fall back to the latest snapshot of another version, which is not what was asked for).
 */
export function resolveLastKnownGood(
  obs: ApplicationObservation,
): { ok: true; snapshot: ApplicationSnapshot } | { ok: false; reason: string } {
  const app = obs.application;
  if (!app) return { ok: false, reason: `${obs.applicationName} could not be described` };
  const [good] = readyOfVersion(obs.snapshots, app.versionId);
  if (good) return { ok: true, snapshot: good };
  const others = obs.snapshots
    .filter((s) => s.status === 'READY')
    .sort((a, b) => (b.createdMs ?? 0) - (a.createdMs ?? 0));
  const latest = others[0];
  return {
    ok: false,
    reason:
      `${obs.applicationName} has no READY snapshot of its running version ${app.versionId}, so there is no last-known-good snapshot` +
      (latest
        ? ` (the latest READY snapshot, ${latest.name}, is of version ${latest.versionId}: pass --snapshot latest or --snapshot ${latest.name} to restore it)`
        : ' (it has no READY snapshot at all)'),
  };
}

/** What {@link preflight} found: the plan and the command to publish (with last-known-good resolved to a name). */
type Preflight =
  | { plan: RemediatePlan; command: ApplicationCommand; obs?: ApplicationObservation }
  | { problem: CliProblem };

/** Reads MSF and the ledger as the runbook handler does, then plans with {@link planRunbookCommand}. */
async function preflight(
  requested: ApplicationCommand,
  config: WatchdogConfig,
  msf: MsfPort,
  ledger: Ledger | undefined,
  nowMs: number,
): Promise<Preflight> {
  let command = requested;
  const name = command.application;
  const notes: string[] = [];
  let scopeGuard: GuardResult;
  try {
    const scope = await resolveScope(name, { msf, config });
    scopeGuard = { name: 'in-scope', passed: scope.inScope, detail: scope.reason };
  } catch (e) {
    return { problem: awsProblem('msf', name, e) };
  }
  if (!scopeGuard.passed) {
    const detail = `${name} is not watched (${scopeGuard.detail}): the watchdog never touches it.`;
    return { plan: { verdict: 'rejected', detail, guards: [planGuard(scopeGuard)], nextSteps: [], notes }, command };
  }
  const c = command.command;
  if (c === 'pause-automation' || c === 'resume-automation') {
    const detail = `${c === 'pause-automation' ? 'pause' : 'resume'} automatic remediation of ${name} (MSF is not called)`;
    return { plan: { verdict: 'would-act', detail, guards: [planGuard(scopeGuard)], nextSteps: [], notes }, command };
  }

  let obs: ApplicationObservation;
  try {
    const [application, operations, snapshots] = await Promise.all([
      msf.describeApplication(name),
      msf.listOperations(name),
      msf.listSnapshots(name),
    ]);
    obs = { applicationName: name, atMs: nowMs, application, operations, snapshots, errors: [] };
  } catch (e) {
    return { problem: awsProblem('msf', name, e) };
  }

  let lastKnownGood: RemediatePlan['lastKnownGood'];
  if (c === 'restart-from-snapshot' && command.snapshot === 'last-known-good') {
    const good = resolveLastKnownGood(obs);
    if (!good.ok) {
      const guard: PlanGuard = { name: 'snapshot-exists', passed: false, status: 'failed', detail: good.reason };
      return {
        plan: {
          verdict: 'rejected',
          detail: `last-known-good cannot be honoured: ${good.reason}.`,
          guards: [planGuard(scopeGuard), guard],
          nextSteps: [`aws kinesisanalyticsv2 list-application-snapshots --application-name ${name}`],
          notes,
        },
        command,
        obs,
      };
    }
    const snap = good.snapshot;
    lastKnownGood = {
      snapshotName: snap.name,
      versionId: snap.versionId,
      ...(snap.createdMs === undefined ? {} : { createdAt: new Date(snap.createdMs).toISOString() }),
    };
    command = { ...command, snapshot: snap.name };
    notes.push(
      `last-known-good is snapshot ${snap.name} (version ${snap.versionId}${lastKnownGood.createdAt ? `, created ${lastKnownGood.createdAt}` : ''}), the newest READY snapshot of the running version; --execute publishes that name`,
    );
  }

  const history: RunbookHistory = {};
  if (ledger) {
    try {
      const [lockedBy, open] = await Promise.all([ledger.lockHolder(name, nowMs), ledger.openIncident(name)]);
      if (lockedBy !== undefined) history.lockedBy = lockedBy;
      if (open !== undefined) history.openIncidentId = open.id;
      const waiting = open ? waitingNotActing(open) : undefined;
      if (waiting !== undefined) history.openIncidentWaiting = waiting;
    } catch (e) {
      return { problem: awsProblem('ledger', name, e) };
    }
  }
  const plan = planRunbookCommand(command, obs, policyFor(config, name), history, 'runbook-<incident id>');
  const guards: PlanGuard[] = [
    planGuard(scopeGuard),
    ...plan.guards.map(
      (g): PlanGuard =>
        g.name === 'lock-free' && !ledger
          ? {
              name: g.name,
              passed: null,
              status: 'not checked',
              detail:
                'not checked here: no ledger table (--table, --stack or LEDGER_TABLE_NAME) to read the lock and open incidents from; the watchdog checks it when it carries the command out',
            }
          : planGuard(g),
    ),
  ];
  const resolved = lastKnownGood ? { lastKnownGood } : {};
  if (plan.kind === 'rejected') {
    return {
      plan: { verdict: 'rejected', detail: plan.reason, guards, nextSteps: plan.nextSteps, notes, ...resolved },
      command,
      obs,
    };
  }
  return {
    plan: {
      verdict: 'would-act',
      detail: plan.detail,
      ...(plan.kind === 'workflow' ? { action: plan.action } : {}),
      guards,
      nextSteps: [],
      notes,
      ...resolved,
    },
    command,
    obs,
  };
}

/** The mark of a guard: ✓ passed, ✗ failed, ? not checked, – not applied (never ✓ for a guard not checked). */
function guardMark(g: PlanGuard): string {
  if (g.status === 'passed') return green('✓');
  if (g.status === 'failed') return red('✗');
  return g.status === 'not checked' ? bold('?') : dim('–');
}

/**
 * The plan as readable lines: the observation, each guard (`✓` passed, `✗` failed, `?` not checked, `–` not applied;
 * name, detail), what would be done, the notes.
 */
export function formatPlan(plan: RemediatePlan, obs: ApplicationObservation | undefined): string {
  const lines: string[] = [];
  const app = obs?.application;
  if (app) {
    const running = obs.operations.filter((o) => o.status === 'IN_PROGRESS').length;
    const ready = obs.snapshots.filter((s) => s.status === 'READY').length;
    lines.push(
      dim(
        `  observed: ApplicationStatus ${app.status}, version ${app.versionId}, ${running} operation(s) IN_PROGRESS, ${ready} READY snapshot(s)`,
      ),
    );
  }
  const width = Math.max(0, ...plan.guards.map((g) => g.name.length));
  for (const g of plan.guards) {
    const status = g.status === 'not checked' || g.status === 'not applied' ? `${g.status}: ` : '';
    const detail = status && g.detail.startsWith(g.status) ? g.detail : `${status}${g.detail}`;
    lines.push(`  ${guardMark(g)} ${g.name.padEnd(width)}  ${detail}`);
  }
  if (plan.verdict === 'would-act') {
    lines.push(`  ${bold('would:')} ${plan.detail}`);
    if (plan.action) lines.push(`  workflow: ${describeRemediation(plan.action)}`);
  } else {
    lines.push(`  ${red('would be rejected:')} ${plan.detail}`);
    if (plan.nextSteps.length > 0) {
      lines.push('  next steps:');
      for (const s of plan.nextSteps) lines.push(`    ${s}`);
    }
  }
  for (const n of plan.notes) lines.push(dim(`  note: ${n}`));
  return lines.join('\n');
}

/**
 * `--output text` of a plan: `GUARD<TAB>NAME<TAB>STATUS<TAB>DETAIL` per guard, then `PLAN<TAB>VERDICT<TAB>DETAIL`, then
 * `NOTE<TAB>TEXT` per note.
 */
export function formatPlanText(plan: RemediatePlan): string {
  return [
    ...plan.guards.map((g) => textLine(['GUARD', g.name, g.status, g.detail])),
    textLine(['PLAN', plan.verdict, plan.detail]),
    ...plan.notes.map((n) => textLine(['NOTE', n])),
  ].join('\n');
}

/** A progress display: permanent lines for changes; on a TTY also a spinner line showing the current state. */
interface Progress {
  /** A permanent line. */
  line(text: string): void;
  /** The spinner's text (TTY only). */
  status(text: string): void;
  /** Stops the spinner and clears its line. */
  stop(): void;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

function progressOn(stream: NodeJS.WriteStream): Progress {
  if (!stream.isTTY) {
    return { line: (text) => stream.write(`${text}\n`), status: () => {}, stop: () => {} };
  }
  let frame = 0;
  let current = '';
  const draw = () => stream.write(`\r\x1b[2K${SPINNER[frame % SPINNER.length]} ${current}`);
  const timer = setInterval(() => {
    frame += 1;
    draw();
  }, 100);
  timer.unref();
  return {
    line(text) {
      stream.write(`\r\x1b[2K${text}\n`);
      draw();
    },
    status(text) {
      current = text;
      draw();
    },
    stop() {
      clearInterval(timer);
      stream.write('\r\x1b[2K');
    },
  };
}

/** Everything {@link waitForOutcome} reads and reports to. */
interface WaitArgs {
  command: ApplicationCommand;
  incidentId: string;
  initialStatus?: ApplicationStatus;
  initialVersionId?: number;
  msf: MsfPort;
  ledger: Ledger | undefined;
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
  pollMs: number;
  timeoutMs: number;
  progress: Progress;
}

/**
 * Polls DescribeApplication (and the runbook incident, with a ledger) every `pollMs` until the target status is
 * reached, the watchdog's incident closes without success, or `timeoutMs` has passed. A command whose usual starting
 * status is its target (restart-from-snapshot, rollback from RUNNING) counts as done only after another status, a
 * new `ApplicationVersionId` or a RESOLVED incident was seen.
 */
async function waitForOutcome(a: WaitArgs): Promise<RemediateProgress> {
  const name = a.command.application;
  const target = TARGET_STATUS[a.command.command] ?? null;
  const changes: RemediateProgress['changes'] = [];
  const startMs = a.clock.now();
  const elapsed = () => `${Math.round((a.clock.now() - startMs) / 1000)} s`;
  let status = a.initialStatus;
  let moved = status !== undefined && status !== target;
  let incidentStatus: string | undefined;
  const result = (outcome: RemediateProgress['outcome'], reason: string): RemediateProgress => ({
    target,
    outcome,
    reason,
    ...(status === undefined ? {} : { finalStatus: status }),
    changes,
  });
  if (!target && !a.ledger) {
    return result(
      'published',
      `${a.command.command} changes no ApplicationStatus; the watchdog answers with a notification (pass --table to wait for its answer in the ledger)`,
    );
  }
  const waitingFor = target
    ? `${name} to reach ${target}`
    : `the watchdog's answer to ${a.command.command} (incident ${a.incidentId})`;
  a.progress.line(
    dim(
      `Waiting for ${waitingFor} (every ${a.pollMs / 1000} s, at most ${a.timeoutMs / 60_000} min; Ctrl-C stops waiting)`,
    ),
  );
  if (status !== undefined) {
    changes.push({ atMs: startMs, status });
    a.progress.line(`  ${utcTime(startMs).slice(11)} ${name} ${status}`);
  }
  const deadline = startMs + a.timeoutMs;
  for (;;) {
    a.progress.status(`${name} ${status ?? '?'} — ${elapsed()}`);
    await a.sleep(a.pollMs);
    const now = a.clock.now();
    const [app, incident] = await Promise.allSettled([
      target ? a.msf.describeApplication(name) : Promise.resolve(undefined),
      a.ledger ? a.ledger.getIncident(a.incidentId) : Promise.resolve<Incident | undefined>(undefined),
    ]);
    if (app.status === 'rejected') {
      const e = app.reason;
      if (e instanceof MsfApiError && !e.retryable) {
        return result('failed', `DescribeApplication failed: ${e.message}`);
      }
      a.progress.line(red(`  ${utcTime(now).slice(11)} DescribeApplication failed, retrying: ${(e as Error).message}`));
    } else if (app.value) {
      const s = app.value.status;
      if (s !== status) {
        status = s;
        changes.push({ atMs: now, status: s });
        a.progress.line(`  ${utcTime(now).slice(11)} ${name} ${s}${s === target ? green(' ✓') : ''} (${elapsed()})`);
      }
      if (s !== target || (a.initialVersionId !== undefined && app.value.versionId !== a.initialVersionId))
        moved = true;
    }
    const inc = incident.status === 'fulfilled' ? incident.value : undefined;
    if (inc && inc.status !== incidentStatus) {
      incidentStatus = inc.status;
      changes.push({ atMs: now, status: `incident ${inc.status}` });
      a.progress.line(`  ${utcTime(now).slice(11)} incident ${inc.id} ${inc.status}`);
    }
    const resolved = inc?.status === 'RESOLVED';
    if (target && status === target && (moved || !TRANSITION_REQUIRED.has(a.command.command) || resolved)) {
      return result('reached', `${name} is ${target} after ${elapsed()}`);
    }
    if (inc && TERMINAL_STATUSES.has(inc.status)) {
      if (!target && resolved) return result('answered', inc.outcomeReason ?? `incident ${inc.id} RESOLVED`);
      if (!resolved) {
        return result(
          'rejected',
          `the watchdog closed incident ${inc.id} as ${inc.status}: ${inc.outcomeReason ?? inc.decision.reason}`,
        );
      }
    }
    if (a.clock.now() >= deadline) {
      return result(
        'timeout',
        target
          ? `${name} did not reach ${target} within ${a.timeoutMs / 60_000} min (last status ${status ?? 'unknown'})`
          : `no answer from the watchdog within ${a.timeoutMs / 60_000} min`,
      );
    }
  }
}

/**
 * `flink-watchdog remediate APP --action ACTION [--snapshot NAME|latest|last-known-good] [--reason TEXT]
 * [--requested-by WHO] [--execute] [--topic ARN] [--config PATH] [--table NAME] [--stack NAME [--watchdog PREFIX]]
 * [--poll-seconds S] [--timeout-minutes M] [--region R] [--profile P] [--output table|json|text]`.
 *
 * Dry run (default): reads the application like the runbook handler (scope, DescribeApplication,
 * ListApplicationOperations, ListApplicationSnapshots, and the ledger's lock and open incident when a table is known)
 * and plans with `planRunbookCommand`, printing each guard (a guard it could not check is shown as not checked) and
 * what would be done. `--snapshot last-known-good` is resolved to the newest READY snapshot of the running version,
 * or the plan is rejected with the reason ({@link resolveLastKnownGood}). No mutating call, nothing published.
 *
 * `--execute`: the same preflight (a command it rejects is not published), then SNS Publish of the runbook command
 * (`dryRun: false`, message attributes `command` and `application`; `requestedBy` defaults to the caller's STS
 * identity ARN) to the command topic (`--topic`, else the stack's CommandTopicArn, else COMMAND_TOPIC_ARN), so the
 * watchdog carries it out through its own workflow and guards; this CLI never calls a mutating MSF API. Then it polls
 * DescribeApplication every `--poll-seconds` until the target status ({@link TARGET_STATUS}) or `--timeout-minutes`,
 * printing each change (a spinner on a TTY, one line per change otherwise); with a ledger table it also stops on the
 * watchdog's answer. `--output json` prints {@link RemediateJson} (progress on stderr); `--output text` prints
 * {@link formatPlanText} lines, then `PUBLISHED` and `OUTCOME` lines.
 * @returns the exit code, see {@link REMEDIATE_EXIT_CODES}.
 */
export async function remediateCommand(app: string, opts: RemediateOptions, deps: RemediateDeps = {}): Promise<number> {
  const env = deps.env ?? process.env;
  const clock = deps.clock ?? (await commandClock(env));
  const output = resolveOutput(opts);
  const aws: AwsClientConfig = awsClientConfig(opts);
  const out: RemediateJson = { application: app, command: opts.action, dryRun: !opts.execute, problems: [] };
  let exitCode: number = REMEDIATE_EXIT_CODES.error;
  const finish = (code?: number): number => {
    if (code !== undefined) exitCode = code;
    if (output === 'json') console.log(JSON.stringify(out, null, 2));
    else if (output === 'text') {
      const lines = out.plan ? [formatPlanText(out.plan)] : [];
      if (out.published) {
        lines.push(textLine(['PUBLISHED', out.published.topicArn, out.published.messageId, out.published.incidentId]));
      }
      if (out.progress) lines.push(textLine(['OUTCOME', out.progress.outcome, out.progress.reason]));
      if (lines.length > 0) console.log(lines.join('\n'));
    }
    for (const p of out.problems) console.error(formatProblem(p));
    return exitCodeOf(out.problems, exitCode);
  };

  // Options first: nothing is read or called when they are wrong.
  const pollSeconds = positive(opts.pollSeconds, DEFAULT_POLL_SECONDS, '--poll-seconds');
  const timeoutMinutes = positive(opts.timeoutMinutes, DEFAULT_TIMEOUT_MINUTES, '--timeout-minutes');
  for (const n of [pollSeconds, timeoutMinutes]) if (typeof n !== 'number') out.problems.push(n);
  if (opts.topic !== undefined && !SNS_TOPIC_ARN.test(opts.topic)) {
    out.problems.push(optionProblem(`--topic ${opts.topic}: expected an SNS topic ARN`, '--topic'));
  }
  // Checked once without --requested-by (filled in below): an invalid --action or APP is reported now.
  const preliminary = buildCommand(app, { ...opts, requestedBy: opts.requestedBy ?? 'caller identity' });
  if ('problems' in preliminary) out.problems.push(...preliminary.problems);
  if (out.problems.length > 0 || typeof pollSeconds !== 'number' || typeof timeoutMinutes !== 'number') {
    return finish();
  }

  let topicArn: string | undefined;
  let table: string | undefined;
  try {
    const stack = await stackOf(opts, aws);
    topicArn = pickResource(opts.topic, stack, 'CommandTopicArn', '--topic', env.COMMAND_TOPIC_ARN, !!opts.execute);
    table = pickResource(opts.table, stack, 'LedgerTableName', '--table', env.LEDGER_TABLE_NAME, true);
  } catch (e) {
    out.problems.push(stackProblem(e, opts.stack));
    return finish();
  }
  if (opts.execute && !topicArn) {
    out.problems.push(
      optionProblem(
        'no command topic: pass --topic ARN or --stack NAME (the watchdog stack), or set COMMAND_TOPIC_ARN',
        '--topic',
      ),
    );
  } else if (opts.execute && topicArn && !SNS_TOPIC_ARN.test(topicArn)) {
    out.problems.push(optionProblem(`command topic ${topicArn}: expected an SNS topic ARN`, '--topic'));
  }
  if (out.problems.length > 0) return finish();

  let requestedBy = opts.requestedBy;
  if (opts.execute && requestedBy === undefined) {
    try {
      requestedBy = await callerIdentityArn(aws, deps.sts);
    } catch (e) {
      const p = awsProblem('sts', undefined, e);
      out.problems.push({
        ...p,
        message: `--requested-by: your identity could not be looked up (STS GetCallerIdentity: ${p.message}); pass --requested-by WHO`,
      });
      return finish();
    }
  }
  const built = buildCommand(app, { ...opts, ...(requestedBy === undefined ? {} : { requestedBy }) });
  if ('problems' in built) {
    out.problems.push(...built.problems);
    return finish();
  }

  const loaded = loadConfig(opts.config, env);
  if (!loaded.ok) {
    out.problems.push(loaded.problem);
    return finish();
  }
  const ledger = deps.ledger ?? (table ? await ledgerFor(table, aws) : undefined);
  const msf = deps.msf ?? new MsfAdapter({ clientConfig: aws });

  const pre = await preflight(built.command, loaded.config, msf, ledger, clock.now());
  if ('problem' in pre) {
    out.problems.push(pre.problem);
    return finish();
  }
  out.plan = pre.plan;
  const command = pre.command;
  const snapshot = command.snapshot ? ` ${command.snapshot}` : '';
  if (output === 'table') {
    const head = opts.execute
      ? `${bold('Execute:')} ${command.command}${snapshot} on ${app}, requested by ${command.requestedBy}: ${command.reason}`
      : `${bold('Dry run:')} ${command.command}${snapshot} on ${app} — nothing is changed, nothing is published`;
    console.log(`${head}\n${formatPlan(pre.plan, pre.obs)}`);
  }

  if (!opts.execute) {
    if (output === 'table') {
      const requested = built.command.snapshot ? ` --snapshot ${built.command.snapshot}` : '';
      console.log(
        pre.plan.verdict === 'would-act'
          ? dim(
              `To carry it out: flink-watchdog remediate ${app} --action ${command.command}${requested} --execute --reason TEXT`,
            )
          : dim('The watchdog would answer REJECTED to this command now.'),
      );
    }
    return finish(pre.plan.verdict === 'would-act' ? REMEDIATE_EXIT_CODES.ok : REMEDIATE_EXIT_CODES.wouldReject);
  }
  if (pre.plan.verdict === 'rejected') {
    out.problems.push({
      kind: 'aws',
      location: 'preflight',
      address: app,
      message: `not published: the watchdog would reject ${command.command} on ${app} now: ${pre.plan.detail}`,
    });
    return finish();
  }

  const message: ApplicationCommand = { ...command, dryRun: false };
  const attributes = { command: command.command, application: command.application };
  const publisher = deps.publisher ?? new SnsCommandPublisher(new SNSClient(aws));
  let messageId: string;
  try {
    messageId = await publisher.publish(topicArn as string, JSON.stringify(message), attributes);
  } catch (e) {
    const p = awsProblem('sns', app, e);
    out.problems.push({ ...p, message: `SNS Publish to ${topicArn} failed: ${p.message}` });
    return finish();
  }
  const incidentId = runbookIncidentId(app, messageId);
  out.published = { topicArn: topicArn as string, messageId, incidentId, message, attributes };
  const stream = deps.progressStream ?? (output === 'table' ? process.stdout : process.stderr);
  stream.write(
    `Published ${command.command} for ${app} to ${topicArn} (MessageId ${messageId}); the watchdog records it as incident ${incidentId} (flink-watchdog history --app ${app}).\n`,
  );

  const progress = progressOn(stream);
  try {
    out.progress = await waitForOutcome({
      command,
      incidentId,
      ...(pre.obs?.application
        ? { initialStatus: pre.obs.application.status, initialVersionId: pre.obs.application.versionId }
        : {}),
      msf,
      ledger,
      clock,
      sleep: deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      pollMs: pollSeconds * 1000,
      timeoutMs: timeoutMinutes * 60_000,
      progress,
    });
  } finally {
    progress.stop();
  }
  const ok = ['reached', 'answered', 'published'].includes(out.progress.outcome);
  stream.write(`${ok ? green('✓') : red('✗')} ${out.progress.reason}\n`);
  return finish(ok ? REMEDIATE_EXIT_CODES.ok : REMEDIATE_EXIT_CODES.error);
}
