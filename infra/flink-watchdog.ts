import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { CfnAlarm } from 'aws-cdk-lib/aws-cloudwatch';
import { Match, Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { type IGrantable, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ALARM_PREFIX, type AlarmSpec, alarmsFor, MSF_METRIC_NAMESPACE } from '#shared/alarms.ts';
import { policyFor, type WatchdogConfig } from '#shared/config/schema.ts';

/** Runtime environment assumed for a watched application when none is given (MSF `RuntimeEnvironment`). */
export const DEFAULT_RUNTIME_ENVIRONMENT = 'FLINK-1_20';

/** MSF read actions the watchdog uses (Kinesis Analytics V2 API; all take an application ARN as resource). */
export const MSF_READ_ACTIONS = [
  'kinesisanalytics:DescribeApplication',
  'kinesisanalytics:DescribeApplicationOperation',
  'kinesisanalytics:DescribeApplicationVersion',
  'kinesisanalytics:DescribeApplicationSnapshot',
  'kinesisanalytics:ListApplicationOperations',
  'kinesisanalytics:ListApplicationSnapshots',
  'kinesisanalytics:ListApplicationVersions',
  'kinesisanalytics:ListTagsForResource',
] as const;

/** MSF mutating actions the remediation function may call. */
export const MSF_MUTATING_ACTIONS = [
  'kinesisanalytics:StartApplication',
  'kinesisanalytics:StopApplication',
  'kinesisanalytics:UpdateApplication',
  'kinesisanalytics:RollbackApplication',
] as const;

/** Lambda limit on the total size of a function's environment variables, bytes. */
const LAMBDA_ENV_LIMIT_BYTES = 4096;

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Properties of {@link FlinkWatchdog}. */
export interface FlinkWatchdogProps {
  /**
   * The watchdog configuration, already validated with `parseConfig` (shared/config/schema.ts). It is passed to both
   * functions as `WATCHDOG_CONFIG` (JSON), and its `applications` get alarms and IAM permissions.
   */
  readonly config: WatchdogConfig;
  /**
   * MSF `RuntimeEnvironment` per watched application name (e.g. `FLINK-2_2`). It picks the restart metric
   * (fullRestarts, or numRestarts on FLINK-2_x) and whether a downtime alarm exists. Every key must be a listed
   * application.
   * @default - `FLINK-1_20` for every application
   */
  readonly runtimeEnvironments?: Readonly<Record<string, string>>;
  /**
   * Interval of the periodic sweep that invokes the detector for every listed application.
   * @default Duration.minutes(5)
   */
  readonly sweepInterval?: Duration;
  /**
   * Retention of the functions' log groups.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * Removal policy of the log groups and dead-letter queues.
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** Raised at synth time for construct props that cannot produce a working watchdog. */
export class FlinkWatchdogPropsError extends Error {
  override readonly name = 'FlinkWatchdogPropsError';
}

/**
 * The deployed watchdog: per-application CloudWatch alarms (from `alarmsFor()`), an EventBridge rule on their state
 * changes and a periodic sweep, both invoking the detector Lambda; the remediation Lambda; dead-letter queues; and
 * least-privilege IAM scoped to the listed applications (plus tag-conditioned access when `optInTag` is set).
 */
export class FlinkWatchdog extends Construct {
  readonly detector: NodejsFunction;
  readonly remediation: NodejsFunction;
  /** Dead-letter queue of the EventBridge rule targets (events that could not be delivered to the detector). */
  readonly eventsDeadLetterQueue: Queue;
  /** Dead-letter queue of failed asynchronous invocations of the functions. */
  readonly invocationDeadLetterQueue: Queue;
  readonly alarms: CfnAlarm[] = [];

  constructor(scope: Construct, id: string, props: FlinkWatchdogProps) {
    super(scope, id);
    const { config } = props;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;
    const runtimeEnvironments = checkRuntimeEnvironments(config, props.runtimeEnvironments ?? {});
    const configJson = JSON.stringify(config);
    if (Buffer.byteLength(configJson) > LAMBDA_ENV_LIMIT_BYTES - 256) {
      throw new FlinkWatchdogPropsError(
        `the watchdog config is ${Buffer.byteLength(configJson)} bytes as JSON; Lambda environment variables are limited to ${LAMBDA_ENV_LIMIT_BYTES} bytes in total`,
      );
    }

    this.eventsDeadLetterQueue = deadLetterQueue(this, 'EventsDeadLetterQueue', removalPolicy);
    this.invocationDeadLetterQueue = deadLetterQueue(this, 'InvocationDeadLetterQueue', removalPolicy);
    // cdk-nag recognises a Lambda DeadLetterConfig as DLQ use, not an EventBridge target's DeadLetterConfig.
    Validations.of(this.eventsDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the EventBridge rule targets (DeadLetterConfig).',
    });

    const fnDefaults = {
      configJson,
      deadLetterQueue: this.invocationDeadLetterQueue,
      logRetention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy,
    };
    this.detector = watchdogFunction(this, 'Detector', {
      ...fnDefaults,
      entry: join(REPO_ROOT, 'functions', 'detector', 'handler.ts'),
      description: 'Flink Watchdog detector: alarm state changes and the periodic sweep → findings → decisions',
    });
    this.remediation = watchdogFunction(this, 'Remediation', {
      ...fnDefaults,
      entry: join(REPO_ROOT, 'functions', 'remediation', 'handler.ts'),
      description: 'Flink Watchdog remediation: one step of the remediation workflow (act, poll, verify)',
      timeout: Duration.minutes(1),
    });

    for (const app of config.applications) {
      const policy = policyFor(config, app.name);
      const runtime = runtimeEnvironments[app.name] ?? DEFAULT_RUNTIME_ENVIRONMENT;
      for (const spec of alarmsFor(app.name, runtime, policy)) {
        this.alarms.push(alarmFromSpec(this, `${app.name}-${spec.kind}`, spec));
      }
    }

    const target = (): LambdaFunction =>
      new LambdaFunction(this.detector, {
        deadLetterQueue: this.eventsDeadLetterQueue,
        retryAttempts: 3,
        maxEventAge: Duration.hours(1),
      });
    new Rule(this, 'AlarmStateChangeRule', {
      description: `Flink Watchdog: state changes of the ${ALARM_PREFIX}* alarms → detector`,
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        detail: { alarmName: Match.prefix(ALARM_PREFIX) },
      },
      targets: [target()],
    });
    new Rule(this, 'SweepSchedule', {
      description: 'Flink Watchdog: periodic sweep of every listed application → detector',
      schedule: Schedule.rate(props.sweepInterval ?? Duration.minutes(5)),
      targets: [target()],
    });

    this.grantMsf(config, this.detector, false);
    this.grantMsf(config, this.remediation, true);
  }

  /** Grants MSF reads (and mutations when `mutate`) on the listed applications and, with `optInTag`, on tagged ones. */
  private grantMsf(config: WatchdogConfig, fn: NodejsFunction, mutate: boolean): void {
    const grantee: IGrantable = fn;
    // The policies live on the function's role, a sibling of the function: acknowledgements go there.
    const role = fn.role ?? fn;
    const arns = config.applications.map((a) => applicationArn(this, a.name));
    if (arns.length > 0) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new PolicyStatement({ sid: 'MsfReadListed', actions: [...MSF_READ_ACTIONS], resources: arns }),
      );
      if (mutate) {
        grantee.grantPrincipal.addToPrincipalPolicy(
          new PolicyStatement({ sid: 'MsfMutateListed', actions: [...MSF_MUTATING_ACTIONS], resources: arns }),
        );
      }
    }
    if (config.optInTag) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new PolicyStatement({
          sid: 'MsfOptInTagged',
          actions: [...MSF_READ_ACTIONS, ...(mutate ? MSF_MUTATING_ACTIONS : [])],
          resources: [applicationArn(this, '*')],
          conditions: { StringEquals: { [`aws:ResourceTag/${config.optInTag.key}`]: config.optInTag.value } },
        }),
      );
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kinesisanalytics:<AWS::Region>:<AWS::AccountId>:application/*]`,
        reason:
          'Applications opted in by tag are not known at deploy time; the statement is limited by an aws:ResourceTag condition on the opt-in tag.',
      });
    }
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ sid: 'CloudWatchMetrics', actions: ['cloudwatch:GetMetricData'], resources: ['*'] }),
    );
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'cloudwatch:GetMetricData and the X-Ray tracing actions (xray:PutTraceSegments, xray:PutTelemetryRecords) support no resource-level permissions.',
    });
  }
}

/** `arn:${Partition}:kinesisanalytics:${Region}:${Account}:application/<name>` of the stack's account and region. */
export function applicationArn(scope: Construct, applicationName: string): string {
  const stack = Stack.of(scope);
  return `arn:${stack.partition}:kinesisanalytics:${stack.region}:${stack.account}:application/${applicationName}`;
}

