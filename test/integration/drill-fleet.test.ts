import { describe, expect, it } from 'vitest';
import { runScenario, type ScenarioReport } from '#sandbox/drill.ts';
import { loadScenario, parseScenario } from '#sandbox/scenario.ts';

const reports = new Map<string, ScenarioReport>();
async function report(name: string): Promise<ScenarioReport> {
  let r = reports.get(name);
  if (!r) {
    r = await runScenario(loadScenario(name));
    reports.set(name, r);
  }
  return r;
}

// Fleet scenarios (up to 40 applications) take tens of seconds of wall time on a loaded 2-core machine.
describe('Drill: the fleet scenarios', { timeout: 240_000 }, () => {
  it('cross-account: the rollback is made in the member account, through the role assumed with the ExternalId', async () => {
    // Act
    const r = await report('cross-account');
    // Assess
    const rollback = r.actions.find((a) => a.operation === 'RollbackApplication');
    expect(rollback).toMatchObject({ application: 'payments-router', accountId: '222222222222' });
    const assumed = r.timeline.filter((l) => l.actor === 'sts');
    expect(assumed.length).toBeGreaterThan(0);
    expect(assumed[0]?.text).toContain('arn:aws:iam::222222222222:role/FlinkWatchdogMember');
    expect(assumed[0]?.text).toContain('ExternalId given');
    expect(assumed[0]?.atMs).toBeLessThanOrEqual(rollback?.atMs ?? 0);
    // The incident names the application by its key: the member account and Region.
    expect(r.incidents.map((i) => i.applicationName)).toContain('payments-router@222222222222.eu-west-1');
    expect(r.actions.filter((a) => a.accountId !== '222222222222')).toEqual([]);
  });

  it('tag-opt-in: the tagged application is found by the first sweep after the tag, then remediated', async () => {
    // Act
    const r = await report('tag-opt-in');
    // Assess
    const tagged = r.timeline.find((l) => l.actor === 'user' && l.text.startsWith('TagResource fraud-scoring'));
    const found = r.timeline.find(
      (l) => l.actor === 'sweep' && l.text.includes('1 new') && l.atMs > (tagged?.atMs ?? 0),
    );
    expect(tagged).toBeDefined();
    expect(found?.text).toMatch(/2 watched \(1 by tag\), 1 new, 2 alarms created/);
    expect((found?.atMs ?? 0) - (tagged?.atMs ?? 0)).toBeLessThanOrEqual(5 * 60_000);
    expect(r.actions.map((a) => `${a.application} ${a.operation}`)).toEqual(['fraud-scoring RollbackApplication']);
  });

  it('remediation-slots: five own-change loops are each rolled back, never more than 3 at once, and all recover', async () => {
    // Act
    const r = await report('remediation-slots');
    // Assess: the scenario's own expectations hold (outcome, no fleet incident, 5 executions, peak exactly 3)
    expect(r.failures).toEqual([]);
    expect(r.passed).toBe(true);
    // The limit bites: 3 at once, not fewer and not more
    expect(r.maxConcurrentRemediations).toBe(3);
    expect(r.fleetIncidents).toEqual([]);
    // Each application's own rollback, once, and nothing else
    const looping = ['orders', 'payments', 'shipping', 'billing', 'returns'].map((t) => `${t}-enrichment`);
    expect(r.actions.map((a) => `${a.application} ${a.operation}`).sort()).toEqual(
      looping.map((a) => `${a} RollbackApplication`).sort(),
    );
    // Two decisions waited for a slot; their rollbacks came only after a slot freed (an execution ended)
    const deferred = r.timeline.filter((l) => l.actor === 'decide' && /: DEFERRED/.test(l.text));
    expect(new Set(deferred.map((l) => l.text.split(':')[0])).size).toBe(2);
    const ended = r.timeline.filter((l) => l.actor === 'workflow' && / SUCCEEDED: /.test(l.text));
    expect(ended).toHaveLength(5);
    const firstEnd = Math.min(...ended.map((l) => l.atMs));
    const lastTwo = [...r.actions].sort((a, b) => a.atMs - b.atMs).slice(3);
    for (const a of lastTwo) expect(a.atMs).toBeGreaterThanOrEqual(firstEnd);
    // Every incident of the five recovered
    const incidents = r.incidents.filter((i) => looping.includes(i.applicationName) && i.status !== 'OBSERVED');
    expect(new Set(incidents.filter((i) => i.status === 'RESOLVED').map((i) => i.applicationName))).toEqual(
      new Set(looping),
    );
  });

  it('fails a scenario whose busiest moment ran fewer remediations at once than it expects', async () => {
    // Prepare: the tag-opt-in scenario (one rollback) expecting a peak of 3
    const base = loadScenario('tag-opt-in');
    const scenario = parseScenario(
      { ...base, applicationGroups: [], expected: { ...base.expected, peakConcurrentRemediations: 3 } },
      'test',
    );
    // Act
    const r = await runScenario(scenario);
    // Assess
    expect(r.passed).toBe(false);
    expect(r.failures).toContain(
      'at most 1 remediation workflows ran at once, expected exactly 3 at the busiest moment',
    );
  });

  it('counts pages once per notification and fails a scenario whose expectations the fleet does not meet', async () => {
    // Prepare: the bad deploy of tag-opt-in, expecting a fleet incident and a page that never come
    const base = loadScenario('tag-opt-in');
    const parsed = parseScenario(
      { ...base, applicationGroups: [], expected: { ...base.expected, fleetIncidents: 1, pages: 1 } },
      'test',
    );
    // parseScenario refuses a runningAtEnd pattern that matches no application; the drill checks it again at the end.
    const scenario = { ...parsed, expected: { ...parsed.expected, runningAtEnd: ['nothing-*'] } };
    // Act
    const r = await runScenario(scenario);
    // Assess
    expect(r.passed).toBe(false);
    expect(r.failures).toEqual(
      expect.arrayContaining([
        '0 fleet incidents, expected 1',
        '0 pages (), expected 1',
        'runningAtEnd: "nothing-*" matches no application',
      ]),
    );
  });
});

