import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '#shared/config/schema.ts';
import { PHASE_TASKS, RETRIED_STEP_ERRORS, WORKFLOW_STATES } from '../../infra/remediation-workflow.ts';
import { WatchdogStack } from '../../infra/watchdog-stack.ts';

const CONFIG = parseConfig({
  schemaVersion: 1,
  applications: [{ name: 'orders-enrichment', policy: { mode: 'remediate' } }],
});

/** Lambda service errors every Task state retries (what `LambdaInvoke` adds with `retryOnServiceExceptions`). */
const LAMBDA_SERVICE_ERRORS = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException'];

/** The Task states that escalate when they fail (their Catch goes to StepFailed). */
const ESCALATING_TASKS = [
  PHASE_TASKS.APPROVAL_ANSWERED,
  PHASE_TASKS.LOCK,
  PHASE_TASKS.ACT,
  PHASE_TASKS.AWAIT,
  PHASE_TASKS.VERIFY,
  PHASE_TASKS.REDECIDE,
];

/** The subset of Amazon States Language these tests read. */
interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
}

interface Catcher {
  ErrorEquals: string[];
  ResultPath?: string;
  Next: string;
}

interface ChoiceRule {
  Variable: string;
  Next: string;
  StringEquals?: string;
  NumericGreaterThan?: number;
}

interface State {
  Type: 'Task' | 'Choice' | 'Wait' | 'Pass' | 'Succeed' | 'Fail';
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: ChoiceRule[];
  Catch?: Catcher[];
  Retry?: Retrier[];
  Resource?: string;
  Parameters?: Record<string, unknown>;
  OutputPath?: string;
  ResultPath?: string;
  Result?: unknown;
  SecondsPath?: string;
  TimeoutSecondsPath?: string;
  Error?: string;
  Cause?: string;
}

interface Definition {
  StartAt: string;
  States: Record<string, State>;
  TimeoutSeconds?: number;
}

/**
 * A placeholder for an intrinsic in the definition's `Fn::Join` that still tells which resource it names (cdk-nag's
 * notation): `{ Ref: X }` → `<X>`, `{ 'Fn::GetAtt': [X, Y] }` → `<X.Y>`, anything else → `<?>`.
 */
function placeholder(part: unknown): string {
  const p = part as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  if (typeof p.Ref === 'string') return `<${p.Ref}>`;
  if (Array.isArray(p['Fn::GetAtt'])) return `<${p['Fn::GetAtt'].join('.')}>`;
  return '<?>';
}

/** The state machine's definition: its `DefinitionString` (an `Fn::Join`) joined with placeholders, then parsed. */
/** The definition of the remediation state machine: the one state machine of the template with a Lock Task state. */
function definitionOf(template: Template): Definition {
  const definitions = Object.values(template.findResources('AWS::StepFunctions::StateMachine')).map((machine) => {
    const join = machine.Properties.DefinitionString['Fn::Join'] as [string, unknown[]];
    expect(join[0]).toBe('');
    return JSON.parse(
      join[1].map((part) => (typeof part === 'string' ? part : placeholder(part))).join(''),
    ) as Definition;
  });
  const remediation = definitions.filter((d) => d.States[PHASE_TASKS.LOCK]?.Type === 'Task');
  expect(remediation).toHaveLength(1);
  return remediation[0] as Definition;
}

/** Every state a state can go to next: Next, Default, the Choices' Next and the Catchers' Next. */
function successorsOf(state: State): string[] {
  return [
    ...(state.Next !== undefined ? [state.Next] : []),
    ...(state.Default !== undefined ? [state.Default] : []),
    ...(state.Choices ?? []).map((c) => c.Next),
    ...(state.Catch ?? []).map((c) => c.Next),
  ];
}

/** The names of the states reachable from `start` (included). */
function reachableFrom(definition: Definition, start: string): Set<string> {
  const seen = new Set<string>();
  const queue = [start];
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    if (seen.has(name)) continue;
    seen.add(name);
    const state = definition.States[name];
    if (state !== undefined) queue.push(...successorsOf(state));
  }
  return seen;
}

function logicalIdOf(construct: IConstruct): string {
  const element = (construct.node.defaultChild ?? construct) as CfnElement;
  return Stack.of(element).getLogicalId(element);
}

function stateOf(definition: Definition, name: string): State {
  const state = definition.States[name];
  expect(state, `state ${name}`).toBeDefined();
  return state as State;
}

