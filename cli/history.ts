import { describeRemediation } from '#shared/domain/decision.ts';
import type { ActionRecord, Incident } from '#shared/domain/incident.ts';
import { TERMINAL_STATUSES } from '#shared/domain/incident.ts';
import { describeRootCause } from '#shared/domain/root-cause.ts';
import type { Ledger } from '#shared/ports/ledger.ts';
import {
  type AwsOptions,
  awsClientConfig,
  awsProblem,
  type CliProblem,
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

/** Incidents shown when `--limit` is not given. */
export const DEFAULT_HISTORY_LIMIT = 20;

/** What replaces every value of an environment property (and anything else under a property map) in the output. */
export const MASK = '***';

/**
 * Keys of an action's `input` whose whole subtree is masked: environment property groups and maps, as the watchdog
 * and the MSF API name them (`environmentProperties`, `PropertyGroups`, `PropertyMap`, `EnvironmentPropertyUpdates`).
 */
const PROPERTY_KEY = /propert/i;

/** Options of `flink-watchdog history` (commander's parsed flags). */
export interface HistoryOptions extends OutputOptions, AwsOptions, StackOptions {
  /** Only incidents of this MSF application (Query on the ledger's `byApplication` index). */
  app?: string;
  /**
   * The ledger's DynamoDB table.
   * @default the `--stack`'s LedgerTableName Output, else env LEDGER_TABLE_NAME; without any, a usage error (64)
   */
  table?: string;
  /** At most this many incidents, newest first (a positive integer, as a string from commander). @default 20 */
  limit?: string;
}

/** The `--json` output of `flink-watchdog history`. */
export interface HistoryJson {
  /**
   * The ledger's incidents, newest `openedMs` first, with every action `input` masked by {@link redactIncident}: the
   * keys stay, values under a property map (environment properties) are `***`.
   */
  incidents: Incident[];
  /** What could not be read; non-empty means exit code 1. */
  problems: CliProblem[];
}

/** Adapters {@link historyCommand} uses. */
export interface HistoryDeps {
  /** @default a DynamoDbLedger on `--table` / the stack's Output / LEDGER_TABLE_NAME, with `--region` / `--profile` */
  ledger?: Ledger;
  env?: NodeJS.ProcessEnv;
}

/** `HH:MM:SSZ` when `ms` falls on the same UTC day as `sameDayAs`, else {@link utcTime}. */
function shortTime(ms: number, sameDayAs: number): string {
  const full = utcTime(ms);
  return full.slice(0, 10) === utcTime(sameDayAs).slice(0, 10) ? full.slice(11) : full;
}

/** A copy of `value` with every leaf (string, number, boolean) replaced by {@link MASK}; keys are kept. */
function maskLeaves(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskLeaves);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskLeaves(v)]));
  }
  return value === null || value === undefined ? value : MASK;
}

/**
 * An action's `input` (the recorded MSF request parameters) safe to print: values under a key naming properties
 * (`environmentProperties`, `PropertyGroups`, `PropertyMap`, ...) are masked at any depth, their keys kept; other
 * values (Force, ApplicationRestoreType, version ids) are kept.
 */
export function maskActionInput(input: Record<string, unknown>): Record<string, unknown> {
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (typeof value !== 'object' || value === null) return value;
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, PROPERTY_KEY.test(k) ? maskLeaves(v) : walk(v)]),
    );
  };
  return walk(input) as Record<string, unknown>;
}

/**
 * A copy of the incident safe to print: the approval's task token masked, each action's `input` masked by
 * {@link maskActionInput}, and wherever the
 * incident's texts (timeline events, decision and outcome reasons) quote an action's input as JSON (the workflow logs
 * `StopApplication {"Force":true} accepted`), the quote is replaced by the masked JSON. Nothing else changes.
 */
