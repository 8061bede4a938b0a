import {
  Annotations,
  Aspects,
  Aws,
  type CfnElement,
  CfnOutput,
  CfnResource,
  Duration,
  Names,
  RemovalPolicy,
  Stack,
  Token,
  Validations,
} from 'aws-cdk-lib';
import { ComparisonOperator, Alarm as CwAlarm, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { AttributeType, Billing, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { CfnEventBusPolicy, Match, Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction, SfnStateMachine } from 'aws-cdk-lib/aws-events-targets';
import {
  AnyPrincipal,
  ArnPrincipal,
  Effect,
  type Grant,
  type IGrantable,
  ManagedPolicy,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import {
  Architecture,
  type CfnFunction,
  Function as LambdaFunctionResource,
  LoggingFormat,
  Runtime,
  Tracing,
} from 'aws-cdk-lib/aws-lambda';
import { SnsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { z } from 'zod';
import { DetectorEnv, functionEnvironment, ReconcilerEnv, RemediationEnv, RunbookEnv } from '#functions/common/env.ts';
import { DEFAULT_MEMBER_ROLE_NAME } from '#shared/adapters/accounts.ts';
import { LEDGER_TABLE } from '#shared/adapters/ledger-table.ts';
import { alarmPrefix, INSTANCE_PATTERN } from '#shared/alarms.ts';
import {
  changeFreezeSettings,
  DEFAULT_LOG_GROUP_PREFIX,
  defaultLogGroupName,
  fleetSettings,
  listedKey,
  parseConfig,
  policyFor,
  runtimeEnvironmentOf,
  type WatchdogConfig,
  type WatchdogConfig as WatchdogConfigSchema,
  type WatchedApplication,
} from '#shared/config/schema.ts';
import {
  approvalUnanswerableWarning,
  memberAllowChangesNote,
  remediationTimeoutWarning,
  terraformStateLocalPathWarning,
} from '#shared/config/warnings.ts';
import {
  CLOUDTRAIL_API_CALL_DETAIL_TYPE,
  MSF_CHANGE_EVENT_NAMES,
  MSF_EVENT_SOURCE,
} from '#shared/events/cloudtrail.ts';
import {
  ABNORMAL_EXECUTION_STATUSES,
  EXECUTION_STATUS_CHANGE_DETAIL_TYPE,
} from '#shared/events/execution-status-change.ts';
import { ApprovalEndpoints, usesApproveMode } from './approval-endpoints.ts';
import { WatchdogDashboard } from './dashboard.ts';
import { FlinkWatchdogPropsError } from './errors.ts';
import { type LambdaFunctionName, prebuiltCode } from './lambda-code.ts';
import { NO_ALARM_ACTIONS_CONDITION } from './member-stack.ts';
import { RemediationWorkflow } from './remediation-workflow.ts';
import { SweepWorkflow } from './sweep-workflow.ts';
import { stateMachineArn, WatchWorkflow, watchExecutionsEndedMetric } from './watch-workflow.ts';

/**
 * The CloudFormation outputs every {@link FlinkWatchdog} adds to its stack, by name, with their descriptions. The
 * OutputKey is `<construct id with characters other than letters and digits removed><Name>` (e.g.
 * `WatchdogLedgerTableName` for `new FlinkWatchdog(stack, 'Watchdog', ...)`); `CommandTopicArn` only when `runbooks`
 * is configured.
 */
export const WATCHDOG_OUTPUTS = {
  LedgerTableName: 'Flink Watchdog: the ledger (DynamoDB table) of incidents and their actions',
  NotificationTopicArn: 'Flink Watchdog: the SNS topic incidents are published to',
  CommandTopicArn: 'Flink Watchdog: the SNS topic runbook commands are published to (runbooks.publishers only)',
  RemediationStateMachineArn: 'Flink Watchdog: the remediation workflow (Step Functions state machine)',
  SweepStateMachineArn:
    'Flink Watchdog: the sweep workflow (Step Functions state machine), started by the sweep schedule',
  DashboardName: 'Flink Watchdog: the CloudWatch dashboard',
  Instance: 'Flink Watchdog: the instance id; this watchdog manages the alarms named flink-watchdog-<instance>-*',
} as const;
/** A name of {@link WATCHDOG_OUTPUTS}. */
export type WatchdogOutputName = keyof typeof WATCHDOG_OUTPUTS;

/**
 * The OutputKey prefix of a watchdog construct: its id with characters other than letters and digits removed
 * (CloudFormation logical ids are alphanumeric).
 * @throws FlinkWatchdogPropsError when nothing is left (an id like `--`).
 */
export function outputKeyPrefix(constructId: string): string {
  const prefix = constructId.replace(/[^A-Za-z0-9]/g, '');
  if (prefix === '') {
    throw new FlinkWatchdogPropsError(
      `construct id "${constructId}": give the FlinkWatchdog an id with letters or digits (its stack outputs are named after it)`,
    );
  }
  return prefix;
}

/** The alarm state the alarm rule forwards (`detail.state.value` of a "CloudWatch Alarm State Change" event). */
export const ALARM_STATE = 'ALARM';

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

/** The DynamoDB actions the ledger adapter uses (GetItem, PutItem, DeleteItem, Query, Scan). */
export const LEDGER_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
  'dynamodb:Scan',
] as const;

/**
 * Lambda's limit on a function's environment variables: "The total size of all environment variables doesn't exceed
 * 4 KB" (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html), bytes of keys and values.
 */
export const LAMBDA_ENV_LIMIT_BYTES = 4096;

/** Name of the config file bundled next to every function's handler (`WATCHDOG_CONFIG_PATH` names it). */
export const CONFIG_FILE_NAME = 'watchdog.config.json';

/**
 * IAM quotas the listed-application grants must fit (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html,
 * "IAM and AWS STS character limits" and "IAM object quotas"): a customer managed policy holds at most 6,144
 * characters (white space not counted), and a role has at most 10 managed policies attached by default.
 */
const MANAGED_POLICY_MAX_CHARS = 6144;
/**
 * Managed policies of a role the listed-application grants may use: 8 of the default 10, leaving 2 for the policies
 * CDK splits off the role's own inline policy when it grows past 10,000 characters (Role.splitLargePolicy).
 */
const LISTED_GRANT_MAX_POLICIES = 8;

/**
 * Worst-case values of the CloudFormation pseudo parameters, to size what a template resolves to at deploy time:
 * a 12-digit account; the longest Region code in use (14 characters, e.g. `ap-southeast-2`, `ap-northeast-3`); the
 * longest partition (`aws-us-gov`); the longest URL suffix (`amazonaws.com.cn`).
 */
const WORST_CASE_PSEUDO: Readonly<Record<string, string>> = {
  'AWS::AccountId': '123456789012',
  'AWS::Region': 'ap-southeast-2',
  'AWS::Partition': 'aws-us-gov',
  'AWS::URLSuffix': 'amazonaws.com.cn',
};

/**
 * Longest physical name CloudFormation may generate for a resource type whose name the template leaves out: it
 * joins the stack name, the logical ID and a random string (e.g. `MyStack-MyTable-1ABC2DEF3GHI4`) and shortens the
 * whole to the type's name limit (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-name.html).
 * The limits: DynamoDB table names 255 characters, SNS topic names 256, SQS queue names 80, Step Functions state
 * machine names 80. The random part is taken as 13 characters (the longest CloudFormation writes).
 */
const GENERATED_NAME_MAX: Readonly<Record<string, number>> = {
  'AWS::DynamoDB::GlobalTable': 255,
  'AWS::DynamoDB::Table': 255,
  'AWS::SNS::Topic': 256,
  'AWS::SQS::Queue': 80,
  'AWS::StepFunctions::StateMachine': 80,
};

/**
 * The config as written in `flink-watchdog.config.json`, before validation (defaults not filled in): what
 * {@link FlinkWatchdogProps.config} takes. A validated {@link WatchdogConfig} is one too.
 */
export type WatchdogConfigInput = z.input<typeof WatchdogConfigSchema>;

/** Properties of {@link FlinkWatchdog}. */
export interface FlinkWatchdogProps {
  /**
   * The watchdog configuration: the same JSON object as `flink-watchdog.config.json` (e.g. `JSON.parse` of the file),
   * or one already validated by `parseConfig`. The constructor validates it with `parseConfig`
   * (shared/config/schema.ts), so a bad field fails synth with a `ConfigError` whose `issues` are the lines
   * `flink-watchdog validate` prints (`applications[0].policy.mode: must be one of "remediate", "observe" (got "fix")`).
   * The validated config is bundled with every function's code as `watchdog.config.json` (named by
   * `WATCHDOG_CONFIG_PATH`), and decides the IAM grants: MSF mutating actions only on the applications it puts in
   * `remediate` mode (see {@link mutableListedApplications}).
   *
   * Typed loosely on purpose: a JSON module import widens `"observe"` to `string`, which the exact input type would
   * refuse; the validation is what guards it.
   */
  readonly config: WatchdogConfigInput | Readonly<Record<string, unknown>>;
  /**
   * The watchdog's instance id, 1-32 letters and digits (`[A-Za-z0-9]`): its alarms are named
   * `flink-watchdog-<instance>-<application>-<kind>`, and its alarm rule and IAM cover that prefix only, so several
   * watchdogs can share an account. Passed to every function as `WATCHDOG_INSTANCE`.
   * @default - the stack name, characters other than letters and digits removed, cut to 32
   */
  readonly instanceId?: string;
  /**
   * MSF `RuntimeEnvironment` per watched application name (e.g. `FLINK-2_2`), for the dashboard's per-application
   * rows (it picks the restart metric: fullRestarts, or numRestarts on FLINK-2_x). Every key must be a listed
   * application. The functions read the runtime from ListApplications.
   * @default - each application's `runtimeEnvironment` in the config (`FLINK-1_20` when unset)
   */
  readonly runtimeEnvironments?: Readonly<Record<string, string>>;
  /**
   * Interval of the periodic sweep (the sweep workflow: the detector plans, then looks at batches of applications;
   * the drift reconciler runs on the same schedule). The sweep workflow's timeout is 80% of it.
   * @default Duration.minutes(5)
   */
  readonly sweepInterval?: Duration;
  /**
   * Retention of the functions' log groups.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * Removal policy of the log groups, dead-letter queues and the topic's key.
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Removal policy of the ledger table (incidents and their recorded actions: the audit trail).
   * @default RemovalPolicy.RETAIN
   */
  readonly ledgerRemovalPolicy?: RemovalPolicy;
  /**
   * Also invoke the detector and the reconciler on MSF API calls that change an application (StartApplication, StopApplication,
   * UpdateApplication, RollbackApplication, CreateApplication) seen as "AWS API Call via CloudTrail" events, so a change
   * made outside the watchdog is looked at at once instead of at the next sweep. Needs a CloudTrail trail that logs
   * management events in the region.
   * @default false
   */
  readonly cloudTrailEvents?: boolean;
  /**
   * Longest a remediation workflow may run before Step Functions stops it.
   * @default Duration.hours(12)
   */
  readonly remediationTimeout?: Duration;
}

export { FlinkWatchdogPropsError };

/**
 * The deployed watchdog: EventBridge rules on the transitions to ALARM of its instance's alarms (which the detector's
 * alarm manager creates and deletes at runtime, not CloudFormation) and on remediation workflow executions that end
 * abnormally (→ detector); a periodic schedule starting the sweep workflow (plan, then a Distributed Map of look
 * batches, both on the detector) and the drift reconciler; the remediation workflow (Step Functions) and its step
 * Lambda; the watch workflow; the ledger table; the notification topic; the dashboard; dead-letter queues; stack
 * outputs for the CLI ({@link WATCHDOG_OUTPUTS}); and IAM that scales to a fleet: MSF reads on every application of
 * the account and Region (scope is enforced in code), MSF mutations only where the config allows them (see
 * {@link mutableListedApplications}: none for an all-observe config without runbooks) on listed applications by ARN
 * and on the opted-in ones by tag condition, alarm writes under the instance's alarm prefix, and sts:AssumeRole on the
 * member roles of `fleet.accounts`.
 *
 * The functions' code is the package's prebuilt `dist/lambda/<function>/` (`npm run build`; see infra/lambda-code.ts)
 * with the validated config beside the handler as `watchdog.config.json` (not in the environment: no size limit but
 * the deployment package's); each function's environment is checked at synth time to stay within Lambda's 4 KB.
 *
 * @example
 * const config = JSON.parse(readFileSync('flink-watchdog.config.json', 'utf8'));
 * new FlinkWatchdog(stack, 'Watchdog', { config });
 */
export class FlinkWatchdog extends Construct {
  readonly detector: LambdaFunctionResource;
  readonly remediation: LambdaFunctionResource;
  /** The drift reconciler, on the sweep schedule (and on MSF CloudTrail events when enabled). */
  readonly reconciler: LambdaFunctionResource;
  /** The ledger: incidents, the per-application lock, attempt counters (layout in shared/adapters/ledger-table.ts). */
  readonly ledger: TableV2;
  /** The remediation workflow (Step Functions Standard). */
  readonly workflow: RemediationWorkflow;
  /** The watch workflow (Step Functions Standard): the detector looks again after a restart, a transition, a change. */
  readonly watchWorkflow: WatchWorkflow;
  /** Where incidents are published (created, KMS-encrypted, unless `notifications.snsTopicArn` names one). */
  readonly topic: ITopic;
  /** The secret holding the Slack webhook URL, when `notifications.slackWebhookSecretName` names one. */
  readonly slackWebhookSecret?: ISecret;
  readonly dashboard: WatchdogDashboard;
  /** The topic Amazon Q Developer in chat applications subscribes to, when `notifications.chatbot` is set. */
  readonly chatTopic?: Topic;
  /** Undelivered notifications (after each channel's retries); an alarm fires when it holds any. */
  readonly notificationDeadLetterQueue: Queue;
  /**
   * The runbook command topic, when `runbooks` is configured; only `runbooks.publishers` may publish. Its policy and its
   * key's policy name those principals, so each must exist when the stack is deployed (SNS and KMS refuse a policy
   * naming a missing principal, and the deploy fails).
   */
  readonly commandTopic?: Topic;
  /** The runbook command function, when `runbooks` is configured. */
  readonly runbook?: LambdaFunctionResource;
  /** The Slack interactivity endpoint and the Amazon Q custom actions of approve mode, when configured. */
  readonly approvalEndpoints?: ApprovalEndpoints;

  /** Every function of the watchdog. */
  functions(): LambdaFunctionResource[] {
    return [this.detector, this.remediation, this.reconciler, ...(this.runbook ? [this.runbook] : [])];
  }
  /** Dead-letter queue of the EventBridge rule targets (events that could not be delivered to a function). */
  readonly eventsDeadLetterQueue: Queue;
  /** Dead-letter queue of failed asynchronous invocations of the functions. */
  readonly invocationDeadLetterQueue: Queue;
  /** The sweep workflow (Step Functions Standard, a Distributed Map of look batches), started by the sweep schedule. */
  readonly sweepWorkflow: SweepWorkflow;
  /** The instance id: alarm names, the alarm rule and the alarm IAM use `flink-watchdog-<instance>-`. */
  readonly instanceId: string;
  /** The customer managed policies holding the grants on listed applications by ARN (none when no ARN is listed). */
  readonly listedGrantPolicies: ManagedPolicy[] = [];
  /** The validated configuration (`parseConfig` of `props.config`, defaults filled in), as bundled with the functions. */
  readonly config: WatchdogConfig;
  /** Whether {@link grantApprovalAnswer} gave a role of the user's own a way to answer approval requests. */
  #approvalAnswerGranted = false;

  /**
   * @throws ConfigError when `props.config` does not validate; its `issues` name each bad field and the fix.
   * @throws FlinkWatchdogPropsError for other props that cannot work, or a missing `dist/lambda` build (run
   *   `npm run build`).
   */
  constructor(scope: Construct, id: string, props: FlinkWatchdogProps) {
    super(scope, id);
    const config = parseConfig(props.config, `the config of ${this.node.path}`);
    this.config = config;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;
    const runtimeEnvironments = checkRuntimeEnvironments(config, props.runtimeEnvironments ?? {});
    this.instanceId = instanceIdOf(this, props.instanceId);
    const configFile = configFileOf(config);

    this.eventsDeadLetterQueue = deadLetterQueue(this, 'EventsDeadLetterQueue', removalPolicy);
    this.invocationDeadLetterQueue = deadLetterQueue(this, 'InvocationDeadLetterQueue', removalPolicy);
    // cdk-nag recognises a Lambda DeadLetterConfig as DLQ use, not an EventBridge target's DeadLetterConfig.
    Validations.of(this.eventsDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the EventBridge rule targets (DeadLetterConfig).',
    });

    this.ledger = new TableV2(this, 'Ledger', {
      partitionKey: { name: LEDGER_TABLE.partitionKey, type: AttributeType.STRING },
      sortKey: { name: LEDGER_TABLE.sortKey, type: AttributeType.STRING },
      globalSecondaryIndexes: [
        {
          indexName: LEDGER_TABLE.byApplicationIndex.indexName,
          partitionKey: { name: LEDGER_TABLE.byApplicationIndex.partitionKey, type: AttributeType.STRING },
          sortKey: { name: LEDGER_TABLE.byApplicationIndex.sortKey, type: AttributeType.NUMBER },
        },
      ],
      billing: Billing.onDemand(),
      encryption: TableEncryptionV2.awsManagedKey(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: LEDGER_TABLE.ttlAttribute,
      deletionProtection: (props.ledgerRemovalPolicy ?? RemovalPolicy.RETAIN) === RemovalPolicy.RETAIN,
      removalPolicy: props.ledgerRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    const notifications = config.notifications ?? {};
    // One rotating KMS key for the topics the stack creates.
    let topicKey: Key | undefined;
    const keyForTopics = (): Key => {
      topicKey ??= new Key(this, 'NotificationTopicKey', {
        description: 'Flink Watchdog: encrypts the notification, chat and command topics',
        enableKeyRotation: true,
        removalPolicy,
      });
      return topicKey;
    };
    if (notifications.snsTopicArn !== undefined) {
      this.topic = Topic.fromTopicArn(this, 'NotificationTopic', notifications.snsTopicArn);
    } else {
      const topic = new Topic(this, 'NotificationTopic', {
        displayName: 'Flink Watchdog incidents',
        masterKey: keyForTopics(),
        enforceSSL: true,
      });
      for (const email of notifications.emailSubscriptions ?? []) topic.addSubscription(new EmailSubscription(email));
      this.topic = topic;
    }
    if (notifications.slackWebhookSecretName !== undefined) {
      this.slackWebhookSecret = Secret.fromSecretNameV2(
        this,
        'SlackWebhookSecret',
        notifications.slackWebhookSecretName,
      );
    }

    if (notifications.chatbot) {
      this.chatTopic = new Topic(this, 'ChatNotificationTopic', {
        displayName: 'Flink Watchdog (Amazon Q Developer in chat applications)',
        masterKey: keyForTopics(),
        enforceSSL: true,
      });
    }
    // Notifications a channel could not deliver after its retries; the alarm tells people they are being lost.
    this.notificationDeadLetterQueue = deadLetterQueue(this, 'NotificationDeadLetterQueue', removalPolicy);
    Validations.of(this.notificationDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself a dead-letter queue: the functions send it the notifications they could not deliver.',
    });
    // The watchdog's own alarms are named `FlinkWatchdog-<kind>-<stack name>`, with `-<instance>` after it when the
    // instance is not the one the stack name gives (a second watchdog in one stack: alarm names are unique per
    // account and Region).
    const stackName = Stack.of(this).stackName;
    const ownAlarmSuffix =
      this.instanceId === defaultInstanceId(stackName) ? stackName : `${stackName}-${this.instanceId}`;
    // Not under ALARM_PREFIX: its state changes must not reach the detector, which handles application alarms only.
    const undeliveredAlarmName = `FlinkWatchdog-undelivered-notifications-${ownAlarmSuffix}`;
    // Not under ALARM_PREFIX either: watch executions that ended without their verdict (see below).
    const watchEndedAlarmName = `FlinkWatchdog-watch-executions-ended-${ownAlarmSuffix}`;
    // Nor this one: sweeps or look batches that failed (see below).
    const sweepFailedAlarmName = `FlinkWatchdog-sweep-failed-${ownAlarmSuffix}`;
    const undelivered = new CwAlarm(this, 'UndeliveredNotificationsAlarm', {
      alarmName: undeliveredAlarmName,
      alarmDescription:
        'Flink Watchdog could not deliver notifications (Slack, SNS, EventBridge or the chat topic) after retries: see the notification dead-letter queue and the incidents.',
      // Every new loss, not just a non-empty queue: a queue left unread would otherwise keep the alarm in ALARM
      // and hide the next losses.
      metric: this.notificationDeadLetterQueue.metricNumberOfMessagesSent({
        period: Duration.minutes(5),
        statistic: 'Sum',
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    undelivered.addAlarmAction(new SnsAction(this.topic));
    if (topicKey && this.topic instanceof Topic) {
      // CloudWatch publishes the stack's own alarms to the encrypted topic: it needs the key and the topic's permission.
      const cloudwatch = new ServicePrincipal('cloudwatch.amazonaws.com');
      // The alarms' ARNs from their names, not references: key → alarm → topic → key would be a cycle.
      const stack = Stack.of(this);
      const alarmArns = [undeliveredAlarmName, watchEndedAlarmName, sweepFailedAlarmName].map(
        (name) => `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:${name}`,
      );
      const fromThisAlarm = {
        ArnLike: { 'aws:SourceArn': alarmArns },
        StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
      };
      topicKey.addToResourcePolicy(
        new PolicyStatement({
          sid: 'CloudWatchAlarmPublish',
          principals: [cloudwatch],
          actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
          resources: ['*'],
          conditions: fromThisAlarm,
        }),
      );
      this.topic.addToResourcePolicy(
        new PolicyStatement({
          sid: 'CloudWatchAlarmPublish',
          principals: [cloudwatch],
          actions: ['sns:Publish'],
          resources: [this.topic.topicArn],
          conditions: fromThisAlarm,
        }),
      );
    }

    const fnDefaults = {
      deadLetterQueue: this.invocationDeadLetterQueue,
      logRetention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy,
      configFile,
    };
    const common = {
      WATCHDOG_CONFIG_PATH: CONFIG_FILE_NAME,
      WATCHDOG_INSTANCE: this.instanceId,
      WATCHDOG_ACCOUNT_ID: Aws.ACCOUNT_ID,
      LEDGER_TABLE_NAME: this.ledger.tableName,
      NOTIFICATION_TOPIC_ARN: this.topic.topicArn,
      NOTIFICATION_DLQ_URL: this.notificationDeadLetterQueue.queueUrl,
      ...(this.chatTopic ? { CHATBOT_TOPIC_ARN: this.chatTopic.topicArn } : {}),
      ...(notifications.slackWebhookSecretName !== undefined
        ? { SLACK_WEBHOOK_SECRET_NAME: notifications.slackWebhookSecretName }
        : {}),
    };
    this.remediation = watchdogFunction(this, 'Remediation', {
      ...fnDefaults,
      code: 'remediation',
      description: 'Flink Watchdog remediation: one step of the remediation workflow (lock, act, poll, verify, notify)',
      timeout: Duration.minutes(1),
      environment: functionEnvironment(RemediationEnv, common),
    });
    // The execution timeout must cover approve mode's waits and a hold (worstCaseRemediationMinutes).
    const timeoutWarning = remediationTimeoutWarning(
      config,
      (props.remediationTimeout ?? Duration.hours(12)).toSeconds({ integral: false }) / 60,
    );
    if (timeoutWarning) Annotations.of(this).addWarningV2(timeoutWarning.code, timeoutWarning.message);
    this.workflow = new RemediationWorkflow(this, 'RemediationWorkflow', {
      stepFunction: this.remediation,
      logRetention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy,
      ...(props.remediationTimeout !== undefined ? { timeout: props.remediationTimeout } : {}),
    });
    // The watch workflow invokes the detector, and the detector starts the watch workflow: the detector names it by
    // ARN from a fixed name (a reference to the state machine would make a dependency cycle).
    const watchName = Names.uniqueResourceName(this, { maxLength: 70, separator: '-' }).concat('-watch');
    const watchArn = stateMachineArn(this, watchName);
    this.detector = watchdogFunction(this, 'Detector', {
      ...fnDefaults,
      code: 'detector',
      description:
        'Flink Watchdog detector: alarm state changes, the periodic sweep and watch checks → findings → decisions',
      // A sweep's plan lists every account and Region and keeps the alarms; a look batch reads and judges up to
      // fleet.sweep.batchSize applications. Both call paced (adaptive retry) MSF and CloudWatch APIs.
      timeout: Duration.minutes(2),
      environment: functionEnvironment(DetectorEnv, {
        ...common,
        STATE_MACHINE_ARN: this.workflow.stateMachine.stateMachineArn,
        WATCH_STATE_MACHINE_ARN: watchArn,
      }),
    });
    this.watchWorkflow = new WatchWorkflow(this, 'WatchWorkflow', {
      checkFunction: this.detector,
      stateMachineName: watchName,
      logRetention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy,
    });
    // A watch execution that ends FAILED (a check failed past its retries, or was rejected), TIMED_OUT or ABORTED
    // leaves its application without the closer look: people are told, like undelivered notifications. The alarms and
    // the sweep still look at the application. The ended-run rule below is not extended to the watch workflow: the
    // detector could only log it, and a watch's name (fixed per situation) cannot be started again for 90 days.
    const watchEnded = new CwAlarm(this, 'WatchExecutionsEndedAlarm', {
      alarmName: watchEndedAlarmName,
      alarmDescription:
        'Flink Watchdog: a watch execution ended FAILED, TIMED_OUT or ABORTED, so its application lost the closer look after a restart, transition or change (alarms and the sweep still run). See the watch state machine executions and the detector log.',
      metric: watchExecutionsEndedMetric(this.watchWorkflow, Duration.minutes(5)),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    watchEnded.addAlarmAction(new SnsAction(this.topic));
    // The detector may start executions of the watch workflow only.
    this.detector.addToRolePolicy(
      new PolicyStatement({ sid: 'StartWatch', actions: ['states:StartExecution'], resources: [watchArn] }),
    );
    this.reconciler = watchdogFunction(this, 'Reconciler', {
      ...fnDefaults,
      code: 'reconciler',
      description:
        'Flink Watchdog reconciler: desired state (config, Terraform state) vs what MSF runs → drift reports, reconcile',
      timeout: Duration.minutes(2),
      environment: functionEnvironment(ReconcilerEnv, {
        ...common,
        STATE_MACHINE_ARN: this.workflow.stateMachine.stateMachineArn,
      }),
    });
    if (config.runbooks) {
      this.commandTopic = new Topic(this, 'CommandTopic', {
        displayName: 'Flink Watchdog runbook commands',
        masterKey: keyForTopics(),
        enforceSSL: true,
      });
      // Only the configured principals may publish commands: everyone else is denied, whatever their IAM allows.
      this.commandTopic.addToResourcePolicy(
        new PolicyStatement({
          sid: 'OnlyConfiguredPublishers',
          effect: Effect.DENY,
          principals: [new AnyPrincipal()],
          actions: ['sns:Publish'],
          resources: [this.commandTopic.topicArn],
          conditions: { ArnNotEquals: { 'aws:PrincipalArn': config.runbooks.publishers } },
        }),
      );
      this.commandTopic.addToResourcePolicy(
        new PolicyStatement({
          sid: 'ConfiguredPublishers',
          principals: config.runbooks.publishers.map((arn) => new ArnPrincipal(arn)),
          actions: ['sns:Publish'],
          resources: [this.commandTopic.topicArn],
        }),
      );
      // Publishers may use the key only through SNS (publishing to the encrypted command topic).
      keyForTopics().addToResourcePolicy(
        new PolicyStatement({
          sid: 'CommandPublishersViaSns',
          principals: config.runbooks.publishers.map((arn) => new ArnPrincipal(arn)),
          actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
          resources: ['*'],
          conditions: { StringEquals: { 'kms:ViaService': `sns.${Stack.of(this).region}.amazonaws.com` } },
        }),
      );
      this.runbook = watchdogFunction(this, 'Runbook', {
        ...fnDefaults,
        code: 'runbook',
        description: 'Flink Watchdog runbook commands: validate, scope-check, record, carry out through the workflow',
        environment: functionEnvironment(RunbookEnv, {
          ...common,
          STATE_MACHINE_ARN: this.workflow.stateMachine.stateMachineArn,
          COMMAND_TOPIC_ARN: this.commandTopic.topicArn,
        }),
      });
      this.runbook.addEventSource(
        new SnsEventSource(this.commandTopic, { deadLetterQueue: this.eventsDeadLetterQueue }),
      );
      this.workflow.stateMachine.grantStartExecution(this.runbook);
      // Runbook approve / reject answer the workflow's waiting approval state (SendTaskSuccess on its task token only).
      this.workflow.stateMachine.grant(this.runbook, 'states:SendTaskSuccess');
    }
    this.workflow.stateMachine.grantStartExecution(this.detector);
    this.workflow.stateMachine.grantStartExecution(this.reconciler);
    // approve mode from chat: the Slack interactivity endpoint and the Amazon Q custom actions (infra/approval-endpoints.ts).
    if (notifications.slackSigningSecretName !== undefined || (notifications.chatbot && usesApproveMode(config))) {
      this.approvalEndpoints = new ApprovalEndpoints(this, 'ApprovalEndpoints', {
        config,
        ledger: this.ledger,
        remediationStateMachine: this.workflow.stateMachine,
        ...(this.commandTopic ? { commandTopic: this.commandTopic } : {}),
        instanceId: this.instanceId,
        outputPrefix: outputKeyPrefix(this.node.id),
        createFunction: (scope, fnId, options) => watchdogFunction(scope, fnId, { ...fnDefaults, ...options }),
      });
    }
    this.grantTerraformState(config.drift?.terraformState ?? []);
    const defaultBus = `arn:${Stack.of(this).partition}:events:${Stack.of(this).region}:${Stack.of(this).account}:event-bus/default`;
    // Amazon Q custom actions: a pending request's chat notification carries the command topic they publish to.
    if (this.commandTopic && (this.approvalEndpoints?.customActions.length ?? 0) > 0) {
      for (const fn of this.functions()) fn.addEnvironment('CHATBOT_COMMAND_TOPIC_ARN', this.commandTopic.topicArn);
    }
    for (const fn of this.functions()) {
      // Exactly the calls DynamoDbLedger makes (shared/adapters/dynamodb-ledger.ts), on the table and its index.
      this.ledger.grant(fn, ...LEDGER_ACTIONS);
      this.topic.grantPublish(fn);
      this.chatTopic?.grantPublish(fn);
      this.slackWebhookSecret?.grantRead(fn);
      this.notificationDeadLetterQueue.grantSendMessages(fn);
      fn.addToRolePolicy(
        new PolicyStatement({ sid: 'WatchdogEvents', actions: ['events:PutEvents'], resources: [defaultBus] }),
      );
      Validations.of(fn.role ?? fn).acknowledge(
        {
          id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.ledger.node.defaultChild as CfnElement)}.Arn>/index/*]`,
          reason: "The ledger's own indexes (the byApplication GSI) under the ledger table's ARN, for Query.",
        },
        {
          id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
          reason:
            "Publishing to the KMS-encrypted topic needs kms:GenerateDataKey* on the topic's own key only (Topic.grantPublish).",
        },
      );
    }

    this.dashboard = new WatchdogDashboard(this, 'Dashboard', {
      // Per-application rows only for applications of the watchdog's own account and Region (their metrics are here).
      applications: config.applications
        .filter((a) => a.accountId === undefined)
        .map((a) => ({
          name: a.name,
          runtimeEnvironment: runtimeEnvironments[a.name] ?? runtimeEnvironmentOf(config, a.name),
        })),
    });

    const target = (): LambdaFunction =>
      new LambdaFunction(this.detector, {
        deadLetterQueue: this.eventsDeadLetterQueue,
        retryAttempts: 3,
        maxEventAge: Duration.hours(1),
      });
    // Only this instance's alarms: two watchdogs in one account never receive each other's alarm changes.
    const prefix = alarmPrefix(this.instanceId);
    // Only transitions to ALARM: the detector acts on nothing else (an OK or INSUFFICIENT_DATA event is IGNORED by
    // detect(); recovery is judged by the watch workflow and the sweep, which read the application and its metrics).
    new Rule(this, 'AlarmStateChangeRule', {
      description: `Flink Watchdog: transitions to ALARM of the ${prefix}* alarms → detector`,
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        detail: { alarmName: Match.prefix(prefix), state: { value: [ALARM_STATE] } },
      },
      targets: [target()],
    });
    const reconcilerTarget = (): LambdaFunction =>
      new LambdaFunction(this.reconciler, {
        deadLetterQueue: this.eventsDeadLetterQueue,
        retryAttempts: 3,
        maxEventAge: Duration.hours(1),
      });
    const sweepInterval = props.sweepInterval ?? Duration.minutes(5);
    // Named (not referred to) like the watch workflow; its child executions' metrics carry `<ARN>/<Map Run label>`.
    const sweepName = Names.uniqueResourceName(this, { maxLength: 70, separator: '-' }).concat('-sweep');
    this.sweepWorkflow = new SweepWorkflow(this, 'SweepWorkflow', {
      detector: this.detector,
      stateMachineName: sweepName,
      maxConcurrency: fleetSettings(config).sweep.maxConcurrency,
      // A sweep must end before the next one starts: 80% of the interval.
      timeout: Duration.seconds(Math.max(1, Math.floor(sweepInterval.toSeconds() * 0.8))),
      logRetention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy,
    });
    const sweepFailed = new CwAlarm(this, 'SweepFailedAlarm', {
      // Not under the alarm prefix: its state changes must not reach the detector.
      alarmName: sweepFailedAlarmName,
      alarmDescription:
        'Flink Watchdog: a sweep, or one of its look batches, failed, timed out or was aborted: some applications were not looked at in that sweep (the alarms still run). See the sweep state machine executions, its Map Runs and the detector log.',
      metric: this.sweepWorkflow.metricRunsEnded(Duration.minutes(5)),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    sweepFailed.addAlarmAction(new SnsAction(this.topic));
    new Rule(this, 'SweepSchedule', {
      description:
        'Flink Watchdog: periodic sweep → the sweep workflow (plan, look at batches) and the drift reconciler',
      schedule: Schedule.rate(sweepInterval),
      targets: [
        new SfnStateMachine(this.sweepWorkflow.stateMachine, {
          deadLetterQueue: this.eventsDeadLetterQueue,
          retryAttempts: 3,
          maxEventAge: Duration.hours(1),
        }),
        reconcilerTarget(),
      ],
    });

    // A run that ends without recording its outcome (timed out, aborted, or failed past its Catch) must not leave an
    // open incident behind: the detector closes it as ESCALATED and frees the lock.
    new Rule(this, 'WorkflowEndedRule', {
      description: 'Flink Watchdog: remediation workflow executions that FAILED, TIMED_OUT or were ABORTED → detector',
      eventPattern: {
        source: ['aws.states'],
        detailType: [EXECUTION_STATUS_CHANGE_DETAIL_TYPE],
        detail: {
          stateMachineArn: [this.workflow.stateMachine.stateMachineArn],
          status: [...ABNORMAL_EXECUTION_STATUSES],
        },
      },
      targets: [target()],
    });

    if (props.cloudTrailEvents) {
      new Rule(this, 'MsfApiCallRule', {
        description: 'Flink Watchdog: MSF API calls that change an application (CloudTrail) → detector and reconciler',
        eventPattern: {
          source: [MSF_EVENT_SOURCE],
          detailType: [CLOUDTRAIL_API_CALL_DETAIL_TYPE],
          detail: { eventSource: ['kinesisanalytics.amazonaws.com'], eventName: [...MSF_CHANGE_EVENT_NAMES] },
        },
        targets: [target(), reconcilerTarget()],
      });
    }

    this.grantFleetIam(config);
    this.addOutputs();
  }

  /**
   * The stack outputs the CLI reads (`flink-watchdog ... --stack NAME`), each keyed `<construct id, letters and digits
   * only><Name>` (see {@link WATCHDOG_OUTPUTS}), so several watchdogs in one stack keep apart.
   */
  private addOutputs(): void {
    const prefix = outputKeyPrefix(this.node.id);
    const values: Record<WatchdogOutputName, string | undefined> = {
      LedgerTableName: this.ledger.tableName,
      NotificationTopicArn: this.topic.topicArn,
      CommandTopicArn: this.commandTopic?.topicArn,
      RemediationStateMachineArn: this.workflow.stateMachine.stateMachineArn,
      SweepStateMachineArn: this.sweepWorkflow.stateMachine.stateMachineArn,
      DashboardName: this.dashboard.dashboard.dashboardName,
      Instance: this.instanceId,
    };
    for (const name of Object.keys(WATCHDOG_OUTPUTS) as WatchdogOutputName[]) {
      const value = values[name];
      if (value === undefined) continue;
      const output = new CfnOutput(this, `Output${name}`, { value, description: WATCHDOG_OUTPUTS[name] });
      output.overrideLogicalId(`${prefix}${name}`);
    }
  }

  /**
   * Lets `grantee` answer approve mode's approval requests: `states:SendTaskSuccess` only (not SendTaskFailure or
   * SendTaskHeartbeat) on the remediation state machine, whose AwaitApproval state waits on a task token
   * (https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-wait-token). For a role of
   * your own that calls answerApproval (it also needs GetItem and PutItem on the ledger table).
   */
  grantApprovalAnswer(grantee: IGrantable): Grant {
    this.#approvalAnswerGranted = true;
    return this.workflow.stateMachine.grant(grantee, 'states:SendTaskSuccess');
  }

  /**
   * Root cause (shared/domain/root-cause.ts): the detector reads a looping application's log group with
   * `logs:StartQuery` and `logs:FilterLogEvents` on the log groups of the listed applications of its own account and
   * Region only (`applications[].logGroupName`, default `/aws/kinesis-analytics/NAME`), both authorized on the
   * `log-group` resource (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html),
   * granted on the group ARN and `GROUP:*`. With `optInTag`, tagged applications are not known at synth: their
   * default-named groups (`/aws/kinesis-analytics/*`) are granted. More than {@link MAX_LOG_GROUP_GRANTS} groups: the
   * default-named ones collapse into that pattern. `logs:GetQueryResults` supports no resource-level permission (`*`).
   */
  private grantRootCauseLogs(config: WatchdogConfig): void {
    const stack = Stack.of(this);
    const groups = [
      ...new Set(
        config.applications.filter((a) => isHome(this, a)).map((a) => a.logGroupName ?? defaultLogGroupName(a.name)),
      ),
    ];
    const pattern = `${DEFAULT_LOG_GROUP_PREFIX}*`;
    const collapse = config.optInTag !== undefined || groups.length > MAX_LOG_GROUP_GRANTS;
    const granted = collapse ? [pattern, ...groups.filter((g) => !g.startsWith(DEFAULT_LOG_GROUP_PREFIX))] : groups;
    if (granted.length === 0) return;
    const groupArn = (g: string) => `arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:${g}`;
    this.detector.addToRolePolicy(
      new PolicyStatement({
        sid: 'RootCauseLogs',
        actions: ['logs:StartQuery', 'logs:FilterLogEvents'],
        resources: granted.flatMap((g) => [groupArn(g), `${groupArn(g)}:*`]),
      }),
    );
    this.detector.addToRolePolicy(
      new PolicyStatement({ sid: 'RootCauseQueryResults', actions: ['logs:GetQueryResults'], resources: ['*'] }),
    );
    Validations.of(this.detector.role ?? this.detector).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'cloudwatch:GetMetricData, cloudwatch:DescribeAlarms, kinesisanalytics:ListApplications, tag:GetResources, the X-Ray tracing actions (xray:PutTraceSegments, xray:PutTelemetryRecords) and logs:GetQueryResults support no resource-level permissions (GetQueryResults reads only the results of queries the detector started on its granted log groups).',
      },
      ...granted.map((g) => ({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:${g}:*]`,
        reason: `The log streams of ${g} (CloudWatch Logs actions on a log group are granted on GROUP:*): the detector reads a looping application's first exception there.`,
      })),
      ...(collapse
        ? [
            {
              id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:${pattern}]`,
              reason:
                'The default-named log groups of MSF applications: tag opt-in finds applications at runtime (or too many are listed for one statement); the detector reads only the log group of an application it watches (checked in code).',
            },
          ]
        : []),
    );
  }

  /**
   * MSF, CloudWatch, tagging and STS permissions, sized for a fleet of 1,000 applications:
   * - every function: the MSF read actions on `application/*` of the account and Region (which applications are
   *   watched is enforced in code: listed, or carrying the opt-in tag), and sts:AssumeRole on the member roles;
   * - detector: ListApplications, tag:GetResources, GetMetricData and DescribeAlarms (none supports resource-level
   *   permissions), and PutMetricAlarm, DeleteAlarms, TagResource, ListTagsForResource on its instance's alarms only;
   * - remediation: GetMetricData (the verify step), the MSF mutating actions on the listed applications it may
   *   change by ARN (see
   *   {@link mutableListedApplications}) and, when tagged applications may be changed, on `application/*` with the
   *   opt-in tag (aws:ResourceTag condition);
   * - runbook: CreateApplicationSnapshot the same way, on every listed application (a person decides).
   * @throws FlinkWatchdogPropsError when the listed ARNs do not fit the role's managed policies.
   */
  private grantFleetIam(config: WatchdogConfig): void {
    const stack = Stack.of(this);
    const everyApplication = applicationArn(this, '*');
    for (const fn of this.functions()) {
      fn.addToRolePolicy(
        new PolicyStatement({ sid: 'MsfRead', actions: [...MSF_READ_ACTIONS], resources: [everyApplication] }),
      );
      Validations.of(fn.role ?? fn).acknowledge(
        {
          id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kinesisanalytics:<AWS::Region>:<AWS::AccountId>:application/*]',
          reason:
            'MSF reads (Describe*, List*) on every application of the account and Region: tagged applications are found at runtime and a fleet of 1,000 listed ARNs does not fit a role policy. The functions act only on listed or opted-in applications (checked in code); mutations are granted by ARN or tag condition only.',
        },
        {
          id: 'AwsSolutions-IAM5[Resource::*]',
          reason:
            'cloudwatch:GetMetricData, cloudwatch:DescribeAlarms, kinesisanalytics:ListApplications, tag:GetResources and the X-Ray tracing actions (xray:PutTraceSegments, xray:PutTelemetryRecords) support no resource-level permissions.',
        },
      );
    }
    // The reconciler's cheap first pass and the sweep's plan: ListApplications supports no resource-level permissions.
    for (const fn of [this.detector, this.reconciler]) {
      fn.addToRolePolicy(
        new PolicyStatement({
          sid: 'MsfListApplications',
          actions: ['kinesisanalytics:ListApplications'],
          resources: ['*'],
        }),
      );
    }
    // The remediation step verifies a remediation by the application's restart counter (GetMetricData supports no
    // resource-level permissions).
    this.remediation.addToRolePolicy(
      new PolicyStatement({ sid: 'CloudWatchMetrics', actions: ['cloudwatch:GetMetricData'], resources: ['*'] }),
    );
    // Change freezes: before every automatic MSF call the remediation step reads the configured Change Calendars
    // (shared/domain/holds.ts). ssm:GetCalendarState is authorized on the calendars' SSM documents (resource type
    // document, https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html): a name
    // is a document of this account and Region, an ARN is granted as given.
    const calendars = changeFreezeSettings(config).calendars;
    if (calendars.length > 0) {
      this.remediation.addToRolePolicy(
        new PolicyStatement({
          sid: 'ChangeCalendarRead',
          actions: ['ssm:GetCalendarState'],
          resources: calendars.map((c) =>
            c.startsWith('arn:') ? c : `arn:${stack.partition}:ssm:${stack.region}:${stack.account}:document/${c}`,
          ),
        }),
      );
    }
    this.detector.addToRolePolicy(
      new PolicyStatement({
        sid: 'SweepDiscovery',
        // GetResources (tagged applications), GetMetricData (one call per look batch), DescribeAlarms (the alarm
        // manager, by prefix): none supports resource-level permissions.
        actions: ['tag:GetResources', 'cloudwatch:GetMetricData', 'cloudwatch:DescribeAlarms'],
        resources: ['*'],
      }),
    );
    const instanceAlarms = `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:${alarmPrefix(this.instanceId)}*`;
    // The watchdog's alarms have no actions: PutMetricAlarm only without any (see NO_ALARM_ACTIONS_CONDITION).
    this.detector.addToRolePolicy(
      new PolicyStatement({
        sid: 'AlarmManagerPut',
        actions: ['cloudwatch:PutMetricAlarm'],
        resources: [instanceAlarms],
        conditions: NO_ALARM_ACTIONS_CONDITION,
      }),
    );
    this.detector.addToRolePolicy(
      new PolicyStatement({
        sid: 'AlarmManager',
        actions: ['cloudwatch:DeleteAlarms', 'cloudwatch:TagResource', 'cloudwatch:ListTagsForResource'],
        resources: [instanceAlarms],
      }),
    );
    Validations.of(this.detector.role ?? this.detector).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:${alarmPrefix(this.instanceId)}*]`,
      reason:
        "The alarm manager creates, tags and deletes this instance's alarms, named under its own prefix (one per application and kind, created at runtime).",
    });

    this.grantRootCauseLogs(config);

    const homeListed = config.applications.filter((a) => isHome(this, a));
    const tagged = config.optInTag;
    // The member role (infra/member-stack.ts) changes only applications carrying the opt-in tag: a listed member
    // application in remediate or approve mode without it would fail its remediation with AccessDenied.
    const memberRemediate = config.applications
      .filter((a) => !isHome(this, a) && MUTATING_MODES.has(policyFor(config, listedKey(a)).mode))
      .map(listedKey);
    if (memberRemediate.length > 0) {
      const shown = memberRemediate.slice(0, 10).join(', ');
      const more = memberRemediate.length > 10 ? ` and ${memberRemediate.length - 10} more` : '';
      Annotations.of(this).addWarningV2(
        'flink-watchdog:listed-member-remediate',
        `applications in member accounts in remediate or approve mode: ${shown}${more}. The member role changes only applications carrying the opt-in tag (${tagged ? `${tagged.key}=${tagged.value}` : "set optInTag, the same as the member stack's OptInTagKey and OptInTagValue"}): tag them too, and deploy their member stacks with AllowChanges=true, or their remediations fail with AccessDenied.`,
      );
    }
    // The member role changes nothing unless its stack says AllowChanges=true (observe by default).
    const allowChangesNote = memberAllowChangesNote(config, memberRemediate.length > 0);
    if (allowChangesNote) Annotations.of(this).addInfoV2(allowChangesNote.code, allowChangesNote.message);
    // approve mode with no way to answer: checked at synth (an aspect), after any grantApprovalAnswer call.
    Aspects.of(this).add({
      visit: (node) => {
        if (node !== this) return;
        const unanswerable = approvalUnanswerableWarning(config, this.#approvalAnswerGranted);
        if (unanswerable) Annotations.of(this).addWarningV2(unanswerable.code, unanswerable.message);
      },
    });
    const mutable = mutableListedApplications(config, homeListed);
    this.grantOnApplications(
      this.remediation,
      'MsfMutate',
      [...MSF_MUTATING_ACTIONS],
      mutable.listed,
      mutable.tagged ? tagged : undefined,
      config.runbooks
        ? 'runbooks are configured: a person may command every listed application, whatever its mode'
        : 'the listed applications in remediate or approve mode',
    );
    if (this.runbook) {
      // The `snapshot` command calls CreateApplicationSnapshot itself; every other command goes through the workflow.
      this.grantOnApplications(
        this.runbook,
        'MsfSnapshot',
        ['kinesisanalytics:CreateApplicationSnapshot'],
        homeListed,
        tagged,
        'the snapshot command may name every listed application',
      );
    }

    const accounts = config.fleet?.accounts ?? [];
    if (accounts.length > 0) {
      const roles = accounts.map(
        (a) => `arn:${stack.partition}:iam::${a.accountId}:role/${a.roleName ?? DEFAULT_MEMBER_ROLE_NAME}`,
      );
      for (const fn of this.functions()) {
        fn.addToRolePolicy(
          new PolicyStatement({ sid: 'AssumeMemberRoles', actions: ['sts:AssumeRole'], resources: roles }),
        );
      }
      // Member stacks forward their alarm, CloudTrail and contributor events to this account's default bus.
      for (const account of accounts) {
        new CfnEventBusPolicy(this, `MemberEvents${account.accountId}`, {
          eventBusName: 'default',
          // Unique per instance on the shared default bus (StatementId: 1-64 characters of [a-zA-Z0-9-_]).
          statementId: `FlinkWatchdog-${this.instanceId}-${account.accountId}`,
          statement: {
            Sid: `FlinkWatchdog-${this.instanceId}-${account.accountId}`,
            Effect: 'Allow',
            Principal: { AWS: `arn:${stack.partition}:iam::${account.accountId}:root` },
            Action: 'events:PutEvents',
            Resource: `arn:${stack.partition}:events:${stack.region}:${stack.account}:event-bus/default`,
          },
        });
      }
    }
  }

  /**
   * Grants `actions` on the listed applications by ARN, in customer managed policies of at most 6,144 characters
   * each (IAM counts the resolved ARNs), and with `tagged` on `application/*` conditioned on the opt-in tag.
   * @throws FlinkWatchdogPropsError when the ARNs need more than {@link LISTED_GRANT_MAX_POLICIES} policies.
   */
  private grantOnApplications(
    fn: LambdaFunctionResource,
    sid: string,
    actions: string[],
    listed: readonly WatchedApplication[],
    tag: { key: string; value: string } | undefined,
    why: string,
  ): void {
    const role = fn.role;
    if (!role) throw new Error(`${fn.node.id}: a watchdog function has an explicit role`);
    const chunks = chunkListedArns(
      listed.map((a) => a.name),
      actions,
      sid,
    );
    if (chunks.length > LISTED_GRANT_MAX_POLICIES) {
      const fit = chunks.slice(0, LISTED_GRANT_MAX_POLICIES).reduce((n, c) => n + c.length, 0);
      throw new FlinkWatchdogPropsError(
        `${listed.length} listed applications need ${sid === 'MsfMutate' ? 'MSF mutating permissions' : 'CreateApplicationSnapshot'} by ARN on the ${fn.node.id} role (${why}), but only ${fit} of them fit the ${LISTED_GRANT_MAX_POLICIES} managed policies of ${MANAGED_POLICY_MAX_CHARS} characters a role can take (IAM quotas). Opt them in by tag instead: set optInTag and tag the applications (IAM then grants by tag condition), and list only those that need their own policy.`,
      );
    }
    for (const [i, names] of chunks.entries()) {
      const policy = new ManagedPolicy(this, `${fn.node.id}${sid}Listed${i + 1}`, {
        description: `Flink Watchdog ${fn.node.id}: ${actions.join(', ')} on listed applications (part ${i + 1})`,
        statements: [
          new PolicyStatement({
            sid: `${sid}Listed`,
            actions,
            resources: names.map((name) => applicationArn(this, name)),
          }),
        ],
        roles: [role],
      });
      this.listedGrantPolicies.push(policy);
    }
    if (tag) {
      fn.addToRolePolicy(
        new PolicyStatement({
          sid: `${sid}OptInTagged`,
          actions,
          resources: [applicationArn(this, '*')],
          conditions: { StringEquals: { [`aws:ResourceTag/${tag.key}`]: tag.value } },
        }),
      );
    }
  }

  /** s3:GetObject on each `s3://` Terraform state of the config; a local path cannot be read from Lambda (a warning). */
  private grantTerraformState(sources: readonly string[]): void {
    const objects: string[] = [];
    const listings: Array<{ bucket: string; key: string }> = [];
    for (const source of sources) {
      const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(source);
      if (match && /[*?$]/.test(source)) {
        // An IAM resource with a wildcard would grant far more than one state file.
        throw new FlinkWatchdogPropsError(
          `drift.terraformState "${source}": wildcards (*, ?) and \${…} are not allowed; name the state object itself`,
        );
      }
      if (!match) {
        const localPath = terraformStateLocalPathWarning(source);
        if (localPath) Annotations.of(this).addWarningV2(localPath.code, localPath.message);
        continue;
      }
      objects.push(`arn:${Stack.of(this).partition}:s3:::${match[1]}/${match[2]}`);
      listings.push({ bucket: match[1] as string, key: match[2] as string });
    }
    if (objects.length === 0) return;
    this.reconciler.addToRolePolicy(
      new PolicyStatement({ sid: 'TerraformStateRead', actions: ['s3:GetObject'], resources: objects }),
    );
    // Without ListBucket, S3 answers a missing object with 403 AccessDenied; with it (limited to the key itself),
    // a missing state file is reported as what it is (NoSuchKey).
    for (const [i, l] of listings.entries()) {
      this.reconciler.addToRolePolicy(
        new PolicyStatement({
          sid: `TerraformStateList${i}`,
          actions: ['s3:ListBucket'],
          resources: [`arn:${Stack.of(this).partition}:s3:::${l.bucket}`],
          conditions: { StringEquals: { 's3:prefix': l.key } },
        }),
      );
    }
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
  /** The prebuilt code: `dist/lambda/<code>/` of the package (see infra/lambda-code.ts). */
  code: LambdaFunctionName;
  description: string;
  /** Built with `functionEnvironment()` from the function's zod schema (functions/common/env.ts). */
  environment: Record<string, string>;
  deadLetterQueue: Queue;
  logRetention: RetentionDays;
  removalPolicy: RemovalPolicy;
  /** The config file to bundle next to the handler as {@link CONFIG_FILE_NAME} (see {@link configFileOf}). */
  configFile: ConfigFile;
  timeout?: Duration;
}

/**
 * The one place that sets the Lambda defaults: the prebuilt ESM bundle of the package (`dist/lambda/<code>/`, handler
 * `index.handler`) with the config file beside it, arm64, Node 22, source maps, JSON logs into the function's own log
 * group, X-Ray tracing, the invocation dead-letter queue, and the synth-time check of the environment's size.
 */
function watchdogFunction(scope: Construct, id: string, props: WatchdogFunctionProps): LambdaFunctionResource {
  const logGroup = new LogGroup(scope, `${id}LogGroup`, {
    retention: props.logRetention,
    removalPolicy: props.removalPolicy,
  });
  // An explicit role without the AWSLambdaBasicExecutionRole managed policy: logs go to this log group only.
  const role = new Role(scope, `${id}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
  logGroup.grantWrite(role);
  const fn = new LambdaFunctionResource(scope, id, {
    code: prebuiltCode(scope, { fn: props.code, configJson: props.configFile.json, fileName: CONFIG_FILE_NAME }),
    handler: 'index.handler',
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
      ...props.environment,
      // The bundles ship their source maps (index.mjs.map, chunks/*.map): stack traces name the TypeScript sources.
      NODE_OPTIONS: '--enable-source-maps',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  });
  fn.node.addValidation({ validate: () => environmentProblems(fn) });
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-L1',
    reason:
      'Node.js 22 is deliberate: the handlers and their bundle target node22, the runtime the project is tested against; Node 22 is a supported Lambda runtime.',
  });
  return fn;
}

/** The config file bundled with the functions. */
interface ConfigFile {
  /** The validated config as JSON (2-space indented, a final newline). */
  json: string;
}

/** The validated config as the file each function reads at cold start ({@link CONFIG_FILE_NAME}). */
function configFileOf(config: WatchdogConfig): ConfigFile {
  return { json: `${JSON.stringify(config, null, 2)}\n` };
}

/**
 * The instance id: `instanceId` when given (validated), else the stack name with characters other than
 * letters and digits removed and cut to 32.
 * @throws FlinkWatchdogPropsError for an `instanceId` that is not 1-32 letters and digits (`[A-Za-z0-9]`), or a stack name
 *   that leaves nothing.
 */
function instanceIdOf(scope: Construct, instanceId: string | undefined): string {
  if (instanceId !== undefined) {
    if (!INSTANCE_PATTERN.test(instanceId)) {
      throw new FlinkWatchdogPropsError(
        `instanceId "${instanceId}": use 1-32 letters and digits ([A-Za-z0-9]) (it is part of every alarm name), e.g. "prodeu"`,
      );
    }
    return instanceId;
  }
  const derived = defaultInstanceId(Stack.of(scope).stackName);
  if (!INSTANCE_PATTERN.test(derived)) {
    throw new FlinkWatchdogPropsError(
      'instanceId: the stack name gives no usable instance id; set instanceId (1-32 letters and digits ([A-Za-z0-9]))',
    );
  }
  return derived;
}

/** The instance id a stack name gives: its letters and digits, cut to 32 (empty for an unresolved name). */
function defaultInstanceId(stackName: string): string {
  return Token.isUnresolved(stackName) ? '' : stackName.replace(/[^A-Za-z0-9]/g, '').slice(0, 32);
}

/** Log groups the detector is granted one by one at most; beyond, default-named groups share one pattern. */
export const MAX_LOG_GROUP_GRANTS = 20;

/**
 * Whether a listed application is in the stack's own account and Region (its policy then belongs in this stack).
 * An application naming another account is the member stack's business (the member role grants on it).
 */
function isHome(scope: Construct, app: WatchedApplication): boolean {
  if (app.accountId === undefined) return true;
  const stack = Stack.of(scope);
  return (
    !Token.isUnresolved(stack.account) &&
    app.accountId === stack.account &&
    !Token.isUnresolved(stack.region) &&
    app.region === stack.region
  );
}

/**
 * The policy modes in which the watchdog changes an application, so its role needs the MSF mutating actions on it:
 * `remediate` (acts by itself) and `approve` (acts once a person approves, or on timeout with
 * `onApprovalTimeout: proceed`). `observe` only reports what it would have done: no mutating grant.
 */
export const MUTATING_MODES: ReadonlySet<string> = new Set(['remediate', 'approve']);

/**
 * Which applications the remediation function may change (the IAM rule; observe mode is enforced by IAM, not only in
 * code):
 * - the listed home applications whose effective policy `mode` (its own `policy.mode`, else `defaults.mode`) is in
 *   {@link MUTATING_MODES};
 * - the applications opted in by tag (`optInTag`, any application of the account and Region carrying it) when the
 *   config's `defaults.mode` is: a tagged application follows the defaults;
 * - with `runbooks`, every listed application and the tagged ones, whatever their mode: runbook commands are people's
 *   decisions, and observe mode governs only the watchdog's automatic ones (shared/domain/runbook.ts); the commands act
 *   through the remediation workflow.
 * An all-observe config without runbooks grants no mutation at all (no StartApplication, StopApplication,
 * UpdateApplication, RollbackApplication, CreateApplicationSnapshot in any policy).
 */
export function mutableListedApplications(
  config: WatchdogConfig,
  homeListed: readonly WatchedApplication[],
): { listed: WatchedApplication[]; tagged: boolean } {
  const commands = config.runbooks !== undefined;
  return {
    listed: homeListed.filter((a) => commands || MUTATING_MODES.has(policyFor(config, listedKey(a)).mode)),
    tagged: config.optInTag !== undefined && (commands || MUTATING_MODES.has(policyFor(config, '').mode)),
  };
}

/**
 * Splits application names into groups whose policy document fits a customer managed policy
 * ({@link MANAGED_POLICY_MAX_CHARS} characters, white space not counted) with the ARNs as IAM stores them after
 * CloudFormation resolves partition, Region and account (worst case: {@link WORST_CASE_PSEUDO}).
 */
function chunkListedArns(names: readonly string[], actions: readonly string[], sid: string): string[][] {
  const p = WORST_CASE_PSEUDO;
  const skeleton = JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Sid: `${sid}Listed`, Effect: 'Allow', Action: actions, Resource: [] }],
  }).length;
  const chunks: string[][] = [];
  let current: string[] = [];
  let size = skeleton;
  for (const name of names) {
    const arn = `arn:${p['AWS::Partition']}:kinesisanalytics:${p['AWS::Region']}:${p['AWS::AccountId']}:application/${name}`;
    const length = JSON.stringify(arn).length;
    // One comma between two ARNs.
    if (current.length > 0 && size + 1 + length > MANAGED_POLICY_MAX_CHARS) {
      chunks.push(current);
      current = [];
      size = skeleton;
    }
    size += length + (current.length > 0 ? 1 : 0);
    current.push(name);
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * A function's environment as Lambda will store it, bytes of keys and values, with every CloudFormation token
 * replaced by its worst-case value: pseudo parameters from {@link WORST_CASE_PSEUDO}, names CloudFormation generates
 * at their longest ({@link GENERATED_NAME_MAX}), ARNs and queue URLs built from those.
 * @throws Error naming the token when the environment holds one whose worst case is not known (state it here).
 */
export function worstCaseEnvironmentBytes(fn: LambdaFunctionResource): number {
  const stack = Stack.of(fn);
  const cfn = fn.node.defaultChild as CfnFunction;
  const resolved = stack.resolve(cfn.environment) as { variables?: Record<string, unknown> } | undefined;
  const variables = resolved?.variables ?? {};
  const types = new Map<string, string>();
  for (const c of stack.node.findAll()) {
    if (c instanceof CfnResource) types.set(stack.getLogicalId(c), c.cfnResourceType);
  }
  let bytes = 0;
  for (const [key, value] of Object.entries(variables)) {
    bytes += Buffer.byteLength(key) + Buffer.byteLength(worstCase(value, stack, types));
  }
  return bytes;
}

/** The worst-case deploy-time value of a resolved CloudFormation expression (see {@link worstCaseEnvironmentBytes}). */
function worstCase(value: unknown, stack: Stack, types: ReadonlyMap<string, string>): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  const p = WORST_CASE_PSEUDO;
  const generatedName = (logicalId: string): { type: string; name: string } => {
    const type = types.get(logicalId);
    const max = type === undefined ? undefined : GENERATED_NAME_MAX[type];
    if (type === undefined || max === undefined) {
      throw new Error(`environment size check: no worst case for a reference to ${logicalId} (${type ?? 'unknown'})`);
    }
    const name = `${stack.stackName}-${logicalId}-${'X'.repeat(13)}`;
    return { type, name: name.slice(0, max) };
  };
  const arnOf = (type: string, name: string): string => {
    const at = `${p['AWS::Partition']}:%s:${p['AWS::Region']}:${p['AWS::AccountId']}`;
    if (type === 'AWS::SNS::Topic') return `arn:${at.replace('%s', 'sns')}:${name}`;
    if (type === 'AWS::SQS::Queue') return `arn:${at.replace('%s', 'sqs')}:${name}`;
    if (type === 'AWS::StepFunctions::StateMachine') return `arn:${at.replace('%s', 'states')}:stateMachine:${name}`;
    return `arn:${at.replace('%s', 'dynamodb')}:table/${name}`;
  };
  if (Array.isArray(v['Fn::Join'])) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map((x) => worstCase(x, stack, types)).join(sep);
  }
  if (typeof v.Ref === 'string') {
    const pseudo = p[v.Ref];
    if (pseudo !== undefined) return pseudo;
    if (v.Ref === 'AWS::StackName') return stack.stackName;
    const { type, name } = generatedName(v.Ref);
    // What Ref returns per type (CloudFormation template reference, "Return values"): a table's name, a queue's
    // URL, a topic's ARN, a state machine's ARN.
    if (type === 'AWS::SQS::Queue')
      return `https://sqs.${p['AWS::Region']}.${p['AWS::URLSuffix']}/${p['AWS::AccountId']}/${name}`;
    if (type === 'AWS::SNS::Topic' || type === 'AWS::StepFunctions::StateMachine') return arnOf(type, name);
    return name;
  }
  if (Array.isArray(v['Fn::GetAtt'])) {
    const [logicalId, attribute] = v['Fn::GetAtt'] as [string, string];
    const { type, name } = generatedName(logicalId);
    if (attribute === 'Arn' || attribute === 'TopicArn') return arnOf(type, name);
    if (attribute === 'QueueUrl')
      return `https://sqs.${p['AWS::Region']}.${p['AWS::URLSuffix']}/${p['AWS::AccountId']}/${name}`;
    if (attribute === 'QueueName' || attribute === 'TopicName' || attribute === 'Name') return name;
  }
  throw new Error(`environment size check: no worst case for ${JSON.stringify(value)}`);
}

/** The synth-time check of a function's environment size: an error naming the function past Lambda's 4 KB. */
function environmentProblems(fn: LambdaFunctionResource): string[] {
  const bytes = worstCaseEnvironmentBytes(fn);
  if (bytes <= LAMBDA_ENV_LIMIT_BYTES) return [];
  return [
    `function ${fn.node.path}: its environment variables take up to ${bytes} bytes once deployed (worst-case account, Region and generated names), over Lambda's ${LAMBDA_ENV_LIMIT_BYTES}-byte limit; move the largest values into the bundled config file (${CONFIG_FILE_NAME})`,
  ];
}
