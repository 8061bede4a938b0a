import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { escapeHtml } from '#cli/report-html.ts';
import { APPLICATION_COMMANDS } from '#shared/events/runbook-command.ts';
import { CONSOLE_WINDOW_MINUTES, SANDBOX_STATE_PATH } from './console-state.ts';
import { SANDBOX_CLOCK_PATH } from './emulator/server.ts';

/** Path of the console's controls: `POST` with `{"action": ...}` (see sandbox/live.ts). */
export const SANDBOX_ACTIONS_PATH = '/sandbox/actions';

/** The minified browser build of uPlot and its stylesheet, read from the installed package (inlined, never linked). */
function uplotAssets(): { js: string; css: string } {
  const require = createRequire(import.meta.url);
  const js = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
  const css = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
  if (/<\/(script|style)/i.test(js + css)) throw new Error('uplot: its build contains a closing script or style tag');
  return { js, css };
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#222}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:20px 0 6px}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}.muted{color:#777}.controls button{margin-right:6px}
.status-RESOLVED{color:#2e7d32;font-weight:bold}.status-ESCALATED{color:#c62828;font-weight:bold}
.alarm-ALARM{color:#c62828}.alarm-OK{color:#2e7d32}
.chart{margin:6px 0 12px}.slack{border-left:4px solid #4a154b;padding:4px 10px;margin:8px 0;background:#fafafa}
.slack .meta{color:#888;font-size:11px}.slack pre{white-space:pre-wrap;background:#eee;padding:4px}
.button{display:inline-block;border:1px solid #bbb;border-radius:4px;padding:1px 8px;margin:2px;font-size:12px}
ol.events{margin:4px 0 12px;padding-left:20px}
.approval{background:#fff8e1;border:1px solid #f9a825;padding:4px 8px;margin:4px 0}
`;

/**
 * The browser script: polls the state every second and renders it. Every text from the state goes in through
 * textContent, except the Slack messages' HTML, which the server rendered with every text escaped.
 * Charts: x = virtual minutes relative to now (−30 … 0); the restart counter as a stepped line; each ApplicationStatus
 * as a coloured band behind it, named when wide enough.
 */
const SCRIPT = `
(function () {
  var STATE = ${JSON.stringify(SANDBOX_STATE_PATH)}, CLOCK = ${JSON.stringify(SANDBOX_CLOCK_PATH)}, ACTIONS = ${JSON.stringify(SANDBOX_ACTIONS_PATH)};
  var WINDOW = ${CONSOLE_WINDOW_MINUTES};
  var STATUS = { RUNNING: 'rgba(46,125,50,0.14)', STARTING: 'rgba(21,101,192,0.14)', UPDATING: 'rgba(21,101,192,0.22)',
    AUTOSCALING: 'rgba(0,131,143,0.18)', STOPPING: 'rgba(239,108,0,0.18)', FORCE_STOPPING: 'rgba(198,40,40,0.22)',
    READY: 'rgba(97,97,97,0.14)', ROLLING_BACK: 'rgba(173,20,87,0.22)', ROLLED_BACK: 'rgba(173,20,87,0.12)',
    MAINTENANCE: 'rgba(249,168,37,0.2)', DELETING: 'rgba(0,0,0,0.2)' };
  function colour(s) { return STATUS[s] || 'rgba(120,120,120,0.15)'; }
  function el(tag, attrs, text) { var e = document.createElement(tag); for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = String(text); return e; }
  function hhmmss(ms) { return new Date(ms).toISOString().slice(11, 19); }
  var charts = {};
  function chart(app, nowMs) {
    var box = document.getElementById('chart-' + app.name);
    if (!box) { box = el('div', { id: 'chart-' + app.name, class: 'chart', 'data-application': app.name });
      box.appendChild(el('h3', {}, app.name)); document.getElementById('charts').appendChild(box); }
    var xs = [-WINDOW], ys = [null];
    app.restarts.forEach(function (p) { xs.push((p.atMs - nowMs) / 60000); ys.push(p.restarts); });
    xs.push(0); ys.push(ys[ys.length - 1]);
    var bands = app.statuses.map(function (s, k) { return { from: (s.atMs - nowMs) / 60000,
      to: k + 1 < app.statuses.length ? (app.statuses[k + 1].atMs - nowMs) / 60000 : 0, status: s.status }; });
    var max = Math.max(1, Math.max.apply(null, ys.filter(function (y) { return y !== null; }).concat([0])));
    var c = charts[app.name];
    if (c) { c.bands = bands; c.u.setScale('y', { min: 0, max: Math.ceil(max * 1.15) + 1 }); c.u.setData([xs, ys], false); c.u.redraw(); return; }
    c = { bands: bands };
    var opts = { width: Math.min(box.clientWidth || 900, 900), height: 220,
      scales: { x: { time: false, range: [-WINDOW, 0] }, y: { auto: false, range: [0, Math.ceil(max * 1.15) + 1] } },
      axes: [ { label: 'virtual minutes (0 = now)' }, { label: 'restarts' } ],
      series: [ { label: 'minutes', value: function (u, v) { return v == null ? '' : v.toFixed(1); } },
        { label: 'restart counter', stroke: '#1565c0', width: 2, paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } } ],
      hooks: { drawClear: [function (u) {
        var g = u.ctx, top = u.bbox.top, h = u.bbox.height, dpr = window.devicePixelRatio || 1;
        c.bands.forEach(function (b) {
          var x0 = u.valToPos(Math.max(b.from, -WINDOW), 'x', true), x1 = u.valToPos(b.to, 'x', true);
          g.fillStyle = colour(b.status); g.fillRect(x0, top, Math.max(1, x1 - x0), h);
          if (x1 - x0 > 70 * dpr) { g.fillStyle = '#555'; g.font = (11 * dpr) + 'px sans-serif'; g.fillText(b.status, x0 + 4, top + h - 6); }
        }); }] } };
    c.u = new uPlot(opts, [xs, ys], box);
    charts[app.name] = c;
  }
  function render(s) {
    document.getElementById('now').textContent = s.now + (s.speed === 0 ? ' (paused)' : ' (speed ' + s.speed + '×)');
    var apps = document.getElementById('applications'); apps.textContent = '';
    s.applications.forEach(function (a) {
      var last = a.restarts.length ? a.restarts[a.restarts.length - 1].restarts : 0;
      var tr = el('tr', { 'data-application': a.name });
      tr.appendChild(el('td', {}, a.name)); tr.appendChild(el('td', { class: 'app-status' }, a.status));
      tr.appendChild(el('td', {}, a.versionId)); tr.appendChild(el('td', {}, last));
      var alarms = el('td', {}); a.alarms.forEach(function (al) { var d = el('div', { class: 'alarm-' + al.state, title: al.reason }, al.state + ' ' + al.name); alarms.appendChild(d); });
      tr.appendChild(alarms);
      var auto = el('td', { class: 'automation' }, a.automationPaused ? 'paused by ' + a.automationPaused.by + ': ' + a.automationPaused.reason + ' ' : 'on ');
      var command = a.automationPaused ? 'resume-automation' : 'pause-automation';
      auto.appendChild(el('button', { 'data-command': command, 'data-application': a.name }, a.automationPaused ? 'Resume automation' : 'Pause automation'));
      tr.appendChild(auto); apps.appendChild(tr);
      chart(a, s.nowMs);
    });
    var inc = document.getElementById('incidents'); inc.textContent = '';
    if (!s.incidents.length) inc.appendChild(el('p', { class: 'muted' }, 'No incident.'));
    s.incidents.forEach(function (i) {
      var d = el('div', { class: 'incident', 'data-incident': i.id });
      var h = el('h3', {}, i.applicationName + ' — ');
      h.appendChild(el('span', { class: 'incident-status status-' + i.status }, i.status));
      h.appendChild(document.createTextNode(' ' + (i.finding || '') + ' (opened ' + hhmmss(i.openedMs) + (i.closedMs ? ', closed ' + hhmmss(i.closedMs) : '') + ')'));
      d.appendChild(h); if (i.outcomeReason) d.appendChild(el('p', {}, i.outcomeReason));
      if (i.approval) {
        var ap = el('p', { class: 'approval', 'data-approval-state': i.approval.state });
        if (i.approval.state === 'PENDING') {
          ap.appendChild(document.createTextNode('Awaiting approval: ' + i.approval.action + ' (until ' + hhmmss(i.approval.timeoutMs) + ', then ' + (i.approval.onTimeout === 'proceed' ? 'acting' : 'ESCALATED') + ') '));
          ap.appendChild(el('button', { 'data-approval': 'approve', 'data-incident': i.id }, 'Approve'));
          ap.appendChild(el('button', { 'data-approval': 'reject', 'data-incident': i.id }, 'Reject'));
        } else {
          var a = i.approval.answer;
          ap.textContent = 'Approval ' + i.approval.state + ': ' + i.approval.action + (a ? ' — ' + a.decision.toLowerCase() + ' by ' + a.by + ' via ' + a.via + (a.reason ? ': ' + a.reason : '') : '');
        }
        d.appendChild(ap);
      }
      var ol = el('ol', { class: 'events' });
      i.events.forEach(function (e) { ol.appendChild(el('li', {}, hhmmss(e.atMs) + ' ' + e.kind + ': ' + e.message)); });
      d.appendChild(ol); inc.appendChild(d);
    });
    var notes = document.getElementById('notifications');
    if (notes.childElementCount !== s.notifications.length) {
      notes.textContent = '';
      if (!s.notifications.length) notes.appendChild(el('p', { class: 'muted' }, 'No Slack message yet.'));
      s.notifications.forEach(function (n) {
        var d = el('div', { class: 'slack' }); d.appendChild(el('div', { class: 'meta' }, hhmmss(n.atMs) + ' · answered ' + n.answer));
        var body = el('div', { class: 'slack-body' }); body.innerHTML = n.html; d.appendChild(body); notes.appendChild(d);
      });
    }
  }
  var busy = false;
  function poll() {
    if (busy) return; busy = true;
    fetch(STATE).then(function (r) { return r.json(); }).then(function (s) { render(s); document.getElementById('error').textContent = ''; })
      .catch(function (e) { document.getElementById('error').textContent = 'cannot read the sandbox: ' + e; })
      .then(function () { busy = false; });
  }
  function post(path, body) {
    var buttons = document.querySelectorAll('.controls button, #applications button, button[data-approval]'); buttons.forEach(function (b) { b.disabled = true; });
    document.getElementById('pending').textContent = 'working…';
    return fetch(path, { method: 'POST', body: JSON.stringify(body) }).then(function (r) { return r.json().then(function (j) {
        document.getElementById('pending').textContent = r.ok ? '' : (j.message || ('HTTP ' + r.status)); }); })
      .catch(function (e) { document.getElementById('pending').textContent = String(e); })
      .then(function () { buttons.forEach(function (b) { b.disabled = false; }); poll(); });
  }
  document.querySelectorAll('button[data-advance]').forEach(function (b) {
    b.addEventListener('click', function () { post(CLOCK, { advanceSeconds: Number(b.getAttribute('data-advance')) * 60 }); }); });
  document.getElementById('applications').addEventListener('click', function (e) {
    var b = e.target.closest('button[data-command]');
    if (b) post(ACTIONS, { action: b.getAttribute('data-command'), application: b.getAttribute('data-application') }); });
  var inject = document.getElementById('inject');
  if (inject) inject.addEventListener('click', function () { post(ACTIONS, { action: 'inject-failure', application: inject.getAttribute('data-application') }); });
  var stuck = document.getElementById('inject-stuck');
  if (stuck) stuck.addEventListener('click', function () { post(ACTIONS, { action: 'inject-stuck-update', application: stuck.getAttribute('data-application') }); });
  var outage = document.getElementById('outage-inject');
  if (outage) outage.addEventListener('click', function () {
    var t = JSON.parse(document.getElementById('outage-target').value);
    post(ACTIONS, { action: 'inject-source-outage', application: t.application, source: t.source,
      minutes: Number(document.getElementById('outage-minutes').value) }); });
  // Approve / Reject: on an incident awaiting approval, and on its Slack message (as Slack's interactivity would).
  document.addEventListener('click', function (e) {
    var b = e.target.closest('button[data-approval]');
    if (!b) return;
    var action = b.getAttribute('data-approval'), id = b.getAttribute('data-incident'), body = { action: action, incidentId: id };
    var question = b.getAttribute('data-confirm');
    if (question && !window.confirm(question)) return;
    if (action === 'reject') {
      var reason = window.prompt('Why reject the remediation of incident ' + id + '? (required)');
      if (reason === null) return;
      if (!reason.trim()) { document.getElementById('pending').textContent = 'a reason is required to reject'; return; }
      body.reason = reason;
    }
    post(ACTIONS, body);
  });
  document.getElementById('runbook-run').addEventListener('click', function () {
    post(ACTIONS, { action: document.getElementById('runbook-command').value, application: document.getElementById('runbook-application').value }); });
  poll(); setInterval(poll, 1000);
})();
`;

/** What the console offers for a scenario. */
export interface ConsolePageOptions {
  /** The scenario's name and title, for the heading. */
  readonly scenario: { readonly name: string; readonly title: string };
  /** The scenario's applications (ApplicationName): the choices of the "Run a runbook command" control. */
  readonly applications: readonly string[];
  /**
   * The sources each application reads (ApplicationName → values of its environment properties): the choices of the
   * "Inject a source outage" control; no control when there is none.
   */
  readonly sources?: Readonly<Record<string, readonly string[]>>;
  /** The stuck update the "Inject a stuck update" button deploys; omitted when the job model has none (no button). */
  readonly stuckUpdate?: { readonly application: string; readonly description: string };
  /**
   * The failure the "inject a failure" button deploys (an UpdateApplication a person would send), named for the
   * button; omitted when the scenario's job model has no configuration that crash-loops (no button then).
   */
  readonly injection?: { readonly application: string; readonly description: string };
}

/**
 * The local console (`GET /` of the live sandbox): one self-contained HTML page (uPlot inlined, no external
 * resource) that polls `GET /sandbox/state` every second: the applications (ApplicationStatus, application version,
 * restart counter, alarms), a chart per application of its restart counter and ApplicationStatus over the last 30
 * virtual minutes, the incidents with their timelines and the Slack messages as sent (Block Kit as HTML); buttons
 * advance the sandbox clock by 1, 5 or 15 virtual minutes (`POST /sandbox/clock`), pause or resume automation of an
 * application (a runbook command published to the command topic, as `remediate --execute` does) and, when the
 * scenario allows, inject a failure; "Run a runbook command" publishes any runbook command (force-stop,
 * restart-from-snapshot with snapshot latest, rollback, start, stop, snapshot, pause-automation, resume-automation)
 * for an application, as `remediate --execute` does; "Inject a source outage" adds the scenario's source outage fault
 * (every application reading the source fails and restarts) from the current virtual time for N minutes
 * and, when the scenario's job model has code that hangs, "Inject a stuck update" deploys it (`POST /sandbox/actions`).
 * An incident awaiting approval (approve mode) shows what it would do, until when, and Approve / Reject buttons, as
 * its Slack message does; Reject asks for a reason; both answer it (`POST /sandbox/actions` approve / reject).
 * Scenario texts are escaped.
 */
export function renderConsolePage(options: ConsolePageOptions): string {
  const { js, css } = uplotAssets();
  const { scenario, injection, applications, sources = {}, stuckUpdate } = options;
  const stuckButton = stuckUpdate
    ? ` <button id="inject-stuck" data-application="${escapeHtml(stuckUpdate.application)}" title="${escapeHtml(stuckUpdate.description)}">Inject a stuck update (${escapeHtml(stuckUpdate.application)})</button>`
    : '';
  const option = (value: string, label = value) => `<option value="${escapeHtml(value)}">${escapeHtml(label)}</option>`;
  const runbook = `<p class="controls">Run a runbook command: <select id="runbook-application">${applications.map((a) => option(a)).join('')}</select> <select id="runbook-command">${APPLICATION_COMMANDS.map((c) => option(c, c === 'restart-from-snapshot' ? 'restart-from-snapshot (latest)' : c)).join('')}</select> <button id="runbook-run">Run</button> <span class="muted">published to the command topic as remediate --execute does; the answer shows under Incidents</span></p>`;
  const injectButton = injection
    ? ` <button id="inject" data-application="${escapeHtml(injection.application)}" title="${escapeHtml(injection.description)}">Inject a failure (${escapeHtml(injection.application)})</button>`
    : '';
  const targets = applications.flatMap((application) =>
    (sources[application] ?? []).map((source) => ({ application, source })),
  );
  const outage =
    targets.length === 0
      ? ''
      : `<p class="controls">Inject a source outage: <select id="outage-target">${targets.map((t) => option(JSON.stringify(t), `${t.source} (read by ${t.application})`)).join('')}</select> for <input id="outage-minutes" type="number" min="1" max="1440" value="10" style="width:5em"> virtual minutes <button id="outage-inject">Inject outage</button> <span class="muted">from now: every application reading the source fails and restarts until it is back</span></p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>flink-watchdog sandbox — ${escapeHtml(scenario.name)}</title>
<style>${css}</style><style>${STYLE}</style></head>
<body>
<h1>flink-watchdog sandbox: ${escapeHtml(scenario.name)}</h1>
<p class="muted">${escapeHtml(scenario.title)}</p>
<p>Virtual time: <b id="now">…</b></p>
<p class="controls">Advance the clock: <button data-advance="1">+1 min</button><button data-advance="5">+5 min</button><button data-advance="15">+15 min</button>${injectButton}${stuckButton} <span id="pending" class="muted"></span></p>
${runbook}
${outage}
<p id="error" style="color:#c62828"></p>
<h2>Applications</h2>
<table><thead><tr><th>Application</th><th>ApplicationStatus</th><th>Application version</th><th>Restarts</th><th>Alarms</th><th>Automation</th></tr></thead>
<tbody id="applications"></tbody></table>
<h2>Restarts and ApplicationStatus, last ${CONSOLE_WINDOW_MINUTES} virtual minutes</h2>
<div id="charts"></div>
<h2>Incidents</h2>
<div id="incidents"></div>
<h2>Notifications (Slack, as sent)</h2>
<div id="notifications"></div>
<script>${js}</script>
<script>${SCRIPT}</script>
</body></html>
`;
}
