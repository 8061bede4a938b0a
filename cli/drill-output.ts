import type { ScenarioReport, TimelineLine } from '#sandbox/drill.ts';
import type { Scenario } from '#sandbox/scenario.ts';
import type { Incident } from '#shared/domain/incident.ts';
import { describeRootCause } from '#shared/domain/root-cause.ts';
import { bold, clockTime, dim, green, red, yellow } from './format.ts';

/** The widest line the drill's default output prints, columns (code points; ANSI colours not counted). */
export const MAX_WIDTH = 120;

/** Width of the actor column of a timeline row, columns. */
const ACTOR_WIDTH = 8;

/** `T+MM:SS`: virtual minutes and seconds since the scenario start (never negative; minutes may pass 59). */
export function elapsed(ms: number, startMs: number): string {
  const s = Math.max(0, Math.round((ms - startMs) / 1000));
  return `T+${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/** `text` cut to at most `width` columns (code points), ending with `…` when it was cut. */
export function truncate(text: string, width: number): string {
  const chars = [...text];
  return chars.length <= width ? text : `${chars.slice(0, Math.max(0, width - 1)).join('')}…`;
}

/**
 * `text` word-wrapped to lines of at most `width` columns, every line after the first starting with `indent`; a word
 * longer than a line is truncated with `…`.
 */
export function wrap(text: string, width: number, indent = ''): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const prefix = lines.length === 0 && current === '' ? '' : indent;
    const candidate = current === '' ? `${prefix}${word}` : `${current} ${word}`;
    if ([...candidate].length <= width || current === '') {
      current = truncate(candidate, width);
    } else {
      lines.push(current);
      current = truncate(`${indent}${word}`, width);
    }
  }
  if (current !== '') lines.push(current);
  return lines;
}

/** One row of the drill's default output: a timeline event that matters, or several folded into one. */
export interface OutputRow {
  /** Virtual time of the event (of the first, when folded), epoch ms. */
  atMs: number;
  /** The timeline's actor (user, alarm, decide, call, msf, job, notify, …), or `recovery`. */
  actor: string;
  text: string;
}

/** Prefix of the drill's alarm names, its instance, the application, and the alarm's kind (shared/alarms.ts). */
const ALARM_NAME = /^flink-watchdog-[A-Za-z0-9]+-(.+)-(restart-loop|failed-checkpoints|downtime)$/;

/** The application and the kind of a watchdog alarm, from its name; the whole name when it is not one. */
export function alarmParts(alarmName: string): { application: string; kind: string } {
  const m = ALARM_NAME.exec(alarmName);
  return m ? { application: m[1] as string, kind: m[2] as string } : { application: alarmName, kind: 'alarm' };
}

/** A RESOLVED notification's title without the time it carries: the drill prints one recovery figure, its own. */
export function withoutRecoveryFigure(text: string): string {
  return text.replace(/^(RESOLVED: [^\s:]+): recovered in \d+ min/, '$1');
}

const APP_PREFIX = /^([^\s:]+): /;
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface Row extends OutputRow {
  application?: string;
}

/** An alarm's repeats that led to no new decision, folded into one row (see {@link compactTimeline}). */
interface AlarmFold {
  row: Row;
  alarm: string;
  transition: string;
  count: number;
  lastMs: number;
  reasons: Set<string>;
}

/** `restart-loop` etc. and the application: how a row names an alarm. */
function alarmLabel(alarmName: string): { application: string; label: string } {
  const { application, kind } = alarmParts(alarmName);
  return { application, label: `${application} ${kind}` };
}

/** The call line's JSON input without its ApplicationName (named before it). */
function compactCall(text: string): { text: string; application?: string } {
  const m = /^(\w+) (\{.*\})(.*)$/.exec(text);
  if (!m) return { text };
  try {
    const { ApplicationName, ...rest } = JSON.parse(m[2] as string) as Record<string, unknown>;
    const app = typeof ApplicationName === 'string' ? ApplicationName : undefined;
    const input = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
    return { text: `${m[1]} ${app ?? ''}${input}${m[3]}`, ...(app ? { application: app } : {}) };
  } catch {
    return { text };
  }
}

/**
 * The rows of one scenario's default output, from its full timeline (in time order): one row per event that matters
 * (a person's action, an alarm going to ALARM, a decision, each mutating MSF call, a status change of an application
 * the watchdog or a person dealt with, a job that starts restarting, a notification sent, a failed workflow, drift,
 * errors, and the recovery), with
 * - an alarm's repeats that led to no new decision folded into one row per alarm (`×N folded`, from–to), with the
 *   detector's reason it ignored them (the timeline's `ignored` lines);
 * - the same event of several applications at the same time folded into one row naming them;
 * - the decisive incident's recovery (`recoverySeconds`: onset → RESOLVED) as a `recovery` row at the RESOLVED.
 * Watches, sweeps that change nothing, the finding lines (the decision carries the finding), peer rules (in the
 * verdict), STS calls and the notifications' texts are left to `--verbose`.
 */
export function compactTimeline(
  report: Pick<ScenarioReport, 'timeline' | 'startMs' | 'detectionOnset' | 'recoverySeconds'>,
): OutputRow[] {
  const lines = [...report.timeline].sort((a, b) => a.atMs - b.atMs);
  const appOf = (l: TimelineLine) => APP_PREFIX.exec(l.text)?.[1];
  // Applications someone dealt with: their status changes matter.
  const focus = new Set<string>();
  const decided = new Set<string>();
  const ignored = new Map<string, string[]>();
  for (const l of lines) {
    if (l.actor === 'decide' || l.actor === 'job') {
      const app = appOf(l);
      if (app) focus.add(app);
      if (app && l.actor === 'decide') decided.add(`${l.atMs}|${app}`);
    } else if (l.actor === 'call') {
      const app = compactCall(l.text).application;
      if (app) focus.add(app);
    } else if (l.actor === 'user') {
      const m = /^\w+ ([^\s:]+)/.exec(l.text) ?? /^\w+ (\S+) refused/.exec(l.text);
      if (m?.[1]) focus.add(m[1]);
    } else if (l.actor === 'ignored') {
      const m = /^(\S+) (\w+): (.*)$/.exec(l.text);
      if (m) {
        const key = `${l.atMs}|${m[1]}`;
        const why = whyNoAction(m[2] as string, m[3] as string, alarmParts(m[1] as string).application);
        ignored.set(key, [...(ignored.get(key) ?? []), why]);
      }
    }
  }

  const rows: Row[] = [];
  const seenAlarms = new Set<string>();
  const folds = new Map<string, AlarmFold>();
  const consumedIgnored = new Set<string>();
  for (const l of lines) {
    const base = { atMs: l.atMs, actor: l.actor };
    switch (l.actor) {
      case 'alarm': {
        const m = /^(\S+) (\S+ → \S+)(.*)$/.exec(l.text);
        if (!m) {
          rows.push({ ...base, text: l.text });
          break;
        }
        const [, alarm = '', transition = '', extra = ''] = m;
        const { application, label } = alarmLabel(alarm);
        const key = `${l.atMs}|${alarm}`;
        const reasons = ignored.get(key) ?? [];
        consumedIgnored.add(key);
        if (!seenAlarms.has(alarm) || decided.has(`${l.atMs}|${application}`)) {
          seenAlarms.add(alarm);
          folds.delete(alarm);
          const why = reasons.length ? ` — ${[...new Set(reasons)].join('; ')}` : '';
          rows.push({ ...base, application, text: `${label}: ${transition}${extra}${why}` });
          break;
        }
        const fold = folds.get(alarm);
        if (fold && fold.transition === transition) {
          fold.count += 1;
          fold.lastMs = l.atMs;
          for (const r of reasons) fold.reasons.add(r);
        } else {
          const row: Row = { ...base, application, text: '' };
          rows.push(row);
          folds.set(alarm, { row, alarm, transition, count: 1, lastMs: l.atMs, reasons: new Set(reasons) });
        }
        break;
      }
      case 'ignored': {
        if (consumedIgnored.has(`${l.atMs}|${l.text.split(' ')[0]}`)) break;
        rows.push({ ...base, text: l.text });
        break;
      }
      case 'decide': {
        const m = /^([^\s:]+): (\w+)(?: \[[^\]]+\])? — (.*)$/.exec(l.text);
        rows.push(
          m ? { ...base, application: m[1] as string, text: `${m[1]}: ${m[2]} — ${m[3]}` } : { ...base, text: l.text },
        );
        break;
      }
      case 'call': {
        const c = compactCall(l.text);
        rows.push({ ...base, text: c.text, ...(c.application ? { application: c.application } : {}) });
        break;
      }
      case 'msf': {
        const app = appOf(l);
        if (app && focus.has(app)) rows.push({ ...base, application: app, text: l.text });
        break;
      }
      case 'warn':
        // An undelivered notification is on its notify row (✗ and the error).
        if (!l.text.startsWith('notification not delivered')) rows.push({ ...base, text: l.text });
        break;
      case 'job':
      case 'user':
      case 'error': {
        const app = l.actor === 'job' ? appOf(l) : undefined;
        rows.push({ ...base, text: l.text, ...(app ? { application: app } : {}) });
        break;
      }
      case 'notify': {
        const text = withoutRecoveryFigure(l.text).replace(/ {2}\[(?:\w+ ✓(?:, )?)+\]$/, '');
        const app = /^\w+: ([^\s:]+): /.exec(text)?.[1];
        rows.push({ ...base, text, ...(app ? { application: app } : {}) });
        break;
      }
      case 'detect':
        // The finding is in the decision; only the count of at-least-once deliveries is kept.
        if (/^\d+ deliveries: /.test(l.text)) rows.push({ ...base, text: l.text });
        break;
      case 'workflow':
        if (/ (FAILED|TIMED_OUT|ABORTED)\b/.test(l.text)) rows.push({ ...base, text: l.text });
        break;
      case 'sweep':
        if (/ new\b| gone\b/.test(l.text)) rows.push({ ...base, text: l.text });
        break;
      case 'drift':
        if (!/^[^\s:]+: IGNORED\b/.test(l.text)) rows.push({ ...base, text: l.text });
        break;
      case 'watch':
      case 'peer':
      case 'sts':
      case '':
        break;
      default:
        rows.push({ ...base, text: l.text });
    }
  }
  for (const f of folds.values()) f.row.text = foldText(f, report.startMs);

  const onset = report.detectionOnset;
  if (onset && report.recoverySeconds !== null) {
    const resolvedMs = onset.atMs + report.recoverySeconds * 1000;
    const row: Row = {
      atMs: resolvedMs,
      actor: 'recovery',
      text: `${report.recoverySeconds} s: onset ${elapsed(onset.atMs, report.startMs)} (${onset.rule}) → RESOLVED ${elapsed(resolvedMs, report.startMs)}`,
    };
    const at = rows.findIndex((r) => r.atMs > resolvedMs);
    rows.splice(at === -1 ? rows.length : at, 0, row);
  }
  return foldAcrossApplications(rows);
}

function foldText(f: AlarmFold, startMs: number): string {
  const { label } = alarmLabel(f.alarm);
  const why = f.reasons.size ? ` — ${[...f.reasons].join('; ')}` : '';
  if (f.count === 1) return `${label}: ${f.transition}${why}`;
  return `${label}: ${f.transition} ×${f.count} folded until ${elapsed(f.lastMs, startMs)}${why}`;
}

/**
 * Why an alarm that fired led to no new decision, from the timeline's `ignored` line (the detector's result and reason):
 * `no finding yet` for a healthy look (`, watch started` when it started a closer look), else `ignored: REASON` (the
 * detector's reason for a DUPLICATE, DEFERRED or IGNORED result), the application's incident ids said as `its incident`.
 */
export function whyNoAction(result: string, reason: string, application: string): string {
  const watch = / \(watch started: [^)]*\)$/.test(reason);
  const text = reason
    .replace(/ \(watch started: [^)]*\)$/, '')
    .replace(
      new RegExp(`(?<![\\w-])(incident |as )?${escapeRegExp(application)}-[0-9a-f]{16}(?![\\w-])`, 'g'),
      (_, pre) => (pre === 'as ' ? 'as its incident' : 'its incident'),
    );
  if (result === 'HEALTHY') return watch ? 'no finding yet, watch started' : 'no finding yet';
  return `ignored: ${text}`;
}

/** Applications named in a folded row: all when short, else the count and the first. */
function applicationList(apps: string[]): string {
  return apps.length <= 3 ? apps.join(', ') : `${apps.length} applications (${apps[0]}, …)`;
}

/** Rows at the same time with the same actor and the same text but for the application: one row naming them all. */
function foldAcrossApplications(rows: Row[]): OutputRow[] {
  const out: Array<{ row: Row; key?: string; apps: string[] }> = [];
  const open = new Map<string, { row: Row; key?: string; apps: string[] }>();
  for (const row of rows) {
    const app = row.application;
    // Each mutating MSF call keeps its own row.
    if (!app || row.actor === 'call') {
      out.push({ row, apps: [] });
      continue;
    }
    const a = escapeRegExp(app);
    const template = row.text
      .replace(new RegExp(`(?<![\\w-])${a}-[0-9a-f]{16}(?![\\w-])`, 'g'), '\u0001')
      .replace(new RegExp(`(?<![\\w-])${a}(?![\\w-])`, 'g'), '\u0000');
    const key = `${row.atMs}|${row.actor}|${template}`;
    const group = open.get(key);
    if (group) group.apps.push(app);
    else {
      const g = { row, key: template, apps: [app] };
      open.set(key, g);
      out.push(g);
    }
  }
  return out.map(({ row, key, apps }) =>
    apps.length > 1 && key
      ? {
          atMs: row.atMs,
          actor: row.actor,
          text: key.replaceAll('\u0001', 'its incident').replaceAll('\u0000', applicationList(apps)),
        }
      : { atMs: row.atMs, actor: row.actor, text: row.text },
  );
}

/** One row of the default output, at most {@link MAX_WIDTH} columns: `  T+09:05  decide   text`. */
export function formatRow(row: OutputRow, startMs: number): string {
  const head = `  ${elapsed(row.atMs, startMs)}  ${row.actor.padEnd(ACTOR_WIDTH)} `;
  const text = truncate(row.text, MAX_WIDTH - [...head].length);
  const painted =
    row.actor === 'error'
      ? red(text)
      : row.actor === 'recovery'
        ? green(text)
        : row.actor === 'warn'
          ? yellow(text)
          : text;
  return `  ${dim(elapsed(row.atMs, startMs))}  ${row.actor.padEnd(ACTOR_WIDTH)} ${painted}`;
}

/** One line of the full timeline (`--verbose`): `  14:09:00 T+09:00  alarm    text`, as long as the text. */
export function formatVerboseLine(l: TimelineLine, startMs: number): string {
  const actor = l.actor.padEnd(7);
  const plain = l.actor === 'notify' ? withoutRecoveryFigure(l.text) : l.text;
  const text = l.actor === 'error' ? red(plain) : plain;
  return `  ${dim(clockTime(l.atMs))} ${dim(elapsed(l.atMs, startMs))}  ${actor} ${text}`;
}

/** The heading of a scenario: its name and title wrapped to {@link MAX_WIDTH}; with `verbose`, its description too. */
export function formatHeading(
  s: Pick<Scenario, 'name' | 'title' | 'designScenario' | 'description'>,
  verbose: boolean,
) {
  const mode = s.designScenario ? ` [failure mode ${s.designScenario}]` : '';
  const [first = '', ...rest] = wrap(`━━ ${s.name} — ${s.title}${mode}`, MAX_WIDTH, '   ');
  const lines = [`\n${bold(first)}`, ...rest.map(bold)];
  if (verbose) lines.push(dim(`   ${s.description}`));
  return lines.join('\n');
}

/** The closing lines of a scenario, wrapped to {@link MAX_WIDTH}: outcome, figures, peers, fleet, failures. */
export function formatVerdict(r: ScenarioReport): string {
  const mark = r.passed ? '✓ passed' : '✗ FAILED';
  const figures = [
    r.detectionSeconds === null ? 'no detection figure' : `detection ${r.detectionSeconds} s`,
    ...(r.firstActionSeconds === null ? [] : [`first action ${r.firstActionSeconds} s`]),
    ...(r.recoverySeconds === null ? [] : [`recovery ${r.recoverySeconds} s`]),
    `${r.mutatingCalls} mutating call(s)`,
  ];
  const head = wrap(`→ ${r.outcome} (expected ${r.expected}) ${mark} — ${figures.join(', ')}`, MAX_WIDTH - 2, '  ');
  const peer = (s: number | null) => (s === null ? 'not detected' : `${s} s`);
  const lines = [
    ...head.map((l) => `  ${l.replace(mark, r.passed ? green(mark) : red(mark)).replace(/^→/, bold('→'))}`),
    ...wrap(
      `peers: operator health check ${peer(r.peers.operatorHealthCheck.detectionSeconds)}, AWS downtime alarm ${peer(r.peers.awsDowntimeAlarm.detectionSeconds)}; ${r.wallMs} ms wall`,
      MAX_WIDTH - 4,
      '  ',
    ).map((l) => `    ${dim(l)}`),
  ];
  if (r.fleetIncidents.length > 0 || r.pages > 0 || r.maxConcurrentRemediations > 1) {
    lines.push(
      `    ${dim(`fleet: ${r.fleetIncidents.length} fleet incident(s), ${r.pages} page(s), at most ${r.maxConcurrentRemediations} remediation(s) at once`)}`,
    );
  }
  const rootCause = scenarioRootCause(r)?.rootCause;
  if (rootCause) {
    for (const l of wrap(`root cause: ${describeRootCause(rootCause)}`, MAX_WIDTH - 4, '  ')) lines.push(`    ${l}`);
  }
  // approve mode: the request's end, who answered through what, and how long after the request (virtual seconds).
  const approval = r.incidents.find((i) => i.approval && i.id === r.detectionOnset?.incidentId)?.approval;
  if (approval) {
    const a = approval.answer;
    const who = a
      ? `by ${a.by} via ${a.via}, ${Math.round((a.atMs - approval.requestedMs) / 1000)} s after the request`
      : '';
    const text = {
      APPROVED: `APPROVED ${who}`,
      REJECTED: `REJECTED ${who}${a?.reason ? `: ${a.reason}` : ''}`,
      STALE: `STALE: approved ${who}, refused because the situation changed`,
      TIMED_OUT: `TIMED_OUT: no answer within ${(approval.timeoutMs - approval.requestedMs) / 60_000} min`,
      PENDING: 'PENDING: no answer by the end',
    }[approval.state];
    for (const l of wrap(`approval: ${text}`, MAX_WIDTH - 4, '  ')) lines.push(`    ${l}`);
  }
  for (const f of r.failures) for (const l of wrap(f, MAX_WIDTH - 4, '  ')) lines.push(`    ${red(l)}`);
  return lines.join('\n');
}

/** The root cause a scenario report shows: its detected incident's, else the first incident's that has one. */
export function scenarioRootCause(r: Pick<ScenarioReport, 'incidents' | 'detectionOnset'>): Incident | undefined {
  const decisive = r.incidents.find((i) => i.id === r.detectionOnset?.incidentId && i.rootCause);
  return decisive ?? r.incidents.find((i) => i.rootCause !== undefined);
}

/** The summary table after all scenarios (`recovery`: onset → RESOLVED, the same figure as each scenario's). */
export function formatSummary(reports: ScenarioReport[], wallMs: number): string {
  const w = Math.max(...reports.map((r) => r.name.length), 8);
  const rows = reports.map(
    (r) =>
      `  ${r.passed ? green('✓') : red('✗')} ${r.name.padEnd(w)}  ${r.outcome.padEnd(11)} ${String(r.detectionSeconds ?? '-').padStart(5)} s ${String(r.recoverySeconds ?? '-').padStart(7)} s  ${String(r.mutatingCalls).padStart(3)}  ${String(r.peers.operatorHealthCheck.detectionSeconds ?? '-').padStart(8)} s ${String(r.peers.awsDowntimeAlarm.detectionSeconds ?? '-').padStart(6)} s`,
  );
  const passed = reports.filter((r) => r.passed).length;
  const tally = `${passed}/${reports.length} scenarios passed`;
  return [
    bold('Summary'),
    `    ${'scenario'.padEnd(w)}  ${'outcome'.padEnd(11)} detect  recovery   calls  operator  AWS downtime (peers; - = not detected)`,
    ...rows,
    '',
    `  ${passed === reports.length ? green(tally) : red(tally)} in ${(wallMs / 1000).toFixed(1)} s wall time`,
  ].join('\n');
}
