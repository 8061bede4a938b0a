import { CfnOutput, Duration, Validations } from 'aws-cdk-lib';
import { CfnCustomAction } from 'aws-cdk-lib/aws-chatbot';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import {
  type CfnFunction,
  type FunctionUrl,
  FunctionUrlAuthType,
  type Function as LambdaFunctionResource,
} from 'aws-cdk-lib/aws-lambda';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { functionEnvironment, SlackInteractionsEnv } from '#functions/common/env.ts';
import { listedKey, policyFor, type WatchdogConfig } from '#shared/config/schema.ts';
import {
  CHATBOT_APPROVE_BUTTON,
  CHATBOT_REJECT_BUTTON,
  type ChatbotApprovalCommand,
  chatbotActionVariables,
  chatbotCommandKey,
  chatbotCommandText,
} from '#shared/notify/chatbot.ts';
import type { LambdaFunctionName } from './lambda-code.ts';

/** What {@link ApprovalEndpoints} asks its parent to make a function with (the watchdog's Lambda defaults). */
export interface ApprovalFunctionOptions {
  code: LambdaFunctionName;
  description: string;
  environment: Record<string, string>;
  timeout: Duration;
}

/** Props of {@link ApprovalEndpoints}. */
export interface ApprovalEndpointsProps {
  /** The validated watchdog config. */
  config: WatchdogConfig;
  /** The ledger: the endpoint reads the incident and records the answer. */
  ledger: ITableV2;
  /**
   * Reserved concurrency of the Slack function (its function URL is public): it can never take more than this from
   * the account's unreserved concurrency the watchdog's other functions use, however many requests arrive.
   * @default {@link SLACK_RESERVED_CONCURRENCY}
   */
  slackReservedConcurrency?: number;
  /** The remediation workflow whose `.waitForTaskToken` approval state the answers go to. */
  remediationStateMachine: IStateMachine;
  /** The runbook command topic (`runbooks` configured): the Amazon Q custom action publishes `approve` / `reject` to it. */
  commandTopic?: ITopic;
  /** The watchdog's instance id (names the custom actions, which are per account). */
  instanceId: string;
  /** OutputKey prefix of the watchdog (its construct id, letters and digits). */
  outputPrefix: string;
  /** Makes a function with the watchdog's Lambda defaults (prebuilt code, log group, role, DLQ, tracing). */
  createFunction: (scope: Construct, id: string, options: ApprovalFunctionOptions) => LambdaFunctionResource;
}

/** Description of the `<prefix>SlackInteractivityUrl` stack output. */
export const SLACK_INTERACTIVITY_URL_OUTPUT =
  'Flink Watchdog: the Slack app’s Interactivity Request URL (the Approve / Reject buttons of approve mode)';

/** Reserved concurrency of the Slack interactivity function: a handful of clicks per incident needs no more. */
export const SLACK_RESERVED_CONCURRENCY = 5;

/**
 * The DynamoDB actions of the Slack function: exactly the calls {@link answerApproval} makes through the ledger
 * (updateIncident = GetItem, strongly consistent, then a conditional PutItem), on the table only.
 */
export const SLACK_LEDGER_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem'] as const;

/** True when some listed application, or the defaults (opt-in tagged applications), use approve mode. */
export function usesApproveMode(config: WatchdogConfig): boolean {
  return (
    config.defaults?.mode === 'approve' ||
    config.applications.some((a) => policyFor(config, listedKey(a)).mode === 'approve')
  );
}

/**
 * The ways people answer approve mode's approval requests from chat:
 *
 * - Slack (when `notifications.slackSigningSecretName` is set): the `slack-interactions` function behind a Lambda
 *   function URL with auth type NONE (Slack cannot sign with SigV4; the function verifies Slack's request signature
 *   with the signing secret, https://api.slack.com/authentication/verifying-requests-from-slack) and no CORS (Slack
 *   posts server to server). It may read the signing secret, GetItem and PutItem on the ledger table (no index, no
 *   DeleteItem, Query or Scan) and states:SendTaskSuccess on the remediation workflow (not SendTaskFailure or
 *   SendTaskHeartbeat); its reserved concurrency ({@link SLACK_RESERVED_CONCURRENCY}) caps what a flood of requests to
 *   the public URL can take from the account's concurrency. Stack output `<prefix>SlackInteractivityUrl` is the URL to paste into the Slack app.
 * - Amazon Q Developer in chat applications (when `notifications.chatbot` is set, some application may be in approve
 *   mode and `runbooks` gives a command topic): two custom actions (AWS::Chatbot::CustomAction,
 *   https://docs.aws.amazon.com/chatbot/latest/APIReference/API_CreateCustomAction.html) whose buttons show on a
 *   custom notification with a PENDING approval the workflow waits on and publish `approve` / `reject` runbook
 *   commands to the command topic. Their `CommandText` is at most 100 characters (the API's limit): the topic ARN, its
 *   Region and the command message are variables the notification carries ({@link chatbotCommandText}). The chat channel's IAM role must be in `runbooks.publishers`, and the actions must be linked to the channel
 *   (its CustomizationResourceArns); see docs/slack-approvals.md.
 */
