import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { WatchdogConfig } from '#shared/config/schema.ts';
import { FlinkWatchdog } from './flink-watchdog.ts';

/** Properties of {@link WatchdogStack}. */
export interface WatchdogStackProps extends StackProps {
  /** The validated watchdog configuration (see `parseConfig`). */
  readonly config: WatchdogConfig;
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

/** One stack holding the {@link FlinkWatchdog} construct. */
export class WatchdogStack extends Stack {
  readonly watchdog: FlinkWatchdog;

  constructor(scope: Construct, id: string, props: WatchdogStackProps) {
    super(scope, id, props);
    this.watchdog = new FlinkWatchdog(this, 'FlinkWatchdog', {
      config: props.config,
      ...(props.runtimeEnvironments !== undefined ? { runtimeEnvironments: props.runtimeEnvironments } : {}),
      ...(props.cloudTrailEvents !== undefined ? { cloudTrailEvents: props.cloudTrailEvents } : {}),
    });
  }
}
