import { type CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { type IMetric, MathExpression, Metric } from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  DefinitionBody,
  DistributedMap,
  JsonPath,
  LogLevel,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
  Timeout,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { RETRIED_STEP_ERRORS } from './remediation-workflow.ts';
import { statesLogGroupName } from './vended-logs.ts';
import { stateMachineArn } from './watch-workflow.ts';

/** Names of the sweep workflow's states (the local runner and the infra tests use them). */
export const SWEEP_STATES = {
  plan: 'Plan',
  look: 'Look',
  lookBatch: 'LookBatch',
  done: 'SweepDone',
} as const;

/**
 * Label of the Look state's Map Runs. The child executions' CloudWatch metrics carry the state machine ARN
 * `…:stateMachine:<name>/<label>` ("Viewing a Distributed Map Run execution",
 * https://docs.aws.amazon.com/step-functions/latest/dg/concepts-examine-map-run.html), which the failure alarm reads.
 */
export const LOOK_MAP_RUN_LABEL = 'look';

/** The payload the Plan state sends the detector. */
export const SWEEP_PLAN_PAYLOAD = { sweep: { phase: 'plan' } } as const;

/** Properties of {@link SweepWorkflow}. */
export interface SweepWorkflowProps {
  /** The detector function: it plans the sweep and looks at each batch. */
  readonly detector: IFunction;
  /**
   * The state machine's name, so its ARN (and its Map Runs' metric dimension) can be named without referring to it.
   */
  readonly stateMachineName: string;
  /** Look batches (detector invocations) running at once, the Map's MaxConcurrency (`fleet.sweep.maxConcurrency`). */
  readonly maxConcurrency: number;
  /** Longest a sweep may run; keep it below the sweep interval so sweeps never overlap. */
  readonly timeout: Duration;
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
 * The sweep workflow: a Step Functions Standard state machine the sweep schedule starts.
 *
 * - `Plan` (Task, Lambda Invoke of the detector) sends `{"sweep":{"phase":"plan"}}`; `OutputPath: $.Payload` makes the
 *   detector's answer the state's output: `{"status":"OK","results":[],"sweep":{"batches":[{"applications":[KEY,…]}],
 *   "summary":{…}}}`. Retried on Lambda service errors and throttling.
 * - `Look` (Map, `ProcessorConfig` Mode DISTRIBUTED, ExecutionType EXPRESS, Label `look`) iterates `ItemsPath:
 *   $.sweep.batches`; each item (`{"applications":[KEY,…]}`) is one child execution, at most `MaxConcurrency` at once,
 *   `ToleratedFailurePercentage: 100` (a failed batch does not stop the others; the sweep-failed alarm counts it).
 *   `ResultPath: null`: the batches' results are dropped (the detector acts on them itself), the output stays the plan.
 * - `LookBatch` (the child's one Task, Lambda Invoke of the detector) sends
 *   `{"sweep":{"phase":"look","applications.$":"$.applications"}}` (the item's application keys) and answers
 *   `{"status":"OK","results":[…]}` (`OutputPath: $.Payload`).
 * - `SweepDone` (Succeed).
 * Timeout below the sweep interval; execution logs (level ALL, without execution data); X-Ray tracing.
 */
export class SweepWorkflow extends Construct {
  readonly stateMachine: StateMachine;
  readonly logGroup: LogGroup;
  private readonly stateMachineName: string;

  constructor(scope: Construct, id: string, props: SweepWorkflowProps) {
    super(scope, id);
    const S = SWEEP_STATES;
    this.stateMachineName = props.stateMachineName;
    const plan = new LambdaInvoke(this, S.plan, {
      lambdaFunction: props.detector,
      comment: 'The detector lists the watched set per account and Region and flags what needs a closer look',
      payload: TaskInput.fromObject(SWEEP_PLAN_PAYLOAD),
      outputPath: '$.Payload',
      retryOnServiceExceptions: true,
      // Past the detector's own 2-minute timeout, so the Lambda's timeout is what ends a slow invocation.
      taskTimeout: Timeout.duration(Duration.seconds(150)),
    });
    plan.addRetry({ errors: [...RETRIED_STEP_ERRORS], interval: Duration.seconds(5), maxAttempts: 3, backoffRate: 2 });
    const lookBatch = new LambdaInvoke(this, S.lookBatch, {
      lambdaFunction: props.detector,
      comment: "The detector reads the batch's metrics with one GetMetricData and runs detection per application",
      payload: TaskInput.fromObject({ sweep: { phase: 'look', applications: JsonPath.listAt('$.applications') } }),
      outputPath: '$.Payload',
      retryOnServiceExceptions: true,
      // Past the detector's own 2-minute timeout, so the Lambda's timeout is what ends a slow invocation.
      taskTimeout: Timeout.duration(Duration.seconds(150)),
    });
    lookBatch.addRetry({
      errors: [...RETRIED_STEP_ERRORS],
      interval: Duration.seconds(5),
      maxAttempts: 3,
      backoffRate: 2,
    });
    const look = new DistributedMap(this, S.look, {
      comment: 'One child execution per batch of applications flagged by the plan',
      itemsPath: '$.sweep.batches',
      maxConcurrency: props.maxConcurrency,
      mapExecutionType: StateMachineType.EXPRESS,
      toleratedFailurePercentage: 100,
      label: LOOK_MAP_RUN_LABEL,
      resultPath: JsonPath.DISCARD,
    });
    look.itemProcessor(lookBatch);
    plan.next(look).next(new Succeed(this, S.done));

    this.logGroup = new LogGroup(this, 'ExecutionLogs', {
      logGroupName: statesLogGroupName(this),
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      comment: 'Flink Watchdog sweep: plan (detector) → look at each flagged batch (Distributed Map, detector)',
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(plan),
      timeout: props.timeout,
      tracingEnabled: true,
      // ALL without execution data: every state transition, no payloads (application keys stay out of the logs).
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: false },
    });
    const stack = Stack.of(this);
    Validations.of(this.stateMachine.role).acknowledge(
      {
        id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(props.detector.node.defaultChild as CfnElement)}.Arn>:*]`,
        reason:
          'Invoking versions and aliases of the one detector function (LambdaInvoke grants the function ARN and ARN:*).',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords, GetSampling*) and CloudWatch Logs delivery (logs:CreateLogDelivery and related) support no resource-level permissions.',
      },
    );
    // The Distributed Map's own policy (DistributedMapPolicy): it starts, describes and stops the child executions of
    // this state machine's Map Runs.
    const self = stack.getLogicalId(this.stateMachine.node.defaultChild as CfnElement);
    const execution = `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${self}"}]}]}`;
    Validations.of(this.stateMachine).acknowledge(
      {
        id: `AwsSolutions-IAM5[Resource::${execution}:*]`,
        reason: "The Distributed Map describes and stops the executions of this state machine's own Map Runs.",
      },
      {
        id: `AwsSolutions-IAM5[Resource::${execution}/${LOOK_MAP_RUN_LABEL}:*]`,
        reason: "The Distributed Map manages the child executions of this state machine's own Look Map Runs.",
      },
    );
  }

  /**
   * Sweeps and look batches that ended without their result, per `period`: `ExecutionsFailed`, `ExecutionsTimedOut`
   * and `ExecutionsAborted` (counts, namespace `AWS/States`, dimension `StateMachineArn`,
   * https://docs.aws.amazon.com/step-functions/latest/dg/procedure-cw-metrics.html) of the sweep state machine and of
   * its Look Map Runs' child executions, whose metrics carry `<state machine ARN>/<Map Run label>`
   * (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-examine-map-run.html). FILL(…, 0) keeps one
   * metric's datapoint when another has none at that timestamp.
   */
  metricRunsEnded(period: Duration = Duration.minutes(5)): IMetric {
    const parent = stateMachineArn(this, this.stateMachineName);
    const children = `${parent}/${LOOK_MAP_RUN_LABEL}`;
    const metric = (metricName: string, arn: string): Metric =>
      new Metric({
        namespace: 'AWS/States',
        metricName,
        dimensionsMap: { StateMachineArn: arn },
        statistic: 'Sum',
        period,
      });
    const names = ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted'];
    const usingMetrics: Record<string, IMetric> = {};
    for (const [i, name] of names.entries()) {
      usingMetrics[`sweep${i}`] = metric(name, parent);
      usingMetrics[`batch${i}`] = metric(name, children);
    }
    return new MathExpression({
      expression: Object.keys(usingMetrics)
        .map((id) => `FILL(${id}, 0)`)
        .join(' + '),
      label: 'Sweeps and look batches FAILED, TIMED_OUT or ABORTED',
      usingMetrics,
      period,
    });
  }
}
