import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import type { ScenarioReport } from '#sandbox/drill.ts';
import type { Scenario } from '#sandbox/scenario.ts';
import { UsageError } from './context.ts';
import { type DrillJson, toDrillJson } from './drill.ts';

/** One scenario of the report: its `drill --json` entry, plus what the charts and the notifications need. */
export type ReportScenario = Omit<DrillJson['scenarios'][number], 'notifications'> & {
  title: string;
  description: string;
  /** The expected application (the scenario's `expected.application`, else its first): the chart is of it. */
  application: string;
  /** Virtual start of the scenario, ISO-8601; every `t` below is virtual seconds since it. */
  startTime: string;
  /** The scenario's length (its `durationMinutes`), virtual seconds. */
  durationSeconds: number;
  /** The drill JSON's deliveries, each with its virtual time (ISO-8601) and `t`. */
  notifications: Array<DrillJson['scenarios'][number]['notifications'][number] & { at: string; t: number }>;
  /** Notifications sent (each once, whatever the channels), count. */
  notificationCount: number;
  /** The expected application's restart counter (count) each time it changed. */
  restarts: Array<{ t: number; restarts: number }>;
  /** Each ApplicationStatus the expected application entered. */
  statuses: Array<{ t: number; status: string }>;
  /** Alarms into ALARM, decisions, each mutating MSF call, the onset, the decision and the recovery, in time order. */
  markers: Array<{ t: number; kind: MarkerKind; text: string }>;
  /** What the Slack receiver got, as sent (Block Kit), with its answer (HTTP status or `timeout`). */
  slackMessages: Array<{ t: number; answer: number | 'timeout'; text: string; blocks: unknown[] }>;
};

/** The kinds of chart markers. */
export type MarkerKind = 'alarm' | 'decision' | 'call' | 'onset' | 'detection' | 'recovery';

/** The data of a drill report (see {@link embeddedData} for what the HTML file embeds). */
export interface ReportData {
  /** When the report was written (wall clock), ISO-8601. */
  generatedAt: string;
  scenarios: ReportScenario[];
}

const SECOND_MS = 1000;

/**
 * The report's data from the drill's results: each scenario's `drill --json` entry (toDrillJson, unchanged figures),
 * with the expected application's restart counter and statuses, the chart's markers and the Slack messages as sent.
 * `scenarios[i]` is the scenario `reports[i]` ran.
 */
