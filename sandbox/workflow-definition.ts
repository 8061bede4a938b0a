import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement } from 'aws-cdk-lib';
import type { WatchdogConfig } from '#shared/config/schema.ts';
import { PHASE_TASKS, WORKFLOW_STATES } from '../infra/remediation-workflow.ts';
import { WatchdogStack } from '../infra/watchdog-stack.ts';

/** Account and region the drill synthesizes the stack for (never deployed). */
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';

/** The remediation workflow as deployed, ready to run locally. */
export interface SynthesizedWorkflow {
  /** The Amazon States Language definition from the synthesized template (`DefinitionString`, tokens resolved). */
  definition: Record<string, unknown>;
  /** The ARN the definition's Task states invoke (the remediation function, as the template names it). */
  stepFunctionArn: string;
  /** Names of the Task states that invoke the remediation function. */
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

let cached: SynthesizedWorkflow | undefined;

/**
 * Synthesizes the watchdog stack (the CDK app's stack and construct, function bundling skipped) and takes the
 * remediation state machine's definition from the template: the drill runs exactly what `cdk deploy` would deploy.
 * The definition does not depend on the config (only alarms, IAM and the dashboard do), so it is synthesized once
 * per process.
 * @throws Error when the template holds no state machine or a token the resolver does not know.
 */
export function synthesizedWorkflow(config: WatchdogConfig): SynthesizedWorkflow {
  if (cached) return cached;
  const started = performance.now();
  const outdir = mkdtempSync(join(tmpdir(), 'flink-watchdog-synth-'));
  try {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
    const stack = new WatchdogStack(app, 'FlinkWatchdogDrill', { config, env: { account: ACCOUNT, region: REGION } });
    const template = app.synth().getStackArtifact(stack.artifactId).template as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const machines = Object.values(template.Resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
    if (machines.length !== 1) throw new Error(`expected one state machine in the template, found ${machines.length}`);
    const definitionString = machines[0]?.Properties.DefinitionString as CfnValue;
    const definition = JSON.parse(resolve(definitionString, template.Resources)) as {
      States: Record<string, { Type: string; Parameters?: { FunctionName?: string } }>;
    };
    const fnId = stack.getLogicalId(stack.watchdog.remediation.node.defaultChild as CfnElement);
    const stepFunctionArn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${fnId}`;
    const taskStates = Object.entries(definition.States)
      .filter(([, s]) => s.Type === 'Task' && s.Parameters?.FunctionName === stepFunctionArn)
      .map(([name]) => name);
    const expected = Object.values(PHASE_TASKS);
    if (expected.some((t) => !taskStates.includes(t))) {
      throw new Error(`workflow definition: Task states ${taskStates.join(', ')}; expected ${expected.join(', ')}`);
    }
    const waitStates = Object.entries(definition.States)
      .filter(([, s]) => s.Type === 'Wait')
      .map(([name]) => name);
    if (!waitStates.includes(WORKFLOW_STATES.wait)) throw new Error('workflow definition: no Wait state');
    cached = { definition, stepFunctionArn, taskStates, waitStates, synthMs: performance.now() - started };
    return cached;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
