/**
 * The `flink-watchdog` library: the CDK construct that deploys the watchdog into a stack, the ready-made stacks, and
 * the config parser the construct and `flink-watchdog validate` share.
 *
 * ```ts
 * import { FlinkWatchdog } from 'flink-watchdog';
 * new FlinkWatchdog(stack, 'Watchdog', { config: JSON.parse(readFileSync('flink-watchdog.config.json', 'utf8')) });
 * ```
 *
 * `config` is the same JSON object as `flink-watchdog.config.json` ({@link WatchdogConfigInput}); the construct
 * validates it with {@link parseConfig} and throws {@link ConfigError} naming each bad field. The Lambda code ships
 * prebuilt in the package (`dist/lambda/<function>/`), so a consumer needs neither esbuild nor TypeScript to synthesize.
 * `aws-cdk-lib` and `constructs` are peer dependencies: the app's own copies are used. The config file's JSON Schema
 * ships in the package as `shared/config/flink-watchdog.config.schema.json` (point the file's `"$schema"` at it).
 * @module
 */
export {
  ConfigError,
  DEFAULT_POLICY,
  DEFAULT_RUNTIME_ENVIRONMENT,
  DEFAULT_STUCK_MINUTES,
  type Notifications,
  type PolicyOverride,
  type PolicySettings,
  parseConfig,
  type WatchdogConfig,
  type WatchedApplication,
} from '#shared/config/schema.ts';
export {
  FlinkWatchdog,
  type FlinkWatchdogProps,
  FlinkWatchdogPropsError,
  type WatchdogConfigInput,
} from './flink-watchdog.ts';
export {
  DEFAULT_CENTRAL_STACK_NAME,
  DEFAULT_OPT_IN_TAG_KEY,
  FlinkWatchdogMember,
  type FlinkWatchdogMemberProps,
  FlinkWatchdogMemberPropsError,
  FlinkWatchdogMemberStack,
  type FlinkWatchdogMemberStackProps,
} from './member-stack.ts';
export { WatchdogStack, type WatchdogStackProps } from './watchdog-stack.ts';