export function reportData(reports: ScenarioReport[], scenarios: Scenario[], generatedAt: Date): ReportData {
  const json = toDrillJson(reports);
  return {
    generatedAt: generatedAt.toISOString(),
    scenarios: reports.map((r, i) => {
      const j = json.scenarios[i] as DrillJson['scenarios'][number];
      const s = scenarios[i];
      const t = (ms: number) => Math.round((ms - r.startMs) / SECOND_MS);
      const onsetMs = r.detectionOnset?.atMs;
      const after = (seconds: number | null) =>
        onsetMs === undefined || seconds === null ? undefined : t(onsetMs) + seconds;
      const markers: ReportScenario['markers'] = [
        ...r.timeline.flatMap((l) =>
          l.actor === 'alarm' || l.actor === 'decide'
            ? [{ t: t(l.atMs), kind: (l.actor === 'alarm' ? 'alarm' : 'decision') as MarkerKind, text: l.text }]
            : [],
        ),
        ...r.actions.map((a) => ({
          t: t(a.atMs),
          kind: 'call' as const,
          text: `${a.operation} ${a.application}${a.errorType ? ` → ${a.errorType}` : ''}`,
        })),
      ];
      const figure = (kind: MarkerKind, at: number | undefined, text: string) => {
        if (at !== undefined) markers.push({ t: at, kind, text });
      };
      if (r.detectionOnset && onsetMs !== undefined) {
        figure('onset', t(onsetMs), `onset (${r.detectionOnset.rule}) of ${r.detectionOnset.incidentId}`);
      }
      figure('detection', after(r.detectionSeconds), `decision: detected in ${r.detectionSeconds} s`);
      figure('recovery', after(r.recoverySeconds), `recovered (incident RESOLVED) in ${r.recoverySeconds} s`);
      markers.sort((a, b) => a.t - b.t);
      return {
        ...j,
        title: r.title,
        description: s?.description ?? '',
        application: r.application,
        startTime: new Date(r.startMs).toISOString(),
        durationSeconds: (s?.durationMinutes ?? 0) * 60 || Math.max(0, ...r.timeline.map((l) => t(l.atMs))),
        notifications: r.notifications.map((d, k) => ({
          ...(j.notifications[k] as DrillJson['scenarios'][number]['notifications'][number]),
          at: new Date(d.atMs).toISOString(),
          t: t(d.atMs),
        })),
        notificationCount: new Set(r.notifications.map((d) => `${d.event} ${d.incidentId} ${d.atMs}`)).size,
        restarts: r.restartCounter.map((c) => ({ t: t(c.atMs), restarts: c.restarts })),
        statuses: r.statusEntries.map((e) => ({ t: t(e.atMs), status: e.status })),
        markers,
        slackMessages: r.slackMessages.map((m) => ({
          t: t(m.atMs),
          answer: m.answer,
          text: m.body.text ?? '',
          blocks: m.body.blocks ?? [],
        })),
      };
    }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// HTML

/** Escapes text for HTML content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON for a `<script type="application/json">` element: `<`, `>`, `&` and line separators as \u escapes. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Virtual seconds since the scenario start as `T+mm:ss` (minutes past 59 kept: `T+75:00`). */
export function elapsed(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `T+${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

const dash = (v: number | null | undefined) => (v === null || v === undefined ? '–' : String(v));

/**
 * Slack mrkdwn as HTML (escaped first): `*bold*`, `_italic_`, `` `code` ``, ```` ```blocks``` ````, `<url|label>`
 * links (https only, else the label) and line breaks. Slack's escapes (&amp; &lt; &gt;) are undone, then all is escaped.
 */
export function mrkdwnHtml(text: string): string {
  // In mrkdwn a bare < or > only delimits a link; the text's own are escaped (&lt; &gt; &amp;).
  const unescapeSlack = (t: string) => t.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const parts: string[] = [];
  let last = 0;
  for (const m of text.matchAll(/<([^>|\s]+)(?:\|([^>]*))?>/g)) {
    parts.push(inlineMrkdwn(unescapeSlack(text.slice(last, m.index))));
    const url = unescapeSlack(m[1] ?? '');
    const label = unescapeSlack(m[2] ?? url);
    parts.push(
      /^https:\/\//.test(url)
        ? `<a href="${escapeHtml(url)}" rel="noreferrer">${escapeHtml(label)}</a>`
        : escapeHtml(label),
    );
    last = (m.index ?? 0) + m[0].length;
  }
  parts.push(inlineMrkdwn(unescapeSlack(text.slice(last))));
  return parts.join('');
}

function inlineMrkdwn(raw: string): string {
  return escapeHtml(raw)
    .replace(/```([\s\S]*?)```/g, (_, c: string) => `<pre>${c}</pre>`)
    .replace(/`([^`\n]+)`/g, '<code>$1</code>')
    .replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,:;!?])/g, '$1<b>$2</b>')
    .replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s).,:;!?])/g, '$1<i>$2</i>')
    .replace(/\n/g, '<br>');
}

/** A Block Kit text object's text (mrkdwn or plain_text) as HTML; anything else as ''. */
function textObject(o: unknown): string {
  const t = o as { type?: string; text?: unknown } | undefined;
  if (!t || typeof t.text !== 'string') return '';
  return t.type === 'mrkdwn' ? mrkdwnHtml(t.text) : escapeHtml(t.text);
}

/**
 * A Slack message's Block Kit blocks as simple HTML: header, section (text and fields), context, divider, actions
 * (buttons as links); another block type as its JSON. Without blocks, the message's `text` (its fallback).
 */