export function redactIncident(incident: Incident): Incident {
  const copy = structuredClone(incident);
  const quotes: Array<[string, string]> = [];
  // The task token answers the waiting workflow (SendTaskSuccess): never printed.
  if (copy.approval?.taskToken !== undefined) copy.approval.taskToken = MASK;
  copy.actions = copy.actions.map((a: ActionRecord) => {
    const masked = maskActionInput(a.input ?? {});
    const original = JSON.stringify(a.input ?? {});
    const safe = JSON.stringify(masked);
    if (original !== safe) quotes.push([original, safe]);
    return { ...a, input: masked };
  });
  if (quotes.length === 0) return copy;
  const scrub = (text: string) => quotes.reduce((t, [from, to]) => t.split(from).join(to), text);
  copy.events = copy.events.map((e) => ({ ...e, message: scrub(e.message) }));
  copy.decision = { ...copy.decision, reason: scrub(copy.decision.reason) };
  if (copy.outcomeReason !== undefined) copy.outcomeReason = scrub(copy.outcomeReason);
  return copy;
}

function paintStatus(status: Incident['status']): string {
  if (status === 'RESOLVED') return green(status);
  if (status === 'ESCALATED' || status === 'REMEDIATING') return red(status);
  return bold(status);
}

/** One action: `#SEQ CALL STATE  recorded T  completed T  operation ID  input: KEYS  error: TEXT`. */
function formatAction(a: ActionRecord, openedMs: number): string {
  const parts = [
    `#${a.seq} ${bold(a.call)} ${a.state === 'FAILED' ? red(a.state) : a.state === 'SUCCEEDED' ? green(a.state) : a.state}`,
    `recorded ${shortTime(a.recordedMs, openedMs)}`,
  ];
  if (a.completedMs !== undefined) parts.push(`completed ${shortTime(a.completedMs, openedMs)}`);
  if (a.operationId) parts.push(`operation ${a.operationId}`);
  const keys = Object.keys(a.input ?? {});
  if (keys.length > 0) parts.push(dim(`input: ${keys.join(', ')}`));
  if (a.error) parts.push(red(`error: ${a.error}`));
  return `   ${parts.join('  ')}`;
}

/**
 * A readable block for one incident: a header line (opened time UTC, application, id, status, trigger, finding
 * kind), the decision and its reason (with the failed guards and the remediation), the root cause, approval and hold
 * ({@link formatRootCause}, {@link formatApproval}, {@link formatHold}), each recorded action (seq, MSF
 * call, state, recorded/completed times, operation id, error, and the `input` keys only, never values), the outcome
 * reason and the next steps. Pass a {@link redactIncident} copy: the reasons are printed as stored.
 */
export function formatIncident(i: Incident): string {
  const trigger = `${i.trigger.source}${i.trigger.detail ? ` ${i.trigger.detail}` : ''}`;
  const lines = [
    `${bold(`━━ ${utcTime(i.openedMs)}`)}  ${bold(i.applicationName)}  ${i.id}  ${paintStatus(i.status)}  trigger: ${trigger}  finding: ${i.finding?.kind ?? '-'}`,
    `   decision: ${i.decision.verdict} — ${i.decision.reason}`,
  ];
  const failed = i.decision.guards.filter((g) => !g.passed);
  for (const g of failed) lines.push(`   ${red('✗')} guard ${g.name}: ${g.detail}`);
  const action = i.remediation ?? i.decision.remediation;
  if (action) lines.push(`   remediation: ${describeRemediation(action)}`);
  else if (i.decision.wouldHave) lines.push(`   would have: ${describeRemediation(i.decision.wouldHave)}`);
  lines.push(...formatRootCause(i), ...formatApproval(i), ...formatHold(i));
  if (i.actions.length === 0) lines.push(dim('   no MSF call recorded'));
  for (const a of [...i.actions].sort((x, y) => x.seq - y.seq)) lines.push(formatAction(a, i.openedMs));
  if (i.outcomeReason) {
    const closed = i.closedMs === undefined ? '' : dim(` (closed ${shortTime(i.closedMs, i.openedMs)})`);
    lines.push(`   outcome: ${i.outcomeReason}${closed}`);
  } else if (!TERMINAL_STATUSES.has(i.status)) {
    lines.push(dim(`   still ${i.status}: no outcome yet`));
  }
  const next = i.nextSteps?.length ? i.nextSteps : i.decision.nextSteps;
  if (next.length > 0) {
    lines.push('   next steps:');
    for (const step of next) lines.push(`     ${step}`);
  }
  return lines.join('\n');
}

