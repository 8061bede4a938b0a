import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DynamoDbLedger } from '#shared/adapters/dynamodb-ledger.ts';
import { MsfAdapter } from '#shared/adapters/msf.ts';
import { systemClock } from '#shared/adapters/system-clock.ts';
import type { Clock } from '#shared/clock.ts';
import { policyFor, type WatchdogConfig } from '#shared/config/schema.ts';
import { describeRemediation, type GuardResult, type RemediationAction } from '#shared/domain/decision.ts';
import { type Incident, TERMINAL_STATUSES } from '#shared/domain/incident.ts';
import type { ApplicationObservation, ApplicationStatus } from '#shared/domain/model.ts';
import { planRunbookCommand, type RunbookHistory, runbookIncidentId } from '#shared/domain/runbook.ts';
import { resolveScope } from '#shared/domain/scope.ts';
import { RUNBOOK_COMMANDS, RunbookCommand, type RunbookCommandName } from '#shared/events/runbook-command.ts';
import type { Ledger } from '#shared/ports/ledger.ts';
import { MsfApiError, type MsfPort } from '#shared/ports/msf.ts';
import { awsProblem, type CliProblem, formatProblem, loadCliConfig } from './drift.ts';
import { bold, dim, green, red } from './format.ts';
import { utcTime } from './history.ts';

/**
 * Exit codes of `flink-watchdog remediate`: 0 the dry run would be carried out, or the executed command reached its
 * target; 1 an error (options, config, an AWS call), or the executed command did not reach its target (timeout,
 * rejected by the watchdog, refused by the local preflight); 2 the dry run would be rejected by the watchdog's guards.
 */
