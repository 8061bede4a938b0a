import { execFile } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DrillJson } from '#cli/drill.ts';
import type { embeddedData } from '#cli/report-html.ts';
import { loadScenario } from '#sandbox/scenario.ts';

const run = promisify(execFile);

/** A scenario whose title and description try to inject markup and script into the report. */
const HOSTILE_TITLE = '</script><script>window.injected = 1</script><img src=x onerror="window.injected = 2">';
const HOSTILE_DESCRIPTION = '<b>bold</b> & "quoted" \u2028 <!-- comment';

let dir: string;
let html: string;
let json: DrillJson;
let code: number;

/** The summary table's cells of one scenario, by `data-field`. */
function summaryRow(page: string, name: string): Record<string, string> {
  const table = page.match(/<table class="summary">([\s\S]*?)<\/table>/)?.[1] ?? '';
  const row = table.match(new RegExp(`<tr data-scenario="${name}">([\\s\\S]*?)</tr>`))?.[1] ?? '';
  return Object.fromEntries([...row.matchAll(/<td data-field="(\w+)"[^>]*>([^<]*)<\/td>/g)].map((m) => [m[1], m[2]]));
}

/** The data the page's charts are drawn from (the embedded JSON). */
function embedded(page: string): ReturnType<typeof embeddedData> {
  const text = page.match(/<script type="application\/json" id="drill-data">([\s\S]*?)<\/script>/)?.[1];
  return JSON.parse(text ?? 'null') as ReturnType<typeof embeddedData>;
}

