import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { StepFunctionsStarter } from '#shared/adapters/sfn-starter.ts';
import { StepFunctionsWatchStarter } from '#shared/adapters/sfn-watch-starter.ts';
import type { RemediationState } from '#shared/domain/remediation.ts';
import { type WatchInput, watchName } from '#shared/domain/watch.ts';
import { MIN, T0 } from '../support/builders.ts';
import { CapturingLog } from '../support/fakes.ts';

const ARN = 'arn:aws:states:eu-west-1:123456789012:stateMachine:FlinkWatchdog-watch';

const INPUT: WatchInput = {
  watch: {
    schemaVersion: 1,
    applicationName: 'orders',
    kind: 'restarts',
    name: watchName('orders', 'restarts', 'v7:1'),
    startedMs: T0,
    untilMs: T0 + 20 * MIN,
    checks: 0,
    sawRestart: true,
    sawFailedCheckpoint: false,
    trigger: { source: 'alarm', detail: 'flink-watchdog-orders-restart-loop' },
  },
  done: false,
  waitSeconds: 60,
};

describe('Class: StepFunctionsWatchStarter', () => {
  const client = new SFNClient({ region: 'eu-west-1' });
  const sfn = mockClient(client);
  afterEach(() => {
    sfn.reset();
  });

  it('starts an execution named after the watch, with the watch state as input', async () => {
    // Prepare
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${ARN}:x`, startDate: new Date(T0) });
    const starter = new StepFunctionsWatchStarter({ stateMachineArn: ARN, client, log: new CapturingLog() });
    // Act
    const started = await starter.start(INPUT);
    // Assess
    expect(started).toBe(true);
    const [call] = sfn.commandCalls(StartExecutionCommand);
    expect(call?.args[0].input).toMatchObject({ stateMachineArn: ARN, name: INPUT.watch.name });
    expect(JSON.parse(call?.args[0].input.input ?? '')).toEqual(INPUT);
  });

  it('answers false when the watch already runs or ran (ExecutionAlreadyExists)', async () => {
    // Prepare
    sfn
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));
    const starter = new StepFunctionsWatchStarter({ stateMachineArn: ARN, client, log: new CapturingLog() });
    // Act / Assess
    await expect(starter.start(INPUT)).resolves.toBe(false);
  });

  it('throws any other error', async () => {
    // Prepare
    sfn.on(StartExecutionCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const starter = new StepFunctionsWatchStarter({ stateMachineArn: ARN, client, log: new CapturingLog() });
    // Act / Assess
    await expect(starter.start(INPUT)).rejects.toThrow('Rate exceeded');
  });
});

describe('Class: StepFunctionsStarter (remediation workflow)', () => {
  const client = new SFNClient({ region: 'eu-west-1' });
  const sfn = mockClient(client);
  afterEach(() => {
    sfn.reset();
  });
  // Only the incident id (the execution name) and the serialised input matter to the starter.
  const state = { incidentId: 'orders-64c75701cf082af8', phase: 'LOCK' } as unknown as RemediationState;

  it('starts an execution named after the incident, with the remediation state as input', async () => {
    // Prepare
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${ARN}:x`, startDate: new Date(T0) });
    const log = new CapturingLog();
    // Act
    await new StepFunctionsStarter({ stateMachineArn: ARN, client, log }).start(state);
    // Assess
    const [call] = sfn.commandCalls(StartExecutionCommand);
    expect(call?.args[0].input).toMatchObject({ stateMachineArn: ARN, name: state.incidentId });
    expect(JSON.parse(call?.args[0].input.input ?? '')).toEqual(state);
  });

  it('ignores a duplicate start (ExecutionAlreadyExists) and throws any other error', async () => {
    // Prepare
    const starter = new StepFunctionsStarter({ stateMachineArn: ARN, client, log: new CapturingLog() });
    sfn
      .on(StartExecutionCommand)
      .rejectsOnce(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }))
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    // Act / Assess
    await expect(starter.start(state)).resolves.toBeUndefined();
    await expect(starter.start(state)).rejects.toThrow('Rate exceeded');
  });
});
