import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '#shared/config/schema.ts';
import { MAX_WATCH_MINUTES } from '#shared/domain/watch.ts';
import { WATCH_STATES } from '../../infra/watch-workflow.ts';
import { WatchdogStack } from '../../infra/watchdog-stack.ts';

const CONFIG = parseConfig({
  schemaVersion: 1,
  applications: [{ name: 'orders-enrichment', policy: { mode: 'remediate' } }],
});

interface State {
  Type: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: Array<{ Variable: string; Next: string; StringEquals?: string; BooleanEquals?: boolean }>;
  Catch?: Array<{ ErrorEquals: string[]; ResultPath?: string; Next: string }>;
  Retry?: Array<{ ErrorEquals: string[] }>;
  Parameters?: Record<string, unknown>;
  OutputPath?: string;
  SecondsPath?: string;
  Error?: string;
}

interface Definition {
  StartAt: string;
  States: Record<string, State>;
  TimeoutSeconds?: number;
}

interface Statement {
  Sid?: string;
  Action: string | string[];
  Resource?: unknown;
}

function logicalIdOf(construct: IConstruct): string {
  const element = (construct.node.defaultChild ?? construct) as CfnElement;
  return Stack.of(element).getLogicalId(element);
}

/** `{ Ref: X }` → `<X>`, `{ 'Fn::GetAtt': [X, Y] }` → `<X.Y>`, anything else → `<?>` (cdk-nag's notation). */
function placeholder(part: unknown): string {
  const p = part as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  if (typeof p.Ref === 'string') return `<${p.Ref}>`;
  if (Array.isArray(p['Fn::GetAtt'])) return `<${p['Fn::GetAtt'].join('.')}>`;
  return '<?>';
}