describe('Construct: RemediationWorkflow', () => {
  let stack: WatchdogStack;
  let template: Template;
  let definition: Definition;
  beforeAll(() => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
    stack = new WatchdogStack(app, 'Test', { config: CONFIG });
    template = Template.fromStack(stack);
    definition = definitionOf(template);
  });

  describe('state machine', () => {
    it('is a Standard state machine with execution logging and X-Ray tracing', () => {
      // Assess
      template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
        StateMachineType: 'STANDARD',
        TracingConfiguration: { Enabled: true },
        LoggingConfiguration: {
          Level: 'ALL',
          IncludeExecutionData: false,
          Destinations: [
            {
              CloudWatchLogsLogGroup: {
                LogGroupArn: { 'Fn::GetAtt': [logicalIdOf(stack.watchdog.workflow.logGroup), 'Arn'] },
              },
            },
          ],
        },
      });
      expect(definition.TimeoutSeconds).toBe(12 * 3600);
    });

    it('names every state machine log group under /aws/vendedlogs/states/, one per state machine, stack name first', () => {
      // Act
      const logGroups = [stack.watchdog.workflow, stack.watchdog.watchWorkflow, stack.watchdog.sweepWorkflow].map(
        (w) => template.toJSON().Resources[logicalIdOf(w.logGroup)]?.Properties?.LogGroupName as string,
      );

      // Assess
      for (const name of logGroups) {
        expect(name).toMatch(new RegExp(`^/aws/vendedlogs/states/${stack.stackName}/[A-Za-z0-9_\\-/.#]+$`));
        expect(name.length).toBeLessThanOrEqual(512);
      }
      expect(new Set(logGroups).size).toBe(3);
    });

    it('starts at Route and holds exactly the named states', () => {
      // Assess
      expect(definition.StartAt).toBe(WORKFLOW_STATES.route);
      expect(Object.keys(definition.States).sort()).toEqual(
        [...Object.values(WORKFLOW_STATES), ...Object.values(PHASE_TASKS)].sort(),
      );
    });

    it('reaches every state from StartAt, every transition names an existing state', () => {
      // Act
      const reachable = reachableFrom(definition, definition.StartAt);
      const targets = Object.values(definition.States).flatMap(successorsOf);

      // Assess
      expect([...reachable].sort()).toEqual(Object.keys(definition.States).sort());
      for (const target of targets) expect(Object.keys(definition.States)).toContain(target);
    });

    it('can end from every state: only Succeed and Fail states are terminal', () => {
      // Assess
      for (const [name, state] of Object.entries(definition.States)) {
        const terminal = state.Type === 'Succeed' || state.Type === 'Fail';
        expect(successorsOf(state).length === 0, name).toBe(terminal);
        expect(state.End, name).toBeUndefined();
        const ends = [...reachableFrom(definition, name)].filter((n) => {
          const type = definition.States[n]?.Type;
          return type === 'Succeed' || type === 'Fail';
        });
        expect(ends.length, `${name} reaches a terminal state`).toBeGreaterThan(0);
      }
    });
  });

  describe('Task states', () => {
    const STEP_TASKS = Object.entries(PHASE_TASKS).filter(([phase]) => phase !== 'APPROVAL');
    it.each(STEP_TASKS)('%s: %s invokes the remediation function and returns to Route', (_, name) => {
      // Prepare
      const fn = logicalIdOf(stack.watchdog.remediation);

      // Act
      const task = stateOf(definition, name);

      // Assess
      expect(task.Type).toBe('Task');
      expect(task.Resource).toBe('arn:<AWS::Partition>:states:::lambda:invoke');
      expect(task.Parameters).toEqual({ FunctionName: `<${fn}.Arn>`, 'Payload.$': '$' });
      expect(task.OutputPath).toBe('$.Payload');
      expect(task.Next).toBe(WORKFLOW_STATES.route);
    });

    it.each(Object.values(PHASE_TASKS))('%s retries the Lambda service errors and RETRIED_STEP_ERRORS', (name) => {
      // Act
      const retry = stateOf(definition, name).Retry ?? [];

      // Assess
      expect(retry).toHaveLength(2);
      expect(retry[0]?.ErrorEquals).toEqual(expect.arrayContaining(LAMBDA_SERVICE_ERRORS));
      expect(retry[1]).toEqual({
        ErrorEquals: [...RETRIED_STEP_ERRORS],
        IntervalSeconds: 5,
        MaxAttempts: 3,
        BackoffRate: 2,
      });
      const retried = retry.flatMap((r) => r.ErrorEquals);
      // A blanket retry would repeat a failed mutating call; failures must go to the Catch path instead.
      expect(retried).not.toContain('States.ALL');
      expect(retried).not.toContain('States.TaskFailed');
    });
  });

  describe('Catch paths', () => {
    it.each(ESCALATING_TASKS)('%s catches States.ALL into $.error and StepFailed', (name) => {
      // Assess
      expect(stateOf(definition, name).Catch).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: WORKFLOW_STATES.stepFailed },
      ]);
    });

    it('StepFailed sets the phase to ESCALATE, keeping the error, and goes to Escalate', () => {
      // Assess
      expect(stateOf(definition, WORKFLOW_STATES.stepFailed)).toMatchObject({
        Type: 'Pass',
        Result: 'ESCALATE',
        ResultPath: '$.phase',
        Next: PHASE_TASKS.ESCALATE,
      });
    });

    it('Escalate catches into EscalationFailed, a Fail state', () => {
      // Assess
      expect(stateOf(definition, PHASE_TASKS.ESCALATE).Catch).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: WORKFLOW_STATES.escalationFailed },
      ]);
      expect(stateOf(definition, WORKFLOW_STATES.escalationFailed)).toMatchObject({
        Type: 'Fail',
        Error: 'ESCALATION_FAILED',
      });
    });

    it('Notify catches into CloseFailed, a Fail state', () => {
      // Assess
      expect(stateOf(definition, PHASE_TASKS.NOTIFY).Catch).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: WORKFLOW_STATES.closeFailed },
      ]);
      expect(stateOf(definition, WORKFLOW_STATES.closeFailed)).toMatchObject({ Type: 'Fail', Error: 'CLOSE_FAILED' });
    });

    it('ReleaseLock catches into LockNotReleased, which still goes on to Notify: the outcome is always told', () => {
      // Assess
      expect(stateOf(definition, PHASE_TASKS.RELEASE).Catch).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: WORKFLOW_STATES.lockNotReleased },
      ]);
      expect(stateOf(definition, WORKFLOW_STATES.lockNotReleased)).toMatchObject({
        Type: 'Pass',
        Result: 'NOTIFY',
        ResultPath: '$.phase',
        Next: PHASE_TASKS.NOTIFY,
      });
    });

    it('has every Task state catch every error (AwaitApproval first catches its timeout)', () => {
      // Assess
      for (const [name, state] of Object.entries(definition.States).filter(([, s]) => s.Type === 'Task')) {
        expect(
          state.Catch?.map((c) => c.ErrorEquals),
          name,
        ).toEqual(name === PHASE_TASKS.APPROVAL ? [['States.Timeout'], ['States.ALL']] : [['States.ALL']]);
      }
    });
  });

  describe('approve mode: AwaitApproval', () => {
    it('invokes the remediation function with the state and the task token, and waits for the token (no Lambda waiting)', () => {
      // Prepare
      const fn = logicalIdOf(stack.watchdog.remediation);

      // Act
      const task = stateOf(definition, PHASE_TASKS.APPROVAL);

      // Assess
      expect(task.Type).toBe('Task');
      expect(task.Resource).toBe('arn:<AWS::Partition>:states:::lambda:invoke.waitForTaskToken');
      expect(task.Parameters).toEqual({
        FunctionName: `<${fn}.Arn>`,
        Payload: {
          'state.$': '$',
          'taskToken.$': '$$.Task.Token',
          'approvalTimeoutSeconds.$': '$.approvalTimeoutSeconds',
        },
      });
      expect(task.ResultPath).toBe('$.approvalAnswer');
      expect(task.OutputPath).toBeUndefined();
    });

    it('times out after $.approvalTimeoutSeconds into ApprovalTimedOut, which marks the answer TIMEOUT', () => {
      // Act
      const task = stateOf(definition, PHASE_TASKS.APPROVAL);
      const timedOut = stateOf(definition, WORKFLOW_STATES.approvalTimedOut);

      // Assess
      // Resolves under both readings of TimeoutSecondsPath: the state input (ApprovalTimeout puts it there) and the
      // input after Parameters ({FunctionName, Payload}).
      expect(task.TimeoutSecondsPath).toBe('$.Payload.approvalTimeoutSeconds');
      expect(stateOf(definition, WORKFLOW_STATES.approvalTimeout)).toMatchObject({
        Type: 'Pass',
        Parameters: { 'approvalTimeoutSeconds.$': '$.approvalTimeoutSeconds' },
        ResultPath: '$.Payload',
        Next: PHASE_TASKS.APPROVAL,
      });
      expect(task.Catch?.[0]).toEqual({
        ErrorEquals: ['States.Timeout'],
        ResultPath: '$.approvalAnswer',
        Next: WORKFLOW_STATES.approvalTimedOut,
      });
      expect(task.Catch?.[1]).toEqual({
        ErrorEquals: ['States.ALL'],
        ResultPath: '$.error',
        Next: WORKFLOW_STATES.stepFailed,
      });
      expect(timedOut).toMatchObject({
        Type: 'Pass',
        Result: { decision: 'TIMEOUT' },
        ResultPath: '$.approvalAnswer',
        Next: WORKFLOW_STATES.approvalReceived,
      });
    });

    it('sends an answer and a timeout alike to ApprovalAnswered through Route', () => {
      // Act
      const task = stateOf(definition, PHASE_TASKS.APPROVAL);
      const received = stateOf(definition, WORKFLOW_STATES.approvalReceived);

      // Assess
      expect(task.Next).toBe(WORKFLOW_STATES.approvalReceived);
      expect(received).toMatchObject({
        Type: 'Pass',
        Result: 'APPROVAL_ANSWERED',
        ResultPath: '$.phase',
        Next: WORKFLOW_STATES.route,
      });
    });
  });

  describe('routing', () => {
    it('Route sends DONE to Outcome, a positive waitSeconds to the Wait state, anything else to NextStep', () => {
      // Assess
      expect(stateOf(definition, WORKFLOW_STATES.route)).toMatchObject({
        Type: 'Choice',
        Choices: [
          { Variable: '$.phase', StringEquals: 'DONE', Next: WORKFLOW_STATES.outcome },
          { Variable: '$.waitSeconds', NumericGreaterThan: 0, Next: WORKFLOW_STATES.wait },
        ],
        Default: WORKFLOW_STATES.dispatch,
      });
    });

    it('the Wait state waits $.waitSeconds, then goes to NextStep', () => {
      // Assess
      expect(stateOf(definition, WORKFLOW_STATES.wait)).toMatchObject({
        Type: 'Wait',
        SecondsPath: '$.waitSeconds',
        Next: WORKFLOW_STATES.dispatch,
      });
    });

    it('NextStep sends each phase to its Task state (APPROVAL through ApprovalTimeout), an unknown phase to InvalidPhase', () => {
      // Act
      const dispatch = stateOf(definition, WORKFLOW_STATES.dispatch);

      // Assess
      expect(dispatch.Type).toBe('Choice');
      expect(dispatch.Choices).toEqual(
        Object.entries(PHASE_TASKS).map(([phase, task]) => ({
          Variable: '$.phase',
          StringEquals: phase,
          Next: phase === 'APPROVAL' ? WORKFLOW_STATES.approvalTimeout : task,
        })),
      );
      expect(dispatch.Default).toBe(WORKFLOW_STATES.invalidPhase);
      expect(stateOf(definition, WORKFLOW_STATES.invalidPhase)).toMatchObject({ Type: 'Fail', Error: 'INVALID_PHASE' });
    });

    it('Outcome succeeds on RECOVERED, DUPLICATE and ESCALATED (an escalation is an expected end), and fails otherwise', () => {
      // Assess
      expect(stateOf(definition, WORKFLOW_STATES.outcome)).toMatchObject({
        Type: 'Choice',
        Choices: [
          { Variable: '$.outcome', StringEquals: 'RECOVERED', Next: WORKFLOW_STATES.recovered },
          { Variable: '$.outcome', StringEquals: 'DUPLICATE', Next: WORKFLOW_STATES.duplicate },
          { Variable: '$.outcome', StringEquals: 'ESCALATED', Next: WORKFLOW_STATES.escalated },
        ],
        Default: WORKFLOW_STATES.invalidOutcome,
      });
      expect(stateOf(definition, WORKFLOW_STATES.recovered).Type).toBe('Succeed');
      expect(stateOf(definition, WORKFLOW_STATES.duplicate).Type).toBe('Succeed');
      // A Succeed state passes its input on: the execution's output is the state, `outcome: "ESCALATED"` in it.
      expect(stateOf(definition, WORKFLOW_STATES.escalated)).toMatchObject({ Type: 'Succeed' });
      expect(stateOf(definition, WORKFLOW_STATES.escalated)).not.toHaveProperty('OutputPath');
      expect(stateOf(definition, WORKFLOW_STATES.invalidOutcome)).toMatchObject({
        Type: 'Fail',
        Error: 'INVALID_OUTCOME',
      });
    });

    it('keeps Fail states only for real failures, which end the execution FAILED and reach the detector', () => {
      // Act
      const failStates = Object.entries(definition.States as Record<string, { Type: string; Error?: string }>)
        .filter(([, state]) => state.Type === 'Fail')
        .map(([name, state]) => [name, state.Error]);

      // Assess
      expect(Object.fromEntries(failStates)).toEqual({
        [WORKFLOW_STATES.escalationFailed]: 'ESCALATION_FAILED',
        [WORKFLOW_STATES.closeFailed]: 'CLOSE_FAILED',
        [WORKFLOW_STATES.invalidPhase]: 'INVALID_PHASE',
        [WORKFLOW_STATES.invalidOutcome]: 'INVALID_OUTCOME',
      });
    });
  });
});