export function blocksHtml(blocks: unknown[], fallback: string): string {
  if (blocks.length === 0) return `<p>${mrkdwnHtml(fallback)}</p>`;
  return blocks
    .map((b) => {
      const block = b as {
        type?: string;
        text?: unknown;
        fields?: unknown[];
        elements?: Array<{ type?: string; text?: unknown; url?: unknown }>;
      };
      switch (block.type) {
        case 'header':
          return `<h5>${textObject(block.text)}</h5>`;
        case 'section':
          return `<p>${textObject(block.text)}${(block.fields ?? []).map((f) => `<br>${textObject(f)}`).join('')}</p>`;
        case 'context':
          return `<p class="ctx">${(block.elements ?? []).map((e) => textObject(e)).join(' · ')}</p>`;
        case 'divider':
          return '<hr>';
        case 'actions':
          return `<p class="actions">${(block.elements ?? [])
            .map((e) =>
              typeof e.url === 'string' && /^https:\/\//.test(e.url)
                ? `<a class="button" href="${escapeHtml(e.url)}" rel="noreferrer">${textObject(e.text)}</a>`
                : `<span class="button">${textObject(e.text)}</span>`,
            )
            .join(' ')}</p>`;
        default:
          return `<pre>${escapeHtml(JSON.stringify(block))}</pre>`;
      }
    })
    .join('\n');
}

/** The summary table's columns: header, the scenario field (`data-field`), the cell. */
const SUMMARY_COLUMNS: Array<[string, string, (s: ReportScenario) => string]> = [
  ['outcome', 'outcome', (s) => s.outcome],
  ['expected', 'expected', (s) => s.expected],
  ['detection s', 'detectionSeconds', (s) => dash(s.detectionSeconds)],
  ['first action s', 'firstActionSeconds', (s) => dash(s.firstActionSeconds)],
  ['recovery s', 'recoverySeconds', (s) => dash(s.recoverySeconds)],
  ['MSF calls', 'mutatingCalls', (s) => String(s.mutatingCalls)],
  ['notifications', 'notificationCount', (s) => String(s.notificationCount)],
  ['pages', 'pages', (s) => String(s.pages)],
];

