import { Names, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/**
 * Where the state machines' execution log groups are named. Step Functions adds every log group a state machine logs
 * to to the account's CloudWatch Logs resource policy, which is limited to 5,120 characters; log groups whose names
 * start with `/aws/vendedlogs/` are covered without growing it ("Avoiding Amazon CloudWatch Logs resource policy size
 * restrictions", https://docs.aws.amazon.com/step-functions/latest/dg/bp-cwl.html). The Step Functions console uses
 * this prefix.
 */
export const STATES_VENDED_LOGS_PREFIX = '/aws/vendedlogs/states/';

/**
 * The execution log group name of the state machine construct `scope`:
 * `/aws/vendedlogs/states/<stack name>/<construct path as a unique name>` (log group names are unique per account and
 * Region, at most 512 characters of `[A-Za-z0-9_\-/.#]`: the stack name keeps two stacks of one app apart, the path
 * two watchdogs of one stack).
 */
export function statesLogGroupName(scope: Construct): string {
  const stack = Stack.of(scope);
  return `${STATES_VENDED_LOGS_PREFIX}${stack.stackName}/${Names.uniqueResourceName(scope, { maxLength: 200, separator: '-' })}`;
}