/**
 * A restart loop's root cause: `root cause: Class: message` with where and when it was logged, then its top frames;
 * or the note saying why none was found. Nothing for an incident without either.
 */
export function formatRootCause(i: Incident): string[] {
  const rc = i.rootCause;
  if (!rc) return i.rootCauseNote ? [dim(`   root cause: ${i.rootCauseNote}`)] : [];
  return [
    `   root cause: ${bold(describeRootCause(rc))}`,
    dim(`     logged ${shortTime(rc.atMs, i.openedMs)} in ${rc.logGroupName} (${rc.source})`),
    ...rc.frames.map((f) => dim(`     ${f}`)),
  ];
}

/**
 * approve mode: `approval: awaiting approval of ACTION until T (then: escalate|proceed)`, `approved by X via Y at T`,
 * `rejected by X via Y at T: reason` (an answer by a runbook command adds `(SNS MessageId M)`), `timed out at T
 * (then: …)` or `stale: approved by X, refused …`.
 */
export function formatApproval(i: Incident): string[] {
  const a = i.approval;
  if (!a) return [];
  const action = describeRemediation(a.action);
  // The SNS MessageId (CLI, Amazon Q): CloudTrail's sns:Publish of it names who published the answer.
  const message = a.answer?.messageId ? ` (SNS MessageId ${a.answer.messageId})` : '';
  const by = a.answer ? `${a.answer.by} via ${a.answer.via} at ${shortTime(a.answer.atMs, i.openedMs)}${message}` : '';
  const reason = a.answer?.reason ? `: ${a.answer.reason}` : '';
  switch (a.state) {
    case 'PENDING':
      return [
        `   approval: ${yellow('awaiting approval')} of ${action} until ${shortTime(a.timeoutMs, i.openedMs)} (then: ${a.onTimeout})`,
      ];
    case 'APPROVED':
      return [`   approval: ${green('approved')} ${action} by ${by}${reason}`];
    case 'REJECTED':
      return [`   approval: ${red('rejected')} ${action} by ${by}${reason}`];
    case 'TIMED_OUT':
      return [
        `   approval: ${red('timed out')} at ${shortTime(a.timeoutMs, i.openedMs)}, unanswered (then: ${a.onTimeout})`,
      ];
    case 'STALE':
      return [
        `   approval: ${red('stale')} — ${action}${by ? ` approved by ${by}` : ''}, refused: the situation changed before acting`,
      ];
  }
}

/** A hold: `held: CHANGE_FREEZE — detail (since T[, released T][, told T])`. */
export function formatHold(i: Incident): string[] {
  const h = i.hold;
  if (!h) return [];
  const times = [
    `since ${shortTime(h.sinceMs, i.openedMs)}`,
    ...(h.releasedMs === undefined ? ['still held'] : [`released ${shortTime(h.releasedMs, i.openedMs)}`]),
    ...(h.toldMs === undefined ? [] : [`told ${shortTime(h.toldMs, i.openedMs)}`]),
  ];
  return [`   held: ${bold(h.kind)} — ${h.detail} (${times.join(', ')})`];
}

/** `--limit` as a positive integer, or a usage problem naming the flag. */
function parseLimit(raw: string | undefined): number | CliProblem {
  if (raw === undefined) return DEFAULT_HISTORY_LIMIT;
  const n = Number(raw);
  if (Number.isSafeInteger(n) && n > 0) return n;
  return usageProblem('--limit', `--limit must be a positive integer, got ${raw}`);
}