function anchor(name: string): string {
  return `s-${name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

function summaryTable(scenarios: ReportScenario[]): string {
  const head = `<tr><th>scenario</th><th>passed</th>${SUMMARY_COLUMNS.map(([h]) => `<th>${h}</th>`).join('')}</tr>`;
  const rows = scenarios.map(
    (s) =>
      `<tr data-scenario="${escapeHtml(s.name)}"><td><a href="#${anchor(s.name)}">${escapeHtml(s.name)}</a></td>` +
      `<td data-field="passed" class="${s.passed ? 'ok' : 'bad'}">${s.passed ? '✓' : '✗'}</td>` +
      SUMMARY_COLUMNS.map(([, field, cell]) => `<td data-field="${field}">${escapeHtml(cell(s))}</td>`).join('') +
      '</tr>',
  );
  return `<table class="summary">\n<thead>${head}</thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table>`;
}

function scenarioSection(s: ReportScenario, index: number): string {
  const figures = [
    ['application', s.application],
    ['outcome', `${s.outcome} (expected ${s.expected})`],
    ['onset', s.detectionOnset ? `${s.detectionOnset.rule} at ${s.detectionOnset.at}` : '–'],
    ['detection', s.detectionSeconds === null ? '–' : `${s.detectionSeconds} s after the onset`],
    ['first action', s.firstActionSeconds === null ? '–' : `${s.firstActionSeconds} s after the onset`],
    ['recovery', s.recoverySeconds === null ? '–' : `${s.recoverySeconds} s after the onset`],
    ['mutating MSF calls', String(s.mutatingCalls)],
  ];
  const failures = s.failures.length
    ? `<ul class="bad">${s.failures.map((f) => `<li>${escapeHtml(f)}</li>`).join('')}</ul>`
    : '';
  const statuses = s.statuses
    .map((e, k) => {
      const end = s.statuses[k + 1]?.t ?? s.durationSeconds;
      return `<li><span class="st" data-status="${escapeHtml(e.status)}"></span>${escapeHtml(e.status)} ${elapsed(e.t)}–${elapsed(end)}</li>`;
    })
    .join('');
  const events = s.markers
    .map((m) => `<tr class="m-${m.kind}"><td>${elapsed(m.t)}</td><td>${m.kind}</td><td>${escapeHtml(m.text)}</td></tr>`)
    .join('\n');
  const slack = s.slackMessages
    .map(
      (m) =>
        `<div class="slack"><div class="meta">${elapsed(m.t)} · Slack answered ${escapeHtml(String(m.answer))}</div>${blocksHtml(m.blocks, m.text)}</div>`,
    )
    .join('\n');
  const deliveries = s.notifications
    .map(
      (n) =>
        `<tr><td>${elapsed(n.t)}</td><td>${escapeHtml(n.channel)}</td><td>${escapeHtml(n.event)}</td><td>${escapeHtml(n.incidentId)}</td><td class="${n.delivered ? 'ok' : 'bad'}">${n.delivered ? 'delivered' : 'not delivered'}</td></tr>`,
    )
    .join('\n');
  return `<section id="${anchor(s.name)}" data-scenario="${escapeHtml(s.name)}">
<h2><span class="${s.passed ? 'ok' : 'bad'}">${s.passed ? '✓' : '✗'}</span> ${escapeHtml(s.name)} — ${escapeHtml(s.title)}</h2>
<p class="desc">${escapeHtml(s.description)}</p>
${failures}
<dl>${figures.map(([k, v]) => `<dt>${escapeHtml(k ?? '')}</dt><dd>${escapeHtml(v ?? '')}</dd>`).join('')}</dl>
<div class="chart" data-index="${index}"></div>
<p class="legend">Restart counter of ${escapeHtml(s.application)} (line) and its ApplicationStatus (band); markers: <span class="k-alarm">alarm</span>, <span class="k-decision">decision</span>, <span class="k-call">MSF call</span>, <span class="k-onset">onset</span>, <span class="k-detection">detection</span>, <span class="k-recovery">recovery</span>.</p>
<h3>ApplicationStatus</h3><ul class="statuses">${statuses || '<li>never seen</li>'}</ul>
<details${s.markers.length <= 30 ? ' open' : ''}><summary>Events (${s.markers.length})</summary><table class="events">${events}</table></details>
<h3>Notifications as sent to Slack (${s.slackMessages.length})</h3>
${slack || '<p>none</p>'}
<details><summary>Deliveries per channel (${s.notifications.length})</summary><table class="events">${deliveries}</table></details>
</section>`;
}

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:1100px;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-top:1px solid #ccc;padding-top:1em}h3{font-size:1em}
table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
table.summary td[data-field]{text-align:right}table.summary td[data-field=outcome],table.summary td[data-field=expected]{text-align:left}
.ok{color:#1a7f37}.bad{color:#c62828}.desc{color:#555}
dl{display:grid;grid-template-columns:max-content auto;gap:0 1em}dt{color:#555}dd{margin:0}
.chart{margin:1em 0;min-height:320px}.legend{color:#555;font-size:12px}
.statuses{columns:2;font-size:12px}.st{display:inline-block;width:10px;height:10px;margin-right:6px}
table.events{font-size:12px}
.slack{border-left:4px solid #4a154b;padding:4px 10px;margin:8px 0;background:#fafafa}
.slack h5{font-size:1em;margin:4px 0}.slack p{margin:4px 0}.slack .ctx{color:#666;font-size:12px}
.slack .meta{color:#888;font-size:11px}.slack pre{white-space:pre-wrap;background:#eee;padding:4px}
.button{display:inline-block;border:1px solid #bbb;border-radius:4px;padding:1px 8px;margin:2px;font-size:12px}
.k-alarm{color:#d32f2f}.k-decision{color:#7b1fa2}.k-call{color:#ef6c00}.k-onset{color:#455a64}.k-detection{color:#1565c0}.k-recovery{color:#2e7d32}
`;

/**
 * The browser script: a uPlot chart per scenario from the embedded data. x: virtual seconds since the start (axis in
 * T+mm:ss); the restart counter as a stepped line; each ApplicationStatus interval as a coloured band behind it;
 * markers as vertical lines in their kind's colour.
 */
const CHART_SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('drill-data').textContent);
  var KIND = { alarm: '#d32f2f', decision: '#7b1fa2', call: '#ef6c00', onset: '#455a64', detection: '#1565c0', recovery: '#2e7d32' };
  var STATUS = { RUNNING: 'rgba(46,125,50,0.12)', STARTING: 'rgba(21,101,192,0.14)', UPDATING: 'rgba(21,101,192,0.22)',
    AUTOSCALING: 'rgba(0,131,143,0.18)', STOPPING: 'rgba(239,108,0,0.18)', FORCE_STOPPING: 'rgba(198,40,40,0.22)',
    READY: 'rgba(97,97,97,0.14)', ROLLING_BACK: 'rgba(173,20,87,0.22)', ROLLED_BACK: 'rgba(173,20,87,0.12)',
    MAINTENANCE: 'rgba(249,168,37,0.2)', DELETING: 'rgba(0,0,0,0.2)' };
  function colour(status) { return STATUS[status] || 'rgba(120,120,120,0.15)'; }
  function t(s) { s = Math.max(0, Math.round(s)); var m = Math.floor(s / 60), r = s % 60;
    return 'T+' + (m < 10 ? '0' : '') + m + ':' + (r < 10 ? '0' : '') + r; }
  document.querySelectorAll('.st').forEach(function (el) { el.style.background = colour(el.getAttribute('data-status')).replace(/[\\d.]+\\)$/, '0.6)'); });
  document.querySelectorAll('.chart').forEach(function (el) {
    var s = data.scenarios[Number(el.getAttribute('data-index'))];
    var end = s.durationSeconds;
    var xs = [0], ys = [null];
    s.restarts.forEach(function (p) { if (p.t === xs[xs.length - 1]) { ys[ys.length - 1] = p.restarts; } else { xs.push(p.t); ys.push(p.restarts); } });
    if (xs[xs.length - 1] < end) { xs.push(end); ys.push(ys[ys.length - 1]); }
    var bands = s.statuses.map(function (e, k) { return { from: e.t, to: k + 1 < s.statuses.length ? s.statuses[k + 1].t : end, status: e.status }; });
    var max = Math.max(1, Math.max.apply(null, ys.filter(function (y) { return y !== null; }).concat([0])));
    var opts = {
      width: Math.min(el.clientWidth || 1000, 1060), height: 300,
      scales: { x: { time: false, range: [0, end] }, y: { range: [0, Math.ceil(max * 1.15) + 1] } },
      axes: [ { incrs: [60, 120, 300, 600, 900, 1800, 3600, 7200], values: function (u, v) { return v.map(t); } }, { label: 'restarts', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] } ],
      series: [ { label: 'virtual time', value: function (u, v) { return v == null ? '' : t(v); } },
        { label: 'restart counter (' + s.application + ')', stroke: '#1565c0', width: 2, paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } } ],
      hooks: {
        drawClear: [function (u) {
          var c = u.ctx, top = u.bbox.top, h = u.bbox.height;
          bands.forEach(function (b) {
            var x0 = u.valToPos(b.from, 'x', true), x1 = u.valToPos(b.to, 'x', true);
            c.fillStyle = colour(b.status); c.fillRect(x0, top, Math.max(1, x1 - x0), h);
            if (x1 - x0 > 60 * (window.devicePixelRatio || 1)) { c.fillStyle = '#555'; c.font = (11 * (window.devicePixelRatio || 1)) + 'px sans-serif'; c.fillText(b.status, x0 + 4, top + h - 6); }
          });
        }],
        draw: [function (u) {
          var c = u.ctx, top = u.bbox.top, h = u.bbox.height, dpr = window.devicePixelRatio || 1;
          s.markers.forEach(function (m, k) {
            var x = Math.round(u.valToPos(m.t, 'x', true));
            c.strokeStyle = KIND[m.kind]; c.lineWidth = (m.kind === 'onset' || m.kind === 'detection' || m.kind === 'recovery' ? 2 : 1) * dpr;
            c.setLineDash(m.kind === 'alarm' || m.kind === 'decision' ? [4 * dpr, 3 * dpr] : []);
            c.beginPath(); c.moveTo(x, top); c.lineTo(x, top + h); c.stroke();
            c.setLineDash([]); c.fillStyle = KIND[m.kind]; c.beginPath(); c.arc(x, top + 6 * dpr + (k % 3) * 8 * dpr, 3.5 * dpr, 0, 7); c.fill();
          });
        }]
      }
    };
    new uPlot(opts, [xs, ys], el);
  });
})();
`;

/** The minified browser build of uPlot and its stylesheet, read from the installed package (inlined, never linked). */
function uplotAssets(): { js: string; css: string } {
  const require = createRequire(import.meta.url);
  const js = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
  const css = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
  if (/<\/(script|style)/i.test(js + css)) throw new Error('uplot: its build contains a closing script or style tag');
  return { js, css };
}

/**
 * The data embedded in the page (`<script type="application/json" id="drill-data">`): the report data without the
 * Slack messages, which the page carries as HTML already (they are most of the data's size).
 */
export function embeddedData(data: ReportData): { generatedAt: string; scenarios: EmbeddedScenario[] } {
  return { generatedAt: data.generatedAt, scenarios: data.scenarios.map(({ slackMessages: _, ...rest }) => rest) };
}

/** A scenario as embedded in the page: {@link ReportScenario} without `slackMessages`. */
export type EmbeddedScenario = Omit<ReportScenario, 'slackMessages'>;

/**
 * The report as one self-contained HTML document: a summary table (per scenario: outcome, detection, first action
 * and recovery in virtual seconds, mutating MSF calls, notifications, pages), then per scenario its figures, a chart
 * (uPlot, inlined), its ApplicationStatus intervals, its events and the Slack messages as sent. No external resource:
 * it opens offline. Every text from the scenarios is escaped.
 */
export function renderReportHtml(data: ReportData): string {
  const { js, css } = uplotAssets();
  const passed = data.scenarios.filter((s) => s.passed).length;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>flink-watchdog drill report</title>
<style>${css}</style>
<style>${STYLE}</style>
</head>
<body>
<h1>flink-watchdog drill report</h1>
<p>${passed}/${data.scenarios.length} scenarios passed · written ${escapeHtml(data.generatedAt)} · times are virtual (T+mm:ss since each scenario's start); detection, first action and recovery are seconds after the onset.</p>
${summaryTable(data.scenarios)}
${data.scenarios.map(scenarioSection).join('\n')}
<script type="application/json" id="drill-data">${scriptJson(embeddedData(data))}</script>
<script>${js}</script>
<script>${CHART_SCRIPT}</script>
</body>
</html>
`;
}

/**
 * Checks that `file` can be written before any scenario runs: its directory exists and it is not a directory.
 * @throws UsageError naming `--report` and the fix (the CLI exits 64).
 */
export function checkReportPath(file: string): void {
  const path = resolve(file);
  if (existsSync(path) && statSync(path).isDirectory()) {
    throw new UsageError(`drill --report ${file}: is a directory; give a file name such as drill-report.html`);
  }
  const dir = dirname(path);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UsageError(`drill --report ${file}: directory ${dir} does not exist; create it or pick another path`);
  }
}

/**
 * Writes the HTML report of a drill run to `file` (replacing it). `scenarios[i]` is the scenario `reports[i]` ran.
 * @returns the file's size, bytes
 * @throws Error when the file cannot be written (the CLI exits 1)
 */
export function writeDrillReport(file: string, reports: ScenarioReport[], scenarios: Scenario[]): number {
  const html = renderReportHtml(reportData(reports, scenarios, new Date()));
  writeFileSync(file, html);
  return Buffer.byteLength(html);
}