describe('Function: parseScenario (fleet fields)', () => {
  const base = {
    name: 'fleet-fields',
    title: 't',
    description: 'd',
    durationMinutes: 10,
    watchdog: { schemaVersion: 1 },
    expected: { outcome: 'NO_INCIDENT' },
  };
  const code = { bucket: 'b', fileKey: 'k.jar' };

  it('expands application groups into named applications, after the listed ones', () => {
    // Act
    const s = parseScenario(
      {
        ...base,
        applications: [{ name: 'solo', code }],
        applicationGroups: [{ namePrefix: 'orders', count: 12, code, tags: { team: 'orders' } }],
      },
      'test',
    );
    // Assess
    expect(s.applications.map((a) => a.name)).toEqual([
      'solo',
      ...Array.from({ length: 12 }, (_, i) => `orders-${String(i + 1).padStart(2, '0')}`),
    ]);
    expect(s.applications[1]?.tags).toEqual({ team: 'orders' });
  });

  it('turns an outage of a source into one outage per application whose environment properties name it', () => {
    // Act
    const s = parseScenario(
      {
        ...base,
        applications: [
          { name: 'reads-x', code, environmentProperties: { KafkaSource: { 'bootstrap.servers': 'kafka-x' } } },
          { name: 'reads-y', code, environmentProperties: { KafkaSource: { 'bootstrap.servers': 'kafka-y' } } },
        ],
        timeline: [
          {
            atMinute: 1,
            action: 'create',
            application: 'created-x',
            definition: { code, environmentProperties: { In: { cluster: 'kafka-x' } } },
          },
        ],
        faults: [{ kind: 'outage', source: 'kafka-x', fromMinute: 2, toMinute: 5 }],
      },
      'test',
    );
    // Assess
    expect(s.faults.map((f) => [f.kind, 'application' in f ? f.application : ''])).toEqual([
      ['outage', 'reads-x'],
      ['outage', 'created-x'],
    ]);
  });

  it('refuses an unknown key with its path, a source nobody reads, and an account not among the accounts', () => {
    expect(() => parseScenario({ ...base, applications: [{ name: 'a', code, colour: 'red' }] }, 'f.json')).toThrow(
      /scenario f\.json: applications\[0\]\.colour: unknown key/,
    );
    expect(() =>
      parseScenario(
        {
          ...base,
          applications: [{ name: 'a', code }],
          faults: [{ kind: 'outage', source: 'nowhere', fromMinute: 1 }],
        },
        'f.json',
      ),
    ).toThrow(/faults\[0\]\.source: no application's environment properties name "nowhere"/);
    expect(() =>
      parseScenario({ ...base, applications: [{ name: 'a', code, accountId: '222222222222' }] }, 'f.json'),
    ).toThrow(/applications\[0\]\.accountId: account 222222222222 is not among the scenario's accounts/);
  });
});