function checkRuntimeEnvironments(
  config: WatchdogConfig,
  runtimeEnvironments: Readonly<Record<string, string>>,
): Readonly<Record<string, string>> {
  const listed = new Set(config.applications.map((a) => a.name));
  for (const [name, runtime] of Object.entries(runtimeEnvironments)) {
    if (!listed.has(name)) {
      throw new FlinkWatchdogPropsError(
        `runtimeEnvironments.${name}: "${name}" is not a listed application (listed: ${[...listed].join(', ') || 'none'})`,
      );
    }
    if (!/^FLINK-\d+_\d+$/.test(runtime)) {
      throw new FlinkWatchdogPropsError(
        `runtimeEnvironments.${name}: "${runtime}" is not an MSF Flink RuntimeEnvironment such as FLINK-1_20 or FLINK-2_2`,
      );
    }
  }
  return runtimeEnvironments;
}

function deadLetterQueue(scope: Construct, id: string, removalPolicy: RemovalPolicy): Queue {
  const queue = new Queue(scope, id, {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
    removalPolicy,
  });
  return queue;
}

interface WatchdogFunctionProps {
  entry: string;
  description: string;
  configJson: string;
  deadLetterQueue: Queue;
  logRetention: RetentionDays;
  removalPolicy: RemovalPolicy;
  timeout?: Duration;
}

