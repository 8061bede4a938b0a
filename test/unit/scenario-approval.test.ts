import { describe, expect, it } from 'vitest';
import { parseScenario, ScenarioError, SLACK_USER_PATTERN } from '#sandbox/scenario.ts';

const code = { bucket: 'artifacts', fileKey: 'orders-v1.jar' };

/** A valid approve-mode scenario with one application, `orders`, to which each test adds its steps. */
function scenario(timeline: unknown[], mode = 'approve'): Record<string, unknown> {
  return {
    name: 'approval',
    title: 'approve mode',
    description: 'One application in approve mode.',
    durationMinutes: 30,
    applications: [{ name: 'orders', code }],
    timeline,
    watchdog: { schemaVersion: 1, applications: [{ name: 'orders', policy: { mode } }] },
    expected: { outcome: 'NO_INCIDENT' },
  };
}

/** The problems parseScenario reports for `raw` (fails the test when it parses). */
function issuesOf(raw: unknown): readonly string[] {
  try {
    parseScenario(raw, 'approval.json');
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return (e as ScenarioError).issues;
  }
  expect.fail('expected a ScenarioError');
}

describe('Function: parseScenario, approval steps', () => {
  it('reads approve and reject steps, via slack by default', () => {
    // Act
    const parsed = parseScenario(
      scenario([
        { atMinute: 10, application: 'orders', action: 'approve', by: 'U024BE7LH (jane.doe)' },
        { atMinute: 12, application: 'orders', action: 'reject', via: 'cli', reason: 'fix-forward instead' },
        { atMinute: 14, application: 'orders', action: 'approve', via: 'console' },
      ]),
      'test',
    );

    // Assess
    expect(parsed.timeline).toEqual([
      { atMinute: 10, application: 'orders', action: 'approve', via: 'slack', by: 'U024BE7LH (jane.doe)' },
      { atMinute: 12, application: 'orders', action: 'reject', via: 'cli', reason: 'fix-forward instead' },
      { atMinute: 14, application: 'orders', action: 'approve', via: 'console' },
    ]);
  });

  it.each([
    [
      'a Slack user without its user ID',
      [{ atMinute: 10, application: 'orders', action: 'approve', via: 'slack', by: 'jane.doe' }],
      'timeline[0].by: "jane.doe" is not a Slack user: write the user ID and the username, e.g. "U024BE7LH (jane.doe)", or use via cli or console',
    ],
    [
      'a reject via cli without a reason',
      [{ atMinute: 10, application: 'orders', action: 'reject', via: 'cli' }],
      'timeline[0].reason: required: a reject via cli says why (recorded on the incident and told)',
    ],
    [
      'an unknown application',
      [{ atMinute: 10, application: 'order', action: 'approve' }],
      'timeline[0].application: no application "order" in the scenario; known applications: orders (did you mean "orders"?)',
    ],
    [
      'a step after the end',
      [{ atMinute: 31, application: 'orders', action: 'approve' }],
      'timeline[0].atMinute: minute 31 is after the scenario ends (durationMinutes 30)',
    ],
    [
      'an unknown channel',
      [{ atMinute: 10, application: 'orders', action: 'approve', via: 'email' }],
      'timeline[0].via: ',
    ],
  ])('refuses %s, naming the field and the fix', (_what, timeline, expected) => {
    // Act
    const issues = issuesOf(scenario(timeline));

    // Assess
    expect(issues).toHaveLength(1);
    expect(issues[0]).toContain(expected);
  });

  it('refuses an approval step on an application that is not in approve mode: nothing would ever ask', () => {
    // Act
    const issues = issuesOf(scenario([{ atMinute: 10, application: 'orders', action: 'approve' }], 'remediate'));

    // Assess
    expect(issues).toEqual([
      'timeline[0].action: "orders" is in remediate mode, so nothing asks for approval and this approve is always refused: set "mode": "approve" in its policy (or in watchdog.defaults)',
    ]);
  });

  it('a reject via slack needs no reason: a Slack button carries none', () => {
    // Act
    const parsed = parseScenario(scenario([{ atMinute: 10, application: 'orders', action: 'reject' }]), 'test');

    // Assess
    expect(parsed.timeline[0]).toEqual({ atMinute: 10, application: 'orders', action: 'reject', via: 'slack' });
  });

  it('refuses an approval expectation with an unknown state', () => {
    // Act
    const issues = issuesOf({ ...scenario([]), expected: { outcome: 'ESCALATED', approval: { state: 'DENIED' } } });

    // Assess
    expect(issues).toHaveLength(1);
    expect(issues[0]).toContain('expected.approval.state: ');
  });
});

describe('SLACK_USER_PATTERN', () => {
  it.each([
    ['U024BE7LH (jane.doe)', 'U024BE7LH', 'jane.doe'],
    ['W0123ABCD', 'W0123ABCD', undefined],
  ])('reads %s as user ID and username', (text, id, name) => {
    const m = SLACK_USER_PATTERN.exec(text);
    expect(m?.[1]).toBe(id);
    expect(m?.[2]).toBe(name);
  });

  it.each(['jane.doe', 'u024be7lh (jane)', 'U024BE7LH(jane)'])('refuses %s', (text) => {
    expect(SLACK_USER_PATTERN.test(text)).toBe(false);
  });
});
