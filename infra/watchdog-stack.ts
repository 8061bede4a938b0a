import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { WatchdogConfig } from '#shared/config/schema.ts';
import { FlinkWatchdog, type FlinkWatchdogProps } from './flink-watchdog.ts';

/** Properties of {@link WatchdogStack}. */
export interface WatchdogStackProps extends StackProps {
  /** The validated watchdog configuration (see `parseConfig`). */
  readonly config: WatchdogConfig;
  /**
   * The watchdog's instance id (see {@link FlinkWatchdogProps.instanceId}).
   * @default - the stack name, characters other than letters and digits removed, cut to 32
   */
  readonly instanceId?: string;
  /**
   * MSF `RuntimeEnvironment` per listed application name.
   * @default - `FLINK-1_20` for every application
   */
  readonly runtimeEnvironments?: Readonly<Record<string, string>>;
  /**
   * Invoke the detector and the reconciler on MSF API calls seen through CloudTrail (see {@link FlinkWatchdogProps.cloudTrailEvents}).
   * @default false
   */
  readonly cloudTrailEvents?: boolean;
}

/**
 * One stack holding the {@link FlinkWatchdog} construct, with outputs: LedgerTableName, NotificationTopicArn,
 * RemediationStateMachineArn, SweepStateMachineArn, Instance.
 */
export class WatchdogStack extends Stack {
  readonly watchdog: FlinkWatchdog;

  constructor(scope: Construct, id: string, props: WatchdogStackProps) {
    super(scope, id, props);
    this.watchdog = new FlinkWatchdog(this, 'FlinkWatchdog', {
      config: props.config,
      ...(props.instanceId !== undefined ? { instanceId: props.instanceId } : {}),
      ...(props.runtimeEnvironments !== undefined ? { runtimeEnvironments: props.runtimeEnvironments } : {}),
      ...(props.cloudTrailEvents !== undefined ? { cloudTrailEvents: props.cloudTrailEvents } : {}),
    });
    const w = this.watchdog;
    new CfnOutput(this, 'LedgerTableName', { value: w.ledger.tableName, description: 'The ledger (DynamoDB table)' });
    new CfnOutput(this, 'NotificationTopicArn', {
      value: w.topic.topicArn,
      description: 'Where incidents are published (SNS topic)',
    });
    new CfnOutput(this, 'RemediationStateMachineArn', {
      value: w.workflow.stateMachine.stateMachineArn,
      description: 'The remediation workflow (Step Functions)',
    });
    new CfnOutput(this, 'SweepStateMachineArn', {
      value: w.sweepWorkflow.stateMachine.stateMachineArn,
      description: 'The sweep workflow (Step Functions), started by the sweep schedule',
    });
    new CfnOutput(this, 'Instance', {
      value: w.instanceId,
      description: 'The instance id: this watchdog manages the alarms named flink-watchdog-<instance>-*',
    });
  }
}