/**
 * `--output text`: one tab-separated line per incident: opened (ISO 8601), application, id, status, trigger source,
 * finding kind (`-`), decision verdict, MSF calls recorded (count), outcome reason (`-`).
 */
export function formatIncidentText(i: Incident): string {
  return textLine([
    new Date(i.openedMs).toISOString(),
    i.applicationName,
    i.id,
    i.status,
    i.trigger.source,
    i.finding?.kind,
    i.decision.verdict,
    i.actions.length,
    i.outcomeReason,
  ]);
}

/**
 * `flink-watchdog history [--app NAME] [--table NAME] [--stack NAME [--watchdog PREFIX]] [--limit N] [--region R]
 * [--profile P] [--output table|json|text]`: the incidents of the ledger table (`--table`, else the stack's
 * LedgerTableName Output, else LEDGER_TABLE_NAME), newest `openedMs` first, at most `--limit` (default
 * {@link DEFAULT_HISTORY_LIMIT}), with their decision, recorded MSF calls and outcome. Readable blocks
 * ({@link formatIncident}: action inputs as keys only), {@link HistoryJson} with `--output json` (action inputs with
 * property values masked: {@link redactIncident}), or {@link formatIncidentText} lines with `--output text`. Errors
 * go to stderr.
 * @returns the exit code: 0; 1 when the stack or the ledger cannot be read; 64 when no table is named or `--limit`
 *   is invalid.
 */
export async function historyCommand(opts: HistoryOptions, deps: HistoryDeps = {}): Promise<number> {
  const env = deps.env ?? process.env;
  const output = resolveOutput(opts);
  const aws = awsClientConfig(opts);
  const problems: CliProblem[] = [];
  let incidents: Incident[] = [];
  const finish = (): number => {
    if (output === 'json') console.log(JSON.stringify({ incidents, problems } satisfies HistoryJson, null, 2));
    else if (output === 'text' && incidents.length > 0) console.log(incidents.map(formatIncidentText).join('\n'));
    for (const p of problems) console.error(formatProblem(p));
    return exitCodeOf(problems);
  };

  const limit = parseLimit(opts.limit);
  if (typeof limit !== 'number') {
    problems.push(limit);
    return finish();
  }
  let table: string | undefined;
  try {
    const stack = await stackOf(opts, aws);
    table = pickResource(opts.table, stack, 'LedgerTableName', '--table', env.LEDGER_TABLE_NAME, true);
  } catch (e) {
    problems.push(stackProblem(e, opts.stack));
    return finish();
  }
  if (!deps.ledger && !table) {
    problems.push(
      usageProblem(
        '--table',
        'no ledger table: pass --table NAME or --stack NAME (the watchdog stack), or set LEDGER_TABLE_NAME',
      ),
    );
    return finish();
  }
  const tableLabel = table ?? '(injected ledger)';
  const ledger = deps.ledger ?? (await ledgerFor(tableLabel, aws));
  try {
    const all = await ledger.listIncidents(opts.app === undefined ? {} : { applicationName: opts.app });
    incidents = all.slice(0, limit).map(redactIncident);
  } catch (e) {
    const problem = awsProblem('ledger', opts.app, e);
    problems.push({ ...problem, message: `ledger table ${tableLabel}: ${problem.message}` });
    return finish();
  }
  if (output === 'table') {
    const scope = opts.app === undefined ? '' : ` of ${opts.app}`;
    if (incidents.length === 0) {
      console.log(dim(`No incidents${scope} in ledger table ${tableLabel}.`));
    } else {
      console.log(
        dim(
          `${incidents.length} incident${incidents.length === 1 ? '' : 's'}${scope}, newest first (table ${tableLabel})`,
        ),
      );
      for (const i of incidents) console.log(`\n${formatIncident(i)}`);
    }
  }
  return finish();
}
