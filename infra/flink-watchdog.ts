import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Annotations, type CfnElement, Duration, Names, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { CfnAlarm, ComparisonOperator, Alarm as CwAlarm, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { AttributeType, Billing, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Match, Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import {
  AnyPrincipal,
  ArnPrincipal,
  Effect,
  type IGrantable,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Architecture, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { SnsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DetectorEnv, functionEnvironment, ReconcilerEnv, RemediationEnv, RunbookEnv } from '#functions/common/env.ts';
import { LEDGER_TABLE } from '#shared/adapters/ledger-table.ts';
import { ALARM_PREFIX, type AlarmSpec, alarmsFor, MSF_METRIC_NAMESPACE } from '#shared/alarms.ts';
import { policyFor, runtimeEnvironmentOf, type WatchdogConfig } from '#shared/config/schema.ts';
import {
  CLOUDTRAIL_API_CALL_DETAIL_TYPE,
  MSF_CHANGE_EVENT_NAMES,
  MSF_EVENT_SOURCE,
} from '#shared/events/cloudtrail.ts';
import {
  ABNORMAL_EXECUTION_STATUSES,
  EXECUTION_STATUS_CHANGE_DETAIL_TYPE,
} from '#shared/events/execution-status-change.ts';
import { WatchdogDashboard } from './dashboard.ts';
import { RemediationWorkflow } from './remediation-workflow.ts';
import { stateMachineArn, WatchWorkflow, watchExecutionsEndedMetric } from './watch-workflow.ts';

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

/** Lambda limit on the total size of a function's environment variables, bytes. */
const LAMBDA_ENV_LIMIT_BYTES = 4096;

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Properties of {@link FlinkWatchdog}. */
export interface FlinkWatchdogProps {
  /**
   * The watchdog configuration, already validated with `parseConfig` (shared/config/schema.ts). It is passed to every
   * function as `WATCHDOG_CONFIG` (JSON), and its `applications` get alarms and IAM permissions.
   */
  readonly config: WatchdogConfig;
  /**
   * MSF `RuntimeEnvironment` per watched application name (e.g. `FLINK-2_2`). It picks the restart metric
   * (fullRestarts, or numRestarts on FLINK-2_x). Every key must be a listed
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

/** Raised at synth time for construct props that cannot produce a working watchdog. */
export class FlinkWatchdogPropsError extends Error {
  override readonly name = 'FlinkWatchdogPropsError';
}

/**
 * The deployed watchdog: per-application CloudWatch alarms (from `alarmsFor()`); EventBridge rules on their state
 * changes and on remediation workflow executions that end abnormally (→ detector), and a periodic sweep (→ detector and
 * drift reconciler); the remediation workflow (Step Functions) and its step Lambda; the ledger table; the notification
 * topic; the dashboard; dead-letter queues; and least-privilege IAM scoped to the listed applications (plus
 * tag-conditioned access when `optInTag` is set).
 */
export class FlinkWatchdog extends Construct {
  readonly detector: NodejsFunction;
  readonly remediation: NodejsFunction;
  /** The drift reconciler, on the sweep schedule (and on MSF CloudTrail events when enabled). */
  readonly reconciler: NodejsFunction;
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
  /** The runbook command topic, when `runbooks` is configured; only `runbooks.publishers` may publish. */
  readonly commandTopic?: Topic;
  /** The runbook command function, when `runbooks` is configured. */
  readonly runbook?: NodejsFunction;

  /** Every function of the watchdog. */
  functions(): NodejsFunction[] {
    return [this.detector, this.remediation, this.reconciler, ...(this.runbook ? [this.runbook] : [])];
  }
  /** Dead-letter queue of the EventBridge rule targets (events that could not be delivered to a function). */
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
    // Not under ALARM_PREFIX: its state changes must not reach the detector, which handles application alarms only.
    const undeliveredAlarmName = `FlinkWatchdog-undelivered-notifications-${Stack.of(this).stackName}`;
    // Not under ALARM_PREFIX either: watch executions that ended without their verdict (see below).
    const watchEndedAlarmName = `FlinkWatchdog-watch-executions-ended-${Stack.of(this).stackName}`;
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
      const alarmArns = [undeliveredAlarmName, watchEndedAlarmName].map(
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
    };
    const common = {
      WATCHDOG_CONFIG: configJson,
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
      entry: join(REPO_ROOT, 'functions', 'remediation', 'handler.ts'),
      description: 'Flink Watchdog remediation: one step of the remediation workflow (lock, act, poll, verify, notify)',
      timeout: Duration.minutes(1),
      environment: functionEnvironment(RemediationEnv, common),
    });
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
      entry: join(REPO_ROOT, 'functions', 'detector', 'handler.ts'),
      description:
        'Flink Watchdog detector: alarm state changes, the periodic sweep and watch checks → findings → decisions',
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
      entry: join(REPO_ROOT, 'functions', 'reconciler', 'handler.ts'),
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
        entry: join(REPO_ROOT, 'functions', 'runbook', 'handler.ts'),
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
    }
    this.workflow.stateMachine.grantStartExecution(this.detector);
    this.workflow.stateMachine.grantStartExecution(this.reconciler);
    this.grantTerraformState(config.drift?.terraformState ?? []);
    const defaultBus = `arn:${Stack.of(this).partition}:events:${Stack.of(this).region}:${Stack.of(this).account}:event-bus/default`;
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
      applications: config.applications.map((a) => ({
        name: a.name,
        runtimeEnvironment: runtimeEnvironments[a.name] ?? runtimeEnvironmentOf(config, a.name),
      })),
    });

    for (const app of config.applications) {
      const policy = policyFor(config, app.name);
      const runtime = runtimeEnvironments[app.name] ?? runtimeEnvironmentOf(config, app.name);
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
    const reconcilerTarget = (): LambdaFunction =>
      new LambdaFunction(this.reconciler, {
        deadLetterQueue: this.eventsDeadLetterQueue,
        retryAttempts: 3,
        maxEventAge: Duration.hours(1),
      });
    new Rule(this, 'SweepSchedule', {
      description: 'Flink Watchdog: periodic sweep of every listed application → detector and drift reconciler',
      schedule: Schedule.rate(props.sweepInterval ?? Duration.minutes(5)),
      targets: [target(), reconcilerTarget()],
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

    this.grantMsf(config, this.detector, false);
    this.grantMsf(config, this.remediation, true);
    this.grantMsf(config, this.reconciler, false, { metrics: false });
    if (this.runbook) {
      this.grantMsf(config, this.runbook, false, { metrics: false });
      // The `snapshot` command calls CreateApplicationSnapshot itself; every other command goes through the workflow.
      this.grantOnWatched(config, this.runbook, 'MsfSnapshot', ['kinesisanalytics:CreateApplicationSnapshot']);
    }
    // The reconciler's cheap first pass: ListApplications supports no resource-level permissions.
    this.reconciler.addToRolePolicy(
      new PolicyStatement({
        sid: 'MsfListApplications',
        actions: ['kinesisanalytics:ListApplications'],
        resources: ['*'],
      }),
    );
  }

  /** Grants `actions` on the listed applications and, with `optInTag`, on applications carrying the tag. */
  private grantOnWatched(config: WatchdogConfig, fn: NodejsFunction, sid: string, actions: string[]): void {
    const arns = config.applications.map((a) => applicationArn(this, a.name));
    if (arns.length > 0) fn.addToRolePolicy(new PolicyStatement({ sid: `${sid}Listed`, actions, resources: arns }));
    if (config.optInTag) {
      fn.addToRolePolicy(
        new PolicyStatement({
          sid: `${sid}OptInTagged`,
          actions,
          resources: [applicationArn(this, '*')],
          conditions: { StringEquals: { [`aws:ResourceTag/${config.optInTag.key}`]: config.optInTag.value } },
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
        Annotations.of(this).addWarningV2(
          'flink-watchdog:terraform-state-local-path',
          `drift.terraformState "${source}" is a local path: the reconciler Lambda cannot read it (use the S3 backend object, s3://BUCKET/KEY). The CLI can.`,
        );
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

  /** Grants MSF reads (and mutations when `mutate`) on the listed applications and, with `optInTag`, on tagged ones. */
  private grantMsf(
    config: WatchdogConfig,
    fn: NodejsFunction,
    mutate: boolean,
    options: { metrics: boolean } = { metrics: true },
  ): void {
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
    if (options.metrics) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new PolicyStatement({ sid: 'CloudWatchMetrics', actions: ['cloudwatch:GetMetricData'], resources: ['*'] }),
      );
    }
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'cloudwatch:GetMetricData, kinesisanalytics:ListApplications and the X-Ray tracing actions (xray:PutTraceSegments, xray:PutTelemetryRecords) support no resource-level permissions.',
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
  /** Built with `functionEnvironment()` from the function's zod schema (functions/common/env.ts). */
  environment: Record<string, string>;
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
      ...props.environment,
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
