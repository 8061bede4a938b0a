import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CONFIG_JSON_SCHEMA_FILE, configJsonSchema } from '#shared/config/json-schema.ts';
import {
  ConfigError,
  correlatedFailureLimit,
  DEFAULT_METRICS_DELAY_SECONDS,
  DEFAULT_POLICY,
  DEFAULT_RUNTIME_ENVIRONMENT,
  detectionSettings,
  fleetSettings,
  formatConfigPath,
  parseConfig,
  policyFor,
  runtimeEnvironmentOf,
  SLACK_WEBHOOK_IN_CONFIG_MESSAGE,
} from '#shared/config/schema.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/config/', import.meta.url));
const EXAMPLE_FILE = resolve(REPO_ROOT, 'flink-watchdog.config.example.json');

/** Not a real webhook (and not shaped like one for secret scanners); it only has to look like a Slack URL to us. */
const SLACK_URL = 'https://hooks.slack.com/services/EXAMPLE/NOT-A-REAL/WEBHOOK';

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** The issues parseConfig reports for `raw` (fails the test when it parses). */
function issuesOf(raw: unknown): readonly string[] {
  try {
    parseConfig(raw, 'test.json');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues;
  }
  expect.fail('expected a ConfigError');
}

function withApp(app: Record<string, unknown>): unknown {
  return { schemaVersion: 1, applications: [{ name: 'orders-enrichment', ...app }] };
}

