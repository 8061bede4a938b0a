import '#sandbox/workflow.ts';
import { App, type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { StateMachine } from 'aws-local-stepfunctions';
import { beforeAll, describe, expect, it } from 'vitest';
import { LOOK_BATCH_FAILED, synthesizedSweepWorkflow } from '#sandbox/workflow-definition.ts';
import { ALARM_PREFIX } from '#shared/alarms.ts';
import { parseConfig } from '#shared/config/schema.ts';
import { FlinkWatchdog } from '../../infra/flink-watchdog.ts';
import { LOOK_MAP_RUN_LABEL, SWEEP_STATES } from '../../infra/sweep-workflow.ts';

const CONFIG = parseConfig({
  schemaVersion: 1,
  applications: [{ name: 'orders-enrichment' }],
  fleet: { sweep: { batchSize: 2, maxConcurrency: 3 } },
});

interface State {
  Type: string;
  ItemProcessor?: Definition;
  [field: string]: unknown;
}
interface Definition {
  StartAt: string;
  TimeoutSeconds?: number;
  States: Record<string, State>;
}

/** A test app that skips bundling and the built-in CloudFormation validation. */
function testApp(): App {
  return new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
}

/** The `sweep` field of a Plan answer. */
type SweepPlan = {
  batches: Array<{ applications: string[] }>;
  summary: Record<string, never>;
};

/** What a Plan answer looks like: the batches of application keys the detector flagged. */
function planAnswer(batches: string[][]): { Payload: { status: string; results: never[]; sweep: SweepPlan } } {
  return {
    Payload: {
      status: 'OK',
      results: [],
      sweep: { batches: batches.map((applications) => ({ applications })), summary: {} },
    },
  };
}

describe('Construct: SweepWorkflow', () => {
  let definition: Definition;
  let local: Definition;
  beforeAll(() => {
    const synthesized = synthesizedSweepWorkflow(CONFIG);
    definition = synthesized.definition as unknown as Definition;
    local = synthesized.localDefinition as unknown as Definition;
  });

  describe('definition', () => {
    it('plans with the detector, its answer as the state output', () => {
      // Act
      const plan = definition.States[SWEEP_STATES.plan];

      // Assess
      expect(definition.StartAt).toBe(SWEEP_STATES.plan);
      expect(plan).toMatchObject({
        Type: 'Task',
        OutputPath: '$.Payload',
        Next: SWEEP_STATES.look,
        Parameters: { Payload: { sweep: { phase: 'plan' } } },
      });
      // Retried on Lambda's own service errors.
      expect(JSON.stringify(plan?.Retry)).toContain('Lambda.ServiceException');
    });

    it('looks at $.sweep.batches with a DISTRIBUTED Map of EXPRESS children, as many at once as the config says', () => {
      // Act
      const look = definition.States[SWEEP_STATES.look];

      // Assess
      expect(look).toMatchObject({
        Type: 'Map',
        ItemsPath: '$.sweep.batches',
        MaxConcurrency: 3,
        ToleratedFailurePercentage: 100,
        Label: LOOK_MAP_RUN_LABEL,
        ResultPath: null,
        Next: SWEEP_STATES.done,
        ItemProcessor: {
          ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'EXPRESS' },
          StartAt: SWEEP_STATES.lookBatch,
        },
      });
      expect(definition.States[SWEEP_STATES.done]).toEqual({ Type: 'Succeed' });
    });

    it("sends each batch's application keys to the detector in the look phase", () => {
      // Act
      const look = definition.States[SWEEP_STATES.look] as State & { ItemProcessor: Definition };
      const batch = look.ItemProcessor.States[SWEEP_STATES.lookBatch];

      // Assess
      expect(Object.keys(look.ItemProcessor.States)).toEqual([SWEEP_STATES.lookBatch]);
      expect(batch).toMatchObject({
        Type: 'Task',
        End: true,
        OutputPath: '$.Payload',
        Parameters: { Payload: { sweep: { phase: 'look', 'applications.$': '$.applications' } } },
      });
    });

    it('ends before the next sweep: timeout 80% of the sweep interval', () => {
      // Prepare
      const stack = new Stack(testApp(), 'S');
      const watchdog = new FlinkWatchdog(stack, 'W', { config: CONFIG, sweepInterval: Duration.minutes(10) });

      // Act
      const machine =
        Template.fromStack(stack).toJSON().Resources[
          stack.getLogicalId(watchdog.sweepWorkflow.stateMachine.node.defaultChild as CfnElement)
        ];

      // Assess
      expect(definition.TimeoutSeconds).toBe(240); // the default 5-minute interval
      expect(JSON.stringify(machine.Properties.DefinitionString)).toContain('"TimeoutSeconds\\":480');
    });
  });

  describe('local variant', () => {
    it('differs from the deployed definition only by the Catch of LookBatch to a Succeed state', () => {
      // Act
      const look = local.States[SWEEP_STATES.look] as State & { ItemProcessor: Definition };
      const deployedLook = definition.States[SWEEP_STATES.look] as State & { ItemProcessor: Definition };
      const { Catch, ...batch } = look.ItemProcessor.States[SWEEP_STATES.lookBatch] as State;

      // Assess
      expect(Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: LOOK_BATCH_FAILED }]);
      expect(batch).toEqual(deployedLook.ItemProcessor.States[SWEEP_STATES.lookBatch]);
      expect(look.ItemProcessor.States[LOOK_BATCH_FAILED]).toEqual({ Type: 'Succeed' });
      const { [SWEEP_STATES.look]: _a, ...rest } = local.States;
      const { [SWEEP_STATES.look]: _b, ...deployedRest } = definition.States;
      expect(rest).toEqual(deployedRest);
    });

    it('runs plan then one look per batch, at most MaxConcurrency at once, and goes on past a failed batch', async () => {
      // Prepare
      const batches = [['a', 'b'], ['c', 'd'], ['e', 'f'], ['g', 'h'], ['i']];
      const looked: unknown[] = [];
      let running = 0;
      let mostAtOnce = 0;
      const releases: Array<() => void> = [];
      // Holds each batch until 3 wait (or all that are left do), so batches that may overlap surely do.
      const releaseWhenFull = (): void => {
        if (releases.length >= 3 || looked.length + releases.length >= batches.length) {
          for (const release of releases.splice(0)) release();
        }
      };
      const machine = new StateMachine(local as never);

      // Act
      const execution = machine.run(
        {},
        {
          overrides: {
            taskResourceLocalHandlers: {
              [SWEEP_STATES.plan]: async () => planAnswer(batches),
              [SWEEP_STATES.lookBatch]: async (input: unknown) => {
                running += 1;
                mostAtOnce = Math.max(mostAtOnce, running);
                await new Promise<void>((release) => {
                  releases.push(release);
                  releaseWhenFull();
                });
                running -= 1;
                // The task's Parameters: the Lambda Invoke request (FunctionName, Payload).
                looked.push((input as { Payload: unknown }).Payload);
                releaseWhenFull();
                if (JSON.stringify(input).includes('"c"')) throw new Error('batch failed');
                return { Payload: { status: 'OK', results: [] } };
              },
            },
          },
        },
      );
      const output = (await execution.result) as { sweep: { batches: unknown[] } };

      // Assess
      expect(looked).toHaveLength(batches.length);
      expect(looked).toEqual(
        expect.arrayContaining(batches.map((applications) => ({ sweep: { phase: 'look', applications } }))),
      );
      expect(mostAtOnce).toBeLessThanOrEqual(3);
      expect(mostAtOnce).toBeGreaterThan(1);
      // ResultPath null: the output is the plan, the batches' results dropped.
      expect(output.sweep.batches).toHaveLength(batches.length);
    });
  });

  describe('schedule and alarm', () => {
    let template: Template;
    let watchdog: FlinkWatchdog;
    let stack: Stack;
    beforeAll(() => {
      stack = new Stack(testApp(), 'Sweep');
      watchdog = new FlinkWatchdog(stack, 'W', { config: CONFIG });
      template = Template.fromStack(stack);
    });

    it('lets the state machine invoke the detector (and its versions) only', () => {
      // Prepare
      const role = stack.getLogicalId(watchdog.sweepWorkflow.stateMachine.role.node.defaultChild as CfnElement);
      const detector = { 'Fn::GetAtt': [stack.getLogicalId(watchdog.detector.node.defaultChild as CfnElement), 'Arn'] };

      // Act
      const invokes = Object.values(template.findResources('AWS::IAM::Policy'))
        .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === role))
        .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[])
        .filter((s) => [s.Action].flat().includes('lambda:InvokeFunction'));

      // Assess
      expect(invokes.map((s) => s.Resource)).toEqual([[detector, { 'Fn::Join': ['', [detector, ':*']] }]]);
    });

    it('counts failed, timed-out and aborted sweeps and look batches in an alarm outside the alarm prefix', () => {
      // Act
      const alarm = Object.values(template.findResources('AWS::CloudWatch::Alarm')).find(
        (a) => a.Properties.AlarmName === 'FlinkWatchdog-sweep-failed-Sweep',
      );
      const metrics = JSON.stringify(alarm?.Properties.Metrics);

      // Assess
      expect(alarm).toBeDefined();
      expect('FlinkWatchdog-sweep-failed-Sweep'.startsWith(ALARM_PREFIX)).toBe(false);
      for (const name of ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted']) {
        // Once for the sweep itself, once for its Look Map Runs' child executions (`<ARN>/look`).
        expect(metrics.split(`"MetricName":"${name}"`)).toHaveLength(3);
      }
      expect(metrics).toContain(`-sweep/${LOOK_MAP_RUN_LABEL}`);
      expect(alarm?.Properties.AlarmActions).toHaveLength(1);
    });
  });
});
