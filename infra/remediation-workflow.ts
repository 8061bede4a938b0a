import { type CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  Choice,
  Condition,
  DefinitionBody,
  Fail,
  IntegrationPattern,
  JsonPath,
  LogLevel,
  Pass,
  Result,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
  type TaskStateBase,
  Timeout,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { RemediationPhase } from '#shared/domain/remediation.ts';
import { statesLogGroupName } from './vended-logs.ts';

/**
 * Names of the workflow's states. The local runner (sandbox/workflow.ts) binds the Task states to the remediation
 * handler by these names, and the infra tests assert on them.
 */
export const WORKFLOW_STATES = {
  route: 'Route',
  wait: 'WaitBeforeNextStep',
  dispatch: 'NextStep',
  stepFailed: 'StepFailed',
  outcome: 'Outcome',
  recovered: 'Recovered',
  duplicate: 'Duplicate',
  escalated: 'Escalated',
  invalidOutcome: 'InvalidOutcome',
  escalationFailed: 'EscalationFailed',
  lockNotReleased: 'LockNotReleased',
  closeFailed: 'CloseFailed',
  invalidPhase: 'InvalidPhase',
  /** approve mode: the AwaitApproval wait timed out (States.Timeout): the answer becomes `{ decision: "TIMEOUT" }`. */
  approvalTimedOut: 'ApprovalTimedOut',
  /** approve mode: an answer (or the timeout) arrived: phase APPROVAL_ANSWERED. */
  approvalReceived: 'ApprovalReceived',
  /**
   * approve mode, before AwaitApproval: copies `$.approvalTimeoutSeconds` to `$.Payload.approvalTimeoutSeconds`, so
   * AwaitApproval's TimeoutSecondsPath resolves whether Step Functions reads it from the state input or from the
   * input after Parameters (`{FunctionName, Payload}`); see {@link APPROVAL_TIMEOUT_PATH}.
   */
  approvalTimeout: 'ApprovalTimeout',
} as const;

/**
 * AwaitApproval's `TimeoutSecondsPath`. The Step Functions guide says the path is read "from the state input"
 * (https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html) without saying whether before or after
 * `Parameters`; aws-local-stepfunctions reads it after. The path resolves to the same value under both readings: the
 * ApprovalTimeout Pass state puts it in the state input at `$.Payload.approvalTimeoutSeconds`, and the Lambda payload
 * (the input after Parameters is `{FunctionName, Payload}`) carries it at the same path.
 */
export const APPROVAL_TIMEOUT_PATH = '$.Payload.approvalTimeoutSeconds';

/**
 * The Task state that runs each phase of the remediation step machine (shared/domain/remediation.ts). APPROVAL's
 * (AwaitApproval) is a `lambda:invoke.waitForTaskToken` Task: it invokes the step function with `{ state, taskToken }`
 * and waits for the answer (SendTaskSuccess) or its timeout.
 */
export const PHASE_TASKS: Readonly<Record<Exclude<RemediationPhase, 'DONE'>, string>> = {
  APPROVAL: 'AwaitApproval',
  APPROVAL_ANSWERED: 'ApprovalAnswered',
  LOCK: 'Lock',
  ACT: 'Act',
  AWAIT: 'PollStatus',
  VERIFY: 'VerifyHealthy',
  REDECIDE: 'Redecide',
  ESCALATE: 'Escalate',
  RELEASE: 'ReleaseLock',
  NOTIFY: 'Notify',
};

/**
 * Errors retried by every Task state besides the Lambda service errors `LambdaInvoke` retries by default
 * (Lambda.ServiceException, Lambda.AWSLambdaException, Lambda.SdkClientException,
 * Lambda.ClientExecutionTimeoutException): DynamoDB throttling and faults raised by the ledger
 * (DynamoDB API error names). A retried step is safe: every step re-reads the ledger, and every mutating call
 * follows a fresh DescribeApplication that escalates if the application is no longer as decided. MSF throttling,
 * ResourceInUseException and ConcurrentModificationException are retried inside the step machine, which records
 * each retry in the incident's timeline.
 */
export const RETRIED_STEP_ERRORS = [
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'Lambda.TooManyRequestsException',
] as const;

/** Properties of {@link RemediationWorkflow}. */
export interface RemediationWorkflowProps {
  /** The function that runs one remediation step (functions/remediation/handler.ts). */
  readonly stepFunction: IFunction;
  /**
   * Longest a remediation may run before Step Functions stops it (the application's lock expires on its own after
   * `LOCK_TTL_MS`).
   * @default Duration.hours(12)
   */
  readonly timeout?: Duration;
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
 * The remediation workflow: a Step Functions Standard state machine that drives the remediation step machine of
 * shared/domain/remediation.ts. Each Task state invokes the step function with the state JSON and gets the next state
 * back; a Choice routes on `phase`, and a Wait state (`SecondsPath: $.waitSeconds`) does all the waiting, so no Lambda
 * ever sleeps. Lock → Act → PollStatus (Wait/poll) → VerifyHealthy (→ Redecide → Act …) → ReleaseLock → Notify →
 * Recovered | Duplicate | Escalated, all three SUCCEEDED executions. In approve mode the run starts at AwaitApproval
 * (a `.waitForTaskToken` Task timing out after `$.approvalTimeoutSeconds`) → ApprovalAnswered → Lock … (the output's `outcome` tells them apart). Any step failing after its retries is caught into `$.error` and escalated
 * (StepFailed → Escalate), which records why, releases the lock and notifies. A failed release still notifies
 * (ReleaseLock → LockNotReleased → Notify), saying that the lock is still held and how to release it by hand. Started by the detector with the
 * incident id as execution name, so a duplicate event cannot start a second run.
 */
export class RemediationWorkflow extends Construct {
  readonly stateMachine: StateMachine;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: RemediationWorkflowProps) {
    super(scope, id);
    const S = WORKFLOW_STATES;
    const step = (phase: Exclude<RemediationPhase, 'DONE'>, comment: string): LambdaInvoke => {
      const task = new LambdaInvoke(this, PHASE_TASKS[phase], {
        lambdaFunction: props.stepFunction,
        comment,
        // The function returns the next state; the invocation metadata is dropped.
        outputPath: '$.Payload',
        retryOnServiceExceptions: true,
        taskTimeout: Timeout.duration(Duration.seconds(90)),
      });
      task.addRetry({
        errors: [...RETRIED_STEP_ERRORS],
        interval: Duration.seconds(5),
        maxAttempts: 3,
        backoffRate: 2,
      });
      return task;
    };

    const route = new Choice(this, S.route, { comment: 'Finished, or wait before the next step' });
    const dispatch = new Choice(this, S.dispatch, { comment: 'The Task state of the phase' });
    const wait = new Wait(this, S.wait, {
      comment: 'Waits as long as the last step asked: polling interval, verify window, retry backoff',
      time: WaitTime.secondsPath('$.waitSeconds'),
    });

    // An escalation is an expected outcome, recorded and told (Notify ran): the execution SUCCEEDS with the state,
    // `outcome: "ESCALATED"`, as its output. Ending it FAILED would count every escalation in the state machine's
    // ExecutionsFailed metric, beside the real failures (EscalationFailed, CloseFailed, InvalidPhase, InvalidOutcome,
    // a timeout), which still end FAILED and still reach the detector through the workflow-ended rule.
    const escalated = new Succeed(this, S.escalated, {
      comment:
        'Automation stopped and a human is needed; the incident in the ledger says why and what to run next (output: outcome ESCALATED).',
    });
    const outcome = new Choice(this, S.outcome, { comment: 'The recorded outcome ends the execution' })
      .when(Condition.stringEquals('$.outcome', 'RECOVERED'), new Succeed(this, S.recovered))
      .when(
        Condition.stringEquals('$.outcome', 'DUPLICATE'),
        new Succeed(this, S.duplicate, { comment: 'Another incident holds the lock: nothing was done' }),
      )
      .when(Condition.stringEquals('$.outcome', 'ESCALATED'), escalated)
      .otherwise(
        new Fail(this, S.invalidOutcome, {
          error: 'INVALID_OUTCOME',
          cause: 'The run finished without a known outcome: a bug. The detector escalates the incident if still open.',
        }),
      );

    const markFailed = new Pass(this, S.stepFailed, {
      comment: 'A step failed after its retries: escalate, keeping the error in $.error',
      result: Result.fromString('ESCALATE'),
      resultPath: '$.phase',
    });
    const catchInto = (task: LambdaInvoke): TaskStateBase =>
      task.addCatch(markFailed, { errors: ['States.ALL'], resultPath: '$.error' });

    const lock = catchInto(step('LOCK', "Takes the application's lock (a held lock ends the run as Duplicate)"));
    const act = catchInto(
      step('ACT', 'Fresh DescribeApplication, guards, records the action, then makes the one MSF call'),
    );
    const poll = catchInto(step('AWAIT', 'Polls the application status and the operation until the target status'));
    const verify = catchInto(step('VERIFY', 'Checks the application stayed RUNNING with no restart for the window'));
    const redecide = catchInto(step('REDECIDE', 'Decides again: another attempt, or escalate'));
    const escalate = step('ESCALATE', 'Records the failed step as the reason to escalate').addCatch(
      new Fail(this, S.escalationFailed, {
        error: 'ESCALATION_FAILED',
        cause: 'A step failed and recording the escalation failed too; the lock expires on its own.',
      }),
      { errors: ['States.ALL'], resultPath: '$.error' },
    );
    const closeFailed = new Fail(this, S.closeFailed, {
      error: 'CLOSE_FAILED',
      cause: 'The outcome is recorded but notifying failed; the incident in the ledger holds the outcome.',
    });
    const notify = step('NOTIFY', 'Tells people the outcome: RESOLVED or ESCALATED with next steps').addCatch(
      closeFailed,
      { errors: ['States.ALL'], resultPath: '$.error' },
    );
    // Releasing retries inside the step; should the step itself fail, people are still told the outcome, and Notify,
    // finding the lock still held, says so with the command to release it by hand.
    const lockNotReleased = new Pass(this, S.lockNotReleased, {
      comment: 'Releasing the lock failed: tell the outcome anyway, keeping the error in $.error',
      result: Result.fromString('NOTIFY'),
      resultPath: '$.phase',
    });
    const release = step('RELEASE', "Releases the application's lock (idempotent, retried with backoff)").addCatch(
      lockNotReleased,
      { errors: ['States.ALL'], resultPath: '$.error' },
    );
    lockNotReleased.next(notify);

    // approve mode. AwaitApproval invokes the step function with the state and the task token (it records the request
    // and tells people, then returns: its return value is ignored) and waits, no Lambda running, until someone answers
    // (SendTaskSuccess, the answer landing in $.approvalAnswer) or `$.approvalTimeoutSeconds` pass (States.Timeout →
    // ApprovalTimedOut). Either way ApprovalAnswered decides: rejected or timed out → ESCALATED; approved → every guard
    // again on a fresh DescribeApplication, then Lock → Act, or ESCALATED as stale. Any other failure → StepFailed.
    // https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-wait-token
    const awaitApproval = new LambdaInvoke(this, PHASE_TASKS.APPROVAL, {
      lambdaFunction: props.stepFunction,
      comment: 'Records the approval request with its task token, tells people, and waits for their answer',
      integrationPattern: IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: TaskInput.fromObject({
        state: JsonPath.entirePayload,
        taskToken: JsonPath.taskToken,
        approvalTimeoutSeconds: JsonPath.numberAt('$.approvalTimeoutSeconds'),
      }),
      resultPath: '$.approvalAnswer',
      retryOnServiceExceptions: true,
      taskTimeout: Timeout.at(APPROVAL_TIMEOUT_PATH),
    });
    // The handler's state schema drops the extra `Payload` key; each later step's output replaces the state.
    const approvalTimeout = new Pass(this, S.approvalTimeout, {
      comment: 'Puts approvalTimeoutSeconds where AwaitApproval TimeoutSecondsPath finds it under either reading',
      parameters: { approvalTimeoutSeconds: JsonPath.numberAt('$.approvalTimeoutSeconds') },
      resultPath: '$.Payload',
    });
    approvalTimeout.next(awaitApproval);
    awaitApproval.addRetry({
      errors: [...RETRIED_STEP_ERRORS],
      interval: Duration.seconds(5),
      maxAttempts: 3,
      backoffRate: 2,
    });
    const approvalReceived = new Pass(this, S.approvalReceived, {
      comment: 'An answer or the timeout arrived: decide on it',
      result: Result.fromString('APPROVAL_ANSWERED'),
      resultPath: '$.phase',
    });
    const approvalTimedOut = new Pass(this, S.approvalTimedOut, {
      comment: 'No answer within approvalTimeoutMinutes: onApprovalTimeout applies',
      result: Result.fromObject({ decision: 'TIMEOUT' }),
      resultPath: '$.approvalAnswer',
    });
    awaitApproval.addCatch(approvalTimedOut, { errors: ['States.Timeout'], resultPath: '$.approvalAnswer' });
    catchInto(awaitApproval);
    awaitApproval.next(approvalReceived);
    approvalTimedOut.next(approvalReceived);
    approvalReceived.next(route);
    const approvalAnswered = catchInto(
      step(
        'APPROVAL_ANSWERED',
        'Rejected or timed out: escalate; approved: every guard again on fresh state, then Lock',
      ),
    );

    for (const task of [approvalAnswered, lock, act, poll, verify, redecide, escalate, release, notify])
      task.next(route);
    markFailed.next(escalate);
    wait.next(dispatch);
    route
      .when(Condition.stringEquals('$.phase', 'DONE'), outcome)
      .when(Condition.numberGreaterThan('$.waitSeconds', 0), wait)
      .otherwise(dispatch);
    const tasks: Record<Exclude<RemediationPhase, 'DONE'>, TaskStateBase> = {
      APPROVAL: awaitApproval,
      APPROVAL_ANSWERED: approvalAnswered,
      LOCK: lock,
      ACT: act,
      AWAIT: poll,
      VERIFY: verify,
      REDECIDE: redecide,
      ESCALATE: escalate,
      RELEASE: release,
      NOTIFY: notify,
    };
    for (const [phase, task] of Object.entries(tasks))
      dispatch.when(Condition.stringEquals('$.phase', phase), task === awaitApproval ? approvalTimeout : task);
    dispatch.otherwise(
      new Fail(this, S.invalidPhase, { error: 'INVALID_PHASE', cause: 'The state has no known phase: a bug.' }),
    );

    this.logGroup = new LogGroup(this, 'ExecutionLogs', {
      logGroupName: statesLogGroupName(this),
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      comment: 'Flink Watchdog remediation: lock → act → wait/poll → verify → release → notify',
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(route),
      timeout: props.timeout ?? Duration.hours(12),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: false },
    });
    Validations.of(this.stateMachine.role).acknowledge(
      {
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(props.stepFunction.node.defaultChild as CfnElement)}.Arn>:*]`,
        reason:
          'Invoking versions and aliases of the one remediation step function (LambdaInvoke grants the function ARN and ARN:*).',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords, GetSampling*) and CloudWatch Logs delivery (logs:CreateLogDelivery and related) support no resource-level permissions.',
      },
    );
  }
}
