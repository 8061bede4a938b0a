import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { FlinkWatchdog, type FlinkWatchdogProps } from './flink-watchdog.ts';

/** Properties of {@link WatchdogStack}. */
export interface WatchdogStackProps extends StackProps {
  /**
   * The watchdog configuration: the same JSON object as `flink-watchdog.config.json`, validated by the construct (see
   * {@link FlinkWatchdogProps.config}).
   */
  readonly config: FlinkWatchdogProps['config'];
  /**
   * The watchdog's instance id (see {@link FlinkWatchdogProps.instanceId}).
   * @default - the stack name, characters other than letters and digits removed, cut to 32
   */
  readonly instanceId?: string;
  /**
   * MSF `RuntimeEnvironment` per listed application name (see {@link FlinkWatchdogProps.runtimeEnvironments}).
   * @default - each application's `runtimeEnvironment` in the config (`FLINK-1_20` when unset)
   */
  readonly runtimeEnvironments?: Readonly<Record<string, string>>;
  /**
   * Invoke the detector and the reconciler on MSF API calls seen through CloudTrail (see {@link FlinkWatchdogProps.cloudTrailEvents}).
   * @default false
   */
  readonly cloudTrailEvents?: boolean;
}

/**
 * One stack holding the {@link FlinkWatchdog} construct (id `FlinkWatchdog`), whose outputs it carries:
 * FlinkWatchdogLedgerTableName, FlinkWatchdogNotificationTopicArn, FlinkWatchdogCommandTopicArn (with runbooks),
 * FlinkWatchdogRemediationStateMachineArn, FlinkWatchdogSweepStateMachineArn, FlinkWatchdogDashboardName,
 * FlinkWatchdogInstance (see `WATCHDOG_OUTPUTS`).
 * @throws ConfigError when `config` does not validate.
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
  }
}
