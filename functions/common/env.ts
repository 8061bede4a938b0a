import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { DEFAULT_INSTANCE, INSTANCE_PATTERN } from '#shared/alarms.ts';
import { parseConfig, type WatchdogConfig } from '#shared/config/schema.ts';
import * as z from '#shared/zod.ts';

/** Variables naming the watchdog config. `WATCHDOG_CONFIG` (JSON) wins over `WATCHDOG_CONFIG_PATH` (a file). */
const configVariables = {
  /** The watchdog config as JSON (local runs and tests; the CDK construct bundles a file instead). */
  WATCHDOG_CONFIG: z.optional(z.string().check(z.minLength(2))),
  /**
   * A path to the watchdog config file. The CDK construct sets `watchdog.config.json`, the file it bundles next to
   * each handler; a relative path is resolved against `LAMBDA_TASK_ROOT` (the function code's directory, set by
   * Lambda) when set, else against the working directory.
   */
  WATCHDOG_CONFIG_PATH: z.optional(z.string().check(z.minLength(1))),
  AWS_REGION: z.optional(z.string().check(z.minLength(1))),
};

/** Which watchdog this is, and its home account (see infra/flink-watchdog.ts). */
const instanceVariables = {
  /**
   * The watchdog's instance id (1-32 letters and digits (`[A-Za-z0-9]`)): its alarms are named
   * `flink-watchdog-<instance>-<application>-<kind>` and tagged `flink-watchdog:instance=<instance>`, so two
   * watchdogs in one account never touch each other's alarms. The CDK construct sets it (default: the stack name).
   */
  WATCHDOG_INSTANCE: z._default(
    z.string().check(z.regex(INSTANCE_PATTERN, 'an instance id: 1-32 letters and digits ([A-Za-z0-9])')),
    DEFAULT_INSTANCE,
  ),
  /** The watchdog's own AWS account (12 digits): the home cell of the sweep. Absent: learnt from the caller identity. */
  WATCHDOG_ACCOUNT_ID: z.optional(z.string().check(z.regex(/^\d{12}$/, 'a 12-digit AWS account id'))),
};

const hasConfig = (e: { WATCHDOG_CONFIG?: string | undefined; WATCHDOG_CONFIG_PATH?: string | undefined }) =>
  e.WATCHDOG_CONFIG !== undefined || e.WATCHDOG_CONFIG_PATH !== undefined;
const CONFIG_MESSAGE = 'set WATCHDOG_CONFIG (the config JSON) or WATCHDOG_CONFIG_PATH (a config file)';

/** Environment every watchdog function reads. */
export const CommonEnv = z.object(configVariables).check(z.refine(hasConfig, { message: CONFIG_MESSAGE }));
export type CommonEnv = z.infer<typeof CommonEnv>;

/** Where notifications go (see infra/flink-watchdog.ts). */
const notificationVariables = {
  /** ARN of the SNS topic incidents are published to. */
  NOTIFICATION_TOPIC_ARN: z.string().check(z.startsWith('arn:')),
  /** Name of the Secrets Manager secret holding the Slack webhook URL (the URL itself is never in the environment). */
  SLACK_WEBHOOK_SECRET_NAME: z.optional(z.string().check(z.minLength(1))),
  /** ARN of the topic Amazon Q Developer in chat applications subscribes to (custom-notification JSON). */
  CHATBOT_TOPIC_ARN: z.optional(z.string().check(z.startsWith('arn:'))),
  /**
   * ARN of the runbook command topic, when Amazon Q custom actions answer approvals: the chat notifications of a
   * pending request carry it for the custom actions' `sns publish` (shared/notify/chatbot.ts).
   */
  CHATBOT_COMMAND_TOPIC_ARN: z.optional(z.string().check(z.startsWith('arn:'))),
  /** EventBridge bus for the watchdog's custom events (absent: the account's default bus). */
  EVENT_BUS_NAME: z.optional(z.string().check(z.minLength(1))),
  /** URL of the SQS queue undelivered notifications go to (an alarm watches it). */
  NOTIFICATION_DLQ_URL: z.optional(z.string().check(z.startsWith('https://'))),
};

/** Environment of the detector function (functions/detector/handler.ts). */
export const DetectorEnv = z
  .object({
    ...configVariables,
    ...instanceVariables,
    ...notificationVariables,
    /** Name of the ledger's DynamoDB table. */
    LEDGER_TABLE_NAME: z.string().check(z.minLength(3)),
    /** ARN of the remediation workflow (Step Functions state machine) the detector starts. */
    STATE_MACHINE_ARN: z.string().check(z.startsWith('arn:')),
    /**
     * ARN of the watch workflow (infra/watch-workflow.ts) the detector starts to look again after a restart, a
     * transition or a change. Absent: no watches; detection relies on the alarms and the sweep alone.
     */
    WATCH_STATE_MACHINE_ARN: z.optional(z.string().check(z.startsWith('arn:'))),
  })
  .check(z.refine(hasConfig, { message: CONFIG_MESSAGE }));
export type DetectorEnv = z.infer<typeof DetectorEnv>;