/** The one place that sets the Lambda defaults: arm64, Node 22, ESM bundle, JSON logs, tracing, log retention. */
function watchdogFunction(scope: Construct, id: string, props: WatchdogFunctionProps): NodejsFunction {
  const logGroup = new LogGroup(scope, `${id}LogGroup`, {
    retention: props.logRetention,
    removalPolicy: props.removalPolicy,
  });
  // An explicit role without the AWSLambdaBasicExecutionRole managed policy: logs go to this log group only.
  const role = new Role(scope, `${id}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
  logGroup.grantWrite(role);
  const fn = new NodejsFunction(scope, id, {
    entry: props.entry,
    handler: 'handler',
    description: props.description,
    runtime: Runtime.NODEJS_22_X,
    architecture: Architecture.ARM_64,
    memorySize: 512,
    timeout: props.timeout ?? Duration.seconds(30),
    role,
    logGroup,
    loggingFormat: LoggingFormat.JSON,
    tracing: Tracing.ACTIVE,
    deadLetterQueue: props.deadLetterQueue,
    environment: {
      WATCHDOG_CONFIG: props.configJson,
      NODE_OPTIONS: '--enable-source-maps',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    projectRoot: REPO_ROOT,
    depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
    bundling: {
      forceDockerBundling: false,
      format: OutputFormat.ESM,
      target: 'node22',
      mainFields: ['module', 'main'],
      minify: true,
      sourceMap: true,
      externalModules: [],
      banner:
        "import { createRequire as __watchdogCreateRequire } from 'node:module'; const require = __watchdogCreateRequire(import.meta.url);",
    },
  });
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-L1',
    reason:
      'Node.js 22 is deliberate: the handlers and their bundle target node22, the runtime the project is tested against; Node 22 is a supported Lambda runtime.',
  });
  return fn;
}

function alarmFromSpec(scope: Construct, id: string, spec: AlarmSpec): CfnAlarm {
  return new CfnAlarm(scope, id, {
    alarmName: spec.alarmName,
    alarmDescription: spec.description,
    comparisonOperator: spec.comparisonOperator,
    threshold: spec.threshold,
    evaluationPeriods: spec.evaluationPeriods,
    datapointsToAlarm: spec.datapointsToAlarm,
    treatMissingData: spec.treatMissingData,
    metrics: spec.queries.map((q) => ({
      id: q.id,
      returnData: q.returnData,
      ...(q.label !== undefined ? { label: q.label } : {}),
      ...(q.expression !== undefined ? { expression: q.expression } : {}),
      ...(q.metric !== undefined
        ? {
            metricStat: {
              metric: {
                namespace: MSF_METRIC_NAMESPACE,
                metricName: q.metric.metricName,
                dimensions: Object.entries(q.metric.dimensions).map(([name, value]) => ({ name, value })),
              },
              stat: q.metric.stat,
              period: q.metric.periodSeconds,
            },
          }
        : {}),
    })),
  });
}
