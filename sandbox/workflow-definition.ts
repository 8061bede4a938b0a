import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement } from 'aws-cdk-lib';
import type { WatchdogConfig } from '#shared/config/schema.ts';
import { PHASE_TASKS, WORKFLOW_STATES } from '../infra/remediation-workflow.ts';
import { SWEEP_STATES } from '../infra/sweep-workflow.ts';
import { WATCH_STATES } from '../infra/watch-workflow.ts';
import { WatchdogStack } from '../infra/watchdog-stack.ts';

/** Account and region the drill synthesizes the stack for (never deployed). */
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';

/** A workflow (the remediation or the watch state machine) as deployed, ready to run locally. */
export interface SynthesizedWorkflow {
  /** The Amazon States Language definition from the synthesized template (`DefinitionString`, tokens resolved). */
  definition: Record<string, unknown>;
  /** The ARN the definition's Task states invoke (the remediation or detector function, as the template names it). */
  stepFunctionArn: string;
  /** Names of the Task states that invoke that function. */
  taskStates: string[];
  /** Names of the Wait states. */
  waitStates: string[];
  /** Wall time the synth took, ms. */
  synthMs: number;
}

type CfnValue = string | { [key: string]: unknown };

/** Resolves the intrinsic functions a DefinitionString uses (Fn::Join, Fn::GetAtt …Arn, Ref of pseudo parameters). */
function resolve(value: CfnValue, resources: Record<string, { Type: string }>): string {
  if (typeof value === 'string') return value;
  const join = value['Fn::Join'] as [string, CfnValue[]] | undefined;
  if (join) return join[1].map((v) => resolve(v, resources)).join(join[0]);
  const getAtt = value['Fn::GetAtt'] as [string, string] | undefined;
  if (getAtt && getAtt[1] === 'Arn') {
    const type = resources[getAtt[0]]?.Type;
    if (type === 'AWS::Lambda::Function') return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${getAtt[0]}`;
    throw new Error(`workflow definition: cannot resolve Fn::GetAtt of ${getAtt[0]} (${type ?? 'unknown'})`);
  }
  const ref = value.Ref as string | undefined;
  if (ref === 'AWS::Partition') return 'aws';
  if (ref === 'AWS::Region') return REGION;
  if (ref === 'AWS::AccountId') return ACCOUNT;
  if (ref === 'AWS::URLSuffix') return 'amazonaws.com';
  throw new Error(`workflow definition: cannot resolve ${JSON.stringify(value)}`);
}

interface SynthesizedStack {
  template: { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
  remediationFunctionId: string;
  detectorFunctionId: string;
  synthMs: number;
}

let cachedStack: SynthesizedStack | undefined;
const cachedMachines = new Map<string, SynthesizedWorkflow>();

/**
 * Synthesizes the watchdog stack (the CDK app's stack and construct, function bundling skipped) once per process: the
 * remediation and watch definitions do not depend on the config (only IAM, the dashboard and the sweep's
 * MaxConcurrency do; {@link synthesizedSweepWorkflow} synthesizes its own).
 */
function synthesizedStack(config: WatchdogConfig): SynthesizedStack {
  if (cachedStack) return cachedStack;
  const started = performance.now();
  const outdir = mkdtempSync(join(tmpdir(), 'flink-watchdog-synth-'));
  try {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
    const stack = new WatchdogStack(app, 'FlinkWatchdogDrill', { config, env: { account: ACCOUNT, region: REGION } });
    const template = app.synth().getStackArtifact(stack.artifactId).template as SynthesizedStack['template'];
    cachedStack = {
      template,
      remediationFunctionId: stack.getLogicalId(stack.watchdog.remediation.node.defaultChild as CfnElement),
      detectorFunctionId: stack.getLogicalId(stack.watchdog.detector.node.defaultChild as CfnElement),
      synthMs: performance.now() - started,
    };
    return cachedStack;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/**
 * The state machine of the template whose Task states invoke the function `functionId`, with the Task states
 * `expectedTasks` and the Wait state `expectedWait`.
 * @throws Error when no such state machine exists or the template holds a token the resolver does not know.
 */
function machineInvoking(
  config: WatchdogConfig,
  functionId: (s: SynthesizedStack) => string,
  expectedTasks: readonly string[],
  expectedWait: string,
): SynthesizedWorkflow {
  const stack = synthesizedStack(config);
  const id = functionId(stack);
  const cached = cachedMachines.get(id);
  if (cached) return cached;
  const stepFunctionArn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${id}`;
  const machines = Object.values(stack.template.Resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
  for (const machine of machines) {
    const definition = JSON.parse(
      resolve(machine.Properties.DefinitionString as CfnValue, stack.template.Resources),
    ) as {
      States: Record<string, { Type: string; Parameters?: { FunctionName?: string } }>;
    };
    const taskStates = Object.entries(definition.States)
      .filter(([, s]) => s.Type === 'Task' && s.Parameters?.FunctionName === stepFunctionArn)
      .map(([name]) => name);
    if (taskStates.length === 0) continue;
    if (expectedTasks.some((t) => !taskStates.includes(t))) {
      throw new Error(
        `workflow definition: Task states ${taskStates.join(', ')}; expected ${expectedTasks.join(', ')}`,
      );
    }
    const waitStates = Object.entries(definition.States)
      .filter(([, s]) => s.Type === 'Wait')
      .map(([name]) => name);
    if (!waitStates.includes(expectedWait)) throw new Error(`workflow definition: no Wait state ${expectedWait}`);
    const out = { definition, stepFunctionArn, taskStates, waitStates, synthMs: stack.synthMs };
    cachedMachines.set(id, out);
    return out;
  }
  throw new Error(`workflow definition: no state machine invokes ${id} (found ${machines.length} state machines)`);
}

/**
 * The remediation state machine's definition from the synthesized template (the CDK app's stack and construct,
 * function bundling skipped): the drill runs exactly what `cdk deploy` would deploy.
 * @throws Error when the template holds no such state machine or a token the resolver does not know.
 */
export function synthesizedWorkflow(config: WatchdogConfig): SynthesizedWorkflow {
  return machineInvoking(config, (s) => s.remediationFunctionId, Object.values(PHASE_TASKS), WORKFLOW_STATES.wait);
}

/**
 * The watch state machine's definition (infra/watch-workflow.ts) from the same synthesized template: its Check Task
 * invokes the detector function.
 * @throws Error when the template holds no such state machine or a token the resolver does not know.
 */
export function synthesizedWatchWorkflow(config: WatchdogConfig): SynthesizedWorkflow {
  return machineInvoking(config, (s) => s.detectorFunctionId, [WATCH_STATES.check], WATCH_STATES.wait);
}

/** The sweep state machine as deployed (infra/sweep-workflow.ts), and the variant the local engine runs. */
export interface SynthesizedSweepWorkflow {
  /** The definition from the synthesized template (`DefinitionString`, tokens resolved): Look is a DISTRIBUTED Map. */
  definition: Record<string, unknown>;
  /**
   * The same definition with the one difference the local engine needs. aws-local-stepfunctions 3.0.0 runs the
   * DISTRIBUTED Map as it runs any Map (its ItemProcessor in-process, MaxConcurrency honoured, ProcessorConfig, Label
   * and the EXPRESS execution type ignored), but it does not implement `ToleratedFailurePercentage`: the first failed
   * item fails the whole Map. So here LookBatch has a Catch (States.ALL, after its retries) to the Succeed state
   * {@link LOOK_BATCH_FAILED}: a failed batch ends its own item only, as ToleratedFailurePercentage 100 makes Step
   * Functions do. Everything else (Plan, ItemsPath, the payloads, OutputPath, ResultPath) is the deployed definition.
   */
  localDefinition: Record<string, unknown>;
  /** The detector's ARN as the definition names it (Plan and LookBatch invoke it). */
  stepFunctionArn: string;
  /** Wall time the synth took, ms. */
  synthMs: number;
}

/** The state the local variant of the sweep sends a failed LookBatch to (see `localDefinition`). */
export const LOOK_BATCH_FAILED = 'LookBatchFailed';

interface SweepDefinition {
  States: Record<
    string,
    {
      Type: string;
      Parameters?: { FunctionName?: string };
      ItemProcessor?: { ProcessorConfig?: Record<string, unknown>; States: Record<string, { Type: string }> };
      [field: string]: unknown;
    }
  >;
}

/**
 * The sweep state machine's definition (infra/sweep-workflow.ts) from a synthesized template of the CDK app's stack
 * for `config` (its MaxConcurrency is `fleet.sweep.maxConcurrency`), with the local-engine variant.
 * @throws Error when the template holds no such state machine or a token the resolver does not know.
 */
export function synthesizedSweepWorkflow(config: WatchdogConfig): SynthesizedSweepWorkflow {
  const started = performance.now();
  const outdir = mkdtempSync(join(tmpdir(), 'flink-watchdog-synth-'));
  try {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
    const stack = new WatchdogStack(app, 'FlinkWatchdogDrill', {
      config,
      instanceId: 'drill',
      env: { account: ACCOUNT, region: REGION },
    });
    const template = app.synth().getStackArtifact(stack.artifactId).template as SynthesizedStack['template'];
    const machineId = stack.getLogicalId(stack.watchdog.sweepWorkflow.stateMachine.node.defaultChild as CfnElement);
    const detectorId = stack.getLogicalId(stack.watchdog.detector.node.defaultChild as CfnElement);
    const machine = template.Resources[machineId];
    if (!machine) throw new Error(`workflow definition: no sweep state machine ${machineId}`);
    const definition = JSON.parse(
      resolve(machine.Properties.DefinitionString as CfnValue, template.Resources),
    ) as SweepDefinition;
    const stepFunctionArn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${detectorId}`;
    const look = definition.States[SWEEP_STATES.look];
    const plan = definition.States[SWEEP_STATES.plan];
    const batch = look?.ItemProcessor?.States[SWEEP_STATES.lookBatch] as { Parameters?: { FunctionName?: string } };
    if (
      look === undefined ||
      plan?.Parameters?.FunctionName !== stepFunctionArn ||
      batch?.Parameters?.FunctionName !== stepFunctionArn
    ) {
      throw new Error('workflow definition: the sweep does not invoke the detector from Plan and LookBatch');
    }
    const processor = look.ItemProcessor as NonNullable<typeof look.ItemProcessor>;
    const localDefinition = {
      ...definition,
      States: {
        ...definition.States,
        [SWEEP_STATES.look]: {
          ...look,
          ItemProcessor: {
            ...processor,
            States: {
              ...processor.States,
              [SWEEP_STATES.lookBatch]: {
                ...processor.States[SWEEP_STATES.lookBatch],
                Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: LOOK_BATCH_FAILED }],
              },
              [LOOK_BATCH_FAILED]: { Type: 'Succeed' },
            },
          },
        },
      },
    };
    return {
      definition: definition as unknown as Record<string, unknown>,
      localDefinition,
      stepFunctionArn,
      synthMs: performance.now() - started,
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