export class ApprovalEndpoints extends Construct {
  /** The Slack interactivity function, when `notifications.slackSigningSecretName` is set. */
  readonly slackInteractions?: LambdaFunctionResource;
  /** Its function URL (auth NONE, no CORS). */
  readonly slackInteractivityUrl?: FunctionUrl;
  /** The Slack app's signing secret (imported by name). */
  readonly signingSecret?: ISecret;
  /** The Amazon Q Developer custom actions (approve, reject), when created. */
  readonly customActions: CfnCustomAction[] = [];

  constructor(scope: Construct, id: string, props: ApprovalEndpointsProps) {
    super(scope, id);
    const notifications = props.config.notifications ?? {};
    const secretName = notifications.slackSigningSecretName;
    if (secretName !== undefined) {
      this.signingSecret = Secret.fromSecretNameV2(this, 'SlackSigningSecret', secretName);
      const fn = props.createFunction(this, 'SlackInteractions', {
        code: 'slack-interactions',
        description:
          'Flink Watchdog Slack interactivity: verifies the Slack signature, answers the approval request of an incident',
        // Slack waits 3 s for the acknowledgement; the answer is a ledger write and a SendTaskSuccess.
        timeout: Duration.seconds(10),
        environment: functionEnvironment(SlackInteractionsEnv, {
          LEDGER_TABLE_NAME: props.ledger.tableName,
          SLACK_SIGNING_SECRET_NAME: secretName,
        }),
      });
      this.slackInteractions = fn;
      this.signingSecret.grantRead(fn);
      // On the table only (Table.grant would add its indexes, which GetItem / PutItem never use).
      fn.addToRolePolicy(
        new PolicyStatement({
          sid: 'LedgerIncident',
          actions: [...SLACK_LEDGER_ACTIONS],
          resources: [props.ledger.tableArn],
        }),
      );
      props.ledger.encryptionKey?.grantEncryptDecrypt(fn);
      props.remediationStateMachine.grant(fn, 'states:SendTaskSuccess');
      (fn.node.defaultChild as CfnFunction).reservedConcurrentExecutions =
        props.slackReservedConcurrency ?? SLACK_RESERVED_CONCURRENCY;
      this.slackInteractivityUrl = fn.addFunctionUrl({ authType: FunctionUrlAuthType.NONE });
      const output = new CfnOutput(this, 'SlackInteractivityUrl', {
        value: this.slackInteractivityUrl.url,
        description: SLACK_INTERACTIVITY_URL_OUTPUT,
      });
      output.overrideLogicalId(`${props.outputPrefix}SlackInteractivityUrl`);
      Validations.of(fn.role ?? fn).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'The X-Ray tracing actions (xray:PutTraceSegments, xray:PutTelemetryRecords) support no resource-level permissions.',
      });
    }

    const approveMode = usesApproveMode(props.config);
    if (notifications.chatbot === true && approveMode && props.commandTopic !== undefined) {
      const action = (command: ChatbotApprovalCommand, buttonText: string) =>
        new CfnCustomAction(this, command === 'approve' ? 'ApproveCustomAction' : 'RejectCustomAction', {
          // ≤ 64 of [a-zA-Z0-9_-], unique in the account: the instance id (≤ 32 letters and digits) keeps watchdogs apart.
          actionName: `flink-watchdog-${props.instanceId}-${command}`,
          definition: {
            // An AWS CLI command without the leading `aws`, ≤ 100 characters: the topic ARN, its Region and the message
            // are variables of the notification (renderChatbot puts them in additionalContext when the function
            // environment has CHATBOT_COMMAND_TOPIC_ARN).
            commandText: chatbotCommandText(command),
          },
          attachments: [
            {
              notificationType: 'Custom',
              buttonText,
              variables: chatbotActionVariables(command),
              criteria: [
                { operator: 'HAS_VALUE', variableName: chatbotCommandKey(command) },
                { operator: 'EQUALS', variableName: 'approvalState', value: 'PENDING' },
              ],
            },
          ],
        });
      this.customActions.push(action('approve', CHATBOT_APPROVE_BUTTON), action('reject', CHATBOT_REJECT_BUTTON));
    }
  }
}
