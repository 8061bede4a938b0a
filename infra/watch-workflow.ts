import { type CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { type IMetric, MathExpression } from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  Choice,
  Condition,
  DefinitionBody,
  Fail,
  LogLevel,
  StateMachine,
  StateMachineType,
  Succeed,
  Timeout,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { MAX_WATCH_MINUTES } from '#shared/domain/watch.ts';
import { RETRIED_STEP_ERRORS } from './remediation-workflow.ts';
import { statesLogGroupName } from './vended-logs.ts';

/** Names of the watch workflow's states (the local runner and the infra tests use them). */
export const WATCH_STATES = {
  wait: 'WaitForData',
  check: 'Check',
  done: 'Done',
  ended: 'WatchEnded',
  rejected: 'CheckRejected',
  failed: 'CheckFailed',
} as const;

/** Properties of {@link WatchWorkflow}. */
export interface WatchWorkflowProps {
  /** The detector function: each check invokes it with the watch state (`{"watch": …, "done", "waitSeconds"}`). */
  readonly checkFunction: IFunction;
  /**
   * The state machine's name. Set it so the detector's environment and role can name the state machine by ARN
   * without referring to it (the state machine refers to the detector: a reference back would be a cycle).
   */
  readonly stateMachineName: string;
  /**
   * Retention of the workflow's execution log group.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * Removal policy of the execution log group.
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The watch workflow: a Step Functions Standard state machine that looks at one application again and again until a
 * watch (shared/domain/watch.ts) ends. WaitForData (`SecondsPath: $.waitSeconds`: until a new datapoint can first be
 * read, or a transition's limit has passed) → Check (the detector re-observes and re-evaluates; a finding goes the
 * normal way, incident and remediation workflow) → Done? → WaitForData … No Lambda sleeps: the Wait state does all the
 * waiting. The detector starts it with the watch's name as execution name, so one situation is watched once.
 * A check that keeps failing ends the execution (CheckFailed); the alarms and the sweep still look at the application.
 */
export class WatchWorkflow extends Construct {
  readonly stateMachine: StateMachine;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: WatchWorkflowProps) {
    super(scope, id);
    const S = WATCH_STATES;
    const wait = new Wait(this, S.wait, {
      comment: 'Until the next datapoint can first be read (minute boundary + metrics delay), or a limit has passed',
      time: WaitTime.secondsPath('$.waitSeconds'),
    });
    const check = new LambdaInvoke(this, S.check, {
      lambdaFunction: props.checkFunction,
      comment: 'The detector looks again: a finding is decided on; otherwise the watch goes on or ends',
      // The detector answers the watch's next state (watch, done, waitSeconds) beside its results.
      outputPath: '$.Payload',
      retryOnServiceExceptions: true,
      taskTimeout: Timeout.duration(Duration.seconds(60)),
    });
    check.addRetry({ errors: [...RETRIED_STEP_ERRORS], interval: Duration.seconds(5), maxAttempts: 3, backoffRate: 2 });
    const failed = new Fail(this, S.failed, {
      error: 'CHECK_FAILED',
      cause: 'A check of the watch failed after its retries; the alarms and the sweep still look at the application.',
    });
    check.addCatch(failed, { errors: ['States.ALL'], resultPath: '$.error' });
    const done = new Choice(this, S.done, { comment: 'The watch ended (quiet, stable, settled, found), or look again' })
      .when(
        Condition.stringEquals('$.status', 'REJECTED'),
        new Fail(this, S.rejected, {
          error: 'CHECK_REJECTED',
          cause: 'The detector rejected the watch state (see its log); nothing was called.',
        }),
      )
      .when(Condition.booleanEquals('$.done', true), new Succeed(this, S.ended))
      .otherwise(wait);
    wait.next(check);
    check.next(done);

    this.logGroup = new LogGroup(this, 'ExecutionLogs', {
      logGroupName: statesLogGroupName(this),
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      comment: 'Flink Watchdog watch: wait for new data → check (detector) → done, or wait again',
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(wait),
      timeout: Duration.minutes(MAX_WATCH_MINUTES + 30),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: false },
    });
    Validations.of(this.stateMachine.role).acknowledge(
      {
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(props.checkFunction.node.defaultChild as CfnElement)}.Arn>:*]`,
        reason:
          'Invoking versions and aliases of the one detector function (LambdaInvoke grants the function ARN and ARN:*).',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords, GetSampling*) and CloudWatch Logs delivery (logs:CreateLogDelivery and related) support no resource-level permissions.',
      },
    );
  }
}

/**
 * Watch executions that ended without the watch's verdict, per `period`: the sum of the state machine's
 * `ExecutionsFailed` (CheckFailed, CheckRejected, a runtime error), `ExecutionsTimedOut` (past the state machine's
 * timeout) and `ExecutionsAborted` (StopExecution), counts in namespace `AWS/States`, dimension `StateMachineArn`
 * (https://docs.aws.amazon.com/step-functions/latest/dg/procedure-cw-metrics.html, "Execution metrics"). A period in
 * which none of the three has a datapoint has no value (Step Functions publishes them only when an execution ends so);
 * FILL(…, 0) keeps one metric's datapoint from being dropped when the other two have none at that timestamp
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html, FILL).
 */
export function watchExecutionsEndedMetric(workflow: WatchWorkflow, period: Duration = Duration.minutes(5)): IMetric {
  const sm = workflow.stateMachine;
  return new MathExpression({
    expression: 'FILL(failed, 0) + FILL(timedOut, 0) + FILL(aborted, 0)',
    label: 'Watch executions FAILED, TIMED_OUT or ABORTED',
    usingMetrics: {
      failed: sm.metricFailed({ period, statistic: 'Sum' }),
      timedOut: sm.metricTimedOut({ period, statistic: 'Sum' }),
      aborted: sm.metricAborted({ period, statistic: 'Sum' }),
    },
    period,
  });
}

/** ARN of a state machine of the stack's account and region, by name (without referring to the resource). */
export function stateMachineArn(scope: Construct, name: string): string {
  const stack = Stack.of(scope);
  return `arn:${stack.partition}:states:${stack.region}:${stack.account}:stateMachine:${name}`;
}
