import type { ScenarioReport, TimelineLine } from '#sandbox/drill.ts';

/** HH:MM:SS of a virtual time (UTC). */
export function clockTime(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/** `YYYY-MM-DD HH:MM:SSZ` (UTC) of an epoch-ms time. */
export function utcTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** `+MM:SS` since the scenario start. */
export function offset(ms: number, startMs: number): string {
  const s = Math.max(0, Math.round((ms - startMs) / 1000));
  return `+${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/** Whether ANSI colours are written; the CLI settles it once per run from --no-color, NO_COLOR and the terminal. */
let color = process.stdout.isTTY === true && !process.env.NO_COLOR;

/** Switches ANSI colours of every helper below on or off (cli/context.ts `applyOutputOptions` calls it). */
export function setColor(enabled: boolean): void {
  color = enabled;
}

const paint = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
export const green = (s: string) => paint('32', s);
export const red = (s: string) => paint('31', s);
export const yellow = (s: string) => paint('33', s);
export const dim = (s: string) => paint('2', s);
export const bold = (s: string) => paint('1', s);

/** One readable timeline line: `14:09:00 +09:00  alarm    text`. */
export function formatLine(l: TimelineLine, startMs: number): string {
  const actor = l.actor.padEnd(7);
  const text = l.actor === 'error' ? red(l.text) : l.text;
  return `  ${dim(clockTime(l.atMs))} ${dim(offset(l.atMs, startMs))}  ${actor} ${text}`;
}

/** The closing line of a scenario. */
export function formatVerdict(r: ScenarioReport): string {
  const mark = r.passed ? green('✓ passed') : red('✗ FAILED');
  const det = r.detectionSeconds === null ? 'no detection figure' : `detection ${r.detectionSeconds} s`;
  const act = r.firstActionSeconds === null ? '' : `, first action ${r.firstActionSeconds} s`;
  const rec = r.recoverySeconds === null ? '' : `, recovery ${r.recoverySeconds} s`;
  const peer = (s: number | null) => (s === null ? 'not detected' : `${s} s`);
  const peers = `peers: operator health check ${peer(r.peers.operatorHealthCheck.detectionSeconds)}, AWS downtime alarm ${peer(r.peers.awsDowntimeAlarm.detectionSeconds)}`;
  const lines = [
    `  ${bold('→')} ${r.outcome} (expected ${r.expected}) ${mark} — ${det}${act}${rec}, ${r.mutatingCalls} mutating MSF call(s), ${r.wallMs} ms wall`,
    `    ${dim(peers)}`,
  ];
  if (r.fleetIncidents.length > 0 || r.pages > 0 || r.maxConcurrentRemediations > 1) {
    lines.push(
      `    ${dim(`fleet: ${r.fleetIncidents.length} fleet incident(s), ${r.pages} page(s), at most ${r.maxConcurrentRemediations} remediation(s) at once`)}`,
    );
  }
  for (const f of r.failures) lines.push(`    ${red(f)}`);
  return lines.join('\n');
}

/** The summary table after all scenarios. */
export function formatSummary(reports: ScenarioReport[], wallMs: number): string {
  const w = Math.max(...reports.map((r) => r.name.length), 8);
  const rows = reports.map(
    (r) =>
      `  ${r.passed ? green('✓') : red('✗')} ${r.name.padEnd(w)}  ${r.outcome.padEnd(11)} ${String(r.detectionSeconds ?? '-').padStart(5)} s ${String(r.recoverySeconds ?? '-').padStart(6)} s  ${String(r.mutatingCalls).padStart(3)}  ${String(r.peers.operatorHealthCheck.detectionSeconds ?? '-').padStart(8)} s ${String(r.peers.awsDowntimeAlarm.detectionSeconds ?? '-').padStart(6)} s`,
  );
  const passed = reports.filter((r) => r.passed).length;
  return [
    bold('Summary'),
    `    ${'scenario'.padEnd(w)}  ${'outcome'.padEnd(11)} detect  recover  calls  operator  AWS downtime (peers; - = not detected)`,
    ...rows,
    '',
    `  ${passed === reports.length ? green(`${passed}/${reports.length} scenarios passed`) : red(`${passed}/${reports.length} scenarios passed`)} in ${(wallMs / 1000).toFixed(1)} s wall time`,
  ].join('\n');
}
