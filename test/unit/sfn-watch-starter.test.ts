import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { StepFunctionsWatchStarter } from '#shared/adapters/sfn-watch-starter.ts';
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