/** Environment of the reconciler (functions/reconciler/handler.ts): as the detector's, it may start the workflow. */
export const ReconcilerEnv = DetectorEnv;
export type ReconcilerEnv = DetectorEnv;

/** Environment of the runbook function (functions/runbook/handler.ts): the detector's plus the command topic. */
export const RunbookEnv = z
  .object({
    ...configVariables,
    ...instanceVariables,
    ...notificationVariables,
    LEDGER_TABLE_NAME: z.string().check(z.minLength(3)),
    STATE_MACHINE_ARN: z.string().check(z.startsWith('arn:')),
    /** ARN of the command topic: only messages published to it are accepted. */
    COMMAND_TOPIC_ARN: z
      .string()
      .check(
        z.regex(
          /^arn:aws(?:-[a-z]+)*:sns:[a-z]{2}(?:-[a-z]+)+-\d+:\d{12}:[A-Za-z0-9_-]{1,256}$/,
          'expected an SNS topic ARN',
        ),
      ),
  })
  .check(z.refine(hasConfig, { message: CONFIG_MESSAGE }));
export type RunbookEnv = z.infer<typeof RunbookEnv>;

/** Environment of the remediation step function (functions/remediation/handler.ts). */
export const RemediationEnv = z
  .object({
    ...configVariables,
    ...instanceVariables,
    ...notificationVariables,
    /** Name of the ledger's DynamoDB table. */
    LEDGER_TABLE_NAME: z.string().check(z.minLength(3)),
  })
  .check(z.refine(hasConfig, { message: CONFIG_MESSAGE }));
export type RemediationEnv = z.infer<typeof RemediationEnv>;

/**
 * Environment of the Slack interactivity function (functions/slack-interactions/handler.ts): no watchdog config, the
 * incident names everything an answer needs.
 */
export const SlackInteractionsEnv = z.object({
  AWS_REGION: z.optional(z.string().check(z.minLength(1))),
  /** Name of the ledger's DynamoDB table (the incidents whose approval is answered). */
  LEDGER_TABLE_NAME: z.string().check(z.minLength(3)),
  /** Name of the Secrets Manager secret holding the Slack app's signing secret (`notifications.slackSigningSecretName`). */
  SLACK_SIGNING_SECRET_NAME: z.string().check(z.minLength(1)),
});
export type SlackInteractionsEnv = z.infer<typeof SlackInteractionsEnv>;

/**
 * Validates a function's environment against its schema.
 * @throws Error naming each missing or malformed variable.
 */
export function readEnv<S extends z.ZodMiniType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message));
    throw new Error(`environment: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** An unresolved CDK token (e.g. a table name or an ARN known only at deploy time), as it appears at synth time. */
const CDK_TOKEN = /\$\{Token\[/;

/**
 * A function's environment for the CDK construct, typed from the function's schema: leaving out a required variable
 * is a compile error. At synth time the values are validated too, except those that are CDK tokens (resolved only at
 * deploy time), which are only checked to be present.
 * @throws Error naming the variable when a value does not validate.
 */
export function functionEnvironment<S extends z.ZodMiniType<Record<string, string | undefined>>>(
  schema: S,
  values: z.input<S>,
): Record<string, string> {
  const entries = Object.entries(values as Record<string, string | undefined>).filter(
    (e): e is [string, string] => e[1] !== undefined,
  );
  const tokens = new Set(entries.filter(([, v]) => CDK_TOKEN.test(v)).map(([k]) => k));
  const parsed = schema.safeParse(Object.fromEntries(entries));
  const problems = parsed.success
    ? []
    : parsed.error.issues
        .filter((i) => !(typeof i.path[0] === 'string' && tokens.has(i.path[0])))
        .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message));
  if (problems.length > 0) throw new Error(`function environment: ${problems.join('; ')}`);
  return Object.fromEntries(entries);
}

/**
 * The file `WATCHDOG_CONFIG_PATH` names: an absolute path as is; a relative one against `LAMBDA_TASK_ROOT` (Lambda's
 * "path to your Lambda function code", https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime)
 * when set, else against the working directory.
 */
export function configFilePath(path: string, env: NodeJS.ProcessEnv = process.env): string {
  if (isAbsolute(path)) return path;
  const root = env.LAMBDA_TASK_ROOT;
  return root !== undefined && root !== '' ? resolve(root, path) : resolve(path);
}

/**
 * Reads and validates the watchdog config named by the environment.
 * @throws ConfigError or Error naming the variable and the problem.
 */
export function loadConfigFromEnv(env: NodeJS.ProcessEnv = process.env): WatchdogConfig {
  const { WATCHDOG_CONFIG: json, WATCHDOG_CONFIG_PATH: path } = readEnv(CommonEnv, env);
  const file = path === undefined ? undefined : configFilePath(path, env);
  const source = json !== undefined ? 'WATCHDOG_CONFIG' : (file as string);
  let raw: unknown;
  try {
    raw = JSON.parse(json ?? readFileSync(file as string, 'utf8'));
  } catch (e) {
    throw new Error(`${source}: not readable JSON (${(e as Error).message})`, { cause: e });
  }
  return parseConfig(raw, source);
}