describe('Config: parseConfig', () => {
  describe('files in the repository', () => {
    it('parses the example config and drops its $schema editor hint', () => {
      // Act
      const config = parseConfig(readJson(EXAMPLE_FILE), 'flink-watchdog.config.example.json');

      // Assess
      expect(config).not.toHaveProperty('$schema');
      expect(config.applications.map((a) => a.name)).toEqual(['orders-enrichment', 'payments-aggregation']);
    });

    it("points the example's $schema at the committed JSON Schema", () => {
      // Arrange
      const example = readJson(EXAMPLE_FILE) as { $schema: string };

      // Assess
      expect(resolve(dirname(EXAMPLE_FILE), example.$schema)).toBe(CONFIG_JSON_SCHEMA_FILE);
    });

    it('parses the valid synth fixture', () => {
      // Act
      const config = parseConfig(readJson(resolve(FIXTURES, 'valid.json')), 'valid.json');

      // Assess
      expect(runtimeEnvironmentOf(config, 'payments-aggregation')).toBe('FLINK-2_2');
      expect(config.notifications?.slackWebhookSecretName).toBe('flink-watchdog/slack-webhook');
    });

    it.each([
      ['unknown-policy-key.json', 'applications[0].policy.restartloop: unknown key (did you mean "restartLoop"?)'],
      [
        'unknown-mode.json',
        'applications[0].policy.mode: must be one of "remediate", "approve", "observe" (got "aggressive")',
      ],
      ['negative-threshold.json', 'applications[0].policy.restartLoop.threshold: must be at least 1 (got -1)'],
      ['duplicate-application.json', 'applications[1].name: duplicate application "orders-enrichment"'],
      ['slack-url-in-config.json', `notifications.slackWebhookUrl: ${SLACK_WEBHOOK_IN_CONFIG_MESSAGE}`],
    ])('rejects the bad fixture %s naming the field', (file, expected) => {
      // Act
      const issues = issuesOf(readJson(resolve(FIXTURES, file)));

      // Assess
      expect(issues).toHaveLength(1);
      expect(issues[0]).toContain(expected);
    });
  });

  describe('runtimeEnvironment', () => {
    it('is optional and defaults to FLINK-1_20', () => {
      // Arrange
      const config = parseConfig({
        schemaVersion: 1,
        applications: [{ name: 'a' }, { name: 'b', runtimeEnvironment: 'FLINK-2_2' }],
      });

      // Assess
      expect(DEFAULT_RUNTIME_ENVIRONMENT).toBe('FLINK-1_20');
      expect(runtimeEnvironmentOf(config, 'a')).toBe('FLINK-1_20');
      expect(runtimeEnvironmentOf(config, 'b')).toBe('FLINK-2_2');
      expect(runtimeEnvironmentOf(config, 'not-listed')).toBe('FLINK-1_20');
    });

    it.each(['flink-1.20', 'FLINK-1.20', 'FLINK-2', 'SQL-1_0', 'FLINK-1_20 '])(
      'rejects %j naming the field',
      (value) => {
        // Assess
        expect(issuesOf(withApp({ runtimeEnvironment: value }))).toEqual([
          'applications[0].runtimeEnvironment: expected an MSF Flink RuntimeEnvironment such as FLINK-1_20 or FLINK-2_2',
        ]);
      },
    );
  });

  describe('notifications', () => {
    it('is optional; absent means the stack creates its own topic', () => {
      // Assess
      expect(parseConfig({ schemaVersion: 1 }).notifications).toBeUndefined();
    });

    it('accepts a topic ARN, a secret name and email subscriptions', () => {
      // Arrange
      const notifications = {
        snsTopicArn: 'arn:aws-us-gov:sns:us-gov-west-1:123456789012:flink_alerts-1',
        slackWebhookSecretName: 'team/flink-watchdog/slack+webhook=1@x',
        emailSubscriptions: ['oncall@example.com', 'a.b+flink@example.co.uk'],
      };

      // Act
      const config = parseConfig({ schemaVersion: 1, notifications });

      // Assess
      expect(config.notifications).toEqual(notifications);
    });

    it.each([
      ['snsTopicArn', { snsTopicArn: SLACK_URL }, 'notifications.snsTopicArn'],
      ['slackWebhookSecretName', { slackWebhookSecretName: SLACK_URL }, 'notifications.slackWebhookSecretName'],
      [
        'slackWebhookSecretName without the scheme (a valid secret name otherwise)',
        { slackWebhookSecretName: 'hooks.slack.com/services/EXAMPLE/NOT-A-REAL/WEBHOOK' },
        'notifications.slackWebhookSecretName',
      ],
      [
        'an email subscription',
        { emailSubscriptions: ['oncall@example.com', SLACK_URL] },
        'notifications.emailSubscriptions[1]',
      ],
      ['emailSubscriptions given as a string', { emailSubscriptions: SLACK_URL }, 'notifications.emailSubscriptions'],
      ['an unknown key', { slackWebhookUrl: SLACK_URL }, 'notifications.slackWebhookUrl'],
      ['an unknown nested key', { slack: { webhook: { url: SLACK_URL } } }, 'notifications.slack'],
    ])('rejects a Slack webhook URL in %s, saying to use Secrets Manager', (_, notifications, path) => {
      // Act
      const issues = issuesOf({ schemaVersion: 1, notifications });

      // Assess
      expect(issues).toEqual([`${path}: ${SLACK_WEBHOOK_IN_CONFIG_MESSAGE}`]);
      expect(SLACK_WEBHOOK_IN_CONFIG_MESSAGE).toMatch(/Secrets Manager/);
      expect(SLACK_WEBHOOK_IN_CONFIG_MESSAGE).toMatch(/slackWebhookSecretName/);
    });

    it('rejects the whole notifications value being a Slack webhook URL', () => {
      // Assess
      expect(issuesOf({ schemaVersion: 1, notifications: SLACK_URL })).toEqual([
        `notifications: ${SLACK_WEBHOOK_IN_CONFIG_MESSAGE}`,
      ]);
    });

    it.each([
      [
        'snsTopicArn',
        { snsTopicArn: 'flink-alerts' },
        /^notifications\.snsTopicArn: expected the ARN of a standard SNS/,
      ],
      [
        'snsTopicArn of another service',
        { snsTopicArn: 'arn:aws:sqs:eu-west-1:123456789012:flink-alerts' },
        /^notifications\.snsTopicArn: expected the ARN/,
      ],
      [
        'slackWebhookSecretName',
        { slackWebhookSecretName: 'my secret' },
        /^notifications\.slackWebhookSecretName: expected a Secrets Manager secret name/,
      ],
      [
        'emailSubscriptions',
        { emailSubscriptions: ['oncall'] },
        /^notifications\.emailSubscriptions\[0\]: expected an email address/,
      ],
      [
        'an unknown key',
        { slackChannel: '#flink' },
        /^notifications\.slackChannel: unknown key; allowed keys: snsTopicArn, slackWebhookSecretName, emailSubscriptions, slackSigningSecretName, chatbot$/,
      ],
    ])('rejects a bad %s with a message naming the fix', (_, notifications, expected) => {
      // Act
      const issues = issuesOf({ schemaVersion: 1, notifications });

      // Assess
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatch(expected);
    });
  });

  describe('$schema', () => {
    it('accepts and drops a top-level $schema string', () => {
      // Act
      const config = parseConfig({ $schema: './anything.json', schemaVersion: 1 });

      // Assess
      expect(config).toEqual({ schemaVersion: 1, defaults: {}, applications: [] });
    });

    it('rejects a $schema that is not a string', () => {
      // Assess
      expect(issuesOf({ $schema: 1, schemaVersion: 1 })).toEqual(['$schema: expected a string, got 1']);
    });
  });

  describe('messages name the field path and the fix', () => {
    it('lists the allowed keys for an unknown policy key, with the likely intended one', () => {
      // Act
      const issues = issuesOf(withApp({ policy: { restartloop: { threshold: 5 }, escalateAfter: 3 } }));

      // Assess
      const allowed = Object.keys(DEFAULT_POLICY).join(', ');
      expect(issues).toEqual([
        `applications[0].policy.restartloop: unknown key (did you mean "restartLoop"?); allowed keys: ${allowed}`,
        `applications[0].policy.escalateAfter: unknown key; allowed keys: ${allowed}`,
      ]);
    });

    it('names unknown keys in nested policy objects and at the top level', () => {
      // Act
      const issues = issuesOf({
        schemaVersion: 1,
        defaults: { restartLoop: { window_minutes: 5 }, stuckTransitionMinutes: { RUNNING: 5 } },
        application: [],
      });

      // Assess
      expect(issues).toEqual([
        'defaults.restartLoop.window_minutes: unknown key (did you mean "windowMinutes"?); allowed keys: windowMinutes, threshold',
        'defaults.stuckTransitionMinutes.RUNNING: unknown key; allowed keys: STARTING, UPDATING, STOPPING, FORCE_STOPPING, ROLLING_BACK, AUTOSCALING',
        'application: unknown key (did you mean "applications"?); allowed keys: $schema, schemaVersion, optInTag, defaults, applications, notifications, changeFreeze, runbooks, drift, detection, fleet',
      ]);
    });

    it('lists the allowed values for an unknown enum value', () => {
      // Assess
      expect(issuesOf({ schemaVersion: 1, defaults: { mode: 'aggressive', onRestartLoop: 'ROLLBACK' } })).toEqual([
        'defaults.mode: must be one of "remediate", "approve", "observe" (got "aggressive")',
        'defaults.onRestartLoop: must be one of "FORCE_STOP_AND_RESTART", "NOTIFY" (got "ROLLBACK")',
      ]);
    });

    it.each([
      [{ restartLoop: { threshold: -1 } }, 'restartLoop.threshold: must be at least 1 (got -1)'],
      [{ restartLoop: { threshold: 0 } }, 'restartLoop.threshold: must be at least 1 (got 0)'],
      [{ restartLoop: { windowMinutes: 0 } }, 'restartLoop.windowMinutes: must be at least 2 (got 0)'],
      [{ restartLoop: { threshold: 2.5 } }, 'restartLoop.threshold: expected an integer, got 2.5'],
      [{ restartLoop: { threshold: '3' } }, 'restartLoop.threshold: expected a number, got "3"'],
      [{ verifyMinutes: 0 }, 'verifyMinutes: must be at least 1 (got 0)'],
      [{ maxAttempts: 0 }, 'maxAttempts: must be at least 1 (got 0)'],
      [{ maxAttempts: 21 }, 'maxAttempts: must be at most 20 (got 21)'],
      [{ attemptWindowMinutes: -5 }, 'attemptWindowMinutes: must be at least 1 (got -5)'],
      [{ cooldownMinutes: -1 }, 'cooldownMinutes: must be at least 0 (got -1)'],
      [{ pollIntervalSeconds: 1 }, 'pollIntervalSeconds: must be at least 5 (got 1)'],
      [{ stuckTransitionMinutes: { UPDATING: 0 } }, 'stuckTransitionMinutes.UPDATING: must be at least 1 (got 0)'],
    ])('rejects out-of-range number %j', (policy, expected) => {
      // Assess
      expect(issuesOf(withApp({ policy }))).toEqual([`applications[0].policy.${expected}`]);
    });

    it('names a duplicate application and where it was first listed', () => {
      // Assess
      expect(issuesOf({ schemaVersion: 1, applications: [{ name: 'a' }, { name: 'b' }, { name: 'a' }] })).toEqual([
        'applications[2].name: duplicate application "a" (also applications[0]): list each application once and merge their policies',
      ]);
    });

    it('reports a duplicate application together with other problems', () => {
      // Act
      const issues = issuesOf({
        schemaVersion: 1,
        applications: [{ name: 'a' }, { name: 'a', policy: { mode: 'aggressive' } }],
      });

      // Assess
      expect(issues).toEqual([
        'applications[1].policy.mode: must be one of "remediate", "approve", "observe" (got "aggressive")',
        'applications[1].name: duplicate application "a" (also applications[0]): list each application once and merge their policies',
      ]);
    });

    it.each([
      [{}, 'schemaVersion: required: must be 1'],
      [{ schemaVersion: 2 }, 'schemaVersion: must be 1 (got 2)'],
      [null, '(root): expected an object, got null'],
      [{ schemaVersion: 1, applications: {} }, 'applications: expected an array, got an object'],
      [{ schemaVersion: 1, applications: [{}] }, 'applications[0].name: required: expected a string'],
      [{ schemaVersion: 1, applications: [{ name: 'bad name' }] }, 'applications[0].name: MSF application names use'],
    ])('rejects %j', (raw, expected) => {
      // Act
      const issues = issuesOf(raw);

      // Assess
      expect(issues).toHaveLength(1);
      expect(issues[0]).toContain(expected);
    });

    it('puts the source and every issue in the ConfigError message', () => {
      // Act
      const thrown = (() => {
        try {
          parseConfig({ schemaVersion: 2, defaults: { mode: 'x' } }, 'my/config.json');
        } catch (e) {
          return e;
        }
        return undefined;
      })();

      // Assess
      expect(thrown).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).message).toBe(
        'invalid watchdog configuration in my/config.json: schemaVersion: must be 1 (got 2); ' +
          'defaults.mode: must be one of "remediate", "approve", "observe" (got "x")',
      );
    });

    it('formats paths like JavaScript accessors', () => {
      // Assess
      expect(formatConfigPath(['applications', 0, 'policy', 'restartLoop', 'threshold'])).toBe(
        'applications[0].policy.restartLoop.threshold',
      );
      expect(formatConfigPath([])).toBe('(root)');
    });
  });

  it('keeps existing configs valid and their effective policy unchanged', () => {
    // Arrange
    const config = parseConfig({
      schemaVersion: 1,
      optInTag: { key: 'flink-watchdog', value: 'enabled' },
      defaults: { mode: 'observe' },
      applications: [{ name: 'orders-enrichment', policy: { mode: 'remediate', restoreLastGoodVersion: true } }],
    });

    // Assess
    expect(policyFor(config, 'orders-enrichment')).toMatchObject({ mode: 'remediate', restoreLastGoodVersion: true });
    expect(config.notifications).toBeUndefined();
    expect(config.applications[0]?.runtimeEnvironment).toBeUndefined();
  });
});

