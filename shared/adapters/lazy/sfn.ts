/** What the Step Functions starters load at their first start (sfn-execution.ts); see sns.ts. */
export { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