export const REMEDIATE_EXIT_CODES = { ok: 0, error: 1, wouldReject: 2 } as const;

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
export interface RemediateOptions {
  /** One of {@link RUNBOOK_COMMANDS}. */
  action: string;
  /** Only with restart-from-snapshot: `latest`, `last-known-good` or a SnapshotName. @default the policy's restoreFrom */
  snapshot?: string;
  /** Why (1-1024 characters); required with `--execute`. */
  reason?: string;
  /**
   * Who asks, recorded on the incident; required with `--execute` (the caller identity cannot be looked up:
   * @aws-sdk/client-sts is not a dependency).
   */
  requestedBy?: string;
  /** Publish the command instead of a dry run. @default false */
  execute?: boolean;
  /** The watchdog's command topic (SNS). @default env COMMAND_TOPIC_ARN; required with `--execute` */
  topic?: string;
  /** Watchdog config, for the scope and the policy's `restoreFrom` (same lookup as `flink-watchdog drift`). */
  config?: string;
  /**
   * The ledger table, for the lock guard and, with `--execute`, the watchdog's answer.
   * @default env LEDGER_TABLE_NAME; without either the lock is not checked here
   */
  table?: string;
  /** Seconds between two DescribeApplication calls while waiting (> 0, fractions allowed). @default 5 */
  pollSeconds?: string;
  /** How long to wait for the target status, minutes (> 0). @default 20 */
  timeoutMinutes?: string;
  /** Print {@link RemediateJson} on stdout (progress lines go to stderr). */
  json?: boolean;
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
  guards: GuardResult[];
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
  message: RunbookCommand;
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

/** Adapters {@link remediateCommand} uses; each defaults to the AWS SDK one with the default credential chain. */
export interface RemediateDeps {
  msf?: MsfPort;
  /** Built from `--table` / LEDGER_TABLE_NAME when absent. */
  ledger?: Ledger;
  publisher?: CommandPublisher;
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
  return { kind: 'config', location, message };
}

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
): { command: RunbookCommand } | { problems: CliProblem[] } {
  const problems: CliProblem[] = [];
  if (!(RUNBOOK_COMMANDS as readonly string[]).includes(opts.action)) {
    problems.push(
      optionProblem(
        `--action ${JSON.stringify(opts.action)}: expected one of ${RUNBOOK_COMMANDS.join(', ')}`,
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
          '--requested-by WHO is required with --execute (the caller identity cannot be looked up: @aws-sdk/client-sts is not installed)',
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
  if (parsed.success) return { command: parsed.data };
  for (const issue of parsed.error.issues) {
    const field = String(issue.path[0] ?? '');
    const flag = FLAG_OF[field] ?? (field || 'options');
    problems.push(optionProblem(`${flag}: ${issue.message}`, flag));
  }
  return { problems };
}

/** Reads MSF and the ledger as the runbook handler does, then plans with {@link planRunbookCommand}. */
async function preflight(
  command: RunbookCommand,
  config: WatchdogConfig,
  msf: MsfPort,
  ledger: Ledger | undefined,
  nowMs: number,
): Promise<{ plan: RemediatePlan; obs?: ApplicationObservation } | { problem: CliProblem }> {
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
    return { plan: { verdict: 'rejected', detail, guards: [scopeGuard], nextSteps: [], notes } };
  }
  const c = command.command;
  if (c === 'pause-automation' || c === 'resume-automation') {
    const detail = `${c === 'pause-automation' ? 'pause' : 'resume'} automatic remediation of ${name} (MSF is not called)`;
    return { plan: { verdict: 'would-act', detail, guards: [scopeGuard], nextSteps: [], notes } };
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
  const history: RunbookHistory = {};
  if (ledger) {
    try {
      const [lockedBy, open] = await Promise.all([ledger.lockHolder(name, nowMs), ledger.openIncident(name)]);
      if (lockedBy !== undefined) history.lockedBy = lockedBy;
      if (open !== undefined) history.openIncidentId = open.id;
    } catch (e) {
      return { problem: awsProblem('ledger', name, e) };
    }
  } else {
    notes.push('lock and open incidents not checked here: no ledger table (--table or LEDGER_TABLE_NAME)');
  }
  const plan = planRunbookCommand(command, obs, policyFor(config, name), history, 'runbook-<incident id>');
  const guards = [
    scopeGuard,
    ...plan.guards.map((g) =>
      g.name === 'lock-free' && !ledger
        ? { ...g, detail: 'not checked here (no ledger table); the watchdog checks it' }
        : g,
    ),
  ];
  if (plan.kind === 'rejected') {
    return { plan: { verdict: 'rejected', detail: plan.reason, guards, nextSteps: plan.nextSteps, notes }, obs };
  }
  return {
    plan: {
      verdict: 'would-act',
      detail: plan.detail,
      ...(plan.kind === 'workflow' ? { action: plan.action } : {}),
      guards,
      nextSteps: [],
      notes,
    },
    obs,
  };
}

/** The plan as readable lines: the observation, each guard (✓/✗ name detail), what would be done, the notes. */
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
    lines.push(`  ${g.passed ? green('✓') : red('✗')} ${g.name.padEnd(width)}  ${g.detail}`);
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
  command: RunbookCommand;
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
 * [--requested-by WHO] [--execute] [--topic ARN] [--config PATH] [--table NAME] [--poll-seconds S]
 * [--timeout-minutes M] [--json]`.
 *
 * Dry run (default): reads the application like the runbook handler (scope, DescribeApplication,
 * ListApplicationOperations, ListApplicationSnapshots, and the ledger's lock and open incident when a table is known)
 * and plans with `planRunbookCommand`, printing each guard and what would be done. No mutating call, nothing
 * published.
 *
 * `--execute`: the same preflight (a command it rejects is not published), then SNS Publish of the runbook command
 * (`dryRun: false`, message attributes `command` and `application`) to the command topic, so the watchdog carries it
 * out through its own workflow and guards; this CLI never calls a mutating MSF API. Then it polls DescribeApplication
 * every `--poll-seconds` until the target status ({@link TARGET_STATUS}) or `--timeout-minutes`, printing each change
 * (a spinner on a TTY, one line per change otherwise); with a ledger table it also stops on the watchdog's answer.
 * @returns the exit code, see {@link REMEDIATE_EXIT_CODES}.
 */
export async function remediateCommand(app: string, opts: RemediateOptions, deps: RemediateDeps = {}): Promise<number> {
  const env = deps.env ?? process.env;
  const clock = deps.clock ?? systemClock;
  const out: RemediateJson = { application: app, command: opts.action, dryRun: !opts.execute, problems: [] };
  let exitCode: number = REMEDIATE_EXIT_CODES.error;
  const finish = (code?: number): number => {
    if (code !== undefined) exitCode = code;
    if (opts.json) console.log(JSON.stringify(out, null, 2));
    for (const p of out.problems) console.error(formatProblem(p));
    return out.problems.length > 0 ? REMEDIATE_EXIT_CODES.error : exitCode;
  };

  // Options first: nothing is read or called when they are wrong.
  const pollSeconds = positive(opts.pollSeconds, DEFAULT_POLL_SECONDS, '--poll-seconds');
  const timeoutMinutes = positive(opts.timeoutMinutes, DEFAULT_TIMEOUT_MINUTES, '--timeout-minutes');
  for (const n of [pollSeconds, timeoutMinutes]) if (typeof n !== 'number') out.problems.push(n);
  const built = buildCommand(app, opts);
  if ('problems' in built) out.problems.push(...built.problems);
  const topicArn = opts.topic ?? env.COMMAND_TOPIC_ARN;
  if (opts.execute && !topicArn) {
    out.problems.push(
      optionProblem(
        'no command topic: pass --topic ARN or set COMMAND_TOPIC_ARN (the watchdog SNS command topic)',
        '--topic',
      ),
    );
  } else if (opts.execute && topicArn && !/^arn:[^:]+:sns:[^:]+:\d{12}:[A-Za-z0-9_-]{1,256}$/.test(topicArn)) {
    out.problems.push(optionProblem(`--topic ${topicArn}: expected an SNS topic ARN`, '--topic'));
  }
  if (out.problems.length > 0 || 'problems' in built || typeof pollSeconds !== 'number') return finish();
  if (typeof timeoutMinutes !== 'number') return finish();
  const command = built.command;

  const loaded = loadCliConfig(opts.config, env);
  if (!loaded.ok) {
    out.problems.push(loaded.problem);
    return finish();
  }
  const table = opts.table ?? env.LEDGER_TABLE_NAME;
  const ledger = deps.ledger ?? (table ? new DynamoDbLedger({ tableName: table }) : undefined);
  const msf = deps.msf ?? new MsfAdapter();

  const pre = await preflight(command, loaded.config, msf, ledger, clock.now());
  if ('problem' in pre) {
    out.problems.push(pre.problem);
    return finish();
  }
  out.plan = pre.plan;
  const snapshot = command.snapshot ? ` ${command.snapshot}` : '';
  if (!opts.json) {
    const head = opts.execute
      ? `${bold('Execute:')} ${command.command}${snapshot} on ${app}, requested by ${command.requestedBy}: ${command.reason}`
      : `${bold('Dry run:')} ${command.command}${snapshot} on ${app} — nothing is changed, nothing is published`;
    console.log(`${head}\n${formatPlan(pre.plan, pre.obs)}`);
  }

  if (!opts.execute) {
    if (!opts.json) {
      console.log(
        pre.plan.verdict === 'would-act'
          ? dim(
              `To carry it out: flink-watchdog remediate ${app} --action ${command.command}${command.snapshot ? ` --snapshot ${command.snapshot}` : ''} --execute --reason TEXT --requested-by WHO`,
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

  const message: RunbookCommand = { ...command, dryRun: false };
  const attributes = { command: command.command, application: command.application };
  const publisher = deps.publisher ?? new SnsCommandPublisher();
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
  const stream = deps.progressStream ?? (opts.json ? process.stderr : process.stdout);
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
