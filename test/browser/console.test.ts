import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveScenario } from '#cli/drill.ts';
import { type LiveSandbox, startLiveSandbox } from '#sandbox/live.ts';

/** Debian's Chromium: the browser the console test drives (`.ci/run` installs it). */
const CHROMIUM = '/usr/bin/chromium';

let sandbox: LiveSandbox | undefined;
let browser: Browser | undefined;

afterEach(async () => {
  await browser?.close();
  browser = undefined;
  await sandbox?.stop();
  sandbox = undefined;
});

/** Clicks a control and waits until the page shows the virtual time `now` (ISO-8601) the click led to. */
async function clickUntilNow(page: Page, selector: string, now: string): Promise<void> {
  await page.click(selector);
  // A string predicate: it runs in the page (the test's own types have no DOM).
  await page.waitForFunction(
    `document.getElementById('now').textContent.startsWith(${JSON.stringify(now)})`,
    undefined,
    {
      timeout: 60_000,
    },
  );
}

describe('Console: the live sandbox page in a real browser', () => {
  it('bad-config-change at speed 0: inject the bad configuration, advance, and the page shows the rollback RESOLVED with its Slack message', async () => {
    // Prepare: the scenario's world without its timeline, so the console's injection is the only change.
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`);
    }
    sandbox = await startLiveSandbox({ scenario: { ...resolveScenario('bad-config-change'), timeline: [] }, speed: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    const page = await browser.newPage();
    const external: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(sandbox?.endpoint ?? '-')) external.push(r.url());
    });
    const response = await page.goto(`${sandbox.endpoint}/`);
    await page.waitForSelector('tr[data-application="orders-enrichment"]');
    const before = {
      now: await page.textContent('#now'),
      status: await page.textContent('tr[data-application="orders-enrichment"] .app-status'),
      row: await page.textContent('tr[data-application="orders-enrichment"]'),
      incidents: await page.textContent('#incidents'),
    };

    // Act: inject the failure (an UpdateApplication to the crash-looping stream), then +5 min until RESOLVED.
    await page.click('#inject');
    await page.waitForFunction("!document.getElementById('inject').disabled", undefined, {
      timeout: 60_000,
    });
    const pendingAfterInject = await page.textContent('#pending');
    const start = Date.parse('2026-03-02T14:00:00Z');
    let minutes = 0;
    while (minutes < 60 && !(await page.$('.incident-status.status-RESOLVED'))) {
      minutes += 5;
      await clickUntilNow(page, 'button[data-advance="5"]', new Date(start + minutes * 60_000).toISOString());
    }

    // Assess
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-type']).toBe('text/html; charset=utf-8');
    expect(external).toEqual([]);
    expect(before.now).toBe('2026-03-02T14:00:00.000Z (paused)');
    expect(before.status).toBe('RUNNING');
    expect(before.row).toContain('RUNNING6');
    expect(before.row).toContain('orders-enrichment');
    expect(before.incidents).toBe('No incident.');
    expect(pendingAfterInject).toBe('');
    expect(minutes).toBeLessThan(60);
    const incident = await page.textContent('.incident');
    expect(incident).toContain('orders-enrichment — RESOLVED RESTART_LOOP');
    expect(incident).toContain('RollbackApplication');
    // The rollback made version 8 (the injection's update was version 7), RUNNING again.
    expect(await page.textContent('tr[data-application="orders-enrichment"] .app-status')).toBe('RUNNING');
    expect(await page.textContent('tr[data-application="orders-enrichment"] td:nth-child(3)')).toBe('8');
    expect(await page.$$('#chart-orders-enrichment canvas')).toHaveLength(1);
    const slack = await page.$$eval('#notifications .slack-body', (els) => els.map((e) => e.textContent ?? ''));
    expect(slack.length).toBeGreaterThan(0);
    expect(slack.some((t) => t.startsWith('orders-enrichment · OPENED'))).toBe(true);
    expect(slack.some((t) => t.startsWith('orders-enrichment · RESOLVED'))).toBe(true);
  }, 240_000);

  it('Pause automation in an application row publishes the runbook command, and the row then shows the pause', async () => {
    // Prepare
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`);
    }
    sandbox = await startLiveSandbox({ scenario: resolveScenario('bad-config-change'), speed: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    const page = await browser.newPage();
    await page.goto(`${sandbox.endpoint}/`);
    const row = 'tr[data-application="orders-enrichment"]';
    await page.waitForSelector(`${row} button[data-command="pause-automation"]`);
    const before = await page.textContent(`${row} .automation`);

    // Act
    await page.click(`${row} button[data-command="pause-automation"]`);
    await page.waitForSelector(`${row} button[data-command="resume-automation"]`, { timeout: 60_000 });

    // Assess
    expect(before).toBe('on Pause automation');
    expect(await page.textContent(`${row} .automation`)).toBe(
      'paused by sandbox console: paused from the sandbox console Resume automation',
    );
  }, 120_000);

  it('Run a runbook command: snapshot chosen in the select and Run publishes it, and the incident shows the CreateApplicationSnapshot RESOLVED', async () => {
    // Prepare
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`);
    }
    sandbox = await startLiveSandbox({ scenario: { ...resolveScenario('bad-config-change'), timeline: [] }, speed: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    const page = await browser.newPage();
    await page.goto(`${sandbox.endpoint}/`);
    await page.waitForSelector('tr[data-application="orders-enrichment"]');
    const commands = await page.$$eval('#runbook-command option', (els) => els.map((e) => e.textContent ?? ''));

    // Act
    await page.selectOption('#runbook-application', 'orders-enrichment');
    await page.selectOption('#runbook-command', 'snapshot');
    await page.click('#runbook-run');
    await page.waitForSelector('.incident .incident-status.status-RESOLVED', { timeout: 60_000 });

    // Assess
    expect(commands).toEqual([
      'force-stop',
      'restart-from-snapshot (latest)',
      'rollback',
      'start',
      'stop',
      'snapshot',
      'pause-automation',
      'resume-automation',
    ]);
    const incident = await page.textContent('.incident');
    expect(incident).toContain('orders-enrichment — RESOLVED');
    expect(incident).toContain('runbook: snapshot by sandbox console: snapshot requested from the sandbox console');
    expect(incident).toContain('ACTION: CreateApplicationSnapshot');
  }, 120_000);

  it('Inject a source outage: the source chosen for 10 minutes makes the job restart, and the row counts the restarts', async () => {
    // Prepare
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`);
    }
    sandbox = await startLiveSandbox({ scenario: { ...resolveScenario('bad-config-change'), timeline: [] }, speed: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    const page = await browser.newPage();
    await page.goto(`${sandbox.endpoint}/`);
    const restarts = 'tr[data-application="orders-enrichment"] td:nth-child(4)';
    await page.waitForSelector(restarts);
    const targets = await page.$$eval('#outage-target option', (els) => els.map((e) => e.textContent ?? ''));
    const before = await page.textContent(restarts);

    // Act
    await page.selectOption('#outage-target', { label: 'orders (read by orders-enrichment)' });
    await page.fill('#outage-minutes', '10');
    await page.click('#outage-inject');
    await page.waitForFunction("!document.getElementById('outage-inject').disabled", undefined, { timeout: 60_000 });
    const pending = await page.textContent('#pending');
    await clickUntilNow(page, 'button[data-advance="5"]', '2026-03-02T14:05:00.000Z');
    await clickUntilNow(page, 'button[data-advance="5"]', '2026-03-02T14:10:00.000Z');
    await page.waitForFunction(
      `document.getElementById('now').textContent.startsWith('2026-03-02T14:10') && Number(document.querySelector(${JSON.stringify(restarts)}).textContent) > 0`,
      undefined,
      { timeout: 60_000 },
    );

    // Assess
    expect(targets).toEqual(['orders (read by orders-enrichment)', 'orders-enriched (read by orders-enrichment)']);
    expect(before).toBe('0');
    expect(pending).toBe('');
    expect(Number(await page.textContent(restarts))).toBeGreaterThanOrEqual(2);
  }, 120_000);
  it('approve mode: the looping application’s Slack message shows Approve / Reject; Approve there leads to RollbackApplication, RESOLVED', async () => {
    // Prepare: approval-granted without its scripted answer: the click in the console is the only one.
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`);
    }
    const scenario = resolveScenario('approval-granted');
    sandbox = await startLiveSandbox({
      scenario: { ...scenario, timeline: scenario.timeline.filter((step) => step.action === 'update') },
      speed: 0,
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    const page = await browser.newPage();
    await page.goto(`${sandbox.endpoint}/`);
    await page.waitForSelector('tr[data-application="orders-enrichment"]');
    const start = Date.parse('2026-03-02T14:00:00Z');
    let minutes = 0;
    const slackApprove = '#notifications button[data-approval="approve"]';
    while (minutes < 30 && !(await page.$(slackApprove))) {
      minutes += 5;
      await clickUntilNow(page, 'button[data-advance="5"]', new Date(start + minutes * 60_000).toISOString());
    }
    const asked = {
      // Per Slack message with buttons: their labels and what they answer.
      slackButtons: await page.$$eval('#notifications .slack', (els) =>
        els
          .map((m) =>
            (Array.from(m.querySelectorAll('button[data-approval]')) as Array<typeof m>).map(
              (b) => `${b.textContent} ${b.getAttribute('data-approval')} ${b.getAttribute('data-incident')}`,
            ),
          )
          .filter((buttons) => buttons.length > 0),
      ),
      slackTexts: await page.$$eval('#notifications .slack', (els) =>
        els.filter((m) => m.querySelector('button[data-approval]')).map((m) => m.textContent ?? ''),
      ),
      incidentId: await page.getAttribute('.incident', 'data-incident'),
      incident: await page.textContent('.incident'),
      incidentButtons: await page.$$eval('.incident button[data-approval]', (els) => els.map((e) => e.textContent)),
    };
    // Reject asks for a reason; dismissing the question sends nothing.
    page.once('dialog', (d) => void d.dismiss());
    await page.click('.incident button[data-approval="reject"]');
    const stillPending = await page.getAttribute('.incident .approval', 'data-approval-state');

    // Act: Approve on the Slack message (it asks its confirm dialog first, as Slack does), then advance until RESOLVED.
    const confirmations: string[] = [];
    page.once('dialog', (d) => {
      confirmations.push(d.message());
      void d.accept();
    });
    await page.click(slackApprove);
    await page.waitForSelector('.incident .approval[data-approval-state="APPROVED"]', { timeout: 60_000 });
    const pendingAfterApprove = await page.textContent('#pending');
    while (minutes < 60 && !(await page.$('.incident-status.status-RESOLVED'))) {
      minutes += 5;
      await clickUntilNow(page, 'button[data-advance="5"]', new Date(start + minutes * 60_000).toISOString());
    }

    // Assess
    expect(minutes).toBeLessThan(60);
    expect(asked.slackButtons.length).toBeGreaterThan(0);
    for (const buttons of asked.slackButtons) {
      expect(buttons).toEqual([`Approve approve ${asked.incidentId}`, `Reject reject ${asked.incidentId}`]);
    }
    expect(asked.slackTexts.every((t) => t.includes('orders-enrichment'))).toBe(true);
    expect(asked.incident).toContain('Awaiting approval: ');
    expect(asked.incidentButtons).toEqual(['Approve', 'Reject']);
    expect(stillPending).toBe('PENDING');
    expect(pendingAfterApprove).toBe('');
    expect(confirmations).toEqual([expect.stringContaining('Approve this remediation?')]);
    const incident = await page.textContent('.incident');
    expect(incident).toContain('orders-enrichment — RESOLVED RESTART_LOOP');
    expect(incident).toContain('approved by sandbox console via console');
    expect(incident).toContain('RollbackApplication');
    expect(await page.textContent('tr[data-application="orders-enrichment"] .app-status')).toBe('RUNNING');
  }, 240_000);
});