/** A chromium on PATH (Debian's package), if any. */
function chromium(): string | undefined {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    const path = join(d, 'chromium');
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {}
  }
  return undefined;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'drill-report-'));
  // A scenario file like a bundled one, with text that must be escaped.
  const raw = JSON.parse(readFileSync(loadScenarioPath('wrong-main-class'), 'utf8')) as Record<string, unknown>;
  const hostile = join(dir, 'hostile-wrong-main-class.json');
  writeFileSync(
    hostile,
    JSON.stringify({
      ...raw,
      $schema: undefined,
      name: 'hostile-wrong-main-class',
      title: HOSTILE_TITLE,
      description: HOSTILE_DESCRIPTION,
    }),
  );
  // One run gives both: the JSON on stdout, the report in the file.
  const result = await run(
    process.execPath,
    ['--import', 'tsx', 'cli/bin.ts', 'drill', 'bad-config-change', hostile, '--json', '--report', join(dir, 'r.html')],
    { cwd: process.cwd(), maxBuffer: 64 * 1024 * 1024 },
  ).then(
    (r) => ({ ...r, code: 0 }),
    (e: { stdout: string; stderr: string; code: number }) => e,
  );
  code = result.code;
  json = JSON.parse(result.stdout) as DrillJson;
  html = readFileSync(join(dir, 'r.html'), 'utf8');
}, 240_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The path of a bundled scenario file (its loader resolves the package's sandbox/scenarios). */
function loadScenarioPath(name: string): string {
  expect(loadScenario(name).name).toBe(name);
  return join(process.cwd(), 'sandbox', 'scenarios', `${name}.json`);
}

describe('Command: flink-watchdog drill --report FILE.html', () => {
  it('passes both scenarios and keeps stdout pure JSON with --json', () => {
    expect(code).toBe(0);
    expect(json.scenarios.map((s) => s.name)).toEqual(['bad-config-change', 'hostile-wrong-main-class']);
  });

  it('writes one self-contained file: no script, stylesheet or image from the network', () => {
    expect(html).not.toMatch(/<script[^>]*\ssrc=/i);
    expect(html).not.toMatch(/<link[^>]*href=["']?https?:/i);
    expect(html).not.toMatch(/<img/i);
    expect(html).toMatch(/^<!doctype html>/);
    // The chart library is inlined.
    expect(html).toContain('uPlot');
  });

  it('shows each scenario: a summary row, a section and a chart', () => {
    for (const [i, s] of json.scenarios.entries()) {
      expect(html).toContain(`<tr data-scenario="${s.name}">`);
      expect(html).toContain(`<section id="s-${s.name}" data-scenario="${s.name}">`);
      expect(html).toContain(`<div class="chart" data-index="${i}">`);
    }
  });

  it("gives in the summary table the figures of the drill's JSON", () => {
    for (const s of json.scenarios) {
      const row = summaryRow(html, s.name);
      const figure = (v: number | null) => (v === null ? '–' : String(v));
      expect(row).toEqual({
        passed: s.passed ? '✓' : '✗',
        outcome: s.outcome,
        expected: s.expected,
        detectionSeconds: figure(s.detectionSeconds),
        firstActionSeconds: figure(s.firstActionSeconds),
        recoverySeconds: figure(s.recoverySeconds),
        mutatingCalls: String(s.mutatingCalls),
        notificationCount: expect.stringMatching(/^\d+$/),
        pages: String(s.pages),
      });
    }
    // The restart loop scenario recovered: its figures are numbers, not dashes.
    expect(summaryRow(html, 'bad-config-change').recoverySeconds).toMatch(/^\d+$/);
  });

  it('embeds the data of the charts: the JSON figures, the restart counter, the statuses and the markers', () => {
    const data = embedded(html);
    const [loop, notified] = data.scenarios;
    for (const [i, s] of json.scenarios.entries()) {
      const d = data.scenarios[i];
      expect(d?.detectionSeconds).toBe(s.detectionSeconds);
      expect(d?.recoverySeconds).toBe(s.recoverySeconds);
      expect(d?.actions).toEqual(s.actions);
      // Each notification counted once, whatever its channels.
      expect(d?.notificationCount).toBe(
        new Set(d?.notifications.map((n) => `${n.event} ${n.incidentId} ${n.at}`)).size,
      );
      expect(summaryRow(html, s.name).notificationCount).toBe(String(d?.notificationCount));
    }
    // The looping job restarted (its counter rose above the threshold) and was rolled back (a new job: back to 0).
    expect(Math.max(...(loop?.restarts.map((p) => p.restarts) ?? []))).toBeGreaterThanOrEqual(3);
    expect(loop?.restarts.at(-1)?.restarts).toBe(0);
    expect(loop?.statuses.map((e) => e.status)).toContain('ROLLING_BACK');
    const kinds = new Set(loop?.markers.map((m) => m.kind));
    for (const k of ['alarm', 'decision', 'call', 'onset', 'detection', 'recovery']) expect(kinds).toContain(k);
    expect(loop?.markers.filter((m) => m.kind === 'call').map((m) => m.text)).toEqual(
      json.scenarios[0]?.actions.map((a) => `${a.operation} ${a.application}`),
    );
    // The failed deploy: notified, never acted on.
    expect(notified?.markers.some((m) => m.kind === 'call' || m.kind === 'recovery')).toBe(false);
  });

  it('renders the Slack messages as sent (Block Kit as HTML), with the incident id', () => {
    const section = html.match(/<section id="s-bad-config-change"[\s\S]*?<\/section>/)?.[0] ?? '';
    // No Slack outage in this scenario: one request per notification delivered to Slack.
    const toSlack = json.scenarios[0]?.notifications.filter((n) => n.channel === 'slack' && n.delivered) ?? [];
    expect(toSlack.length).toBeGreaterThan(0);
    expect(section.match(/<div class="slack">/g)?.length).toBe(toSlack.length);
    expect(section).toContain('<h5>orders-enrichment · OPENED</h5>');
    expect(section).toContain(json.scenarios[0]?.detectionOnset?.incidentId ?? 'no incident');
  });

  it('escapes scenario text: no markup or script gets in', () => {
    expect(html).not.toContain('<script>window.injected');
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('<b>bold</b>');
    expect(html).toContain('&#60;b&#62;bold&#60;/b&#62; &#38; &#34;quoted&#34;');
    // Inside the embedded JSON too, and the JSON still reads back as the original text.
    const hostile = embedded(html).scenarios[1];
    expect(hostile?.title).toBe(HOSTILE_TITLE);
    expect(hostile?.description).toBe(HOSTILE_DESCRIPTION);
    // Exactly the three scripts of the page: the data, the library, the charts.
    expect(html.match(/<script/g)?.length).toBe(3);
  });

  it('draws a chart per scenario in a browser, offline (headless Chromium, when installed)', async () => {
    const browser = chromium();
    if (!browser) return; // Not required: the checks above hold without a browser.
    const { stdout } = await run(
      browser,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--virtual-time-budget=5000',
        '--dump-dom',
        `file://${join(dir, 'r.html')}`,
      ],
      { maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
    );
    // uPlot built its chart (a .uplot root with a canvas) in each chart container, and no injected script ran.
    expect(stdout.match(/<div class="uplot/g)?.length).toBe(json.scenarios.length);
    expect(stdout.match(/<canvas/g)?.length).toBeGreaterThanOrEqual(json.scenarios.length);
    expect(stdout).not.toMatch(/<img/i);
    expect(stdout).not.toContain('<script>window.injected');
  }, 150_000);
});
