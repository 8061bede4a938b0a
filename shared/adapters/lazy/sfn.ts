/** What the Step Functions starters (sfn-execution.ts) and the task-token adapter load at first use; see sns.ts. */
export { SendTaskSuccessCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