describe('Config: JSON Schema', () => {
  it('is committed up to date (run `npm run schema` after changing shared/config/schema.ts)', () => {
    // Arrange
    const committed = readFileSync(CONFIG_JSON_SCHEMA_FILE, 'utf8');

    // Assess
    expect(JSON.parse(committed), 'shared/config/flink-watchdog.config.schema.json is stale: npm run schema').toEqual(
      configJsonSchema(),
    );
    expect(committed.endsWith('}\n')).toBe(true);
  });

  it('names itself and its format', () => {
    // Act
    const schema = configJsonSchema();

    // Assess
    expect(schema).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: expect.stringMatching(/^urn:flink-watchdog:config:/),
      title: 'Flink Watchdog configuration',
      description: expect.any(String),
      type: 'object',
      required: ['schemaVersion'],
      additionalProperties: false,
    });
  });

  it('describes the input: keys with defaults are optional, $schema is allowed', () => {
    // Act
    const schema = configJsonSchema() as {
      properties: Record<string, { type?: string; pattern?: string; items?: Record<string, unknown> }>;
    };

    // Assess
    expect(Object.keys(schema.properties)).toEqual([
      '$schema',
      'schemaVersion',
      'optInTag',
      'defaults',
      'applications',
      'notifications',
      'changeFreeze',
      'runbooks',
      'drift',
      'detection',
      'fleet',
    ]);
    expect(schema.properties.$schema).toMatchObject({ type: 'string' });
    expect(schema.properties.applications?.items).toMatchObject({
      required: ['name'],
      properties: { runtimeEnvironment: { type: 'string', pattern: '^FLINK-\\d+_\\d+$' } },
    });
  });

  it('shows the built-in default of every policy knob, and every number knob is a bounded integer', () => {
    // Act
    const schema = configJsonSchema() as {
      $defs: {
        PolicyOverride: {
          properties: Record<string, { type?: string; minimum?: number; default?: unknown; properties?: object }>;
        };
      };
    };

    // Assess
    const knobs = schema.$defs.PolicyOverride.properties;
    expect(Object.keys(knobs).sort()).toEqual(Object.keys(DEFAULT_POLICY).sort());
    for (const [name, value] of Object.entries(DEFAULT_POLICY)) {
      if (typeof value === 'object') continue;
      expect(knobs[name]?.default, name).toBe(value);
    }
    expect(knobs.restartLoop?.properties).toMatchObject({
      windowMinutes: { default: 10, type: 'integer', minimum: 2 },
      threshold: { default: 3, type: 'integer', minimum: 1 },
    });
    for (const [name, knob] of Object.entries(knobs)) {
      if (typeof DEFAULT_POLICY[name as keyof typeof DEFAULT_POLICY] !== 'number') continue;
      expect(knob.type, name).toBe('integer');
      expect(knob.minimum, name).toBeGreaterThanOrEqual(0);
    }
  });
});

