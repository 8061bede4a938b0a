import { InvalidToken, SendTaskSuccessCommand, SFNClient, TaskDoesNotExist, TaskTimedOut } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { StepFunctionsTaskTokens } from '#shared/adapters/sfn-task-tokens.ts';
import { TaskTokenGoneError } from '#shared/ports/task-tokens.ts';

describe('Class: StepFunctionsTaskTokens', () => {
  const client = new SFNClient({ region: 'eu-west-1' });
  const sfn = mockClient(client);
  afterEach(() => {
    sfn.reset();
  });

  it('sends the answer as the task output JSON for the token', async () => {
    // Prepare
    sfn.on(SendTaskSuccessCommand).resolves({});
    const tokens = new StepFunctionsTaskTokens({ client });

    // Act
    await tokens.sendTaskSuccess('AQCEAAAAKgAAAA', { decision: 'APPROVED', by: 'slack:U1 (jane)', via: 'slack' });

    // Assess
    const calls = sfn.commandCalls(SendTaskSuccessCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({
      taskToken: 'AQCEAAAAKgAAAA',
      output: '{"decision":"APPROVED","by":"slack:U1 (jane)","via":"slack"}',
    });
  });

  it.each([
    ['TaskTimedOut', new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} })],
    ['TaskDoesNotExist', new TaskDoesNotExist({ message: 'Task does not exist', $metadata: {} })],
    ['InvalidToken', new InvalidToken({ message: 'Invalid token', $metadata: {} })],
  ])(
    'answers TaskTokenGoneError when Step Functions says %s: the request was already answered or timed out',
    async (_, error) => {
      // Prepare
      sfn.on(SendTaskSuccessCommand).rejects(error);
      const tokens = new StepFunctionsTaskTokens({ client });

      // Act
      const sent = tokens.sendTaskSuccess('t', { decision: 'REJECTED' });

      // Assess
      await expect(sent).rejects.toBeInstanceOf(TaskTokenGoneError);
    },
  );

  it('throws any other error as the SDK raised it (the caller keeps the request pending)', async () => {
    // Prepare
    sfn.on(SendTaskSuccessCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const tokens = new StepFunctionsTaskTokens({ client });

    // Act
    const sent = tokens.sendTaskSuccess('t', { decision: 'APPROVED' });

    // Assess
    await expect(sent).rejects.toMatchObject({ name: 'ThrottlingException' });
  });
});
