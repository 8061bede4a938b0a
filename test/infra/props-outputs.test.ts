import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '#shared/config/schema.ts';
import { FlinkWatchdogPropsError } from '../../infra/errors.ts';
import { FlinkWatchdog, WATCHDOG_OUTPUTS, type WatchdogOutputName } from '../../infra/flink-watchdog.ts';
import { WatchdogStack } from '../../infra/watchdog-stack.ts';

// A consumer passes the same JSON object as flink-watchdog.config.json; the construct validates it and exports what the
// CLI's --stack reads as stack outputs named after the construct id.

/** A stack that skips the asset bundling and the built-in CloudFormation validation. */
function testStack(): Stack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  return new Stack(app, 'Consumer', { env: { account: '123456789012', region: 'eu-west-1' } });
}

/** The config file as a consumer reads it: JSON, before validation (no defaults filled in). */
const RAW_CONFIG = {
  $schema: './node_modules/flink-watchdog/shared/config/flink-watchdog.config.schema.json',
  schemaVersion: 1,
  applications: [{ name: 'orders-enrichment' }, { name: 'payments-aggregation', runtimeEnvironment: 'FLINK-2_2' }],
};

/** The ConfigError `parseConfig` throws for `raw` (what `flink-watchdog validate` prints). */
function validationError(raw: unknown): ConfigError {
  try {
    parseConfig(raw);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  return expect.fail('expected a ConfigError');
}

describe('Construct: FlinkWatchdog', () => {
  describe('Prop: config', () => {
    it('takes the config file JSON object as is and validates it (defaults filled in, $schema dropped)', () => {
      // Act
      const watchdog = new FlinkWatchdog(testStack(), 'Watchdog', { config: JSON.parse(JSON.stringify(RAW_CONFIG)) });

      // Assess
      expect(watchdog.config).toEqual(parseConfig(RAW_CONFIG));
      expect(watchdog.config).not.toHaveProperty('$schema');
      expect(watchdog.config.defaults).toBeDefined();
    });

    it('takes an already validated config too', () => {
      // Act
      const watchdog = new FlinkWatchdog(testStack(), 'Watchdog', { config: parseConfig(RAW_CONFIG) });

      // Assess
      expect(watchdog.config).toEqual(parseConfig(RAW_CONFIG));
    });

    it('throws ConfigError naming each bad field, the same issues flink-watchdog validate prints, before any resource', () => {
      // Prepare
      const bad = {
        schemaVersion: 1,
        applications: [{ name: 'orders-enrichment', policy: { mode: 'fix', restartloop: {} } }],
      };
      const stack = testStack();

      // Act
      let thrown: unknown;
      try {
        new FlinkWatchdog(stack, 'Watchdog', { config: bad });
      } catch (e) {
        thrown = e;
      }

      // Assess
      expect(thrown).toBeInstanceOf(ConfigError);
      const error = thrown as ConfigError;
      expect(error.issues).toEqual(validationError(bad).issues);
      expect(error.issues).toContain(
        'applications[0].policy.mode: must be one of "remediate", "approve", "observe" (got "fix")',
      );
      expect(error.message).toContain('Consumer/Watchdog');
      expect(Template.fromStack(stack).toJSON().Resources ?? {}).toEqual({});
    });
  });

  describe('Prop: config.runbooks.publishers', () => {
    it('says a publisher must be an IAM role or user that exists when the stack is deployed', () => {
      // Prepare
      const config = { ...RAW_CONFIG, runbooks: { publishers: ['oncall'] } };

      // Act
      let thrown: unknown;
      try {
        new FlinkWatchdog(testStack(), 'Watchdog', { config });
      } catch (e) {
        thrown = e;
      }

      // Assess
      expect(thrown).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).issues).toEqual([
        'runbooks.publishers[0]: an IAM role or user ARN that exists when the stack is deployed (arn:aws:iam::ACCOUNT:role/NAME); for an assumed role, name the role, not the session',
      ]);
    });
  });

  describe('stack outputs', () => {
    /** The outputs of a stack, by OutputKey. */
    const outputsOf = (stack: Stack): Record<string, { Description?: string; Value: unknown }> =>
      Template.fromStack(stack).toJSON().Outputs ?? {};

    it('exports the ledger, topic, state machines, dashboard and instance as <construct id><Name>, each described', () => {
      // Prepare
      const stack = testStack();

      // Act
      const watchdog = new FlinkWatchdog(stack, 'Watchdog', { config: RAW_CONFIG, instanceId: 'prodeu' });
      const outputs = outputsOf(stack);

      // Assess
      const names: WatchdogOutputName[] = [
        'LedgerTableName',
        'NotificationTopicArn',
        'RemediationStateMachineArn',
        'SweepStateMachineArn',
        'DashboardName',
        'Instance',
      ];
      expect(Object.keys(outputs).sort()).toEqual(names.map((n) => `Watchdog${n}`).sort());
      for (const name of names) expect(outputs[`Watchdog${name}`]?.Description).toBe(WATCHDOG_OUTPUTS[name]);
      const resolve = (v: unknown) => stack.resolve(v);
      expect(outputs.WatchdogLedgerTableName?.Value).toEqual(resolve(watchdog.ledger.tableName));
      expect(outputs.WatchdogNotificationTopicArn?.Value).toEqual(resolve(watchdog.topic.topicArn));
      expect(outputs.WatchdogRemediationStateMachineArn?.Value).toEqual(
        resolve(watchdog.workflow.stateMachine.stateMachineArn),
      );
      expect(outputs.WatchdogSweepStateMachineArn?.Value).toEqual(
        resolve(watchdog.sweepWorkflow.stateMachine.stateMachineArn),
      );
      expect(outputs.WatchdogDashboardName?.Value).toEqual(resolve(watchdog.dashboard.dashboard.dashboardName));
      expect(outputs.WatchdogInstance?.Value).toBe('prodeu');
    });

    it('exports the command topic only when runbooks are configured', () => {
      // Prepare
      const stack = testStack();
      const config = { ...RAW_CONFIG, runbooks: { publishers: ['arn:aws:iam::123456789012:role/flink-oncall'] } };

      // Act
      const watchdog = new FlinkWatchdog(stack, 'Watchdog', { config });

      // Assess
      expect(outputsOf(stack).WatchdogCommandTopicArn?.Value).toEqual(stack.resolve(watchdog.commandTopic?.topicArn));
    });

    it('keeps two watchdogs of one stack apart: the keys carry the construct id, letters and digits only', () => {
      // Prepare
      const stack = testStack();

      // Act
      new FlinkWatchdog(stack, 'blue-watchdog', { config: RAW_CONFIG, instanceId: 'blue' });
      new FlinkWatchdog(stack, 'green_watchdog', { config: RAW_CONFIG, instanceId: 'green' });
      const outputs = outputsOf(stack);

      // Assess
      expect(outputs.bluewatchdogInstance?.Value).toBe('blue');
      expect(outputs.greenwatchdogInstance?.Value).toBe('green');
      expect(Object.keys(outputs)).toHaveLength(12);
      // Both deploy: every physical name in the stack (alarms, log groups, state machines) is its own.
      const resources = Object.values(Template.fromStack(stack).toJSON().Resources ?? {}) as {
        Properties?: Record<string, unknown>;
      }[];
      const named = resources.flatMap((r) =>
        ['AlarmName', 'LogGroupName', 'StateMachineName'].flatMap((key) => {
          const value = r.Properties?.[key];
          return typeof value === 'string' ? [value] : [];
        }),
      );
      expect(named.length).toBeGreaterThan(6);
      expect(new Set(named).size).toBe(named.length);
    });

    it('refuses a construct id with no letter or digit (its outputs could not be named)', () => {
      // Act / Assess
      expect(() => new FlinkWatchdog(testStack(), '--', { config: RAW_CONFIG, instanceId: 'x' })).toThrow(
        FlinkWatchdogPropsError,
      );
    });

    it('WatchdogStack adds no outputs of its own: only the construct’s, once', () => {
      // Act
      const stack = new WatchdogStack(
        new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false }),
        'FlinkWatchdog',
        { config: RAW_CONFIG },
      );

      // Assess
      expect(Object.keys(outputsOf(stack)).sort()).toEqual(
        ['LedgerTableName', 'NotificationTopicArn', 'RemediationStateMachineArn', 'SweepStateMachineArn']
          .concat(['DashboardName', 'Instance'])
          .map((n) => `FlinkWatchdog${n}`)
          .sort(),
      );
    });
  });
});