describe('Construct: WatchWorkflow', () => {
  let stack: WatchdogStack;
  let template: Template;
  let machine: { Properties: Record<string, unknown> };
  let definition: Definition;
  const state = (name: string): State => {
    const s = definition.States[name];
    expect(s, `state ${name}`).toBeDefined();
    return s as State;
  };
  beforeAll(() => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
    stack = new WatchdogStack(app, 'Test', { config: CONFIG });
    template = Template.fromStack(stack);
    machine = template.findResources('AWS::StepFunctions::StateMachine')[
      logicalIdOf(stack.watchdog.watchWorkflow.stateMachine)
    ] as { Properties: Record<string, unknown> };
    const join = (machine.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
    definition = JSON.parse(
      join[1].map((part) => (typeof part === 'string' ? part : placeholder(part))).join(''),
    ) as Definition;
  });

  it('is a named Standard state machine with execution logging, X-Ray tracing and a timeout past the longest watch', () => {
    // Assess
    expect(machine.Properties).toMatchObject({
      StateMachineType: 'STANDARD',
      StateMachineName: expect.stringMatching(/^[A-Za-z0-9-]{1,80}$/),
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false },
    });
    expect(definition.TimeoutSeconds).toBeGreaterThan(MAX_WATCH_MINUTES * 60);
  });

  it('waits first (SecondsPath $.waitSeconds), then checks, then ends or waits again: no Lambda sleeps', () => {
    // Assess
    expect(definition.StartAt).toBe(WATCH_STATES.wait);
    expect(state(WATCH_STATES.wait)).toMatchObject({
      Type: 'Wait',
      SecondsPath: '$.waitSeconds',
      Next: WATCH_STATES.check,
    });
    expect(state(WATCH_STATES.check)).toMatchObject({ Type: 'Task', OutputPath: '$.Payload', Next: WATCH_STATES.done });
    const done = state(WATCH_STATES.done);
    expect(done.Type).toBe('Choice');
    expect(done.Default).toBe(WATCH_STATES.wait);
    expect(done.Choices).toEqual(
      expect.arrayContaining([
        { Variable: '$.status', StringEquals: 'REJECTED', Next: WATCH_STATES.rejected },
        { Variable: '$.done', BooleanEquals: true, Next: WATCH_STATES.ended },
      ]),
    );
    expect(state(WATCH_STATES.ended).Type).toBe('Succeed');
    expect(state(WATCH_STATES.rejected)).toMatchObject({ Type: 'Fail', Error: 'CHECK_REJECTED' });
  });

  it('checks by invoking the detector with the whole watch state, and ends CheckFailed when a check keeps failing', () => {
    // Assess
    const check = state(WATCH_STATES.check);
    expect(check.Parameters).toMatchObject({
      FunctionName: `<${logicalIdOf(stack.watchdog.detector)}.Arn>`,
      'Payload.$': '$',
    });
    expect(check.Retry?.flatMap((r) => r.ErrorEquals)).toEqual(
      expect.arrayContaining(['Lambda.ServiceException', 'Lambda.TooManyRequestsException']),
    );
    expect(check.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: WATCH_STATES.failed }]);
    expect(state(WATCH_STATES.failed)).toMatchObject({ Type: 'Fail', Error: 'CHECK_FAILED' });
  });

  it("gives the detector the watch workflow's ARN, built from the state machine's name", () => {
    // Prepare
    const name = machine.Properties.StateMachineName as string;
    const detector = template.findResources('AWS::Lambda::Function')[logicalIdOf(stack.watchdog.detector)] as {
      Properties: { Environment: { Variables: Record<string, unknown> } };
    };
    // Act
    const arn = detector.Properties.Environment.Variables.WATCH_STATE_MACHINE_ARN as {
      'Fn::Join': [string, unknown[]];
    };
    // Assess
    const joined = arn['Fn::Join'][1].map((p) => (typeof p === 'string' ? p : placeholder(p))).join('');
    expect(joined).toBe(`arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:stateMachine:${name}`);
  });

  it('lets only the detector start watch executions, on the watch workflow only', () => {
    // Prepare
    const detectorRole = logicalIdOf(stack.watchdog.detector.role as IConstruct);
    const policies = template.findResources('AWS::IAM::Policy') as Record<
      string,
      { Properties: { Roles: Array<{ Ref: string }>; PolicyDocument: { Statement: Statement[] } } }
    >;
    // Act
    const starts = Object.values(policies).flatMap((p) =>
      p.Properties.PolicyDocument.Statement.filter((s) => s.Sid === 'StartWatch').map((s) => ({
        roles: p.Properties.Roles.map((r) => r.Ref),
        statement: s,
      })),
    );
    // Assess
    expect(starts.map((s) => s.roles)).toEqual([[detectorRole]]);
    expect(starts[0]?.statement.Action).toBe('states:StartExecution');
    const resource = starts[0]?.statement.Resource as { 'Fn::Join': [string, unknown[]] };
    const joined = resource['Fn::Join'][1].map((p) => (typeof p === 'string' ? p : placeholder(p))).join('');
    expect(joined.endsWith(`:stateMachine:${machine.Properties.StateMachineName as string}`)).toBe(true);
  });

  it('lets the watch workflow invoke the detector (and its versions) only', () => {
    // Prepare
    const role = logicalIdOf(stack.watchdog.watchWorkflow.stateMachine.role);
    const fn = { 'Fn::GetAtt': [logicalIdOf(stack.watchdog.detector), 'Arn'] };
    const policies = template.findResources('AWS::IAM::Policy') as Record<
      string,
      { Properties: { Roles: Array<{ Ref: string }>; PolicyDocument: { Statement: Statement[] } } }
    >;
    // Act
    const statements = Object.values(policies)
      .filter((p) => p.Properties.Roles.some((r) => r.Ref === role))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
    const invokes = statements.filter((s) => [s.Action].flat().includes('lambda:InvokeFunction'));
    // Assess
    expect(invokes.map((s) => s.Resource)).toEqual([[fn, { 'Fn::Join': ['', [fn, ':*']] }]]);
    expect(statements.flatMap((s) => [s.Action].flat()).filter((a) => /^(kinesisanalytics|states):/.test(a))).toEqual(
      [],
    );
  });
});