describe('Config: detection', () => {
  it('fills the defaults: a 60 s metrics delay (a stated assumption) and a 10-minute change watch', () => {
    // Act
    const settings = detectionSettings(parseConfig({ schemaVersion: 1 }));
    // Assess
    expect(settings).toEqual({ metricsDelaySeconds: DEFAULT_METRICS_DELAY_SECONDS, watchMinutes: 10 });
    expect(DEFAULT_METRICS_DELAY_SECONDS).toBe(60);
  });

  it('takes the configured values and names a bad one with its range', () => {
    // Act
    const settings = detectionSettings(
      parseConfig({ schemaVersion: 1, detection: { metricsDelaySeconds: 90, watchMinutes: 15 } }),
    );
    // Assess
    expect(settings).toEqual({ metricsDelaySeconds: 90, watchMinutes: 15 });
    expect(() => parseConfig({ schemaVersion: 1, detection: { watchMinutes: 0 } })).toThrow(
      'detection.watchMinutes: must be at least 1 (got 0)',
    );
  });
});

describe('Config: fleet settings', () => {
  it('fills the documented defaults', () => {
    // Act
    const settings = fleetSettings(parseConfig({ schemaVersion: 1 }));

    // Assess
    expect(settings).toEqual({
      maxConcurrentRemediations: 3,
      correlatedFailure: { threshold: 5, fraction: 0.2, windowMinutes: 10, maxOpenMinutes: 120 },
      sweep: { batchSize: 20, maxConcurrency: 10, closeLookMinutes: 60 },
    });
  });

  it('takes fleet.sweep.closeLookMinutes and refuses one below a sweep interval, naming the field', () => {
    // Act
    const settings = fleetSettings(parseConfig({ schemaVersion: 1, fleet: { sweep: { closeLookMinutes: 30 } } }));

    // Assess
    expect(settings.sweep.closeLookMinutes).toBe(30);
    expect(() => parseConfig({ schemaVersion: 1, fleet: { sweep: { closeLookMinutes: 1 } } })).toThrow(
      'fleet.sweep.closeLookMinutes',
    );
  });

  it('takes the smaller of the threshold and the share of the watched applications', () => {
    // Arrange
    const settings = fleetSettings(parseConfig({ schemaVersion: 1 }));

    // Assess: 20% of 15 is 3 (smaller than 5); 20% of 40 is 8 (5 is smaller); a share never goes below 2.
    expect(correlatedFailureLimit(settings, 15)).toBe(3);
    expect(correlatedFailureLimit(settings, 40)).toBe(5);
    expect(correlatedFailureLimit(settings, 3)).toBe(2);
    expect(
      correlatedFailureLimit(
        fleetSettings(parseConfig({ schemaVersion: 1, fleet: { correlatedFailure: { threshold: 1 } } })),
        3,
      ),
    ).toBe(1);
  });

  it('names a bad fleet field', () => {
    // Assess
    expect(() => parseConfig({ schemaVersion: 1, fleet: { maxConcurrentRemediations: 0 } })).toThrow(
      /fleet\.maxConcurrentRemediations/,
    );
  });
});
