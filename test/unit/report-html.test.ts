import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '#cli/context.ts';
import {
  blocksHtml,
  checkReportPath,
  elapsed,
  escapeHtml,
  mrkdwnHtml,
  type ReportData,
  type ReportScenario,
  renderReportHtml,
} from '#cli/report-html.ts';

const dir = mkdtempSync(join(tmpdir(), 'report-html-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A report scenario built by hand: a restart loop rolled back. */
function scenario(over: Partial<ReportScenario> = {}): ReportScenario {
  return {
    name: 'loop',
    title: 'A loop',
    description: 'The job loops.',
    expected: 'RECOVERED',
    outcome: 'RECOVERED',
    passed: true,
    failures: [],
    detectionOnset: { rule: 'first-restart', at: '2026-03-02T14:06:45.000Z', incidentId: 'app-1' },
    detectionSeconds: 140,
    firstActionSeconds: 145,
    recoverySeconds: 530,
    peers: {
      operatorHealthCheck: { rule: 'op', firedAt: null, detectionSeconds: null },
      awsDowntimeAlarm: { rule: 'aws', firedAt: null, detectionSeconds: null },
    },
    restartLoop: null,
    rootCause: null,
    actions: [],
    mutatingCalls: 1,
    workflowExecutions: [],
    notifications: [],
    pages: 0,
    maxConcurrentRemediations: 1,
    fleetIncidents: [],
    application: 'app',
    startTime: '2026-03-02T14:00:00.000Z',
    durationSeconds: 1200,
    notificationCount: 2,
    restarts: [
      { t: 0, restarts: 0 },
      { t: 405, restarts: 3 },
    ],
    statuses: [{ t: 0, status: 'RUNNING' }],
    markers: [{ t: 545, kind: 'call', text: 'RollbackApplication app' }],
    slackMessages: [],
    ...over,
  };
}

describe('Function: escapeHtml', () => {
  it('escapes the characters that start markup or end an attribute', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      '&#60;a href=&#34;x&#34; title=&#39;y&#39;&#62;&#38;&#60;/a&#62;',
    );
  });
});

describe('Function: elapsed', () => {
  it('writes virtual seconds as T+mm:ss, minutes past the hour kept', () => {
    expect(elapsed(0)).toBe('T+00:00');
    expect(elapsed(545)).toBe('T+09:05');
    expect(elapsed(4500)).toBe('T+75:00');
  });
});

describe('Function: mrkdwnHtml', () => {
  it('renders bold, code, code blocks and line breaks, escaping the rest', () => {
    expect(mrkdwnHtml('*Finding* `RESTART_LOOP`\n&lt;b&gt;x&lt;/b&gt; &amp; y')).toBe(
      '<b>Finding</b> <code>RESTART_LOOP</code><br>&#60;b&#62;x&#60;/b&#62; &#38; y',
    );
    expect(mrkdwnHtml('```aws kinesisanalyticsv2 start-application```')).toBe(
      '<pre>aws kinesisanalyticsv2 start-application</pre>',
    );
  });

  it('links https URLs only; another scheme keeps its label as text', () => {
    expect(mrkdwnHtml('see <https://example.com/a?b=1&c=2|the console>')).toBe(
      'see <a href="https://example.com/a?b=1&#38;c=2" rel="noreferrer">the console</a>',
    );
    expect(mrkdwnHtml('<javascript:alert(1)|click>')).toBe('click');
  });
});

describe('Function: blocksHtml', () => {
  it('renders header, section, context and buttons; an unknown block as escaped JSON', () => {
    // Prepare
    const blocks = [
      { type: 'header', text: { type: 'plain_text', text: 'app · OPENED <now>' } },
      { type: 'section', text: { type: 'mrkdwn', text: '*app: restart loop*' } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: 'Incident `app-1`' }] },
      {
        type: 'actions',
        elements: [
          { type: 'button', text: { type: 'plain_text', text: 'MSF console' }, url: 'https://console.aws.amazon.com/' },
          { type: 'button', text: { type: 'plain_text', text: 'bad' }, url: 'javascript:alert(1)' },
        ],
      },
      { type: 'video', title: '<script>' },
    ];

    // Act
    const html = blocksHtml(blocks, 'fallback');

    // Assess
    expect(html).toContain('<h5>app · OPENED &#60;now&#62;</h5>');
    expect(html).toContain('<p><b>app: restart loop</b></p>');
    expect(html).toContain('<p class="ctx">Incident <code>app-1</code></p>');
    expect(html).toContain('<a class="button" href="https://console.aws.amazon.com/" rel="noreferrer">MSF console</a>');
    expect(html).toContain('<span class="button">bad</span>');
    expect(html).not.toContain('javascript:');
    expect(html).toContain('&#60;script&#62;');
    expect(html).not.toContain('fallback');
  });

  it("shows the message's text (its fallback) when it has no blocks", () => {
    expect(blocksHtml([], 'app · NOTIFIED: *deploy failed*')).toBe('<p>app · NOTIFIED: <b>deploy failed</b></p>');
  });
});

describe('Function: renderReportHtml', () => {
  it('writes a summary row per scenario with its figures, a dash for a missing one', () => {
    // Prepare
    const data: ReportData = {
      generatedAt: '2026-11-30T12:00:00.000Z',
      scenarios: [scenario(), scenario({ name: 'quiet', outcome: 'NOTIFIED', recoverySeconds: null, passed: false })],
    };

    // Act
    const html = renderReportHtml(data);

    // Assess
    expect(html).toContain(
      '<tr data-scenario="loop"><td><a href="#s-loop">loop</a></td><td data-field="passed" class="ok">✓</td><td data-field="outcome">RECOVERED</td><td data-field="expected">RECOVERED</td><td data-field="detectionSeconds">140</td><td data-field="firstActionSeconds">145</td><td data-field="recoverySeconds">530</td><td data-field="mutatingCalls">1</td><td data-field="notificationCount">2</td><td data-field="pages">0</td></tr>',
    );
    expect(html).toMatch(
      /<tr data-scenario="quiet">.*<td data-field="passed" class="bad">✗<\/td>.*<td data-field="recoverySeconds">–<\/td>/,
    );
    expect(html).toContain('1/2 scenarios passed');
    expect(html).toContain('<li><span class="st" data-status="RUNNING"></span>RUNNING T+00:00–T+20:00</li>');
  });

  it('keeps the embedded data inside its script element whatever the scenario text', () => {
    // Prepare
    const title = '</script><script>alert(1)</script>\u2028';

    // Act
    const html = renderReportHtml({ generatedAt: 'now', scenarios: [scenario({ title })] });

    // Assess
    const json = html.match(/<script type="application\/json" id="drill-data">([\s\S]*?)<\/script>/)?.[1] ?? '';
    expect((JSON.parse(json) as ReportData).scenarios[0]?.title).toBe(title);
    expect(html).not.toContain('<script>alert(1)');
    expect(html).not.toMatch(/<script[^>]*\ssrc=/);
  });
});

describe('Function: checkReportPath', () => {
  it('accepts a new file in an existing directory', () => {
    expect(() => checkReportPath(join(dir, 'report.html'))).not.toThrow();
  });

  it('refuses a missing directory or a directory as a usage error naming --report and the fix', () => {
    expect(() => checkReportPath(join(dir, 'missing', 'report.html'))).toThrow(UsageError);
    expect(() => checkReportPath(join(dir, 'missing', 'report.html'))).toThrow(/--report .*does not exist; create it/);
    expect(() => checkReportPath(dir)).toThrow(/is a directory; give a file name/);
  });
});
